//! A registered change judged on an evaluation: its series (in scope, pooled over segments),
//! its control, the test, guardrails, and what it means for the root.

use canopy_engine::{named, Change, Controls, Good, MetricId, MetricTree, Window};
use serde::{Deserialize, Serialize};

use super::{
    holm, judge, test, two_sided, uncalibrated, Fit, Model, Reason, Test, Verdict, ALPHA,
    MIN_BASELINE,
};
use crate::{Evaluation, Period};

/// A number verdicts stored by earlier versions did not keep: none (NaN, written `null`).
fn unknown() -> f64 {
    f64::NAN
}

named! {
    /// Where a change stands: `pending`, `not_evaluable` or `evaluated`.
    pub enum Stage {
        /// Its evaluation window has not ended: no peeking.
        Pending,
        /// It cannot be judged; `reason` says why.
        NotEvaluable,
        /// It has a verdict.
        Evaluated,
    }
}

/// A span of periods, as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// The first period.
    pub from: String,
    /// The last period.
    pub to: String,
}

/// An effect relative to the baseline, with its 90% interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// The effect: 0.061 for +6.1%.
    pub relative: f64,
    /// The interval's lower bound.
    pub low: f64,
    /// Its upper bound.
    pub high: f64,
    /// The metric's mean before shipping, in its unit: a metric told in points says its
    /// effect as `relative * baseline` points.
    #[serde(default = "unknown")]
    pub baseline: f64,
}

/// The placebo calibration, as reported.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlaceboReport {
    /// Earlier ship dates tried.
    pub dates: usize,
    /// The share of them that would have passed on noise alone.
    pub false_alarm_rate: f64,
}

/// The share of the root's change the change explains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RootShare {
    /// The root metric's id.
    pub metric: String,
    /// The share of the root's change since shipping, with bounds from the effect's interval.
    pub share: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
    /// Whether the root effect it implies lies inside the root's own 90% interval.
    pub transmitted: Option<bool>,
    /// The root effect it implies, relative to the root's baseline.
    pub effect: f64,
    /// The root's own change since shipping, relative to its baseline.
    pub change: f64,
    /// The root's level before shipping (its baseline mean), in its unit: a root told in
    /// points says its moves as `effect * baseline` points.
    #[serde(default = "unknown")]
    pub baseline: f64,
}

named! {
    /// What became of a guardrail: `held`, `worse` (moved significantly the wrong way) or
    /// `not_evaluable`.
    pub enum Guarded {
        /// It did not get significantly worse.
        Held,
        /// It moved significantly the wrong way.
        Worse,
        /// It could not be tested.
        NotEvaluable,
    }
}

/// A guardrail (or control) metric over the same windows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GuardrailReport {
    /// The metric's id.
    pub metric: String,
    /// Its relative change.
    pub relative: Option<f64>,
    /// Its mean before shipping, in its unit (see [`Effect::baseline`]).
    pub baseline: Option<f64>,
    /// Its two-sided p-value, Holm-adjusted across guardrails and controls.
    pub p: Option<f64>,
    /// Whether it held.
    pub verdict: Guarded,
}

/// What a change with too few periods of data before it shipped can still show: how far it is
/// from a verdict, and the plain means before and after shipping, which no test has checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShortHistory {
    /// Periods of data before shipping.
    pub periods: usize,
    /// How many more periods before shipping a verdict needs.
    pub more: usize,
    /// The first ship period a verdict is possible for, with the data starting where it does.
    pub judged_from: String,
    /// When the verdict on a change shipped then would be due, with this change's windows.
    pub verdict_from: String,
    /// Where the data would have to start for this change to be judged.
    pub data_from: String,
    /// The metric's mean over the periods before shipping (`null` with none): unverified.
    pub before: Option<f64>,
    /// Its mean over the evaluation window (`null` with no value there): unverified.
    pub after: Option<f64>,
}

/// One change, judged. Its serde shape is the history's (`canopy-present` writes the
/// `changes` entries of `canopy impact`'s JSON from it); earlier versions' verdicts still read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The change's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The metric it was meant to move.
    pub metric: String,
    /// The first full period it was live.
    pub shipped: String,
    /// Who answers for it.
    pub owner: String,
    /// Where it stands.
    pub status: Stage,
    /// The verdict, once evaluated.
    pub verdict: Option<Verdict>,
    /// Whether a confirmed effect is smaller than the size expected.
    pub smaller_than_expected: bool,
    /// Why it is pending or cannot be evaluated, or what weakened a verdict.
    pub reason: Option<Reason>,
    /// How the counterfactual was built (stored and printed as its name).
    pub model: Option<Model>,
    /// The baseline periods.
    pub baseline: Span,
    /// How many there are (the window's, or fewer where history is short); 0 in verdicts
    /// stored before the history kept it.
    #[serde(default)]
    pub baseline_periods: usize,
    /// The evaluated periods.
    pub evaluation: Span,
    /// The effect.
    pub effect: Option<Effect>,
    /// Its p-value (an effect the expected way).
    pub p: Option<f64>,
    /// The p-value of an effect the other way.
    pub p_opposite: Option<f64>,
    /// The calibration; `null` with too little history.
    pub placebo: Option<PlaceboReport>,
    /// The smallest relative effect the test would detect.
    pub mde: Option<f64>,
    /// What it means for the root.
    pub root: Option<RootShare>,
    /// Metrics that must not get worse: one per guardrail of the change, in its order (none
    /// where the change was not evaluated).
    pub guardrails: Vec<GuardrailReport>,
    /// Whether the change was registered after it shipped (set by the run's history).
    pub post_hoc: bool,
    /// With fewer periods before shipping than a verdict needs: how many more, and the
    /// unverified means before and after.
    pub short_history: Option<ShortHistory>,
}

impl Assessment {
    /// This assessment, made not evaluable for `reason`: every result is dropped.
    pub fn not_evaluable(self, reason: Reason) -> Assessment {
        Assessment {
            status: Stage::NotEvaluable,
            verdict: None,
            smaller_than_expected: false,
            reason: Some(reason),
            model: None,
            effect: None,
            p: None,
            p_opposite: None,
            placebo: None,
            mde: None,
            root: None,
            guardrails: Vec::new(),
            short_history: None,
            ..self
        }
    }
}

/// A series on the scale the test runs on: logs where every value is positive.
struct Series {
    u: Vec<f64>,
    /// Levels, not logs: some value was not positive.
    level: bool,
    /// The baseline mean of the values, for effects relative to it on the level scale.
    base: f64,
}

impl Series {
    /// `y` on the scale the test of a change shipped at index `s` runs on: logs, or levels
    /// where a value in its windows is not positive.
    fn of(y: Vec<f64>, s: usize, w: Window) -> Series {
        let windows = s.saturating_sub(w.baseline)..(s + w.ramp + w.periods).min(y.len());
        let level = y[windows].iter().any(|v| v.is_finite() && *v <= 0.0);
        let before: Vec<f64> = y[s.saturating_sub(w.baseline)..s]
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        let base = before.iter().sum::<f64>() / before.len().max(1) as f64;
        let mut series = Series {
            u: Vec::new(),
            level,
            base,
        };
        series.u = series.scale(y);
        series
    }

    /// Other values on this series' scale, for a control.
    fn scale(&self, v: Vec<f64>) -> Vec<f64> {
        match self.level {
            true => v,
            false => v
                .into_iter()
                .map(|x| if x > 0.0 { x.ln() } else { f64::NAN })
                .collect(),
        }
    }

    /// Why effects on this series have no scale: on levels, relative to a baseline mean of 0
    /// (a new feature's count is 0 until it ships) or past the range of numbers.
    fn unscaled(&self, s: usize, w: Window) -> Option<Reason> {
        if !self.level {
            return None;
        }
        let mut before = self.u[s.saturating_sub(w.baseline)..s]
            .iter()
            .filter(|v| v.is_finite())
            .peekable();
        if before.peek().is_some() && before.all(|v| *v == 0.0) {
            Some(Reason::ZeroBefore)
        } else if self.base == 0.0 {
            Some(Reason::ZeroMean)
        } else if !self.base.is_finite() {
            Some(Reason::TooLarge)
        } else {
            None
        }
    }

    /// The relative effect of `x` on the series' scale.
    fn relative(&self, x: f64) -> f64 {
        match self.level {
            true => x / self.base.abs(),
            false => x.exp() - 1.0,
        }
    }
}

/// What judging changes reads: an evaluation and the index of each period in it.
struct Grid<'e, 't> {
    eval: &'e Evaluation<'t>,
    first: Period,
    len: usize,
}

impl Grid<'_, '_> {
    fn period(&self, i: usize) -> Period {
        self.first.offset(i as i32)
    }

    fn index(&self, p: Period) -> Option<usize> {
        usize::try_from(p.since(self.first)).ok()
    }

    /// `metric`'s totals, NaN where there is none.
    fn totals(&self, metric: MetricId) -> Vec<f64> {
        (0..self.len)
            .map(|i| self.eval.total(metric, self.period(i)).unwrap_or(f64::NAN))
            .collect()
    }

    /// `metric`'s totals, or its values pooled over `segments` when given.
    fn values(&self, metric: MetricId, segments: Option<&[usize]>) -> Vec<f64> {
        match segments {
            None => self.totals(metric),
            Some(segments) => self.pooled(metric, segments),
        }
    }

    /// `metric` pooled over `segments` period by period: its formula over the sums of its
    /// leaves in those segments (a ratio of sums, not a mean of ratios).
    fn pooled(&self, metric: MetricId, segments: &[usize]) -> Vec<f64> {
        let tree = self.eval.tree();
        (0..self.len)
            .map(|i| {
                let p = self.period(i);
                let leaf = |m: MetricId| {
                    let values = segments
                        .iter()
                        .filter_map(|&s| self.eval.get(m, p, Some(s)).ok());
                    values.fold(f64::NAN, |a, v| if a.is_nan() { v } else { a + v })
                };
                point(tree, leaf, None)[metric.index()]
            })
            .collect()
    }

    /// The segments whose value of each named dimension is one of the given values.
    fn matching(&self, wanted: &[(String, Vec<String>)]) -> Result<Vec<usize>, Reason> {
        let dims = self.eval.dimensions();
        let mut columns = Vec::new();
        for (dim, values) in wanted {
            let Some(c) = dims.iter().position(|d| d == dim) else {
                return Err(Reason::NoDimension {
                    dimension: dim.clone(),
                    known: dims.to_vec(),
                });
            };
            columns.push((c, values));
        }
        let found: Vec<usize> = (0..self.eval.segments().len())
            .filter(|&s| {
                let key = &self.eval.segments()[s];
                columns.iter().all(|(c, values)| values.contains(&key[*c]))
            })
            .collect();
        if found.is_empty() {
            return Err(Reason::NoSegment {
                wanted: wanted.to_vec(),
            });
        }
        Ok(found)
    }
}

/// `Err` when a change shipped at index `s` has fewer periods before it than a verdict needs,
/// with what it lacks and the plain means recorded in `out` for the reader.
fn enough_history(
    grid: &Grid<'_, '_>,
    change: &Change,
    s: usize,
    scope: Option<&[usize]>,
    out: &mut Assessment,
) -> Result<(), Reason> {
    if s >= MIN_BASELINE {
        return Ok(());
    }
    let values = grid.values(change.metric, scope);
    let short = short_history(grid.first, change, s, &values);
    let reason = too_short(&short);
    out.short_history = Some(short);
    Err(reason)
}

/// How far a change shipped at index `s` of data starting with `first` is from a verdict,
/// with the means of `values` before shipping and over the evaluation window.
fn short_history(first: Period, change: &Change, s: usize, values: &[f64]) -> ShortHistory {
    let w = change.window;
    let mean = |range: std::ops::Range<usize>| {
        let known: Vec<f64> = (values[range].iter().copied())
            .filter(|v| v.is_finite())
            .collect();
        (!known.is_empty()).then(|| known.iter().sum::<f64>() / known.len() as f64)
    };
    let more = MIN_BASELINE - s;
    ShortHistory {
        periods: s,
        more,
        judged_from: first.offset(MIN_BASELINE as i32).to_string(),
        verdict_from: w
            .last_evaluated(first.offset(MIN_BASELINE as i32))
            .to_string(),
        data_from: first.offset(-(more as i32)).to_string(),
        before: mean(0..s),
        after: mean((s + w.ramp).min(values.len())..(s + w.ramp + w.periods).min(values.len())),
    }
}

/// Why a change with `short` history cannot be judged, and what would let one be.
fn too_short(short: &ShortHistory) -> Reason {
    Reason::TooShort {
        periods: short.periods,
        more: short.more,
        data_from: short.data_from.clone(),
        judged_from: short.judged_from.clone(),
        verdict_from: short.verdict_from.clone(),
    }
}

/// Every metric's value at one point: leaves from `leaf`, the computed value of metric
/// `scaled.0` multiplied by `scaled.1`.
fn point(
    tree: &MetricTree,
    leaf: impl Fn(MetricId) -> f64,
    scaled: Option<(MetricId, f64)>,
) -> Vec<f64> {
    let mut values = vec![f64::NAN; tree.len()];
    for &m in tree.topological_order() {
        let x = match &tree.metric(m).formula {
            None => leaf(m),
            Some(f) => {
                let inputs: Vec<f64> = f.inputs().iter().map(|i| values[i.index()]).collect();
                f.eval(&inputs).unwrap_or(f64::NAN)
            }
        };
        values[m.index()] = match scaled {
            Some((k, g)) if k == m => x * g,
            _ => x,
        };
    }
    values
}

/// The sign of the expected direction.
fn sign(good: Good) -> f64 {
    match good {
        Good::Up => 1.0,
        Good::Down => -1.0,
    }
}

/// Judges every change of `eval`'s tree as of `as_of` (the last complete period).
pub fn assess_all(eval: &Evaluation<'_>, as_of: Period) -> Vec<Assessment> {
    let tree = eval.tree();
    tree.changes()
        .iter()
        .map(|c| assess(eval, c, as_of))
        .collect()
}

/// Judges `change` as of `as_of`.
pub fn assess(eval: &Evaluation<'_>, change: &Change, as_of: Period) -> Assessment {
    let tree = eval.tree();
    let w = change.window;
    let s = change.shipped;
    let span = |a: Period, b: Period| Span {
        from: a.to_string(),
        to: b.to_string(),
    };
    let mut out = Assessment {
        id: change.id.clone(),
        title: change.title.clone(),
        metric: tree.metric(change.metric).id.clone(),
        shipped: s.to_string(),
        owner: change.owner.clone(),
        status: Stage::Pending,
        verdict: None,
        smaller_than_expected: false,
        reason: None,
        model: None,
        baseline: span(s.offset(-(w.baseline as i32)), s.previous()),
        baseline_periods: w.baseline,
        evaluation: span(w.first_evaluated(s), w.last_evaluated(s)),
        effect: None,
        p: None,
        p_opposite: None,
        placebo: None,
        mde: None,
        root: None,
        guardrails: Vec::new(),
        post_hoc: false,
        short_history: None,
    };
    if as_of < w.last_evaluated(s) {
        out.reason = Some(Reason::Pending {
            ends: w.last_evaluated(s).to_string(),
        });
        return out;
    }
    if let Err(reason) = evaluate(eval, change, &mut out) {
        out.status = Stage::NotEvaluable;
        out.reason = Some(reason);
    }
    out
}

/// The periods of `eval` as a grid, and the index of `change`'s ship period in it; why not,
/// where the data does not cover the change's windows.
fn covering<'e, 't>(
    eval: &'e Evaluation<'t>,
    change: &Change,
) -> Result<(Grid<'e, 't>, usize), Reason> {
    let (Some(first), Some(last)) = (eval.first(), eval.last()) else {
        return Err(Reason::NoData);
    };
    let grid = Grid {
        eval,
        first,
        len: (last.since(first) + 1) as usize,
    };
    let s = grid
        .index(change.shipped)
        .ok_or_else(|| Reason::StartsAfter {
            first: first.to_string(),
        })?;
    if grid
        .index(change.window.last_evaluated(change.shipped))
        .is_none_or(|e| e >= grid.len)
    {
        return Err(Reason::EndsBefore {
            last: last.to_string(),
        });
    }
    Ok((grid, s))
}

/// Fills `out` with the test of `change`, or says why there is none.
fn evaluate(eval: &Evaluation<'_>, change: &Change, out: &mut Assessment) -> Result<(), Reason> {
    let (grid, s) = covering(eval, change)?;
    let w = change.window;
    let g = sign(change.direction);
    let scope = scope_segments(&grid, change)?;
    enough_history(&grid, change, s, scope.as_deref(), out)?;
    let (treated, control) = series(&grid, change, scope.as_deref())?;
    let level = treated.level;
    if let Some(why) = treated.unscaled(s, w) {
        return Err(why);
    }
    let (t, model) = tested(&treated, control, s, w, g)?;
    let baseline = t.baseline;
    out.baseline.from = change.shipped.offset(-(baseline as i32)).to_string();
    out.baseline_periods = baseline;
    let delta = change.size.map(|size| match level {
        true => size * treated.base.abs(),
        false => (1.0 + size).ln(),
    });
    let effect = Effect {
        relative: treated.relative(t.estimate.tau),
        low: treated.relative(t.low),
        high: treated.relative(t.high),
        baseline: treated.base,
    };
    if ![
        effect.relative,
        effect.low,
        effect.high,
        treated.relative(t.mde),
    ]
    .iter()
    .all(|x| x.is_finite())
    {
        return Err(Reason::EffectTooLarge);
    }
    let (verdict, smaller) = judge(&t, g, delta);
    out.status = Stage::Evaluated;
    out.verdict = Some(verdict);
    out.smaller_than_expected = smaller;
    if t.placebo.is_none() {
        out.reason = Some(uncalibrated(w));
    }
    out.model = Some(model);
    out.effect = Some(effect);
    out.p = Some(t.p);
    out.p_opposite = Some(t.p_opposite);
    out.placebo = t.placebo.map(|p| PlaceboReport {
        dates: p.dates,
        false_alarm_rate: p.false_alarm_rate,
    });
    out.mde = Some(treated.relative(t.mde));
    let moved_with = guardrails(&grid, change, (s, scope.as_deref()), g, out);
    if verdict == Verdict::Confirmed && moved_with {
        out.verdict = Some(Verdict::Inconclusive);
        out.smaller_than_expected = false;
        out.reason = Some(Reason::ControlMoved);
    }
    out.root = root_share(&grid, change, (s, scope.as_deref()), &t, &treated);
    Ok(())
}

/// Tests the guardrails and control metrics (two-sided, Holm-adjusted across them) into
/// `out`; whether a control moved significantly with the treated metric.
fn guardrails(
    grid: &Grid<'_, '_>,
    change: &Change,
    (s, scope): (usize, Option<&[usize]>),
    g: f64,
    out: &mut Assessment,
) -> bool {
    let controls = match &change.controls {
        Controls::Metrics(ids) => ids.clone(),
        _ => Vec::new(),
    };
    let metrics: Vec<MetricId> = change.guardrails.iter().chain(&controls).copied().collect();
    let tests: Vec<Option<(Test, Series)>> = metrics
        .iter()
        .enumerate()
        .map(|(i, &m)| {
            // Guardrails where the change shipped; control metrics as they are.
            let within = if i < change.guardrails.len() {
                scope
            } else {
                None
            };
            let series = Series::of(grid.values(m, within), s, change.window);
            if series.unscaled(s, change.window).is_some() {
                return None;
            }
            test(&series.u, None, Fit::Difference, s, change.window, 1.0)
                .ok()
                .filter(|t| series.relative(t.estimate.tau).is_finite())
                .map(|t| (t, series))
        })
        .collect();
    let raw: Vec<f64> = tests.iter().flatten().map(|(t, _)| two_sided(t)).collect();
    let mut adjusted = holm(&raw).into_iter();
    let tree = grid.eval.tree();
    let mut moved_with = false;
    for (i, (&m, t)) in metrics.iter().zip(&tests).enumerate() {
        let is_control = i >= change.guardrails.len();
        let Some((t, series)) = t else {
            if !is_control {
                out.guardrails.push(GuardrailReport {
                    metric: tree.metric(m).id.clone(),
                    relative: None,
                    baseline: None,
                    p: None,
                    verdict: Guarded::NotEvaluable,
                });
            }
            continue;
        };
        let p = adjusted.next().expect("one per test");
        let tau = t.estimate.tau;
        if is_control {
            moved_with |= p <= ALPHA && tau * g > 0.0;
            continue;
        }
        let bad = match tree.metric(m).good {
            Some(good) => tau * sign(good) < 0.0,
            None => true,
        };
        out.guardrails.push(GuardrailReport {
            metric: tree.metric(m).id.clone(),
            relative: Some(series.relative(tau)),
            baseline: Some(series.base),
            p: Some(p),
            verdict: if p <= ALPHA && bad {
                Guarded::Worse
            } else {
                Guarded::Held
            },
        });
    }
    moved_with
}

/// The share of the root's change since shipping that the change explains: the root with
/// the metric's value scaled by the effect, at the baseline and evaluation means of the
/// leaves, averaged both ways.
fn root_share(
    grid: &Grid<'_, '_>,
    change: &Change,
    (s, scope): (usize, Option<&[usize]>),
    t: &Test,
    treated: &Series,
) -> Option<RootShare> {
    let tree = grid.eval.tree();
    let root = tree.root();
    let k = change.metric;
    // In a scope, only a leaf's part there can be scaled: a ratio's is not additive.
    if scope.is_some() && !tree.metric(k).is_leaf() {
        return None;
    }
    let w = change.window;
    let (p, e) = (s - t.baseline..s, s + w.ramp..s + w.ramp + w.periods);
    let (xp, xe) = (means(grid, p.clone()), means(grid, e.clone()));
    // The part of the metric the change touched, at the baseline and evaluation means.
    let touched = |range: std::ops::Range<usize>, all: f64| match scope {
        None => all,
        Some(segments) => {
            let v: Vec<f64> = grid.pooled(k, segments)[range]
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    let (tp, te) = (touched(p, xp[k.index()]), touched(e, xe[k.index()]));
    // The root at `x` with the touched part `part` of the metric scaled by `gain`.
    let f = |x: &[f64], part: f64, gain: f64| match scope {
        None => point(tree, |m| x[m.index()], Some((k, gain)))[root.index()],
        Some(_) => {
            let leaf = |m: MetricId| {
                if m == k {
                    x[m.index()] + (gain - 1.0) * part
                } else {
                    x[m.index()]
                }
            };
            point(tree, leaf, None)[root.index()]
        }
    };
    let (fp, fe) = (f(&xp, tp, 1.0), f(&xe, te, 1.0));
    let change_of_root = fe - fp;
    if !change_of_root.is_finite() || change_of_root == 0.0 {
        return None;
    }
    let share = |x: f64| {
        let gain = 1.0 + treated.relative(x);
        0.5 * ((f(&xp, tp, gain) - fp) + (fe - f(&xe, te, 1.0 / gain))) / change_of_root
    };
    let (a, b) = (share(t.low), share(t.high));
    let effect = share(t.estimate.tau) * change_of_root / fp;
    // A root too large, or at 0 before, cannot say what share of it the effect was.
    if ![a, b, effect, change_of_root / fp]
        .iter()
        .all(|x| x.is_finite())
    {
        return None;
    }
    Some(RootShare {
        metric: tree.metric(root).id.clone(),
        share: share(t.estimate.tau),
        low: a.min(b),
        high: a.max(b),
        transmitted: transmitted(grid, s, w, effect),
        effect,
        change: change_of_root / fp,
        baseline: fp,
    })
}

/// Every metric's mean over the periods `range` (of those with a value).
fn means(grid: &Grid<'_, '_>, range: std::ops::Range<usize>) -> Vec<f64> {
    grid.eval
        .tree()
        .ids()
        .map(|m| {
            let v: Vec<f64> = range
                .clone()
                .map(|i| grid.eval.total(m, grid.period(i)).unwrap_or(f64::NAN))
                .filter(|v| v.is_finite())
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        })
        .collect()
}

/// Whether the root's own test at the ship date `s` has `effect` (relative) within its
/// interval: the change's share reached the root. `None` where the root cannot be tested.
fn transmitted(grid: &Grid<'_, '_>, s: usize, w: Window, effect: f64) -> Option<bool> {
    let root_series: Vec<f64> = grid
        .totals(grid.eval.tree().root())
        .into_iter()
        .map(|v| if v > 0.0 { v.ln() } else { f64::NAN })
        .collect();
    test(&root_series, None, Fit::Difference, s, w, 1.0)
        .ok()
        .map(|r| {
            let (low, high) = (r.low.exp() - 1.0, r.high.exp() - 1.0);
            (low..=high).contains(&effect)
        })
}

mod control;
use control::{scope_segments, series, tested};
