//! The control a change's metric is compared with: segments, metrics, the same periods a
//! year before, or none (the level), and the choice between them.

use canopy_engine::{Change, Controls, Grain, Window};

use super::{Grid, Series};
use crate::impact::{test, Fit, Model, Reason, Test};

/// The test of the treated series against its control, and the model tested. A year-over-year
/// control is kept only where it leaves the false-alarm check its placebo dates (the year
/// before them must be in the data too); otherwise the level model, which reaches further
/// back, is tested instead.
pub(super) fn tested(
    treated: &Series,
    control: Option<(Fit, Option<Vec<f64>>, Model)>,
    s: usize,
    w: Window,
    g: f64,
) -> Result<(Test, Model), Reason> {
    let level = || test(&treated.u, None, Fit::Difference, s, w, g);
    match control {
        None => Ok((level()?, Model::Level)),
        Some((fit, c, model)) => {
            let t = test(&treated.u, c.as_deref(), fit, s, w, g)?;
            match t.placebo.is_none() && model == Model::YearOverYear {
                true => Ok((level()?, Model::Level)),
                false => Ok((t, model)),
            }
        }
    }
}

/// The segments of the change's scope; `None` without one.
pub(super) fn scope_segments(
    grid: &Grid<'_, '_>,
    change: &Change,
) -> Result<Option<Vec<usize>>, Reason> {
    if change.scope.is_empty() {
        return Ok(None);
    }
    let scope: Vec<(String, Vec<String>)> = change
        .scope
        .iter()
        .map(|(d, v)| (d.clone(), vec![v.clone()]))
        .collect();
    grid.matching(&scope).map(Some)
}

/// The treated series, and the control with the fit it takes and the model it makes.
#[allow(clippy::type_complexity)]
pub(super) fn series(
    grid: &Grid<'_, '_>,
    change: &Change,
    treated_segments: Option<&[usize]>,
) -> Result<(Series, Option<(Fit, Option<Vec<f64>>, Model)>), Reason> {
    let s = grid.index(change.shipped).expect("checked");
    let treated = Series::of(
        grid.values(change.metric, treated_segments),
        s,
        change.window,
    );
    let scale = |v: Vec<f64>| treated.scale(v);
    let control = match &change.controls {
        Controls::Metrics(ids) => {
            let logs: Vec<Vec<f64>> = ids.iter().map(|&m| scale(grid.totals(m))).collect();
            let c = (0..grid.len)
                .map(|i| logs.iter().map(|l| l[i]).sum::<f64>() / logs.len() as f64)
                .collect();
            let controls = (ids.iter())
                .map(|&m| grid.eval.tree().metric(m).id.clone())
                .collect();
            Some((Fit::Regression, Some(c), Model::Regression { controls }))
        }
        Controls::Segments(wanted) => {
            let segments = grid.matching(wanted)?;
            let c = scale(grid.pooled(change.metric, &segments));
            let segments = wanted.clone();
            Some((Fit::Difference, Some(c), Model::Segments { segments }))
        }
        Controls::Default => treated_segments
            .and_then(|inside| complement(grid, change, &treated, inside, &scale))
            .or_else(|| last_year(grid, change, &treated)),
    };
    Ok((treated, control))
}

/// The segments outside the scope as the control, kept only where they track the metric
/// (the baseline variance of the difference is below the metric's own).
fn complement(
    grid: &Grid<'_, '_>,
    change: &Change,
    treated: &Series,
    inside: &[usize],
    scale: &dyn Fn(Vec<f64>) -> Vec<f64>,
) -> Option<(Fit, Option<Vec<f64>>, Model)> {
    let outside: Vec<usize> = (0..grid.eval.segments().len())
        .filter(|s| !inside.contains(s))
        .collect();
    if outside.is_empty() {
        return None;
    }
    let dims = grid.eval.dimensions();
    let named: Vec<(String, Vec<String>)> = (0..dims.len())
        .map(|d| {
            let mut values: Vec<String> = outside
                .iter()
                .map(|&s| grid.eval.segments()[s][d].clone())
                .collect();
            values.sort();
            values.dedup();
            (dims[d].clone(), values)
        })
        .collect();
    let c = scale(grid.pooled(change.metric, &outside));
    tracks(grid, change, treated, &c).then(|| {
        let segments = named;
        (Fit::Difference, Some(c), Model::Segments { segments })
    })
}

/// Whether `c` tracks the treated series: the baseline variance of their difference is below
/// the series' own, so subtracting it removes noise rather than adding its own.
fn tracks(grid: &Grid<'_, '_>, change: &Change, treated: &Series, c: &[f64]) -> bool {
    let Some(s) = grid.index(change.shipped) else {
        return false;
    };
    let p = s.saturating_sub(change.window.baseline)..s;
    let variance = |x: Vec<f64>| {
        let x: Vec<f64> = x.into_iter().filter(|v| v.is_finite()).collect();
        let m = x.iter().sum::<f64>() / x.len() as f64;
        x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() as f64 - 1.0)
    };
    let d: Vec<f64> = p.clone().map(|t| treated.u[t] - c[t]).collect();
    variance(d) < variance(treated.u[p].to_vec())
}

/// The series a year before as the control, `c_t = u_{t - year}`, when the data reaches that
/// far back for the baseline (and a year before the first placebo), and it tracks the series.
fn last_year(
    grid: &Grid<'_, '_>,
    change: &Change,
    treated: &Series,
) -> Option<(Fit, Option<Vec<f64>>, Model)> {
    let year = match grid.eval.tree().grain() {
        Grain::Day => 364,
        Grain::Week => 52,
        Grain::Month => 12,
        Grain::Quarter => 4,
    };
    let s = grid.index(change.shipped)?;
    if s < year + change.window.baseline {
        return None;
    }
    let c: Vec<f64> = (0..treated.u.len())
        .map(|t| t.checked_sub(year).map_or(f64::NAN, |b| treated.u[b]))
        .collect();
    tracks(grid, change, treated, &c).then_some((Fit::Difference, Some(c), Model::YearOverYear))
}
