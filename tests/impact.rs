//! `canopy impact`: the verdicts on the changes registered in `trees/activation.yaml`.

use crate::util::{Dir, Run};

const ACTIVATION: &[&str] = &["trees/activation.yaml", "fixtures/data/activation.csv"];

/// Runs `canopy impact trees/activation.yaml --data fixtures/... ARGS...` in a fresh copy.
fn impact(args: &[&str], code: i32) -> Run {
    let dir = Dir::new();
    ACTIVATION.iter().for_each(|f| {
        dir.copy(f);
    });
    let base = ["impact", ACTIVATION[0], "--data", ACTIVATION[1]];
    dir.run(&[&base[..], args].concat(), code)
}

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[test]
fn the_json_report_has_a_verdict_per_change() {
    let run = impact(&["--format", "json"], 0);
    insta::assert_snapshot!(run.stdout);
    let doc = json(&run);
    let changes = doc["changes"].as_array().unwrap();
    let fields = [
        "id",
        "metric",
        "shipped",
        "owner",
        "status",
        "verdict",
        "smaller_than_expected",
        "reason",
        "model",
        "baseline",
        "evaluation",
        "effect",
        "p",
        "p_opposite",
        "placebo",
        "mde",
        "root",
        "guardrails",
        "post_hoc",
    ];
    for change in changes {
        for field in fields {
            assert!(change.get(field).is_some(), "no {field} in {change}");
        }
    }
    let verdicts: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["status"].as_str().unwrap(),
                c["verdict"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("evaluated", "confirmed"),
            ("evaluated", "no_effect"),
            ("pending", "-")
        ]
    );
    // The data lifts new users' activation 7% from the week after shipping.
    let lift = &changes[0]["effect"];
    assert!(
        lift["low"].as_f64().unwrap() > 0.05 && lift["high"].as_f64().unwrap() < 0.09,
        "{lift}"
    );
}

#[test]
fn the_table_tells_each_change_in_words() {
    let run = impact(&[], 0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn no_peeking_before_the_window_ends() {
    // As of 2026-W19 the checklist's window (to 2026-W20) has not ended.
    let doc = json(&impact(
        &[
            "--as-of",
            "2026-W19",
            "--change",
            "onboarding-checklist",
            "--format",
            "json",
        ],
        0,
    ));
    assert_eq!(doc["as_of"], "2026-W19");
    let change = &doc["changes"][0];
    assert_eq!(change["status"], "pending");
    assert!(change["verdict"].is_null());
    assert!(change["effect"].is_null());
}

#[test]
fn an_unknown_change_is_an_error_with_a_suggestion() {
    let run = impact(&["--change", "onboarding-checklst"], 1);
    assert!(
        run.stderr.contains("no change `onboarding-checklst` in tree `activation` (did you mean `onboarding-checklist`?)"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_definition_changed_inside_the_windows_makes_a_change_not_evaluable() {
    let dir = Dir::new();
    ACTIVATION.iter().for_each(|f| {
        dir.copy(f);
    });
    let tree = std::fs::read_to_string(dir.path().join(ACTIVATION[0])).unwrap();
    let formula = "formula: activated_users * items_per_activated_user";
    let earlier = tree.replace(
        formula,
        "formula: activated_users * items_per_activated_user * 2",
    );
    assert_ne!(earlier, tree);
    let change = "  - id: on-items\n    metric: items_created\n    shipped: 2026-W14\n    expect: { direction: up }\n";
    let run = |period: &str| {
        let args = [
            "run",
            ACTIVATION[0],
            "--data",
            ACTIVATION[1],
            "--period",
            period,
            "--format",
            "json",
        ];
        let run = dir.run(&args, 0);
        serde_json::from_str::<serde_json::Value>(&run.stdout).unwrap()
    };
    // Runs in the baseline computed items created another way.
    dir.create(ACTIVATION[0], &(earlier + change));
    run("2026-W12");
    dir.create(ACTIVATION[0], &(tree.clone() + change));
    let doc = run("2026-W20");
    let verdicts = doc["verdicts"].as_array().unwrap();
    let on_items = verdicts
        .iter()
        .find(|v| v["id"] == "on-items")
        .expect("judged");
    assert_eq!(on_items["status"], "not_evaluable");
    assert!(on_items["verdict"].is_null());
    let reason = on_items["reason"].as_str().unwrap();
    assert!(
        reason.contains("the definition of `items_created`") && reason.contains("2026-W12"),
        "{reason}"
    );
    // The checklist's metric kept its definition: it is judged as before.
    let checklist = verdicts
        .iter()
        .find(|v| v["id"] == "onboarding-checklist")
        .unwrap();
    assert_eq!(checklist["verdict"], "confirmed");
}

/// A product with five weeks of data before a change shipped: no verdict, but how many more
/// weeks one needs, from when one is possible, and the plain means, marked unverified.
#[test]
fn a_young_product_is_told_what_it_lacks_and_the_unverified_means() {
    let dir = Dir::new();
    let tree = "version: 1\ntree: young\ntitle: Young\ngrain: week\nroot: signups\npeople:\n  ana: { name: Ana, email: ana@example.com }\nraci: { accountable: ana }\nmetrics:\n  signups: { title: Signups, unit: signups, good: up }\nchanges:\n  - id: new-form\n    title: New form\n    metric: signups\n    shipped: 2026-W06\n    expect: { direction: up }\n";
    dir.create("young.yaml", tree);
    // 100 a week before shipping, 110 in the ramp week, 120 after.
    let mut csv = "period,metric,value\n".to_string();
    for week in 1..=14 {
        let value = match week {
            ..=5 => 100,
            6 => 110,
            _ => 120,
        };
        csv += &format!("2026-W{week:02},signups,{value}\n");
    }
    dir.create("young.csv", &csv);
    let args = ["impact", "young.yaml", "--data", "young.csv"];
    let doc = json(&dir.run(&[&args[..], &["--format", "json"]].concat(), 0));
    let change = &doc["changes"][0];
    assert_eq!(change["status"], "not_evaluable");
    assert!(change["verdict"].is_null());
    assert_eq!(
        change["short_history"],
        serde_json::json!({
            "periods": 5,
            "more": 7,
            "judged_from": "2026-W13",
            "verdict_from": "2026-W19",
            "data_from": "2025-W46",
            "before": 100.0,
            "after": 120.0,
        })
    );
    let reason = change["reason"].as_str().unwrap();
    assert_eq!(
        reason,
        "the data has 5 periods before shipping; a verdict needs at least 12, so 7 more: with the data starting from 2025-W46 or earlier, or for a change shipped from 2026-W13 on (its verdict due with 2026-W19)"
    );
    let text = dir.run(&args, 0).stdout;
    assert!(
        text.contains("Unverified (no test, no control, noise not ruled out): Signups went 100 -> 120 signups (+20, +20.0%), from the mean of the 5 weeks before shipping to the mean of 2026-W07 to 2026-W12."),
        "{text}"
    );
}
