//! Explaining a change: why a metric moved between two periods, down to the leaves.
//!
//! Method of record. At each derived metric, the exact Shapley value of its formula over its
//! direct inputs gives each input a share of the metric's own change. Down the tree, by the
//! discrete chain rule, a metric's contribution to the explained metric is split over its
//! inputs in proportion to those shares: input `i` of `m` receives `k_m * share_i`, where
//! `k_m = contribution_m / change_m` is how much one unit of `m`'s change is worth to the
//! explained metric. Where `m` did not change, `k_m` is the limit of that ratio, the
//! Shapley-weighted mean partial derivative, so inputs that offset each other under an
//! unchanged metric still show, with opposite signs summing to zero. A metric that feeds
//! several parents sums what it receives from each. Contributions therefore sum to the
//! change at every metric and over the leaves.

use canopy_engine::formula::{BinOp, Expr};
use canopy_engine::{MetricId, MetricTree};

use crate::evaluate::{Cell, Evaluation};
use crate::shapley::{self, Limit, Method, Plan};
use crate::Period;

/// The method, stated in every explanation.
pub const METHOD: &str = "shapley-chain: the Shapley value of each formula over its direct inputs, chained to the leaves by the discrete chain rule; `methods` names how each metric's was computed (all exact but `sampled`, `gradient fallback` and a limit `at the midpoint`)";

/// One metric's part in an explanation.
#[derive(Clone, Debug)]
pub struct Node {
    /// The metric.
    pub metric: MetricId,
    /// Value in the earlier period.
    pub before: f64,
    /// Value in the later period.
    pub after: f64,
    /// `after - before`.
    pub change: f64,
    /// How much of the explained metric's change comes through this metric.
    pub contribution: f64,
    /// What one unit of this metric's change is worth to the explained metric:
    /// `contribution / change`, or its limit where the metric did not change.
    pub sensitivity: f64,
    /// For a derived metric: how the shares of its own change were computed; `None` for a
    /// leaf.
    pub method: Option<Method>,
    /// For a derived metric with an unchanged input whose limit came from derivatives of its
    /// formula: how that limit was found (the least exact, if several).
    pub limit: Option<Limit>,
    /// This metric's edges to its inputs in [`Explanation::inputs`].
    edges: std::ops::Range<u32>,
}

/// What a derived metric passes to one of its inputs.
#[derive(Clone, Copy, Debug)]
pub struct Edge {
    /// The input.
    pub input: MetricId,
    /// The input's Shapley share of the metric's own change (in the metric's units); the
    /// shares of a metric's inputs sum to its change.
    pub share: f64,
    /// What the input receives of the metric's contribution; these sum to the contribution.
    pub passed: f64,
}

/// Inputs that moved in opposite directions, each by more than their metric, which changed
/// by less than its `change_pct`: a flat metric hiding movement beneath it.
#[derive(Clone, Debug)]
pub struct Offsetting {
    /// The metric that looks flat.
    pub metric: MetricId,
    /// Its change.
    pub change: f64,
    /// The inputs that moved more than it, with their shares of its change.
    pub inputs: Vec<(MetricId, f64)>,
}

/// One segment's part in the explained metric's change.
#[derive(Clone, Debug)]
pub struct SegmentShare {
    /// The segment's index in the evaluation.
    pub segment: usize,
    /// Its contribution to the change; these sum to the change.
    pub contribution: f64,
    /// For a ratio metric: the part due to the segment's weight changing.
    pub mix: Option<f64>,
    /// For a ratio metric: the part due to the segment's own rate changing.
    pub rate: Option<f64>,
}

/// How the change splits over segments, or why it cannot be split.
#[derive(Clone, Debug)]
pub enum Segments {
    /// The data has no segments.
    Unsegmented,
    /// The split, largest contribution first.
    Split(Vec<SegmentShare>),
    /// Segments exist but their values do not add up to the totals, so no exact split exists.
    NotAdditive(Unsplit),
}

/// Why the segments of the data split no change of a metric exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsplit {
    /// The segments' values of `metric` do not add up to its total in `period`.
    Sum {
        /// The metric.
        metric: MetricId,
        /// The first period explained where they do not.
        period: Period,
    },
    /// A ratio's total numerator or denominator is undefined.
    UndefinedTotals,
    /// A ratio's segments' numerators and denominators do not add up to the totals in
    /// `period`, so no exact mix/rate split exists.
    Ratio {
        /// The first period explained where they do not.
        period: Period,
    },
}

/// Why a metric changed between two periods.
#[derive(Clone, Debug)]
pub struct Explanation {
    /// The explained metric.
    pub metric: MetricId,
    /// The earlier period.
    pub from: Period,
    /// The later period.
    pub to: Period,
    /// Every metric under the explained one (itself first), in evaluation order reversed.
    pub nodes: Vec<Node>,
    /// The edges of all nodes, each node's contiguous.
    edges: Vec<Edge>,
    /// Flat metrics hiding opposite movements beneath them.
    pub offsetting: Vec<Offsetting>,
    /// The split over segments.
    pub segments: Segments,
}

impl Explanation {
    /// The explained metric's own node.
    pub fn root(&self) -> &Node {
        &self.nodes[0]
    }

    /// What `node` passes to each of its inputs (nothing for a leaf).
    pub fn inputs(&self, node: &Node) -> &[Edge] {
        &self.edges[node.edges.start as usize..node.edges.end as usize]
    }

    /// The node of `metric`, if it is under the explained metric.
    pub fn node(&self, metric: MetricId) -> Option<&Node> {
        self.nodes.iter().find(|n| n.metric == metric)
    }

    /// The leaves under the explained metric, with their contributions.
    pub fn leaves(&self) -> impl Iterator<Item = &Node> + '_ {
        self.nodes.iter().filter(|n| n.method.is_none())
    }
}

/// Orders contributions largest magnitude first, ties in metric order, so every listing of
/// contributions reads the same way and is stable.
pub fn rank(items: &mut [(MetricId, f64)]) {
    // One integer key per item, sorted as integers (much faster than comparing pairs): the
    // bits of a magnitude order as magnitudes do (inverted: largest first), then the metric,
    // then the item's place, to put it back.
    let key = |(place, &(m, c)): (usize, &(MetricId, f64))| {
        (u128::from(!c.abs().to_bits()) << 64) | ((m.index() as u128) << 32) | place as u128
    };
    let mut keys: Vec<u128> = items.iter().enumerate().map(key).collect();
    keys.sort_unstable();
    let original = items.to_vec();
    for (item, key) in items.iter_mut().zip(keys) {
        *item = original[key as u32 as usize];
    }
}

/// Why a change cannot be explained.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("cannot explain `{metric}` from {from} to {to}: {reason}")]
pub struct ExplainError {
    /// The metric's id.
    pub metric: String,
    /// The earlier period.
    pub from: Period,
    /// The later period.
    pub to: Period,
    /// Why, naming the input at fault.
    pub reason: String,
}

/// How a derived metric's change is shared among its inputs.
enum Rule {
    /// `c1 * x1 + c2 * x2 + ...` plus constants: input `i` gets `ci` times its change, and
    /// `ci` is also its exact partial derivative. The coefficients are the planner's.
    Linear,
    /// Any other formula, with its shape read once.
    Formula(Box<(canopy_engine::Formula, Plan)>),
}

/// Plans for every derived metric's formula, read once and reused for each pair of periods.
/// An explanation walks every metric under the explained one, parents first; so that the
/// walk reads memory in order, metrics are numbered by their place in that walk (their
/// position) and everything the walk needs is kept in flat arrays by position.
pub struct Planner {
    /// The metric at each position: parents before their inputs.
    order: Vec<MetricId>,
    /// The position of each metric.
    position: Vec<u32>,
    /// By position: the range in `inputs` and `coefficients`.
    spans: Vec<(u32, u32)>,
    /// The positions of the direct inputs of every metric, one metric's after another's.
    inputs: Vec<u32>,
    /// For linear formulas, each input's coefficient (NaN for other formulas).
    coefficients: Vec<f64>,
    /// By position: `None` for a leaf.
    rules: Vec<Option<Rule>>,
    /// By position: the `change_pct` below which a metric counts as flat.
    change_pct: Vec<f64>,
}

impl Planner {
    /// Reads the shape of every formula of `tree`.
    pub fn new(tree: &MetricTree) -> Planner {
        let order: Vec<MetricId> = tree.topological_order().iter().rev().copied().collect();
        let mut position = vec![0; tree.len()];
        for (pos, m) in order.iter().enumerate() {
            position[m.index()] = pos as u32;
        }
        let mut planner = Planner {
            spans: Vec::with_capacity(tree.len()),
            inputs: Vec::new(),
            coefficients: Vec::new(),
            rules: Vec::with_capacity(tree.len()),
            change_pct: Vec::with_capacity(tree.len()),
            order,
            position,
        };
        for pos in 0..planner.order.len() {
            let m = tree.metric(planner.order[pos]);
            let start = planner.inputs.len() as u32;
            let rule = m.formula.as_ref().map(|formula| {
                let inputs = formula.inputs();
                planner
                    .inputs
                    .extend(inputs.iter().map(|i| planner.position[i.index()]));
                let plan = Plan::new(formula);
                match plan.linear(inputs.len()) {
                    Some(c) => {
                        planner.coefficients.extend(c);
                        Rule::Linear
                    }
                    None => {
                        planner
                            .coefficients
                            .extend(std::iter::repeat_n(f64::NAN, inputs.len()));
                        Rule::Formula(Box::new((formula.clone(), plan)))
                    }
                }
            });
            planner.spans.push((start, planner.inputs.len() as u32));
            planner.rules.push(rule);
            planner.change_pct.push(m.alerts.change_pct.unwrap_or(10.0));
        }
        planner
    }

    /// The positions of the inputs of the metric at `pos`.
    fn inputs(&self, pos: usize) -> &[u32] {
        let (a, b) = self.spans[pos];
        &self.inputs[a as usize..b as usize]
    }

    fn coefficients(&self, pos: usize) -> &[f64] {
        let (a, b) = self.spans[pos];
        &self.coefficients[a as usize..b as usize]
    }
}

/// Explains the change of `metric` from `from` to `to`.
pub fn explain(
    eval: &Evaluation<'_>,
    planner: &Planner,
    metric: MetricId,
    from: Period,
    to: Period,
) -> Result<Explanation, ExplainError> {
    Explainer::new(planner).explain(eval, metric, from, to)
}

/// Explains one metric after another, reusing its memory. Its arrays span the whole tree,
/// but an explanation touches, and then clears, only the positions under its metric: so
/// explaining every metric of a tree in turn costs the sum of their subtrees, where a new
/// [`explain`] for each would cost the whole tree each time.
pub struct Explainer<'p> {
    walk: Walk<'p>,
    /// By position: whether it is under the metric being explained.
    marked: Vec<bool>,
    /// The positions under the metric being explained, ascending (the walk's order).
    positions: Vec<u32>,
}

impl<'p> Explainer<'p> {
    /// An explainer of the metrics `planner` has read.
    pub fn new(planner: &'p Planner) -> Explainer<'p> {
        let n = planner.order.len();
        Explainer {
            walk: Walk {
                planner,
                contribution: vec![0.0; n],
                limit_k: vec![0.0; n],
                edges: Vec::new(),
                x0: Vec::new(),
                x1: Vec::new(),
                phi: Vec::new(),
                scratch: shapley::Scratch::default(),
                before_at: vec![0.0; n],
                after_at: vec![0.0; n],
            },
            marked: vec![false; n],
            positions: Vec::new(),
        }
    }

    /// Explains the change of `metric` from `from` to `to`, as [`explain`] does.
    pub fn explain(
        &mut self,
        eval: &Evaluation<'_>,
        metric: MetricId,
        from: Period,
        to: Period,
    ) -> Result<Explanation, ExplainError> {
        let tree = eval.tree();
        let fail = |period: Period, cell: Cell| ExplainError {
            metric: tree.metric(metric).id.clone(),
            from,
            to,
            reason: eval.reason(metric, period, cell),
        };
        eval.total(metric, from).map_err(|c| fail(from, c))?;
        eval.total(metric, to).map_err(|c| fail(to, c))?;

        let planner = self.walk.planner;
        let root = planner.position[metric.index()] as usize;
        self.gather(root);
        // Every metric under `metric` has a value in both periods, or `metric` would not. The
        // two periods' values are gathered in walk order.
        let (pf, pt) = (eval.period_index(from), eval.period_index(to));
        let (pf, pt) = (pf.expect("checked above"), pt.expect("checked above"));
        let (before_column, after_column) = (eval.column(pf), eval.column(pt));
        let walk = &mut self.walk;
        for &pos in &self.positions {
            let (pos, m) = (pos as usize, planner.order[pos as usize].index());
            walk.before_at[pos] = before_column[m];
            walk.after_at[pos] = after_column[m];
        }
        walk.edges = Vec::with_capacity(self.positions.len());
        walk.contribution[root] = walk.after_at[root] - walk.before_at[root];
        walk.limit_k[root] = 1.0;
        let (nodes, offsetting) = walk.nodes(&self.positions);
        let edges = std::mem::take(&mut walk.edges);
        self.clear();
        Ok(Explanation {
            metric,
            from,
            to,
            nodes,
            edges,
            offsetting,
            segments: segments(eval, metric, from, to),
        })
    }

    /// Marks the positions under `root`, itself included, and lists them in walk order.
    fn gather(&mut self, root: usize) {
        let planner = self.walk.planner;
        self.positions.clear();
        self.positions.push(root as u32);
        self.marked[root] = true;
        let mut next = 0;
        while let Some(&pos) = self.positions.get(next) {
            next += 1;
            for &i in planner.inputs(pos as usize) {
                if !std::mem::replace(&mut self.marked[i as usize], true) {
                    self.positions.push(i);
                }
            }
        }
        // Inputs come after their metric in walk order, so every position under `root` lies
        // in `root..n`. Reading the marks across that range is cheaper than sorting when
        // most of it is marked (explaining the root); sorting, when little of it is.
        let span = planner.order.len() - root;
        if span <= 16 * self.positions.len() {
            self.positions.clear();
            let marked = &self.marked;
            self.positions
                .extend((root..root + span).filter(|&p| marked[p]).map(|p| p as u32));
        } else {
            self.positions.sort_unstable();
        }
    }

    /// Leaves every array as new, touching only the positions the last explanation used.
    fn clear(&mut self) {
        for &pos in &self.positions {
            let pos = pos as usize;
            self.marked[pos] = false;
            self.walk.contribution[pos] = 0.0;
            self.walk.limit_k[pos] = 0.0;
        }
    }
}

/// What an explanation's walk down the tree keeps, by position in walk order.
struct Walk<'p> {
    planner: &'p Planner,
    before_at: Vec<f64>,
    after_at: Vec<f64>,
    /// What each metric receives of the explained metric's change, so far.
    contribution: Vec<f64>,
    /// For a metric that did not change: the limit of `contribution / change`, so far.
    limit_k: Vec<f64>,
    edges: Vec<Edge>,
    x0: Vec<f64>,
    x1: Vec<f64>,
    phi: Vec<f64>,
    scratch: shapley::Scratch,
}

impl Walk<'_> {
    /// Walks `positions` (parents first), passing each metric's contribution to its inputs:
    /// every metric's node, and the flat metrics hiding movement.
    fn nodes(&mut self, positions: &[u32]) -> (Vec<Node>, Vec<Offsetting>) {
        let planner = self.planner;
        let mut nodes = Vec::with_capacity(positions.len());
        let mut offsetting = Vec::new();
        for &pos in positions {
            let pos = pos as usize;
            let m = planner.order[pos];
            let (before, after) = (self.before_at[pos], self.after_at[pos]);
            let change = after - before;
            let k = if change != 0.0 {
                self.contribution[pos] / change
            } else {
                self.limit_k[pos]
            };
            let start = self.edges.len() as u32;
            let (method, limit) = match &planner.rules[pos] {
                None => (None, None),
                Some(Rule::Linear) => (Some(self.linear(pos, k)), None),
                Some(Rule::Formula(planned)) => {
                    let (method, limit) = self.formula(pos, k, planned);
                    (Some(method), limit)
                }
            };
            let edges = &self.edges;
            if method.is_some() {
                let pct = planner.change_pct[pos];
                if let Some(o) = offsets(pct, m, before, change, &edges[start as usize..]) {
                    offsetting.push(o);
                }
            }
            nodes.push(Node {
                metric: m,
                before,
                after,
                change,
                contribution: self.contribution[pos],
                sensitivity: k,
                method,
                limit,
                edges: start..edges.len() as u32,
            });
        }
        (nodes, offsetting)
    }

    /// Passes `k` times each input's share down a linear formula at `pos`.
    fn linear(&mut self, pos: usize, k: f64) -> Method {
        let planner = self.planner;
        for (&input, &c) in planner.inputs(pos).iter().zip(planner.coefficients(pos)) {
            let i = input as usize;
            let d = self.after_at[i] - self.before_at[i];
            // An unchanged input contributes exactly 0; its own k is then the limit of
            // share / change, the coefficient.
            let share = if d != 0.0 { c * d } else { 0.0 };
            let passed = k * share;
            self.contribution[i] += passed;
            if d == 0.0 {
                self.limit_k[i] += k * c;
            }
            self.edges.push(Edge {
                input: planner.order[i],
                share,
                passed,
            });
        }
        Method::Sum
    }

    /// Passes `k` times each input's Shapley share down the formula at `pos`, and the limit
    /// to each input that did not change.
    fn formula(
        &mut self,
        pos: usize,
        k: f64,
        planned: &(canopy_engine::Formula, Plan),
    ) -> (Method, Option<Limit>) {
        let (formula, plan) = planned;
        let planner = self.planner;
        let inputs = planner.inputs(pos);
        self.x0.clear();
        self.x0
            .extend(inputs.iter().map(|&i| self.before_at[i as usize]));
        self.x1.clear();
        self.x1
            .extend(inputs.iter().map(|&i| self.after_at[i as usize]));
        let (x0, x1) = (&self.x0, &self.x1);
        let method = shapley::shares(formula, plan, x0, x1, &mut self.phi, &mut self.scratch);
        let mut limit = None;
        for (slot, &input) in inputs.iter().enumerate() {
            let i = input as usize;
            let passed = k * self.phi[slot];
            self.contribution[i] += passed;
            if x0[slot] == x1[slot] {
                // The input did not change: its own k is the limit of share / change.
                let (d, how) = shapley::mean_partial(formula.expr(), x0, x1, slot);
                self.limit_k[i] += k * d;
                limit = limit.max(Some(how));
            }
            self.edges.push(Edge {
                input: planner.order[i],
                share: self.phi[slot],
                passed,
            });
        }
        (method, limit)
    }
}

fn offsets(pct: f64, m: MetricId, before: f64, change: f64, edges: &[Edge]) -> Option<Offsetting> {
    if change.abs() >= pct / 100.0 * before.abs() {
        return None;
    }
    let big = || edges.iter().filter(|e| e.share.abs() > change.abs());
    let up = big().any(|e| e.share > 0.0);
    let down = big().any(|e| e.share < 0.0);
    (up && down).then(|| Offsetting {
        metric: m,
        change,
        inputs: big().map(|e| (e.input, e.share)).collect(),
    })
}

/// `scale * numerator / denominator`, if the formula is a ratio up to constant factors.
fn as_ratio(e: &Expr<usize>) -> Option<(f64, &Expr<usize>, &Expr<usize>)> {
    let constant = |e: &Expr<usize>| e.eval(&|_| f64::NAN).ok();
    match e {
        Expr::Bin(BinOp::Mul, c, x) | Expr::Bin(BinOp::Mul, x, c) if constant(c).is_some() => {
            let (s, n, d) = as_ratio(x)?;
            Some((s * constant(c)?, n, d))
        }
        Expr::Bin(BinOp::Div, x, c) if constant(c).is_some() => {
            let (s, n, d) = as_ratio(x)?;
            Some((s / constant(c)?, n, d))
        }
        Expr::Bin(BinOp::Div, n, d) => Some((1.0, n, d)),
        _ => None,
    }
}

/// Relative closeness, for checking that segments add up to totals.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300)
}

fn segments(eval: &Evaluation<'_>, metric: MetricId, from: Period, to: Period) -> Segments {
    match segment_parts(eval, metric, from, to) {
        None => Segments::Unsegmented,
        Some(Err(reason)) => Segments::NotAdditive(reason),
        Some(Ok(parts)) => {
            let mut shares: Vec<SegmentShare> = (0..parts.len())
                .map(|s| {
                    let split = parts.mix_rate(&[s]);
                    SegmentShare {
                        segment: s,
                        contribution: parts.part(s, 1) - parts.part(s, 0),
                        mix: split.map(|(mix, _)| mix),
                        rate: split.map(|(_, rate)| rate),
                    }
                })
                .collect();
            shares.sort_by(|a, b| {
                b.contribution
                    .abs()
                    .total_cmp(&a.contribution.abs())
                    .then(a.segment.cmp(&b.segment))
            });
            Segments::Split(shares)
        }
    }
}

/// Each segment's part of a metric in two periods, parts that add up to the metric's total
/// in each: the split over segments and the search for slices both start here. `None` when
/// the data has no segments, an error when no exact split exists.
pub(crate) fn segment_parts(
    eval: &Evaluation<'_>,
    metric: MetricId,
    from: Period,
    to: Period,
) -> Option<Result<Parts, Unsplit>> {
    if eval.segments().is_empty() {
        return None;
    }
    let tree = eval.tree();
    let formula = tree.metric(metric).formula.as_ref();
    let ratio = formula.and_then(|f| as_ratio(f.expr()).map(|r| (f, r)));
    Some(match ratio {
        Some((formula, (scale, num, den))) => {
            ratio_parts(eval, formula.inputs(), scale, num, den, from, to)
        }
        None => additive_parts(eval, metric, from, to),
    })
}

/// Segments' parts of a metric, in the two periods explained (index 0 before, 1 after).
#[derive(Clone, Debug)]
pub(crate) enum Parts {
    /// A metric whose segments' values add up to its total: each segment's values.
    Sum(Vec<[f64; 2]>),
    /// A ratio `scale * N / D` whose numerator and denominator add up over segments: each
    /// segment's `(N_s, D_s)`, and the totals' `(N, D)`.
    Ratio {
        scale: f64,
        per: Vec<[(f64, f64); 2]>,
        totals: [(f64, f64); 2],
    },
}

impl Parts {
    /// How many segments.
    pub(crate) fn len(&self) -> usize {
        match self {
            Parts::Sum(v) => v.len(),
            Parts::Ratio { per, .. } => per.len(),
        }
    }

    /// Segment `s`'s part of the metric in period `k` (0 before, 1 after); the parts of all
    /// segments sum to the metric. A ratio's part is `scale * N_s / D`.
    pub(crate) fn part(&self, s: usize, k: usize) -> f64 {
        match self {
            Parts::Sum(v) => v[s][k],
            Parts::Ratio { scale, per, totals } => scale * per[s][k].0 / totals[k].1,
        }
    }

    /// For a ratio, the mix and rate parts of the change of a group of segments taken as
    /// one: with weight `w = D_g / D` and rate `r = N_g / D_g`, the group's part is
    /// `w1 r1 - w0 r0`, which splits into rate `mean(w) * change(r)` and mix
    /// `change(w) * mean(r)`. A group with no denominator in one period has no rate there:
    /// all of its part is mix. `None` for a metric that is not a ratio.
    pub(crate) fn mix_rate(&self, group: &[usize]) -> Option<(f64, f64)> {
        let Parts::Ratio { scale, per, totals } = self else {
            return None;
        };
        let sum = |k: usize| {
            group
                .iter()
                .fold((0.0, 0.0), |(n, d), &s| (n + per[s][k].0, d + per[s][k].1))
        };
        let ((n0, d0), (n1, d1)) = (sum(0), sum(1));
        let contribution = scale * (n1 / totals[1].1 - n0 / totals[0].1);
        let rate = if d0 != 0.0 && d1 != 0.0 {
            let (w0, w1) = (d0 / totals[0].1, d1 / totals[1].1);
            scale * (w0 + w1) / 2.0 * (n1 / d1 - n0 / d0)
        } else {
            0.0
        };
        Some((contribution - rate, rate))
    }
}

/// A metric whose segment values add up to its total: each segment contributes its change.
fn additive_parts(
    eval: &Evaluation<'_>,
    metric: MetricId,
    from: Period,
    to: Period,
) -> Result<Parts, Unsplit> {
    for p in [from, to] {
        let sum: f64 = (0..eval.segments().len())
            .filter_map(|s| eval.get(metric, p, Some(s)).ok())
            .sum();
        if !close(sum, eval.total(metric, p).expect("checked")) {
            return Err(Unsplit::Sum { metric, period: p });
        }
    }
    let values = (0..eval.segments().len())
        .map(|s| [from, to].map(|p| eval.get(metric, p, Some(s)).unwrap_or(0.0)))
        .collect();
    Ok(Parts::Sum(values))
}

/// A ratio `scale * N / D` whose numerator and denominator add up over segments: each
/// segment's part of the change is `scale * (N_s1 / D_1 - N_s0 / D_0)`, so the parts sum to
/// it exactly ([`Parts::mix_rate`] splits it).
fn ratio_parts(
    eval: &Evaluation<'_>,
    inputs: &[MetricId],
    scale: f64,
    num: &Expr<usize>,
    den: &Expr<usize>,
    from: Period,
    to: Period,
) -> Result<Parts, Unsplit> {
    let count = eval.segments().len();
    // (N_s, D_s) for each segment and period; a segment without data contributes nothing.
    let parts = |p: Period, segment: Option<usize>| -> Option<(f64, f64)> {
        let x: Option<Vec<f64>> = inputs
            .iter()
            .map(|&i| eval.get(i, p, segment).ok())
            .collect();
        let x = x?;
        Some((num.eval(&|&i| x[i]).ok()?, den.eval(&|&i| x[i]).ok()?))
    };
    let mut per = vec![[(0.0, 0.0); 2]; count];
    let mut totals = [(0.0, 0.0); 2];
    for (k, p) in [from, to].into_iter().enumerate() {
        for (s, slot) in per.iter_mut().enumerate() {
            slot[k] = parts(p, Some(s)).unwrap_or((0.0, 0.0));
        }
        let (n, d) = parts(p, None).ok_or(Unsplit::UndefinedTotals)?;
        let (sn, sd) = per
            .iter()
            .fold((0.0, 0.0), |(a, b), s| (a + s[k].0, b + s[k].1));
        if !close(sn, n) || !close(sd, d) {
            return Err(Unsplit::Ratio { period: p });
        }
        totals[k] = (n, d);
    }
    Ok(Parts::Ratio { scale, per, totals })
}
