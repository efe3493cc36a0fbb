//! The words for what the evaluator says in types: the baseline a period is compared with, how
//! a metric's shares were computed, and why no segment split or slice is named.

use canopy_engine::Grain;
use canopy_evaluator::{Against, Baseline};

/// The baseline in words: `2025-W47 (the same week a year before)`, `the mean of 2025-W40 to
/// 2025-W47`.
pub fn against(a: &Against, grain: Grain) -> String {
    match a.baseline {
        Baseline::Previous => format!("{} (the previous {grain})", a.from),
        Baseline::Year => format!("{} (the same {grain} a year before)", a.from),
        Baseline::Mean(_) if a.from == a.to => format!("the mean of {}", a.from),
        Baseline::Mean(_) => format!("the mean of {} to {}", a.from, a.to),
    }
}
