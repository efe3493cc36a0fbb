//! What a digest says, as typed facts built once from the evaluation: the greeting, the
//! headline, each moved metric with its facts, the metrics followed, the verdicts, and what
//! was cut. The renderings (`text.rs`, `html.rs`, `chat.rs`) only lay these facts out; none
//! of them decides what a message says.

use canopy_engine::{MetricId, MetricTree};
use canopy_evaluator::{rank, slices, Evaluation, Period, Slices};
use canopy_present::format::{change, number, percent, signed, titled, told};

use super::budget::{self, Shown};
use super::{Carried, Digest, MovedMetric, Redefined};
use crate::address::display_name;
use crate::moves::{Move, Rule};

/// How many contributors, slices and trend periods an email shows.
const TOP_CONTRIBUTORS: usize = 3;
const TOP_SLICES: usize = 3;
const TREND_PERIODS: i32 = 8;

/// What to build a letter from: one digest, and how much of it the message shows.
pub(super) struct Body<'a> {
    pub(super) eval: &'a Evaluation<'a>,
    pub(super) period: Period,
    pub(super) digest: &'a Digest<'a>,
    /// How much of the digest it shows.
    pub(super) shown: Shown,
    /// The size it was cut to, when it was, in words.
    pub(super) limit: &'a str,
}

/// Everything one message says, in the order it says it.
pub(super) struct Letter {
    /// The recipient's name, as greeted.
    pub(super) name: String,
    /// The root's move in one sentence, when it moved.
    pub(super) headline: Option<String>,
    /// What the message is about, in one sentence.
    pub(super) intro: String,
    /// The moved metrics shown in full.
    pub(super) moved: Vec<Item>,
    /// The moved metrics past those: how many, and one line for each listed.
    pub(super) more: Option<(usize, Vec<String>)>,
    /// Moves held back by snoozes, one line each.
    pub(super) snoozed: Vec<String>,
    /// Changes of definition: the metric's title, and one line per fact.
    pub(super) redefined: Vec<(String, Vec<String>)>,
    /// Verdicts on shipped changes, in words.
    pub(super) verdicts: Vec<String>,
    /// One row per metric the person follows.
    pub(super) followed: Vec<Row>,
    /// What was cut to fit the message's budget, and where to see it.
    pub(super) cut: Option<String>,
    /// The address of the report page.
    pub(super) report: Option<String>,
    /// The tree's id and file, and its definition's version, for the footer.
    pub(super) tree: String,
    pub(super) path: String,
    pub(super) version: String,
}

/// One moved metric, shown in full.
pub(super) struct Item {
    pub(super) title: String,
    pub(super) id: String,
    pub(super) values: String,
    pub(super) band: Option<String>,
    pub(super) target: Option<String>,
    /// The rules that made it a move, in words.
    pub(super) why: Vec<String>,
    /// The largest contributions: the input's title and its amount.
    pub(super) contributors: Vec<(String, String)>,
    /// Where in the data it moved: the largest slices, one line each (`explain --slices`).
    pub(super) slices: Vec<String>,
    pub(super) offsetting: Vec<String>,
    /// The moves shown beneath this one, one line each.
    pub(super) beneath: Vec<String>,
    /// For a metric the recipient is responsible for: who is accountable.
    pub(super) responsible_for: Option<String>,
    pub(super) trend: Option<Trend>,
    /// Whether the move is for the better (by the metric's `good:`), if it has a direction.
    pub(super) better: Option<bool>,
}

impl Item {
    /// The recipient's role, when they are responsible rather than accountable.
    pub(super) fn role(&self) -> Option<String> {
        (self.responsible_for.as_ref())
            .map(|name| format!("You are responsible; accountable: {name}"))
    }
}

/// The last periods' values of a metric.
pub(super) struct Trend {
    pub(super) values: Vec<f64>,
    /// The periods, first to last.
    pub(super) label: String,
    /// Where the metric's definition changed inside the trend, when it did.
    pub(super) note: Option<String>,
}

/// A metric the person follows: title, value, previous value, change and band (and the band
/// before, when it changed), and whether the change is for the better.
pub(super) struct Row {
    pub(super) cells: [String; 5],
    pub(super) better: Option<bool>,
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
    pub(super) fn heights(&self) -> Vec<f64> {
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
    pub(super) fn spark(&self) -> String {
        const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        let spark: String = self
            .heights()
            .iter()
            .map(|h| BARS[(h * 7.0).round() as usize])
            .collect();
        format!("{spark}  ({})", self.label)
    }

    pub(super) fn numbers(&self) -> String {
        let numbers: Vec<String> = self.values.iter().map(|v| number(*v)).collect();
        numbers.join(", ")
    }
}

impl Body<'_> {
    /// The letter: every fact the message states, built once.
    pub(super) fn letter(&self) -> Letter {
        let more = self.more_moved();
        let count = self.digest.moved.len() - self.shown.detailed;
        Letter {
            name: display_name(&self.digest.person.name),
            headline: self.digest.headline.map(str::to_string),
            intro: self.intro(),
            moved: (self.digest.moved.iter().take(self.shown.detailed))
                .map(|m| self.item(m))
                .collect(),
            more: (!more.is_empty()).then_some((count, more)),
            snoozed: self.snoozed_lines(),
            redefined: (self.digest.redefined.iter().take(self.shown.redefined))
                .map(|r| self.redefinition_facts(r))
                .collect(),
            verdicts: self.digest.verdicts.iter().map(|v| v.to_string()).collect(),
            followed: self.summary_rows(),
            cut: self.cut_note(),
            report: self.digest.report.map(str::to_string),
            tree: self.tree().id().to_string(),
            path: self.tree().path().display().to_string(),
            version: self.digest.version.to_string(),
        }
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

    fn item(&self, moved: &MovedMetric<'_>) -> Item {
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
        Item {
            title: m.title.clone(),
            id: m.id.clone(),
            values: change(before, after, m.unit.as_deref(), m.change)
                + &super::against(moved.movement.since, self.period),
            band,
            target,
            why,
            contributors,
            slices: moved
                .explanation
                .map_or_else(Vec::new, |e| self.slices(e, m)),
            offsetting,
            beneath: budget::beneath_lines(moved.beneath.iter().map(|c| self.carried(c)).collect()),
            responsible_for: moved.responsible_for.map(display_name),
            trend: self.trend(moved.movement.metric),
            better: better(m.good, before, after),
        }
    }

    /// The slices of the data that moved, one line each: the amount and share, for a ratio
    /// whether it moved by rate or by mix, and the slice, e.g. `-577 users (91%)
    /// platform = android, country = DE`.
    fn slices(&self, e: &canopy_evaluator::Explanation, m: &canopy_engine::Metric) -> Vec<String> {
        let eval = self.eval;
        if eval.segments().is_empty() {
            return Vec::new();
        }
        let Slices::Found(found) = slices(eval, e.metric, e.from, e.to) else {
            return Vec::new();
        };
        let total = e.root().change;
        (found.iter().take(TOP_SLICES))
            .map(|s| {
                let how = match (s.mix, s.rate) {
                    (Some(mix), Some(rate)) if rate.abs() >= mix.abs() => ", by rate",
                    (Some(_), Some(_)) => ", by mix",
                    _ => "",
                };
                let amount = contribution(s.change, total, m);
                format!("{amount}{how}  {}", s.slice.describe())
            })
            .collect()
    }

    /// A move shown beneath another: its values, share and rules, in one line.
    fn carried(&self, c: &Carried<'_>) -> String {
        let rules: Vec<&str> = c.movement.rules.iter().map(Rule::name).collect();
        format!(
            "{}, {:.0}% of this change; {}",
            self.moved_line(c.movement),
            c.share * 100.0,
            rules.join(", ")
        )
    }

    /// One line for each moved metric listed past those shown in full.
    fn more_moved(&self) -> Vec<String> {
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
                let rules: Vec<&str> = m.movement.rules.iter().map(Rule::name).collect();
                format!("{}; {}", self.moved_line(m.movement), rules.join(", "))
            })
            .chain((moved > listed_to).then(|| {
                let rest = moved - listed_to;
                format!("... and {rest} more; `canopy explain` shows any of them in full")
            }))
            .collect()
    }

    /// The moves held back by snoozes, one line each: at most [`budget::LISTED`], then how
    /// many more.
    fn snoozed_lines(&self) -> Vec<String> {
        let snoozed = &self.digest.snoozed;
        (snoozed.iter().take(budget::LISTED))
            .map(|(m, s)| format!("{}; {}", self.moved_line(m), s.told()))
            .chain(
                (snoozed.len() > budget::LISTED)
                    .then(|| format!("... and {} more snoozed", snoozed.len() - budget::LISTED)),
            )
            .collect()
    }

    /// A move in one line: the metric and its values.
    fn moved_line(&self, movement: &Move) -> String {
        let metric = self.tree().metric(movement.metric);
        let values = change(
            movement.before,
            movement.after,
            metric.unit.as_deref(),
            metric.change,
        );
        format!("{}: {values}", titled(&metric.title, &metric.id))
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
    fn summary_rows(&self) -> Vec<Row> {
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
                let title = match crate::snooze::of(self.digest.snoozes, id) {
                    Some(snooze) => format!("{} ({})", m.title, snooze.told()),
                    None => m.title.clone(),
                };
                Row {
                    cells: [title, value, previous, change, band],
                    better: direction,
                }
            })
            .collect()
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
        Rule::Segments { shifts, threshold } => {
            let shifts: Vec<String> = (shifts.iter())
                .map(|s| {
                    format!(
                        "{} {} -> {} ({}, {:.0}% of it)",
                        s.segment,
                        number(s.before),
                        number(s.after),
                        percent(s.pct),
                        s.size * 100.0
                    )
                })
                .collect();
            format!(
                "segments shifted (alert at {threshold}%): {}",
                shifts.join("; ")
            )
        }
    }
}
