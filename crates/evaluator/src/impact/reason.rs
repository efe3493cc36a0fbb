//! Why a change has no verdict yet, cannot be judged, or has a weaker one: as facts, which
//! `canopy-present` puts in words. The history stores them as JSON tagged by `kind`; verdicts
//! stored before reasons had kinds hold the words, read back as [`Reason::Text`].

use serde::{Deserialize, Serialize};

/// Why a change is pending or not evaluable, or what weakened its verdict. Periods are
/// written as in the rest of an [`super::Assessment`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Its evaluation window has not ended: verdicts wait for the period `ends`.
    Pending {
        /// The last period of the evaluation window.
        ends: String,
    },
    /// There is no data at all.
    NoData,
    /// The data starts after the change shipped.
    StartsAfter {
        /// The data's first period.
        first: String,
    },
    /// The data ends before the evaluation window does.
    EndsBefore {
        /// The data's last period.
        last: String,
    },
    /// A scope or control names a segment dimension the data does not have.
    NoDimension {
        /// The dimension named.
        dimension: String,
        /// The data's dimensions.
        known: Vec<String>,
    },
    /// No segment has the values a scope or control asks for.
    NoSegment {
        /// Each dimension with the values asked for.
        wanted: Vec<(String, Vec<String>)>,
    },
    /// Fewer periods of data before shipping than a verdict needs (see
    /// [`super::ShortHistory`]), with what would let one be given.
    TooShort {
        /// Periods of data before shipping.
        periods: usize,
        /// How many more a verdict needs.
        more: usize,
        /// Where the data would have to start.
        data_from: String,
        /// The first ship period a verdict is possible for.
        judged_from: String,
        /// When that verdict would be due.
        verdict_from: String,
    },
    /// The test was given fewer baseline periods than [`super::MIN_BASELINE`].
    FewBaseline {
        /// The baseline periods there were.
        periods: usize,
    },
    /// The evaluation window runs past the data.
    WindowPastData,
    /// Too many values are missing in a window.
    Missing {
        /// The series with the values missing.
        series: Tested,
        /// The window they are missing in.
        window: Stretch,
        /// The share missing.
        share: f64,
    },
    /// Too few values in the windows to fit the model.
    TooFewValues,
    /// The metric did not vary before it shipped (nor against its control, where it has one),
    /// so noise has no scale to judge the effect against.
    NoVariation,
    /// The values' spread is beyond the range of numbers.
    TooLarge,
    /// On levels, the metric was 0 before it shipped: the effect has no scale.
    ZeroBefore,
    /// On levels, the metric averaged 0 before it shipped.
    ZeroMean,
    /// The effect as a share of the metric is beyond the range of numbers.
    EffectTooLarge,
    /// The test had too few earlier dates for the false-alarm check (see
    /// [`super::MIN_PLACEBOS`]): no verdict but inconclusive.
    Uncalibrated {
        /// The periods of data before shipping the check needs, with the least baseline.
        needed: usize,
    },
    /// A control moved with the metric, so the effect cannot be told from what moved both.
    ControlMoved,
    /// The metric (or one under it) was computed otherwise by a run inside the windows.
    Redefined {
        /// The change's metric.
        metric: String,
        /// The first period whose run computed it otherwise.
        period: String,
        /// The first period of the windows.
        from: String,
        /// Their last period.
        to: String,
    },
    /// The words a verdict stored before reasons had kinds.
    #[serde(untagged)]
    Text(String),
}

/// The series a test reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tested {
    /// The change's metric.
    Metric,
    /// Its control.
    Control,
}

/// A window of a test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stretch {
    /// The periods before shipping.
    Baseline,
    /// The periods after the ramp.
    Evaluation,
}
