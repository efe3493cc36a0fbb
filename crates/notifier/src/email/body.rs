//! The body of a digest email, rendered twice from the same facts: as plain text and as HTML
//! (tables and inline styles only, every user-given string escaped).

use std::fmt::Write as _;

use canopy_engine::{escape_html, MetricId, MetricTree};
use canopy_evaluator::format::{change, number, percent, signed, titled, told};
use canopy_evaluator::{rank, Evaluation, Period};

use super::{Carried, Digest, MovedMetric, Redefined};
use crate::address::display_name;
use crate::budget::{self, Shown};
use crate::moves::Rule;

/// How many contributors and trend periods an email shows.
const TOP_CONTRIBUTORS: usize = 3;
const TREND_PERIODS: i32 = 8;

/// The content of a digest, rendered twice: as text and as HTML.
pub(super) struct Body<'a> {
    pub(super) eval: &'a Evaluation<'a>,
    pub(super) period: Period,
    pub(super) digest: &'a Digest<'a>,
    /// How much of the digest it shows.
    pub(super) shown: Shown,
    /// The size it was cut to, when it was, in words.
    pub(super) limit: &'a str,
}

/// One fact about a moved metric, as label and value, shared by both renderings.
struct Facts {
    title: String,
    id: String,
    values: String,
    band: Option<String>,
    target: Option<String>,
    why: Vec<String>,
    contributors: Vec<(String, String)>,
    offsetting: Vec<String>,
    /// The moves shown beneath this one, one line each.
    beneath: Vec<String>,
    /// For a metric the recipient is responsible for: who is accountable.
    responsible_for: Option<String>,
    trend: Option<Trend>,
    /// Whether the move is for the better (by the metric's `good:`), if it has a direction.
    better: Option<bool>,
}

/// The last periods' values of a metric.
struct Trend {
    values: Vec<f64>,
    /// The periods, first to last.
    label: String,
    /// Where the metric's definition changed inside the trend, when it did.
    note: Option<String>,
}

/// Colours for moves for the better and for the worse, and for quieter text.
const GOOD: &str = "#047857";
const BAD: &str = "#b91c1c";
const MUTED: &str = "#6b7280";

/// The colour of a move: good, bad, or the text's.
fn colour(better: Option<bool>) -> &'static str {
    match better {
        Some(true) => GOOD,
        Some(false) => BAD,
        None => "#111827",
    }
}

/// Whether going from `before` to `after` is for the better, for a metric with `good`.
fn better(good: Option<canopy_engine::Good>, before: f64, after: f64) -> Option<bool> {
    match good? {
        _ if after == before => None,
        canopy_engine::Good::Up => Some(after > before),
        canopy_engine::Good::Down => Some(after < before),
    }
}

impl Trend {
    /// The heights of the values in [0, 1], the lowest at 0 (all 0.5 when flat).
    fn heights(&self) -> Vec<f64> {
        let (lo, hi) = self
            .values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(*v), hi.max(*v))
            });
        self.values
            .iter()
            .map(|v| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 })
            .collect()
    }

    /// A sparkline, for plain text.
    fn spark(&self) -> String {
        const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
        let spark: String = self
            .heights()
            .iter()
            .map(|h| BARS[(h * 7.0).round() as usize])
            .collect();
        format!("{spark}  ({})", self.label)
    }

    fn numbers(&self) -> String {
        let numbers: Vec<String> = self.values.iter().map(|v| number(*v)).collect();
        numbers.join(", ")
    }

    /// Bars drawn with table cells, which every mail client lays out; the last in `last`.
    fn bars_html(&self, last: &str) -> String {
        let heights = self.heights();
        let cells: String = heights
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let px = 4 + (h * 28.0).round() as u32;
                let fill = if i + 1 == heights.len() { last } else { "#9ca3af" };
                format!("<td style=\"vertical-align:bottom;padding:0 1px;\"><div style=\"width:8px;height:{px}px;background:{fill};font-size:0;line-height:0;\">&nbsp;</div></td>")
            })
            .collect();
        format!("<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse;height:34px;\"><tr>{cells}</tr></table>")
    }
}

impl Body<'_> {
    fn tree(&self) -> &MetricTree {
        self.eval.tree()
    }

    fn intro(&self) -> String {
        let tree = self.tree();
        match self.digest.moved_count() {
            0 if self.digest.informed.is_empty() && !self.digest.redefined.is_empty() => format!(
                "How a metric of \"{}\" ({}) is defined has changed since the last run, for {}.",
                tree.title(),
                tree.id(),
                self.period
            ),
            0 => format!(
                "Your summary of \"{}\" ({}) for {}.",
                tree.title(),
                tree.id(),
                self.period
            ),
            n => {
                let responsible = (self.digest.moved.iter())
                    .filter(|m| m.responsible_for.is_some())
                    .count();
                let role = match (responsible, n - responsible) {
                    (0, _) => "you are accountable for",
                    (_, 0) => "you are responsible for",
                    _ => "you are accountable or responsible for",
                };
                format!(
                    "{n} metric{} {role} in \"{}\" ({}) moved in {}.",
                    if n == 1 { "" } else { "s" },
                    tree.title(),
                    tree.id(),
                    self.period
                )
            }
        }
    }

    fn facts(&self, moved: &MovedMetric<'_>) -> Facts {
        let tree = self.tree();
        let m = tree.metric(moved.movement.metric);
        let (before, after) = (moved.movement.before, moved.movement.after);

        let band = match (m.bands.name_of(before), m.bands.name_of(after)) {
            (Some(a), Some(b)) if a != b => Some(format!("{a} -> {b}")),
            (_, Some(b)) => Some(b.to_string()),
            _ => None,
        };
        let target = m
            .target
            .zip(m.meets_target(after))
            .map(|(t, met)| format!("{} ({})", number(t), if met { "met" } else { "not met" }));
        let why = (moved.movement.rules.iter())
            .map(|r| describe(r, m.change, after - before))
            .collect();
        let (contributors, offsetting) = match moved.explanation {
            Some(e) => {
                let mut leaves: Vec<(MetricId, f64)> =
                    e.leaves().map(|n| (n.metric, n.contribution)).collect();
                rank(&mut leaves);
                let top = leaves
                    .iter()
                    .filter(|(id, c)| *id != moved.movement.metric && *c != 0.0)
                    .take(TOP_CONTRIBUTORS)
                    .map(|(id, c)| {
                        (
                            tree.metric(*id).title.clone(),
                            contribution(*c, after - before, m),
                        )
                    })
                    .collect();
                let offsetting = budget::offsetting_lines(tree, &e.offsetting);
                (top, offsetting)
            }
            None => (Vec::new(), Vec::new()),
        };
        Facts {
            title: m.title.clone(),
            id: m.id.clone(),
            values: change(before, after, m.unit.as_deref(), m.change),
            band,
            target,
            why,
            contributors,
            offsetting,
            beneath: budget::beneath_lines(moved.beneath.iter().map(|c| self.carried(c)).collect()),
            responsible_for: moved.responsible_for.map(display_name),
            trend: self.trend(moved.movement.metric),
            better: better(m.good, before, after),
        }
    }

    /// A move shown beneath another: its values, share and rules, in one line.
    fn carried(&self, c: &Carried<'_>) -> String {
        let metric = self.tree().metric(c.movement.metric);
        let rules: Vec<&str> = c.movement.rules.iter().map(Rule::name).collect();
        let values = change(
            c.movement.before,
            c.movement.after,
            metric.unit.as_deref(),
            metric.change,
        );
        format!(
            "{}: {values}, {:.0}% of this change; {}",
            titled(&metric.title, &metric.id),
            c.share * 100.0,
            rules.join(", ")
        )
    }

    /// One line for each moved metric listed past those shown in full.
    fn more_moved(&self) -> Vec<String> {
        let tree = self.tree();
        let Shown {
            detailed,
            listed_to,
            ..
        } = self.shown;
        let moved = self.digest.moved.len();
        self.digest
            .moved
            .iter()
            .skip(detailed)
            .take(listed_to - detailed)
            .map(|m| {
                let metric = tree.metric(m.movement.metric);
                let rules: Vec<&str> = m.movement.rules.iter().map(Rule::name).collect();
                format!(
                    "{}: {}; {}",
                    titled(&metric.title, &metric.id),
                    change(
                        m.movement.before,
                        m.movement.after,
                        metric.unit.as_deref(),
                        metric.change
                    ),
                    rules.join(", ")
                )
            })
            .chain((moved > listed_to).then(|| {
                let rest = moved - listed_to;
                format!("... and {rest} more; `canopy explain` shows any of them in full")
            }))
            .collect()
    }

    /// What this message left out to fit its budget, and where to see it.
    fn cut_note(&self) -> Option<String> {
        let periods = (
            &*self.period.previous().to_string(),
            &*self.period.to_string(),
        );
        let (full, report) = (self.digest.all(), self.digest.report);
        budget::cut_note((full, self.shown, self.limit), self.tree(), periods, report)
    }

    /// The last periods' values, as a sparkline and as numbers.
    fn trend(&self, id: MetricId) -> Option<Trend> {
        let values: Vec<(Period, f64)> = (0..TREND_PERIODS)
            .rev()
            .filter_map(|k| {
                let p = self.period.offset(-k);
                self.eval.total(id, p).ok().map(|v| (p, v))
            })
            .collect();
        if values.len() < 2 {
            return None;
        }
        let changed = self.digest.changed.get(&id).filter(|p| **p > values[0].0);
        Some(Trend {
            label: format!("{} to {}", values[0].0, values[values.len() - 1].0),
            note: changed.map(|p| canopy_engine::redefined_note(*p)),
            values: values.into_iter().map(|(_, v)| v).collect(),
        })
    }

    /// One row per metric the person follows: title, value, previous value, change, band
    /// (and the band before, when it changed), and whether the change is for the better.
    fn summary_rows(&self) -> Vec<([String; 5], Option<bool>)> {
        let tree = self.tree();
        self.digest
            .informed
            .iter()
            .take(self.shown.followed)
            .map(|&id| {
                let m = tree.metric(id);
                let now = self.eval.total(id, self.period);
                let before = self.eval.total(id, self.period.previous());
                let value = now.map_or_else(
                    |c| format!("no value ({})", self.eval.reason(id, self.period, c)),
                    number,
                );
                let previous = before.map_or_else(|_| "-".to_string(), number);
                let change = match (now, before) {
                    (Ok(a), Ok(b)) => told(b, a, m.change),
                    _ => String::new(),
                };
                let band_of = |v: Result<f64, _>| v.ok().and_then(|v| m.bands.name_of(v));
                let band = match (band_of(before), band_of(now)) {
                    (Some(b), Some(a)) if a != b => format!("{b} -> {a}"),
                    (_, Some(a)) => a.to_string(),
                    _ => String::new(),
                };
                let direction = now
                    .ok()
                    .zip(before.ok())
                    .and_then(|(a, b)| better(m.good, b, a));
                ([m.title.clone(), value, previous, change, band], direction)
            })
            .collect()
    }

    /// One moved metric in plain text: its title, values and facts.
    fn text_moved(&self, f: &Facts) -> String {
        let mut out = String::new();
        let _ = write!(out, "\n* {}\n  {}\n", titled(&f.title, &f.id), f.values);
        if let Some(name) = &f.responsible_for {
            let _ = writeln!(out, "  You are responsible; accountable: {name}");
        }
        if let Some(band) = &f.band {
            let _ = writeln!(out, "  Band: {band}");
        }
        if let Some(target) = &f.target {
            let _ = writeln!(out, "  Target: {target}");
        }
        let _ = writeln!(out, "  Why this email: {}", f.why.join("; "));
        if !f.contributors.is_empty() {
            out.push_str("  Biggest contributors:\n");
            let width = f.contributors.iter().map(|(_, c)| c.chars().count()).max();
            let width = width.unwrap_or(0);
            for (name, c) in &f.contributors {
                let _ = writeln!(out, "    {c:>width$}  {name}");
            }
        }
        for o in &f.offsetting {
            let _ = writeln!(out, "  Offsetting: {o}");
        }
        if !f.beneath.is_empty() {
            out.push_str("  Mostly from, also yours:\n");
            for line in &f.beneath {
                let _ = writeln!(out, "    {line}");
            }
        }
        if let Some(trend) = &f.trend {
            let _ = writeln!(
                out,
                "  Trend: {}\n         {}",
                trend.spark(),
                trend.numbers()
            );
            if let Some(note) = &trend.note {
                let _ = writeln!(out, "         ({note})");
            }
        }
        out
    }

    pub(super) fn text(&self) -> String {
        let mut out = format!("Hi {},\n\n", display_name(&self.digest.person.name));
        if let Some(headline) = self.digest.headline {
            let _ = write!(out, "{headline}.\n\n");
        }
        let _ = writeln!(out, "{}", self.intro());
        for moved in self.digest.moved.iter().take(self.shown.detailed) {
            out += &self.text_moved(&self.facts(moved));
        }
        let more = self.more_moved();
        if !more.is_empty() {
            let count = self.digest.moved.len() - self.shown.detailed;
            let _ = writeln!(out, "\nAnd {count} more that moved:");
            for line in &more {
                let _ = writeln!(out, "  {line}");
            }
        }
        for r in self.digest.redefined.iter().take(self.shown.redefined) {
            out += &self.redefined_text(r);
        }
        if !self.digest.verdicts.is_empty() {
            out.push_str("\nVerified impact:\n");
            for story in &self.digest.verdicts {
                let _ = writeln!(out, "\n{story}");
            }
        }
        let rows = self.summary_rows();
        if !rows.is_empty() {
            out.push_str("\nMetrics you follow:\n");
            for ([title, value, previous, change, band], _) in rows {
                let line = format!("  {title}: {value} (was {previous}) {change} {band}");
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
        if let Some(note) = self.cut_note() {
            let _ = writeln!(out, "\n{note}");
        }
        if let Some(url) = self.digest.report {
            let _ = writeln!(out, "\nThe tree with this period's values: {url}");
        }
        let _ = write!(
            out,
            "\n-- \nCanopy, for the tree {} ({}).\ndefinition: {}\n",
            self.tree().id(),
            self.tree().path().display(),
            self.digest.version
        );
        out
    }

    /// The facts of a change of definition: the metric, its versions, each field before and
    /// after, and its value under each; and the recipient's role when consulted.
    fn redefinition_facts(&self, r: &Redefined<'_>) -> (String, Vec<String>) {
        let d = r.redefinition;
        let m = self.tree().metric(d.id);
        let mut lines = vec![d.versions()];
        lines.extend(d.lines());
        lines.push(d.values(&self.period.to_string(), m.unit.as_deref()));
        if let Some(name) = r.consulted_for {
            lines.push(format!("You are consulted; accountable: {name}"));
        }
        (titled(&m.title, &m.id), lines)
    }

    fn redefined_text(&self, r: &Redefined<'_>) -> String {
        let (title, lines) = self.redefinition_facts(r);
        let mut out = format!("\nDefinition changed: {title}\n");
        for line in lines {
            let _ = writeln!(out, "  {line}");
        }
        out
    }

    /// The HTML part: tables and inline styles only, which mail clients render alike, one
    /// column at most 640 px wide that narrows to a phone's width.
    pub(super) fn html(&self) -> String {
        let e = escape_html;
        let mut body = String::new();
        let _ = writeln!(
            body,
            "<p style=\"margin:0 0 12px;\">Hi {},</p>",
            e(&display_name(&self.digest.person.name))
        );
        if let Some(headline) = self.digest.headline {
            let _ = writeln!(
                body,
                "<p style=\"margin:0 0 12px;font-size:18px;font-weight:bold;\">{}.</p>",
                e(headline)
            );
        }
        let _ = writeln!(
            body,
            "<p style=\"margin:0 0 12px;\">{}</p>",
            e(&self.intro())
        );
        for moved in self.digest.moved.iter().take(self.shown.detailed) {
            body += &self.html_moved(&self.facts(moved));
        }
        let more = self.more_moved();
        if !more.is_empty() {
            let items: String = more.iter().map(|l| format!("<li>{}</li>", e(l))).collect();
            let _ = writeln!(
                body,
                "{}<ul style=\"margin:0;padding-left:20px;\">{items}</ul>",
                heading(&format!(
                    "And {} more that moved",
                    self.digest.moved.len() - self.shown.detailed
                ))
            );
        }
        for r in self.digest.redefined.iter().take(self.shown.redefined) {
            let (title, lines) = self.redefinition_facts(r);
            let items: Vec<String> = lines.iter().map(|l| e(l)).collect();
            let _ = writeln!(
                body,
                "{}<p style=\"margin:0 0 8px;\">{}</p>",
                heading(&format!("Definition changed: {}", e(&title))),
                items.join("<br>")
            );
        }
        if !self.digest.verdicts.is_empty() {
            body += &heading("Verified impact");
            for story in &self.digest.verdicts {
                // The verdict leads: `id: CONFIRMED.` in bold.
                let (head, rest) = story.split_once(". ").unwrap_or((story, ""));
                let _ = writeln!(
                    body,
                    "<p style=\"margin:0 0 8px;\"><b>{}.</b> {}</p>",
                    e(head.trim_end_matches('.')),
                    e(rest)
                );
            }
        }
        body += &self.html_summary();
        if let Some(note) = self.cut_note() {
            let _ = writeln!(body, "<p style=\"margin:16px 0 0;\">{}</p>", e(&note));
        }
        if let Some(url) = self.digest.report {
            let _ = writeln!(
                body,
                "<p style=\"margin:16px 0 0;\"><a href=\"{}\" style=\"color:#2563eb;\">See the tree with this period's values</a></p>",
                e(url)
            );
        }
        let _ = writeln!(body, "<p style=\"color:{MUTED};font-size:12px;margin:24px 0 0;\">Canopy, for the tree {}.<br>definition: {}</p>", e(self.tree().id()), e(self.digest.version));
        format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n<body style=\"margin:0;padding:0;background:#f9fafb;\">\n<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse;\"><tr><td align=\"center\" style=\"padding:16px 8px;\">\n<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse;max-width:640px;background:#ffffff;\"><tr><td style=\"padding:16px;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:15px;line-height:1.45;color:#111827;word-wrap:break-word;overflow-wrap:break-word;\">\n{body}</td></tr></table>\n</td></tr></table>\n</body></html>\n"
        )
    }

    /// One moved metric: its title, its values coloured by direction, and its facts.
    fn html_moved(&self, f: &Facts) -> String {
        let e = escape_html;
        let cell = "padding:4px 8px 4px 0;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top;";
        let mut out = format!(
            "{}<p style=\"margin:0 0 8px;font-size:16px;font-weight:bold;color:{};\">{}</p>\n<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse;\">\n",
            heading(&format!("{} <span style=\"color:{MUTED};font-weight:normal;\">{}</span>", e(&f.title), e(&f.id))),
            colour(f.better),
            e(&f.values)
        );
        let mut row = |label: &str, value: &str| {
            let _ = writeln!(out, "<tr><th style=\"{cell}color:{MUTED};font-weight:normal;width:30%;\">{}</th><td style=\"{cell}\">{value}</td></tr>", e(label));
        };
        if let Some(name) = &f.responsible_for {
            row(
                "Your role",
                &e(&format!("You are responsible; accountable: {name}")),
            );
        }
        if let Some(band) = &f.band {
            row("Band", &e(band));
        }
        if let Some(target) = &f.target {
            row("Target", &e(target));
        }
        row("Why this email", &e(&f.why.join("; ")));
        if !f.contributors.is_empty() {
            let list: Vec<String> = f
                .contributors
                .iter()
                .map(|(n, c)| format!("{} {}", e(c), e(n)))
                .collect();
            row("Biggest contributors", &list.join("<br>"));
        }
        for o in &f.offsetting {
            row("Offsetting", &e(o));
        }
        if !f.beneath.is_empty() {
            let lines: Vec<String> = f.beneath.iter().map(|l| e(l)).collect();
            row("Mostly from, also yours", &lines.join("<br>"));
        }
        if let Some(trend) = &f.trend {
            let note = (trend.note.as_deref()).map_or(String::new(), |n| format!("; {}", e(n)));
            let numbers = format!(
                "<div style=\"color:{MUTED};font-size:13px;\">{} ({}{note})</div>",
                e(&trend.numbers()),
                e(&trend.label)
            );
            row("Trend", &(trend.bars_html(colour(f.better)) + &numbers));
        }
        out.push_str("</table>\n");
        out
    }

    /// The metrics the person follows, one row each, changes coloured by direction.
    fn html_summary(&self) -> String {
        let e = escape_html;
        let rows = self.summary_rows();
        if rows.is_empty() {
            return String::new();
        }
        let cell = "padding:4px 8px 4px 0;border-bottom:1px solid #e5e7eb;text-align:left;";
        // Numbers are never broken across lines; titles wrap.
        let nowrap = "white-space:nowrap;";
        let mut out = heading("Metrics you follow");
        let _ = writeln!(out, "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" cellspacing=\"0\" style=\"border-collapse:collapse;\">");
        let _ = writeln!(out, "<tr><th style=\"{cell}color:{MUTED};font-weight:normal;\">metric</th><th style=\"{cell}color:{MUTED};font-weight:normal;\">now</th><th style=\"{cell}color:{MUTED};font-weight:normal;\">before</th><th style=\"{cell}color:{MUTED};font-weight:normal;\">change</th><th style=\"{cell}color:{MUTED};font-weight:normal;\">band</th></tr>");
        for ([title, value, previous, change, band], better) in rows {
            let _ = writeln!(
                out,
                "<tr><td style=\"{cell}\">{}</td><td style=\"{cell}{nowrap}\">{}</td><td style=\"{cell}{nowrap}\">{}</td><td style=\"{cell}{nowrap}color:{};\">{}</td><td style=\"{cell}\">{}</td></tr>",
                e(&title), e(&value), e(&previous), colour(better), e(&change), e(&band)
            );
        }
        out.push_str("</table>\n");
        out
    }
}

/// A contribution to a metric's change, in its unit and as a share of the change:
/// `-2492 items (127%)`; in points for a metric in points.
fn contribution(c: f64, change: f64, metric: &canopy_engine::Metric) -> String {
    let amount = match (metric.change, metric.unit.as_deref()) {
        (canopy_engine::ChangeIn::Points, _) => format!("{} pts", signed(c)),
        (_, Some(unit)) => format!("{} {unit}", signed(c)),
        (_, None) => signed(c),
    };
    match change {
        0.0 => amount,
        _ => format!("{amount} ({:.0}%)", c / change * 100.0),
    }
}

/// A section heading (its text is HTML already).
fn heading(html: &str) -> String {
    format!("<p style=\"margin:20px 0 4px;font-size:17px;font-weight:bold;\">{html}</p>\n")
}

/// A rule in words, for a metric whose changes are told as `kind` and which changed by
/// `change`: a percentage rule on a metric in points says the points first.
fn describe(rule: &Rule, kind: canopy_engine::ChangeIn, change: f64) -> String {
    match rule {
        Rule::ChangePct {
            pct: Some(p),
            threshold,
        } => match kind {
            canopy_engine::ChangeIn::Points => format!(
                "changed {} pts ({}, alert at {threshold}%)",
                signed(change),
                percent(*p)
            ),
            canopy_engine::ChangeIn::Relative => {
                format!("changed {} (alert at {threshold}%)", percent(*p))
            }
        },
        Rule::ChangeAbs { change, threshold } => {
            format!(
                "changed {} (alert at {})",
                signed(*change),
                number(*threshold)
            )
        }
        Rule::ChangePct { pct: None, .. } => "moved away from zero".to_string(),
        Rule::Band { from, to } => format!("band changed from {from} to {to}"),
        Rule::Anomaly { z, threshold } if z.is_infinite() => {
            format!("unusual: departs from a flat history (alert at z = {threshold})")
        }
        Rule::Anomaly { z, threshold } => {
            format!("unusual against recent history (z = {z:.1}, alert at {threshold})")
        }
        Rule::Target {
            target,
            reached: true,
        } => format!("reached the target of {}", number(*target)),
        Rule::Target {
            target,
            reached: false,
        } => format!("fell short of the target of {}", number(*target)),
        Rule::Reminder { runs } => format!("still off track after {runs} runs (reminder)"),
        Rule::Recovered => "recovered".to_string(),
    }
}
