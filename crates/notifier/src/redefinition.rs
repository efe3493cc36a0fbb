//! Definition changes: a metric whose definition (see [`canopy_engine::Definition`]) differs
//! from the one the last run recorded, told once to its accountable and consulted people with
//! what changed and, where both can be computed, its value this period under each.

use canopy_engine::{Definition, FieldChange, MetricId};
use canopy_evaluator::{Evaluation, Period};
use canopy_present::format::number;
use serde::Serialize;

use crate::history::Definitions;

/// A metric whose definition changed since the last run.
#[derive(Clone, Debug, Serialize)]
pub struct Redefinition {
    /// The metric's id.
    pub metric: String,
    /// The period of the last run, whose definition this one is compared with.
    pub since: Period,
    /// The version then.
    pub before: String,
    /// The version now.
    pub after: String,
    /// The fields that differ.
    pub changes: Vec<FieldChange>,
    /// The metric's value this period under the old definition, when it can be computed.
    pub value_before: Option<f64>,
    /// Its value this period under the new definition, when it has one.
    pub value_after: Option<f64>,
    /// Why a value under one of them is not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The metric, in this tree.
    #[serde(skip)]
    pub id: MetricId,
}

/// The metrics of `eval`'s tree whose definitions differ from those the `last` run recorded,
/// in file order. A metric the last run did not know is new, not changed.
pub fn redefinitions(
    eval: &Evaluation<'_>,
    period: Period,
    definitions: &[(String, Definition)],
    last: Option<&Definitions>,
) -> Vec<Redefinition> {
    let Some(Definitions {
        period: since,
        metrics: before,
    }) = last
    else {
        return Vec::new();
    };
    let tree = eval.tree();
    tree.ids()
        .zip(definitions)
        .filter_map(|(id, (metric, now))| {
            let old = before.get(metric)?;
            let changes = now.changes_since(old);
            if changes.is_empty() {
                return None;
            }
            let value_after = eval.total(id, period).ok();
            let (value_before, note) = value_before(eval, period, id, old, now);
            Some(Redefinition {
                metric: metric.clone(),
                since: *since,
                before: old.version(),
                after: now.version(),
                changes,
                value_before,
                value_after,
                note,
                id,
            })
        })
        .collect()
}

/// The value of `id` in `period` under its old definition: its value now when how it is
/// computed did not change, the old formula over this period's values of the metrics it
/// reads (as they are defined now) when those are all still in the tree with values, and
/// otherwise none, with the reason.
fn value_before(
    eval: &Evaluation<'_>,
    period: Period,
    id: MetricId,
    old: &Definition,
    now: &Definition,
) -> (Option<f64>, Option<String>) {
    if old.computes_as(now) {
        return (eval.total(id, period).ok(), None);
    }
    let Some(text) = old.formula() else {
        let why = "its values came from data under the old definition, which this run did not read";
        return (None, Some(why.to_string()));
    };
    match eval.formula_value(text, period) {
        Ok(v) => (Some(v), None),
        Err(why) => (None, Some(why)),
    }
}

impl Redefinition {
    /// `definition 1a2b3c4 -> 5d6e7f8, since the run of 2025-W46`.
    pub fn versions(&self) -> String {
        format!(
            "definition {} -> {}, since the run of {}",
            self.before, self.after, self.since
        )
    }

    /// Each changed field: `formula: a / b -> a / c`, `target: (none) -> 3`.
    pub fn lines(&self) -> Vec<String> {
        let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_string());
        (self.changes.iter())
            .map(|c| format!("{}: {} -> {}", c.field, shown(&c.before), shown(&c.after)))
            .collect()
    }

    /// The values this period under the old and the new definition, in words.
    pub fn values(&self, period: &str, unit: Option<&str>) -> String {
        let unit = unit.map(|u| format!(" {u}")).unwrap_or_default();
        let told =
            |v: Option<f64>| v.map_or("no value".to_string(), |v| format!("{}{unit}", number(v)));
        let mut out = match (self.value_before, self.value_after) {
            (Some(b), Some(a)) if b == a => {
                format!("Value in {period}: {} under both", told(Some(a)))
            }
            (b, a) => format!(
                "Value in {period}: {} under the old definition, {} under the new",
                told(b),
                told(a)
            ),
        };
        if let Some(note) = &self.note {
            out += &format!(" ({note})");
        }
        out
    }
}
