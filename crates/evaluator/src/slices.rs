//! Which slices of the data moved: the smallest set of conjunctions of `dimension = value`
//! (over any subset of the data's segment dimensions) that together explain a metric's
//! change, each with its own change, its share, and for a ratio its mix and rate.
//!
//! The segments' parts of the metric come from the same split as the segments' shares
//! ([`crate::attribution`]): a sum's segments, or a ratio's `N_s / D` parts, so a ratio's
//! slices come from its numerator's and denominator's dimensions through its formula. The
//! search itself ([`search`]) sees only leaves numbered by dimension and their parts before
//! and after.

pub(crate) mod search;

use canopy_engine::MetricId;
use rustc_hash::FxHashMap;

use crate::attribution::{segment_parts, Parts, Unsplit};
use crate::data::Slice;
use crate::evaluate::Evaluation;
use crate::Period;

pub use search::MAX_SLICES;
use search::{Found, Leaves};

/// A slice that moved, and its part of the change.
#[derive(Clone, Debug, PartialEq)]
pub struct MovedSlice {
    /// The slice: its conditions, dimensions in the data's order.
    pub slice: Slice,
    /// The change of its segments (a segment in two slices counts in the more specific, or
    /// the first taken, so the slices' changes add up to the change they explain together).
    pub change: f64,
    /// `change` over the metric's change; `None` when the metric did not change.
    pub share: Option<f64>,
    /// How many segments it counts.
    pub segments: usize,
    /// For a ratio: the part of `change` due to the slice's weight moving.
    pub mix: Option<f64>,
    /// For a ratio: the part due to the slice's own rate moving.
    pub rate: Option<f64>,
}

/// What the search for slices found.
#[derive(Clone, Debug, PartialEq)]
pub enum Slices {
    /// The data has no segments.
    Unsegmented,
    /// Segments do not add up to the totals, so no exact split exists (why).
    NotAdditive(Unsplit),
    /// No slice moved beyond noise.
    Nothing,
    /// Every segment moved alike: the change is in no place more than another.
    Everywhere,
    /// No small set of slices explains most of the change.
    Diffuse,
    /// The slices, largest change first.
    Found(Vec<MovedSlice>),
}

/// The slices that explain `metric`'s change from `from` to `to`.
pub fn slices(eval: &Evaluation<'_>, metric: MetricId, from: Period, to: Period) -> Slices {
    let parts = match segment_parts(eval, metric, from, to) {
        None => return Slices::Unsegmented,
        Some(Err(reason)) => return Slices::NotAdditive(reason),
        Some(Ok(parts)) => parts,
    };
    let (codes, values) = number(eval.dimensions().len(), eval.segments());
    let before: Vec<f64> = (0..parts.len()).map(|s| parts.part(s, 0)).collect();
    let after: Vec<f64> = (0..parts.len()).map(|s| parts.part(s, 1)).collect();
    let leaves = Leaves {
        dims: eval.dimensions().len(),
        codes: &codes,
        before: &before,
        after: &after,
    };
    match search::locate(&leaves) {
        Found::Nothing => Slices::Nothing,
        Found::Everywhere => Slices::Everywhere,
        Found::Diffuse => Slices::Diffuse,
        Found::Slices(found) => {
            let named = Named {
                dims: eval.dimensions(),
                values: &values,
            };
            Slices::Found(describe(&leaves, &parts, &found, &named))
        }
    }
}

/// Each segment's values as codes, leaf-major, and each dimension's values by code.
fn number(dims: usize, keys: &[Vec<String>]) -> (Vec<u32>, Vec<Vec<String>>) {
    let mut maps: Vec<FxHashMap<&str, u32>> = vec![FxHashMap::default(); dims];
    let mut values: Vec<Vec<String>> = vec![Vec::new(); dims];
    let mut codes = Vec::with_capacity(keys.len() * dims);
    for key in keys {
        for (d, v) in key.iter().enumerate().take(dims) {
            let next = values[d].len() as u32;
            let code = *maps[d].entry(v.as_str()).or_insert_with(|| {
                values[d].push(v.clone());
                next
            });
            codes.push(code);
        }
    }
    (codes, values)
}

/// The names of the dimensions, and of each one's values by code.
struct Named<'a> {
    dims: &'a [String],
    values: &'a [Vec<String>],
}

/// The found slices with their changes, shares and splits, largest change first.
fn describe(
    leaves: &Leaves<'_>,
    parts: &Parts,
    found: &[search::Conditions],
    named: &Named<'_>,
) -> Vec<MovedSlice> {
    let n = leaves.before.len();
    let change = |i: usize| Some(leaves.after[i] - leaves.before[i]).filter(|c| c.is_finite());
    let total: f64 = (0..n).filter_map(change).sum();
    let mut counted = vec![false; n];
    // A segment in several slices counts in the most specific (a slice inside another is
    // told apart from it), and among equals in the one taken first.
    let mut order: Vec<&search::Conditions> = found.iter().collect();
    order.sort_by_key(|c| std::cmp::Reverse(c.len()));
    let mut out: Vec<MovedSlice> = order
        .into_iter()
        .map(|conditions| {
            let group: Vec<usize> = (0..n)
                .filter(|&i| {
                    !counted[i]
                        && conditions
                            .iter()
                            .all(|&(d, c)| leaves.codes[i * leaves.dims + d] == c)
                })
                .collect();
            for &i in &group {
                counted[i] = true;
            }
            let change: f64 = group.iter().filter_map(|&i| change(i)).sum();
            let split = parts.mix_rate(&group);
            MovedSlice {
                slice: Slice(
                    (conditions.iter())
                        .map(|&(d, c)| {
                            let value = named.values[d][c as usize].clone();
                            (named.dims[d].clone(), value)
                        })
                        .collect(),
                ),
                change,
                share: (total != 0.0).then(|| change / total),
                segments: group.len(),
                mix: split.map(|(mix, _)| mix),
                rate: split.map(|(_, rate)| rate),
            }
        })
        .filter(|s| s.segments > 0)
        .collect();
    out.sort_by(|a, b| b.change.abs().total_cmp(&a.change.abs()));
    out
}

#[cfg(test)]
mod tests;
