//! `canopy history`: what the runs of a tree recorded, read back from the database.

use canopy_notifier::History;
use canopy_present::format::number;
use serde::Serialize;

use crate::args::{Format, HistoryArgs};
use crate::trees::{self, Style};
use crate::Outcome;

#[derive(Serialize)]
struct Value {
    metric: String,
    value: Option<f64>,
    status: canopy_evaluator::Status,
    band: Option<String>,
    /// The version of the metric's definition the value was computed under.
    definition: Option<String>,
    /// Whether that differs from the version of the period before in this history: the
    /// trend crosses a change of definition here.
    definition_changed: bool,
}

#[derive(Serialize)]
struct Email {
    to: String,
    subject: String,
    status: canopy_notifier::EmailStatus,
}

#[derive(Serialize)]
struct Period {
    period: canopy_engine::Period,
    /// The version of the tree's definition the run used.
    definition: Option<String>,
    values: Vec<Value>,
    moves: Vec<canopy_notifier::MoveRecord>,
    emails: Vec<Email>,
}

#[derive(Serialize)]
struct State {
    metric: String,
    period: canopy_engine::Period,
    bad: bool,
    runs_unalerted: u32,
}

#[derive(Serialize)]
struct Report {
    tree: String,
    periods: Vec<Period>,
    alert_state: Vec<State>,
}

pub(crate) fn run(request: &HistoryArgs, style: Style) -> anyhow::Result<Outcome> {
    let Some(loaded) = trees::load(&request.tree, style)? else {
        return Ok(Outcome::Failure);
    };
    let tree = &loaded.tree;
    if let Some(m) = &request.metric {
        crate::explain::metric_named(tree, Some(m))?;
    }
    if !request.db.exists() {
        anyhow::bail!(
            "no history at {}\nhelp: `canopy run` writes it; give its database with --db",
            request.db.display()
        );
    }
    let history = History::open_read_only(&request.db)?;
    // A slice's runs are kept under the tree's id with the slice's key (see `run --where`).
    let slice = canopy_evaluator::Slice(request.slice.conditions.clone());
    let key = slice.tree_id(tree.id());
    let wanted = |metric: &str| request.metric.as_deref().is_none_or(|m| m == metric);
    let band = |metric: &str, value: Option<f64>| {
        let id = tree.find(metric)?;
        tree.metric(id).bands.name_of(value?).map(str::to_string)
    };
    // The hash of each metric's definition in the period before, to mark where it changed.
    let mut last: std::collections::HashMap<String, String> = Default::default();
    let periods = history
        .past(&key, request.last)?
        .into_iter()
        .map(|run| Period {
            values: (run.values.into_iter().filter(|v| wanted(&v.0)))
                .map(|(metric, value, status, hash)| Value {
                    band: band(&metric, value),
                    definition: hash.as_deref().map(canopy_engine::short_version),
                    definition_changed: hash.as_ref().is_some_and(|h| {
                        last.insert(metric.clone(), h.clone())
                            .is_some_and(|l| l != *h)
                    }),
                    metric,
                    value,
                    status,
                })
                .collect(),
            definition: run.definition.as_deref().map(canopy_engine::short_version),
            moves: (run.moves.into_iter())
                .filter(|m| wanted(&m.metric))
                .collect(),
            emails: run
                .emails
                .into_iter()
                .map(|(to, subject, status)| Email {
                    to,
                    subject,
                    status,
                })
                .collect(),
            period: run.period,
        })
        .collect();
    let alert_state = (history.alert_states(&key)?.into_iter())
        .filter(|s| wanted(&s.0))
        .map(|(metric, period, bad, runs_unalerted)| State {
            metric,
            period,
            bad,
            runs_unalerted,
        })
        .collect();
    let report = Report {
        tree: key.clone(),
        periods,
        alert_state,
    };
    match request.format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&report)?)?,
        Format::Table => out!("{}", render(&report))?,
    }
    Ok(Outcome::Success)
}

fn render(report: &Report) -> String {
    if report.periods.is_empty() {
        return format!("{}: no runs recorded\n", report.tree);
    }
    let mut out = String::new();
    for p in &report.periods {
        let moves = crate::table::plural(p.moves.len(), "move");
        let emails = crate::table::plural(p.emails.len(), "email");
        let version =
            (p.definition.as_ref()).map_or(String::new(), |v| format!(" (definition {v})"));
        out += &format!("{} {}: {moves}, {emails}{version}\n", report.tree, p.period);
        let rows: Vec<Vec<String>> = p
            .values
            .iter()
            .map(|v| {
                let moved: Vec<&str> = (p.moves.iter().filter(|m| m.metric == v.metric))
                    .flat_map(|m| m.rules.iter().map(canopy_notifier::Rule::name))
                    .collect();
                let value = v.value.map_or_else(|| v.status.name().to_string(), number);
                let changed = match v.definition_changed {
                    true => format!("changed: {}", v.definition.as_deref().unwrap_or("")),
                    false => String::new(),
                };
                vec![
                    format!("  {}", v.metric),
                    value,
                    v.band.clone().unwrap_or_default(),
                    moved.join(", "),
                    changed,
                ]
            })
            .collect();
        out += &crate::table::render(
            &["  metric", "value", "band", "moved", "definition"],
            &rows,
            &[2, 3, 4],
        );
        for e in &p.emails {
            out += &format!("  email to {}: {} ({})\n", e.to, e.subject, e.status.name());
        }
        out.push('\n');
    }
    out
}
