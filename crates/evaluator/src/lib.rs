//! Canopy's evaluator: leaf data (the rows of data files as [`Table`]s, and values other
//! sources add through [`DataBuilder::add_values`]), every metric's value in every period, and exact attribution
//! of a metric's change to its branches, leaves and segments.
//!
//! It is pure: it takes a validated [`canopy_engine::MetricTree`] and rows in memory,
//! and opens no file, socket or database (the `canopy-sources` crate queries databases).

#![warn(missing_docs)]

mod attribution;
mod baseline;
mod data;
mod derivative;
mod evaluate;
pub mod impact;
mod shapley;
mod slices;
pub mod table;

pub use attribution::{
    explain, rank, ExplainError, Explainer, Explanation, Node, Offsetting, Planner, SegmentShare,
    Segments, Unsplit, METHOD,
};
pub use baseline::{Against, Baseline, MAX_MEAN};
pub use canopy_engine::{Period, PeriodError};
pub use data::{Data, DataBuilder, SegmentKey, Slice, MAX_SPAN};
pub use evaluate::{evaluate, Cell, Evaluation, Status};
pub use shapley::{Limit, Method, MAX_EXACT};
pub use slices::{slices, MovedSlice, Slices, MAX_SLICES};
pub use table::Table;

use canopy_engine::Diagnostic;

/// Why data could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The data breaks rules: every problem found, each pointing at a file and line (or at
    /// the metric whose SQL source failed).
    #[error("invalid data: {} problem{} found", diagnostics.len(), if diagnostics.len() == 1 { "" } else { "s" })]
    Data {
        /// Every problem.
        diagnostics: Vec<Diagnostic>,
    },
    /// A slice names a segment dimension the data does not have.
    #[error("the data has no segment dimension `{dimension}`")]
    UnknownDimension {
        /// The dimension asked for.
        dimension: String,
        /// The data's dimensions (possibly none).
        present: Vec<String>,
    },
    /// No segment meets a slice's conditions.
    #[error("no rows of the data have {dimension} = {value}")]
    EmptySlice {
        /// The dimension of the condition no segment meets (with those before it).
        dimension: String,
        /// The value asked for.
        value: String,
        /// The values the dimension has in the rows left by the conditions before it.
        values: Vec<String>,
    },
}

/// The change from `before` to `after` in percent of `|before|`; `None` when `before` is 0.
pub fn pct_change(before: f64, after: f64) -> Option<f64> {
    (before != 0.0).then(|| (after - before) / before.abs() * 100.0)
}
