use proptest::prelude::*;

use super::*;

const SIZES: Sizes = Sizes {
    node_w: 200.0,
    node_h: 90.0,
    gap_x: 20.0,
    gap_y: 60.0,
    dummy_w: 12.0,
};

/// What every layout must be: no two boxes overlap, parents above their inputs, every edge
/// starts at the middle of its parent's bottom and ends at the middle of its input's top,
/// and everything lies inside the picture.
fn assert_sound(inputs: &[Vec<usize>], l: &Layout) {
    assert_eq!(l.nodes.len(), inputs.len());
    for (i, a) in l.nodes.iter().enumerate() {
        assert!(
            a.x >= -1e-6 && a.x + a.w <= l.width + 1e-6,
            "node {i} outside"
        );
        assert!(
            a.y >= 0.0 && a.y + a.h <= l.height + 1e-6,
            "node {i} outside"
        );
        for (j, b) in l.nodes.iter().enumerate().skip(i + 1) {
            assert!(!a.overlaps(b), "nodes {i} and {j} overlap: {a:?} {b:?}");
        }
    }
    let edges: usize = inputs.iter().map(Vec::len).sum();
    assert_eq!(l.edges.len(), edges);
    for e in &l.edges {
        let (p, c) = (l.nodes[e.from], l.nodes[e.to]);
        assert!(inputs[e.from].contains(&e.to));
        assert!(
            p.y + p.h < c.y,
            "parent {} not above input {}",
            e.from,
            e.to
        );
        let first = e.points[0];
        let last = *e.points.last().unwrap();
        assert!((first.0 - (p.x + p.w / 2.0)).abs() < 1e-6 && (first.1 - (p.y + p.h)).abs() < 1e-6);
        assert!((last.0 - (c.x + c.w / 2.0)).abs() < 1e-6 && (last.1 - c.y).abs() < 1e-6);
        // The path goes down all the way.
        assert!(e.points.windows(2).all(|w| w[0].1 <= w[1].1));
    }
}

#[test]
fn a_tree_is_drawn_without_crossings_and_parents_centred() {
    // 0 -> 1, 2, 3; 1 -> 4, 5; 3 -> 6, 7, 8
    let inputs = vec![
        vec![1, 2, 3],
        vec![4, 5],
        vec![],
        vec![6, 7, 8],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    ];
    let l = layout(&inputs, SIZES);
    assert_sound(&inputs, &l);
    assert_eq!(l.crossings, 0);
    // Inputs keep formula order, left to right.
    assert!(l.nodes[1].x < l.nodes[2].x && l.nodes[2].x < l.nodes[3].x);
    // A parent is centred over its inputs.
    let centre = |i: usize| l.nodes[i].x + l.nodes[i].w / 2.0;
    assert!((centre(3) - centre(7)).abs() < 1e-6);
    assert!((centre(1) - (centre(4) + centre(5)) / 2.0).abs() < 1e-6);
}

#[test]
fn a_shared_metric_is_drawn_once_below_both_parents() {
    // 0 -> 1, 2; both 1 and 2 -> 3; and 0 -> 3 directly (an edge over a layer).
    let inputs = vec![vec![1, 2, 3], vec![3], vec![3], vec![]];
    let l = layout(&inputs, SIZES);
    assert_sound(&inputs, &l);
    assert_eq!(l.nodes[3].y, 2.0 * (SIZES.node_h + SIZES.gap_y));
    let long = l.edges.iter().find(|e| e.from == 0 && e.to == 3).unwrap();
    assert_eq!(long.points.len(), 4, "passes through the middle layer");
    assert!(long.path().starts_with('M'));
}

#[test]
fn reordering_removes_crossings_the_first_order_has() {
    // Depth-first order puts 3 before 4, so 1 -> 4 crosses 2 -> 3; 3 belongs on the right.
    let inputs = vec![vec![1, 2], vec![3, 4], vec![3], vec![], vec![]];
    let l = layout(&inputs, SIZES);
    assert_sound(&inputs, &l);
    let first = {
        let layers = layers(&inputs);
        Layered::new(&inputs, &layers).crossings()
    };
    assert_eq!(first, 1);
    assert_eq!(l.crossings, 0);
}

#[test]
fn placement_is_the_least_squares_one() {
    // Wanted at 0, 0 and 100 with 50 between: the first two share the pool.
    let x = place(&[0.0, 0.0, 100.0], &[50.0, 50.0]);
    assert_eq!(x, vec![-25.0, 25.0, 100.0]);
    assert_eq!(inversions([3, 1, 2].into_iter()), 2);
    assert_eq!(px(1.25), "1.3");
    assert_eq!(px(-0.0), "0");
}

/// A random DAG: node `i` takes inputs among the nodes after it, and every node after 0 has
/// a parent before it, so all are reachable from 0.
fn dag() -> impl Strategy<Value = Vec<Vec<usize>>> {
    (2usize..40).prop_flat_map(|n| {
        let picks = proptest::collection::vec((0usize..1000, proptest::bool::weighted(0.15)), n);
        let extra = proptest::collection::vec((0usize..1000, 0usize..1000), 0..n);
        (Just(n), picks, extra).prop_map(|(n, picks, extra)| {
            let mut inputs = vec![Vec::new(); n];
            for (c, (p, _)) in picks.iter().enumerate().skip(1) {
                inputs[p % c].push(c);
            }
            for (a, b) in extra {
                let (a, b) = (a % n, b % n);
                let (p, c) = (a.min(b), a.max(b));
                if p != c && !inputs[p].contains(&c) {
                    inputs[p].push(c);
                }
            }
            inputs
        })
    })
}

proptest! {
    #[test]
    fn every_dag_is_laid_out_soundly(inputs in dag()) {
        let l = layout(&inputs, SIZES);
        assert_sound(&inputs, &l);
        let layers = layers(&inputs);
        prop_assert!(l.crossings <= Layered::new(&inputs, &layers).crossings());
    }
}
