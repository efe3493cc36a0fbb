//! Loading tree files from disk and printing their diagnostics.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::path::Path;

use canopy_engine::{Diagnostic, Error, FileSystem, Loaded, MetricTree, RenderOptions, SourceMap};

use crate::args::When;

/// The real file system, reading at most one byte more than the engine accepts, so that a huge
/// file is refused without reading all of it.
pub(crate) struct DiskFs;

impl FileSystem for DiskFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        let mut text = String::new();
        File::open(path)?
            .take(canopy_engine::MAX_FILE_BYTES as u64 + 1)
            .read_to_string(&mut text)?;
        Ok(text)
    }
}

/// How diagnostics and progress are printed on stderr.
#[derive(Clone, Copy)]
pub(crate) struct Style {
    options: RenderOptions,
    /// Whether to show progress bars: on a terminal, without `--quiet`.
    pub(crate) progress: bool,
}

impl Style {
    pub(crate) fn new(snippets: When, quiet: bool) -> Style {
        let terminal = io::stderr().is_terminal();
        let snippets = match snippets {
            When::Always => true,
            When::Never => false,
            When::Auto => terminal,
        };
        Style {
            options: RenderOptions { snippets },
            progress: terminal && !quiet,
        }
    }

    pub(crate) fn print(&self, diagnostics: &[Diagnostic], sources: &SourceMap) {
        eprint!(
            "{}",
            canopy_engine::render_diagnostics(diagnostics, sources, self.options)
        );
    }
}

/// Loads one tree, printing its warnings, or its diagnostics if it is invalid. People are
/// checked against the notifier's rules, so whatever loads can be sent email. `Ok(None)` means the problems
/// have been printed; `Err` is a failure to read the file at all.
pub(crate) fn load(path: &Path, style: Style) -> anyhow::Result<Option<Loaded>> {
    match canopy_engine::load(path, &DiskFs, &canopy_notifier::Sendable) {
        Ok(loaded) => {
            style.print(&loaded.warnings, &loaded.sources);
            Ok(Some(loaded))
        }
        Err(Error::Invalid {
            diagnostics,
            sources,
            ..
        }) => {
            style.print(&diagnostics, &sources);
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Every tree that loaded, and whether all of them did.
pub(crate) struct Batch {
    pub(crate) loaded: Vec<Loaded>,
    pub(crate) all_valid: bool,
}

/// Loads every tree, printing all problems (including ids shared between trees) and a summary
/// line when any tree is invalid.
pub(crate) fn load_all(paths: &[impl AsRef<Path>], style: Style) -> Batch {
    let mut loaded = Vec::new();
    let mut failed = 0usize;
    for path in paths {
        match load(path.as_ref(), style) {
            Ok(Some(tree)) => loaded.push(tree),
            Ok(None) => failed += 1,
            Err(e) => {
                eprintln!("error: {e:#}");
                failed += 1;
            }
        }
    }
    let trees: Vec<&MetricTree> = loaded.iter().map(|l| &l.tree).collect();
    let duplicates = canopy_engine::duplicate_ids(&trees);
    if !duplicates.is_empty() {
        let mut sources = SourceMap::default();
        for l in &loaded {
            if let Some(text) = l.sources.get(l.tree.path()) {
                sources.insert(l.tree.path(), text.into());
            }
        }
        style.print(&duplicates, &sources);
        failed += duplicates.len();
    }
    if failed > 0 {
        let files = crate::table::plural(paths.len(), "tree file");
        eprintln!("error: {failed} of {files} failed to validate");
    }
    Batch {
        loaded,
        all_valid: failed == 0,
    }
}
