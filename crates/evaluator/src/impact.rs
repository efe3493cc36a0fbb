//! Verified impact: whether a change shipped at some period moved its metric, as a verdict
//! with an interval, calibrated on placebo ship dates so that noise is not called success.
//!
//! The method, on one series `u` (the metric's log, or its level where it is not positive)
//! and an optional control series `c`: the effect `tau` is the shift of `u - c` from the
//! baseline window before shipping to the evaluation window after the ramp (or the mean
//! residual of a regression of `u` on `c` fitted on the baseline). Its standard error allows
//! for lag-1 autocorrelation. Every earlier date where the same windows fit before shipping
//! is a placebo: the same model refitted there gives the effects that noise alone makes,
//! which widen the standard error where they are larger and give a rank p-value. Everything
//! is closed form and deterministic: the same data gives the same verdict on every run.

use canopy_engine::{named, Window};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The fewest baseline periods a verdict is given on.
pub const MIN_BASELINE: usize = canopy_engine::MIN_BASELINE as usize;

/// The fewest placebo dates for a calibrated verdict: with 19, the rank p-value can reach
/// 1/20 = 0.05.
pub const MIN_PLACEBOS: usize = 19;

/// The largest share of missing values in the baseline or evaluation window.
pub const MAX_MISSING: f64 = 0.10;

/// The significance level of a verdict.
pub const ALPHA: f64 = 0.05;

/// The first period a verdict on `change` reads: its baseline, and before it as many periods
/// as placebo dates need.
pub fn first_needed(change: &canopy_engine::Change) -> crate::Period {
    let w = change.window;
    let before = w.baseline + w.ramp + w.periods + MIN_PLACEBOS - 1;
    change.shipped.offset(-(before as i32))
}

/// The first index after the evaluation window of a change shipped at index `s`.
fn end(window: Window, s: usize) -> usize {
    s + window.ramp + window.periods
}

/// How the series the change did not touch is accounted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// The effect is the shift of `u - c` (with `c = 0` without a control).
    Difference,
    /// `u = a + b c` fitted on the baseline; the effect is the mean residual after it.
    Regression,
}

/// The effect at one ship date, before calibration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// The effect, on the series' scale.
    pub tau: f64,
    /// Its standard error, allowing for autocorrelation.
    pub se: f64,
    /// Degrees of freedom of its t distribution.
    pub df: f64,
    /// The lag-1 autocorrelation of the baseline, clipped to [0, 0.8].
    pub rho: f64,
}

/// Placebo calibration: how many earlier dates served, and how often noise alone passed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placebo {
    /// The number of placebo dates.
    pub dates: usize,
    /// The share of them whose own one-sided p-value was at most [`ALPHA`].
    pub false_alarm_rate: f64,
}

/// The test of one change on one series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Test {
    /// The effect at the ship date.
    pub estimate: Estimate,
    /// The standard error used: the larger of the estimate's and the placebo effects' root
    /// mean square.
    pub se_star: f64,
    /// The baseline periods used (shrunk from the window's to have enough placebos).
    pub baseline: usize,
    /// The calibration, when there were enough placebo dates.
    pub placebo: Option<Placebo>,
    /// The p-value of an effect in the expected direction.
    pub p: f64,
    /// The p-value of an effect in the other direction.
    pub p_opposite: f64,
    /// The 90% interval of the effect, on the series' scale.
    pub low: f64,
    /// See `low`.
    pub high: f64,
    /// The smallest effect the test would detect with 80% power at [`ALPHA`].
    pub mde: f64,
}

named! {
    /// What a test says of a change. Its name (`confirmed`, `no_effect`, ...) is written in
    /// JSON and read back from the history.
    pub enum Verdict {
        /// The metric moved the expected way, beyond what noise does at placebo dates. Only a
        /// test with the false-alarm check gives it.
        Confirmed,
        /// As `Confirmed`, without the false-alarm check: no longer given (such a test is
        /// `Inconclusive`), kept to read the verdicts earlier versions stored.
        Likely,
        /// The metric moved the other way.
        Opposite,
        /// The expected size is ruled out.
        NoEffect,
        /// Neither an effect nor its absence is shown.
        Inconclusive,
    }
}

/// Means and sums over the present (finite) values of a window.
fn present(values: impl Iterator<Item = f64>) -> Vec<f64> {
    values.filter(|v| v.is_finite()).collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The lag-1 autocorrelation of `x` (missing values as NaN), clipped to [0, 0.8].
fn lag1(x: &[f64]) -> f64 {
    let m = mean(&present(x.iter().copied()));
    let den: f64 = x
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| (v - m).powi(2))
        .sum();
    let num: f64 = x
        .windows(2)
        .filter(|w| w[0].is_finite() && w[1].is_finite())
        .map(|w| (w[0] - m) * (w[1] - m))
        .sum();
    if den > 0.0 {
        (num / den).clamp(0.0, 0.8)
    } else {
        0.0
    }
}

/// The effect of a change at `s` on `u`, against control `c`, with `baseline` periods
/// before it; `None` where a window has too few values.
pub fn estimate(
    u: &[f64],
    c: Option<&[f64]>,
    fit: Fit,
    s: usize,
    window: Window,
    baseline: usize,
) -> Option<Estimate> {
    let (p, e) = (s.checked_sub(baseline)?..s, s + window.ramp..end(window, s));
    if e.end > u.len() {
        return None;
    }
    let control = |t: usize| c.map_or(0.0, |c| c[t]);
    match fit {
        Fit::Difference => {
            let d: Vec<f64> = (p.start..e.end).map(|t| u[t] - control(t)).collect();
            let (dp, de) = (&d[..baseline], &d[baseline + window.ramp..]);
            let (vp, ve) = (present(dp.iter().copied()), present(de.iter().copied()));
            if vp.len() < 3 || ve.is_empty() {
                return None;
            }
            let m = mean(&vp);
            let sigma =
                (vp.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (vp.len() - 1) as f64).sqrt();
            let rho = lag1(dp);
            let kappa = (1.0 + rho) / (1.0 - rho);
            let (h, l) = (ve.len() as f64, vp.len() as f64);
            Some(Estimate {
                tau: mean(&ve) - m,
                se: sigma * (kappa * (1.0 / h + 1.0 / l)).sqrt(),
                df: l - 1.0,
                rho,
            })
        }
        Fit::Regression => regression(u, c?, p, e),
    }
}

/// Model 2: `u = a + b c` fitted on the baseline `p`; the effect is the mean residual on `e`.
fn regression(
    u: &[f64],
    c: &[f64],
    p: std::ops::Range<usize>,
    e: std::ops::Range<usize>,
) -> Option<Estimate> {
    let pairs = |r: std::ops::Range<usize>| -> Vec<(f64, f64)> {
        r.map(|t| (u[t], c[t]))
            .filter(|(u, c)| u.is_finite() && c.is_finite())
            .collect()
    };
    let (bp, be) = (pairs(p.clone()), pairs(e));
    if bp.len() < 4 || be.is_empty() {
        return None;
    }
    let (mu, mc) = (
        mean(&bp.iter().map(|x| x.0).collect::<Vec<_>>()),
        mean(&bp.iter().map(|x| x.1).collect::<Vec<_>>()),
    );
    let scc: f64 = bp.iter().map(|(_, c)| (c - mc).powi(2)).sum();
    if scc <= 0.0 {
        return None;
    }
    let b = bp.iter().map(|(u, c)| (u - mu) * (c - mc)).sum::<f64>() / scc;
    let a = mu - b * mc;
    let residual = |t: usize| u[t] - (a + b * c[t]);
    let ep: Vec<f64> = p.map(residual).collect();
    let l = bp.len() as f64;
    let sigma = (present(ep.iter().copied())
        .iter()
        .map(|e| e * e)
        .sum::<f64>()
        / (l - 2.0))
        .sqrt();
    let rho = lag1(&ep);
    let kappa = (1.0 + rho) / (1.0 - rho);
    let h = be.len() as f64;
    let tau = be.iter().map(|(u, c)| u - (a + b * c)).sum::<f64>() / h;
    let mce = be.iter().map(|x| x.1).sum::<f64>() / h;
    Some(Estimate {
        tau,
        se: sigma * (kappa * (1.0 / h + 1.0 / l) + (mce - mc).powi(2) / scc).sqrt(),
        df: l - 2.0,
        rho,
    })
}

/// The upper tail `1 - F(x)` of Student's t with `df` degrees of freedom. `x` is never NaN:
/// every ratio reaching here divides a finite effect by a finite, positive standard error
/// (see [`scaled`]), so it is finite or, past `f64`'s range, infinite.
fn upper_tail(x: f64, df: f64) -> f64 {
    debug_assert!(!x.is_nan(), "a NaN statistic reached Student's t");
    if x.is_infinite() {
        return if x > 0.0 { 0.0 } else { 1.0 };
    }
    let t = StudentsT::new(0.0, 1.0, df).expect("df > 0");
    1.0 - t.cdf(x)
}

/// `estimate` where it can be judged; otherwise why not. A zero standard error (a series
/// that did not vary) or one past `f64`'s range has no scale for an effect, and would make
/// the statistics NaN.
fn scaled(estimate: Estimate) -> Result<Estimate, Reason> {
    if !(estimate.tau.is_finite() && estimate.se.is_finite()) {
        return Err(Reason::TooLarge);
    }
    if estimate.se <= 0.0 {
        return Err(Reason::NoVariation);
    }
    Ok(estimate)
}

/// The `q` quantile of Student's t with `df` degrees of freedom.
pub fn quantile(q: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).expect("df > 0").inverse_cdf(q)
}

/// The share of missing values of `x` in `range`.
fn missing(x: &[f64], range: std::ops::Range<usize>) -> f64 {
    let n = range.len();
    range.filter(|&t| !x[t].is_finite()).count() as f64 / n as f64
}

/// Tests a change shipped at index `s` of `u` expected to move it the way `g` says (`1.0`
/// up, `-1.0` down). `Err` says why it cannot be evaluated.
pub fn test(
    u: &[f64],
    c: Option<&[f64]>,
    fit: Fit,
    s: usize,
    window: Window,
    g: f64,
) -> Result<Test, Reason> {
    let (r, h) = (window.ramp, window.periods);
    let baseline = window.baseline.min(s);
    if baseline < MIN_BASELINE {
        return Err(Reason::FewBaseline { periods: baseline });
    }
    if end(window, s) > u.len() {
        return Err(Reason::WindowPastData);
    }
    for (series, x) in [(Tested::Metric, Some(u)), (Tested::Control, c)] {
        let Some(x) = x else { continue };
        let windows = [
            (s - baseline..s, Stretch::Baseline),
            (s + r..end(window, s), Stretch::Evaluation),
        ];
        for (range, window) in windows {
            let share = missing(x, range);
            if share > MAX_MISSING {
                return Err(Reason::Missing {
                    series,
                    window,
                    share,
                });
            }
        }
    }
    // A placebo date with too many values missing (before the data, or a year before it for
    // a year-over-year control) is left out, as the ship date itself would be. The baseline
    // is the window's if it leaves enough complete placebo dates, else the longest shorter one
    // (not below the least) that does.
    let complete = |at: usize, l: usize| {
        [Some(u), c].into_iter().flatten().all(|x| {
            missing(x, at - l..at) <= MAX_MISSING && missing(x, at + r..at + r + h) <= MAX_MISSING
        })
    };
    let dates = |l: usize| (l..(s + 1).saturating_sub(r + h)).filter(move |&at| complete(at, l));
    let baseline = (MIN_BASELINE..=baseline)
        .rev()
        .find(|&l| dates(l).count() >= MIN_PLACEBOS)
        .unwrap_or(baseline);
    let fitted = |at: usize| estimate(u, c, fit, at, window, baseline);
    let estimate = scaled(fitted(s).ok_or(Reason::TooFewValues)?)?;
    let placebos: Vec<Estimate> = match dates(baseline).count() >= MIN_PLACEBOS {
        true => dates(baseline)
            .filter_map(fitted)
            .filter_map(|e| scaled(e).ok())
            .collect(),
        false => Vec::new(),
    };
    let test = calibrate(estimate, &placebos, baseline, g);
    match [test.se_star, test.low, test.high, test.mde]
        .iter()
        .all(|x| x.is_finite())
    {
        true => Ok(test),
        false => Err(Reason::TooLarge),
    }
}

/// The p-values, interval and detectable size of `estimate`, calibrated on `placebos`
/// (none when there were too few dates).
fn calibrate(estimate: Estimate, placebos: &[Estimate], baseline: usize, g: f64) -> Test {
    let Estimate { tau, se, df, .. } = estimate;
    let calibrated = placebos.len() >= MIN_PLACEBOS;
    let spread =
        (placebos.iter().map(|k| k.tau * k.tau).sum::<f64>() / placebos.len().max(1) as f64).sqrt();
    let se_star = if calibrated { se.max(spread) } else { se };
    let k = placebos.len() as f64;
    let p_of = |g: f64| {
        let p_t = upper_tail(g * tau / se_star, df);
        if !calibrated {
            return p_t;
        }
        let beaten = placebos.iter().filter(|p| g * p.tau >= g * tau).count() as f64;
        p_t.max((1.0 + beaten) / (k + 1.0))
    };
    let t95 = quantile(0.95, df);
    let placebo = calibrated.then(|| Placebo {
        dates: placebos.len(),
        false_alarm_rate: placebos
            .iter()
            .filter(|p| upper_tail(g * p.tau / p.se, p.df) <= ALPHA)
            .count() as f64
            / k,
    });
    Test {
        estimate,
        se_star,
        baseline,
        placebo,
        p: p_of(g),
        p_opposite: p_of(-g),
        low: tau - t95 * se_star,
        high: tau + t95 * se_star,
        mde: (t95 + quantile(0.80, df)) * se_star,
    }
}

/// The verdict of `test` on a change expected to move the series the way `g` says, by at
/// least `delta` on its scale if a size was expected; and whether the effect is smaller
/// than expected. Without the false-alarm check (too few placebo dates) nothing says the
/// interval or the p-values hold on this series (a random walk passes a plain t test often),
/// so the verdict is inconclusive whatever they say.
pub fn judge(test: &Test, g: f64, delta: Option<f64>) -> (Verdict, bool) {
    let favourable = (g * test.low).max(g * test.high);
    let ruled_out = delta.is_some_and(|d| favourable < d);
    if test.placebo.is_none() {
        (Verdict::Inconclusive, false)
    } else if test.p <= ALPHA {
        (Verdict::Confirmed, ruled_out)
    } else if test.p_opposite <= ALPHA {
        (Verdict::Opposite, false)
    } else if ruled_out {
        (Verdict::NoEffect, false)
    } else {
        (Verdict::Inconclusive, false)
    }
}

/// Why a test has no false-alarm check: the periods of data before shipping the check needs
/// with windows `window`.
pub fn uncalibrated(window: Window) -> Reason {
    Reason::Uncalibrated {
        needed: MIN_BASELINE + window.ramp + window.periods + MIN_PLACEBOS - 1,
    }
}

/// The two-sided p-value of `test`: for guardrails and controls, which must not move either
/// way beyond noise.
pub fn two_sided(test: &Test) -> f64 {
    (2.0 * test.p.min(test.p_opposite)).min(1.0)
}

/// Holm's step-down adjustment of `p` (in any order), returned in the same order.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; p.len()];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((p.len() - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

mod assess;
mod model;
mod reason;
pub use assess::{
    assess, assess_all, Assessment, Effect, Guarded, GuardrailReport, PlaceboReport, RootShare,
    ShortHistory, Span, Stage,
};
pub use model::Model;
pub use reason::{Reason, Stretch, Tested};

#[cfg(test)]
mod tests;
