//! The alerts people ask for, end to end: a snoozed metric's moves are recorded and told to
//! nobody until the period it is snoozed until (emails that go anyway and the report say so);
//! a volume guard holds back a move on too little volume, with why; a segment that shifted is
//! a move though its total held; and bad input is refused with help.

use crate::util::{text_part, Dir, ITEM_CREATION_RUN};

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
    let maya = text_part(&read(
        &dir,
        ".canopy/outbox/item-creation-2026-W47-maya@example.com.eml",
    ));
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
        dir.run(&args, 0)
    };
    // Snoozed until the run's own period: that run tells again, and the snooze says so.
    let said = snooze("2026-W47");
    assert!(
        said.stderr
            .contains("was for 2026-W46; a snooze until 2026-W47 holds back no later run"),
        "{}",
        said.stderr
    );
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

/// `canopy run TREE --data d.csv --period WEEK --format json` in `dir`, read.
fn run_json(dir: &Dir, tree: &str, week: &str) -> serde_json::Value {
    let args = [
        "run", tree, "--data", "d.csv", "--period", week, "--format", "json",
    ];
    serde_json::from_str(&dir.run(&args, 0).stdout).unwrap()
}

/// A tree whose moves are sent only with at least ten attempts, and the weeks of data.
const GUARDED: &str = "tree: g\nroot: rate\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nalerts: { only_if: \"attempts >= 10\" }\nmetrics:\n  rate: { formula: wins / attempts }\n  wins: {}\n  attempts: {}\n";
const WEEKS: &str = "period,metric,value\n2026-W01,wins,50\n2026-W01,attempts,100\n2026-W02,wins,1\n2026-W02,attempts,6\n2026-W03,wins,60\n2026-W03,attempts,120\n";

#[test]
fn a_move_on_too_little_volume_is_held_back_with_why() {
    let dir = Dir::new();
    dir.create("g.yaml", GUARDED);
    dir.create("d.csv", WEEKS);
    let run = |week: &str| run_json(&dir, "g.yaml", week);
    run("2026-W01");
    let week2 = run("2026-W02");
    let moves = week2["moves"].as_array().unwrap();
    let rate = moves
        .iter()
        .find(|m| m["metric"] == "rate")
        .expect("still a move");
    assert_eq!(
        rate["held"], "only_if `attempts >= 10` does not hold (attempts = 6)",
        "{rate}"
    );
    assert!(moves.iter().all(|m| m["held"].is_string()), "{week2}");
    assert_eq!(week2["emails"], serde_json::json!([]), "{week2}");
    // The history keeps the moves and why they were held back.
    let history = dir
        .run(&["history", "g.yaml", "--format", "json"], 0)
        .stdout;
    assert!(
        history.contains("does not hold (attempts = 6)"),
        "{history}"
    );
    // With enough volume the move is told.
    let week4 = run("2026-W03");
    let rate = (week4["moves"].as_array().unwrap().iter())
        .find(|m| m["metric"] == "rate")
        .unwrap();
    assert!(rate.get("held").is_none(), "{rate}");
    assert_eq!(week4["emails"][0]["to"], "p@example.com", "{week4}");
}

#[test]
fn a_guard_on_a_metric_the_tree_lacks_is_refused_at_its_column() {
    let dir = Dir::new();
    dir.create(
        "g.yaml",
        &GUARDED.replace("attempts >= 10", "attemps >= 10"),
    );
    let check = dir.run(&["check", "g.yaml"], 1);
    assert!(
        check.stderr.contains(
            "g.yaml:5:21: error: unknown metric `attemps` in `only_if` (did you mean `attempts`?)"
        ),
        "{}",
        check.stderr
    );
    assert!(check.stderr.contains("help: "), "{}", check.stderr);
    dir.create("g.yaml", &GUARDED.replace("attempts >= 10", "attempts"));
    let check = dir.run(&["check", "g.yaml"], 1);
    assert!(
        check.stderr.contains("a comparison was expected")
            && check
                .stderr
                .contains("help: `only_if` compares two formulas"),
        "{}",
        check.stderr
    );
}

/// Conversion by platform: android collapses in week 2 while the total holds.
const PLATFORMS: &str = "tree: p\nroot: conversion\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nalerts: { segments: 20, anomaly_z: false }\nmetrics:\n  conversion: { formula: orders / visits * 100, unit: '%' }\n  orders: {}\n  visits: {}\n";
const BY_PLATFORM: &str = "period,metric,value,platform\n2026-W01,orders,40,android\n2026-W01,visits,1000,android\n2026-W01,orders,58,ios\n2026-W01,visits,1000,ios\n2026-W01,orders,2,tv\n2026-W01,visits,40,tv\n2026-W02,orders,20,android\n2026-W02,visits,1000,android\n2026-W02,orders,78,ios\n2026-W02,visits,1000,ios\n2026-W02,orders,1,tv\n2026-W02,visits,40,tv\n";

#[test]
fn a_segment_that_shifted_is_a_move_though_the_total_held() {
    let dir = Dir::new();
    dir.create("p.yaml", PLATFORMS);
    dir.create("d.csv", BY_PLATFORM);
    let run = |week: &str| run_json(&dir, "p.yaml", week);
    run("2026-W01");
    let week2 = run("2026-W02");
    let conversion = (week2["moves"].as_array().unwrap().iter())
        .find(|m| m["metric"] == "conversion")
        .expect("a move");
    // The total went from 4.9% to 4.85%: only the segments rule fired.
    assert_eq!(
        conversion["rules"],
        serde_json::json!(["segments"]),
        "{conversion}"
    );
    // The email names the segments that shifted, with their sizes (the mean of their shares
    // of orders and visits); tv
    // halved too, but is 2% of it: under the floor.
    let email = text_part(&read(&dir, ".canopy/outbox/p-2026-W02-p@example.com.eml"));
    assert!(
        email.contains("segments shifted (alert at 20%): android 4 -> 2 (-50.0%, 45% of it); ios 5.8 -> 7.8 (+34.5%, 54% of it)"),
        "{email}"
    );
    assert!(!email.contains("tv "), "{email}");
}

/// A seasonal metric, compared with the same week a year before.
const SEASONAL: &str = "tree: s\nroot: visits\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nmetrics:\n  visits: { alerts: { compare: year } }\n";

#[test]
fn a_seasonal_metric_moves_against_the_same_week_a_year_before() {
    let dir = Dir::new();
    dir.create("s.yaml", SEASONAL);
    let run = |this_week: u32| {
        let data = format!("period,metric,value\n2025-W10,visits,100\n2026-W09,visits,200\n2026-W10,visits,{this_week}\n");
        dir.create("d.csv", &data);
        let args = [
            "run",
            "s.yaml",
            "--data",
            "d.csv",
            "--period",
            "2026-W10",
            "--format",
            "json",
            "--dry-run",
        ];
        serde_json::from_str::<serde_json::Value>(&dir.run(&args, 0).stdout).unwrap()
    };
    // Half of the week before, but 5% over a year before: no move.
    assert_eq!(run(105)["moves"], serde_json::json!([]));
    // 30% over a year before: a move, saying what it compared with.
    let moved = run(130);
    assert_eq!(
        moved["moves"][0]["against"],
        "2026-W10".replace("2026", "2025"),
        "{moved}"
    );
    assert_eq!(moved["moves"][0]["rules"][0], "change_pct", "{moved}");
    let subject = moved["emails"][0]["subject"].as_str().unwrap();
    assert!(
        subject.contains("100 -> 130 against 2025-W10, a year before"),
        "{subject}"
    );
    let args = ["run", "s.yaml", "--data", "d.csv", "--period", "2026-W10"];
    dir.run(&args, 0);
    let email = text_part(&read(&dir, ".canopy/outbox/s-2026-W10-p@example.com.eml"));
    assert!(
        email.contains("100 -> 130 (+30, +30.0%) against 2025-W10, a year before"),
        "{email}"
    );
}

#[test]
fn a_slices_run_keeps_its_own_history_and_emails() {
    let dir = Dir::new();
    dir.copy(TREE);
    dir.copy("fixtures/data/item-creation.csv");
    let run = |week: &str, extra: &[&str]| {
        let mut args = ITEM_CREATION_RUN.to_vec();
        args[5] = week;
        args.extend(["--format", "json"]);
        args.extend(extra);
        serde_json::from_str::<serde_json::Value>(&dir.run(&args, 0).stdout).unwrap()
    };
    let new = ["--where", "cohort=new"];
    run("2026-W46", &new);
    // A snooze of the tree as written holds in its slices' runs too.
    let snooze = [
        "snooze",
        TREE,
        "flow_completion_pct",
        "--until",
        "2026-W49",
        "--by",
        "Ana",
    ];
    dir.run(&snooze, 0);
    let sliced = run("2026-W47", &new);
    assert_eq!(sliced["tree"], "item-creation.where.cohort-new", "{sliced}");
    let flow = (sliced["moves"].as_array().unwrap().iter())
        .find(|m| m["metric"] == "flow_completion_pct")
        .unwrap();
    assert_eq!(flow["snoozed"]["until"], "2026-W49", "{flow}");
    // The report page names the slice in its title, once.
    let page = read(
        &dir,
        ".canopy/report/item-creation.where.cohort-new/2026-W47.html",
    );
    let title = &page[page.find("<title>").unwrap()..page.find("</title>").unwrap()];
    assert_eq!(
        title,
        "<title>Item creation rate (where cohort = new): 2026-W47"
    );
    let subject = sliced["emails"][0]["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("[canopy] item-creation.where.cohort-new 2026-W47"),
        "{subject}"
    );
    // The whole tree has no runs of its own; the slice's are read back with --where.
    let whole = dir.run(&["history", TREE], 0).stdout;
    assert_eq!(whole.trim(), "item-creation: no runs recorded");
    let args = ["history", TREE, "--where", "cohort=new", "--format", "json"];
    let history: serde_json::Value = serde_json::from_str(&dir.run(&args, 0).stdout).unwrap();
    assert_eq!(history["periods"].as_array().unwrap().len(), 2, "{history}");
    // The whole tree's first run of 2026-W47 sends its own emails: nothing was sent for it.
    let all = run("2026-W47", &[]);
    assert_eq!(all["tree"], "item-creation");
    assert!(
        all["emails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] != "sent before"),
        "{all}"
    );
    // A dimension the data lacks is refused, naming the ones it has.
    let mut args = ITEM_CREATION_RUN.to_vec();
    args.extend(["--where", "plan=pro"]);
    let refused = dir.run(&args, 1);
    assert!(
        refused.stderr.contains("has no segment dimension `plan`"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("help: its dimensions: cohort"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_metric_can_turn_off_the_trees_guard() {
    let dir = Dir::new();
    let tree = GUARDED.replace(
        "rate: { formula: wins / attempts }",
        "rate: { formula: wins / attempts, alerts: { only_if: false } }",
    );
    dir.create("g.yaml", &tree);
    dir.create("d.csv", WEEKS);
    let run = |week: &str| run_json(&dir, "g.yaml", week);
    run("2026-W01");
    let week2 = run("2026-W02");
    let moves = week2["moves"].as_array().unwrap();
    let held = |metric: &str| moves.iter().find(|m| m["metric"] == metric).unwrap()["held"].clone();
    assert!(held("rate").is_null(), "{week2}");
    assert!(held("wins").is_string(), "{week2}");
    assert_eq!(week2["emails"][0]["to"], "p@example.com", "{week2}");
}
