//! Regressions of defects found by attacking the binary: each test is one attack, run end to
//! end where the failure was end to end.

use crate::util::Dir;

/// A weekly tree whose change's metric `a` was 0 until it shipped in 2026-W30 (a new
/// feature's count), with data for 2026-W01 to 2026-W45; the evaluation window ends 2026-W36.
fn launched(dir: &Dir) {
    dir.create(
        "zero.yaml",
        "tree: zero\nroot: r\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nmetrics:\n  r: { formula: a + b }\n  a: {}\n  b: {}\nchanges:\n  - { id: launch, title: New thing, metric: a, shipped: 2026-W30, expect: { direction: up }, owner: p }\n",
    );
    dir.create(
        "monthly.yaml",
        "tree: monthly\ngrain: month\nroot: n\npeople: { q: { email: q@example.com } }\nraci: { accountable: q }\nmetrics:\n  n: {}\n",
    );
    let mut csv = String::from("period,metric,value,tree\n");
    for week in 1..=45 {
        let a = if week < 30 { 0 } else { 5 + week % 3 };
        let b = 100 + week % 5;
        csv += &format!("2026-W{week:02},a,{a},zero\n2026-W{week:02},b,{b},zero\n");
    }
    csv += "2026-07,n,5,monthly\n2026-08,n,9,monthly\n";
    dir.create("data.csv", &csv);
}

#[test]
fn a_zero_baseline_is_not_evaluable_and_one_trees_failure_holds_back_no_other() {
    let dir = Dir::new();
    launched(&dir);
    // `2026-W36` is no month: the monthly tree fails, and the weekly one still sends.
    let args = [
        "run",
        "monthly.yaml",
        "zero.yaml",
        "--data",
        "data.csv",
        "--format",
        "json",
    ];
    let run = dir.run(&[&args[..], &["--period", "2026-W36"]].concat(), 1);
    assert!(
        run.stderr
            .contains("error: nothing is sent for tree `monthly`: `2026-W36` is a week"),
        "{}",
        run.stderr
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["tree"], "zero");
    let verdict = &doc["verdicts"][0];
    assert_eq!(verdict["status"], "not_evaluable", "{verdict}");
    assert_eq!(
        verdict["reason"],
        "the metric was 0 before it shipped; the effect has no scale"
    );
    assert_eq!(doc["emails"][0]["status"], "written");
    let eml = std::fs::read_to_string(
        dir.path()
            .join(".canopy/outbox/zero-2026-W36-p@example.com.eml"),
    )
    .unwrap();
    assert!(eml.contains("NOT EVALUABLE"), "{eml}");
    // The verdict was stored: the periods after the window run, and tell it no more.
    let run = dir.run(
        &[
            "run",
            "zero.yaml",
            "--data",
            "data.csv",
            "--period",
            "2026-W37",
            "--format",
            "json",
        ],
        0,
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["verdicts"], serde_json::json!([]), "{doc}");
    dir.run(&["impact", "zero.yaml", "--data", "data.csv"], 0);
}
