//! The validated metric tree: metrics, their formulas and owners, and the DAG between them.
//!
//! A [`MetricTree`] can only be built by the loader, after every rule has passed, so code that
//! holds one may rely on: every formula name resolves, the graph is acyclic, every metric is
//! reachable from the root, and every metric has exactly one accountable, existing person.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;

use crate::bands::{Bands, Good};
use crate::diagnostic::Location;
use crate::formula::{Expr, Program, Undefined};
use crate::raci::{Person, Raci};

/// A metric's index in its tree. Stable for the life of the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricId(u32);

impl MetricId {
    /// The index as a `usize`, for per-metric vectors.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    fn node(self) -> NodeIndex {
        NodeIndex::new(self.index())
    }
}

/// The length of a period: the tree is evaluated once per period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grain {
    /// A calendar day, `2026-11-23`.
    Day,
    /// An ISO week, `2026-W47`.
    Week,
    /// A calendar month, `2026-11`.
    Month,
    /// A calendar quarter, `2026-Q4`.
    Quarter,
}

impl Grain {
    /// The names a tree file uses, in the order of [`Grain::ALL`].
    pub const NAMES: [&'static str; 4] = ["day", "week", "month", "quarter"];
    /// Every grain, shortest first.
    pub const ALL: [Grain; 4] = [Grain::Day, Grain::Week, Grain::Month, Grain::Quarter];

    /// The name a tree file uses.
    pub fn name(self) -> &'static str {
        Grain::NAMES[self as usize]
    }
}

impl fmt::Display for Grain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// When a metric counts as having moved. Tree-level `alerts:` give defaults that each metric
/// may override key by key.
#[derive(Clone, Debug, PartialEq)]
pub struct Alerts {
    /// A move when `|change| >= change_pct` percent of the previous value; `None` disables.
    pub change_pct: Option<f64>,
    /// A move when `|change| >= change_abs`, in the metric's unit; `None` disables. When set,
    /// it is also the least change `change_pct` fires on, so that a move from near zero is
    /// not a large percentage of noise.
    pub change_abs: Option<f64>,
    /// A move when the value enters another band.
    pub bands: bool,
    /// A move when the robust z-score against recent history reaches this; `None` disables.
    pub anomaly_z: Option<f64>,
    /// How many previous periods the anomaly rule looks at.
    pub history: u32,
    /// A move when the value crosses the metric's target.
    pub target: bool,
    /// Remind the owner after this many runs in a bad state (off target, or in the worst
    /// band) without another alert; `None` never reminds.
    pub remind_after: Option<u32>,
    /// A move when a segment changed by at least this percent; `None` disables.
    pub segments: Option<f64>,
    /// A move is sent only where this holds in the period (a volume guard).
    pub only_if: Option<Guard>,
    /// What a period is compared with to tell a move: the period before, or the same
    /// period a year before (for seasonal metrics).
    pub compare: Compare,
}

/// A volume guard: `attempts >= 10`, compiled as the formula that is 1 where it holds, 0
/// where it does not, and has no value where a side has none.
#[derive(Clone, Debug)]
pub struct Guard {
    /// The condition as written.
    pub text: String,
    /// The condition, compiled over the tree's metrics.
    pub formula: Formula,
}

/// Two guards of one tree are the same condition when they are written alike.
impl PartialEq for Guard {
    fn eq(&self, other: &Guard) -> bool {
        self.text == other.text
    }
}

/// What a metric's value is compared with (`alerts: { compare: ... }`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compare {
    /// The period before.
    #[default]
    Previous,
    /// The same period a year before (`Period::year_before`).
    Year,
}

impl Compare {
    /// The names written in a tree file (`compare: year`).
    pub const NAMES: [&'static str; 2] = ["previous", "year"];
    /// The kinds, in the order of [`Compare::NAMES`].
    pub const ALL: [Compare; 2] = [Compare::Previous, Compare::Year];

    /// The name written in a tree file and in JSON.
    pub fn name(self) -> &'static str {
        Compare::NAMES[self as usize]
    }
}

impl Default for Alerts {
    fn default() -> Alerts {
        Alerts {
            change_pct: Some(10.0),
            change_abs: None,
            bands: true,
            anomaly_z: Some(3.5),
            history: 8,
            target: true,
            remind_after: Some(4),
            segments: None,
            only_if: None,
            compare: Compare::Previous,
        }
    }
}

/// How a metric's changes are told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeIn {
    /// In percent of the previous value: items 100 -> 110 is +10%.
    Relative,
    /// In points: a completion rate of 83% -> 65% is -18 pts, not -22%.
    Points,
}

impl ChangeIn {
    /// The names written in a tree file (`change: points`).
    pub const NAMES: [&'static str; 2] = ["relative", "points"];
    /// The kinds, in the order of [`ChangeIn::NAMES`].
    pub const ALL: [ChangeIn; 2] = [ChangeIn::Relative, ChangeIn::Points];

    /// The name written in a tree file and in JSON.
    pub fn name(self) -> &'static str {
        ChangeIn::NAMES[self as usize]
    }

    /// Points for percentages and scores (a `unit:` whose first word is `%`, `pct`,
    /// `percent`, `pts`, `points` or `score`), else relative.
    pub fn of_unit(unit: Option<&str>) -> ChangeIn {
        // The unit's first word: `% of responses` and `points (-100 to 100)` count.
        let first = unit.unwrap_or("").split_whitespace().next().unwrap_or("");
        match first.to_lowercase().as_str() {
            "%" | "pct" | "percent" | "pts" | "points" | "score" => ChangeIn::Points,
            _ => ChangeIn::Relative,
        }
    }
}

/// Where a leaf's values come from, besides CSV data: a query, with `{start}` and `{end}`
/// bound by the server's own parameters (or typed literals), never pasted as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The named connection it runs on; `None` for the databases given by `--data`.
    pub connection: Option<String>,
    /// The language of the query, as its key in `source:` says.
    pub language: crate::Language,
    /// The query as written.
    pub query: String,
}

impl Source {
    /// The source as definitions and messages write it: `sql: QUERY`, or with a connection
    /// `jql on jira: QUERY`.
    pub fn describe(&self, query: &str) -> String {
        match &self.connection {
            None => format!("{}: {query}", self.language.key()),
            Some(c) => format!("{} on {c}: {query}", self.language.key()),
        }
    }
}

/// A derived metric's formula, compiled: variables are slots into [`Formula::inputs`], params
/// are folded to numbers.
#[derive(Clone, Debug)]
pub struct Formula {
    text: String,
    expr: Expr<usize>,
    program: Program,
    inputs: Vec<MetricId>,
}

impl Formula {
    pub(crate) fn new(text: String, expr: Expr<usize>, inputs: Vec<MetricId>) -> Formula {
        let program = Program::new(&expr);
        Formula {
            text,
            expr,
            program,
            inputs,
        }
    }

    /// A formula over `inputs` inputs numbered `0..inputs` that belong to no tree, for
    /// testing the maths of formulas alone. Inputs the expression does not read are players
    /// all the same.
    #[doc(hidden)]
    pub fn for_tests(text: &str, expr: Expr<usize>, inputs: usize) -> Formula {
        Formula {
            text: text.to_string(),
            program: Program::new(&expr),
            expr,
            inputs: (0..inputs as u32).map(MetricId).collect(),
        }
    }

    /// The formula as written in the tree file.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The compiled expression; `Var(i)` is the value of `inputs()[i]`.
    pub fn expr(&self) -> &Expr<usize> {
        &self.expr
    }

    /// The compiled expression as a program, for evaluating many points at once.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The metrics the formula reads, each once, in order of first appearance.
    pub fn inputs(&self) -> &[MetricId] {
        &self.inputs
    }

    /// Evaluates the formula with `values[i]` for input `i`.
    pub fn eval(&self, values: &[f64]) -> Result<f64, Undefined> {
        self.expr.eval(&|&i| values[i])
    }
}

/// One metric of a tree.
#[derive(Clone, Debug)]
pub struct Metric {
    /// The metric's id: unique in its tree, usable in formulas.
    pub id: String,
    /// Display title; the id when the file gives none.
    pub title: String,
    /// Free text.
    pub description: Option<String>,
    /// Unit, for display ("items per active user").
    pub unit: Option<String>,
    /// How its changes are told: in points (a percentage or a score) or relative (in percent).
    pub change: ChangeIn,
    /// The formula, for a derived metric; `None` for a leaf, whose values come from data.
    pub formula: Option<Formula>,
    /// Where a leaf's values come from when not from CSV.
    pub source: Option<Source>,
    /// Which direction is an improvement, if the file says.
    pub good: Option<Good>,
    /// The value the owner aims for.
    pub target: Option<f64>,
    /// Named value ranges.
    pub bands: Bands,
    /// Ownership.
    pub raci: Raci,
    /// When the metric counts as having moved.
    pub alerts: Alerts,
    /// Where the metric is defined.
    pub location: Location,
}

impl Metric {
    /// Whether `value` meets the metric's target (at or above it, or at or below it when
    /// lower is better); `None` without a target.
    pub fn meets_target(&self, value: f64) -> Option<bool> {
        let target = self.target?;
        Some(match self.good {
            Some(Good::Down) => value <= target,
            _ => value >= target,
        })
    }

    /// Whether the metric's values come from data rather than a formula.
    pub fn is_leaf(&self) -> bool {
        self.formula.is_none()
    }
}

/// A validated metric tree.
#[derive(Clone, Debug)]
pub struct MetricTree {
    pub(crate) id: String,
    /// The id as the tree file writes it (a slice's tree is kept under another).
    pub(crate) written_id: String,
    pub(crate) id_location: Location,
    pub(crate) title: String,
    pub(crate) description: Option<String>,
    pub(crate) grain: Grain,
    pub(crate) root: MetricId,
    pub(crate) path: Arc<Path>,
    pub(crate) people: BTreeMap<String, Person>,
    pub(crate) connections: BTreeMap<String, crate::Connection>,
    pub(crate) metrics: Vec<Metric>,
    pub(crate) index: HashMap<String, MetricId>,
    /// Edges point from a metric to the inputs of its formula.
    pub(crate) graph: DiGraph<MetricId, ()>,
    /// Every metric after all of its inputs.
    pub(crate) topo: Vec<MetricId>,
    pub(crate) changes: Vec<crate::change::Change>,
}

impl MetricTree {
    /// This tree for one slice of its data, kept under `id`: the same metrics, so that what a
    /// run of the slice records, sends and writes is kept apart from the whole tree's. Its
    /// registered changes are judged on the whole tree only: it has none.
    pub fn for_slice(&self, id: String) -> MetricTree {
        MetricTree {
            id,
            changes: Vec::new(),
            ..self.clone()
        }
    }

    /// The id as the tree file writes it: [`MetricTree::id`], but for a slice's tree (see
    /// [`MetricTree::for_slice`]) the whole tree's.
    pub fn written_id(&self) -> &str {
        &self.written_id
    }

    /// The tree's id, unique among trees.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the tree's id is written.
    pub fn id_location(&self) -> &Location {
        &self.id_location
    }

    /// The tree's title; its id when the file gives none.
    pub fn title(&self) -> &str {
        &self.title
    }

    /// Free text describing the tree.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The file the tree was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The period length.
    pub fn grain(&self) -> Grain {
        self.grain
    }

    /// The north-star metric.
    pub fn root(&self) -> MetricId {
        self.root
    }

    /// How many metrics the tree has.
    pub fn len(&self) -> usize {
        self.metrics.len()
    }

    /// Whether the tree has no metrics (never true of a validated tree, which has a root).
    pub fn is_empty(&self) -> bool {
        self.metrics.is_empty()
    }

    /// The metric with index `id`.
    pub fn metric(&self, id: MetricId) -> &Metric {
        &self.metrics[id.index()]
    }

    /// The metric called `name`.
    pub fn find(&self, name: &str) -> Option<MetricId> {
        self.index.get(name).copied()
    }

    /// Every metric id, in file order.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = MetricId> + '_ {
        (0..self.metrics.len() as u32).map(MetricId)
    }

    /// Every metric after all of its inputs: the order to evaluate in.
    pub fn topological_order(&self) -> &[MetricId] {
        &self.topo
    }

    /// The metrics `id`'s formula reads (its children in the tree).
    pub fn inputs(&self, id: MetricId) -> &[MetricId] {
        self.metric(id)
            .formula
            .as_ref()
            .map_or(&[], Formula::inputs)
    }

    /// The metrics whose formulas read `id` (its parents; several in a DAG).
    pub fn parents(&self, id: MetricId) -> impl Iterator<Item = MetricId> + '_ {
        self.graph
            .neighbors_directed(id.node(), Direction::Incoming)
            .map(|n| self.graph[n])
    }

    /// `id` and every metric under it, each once, parents before their inputs: what `id`'s
    /// values are computed from.
    pub fn under(&self, id: MetricId) -> Vec<MetricId> {
        let mut seen = vec![false; self.metrics.len()];
        let mut stack = vec![id];
        let mut out = Vec::new();
        while let Some(m) = stack.pop() {
            if !std::mem::replace(&mut seen[m.index()], true) {
                out.push(m);
                stack.extend(self.inputs(m).iter().rev());
            }
        }
        out
    }

    /// The changes registered to be verified, in the file's order.
    pub fn changes(&self) -> &[crate::change::Change] {
        &self.changes
    }

    /// What checking changes needs of the tree.
    pub(crate) fn known(&self) -> crate::change::Known<'_> {
        crate::change::Known {
            grain: self.grain,
            index: &self.index,
            names: self.metrics.iter().map(|m| m.id.as_str()).collect(),
            people: &self.people,
            accountable: self
                .metrics
                .iter()
                .map(|m| m.raci.accountable.as_str())
                .collect(),
        }
    }

    /// The people of the tree, by id.
    pub fn people(&self) -> &BTreeMap<String, Person> {
        &self.people
    }

    /// The connections the tree declares, by name.
    pub fn connections(&self) -> &BTreeMap<String, crate::Connection> {
        &self.connections
    }

    /// The person with key `id`. Every id in a validated RACI resolves.
    pub fn person(&self, id: &str) -> &Person {
        &self.people[id]
    }

    /// The person accountable for `id`.
    pub fn accountable(&self, id: MetricId) -> &Person {
        self.person(&self.metric(id).raci.accountable)
    }

    pub(crate) fn metric_id(index: usize) -> MetricId {
        MetricId(index as u32)
    }
}
