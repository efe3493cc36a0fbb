//! Drawing a view as SVG: one card per metric and a curve per edge. The page and the static
//! picture draw with these same functions and style.

use std::fmt::Write as _;

use crate::facts::{Card, Tone};
use crate::layout::{px, Rect};
use crate::views::View;

/// The style of the drawing, shared by the page and the static picture.
pub const STYLE: &str = include_str!("tree.css");

/// The most characters of a title a card shows; the full title is in its tooltip.
const TITLE_CHARS: usize = 27;

pub use canopy_engine::escape_html as escape;

/// `s` cut to `n` characters, an ellipsis marking the cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

/// The `<svg>` element of a view: its edges, then its cards.
///
/// Inside an HTML page the element needs no namespace (`namespace: false`), so the page
/// names no address at all; a standalone picture must have it.
pub fn view(view: &View, cards: &[Card], id: &str, namespace: bool) -> String {
    let l = &view.layout;
    let (w, h) = (l.width + 8.0, l.height + 8.0);
    let xmlns = if namespace {
        " xmlns=\"http://www.w3.org/2000/svg\""
    } else {
        ""
    };
    let mut out = format!(
        "<svg{xmlns} class=\"tree\" id=\"{id}\" width=\"{}\" height=\"{}\" viewBox=\"-4 -4 {} {}\" role=\"img\">\n",
        px(w),
        px(h),
        px(w),
        px(h)
    );
    drawing(&mut out, view, cards);
    out.push_str("</svg>");
    out
}

/// A view's edges, then its cards.
fn drawing(out: &mut String, view: &View, cards: &[Card]) {
    let l = &view.layout;
    out.push_str("<g class=\"edges\">");
    for e in &l.edges {
        let tone = cards[view.members[e.to].index()].tone;
        let _ = writeln!(
            out,
            "<path class=\"e {}\" data-from=\"{}\" data-to=\"{}\" d=\"{}\"/>",
            tone_class(tone),
            escape(&cards[view.members[e.from].index()].id),
            escape(&cards[view.members[e.to].index()].id),
            e.path()
        );
    }
    out.push_str("</g>\n");
    for (i, &m) in view.members.iter().enumerate() {
        card(out, &cards[m.index()], l.nodes[i], view.collapsed[i]);
    }
}

fn tone_class(tone: Tone) -> &'static str {
    match tone {
        Tone::Good => "good",
        Tone::Bad => "bad",
        Tone::Neutral => "neutral",
        Tone::Flat => "flat",
    }
}

/// One card at `at`: title, value and unit, trend, change, band, owner, target; with the
/// count of hidden inputs and the view that shows them when the branch is collapsed.
fn card(out: &mut String, c: &Card, at: Rect, collapsed: Option<(usize, usize)>) {
    let moved = if c.moved { " moved" } else { "" };
    let missing = if c.reason.is_some() { " missing" } else { "" };
    let _ = write!(
        out,
        "<g class=\"n {}{moved}{missing}\" data-id=\"{}\" transform=\"translate({},{})\" tabindex=\"0\">",
        tone_class(c.tone),
        escape(&c.id),
        px(at.x),
        px(at.y)
    );
    let mut tip = match &c.reason {
        Some(why) => format!("{} ({}): {why}", c.title, c.id),
        None => format!("{} ({})", c.title, c.id),
    };
    if let Some((_, p)) = c.redefined {
        tip += &format!("; {}", canopy_engine::redefined_note(p));
    }
    let _ = write!(
        out,
        "<title>{}</title><rect class=\"card\" width=\"{}\" height=\"{}\" rx=\"8\"/>",
        escape(&tip),
        px(at.w),
        px(at.h)
    );
    let band = c.band.as_ref().map_or("b-none", |(_, s)| s.class());
    let _ = write!(
        out,
        "<rect class=\"band {band}\" width=\"6\" height=\"{}\" rx=\"3\"/>",
        px(at.h)
    );
    let _ = write!(
        out,
        "<text class=\"t\" x=\"14\" y=\"20\">{}</text>",
        escape(&clip(&c.title, TITLE_CHARS))
    );
    // The value and unit keep clear of the trend: about 12 px a digit, 6.5 px a unit letter.
    let room = (at.w - 90.0 - 12.0 * c.value.chars().count() as f64) / 6.5;
    let unit = match c.unit.as_deref() {
        Some(u) if room >= 4.0 => {
            format!(
                "<tspan class=\"u\"> {}</tspan>",
                escape(&clip(u, room as usize))
            )
        }
        _ => String::new(),
    };
    let _ = write!(
        out,
        "<text class=\"v\" x=\"14\" y=\"45\">{}{unit}</text>",
        escape(&c.value)
    );
    trend(out, c, at.w - 70.0, 28.0);
    let arrow = match c.change.as_deref() {
        Some(_) if c.tone == Tone::Flat => "= ",
        Some(t) if t.starts_with('-') => "▼ ",
        Some(_) => "▲ ",
        None => "",
    };
    let change = c.change.as_deref().unwrap_or("no change to tell");
    let _ = write!(
        out,
        "<text class=\"d\" x=\"14\" y=\"66\">{arrow}{}</text>",
        escape(change)
    );
    if let Some((name, _)) = &c.band {
        let _ = write!(
            out,
            "<text class=\"bn\" x=\"{}\" y=\"66\">{}</text>",
            px(at.w - 10.0),
            escape(&clip(name, 12))
        );
    }
    footer(out, c, at, collapsed);
    out.push_str("</g>\n");
}

/// The card's last line (owner, target) and the button of a collapsed branch.
fn footer(out: &mut String, c: &Card, at: Rect, collapsed: Option<(usize, usize)>) {
    let _ = write!(
        out,
        "<text class=\"o\" x=\"14\" y=\"86\">A: {}</text>",
        escape(&clip(&c.owner, 16))
    );
    if let Some((target, met)) = &c.target {
        let (class, mark) = match met {
            Some(true) => ("met", "✓"),
            Some(false) => ("unmet", "✗"),
            None => ("", ""),
        };
        let _ = write!(
            out,
            "<text class=\"tg {class}\" x=\"{}\" y=\"86\">{mark} target {}</text>",
            px(at.w - 10.0),
            escape(target)
        );
    }
    if let Some((hidden, view)) = collapsed {
        let _ = write!(
            out,
            "<g class=\"more\" data-view=\"{view}\" transform=\"translate({},{})\"><rect width=\"64\" height=\"18\" rx=\"9\"/><text x=\"32\" y=\"13\">+{hidden} ▾</text></g>",
            px(at.w / 2.0 - 32.0),
            px(at.h - 9.0)
        );
    }
}

/// The smallest half-height of a sparkline's range, as a share of the values' mean level.
const FLOOR: f64 = 0.05;

/// The bottom of a sparkline's range and its height, for `known` values (at least one).
///
/// Autoscaling alone draws a 0.4% wobble as a cliff from the bottom of the box to the top, so
/// the range is at least ±[`FLOOR`] of the mean level, centred on the values: a small relative
/// move stays small, a large one still fills the box.
pub(crate) fn scale(known: &[f64]) -> (f64, f64) {
    let lo = known.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = known.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let level = known.iter().map(|v| v.abs()).sum::<f64>() / known.len() as f64;
    let floor = 2.0 * FLOOR * level;
    let span = hi - lo;
    if span >= floor && span > 0.0 {
        return (lo, span);
    }
    // All zeros: any height will do; the line is drawn flat in the middle.
    let wanted = if floor > 0.0 { floor } else { 1.0 };
    ((lo + hi) / 2.0 - wanted / 2.0, wanted)
}

/// A sparkline of the card's trend in a 60 x 22 box at (`x`, `y`); missing values break the
/// line, and a dashed rule stands before the first period of a new definition.
fn trend(out: &mut String, c: &Card, x: f64, y: f64) {
    let values = &c.trend;
    let (w, h) = (60.0, 22.0);
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    if known.len() < 2 {
        return;
    }
    let (lo, span) = scale(&known);
    let step = w / (values.len().max(2) - 1) as f64;
    let mut d = String::new();
    let mut pen_down = false;
    let mut last = None;
    for (i, v) in values.iter().enumerate() {
        let Some(v) = v else {
            pen_down = false;
            continue;
        };
        let (px_, py) = (x + i as f64 * step, y + h - (v - lo) / span * h);
        let cmd = if pen_down { 'L' } else { 'M' };
        let _ = write!(d, "{cmd}{} {}", px(px_), px(py));
        pen_down = true;
        last = Some((px_, py));
    }
    if let Some((i, _)) = c.redefined {
        let at = px(x + (i as f64 - 0.5) * step);
        let _ = write!(
            out,
            "<line class=\"redef\" x1=\"{at}\" y1=\"{}\" x2=\"{at}\" y2=\"{}\"/>",
            px(y - 2.0),
            px(y + h + 2.0)
        );
    }
    let _ = write!(out, "<path class=\"s\" d=\"{d}\"/>");
    if let Some((lx, ly)) = last {
        let _ = write!(
            out,
            "<circle class=\"s-end\" cx=\"{}\" cy=\"{}\" r=\"2.5\"/>",
            px(lx),
            px(ly)
        );
    }
}

/// What heads a picture, as the page's header does: the title, the line under it, the legend.
pub struct Heading<'a> {
    /// The tree's title.
    pub title: &'a str,
    /// The period compared with the previous one, the counts, the definition.
    pub sub: &'a str,
}

/// The heading's own style: the page styles its header with `page.css` instead.
const HEADING_STYLE: &str = "svg.tree .h{font-size:18px;font-weight:700;fill:#111827}svg.tree .hs{font-size:13px;fill:#4b5563}svg.tree .lg{font-size:12px;fill:#4b5563}svg.tree .lg-border{fill:#fff;stroke:#6b7280;stroke-width:3}";

/// The height of the heading above the drawing, with one line of legend.
const HEADING: f64 = 70.0;
/// The height of each further line of legend.
const LEGEND_LINE: f64 = 18.0;

/// The whole tree in one static picture, with its style inside, for wikis and docs: the
/// heading, then the drawing beneath it.
pub fn picture(view_: &View, cards: &[Card], heading: &Heading<'_>) -> String {
    let l = &view_.layout;
    // Text is measured at about 7 px a character, enough that nothing overflows the picture.
    let text =
        (heading.title.chars().count() as f64 * 10.0).max(heading.sub.chars().count() as f64 * 7.0);
    let w = (l.width + 8.0).max(text + 8.0).max(360.0);
    let (legend, lines) = legend(w - 8.0, HEADING - 18.0);
    let top = HEADING + (lines - 1) as f64 * LEGEND_LINE;
    let h = l.height + 8.0 + top;
    let title = format!("{}: {}", heading.title, heading.sub);
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"tree\" id=\"tree\" width=\"{}\" height=\"{}\" viewBox=\"-4 -4 {} {}\" role=\"img\"><title>{}</title><style>{STYLE}{HEADING_STYLE}</style><defs><linearGradient id=\"lg-band\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\"><stop offset=\"0\" stop-color=\"#dc2626\"/><stop offset=\"0.5\" stop-color=\"#d97706\"/><stop offset=\"1\" stop-color=\"#059669\"/></linearGradient></defs><rect class=\"bg\" x=\"-4\" y=\"-4\" width=\"100%\" height=\"100%\"/>\n",
        px(w),
        px(h),
        px(w),
        px(h),
        escape(&title),
    );
    let _ = writeln!(
        out,
        "<g class=\"heading\"><text class=\"h\" x=\"0\" y=\"16\">{}</text><text class=\"hs\" x=\"0\" y=\"36\">{}</text>{legend}</g>",
        escape(heading.title),
        escape(heading.sub)
    );
    let _ = writeln!(out, "<g transform=\"translate(0,{})\">", px(top));
    drawing(&mut out, view_, cards);
    out.push_str("</g>\n</svg>\n");
    out
}

/// The legend's keys, each a swatch and its words, wrapped to `width` from `y`; with the
/// number of lines it takes.
fn legend(width: f64, y: f64) -> (String, usize) {
    let mut out = String::new();
    let (mut x, mut line) = (0.0, 0);
    for (key, words) in crate::LEGEND {
        let wide = 16.0 + words.chars().count() as f64 * 6.5;
        if x > 0.0 && x + wide > width {
            (x, line) = (0.0, line + 1);
        }
        let top = y + line as f64 * LEGEND_LINE;
        let swatch = match key {
            "good" => "<rect x=\"0\" y=\"-9\" width=\"10\" height=\"10\" rx=\"2\" fill=\"#059669\"/>",
            "bad" => "<rect x=\"0\" y=\"-9\" width=\"10\" height=\"10\" rx=\"2\" fill=\"#dc2626\"/>",
            "thick" => "<rect class=\"lg-border\" x=\"1.5\" y=\"-7.5\" width=\"7\" height=\"7\" rx=\"1\"/>",
            _ => "<rect x=\"2\" y=\"-10\" width=\"5\" height=\"12\" rx=\"2\" fill=\"url(#lg-band)\"/>",
        };
        let _ = write!(
            out,
            "<g class=\"lg-{key}\" transform=\"translate({},{})\">{swatch}<text class=\"lg\" x=\"14\" y=\"0\">{}</text></g>",
            px(x),
            px(top),
            escape(words)
        );
        x += wide + 14.0;
    }
    (out, line + 1)
}

#[cfg(test)]
mod tests {
    use super::scale;

    /// The share of the sparkline's height that `values` span, and where their middle sits
    /// (0 bottom, 1 top).
    fn drawn(values: &[f64]) -> (f64, f64) {
        let (lo, span) = scale(values);
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(
            lo <= min && max <= lo + span,
            "{values:?} outside {lo} + {span}"
        );
        ((max - min) / span, ((min + max) / 2.0 - lo) / span)
    }

    fn check(values: &[f64], height: f64) {
        let (share, middle) = drawn(values);
        assert!(
            (share - height).abs() < 1e-9,
            "{values:?}: {share} of the height, not {height}"
        );
        assert!(
            (middle - 0.5).abs() < 1e-9 || share == 1.0,
            "{values:?}: middle at {middle}"
        );
    }

    #[test]
    fn a_small_relative_move_looks_small() {
        // 1000 to 1004 is 0.4%: 4 of a range of 100 (±5% of about 1000).
        check(&[1000.0, 1001.0, 1000.5, 1004.0], 4.0 / (0.1 * 1001.375));
        check(&[-50.0, -50.2], 0.2 / (0.1 * 50.1));
        // A flat line, at any level, sits in the middle.
        check(&[7.0, 7.0, 7.0], 0.0);
        check(&[0.0, 0.0], 0.0);
    }

    #[test]
    fn a_large_move_still_fills_the_box() {
        check(&[100.0, 150.0, 120.0], 1.0);
        check(&[0.0, 1.0], 1.0);
        // Around zero the level is small, so any real move fills the box.
        check(&[-3.0, 2.0, 1.0], 1.0);
        // Exactly at the floor: ±5% of 100.
        check(&[95.0, 105.0], 1.0);
    }
}
