//! Move rules on small series: one metric, weekly values, the last week judged.

use std::path::Path;

use canopy_engine::{Grain, MemoryFs, MetricTree};
use canopy_evaluator::{evaluate, DataBuilder, Period};

use super::*;

/// A tree of one metric `m` with the given settings (YAML flow mapping entries).
fn tree(settings: &str) -> MetricTree {
    let yaml = format!("tree: t\nroot: m\npeople: {{ p: {{ email: p@example.com }} }}\nraci: {{ accountable: p }}\nmetrics:\n  m: {{ {settings} }}\n");
    canopy_engine::load(
        Path::new("t.yaml"),
        &MemoryFs::new().with("t.yaml", yaml),
        &crate::Sendable,
    )
    .expect("valid")
    .tree
}

fn week(k: i32) -> Period {
    Period::parse("2026-W01", Grain::Week).unwrap().offset(k)
}

/// The rules that fire for the last value of `series`, starting from `state`, and the state
/// after.
fn judge(settings: &str, series: &[f64], state: AlertState) -> (Vec<&'static str>, AlertState) {
    let t = tree(settings);
    let csv: String = std::iter::once("period,metric,value\n".to_string())
        .chain(
            series
                .iter()
                .enumerate()
                .map(|(k, v)| format!("{},m,{v}\n", week(k as i32))),
        )
        .collect();
    let mut b = DataBuilder::new(&t);
    b.add_table(&crate::tests::csv(&csv));
    let data = b.finish().unwrap();
    let eval = evaluate(&t, &data);
    let (moved, next) = detect(&eval, t.root(), week(series.len() as i32 - 1), state);
    (
        moved
            .map(|m| m.rules.iter().map(Rule::name).collect())
            .unwrap_or_default(),
        next,
    )
}

fn check(settings: &str, series: &[f64], expected: &[&str]) {
    assert_eq!(
        judge(settings, series, AlertState::default()).0,
        expected,
        "{settings} {series:?}"
    );
}

#[test]
fn change_pct() {
    check("", &[100.0, 111.0], &["change_pct"]);
    check("", &[100.0, 90.0], &["change_pct"]);
    check("", &[100.0, 105.0], &[]);
    check(
        "alerts: { change_pct: 5 }",
        &[100.0, 105.0],
        &["change_pct"],
    );
    check("alerts: { change_pct: false }", &[100.0, 200.0], &[]);
    // From zero there is no percentage; any change is a move.
    check("", &[0.0, 5.0], &["change_pct"]);
    check("", &[-10.0, -11.5], &["change_pct"]);
}

#[test]
fn bands_fire_on_entering_another_band() {
    let bands = "bands: [{ name: Low, below: 10 }, { name: High }], alerts: { change_pct: false }";
    check(bands, &[9.0, 11.0], &["bands"]);
    check(bands, &[11.0, 12.0], &[]);
}

#[test]
fn anomalies_use_median_and_mad() {
    let history = [10.0, 10.5, 9.5, 10.0, 10.2, 9.8, 10.1, 9.9];
    let quiet = "alerts: { change_pct: false }";
    check(quiet, &[&history[..], &[10.3]].concat(), &[]);
    check(quiet, &[&history[..], &[14.0]].concat(), &["anomaly"]);
    // A flat history: its spread is the numbers' resolution at least (0.1 with one decimal,
    // 1 for whole numbers), so a step of one unit is not infinitely unusual, and a real jump
    // still is.
    check(quiet, &[5.0, 5.0, 5.0, 5.0, 5.1], &[]);
    check(quiet, &[5.0, 5.0, 5.0, 5.0, 5.6], &["anomaly"]);
    check(quiet, &[5.0, 5.0, 5.0, 5.0, 6.0], &[]);
    check(quiet, &[5.0, 5.0, 5.0, 5.0, 11.0], &["anomaly"]);
    check(quiet, &[5.0, 5.0, 5.0, 5.0, 5.0], &[]);
    // Too little history says nothing.
    check(quiet, &[5.0, 5.0, 50.0], &[]);
}

#[test]
fn target_crossings() {
    let up = "target: 5, good: up, alerts: { change_pct: false }";
    check(up, &[4.0, 6.0], &["target"]);
    check(up, &[6.0, 4.0], &["target"]);
    check(up, &[6.0, 7.0], &[]);
    let t = tree(up);
    let (moved, _) = {
        let csv = format!("period,metric,value\n{},m,4\n{},m,6\n", week(0), week(1));
        let mut b = DataBuilder::new(&t);
        b.add_table(&crate::tests::csv(&csv));
        let data = b.finish().unwrap();
        let eval = evaluate(&t, &data);
        detect(&eval, t.root(), week(1), AlertState::default())
    };
    assert_eq!(
        moved.unwrap().rules,
        [Rule::Target {
            target: 5.0,
            reached: true
        }]
    );
}

/// A metric that stays off target is not alerted every week: it gets a reminder after
/// `remind_after` quiet runs, and one message when it recovers.
#[test]
fn reminders_and_recovery_follow_the_state() {
    let settings =
        "target: 10, good: up, alerts: { change_pct: false, anomaly_z: false, remind_after: 3 }";
    let mut state = AlertState::default();
    let mut seen = Vec::new();
    let series = [12.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 8.0, 11.0, 11.0];
    for n in 2..=series.len() {
        let (rules, next) = judge(settings, &series[..n], state);
        seen.push(rules.join("+"));
        state = next;
    }
    assert_eq!(
        seen,
        [
            "target",
            "",
            "",
            "reminder",
            "",
            "",
            "reminder",
            "target+recovered",
            ""
        ]
    );
}

#[test]
fn the_worst_band_is_bad_without_a_target() {
    let t = tree(
        "good: up, bands: [{ name: Low, below: 10 }, { name: Mid, below: 20 }, { name: High }]",
    );
    let m = t.metric(t.root());
    assert!(is_bad(m, 5.0));
    assert!(!is_bad(m, 15.0));
    let t = tree("good: down, bands: [{ name: Low, below: 10 }, { name: High }]");
    assert!(is_bad(t.metric(t.root()), 15.0));
    let t = tree("bands: [{ name: Low, below: 10 }, { name: High }]");
    assert!(
        !is_bad(t.metric(t.root()), 5.0),
        "no direction of good, no bad state"
    );
}

#[test]
fn missing_values_move_nothing_and_keep_the_state() {
    let t = tree("");
    let csv = format!("period,metric,value\n{},m,4\n", week(0));
    let mut b = DataBuilder::new(&t);
    b.add_table(&crate::tests::csv(&csv));
    let data = b.finish().unwrap();
    let eval = evaluate(&t, &data);
    let state = AlertState {
        bad: true,
        runs_unalerted: 2,
    };
    assert_eq!(detect(&eval, t.root(), week(1), state), (None, state));
}

#[test]
fn a_quiet_history_with_unit_noise_does_not_alert() {
    let quiet = "alerts: { change_pct: false }";
    // Counts that repeat one value most weeks (MAD 0) and move by one.
    check(
        quiet,
        &[30.0, 30.0, 31.0, 30.0, 30.0, 29.0, 30.0, 30.0, 29.0],
        &[],
    );
    check(
        quiet,
        &[30.0, 30.0, 31.0, 30.0, 30.0, 29.0, 30.0, 30.0, 31.0],
        &[],
    );
    // Large values: 1% of the median is the least spread.
    check(quiet, &[1000.0; 9], &[]);
    check(
        quiet,
        &[
            1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1020.0,
        ],
        &[],
    );
    check(
        quiet,
        &[
            1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1000.0, 1100.0,
        ],
        &["anomaly"],
    );
}

#[test]
fn a_level_that_stays_after_a_jump_alerts_once() {
    let quiet = "alerts: { change_pct: false }";
    let before = [5.0, 5.02, 4.98, 5.0, 5.01, 4.99, 5.0, 5.0];
    check(quiet, &[&before[..], &[5.6]].concat(), &["anomaly"]);
    // The next week stays at the new level: not again.
    check(quiet, &[&before[..], &[5.6, 5.6]].concat(), &[]);
    // A jump back the other way is news.
    check(quiet, &[&before[..], &[5.6, 4.4]].concat(), &["anomaly"]);
}

#[test]
fn change_abs_fires_on_points_and_keeps_change_pct_off_noise_near_zero() {
    let score = "unit: score, alerts: { change_abs: 5, anomaly_z: false }";
    check(score, &[2.0, 7.0], &["change_pct", "change_abs"]);
    check(score, &[0.1, 0.3], &[]);
    check(score, &[50.0, 46.0], &[]);
    // Without it, a move from near zero is a large percentage.
    check("alerts: { anomaly_z: false }", &[0.1, 0.3], &["change_pct"]);
}

#[test]
fn a_rule_has_one_name_in_lists_details_and_the_history() {
    let rules = [
        Rule::ChangePct {
            pct: Some(12.0),
            threshold: 10.0,
        },
        Rule::ChangeAbs {
            change: -3.0,
            threshold: 2.0,
        },
        Rule::Band {
            from: "Fair".into(),
            to: "Low".into(),
        },
        Rule::Anomaly {
            z: 4.2,
            threshold: 3.5,
        },
        Rule::Target {
            target: 5.0,
            reached: false,
        },
        Rule::Reminder { runs: 3 },
        Rule::Recovered,
        Rule::Segments {
            shifts: vec![Shift {
                segment: "android".into(),
                before: 40.0,
                after: 10.0,
                pct: -75.0,
                size: 0.4,
            }],
            threshold: 20.0,
        },
    ];
    for rule in rules {
        let json = serde_json::to_value(&rule).unwrap();
        assert_eq!(json["rule"], rule.name(), "{json}");
        assert_eq!(serde_json::from_value::<Rule>(json).unwrap(), rule);
    }
    // An anomaly against a flat history, which earlier versions wrote with `z: null`.
    let flat = serde_json::json!({ "rule": "anomaly", "z": null, "threshold": 3.5 });
    let Rule::Anomaly { z, .. } = serde_json::from_value::<Rule>(flat).unwrap() else {
        panic!("an anomaly")
    };
    assert!(z.is_infinite());
    // A band move recorded under its earlier name still reads back.
    let old = serde_json::json!({ "rule": "band", "from": "A", "to": "B" });
    assert_eq!(
        serde_json::from_value::<Rule>(old).unwrap(),
        Rule::Band {
            from: "A".into(),
            to: "B".into()
        }
    );
}
