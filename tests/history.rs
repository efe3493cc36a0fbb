//! `canopy history`: what three runs recorded, read back.

use crate::util::Dir;

#[test]
fn three_runs_read_back() {
    let dir = Dir::new();
    dir.copy("trees/item-creation.yaml");
    dir.copy("fixtures/data/item-creation.csv");
    for week in ["2026-W45", "2026-W46", "2026-W47"] {
        let args = [
            "run",
            "trees/item-creation.yaml",
            "--data",
            "fixtures/data/item-creation.csv",
            "--period",
            week,
        ];
        dir.run(&args, 0);
    }
    let table = dir.run(&["history", "trees/item-creation.yaml"], 0);
    insta::assert_snapshot!(table.stdout);
    let args = [
        "history",
        "trees/item-creation.yaml",
        "--metric",
        "flow_completion_pct",
        "--last",
        "2",
        "--format",
        "json",
    ];
    let doc: serde_json::Value = serde_json::from_str(&dir.run(&args, 0).stdout).unwrap();
    let periods = doc["periods"].as_array().unwrap();
    let names: Vec<&str> = periods
        .iter()
        .map(|p| p["period"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["2026-W46", "2026-W47"]);
    let last = &periods[1];
    assert_eq!(last["values"][0]["metric"], "flow_completion_pct");
    assert_eq!(last["values"][0]["band"], "Fair");
    assert_eq!(last["moves"][0]["recipient"], "design@example.com");
    assert_eq!(
        last["emails"].as_array().unwrap().len(),
        4,
        "every email of the run"
    );
    assert_eq!(doc["alert_state"][0]["metric"], "flow_completion_pct");
    // Without a database there is nothing to read.
    let run = dir.run(
        &["history", "trees/item-creation.yaml", "--db", "none.db"],
        1,
    );
    assert!(
        run.stderr.contains("no history at none.db\nhelp: "),
        "{}",
        run.stderr
    );
}
