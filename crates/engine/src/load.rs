//! Loading a tree file (and the people file it may name) into a validated [`MetricTree`].

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::change::{self, ChangesSpec};
use crate::connection;
use crate::decode::{ConnectionsSpec, Decoder, PeopleSpec, Spanned};
use crate::diagnostic::{sort_diagnostics, Diagnostic, Severity, SourceMap};
use crate::model::MetricTree;
use crate::raci::Mailboxes;
use crate::{validate, yaml};

/// Reads the files a tree refers to. The engine does no I/O of its own: the command line passes
/// the real file system, tests pass files held in memory.
pub trait FileSystem {
    /// The text of the file at `path`.
    fn read(&self, path: &Path) -> io::Result<String>;
}

/// Files held in memory: for tests, and for programs that keep trees somewhere other than
/// on disk.
#[derive(Clone, Debug, Default)]
pub struct MemoryFs {
    files: std::collections::HashMap<PathBuf, String>,
}

impl MemoryFs {
    /// No files.
    pub fn new() -> MemoryFs {
        MemoryFs::default()
    }

    /// Adds (or replaces) the file at `path`.
    pub fn with(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> MemoryFs {
        self.files.insert(path.into(), text.into());
        self
    }
}

impl FileSystem for MemoryFs {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "No such file or directory"))
    }
}

/// Why a tree could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The tree file itself could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The tree breaks one or more rules; every problem found is listed, sorted by position.
    #[error("{} is invalid: {} problem{} found", path.display(), diagnostics.len(), if diagnostics.len() == 1 { "" } else { "s" })]
    Invalid {
        /// The tree file.
        path: PathBuf,
        /// Every problem.
        diagnostics: Vec<Diagnostic>,
        /// The text of the files, to quote in rendered diagnostics.
        sources: SourceMap,
    },
}

/// A validated tree and the text it was loaded from.
#[derive(Debug)]
pub struct Loaded {
    /// The tree.
    pub tree: MetricTree,
    /// The text of the tree file and any people file.
    pub sources: SourceMap,
    /// Warnings: the tree works, but probably not as intended.
    pub warnings: Vec<Diagnostic>,
}

/// Reports trees that share an id: ids name trees in history, email subjects and Message-IDs,
/// so they must be unique among the trees run together.
pub fn duplicate_ids(trees: &[&MetricTree]) -> Vec<Diagnostic> {
    let mut first: std::collections::HashMap<&str, &MetricTree> = Default::default();
    let mut out = Vec::new();
    for tree in trees {
        match first.get(tree.id()) {
            Some(earlier) => out.push(
                Diagnostic::error(
                    tree.id_location().clone(),
                    format!("tree id `{}` is used by two trees", tree.id()),
                )
                .with_related(earlier.id_location().clone(), "also used here")
                .with_help("give each tree its own `tree:` id"),
            ),
            None => {
                first.insert(tree.id(), tree);
            }
        }
    }
    out
}

/// Loads and validates the tree file at `path`. People's addresses and names are checked
/// against `mailboxes`, the rules of whatever will send them email.
pub fn load(path: &Path, fs: &dyn FileSystem, mailboxes: &dyn Mailboxes) -> Result<Loaded, Error> {
    let text = fs.read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut sources = SourceMap::default();
    sources.insert(path, Arc::from(text.as_str()));
    let mut diagnostics = Vec::new();
    let files = Files { fs, mailboxes };
    let tree = load_text(path, &text, &files, &mut diagnostics, &mut sources);
    sort_diagnostics(&mut diagnostics);
    // A problem in an inherited default (tree-level `raci:`) is found once per metric that
    // inherits it; report it once.
    diagnostics.dedup();
    let valid = diagnostics.iter().all(|d| d.severity == Severity::Warning);
    match tree {
        Some(tree) if valid => Ok(Loaded {
            tree,
            sources,
            warnings: diagnostics,
        }),
        _ => Err(Error::Invalid {
            path: path.to_path_buf(),
            diagnostics,
            sources,
        }),
    }
}

/// What loading reads from and checks against.
struct Files<'a> {
    fs: &'a dyn FileSystem,
    mailboxes: &'a dyn Mailboxes,
}

fn load_text(
    path: &Path,
    text: &str,
    files: &Files<'_>,
    diagnostics: &mut Vec<Diagnostic>,
    sources: &mut SourceMap,
) -> Option<MetricTree> {
    let root = document(path, text, diagnostics)?;
    let mut dec = Decoder {
        path: Arc::from(path),
        diagnostics,
    };
    let mut spec = dec.tree(&root)?;
    let people = match spec.people.take() {
        None => Default::default(),
        Some(PeopleSpec::Inline(list)) => validate::people(&mut dec, list, files.mailboxes),
        Some(PeopleSpec::File(file)) => {
            let (node, mut people_dec) = included(&mut dec, &file, "people", files, sources)?;
            let list = people_dec.people_map(&node).unwrap_or_default();
            validate::people(&mut people_dec, list, files.mailboxes)
        }
    };
    let connections = match spec.connections.take() {
        None => Default::default(),
        Some(ConnectionsSpec::Inline(list)) => connection::validate(&mut dec, list),
        Some(ConnectionsSpec::File(file)) => {
            let (node, mut file_dec) = included(&mut dec, &file, "connections", files, sources)?;
            let list = file_dec.connection_map(&node).unwrap_or_default();
            connection::validate(&mut file_dec, list)
        }
    };
    let changes = spec.changes.take();
    let mut tree = validate::tree(&mut dec, spec, people, connections)?;
    let specs = match changes {
        None => return Some(tree),
        Some(ChangesSpec::Inline(list)) => (list, dec),
        Some(ChangesSpec::File(file)) => {
            let (node, changes_dec) = included(&mut dec, &file, "changes", files, sources)?;
            let mut changes_dec = changes_dec;
            let list = changes_dec.change_list(&node).unwrap_or_default();
            (list, changes_dec)
        }
    };
    let (list, mut changes_dec) = specs;
    let errors = changes_dec.errors();
    tree.changes = change::validate(&mut changes_dec, list, &tree.known());
    (changes_dec.errors() == errors).then_some(tree)
}

/// The document of a file the tree names (`people: people.yaml`), relative to the tree
/// file, with a decoder for it; `None` once its problem is reported.
fn included<'d>(
    dec: &'d mut Decoder<'_>,
    file: &Spanned<String>,
    what: &str,
    files: &Files<'_>,
    sources: &mut SourceMap,
) -> Option<(yaml::Node, Decoder<'d>)> {
    let resolved = dec.path.parent().unwrap_or(Path::new("")).join(&file.value);
    match files.fs.read(&resolved) {
        Ok(text) => {
            sources.insert(&resolved, Arc::from(text.as_str()));
            let node = document(&resolved, &text, dec.diagnostics)?;
            let included = Decoder {
                path: Arc::from(resolved.as_path()),
                diagnostics: dec.diagnostics,
            };
            Some((node, included))
        }
        Err(e) => {
            dec.error_help(
                file.span,
                format!("cannot read {what} file `{}`: {e}", resolved.display()),
                "the path is relative to the tree file",
            );
            None
        }
    }
}

/// Loads one YAML document, turning loader failures and duplicate keys into diagnostics.
fn document(path: &Path, text: &str, diagnostics: &mut Vec<Diagnostic>) -> Option<yaml::Node> {
    let mut dec = Decoder {
        path: Arc::from(path),
        diagnostics,
    };
    match yaml::load(text) {
        Ok(doc) => {
            for dup in doc.duplicates {
                let d = Diagnostic::error(
                    dec.location(dup.second),
                    format!(
                        "duplicate key `{}` (first defined on line {})",
                        dup.key, dup.first.line
                    ),
                )
                .with_related(dec.location(dup.first), "first defined here")
                .with_help("YAML keeps only one of them; remove or rename one");
                dec.diagnostics.push(d);
            }
            Some(doc.root)
        }
        Err(e) => {
            let help = e.help.unwrap_or_else(|| {
                "YAML nests by indentation (spaces, not tabs): check this line's indentation, colons and quotes against the lines above it".to_string()
            });
            dec.error_help(e.span, e.message, help);
            None
        }
    }
}
