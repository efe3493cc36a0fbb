//! `canopy replay`: what the tree as it is now would have sent, period by period, had it been
//! run on every period of a range from an empty history. Nothing is sent or recorded: the runs
//! are decided by the same `plan` as `canopy run`, against a history in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use canopy_evaluator::{evaluate, Evaluation, Period};
use canopy_notifier::{plan, History, MoveReport};
use serde::Serialize;

use crate::args::{Format, ReplayArgs};
use crate::data;
use crate::table::{plural, render as table};
use crate::trees::{self, Style};
use crate::Outcome;

#[derive(Serialize)]
struct Email {
    to: String,
    subject: String,
    /// Whether it tells a registered change's verdict (as well as any moves).
    verdict: bool,
}

#[derive(Serialize)]
struct Replayed {
    period: String,
    /// Why nothing would have been sent, when the root had no value.
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<String>,
    moves: Vec<MoveReport>,
    emails: Vec<Email>,
    /// The registered changes judged in this period.
    verdicts: Vec<String>,
}

/// One recipient's share of the range.
#[derive(Serialize)]
struct PersonCount {
    email: String,
    /// Every email (or chat message) they would have had.
    emails: usize,
    /// Those of `emails` that tell a change's verdict: a verdict is neither a move nor an
    /// alert, so it is counted apart.
    verdict_emails: usize,
    /// The moves they would have been alerted to as accountable.
    alerts: usize,
}

#[derive(Serialize)]
struct RuleCount {
    rule: &'static str,
    moves: usize,
}

#[derive(Serialize)]
struct Report {
    tree: String,
    definition: String,
    from: String,
    to: String,
    periods: Vec<Replayed>,
    people: Vec<PersonCount>,
    rules: Vec<RuleCount>,
}

pub(crate) fn run(request: &ReplayArgs, style: Style) -> anyhow::Result<Outcome> {
    let mut sources = data::Sources::start(&request.data.sources)?;
    let Some(loaded) = trees::load(&request.tree, style)? else {
        return Ok(Outcome::Failure);
    };
    let tree = &loaded.tree;
    let (from, to) = (
        Period::parse(&request.from, tree.grain())?,
        Period::parse(&request.to, tree.grain())?,
    );
    if from > to {
        anyhow::bail!("--from ({from}) is after --to ({to})\nhelp: give the first period of the range as --from");
    }
    // Bounded before anything is allocated or queried, as the data's own span is: a mistyped
    // year must not become a million periods.
    let span = to.since(from) + 1;
    if span > canopy_evaluator::MAX_SPAN {
        anyhow::bail!("--from {from} --to {to} is {span} periods; a replay covers at most {}\nhelp: replay a shorter range, such as the last year", canopy_evaluator::MAX_SPAN);
    }
    let all: Vec<&canopy_engine::Change> = tree.changes().iter().collect();
    let first = crate::run::needed(tree, &all, to)[0].min(crate::run::needed(tree, &[], from)[0]);
    let wanted: Vec<Period> = (0..=to.since(first)).map(|k| first.offset(k)).collect();
    let Some((data, _)) = data::load(tree, &mut sources, style, |_| Ok(wanted))? else {
        return Ok(Outcome::Failure);
    };
    drop(sources);
    let eval = evaluate(tree, &data);
    drop(data);
    let periods = replay(&eval, from, to)?;
    let report = Report {
        tree: tree.id().to_string(),
        definition: tree.version(),
        from: from.to_string(),
        to: to.to_string(),
        people: people(&periods),
        rules: rules(&periods),
        periods,
    };
    match request.format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&report)?)?,
        Format::Table => out!("{}", render(&report))?,
    }
    Ok(Outcome::Success)
}

/// Decides the run of every period from `from` to `to` in turn, each remembering the ones
/// before it, as a week of `canopy run`s would.
fn replay(eval: &Evaluation<'_>, from: Period, to: Period) -> anyhow::Result<Vec<Replayed>> {
    let tree = eval.tree();
    let sender = crate::env::sender()?;
    let mut history = History::in_memory()?;
    let (now, date) = (chrono::Utc::now(), SystemTime::now());
    let mut out = Vec::new();
    for period in (0..=to.since(from)).map(|k| from.offset(k)) {
        if let Err(cell) = eval.total(tree.root(), period) {
            out.push(Replayed {
                period: period.to_string(),
                skipped: Some(format!(
                    "no value for the root ({}); a run sends nothing",
                    eval.reason(tree.root(), period, cell)
                )),
                moves: Vec::new(),
                emails: Vec::new(),
                verdicts: Vec::new(),
            });
            continue;
        }
        let planned = plan(eval, period, &history, &sender, date, None)?;
        history.record_run(&planned.record, now)?;
        let told = verdict_contacts(tree, &planned.verdicts);
        let emails = (planned.record.emails.iter())
            .map(|e| {
                let to = e.shown_recipient();
                let verdict = told.contains(&to);
                let subject = e.subject.clone();
                Email {
                    to,
                    subject,
                    verdict,
                }
            })
            .collect();
        out.push(Replayed {
            period: period.to_string(),
            skipped: None,
            moves: planned.moves,
            emails,
            verdicts: planned.verdicts.into_iter().map(|v| v.change).collect(),
        });
    }
    Ok(out)
}

/// Where each person told a verdict is reached (address and webhook, as listings show them):
/// the emails and chat messages to them this period carry it.
fn verdict_contacts(
    tree: &canopy_engine::MetricTree,
    verdicts: &[canopy_notifier::Verdict],
) -> BTreeSet<String> {
    let people = verdicts.iter().flat_map(|v| &v.recipients);
    (people.map(|id| tree.person(id)))
        .flat_map(|p| {
            let hook = p.webhook.as_ref().map(|w| w.to_string());
            p.email.clone().into_iter().chain(hook)
        })
        .collect()
}

/// How many emails, verdict emails and alerts each recipient would have had, most emails
/// first.
fn people(periods: &[Replayed]) -> Vec<PersonCount> {
    let mut counts: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for p in periods {
        for e in &p.emails {
            let count = counts.entry(&e.to).or_default();
            count.0 += 1;
            count.1 += usize::from(e.verdict);
        }
        for m in &p.moves {
            counts.entry(&m.recipient).or_default().2 += 1;
        }
    }
    let mut out: Vec<PersonCount> = (counts.into_iter())
        .map(|(email, (emails, verdict_emails, alerts))| PersonCount {
            email: email.to_string(),
            emails,
            verdict_emails,
            alerts,
        })
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse((p.emails, p.alerts)));
    out
}

/// How many moves each rule would have fired, most first.
fn rules(periods: &[Replayed]) -> Vec<RuleCount> {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for rule in periods.iter().flat_map(|p| &p.moves).flat_map(|m| &m.rules) {
        *counts.entry(rule).or_default() += 1;
    }
    let mut out: Vec<RuleCount> = (counts.into_iter())
        .map(|(rule, moves)| RuleCount { rule, moves })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.moves));
    out
}

/// What the per-person columns count, since an email can carry moves, a verdict, or both.
const PEOPLE_COLUMNS: &str = "\
emails: every email or chat message to them
verdict emails: of those, the ones telling a registered change's verdict (neither a move nor an alert)
moves as accountable: moves of the metrics they are accountable for, each an alert in an email
";

fn render(report: &Report) -> String {
    let mut out = format!(
        "{} {} to {}, as the tree is now (definition {}); nothing was sent or recorded\n\n",
        report.tree, report.from, report.to, report.definition
    );
    let rows: Vec<Vec<String>> = (report.periods.iter())
        .map(|p| {
            let moved: Vec<String> = (p.moves.iter())
                .map(|m| format!("{} ({})", m.metric, m.rules.join(", ")))
                .collect();
            let moved = p.skipped.clone().unwrap_or_else(|| moved.join("; "));
            let verdicts = p.verdicts.join(", ");
            vec![
                p.period.clone(),
                p.emails.len().to_string(),
                moved,
                verdicts,
            ]
        })
        .collect();
    let header = ["period", "emails", "moves (rules)", "verdicts on changes"];
    out += &table(&header, &rows, &[2, 3]);
    let rows: Vec<Vec<String>> = (report.people.iter())
        .map(|p| {
            let (emails, verdicts) = (p.emails.to_string(), p.verdict_emails.to_string());
            vec![p.email.clone(), emails, verdicts, p.alerts.to_string()]
        })
        .collect();
    out += &format!("\n{} in all:\n", plural(report.people.len(), "recipient"));
    let header = ["to", "emails", "verdict emails", "moves as accountable"];
    out += &table(&header, &rows, &[]);
    out += PEOPLE_COLUMNS;
    if !report.rules.is_empty() {
        let rows: Vec<Vec<String>> = (report.rules.iter())
            .map(|r| vec![r.rule.to_string(), r.moves.to_string()])
            .collect();
        out += "\nMoves by rule:\n";
        out += &table(&["rule", "moves"], &rows, &[]);
    }
    out
}
