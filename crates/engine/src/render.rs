//! Drawing a tree as Mermaid or Graphviz text, for READMEs, wikis and `dot`.

use std::fmt::Write as _;

use crate::model::{Metric, MetricId, MetricTree};

/// Text for HTML and XML (the emails, the report), escaped: `& < > " '`.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A metric's formula, or where a leaf's values come from (`leaf: SQL`, `leaf: data`), as
/// every drawing of a tree writes it.
pub fn formula_text(m: &Metric) -> String {
    match (&m.formula, &m.source) {
        (Some(f), _) => f.text().to_string(),
        (None, Some(_)) => "leaf: SQL".to_string(),
        (None, None) => "leaf: data".to_string(),
    }
}

/// The lines of a metric's box: title, formula (or where a leaf's data comes from), owner.
fn label_lines(tree: &MetricTree, id: MetricId) -> [String; 3] {
    let m = tree.metric(id);
    let body = formula_text(m);
    [
        m.title.clone(),
        body,
        format!("A: {}", tree.accountable(id).name),
    ]
}

/// Every edge, parent to input, in file order of parents and formula order of inputs.
fn edges(tree: &MetricTree) -> impl Iterator<Item = (MetricId, MetricId)> + '_ {
    tree.ids()
        .flat_map(move |p| tree.inputs(p).iter().map(move |&c| (p, c)))
}

/// The tree as a Mermaid flowchart, root at the top.
pub fn mermaid(tree: &MetricTree) -> String {
    // Mermaid treats some words (`end`, `graph`) as keywords, so node ids get a prefix.
    let node = |id: MetricId| format!("m_{}", tree.metric(id).id);
    let escape = |s: &str| {
        s.chars()
            .map(|c| match c {
                '"' => "#quot;".to_string(),
                '<' => "#lt;".to_string(),
                '>' => "#gt;".to_string(),
                '&' => "#amp;".to_string(),
                '#' => "#35;".to_string(),
                '\n' | '\r' => " ".to_string(),
                c => c.to_string(),
            })
            .collect::<String>()
    };
    let mut out = format!("%% {}: {}\nflowchart TD\n", tree.id(), escape(tree.title()));
    for id in tree.ids() {
        let [title, body, owner] = label_lines(tree, id).map(|l| escape(&l));
        let (open, close) = if tree.metric(id).is_leaf() {
            ("(", ")")
        } else {
            ("[", "]")
        };
        let _ = writeln!(
            out,
            "  {}{open}\"<b>{title}</b><br/>{body}<br/>{owner}\"{close}",
            node(id)
        );
    }
    for (p, c) in edges(tree) {
        let _ = writeln!(out, "  {} --> {}", node(p), node(c));
    }
    out
}

/// The tree as a Graphviz digraph, root at the top.
pub fn dot(tree: &MetricTree) -> String {
    let quote = |s: &str| {
        let mut q = String::with_capacity(s.len() + 2);
        q.push('"');
        for c in s.chars() {
            match c {
                '"' => q.push_str("\\\""),
                '\\' => q.push_str("\\\\"),
                '\n' | '\r' => q.push(' '),
                c => q.push(c),
            }
        }
        q.push('"');
        q
    };
    let mut out = format!("digraph {} {{\n", quote(tree.id()));
    let _ = writeln!(
        out,
        "  label={};\n  labelloc=t;\n  rankdir=TB;",
        quote(tree.title())
    );
    out.push_str("  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    for id in tree.ids() {
        let lines = label_lines(tree, id).map(|l| quote(&l));
        // Graphviz's `\n` inside a quoted label is a line break: join the quoted parts with it.
        let label = lines
            .iter()
            .map(|l| &l[1..l.len() - 1])
            .collect::<Vec<_>>()
            .join("\\n");
        let shape = if tree.metric(id).is_leaf() {
            ", style=\"rounded,dashed\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} [label=\"{label}\"{shape}];",
            quote(&tree.metric(id).id)
        );
    }
    for (p, c) in edges(tree) {
        let _ = writeln!(
            out,
            "  {} -> {};",
            quote(&tree.metric(p).id),
            quote(&tree.metric(c).id)
        );
    }
    out.push_str("}\n");
    out
}
