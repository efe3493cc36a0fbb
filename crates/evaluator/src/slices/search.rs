//! The search for slices over leaves numbered by dimension: every conjunction of
//! `dimension = value` is scored by how much of the change it explains as one relative
//! move, and the best are taken one at a time until what is left is noise.
//!
//! The model: a leaf of base `m` (its value before, or after when it had none before) that
//! is in a moved slice changed by the slice's relative move `r`, so its change is `r * m`;
//! any other leaf changed by noise. Noise is taken to grow with a leaf's size as
//! `m * (m + k)` (relative for large leaves, like counting noise for small ones; `k` is the
//! median base), so each leaf's squared error is weighed by `1 / (m * (m + k))`. Fitting one
//! slice's `r` by weighted least squares reduces the error by `A^2 / B`, where
//! `A = sum(w m e)` and `B = sum(w m^2)` over its leaves: that reduction is the slice's gain.
//! A general slice whose leaves all moved alike gains the sum of its parts' gains, so it wins
//! over them; one that mixes moved and unmoved leaves gains less than the moved part alone.

use rustc_hash::FxHashMap;

/// Most slices taken before the change is called diffuse.
pub const MAX_SLICES: usize = 10;

/// A slice's gain must pass this many times the noise's variance per leaf: about twice the
/// log of the number of candidates a maximum of noise reaches, with room to spare.
const NOISE_FACTOR: f64 = 30.0;

/// A slice's gain must be at least this share of the change's whole weighted energy: moves
/// smaller than a percent of what happened are not worth naming.
const MIN_GAIN_SHARE: f64 = 0.01;

/// The fewest segments the noise is read from.
const MIN_FOR_NOISE: usize = 8;

/// A change whose whole energy is under this many times what noise gives on average is no
/// change beyond noise.
const NOISE_ENERGY: f64 = 3.0;

/// Below this share of the energy explained, the slices found do not tell where it happened.
const MIN_EXPLAINED: f64 = 0.5;

/// Most (cuboid, leaf) pairs searched: dimensions are combined up to the largest number for
/// which every combination fits (always at least one dimension at a time).
pub const MAX_PAIRS: usize = 1 << 25;

/// The lower quartile of the chi-squared distribution with one degree of freedom: the lower
/// quartile of the leaves' weighted squared errors over this estimates the noise's variance,
/// even when up to three quarters of the leaves moved.
const CHI2_QUARTILE: f64 = 0.101_531;

/// Leaves numbered by dimension: `codes[leaf * dims + d]` is leaf's value of dimension `d`.
pub struct Leaves<'a> {
    /// How many dimensions.
    pub dims: usize,
    /// Each leaf's value codes, leaf-major.
    pub codes: &'a [u32],
    /// The metric's part in each leaf before.
    pub before: &'a [f64],
    /// And after.
    pub after: &'a [f64],
}

/// A conjunction: `(dimension, value code)` pairs, dimensions ascending; empty for everything.
pub type Conditions = Vec<(usize, u32)>;

/// What the search found.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// Nothing changed beyond noise.
    Nothing,
    /// The slices, in the order they were taken (strongest first).
    Slices(Vec<Conditions>),
    /// Every leaf moved alike: there is no place the change is in.
    Everywhere,
    /// No small set of slices explains most of the change.
    Diffuse,
}

/// One combination of dimensions, with each leaf's element (its values on them) numbered.
struct Cuboid {
    dims: Vec<usize>,
    /// Each leaf's element.
    element: Vec<u32>,
    /// A leaf of each element, to read its values back.
    first: Vec<u32>,
    /// Each element's `B = sum(w m^2)`, which does not change during the search.
    weight: Vec<f64>,
}

/// Rounds of fitting the slices taken together after each one is taken.
const REFITS: usize = 3;

/// A slice taken: element `e` of cuboid `c`, moved by `r`.
struct Taken {
    c: usize,
    e: u32,
    r: f64,
}

/// The search's state: leaves' weights and residuals.
struct Search<'a> {
    leaves: &'a Leaves<'a>,
    base: Vec<f64>,
    w: Vec<f64>,
    residual: Vec<f64>,
    /// How many taken slices each leaf is in.
    cover: Vec<u8>,
    cuboids: Vec<Cuboid>,
}

/// Finds the slices that explain the change from `before` to `after`.
pub fn locate(leaves: &Leaves<'_>) -> Found {
    let n = leaves.before.len();
    // A leaf without finite values (none reach here from a defined metric) takes no part.
    let finite = |i: usize| leaves.before[i].is_finite() && leaves.after[i].is_finite();
    let base: Vec<f64> = (0..n)
        .map(|i| match (leaves.before[i], leaves.after[i]) {
            _ if !finite(i) => 0.0,
            (b, _) if b != 0.0 => b.abs(),
            (_, a) => a.abs(),
        })
        .collect();
    let mut positive: Vec<f64> = base.iter().copied().filter(|&m| m > 0.0).collect();
    let k = quantile(&mut positive, 0.5).unwrap_or(1.0);
    let w: Vec<f64> = base
        .iter()
        .map(|&m| if m > 0.0 { 1.0 / (m * (m + k)) } else { 0.0 })
        .collect();
    let residual: Vec<f64> = (0..n)
        .map(|i| match finite(i) {
            true => leaves.after[i] - leaves.before[i],
            false => 0.0,
        })
        .collect();
    // Nothing changed: no need to number anything.
    if residual.iter().zip(&w).all(|(&r, &w)| r == 0.0 || w == 0.0) {
        return Found::Nothing;
    }
    let mut search = Search {
        cuboids: cuboids(leaves, &base, &w),
        leaves,
        base,
        w,
        residual,
        cover: vec![0; n],
    };
    let found = search.run(0);
    match &found {
        // Slices are told against no change, not against a change everywhere: when the
        // change everywhere was one part of several, search again without it.
        Found::Slices(all) if all.iter().any(Vec::is_empty) => {
            search.reset();
            search.run(1)
        }
        _ => found,
    }
}

impl Search<'_> {
    /// Searches cuboids from `from` on (0 includes the slice of everything).
    fn run(&mut self, from: usize) -> Found {
        let energy = self.energy();
        if energy <= 0.0 {
            return Found::Nothing;
        }
        // The noise is read once, from the change itself: read again after a slice is
        // taken, it would count the slice's own misfit.
        let active = self.active().max(1) as f64;
        // Too few segments to read noise from: the change is taken as real (it is being
        // explained), and only the energy rules decide.
        let noise = match self.active() >= MIN_FOR_NOISE {
            true => self.noise(),
            false => 0.0,
        };
        // The quartile of few leaves is a loose estimate (its relative error is about
        // 3.6 / sqrt(n)): the bar rises with it.
        let bar = NOISE_FACTOR * (1.0 + 3.6 / active.sqrt());
        let mut taken: Vec<Taken> = Vec::new();
        while let Some((gain, c, e, r)) = self.best(from) {
            if gain < bar * noise || gain < MIN_GAIN_SHARE * energy {
                break;
            }
            if taken.len() == MAX_SLICES {
                return Found::Diffuse;
            }
            self.take(c, e, r);
            taken.push(Taken { c, e, r });
            self.refit(&mut taken);
        }
        let left = self.energy();
        // The quartile of few leaves can be far below the noise: what is left after the
        // slices, per leaf, is a floor to it (an estimate unexplained moves can only raise),
        // and a slice taken under the lower bar that does not pass this one is dropped.
        let noise = match self.active() >= MIN_FOR_NOISE {
            true => noise.max(left / active),
            false => 0.0,
        };
        let worth: Vec<f64> = taken.iter().map(|t| self.worth(t)).collect();
        let mut gained = energy - left;
        let mut kept = Vec::new();
        for (t, w) in taken.into_iter().zip(worth) {
            if w >= bar * noise {
                kept.push(t);
            } else {
                gained -= w;
            }
        }
        self.judge(&kept, energy, gained, noise * active)
    }

    /// What the slices kept say: nothing, diffuse, everywhere or the slices.
    fn judge(&self, kept: &[Taken], energy: f64, gained: f64, noise_energy: f64) -> Found {
        // Energy about what noise alone would give (its expectation is the noise's variance
        // per leaf times the leaves) is no change: slices that do not explain most of it
        // are noise too.
        let noisy = energy <= NOISE_ENERGY * noise_energy;
        if kept.is_empty() || (noisy && gained < MIN_EXPLAINED * energy) {
            return Found::Nothing;
        }
        if gained < MIN_EXPLAINED * energy {
            return Found::Diffuse;
        }
        let all: Vec<Conditions> = kept.iter().map(|t| self.conditions(t.c, t.e)).collect();
        if all[0].is_empty() && all.len() == 1 {
            return Found::Everywhere;
        }
        if all.iter().any(Vec::is_empty) {
            return Found::Slices(all);
        }
        Found::Slices(drop_interactions(all))
    }

    /// Fits the slices taken together: each one's move again on what the others leave,
    /// a few rounds (least squares by coordinate descent, so slices that overlap share
    /// their segments' change instead of the first taking it all).
    fn refit(&mut self, taken: &mut [Taken]) {
        for _ in 0..REFITS {
            for t in taken.iter_mut() {
                let cuboid = &self.cuboids[t.c];
                let a: f64 = (cuboid.element.iter().enumerate())
                    .filter(|&(_, &x)| x == t.e)
                    .map(|(i, _)| self.w[i] * self.base[i] * self.residual[i])
                    .sum();
                let r = a / cuboid.weight[t.e as usize];
                for (i, &x) in cuboid.element.iter().enumerate() {
                    if x == t.e {
                        self.residual[i] -= r * self.base[i];
                    }
                }
                t.r += r;
            }
        }
    }

    /// How much more would be left to explain without slice `t` (the others as fitted).
    fn worth(&self, t: &Taken) -> f64 {
        let cuboid = &self.cuboids[t.c];
        (cuboid.element.iter().enumerate())
            .filter(|&(_, &x)| x == t.e)
            .map(|(i, _)| {
                let (res, m) = (self.residual[i], self.base[i]);
                self.w[i] * ((res + t.r * m).powi(2) - res * res)
            })
            .sum()
    }

    /// Forgets the slices taken.
    fn reset(&mut self) {
        for i in 0..self.residual.len() {
            if self.base[i] > 0.0 {
                self.residual[i] = self.leaves.after[i] - self.leaves.before[i];
            }
        }
        self.cover.fill(0);
    }

    /// How many leaves take part (those with a base).
    fn active(&self) -> usize {
        self.base.iter().filter(|&&m| m > 0.0).count()
    }

    /// The weighted energy of what is left to explain.
    fn energy(&self) -> f64 {
        (0..self.w.len())
            .map(|i| self.w[i] * self.residual[i] * self.residual[i])
            .sum()
    }

    /// The noise's variance per leaf, from the lower quartile of the weighted squared residuals.
    fn noise(&self) -> f64 {
        let mut z: Vec<f64> = (0..self.w.len())
            .filter(|&i| self.base[i] > 0.0)
            .map(|i| self.w[i] * self.residual[i] * self.residual[i])
            .collect();
        quantile(&mut z, 0.25).unwrap_or(0.0) / CHI2_QUARTILE
    }

    /// The candidate of largest gain, as `(gain, cuboid, element, r)`. A candidate whose
    /// change lies mostly where two taken slices overlap is their interaction, not a place
    /// of its own, and is passed over. Ties go to the earlier cuboid, the more general.
    fn best(&self, from: usize) -> Option<(f64, usize, u32, f64)> {
        let mut best: Option<(f64, usize, u32, f64)> = None;
        let mut a = Vec::new();
        let mut overlap = Vec::new();
        for (c, cuboid) in self.cuboids.iter().enumerate().skip(from) {
            a.clear();
            a.resize(cuboid.weight.len(), 0.0);
            overlap.clear();
            overlap.resize(cuboid.weight.len(), 0.0);
            for (i, &e) in cuboid.element.iter().enumerate() {
                let x = self.w[i] * self.base[i] * self.residual[i];
                a[e as usize] += x;
                if self.cover[i] >= 2 {
                    overlap[e as usize] += x;
                }
            }
            for (e, (&a, &b)) in a.iter().zip(&cuboid.weight).enumerate() {
                if b <= 0.0 || overlap[e].abs() > 0.5 * a.abs() {
                    continue;
                }
                let gain = a * a / b;
                if best.is_none_or(|(g, ..)| gain > g * (1.0 + 1e-9)) {
                    best = Some((gain, c, e as u32, a / b));
                }
            }
        }
        best
    }

    /// Takes element `e` of cuboid `c` as moved by `r`: its leaves' residuals lose `r * m`.
    fn take(&mut self, c: usize, e: u32, r: f64) {
        for (i, &x) in self.cuboids[c].element.iter().enumerate() {
            if x == e {
                self.residual[i] -= r * self.base[i];
                self.cover[i] = self.cover[i].saturating_add(1);
            }
        }
    }

    fn conditions(&self, c: usize, e: u32) -> Conditions {
        let cuboid = &self.cuboids[c];
        let leaf = cuboid.first[e as usize] as usize;
        let dims = self.leaves.dims;
        cuboid
            .dims
            .iter()
            .map(|&d| (d, self.leaves.codes[leaf * dims + d]))
            .collect()
    }
}

/// Whether slice `inner` lies within `outer`: it has all of `outer`'s conditions.
pub fn within(inner: &Conditions, outer: &Conditions) -> bool {
    outer.iter().all(|c| inner.contains(c))
}

/// Drops each slice that lies inside the overlap of two others: the two explain it.
fn drop_interactions(all: Vec<Conditions>) -> Vec<Conditions> {
    let keep: Vec<bool> = (0..all.len())
        .map(|i| {
            let outer = (0..all.len())
                .filter(|&j| j != i && within(&all[i], &all[j]))
                .count();
            outer < 2
        })
        .collect();
    all.into_iter()
        .zip(keep)
        .filter_map(|(c, k)| k.then_some(c))
        .collect()
}

/// Every combination of dimensions searched, fewest dimensions first (so ties go to the
/// general), with each leaf's element numbered.
fn cuboids(leaves: &Leaves<'_>, base: &[f64], w: &[f64]) -> Vec<Cuboid> {
    let n = leaves.before.len();
    let mut out = Vec::new();
    for size in 0..=leaves.dims {
        let layer = combinations(leaves.dims, size);
        if size > 1 && (out.len() + layer.len()).saturating_mul(n) > MAX_PAIRS {
            break;
        }
        for dims in layer {
            out.push(cuboid(leaves, dims, base, w));
        }
    }
    out
}

fn cuboid(leaves: &Leaves<'_>, dims: Vec<usize>, base: &[f64], w: &[f64]) -> Cuboid {
    let n = leaves.before.len();
    let mut numbers: FxHashMap<Box<[u32]>, u32> = FxHashMap::default();
    let mut key = Vec::with_capacity(dims.len());
    let mut element = Vec::with_capacity(n);
    let mut first = Vec::new();
    let mut weight = Vec::new();
    for i in 0..n {
        key.clear();
        key.extend(dims.iter().map(|&d| leaves.codes[i * leaves.dims + d]));
        let e = match numbers.get(key.as_slice()) {
            Some(&e) => e,
            None => {
                let e = first.len() as u32;
                numbers.insert(key.clone().into_boxed_slice(), e);
                first.push(i as u32);
                weight.push(0.0);
                e
            }
        };
        element.push(e);
        weight[e as usize] += w[i] * base[i] * base[i];
    }
    Cuboid {
        dims,
        element,
        first,
        weight,
    }
}

/// The subsets of `0..n` of `size` elements, in lexicographic order.
fn combinations(n: usize, size: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut current = Vec::with_capacity(size);
    fn go(
        start: usize,
        n: usize,
        size: usize,
        current: &mut Vec<usize>,
        out: &mut Vec<Vec<usize>>,
    ) {
        if current.len() == size {
            out.push(current.clone());
            return;
        }
        for d in start..n {
            current.push(d);
            go(d + 1, n, size, current, out);
            current.pop();
        }
    }
    go(0, n, size, &mut current, &mut out);
    out
}

/// The quantile `q` of `v` (reordered), or `None` when it is empty.
fn quantile(v: &mut [f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mid = ((v.len() as f64 * q) as usize).min(v.len() - 1);
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    Some(*m)
}
