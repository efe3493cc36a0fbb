//! What one person is told about one run of a tree, and the messages that tell it.
//!
//! A [`Digest`] says whom and what (moves grouped by cause, metrics followed, verdicts,
//! changes of definition); `letter.rs` turns it into typed facts once, and those facts are
//! rendered as plain text (`text.rs`), HTML (`html.rs`, maud templates that escape every
//! value) and a chat message (`chat.rs`). `email.rs` wraps text and HTML into one email
//! with safe headers; `budget.rs` decides how much of a large digest one message shows.

use std::collections::BTreeMap;

use canopy_engine::{MetricId, MetricTree, Person};
use canopy_evaluator::{rank, Evaluation, Explanation, Period};
use canopy_present::format::{number, signed, told};

use crate::address::fit_subject;
use crate::moves::Move;
use crate::redefinition::Redefinition;
use crate::snooze::Snooze;
use budget::Shown;

pub(crate) mod budget;
pub(crate) mod chat;
mod email;
mod html;
mod letter;
mod text;

pub use email::{compose, compose_or_fail, message_id};

/// The letter of `digest`: what a message says of it, showing what `shown` allows (cut to
/// stay under `limit`, in words).
fn letter(
    eval: &Evaluation<'_>,
    period: Period,
    digest: &Digest<'_>,
    (shown, limit): (Shown, &str),
) -> letter::Letter {
    letter::Body {
        eval,
        period,
        digest,
        shown,
        limit,
    }
    .letter()
}

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
    /// Moves of their metrics that nobody is told of, as they are snoozed: listed, so the
    /// message says what it holds back.
    pub snoozed: Vec<(&'a Move, &'a Snooze)>,
    /// Every metric of the tree that is snoozed now: the metrics followed say so.
    pub snoozes: &'a [(MetricId, Snooze)],
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
        "{} {moved} {} -> {}{unit}{bands}{}",
        metric.title,
        number(before),
        number(after),
        against(from, to)
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
        // A title is written as its owner wrote it: lowering it turns `Mobile DAU` into
        // `mobile dau`, which reads as a different name.
        let title = &tree.metric(leaf).title;
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

/// What a move compared with, when it is not the period before (`compare: year`):
/// ` against 2025-W47, a year before`.
pub(crate) fn against(since: Period, period: Period) -> String {
    match since == period.previous() {
        true => String::new(),
        false => format!(" against {since}, a year before"),
    }
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
