//! One run of one tree for one period: which metrics moved, who hears about it, and
//! everything to record, decided without side effects.

use std::collections::BTreeMap;
use std::time::SystemTime;

use canopy_engine::{Definition, MetricId};
use canopy_evaluator::{Cell, Evaluation, Explainer, Explanation, Period, Planner};
use canopy_present::format::number;
use lettre::message::Mailbox;
use serde::Serialize;

use crate::digest::chat::compose_chat;
use crate::digest::{compose_or_fail, Digest, MovedMetric, Redefined};
use crate::history::{ChangeRecord, History, MoveRecord, RunRecord, ValueRecord};
use crate::moves::{detect, Move, Rule};
use crate::redefinition::{redefinitions, Redefinition};
use crate::snooze::Snooze;
use crate::Error;
use canopy_evaluator::impact::{Assessment, Reason, Stage};

/// A move as reported: the metric, the rules that fired, who is told.
#[derive(Clone, Debug, Serialize)]
pub struct MoveReport {
    /// The metric.
    #[serde(skip)]
    pub id: MetricId,
    /// The metric's id, as written.
    pub metric: String,
    /// The rules that fired, by name.
    pub rules: Vec<&'static str>,
    /// The accountable person's address.
    pub recipient: String,
    /// The rules with their details.
    #[serde(skip)]
    pub details: Vec<Rule>,
    /// When the metric is snoozed: the move is recorded but nobody is told.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snoozed: Option<Snooze>,
    /// What the move compared with, when not the period before (`compare: year`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against: Option<String>,
    /// Why nobody is told of the move, when nobody is: it is snoozed, or its volume guard
    /// (`only_if`) does not hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

/// What a run decided.
pub struct PlannedRun {
    /// Everything to write to the history, emails included.
    pub record: RunRecord,
    /// The moves.
    pub moves: Vec<MoveReport>,
    /// The verdicts on registered changes this run emails.
    pub verdicts: Vec<Verdict>,
    /// The root's move in one sentence, when it moved: the first line of every email.
    pub headline: Option<String>,
    /// The version of the tree's definition.
    pub version: String,
    /// The metrics whose definitions changed since the last run.
    pub redefined: Vec<Redefinition>,
    /// The latest period in which each metric's definition changed, in the last
    /// [`MARKED_PERIODS`]: trends mark it.
    pub changed: BTreeMap<MetricId, Period>,
    /// The metrics snoozed in this period: their moves are recorded, and nobody is told.
    pub snoozed: Vec<(MetricId, Snooze)>,
}

/// A registered change's verdict, decided once (in the run whose period ends its evaluation
/// window, or the first after) and emailed to its owner and its metric's accountable.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// The change's id.
    pub change: String,
    /// The verdict as `canopy impact` prints it.
    #[serde(skip)]
    pub assessment: Assessment,
    /// The verdict in words.
    pub story: String,
    /// Who is told: person ids.
    pub recipients: Vec<String>,
}

/// Decides the run of `eval`'s tree for `period`: detects moves against the state the
/// history remembers, explains them, and composes one email per person concerned.
pub fn plan(
    eval: &Evaluation<'_>,
    period: Period,
    history: &History,
    sender: &Mailbox,
    date: SystemTime,
    report: Option<&str>,
) -> Result<PlannedRun, Error> {
    let tree = eval.tree();
    let mut record = RunRecord::new(tree.id(), period);
    let moves = moves(eval, period, history, &mut record)?;
    let snoozed = history.snoozed(tree, period)?;
    let snooze_of = |m: MetricId| crate::snooze::of(&snoozed, m);
    let held: Vec<Option<String>> = (moves.iter())
        .map(|m| held(eval, period, m.metric, snooze_of(m.metric)))
        .collect();
    record.values = values(eval, period);
    let verdicts = verdicts(eval, period, history, &mut record)?;
    let explanations = explanations(eval, period, &moves);

    let headline = (moves.iter().zip(&explanations).zip(&held))
        .find(|((m, _), held)| m.metric == tree.root() && held.is_none())
        .and_then(|((_, e), _)| crate::digest::headline(eval, e.as_ref()?));
    let (definitions, hash, redefined) = definitions(eval, period, history)?;
    let version = canopy_engine::short_version(&hash);
    let changed = definition_changes(tree, history, period, &redefined)?;
    let told = (moves.iter().zip(&explanations).zip(&held))
        .filter_map(|(told, held)| held.is_none().then_some(told));
    let digests = people(tree, told, &verdicts, &redefined);
    let held_back = snoozed_moves(&moves, &snoozed);
    for (person, share) in digests {
        let judged = verdicts
            .iter()
            .filter(|v| v.recipients.iter().any(|r| r == person))
            .map(|v| v.story.as_str())
            .collect();
        let digest = Digest {
            person: tree.person(person),
            moved: crate::digest::group(share.moved),
            informed: share.informed,
            verdicts: judged,
            redefined: share.redefined,
            headline: headline.as_deref(),
            report,
            version: &version,
            changed: &changed,
            snoozed: (held_back.iter().copied())
                .filter(|(m, _)| hears_of(tree, person, m.metric))
                .collect(),
            snoozes: &snoozed,
        };
        if let Some(email) = &digest.person.email {
            (record.emails).push(compose_or_fail(eval, period, &digest, email, sender, date));
        }
        if let Some(hook) = &digest.person.webhook {
            (record.emails).push(compose_chat(eval, period, &digest, hook, sender));
        }
    }

    let reports = reports(tree, period, &moves, (&snoozed, &held), &mut record)?;
    record.definition = hash;
    record.definitions = definitions;
    Ok(PlannedRun {
        record,
        moves: reports,
        verdicts,
        headline,
        version,
        redefined,
        changed,
        snoozed,
    })
}

/// Each metric's definition now, the full hash of the tree's, and the metrics whose
/// definitions changed since the last run of an earlier period.
type Defined = (Vec<(String, Definition)>, String, Vec<Redefinition>);

fn definitions(eval: &Evaluation<'_>, period: Period, history: &History) -> Result<Defined, Error> {
    let tree = eval.tree();
    let definitions: Vec<(String, Definition)> = (tree.ids())
        .map(|id| (tree.metric(id).id.clone(), Definition::of(tree, id)))
        .collect();
    let hash = tree.definition_hash_of(definitions.iter().map(|(_, d)| d));
    let last = history.definitions_before(tree.id(), period, &hash)?;
    let redefined = redefinitions(eval, period, &definitions, last.as_ref());
    Ok((definitions, hash, redefined))
}

/// Every metric's moves in `period`, each metric's next alert state recorded in `record`.
fn moves(
    eval: &Evaluation<'_>,
    period: Period,
    history: &History,
    record: &mut RunRecord,
) -> Result<Vec<Move>, Error> {
    let tree = eval.tree();
    let mut states = history.alert_states_before(tree.id(), period)?;
    let mut moves: Vec<Move> = Vec::new();
    for id in tree.ids() {
        let metric = &tree.metric(id).id;
        let state = states.remove(metric).unwrap_or_default();
        let (moved, next) = detect(eval, id, period, state);
        record.states.push((metric.clone(), next));
        moves.extend(moved);
    }
    Ok(moves)
}

/// The explanation of each move's change since the period before, where there is one.
fn explanations(eval: &Evaluation<'_>, period: Period, moves: &[Move]) -> Vec<Option<Explanation>> {
    let planner = Planner::new(eval.tree());
    // One explainer for every move: each costs its metric's subtree, not the whole tree.
    let mut explainer = Explainer::new(&planner);
    moves
        .iter()
        .map(|m| (explainer.explain(eval, m.metric, m.since, period)).ok())
        .collect()
}

/// The moves as reported, each also recorded in `record`.
fn reports(
    tree: &canopy_engine::MetricTree,
    period: Period,
    moves: &[Move],
    (snoozed, held): (&[(MetricId, Snooze)], &[Option<String>]),
    record: &mut RunRecord,
) -> Result<Vec<MoveReport>, Error> {
    let reports: Vec<MoveReport> = (moves.iter().zip(held))
        .map(|(m, held)| MoveReport {
            id: m.metric,
            metric: tree.metric(m.metric).id.clone(),
            rules: m.rules.iter().map(Rule::name).collect(),
            recipient: tree.accountable(m.metric).contact(),
            details: m.rules.clone(),
            snoozed: crate::snooze::of(snoozed, m.metric).cloned(),
            held: held.clone(),
            against: (m.since != period.previous()).then(|| m.since.to_string()),
        })
        .collect();
    record.moves = (reports.iter())
        .map(|r| MoveRecord {
            metric: r.metric.clone(),
            rules: r.details.clone(),
            recipient: r.recipient.clone(),
            held: r.held.clone(),
        })
        .collect();
    Ok(reports)
}

/// How many periods back a run looks for changes of definition to mark in trends (the
/// report's trend is the longest).
pub const MARKED_PERIODS: i32 = 12;

/// The latest period in the last [`MARKED_PERIODS`] in which each metric's definition
/// changed: as the history recorded it, and in this run.
fn definition_changes(
    tree: &canopy_engine::MetricTree,
    history: &History,
    period: Period,
    redefined: &[Redefinition],
) -> Result<BTreeMap<MetricId, Period>, Error> {
    let from = period.offset(1 - MARKED_PERIODS);
    let mut out = BTreeMap::new();
    for (metric, p) in history.definition_changes(tree.id(), (from, period))? {
        if let Some(id) = tree.find(&metric).filter(|_| p.grain() == tree.grain()) {
            out.insert(id, p);
        }
    }
    out.extend(redefined.iter().map(|r| (r.id, period)));
    Ok(out)
}

/// What one person hears of a run.
#[derive(Default)]
struct Share<'a> {
    moved: Vec<MovedMetric<'a>>,
    informed: Vec<MetricId>,
    redefined: Vec<Redefined<'a>>,
}

/// Who gets an email, with what: the moves they are accountable or responsible for, the
/// metrics they are informed on, the definition changes they are accountable for or consulted
/// on, and (by being listed) the verdicts they hear.
fn people<'a>(
    tree: &'a canopy_engine::MetricTree,
    moves: impl Iterator<Item = (&'a Move, &'a Option<Explanation>)>,
    verdicts: &'a [Verdict],
    redefined: &'a [Redefinition],
) -> BTreeMap<&'a str, Share<'a>> {
    let mut digests: BTreeMap<&str, Share<'_>> = BTreeMap::new();
    // The accountable hears of a move, and so do its responsible, who do the work.
    for (movement, explanation) in moves {
        let raci = &tree.metric(movement.metric).raci;
        for (person, responsible_for) in with_accountable(tree, raci, &raci.responsible) {
            digests.entry(person).or_default().moved.push(MovedMetric {
                movement,
                explanation: explanation.as_ref(),
                beneath: Vec::new(),
                responsible_for,
            });
        }
    }
    for id in tree.ids() {
        for person in &tree.metric(id).raci.informed {
            digests.entry(person).or_default().informed.push(id);
        }
    }
    // The accountable and the consulted are told of a change of definition.
    for redefinition in redefined {
        let raci = &tree.metric(redefinition.id).raci;
        for (person, consulted_for) in with_accountable(tree, raci, &raci.consulted) {
            digests
                .entry(person)
                .or_default()
                .redefined
                .push(Redefined {
                    redefinition,
                    consulted_for,
                });
        }
    }
    for v in verdicts {
        for person in &v.recipients {
            digests.entry(person).or_default();
        }
    }
    digests
}

/// Why nobody is told of a move of `metric` in `period`: its `snooze`, or its volume guard
/// not holding (or not known to hold: a metric it reads has no value).
fn held(
    eval: &Evaluation<'_>,
    period: Period,
    metric: MetricId,
    snooze: Option<&Snooze>,
) -> Option<String> {
    if let Some(snooze) = snooze {
        return Some(snooze.told());
    }
    let guard = eval.tree().metric(metric).alerts.only_if.as_ref()?;
    match eval.guard(guard, period) {
        Ok((true, _)) => None,
        Ok((false, read)) => {
            let tree = eval.tree();
            let values: Vec<String> = (read.iter())
                .map(|(m, v)| format!("{} = {}", tree.metric(*m).id, number(*v)))
                .collect();
            let values = values.join(", ");
            Some(format!("only_if `{}` does not hold ({values})", guard.text))
        }
        Err(why) => Some(format!("only_if `{}` cannot be told: {why}", guard.text)),
    }
}

/// The moves snoozes hold back, each with its snooze: each is listed to those who would have
/// heard of it.
fn snoozed_moves<'a>(
    moves: &'a [Move],
    snoozed: &'a [(MetricId, Snooze)],
) -> Vec<(&'a Move, &'a Snooze)> {
    (moves.iter())
        .filter_map(|m| Some((m, crate::snooze::of(snoozed, m.metric)?)))
        .collect()
}

/// Whether `person` hears of `metric`'s moves: they are accountable or responsible for it.
fn hears_of(tree: &canopy_engine::MetricTree, person: &str, metric: MetricId) -> bool {
    let raci = &tree.metric(metric).raci;
    with_accountable(tree, raci, &raci.responsible).any(|(p, _)| p == person)
}

/// The accountable person (with `None`), then each of `others` who is not them, with the
/// accountable's name: who hears of something, and in what role.
fn with_accountable<'a>(
    tree: &'a canopy_engine::MetricTree,
    raci: &'a canopy_engine::Raci,
    others: &'a [String],
) -> impl Iterator<Item = (&'a str, Option<&'a str>)> + 'a {
    let name = tree.person(&raci.accountable).name.as_str();
    let others = others.iter().filter(|p| **p != raci.accountable);
    std::iter::once((raci.accountable.as_str(), None))
        .chain(others.map(move |p| (p.as_str(), Some(name))))
}

/// The verdicts this run tells: each change judged now (its window has ended and no run
/// judged it before), or judged by an earlier run of this same period (told as it was then,
/// so that a repeated run composes the same emails). Records every change it saw in `record`.
fn verdicts(
    eval: &Evaluation<'_>,
    period: Period,
    history: &History,
    record: &mut RunRecord,
) -> Result<Vec<Verdict>, Error> {
    let tree = eval.tree();
    let mut out = Vec::new();
    for change in tree.changes() {
        let known = history.change(tree.id(), &change.id)?;
        let mut kept = ChangeRecord {
            change: change.id.clone(),
            shipped: change.shipped,
            first_seen: known.as_ref().map_or(period, |k| k.first_seen.min(period)),
            judged_in: None,
            verdict: None,
            story: None,
        };
        let recipients = recipients(tree, change);
        match known.filter(|k| k.judged_in.is_some()) {
            Some(k) if k.judged_in == Some(period) => {
                let judged = |what| {
                    let id = &change.id;
                    Error::Record(format!("the history has no {what} for change `{id}`, which it says was judged in {period}"))
                };
                out.push(Verdict {
                    change: change.id.clone(),
                    assessment: k.verdict.ok_or_else(|| judged("verdict"))?,
                    story: k.story.ok_or_else(|| judged("story"))?,
                    recipients,
                });
            }
            Some(_) => {}
            None => {
                let mut assessed = canopy_evaluator::impact::assess(eval, change, period);
                if let Some(reason) = redefined(history, tree, change)? {
                    if assessed.status != Stage::Pending {
                        assessed = assessed.not_evaluable(reason);
                    }
                }
                if assessed.status != Stage::Pending {
                    assessed.post_hoc = kept.post_hoc();
                    let story = canopy_present::story(tree, change, &assessed);
                    kept.judged_in = Some(period);
                    kept.verdict = Some(assessed.clone());
                    kept.story = Some(story.clone());
                    out.push(Verdict {
                        change: change.id.clone(),
                        assessment: assessed,
                        story,
                        recipients,
                    });
                }
            }
        }
        record.changes.push(kept);
    }
    Ok(out)
}

/// Why `change` cannot be judged across its windows: how its metric is computed (its
/// formula or source, or that of a metric under it) in a run of a period inside them differs
/// from today. Only the definitions' hashes are compared unless they differ, so a tree of any
/// size is checked with one indexed look-up per metric under the change's.
pub fn redefined(
    history: &History,
    tree: &canopy_engine::MetricTree,
    change: &canopy_engine::Change,
) -> Result<Option<Reason>, Error> {
    let metric = &tree.metric(change.metric).id;
    let w = change.window;
    let from = change.shipped.offset(-(w.baseline as i32));
    let to = w.last_evaluated(change.shipped);
    let mut first: Option<Period> = None;
    for m in tree.under(change.metric) {
        let id = &tree.metric(m).id;
        let now = Definition::of(tree, m);
        let hash = now.hash();
        for (period, kept) in history.definition_hashes(tree.id(), id, (from, to))? {
            if kept == hash || first.is_some_and(|f| f <= period) {
                continue;
            }
            let old = history.definition(tree.id(), id, &kept)?;
            if !old.is_some_and(|old| old.computes_as(&now)) {
                first = Some(period);
            }
        }
    }
    Ok(first.map(|period| Reason::Redefined {
        metric: metric.clone(),
        period: period.to_string(),
        from: from.to_string(),
        to: to.to_string(),
    }))
}

/// Who hears a change's verdict: its owner, and its metric's accountable if another person.
fn recipients(tree: &canopy_engine::MetricTree, change: &canopy_engine::Change) -> Vec<String> {
    let mut people = vec![change.owner.clone()];
    let accountable = &tree.metric(change.metric).raci.accountable;
    if *accountable != change.owner {
        people.push(accountable.clone());
    }
    people
}

/// Every metric's value in `period`, for the total and each segment.
fn values(eval: &Evaluation<'_>, period: Period) -> Vec<ValueRecord> {
    let tree = eval.tree();
    let segments: Vec<(Option<usize>, String)> = std::iter::once((None, String::new()))
        .chain(
            eval.segments()
                .iter()
                .enumerate()
                .map(|(i, key)| (Some(i), key.join("/"))),
        )
        .collect();
    let mut out = Vec::with_capacity(tree.len() * segments.len());
    for id in tree.ids() {
        for (segment, name) in &segments {
            let cell = eval.get(id, period, *segment);
            out.push(ValueRecord {
                metric: tree.metric(id).id.clone(),
                segment: name.clone(),
                value: cell.ok(),
                status: cell.map_or_else(Cell::status, |_| canopy_evaluator::Status::Ok),
            });
        }
    }
    out
}
