//! Composing the digest email one person gets from one run of a tree: plain text and HTML
//! alternatives, safe headers, and a Message-ID that is the same every time the run is
//! repeated.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::SystemTime;

use canopy_engine::{MetricId, MetricTree, Person};
use canopy_evaluator::format::{change, number, percent, signed, titled, told};
use canopy_evaluator::{rank, Evaluation, Explanation, Period};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, Message};

use crate::address::{display_name, fit_subject, parse_address, strip_controls};
use crate::budget::{self, Shown, MAX_EMAIL_BYTES};
use crate::moves::{Move, Rule};
use crate::outbox::{Medium, StoredEmail};
use crate::redefinition::Redefinition;
use crate::Error;

/// How many contributors and trend periods an email shows.
const TOP_CONTRIBUTORS: usize = 3;
const TREND_PERIODS: i32 = 8;

/// A moved metric with its explanation, as shown in an email.
pub struct MovedMetric<'a> {
    /// The move.
    pub movement: &'a Move,
    /// Why it moved, when the change could be explained.
    pub explanation: Option<&'a Explanation>,
    /// Moves of the same person's metrics under this one that carry most of its change:
    /// shown beneath it rather than apart (see [`group`]).
    pub beneath: Vec<Carried<'a>>,
    /// The accountable's name, when the recipient is responsible for the metric rather than
    /// accountable for it.
    pub responsible_for: Option<&'a str>,
}

/// A change of definition, as told to one person.
pub struct Redefined<'a> {
    /// What changed.
    pub redefinition: &'a Redefinition,
    /// The accountable's name, when the recipient is consulted on the metric rather than
    /// accountable for it.
    pub consulted_for: Option<&'a str>,
}

/// A move shown beneath another's, with the share of that one's change it carries.
pub struct Carried<'a> {
    /// The move.
    pub movement: &'a Move,
    /// Its share of the change of the move it is shown beneath.
    pub share: f64,
}

/// A move carrying at least this share of another's change in the same email is shown
/// beneath it.
pub const CARRIED_SHARE: f64 = 0.8;

/// Groups one person's moves by cause: a move that carries at least [`CARRIED_SHARE`] of the
/// change of another move of theirs higher in the tree is shown beneath the highest such
/// move, not as an item of its own. Every move stays in the email.
pub fn group(moved: Vec<MovedMetric<'_>>) -> Vec<MovedMetric<'_>> {
    // The share of `top`'s change that `m` carries, when `m` is under `top`.
    let share = |top: &MovedMetric<'_>, m: MetricId| -> Option<f64> {
        let e = top.explanation?;
        let total = top.movement.after - top.movement.before;
        let node = e
            .nodes
            .iter()
            .find(|n| n.metric == m && n.metric != e.metric)?;
        (total != 0.0).then(|| node.contribution / total)
    };
    // For each move, the highest move (the one explaining the most metrics) it is carried by.
    let carrier: Vec<Option<usize>> = (0..moved.len())
        .map(|i| {
            (0..moved.len())
                .filter(|&j| j != i)
                .filter(|&j| {
                    share(&moved[j], moved[i].movement.metric)
                        .is_some_and(|s| s.abs() >= CARRIED_SHARE)
                })
                .max_by_key(|&j| moved[j].explanation.map_or(0, |e| e.nodes.len()))
        })
        .collect();
    // A carrier that is itself carried does not lead a group: the end of its chain of
    // carriers does (a move carried by none), if the move is under that one too. Carriers
    // are higher in the tree, so a chain ends within `moved.len()` steps.
    let top_of = |i: usize| {
        let mut at = i;
        for _ in 0..moved.len() {
            match carrier[at] {
                Some(j) => at = j,
                None => return Some(at),
            }
        }
        None
    };
    let mut tops = Vec::new();
    let mut carried: Vec<(usize, usize)> = Vec::new();
    for i in 0..moved.len() {
        match top_of(i) {
            Some(top) if top != i && share(&moved[top], moved[i].movement.metric).is_some() => {
                carried.push((i, top))
            }
            _ => tops.push(i),
        }
    }
    let mut slots: Vec<Option<MovedMetric<'_>>> = moved.into_iter().map(Some).collect();
    let mut beneath: Vec<Vec<Carried<'_>>> = (0..slots.len()).map(|_| Vec::new()).collect();
    for &(i, top) in &carried {
        let m = slots[i].take().expect("carried once");
        let s = share(
            slots[top].as_ref().expect("a top is kept"),
            m.movement.metric,
        )
        .unwrap_or(0.0);
        beneath[top].push(Carried {
            movement: m.movement,
            share: s,
        });
    }
    tops.into_iter()
        .map(|t| {
            let mut m = slots[t].take().expect("a top once");
            m.beneath.append(&mut beneath[t]);
            m
        })
        .collect()
}

/// What one person gets from one run.
pub struct Digest<'a> {
    /// The recipient.
    pub person: &'a Person,
    /// Metrics they are accountable for that moved.
    pub moved: Vec<MovedMetric<'a>>,
    /// Metrics they are informed on, for the summary.
    pub informed: Vec<MetricId>,
    /// Verdicts on changes they own or whose metric they are accountable for, in words.
    pub verdicts: Vec<&'a str>,
    /// The root's move in one sentence, when the root moved (see [`headline`]).
    pub headline: Option<&'a str>,
    /// The address of the tree's report page for this period, when reports are served.
    pub report: Option<&'a str>,
    /// Metrics whose definitions changed since the last run, that they are accountable for
    /// or consulted on.
    pub redefined: Vec<Redefined<'a>>,
    /// The version of the tree's definition, in the footer.
    pub version: &'a str,
    /// The latest period in which each metric's definition changed, lately: trends that
    /// cross it say so.
    pub changed: &'a BTreeMap<MetricId, Period>,
}

impl Digest<'_> {
    /// How many of the person's metrics moved, those shown beneath others included.
    pub fn moved_count(&self) -> usize {
        self.moved.iter().map(|m| 1 + m.beneath.len()).sum()
    }

    /// All that a message shows of this digest when it fits its budget.
    pub(crate) fn all(&self) -> Shown {
        Shown::all(self.moved.len(), self.informed.len(), self.redefined.len())
    }
}

pub use canopy_engine::escape_html;

/// A stable Message-ID for (tree, period, recipient): repeated runs produce the same one, so
/// the outbox (and mail clients) see one message.
pub fn message_id(tree: &str, period: Period, recipient: &str, sender: &Address) -> String {
    // FNV-1a of the lower-cased address keeps the address itself out of the header.
    let hash = canopy_engine::stable_hash(recipient.to_lowercase().bytes());
    format!("<canopy.{tree}.{period}.{hash:016x}@{}>", sender.domain())
}

/// A leaf carrying at least this share of the root's change is the whole headline; below it
/// the next leaf is named too.
const HEADLINE_SHARE: f64 = 0.8;

/// The root's move in one sentence, from its explanation: its values (and band change), and
/// the one or two leaves that carry most of the change with their shares, e.g. `NPS fell 46.8
/// -> 24.2 pts (Great -> Good): detractors +37 drove 99%`.
pub fn headline(eval: &Evaluation<'_>, explanation: &Explanation) -> Option<String> {
    let tree = eval.tree();
    let (root, from, to) = (explanation.metric, explanation.from, explanation.to);
    let value = |m: MetricId, p: Period| eval.total(m, p).ok();
    let (before, after) = (value(root, from)?, value(root, to)?);
    let metric = tree.metric(root);
    let moved = if after >= before { "rose" } else { "fell" };
    let unit = metric
        .unit
        .as_deref()
        .map(|u| format!(" {u}"))
        .unwrap_or_default();
    let bands = match (metric.bands.name_of(before), metric.bands.name_of(after)) {
        (Some(a), Some(b)) if a != b => format!(" ({a} -> {b})"),
        _ => String::new(),
    };
    let mut out = format!(
        "{} {moved} {} -> {}{unit}{bands}",
        metric.title,
        number(before),
        number(after)
    );
    let total = after - before;
    let mut leaves: Vec<(MetricId, f64)> = explanation
        .leaves()
        .filter(|n| n.metric != root && n.contribution != 0.0)
        .map(|n| (n.metric, n.contribution))
        .collect();
    rank(&mut leaves);
    let mut named = Vec::new();
    for &(leaf, contribution) in leaves.iter().take(2) {
        let (Some(b), Some(a), true) = (value(leaf, from), value(leaf, to), total != 0.0) else {
            break;
        };
        let share = contribution / total * 100.0;
        let moved = match tree.metric(leaf).change {
            canopy_engine::ChangeIn::Points => told(b, a, canopy_engine::ChangeIn::Points),
            canopy_engine::ChangeIn::Relative => signed(a - b),
        };
        let title = tree.metric(leaf).title.to_lowercase();
        named.push(format!("{title} {moved} drove {share:.0}%"));
        if share.abs() >= HEADLINE_SHARE * 100.0 {
            break;
        }
    }
    if !named.is_empty() {
        out += &format!(": {}", named.join(", "));
    }
    Some(out)
}

/// `weekly` for weeks, and so on.
fn adjective(grain: canopy_engine::Grain) -> &'static str {
    match grain {
        canopy_engine::Grain::Day => "daily",
        canopy_engine::Grain::Week => "weekly",
        canopy_engine::Grain::Month => "monthly",
        canopy_engine::Grain::Quarter => "quarterly",
    }
}

/// The subject line: what a person sees in their inbox.
pub(crate) fn subject(tree: &MetricTree, period: Period, digest: &Digest<'_>) -> String {
    let moved = match digest.moved_count() {
        0 => None,
        1 => Some("1 of your metrics moved".to_string()),
        n => Some(format!("{n} of your metrics moved")),
    };
    let judged = match digest.verdicts.len() {
        0 => None,
        1 => Some("1 change judged".to_string()),
        n => Some(format!("{n} changes judged")),
    };
    let redefined = match digest.redefined.len() {
        0 => None,
        1 => Some("1 definition changed".to_string()),
        n => Some(format!("{n} definitions changed")),
    };
    // The tree and period stay first, for inbox filters and threads.
    if let Some(headline) = digest.headline {
        return fit_subject(&format!("[canopy] {} {period}: {headline}", tree.id()));
    }
    let parts: Vec<String> = [moved, judged, redefined].into_iter().flatten().collect();
    let what = match parts.is_empty() {
        true => format!("your {} summary", adjective(tree.grain())),
        false => parts.join(", "),
    };
    fit_subject(&format!("[canopy] {} {period}: {what}", tree.id()))
}

/// Builds the email of `digest` to `email` (the person's address), ready for the outbox.
pub fn compose(
    eval: &Evaluation<'_>,
    period: Period,
    digest: &Digest<'_>,
    email: &str,
    sender: &Mailbox,
    date: SystemTime,
) -> Result<StoredEmail, Error> {
    let tree = eval.tree();
    let address = parse_address(email).map_err(Error::Address)?;
    let to = Mailbox::new(Some(display_name(&digest.person.name)), address.clone());
    let subject = subject(tree, period, digest);
    let message_id = message_id(tree.id(), period, email, &sender.email);
    let list_id = format!(
        "Canopy {} <{}.canopy.{}>",
        strip_controls(tree.id()),
        tree.id(),
        sender.email.domain()
    );
    let limit = format!("{} KB", MAX_EMAIL_BYTES / 1024);
    let build = |shown: Shown| {
        let body = Body {
            eval,
            period,
            digest,
            shown,
            limit: &limit,
        };
        Message::builder()
            .from(sender.clone())
            .to(to.clone())
            .subject(subject.clone())
            .date(date)
            .message_id(Some(message_id.clone()))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Id"),
                list_id.clone(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            .multipart(MultiPart::alternative_plain_html(body.text(), body.html()))
            .map_err(|e| Error::Address(format!("`{address}`: {e}")))
    };
    // A message that cannot be built fails the same way however much it shows.
    let shown = budget::fit(digest.all(), |shown| {
        build(shown).map_or(true, |m| m.formatted().len() <= MAX_EMAIL_BYTES)
    });
    let message = build(shown)?;
    Ok(StoredEmail {
        id: 0,
        message_id,
        tree: tree.id().to_string(),
        period: period.to_string(),
        medium: Medium::Email,
        sender: sender.email.to_string(),
        recipient: address.to_string(),
        subject,
        body: message.formatted(),
        attempts: 0,
        last_error: None,
    })
}

/// The email of `digest`, or, when it cannot be composed, a record of that: an email with no
/// content that is stored as failed, naming the person, tree and address, so one bad address
/// does not stop anyone else's email.
pub fn compose_or_fail(
    eval: &Evaluation<'_>,
    period: Period,
    digest: &Digest<'_>,
    email: &str,
    sender: &Mailbox,
    date: SystemTime,
) -> StoredEmail {
    compose(eval, period, digest, email, sender, date).unwrap_or_else(|e| {
        let (tree, person) = (eval.tree(), digest.person);
        StoredEmail {
            id: 0,
            message_id: message_id(tree.id(), period, email, &sender.email),
            tree: tree.id().to_string(),
            period: period.to_string(),
            medium: Medium::Email,
            sender: sender.email.to_string(),
            recipient: email.to_string(),
            subject: subject(tree, period, digest),
            body: Vec::new(),
            attempts: 0,
            last_error: Some(format!(
                "cannot compose the email of tree `{}` to person `{}` <{email}>: {e}",
                tree.id(),
                person.id,
            )),
        }
    })
}

/// The text of `digest`, as its email's text part says it, showing what `shown` allows
/// (cut to stay under `limit`, in words).
pub(crate) fn text(
    eval: &Evaluation<'_>,
    period: Period,
    digest: &Digest<'_>,
    (shown, limit): (Shown, &str),
) -> String {
    Body {
        eval,
        period,
        digest,
        shown,
        limit,
    }
    .text()
}

/// The content of a digest, rendered twice: as text and as HTML.
struct Body<'a> {
    eval: &'a Evaluation<'a>,
    period: Period,
    digest: &'a Digest<'a>,
    /// How much of the digest it shows.
    shown: Shown,
    /// The size it was cut to, when it was, in words.
    limit: &'a str,
}

/// One fact about a moved metric, as label and value, shared by both renderings.
struct Facts {
    title: String,
    id: String,
    values: String,
    band: Option<String>,
    target: Option<String>,
    why: Vec<String>,
    contributors: Vec<(String, String)>,
    offsetting: Vec<String>,
    /// The moves shown beneath this one, one line each.
    beneath: Vec<String>,
    /// For a metric the recipient is responsible for: who is accountable.
    responsible_for: Option<String>,
    trend: Option<Trend>,
    /// Whether the move is for the better (by the metric's `good:`), if it has a direction.
    better: Option<bool>,
}

/// The last periods' values of a metric.
struct Trend {
    values: Vec<f64>,
    /// The periods, first to last.
    label: String,
    /// Where the metric's definition changed inside the trend, when it did.
    note: Option<String>,
}

/// Colours for moves for the better and for the worse, and for quieter text.
const GOOD: &str = "#047857";
const BAD: &str = "#b91c1c";
const MUTED: &str = "#6b7280";

/// The colour of a move: good, bad, or the text's.
fn colour(better: Option<bool>) -> &'static str {
    match better {
        Some(true) => GOOD,
        Some(false) => BAD,
        None => "#111827",
    }
}

/// Whether going from `before` to `after` is for the better, for a metric with `good`.
fn better(good: Option<canopy_engine::Good>, before: f64, after: f64) -> Option<bool> {
    match good? {
        _ if after == before => None,
        canopy_engine::Good::Up => Some(after > before),
        canopy_engine::Good::Down => Some(after < before),
    }
}

impl Trend {
    /// The heights of the values in [0, 1], the lowest at 0 (all 0.5 when flat).
    fn heights(&self) -> Vec<f64> {
        let (lo, hi) = self
            .values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(*v), hi.max(*v))
            });
        self.values
            .iter()
            .map(|v| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 })
            .collect()
    }

    /// A sparkline, for plain text.
    fn spark(&self) -> String {
        const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        let spark: String = self
            .heights()
            .iter()
            .map(|h| BARS[(h * 7.0).round() as usize])
            .collect();
        format!("{spark}  ({})", self.label)
    }

    fn numbers(&self) -> String {
        let numbers: Vec<String> = self.values.iter().map(|v| number(*v)).collect();
        numbers.join(", ")
    }

    /// Bars drawn with table cells, which every mail client lays out; the last in `last`.
    fn bars_html(&self, last: &str) -> String {
        let heights = self.heights();
        let cells: String = heights
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let px = 4 + (h * 28.0).round() as u32;
                let fill = if i + 1 == heights.len() { last } else { "#9ca3af" };
                format!("<td style=\"vertical-align:bottom;padding:0 1px;\"><div style=\"width:8px;height:{px}px;background:{fill};font-size:0;line-height:0;\">&nbsp;</div></td>")
            })
            .collect();
        format!("<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse;height:34px;\"><tr>{cells}</tr></table>")
    }
}

impl Body<'_> {
    fn tree(&self) -> &MetricTree {
        self.eval.tree()
    }

    fn intro(&self) -> String {
        let tree = self.tree();
        match self.digest.moved_count() {
            0 if self.digest.informed.is_empty() && !self.digest.redefined.is_empty() => format!(
                "How a metric of \"{}\" ({}) is defined has changed since the last run, for {}.",
                tree.title(),
                tree.id(),
                self.period
            ),
            0 => format!(
                "Your summary of \"{}\" ({}) for {}.",
                tree.title(),
                tree.id(),
                self.period
            ),
            n => {
                let responsible = (self.digest.moved.iter())
                    .filter(|m| m.responsible_for.is_some())
                    .count();
                let role = match (responsible, n - responsible) {
                    (0, _) => "you are accountable for",
                    (_, 0) => "you are responsible for",
                    _ => "you are accountable or responsible for",
                };
                format!(
                    "{n} metric{} {role} in \"{}\" ({}) moved in {}.",
                    if n == 1 { "" } else { "s" },
                    tree.title(),
                    tree.id(),
                    self.period
                )
            }
        }
    }

    fn facts(&self, moved: &MovedMetric<'_>) -> Facts {
        let tree = self.tree();
        let m = tree.metric(moved.movement.metric);
        let (before, after) = (moved.movement.before, moved.movement.after);

        let band = match (m.bands.name_of(before), m.bands.name_of(after)) {
            (Some(a), Some(b)) if a != b => Some(format!("{a} -> {b}")),
            (_, Some(b)) => Some(b.to_string()),
            _ => None,
        };
        let target = m
            .target
            .zip(m.meets_target(after))
            .map(|(t, met)| format!("{} ({})", number(t), if met { "met" } else { "not met" }));
        let why = (moved.movement.rules.iter())
            .map(|r| describe(r, m.change, after - before))
            .collect();
        let (contributors, offsetting) = match moved.explanation {
            Some(e) => {
                let mut leaves: Vec<(MetricId, f64)> =
                    e.leaves().map(|n| (n.metric, n.contribution)).collect();
                rank(&mut leaves);
                let top = leaves
                    .iter()
                    .filter(|(id, c)| *id != moved.movement.metric && *c != 0.0)
                    .take(TOP_CONTRIBUTORS)
                    .map(|(id, c)| {
                        (
                            tree.metric(*id).title.clone(),
                            contribution(*c, after - before, m),
                        )
                    })
                    .collect();
                let offsetting = budget::offsetting_lines(tree, &e.offsetting);
                (top, offsetting)
            }
            None => (Vec::new(), Vec::new()),
        };
        Facts {
            title: m.title.clone(),
            id: m.id.clone(),
            values: change(before, after, m.unit.as_deref(), m.change),
            band,
            target,
            why,
            contributors,
            offsetting,
            beneath: budget::beneath_lines(moved.beneath.iter().map(|c| self.carried(c)).collect()),
            responsible_for: moved.responsible_for.map(display_name),
            trend: self.trend(moved.movement.metric),
            better: better(m.good, before, after),
        }
    }

    /// A move shown beneath another: its values, share and rules, in one line.
    fn carried(&self, c: &Carried<'_>) -> String {
        let metric = self.tree().metric(c.movement.metric);
        let rules: Vec<&str> = c.movement.rules.iter().map(Rule::name).collect();
        let values = change(
            c.movement.before,
            c.movement.after,
            metric.unit.as_deref(),
            metric.change,
        );
        format!(
            "{}: {values}, {:.0}% of this change; {}",
            titled(&metric.title, &metric.id),
            c.share * 100.0,
            rules.join(", ")
        )
    }

    /// One line for each moved metric listed past those shown in full.
    fn more_moved(&self) -> Vec<String> {
        let tree = self.tree();
        let Shown {
            detailed,
            listed_to,
            ..
        } = self.shown;
        let moved = self.digest.moved.len();
        self.digest
            .moved
            .iter()
            .skip(detailed)
            .take(listed_to - detailed)
            .map(|m| {
                let metric = tree.metric(m.movement.metric);
                let rules: Vec<&str> = m.movement.rules.iter().map(Rule::name).collect();
                format!(
                    "{}: {}; {}",
                    titled(&metric.title, &metric.id),
                    change(
                        m.movement.before,
                        m.movement.after,
                        metric.unit.as_deref(),
                        metric.change
                    ),
                    rules.join(", ")
                )
            })
            .chain((moved > listed_to).then(|| {
                let rest = moved - listed_to;
                format!("... and {rest} more; `canopy explain` shows any of them in full")
            }))
            .collect()
    }

    /// What this message left out to fit its budget, and where to see it.
    fn cut_note(&self) -> Option<String> {
        let periods = (
            &*self.period.previous().to_string(),
            &*self.period.to_string(),
        );
        let (full, report) = (self.digest.all(), self.digest.report);
        budget::cut_note((full, self.shown, self.limit), self.tree(), periods, report)
    }

    /// The last periods' values, as a sparkline and as numbers.
    fn trend(&self, id: MetricId) -> Option<Trend> {
        let values: Vec<(Period, f64)> = (0..TREND_PERIODS)
            .rev()
            .filter_map(|k| {
                let p = self.period.offset(-k);
                self.eval.total(id, p).ok().map(|v| (p, v))
            })
            .collect();
        if values.len() < 2 {
            return None;
        }
        let changed = self.digest.changed.get(&id).filter(|p| **p > values[0].0);
        Some(Trend {
            label: format!("{} to {}", values[0].0, values[values.len() - 1].0),
            note: changed.map(|p| canopy_engine::redefined_note(*p)),
            values: values.into_iter().map(|(_, v)| v).collect(),
        })
    }

    /// One row per metric the person follows: title, value, previous value, change, band
    /// (and the band before, when it changed), and whether the change is for the better.
    fn summary_rows(&self) -> Vec<([String; 5], Option<bool>)> {
        let tree = self.tree();
        self.digest
            .informed
            .iter()
            .take(self.shown.followed)
            .map(|&id| {
                let m = tree.metric(id);
                let now = self.eval.total(id, self.period);
                let before = self.eval.total(id, self.period.previous());
                let value = now.map_or_else(
                    |c| format!("no value ({})", self.eval.reason(id, self.period, c)),
                    number,
                );
                let previous = before.map_or_else(|_| "-".to_string(), number);
                let change = match (now, before) {
                    (Ok(a), Ok(b)) => told(b, a, m.change),
                    _ => String::new(),
                };
                let band_of = |v: Result<f64, _>| v.ok().and_then(|v| m.bands.name_of(v));
                let band = match (band_of(before), band_of(now)) {
                    (Some(b), Some(a)) if a != b => format!("{b} -> {a}"),
                    (_, Some(a)) => a.to_string(),
                    _ => String::new(),
                };
                let direction = now
                    .ok()
                    .zip(before.ok())
                    .and_then(|(a, b)| better(m.good, b, a));
                ([m.title.clone(), value, previous, change, band], direction)
            })
            .collect()
    }

    /// One moved metric in plain text: its title, values and facts.
    fn text_moved(&self, f: &Facts) -> String {
        let mut out = String::new();
        let _ = write!(out, "\n* {}\n  {}\n", titled(&f.title, &f.id), f.values);
        if let Some(name) = &f.responsible_for {
            let _ = writeln!(out, "  You are responsible; accountable: {name}");
        }
        if let Some(band) = &f.band {
            let _ = writeln!(out, "  Band: {band}");
        }
        if let Some(target) = &f.target {
            let _ = writeln!(out, "  Target: {target}");
        }
        let _ = writeln!(out, "  Why this email: {}", f.why.join("; "));
        if !f.contributors.is_empty() {
            out.push_str("  Biggest contributors:\n");
            let width = f.contributors.iter().map(|(_, c)| c.chars().count()).max();
            let width = width.unwrap_or(0);
            for (name, c) in &f.contributors {
                let _ = writeln!(out, "    {c:>width$}  {name}");
            }
        }
        for o in &f.offsetting {
            let _ = writeln!(out, "  Offsetting: {o}");
        }
        if !f.beneath.is_empty() {
            out.push_str("  Mostly from, also yours:\n");
            for line in &f.beneath {
                let _ = writeln!(out, "    {line}");
            }
        }
        if let Some(trend) = &f.trend {
            let _ = writeln!(
                out,
                "  Trend: {}\n         {}",
                trend.spark(),
                trend.numbers()
            );
            if let Some(note) = &trend.note {
                let _ = writeln!(out, "         ({note})");
            }
        }
        out
    }

    fn text(&self) -> String {
        let mut out = format!("Hi {},\n\n", display_name(&self.digest.person.name));
        if let Some(headline) = self.digest.headline {
            let _ = write!(out, "{headline}.\n\n");
        }
        let _ = writeln!(out, "{}", self.intro());
        for moved in self.digest.moved.iter().take(self.shown.detailed) {
            out += &self.text_moved(&self.facts(moved));
        }
        let more = self.more_moved();
        if !more.is_empty() {
            let count = self.digest.moved.len() - self.shown.detailed;
            let _ = writeln!(out, "\nAnd {count} more that moved:");
            for line in &more {
                let _ = writeln!(out, "  {line}");
            }
        }
        for r in self.digest.redefined.iter().take(self.shown.redefined) {
            out += &self.redefined_text(r);
        }
        if !self.digest.verdicts.is_empty() {
            out.push_str("\nVerified impact:\n");
            for story in &self.digest.verdicts {
                let _ = writeln!(out, "\n{story}");
            }
        }
        let rows = self.summary_rows();
        if !rows.is_empty() {
            out.push_str("\nMetrics you follow:\n");
            for ([title, value, previous, change, band], _) in rows {
                let line = format!("  {title}: {value} (was {previous}) {change} {band}");
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
        if let Some(note) = self.cut_note() {
            let _ = writeln!(out, "\n{note}");
        }
        if let Some(url) = self.digest.report {
            let _ = writeln!(out, "\nThe tree with this period's values: {url}");
        }
        let _ = write!(
            out,
            "\n-- \nCanopy, for the tree {} ({}).\ndefinition: {}\n",
            self.tree().id(),
            self.tree().path().display(),
            self.digest.version
        );
        out
    }

    /// The facts of a change of definition: the metric, its versions, each field before and
    /// after, and its value under each; and the recipient's role when consulted.
    fn redefinition_facts(&self, r: &Redefined<'_>) -> (String, Vec<String>) {
        let d = r.redefinition;
        let m = self.tree().metric(d.id);
        let mut lines = vec![d.versions()];
        lines.extend(d.lines());
        lines.push(d.values(&self.period.to_string(), m.unit.as_deref()));
        if let Some(name) = r.consulted_for {
            lines.push(format!("You are consulted; accountable: {name}"));
        }
        (titled(&m.title, &m.id), lines)
    }

    fn redefined_text(&self, r: &Redefined<'_>) -> String {
        let (title, lines) = self.redefinition_facts(r);
        let mut out = format!("\nDefinition changed: {title}\n");
        for line in lines {
            let _ = writeln!(out, "  {line}");
        }
        out
    }

    /// The HTML part: tables and inline styles only, which mail clients render alike, one
    /// column at most 640 px wide that narrows to a phone's width.
    fn html(&self) -> String {
        let e = escape_html;
        let mut body = String::new();
        let _ = writeln!(
            body,
            "<p style=\"margin:0 0 12px;\">Hi {},</p>",
            e(&display_name(&self.digest.person.name))
        );
        if let Some(headline) = self.digest.headline {
            let _ = writeln!(
                body,
                "<p style=\"margin:0 0 12px;font-size:18px;font-weight:bold;\">{}.</p>",
                e(headline)
            );
        }
        let _ = writeln!(
            body,
            "<p style=\"margin:0 0 12px;\">{}</p>",
            e(&self.intro())
        );
        for moved in self.digest.moved.iter().take(self.shown.detailed) {
            body += &self.html_moved(&self.facts(moved));
        }
        let more = self.more_moved();
        if !more.is_empty() {
            let items: String = more.iter().map(|l| format!("<li>{}</li>", e(l))).collect();
            let _ = writeln!(
                body,
                "{}<ul style=\"margin:0;padding-left:20px;\">{items}</ul>",
                heading(&format!(
                    "And {} more that moved",
                    self.digest.moved.len() - self.shown.detailed
                ))
            );
        }
        for r in self.digest.redefined.iter().take(self.shown.redefined) {
            let (title, lines) = self.redefinition_facts(r);
            let items: Vec<String> = lines.iter().map(|l| e(l)).collect();
            let _ = writeln!(
                body,
                "{}<p style=\"margin:0 0 8px;\">{}</p>",
                heading(&format!("Definition changed: {}", e(&title))),
                items.join("<br>")
            );
        }
        if !self.digest.verdicts.is_empty() {
            body += &heading("Verified impact");
            for story in &self.digest.verdicts {
                // The verdict leads: `id: CONFIRMED.` in bold.
                let (head, rest) = story.split_once(". ").unwrap_or((story, ""));
                let _ = writeln!(
                    body,
                    "<p style=\"margin:0 0 8px;\"><b>{}.</b> {}</p>",
                    e(head.trim_end_matches('.')),
                    e(rest)
                );
            }
        }
        body += &self.html_summary();
        if let Some(note) = self.cut_note() {
            let _ = writeln!(body, "<p style=\"margin:16px 0 0;\">{}</p>", e(&note));
        }
        if let Some(url) = self.digest.report {
            let _ = writeln!(
                body,
                "<p style=\"margin:16px 0 0;\"><a href=\"{}\" style=\"color:#2563eb;\">See the tree with this period's values</a></p>",
                e(url)
            );
        }
        let _ = writeln!(body, "<p style=\"color:{MUTED};font-size:12px;margin:24px 0 0;\">Canopy, for the tree {}.<br>definition: {}</p>", e(self.tree().id()), e(self.digest.version));
        format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n<body style=\"margin:0;padding:0;background:#f9fafb;\">\n<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse;\"><tr><td align=\"center\" style=\"padding:16px 8px;\">\n<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse;max-width:640px;background:#ffffff;\"><tr><td style=\"padding:16px;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:15px;line-height:1.45;color:#111827;word-wrap:break-word;overflow-wrap:break-word;\">\n{body}</td></tr></table>\n</td></tr></table>\n</body></html>\n"
        )
    }

    /// One moved metric: its title, its values coloured by direction, and its facts.
    fn html_moved(&self, f: &Facts) -> String {
        let e = escape_html;
        let cell = "padding:4px 8px 4px 0;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top;";
        let mut out = format!(
            "{}<p style=\"margin:0 0 8px;font-size:16px;font-weight:bold;color:{};\">{}</p>\n<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse;\">\n",
            heading(&format!("{} <span style=\"color:{MUTED};font-weight:normal;\">{}</span>", e(&f.title), e(&f.id))),
            colour(f.better),
            e(&f.values)
        );
        let mut row = |label: &str, value: &str| {
            let _ = writeln!(out, "<tr><th style=\"{cell}color:{MUTED};font-weight:normal;width:30%;\">{}</th><td style=\"{cell}\">{value}</td></tr>", e(label));
        };
        if let Some(name) = &f.responsible_for {
            row(
                "Your role",
                &e(&format!("You are responsible; accountable: {name}")),
            );
        }
        if let Some(band) = &f.band {
            row("Band", &e(band));
        }
        if let Some(target) = &f.target {
            row("Target", &e(target));
        }
        row("Why this email", &e(&f.why.join("; ")));
        if !f.contributors.is_empty() {
            let list: Vec<String> = f
                .contributors
                .iter()
                .map(|(n, c)| format!("{} {}", e(c), e(n)))
                .collect();
            row("Biggest contributors", &list.join("<br>"));
        }
        for o in &f.offsetting {
            row("Offsetting", &e(o));
        }
        if !f.beneath.is_empty() {
            let lines: Vec<String> = f.beneath.iter().map(|l| e(l)).collect();
            row("Mostly from, also yours", &lines.join("<br>"));
        }
        if let Some(trend) = &f.trend {
            let note = (trend.note.as_deref()).map_or(String::new(), |n| format!("; {}", e(n)));
            let numbers = format!(
                "<div style=\"color:{MUTED};font-size:13px;\">{} ({}{note})</div>",
                e(&trend.numbers()),
                e(&trend.label)
            );
            row("Trend", &(trend.bars_html(colour(f.better)) + &numbers));
        }
        out.push_str("</table>\n");
        out
    }

    /// The metrics the person follows, one row each, changes coloured by direction.
    fn html_summary(&self) -> String {
        let e = escape_html;
        let rows = self.summary_rows();
        if rows.is_empty() {
            return String::new();
        }
        let cell = "padding:4px 8px 4px 0;border-bottom:1px solid #e5e7eb;text-align:left;";
        // Numbers are never broken across lines; titles wrap.
        let nowrap = "white-space:nowrap;";
        let mut out = heading("Metrics you follow");
        let _ = writeln!(out, "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse;\">");
        let _ = writeln!(out, "<tr><th style=\"{cell}color:{MUTED};font-weight:normal;\">metric</th><th style=\"{cell}color:{MUTED};font-weight:normal;\">now</th><th style=\"{cell}color:{MUTED};font-weight:normal;\">before</th><th style=\"{cell}color:{MUTED};font-weight:normal;\">change</th><th style=\"{cell}color:{MUTED};font-weight:normal;\">band</th></tr>");
        for ([title, value, previous, change, band], better) in rows {
            let _ = writeln!(
                out,
                "<tr><td style=\"{cell}\">{}</td><td style=\"{cell}{nowrap}\">{}</td><td style=\"{cell}{nowrap}\">{}</td><td style=\"{cell}{nowrap}color:{};\">{}</td><td style=\"{cell}\">{}</td></tr>",
                e(&title), e(&value), e(&previous), colour(better), e(&change), e(&band)
            );
        }
        out.push_str("</table>\n");
        out
    }
}

/// A contribution to a metric's change, in its unit and as a share of the change:
/// `-2492 items (127%)`; in points for a metric in points.
fn contribution(c: f64, change: f64, metric: &canopy_engine::Metric) -> String {
    let amount = match (metric.change, metric.unit.as_deref()) {
        (canopy_engine::ChangeIn::Points, _) => format!("{} pts", signed(c)),
        (_, Some(unit)) => format!("{} {unit}", signed(c)),
        (_, None) => signed(c),
    };
    match change {
        0.0 => amount,
        _ => format!("{amount} ({:.0}%)", c / change * 100.0),
    }
}

/// A section heading (its text is HTML already).
fn heading(html: &str) -> String {
    format!("<p style=\"margin:20px 0 4px;font-size:17px;font-weight:bold;\">{html}</p>\n")
}

/// A rule in words, for a metric whose changes are told as `kind` and which changed by
/// `change`: a percentage rule on a metric in points says the points first.
fn describe(rule: &Rule, kind: canopy_engine::ChangeIn, change: f64) -> String {
    match rule {
        Rule::ChangePct {
            pct: Some(p),
            threshold,
        } => match kind {
            canopy_engine::ChangeIn::Points => format!(
                "changed {} pts ({}, alert at {threshold}%)",
                signed(change),
                percent(*p)
            ),
            canopy_engine::ChangeIn::Relative => {
                format!("changed {} (alert at {threshold}%)", percent(*p))
            }
        },
        Rule::ChangeAbs { change, threshold } => {
            format!(
                "changed {} (alert at {})",
                signed(*change),
                number(*threshold)
            )
        }
        Rule::ChangePct { pct: None, .. } => "moved away from zero".to_string(),
        Rule::Band { from, to } => format!("band changed from {from} to {to}"),
        Rule::Anomaly { z, threshold } if z.is_infinite() => {
            format!("unusual: departs from a flat history (alert at z = {threshold})")
        }
        Rule::Anomaly { z, threshold } => {
            format!("unusual against recent history (z = {z:.1}, alert at {threshold})")
        }
        Rule::Target {
            target,
            reached: true,
        } => format!("reached the target of {}", number(*target)),
        Rule::Target {
            target,
            reached: false,
        } => format!("fell short of the target of {}", number(*target)),
        Rule::Reminder { runs } => format!("still off track after {runs} runs (reminder)"),
        Rule::Recovered => "recovered".to_string(),
    }
}
