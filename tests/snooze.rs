//! `canopy snooze`: a snoozed metric's moves are recorded and told to nobody until the period
//! it is snoozed until, emails that go anyway and the report say so, and bad input is refused.

use crate::util::{Dir, ITEM_CREATION_RUN};

const TREE: &str = "trees/item-creation.yaml";

fn dir() -> Dir {
    let dir = Dir::new();
    dir.copy(TREE);
    dir.copy("fixtures/data/item-creation.csv");
    let mut week46 = ITEM_CREATION_RUN.to_vec();
    week46[5] = "2026-W46";
    dir.run(&week46, 0);
    dir
}

/// The run of 2026-W47 as JSON, with the report written to `rep`.
fn week47(dir: &Dir) -> serde_json::Value {
    let mut args = ITEM_CREATION_RUN.to_vec();
    args.extend(["--format", "json", "--report", "rep"]);
    serde_json::from_str(&dir.run(&args, 0).stdout).unwrap()
}

fn read(dir: &Dir, path: &str) -> String {
    std::fs::read_to_string(dir.path().join(path)).unwrap()
}

/// The recipients of the run's emails.
fn recipients(run: &serde_json::Value) -> Vec<&str> {
    let emails = run["emails"].as_array().unwrap();
    emails.iter().map(|e| e["to"].as_str().unwrap()).collect()
}

#[test]
fn a_snoozed_move_is_recorded_and_told_to_nobody_until_its_period() {
    let dir = dir();
    let snooze = [
        "snooze",
        TREE,
        "flow_completion_pct",
        "--until",
        "2026-W49",
        "--note",
        "fix ships in W48",
        "--by",
        "Ana",
    ];
    let said = dir.run(&snooze, 0).stdout;
    assert!(
        said.contains("snoozed until 2026-W49 by Ana: fix ships in W48"),
        "{said}"
    );
    let run = week47(&dir);
    // The move is decided and reported as snoozed; its accountable gets nothing.
    let moved = (run["moves"].as_array().unwrap().iter())
        .find(|m| m["metric"] == "flow_completion_pct")
        .expect("still a move");
    assert_eq!(moved["snoozed"]["until"], "2026-W49", "{moved}");
    assert_eq!(moved["snoozed"]["by"], "Ana");
    assert!(!recipients(&run).contains(&"design@example.com"), "{run}");
    // The history keeps the move, and who snoozed what.
    let history = dir.run(&["history", TREE, "--format", "json"], 0).stdout;
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    let last = history["periods"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert!(
        last["moves"].to_string().contains("flow_completion_pct"),
        "{last}"
    );
    let list = dir.run(&["snooze", "--list", "--format", "json"], 0).stdout;
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["metric"], "flow_completion_pct", "{list}");
    assert_eq!(list[0]["note"], "fix ships in W48");
    // Who follows the metric reads that it is snoozed, and so does its panel in the report.
    let maya = read(
        &dir,
        ".canopy/outbox/item-creation-2026-W47-maya@example.com.eml",
    );
    // Quoted-printable's soft line breaks joined.
    let maya = maya.replace("=\r\n", "").replace("=\n", "");
    assert!(maya.contains("snoozed until 2026-W49 by Ana"), "{maya}");
    let page = read(&dir, "rep/item-creation/2026-W47.html");
    assert!(page.contains("Alerts snoozed until 2026-W49 by Ana: fix ships in W48"));
}

#[test]
fn a_snooze_ends_at_its_period_or_when_cleared() {
    let dir = dir();
    let snooze = |until: &str| {
        let args = [
            "snooze",
            TREE,
            "flow_completion_pct",
            "--until",
            until,
            "--by",
            "Ana",
        ];
        dir.run(&args, 0);
    };
    // Snoozed until the run's own period: that run tells again.
    snooze("2026-W47");
    let run = week47(&dir);
    assert!(recipients(&run).contains(&"design@example.com"), "{run}");
    let moved = (run["moves"].as_array().unwrap().iter())
        .find(|m| m["metric"] == "flow_completion_pct")
        .unwrap();
    assert!(moved.get("snoozed").is_none(), "{moved}");
    // A new snooze replaces the old one; clearing it ends it.
    snooze("2026-W52");
    let args = ["snooze", TREE, "flow_completion_pct", "--clear"];
    let said = dir.run(&args, 0).stdout;
    assert!(said.contains("was snoozed until 2026-W52"), "{said}");
    let list = dir.run(&["snooze", "--list"], 0).stdout;
    assert_eq!(list.trim(), "no snoozes");
}

#[test]
fn a_snooze_of_what_is_not_there_is_refused_with_help() {
    let dir = dir();
    let cases: [(&[&str], &str); 3] = [
        (
            &["snooze", TREE, "flow_completon_pct", "--until", "2026-W49"],
            "did you mean `flow_completion_pct`?",
        ),
        (
            &["snooze", TREE, "flow_completion_pct", "--until", "2026-12"],
            "`2026-12` is a month, but the tree's grain is week",
        ),
        (
            &["snooze", TREE, "flow_completion_pct", "--until", "soon"],
            "`soon` is not a week period",
        ),
    ];
    for (args, message) in cases {
        let run = dir.run(args, 1);
        assert!(run.stderr.contains(message), "{}", run.stderr);
        assert!(run.stderr.contains("help: "), "{}", run.stderr);
    }
    let list = dir.run(&["snooze", "--list"], 0).stdout;
    assert_eq!(list.trim(), "no snoozes");
}
