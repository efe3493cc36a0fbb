//! One run of one tree for one period: which metrics moved, who hears about it, and
//! everything to record, decided without side effects.

use std::collections::BTreeMap;
use std::time::SystemTime;

use canopy_engine::MetricId;
use canopy_evaluator::{explain, Cell, Evaluation, Explanation, Period, Planner};
use lettre::message::Mailbox;
use serde::Serialize;

use crate::email::{compose_or_fail, Digest, MovedMetric};
use crate::history::{History, RunRecord, ValueRecord};
use crate::moves::{detect, Move, Rule};
use crate::Error;

/// A move as reported: the metric, the rules that fired, who is told.
#[derive(Clone, Debug, Serialize)]
pub struct MoveReport {
    /// The metric's id.
    pub metric: String,
    /// The rules that fired, by name.
    pub rules: Vec<&'static str>,
    /// The accountable person's address.
    pub recipient: String,
    /// The rules with their details.
    #[serde(skip)]
    pub details: Vec<Rule>,
}

/// What a run decided.
pub struct PlannedRun {
    /// Everything to write to the history, emails included.
    pub record: RunRecord,
    /// The moves.
    pub moves: Vec<MoveReport>,
}

/// Decides the run of `eval`'s tree for `period`: detects moves against the state the
/// history remembers, explains them, and composes one email per person concerned.
pub fn plan(
    eval: &Evaluation<'_>,
    period: Period,
    history: &History,
    sender: &Mailbox,
    date: SystemTime,
) -> Result<PlannedRun, Error> {
    let tree = eval.tree();
    let period_text = period.to_string();
    let mut record = RunRecord {
        tree: tree.id().to_string(),
        period: period_text.clone(),
        ..RunRecord::default()
    };
    let mut moves: Vec<Move> = Vec::new();
    for id in tree.ids() {
        let metric = &tree.metric(id).id;
        let state = history.alert_state(tree.id(), metric, &period_text)?;
        let (moved, next) = detect(eval, id, period, state);
        record.states.push((metric.clone(), next));
        moves.extend(moved);
    }
    record.values = values(eval, period);

    let planner = Planner::new(tree);
    let explanations: Vec<Option<Explanation>> = moves
        .iter()
        .map(|m| explain(eval, &planner, m.metric, period.previous(), period).ok())
        .collect();

    // One digest per person: what they are accountable for that moved, and what they follow.
    let mut digests: BTreeMap<&str, (Vec<MovedMetric<'_>>, Vec<MetricId>)> = BTreeMap::new();
    for (movement, explanation) in moves.iter().zip(&explanations) {
        let owner = &tree.metric(movement.metric).raci.accountable;
        digests.entry(owner).or_default().0.push(MovedMetric {
            movement,
            explanation: explanation.as_ref(),
        });
    }
    for id in tree.ids() {
        for person in &tree.metric(id).raci.informed {
            digests.entry(person).or_default().1.push(id);
        }
    }
    for (person, (moved, informed)) in digests {
        let digest = Digest {
            person: tree.person(person),
            moved,
            informed,
        };
        record
            .emails
            .push(compose_or_fail(eval, period, &digest, sender, date));
    }

    let reports = moves
        .iter()
        .map(|m| {
            let metric = tree.metric(m.metric);
            MoveReport {
                metric: metric.id.clone(),
                rules: m.rules.iter().map(Rule::name).collect(),
                recipient: tree.accountable(m.metric).email.clone(),
                details: m.rules.clone(),
            }
        })
        .collect::<Vec<_>>();
    for r in &reports {
        let rules = serde_json::to_string(&r.details).map_err(|e| Error::Record(e.to_string()))?;
        record
            .moves
            .push((r.metric.clone(), rules, r.recipient.clone()));
    }
    Ok(PlannedRun {
        record,
        moves: reports,
    })
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
                status: match cell {
                    Ok(_) => "ok",
                    Err(Cell::Missing { .. }) => "missing",
                    Err(_) => "undefined",
                },
            });
        }
    }
    out
}
