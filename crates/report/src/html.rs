//! The page: one self-contained HTML file (inline style, script and SVG; it fetches nothing),
//! opening on the root's view, each collapsed branch's view kept in a `<template>`, and each
//! metric's panel as JSON that the page's script lays out on a click.

use std::fmt::Write as _;

use serde::Serialize;

use crate::svg::{self, escape};
use crate::Report;

/// The page's own style, beside the drawing's.
const PAGE_STYLE: &str = include_str!("page.css");
/// The page's script: views, panels, the path back up.
const SCRIPT: &str = include_str!("page.js");

/// What the script reads: each view's focus and parent, each metric's panel.
#[derive(Serialize)]
struct Data<'a> {
    tree: &'a str,
    views: Vec<ViewData<'a>>,
    panels: &'a [crate::facts::Panel],
}

#[derive(Serialize)]
struct ViewData<'a> {
    focus: &'a str,
    title: &'a str,
    parent: Option<usize>,
}

/// The report as one HTML page.
pub fn page(report: &Report) -> String {
    let mut out = String::with_capacity(1 << 16);
    let title = format!("{}: {}", report.title, report.period);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{PAGE_STYLE}{}</style></head>\n<body>\n",
        escape(&title),
        svg::STYLE
    );
    header(&mut out, report);
    let _ = writeln!(
        out,
        "<main><div id=\"canvas\">{}</div><aside id=\"panel\" hidden><button id=\"close\" type=\"button\" aria-label=\"Close\">×</button><div id=\"panel-body\"></div></aside></main>",
        svg::view(&report.views[0], &report.cards, "view-0", false)
    );
    for (k, v) in report.views.iter().enumerate().skip(1) {
        let _ = writeln!(
            out,
            "<template id=\"t-{k}\">{}</template>",
            svg::view(v, &report.cards, &format!("view-{k}"), false)
        );
    }
    let data = Data {
        tree: &report.tree,
        views: report
            .views
            .iter()
            .map(|v| ViewData {
                focus: &report.cards[v.focus.index()].id,
                title: &report.cards[v.focus.index()].title,
                parent: v.parent,
            })
            .collect(),
        panels: &report.panels,
    };
    let json = script_json(&data);
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"report\">{json}</script>\n<script>{SCRIPT}</script>\n</body></html>\n"
    );
    out
}

/// `value` as JSON that can sit inside an HTML `<script>` element: `<`, `>` and `&` are
/// written as `\u003c`, `\u003e` and `\u0026`, which `JSON.parse` reads back as the same
/// characters. Escaping `</` alone is not enough: inside a script, `<!--` followed by
/// `<script` puts the HTML parser in a state where `</script>` no longer ends the element.
fn script_json(value: &impl Serialize) -> String {
    let mut out = HtmlSafe(Vec::with_capacity(1 << 16));
    serde_json::to_writer(&mut out, value).expect("the report's data serialises");
    String::from_utf8(out.0).expect("JSON is UTF-8")
}

/// JSON text with `<`, `>` and `&` as Unicode escapes. Outside strings JSON has none of these
/// characters, and inside a string the escape stands for the character itself.
struct HtmlSafe(Vec<u8>);

impl std::io::Write for HtmlSafe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = rest.iter().position(|b| matches!(b, b'<' | b'>' | b'&')) {
            self.0.extend_from_slice(&rest[..i]);
            self.0.extend_from_slice(match rest[i] {
                b'<' => b"\\u003c",
                b'>' => b"\\u003e",
                _ => b"\\u0026",
            });
            rest = &rest[i + 1..];
        }
        self.0.extend_from_slice(rest);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn header(out: &mut String, report: &Report) {
    let sub = crate::subtitle(
        &report.period,
        &report.previous,
        &report.cards,
        &report.definition,
    );
    let _ = write!(
        out,
        "<header><h1>{}</h1><p class=\"sub\">{}{}</p><p class=\"legend\">",
        escape(&report.title),
        escape(&sub),
        if report.views.len() > 1 {
            " · deeper branches open with their + button"
        } else {
            ""
        }
    );
    for (key, words) in crate::LEGEND {
        let _ = write!(out, "<span class=\"k {key}\">{words}</span>");
    }
    out.push_str("</p><nav id=\"crumbs\" aria-label=\"Views\"></nav></header>\n");
}

/// One tree's pages for the index: its id and each page's period with what is known of it,
/// newest first. A page kept without its summary is listed by its period alone.
pub type Listed = (String, Vec<(String, Option<crate::Summary>)>);

/// A page listing every tree's reports, each tree under its title, newest period first, with
/// the root's value and change and how many metrics moved.
pub fn index(trees: &[Listed]) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Canopy reports</title><style>");
    out.push_str(PAGE_STYLE);
    out.push_str(
        "</style></head>\n<body class=\"index\"><header><h1>Canopy reports</h1></header>\n<main>",
    );
    for (tree, pages) in trees {
        // The newest page's summary names the tree as it is now defined.
        let newest = pages.iter().find_map(|(_, s)| s.as_ref());
        let title = newest.map_or(tree.as_str(), |s| s.title.as_str());
        let _ = write!(
            out,
            "<section data-tree=\"{}\"><h2>{} <span class=\"id\">{}</span></h2><table><thead><tr><th>Period</th><th class=\"num\">{}</th><th class=\"num\">Change</th><th class=\"num\">Moved</th></tr></thead><tbody>",
            escape(tree),
            escape(title),
            escape(tree),
            escape(newest.map_or("Root", |s| s.root.as_str())),
        );
        for (period, summary) in pages {
            index_row(&mut out, tree, period, summary.as_ref());
        }
        out.push_str("</tbody></table></section>");
    }
    out.push_str("</main></body></html>\n");
    out
}

/// One page's row: its period linked, then the root's value and change, and the moves.
fn index_row(out: &mut String, tree: &str, period: &str, summary: Option<&crate::Summary>) {
    let _ = write!(
        out,
        "<tr data-period=\"{}\"><td><a href=\"{}/{}.html\">{}</a></td>",
        escape(period),
        escape(tree),
        escape(period),
        escape(period)
    );
    let Some(s) = summary else {
        out.push_str("<td></td><td></td><td></td></tr>");
        return;
    };
    let tone = match s.tone {
        crate::facts::Tone::Good => "num good",
        crate::facts::Tone::Bad => "num bad",
        _ => "num",
    };
    let change = match &s.change {
        Some(c) => format!("{c} since {}", s.previous),
        None => "no change to tell".to_string(),
    };
    let _ = write!(
        out,
        "<td class=\"num\">{}</td><td class=\"{tone}\">{}</td><td class=\"num\">{} of {}</td></tr>",
        escape(&s.value),
        escape(&change),
        s.moved,
        s.metrics
    );
}

#[cfg(test)]
mod tests {
    use super::script_json;

    /// Writes `input` as a JSON string for a script element, expecting `expected`, and reads
    /// it back.
    fn check(input: &str, expected: &str) {
        let json = script_json(&input);
        assert_eq!(json, expected);
        assert!(!json.contains(['<', '>', '&']), "{json}");
        assert_eq!(serde_json::from_str::<String>(&json).unwrap(), input);
    }

    #[test]
    fn markup_in_json_is_written_as_unicode_escapes() {
        check("plain", r#""plain""#);
        check("<!--<script>", r#""\u003c!--\u003cscript\u003e""#);
        check("</script>", r#""\u003c/script\u003e""#);
        check("a & b > c", r#""a \u0026 b \u003e c""#);
        check("&amp;", r#""\u0026amp;""#);
        // A backslash before a bracket stays a backslash of its own.
        check(r"\<", r#""\\\u003c""#);
        check("é <ü>", r#""é \u003cü\u003e""#);
    }

    #[test]
    fn structures_keep_their_shape() {
        let value = serde_json::json!({ "<k>": ["<!--", 1.5, null, { "x": "&" }] });
        let json = script_json(&value);
        assert_eq!(
            json,
            r#"{"\u003ck\u003e":["\u003c!--",1.5,null,{"x":"\u0026"}]}"#
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            value
        );
    }
}
