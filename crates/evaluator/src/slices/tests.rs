//! The search's properties: an injected slice is found exactly, noise alone gives none,
//! and the slices' changes add up to what they explain.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::search::{locate, Conditions, Found, Leaves};
use super::{describe, Named};
use crate::attribution::Parts;

/// Random leaves: every combination of `cards` values, each a base in 50..150 times noise
/// within ±1%.
fn grid(cards: &[u32], seed: u64) -> (Vec<u32>, Vec<f64>, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let n: usize = cards.iter().map(|&c| c as usize).product();
    let mut codes = Vec::with_capacity(n * cards.len());
    let (mut before, mut after) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let mut rest = i;
        for &c in cards.iter().rev() {
            codes.push((rest % c as usize) as u32);
            rest /= c as usize;
        }
        let b: f64 = rng.random_range(50.0..150.0);
        let noise: f64 = rng.random_range(-0.01..0.01);
        before.push(b);
        after.push(b * (1.0 + noise));
    }
    // Codes were pushed last dimension first: put each leaf's in dimension order.
    for leaf in codes.chunks_mut(cards.len()) {
        leaf.reverse();
    }
    (codes, before, after)
}

fn inside(codes: &[u32], dims: usize, i: usize, slice: &Conditions) -> bool {
    slice.iter().all(|&(d, c)| codes[i * dims + d] == c)
}

fn strategy() -> impl Strategy<Value = (Vec<u32>, u64, Vec<usize>, Vec<u32>, f64)> {
    (2usize..=5)
        .prop_flat_map(|dims| {
            (
                proptest::collection::vec(3u32..=5, dims),
                any::<u64>(),
                proptest::sample::subsequence((0..dims).collect::<Vec<_>>(), 1..=dims.min(3)),
            )
        })
        .prop_flat_map(|(cards, seed, on)| {
            let values = on.iter().map(|&d| 0..cards[d]).collect::<Vec<_>>();
            let up = prop_oneof![-0.8f64..-0.3, 0.3f64..2.0];
            (Just(cards), Just(seed), Just(on), values, up)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn an_injected_slice_is_found_exactly((cards, seed, on, values, r) in strategy()) {
        let dims = cards.len();
        let slice: Conditions = on.iter().copied().zip(values.iter().copied()).collect();
        let (codes, before, mut after) = grid(&cards, seed);
        for (i, a) in after.iter_mut().enumerate() {
            if inside(&codes, dims, i, &slice) {
                *a *= 1.0 + r;
            }
        }
        let found = locate(&Leaves { dims, codes: &codes, before: &before, after: &after });
        prop_assert_eq!(found, Found::Slices(vec![slice]));
    }

    #[test]
    fn noise_alone_gives_no_slice((cards, seed, ..) in strategy()) {
        let (codes, before, after) = grid(&cards, seed);
        let found = locate(&Leaves { dims: cards.len(), codes: &codes, before: &before, after: &after });
        prop_assert_eq!(found, Found::Nothing);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Two moves in the same direction, maybe overlapping: the slices' changes add up to the
    /// change of the segments they hold (an overlap is counted once), so their shares add up
    /// to the share they explain together and none exceeds it.
    #[test]
    fn shares_never_exceed_the_change_explained(
        (cards, seed, on, values, r) in strategy(),
        (other, up) in (0usize..5, 0.3f64..1.0),
    ) {
        let dims = cards.len();
        let first: Conditions = on.iter().copied().zip(values.iter().copied()).collect();
        let second: Conditions = vec![(other % dims, 1)];
        let (codes, before, mut after) = grid(&cards, seed);
        let r = r.abs();
        for (i, a) in after.iter_mut().enumerate() {
            for (slice, move_by) in [(&first, r), (&second, up)] {
                if inside(&codes, dims, i, slice) {
                    *a *= 1.0 + move_by;
                }
            }
        }
        let leaves = Leaves { dims, codes: &codes, before: &before, after: &after };
        let Found::Slices(found) = locate(&leaves) else {
            return Err(TestCaseError::fail(format!("no slices: {:?}", locate(&leaves))));
        };
        let parts = Parts::Sum(before.iter().zip(&after).map(|(&b, &a)| [b, a]).collect());
        let values: Vec<Vec<String>> = cards
            .iter()
            .map(|&c| (0..c).map(|v| v.to_string()).collect())
            .collect();
        let names: Vec<String> = (0..dims).map(|d| format!("d{d}")).collect();
        let named = Named { dims: &names, values: &values };
        let slices = describe(&leaves, &parts, &found, &named);
        let union: f64 = (0..before.len())
            .filter(|&i| found.iter().any(|s| inside(&codes, dims, i, s)))
            .map(|i| after[i] - before[i])
            .sum();
        let shares: f64 = slices.iter().map(|s| s.share.unwrap()).sum();
        let changes: f64 = slices.iter().map(|s| s.change).sum();
        let total: f64 = (0..before.len()).map(|i| after[i] - before[i]).sum();
        prop_assert!((shares - union / total).abs() <= 1e-9, "{shares} vs {}", union / total);
        for s in &slices {
            prop_assert!(s.share.unwrap() > 0.0 && s.share.unwrap() <= shares + 1e-12, "{slices:?} {found:?}");
        }
        prop_assert!((changes - union).abs() <= 1e-9 * union.abs(), "{changes} vs {union}");
    }
}

/// Searches one dimension's values, `before -> after` each, expecting `expected`.
fn check(values: &[(f64, f64)], expected: Found) {
    let codes: Vec<u32> = (0..values.len() as u32).collect();
    let before: Vec<f64> = values.iter().map(|v| v.0).collect();
    let after: Vec<f64> = values.iter().map(|v| v.1).collect();
    let leaves = Leaves {
        dims: 1,
        codes: &codes,
        before: &before,
        after: &after,
    };
    assert_eq!(locate(&leaves), expected, "{values:?}");
}

#[test]
fn few_segments_name_what_moved_without_a_noise_estimate() {
    // Too few segments to read noise from: the move is named.
    check(
        &[(100.0, 50.0), (100.0, 100.0), (80.0, 80.0)],
        Found::Slices(vec![vec![(0, 0)]]),
    );
    // Every segment moved by the same share: no place more than another.
    check(
        &[(100.0, 50.0), (100.0, 50.0), (80.0, 40.0)],
        Found::Everywhere,
    );
    // Nothing moved.
    check(&[(100.0, 100.0), (80.0, 80.0)], Found::Nothing);
    // A new segment is where the change is.
    check(
        &[(0.0, 40.0), (100.0, 100.0), (80.0, 80.0)],
        Found::Slices(vec![vec![(0, 0)]]),
    );
}
