//! What a period is compared with: the period before, the same period a year before, or the
//! mean of the periods before it. The first two are periods of the data; a mean is laid out
//! as data of two periods, the leaves' means then the period's values, so evaluation and
//! attribution compare a period with it exactly as with the period before, and derived
//! metrics of a mean are computed from the leaves' means, never averaged.

use std::fmt;

use crate::data::Data;
use crate::Period;

/// The most periods a mean baseline may span.
pub const MAX_MEAN: u32 = 520;

/// What a period is compared with (`--against`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    /// The period before.
    Previous,
    /// The same period a year before ([`Period::year_before`]).
    Year,
    /// The mean of the leaves over the `n` periods before.
    Mean(u32),
}

/// The names of the baselines without a figure, as `--against` reads them and reports write
/// them; a mean is [`MEAN`] followed by its number of periods.
const NAMED: [(&str, Baseline); 2] = [("previous", Baseline::Previous), ("year", Baseline::Year)];
/// The prefix of a mean's name: `mean:4`.
const MEAN: &str = "mean:";

/// The baseline a report used: which one, and the periods it spans (`canopy-present` writes
/// it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Against {
    /// The baseline.
    pub baseline: Baseline,
    /// The first period of the baseline.
    pub from: Period,
    /// Its last period.
    pub to: Period,
}

/// The baseline's name: `previous`, `year` or `mean:N`, as [`Baseline::parse`] reads it.
impl fmt::Display for Baseline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Baseline::Mean(n) => write!(f, "{MEAN}{n}"),
            named => {
                let (name, _) = (NAMED.iter())
                    .find(|(_, b)| b == named)
                    .expect("every baseline without a figure is named");
                f.write_str(name)
            }
        }
    }
}

impl Baseline {
    /// Reads `previous`, `year` or `mean:N` (N from 1 to [`MAX_MEAN`]).
    pub fn parse(text: &str) -> Result<Baseline, String> {
        let mean = |n: &str| match n.parse::<u32>() {
            Ok(n @ 1..=MAX_MEAN) => Ok(Baseline::Mean(n)),
            _ => Err(format!(
                "`mean:{n}` needs a number of periods from 1 to {MAX_MEAN}"
            )),
        };
        if let Some((_, b)) = NAMED.iter().find(|(name, _)| *name == text) {
            return Ok(*b);
        }
        match text.strip_prefix(MEAN) {
            Some(n) => mean(n),
            None => Err(format!(
                "`{text}` is not a baseline: write previous, year or mean:N"
            )),
        }
    }

    /// The period of the data the baseline of `period` is, or `None` for a mean (see
    /// [`Data::mean_before`]).
    pub fn period(self, period: Period) -> Option<Period> {
        match self {
            Baseline::Previous => Some(period.previous()),
            Baseline::Year => Some(period.year_before()),
            Baseline::Mean(_) => None,
        }
    }

    /// The periods the baseline of `period` reads, oldest first.
    pub fn periods(self, period: Period) -> Vec<Period> {
        match self {
            Baseline::Previous => vec![period.previous()],
            Baseline::Year => vec![period.year_before()],
            Baseline::Mean(n) => (1..=n as i32).rev().map(|k| period.offset(-k)).collect(),
        }
    }

    /// The baseline of `period`, as reports state it.
    pub fn against(self, period: Period) -> Against {
        let periods = self.periods(period);
        Against {
            baseline: self,
            from: periods[0],
            to: periods[periods.len() - 1],
        }
    }
}

impl Data {
    /// The data of `period` and the mean of the `n` periods before it, as two consecutive
    /// periods: each leaf's mean (missing unless it has a value in every one of them) as
    /// `period`'s previous period, then `period`'s values. Every segment is laid out alike.
    pub fn mean_before(&self, period: Period, n: u32) -> Data {
        let base = Baseline::Mean(n).periods(period);
        let index = |p: Period| {
            let first = self.first()?;
            let k = p.since(first);
            (0..self.len() as i32).contains(&k).then_some(k as usize)
        };
        let value = |slot: usize, m: usize, p: Period| {
            index(p).map_or(f64::NAN, |k| self.row_at(slot, m)[k])
        };
        let slots = (0..self.slot_count())
            .map(|slot| {
                let mut out = Vec::with_capacity(self.metric_count() * 2);
                for m in 0..self.metric_count() {
                    // A sum with NaN stays NaN: one missing period makes the mean missing.
                    let sum: f64 = base.iter().map(|&p| value(slot, m, p)).sum();
                    out.push(sum / base.len() as f64);
                    out.push(value(slot, m, period));
                }
                out
            })
            .collect();
        self.with_periods(period.previous(), 2, slots)
    }
}
