//! Evaluation: every metric's value in every period, for the total and for each segment.
//!
//! Metrics are computed in topological order, one formula pass over all periods at once. A
//! value is `ok`, `missing` (some input has no data: never taken as zero) or `undefined`
//! (division by zero, a result that is not a finite real number), and problems carry the
//! metric where they started, so a root that is missing says which leaf has no data.

use canopy_engine::formula::Undefined;
use canopy_engine::{MetricId, MetricTree};
use rustc_hash::FxHashMap;

use crate::data::{Data, SegmentKey, Slice};
use crate::Period;

/// The state of one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// The value is known.
    Ok,
    /// No value, because `leaf` has no data for the period (or segment).
    Missing {
        /// The leaf whose data is missing.
        leaf: MetricId,
    },
    /// No value, because the formula of `at` is undefined for its inputs.
    Undefined {
        /// The metric whose formula failed.
        at: MetricId,
        /// How it failed.
        why: Undefined,
    },
}

canopy_engine::named! {
    /// A status, as reported to users and kept with each value in a history.
    pub enum Status {
        /// The value is known.
        Ok,
        /// An input has no data.
        Missing,
        /// The formula is undefined for its inputs.
        Undefined,
    }
}

impl Cell {
    /// The user-facing status.
    pub fn status(self) -> Status {
        match self {
            Cell::Ok => Status::Ok,
            Cell::Missing { .. } => Status::Missing,
            Cell::Undefined { .. } => Status::Undefined,
        }
    }
}

/// Values and states of every metric over a range of periods, for one slot (total or segment).
/// A value is NaN exactly where its cell is not [`Cell::Ok`]; only those cells are kept.
#[derive(Debug)]
struct Grid {
    values: Vec<f64>,
    problems: FxHashMap<usize, Cell>,
}

impl Grid {
    fn cell(&self, at: usize) -> Cell {
        if self.values[at].is_nan() {
            self.problems[&at]
        } else {
            Cell::Ok
        }
    }
}
/// A tree evaluated over every period of its data.
#[derive(Debug)]
pub struct Evaluation<'t> {
    tree: &'t MetricTree,
    first: Option<Period>,
    len: usize,
    dims: Vec<String>,
    segments: Vec<SegmentKey>,
    /// The slice of the data evaluated (empty: all of it).
    slice: Slice,
    /// Slot 0 is the total, slot `s + 1` segment `s`.
    grids: Vec<Grid>,
    /// The totals period by period (`p * metrics + m`), laid out when first asked for:
    /// explanations read whole periods.
    by_period: std::sync::OnceLock<Vec<f64>>,
    /// Every metric's id in one string, so that reports naming thousands of metrics read
    /// them from one place: metric `m` is `ids[ends[m - 1]..ends[m]]`.
    ids: String,
    ends: Vec<u32>,
}

/// Evaluates `tree` over all the periods of `data`.
pub fn evaluate<'t>(tree: &'t MetricTree, data: &Data) -> Evaluation<'t> {
    assert_eq!(
        data.metric_count(),
        tree.len(),
        "data built for another tree"
    );
    let (mut ids, mut ends) = (String::new(), Vec::with_capacity(tree.len()));
    for id in tree.ids() {
        ids.push_str(&tree.metric(id).id);
        ends.push(ids.len() as u32);
    }
    let grids = (0..data.slot_count())
        .map(|slot| evaluate_slot(tree, data, slot))
        .collect();
    Evaluation {
        tree,
        first: data.first(),
        len: data.len(),
        dims: data.dimensions().to_vec(),
        segments: data.segments().to_vec(),
        slice: data.slice().clone(),
        grids,
        by_period: std::sync::OnceLock::new(),
        ids,
        ends,
    }
}

fn evaluate_slot(tree: &MetricTree, data: &Data, slot: usize) -> Grid {
    let len = data.len();
    let mut grid = Grid {
        values: vec![f64::NAN; tree.len() * len],
        problems: FxHashMap::default(),
    };
    let mut stack = Vec::new();
    let mut troubled = vec![false; len];
    for &m in tree.topological_order() {
        let at = m.index() * len;
        let Some(formula) = &tree.metric(m).formula else {
            let row = data.row(slot, m);
            grid.values[at..at + len].copy_from_slice(row);
            for (p, v) in row.iter().enumerate() {
                if v.is_nan() {
                    grid.problems.insert(at + p, Cell::Missing { leaf: m });
                }
            }
            continue;
        };
        let values = &grid.values;
        let mut load = |slot: usize, out: &mut [f64]| {
            let i = formula.inputs()[slot].index();
            out.copy_from_slice(&values[i * len..(i + 1) * len]);
        };
        let out = formula.program().eval(len, &mut load, &mut stack);
        // Periods where an input has a problem; the others are ok if the result is finite.
        troubled.fill(false);
        for i in formula.inputs() {
            let input = &grid.values[i.index() * len..(i.index() + 1) * len];
            for (t, v) in troubled.iter_mut().zip(input) {
                *t |= v.is_nan();
            }
        }
        for (p, &v) in out.iter().enumerate() {
            let cell = if troubled[p] {
                // An input's problem is passed up as it is, naming where it started.
                formula
                    .inputs()
                    .iter()
                    .map(|i| grid.cell(i.index() * len + p))
                    .find(|c| *c != Cell::Ok)
                    .expect("an input has a problem")
            } else if v.is_finite() {
                grid.values[at + p] = v;
                continue;
            } else {
                let point: Vec<f64> = formula
                    .inputs()
                    .iter()
                    .map(|i| grid.values[i.index() * len + p])
                    .collect();
                let why = formula.eval(&point).err().unwrap_or(Undefined::Domain);
                Cell::Undefined { at: m, why }
            };
            grid.problems.insert(at + p, cell);
        }
    }
    grid
}

impl<'t> Evaluation<'t> {
    /// The tree evaluated.
    pub fn tree(&self) -> &'t MetricTree {
        self.tree
    }

    /// The first period with data.
    pub fn first(&self) -> Option<Period> {
        self.first
    }

    /// The last period with data.
    pub fn last(&self) -> Option<Period> {
        self.first.map(|p| p.offset(self.len as i32 - 1))
    }

    /// The segment dimensions of the data.
    pub fn dimensions(&self) -> &[String] {
        &self.dims
    }

    /// The segments of the data.
    pub fn segments(&self) -> &[SegmentKey] {
        &self.segments
    }

    /// The slice of the data evaluated (empty: all of it).
    pub fn slice(&self) -> &Slice {
        &self.slice
    }

    /// The id of `metric`.
    pub fn id(&self, metric: MetricId) -> &str {
        let m = metric.index();
        let start = if m == 0 { 0 } else { self.ends[m - 1] as usize };
        &self.ids[start..self.ends[m] as usize]
    }

    /// The total values of every metric at period index `p` (NaN where not ok).
    pub(crate) fn column(&self, p: usize) -> &[f64] {
        let metrics = self.tree.len();
        let by_period = self
            .by_period
            .get_or_init(|| transpose(&self.grids[0].values, metrics, self.len));
        &by_period[p * metrics..(p + 1) * metrics]
    }

    /// The index of `period` in the data, if the data covers it.
    pub(crate) fn period_index(&self, period: Period) -> Option<usize> {
        let i = period.since(self.first?);
        (0..self.len as i32).contains(&i).then_some(i as usize)
    }

    /// The value of `metric` in `period` for `segment` (`None` for the total), or the cell
    /// explaining why there is none. A period outside the data is missing at the first leaf.
    pub fn get(
        &self,
        metric: MetricId,
        period: Period,
        segment: Option<usize>,
    ) -> Result<f64, Cell> {
        let grid = &self.grids[segment.map_or(0, |s| s + 1)];
        let Some(p) = self.period_index(period) else {
            return Err(Cell::Missing {
                leaf: first_leaf(self.tree, metric),
            });
        };
        let at = metric.index() * self.len + p;
        match grid.cell(at) {
            Cell::Ok => Ok(grid.values[at]),
            other => Err(other),
        }
    }

    /// The total value of `metric` in `period`.
    pub fn total(&self, metric: MetricId, period: Period) -> Result<f64, Cell> {
        self.get(metric, period, None)
    }

    /// Why `metric` has no value in `period`, in words that name the input at fault.
    pub fn reason(&self, metric: MetricId, period: Period, cell: Cell) -> String {
        let tree = self.tree;
        match cell {
            Cell::Ok => String::new(),
            Cell::Missing { leaf } if leaf == metric => {
                format!("no data for `{}` in {period}", tree.metric(leaf).id)
            }
            Cell::Missing { leaf } => format!("`{}` has no data in {period}", tree.metric(leaf).id),
            Cell::Undefined { at, why } => {
                let formula = tree.metric(at).formula.as_ref().map_or("", |f| f.text());
                if at == metric {
                    format!("{why} in `{formula}`")
                } else {
                    format!(
                        "`{}` is undefined: {why} in `{formula}`",
                        tree.metric(at).id
                    )
                }
            }
        }
    }
}

/// `rows x cols` values stored row by row, stored column by column; in tiles, so that both
/// sides are read and written a cache line at a time.
fn transpose(values: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    const TILE: usize = 16;
    let mut out = vec![0.0; values.len()];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[c * rows + r] = values[r * cols + c];
                }
            }
        }
    }
    out
}

/// The first leaf under `metric` in file order, to name when a whole period is absent.
fn first_leaf(tree: &MetricTree, metric: MetricId) -> MetricId {
    let mut at = metric;
    while let Some(&first) = tree.inputs(at).first() {
        at = first;
    }
    at
}

impl Evaluation<'_> {
    /// Whether the volume guard `guard` holds in `period`, with the value of each metric it
    /// read; or why that cannot be told: a metric it reads has no value there.
    pub fn guard(
        &self,
        guard: &canopy_engine::Guard,
        period: Period,
    ) -> Result<(bool, Vec<(MetricId, f64)>), String> {
        let tree = self.tree();
        let mut read = Vec::new();
        for &id in guard.formula.inputs() {
            let value = (self.total(id, period))
                .map_err(|_| format!("`{}` has no value in {period}", tree.metric(id).id))?;
            read.push((id, value));
        }
        let values: Vec<f64> = read.iter().map(|(_, v)| *v).collect();
        let holds = (guard.formula.eval(&values))
            .map_err(|e| format!("it has no value in {period} ({e})"))?;
        Ok((holds != 0.0, read))
    }

    /// The value in `period` of `text`, a formula over the tree's metrics by id (as an older
    /// definition wrote it), from their totals; why not, where a metric it reads is gone or
    /// has no value, or the formula has none.
    pub fn formula_value(&self, text: &str, period: Period) -> Result<f64, String> {
        let tree = self.tree();
        let parsed = canopy_engine::formula::parse(text)
            .map_err(|e| format!("its old formula cannot be read ({})", e.message))?;
        let mut values = std::collections::BTreeMap::new();
        for name in &parsed.names {
            let Some(id) = tree.find(&name.name) else {
                return Err(format!(
                    "its old formula reads `{}`, which is no longer in the tree",
                    name.name
                ));
            };
            let value = self.total(id, period).map_err(|_| {
                format!(
                    "its old formula reads `{}`, which has no value in {period}",
                    name.name
                )
            })?;
            values.insert(name.name.as_str(), value);
        }
        parsed
            .expr
            .eval(&|n: &String| values[n.as_str()])
            .map_err(|e| format!("its old formula has no value in {period} ({e})"))
    }
}
