//! Canopy's report: a metric tree drawn with this period's values, coloured by band and by
//! the direction of each change, with the explanation of every move one click away.
//!
//! [`layout`] places any DAG in layers; [`facts`] gathers what each metric shows; [`views`]
//! splits a large tree into views a browser draws quickly; [`page`] writes one self-contained
//! HTML page (inline style, script and SVG; nothing fetched) and [`picture`] a static SVG of
//! the whole tree.

pub mod facts;
mod html;
pub mod layout;
pub mod svg;
pub mod views;

use canopy_engine::MetricId;
use canopy_evaluator::{Evaluation, Period};
use serde::{Deserialize, Serialize};

pub use html::{index, Listed};

/// What a page marks besides the values.
#[derive(Clone, Copy, Debug, Default)]
pub struct Marks<'a> {
    /// The metrics that moved this period (their alert rules fired).
    pub moved: &'a [MetricId],
    /// The latest period in which a metric's definition changed, for those whose changed
    /// lately: their trends mark it.
    pub redefined: &'a [(MetricId, Period)],
    /// Metrics whose alerts are snoozed, with the snooze in words: their panels say so.
    pub snoozed: &'a [(MetricId, String)],
}

/// Everything a page shows.
pub struct Report {
    /// The tree's id.
    pub tree: String,
    /// Its title.
    pub title: String,
    /// The period shown.
    pub period: String,
    /// The period it is compared with.
    pub previous: String,
    /// The version of the tree's definition.
    pub definition: String,
    /// Every metric's card, in file order.
    pub cards: Vec<facts::Card>,
    /// Every metric's panel, in file order.
    pub panels: Vec<facts::Panel>,
    /// The views, the root's first.
    pub views: Vec<views::View>,
}

impl Report {
    /// The report of `period`, with `marks`.
    pub fn new(eval: &Evaluation<'_>, period: Period, marks: Marks<'_>) -> Report {
        let tree = eval.tree();
        Report {
            tree: tree.id().to_string(),
            title: title(eval),
            period: period.to_string(),
            previous: period.previous().to_string(),
            definition: tree.version(),
            cards: facts::cards(eval, period, marks),
            panels: facts::panels(eval, period, marks),
            views: views::views(tree, Some(views::VIEW_MAX)),
        }
    }
}

impl Report {
    /// The report as one self-contained HTML page.
    pub fn page(&self) -> String {
        html::page(self)
    }

    /// What an index of reports says of this one.
    pub fn summary(&self) -> Summary {
        let root = &self.cards[self.views[0].focus.index()];
        Summary {
            title: self.title.clone(),
            period: self.period.clone(),
            previous: self.previous.clone(),
            root: root.title.clone(),
            value: match &root.unit {
                Some(unit) if root.reason.is_none() => format!("{} {unit}", root.value),
                _ => root.value.clone(),
            },
            change: root.change.clone(),
            tone: root.tone,
            moved: self.cards.iter().filter(|c| c.moved).count(),
            metrics: self.cards.len(),
        }
    }
}

/// What an index of reports says of one page: the tree's title, its root's value and change,
/// and how many metrics moved. `canopy run` keeps it beside the page, as JSON, so that the
/// index of every page needs no page read back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The tree's title.
    pub title: String,
    /// The period shown.
    pub period: String,
    /// The period it is compared with.
    pub previous: String,
    /// The root's title.
    pub root: String,
    /// The root's value, with its unit.
    pub value: String,
    /// The root's change since the previous period, when there is one to tell.
    pub change: Option<String>,
    /// How the root's change reads.
    pub tone: facts::Tone,
    /// How many metrics moved.
    pub moved: usize,
    /// How many metrics the tree has.
    pub metrics: usize,
}

/// The report of `period` as one self-contained HTML page.
pub fn page(eval: &Evaluation<'_>, period: Period, marks: Marks<'_>) -> String {
    Report::new(eval, period, marks).page()
}

/// The whole tree in `period` as a static SVG picture: the page's drawing, every metric in
/// one view, under the page's heading.
pub fn picture(eval: &Evaluation<'_>, period: Period, marks: Marks<'_>) -> String {
    let tree = eval.tree();
    let cards = facts::cards(eval, period, marks);
    let whole = views::views(tree, None);
    let sub = subtitle(
        &period.to_string(),
        &period.previous().to_string(),
        &cards,
        &tree.version(),
    );
    let title = title(eval);
    let heading = svg::Heading {
        title: &title,
        sub: &sub,
    };
    svg::picture(&whole[0], &cards, &heading)
}

/// The tree's title; a slice's page says which rows it shows wherever the title is shown.
fn title(eval: &Evaluation<'_>) -> String {
    let title = eval.tree().title();
    match eval.slice().is_empty() {
        true => title.to_string(),
        false => format!("{title} (where {})", eval.slice().describe()),
    }
}

/// The line under a report's title: the period compared with the previous one, how many
/// metrics there are and how many moved, and the definition drawn.
fn subtitle(period: &str, previous: &str, cards: &[facts::Card], definition: &str) -> String {
    let moved = cards.iter().filter(|c| c.moved).count();
    format!(
        "{period}, compared with {previous} · {} metrics · {moved} moved · definition {definition}",
        canopy_present::format::number(cards.len() as f64),
    )
}

/// The legend of the drawing's marks, with the CSS class of each key: the page and the
/// picture say the same.
const LEGEND: [(&str, &str); 4] = [
    ("good", "moved the good way"),
    ("bad", "moved the bad way"),
    ("thick", "thick border: its alert rules fired"),
    ("band", "left strip: band, red worst to green best"),
];
