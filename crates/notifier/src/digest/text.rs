//! A letter as plain text: the email's text part, and what a chat message says.

use std::fmt::Write as _;

use canopy_present::format::titled;

use super::letter::{Item, Letter};

/// The whole letter as plain text.
pub(super) fn render(letter: &Letter) -> String {
    let mut out = format!("Hi {},\n\n", letter.name);
    if let Some(headline) = &letter.headline {
        let _ = write!(out, "{headline}.\n\n");
    }
    let _ = writeln!(out, "{}", letter.intro);
    for item in &letter.moved {
        out += &moved(item);
    }
    if let Some((count, lines)) = &letter.more {
        let _ = writeln!(out, "\nAnd {count} more that moved:");
        for line in lines {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !letter.snoozed.is_empty() {
        out.push_str("\nMoved, but snoozed (nobody was alerted):\n");
        for line in &letter.snoozed {
            let _ = writeln!(out, "  {line}");
        }
    }
    for (title, lines) in &letter.redefined {
        let _ = writeln!(out, "\nDefinition changed: {title}");
        for line in lines {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !letter.verdicts.is_empty() {
        out.push_str("\nVerified impact:\n");
        for story in &letter.verdicts {
            let _ = writeln!(out, "\n{story}");
        }
    }
    if !letter.followed.is_empty() {
        out.push_str("\nMetrics you follow:\n");
        for row in &letter.followed {
            let [title, value, previous, change, band] = &row.cells;
            let line = format!("  {title}: {value} (was {previous}) {change} {band}");
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    if let Some(note) = &letter.cut {
        let _ = writeln!(out, "\n{note}");
    }
    if let Some(url) = &letter.report {
        let _ = writeln!(out, "\nThe tree with this period's values: {url}");
    }
    let _ = write!(
        out,
        "\n-- \nCanopy, for the tree {} ({}).\ndefinition: {}\n",
        letter.tree, letter.path, letter.version
    );
    out
}

/// One moved metric: its title, values and facts.
fn moved(f: &Item) -> String {
    let mut out = String::new();
    let _ = write!(out, "\n* {}\n  {}\n", titled(&f.title, &f.id), f.values);
    if let Some(role) = f.role() {
        let _ = writeln!(out, "  {role}");
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
    if !f.slices.is_empty() {
        out.push_str("  Where it moved:\n");
        for line in &f.slices {
            let _ = writeln!(out, "    {line}");
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
