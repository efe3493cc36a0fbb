//! `canopy render`: draw a tree, as text for diagrams or with a period's values.

use std::path::Path;

use canopy_engine::MetricId;
use canopy_evaluator::{evaluate, Evaluation, Period};
use canopy_notifier::{detect, AlertState};

use crate::args::{RenderFormat, SliceArgs};
use crate::data;
use crate::trees::{self, Style};
use crate::Outcome;

pub(crate) fn run(
    path: &Path,
    format: RenderFormat,
    (sources, slice): (&[String], &SliceArgs),
    period: &str,
    style: Style,
) -> anyhow::Result<Outcome> {
    let drawn = matches!(format, RenderFormat::Html | RenderFormat::Svg);
    if drawn && sources.is_empty() {
        anyhow::bail!("`--format {}` draws a period's values, so it needs data\nhelp: add `--data SRC` (a CSV file, sqlite://PATH or postgres://URL), as for `canopy eval`", name(format));
    }
    let given = sources;
    let mut sources = data::Sources::start(given)?;
    let Some(loaded) = trees::load(path, style)? else {
        return Ok(Outcome::Failure);
    };
    let tree = &loaded.tree;
    if !drawn {
        let text = match format {
            RenderFormat::Dot => canopy_engine::dot(tree),
            _ => canopy_engine::mermaid(tree),
        };
        out!("{text}")?;
        return Ok(Outcome::Success);
    }
    let back = canopy_report::facts::TREND as u32 - 1;
    let Some((data, period)) = data::load_period(tree, &mut sources, style, period, back)? else {
        return Ok(Outcome::Failure);
    };
    drop(sources);
    let data = data::sliced(data, &slice.conditions, given)?;
    let eval = evaluate(tree, &data);
    drop(data);
    let moved = moved(&eval, period);
    // Without a history there is nothing to say of earlier definitions or snoozes.
    let marks = canopy_report::Marks {
        moved: &moved,
        redefined: &[],
        snoozed: &[],
    };
    let text = match format {
        RenderFormat::Html => canopy_report::page(&eval, period, marks),
        _ => canopy_report::picture(&eval, period, marks),
    };
    out!("{text}")?;
    Ok(Outcome::Success)
}

/// The metrics whose alert rules fire in `period`, judged as a first run would be.
fn moved(eval: &Evaluation<'_>, period: Period) -> Vec<MetricId> {
    eval.tree()
        .ids()
        .filter(|&id| detect(eval, id, period, AlertState::default()).0.is_some())
        .collect()
}

/// The format's name, as `--format` takes it.
fn name(format: RenderFormat) -> String {
    use clap::ValueEnum as _;
    format
        .to_possible_value()
        .map_or_else(String::new, |v| v.get_name().to_string())
}
