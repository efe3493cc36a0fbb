//! The reports `canopy run` keeps: each tree's page of each period, an index of them all, and
//! the address each email links to.

use std::path::{Path, PathBuf};

use canopy_evaluator::{Evaluation, Period};
use canopy_notifier::PlannedRun;

/// The page of `tree` in `period` under `base` (`CANOPY_REPORT_URL`), when it is set.
pub(crate) fn url(base: Option<&str>, tree: &str, period: Period) -> Option<String> {
    base.map(|base| format!("{base}/{}", page(tree, period)))
}

/// The page's path under the report folder: `TREE/PERIOD.html`.
fn page(tree: &str, period: Period) -> String {
    format!("{tree}/{period}.html")
}

/// Writes the page of `period` and the index of every page in `dir`, marking the run's moves
/// and the latest changes of definition.
pub(crate) fn write(
    dir: &Path,
    eval: &Evaluation<'_>,
    period: Period,
    planned: &PlannedRun,
) -> anyhow::Result<()> {
    let tree = eval.tree();
    let moved: Vec<_> = planned.moves.iter().map(|m| m.id).collect();
    let redefined: Vec<_> = planned.changed.iter().map(|(m, p)| (*m, *p)).collect();
    let snoozed: Vec<_> = (planned.snoozed.iter())
        .map(|(m, s)| (*m, format!("Alerts {}", s.told())))
        .collect();
    let marks = canopy_report::Marks {
        moved: &moved,
        redefined: &redefined,
        snoozed: &snoozed,
    };
    let report = canopy_report::Report::new(eval, period, marks);
    let path = dir.join(page(tree.id(), period));
    // The index lists each page by the summary kept beside it, so it never reads pages back.
    let summary = serde_json::to_string(&report.summary()).expect("a summary serialises");
    replace(&path.with_extension("json"), &summary)?;
    replace(&path, &report.page())?;
    replace(
        &dir.join("index.html"),
        &canopy_report::index(&listing(dir)?),
    )
}

/// Writes `path` whole or not at all: a reader never sees half a page.
fn replace(path: &Path, text: &str) -> anyhow::Result<()> {
    let fail = |e: std::io::Error| {
        anyhow::anyhow!("cannot write the report {}: {e}\nhelp: check that the folder is writable, or choose another with `--report DIR`", path.display())
    };
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(fail)?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".partial");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, text).map_err(fail)?;
    std::fs::rename(&temporary, path).map_err(fail)
}

/// Every tree folder in `dir` with its pages' periods, newest first, each with the summary
/// kept beside it (none for a page written before summaries were kept, or unreadable).
fn listing(dir: &Path) -> anyhow::Result<Vec<canopy_report::Listed>> {
    let read = |p: &Path| {
        std::fs::read_dir(p)
            .map_err(|e| anyhow::anyhow!("cannot list the reports in {}: {e}", p.display()))
    };
    let mut trees = Vec::new();
    for entry in read(dir)? {
        let path: PathBuf = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !path.is_dir() {
            continue;
        }
        let mut periods: Vec<String> = read(&path)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".html").map(str::to_string)
            })
            .collect();
        periods.sort_unstable_by(|a, b| b.cmp(a));
        let pages = periods
            .into_iter()
            .map(|p| {
                let summary = std::fs::read(path.join(format!("{p}.json")))
                    .ok()
                    .and_then(|json| serde_json::from_slice(&json).ok());
                (p, summary)
            })
            .collect();
        trees.push((name.to_string(), pages));
    }
    trees.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(trees)
}
