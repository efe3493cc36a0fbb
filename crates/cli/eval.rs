//! `canopy eval`: every metric of a tree in one period.

use std::path::Path;

use canopy_evaluator::{evaluate, Baseline, Status};
use canopy_present::{eval_report_against, EvalReport};

use crate::args::{DataArgs, Format, SliceArgs};
use crate::data;
use canopy_engine::{ChangeIn, Grain};
use canopy_present::format::{number, percent, signed};

use crate::table;
use crate::trees::{self, Style};
use crate::Outcome;

pub(crate) fn run(
    path: &Path,
    (data_args, slice): (&DataArgs, &SliceArgs),
    (period, against): (&str, Option<Baseline>),
    format: Format,
    style: Style,
) -> anyhow::Result<Outcome> {
    let mut sources = data::Sources::start(&data_args.sources)?;
    let Some(loaded) = trees::load(path, style)? else {
        return Ok(Outcome::Failure);
    };
    let tree = &loaded.tree;
    let baseline = against.unwrap_or(Baseline::Previous);
    let Some((data, period)) =
        data::load_with(tree, &mut sources, style, period, |p| baseline.periods(p))?
    else {
        return Ok(Outcome::Failure);
    };
    // The files' text and parsed rows are laid out in `data` now: free them before the work.
    drop(sources);
    let data = data::sliced(data, &slice.conditions, &data_args.sources)?;
    // A mean stands in for the period before (see `Data::mean_before`).
    let data = match against {
        Some(Baseline::Mean(n)) => data.mean_before(period, n),
        _ => data,
    };
    let eval = evaluate(tree, &data);
    // The evaluation holds every value now: the leaves' layout is no longer needed.
    drop(data);
    let base = baseline.period(period).unwrap_or(period.previous());
    let mut report = eval_report_against(&eval, period, base);
    report.against = against.map(|b| b.against(period));
    match format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&report)?)?,
        Format::Table => out!("{}", render(&report, tree.grain()))?,
    }
    Ok(Outcome::Success)
}

/// The report as a table, one metric a line; problems are explained under it.
pub(crate) fn render(report: &EvalReport, grain: Grain) -> String {
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or("-".to_string(), f);
    let rows: Vec<Vec<String>> = report
        .metrics
        .iter()
        .map(|m| {
            vec![
                m.id.clone(),
                opt(m.value, number),
                m.band.clone().unwrap_or_default(),
                opt(m.previous, number),
                opt(m.change, signed),
                match m.change {
                    Some(c) if m.change_in == ChangeIn::Points.name() => {
                        format!("{} pts", signed(c))
                    }
                    _ => opt(m.change_pct, percent),
                },
                opt(m.target, number),
                format!("{:?}", m.status).to_lowercase(),
            ]
        })
        .collect();
    let mut out = format!("{} {}", report.tree, report.period);
    if !report.slice.is_empty() {
        out += &format!(" where {}", report.slice.describe());
    }
    if let Some(against) = &report.against {
        out += &format!(
            " against {}",
            canopy_present::words::against(against, grain)
        );
    }
    out += "\n\n";
    out += &table::render(
        &[
            "metric",
            "value",
            "band",
            "previous",
            "change",
            "change %/pts",
            "target",
            "status",
        ],
        &rows,
        &[2, 7],
    );
    let problems: Vec<String> = report
        .metrics
        .iter()
        .filter(|m| m.status != Status::Ok)
        .map(|m| format!("  {}: {}\n", m.id, m.reason.as_deref().unwrap_or("")))
        .collect();
    if !problems.is_empty() {
        out += "\nwhy values are missing or undefined:\n";
        out += &problems.concat();
    }
    out
}
