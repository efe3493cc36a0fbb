//! `canopy snooze`: hold back a metric's alerts until a period, list the snoozes, or end one.
//! The snoozes live in the history database; `canopy run` reads them.

use canopy_engine::{MetricTree, Period};
use canopy_notifier::{History, Snooze};

use crate::args::{Format, SnoozeArgs};
use crate::trees::{self, Style};
use crate::{mail, Outcome};

pub(crate) fn run(request: &SnoozeArgs, style: Style) -> anyhow::Result<Outcome> {
    let tree = match &request.tree {
        Some(path) => match trees::load(path, style)? {
            Some(loaded) => Some(loaded.tree),
            None => return Ok(Outcome::Failure),
        },
        None => None,
    };
    if request.list {
        return list(request, tree.as_ref().map(MetricTree::id));
    }
    let tree = tree.expect("clap requires TREE unless --list");
    let name = request.metric.as_deref().expect("clap requires METRIC");
    let id = crate::explain::metric_named(&tree, Some(name)).map_err(|e| {
        anyhow::anyhow!("{e}\nhelp: give a metric's id as the tree writes it under `metrics:`")
    })?;
    let metric = &tree.metric(id).id;
    let mut history = mail::open_history(&request.db)?;
    if request.clear {
        match history.unsnooze(tree.id(), metric)? {
            Some(s) => outln!("ended: `{metric}` of `{}` was {}", tree.id(), s.told())?,
            None => outln!("`{metric}` of `{}` was not snoozed", tree.id())?,
        }
        return Ok(Outcome::Success);
    }
    let until = request.until.as_deref().expect("clap requires --until");
    let until = Period::parse_for(until, tree.grain()).map_err(|e| {
        anyhow::anyhow!(
            "--until: {e}\nhelp: give the first period whose moves are sent again, such as {}",
            Period::form(tree.grain())
        )
    })?;
    let snooze = Snooze {
        tree: tree.id().to_string(),
        metric: metric.clone(),
        until,
        by: who(request)?,
        note: request.note.clone(),
        at: canopy_notifier::stamp(chrono::Utc::now()),
    };
    let replaced = history.snooze(&snooze)?;
    outln!("`{metric}` of `{}` is {}", tree.id(), snooze.told())?;
    // A snooze that ends before the next run holds back nothing: said, not refused.
    if let Some(last) = history.periods(tree.id(), 1)?.pop() {
        if !snooze.holds(last.offset(1)) {
            eprintln!("warning: the last run of `{}` was for {}; a snooze until {until} holds back no later run\nhelp: give a later --until", tree.id(), last);
        }
    }
    if let Some(before) = replaced {
        outln!("(it was {})", before.told())?;
    }
    Ok(Outcome::Success)
}

/// Who snoozes: `--by`, or the login name.
fn who(request: &SnoozeArgs) -> anyhow::Result<String> {
    (request.by.clone().or_else(crate::env::login)).ok_or_else(|| {
        anyhow::anyhow!("who is snoozing is not known: USER and LOGNAME are unset\nhelp: say who with --by NAME")
    })
}

/// Prints the snoozes of `tree`, or of every tree.
fn list(request: &SnoozeArgs, tree: Option<&str>) -> anyhow::Result<Outcome> {
    let snoozes = match request.db.exists() {
        true => History::open_read_only(&request.db)?.snoozes(tree)?,
        false => Vec::new(),
    };
    match request.format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&snoozes)?)?,
        Format::Table if snoozes.is_empty() => outln!("no snoozes")?,
        Format::Table => {
            let rows: Vec<Vec<String>> = (snoozes.into_iter())
                .map(|s| {
                    let note = s.note.unwrap_or_default();
                    vec![s.tree, s.metric, s.until.to_string(), s.by, s.at, note]
                })
                .collect();
            let header = ["tree", "metric", "until", "by", "at", "note"];
            out!("{}", crate::table::render(&header, &rows, &[0, 1, 3, 5]))?;
        }
    }
    Ok(Outcome::Success)
}
