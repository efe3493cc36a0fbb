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
    let json = serde_json::to_string(&data).expect("the report's data serialises");
    // `</` would end the script element early.
    let json = json.replace("</", "<\\/");
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"report\">{json}</script>\n<script>{SCRIPT}</script>\n</body></html>\n"
    );
    out
}

fn header(out: &mut String, report: &Report) {
    let moved = report.cards.iter().filter(|c| c.moved).count();
    let _ = write!(
        out,
        "<header><h1>{}</h1><p class=\"sub\">{}, compared with {} · {} metrics · {} moved · definition {}{}</p>",
        escape(&report.title),
        escape(&report.period),
        escape(&report.previous),
        canopy_evaluator::format::number(report.cards.len() as f64),
        moved,
        escape(&report.definition),
        if report.views.len() > 1 {
            " · deeper branches open with their + button"
        } else {
            ""
        }
    );
    out.push_str("<p class=\"legend\"><span class=\"k good\">moved the good way</span><span class=\"k bad\">moved the bad way</span><span class=\"k thick\">thick border: its alert rules fired</span><span class=\"k band\">left strip: band, red worst to green best</span></p>");
    out.push_str("<nav id=\"crumbs\" aria-label=\"Views\"></nav></header>\n");
}

/// A page listing every tree's reports, newest period first.
pub fn index(trees: &[(String, Vec<String>)]) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Canopy reports</title><style>");
    out.push_str(PAGE_STYLE);
    out.push_str(
        "</style></head>\n<body class=\"index\"><header><h1>Canopy reports</h1></header>\n<main>",
    );
    for (tree, periods) in trees {
        let _ = write!(out, "<section><h2>{}</h2><ul>", escape(tree));
        for p in periods {
            let _ = write!(
                out,
                "<li><a href=\"{}/{}.html\">{}</a></li>",
                escape(tree),
                escape(p),
                escape(p)
            );
        }
        out.push_str("</ul></section>");
    }
    out.push_str("</main></body></html>\n");
    out
}
