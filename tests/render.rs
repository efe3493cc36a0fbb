//! `canopy render` and `canopy schema`.

use crate::util::{repo, Dir};

#[test]
fn render_mermaid_and_dot() {
    let dir = Dir::new();
    dir.copy("trees/nps.yaml");
    let mermaid = dir.run(&["render", "trees/nps.yaml", "--format", "mermaid"], 0);
    assert!(
        mermaid
            .stdout
            .starts_with("%% nps: Net Promoter Score\nflowchart TD\n"),
        "{}",
        mermaid.stdout
    );
    assert!(mermaid.stdout.contains("  m_nps --> m_promoter_pct\n"));
    let dot = dir.run(&["render", "trees/nps.yaml", "--format", "dot"], 0);
    assert!(
        dot.stdout.starts_with("digraph \"nps\" {"),
        "{}",
        dot.stdout
    );
    assert!(dot.stdout.contains("  \"nps\" -> \"detractor_pct\";\n"));
}

#[test]
fn render_refuses_an_invalid_tree() {
    let dir = Dir::new();
    dir.copy("fixtures/invalid/bands.yaml");
    let run = dir.run(
        &[
            "render",
            "--snippets=never",
            "fixtures/invalid/bands.yaml",
            "--format",
            "dot",
        ],
        1,
    );
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .contains("bands.yaml:12:9: error: band bounds must increase strictly"),
        "{}",
        run.stderr
    );
}

#[test]
fn render_needs_a_known_format() {
    let dir = Dir::new();
    let run = dir.run(&["render", "t.yaml", "--format", "png"], 2);
    assert!(
        run.stderr.contains("possible values: mermaid, dot"),
        "{}",
        run.stderr
    );
}

/// The committed schema (which example trees point editors at) is what `canopy schema` prints.
#[test]
fn schema_is_committed_and_current() {
    let dir = Dir::new();
    let run = dir.run(&["schema"], 0);
    let printed: serde_json::Value = serde_json::from_str(&run.stdout).expect("valid JSON");
    assert_eq!(
        printed["$schema"],
        "http://json-schema.org/draft-07/schema#"
    );
    let committed = std::fs::read_to_string(repo().join("schema/tree.schema.json")).unwrap();
    assert_eq!(
        run.stdout, committed,
        "run `canopy schema > schema/tree.schema.json` and commit it"
    );
}

/// The report's panels print a number that is zero to the precision of what was explained
/// as 0: the starter's segment mix is `0`, not `-1.11e-16`; the data behind it keeps every
/// digit.
#[test]
fn the_reports_panels_print_no_rounding_residue() {
    let dir = Dir::new();
    dir.run(&["init", "s"], 0);
    let args = [
        "render",
        "s/tree.yaml",
        "--data",
        "s/data.csv",
        "--period",
        "2026-W08",
        "--format",
        "html",
    ];
    let html = dir.run(&args, 0).stdout;
    let texts: Vec<&str> = ["\"text\":\"", "\"mix\":\"", "\"rate\":\""]
        .iter()
        .flat_map(|key| html.split(key).skip(1))
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert!(texts.contains(&"0"), "{texts:?}");
    assert!(
        texts.iter().all(|t| !t.contains("e-")),
        "a rounding residue is printed: {texts:?}"
    );
}
