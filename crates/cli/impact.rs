//! `canopy impact`: whether the changes registered in a tree moved their metrics.

use std::path::Path;

use canopy_engine::MetricTree;
use canopy_evaluator::impact::{self, Assessment, Stage};
use canopy_evaluator::{evaluate, Period};

use crate::args::{DataArgs, Format};
use crate::data::{self, PeriodArg};
use crate::trees::{self, Style};
use crate::Outcome;

/// What `canopy impact` was asked.
pub(crate) struct Request<'a> {
    pub(crate) change: Option<&'a str>,
    pub(crate) db: &'a Path,
    pub(crate) as_of: &'a str,
    pub(crate) format: Format,
}

pub(crate) fn run(
    path: &Path,
    data_args: &DataArgs,
    request: Request<'_>,
    style: Style,
) -> anyhow::Result<Outcome> {
    let mut sources = data::Sources::start(&data_args.sources)?;
    let Some(loaded) = trees::load(path, style)? else {
        return Ok(Outcome::Failure);
    };
    let tree = &loaded.tree;
    let changes = chosen(tree, request.change)?;
    let arg = PeriodArg::parse(request.as_of, tree.grain())?;
    let loaded_data = data::load(tree, &mut sources, style, |last| {
        let as_of = data::resolve(&arg, last, tree.grain())?;
        Ok(wanted(tree, &changes, as_of))
    })?;
    let Some((data, periods)) = loaded_data else {
        return Ok(Outcome::Failure);
    };
    drop(sources);
    let as_of = match periods.last() {
        Some(&p) => p,
        None => data::resolve(&arg, data.last(), tree.grain())?,
    };
    let eval = evaluate(tree, &data);
    // The evaluation holds every value now: the leaves' layout is no longer needed.
    drop(data);
    let history = match request.db.exists() {
        true => Some(canopy_notifier::History::open_read_only(request.db)?),
        false => None,
    };
    let mut assessed = Vec::with_capacity(changes.len());
    for &i in &changes {
        let change = &tree.changes()[i];
        let mut a = impact::assess(&eval, change, as_of);
        // First seen by a run after it shipped: post hoc. Without a history, not known.
        if let Some(history) = &history {
            let seen = history.change(tree.id(), &change.id)?;
            a.post_hoc = seen.is_some_and(|s| s.post_hoc());
            if let Some(reason) = canopy_notifier::redefined(history, tree, change)? {
                if a.status != Stage::Pending {
                    a = a.not_evaluable(reason);
                }
            }
        }
        assessed.push(a);
    }
    match request.format {
        Format::Json => {
            let report = canopy_present::impact_report(tree, as_of, &assessed);
            outln!("{}", serde_json::to_string_pretty(&report)?)?;
        }
        Format::Table => out!("{}", render(tree, &changes, &assessed, as_of))?,
    }
    Ok(Outcome::Success)
}

/// The changes asked for, by index: all, or the one named.
fn chosen(tree: &MetricTree, name: Option<&str>) -> anyhow::Result<Vec<usize>> {
    let all = tree.changes();
    let Some(name) = name else {
        if all.is_empty() {
            anyhow::bail!("tree `{}` registers no changes\nhelp: list them under `changes:` in the tree file (see docs/impact.md)", tree.id());
        }
        return Ok((0..all.len()).collect());
    };
    match all.iter().position(|c| c.id == name) {
        Some(i) => Ok(vec![i]),
        None => {
            let names = all.iter().map(|c| c.id.as_str());
            let hint = canopy_engine::did_you_mean(name, names)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            anyhow::bail!("no change `{name}` in tree `{}`{hint}", tree.id())
        }
    }
}

/// The periods the chosen changes need, ending with `as_of`: each change's baseline, ramp
/// and evaluation window, and enough before them for the placebo dates.
pub(crate) fn wanted(tree: &MetricTree, changes: &[usize], as_of: Period) -> Vec<Period> {
    let first = changes
        .iter()
        .map(|&i| impact::first_needed(&tree.changes()[i]))
        .min()
        .unwrap_or(as_of);
    let first = first.min(as_of);
    (0..=as_of.since(first)).map(|k| first.offset(k)).collect()
}

/// The table: one line per change, then each change in words.
fn render(tree: &MetricTree, changes: &[usize], assessed: &[Assessment], as_of: Period) -> String {
    let rows: Vec<Vec<String>> = (changes.iter().zip(assessed))
        .map(|(&i, a)| {
            // In the metric's own terms: percent, or points for a metric told in points.
            let change = tree.metric(tree.changes()[i].metric).change;
            let told = |e: &canopy_evaluator::impact::Effect, x: f64| {
                canopy_present::told(change, x, e.baseline)
            };
            let status = match (a.status, a.verdict) {
                (Stage::Evaluated, Some(v)) => v.name().to_string(),
                (Stage::Pending, _) => canopy_present::impact::stage(Stage::Pending),
                _ => canopy_present::impact::stage(Stage::NotEvaluable),
            };
            vec![
                a.id.clone(),
                a.metric.clone(),
                a.shipped.clone(),
                status,
                a.effect.map_or("-".into(), |e| told(&e, e.relative)),
                a.effect.map_or("-".into(), |e| {
                    format!("{} to {}", told(&e, e.low), told(&e, e.high))
                }),
                a.p.map_or("-".into(), |p| format!("{p:.3}")),
            ]
        })
        .collect();
    let mut out = format!("{} as of {as_of}\n\n", tree.id());
    out += &crate::table::render(
        &[
            "change",
            "metric",
            "shipped",
            "verdict",
            "effect",
            "likely range (90%)",
            "p",
        ],
        &rows,
        &[1, 3],
    );
    out.push('\n');
    for (&i, a) in changes.iter().zip(assessed) {
        out += &canopy_present::story(tree, &tree.changes()[i], a);
        out += "\n\n";
    }
    out.truncate(out.trim_end().len() + 1);
    out
}
