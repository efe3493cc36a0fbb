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
    let moved: Vec<_> = (planned.moves.iter())
        .filter_map(|m| tree.find(&m.metric))
        .collect();
    let redefined: Vec<_> = planned.changed.iter().map(|(m, p)| (*m, *p)).collect();
    let marks = canopy_report::Marks {
        moved: &moved,
        redefined: &redefined,
    };
    let html = canopy_report::page(eval, period, marks);
    let path = dir.join(page(tree.id(), period));
    replace(&path, &html)?;
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
    let temporary = path.with_extension("html.partial");
    std::fs::write(&temporary, text).map_err(fail)?;
    std::fs::rename(&temporary, path).map_err(fail)
}

/// Every tree folder in `dir` with its pages' periods, newest first.
fn listing(dir: &Path) -> anyhow::Result<Vec<(String, Vec<String>)>> {
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
        trees.push((name.to_string(), periods));
    }
    trees.sort();
    Ok(trees)
}
