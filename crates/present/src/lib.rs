//! Canopy's presentation: the words and numbers people read. The evaluator computes typed
//! values, explanations and assessments; how they are written (`83.38 -> 64.52 % (-18.86
//! pts)`, `CONFIRMED: ... likely between`) and the documents `canopy eval` and `canopy
//! explain` print live here, once, for `canopy`'s tables and JSON, the digest emails and chat
//! messages, and the HTML report.

#![warn(missing_docs)]

pub mod format;
pub mod impact;
mod report;
pub mod story;
pub mod words;

pub use impact::{impact_report, ChangeJson, ChangeReport, ImpactReport};
pub use report::{
    eval_report, eval_report_against, explain_report, Contribution, EvalReport, ExplainReport,
    MethodOf, Methods, MetricRow, OffsettingReport, SegmentReport, SliceReport,
};
pub use story::{story, told};
