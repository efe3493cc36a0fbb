//! Definition versions: a formula changed between two runs is told once, to the metric's
//! accountable and consulted people, with before and after and the value under each; the
//! history marks where the trend crosses it.

use crate::util::{parts, preview, Dir};

const TREE: &str = "trees/item-creation.yaml";
const DATA: &str = "fixtures/data/item-creation.csv";

fn run_json(dir: &Dir, period: &str) -> serde_json::Value {
    let args = [
        "run", TREE, "--data", DATA, "--period", period, "--format", "json",
    ];
    serde_json::from_str(&dir.run(&args, 0).stdout).unwrap()
}

#[test]
fn a_changed_formula_is_told_once_to_the_accountable_and_the_consulted() {
    let dir = Dir::new();
    let path = dir.copy(TREE);
    dir.copy(DATA);
    let first = run_json(&dir, "2026-W45");
    assert_eq!(first["redefined"], serde_json::json!([]));
    let text = std::fs::read_to_string(&path).unwrap();
    let old = "formula: items_created / active_users\n";
    assert_eq!(text.matches(old).count(), 1);
    std::fs::write(
        &path,
        text.replace(old, "formula: 7 * items_created / active_users\n"),
    )
    .unwrap();

    preview(&dir, TREE, DATA, "2026-W46");
    let second = run_json(&dir, "2026-W46");
    assert_ne!(
        first["definition"], second["definition"],
        "the tree's version"
    );
    let redefined = second["redefined"].as_array().unwrap();
    assert_eq!(redefined.len(), 1, "{redefined:?}");
    let r = &redefined[0];
    assert_eq!(r["metric"], "item_creation_rate");
    assert_eq!(r["since"], "2026-W45");
    assert_eq!(
        r["changes"],
        serde_json::json!([{
            "field": "formula",
            "before": "items_created / active_users",
            "after": "7 * items_created / active_users"
        }])
    );
    let (before, after) = (
        r["value_before"].as_f64().unwrap(),
        r["value_after"].as_f64().unwrap(),
    );
    assert!(
        (after - 7.0 * before).abs() < 1e-9 * after,
        "{before} {after}"
    );
    let eval = [
        "eval", TREE, "--data", DATA, "--period", "2026-W46", "--format", "json",
    ];
    let eval: serde_json::Value = serde_json::from_str(&dir.run(&eval, 0).stdout).unwrap();
    assert_eq!(eval["definition"], second["definition"]);
    assert_eq!(eval["metrics"][0]["value"].as_f64(), Some(after));
    assert_eq!(eval["metrics"][0]["definition"], r["after"]);
    told_in_emails(&dir, &second, r);

    // Told once: the next run compares with this one. Its trends mark where it changed.
    preview(&dir, TREE, DATA, "2026-W47");
    let third = run_json(&dir, "2026-W47");
    assert_eq!(third["redefined"], serde_json::json!([]));
    marked_in_trends(&dir, &third);
    marked_in_history(&dir, r);
}

/// The W46 emails of the accountable and the consulted carry the change `r` of the run
/// `second`; the responsible's does not.
fn told_in_emails(dir: &Dir, second: &serde_json::Value, r: &serde_json::Value) {
    let told = format!("Definition changed: Item creation rate (item_creation_rate)\n  definition {} -> {}, since the run of 2026-W45\n  formula: items_created / active_users -> 7 * items_created / active_users\n", r["before"].as_str().unwrap(), r["after"].as_str().unwrap());
    let footer = format!("definition: {}\n", second["definition"].as_str().unwrap());
    for (who, consulted) in [("maya", false), ("design", true)] {
        let (text, html) = parts(dir, &format!("item-creation-2026-W46-{who}@example.com"));
        assert!(text.contains(&told), "{who}: {text}");
        assert!(
            text.contains("Value in 2026-W46: ") && text.contains(" under the old definition, "),
            "{text}"
        );
        assert_eq!(
            text.contains("You are consulted; accountable: Maya Chen"),
            consulted,
            "{text}"
        );
        assert!(text.ends_with(&footer), "{text}");
        assert!(
            html.contains("Definition changed: Item creation rate"),
            "{html}"
        );
    }
    // Responsible, not consulted: the move, not the definition.
    let (text, _) = parts(dir, "item-creation-2026-W46-product@example.com");
    assert!(!text.contains("Definition changed"), "{text}");
}

/// The W47 email's trend and report card of the changed metric say where it changed, and
/// the page's header names the tree's version; no other card is marked.
fn marked_in_trends(dir: &Dir, third: &serde_json::Value) {
    let (text, html) = parts(dir, "item-creation-2026-W47-maya@example.com");
    let note = "definition changed in 2026-W46; every value shown is under the current one";
    assert!(!text.contains("Definition changed"), "{text}");
    assert!(text.contains(&format!("         ({note})\n")), "{text}");
    assert!(html.contains(note), "{html}");
    let page = std::fs::read_to_string(
        dir.path()
            .join(".canopy/report/item-creation/2026-W47.html"),
    )
    .unwrap();
    let version = format!(" · definition {}", third["definition"].as_str().unwrap());
    assert!(
        page.contains(&version),
        "the page's header names the tree's version"
    );
    let card = page.split("data-id=\"item_creation_rate\"").nth(1).unwrap();
    let card = &card[..card.find("</g>").unwrap()];
    assert!(
        card.contains(note) && card.contains("class=\"redef\""),
        "{card}"
    );
    let other = page.split("data-id=\"items_created\"").nth(1).unwrap();
    assert!(!other[..other.find("</g>").unwrap()].contains("redef"));
}

/// `canopy history` marks the period of the change `r`, and only it.
fn marked_in_history(dir: &Dir, r: &serde_json::Value) {
    let history = [
        "history",
        TREE,
        "--metric",
        "item_creation_rate",
        "--format",
        "json",
    ];
    let history: serde_json::Value = serde_json::from_str(&dir.run(&history, 0).stdout).unwrap();
    let marks: Vec<(&str, bool)> = (history["periods"].as_array().unwrap().iter())
        .map(|p| {
            (
                p["period"].as_str().unwrap(),
                p["values"][0]["definition_changed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        marks,
        [("2026-W45", false), ("2026-W46", true), ("2026-W47", false)]
    );
    let table = dir.run(&["history", TREE, "--metric", "item_creation_rate"], 0);
    assert!(
        table
            .stdout
            .contains(&format!("changed: {}", r["after"].as_str().unwrap())),
        "{}",
        table.stdout
    );
}

#[test]
fn an_old_formula_over_a_metric_no_longer_in_the_tree_has_no_value_and_says_why() {
    let dir = Dir::new();
    let tree = |formula: &str, extra: &str| {
        format!("tree: t\nroot: r\npeople: {{ p: {{ email: p@example.com }} }}\nraci: {{ accountable: p }}\nmetrics:\n  r: {{ formula: {formula} }}\n  a: {{}}\n{extra}")
    };
    dir.create("t.yaml", &tree("a + b", "  b: {}\n"));
    dir.create(
        "d.csv",
        "period,metric,value\n2026-W01,a,1\n2026-W01,b,2\n2026-W02,a,3\n2026-W02,b,4\n",
    );
    let run = |period: &str| {
        let args = [
            "run", "t.yaml", "--data", "d.csv", "--period", period, "--format", "json",
        ];
        serde_json::from_str::<serde_json::Value>(&dir.run(&args, 0).stdout).unwrap()
    };
    run("2026-W01");
    dir.create("t.yaml", &tree("a * 2", ""));
    dir.create("d.csv", "period,metric,value\n2026-W01,a,1\n2026-W02,a,3\n");
    let doc = run("2026-W02");
    let r = &doc["redefined"][0];
    assert_eq!(r["value_before"], serde_json::Value::Null);
    assert_eq!(r["value_after"].as_f64(), Some(6.0));
    assert_eq!(
        r["note"],
        "its old formula reads `b`, which is no longer in the tree"
    );
}
