//! Changes a team shipped, registered in the tree (`changes:`) so that Canopy can verify
//! whether they moved the metric they were meant to: decoding, checking and the model.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::bands::Good;
use crate::decode::{Decoder, Spanned};
use crate::diagnostic::{Location, Span};
use crate::keys::{ChangeKey, ControlsKey, ExpectKey, Keys, WindowKey};
use crate::model::{Grain, MetricId};
use crate::period::Period;
use crate::raci::Person;
use crate::yaml::{Kind, Node};

/// The fewest baseline periods a change's window may have.
pub const MIN_BASELINE: u32 = 12;

/// The most periods any part of a window may have (ten years of weeks).
const MAX_WINDOW: u32 = 520;

/// The periods around a ship date: the ramp skipped after it, the evaluation periods after
/// that, and the baseline periods before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Periods after shipping left out while the change ramps up (default 1).
    pub ramp: usize,
    /// Periods evaluated after the ramp (default 6).
    pub periods: usize,
    /// Periods before shipping the effect is measured against (default 26).
    pub baseline: usize,
}

impl Default for Window {
    fn default() -> Window {
        Window {
            ramp: 1,
            periods: 6,
            baseline: 26,
        }
    }
}

impl Window {
    /// The first evaluated period of a change shipped in `shipped`.
    pub fn first_evaluated(&self, shipped: Period) -> Period {
        shipped.offset(self.ramp as i32)
    }

    /// The last evaluated period: the verdict is due once it is complete.
    pub fn last_evaluated(&self, shipped: Period) -> Period {
        shipped.offset((self.ramp + self.periods) as i32 - 1)
    }
}

/// What the series the change did not touch is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Controls {
    /// None declared: the segments outside `scope` if it has one (kept only where they
    /// track the metric), else none.
    Default,
    /// The metric in these segments: values of each dimension.
    Segments(Vec<(String, Vec<String>)>),
    /// Other metrics, regressed on.
    Metrics(Vec<MetricId>),
}

/// A change shipped to move a metric.
#[derive(Clone, Debug)]
pub struct Change {
    /// Its id, unique in the tree.
    pub id: String,
    /// Its title (the id when none is given).
    pub title: String,
    /// The metric it was meant to move.
    pub metric: MetricId,
    /// The first full period it was live.
    pub shipped: Period,
    /// Which way it should move the metric.
    pub direction: Good,
    /// By how much, as a fraction (0.05 for 5%), if said.
    pub size: Option<f64>,
    /// Who answers for it: a person id (the metric's accountable by default).
    pub owner: String,
    /// The periods around the ship date.
    pub window: Window,
    /// The segment it shipped to (dimension, value), empty for everyone.
    pub scope: Vec<(String, String)>,
    /// The control series.
    pub controls: Controls,
    /// Metrics that must not get worse.
    pub guardrails: Vec<MetricId>,
    /// Where its entry is.
    pub location: Location,
}

/// A change as written.
pub(crate) struct ChangeSpec {
    span: Span,
    id: Option<Spanned<String>>,
    title: Option<String>,
    metric: Option<Spanned<String>>,
    shipped: Option<Spanned<String>>,
    direction: Option<Good>,
    size: Option<f64>,
    owner: Option<Spanned<String>>,
    window: Window,
    scope: Vec<(String, String)>,
    segments: Option<Vec<(String, Vec<String>)>>,
    control_metrics: Option<Vec<Spanned<String>>>,
    guardrails: Vec<Spanned<String>>,
}

/// Changes inline (a list) or a path to a file holding the list.
pub(crate) enum ChangesSpec {
    Inline(Vec<ChangeSpec>),
    File(Spanned<String>),
}

impl Decoder<'_> {
    /// `changes:` as written: a list, or a file name.
    pub(crate) fn changes(&mut self, node: &Node) -> Option<ChangesSpec> {
        if let Kind::Scalar(_) = node.kind {
            return self
                .spanned_string(node, "`changes`")
                .map(ChangesSpec::File);
        }
        self.change_list(node).map(ChangesSpec::Inline)
    }

    /// A list of changes: the inline form, and a changes file's body.
    pub(crate) fn change_list(&mut self, node: &Node) -> Option<Vec<ChangeSpec>> {
        let Kind::Seq(items) = &node.kind else {
            self.expected(node, "`changes`", "a list of changes, or a file name");
            return None;
        };
        Some(items.iter().filter_map(|i| self.change(i)).collect())
    }

    fn change(&mut self, node: &Node) -> Option<ChangeSpec> {
        let entries = self.mapping::<ChangeKey>(node, "a change")?;
        let mut spec = ChangeSpec {
            span: node.span,
            id: None,
            title: None,
            metric: None,
            shipped: None,
            direction: None,
            size: None,
            owner: None,
            window: Window::default(),
            scope: Vec::new(),
            segments: None,
            control_metrics: None,
            guardrails: Vec::new(),
        };
        for (key, _, v) in entries {
            let what = format!("a change's `{}`", key.name());
            match key {
                ChangeKey::Id => spec.id = self.spanned_string(v, &what),
                ChangeKey::Title => spec.title = self.string(v, &what),
                ChangeKey::Metric => spec.metric = self.spanned_string(v, &what),
                ChangeKey::Shipped => spec.shipped = self.spanned_string(v, &what),
                ChangeKey::Expect => self.expect(v, &mut spec),
                ChangeKey::Owner => spec.owner = self.spanned_string(v, &what),
                ChangeKey::Window => spec.window = self.window(v),
                ChangeKey::Scope => spec.scope = self.scope(v),
                ChangeKey::Controls => self.controls(v, &mut spec),
                ChangeKey::Guardrails => spec.guardrails = self.id_list(v, &what),
            }
        }
        if spec.id.is_none() {
            let help = "add `id: <name>`, unique among the tree's changes";
            self.error_help(node.span, "a change has no `id`", help);
        }
        Some(spec)
    }

    fn expect(&mut self, node: &Node, spec: &mut ChangeSpec) {
        let Some(entries) = self.mapping::<ExpectKey>(node, "a change's `expect`") else {
            return;
        };
        for (key, _, v) in entries {
            match key {
                ExpectKey::Direction => {
                    spec.direction = self
                        .choice(v, "`direction` in `expect`", &Good::NAMES)
                        .map(|i| Good::ALL[i]);
                }
                ExpectKey::Size => spec.size = self.size(v),
            }
        }
    }

    /// A relative size: `5%` or `0.05`, positive.
    fn size(&mut self, node: &Node) -> Option<f64> {
        let text = match &node.kind {
            Kind::Scalar(s) if !s.is_null() => s.text.trim(),
            _ => "",
        };
        let parsed = match text.strip_suffix('%') {
            Some(pct) => pct.trim().parse::<f64>().ok().map(|p| p / 100.0),
            None => text.parse::<f64>().ok(),
        };
        match parsed {
            Some(size) if size.is_finite() && size > 0.0 => Some(size),
            _ => {
                let what = "`size` in `expect`";
                self.expected(node, what, "a positive size like 5% or 0.05");
                None
            }
        }
    }

    fn window(&mut self, node: &Node) -> Window {
        let mut window = Window::default();
        let Some(entries) = self.mapping::<WindowKey>(node, "a change's `window`") else {
            return window;
        };
        for (key, _, v) in entries {
            let least = match key {
                WindowKey::Ramp => 0,
                WindowKey::Periods => 1,
                WindowKey::Baseline => MIN_BASELINE,
            };
            let name = key.name();
            let Some(n) = self.number(v, &format!("`{name}` in `window`")) else {
                continue;
            };
            if n.fract() != 0.0 || n < least as f64 || n > MAX_WINDOW as f64 {
                let message = format!("`{name}` in `window` must be a whole number of periods from {least} to {MAX_WINDOW}");
                let help = match key {
                    WindowKey::Baseline => "a verdict needs a baseline of at least 12 periods before shipping; 26 is the default",
                    WindowKey::Ramp | WindowKey::Periods => "the defaults are ramp: 1, periods: 6, baseline: 26",
                };
                self.error_help(v.span, message, help);
                continue;
            }
            let n = n as usize;
            match key {
                WindowKey::Ramp => window.ramp = n,
                WindowKey::Periods => window.periods = n,
                WindowKey::Baseline => window.baseline = n,
            }
        }
        window
    }

    /// `scope: { dimension: value }`.
    fn scope(&mut self, node: &Node) -> Vec<(String, String)> {
        let Some(entries) = self.entries(node, "a change's `scope`") else {
            return Vec::new();
        };
        entries
            .into_iter()
            .filter_map(|(dim, _, v)| {
                let value = self.string(v, &format!("`{dim}` in `scope`"))?;
                Some((dim.to_string(), value))
            })
            .collect()
    }

    fn controls(&mut self, node: &Node, spec: &mut ChangeSpec) {
        let Some(entries) = self.mapping::<ControlsKey>(node, "a change's `controls`") else {
            return;
        };
        if entries.len() > 1 {
            let help = "compare with other segments of the metric, or with other metrics";
            self.error_help(
                node.span,
                "`controls` has both `segments` and `metrics`",
                help,
            );
        }
        for (key, _, v) in entries {
            if key == ControlsKey::Metrics {
                spec.control_metrics = Some(self.id_list(v, "`metrics` in `controls`"));
                continue;
            }
            let Some(dims) = self.entries(v, "`segments` in `controls`") else {
                continue;
            };
            let segments = dims
                .into_iter()
                .map(|(dim, _, values)| {
                    let what = format!("`{dim}` in `controls`");
                    let values = self.id_list(values, &what);
                    (
                        dim.to_string(),
                        values.into_iter().map(|v| v.value).collect(),
                    )
                })
                .collect();
            spec.segments = Some(segments);
        }
    }

    /// A name or a list of names.
    fn id_list(&mut self, node: &Node, what: &str) -> Vec<Spanned<String>> {
        match &node.kind {
            Kind::Seq(items) => items
                .iter()
                .filter_map(|i| self.spanned_string(i, what))
                .collect(),
            _ => self.spanned_string(node, what).into_iter().collect(),
        }
    }
}

/// What checking changes needs of the tree.
pub(crate) struct Known<'a> {
    pub(crate) grain: Grain,
    pub(crate) index: &'a HashMap<String, MetricId>,
    pub(crate) names: Vec<&'a str>,
    pub(crate) people: &'a BTreeMap<String, Person>,
    /// Each metric's accountable person, by metric.
    pub(crate) accountable: Vec<&'a str>,
}

/// Checks every change against the tree and builds them; a change with a problem is left out
/// (the problem makes the tree invalid).
pub(crate) fn validate(
    dec: &mut Decoder<'_>,
    specs: Vec<ChangeSpec>,
    known: &Known<'_>,
) -> Vec<Change> {
    let mut seen = HashSet::new();
    let mut changes = Vec::new();
    for spec in specs {
        if let Some(id) = &spec.id {
            if !seen.insert(id.value.clone()) {
                let help = "each change needs an id of its own";
                dec.error_help(
                    id.span,
                    format!("a second change with id `{}`", id.value),
                    help,
                );
            }
        }
        if let Some(change) = change(dec, spec, known) {
            changes.push(change);
        }
    }
    changes
}

fn change(dec: &mut Decoder<'_>, spec: ChangeSpec, known: &Known<'_>) -> Option<Change> {
    let errors = dec.errors();
    let what = spec.id.as_ref().map_or("a change".to_string(), |id| {
        format!("change `{}`", id.value)
    });
    let metric = match &spec.metric {
        Some(name) => named(dec, name, known, "metric"),
        None => {
            let help = "add `metric: <id>`, the metric the change was meant to move";
            dec.error_help(spec.span, format!("{what} has no `metric`"), help);
            None
        }
    };
    let shipped = match &spec.shipped {
        Some(text) => shipped(dec, text, known.grain),
        None => {
            let help = format!(
                "add `shipped: <period>`, the first full {} it was live",
                known.grain
            );
            dec.error_help(spec.span, format!("{what} has no `shipped` period"), help);
            None
        }
    };
    if spec.direction.is_none() {
        let help =
            "add `expect: { direction: up }` (or down), and a `size` like 5% if you have one";
        dec.error_help(
            spec.span,
            format!("{what} does not say which way it should move the metric"),
            help,
        );
    }
    if let Some(owner) = &spec.owner {
        if !known.people.contains_key(&owner.value) {
            let names: Vec<&str> = known.people.keys().map(String::as_str).collect();
            let help = "people are defined under `people:` (inline or in a people file)";
            crate::validate::unknown(dec, owner, "owner", &names, help);
        }
    }
    let guardrails: Vec<MetricId> = spec
        .guardrails
        .iter()
        .filter_map(|g| named(dec, g, known, "guardrail metric"))
        .collect();
    let controls = match (spec.segments, &spec.control_metrics) {
        (_, Some(names)) => Controls::Metrics(
            names
                .iter()
                .filter_map(|n| named(dec, n, known, "control metric"))
                .collect(),
        ),
        (Some(segments), None) => Controls::Segments(segments),
        (None, None) => Controls::Default,
    };
    if dec.errors() > errors {
        return None;
    }
    let (metric, id) = (metric?, spec.id?);
    Some(Change {
        title: spec.title.unwrap_or_else(|| id.value.clone()),
        location: dec.location(id.span),
        id: id.value,
        metric,
        shipped: shipped?,
        direction: spec.direction?,
        size: spec.size,
        owner: spec.owner.map_or_else(
            || known.accountable[metric.index()].to_string(),
            |o| o.value,
        ),
        window: spec.window,
        scope: spec.scope,
        controls,
        guardrails,
    })
}

fn named(
    dec: &mut Decoder<'_>,
    name: &Spanned<String>,
    known: &Known<'_>,
    what: &str,
) -> Option<MetricId> {
    let found = known.index.get(&name.value).copied();
    if found.is_none() {
        let help = "a change names metrics of its tree";
        crate::validate::unknown(dec, name, what, &known.names, help);
    }
    found
}

/// The ship period, in the tree's grain.
fn shipped(dec: &mut Decoder<'_>, text: &Spanned<String>, grain: Grain) -> Option<Period> {
    match Period::parse_for(&text.value, grain) {
        Ok(p) => Some(p),
        Err(e) => {
            let message = format!("`shipped`: {e}");
            let help = format!(
                "write the first full {grain} the change was live: {}",
                Period::form(grain)
            );
            dec.error_help(text.span, message, help);
            None
        }
    }
}
