//! Diagnostics: a problem found in a tree file, with the place it points at, and its rendering.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A place in a source file: 1-based line and column (in characters), and how many characters
/// the problem covers (at least one, for the caret).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub col: u32,
    /// Width in characters of the underlined text.
    pub len: u32,
}

impl Span {
    /// A span at `line`:`col` covering `len` characters.
    pub fn new(line: u32, col: u32, len: u32) -> Span {
        Span {
            line,
            col,
            len: len.max(1),
        }
    }
}

/// A span inside a named file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The file, as the user named it (or as resolved from a reference in another file).
    pub path: Arc<Path>,
    /// Where in the file.
    pub span: Span,
}

/// How serious a diagnostic is. Errors make a tree invalid; warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The tree cannot be used until this is fixed.
    Error,
    /// The tree works, but probably not as intended.
    Warning,
}

/// One problem in a tree file.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where the problem is.
    pub location: Location,
    /// What is wrong, in one line.
    pub message: String,
    /// What to do about it, when that is not obvious from the message.
    pub help: Option<String>,
    /// Other places that explain the problem, such as the first of two duplicate keys.
    pub related: Vec<(Location, String)>,
}

impl Diagnostic {
    /// An error at `location`.
    pub fn error(location: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            location,
            message: message.into(),
            help: None,
            related: Vec::new(),
        }
    }

    /// A warning at `location`: the tree works, but probably not as intended.
    pub fn warning(location: Location, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(location, message)
        }
    }

    /// Adds advice on what to do.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds another place that explains this problem.
    pub fn with_related(mut self, location: Location, note: impl Into<String>) -> Diagnostic {
        self.related.push((location, note.into()));
        self
    }

    fn sort_key(&self) -> (&Path, Span) {
        (&self.location.path, self.location.span)
    }
}

/// Sorts diagnostics by file and position, so output is stable whatever order checks ran in.
pub fn sort_diagnostics(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// The text of every file a tree was loaded from, so diagnostics can quote their lines.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: BTreeMap<PathBuf, Arc<str>>,
}

impl SourceMap {
    /// Remembers the text of `path`.
    pub fn insert(&mut self, path: &Path, text: Arc<str>) {
        self.files.insert(path.to_path_buf(), text);
    }

    /// The text of `path`, if it was read.
    pub fn get(&self, path: &Path) -> Option<&str> {
        self.files.get(path).map(|t| &**t)
    }

    fn line(&self, location: &Location) -> Option<&str> {
        let text = self.get(&location.path)?;
        text.lines()
            .nth(location.span.line.checked_sub(1)? as usize)
    }
}

/// How to render diagnostics.
#[derive(Clone, Copy, Debug, Default)]
pub struct RenderOptions {
    /// Quote the source line under each diagnostic with a caret (what a terminal user wants;
    /// logs and editors want one line per problem).
    pub snippets: bool,
}

/// Renders one diagnostic as `path:line:col: error: message`, then, with snippets, the source
/// line with a caret under the problem, then any help and related places.
pub fn render(diagnostic: &Diagnostic, sources: &SourceMap, options: RenderOptions) -> String {
    let mut out = String::new();
    let severity = match diagnostic.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let _ = writeln!(
        out,
        "{}: {severity}: {}",
        position(&diagnostic.location),
        diagnostic.message
    );
    if options.snippets {
        snippet(&mut out, sources, &diagnostic.location);
    }
    for (location, note) in &diagnostic.related {
        let _ = writeln!(out, "  note: {}: {note}", position(location));
        if options.snippets {
            snippet(&mut out, sources, location);
        }
    }
    if let Some(help) = &diagnostic.help {
        let _ = writeln!(out, "  help: {help}");
    }
    out
}

/// Renders many diagnostics, one after the other.
pub fn render_all(
    diagnostics: &[Diagnostic],
    sources: &SourceMap,
    options: RenderOptions,
) -> String {
    diagnostics
        .iter()
        .map(|d| render(d, sources, options))
        .collect()
}

fn position(location: &Location) -> String {
    format!(
        "{}:{}:{}",
        location.path.display(),
        location.span.line,
        location.span.col
    )
}

fn snippet(out: &mut String, sources: &SourceMap, location: &Location) {
    let Some(line) = sources.line(location) else {
        return;
    };
    let number = location.span.line.to_string();
    let gutter = " ".repeat(number.len());
    // Tabs would make the caret land in the wrong column, so show them as one space each.
    let shown: String = line
        .chars()
        .map(|c| if c == '\t' { ' ' } else { c })
        .collect();
    let width = shown.chars().count() as u32;
    let col = location.span.col.max(1);
    let len = location.span.len.min(width.saturating_sub(col - 1)).max(1);
    let _ = writeln!(out, "{gutter} |");
    let _ = writeln!(out, "{number} | {}", shown.trim_end());
    let _ = writeln!(
        out,
        "{gutter} | {}{}",
        " ".repeat(col as usize - 1),
        "^".repeat(len as usize)
    );
}
