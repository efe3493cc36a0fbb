//! The documents `canopy eval` and `canopy explain` print: plain data with a fixed field
//! order, serialised as JSON or laid out as tables.

use canopy_engine::{Definition, MetricId, MetricTree};
use std::borrow::Cow;

use serde::Serialize;

use crate::words;

use canopy_evaluator::{
    pct_change, rank, Against, Cell, Evaluation, Explanation, Node, Period, Segments, Slice,
    Slices, Status, METHOD,
};

/// Every metric of a tree in one period.
#[derive(Debug, Serialize)]
pub struct EvalReport {
    /// The tree's id.
    pub tree: String,
    /// The period.
    pub period: String,
    /// The slice of the data evaluated, `{dimension: value}`; absent for all of it.
    #[serde(rename = "where", skip_serializing_if = "Slice::is_empty")]
    pub slice: Slice,
    /// What `previous` is, when it is not simply the period before (`--against`).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "against_json"
    )]
    pub against: Option<Against>,
    /// The version of the tree's definition.
    pub definition: String,
    /// One row per metric, in file order.
    pub metrics: Vec<MetricRow>,
}

/// One metric's value in a period, compared with the period before.
#[derive(Debug, Serialize)]
pub struct MetricRow {
    /// The metric's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// The value; `null` unless the status is `ok`.
    pub value: Option<f64>,
    /// `ok`, `missing` or `undefined`.
    pub status: Status,
    /// Why there is no value, naming the input at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The band the value is in.
    pub band: Option<String>,
    /// The value in the previous period.
    pub previous: Option<f64>,
    /// `value - previous`.
    pub change: Option<f64>,
    /// The change as a percentage of `|previous|`; `null` when `previous` is 0.
    pub change_pct: Option<f64>,
    /// How the change is told: `points` (`change`, for percentages and scores) or
    /// `relative` (`change_pct`).
    pub change_in: &'static str,
    /// The metric's target.
    pub target: Option<f64>,
    /// Its unit.
    pub unit: Option<String>,
    /// The version of its definition.
    pub definition: String,
}

/// Evaluates the report of `period`, compared with the period before.
pub fn eval_report(eval: &Evaluation<'_>, period: Period) -> EvalReport {
    eval_report_against(eval, period, period.previous())
}

/// Evaluates the report of `period`, compared with `base` (its `previous` values).
pub fn eval_report_against(eval: &Evaluation<'_>, period: Period, base: Period) -> EvalReport {
    let tree = eval.tree();
    let definitions: Vec<Definition> = tree.ids().map(|id| Definition::of(tree, id)).collect();
    let metrics = (tree.ids().zip(&definitions))
        .map(|(id, definition)| {
            let m = tree.metric(id);
            let now = eval.total(id, period);
            let previous = eval.total(id, base).ok();
            let value = now.ok();
            let change = value.zip(previous).map(|(v, p)| v - p);
            let change_pct = previous.zip(value).and_then(|(p, v)| pct_change(p, v));
            let band = value.and_then(|v| m.bands.name_of(v)).map(str::to_string);
            let cell = now.err().unwrap_or(Cell::Ok);
            MetricRow {
                id: m.id.clone(),
                title: m.title.clone(),
                value,
                status: cell.status(),
                reason: (cell != Cell::Ok).then(|| eval.reason(id, period, cell)),
                band,
                previous,
                change,
                change_pct,
                change_in: m.change.name(),
                target: m.target,
                unit: m.unit.clone(),
                definition: definition.version(),
            }
        })
        .collect();
    EvalReport {
        tree: tree.id().to_string(),
        period: period.to_string(),
        slice: eval.slice().clone(),
        against: None,
        definition: canopy_engine::short_version(&tree.definition_hash_of(&definitions)),
        metrics,
    }
}

/// The baseline a report used, as it says it: `{"baseline": "year", "from": "2025-W47",
/// "to": "2025-W47"}`.
#[derive(Serialize)]
struct AgainstJson {
    /// `previous`, `year` or `mean:N`.
    baseline: String,
    /// The first period of the baseline.
    from: String,
    /// Its last period.
    to: String,
}

impl AgainstJson {
    fn of(a: &Against) -> AgainstJson {
        AgainstJson {
            baseline: a.baseline.to_string(),
            from: a.from.to_string(),
            to: a.to.to_string(),
        }
    }
}

/// Writes a report's baseline as [`AgainstJson`] (only present ones are written).
fn against_json<S: serde::Serializer>(a: &Option<Against>, s: S) -> Result<S::Ok, S::Error> {
    a.as_ref().map(AgainstJson::of).serialize(s)
}

/// A metric and how much of a change comes through it.
#[derive(Debug, Serialize)]
pub struct Contribution<'a> {
    /// The metric.
    #[serde(skip)]
    pub id: MetricId,
    /// The metric's id, as written.
    pub metric: &'a str,
    /// Its contribution, in the explained metric's units.
    pub contribution: f64,
}

/// A flat metric hiding opposite movements.
#[derive(Debug, Serialize)]
pub struct OffsettingReport<'a> {
    /// The flat metric.
    #[serde(skip)]
    pub id: MetricId,
    /// Its id, as written.
    pub metric: &'a str,
    /// Its (small) change.
    pub change: f64,
    /// The inputs that moved more than it, with their shares of its change.
    pub inputs: Vec<Contribution<'a>>,
}

/// One segment's part of the change.
#[derive(Debug, Serialize)]
pub struct SegmentReport {
    /// The segment, as dimension -> value.
    pub segment: std::collections::BTreeMap<String, String>,
    /// Its contribution to the change.
    pub contribution: f64,
    /// For ratio metrics: the part due to the segment's weight changing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mix: Option<f64>,
    /// For ratio metrics: the part due to the segment's rate changing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

impl SegmentReport {
    /// The segment as people read it: `region=EU, plan=pro`.
    pub fn name(&self) -> String {
        self.segment
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// How each derived metric was computed: `{metric: method}` in JSON, in walk order. Read
/// from the explanation as it is written, so it costs no copy.
#[derive(Clone, Copy)]
pub struct Methods<'a> {
    nodes: &'a [Node],
    tree: &'a MetricTree,
}

impl std::fmt::Debug for Methods<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|m| (m.metric, m.method)))
            .finish()
    }
}

/// How one derived metric's shares (and the limit under its unchanged inputs) were computed.
#[derive(Debug)]
pub struct MethodOf<'a> {
    /// The metric's id.
    pub metric: &'a str,
    /// The method's name.
    pub method: Cow<'static, str>,
    /// Whether it is exact (to rounding).
    pub exact: bool,
}

impl<'a> Methods<'a> {
    /// Every derived metric's method, in walk order.
    pub fn iter(&self) -> impl Iterator<Item = MethodOf<'a>> + 'a {
        let tree = self.tree;
        self.nodes.iter().filter_map(move |n| {
            let method = n.method?;
            Some(MethodOf {
                metric: &tree.metric(n.metric).id,
                method: words::method(method, n.limit),
                exact: method.is_exact_with(n.limit),
            })
        })
    }
}

impl Serialize for Methods<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter().map(|m| (m.metric, m.method)))
    }
}

/// Why a metric changed between two periods.
#[derive(Debug, Serialize)]
pub struct ExplainReport<'a> {
    /// The tree's id.
    pub tree: &'a str,
    /// The explained metric.
    pub metric: &'a str,
    /// The version of its definition.
    pub definition: String,
    /// The earlier period.
    pub from: String,
    /// The later period.
    pub to: String,
    /// The slice of the data explained, `{dimension: value}`; absent for all of it.
    #[serde(rename = "where", skip_serializing_if = "Slice::is_empty")]
    pub slice: &'a Slice,
    /// What `before` is, when a baseline was asked for (`--against`): then `from` names it.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "against_json"
    )]
    pub against: Option<Against>,
    /// Value in `from` (`null` if it has none, with `reason`).
    pub before: Option<f64>,
    /// Value in `to`.
    pub after: Option<f64>,
    /// `after - before`.
    pub change: Option<f64>,
    /// Why there is no explanation, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The attribution method.
    pub method: &'static str,
    /// How each derived metric under the explained one was computed, in walk order.
    pub methods: Methods<'a>,
    /// The direct inputs' contributions, largest first; they sum to `change`.
    pub contributions: Vec<Contribution<'a>>,
    /// The leaves' contributions, largest first; they sum to `change`.
    pub leaves: Vec<Contribution<'a>>,
    /// Flat metrics hiding opposite movements beneath them.
    pub offsetting: Vec<OffsettingReport<'a>>,
    /// Each segment's contribution, largest first; they sum to `change`.
    pub segments: Vec<SegmentReport>,
    /// Why segments could not be split, when the data has segments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub segments_note: Option<String>,
    /// When asked for ([`ExplainReport::add_slices`]): the slices that explain the change,
    /// largest change first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slices: Option<Vec<SliceReport>>,
    /// Why no slice is named, when slices were asked for and none is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slices_note: Option<String>,
}

/// One slice of the data and its part of the change.
#[derive(Debug, Serialize)]
pub struct SliceReport {
    /// Its conditions, as dimension -> value in the data's order.
    #[serde(rename = "where")]
    pub slice: Slice,
    /// The change of its segments (a segment in two slices counts once).
    pub change: f64,
    /// `change` over the metric's change (`null` when the metric did not change).
    pub share: Option<f64>,
    /// How many segments it counts.
    pub segments: usize,
    /// For ratio metrics: the part due to the slice's weight changing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mix: Option<f64>,
    /// For ratio metrics: the part due to the slice's rate changing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

fn sorted<'a>(
    eval: &'a Evaluation<'_>,
    items: impl Iterator<Item = (MetricId, f64)>,
) -> Vec<Contribution<'a>> {
    let mut v: Vec<(MetricId, f64)> = items.collect();
    rank(&mut v);
    v.into_iter()
        .map(|(m, c)| Contribution {
            id: m,
            metric: eval.id(m),
            contribution: c,
        })
        .collect()
}

/// The report of an explanation, or of why there is none.
pub fn explain_report<'e>(
    eval: &'e Evaluation<'_>,
    metric: MetricId,
    from: Period,
    to: Period,
    explanation: Result<&'e Explanation, String>,
) -> ExplainReport<'e> {
    let tree: &'e MetricTree = eval.tree();
    let mut report = ExplainReport {
        tree: tree.id(),
        metric: &tree.metric(metric).id,
        definition: Definition::of(tree, metric).version(),
        from: from.to_string(),
        to: to.to_string(),
        slice: eval.slice(),
        against: None,
        before: eval.total(metric, from).ok(),
        after: eval.total(metric, to).ok(),
        change: None,
        reason: None,
        method: METHOD,
        methods: Methods { nodes: &[], tree },
        contributions: vec![],
        leaves: vec![],
        offsetting: vec![],
        segments: vec![],
        segments_note: None,
        slices: None,
        slices_note: None,
    };
    let e = match explanation {
        Ok(e) => e,
        Err(reason) => {
            report.reason = Some(reason);
            return report;
        }
    };
    let root = e.root();
    report.change = Some(root.change);
    report.methods = Methods {
        nodes: &e.nodes,
        tree,
    };
    report.contributions = sorted(
        eval,
        e.inputs(root).iter().map(|edge| (edge.input, edge.passed)),
    );
    report.leaves = sorted(eval, e.leaves().map(|n| (n.metric, n.contribution)));
    report.offsetting = e
        .offsetting
        .iter()
        .map(|o| OffsettingReport {
            id: o.metric,
            metric: eval.id(o.metric),
            change: o.change,
            inputs: sorted(eval, o.inputs.iter().copied()),
        })
        .collect();
    match &e.segments {
        Segments::Unsegmented => {}
        Segments::NotAdditive(why) => report.segments_note = Some(words::unsplit(*why, tree)),
        Segments::Split(shares) => {
            report.segments = shares
                .iter()
                .map(|s| SegmentReport {
                    segment: eval
                        .dimensions()
                        .iter()
                        .cloned()
                        .zip(eval.segments()[s.segment].iter().cloned())
                        .collect(),
                    contribution: s.contribution,
                    mix: s.mix,
                    rate: s.rate,
                })
                .collect()
        }
    }
    report
}

impl ExplainReport<'_> {
    /// Adds the slices that explain the change (nothing when there is no explanation).
    pub fn add_slices(
        &mut self,
        eval: &Evaluation<'_>,
        metric: MetricId,
        from: Period,
        to: Period,
    ) {
        if self.change.is_none() {
            return;
        }
        let found = canopy_evaluator::slices(eval, metric, from, to);
        self.slices_note = words::slices_note(&found, eval.tree());
        let Slices::Found(found) = found else {
            self.slices = Some(vec![]);
            return;
        };
        self.slices = Some(
            found
                .into_iter()
                .map(|s| SliceReport {
                    slice: s.slice,
                    change: s.change,
                    share: s.share,
                    segments: s.segments,
                    mix: s.mix,
                    rate: s.rate,
                })
                .collect(),
        );
    }

    /// The size of the numbers this explanation was computed from, in the metric's unit:
    /// the largest magnitude among its values, contributions and segments' parts. Text says
    /// `0` for a number under [`crate::format::RESIDUE`] times this (rounding, not data).
    pub fn scale(&self) -> f64 {
        let segments = self
            .segments
            .iter()
            .flat_map(|s| [Some(s.contribution), s.mix, s.rate]);
        [self.before, self.after]
            .into_iter()
            .chain(self.contributions.iter().map(|c| Some(c.contribution)))
            .chain(self.leaves.iter().map(|c| Some(c.contribution)))
            .chain(segments)
            .flatten()
            .filter(|v| v.is_finite())
            .fold(0.0, |m, v| m.max(v.abs()))
    }

    /// Appends the report to `out` as compact JSON: the same bytes `serde_json` makes of it,
    /// several times faster, for `explain --each` over thousands of leaves.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"tree\":");
        string(out, self.tree);
        out.extend_from_slice(b",\"metric\":");
        string(out, self.metric);
        out.extend_from_slice(b",\"definition\":");
        string(out, &self.definition);
        out.extend_from_slice(b",\"from\":");
        string(out, &self.from);
        out.extend_from_slice(b",\"to\":");
        string(out, &self.to);
        if !self.slice.is_empty() {
            out.extend_from_slice(b",\"where\":");
            serde_json::to_writer(&mut *out, self.slice).expect("writing to memory");
        }
        if let Some(against) = &self.against {
            out.extend_from_slice(b",\"against\":");
            serde_json::to_writer(&mut *out, &AgainstJson::of(against)).expect("writing to memory");
        }
        out.extend_from_slice(b",\"before\":");
        number(out, self.before);
        out.extend_from_slice(b",\"after\":");
        number(out, self.after);
        out.extend_from_slice(b",\"change\":");
        number(out, self.change);
        if let Some(reason) = &self.reason {
            out.extend_from_slice(b",\"reason\":");
            string(out, reason);
        }
        out.extend_from_slice(b",\"method\":");
        string(out, self.method);
        out.extend_from_slice(b",\"methods\":{");
        for (i, m) in self.methods.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            identifier(out, m.metric);
            out.push(b':');
            string(out, &m.method);
        }
        out.push(b'}');
        out.extend_from_slice(b",\"contributions\":");
        contributions(out, &self.contributions);
        out.extend_from_slice(b",\"leaves\":");
        contributions(out, &self.leaves);
        out.extend_from_slice(b",\"offsetting\":");
        array(out, &self.offsetting, |out, o| {
            out.extend_from_slice(b"{\"metric\":");
            identifier(out, o.metric);
            out.extend_from_slice(b",\"change\":");
            number(out, Some(o.change));
            out.extend_from_slice(b",\"inputs\":");
            contributions(out, &o.inputs);
            out.push(b'}');
        });
        out.extend_from_slice(b",\"segments\":");
        // Few and irregular: serde writes these.
        serde_json::to_writer(&mut *out, &self.segments).expect("writing to memory");
        if let Some(note) = &self.segments_note {
            out.extend_from_slice(b",\"segments_note\":");
            string(out, note);
        }
        if let Some(slices) = &self.slices {
            out.extend_from_slice(b",\"slices\":");
            serde_json::to_writer(&mut *out, slices).expect("writing to memory");
        }
        if let Some(note) = &self.slices_note {
            out.extend_from_slice(b",\"slices_note\":");
            string(out, note);
        }
        out.push(b'}');
    }
}

/// A JSON array of `items`, each written by `item`.
fn array<T>(out: &mut Vec<u8>, items: &[T], mut item: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item(out, x);
    }
    out.push(b']');
}

fn contributions(out: &mut Vec<u8>, items: &[Contribution<'_>]) {
    array(out, items, |out, c| {
        out.extend_from_slice(b"{\"metric\":");
        identifier(out, c.metric);
        out.extend_from_slice(b",\"contribution\":");
        number(out, Some(c.contribution));
        out.push(b'}');
    });
}

/// A metric id as a JSON string: ids are identifiers (letters, digits, `_`), which the
/// engine guarantees, so they need no escapes and no check.
fn identifier(out: &mut Vec<u8>, id: &str) {
    debug_assert!(
        id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "{id}"
    );
    out.reserve(id.len() + 2);
    out.push(b'"');
    out.extend_from_slice(id.as_bytes());
    out.push(b'"');
}

/// A JSON string: copied as it is when it needs no escapes (periods, tree ids, methods).
fn string(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("writing to memory");
    }
}

/// A JSON number as `serde_json` writes it (`null` for none, and for non-finite values).
fn number(out: &mut Vec<u8>, v: Option<f64>) {
    use serde_json::ser::Formatter;
    match v {
        Some(v) if v.is_finite() => serde_json::ser::CompactFormatter
            .write_f64(out, v)
            .expect("writing to memory"),
        _ => out.extend_from_slice(b"null"),
    }
}
