//! The segment-shift rule (`alerts: { segments: PCT }`): a move when a segment of a metric
//! changed by at least that percent from the period compared with, even when its total held. Calm by default: a segment
//! smaller than [`SEGMENT_FLOOR`] of the metric never fires, and at most [`SHIFTS_TOLD`] are
//! named.

use canopy_engine::MetricId;
use canopy_evaluator::{Evaluation, Period};
use canopy_present::format::pct_change;
use serde::{Deserialize, Serialize};

/// The least share of its metric a segment must have had to shift: 5%.
pub const SEGMENT_FLOOR: f64 = 0.05;

/// The most shifts one move names, the largest first.
pub const SHIFTS_TOLD: usize = 5;

/// One segment that shifted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shift {
    /// The segment, its dimensions' values joined by `/`.
    pub segment: String,
    /// Its value in the period compared with (the period before, or a year before).
    pub before: f64,
    /// Its value in the period.
    pub after: f64,
    /// Its change in percent of `before`.
    pub pct: f64,
    /// Its share of the metric the period before: the mean of its shares of the leaves the
    /// metric is computed from.
    pub size: f64,
}

/// The segments of `id` that changed by at least `threshold` percent from `previous` (the
/// period before, or a year before) to `period` and had at least [`SEGMENT_FLOOR`] of it: the
/// largest shifts (by change times size) first, at most [`SHIFTS_TOLD`]. A segment without a value in either period, or at 0
/// before (a change from zero has no percent), does not shift.
pub(crate) fn shifts(
    eval: &Evaluation<'_>,
    id: MetricId,
    (previous, period): (Period, Period),
    threshold: f64,
) -> Vec<Shift> {
    // The leaves under the metric, walked only once a segment has changed enough to need its
    // size: most metrics in most periods have none.
    let leaves = std::cell::OnceCell::new();
    let leaves = || {
        leaves.get_or_init(|| {
            (eval.tree().under(id).into_iter())
                .filter(|&m| eval.tree().metric(m).is_leaf())
                .collect::<Vec<MetricId>>()
        })
    };
    let mut out: Vec<Shift> = (0..eval.segments().len())
        .filter_map(|s| {
            let before = eval.get(id, previous, Some(s)).ok()?;
            let after = eval.get(id, period, Some(s)).ok()?;
            let pct = pct_change(before, after).filter(|p| p.abs() >= threshold)?;
            let size = size(eval, leaves(), previous, s).filter(|&z| z >= SEGMENT_FLOOR)?;
            let segment = eval.segments()[s].join("/");
            Some(Shift {
                segment,
                before,
                after,
                pct,
                size,
            })
        })
        .collect();
    out.sort_by(|a, b| (b.pct.abs() * b.size).total_cmp(&(a.pct.abs() * a.size)));
    out.truncate(SHIFTS_TOLD);
    out
}

/// Segment `s`'s share of `leaves` in `period`: the mean of its share of each leaf's total,
/// over the leaves with both; `None` with none.
fn size(eval: &Evaluation<'_>, leaves: &[MetricId], period: Period, s: usize) -> Option<f64> {
    let shares: Vec<f64> = leaves
        .iter()
        .filter_map(|&leaf| {
            let total = eval.total(leaf, period).ok().filter(|t| *t != 0.0)?;
            Some((eval.get(leaf, period, Some(s)).ok()? / total).abs())
        })
        .collect();
    (!shares.is_empty()).then(|| shares.iter().sum::<f64>() / shares.len() as f64)
}
