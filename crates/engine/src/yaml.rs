//! A YAML document as a tree of nodes that remember where they were written.
//!
//! The loader sits in front of the YAML parser with guards of its own, because a tree file is
//! user input and must fail fast and clearly: a size cap, a nesting-depth cap (checked as events
//! arrive, so a deeply nested file is rejected after reading only as far as the limit), a budget
//! for alias expansion (an alias bomb stops with a location, not after exhausting memory), and
//! duplicate-key detection naming both lines.

use std::collections::HashMap;
use std::fmt;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan};

use crate::diagnostic::Span;

/// Largest tree or people file accepted, in bytes.
pub const MAX_BYTES: usize = 16 * 1024 * 1024;
/// Deepest nesting of mappings and sequences accepted. A tree needs about six levels.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most nodes that aliases may add to a document by expansion.
pub(crate) const MAX_ALIAS_NODES: usize = 100_000;

/// A YAML node and the place it starts.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) kind: Kind,
    pub(crate) span: Span,
    /// Nodes in this subtree, counting itself; the cost of copying it for an alias.
    size: usize,
}

/// What a node holds.
#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A scalar's text and how it was written; typing is left to the decoder, which knows what each
/// key expects.
#[derive(Clone, Debug)]
pub(crate) struct Scalar {
    pub(crate) text: String,
    pub(crate) style: ScalarStyle,
    /// Whether the scalar was written on a single line, so columns inside it can be computed.
    pub(crate) single_line: bool,
}

impl Scalar {
    pub(crate) fn is_plain(&self) -> bool {
        self.style == ScalarStyle::Plain
    }

    /// Whether this is YAML's null (`~`, `null` or nothing at all).
    pub(crate) fn is_null(&self) -> bool {
        self.is_plain() && matches!(self.text.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }
}

impl Node {
    /// A short description of what the node is, for "expected X, found Y" messages.
    pub(crate) fn describe(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(s) if s.is_null() => "nothing (null)",
            Kind::Scalar(s) if !s.is_plain() => "a string",
            Kind::Scalar(s) if s.text.parse::<f64>().is_ok() => "a number",
            Kind::Scalar(s) if matches!(s.text.as_str(), "true" | "false") => "a boolean",
            Kind::Scalar(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The span of `len` characters starting `offset` characters into a single-line scalar's
    /// text, so that a problem inside a formula points at the exact name. Falls back to the
    /// whole node where columns inside the text are unknown (block scalars, escapes).
    pub(crate) fn inner_span(&self, offset: usize, len: usize) -> Span {
        let Kind::Scalar(s) = &self.kind else {
            return self.span;
        };
        let shift = match s.style {
            ScalarStyle::Plain => 0,
            ScalarStyle::SingleQuoted if !s.text.contains('\'') => 1,
            ScalarStyle::DoubleQuoted if !s.text.contains(['\\', '"']) => 1,
            _ => return self.span,
        };
        if !s.single_line {
            return self.span;
        }
        Span::new(
            self.span.line,
            self.span.col + shift + offset as u32,
            len as u32,
        )
    }
}

/// Why a document could not be loaded at all.
#[derive(Debug)]
pub(crate) struct LoadError {
    pub(crate) span: Span,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
}

/// A key given twice in one mapping. The first is kept.
#[derive(Debug)]
pub(crate) struct DuplicateKey {
    pub(crate) key: String,
    pub(crate) first: Span,
    pub(crate) second: Span,
}

/// The loaded document and any duplicate keys found along the way.
pub(crate) struct Document {
    pub(crate) root: Node,
    pub(crate) duplicates: Vec<DuplicateKey>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Loads one YAML document.
pub(crate) fn load(text: &str) -> Result<Document, LoadError> {
    if text.len() > MAX_BYTES {
        return Err(LoadError {
            span: Span::new(1, 1, 1),
            message: format!(
                "file is {} bytes, more than the limit of {MAX_BYTES} bytes",
                text.len()
            ),
            help: Some("split the tree, or share people through a `people:` file".into()),
        });
    }
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let span = Span::new(e.marker().line() as u32, e.marker().col() as u32 + 1, 1);
            // The scanner has its own limit on flow nesting (`[[[...`), met before ours.
            if e.info() == "recursion limit exceeded" {
                return too_deep(span);
            }
            LoadError {
                span,
                message: format!("invalid YAML: {}", e.info()),
                help: None,
            }
        })?;
        if builder.event(event, span)? {
            break;
        }
    }
    Ok(Document {
        root: builder.root.unwrap_or(Node {
            kind: Kind::Scalar(Scalar {
                text: String::new(),
                style: ScalarStyle::Plain,
                single_line: true,
            }),
            span: Span::new(1, 1, 1),
            size: 1,
        }),
        duplicates: builder.duplicates,
    })
}

fn too_deep(span: Span) -> LoadError {
    LoadError {
        span,
        message: format!("YAML nested more than {MAX_DEPTH} levels deep"),
        help: Some("a tree needs a handful of levels; this file is probably not a tree".into()),
    }
}

enum Frame {
    Seq {
        span: Span,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        span: Span,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        seen: HashMap<String, Span>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    alias_nodes: usize,
    root: Option<Node>,
    documents: usize,
    duplicates: Vec<DuplicateKey>,
}

fn start(span: &YamlSpan) -> Span {
    let len = if span.start.line() == span.end.line() {
        span.end.col().saturating_sub(span.start.col())
    } else {
        1
    };
    Span::new(
        span.start.line() as u32,
        span.start.col() as u32 + 1,
        len as u32,
    )
}

impl Builder {
    /// Takes one parser event; returns true once the document is complete.
    fn event(&mut self, event: Event<'_>, yspan: YamlSpan) -> Result<bool, LoadError> {
        let span = start(&yspan);
        match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => {}
            Event::DocumentStart(_) => self.document(span)?,
            Event::StreamEnd => return Ok(true),
            Event::Scalar(text, style, anchor, _tag) => {
                let single_line = yspan.start.line() == yspan.end.line()
                    && !matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                let scalar = Scalar {
                    text: text.into_owned(),
                    style,
                    single_line,
                };
                let node = Node {
                    kind: Kind::Scalar(scalar),
                    span,
                    size: 1,
                };
                self.complete(node, anchor);
            }
            Event::SequenceStart(anchor, _) => self.open(span, anchor, true)?,
            Event::MappingStart(anchor, _) => self.open(span, anchor, false)?,
            Event::SequenceEnd | Event::MappingEnd => self.close(),
            Event::Alias(id) => self.alias(id, span)?,
        }
        Ok(false)
    }

    /// A document starts: a tree file holds one.
    fn document(&mut self, span: Span) -> Result<(), LoadError> {
        self.documents += 1;
        if self.documents > 1 {
            return Err(LoadError {
                span,
                message: "a second YAML document in one file".into(),
                help: Some("a tree file holds one tree; put each tree in a file of its own".into()),
            });
        }
        Ok(())
    }

    /// A sequence (`seq`) or a mapping opens, within the nesting limit.
    fn open(&mut self, span: Span, anchor: usize, seq: bool) -> Result<(), LoadError> {
        // Point at the opening bracket (or first key) only.
        let span = Span::new(span.line, span.col, 1);
        if self.stack.len() >= MAX_DEPTH {
            return Err(too_deep(span));
        }
        self.stack.push(match seq {
            true => Frame::Seq {
                span,
                anchor,
                items: Vec::new(),
            },
            false => Frame::Map {
                span,
                anchor,
                entries: Vec::new(),
                key: None,
                seen: HashMap::new(),
            },
        });
        Ok(())
    }

    /// The innermost sequence or mapping closes and becomes a node of its parent.
    fn close(&mut self) {
        let (kind, span, anchor, size) = match self.stack.pop() {
            Some(Frame::Seq {
                span,
                anchor,
                items,
            }) => {
                let size = 1 + items.iter().map(|n| n.size).sum::<usize>();
                (Kind::Seq(items), span, anchor, size)
            }
            Some(Frame::Map {
                span,
                anchor,
                entries,
                ..
            }) => {
                let size = 1 + entries.iter().map(|(k, v)| k.size + v.size).sum::<usize>();
                (Kind::Map(entries), span, anchor, size)
            }
            None => return,
        };
        self.complete(Node { kind, span, size }, anchor);
    }

    /// An alias: a copy of its anchor's node, within the expansion budget.
    fn alias(&mut self, id: usize, span: Span) -> Result<(), LoadError> {
        let Some(target) = self.anchors.get(&id) else {
            return Err(LoadError {
                span,
                message: "alias to an unknown anchor".into(),
                help: None,
            });
        };
        self.alias_nodes += target.size;
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(LoadError {
                span,
                message: format!("YAML aliases expand to more than {MAX_ALIAS_NODES} nodes"),
                help: Some("aliases that repeat aliases grow exponentially; write the values out or use fewer aliases".into()),
            });
        }
        let mut node = target.clone();
        node.span = span;
        self.complete(node, 0);
        Ok(())
    }

    /// Hands a finished node to its parent (or makes it the document), remembering anchors.
    fn complete(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries, key, seen, ..
            }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if let Kind::Scalar(s) = &k.kind {
                        if let Some(first) = seen.get(&s.text) {
                            self.duplicates.push(DuplicateKey {
                                key: s.text.clone(),
                                first: *first,
                                second: k.span,
                            });
                            return;
                        }
                        seen.insert(s.text.clone(), k.span);
                    }
                    entries.push((k, node));
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(node: &Node) -> Vec<String> {
        match &node.kind {
            Kind::Map(entries) => entries
                .iter()
                .map(|(k, _)| match &k.kind {
                    Kind::Scalar(s) => s.text.clone(),
                    _ => "?".into(),
                })
                .collect(),
            _ => vec![],
        }
    }

    #[test]
    fn spans_are_one_based() {
        let doc = load("a: 1\nbb:\n  c: x\n").unwrap();
        let Kind::Map(entries) = &doc.root.kind else {
            panic!("not a map")
        };
        assert_eq!(entries[1].0.span, Span::new(2, 1, 2));
        let Kind::Map(inner) = &entries[1].1.kind else {
            panic!("not a map")
        };
        assert_eq!(inner[0].1.span, Span::new(3, 6, 1));
    }

    #[test]
    fn duplicate_keys_keep_the_first_and_name_both_lines() {
        let doc = load("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(keys(&doc.root), ["a", "b"]);
        assert_eq!(doc.duplicates.len(), 1);
        assert_eq!(doc.duplicates[0].first.line, 1);
        assert_eq!(doc.duplicates[0].second.line, 3);
    }

    #[test]
    fn aliases_expand_within_budget() {
        let doc = load("a: &x {b: 1}\nc: *x\n").unwrap();
        assert_eq!(keys(&doc.root), ["a", "c"]);
    }

    #[test]
    fn alias_bomb_stops_with_a_location() {
        let mut text = String::from("l0: &l0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = format!("*l{}", i - 1);
            let list = [prev.as_str(); 9].join(", ");
            text.push_str(&format!("l{i}: &l{i} [{list}]\n"));
        }
        let err = load(&text).err().expect("alias bomb must fail");
        assert!(err.message.contains("aliases expand"), "{}", err.message);
        assert!(err.span.line > 1);
    }

    #[test]
    fn deep_nesting_fails_fast_with_a_location() {
        let depth = 200_000;
        let flow = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let err = load(&flow).err().expect("deep flow nesting must fail");
        assert!(err.message.contains("nested more than"), "{}", err.message);
        assert_eq!(err.span.line, 1);
        let block: String = (0..200).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        let err = load(&block).err().expect("deep block nesting must fail");
        assert!(err.message.contains("nested more than"), "{}", err.message);
        assert_eq!(
            err.span,
            Span::new(MAX_DEPTH as u32 + 1, MAX_DEPTH as u32 + 1, 1)
        );
    }

    #[test]
    fn second_document_is_an_error() {
        let err = load("a: 1\n---\nb: 2\n").err().expect("two documents");
        assert_eq!(err.span.line, 2);
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let err = load("a: [1, 2\nb: 3\n").err().expect("syntax error");
        assert!(err.message.starts_with("invalid YAML"), "{}", err.message);
        assert!(err.span.line >= 1);
    }
}
