//! `canopy owners`: who is accountable, responsible, consulted and informed for what, across
//! trees, and the gaps worth fixing.

use std::collections::BTreeSet;
use std::path::PathBuf;

use canopy_engine::{MetricId, MetricTree};
use serde::Serialize;

use crate::trees::{self, Style};
use crate::Outcome;

/// How `canopy owners` prints.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum OwnersFormat {
    /// The matrix: one row per metric, one column per person.
    Table,
    /// One JSON document, for programs.
    Json,
    /// One row per metric and person with a role: tree,metric,person,roles.
    Csv,
}

/// One person's roles on one metric.
#[derive(Serialize)]
struct Assignment {
    tree: String,
    metric: String,
    person: String,
    /// Letters of A, R, C, I, in that order.
    roles: String,
}

/// A gap in ownership.
#[derive(Serialize)]
struct Warning {
    tree: String,
    metric: String,
    message: String,
}

/// A tree read, with the version of its definition.
#[derive(Serialize)]
struct TreeVersion {
    tree: String,
    definition: String,
}

#[derive(Serialize)]
struct Report {
    trees: Vec<TreeVersion>,
    people: Vec<String>,
    assignments: Vec<Assignment>,
    warnings: Vec<Warning>,
}

/// The roles `person` has on `metric`, as letters (`A`, `RI`, ...).
fn roles(tree: &MetricTree, metric: MetricId, person: &str) -> String {
    let raci = &tree.metric(metric).raci;
    let has = |ids: &[String]| ids.iter().any(|i| i == person);
    [
        ('A', raci.accountable == person),
        ('R', has(&raci.responsible)),
        ('C', has(&raci.consulted)),
        ('I', has(&raci.informed)),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(c, _)| *c)
    .collect()
}

/// Metrics without a responsible, and one person accountable for a metric and an input of it
/// whose `good:` directions differ (worth a look: is improving one meant to worsen the other?).
fn warnings(tree: &MetricTree) -> Vec<Warning> {
    let mut out = Vec::new();
    let warn = |m: MetricId, message: String| Warning {
        tree: tree.id().to_string(),
        metric: tree.metric(m).id.clone(),
        message,
    };
    for id in tree.ids() {
        let metric = tree.metric(id);
        if metric.raci.responsible.is_empty() {
            out.push(warn(
                id,
                "no one is responsible: add `responsible:` to its raci, so the work has someone"
                    .into(),
            ));
        }
        for &input in tree.inputs(id) {
            let child = tree.metric(input);
            let same = child.raci.accountable == metric.raci.accountable;
            if let (true, Some(a), Some(b)) = (same, metric.good, child.good) {
                if a != b {
                    let (person, input) = (&metric.raci.accountable, &child.id);
                    let message = format!(
                        "{person} is accountable for it (good: {}) and for its input `{input}` (good: {}); check both directions are meant",
                        a.name(),
                        b.name()
                    );
                    out.push(warn(id, message));
                }
            }
        }
    }
    out
}

pub(crate) fn run(
    paths: &[PathBuf],
    person: Option<&str>,
    format: OwnersFormat,
    style: Style,
) -> anyhow::Result<Outcome> {
    let batch = trees::load_all(paths, style);
    if !batch.all_valid {
        return Ok(Outcome::Failure);
    }
    let trees: Vec<&MetricTree> = batch.loaded.iter().map(|l| &l.tree).collect();
    let mut people: BTreeSet<String> = trees
        .iter()
        .flat_map(|t| t.people().keys().cloned())
        .collect();
    if let Some(p) = person {
        if !people.contains(p) {
            let hint = canopy_engine::did_you_mean(p, people.iter().map(String::as_str))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            anyhow::bail!("no person `{p}` in these trees{hint}\nhelp: people are the ids under each tree's `people:`");
        }
        people = BTreeSet::from([p.to_string()]);
    }
    let mut assignments = Vec::new();
    for tree in &trees {
        for id in tree.ids() {
            for p in &people {
                let r = roles(tree, id, p);
                if !r.is_empty() {
                    assignments.push(Assignment {
                        tree: tree.id().into(),
                        metric: tree.metric(id).id.clone(),
                        person: p.clone(),
                        roles: r,
                    });
                }
            }
        }
    }
    let warnings: Vec<Warning> = trees.iter().flat_map(|t| warnings(t)).collect();
    let report = Report {
        trees: (trees.iter())
            .map(|t| TreeVersion {
                tree: t.id().to_string(),
                definition: t.version(),
            })
            .collect(),
        people: people.into_iter().collect(),
        assignments,
        warnings,
    };
    match format {
        OwnersFormat::Json => outln!("{}", serde_json::to_string_pretty(&report)?)?,
        OwnersFormat::Csv => {
            out!("{}", csv(&report)?)?;
            // The rows are data; the gaps go beside them, to stderr.
            for w in &report.warnings {
                eprintln!("warning: {} `{}`: {}", w.tree, w.metric, w.message);
            }
        }
        OwnersFormat::Table => out!("{}", table(&trees, &report))?,
    }
    Ok(Outcome::Success)
}

/// The assignments as CSV, quoted by the `csv` crate's writer (a `,` or `"` in a name stays in
/// its column), with every field a spreadsheet would run as a formula made text.
fn csv(report: &Report) -> anyhow::Result<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["tree", "metric", "person", "roles"])?;
    for a in &report.assignments {
        out.write_record([&a.tree, &a.metric, &a.person, &a.roles].map(|f| inert(f)))?;
    }
    Ok(String::from_utf8(out.into_inner()?)?)
}

/// `field` as a spreadsheet shows it without running it: one starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return is a formula there, so it gets a leading `'`.
fn inert(field: &str) -> String {
    match field.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        true => format!("'{field}"),
        false => field.to_string(),
    }
}

/// The matrix, then the warnings.
fn table(trees: &[&MetricTree], report: &Report) -> String {
    let mut header = vec!["tree", "metric"];
    header.extend(report.people.iter().map(String::as_str));
    let rows: Vec<Vec<String>> = trees
        .iter()
        .flat_map(|t| t.ids().map(move |id| (t, id)))
        .map(|(t, id)| {
            let mut row = vec![t.id().to_string(), t.metric(id).id.clone()];
            row.extend(report.people.iter().map(|p| roles(t, id, p)));
            row
        })
        .filter(|row| row[2..].iter().any(|c| !c.is_empty()))
        .collect();
    let mut out = crate::table::render(&header, &rows, &[0, 1]);
    out += "\nA accountable, R responsible, C consulted, I informed\n";
    for w in &report.warnings {
        out += &format!("warning: {} `{}`: {}\n", w.tree, w.metric, w.message);
    }
    out
}
