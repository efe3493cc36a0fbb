//! A letter as HTML: tables and inline styles only, which mail clients render alike, one
//! column at most 640 px wide that narrows to a phone's width.
//!
//! The templates are maud's: every value spliced into them is escaped as it is written, so
//! no text from a tree, an address or a verdict can become markup. The only markup not
//! written by a template is the fixed `&nbsp;` of an empty bar.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::letter::{Item, Letter, Row, Trend};

/// Colours for moves for the better and for the worse, and for quieter text.
const GOOD: &str = "#047857";
const BAD: &str = "#b91c1c";
const MUTED: &str = "#6b7280";
const GREY_BAR: &str = "#9ca3af";

/// A table cell's box, and the same for numbers, which are never broken across lines.
const CELL: &str = "padding:4px 8px 4px 0;border-bottom:1px solid #e5e7eb;text-align:left;";
const NOWRAP: &str = "white-space:nowrap;";

/// The colour of a move: good, bad, or the text's.
fn colour(better: Option<bool>) -> &'static str {
    match better {
        Some(true) => GOOD,
        Some(false) => BAD,
        None => "#111827",
    }
}

/// The whole letter as an HTML document.
pub(super) fn render(letter: &Letter) -> String {
    let body = body(letter);
    html! {
        (DOCTYPE) "\n"
        html {
            head { meta charset="utf-8"; meta name="viewport" content="width=device-width, initial-scale=1"; } "\n"
            body style="margin:0;padding:0;background:#f9fafb;" {
                "\n"
                table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;" { tr { td align="center" style="padding:16px 8px;" {
                    "\n"
                    table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;max-width:640px;background:#ffffff;" { tr { td style="padding:16px;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:15px;line-height:1.45;color:#111827;word-wrap:break-word;overflow-wrap:break-word;" {
                        "\n" (body)
                    } } } "\n"
                } } } "\n"
            }
        } "\n"
    }
    .into_string()
}

/// What the document's one column holds.
fn body(letter: &Letter) -> Markup {
    html! {
        p style="margin:0 0 12px;" { "Hi " (letter.name) "," } "\n"
        @if let Some(headline) = &letter.headline {
            p style="margin:0 0 12px;font-size:18px;font-weight:bold;" { (headline) "." } "\n"
        }
        p style="margin:0 0 12px;" { (letter.intro) } "\n"
        @for item in &letter.moved { (moved(item)) }
        @if let Some((count, lines)) = &letter.more {
            (heading(html! { "And " (count) " more that moved" }))
            ul style="margin:0;padding-left:20px;" { @for line in lines { li { (line) } } } "\n"
        }
        @if !letter.snoozed.is_empty() {
            (heading(html! { "Moved, but snoozed" }))
            p style="margin:0 0 4px;" { "Nobody was alerted of these." } "\n"
            ul style="margin:0;padding-left:20px;" { @for line in &letter.snoozed { li { (line) } } } "\n"
        }
        @for (title, lines) in &letter.redefined {
            (heading(html! { "Definition changed: " (title) }))
            p style="margin:0 0 8px;" { (lines_with_breaks(lines)) } "\n"
        }
        @if !letter.verdicts.is_empty() {
            (heading(html! { "Verified impact" }))
            @for story in &letter.verdicts {
                // The verdict leads: `id: CONFIRMED.` in bold.
                @let (head, rest) = story.split_once(". ").unwrap_or((story, ""));
                p style="margin:0 0 8px;" { b { (head.trim_end_matches('.')) "." } " " (rest) } "\n"
            }
        }
        (followed(&letter.followed))
        @if let Some(note) = &letter.cut {
            p style="margin:16px 0 0;" { (note) } "\n"
        }
        @if let Some(url) = &letter.report {
            p style="margin:16px 0 0;" { a href=(url) style="color:#2563eb;" { "See the tree with this period's values" } } "\n"
        }
        p style={ "color:" (MUTED) ";font-size:12px;margin:24px 0 0;" } {
            "Canopy, for the tree " (letter.tree) "." br; "definition: " (letter.version)
        } "\n"
    }
}

/// A section heading.
fn heading(content: Markup) -> Markup {
    html! { p style="margin:20px 0 4px;font-size:17px;font-weight:bold;" { (content) } "\n" }
}

/// Lines of text, one under the other.
fn lines_with_breaks(lines: &[String]) -> Markup {
    html! {
        @for (i, line) in lines.iter().enumerate() {
            @if i > 0 { br; }
            (line)
        }
    }
}

/// One moved metric: its title, its values coloured by direction, and its facts.
fn moved(f: &Item) -> Markup {
    let title =
        html! { (f.title) " " span style={ "color:" (MUTED) ";font-weight:normal;" } { (f.id) } };
    let contributors: Vec<String> = (f.contributors.iter())
        .map(|(n, c)| format!("{c} {n}"))
        .collect();
    html! {
        (heading(title))
        p style={ "margin:0 0 8px;font-size:16px;font-weight:bold;color:" (colour(f.better)) ";" } { (f.values) } "\n"
        table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;" {
            "\n"
            @if let Some(role) = f.role() { (fact("Your role", html! { (role) })) }
            @if let Some(band) = &f.band { (fact("Band", html! { (band) })) }
            @if let Some(target) = &f.target { (fact("Target", html! { (target) })) }
            (fact("Why this email", html! { (f.why.join("; ")) }))
            @if !contributors.is_empty() { (fact("Biggest contributors", lines_with_breaks(&contributors))) }
            @if !f.slices.is_empty() { (fact("Where it moved", lines_with_breaks(&f.slices))) }
            @for o in &f.offsetting { (fact("Offsetting", html! { (o) })) }
            @if !f.beneath.is_empty() { (fact("Mostly from, also yours", lines_with_breaks(&f.beneath))) }
            @if let Some(trend) = &f.trend { (fact("Trend", self::trend(trend, colour(f.better)))) }
        } "\n"
    }
}

/// One fact of a moved metric: its label and its value.
fn fact(label: &str, value: Markup) -> Markup {
    let cell =
        "padding:4px 8px 4px 0;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top;";
    html! {
        tr {
            th style={ (cell) "color:" (MUTED) ";font-weight:normal;width:30%;" } { (label) }
            td style=(cell) { (value) }
        } "\n"
    }
}

/// The trend: bars drawn with table cells, which every mail client lays out (the last in
/// `last`), then the numbers and the periods.
fn trend(trend: &Trend, last: &str) -> Markup {
    let heights = trend.heights();
    let fill = |i: usize| {
        if i + 1 == heights.len() {
            last
        } else {
            GREY_BAR
        }
    };
    html! {
        table role="presentation" cellpadding="0" cellspacing="0" style="border-collapse:collapse;height:34px;" { tr {
            @for (i, h) in heights.iter().enumerate() {
                td style="vertical-align:bottom;padding:0 1px;" {
                    div style={ "width:8px;height:" (4 + (h * 28.0).round() as u32) "px;background:" (fill(i)) ";font-size:0;line-height:0;" } { (PreEscaped("&nbsp;")) }
                }
            }
        } }
        div style={ "color:" (MUTED) ";font-size:13px;" } {
            (trend.numbers()) " (" (trend.label)
            @if let Some(note) = &trend.note { "; " (note) }
            ")"
        }
    }
}

/// The metrics the person follows, one row each, changes coloured by direction.
fn followed(rows: &[Row]) -> Markup {
    let th = format!("{CELL}color:{MUTED};font-weight:normal;");
    html! {
        @if !rows.is_empty() {
            (heading(html! { "Metrics you follow" }))
            table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;" {
                "\n"
                tr { @for name in ["metric", "now", "before", "change", "band"] { th style=(th) { (name) } } } "\n"
                @for row in rows {
                    @let [title, value, previous, change, band] = &row.cells;
                    tr {
                        td style=(CELL) { (title) }
                        td style={ (CELL) (NOWRAP) } { (value) }
                        td style={ (CELL) (NOWRAP) } { (previous) }
                        td style={ (CELL) (NOWRAP) "color:" (colour(row.better)) ";" } { (change) }
                        td style=(CELL) { (band) }
                    } "\n"
                }
            } "\n"
        }
    }
}
