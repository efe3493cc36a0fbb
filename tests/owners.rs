//! `canopy owners`: the RACI matrix across trees, one person's roles, and the gaps.

use crate::util::Dir;

fn with_trees() -> Dir {
    let dir = Dir::new();
    dir.copy("trees/nps.yaml");
    dir.copy("trees/activation.yaml");
    dir
}

#[test]
fn the_matrix_shows_every_role_across_trees() {
    let dir = with_trees();
    let run = dir.run(&["owners", "trees/nps.yaml", "trees/activation.yaml"], 0);
    insta::assert_snapshot!(run.stdout);
    let json = dir.run(
        &[
            "owners",
            "trees/nps.yaml",
            "trees/activation.yaml",
            "--format",
            "json",
        ],
        0,
    );
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let ravi_on_nps = doc["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["person"] == "ravi" && a["metric"] == "nps")
        .unwrap();
    assert_eq!(ravi_on_nps["roles"], "AI");
}

#[test]
fn one_persons_roles_as_csv_and_an_unknown_person() {
    let dir = with_trees();
    let run = dir.run(
        &[
            "owners",
            "trees/nps.yaml",
            "--person",
            "ravi",
            "--format",
            "csv",
        ],
        0,
    );
    assert!(
        run.stdout
            .starts_with("tree,metric,person,roles\nnps,nps,ravi,AI\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("warning: nps `promoters`: no one is responsible"),
        "{}",
        run.stderr
    );
    let run = dir.run(&["owners", "trees/nps.yaml", "--person", "rav"], 1);
    assert!(
        run.stderr
            .contains("no person `rav` in these trees (did you mean `ravi`?)"),
        "{}",
        run.stderr
    );
}

#[test]
fn one_accountable_for_opposite_directions_is_flagged() {
    let dir = Dir::new();
    let tree = "tree: t\nroot: nps\npeople: { p: { email: p@example.com } }\nraci: { accountable: p, responsible: [p] }\nmetrics:\n  nps: { formula: 100 - detractors, good: up }\n  detractors: { good: down }\n";
    dir.create("t.yaml", tree);
    let run = dir.run(&["owners", "t.yaml"], 0);
    assert!(
        run.stdout.contains("warning: t `nps`: p is accountable for it (good: up) and for its input `detractors` (good: down); check both directions are meant"),
        "{}",
        run.stdout
    );
}

#[test]
fn csv_keeps_commas_in_their_column_and_runs_no_formula() {
    let dir = Dir::new();
    dir.create("o.yaml", "tree: o\nroot: r\npeople: { \"smith, j\": { email: s@example.com }, \"=HYPERLINK(1)\": { email: h@example.com }, \"-2+3\": { email: m@example.com } }\nraci: { accountable: \"smith, j\", responsible: [\"-2+3\"], informed: [\"=HYPERLINK(1)\"] }\nmetrics:\n  r: {}\n");
    let run = dir.run(&["owners", "o.yaml", "--format", "csv"], 0);
    let mut rows: Vec<&str> = run.stdout.lines().collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            "o,r,\"smith, j\",A",
            "o,r,'-2+3,R",
            "o,r,'=HYPERLINK(1),I",
            "tree,metric,person,roles"
        ],
        "{}",
        run.stdout
    );
}
