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
//! - **exact**: other formulas of up to [`MAX_EXACT`] inputs: all `2^n` coalitions, evaluated in
//!   one batched pass;
//! - **sampled**: wider formulas: the mean over antithetic pairs of orders (each order's
//!   marginal changes sum exactly to the total change, so the shares still sum exactly);
//! - **gradient**: the fallback when a coalition's point is undefined (a denominator that is
//!   zero only at a mix of old and new values): midpoint partial derivatives times the input
//!   changes, the remainder spread in proportion, so the shares still sum exactly.

use canopy_engine::formula::{BinOp, Expr, Func, Program};
use canopy_engine::Formula;

/// Most inputs for which every coalition is enumerated.
pub const MAX_EXACT: usize = 16;
/// Pairs of orders sampled for wider formulas.
const SAMPLED_PAIRS: usize = 128;

/// How a metric's shares were computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Closed form for sums of one-input terms.
    Sum,
    /// Closed form for products and ratios of one-input factors.
    Product,
    /// Enumeration of every coalition.
    Exact,
    /// Mean over sampled orders (formulas of more than [`MAX_EXACT`] inputs).
    Sampled,
    /// Midpoint gradient, where a coalition's point is undefined.
    Gradient,
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
    /// Anything else, with the Shapley weights of its inputs.
    General { weights: Vec<f64> },
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

/// Splits a sum into one-input terms, each wrapped by `wrap` (signs and constant scales).
fn sum_terms(
    e: &Expr<usize>,
    wrap: &dyn Fn(Expr<usize>) -> Expr<usize>,
    out: &mut Vec<(usize, Expr<usize>)>,
) -> bool {
    if let Some(var) = single_var(e) {
        if let Some(v) = var {
            out.push((v, wrap(e.clone())));
        }
        return true;
    }
    let bin = |op, a: &Expr<usize>, b: Expr<usize>| Expr::Bin(op, Box::new(a.clone()), Box::new(b));
    match e {
        Expr::Bin(BinOp::Add, a, b) => sum_terms(a, wrap, out) && sum_terms(b, wrap, out),
        Expr::Bin(BinOp::Sub, a, b) => {
            sum_terms(a, wrap, out) && sum_terms(b, &|t| wrap(Expr::Neg(Box::new(t))), out)
        }
        Expr::Neg(a) => sum_terms(a, &|t| wrap(Expr::Neg(Box::new(t))), out),
        Expr::Bin(BinOp::Mul, c, x) if is_constant(c) => {
            sum_terms(x, &|t| wrap(bin(BinOp::Mul, c, t)), out)
        }
        Expr::Bin(BinOp::Mul, x, c) if is_constant(c) => {
            sum_terms(x, &|t| wrap(bin(BinOp::Mul, c, t)), out)
        }
        Expr::Bin(BinOp::Div, x, c) if is_constant(c) => sum_terms(
            x,
            &|t| wrap(Expr::Bin(BinOp::Div, Box::new(t), c.clone())),
            out,
        ),
        Expr::Call(Func::Sum, args) => args.iter().all(|a| sum_terms(a, wrap, out)),
        Expr::Call(Func::Avg, args) => {
            let n = Expr::Num(args.len() as f64);
            args.iter().all(|a| {
                sum_terms(
                    a,
                    &|t| wrap(Expr::Bin(BinOp::Div, Box::new(t), Box::new(n.clone()))),
                    out,
                )
            })
        }
        _ => false,
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
        let expr = formula.expr();
        let mut terms = Vec::new();
        if sum_terms(expr, &|t| t, &mut terms) {
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
        let n = formula.inputs().len();
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
    let n = x0.len();
    debug_assert_eq!(n, formula.inputs().len(), "one value per input");
    out.clear();
    out.resize(n, 0.0);
    let method = match plan {
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
        Plan::General { weights } if n <= MAX_EXACT => {
            exact(formula.program(), weights, x0, x1, out, &mut scratch.stack);
            Method::Exact
        }
        Plan::General { .. } => {
            sampled(formula.program(), x0, x1, out, &mut scratch.stack);
            Method::Sampled
        }
    };
    if out.iter().all(|v| v.is_finite()) {
        return method;
    }
    *out = gradient(formula.expr(), x0, x1);
    Method::Gradient
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
    stack: &mut Vec<f64>,
) {
    let n = x0.len();
    // Lane `mask` is the coalition whose members are the set bits: input `i` is new there,
    // so its lanes alternate between old and new values in runs of `2^i`.
    let mut load = |i: usize, out: &mut [f64]| {
        let run = 1 << i;
        for block in out.chunks_mut(2 * run) {
            let (old, new) = block.split_at_mut(run);
            old.fill(x0[i]);
            new.fill(x1[i]);
        }
    };
    let f = program.eval(1 << n, &mut load, stack);
    if f.iter().any(|v| !v.is_finite()) {
        phi.fill(f64::NAN);
        return;
    }
    for (i, share) in phi.iter_mut().enumerate() {
        if x0[i] == x1[i] {
            continue;
        }
        // Every coalition without `i`, in runs of `2^i` lanes; adding `i` is `2^i` lanes on.
        let bit = 1usize << i;
        let mut sum = 0.0;
        for start in (0..1usize << n).step_by(2 * bit) {
            for mask in start..start + bit {
                sum += w[mask.count_ones() as usize] * (f[mask + bit] - f[mask]);
            }
        }
        *share = sum;
    }
}

/// A deterministic shuffle (xorshift), so sampled shares are the same on every run.
fn orders(n: usize, pairs: usize) -> Vec<Vec<usize>> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ n as u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = Vec::with_capacity(pairs * 2);
    for _ in 0..pairs {
        let mut order: Vec<usize> = (0..n).collect();
        for k in (1..n).rev() {
            order.swap(k, (next() % (k as u64 + 1)) as usize);
        }
        let reversed: Vec<usize> = order.iter().rev().copied().collect();
        out.push(order);
        out.push(reversed);
    }
    out
}

/// Writes the mean shares over sampled orders to `phi`, or NaN if a point is undefined.
fn sampled(program: &Program, x0: &[f64], x1: &[f64], phi: &mut [f64], stack: &mut Vec<f64>) {
    let n = x0.len();
    let orders = orders(n, SAMPLED_PAIRS);
    // Each order walks n + 1 points from x0 to x1, switching one input at a time.
    let lanes = orders.len() * (n + 1);
    let mut columns = vec![Vec::with_capacity(lanes); n];
    for order in &orders {
        let mut point = x0.to_vec();
        for step in 0..=n {
            if step > 0 {
                point[order[step - 1]] = x1[order[step - 1]];
            }
            for (i, column) in columns.iter_mut().enumerate() {
                column.push(point[i]);
            }
        }
    }
    let f = program.eval(lanes, &mut |i, out| out.copy_from_slice(&columns[i]), stack);
    if f.iter().any(|v| !v.is_finite()) {
        phi.fill(f64::NAN);
        return;
    }
    for (o, order) in orders.iter().enumerate() {
        let base = o * (n + 1);
        for step in 1..=n {
            let i = order[step - 1];
            if x0[i] != x1[i] {
                phi[i] += f[base + step] - f[base + step - 1];
            }
        }
    }
    let count = orders.len() as f64;
    phi.iter_mut().for_each(|v| *v /= count);
}

/// A central-difference partial derivative of `expr` in input `i` at `x`.
pub(crate) fn partial(expr: &Expr<usize>, x: &[f64], i: usize) -> f64 {
    let h = 1e-6 * x[i].abs().max(1e-3);
    let (mut lo, mut hi) = (x.to_vec(), x.to_vec());
    lo[i] -= h;
    hi[i] += h;
    let d = (eval_at(expr, &hi) - eval_at(expr, &lo)) / (2.0 * h);
    if d.is_finite() {
        d
    } else {
        0.0
    }
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
                partial(expr, &mid, i) * (x1[i] - x0[i])
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
/// points where the other inputs are at old or new values and `i` is at its (unchanged) value.
/// It is the limit of `share_i / change_i` as input `i`'s change goes to zero.
pub(crate) fn mean_partial(expr: &Expr<usize>, x0: &[f64], x1: &[f64], i: usize) -> f64 {
    let n = x0.len();
    let others: Vec<usize> = (0..n).filter(|&j| j != i && x0[j] != x1[j]).collect();
    if others.len() > 12 {
        let mid: Vec<f64> = x0.iter().zip(x1).map(|(a, b)| (a + b) / 2.0).collect();
        return partial(expr, &mid, i);
    }
    let w = weights(n);
    let mut total = 0.0;
    for mask in 0..1usize << others.len() {
        let mut point = x0.to_vec();
        for (k, &j) in others.iter().enumerate() {
            if mask >> k & 1 == 1 {
                point[j] = x1[j];
            }
        }
        // Inputs that did not change sit in every coalition or none alike; only the changed
        // ones decide the weight, which sums to one over the subsets of `others`.
        let weight = w_subset(&w, others.len(), mask.count_ones() as usize, n);
        total += weight * partial(expr, &point, i);
    }
    total
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

#[cfg(test)]
mod tests;
