//! Shapley shares of formulas too wide to enumerate: the mean over sampled pairs of orders,
//! drawn by a fixed shuffle so every run gives the same shares, with inputs that moved alike
//! and play the same role averaged, as exact Shapley values would treat them.

use super::*;

/// A deterministic shuffle (xorshift), so sampled shares are the same on every run.
fn orders(n: usize, pairs: usize) -> Vec<Vec<usize>> {
    let mut next = xorshift(n as u64);
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

fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// Writes the mean shares over sampled orders to `phi` (NaN if a point is undefined), with
/// inputs of the same values and the same role averaged, and returns the method with its
/// estimated error.
pub(super) fn sampled(
    program: &Program,
    x0: &[f64],
    x1: &[f64],
    phi: &mut [f64],
    stack: &mut Vec<f64>,
) -> Method {
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
    let method = Method::Sampled {
        orders: orders.len() as u32,
        max_error: f64::NAN,
    };
    if f.iter().any(|v| !v.is_finite()) {
        phi.fill(f64::NAN);
        return method;
    }
    // Each antithetic pair's marginals, per input: their mean is the estimate, their spread
    // its error.
    let mut pairs = vec![vec![0.0; n]; SAMPLED_PAIRS];
    for (o, order) in orders.iter().enumerate() {
        let base = o * (n + 1);
        for step in 1..=n {
            let i = order[step - 1];
            if x0[i] != x1[i] {
                pairs[o / 2][i] += (f[base + step] - f[base + step - 1]) / 2.0;
            }
        }
    }
    let count = SAMPLED_PAIRS as f64;
    let mut max_error = 0.0f64;
    for (i, share) in phi.iter_mut().enumerate() {
        let mean = pairs.iter().map(|p| p[i]).sum::<f64>() / count;
        let variance = pairs.iter().map(|p| (p[i] - mean).powi(2)).sum::<f64>() / (count - 1.0);
        max_error = max_error.max(3.0 * (variance / count).sqrt());
        *share = mean;
    }
    average_symmetric(program, x0, x1, phi, stack);
    Method::Sampled {
        orders: orders.len() as u32,
        max_error,
    }
}

/// Gives inputs that moved alike (same old and same new value) and play the same role (the
/// formula is unchanged when they are swapped, at a few points spread around the data) the
/// mean of their shares, as exact Shapley values would be. Means keep the sum.
fn average_symmetric(
    program: &Program,
    x0: &[f64],
    x1: &[f64],
    phi: &mut [f64],
    stack: &mut Vec<f64>,
) {
    let n = x0.len();
    let mut next = xorshift(0x5EED ^ n as u64);
    let mut unit = move || (next() >> 11) as f64 / (1u64 << 53) as f64;
    // Points between and around the old and new values, each input independently.
    let points: Vec<Vec<f64>> = (0..4)
        .map(|_| {
            (0..n)
                .map(|i| x0[i] + (x1[i] - x0[i]) * (2.0 * unit() - 0.5))
                .collect()
        })
        .collect();
    let at = |stack: &mut Vec<f64>, swap: Option<(usize, usize)>| -> Vec<f64> {
        let column = |i: usize| match swap {
            Some((a, b)) if i == a => b,
            Some((a, b)) if i == b => a,
            _ => i,
        };
        let mut load = |i: usize, out: &mut [f64]| {
            for (lane, v) in out.iter_mut().enumerate() {
                *v = points[lane][column(i)];
            }
        };
        program.eval(points.len(), &mut load, stack).to_vec()
    };
    let plain = at(stack, None);
    let mut done = vec![false; n];
    for a in 0..n {
        if done[a] || x0[a] == x1[a] {
            continue;
        }
        let mut group = vec![a];
        for b in a + 1..n {
            let alike = x0[b].to_bits() == x0[a].to_bits() && x1[b].to_bits() == x1[a].to_bits();
            if alike && !done[b] && at(stack, Some((a, b))) == plain {
                group.push(b);
            }
        }
        let mean = group.iter().map(|&i| phi[i]).sum::<f64>() / group.len() as f64;
        for &i in &group {
            phi[i] = mean;
            done[i] = true;
        }
    }
}
