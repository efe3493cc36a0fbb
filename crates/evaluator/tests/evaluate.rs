//! Evaluation and attribution on small trees and data written inline: the seed documents'
//! worked examples, data errors, missing and undefined values, and the exactness of
//! attribution on random trees.

use std::path::Path;
use std::sync::Arc;

use canopy_engine::{MemoryFs, MetricTree, RenderOptions, SourceMap};
use proptest::prelude::*;

use canopy_evaluator::*;
use canopy_present::explain_report;

/// `rate = items / users`, the seed's item creation rate.
const RATE: &str =
    "root: rate\nmetrics:\n  rate: { formula: items / users }\n  items: {}\n  users: {}\n";

const PEOPLE: &str = "people: { p: { email: p@example.com } }\nraci: { accountable: p }\n";

/// The evaluator sends no email: any address will do.
struct AnyMailbox;

impl canopy_engine::Mailboxes for AnyMailbox {
    fn address_problem(&self, _: &str) -> Option<String> {
        None
    }

    fn name_problem(&self, _: &str) -> Option<String> {
        None
    }
}

fn tree(yaml: &str) -> MetricTree {
    let text = format!("tree: t\n{PEOPLE}{yaml}");
    let fs = MemoryFs::new().with("t.yaml", text);
    match canopy_engine::load(Path::new("t.yaml"), &fs, &AnyMailbox) {
        Ok(l) => l.tree,
        Err(canopy_engine::Error::Invalid {
            diagnostics,
            sources,
            ..
        }) => {
            panic!(
                "{}",
                canopy_engine::render_diagnostics(&diagnostics, &sources, RenderOptions::default())
            )
        }
        Err(e) => panic!("{e}"),
    }
}

fn data(tree: &MetricTree, csv: &str) -> Result<Data, Error> {
    let mut b = DataBuilder::new(tree);
    match canopy_sources::csv::parse(Path::new("data.csv"), csv.as_bytes().to_vec()) {
        Ok(table) => b.add_table(&Arc::new(table)),
        Err(canopy_sources::csv::CsvError::Header(d)) => b.add_problem(d),
        Err(e) => panic!("{e}"),
    }
    b.finish()
}

/// The problems found in `csv`, which must have some.
fn problems(tree: &MetricTree, csv: &str) -> Vec<canopy_engine::Diagnostic> {
    match data(tree, csv) {
        Err(Error::Data { diagnostics }) => diagnostics,
        other => panic!("should fail: {other:?}"),
    }
}

fn week(s: &str) -> Period {
    Period::parse(s, canopy_engine::Grain::Week).unwrap()
}

/// Evaluates `metric` in `period` of weekly data.
fn value(tree: &MetricTree, csv: &str, metric: &str, period: &str) -> Result<f64, String> {
    let data = data(tree, csv).unwrap();
    let eval = evaluate(tree, &data);
    let id = tree.find(metric).unwrap();
    eval.total(id, week(period))
        .map_err(|c| eval.reason(id, week(period), c))
}

#[test]
fn items_per_active_user() {
    // 500 active users creating 4,000 items: 8 items per active user.
    let t = tree(RATE);
    let csv = "period,metric,value\n2026-W46,items,4000\n2026-W46,users,500\n";
    assert_eq!(value(&t, csv, "rate", "2026-W46"), Ok(8.0));
}

#[test]
fn tenure_cohorts_and_the_average_they_hide() {
    // 35 tenured users x 46 + 15 new users x 26 = 2,000 actions over 50 users = 40.
    let t = tree("root: productivity\nmetrics:\n  productivity: { formula: actions / users }\n  actions: {}\n  users: {}\n");
    let csv = "period,metric,value,tenure\n2026-W10,actions,1610,tenured\n2026-W10,users,35,tenured\n2026-W10,actions,390,new\n2026-W10,users,15,new\n";
    let d = data(&t, csv).unwrap();
    let eval = evaluate(&t, &d);
    let p = week("2026-W10");
    let root = t.root();
    assert_eq!(eval.total(root, p), Ok(40.0));
    assert_eq!(d.dimensions(), ["tenure"]);
    let by_segment: Vec<(String, f64)> = (0..2)
        .map(|s| {
            (
                d.segments()[s][0].clone(),
                eval.get(root, p, Some(s)).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_segment,
        [("tenured".to_string(), 46.0), ("new".to_string(), 26.0)]
    );
}

#[test]
fn activity_score_from_weighted_actions() {
    // 8 logins x 1 + 3 workflows x 5 + 1 invite x 8 = 31 points; 50 points is 100.
    let t = tree(
        "root: score\nparams: { login: 1, workflow: 5, invite: 8, full: 50 }\nmetrics:\n  score: { formula: \"clamp(points / full * 100, 0, 100)\" }\n  points: { formula: logins * login + workflows * workflow + invites * invite }\n  logins: {}\n  workflows: {}\n  invites: {}\n",
    );
    let csv = "period,metric,value\n2026-W46,logins,8\n2026-W46,workflows,3\n2026-W46,invites,1\n";
    assert_eq!(value(&t, csv, "points", "2026-W46"), Ok(31.0));
    assert_eq!(value(&t, csv, "score", "2026-W46"), Ok(62.0));
}

#[test]
fn missing_data_is_a_status_naming_the_leaf_never_zero() {
    let t = tree(RATE);
    let csv = "period,metric,value\n2026-W45,items,10\n2026-W45,users,5\n2026-W46,items,4000\n";
    assert_eq!(
        value(&t, csv, "rate", "2026-W46"),
        Err("`users` has no data in 2026-W46".into())
    );
    assert_eq!(
        value(&t, csv, "users", "2026-W46"),
        Err("no data for `users` in 2026-W46".into())
    );
    assert_eq!(value(&t, csv, "rate", "2026-W45"), Ok(2.0));
}

#[test]
fn undefined_values_say_why() {
    let t = tree("root: top\nmetrics:\n  top: { formula: rate * 2 }\n  rate: { formula: items / users }\n  items: {}\n  users: {}\n");
    let csv = "period,metric,value\n2026-W46,items,10\n2026-W46,users,0\n";
    assert_eq!(
        value(&t, csv, "rate", "2026-W46"),
        Err("division by zero in `items / users`".into())
    );
    assert_eq!(
        value(&t, csv, "top", "2026-W46"),
        Err("`rate` is undefined: division by zero in `items / users`".into())
    );
}

#[test]
fn totals_come_from_explicit_rows_or_the_sum_of_segments() {
    let t = tree("root: r\nmetrics:\n  r: { formula: a * b }\n  a: {}\n  b: {}\n");
    // `b` is a rate: its total is given explicitly (blank segment), not summed.
    let csv = "period,metric,value,plan\n2026-W46,a,3,free\n2026-W46,a,7,pro\n2026-W46,b,0.5,\n2026-W46,b,0.2,free\n2026-W46,b,0.63,pro\n";
    assert_eq!(value(&t, csv, "a", "2026-W46"), Ok(10.0));
    assert_eq!(value(&t, csv, "b", "2026-W46"), Ok(0.5));
    assert_eq!(value(&t, csv, "r", "2026-W46"), Ok(5.0));
}

/// Bad data: every problem, with file, line and column.
#[test]
fn data_errors_name_file_line_and_column() {
    let t = tree(RATE);
    let csv = "period,metric,value\n2026-W46,items,12x\n2026-W46,users,500\n2026-W46,users,501\n2026-W46,usres,1\n2026-W46,rate,8\n2026-11,items,3\n2026-W47,items,\n2026-W99,items,1\n";
    let diagnostics = problems(&t, csv);
    let mut sources = SourceMap::default();
    sources.insert(Path::new("data.csv"), csv.into());
    insta::assert_snapshot!(canopy_engine::render_diagnostics(
        &diagnostics,
        &sources,
        RenderOptions { snippets: true }
    ));
}

#[test]
fn a_header_without_the_required_columns_is_an_error() {
    let t = tree("root: a\nmetrics:\n  a: {}\n");
    let diagnostics = problems(&t, "week,name,amount\n");
    assert_eq!(
        diagnostics[0].message,
        "the CSV header is `week,name,amount`; it needs `period`, `metric` and `value` columns"
    );
}

#[test]
fn a_tree_column_shares_one_file_between_trees() {
    let t = tree("root: a\nmetrics:\n  a: {}\n");
    let csv =
        "tree,period,metric,value\nt,2026-W46,a,1\nother,2026-W46,zzz,2\nother,2026-W46,zzz,oops\n";
    assert_eq!(value(&t, csv, "a", "2026-W46"), Ok(1.0));
    // The other tree's rows are its own business; this tree's are checked.
    let csv = format!("{csv}t,2026-W47,a,oops\n");
    let diagnostics = problems(&t, &csv);
    let at: Vec<(u32, u32)> = diagnostics
        .iter()
        .map(|d| (d.location.span.line, d.location.span.col))
        .collect();
    assert_eq!(at, [(5, 14)]);
}

/// Explains the root of `tree` from 2026-W45 to 2026-W46 on weekly `csv`.
fn explain_w46(tree: &MetricTree, csv: &str) -> Result<Explanation, ExplainError> {
    let d = data(tree, csv).unwrap();
    let eval = evaluate(tree, &d);
    explain(
        &eval,
        &Planner::new(tree),
        tree.root(),
        week("2026-W45"),
        week("2026-W46"),
    )
}

/// A Simpson's paradox: each cohort's conversion rises, the total falls, because traffic
/// moved to the cohort that converts less. The mix effect shows it.
#[test]
fn simpson_case_shows_mix_against_rate() {
    let yaml = "root: conversion\nmetrics:\n  conversion: { formula: conversions / visitors * 100 }\n  conversions: {}\n  visitors: {}\n";
    let csv = "period,metric,value,cohort\n\
        2026-W45,visitors,900,returning\n2026-W45,conversions,450,returning\n2026-W45,visitors,100,new\n2026-W45,conversions,10,new\n\
        2026-W46,visitors,100,returning\n2026-W46,conversions,55,returning\n2026-W46,visitors,900,new\n2026-W46,conversions,99,new\n";
    let t = tree(yaml);
    let e = explain_w46(&t, csv).unwrap();
    assert!((e.root().change - (15.4 - 46.0)).abs() < 1e-9);
    let Segments::Split(shares) = &e.segments else {
        panic!("{:?}", e.segments)
    };
    assert!(
        shares.iter().all(|s| s.rate.unwrap() > 0.0),
        "every cohort's rate rose: {shares:?}"
    );
    let mix: f64 = shares.iter().map(|s| s.mix.unwrap()).sum();
    assert!(
        mix < e.root().change,
        "the mix effect is the whole fall and more: {mix}"
    );
    let sum: f64 = shares.iter().map(|s| s.contribution).sum();
    assert!((sum - e.root().change).abs() < 1e-9);
    let d = data(&t, csv).unwrap();
    let eval = evaluate(&t, &d);
    let report = explain_report(&eval, t.root(), week("2026-W45"), week("2026-W46"), Ok(&e));
    insta::assert_json_snapshot!(report.segments);
}

/// The seed's insight: the rate holds while activation falls and activated users create
/// more. Activation and intensity are reported as offsetting under the flat rate.
#[test]
fn a_flat_rate_hides_a_leaking_funnel() {
    let yaml = "root: rate\nmetrics:\n  rate: { formula: activation * intensity }\n  activation: { formula: activated / active }\n  intensity: {}\n  activated: {}\n  active: {}\n";
    let csv = "period,metric,value\n2026-W45,activated,500,\n2026-W45,active,1000\n2026-W45,intensity,8\n2026-W46,activated,400\n2026-W46,active,1000\n2026-W46,intensity,10.2\n";
    let csv = csv.replace(",\n", "\n");
    let t = tree(yaml);
    let e = explain_w46(&t, &csv).unwrap();
    assert_eq!(e.offsetting.len(), 1, "{:?}", e.offsetting);
    let o = &e.offsetting[0];
    assert_eq!(t.metric(o.metric).id, "rate");
    let names: Vec<&str> = o
        .inputs
        .iter()
        .map(|(m, _)| t.metric(*m).id.as_str())
        .collect();
    assert_eq!(names, ["activation", "intensity"]);
    assert!(o.inputs[0].1 < 0.0 && o.inputs[1].1 > 0.0);
}

/// Under a metric that did not change, inputs that moved in opposite directions still get
/// contributions, opposite and summing to zero (the limit of the chain rule).
#[test]
fn offsetting_inputs_under_an_unchanged_metric_still_show() {
    let yaml = "root: r\nmetrics:\n  r: { formula: x * y }\n  x: { formula: a + b }\n  y: {}\n  a: {}\n  b: {}\n";
    let csv = "period,metric,value\n2026-W45,a,1\n2026-W45,b,1\n2026-W45,y,1\n2026-W46,a,2\n2026-W46,b,0\n2026-W46,y,3\n";
    let t = tree(yaml);
    let e = explain_w46(&t, csv).unwrap();
    let c = |n: &str| e.node(t.find(n).unwrap()).unwrap().contribution;
    assert_eq!(c("r"), 4.0);
    assert_eq!(c("x"), 0.0);
    // d r / d x averaged over y's old and new values is 2: a gets 2 x 1, b gets 2 x -1.
    assert_eq!((c("a"), c("b")), (2.0, -2.0));
    assert_eq!(c("y"), 4.0);
}

/// `r = <root>`, `m1 = l1 + l2` flat at 10 (l1 3 -> 5, l2 7 -> 5), l3 2 -> 4: the
/// contributions of each leaf, and how `r`'s limit was found.
fn flat_m1(root: &str) -> (Vec<f64>, Option<Limit>) {
    let csv = "period,metric,value\n2026-W45,l1,3\n2026-W45,l2,7\n2026-W45,l3,2\n2026-W46,l1,5\n2026-W46,l2,5\n2026-W46,l3,4\n";
    flat(root, "l1 + l2", csv)
}

/// `r = <root>` over `m1 = <m1>`, `l3`: the contributions of l1, l2 and l3 from W45 to W46.
fn flat(root: &str, m1: &str, csv: &str) -> (Vec<f64>, Option<Limit>) {
    let yaml = format!("root: r\nmetrics:\n  r: {{ formula: \"{root}\" }}\n  m1: {{ formula: {m1} }}\n  l1: {{}}\n  l2: {{}}\n  l3: {{}}\n");
    let t = tree(&yaml);
    let e = explain_w46(&t, csv).unwrap();
    let c = |n: &str| e.node(t.find(n).unwrap()).unwrap().contribution;
    (vec![c("l1"), c("l2"), c("l3")], e.root().limit)
}

/// Under a flat metric the split is by exact derivatives (a difference quotient gave
/// 6.008148193359375 for l1 with the constant, 5.999999999772855 without).
#[test]
fn the_limit_under_a_flat_metric_is_exact() {
    for root in ["m1 * l3 + 1000000000", "m1 * l3"] {
        let (c, limit) = flat_m1(root);
        assert_eq!(c, [6.0, -6.0, 20.0], "{root}");
        assert_eq!(limit, Some(Limit::Exact), "{root}");
    }
}

/// At a kink no share is absurd (an `if` on its threshold gave l1 = +2,000,002): the branch
/// taken decides, and continuous kinks take the mean of the one-sided slopes.
#[test]
fn at_a_kink_the_stated_rule_decides() {
    for (root, expected) in [
        ("if(m1 >= 10, 2 * m1, 0) + l3", [4.0, -4.0, 2.0]),
        ("if(m1 > 10, 2 * m1, 0) + l3", [0.0, 0.0, 2.0]),
        ("abs(m1 - 10) + l3", [0.0, 0.0, 2.0]),
        ("min(m1, 10) + l3", [1.0, -1.0, 2.0]),
        ("max(m1, 10) * 3 + l3", [3.0, -3.0, 2.0]),
        ("clamp(m1, 0, 10) + l3", [1.0, -1.0, 2.0]),
    ] {
        let (c, limit) = flat_m1(root);
        assert_eq!(c, expected, "{root}");
        assert_eq!(limit, Some(Limit::Kink), "{root}");
    }
}

/// The kink rule is the formula's as a whole: with `m1 = l1 - l2` flat at 0, `max(abs(m1),
/// m1 / 2)` has one-sided slopes 1 and -1 in `m1` (mean 0) and `max(min(m1, 0), 0)` has 0
/// and 0, so l1 and l2 cannot move `r` and get 0 (a mean taken kink by kink gave them 0.5
/// and -0.5). The leaves still sum to the change.
#[test]
fn nested_kinks_give_inputs_that_cannot_move_the_metric_nothing() {
    let csv = "period,metric,value\n2026-W45,l1,3\n2026-W45,l2,3\n2026-W45,l3,2\n2026-W46,l1,5\n2026-W46,l2,5\n2026-W46,l3,4\n";
    for root in [
        "max(abs(m1), m1 / 2) + l3",
        "max(min(m1, 0), 0) + l3",
        "clamp(min(m1, 0), 0, 5) + l3",
    ] {
        let (c, limit) = flat(root, "l1 - l2", csv);
        assert_eq!(c, [0.0, 0.0, 2.0], "{root}");
        assert!(limit.is_some(), "{root}");
    }
}

/// A segment whose denominator is zero in one period has no rate there: its whole part is
/// mix, and the segments still sum to the change (they gave -1.0 for -0.6).
#[test]
fn segments_sum_when_a_denominator_is_zero() {
    let yaml = "root: r\nmetrics:\n  r: { formula: a / b }\n  a: {}\n  b: {}\n";
    let csv = "period,metric,value,plan\n2026-W45,a,10,x\n2026-W45,b,5,x\n2026-W45,a,10,y\n2026-W45,b,5,y\n2026-W46,a,10,x\n2026-W46,b,10,x\n2026-W46,a,4,y\n2026-W46,b,0,y\n";
    let t = tree(yaml);
    let e = explain_w46(&t, csv).unwrap();
    assert!((e.root().change + 0.6).abs() < 1e-12);
    let Segments::Split(shares) = &e.segments else {
        panic!("{:?}", e.segments)
    };
    let sum: f64 = shares.iter().map(|s| s.contribution).sum();
    assert!((sum + 0.6).abs() < 1e-12, "{shares:?}");
    let y = shares.iter().find(|s| s.contribution.abs() > 0.1).unwrap();
    assert!(
        (y.contribution + 0.6).abs() < 1e-12
            && y.rate == Some(0.0)
            && y.mix == Some(y.contribution)
    );
}

/// `1 ^ NaN` and `NaN ^ 0` are 1 in IEEE arithmetic; an undefined step stays undefined.
#[test]
fn an_undefined_step_does_not_vanish() {
    for formula in [
        "one ^ (y ^ 0.5)",
        "(y ^ 0.5) ^ 0 * one",
        "min(y ^ 0.5, one)",
    ] {
        let yaml = format!(
            "root: r\nmetrics:\n  r: {{ formula: \"{formula}\" }}\n  one: {{}}\n  y: {{}}\n"
        );
        let csv = "period,metric,value\n2026-W46,one,1\n2026-W46,y,-1\n";
        let got = value(&tree(&yaml), csv, "r", "2026-W46");
        assert!(got.is_err(), "{formula}: {got:?}");
    }
}

#[test]
fn explaining_a_missing_value_says_why() {
    let t = tree(RATE);
    let csv = "period,metric,value\n2026-W45,items,1\n2026-W45,users,1\n2026-W46,items,2\n";
    let err = explain_w46(&t, csv).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot explain `rate` from 2026-W45 to 2026-W46: `users` has no data in 2026-W46"
    );
}

/// A random tree: derived metrics d0 (the root) .. dk, each reading the next one and some
/// leaves, with random operators; every leaf is used.
fn arb_tree() -> impl Strategy<Value = (String, usize)> {
    (1usize..4, 2usize..6)
        .prop_flat_map(|(derived, leaves)| {
            let ops =
                prop::collection::vec(prop::collection::vec((0..4usize, 0..leaves), 1..4), derived);
            (Just(derived), Just(leaves), ops)
        })
        .prop_map(|(derived, leaves, ops)| {
            let mut used = vec![false; leaves];
            let mut yaml = String::from("root: d0\nmetrics:\n");
            for (k, terms) in ops.iter().enumerate() {
                let mut formula = if k + 1 < derived {
                    format!("d{}", k + 1)
                } else {
                    format!("l{}", terms[0].1)
                };
                for (op, leaf) in terms {
                    used[*leaf] = true;
                    formula = format!("({formula}) {} l{leaf}", ["+", "-", "*", "/"][*op]);
                }
                if k == 0 {
                    for (l, u) in used.clone().iter().enumerate() {
                        if !u {
                            formula = format!("{formula} + l{l}");
                        }
                    }
                    used.iter_mut().for_each(|u| *u = true);
                }
                yaml += &format!("  d{k}: {{ formula: \"{formula}\" }}\n");
            }
            for l in 0..leaves {
                yaml += &format!("  l{l}: {{}}\n");
            }
            (yaml, leaves)
        })
}

/// Weekly CSV rows of leaves `l0, l1, ...` in 2026-W45 and W46: `(before, after, unchanged)`
/// each, where an unchanged leaf keeps its value before.
fn two_weeks(values: &[(f64, f64, bool)]) -> String {
    let mut csv = String::from("period,metric,value\n");
    for (l, (v0, v1, same)) in values.iter().enumerate() {
        let v1 = if *same { *v0 } else { *v1 };
        csv += &format!("2026-W45,l{l},{v0}\n2026-W46,l{l},{v1}\n");
    }
    csv
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, max_global_rejects: 2000, ..ProptestConfig::default() })]

    /// Contributions sum to the change at every metric and over the leaves; a leaf that did
    /// not change contributes exactly zero.
    #[test]
    fn attribution_is_exact_at_every_level(
        (yaml, leaves) in arb_tree(),
        values in prop::collection::vec((0.5..5.0f64, 0.5..5.0f64, any::<bool>()), 6),
    ) {
        let t = tree(&yaml);
        let d = data(&t, &two_weeks(&values[..leaves.min(values.len())])).unwrap();
        let eval = evaluate(&t, &d);
        let e = explain(&eval, &Planner::new(&t), t.root(), week("2026-W45"), week("2026-W46"));
        prop_assume!(e.is_ok());
        let e = e.unwrap();
        // Errors are relative to the size of the values combined: a metric that is zero by
        // construction still has a change made of rounding in values of ordinary size.
        let magnitude = e.nodes.iter().map(|n| n.sensitivity.abs() * n.before.abs().max(n.after.abs())).fold(0.0, f64::max);
        let tol = |scale: f64| 1e-9 * scale.max(magnitude).max(1e-12);
        for node in &e.nodes {
            prop_assert!(node.contribution.is_finite());
            let edges = e.inputs(node);
            if edges.is_empty() { continue; }
            let passed: f64 = edges.iter().map(|p| p.passed).sum();
            let values = node.sensitivity.abs() * node.before.abs().max(node.after.abs());
            let scale = node.contribution.abs().max(edges.iter().map(|p| p.passed.abs()).sum()).max(values);
            prop_assert!((passed - node.contribution).abs() <= tol(scale), "{}: {} vs {}", t.metric(node.metric).id, passed, node.contribution);
            let shares: f64 = edges.iter().map(|p| p.share).sum();
            // Relative to the size of what is summed: a metric whose inputs cancel exactly has
            // a change of zero made of shares of ordinary size.
            let scale = node.change.abs().max(node.before.abs()).max(node.after.abs()).max(edges.iter().map(|p| p.share.abs()).sum());
            prop_assert!((shares - node.change).abs() <= tol(scale), "shares of {}: {} vs {}", t.metric(node.metric).id, shares, node.change);
        }
        let root = e.root();
        let leaves_sum: f64 = e.leaves().map(|n| n.contribution).sum();
        let scale = root.change.abs().max(e.leaves().map(|n| n.contribution.abs()).sum()).max(root.before.abs());
        prop_assert!((leaves_sum - root.change).abs() <= tol(scale), "leaves {} vs change {}", leaves_sum, root.change);
        for n in e.leaves() {
            if n.change == 0.0 {
                prop_assert_eq!(n.contribution, 0.0);
            }
        }
    }

    /// One explainer explaining every metric in turn, each twice, writes the same documents
    /// as a new explanation of each.
    #[test]
    fn an_explainer_reused_explains_each_metric_as_anew(
        (yaml, leaves) in arb_tree(),
        values in prop::collection::vec((0.5..5.0f64, 0.5..5.0f64, any::<bool>()), 6),
    ) {
        let t = tree(&yaml);
        let d = data(&t, &two_weeks(&values[..leaves.min(values.len())])).unwrap();
        let eval = evaluate(&t, &d);
        let planner = Planner::new(&t);
        let (from, to) = (week("2026-W45"), week("2026-W46"));
        let written = |e: Result<Explanation, ExplainError>, m: canopy_engine::MetricId| {
            let mut out = Vec::new();
            explain_report(&eval, m, from, to, e.as_ref().map_err(|e| e.reason.clone())).write_json(&mut out);
            String::from_utf8(out).unwrap()
        };
        let mut explainer = Explainer::new(&planner);
        let ids: Vec<_> = t.ids().collect();
        for &m in ids.iter().chain(ids.iter().rev()) {
            let anew = written(explain(&eval, &planner, m, from, to), m);
            prop_assert_eq!(written(explainer.explain(&eval, m, from, to), m), anew);
        }
    }
}

/// The contributions of `l1`, `l2`, `l3` and the change, for `r = <root>` over `m1 = l1 + l2`
/// and `l3`, from (l1, l2, l3) = `before` to `after`.
fn split(root: &str, before: [i64; 3], after: [i64; 3]) -> Option<([f64; 3], f64)> {
    let yaml = format!("root: r\nmetrics:\n  r: {{ formula: \"{root}\" }}\n  m1: {{ formula: l1 + l2 }}\n  l1: {{}}\n  l2: {{}}\n  l3: {{}}\n");
    let mut csv = String::from("period,metric,value\n");
    for (p, v) in [("2026-W45", before), ("2026-W46", after)] {
        for (l, x) in v.iter().enumerate() {
            csv += &format!("{p},l{},{x}\n", l + 1);
        }
    }
    let t = tree(&yaml);
    let e = explain_w46(&t, &csv).ok()?;
    let c = |n: &str| e.node(t.find(n).unwrap()).unwrap().contribution;
    Some(([c("l1"), c("l2"), c("l3")], e.root().change))
}

proptest! {
    /// Under a flat `m1`, the split of its contribution is by the exact derivative, averaged
    /// over `l3`'s old and new values: for `r = sum of c m1^a l3^b`, an oracle in exact
    /// integer arithmetic says what `l1` must get.
    #[test]
    fn the_limit_under_a_flat_metric_matches_an_exact_oracle(
        terms in prop::collection::vec((-3i64..=3, 0u32..=3, 0u32..=3), 1..4),
        m in -6i64..=6, y0 in -6i64..=6, y1 in -6i64..=6, a in -9i64..=9, d in 1i64..=4,
    ) {
        let root = terms
            .iter()
            .map(|(c, p, q)| format!("{c} * m1 ^ {p} * l3 ^ {q}"))
            .collect::<Vec<_>>()
            .join(" + ");
        // d r / d m1 at (m, y), exactly.
        let slope = |y: i64| -> i128 {
            terms.iter().map(|&(c, p, q)| {
                if p == 0 { 0 } else { i128::from(c) * i128::from(p) * i128::from(m).pow(p - 1) * i128::from(y).pow(q) }
            }).sum()
        };
        let got = split(&root, [a, m - a, y0], [a + d, m - a - d, y1]);
        prop_assume!(got.is_some());
        let ([l1, l2, _], _) = got.unwrap();
        // With y moving, the two coalitions weigh 1/2 each; with y flat, only one point.
        let twice = (slope(y0) + slope(y1)) * i128::from(d);
        prop_assert_eq!(l1 * 2.0, twice as f64, "{}", root);
        prop_assert_eq!(l1, -l2);
    }

    /// At kinks under a flat `m1`, no leaf gets more than the formula's steepest slope (2)
    /// times its own change, and the leaves still sum to the change.
    #[test]
    fn contributions_at_kinks_are_bounded(
        kind in 0usize..6, t in -5i64..=5, a in -9i64..=9, d in -4i64..=4, y0 in -5i64..=5, y1 in -5i64..=5,
    ) {
        let root = [
            format!("abs(m1 - {t}) + l3"),
            format!("min(m1, {t}) * 2 + l3"),
            format!("max(m1, {t}) + l3"),
            format!("clamp(m1, {t}, {}) + l3", t + 5),
            format!("if(m1 >= {t}, 2 * m1, 0) + l3"),
            format!("if(m1 < {t}, m1 * l3, 0 - m1)"),
        ][kind].clone();
        let (c, change) = split(&root, [a, t - a, y0], [a + d, t - a - d, y1]).unwrap();
        let bound = 2.0 * d.abs() as f64 * (1.0 + y0.abs().max(y1.abs()) as f64);
        prop_assert!(c[0].abs() <= bound && c[1].abs() <= bound, "{}: {:?}", root, c);
        prop_assert!((c.iter().sum::<f64>() - change).abs() <= 1e-9 * change.abs().max(1.0), "{}: {:?} vs {}", root, c, change);
    }

    /// Segments of a ratio sum to its change, zero denominators included.
    #[test]
    fn segments_of_a_ratio_sum_to_the_change_with_zero_denominators(
        values in prop::collection::vec((0i64..=10, 0i64..=3, 0i64..=10, 0i64..=3), 2..4),
    ) {
        let yaml = "root: r\nmetrics:\n  r: { formula: a / b }\n  a: {}\n  b: {}\n";
        let mut csv = String::from("period,metric,value,plan\n");
        for (s, (a0, b0, a1, b1)) in values.iter().enumerate() {
            csv += &format!("2026-W45,a,{a0},s{s}\n2026-W45,b,{b0},s{s}\n2026-W46,a,{a1},s{s}\n2026-W46,b,{b1},s{s}\n");
        }
        let e = explain_w46(&tree(yaml), &csv);
        prop_assume!(e.is_ok());
        let e = e.unwrap();
        let Segments::Split(shares) = &e.segments else {
            return Err(TestCaseError::fail(format!("{:?}", e.segments)));
        };
        let sum: f64 = shares.iter().map(|s| s.contribution).sum();
        prop_assert!((sum - e.root().change).abs() <= 1e-12 * e.root().change.abs().max(10.0));
        for s in shares {
            prop_assert!((s.mix.unwrap() + s.rate.unwrap() - s.contribution).abs() <= 1e-12 * s.contribution.abs().max(10.0));
        }
    }
}

/// Large files are parsed in chunks; line numbers in diagnostics stay those of the file.
#[test]
fn line_numbers_survive_parsing_in_chunks() {
    let t = tree("root: a\nmetrics:\n  a: {}\n");
    let mut csv = String::from("period,metric,value,cohort\n");
    let start = week("2000-W01");
    // 15 cohorts a period keep the span of periods small.
    let rows = |csv: &mut String, periods: std::ops::Range<i32>| {
        for k in periods {
            for c in 0..15 {
                *csv += &format!("{},a,{k},c{c}\n", start.offset(k));
            }
        }
    };
    rows(&mut csv, 0..4_000);
    // Line 60,002: the header and 60,000 rows come before it.
    csv += "2070-W01,a,oops,c0\n";
    rows(&mut csv, 4_000..4_666);
    // Line 69,993 (after 9,990 more rows): an unknown metric, found only once the tree is
    // known.
    csv += "2070-W02,zz,1,c0\n";
    assert!(csv.len() > 1 << 20, "big enough to be split");
    let diagnostics = problems(&t, &csv);
    let at: Vec<(u32, u32)> = diagnostics
        .iter()
        .map(|d| (d.location.span.line, d.location.span.col))
        .collect();
    assert_eq!(at, [(60_002, 12), (69_993, 10)]);
    // And every value of a clean file arrives, in order.
    let clean: String = csv
        .lines()
        .filter(|l| !l.contains("oops") && !l.contains("zz"))
        .map(|l| format!("{l}\n"))
        .collect();
    let d = data(&t, &clean).unwrap();
    assert_eq!(d.len(), 4_666);
    assert_eq!(d.segments().len(), 15);
}

/// A row with more or fewer fields than the header is reported, quoted or not.
#[test]
fn rows_need_every_column_of_the_header() {
    let t = tree(RATE);
    for csv in [
        "period,metric,value\n2026-W46,items\n2026-W46,users,5,extra\n2026-W46,items,4\n",
        "period,metric,value\n\"2026-W46\",items\n2026-W46,users,5,extra\n2026-W46,items,4\n",
    ] {
        let diagnostics = problems(&t, csv);
        let found: Vec<(u32, &str)> = diagnostics
            .iter()
            .map(|d| (d.location.span.line, d.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    2,
                    "this row has 2 fields, but the header `period,metric,value` has 3"
                ),
                (
                    3,
                    "this row has 4 fields, but the header `period,metric,value` has 3"
                ),
            ],
            "{csv}"
        );
    }
}

/// Files from spreadsheets: a byte order mark, CRLF line ends, blank lines, quoted fields.
#[test]
fn spreadsheet_exports_are_read() {
    let t = tree(RATE);
    let plain = "\u{feff}period,metric,value\r\n2026-W46,items,4000\r\n\r\n2026-W46,users,500\r\n";
    assert_eq!(value(&t, plain, "rate", "2026-W46"), Ok(8.0));
    let quoted =
        "period,metric,value\r\n\"2026-W46\",\"items\",\"4000\"\r\n2026-W46,users,\" 500 \"\r\n";
    assert_eq!(value(&t, quoted, "rate", "2026-W46"), Ok(8.0));
    let segment = "period,metric,value,region\n2026-W46,items,4000,\"Paris, FR\"\n2026-W46,users,500,\"Paris, FR\"\n";
    let d = data(&t, segment).unwrap();
    assert_eq!(d.segments(), [vec!["Paris, FR".to_string()]]);
    assert_eq!(value(&t, segment, "rate", "2026-W46"), Ok(8.0));
}

/// Segments first seen in different chunks of a large file get one slot each.
#[test]
fn segments_survive_parsing_in_chunks() {
    let t = tree(RATE);
    let mut csv = String::from("period,metric,value,cohort,region\n");
    let start = week("2000-W01");
    for k in 0..4_000 {
        let cohort = if k < 2_000 { "old" } else { "new" };
        for r in 0..6 {
            csv += &format!("{},items,{},{cohort},r{r}\n", start.offset(k), 2 * k + 2);
            csv += &format!("{},users,{},{cohort},r{r}\n", start.offset(k), k + 1);
        }
    }
    assert!(csv.len() > 1 << 20, "big enough to be split");
    let d = data(&t, &csv).unwrap();
    let key = |c: &str, r: usize| vec![c.to_string(), format!("r{r}")];
    let expected: Vec<Vec<String>> = (0..6)
        .map(|r| key("old", r))
        .chain((0..6).map(|r| key("new", r)))
        .collect();
    assert_eq!(d.segments(), expected);
    let eval = evaluate(&t, &d);
    let rate = t.find("rate").unwrap();
    for k in [0, 1_999, 2_000, 3_999] {
        let p = start.offset(k);
        assert_eq!(eval.total(rate, p), Ok(2.0), "{p}");
        let s = if k >= 2_000 { 6 } else { 0 };
        assert_eq!(eval.get(rate, p, Some(s)), Ok(2.0), "{p}");
        assert!(eval.get(rate, p, Some(6 - s)).is_err(), "{p}");
    }
}

/// The fast JSON writer of explanations makes the same bytes as `serde_json`: with segments
/// and their mix and rate, offsetting movements, no explanation, and segments that do not
/// add up.
#[test]
fn explanations_written_fast_are_what_serde_writes() {
    let cases = [
        (
            "root: conversion\nmetrics:\n  conversion: { formula: conversions / visitors * 100 }\n  conversions: {}\n  visitors: {}\n",
            "period,metric,value,cohort\n2026-W45,visitors,900,returning\n2026-W45,conversions,450,returning\n2026-W45,visitors,100,new\n2026-W45,conversions,10,new\n2026-W46,visitors,100,returning\n2026-W46,conversions,55,returning\n2026-W46,visitors,900,new\n2026-W46,conversions,99,new\n",
        ),
        (
            "root: rate\nmetrics:\n  rate: { formula: activation * intensity }\n  activation: { formula: activated / active }\n  intensity: {}\n  activated: {}\n  active: {}\n",
            "period,metric,value\n2026-W45,activated,500\n2026-W45,active,1000\n2026-W45,intensity,8\n2026-W46,activated,400\n2026-W46,active,1000\n2026-W46,intensity,10.2\n",
        ),
        (
            RATE,
            "period,metric,value\n2026-W45,items,1\n2026-W45,users,1\n2026-W46,items,2\n",
        ),
        (
            "root: m\nmetrics:\n  m: { formula: \"max(a, b)\" }\n  a: {}\n  b: {}\n",
            "period,metric,value,plan\n2026-W45,a,3,\n2026-W45,a,1,free\n2026-W45,b,1e-7,\n2026-W46,a,-2.5,\n2026-W46,b,1e300,\n2026-W46,b,4,pro\n",
        ),
    ];
    let mut written = String::new();
    for (yaml, csv) in cases {
        let t = tree(yaml);
        let d = data(&t, csv).unwrap();
        let eval = evaluate(&t, &d);
        let (from, to) = (week("2026-W45"), week("2026-W46"));
        let e = explain(&eval, &Planner::new(&t), t.root(), from, to);
        let report = explain_report(
            &eval,
            t.root(),
            from,
            to,
            e.as_ref().map_err(|e| e.reason.clone()),
        );
        let mut fast = Vec::new();
        report.write_json(&mut fast);
        let serde = serde_json::to_string(&report).unwrap();
        assert_eq!(String::from_utf8(fast).unwrap(), serde);
        written += &serde;
    }
    for field in [
        "\"mix\"",
        "\"offsetting\":[{",
        "\"reason\"",
        "\"segments_note\"",
        "e+300",
    ] {
        assert!(written.contains(field), "no case writes {field}: {written}");
    }
}

/// Contributions rank largest magnitude first whatever their sign, ties in metric order.
#[test]
fn contributions_rank_by_magnitude_then_metric() {
    let t = tree(
        "root: r\nmetrics:\n  r: { formula: a + b + c + d }\n  a: {}\n  b: {}\n  c: {}\n  d: {}\n",
    );
    let id = |n: &str| t.find(n).unwrap();
    let mut items = vec![
        (id("d"), 2.0),
        (id("a"), -0.0),
        (id("c"), -2.0),
        (id("b"), 3.5),
        (id("r"), 0.0),
    ];
    rank(&mut items);
    let names: Vec<(&str, f64)> = items
        .iter()
        .map(|&(m, c)| (t.metric(m).id.as_str(), c))
        .collect();
    assert_eq!(
        names,
        [("b", 3.5), ("c", -2.0), ("d", 2.0), ("r", 0.0), ("a", -0.0)]
    );
    assert!(
        items[4].1.is_sign_negative(),
        "values are kept as they were"
    );
}

#[path = "evaluate/verified.rs"]
mod verified;

#[path = "evaluate/slices.rs"]
mod slices;

#[path = "evaluate/baselines.rs"]
mod baselines;
