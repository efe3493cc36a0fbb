//! The Shapley value of a formula's change over its direct inputs.
//!
//! For `f(x)` moving from `x0` to `x1`, input `i`'s share is the average, over every order in
//! which inputs could switch from `x0` to `x1`, of the change in `f` when `i` switches. The
//! shares sum to `f(x1) - f(x0)` exactly, an input that did not change gets exactly 0, and
//! inputs that play symmetric roles get equal shares.
//!
//! Computing it by definition costs `2^n` evaluations, so the formula's shape is read once:
//! - **sum**: `f = g1(x1) + g2(x2) + ...` (any constant scaling): the share is `gi(x1) - gi(x0)`;
//! - **product**: `f = c * h1(x1) * h2(x2) * ...` (divisions included): a polynomial product
//!   over coalition sizes gives every share in `O(n^3)`;
//! - **decomposed**: `f = t1(...) + t2(...) + ...` with terms of several inputs: the Shapley
//!   value is linear, so each term's shares over its own inputs are computed alone and added;
//! - **exact**: other formulas (or terms) of up to [`MAX_EXACT`] inputs: all `2^n` coalitions,
//!   evaluated in batches;
//! - **sampled**: wider ones: the mean over antithetic pairs of orders (each order's marginal
//!   changes sum exactly to the total change, so the shares still sum exactly), inputs with
//!   the same values and the same role in the formula given the mean of their shares, and
//!   the estimated error stated;
//! - **gradient**: the fallback when a coalition's point is undefined (a denominator that is
//!   zero only at a mix of old and new values): midpoint partial derivatives times the input
//!   changes, the remainder spread in proportion, so the shares still sum exactly.

use canopy_engine::formula::{BinOp, Expr, Func, Program};
use canopy_engine::Formula;

use crate::derivative;

/// Most inputs for which every coalition is enumerated (`2^20` points, in batches).
pub const MAX_EXACT: usize = 20;
/// Pairs of orders sampled for wider formulas.
const SAMPLED_PAIRS: usize = 128;
/// Points evaluated at once when enumerating coalitions, which bounds the memory it takes.
const BATCH: usize = 1 << 12;
/// Most other changed inputs over whose coalitions the limit under an unchanged input is
/// averaged exactly; beyond, the derivative at the midpoint is used.
const MAX_LIMIT_EXACT: usize = 12;

/// How a metric's shares were computed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    /// Closed form for sums of one-input terms.
    Sum,
    /// Closed form for products and ratios of one-input factors.
    Product,
    /// Enumeration of every coalition.
    Exact,
    /// A sum of terms of several inputs each, every term's shares computed exactly alone.
    Decomposed,
    /// Mean over sampled orders (a formula or term of more than [`MAX_EXACT`] inputs): not
    /// exact; `max_error` is three standard errors of the largest share's estimate.
    Sampled {
        /// Orders sampled.
        orders: u32,
        /// The estimated error of a share, in the metric's units.
        max_error: f64,
    },
    /// Midpoint gradient, where a coalition's point is undefined: not exact.
    Gradient,
}

impl Method {
    /// Whether the shares are exact (to rounding).
    pub fn is_exact(&self) -> bool {
        !matches!(self, Method::Sampled { .. } | Method::Gradient)
    }

    /// Whether the shares are exact and so is the limit under unchanged inputs.
    pub fn is_exact_with(&self, limit: Option<Limit>) -> bool {
        self.is_exact() && limit != Some(Limit::Midpoint)
    }

    /// The method of a sum of terms computed by `self` and `other`: the least exact.
    fn and(self, other: Method) -> Method {
        match (self, other) {
            (Method::Gradient, _) | (_, Method::Gradient) => Method::Gradient,
            (
                Method::Sampled { orders, max_error },
                Method::Sampled {
                    max_error: other, ..
                },
            ) => Method::Sampled {
                orders,
                max_error: max_error + other,
            },
            (s @ Method::Sampled { .. }, _) | (_, s @ Method::Sampled { .. }) => s,
            _ => Method::Decomposed,
        }
    }
}

/// How the limit of `share / change` was found for an input that did not change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Limit {
    /// Exact derivatives, averaged over the coalitions exactly.
    Exact,
    /// A point without a derivative, decided by the kink rule (see `derivative`).
    Kink,
    /// The derivative at the midpoint, for more than 12 other changed inputs: approximate.
    Midpoint,
}

/// One term of a sum.
#[derive(Debug)]
pub(crate) enum Term {
    /// `coefficient * input`: the share is the coefficient times the input's change.
    Linear(f64),
    /// Any other function of one input.
    General(Expr<usize>),
}

/// The coefficient of a term that is its input scaled by constants, if it is one.
fn linear_coefficient(e: &Expr<usize>) -> Option<f64> {
    let constant = |e: &Expr<usize>| e.eval(&|_| f64::NAN).ok();
    match e {
        Expr::Var(_) => Some(1.0),
        Expr::Neg(a) => linear_coefficient(a).map(|c| -c),
        Expr::Bin(BinOp::Mul, a, b) => match (constant(a), constant(b)) {
            (Some(k), None) => linear_coefficient(b).map(|c| k * c),
            (None, Some(k)) => linear_coefficient(a).map(|c| k * c),
            _ => None,
        },
        Expr::Bin(BinOp::Div, a, b) => {
            constant(b).and_then(|k| linear_coefficient(a).map(|c| c / k))
        }
        _ => None,
    }
}

/// One input's factor of a product.
#[derive(Debug)]
pub(crate) enum Factor {
    /// The input to a whole power (`a`, `1 / a`, `a * a`).
    Power(i32),
    /// Any other function of the input.
    General(Expr<usize>),
}

/// A formula's shape, read once and reused for every pair of periods.
#[derive(Debug)]
pub(crate) enum Plan {
    /// `(input, term)` pairs: the formula is the sum of the terms (plus constants).
    Sum(Vec<(usize, Term)>),
    /// The formula is `constant` times the product of the factors, each of one input.
    Product {
        constant: f64,
        factors: Vec<(usize, Factor)>,
        /// The Shapley weights of the formula's inputs.
        weights: Vec<f64>,
    },
    /// The formula is the sum of these terms (plus constants), some of several inputs.
    Decomposed(Vec<Part>),
    /// Anything else, with the Shapley weights of its inputs.
    General { weights: Vec<f64> },
}

/// One term of a decomposed sum, over its own inputs.
#[derive(Debug)]
pub(crate) struct Part {
    /// The formula's input slots the term uses; the term's own slot `k` is `inputs[k]`.
    inputs: Vec<usize>,
    /// The term, over its own slots.
    expr: Expr<usize>,
    program: Program,
    plan: Plan,
}

/// The whole power of input `i` that `e` is, if it is one: `a`, `1 / a`, and products of them.
fn power(e: &Expr<usize>, i: usize) -> Option<i32> {
    match e {
        Expr::Var(v) if *v == i => Some(1),
        Expr::Bin(BinOp::Div, one, d) if matches!(**one, Expr::Num(n) if n == 1.0) => {
            power(d, i).map(|p| -p)
        }
        Expr::Bin(BinOp::Mul, a, b) => Some(power(a, i)? + power(b, i)?),
        _ => None,
    }
}

fn vars(e: &Expr<usize>, out: &mut Vec<usize>) {
    match e {
        Expr::Num(_) => {}
        Expr::Var(v) => {
            if !out.contains(v) {
                out.push(*v)
            }
        }
        Expr::Neg(a) => vars(a, out),
        Expr::Bin(_, a, b) => {
            vars(a, out);
            vars(b, out);
        }
        Expr::Call(_, args) => args.iter().for_each(|a| vars(a, out)),
        Expr::If(c, a, b) => {
            vars(&c.lhs, out);
            vars(&c.rhs, out);
            vars(a, out);
            vars(b, out);
        }
    }
}

fn single_var(e: &Expr<usize>) -> Option<Option<usize>> {
    let mut v = Vec::new();
    vars(e, &mut v);
    match v.as_slice() {
        [] => Some(None),
        [one] => Some(Some(*one)),
        _ => None,
    }
}

fn is_constant(e: &Expr<usize>) -> bool {
    single_var(e) == Some(None)
}

/// Splits a sum into its terms, each wrapped by `wrap` (signs and constant scales), leaving
/// out constants. An expression that is not a sum is one term.
fn sum_terms(
    e: &Expr<usize>,
    wrap: &dyn Fn(Expr<usize>) -> Expr<usize>,
    out: &mut Vec<Expr<usize>>,
) {
    let bin = |op, a: &Expr<usize>, b: Expr<usize>| Expr::Bin(op, Box::new(a.clone()), Box::new(b));
    match e {
        e if is_constant(e) => {}
        Expr::Bin(BinOp::Add, a, b) => {
            sum_terms(a, wrap, out);
            sum_terms(b, wrap, out);
        }
        Expr::Bin(BinOp::Sub, a, b) => {
            sum_terms(a, wrap, out);
            sum_terms(b, &|t| wrap(Expr::Neg(Box::new(t))), out);
        }
        Expr::Neg(a) => sum_terms(a, &|t| wrap(Expr::Neg(Box::new(t))), out),
        Expr::Bin(BinOp::Mul, c, x) | Expr::Bin(BinOp::Mul, x, c) if is_constant(c) => {
            sum_terms(x, &|t| wrap(bin(BinOp::Mul, c, t)), out)
        }
        Expr::Bin(BinOp::Div, x, c) if is_constant(c) => sum_terms(
            x,
            &|t| wrap(Expr::Bin(BinOp::Div, Box::new(t), c.clone())),
            out,
        ),
        Expr::Call(Func::Sum, args) => args.iter().for_each(|a| sum_terms(a, wrap, out)),
        Expr::Call(Func::Avg, args) => {
            let n = Expr::Num(args.len() as f64);
            for a in args {
                let divide = |t| wrap(Expr::Bin(BinOp::Div, Box::new(t), Box::new(n.clone())));
                sum_terms(a, &divide, out);
            }
        }
        e => out.push(wrap(e.clone())),
    }
}

/// Splits a product into one-input factors (divisors become `1 / factor`).
fn product_factors(
    e: &Expr<usize>,
    inverted: bool,
    out: &mut Vec<(Option<usize>, Expr<usize>)>,
) -> bool {
    let invert = |f: Expr<usize>| {
        if inverted {
            Expr::Bin(BinOp::Div, Box::new(Expr::Num(1.0)), Box::new(f))
        } else {
            f
        }
    };
    if let Some(var) = single_var(e) {
        out.push((var, invert(e.clone())));
        return true;
    }
    match e {
        Expr::Bin(BinOp::Mul, a, b) => {
            product_factors(a, inverted, out) && product_factors(b, inverted, out)
        }
        Expr::Bin(BinOp::Div, a, b) => {
            product_factors(a, inverted, out) && product_factors(b, !inverted, out)
        }
        Expr::Neg(a) => {
            out.push((None, Expr::Num(-1.0)));
            product_factors(a, inverted, out)
        }
        _ => false,
    }
}

impl Plan {
    /// Reads the shape of `formula`.
    pub(crate) fn new(formula: &Formula) -> Plan {
        Plan::of(formula.expr(), formula.inputs().len())
    }

    /// Reads the shape of `expr`, a formula of `n` inputs.
    fn of(expr: &Expr<usize>, n: usize) -> Plan {
        let mut terms = Vec::new();
        sum_terms(expr, &|t| t, &mut terms);
        let one_input: Option<Vec<(usize, Expr<usize>)>> = terms
            .iter()
            .map(|t| single_var(t).flatten().map(|v| (v, t.clone())))
            .collect();
        if let Some(terms) = one_input {
            let terms = terms
                .into_iter()
                .map(|(i, t)| {
                    (
                        i,
                        linear_coefficient(&t).map_or(Term::General(t), Term::Linear),
                    )
                })
                .collect();
            return Plan::Sum(terms);
        }
        if terms.len() > 1 {
            return Plan::Decomposed(terms.iter().map(Part::new).collect());
        }
        let mut factors = Vec::new();
        if product_factors(expr, false, &mut factors) {
            let mut constant = 1.0;
            let mut by_input = Vec::new();
            for (var, factor) in factors {
                match var {
                    None => constant *= eval_at(&factor, &[]),
                    Some(i) => by_input.push((
                        i,
                        power(&factor, i).map_or(Factor::General(factor), Factor::Power),
                    )),
                }
            }
            return Plan::Product {
                constant,
                factors: by_input,
                weights: weights(n),
            };
        }
        Plan::General {
            weights: weights(n),
        }
    }
}

impl Part {
    fn new(term: &Expr<usize>) -> Part {
        let mut inputs = Vec::new();
        vars(term, &mut inputs);
        inputs.sort_unstable();
        let expr = term.map_vars(&mut |g: &usize| {
            Expr::Var(
                inputs
                    .iter()
                    .position(|i| i == g)
                    .expect("a variable of the term"),
            )
        });
        Part {
            program: Program::new(&expr),
            plan: Plan::of(&expr, inputs.len()),
            inputs,
            expr,
        }
    }
}

impl Plan {
    /// For a sum of inputs scaled by constants (plus constants), each of the `n` input
    /// slots' coefficient: then an input's share is its coefficient times its change.
    pub(crate) fn linear(&self, n: usize) -> Option<Vec<f64>> {
        let Plan::Sum(terms) = self else {
            return None;
        };
        let mut coefficients = vec![0.0; n];
        for (i, term) in terms {
            match term {
                Term::Linear(c) => coefficients[*i] += c,
                Term::General(_) => return None,
            }
        }
        Some(coefficients)
    }
}

/// Shapley weights `k! (n-1-k)! / n!` for coalitions of `k` other inputs out of `n`.
fn weights(n: usize) -> Vec<f64> {
    // 1 / (n * C(n-1, k)), with the binomial built up incrementally to stay exact for small n.
    let mut out = Vec::with_capacity(n);
    let mut binom = 1.0f64;
    for k in 0..n {
        out.push(1.0 / (n as f64 * binom));
        binom = binom * (n - 1 - k) as f64 / (k + 1) as f64;
    }
    out
}

fn eval_at(expr: &Expr<usize>, x: &[f64]) -> f64 {
    expr.eval(&|&i| x[i]).unwrap_or(f64::NAN)
}

/// Work space for [`shares`], reused from call to call so that the shares of thousands of
/// metrics cost no allocation.
#[derive(Default)]
pub(crate) struct Scratch {
    stack: Vec<f64>,
    h0: Vec<f64>,
    h1: Vec<f64>,
    poly: Vec<f64>,
    /// The formula at every coalition, for enumeration.
    coalitions: Vec<f64>,
}

/// The shares of `formula`'s change from `x0` to `x1` over its inputs, written to `out`, and
/// how they were computed. `x0` and `x1` must give a defined value of the formula.
pub(crate) fn shares(
    formula: &Formula,
    plan: &Plan,
    x0: &[f64],
    x1: &[f64],
    out: &mut Vec<f64>,
    scratch: &mut Scratch,
) -> Method {
    debug_assert_eq!(x0.len(), formula.inputs().len(), "one value per input");
    let f = Shaped {
        expr: formula.expr(),
        program: formula.program(),
        plan,
    };
    f.shares(x0, x1, out, scratch)
}

/// A formula or term with its program and plan.
struct Shaped<'a> {
    expr: &'a Expr<usize>,
    program: &'a Program,
    plan: &'a Plan,
}

impl Shaped<'_> {
    fn shares(&self, x0: &[f64], x1: &[f64], out: &mut Vec<f64>, scratch: &mut Scratch) -> Method {
        let n = x0.len();
        out.clear();
        out.resize(n, 0.0);
        let method = match self.plan {
            Plan::Sum(terms) => {
                for (i, term) in terms {
                    // An unchanged input contributes exactly 0, whatever rounding would say.
                    if x0[*i] != x1[*i] {
                        out[*i] += match term {
                            Term::Linear(c) => c * (x1[*i] - x0[*i]),
                            Term::General(t) => eval_at(t, x1) - eval_at(t, x0),
                        };
                    }
                }
                Method::Sum
            }
            Plan::Product {
                constant,
                factors,
                weights,
            } => {
                product(*constant, factors, weights, x0, x1, out, scratch);
                Method::Product
            }
            Plan::Decomposed(parts) => decomposed(parts, x0, x1, out, scratch),
            Plan::General { weights } if n <= MAX_EXACT => {
                exact(self.program, weights, x0, x1, out, scratch);
                Method::Exact
            }
            Plan::General { .. } => sampled(self.program, x0, x1, out, &mut scratch.stack),
        };
        if out.iter().all(|v| v.is_finite()) {
            return method;
        }
        *out = gradient(self.expr, x0, x1);
        Method::Gradient
    }
}

/// The shares of a sum of terms: each term's shares over its own inputs, added.
fn decomposed(
    parts: &[Part],
    x0: &[f64],
    x1: &[f64],
    out: &mut [f64],
    scratch: &mut Scratch,
) -> Method {
    let mut method = Method::Decomposed;
    let (mut y0, mut y1, mut phi) = (Vec::new(), Vec::new(), Vec::new());
    for part in parts {
        y0.clear();
        y0.extend(part.inputs.iter().map(|&i| x0[i]));
        y1.clear();
        y1.extend(part.inputs.iter().map(|&i| x1[i]));
        let shaped = Shaped {
            expr: &part.expr,
            program: &part.program,
            plan: &part.plan,
        };
        let m = shaped.shares(&y0, &y1, &mut phi, scratch);
        for (&i, share) in part.inputs.iter().zip(&phi) {
            out[i] += share;
        }
        method = method.and(m);
    }
    method
}

fn product(
    constant: f64,
    factors: &[(usize, Factor)],
    w: &[f64],
    x0: &[f64],
    x1: &[f64],
    phi: &mut [f64],
    scratch: &mut Scratch,
) {
    let n = x0.len();
    let Scratch { h0, h1, poly, .. } = scratch;
    for h in [&mut *h0, &mut *h1] {
        h.clear();
        h.resize(n, 1.0);
    }
    for (i, factor) in factors {
        let (a, b) = match factor {
            Factor::Power(1) => (x0[*i], x1[*i]),
            Factor::Power(-1) => (1.0 / x0[*i], 1.0 / x1[*i]),
            Factor::Power(p) => (x0[*i].powi(*p), x1[*i].powi(*p)),
            Factor::General(e) => (eval_at(e, x0), eval_at(e, x1)),
        };
        h0[*i] *= a;
        h1[*i] *= b;
    }
    poly.resize(n, 0.0);
    for i in 0..n {
        if x0[i] == x1[i] {
            continue;
        }
        // Coefficients of prod_{j != i} (h0_j + h1_j t): the sum over coalitions of each size.
        poly.fill(0.0);
        poly[0] = 1.0;
        for (degree, j) in (0..n).filter(|&j| j != i).enumerate() {
            // Multiply by (h0_j + h1_j t) in place, highest power first.
            poly[degree + 1] = poly[degree] * h1[j];
            for k in (1..=degree).rev() {
                poly[k] = poly[k] * h0[j] + poly[k - 1] * h1[j];
            }
            poly[0] *= h0[j];
        }
        let weighted: f64 = poly.iter().zip(w).map(|(c, w)| c * w).sum();
        phi[i] = constant * (h1[i] - h0[i]) * weighted;
    }
}

/// Writes the shares to `phi`, or NaN if a coalition's point is undefined.
fn exact(
    program: &Program,
    w: &[f64],
    x0: &[f64],
    x1: &[f64],
    phi: &mut [f64],
    scratch: &mut Scratch,
) {
    let n = x0.len();
    let Scratch {
        stack, coalitions, ..
    } = scratch;
    // Point `mask` is the coalition whose members are the set bits: input `i` is new there,
    // so its values alternate between old and new in runs of `2^i`. Batches of BATCH points
    // (a multiple of every run shorter than itself) keep the stack small.
    let total = 1usize << n;
    coalitions.clear();
    for start in (0..total).step_by(BATCH) {
        let lanes = BATCH.min(total - start);
        let mut load = |i: usize, out: &mut [f64]| {
            let run = 1usize << i;
            if run >= lanes {
                out.fill(if start & run == 0 { x0[i] } else { x1[i] });
                return;
            }
            for block in out.chunks_mut(2 * run) {
                let (old, new) = block.split_at_mut(run);
                old.fill(x0[i]);
                new.fill(x1[i]);
            }
        };
        coalitions.extend_from_slice(program.eval(lanes, &mut load, stack));
    }
    let f = &coalitions[..];
    if f.iter().any(|v| !v.is_finite()) {
        phi.fill(f64::NAN);
        return;
    }
    for (i, share) in phi.iter_mut().enumerate() {
        if x0[i] == x1[i] {
            continue;
        }
        // Every coalition without `i`, in runs of `2^i` points; adding `i` is `2^i` points on.
        let bit = 1usize << i;
        let mut sum = 0.0;
        for start in (0..total).step_by(2 * bit) {
            for mask in start..start + bit {
                sum += w[mask.count_ones() as usize] * (f[mask + bit] - f[mask]);
            }
        }
        *share = sum;
    }
}

/// The partial derivative of `expr` in input `i` at `x`, and whether the kink rule decided
/// it; 0 where the formula is undefined at `x`.
fn slope(expr: &Expr<usize>, x: &[f64], i: usize) -> (f64, bool) {
    derivative::partial(expr, x, i).map_or((0.0, true), |s| (s.slope, s.kink))
}

fn gradient(expr: &Expr<usize>, x0: &[f64], x1: &[f64]) -> Vec<f64> {
    let n = x0.len();
    let total = eval_at(expr, x1) - eval_at(expr, x0);
    let mid: Vec<f64> = x0.iter().zip(x1).map(|(a, b)| (a + b) / 2.0).collect();
    let mut phi: Vec<f64> = (0..n)
        .map(|i| {
            if x0[i] == x1[i] {
                0.0
            } else {
                slope(expr, &mid, i).0 * (x1[i] - x0[i])
            }
        })
        .collect();
    let weight: f64 = phi.iter().map(|v| v.abs()).sum();
    let residual = total - phi.iter().sum::<f64>();
    if weight > 0.0 {
        let spread: Vec<f64> = phi.iter().map(|v| residual * v.abs() / weight).collect();
        phi.iter_mut().zip(spread).for_each(|(p, s)| *p += s);
    } else {
        // No slope anywhere to go by (a step function): share equally among the changed
        // inputs the formula uses.
        let mut used = Vec::new();
        vars(expr, &mut used);
        let changed: Vec<usize> = used.into_iter().filter(|&i| x0[i] != x1[i]).collect();
        for &i in &changed {
            phi[i] = total / changed.len() as f64;
        }
    }
    phi
}

/// The Shapley-weighted mean of the partial derivative of `expr` in input `i`, over the
/// points where the other inputs are at old or new values and `i` is at its (unchanged) value,
/// and how it was found. It is the limit of `share_i / change_i` as input `i`'s change goes
/// to zero. Derivatives are exact (forward mode); where one does not exist, the kink rule of
/// `derivative` decides.
pub(crate) fn mean_partial(expr: &Expr<usize>, x0: &[f64], x1: &[f64], i: usize) -> (f64, Limit) {
    let n = x0.len();
    let others: Vec<usize> = (0..n).filter(|&j| j != i && x0[j] != x1[j]).collect();
    let limit = |kink: bool| if kink { Limit::Kink } else { Limit::Exact };
    if others.len() > MAX_LIMIT_EXACT {
        let mid: Vec<f64> = x0.iter().zip(x1).map(|(a, b)| (a + b) / 2.0).collect();
        return (slope(expr, &mid, i).0, Limit::Midpoint);
    }
    let w = weights(n);
    let (mut total, mut kinked) = (0.0, false);
    let mut point = x0.to_vec();
    for mask in 0..1usize << others.len() {
        for (k, &j) in others.iter().enumerate() {
            point[j] = if mask >> k & 1 == 1 { x1[j] } else { x0[j] };
        }
        // Inputs that did not change sit in every coalition or none alike; only the changed
        // ones decide the weight, which sums to one over the subsets of `others`.
        let weight = w_subset(&w, others.len(), mask.count_ones() as usize, n);
        let (d, kink) = slope(expr, &point, i);
        total += weight * d;
        kinked |= kink;
    }
    (total, limit(kinked))
}

/// The total Shapley weight of the coalitions whose changed members are exactly a given set
/// of `k` out of `m` changed inputs, among `n` inputs: unchanged inputs may be in or out.
fn w_subset(w: &[f64], m: usize, k: usize, n: usize) -> f64 {
    let u = n - 1 - m; // unchanged inputs other than i
    let mut binom = 1.0f64;
    let mut total = 0.0;
    for extra in 0..=u {
        total += binom * w[k + extra];
        binom = binom * (u - extra) as f64 / (extra + 1) as f64;
    }
    total
}

mod sampled;
use sampled::sampled;

#[cfg(test)]
mod tests;
