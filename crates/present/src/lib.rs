//! Canopy's presentation: the words and numbers people read. The evaluator computes typed
//! values, explanations and assessments; how they are written (`83.38 -> 64.52 % (-18.86
//! pts)`, `CONFIRMED: ... likely between`) lives here, once, for `canopy`'s tables, the
//! digest emails and chat messages, and the HTML report.

#![warn(missing_docs)]

pub mod format;
pub mod story;

pub use story::{story, told};
