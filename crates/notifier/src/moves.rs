//! Moves: when a metric's change in a period is worth telling its owner about.
//!
//! Rules compare the period with the one before: a change of at least `change_pct`, a band
//! change, a robust anomaly against recent history, a target crossed. Band and target rules
//! fire on transitions only, so a metric that stays in a bad state is not re-alerted every
//! period; instead its owner gets a reminder after `remind_after` runs without an alert, and
//! one message when it recovers.

use canopy_engine::{Compare, Good, Metric, MetricId};
use canopy_evaluator::{Evaluation, Period};
use canopy_present::format::pct_change;
use serde::{Deserialize, Serialize};

/// Why a metric moved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rule {
    /// The value changed by at least the threshold, in percent of the previous value
    /// (`pct` is `None` when the previous value was zero).
    ChangePct {
        /// The change in percent.
        pct: Option<f64>,
        /// The threshold.
        threshold: f64,
    },
    /// The value changed by at least the threshold, in the metric's unit.
    ChangeAbs {
        /// The change.
        change: f64,
        /// The threshold.
        threshold: f64,
    },
    /// The value entered another band. (Named after its key, `bands`; histories written
    /// before say `band`.)
    #[serde(rename = "bands", alias = "band")]
    Band {
        /// The band before.
        from: String,
        /// The band now.
        to: String,
    },
    /// The value is far from its recent history (robust z-score: median and MAD).
    Anomaly {
        /// The robust z-score (infinite against a flat history; histories of earlier
        /// versions wrote that as `null`).
        #[serde(deserialize_with = "infinite_if_null")]
        z: f64,
        /// The threshold.
        threshold: f64,
    },
    /// The value crossed the target.
    Target {
        /// The target.
        target: f64,
        /// Whether the value is now on the good side of it.
        reached: bool,
    },
    /// Still in a bad state after this many runs without an alert.
    Reminder {
        /// Runs since the last alert.
        runs: u32,
    },
    /// Back from a bad state.
    Recovered,
    /// Segments changed by at least the threshold, in percent, whatever the total did.
    Segments {
        /// The segments that shifted, the largest first.
        shifts: Vec<Shift>,
        /// The threshold.
        threshold: f64,
    },
}

/// A number, or infinity where `null` was written for it.
fn infinite_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
}

impl Rule {
    /// The rule's name, as in the tree file's `alerts:`.
    pub fn name(&self) -> &'static str {
        match self {
            Rule::ChangePct { .. } => "change_pct",
            Rule::ChangeAbs { .. } => "change_abs",
            Rule::Band { .. } => "bands",
            Rule::Anomaly { .. } => "anomaly",
            Rule::Target { .. } => "target",
            Rule::Reminder { .. } => "reminder",
            Rule::Recovered => "recovered",
            Rule::Segments { .. } => "segments",
        }
    }
}

/// A metric that moved in a period.
#[derive(Clone, Debug, PartialEq)]
pub struct Move {
    /// The metric.
    pub metric: MetricId,
    /// The rules that fired, in the order above.
    pub rules: Vec<Rule>,
    /// What it is compared with: the period before, or for a metric with `compare: year`
    /// the same period a year before.
    pub since: Period,
    /// Its value then.
    pub before: f64,
    /// Its value in the period.
    pub after: f64,
}

/// What is remembered of a metric between runs to alert on transitions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlertState {
    /// Whether the metric was in a bad state.
    pub bad: bool,
    /// Runs in a bad state since the last alert.
    pub runs_unalerted: u32,
}

/// Whether `value` is a bad state for `metric`: on the wrong side of its target when it has
/// a target and a direction of good; otherwise in its worst band.
pub fn is_bad(metric: &Metric, value: f64) -> bool {
    match (metric.good, metric.target) {
        (Some(_), Some(_)) => metric.meets_target(value) == Some(false),
        (Some(good), None) if metric.bands.iter().count() > 1 => {
            let band = metric.bands.classify(value);
            let worst = match good {
                Good::Up => 0,
                Good::Down => metric.bands.iter().count() - 1,
            };
            band == Some(worst)
        }
        _ => false,
    }
}

/// The share of the median below which the spread of a history is not taken to be.
pub const MIN_SPREAD_OF_MEDIAN: f64 = 0.01;

/// The finest step the numbers are written in: 1 for whole numbers, 0.1 for one decimal.
fn resolution(values: &[f64]) -> f64 {
    let decimals = values
        .iter()
        .map(|v| {
            let text = v.abs().to_string();
            text.split_once('.').map_or(0, |(_, d)| d.len()).min(12)
        })
        .max()
        .unwrap_or(0);
    10f64.powi(-(decimals as i32))
}

/// Robust z-score of `value` against `history`: `0.6745 (x - median) / spread`, where the
/// spread is the MAD, but never less than the numbers' resolution nor 1% of the median's
/// size: a history that happens to repeat one value does not make a step of one unit
/// infinitely unusual.
fn robust_z(value: f64, history: &mut [f64]) -> f64 {
    let median = |xs: &mut [f64]| {
        xs.sort_by(f64::total_cmp);
        let n = xs.len();
        if n % 2 == 1 {
            xs[n / 2]
        } else {
            (xs[n / 2 - 1] + xs[n / 2]) / 2.0
        }
    };
    let m = median(history);
    let mut deviations: Vec<f64> = history.iter().map(|x| (x - m).abs()).collect();
    let mad = median(&mut deviations);
    let mut all = history.to_vec();
    all.push(value);
    let spread = mad
        .max(resolution(&all))
        .max(MIN_SPREAD_OF_MEDIAN * m.abs());
    0.6745 * (value - m) / spread
}

/// The rules that compare `period` with `since` (the period before, or a year before), for
/// one metric whose value is known in both.
fn comparisons(
    eval: &Evaluation<'_>,
    id: MetricId,
    (since, period): (Period, Period),
    before: f64,
    after: f64,
) -> Vec<Rule> {
    let metric = eval.tree().metric(id);
    let alerts = &metric.alerts;
    let mut rules = Vec::new();
    // `change_abs`, when set, is also the least change `change_pct` fires on: from near zero,
    // a small change is a large percentage.
    let large = alerts
        .change_abs
        .is_none_or(|least| (after - before).abs() >= least);
    if let (Some(threshold), true) = (alerts.change_pct, large) {
        let pct = pct_change(before, after);
        if pct.map_or(after != before, |p| p.abs() >= threshold) {
            rules.push(Rule::ChangePct { pct, threshold });
        }
    }
    if let (Some(threshold), true) = (alerts.change_abs, large) {
        rules.push(Rule::ChangeAbs {
            change: after - before,
            threshold,
        });
    }
    if alerts.bands {
        if let (Some(from), Some(to)) = (metric.bands.name_of(before), metric.bands.name_of(after))
        {
            if from != to {
                rules.push(Rule::Band {
                    from: from.to_string(),
                    to: to.to_string(),
                });
            }
        }
    }
    if let Some(threshold) = alerts.anomaly_z {
        // Against the periods before; too little history says nothing.
        let z_at = |p: Period, value: f64| {
            let mut history: Vec<f64> = (1..=alerts.history as i32)
                .filter_map(|k| eval.total(id, p.offset(-k)).ok())
                .collect();
            (history.len() >= 3).then(|| robust_z(value, &mut history))
        };
        // Like bands and target, on entering the unusual state: a level that stays after a
        // jump was told of once.
        if let Some(z) = z_at(period, after).filter(|z| z.abs() >= threshold) {
            // The period before itself, whatever the other rules compare with.
            let previous = eval.total(id, period.previous()).ok();
            let already = (previous.and_then(|v| z_at(period.previous(), v)))
                .is_some_and(|b| b.abs() >= threshold && b.signum() == z.signum());
            if !already {
                rules.push(Rule::Anomaly { z, threshold });
            }
        }
    }
    if let Some(threshold) = alerts.segments {
        let shifts = segments::shifts(eval, id, (since, period), threshold);
        if !shifts.is_empty() {
            rules.push(Rule::Segments { shifts, threshold });
        }
    }
    if let (true, Some(target)) = (alerts.target, metric.target) {
        if (before < target) != (after < target) {
            let reached = metric.meets_target(after) == Some(true);
            rules.push(Rule::Target { target, reached });
        }
    }
    rules
}

/// Whether `metric` moved in `period`, given what was remembered from the run of the period
/// before; returns the move, if any, and what to remember for the next run.
pub fn detect(
    eval: &Evaluation<'_>,
    id: MetricId,
    period: Period,
    state: AlertState,
) -> (Option<Move>, AlertState) {
    let metric = eval.tree().metric(id);
    let since = match metric.alerts.compare {
        Compare::Previous => period.previous(),
        Compare::Year => period.year_before(),
    };
    let (Ok(after), Ok(before)) = (eval.total(id, period), eval.total(id, since)) else {
        // Without both values nothing can be said; keep what was known.
        return (None, state);
    };
    let mut rules = comparisons(eval, id, (since, period), before, after);
    let bad = is_bad(metric, after);
    let mut next = AlertState {
        bad,
        runs_unalerted: 0,
    };
    if bad && rules.is_empty() {
        next.runs_unalerted = state.runs_unalerted + 1;
        if metric
            .alerts
            .remind_after
            .is_some_and(|n| next.runs_unalerted >= n)
        {
            rules.push(Rule::Reminder {
                runs: next.runs_unalerted,
            });
            next.runs_unalerted = 0;
        }
    }
    if state.bad && !bad {
        rules.push(Rule::Recovered);
    }
    let moved = (!rules.is_empty()).then_some(Move {
        metric: id,
        since,
        rules,
        before,
        after,
    });
    (moved, next)
}

mod segments;
pub use segments::{Shift, SEGMENT_FLOOR, SHIFTS_TOLD};

#[cfg(test)]
mod tests;
