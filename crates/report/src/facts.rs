//! What the report shows of each metric: its card (value, change, band, target, owner,
//! trend) and its panel (the explanation of its change), every number written by the
//! evaluator's one formatter.

use canopy_engine::{Good, Metric, MetricId, MetricTree};
use canopy_evaluator::{Evaluation, Explainer, Period, Planner};
use canopy_present::format::{number, signed_at, titled, told};
use canopy_present::{explain_report, ExplainReport};
use serde::{Deserialize, Serialize};

use crate::Marks;

/// How many periods a card's trend shows, the report's own last.
pub const TREND: usize = 12;
/// How many leaves, segments and offsetting metrics a panel lists; the rest are summed.
pub const LISTED: usize = 8;

/// How a change reads against the metric's direction of good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    /// Moved the good way.
    Good,
    /// Moved the bad way.
    Bad,
    /// Moved, with no direction of good to judge by.
    Neutral,
    /// Did not change, or has no change to tell.
    Flat,
}

/// Where a value's band stands among the metric's bands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// The worst band.
    Worst,
    /// Between the worst and the best.
    Middle,
    /// The best band.
    Best,
    /// No direction of good says which band is better.
    Unranked,
}

impl Standing {
    /// The CSS class of the band's colour.
    pub fn class(self) -> &'static str {
        match self {
            Standing::Worst => "b-worst",
            Standing::Middle => "b-middle",
            Standing::Best => "b-best",
            Standing::Unranked => "b-unranked",
        }
    }
}

/// One metric's card.
#[derive(Clone, Debug)]
pub struct Card {
    /// The metric.
    pub metric: MetricId,
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The value as written, or `no value`.
    pub value: String,
    /// The unit.
    pub unit: Option<String>,
    /// The change since the previous period, in points or percent.
    pub change: Option<String>,
    /// How the change reads.
    pub tone: Tone,
    /// The band, with its standing.
    pub band: Option<(String, Standing)>,
    /// The target as written, and whether it is met.
    pub target: Option<(String, Option<bool>)>,
    /// The accountable owner's name.
    pub owner: String,
    /// The last [`TREND`] periods' values, the report's period last.
    pub trend: Vec<Option<f64>>,
    /// Whether the metric moved this period (its alert rules fired).
    pub moved: bool,
    /// Why there is no value, when there is none.
    pub reason: Option<String>,
    /// Where the definition changed inside the trend: the index in `trend` of the first
    /// period under the new one, and that period.
    pub redefined: Option<(usize, Period)>,
}

/// The card of every metric, in file order.
pub fn cards(eval: &Evaluation<'_>, period: Period, marks: Marks<'_>) -> Vec<Card> {
    let tree = eval.tree();
    // The marks by metric, so that no card searches them.
    let mut moved = vec![false; tree.len()];
    for m in marks.moved {
        moved[m.index()] = true;
    }
    let mut redefined = vec![None; tree.len()];
    // Backwards, so that the first mark of a metric is the one kept.
    for (m, p) in marks.redefined.iter().rev() {
        redefined[m.index()] = Some(*p);
    }
    tree.ids()
        .map(|id| {
            let mut card = card(eval, id, period, moved[id.index()]);
            // The index in the trend of the first period under the new definition.
            card.redefined = redefined[id.index()]
                .map(|p| (TREND as i32 - 1 - period.since(p), p))
                .filter(|(i, _)| (1..TREND as i32).contains(i))
                .map(|(i, p)| (i as usize, p));
            card
        })
        .collect()
}

fn card(eval: &Evaluation<'_>, id: MetricId, period: Period, moved: bool) -> Card {
    let tree = eval.tree();
    let m = tree.metric(id);
    let now = eval.total(id, period);
    let before = eval.total(id, period.previous()).ok();
    let value = now.ok();
    let change = value.zip(before).map(|(v, b)| told(b, v, m.change));
    let tone = match (value.zip(before), m.good) {
        (Some((v, b)), _) if v == b => Tone::Flat,
        (Some((v, b)), Some(good)) if good.improves(v - b) => Tone::Good,
        (Some(_), Some(_)) => Tone::Bad,
        (Some(_), None) => Tone::Neutral,
        (None, _) => Tone::Flat,
    };
    let first = eval.first().unwrap_or(period);
    let trend = (0..TREND as i32)
        .rev()
        .map(|k| period.offset(-k))
        .map(|p| (p >= first).then(|| eval.total(id, p).ok()).flatten())
        .collect();
    Card {
        metric: id,
        id: m.id.clone(),
        title: m.title.clone(),
        value: value.map_or_else(|| "no value".to_string(), number),
        unit: m.unit.clone(),
        change,
        tone,
        band: value.and_then(|v| band(m, v)),
        target: m
            .target
            .map(|t| (number(t), value.and_then(|v| m.meets_target(v)))),
        owner: tree.accountable(id).name.clone(),
        trend,
        moved,
        reason: now.err().map(|cell| eval.reason(id, period, cell)),
        redefined: None,
    }
}

/// The band `value` is in, and where it stands by the metric's direction of good.
fn band(m: &Metric, value: f64) -> Option<(String, Standing)> {
    let i = m.bands.classify(value)?;
    let count = m.bands.iter().count();
    let rank = match m.good {
        Some(Good::Up) => Some(i),
        Some(Good::Down) => Some(count - 1 - i),
        None => None,
    };
    let standing = match rank {
        None => Standing::Unranked,
        Some(0) => Standing::Worst,
        Some(r) if r + 1 == count => Standing::Best,
        Some(_) => Standing::Middle,
    };
    Some((m.bands.get(i)?.name.clone(), standing))
}

/// A metric's part in a change: its id, title, amount and the amount as written.
#[derive(Debug, Serialize)]
pub struct Part {
    /// The metric's id (or a segment's name).
    pub id: String,
    /// Its title.
    pub title: String,
    /// The amount, for drawing.
    pub value: f64,
    /// The amount as written, signed.
    pub text: String,
}

/// A flat metric hiding opposite movements.
#[derive(Debug, Serialize)]
pub struct Offset {
    /// The metric.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its change, written.
    pub change: String,
    /// The inputs that moved more than it.
    pub inputs: Vec<Part>,
}

/// One segment's part, with mix and rate for ratios.
#[derive(Debug, Serialize)]
pub struct Segment {
    /// The segment, as `dimension=value` pairs.
    pub name: String,
    /// Its contribution, written.
    pub text: String,
    /// The mix part, written.
    pub mix: Option<String>,
    /// The rate part, written.
    pub rate: Option<String>,
}

/// A slice of the data that moved, as its panel row shows it.
#[derive(Debug, Serialize)]
pub struct SliceRow {
    /// The slice, as people read it (`platform = ios, plan = pro`).
    pub name: String,
    /// Its change, written.
    pub text: String,
    /// Its share of the metric's change, written (`91%`).
    pub share: Option<String>,
    /// The mix part, written.
    pub mix: Option<String>,
    /// The rate part, written.
    pub rate: Option<String>,
}

/// What a metric's panel shows: who owns it, how it is defined, and why it changed.
#[derive(Debug, Serialize)]
pub struct Panel {
    /// The metric's id.
    pub id: String,
    /// Its title with its id.
    pub title: String,
    /// Its formula, or where a leaf's values come from.
    pub formula: String,
    /// Its unit.
    pub unit: Option<String>,
    /// Which direction is good: `up` or `down`.
    pub good: Option<&'static str>,
    /// Role and names, for each RACI role with anyone in it.
    pub owners: Vec<(&'static str, String)>,
    /// The earlier period.
    pub from: String,
    /// The report's period.
    pub to: String,
    /// Value in `from`, for drawing, and written.
    pub before: Option<(f64, String)>,
    /// Value in `to`.
    pub after: Option<(f64, String)>,
    /// Why there is no explanation.
    pub reason: Option<String>,
    /// The direct inputs' contributions, largest first: the waterfall.
    pub inputs: Vec<Part>,
    /// The leaves' contributions, largest first, at most [`LISTED`].
    pub leaves: Vec<Part>,
    /// How many leaves are not listed, and their sum, written.
    pub other_leaves: Option<(usize, String)>,
    /// Flat metrics hiding movement.
    pub offsetting: Vec<Offset>,
    /// Segments, largest first, at most [`LISTED`].
    pub segments: Vec<Segment>,
    /// Why segments could not be split.
    pub segments_note: Option<String>,
    /// The slices that moved, largest change first (`explain --slices`); left out of the page
    /// when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slices: Vec<SliceRow>,
    /// Why no slice is named, when the data has segments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slices_note: Option<String>,
    /// The metrics under this one whose shares are approximate, with how.
    pub approximate: Vec<String>,
    /// When its alerts are snoozed: until when, by whom and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snoozed: Option<String>,
}

/// The panel of every metric, in file order: each explained from the period before.
pub fn panels(eval: &Evaluation<'_>, period: Period, marks: Marks<'_>) -> Vec<Panel> {
    let tree = eval.tree();
    let planner = Planner::new(tree);
    // One explainer for all: each explanation then costs its metric's subtree, not the tree.
    let mut explainer = Explainer::new(&planner);
    let from = period.previous();
    tree.ids()
        .map(|id| {
            let e = explainer.explain(eval, id, from, period);
            let reason = e.as_ref().map_err(|e| e.reason.clone());
            let mut report = explain_report(eval, id, from, period, reason);
            if !eval.segments().is_empty() {
                report.add_slices(eval, id, from, period);
            }
            let mut panel = panel(tree, id, &report);
            panel.snoozed = (marks.snoozed.iter())
                .find(|(m, _)| *m == id)
                .map(|(_, told)| told.clone());
            panel
        })
        .collect()
}

fn panel(tree: &MetricTree, id: MetricId, r: &ExplainReport<'_>) -> Panel {
    let m = tree.metric(id);
    // Zero to the precision of the values explained prints as 0, as in `explain`'s tables.
    let scale = r.scale();
    let signed = |v: f64| signed_at(v, scale);
    let part = |c: &canopy_present::Contribution<'_>| Part {
        id: c.metric.to_string(),
        title: tree.metric(c.id).title.clone(),
        value: c.contribution,
        text: signed(c.contribution),
    };
    let parts = |c: &[canopy_present::Contribution<'_>]| c.iter().map(part).collect();
    let leaves: Vec<Part> = r.leaves.iter().take(LISTED).map(part).collect();
    let rest = &r.leaves[leaves.len()..];
    Panel {
        id: m.id.clone(),
        title: titled(&m.title, &m.id),
        formula: canopy_engine::formula_text(m),
        unit: m.unit.clone(),
        good: m.good.map(Good::name),
        owners: owners(tree, m),
        from: r.from.clone(),
        to: r.to.clone(),
        before: r.before.map(|v| (v, number(v))),
        after: r.after.map(|v| (v, number(v))),
        reason: r.reason.clone(),
        inputs: parts(&r.contributions),
        leaves: if m.is_leaf() { Vec::new() } else { leaves },
        other_leaves: (!rest.is_empty() && !m.is_leaf()).then(|| {
            (
                rest.len(),
                signed(rest.iter().map(|c| c.contribution).sum()),
            )
        }),
        offsetting: r
            .offsetting
            .iter()
            .take(LISTED)
            .map(|o| Offset {
                id: o.metric.to_string(),
                title: tree.metric(o.id).title.clone(),
                change: signed(o.change),
                inputs: parts(&o.inputs),
            })
            .collect(),
        segments: (r.segments.iter().take(LISTED))
            .map(|s| segment(s, scale))
            .collect(),
        segments_note: r.segments_note.clone(),
        slices: (r.slices.iter().flatten())
            .map(|s| slice(s, scale))
            .collect(),
        slices_note: r.slices_note.clone(),
        approximate: r
            .methods
            .iter()
            .filter(|m| !m.exact)
            .map(|m| format!("{}: {}", m.metric, m.method))
            .collect(),
        snoozed: None,
    }
}

/// A segment's row, its numbers zero to the precision of `scale` printed as 0.
fn segment(s: &canopy_present::SegmentReport, scale: f64) -> Segment {
    let signed = |v: f64| signed_at(v, scale);
    Segment {
        name: s.name(),
        text: signed(s.contribution),
        mix: s.mix.map(signed),
        rate: s.rate.map(signed),
    }
}

/// A slice's row, its numbers zero to the precision of `scale` printed as 0.
fn slice(s: &canopy_present::SliceReport, scale: f64) -> SliceRow {
    let signed = |v: f64| signed_at(v, scale);
    SliceRow {
        name: s.slice.describe(),
        text: signed(s.change),
        share: s.share.map(|x| format!("{:.0}%", 100.0 * x)),
        mix: s.mix.map(signed),
        rate: s.rate.map(signed),
    }
}

fn owners(tree: &MetricTree, m: &Metric) -> Vec<(&'static str, String)> {
    let names = |ids: &[String]| {
        ids.iter()
            .map(|p| tree.person(p).name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let raci = &m.raci;
    [
        (
            "Accountable",
            names(std::slice::from_ref(&raci.accountable)),
        ),
        ("Responsible", names(&raci.responsible)),
        ("Consulted", names(&raci.consulted)),
        ("Informed", names(&raci.informed)),
    ]
    .into_iter()
    .filter(|(_, n)| !n.is_empty())
    .collect()
}
