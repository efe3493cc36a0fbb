//! One slice's tree (`--where`) and baselines (`--against`) on `eval`, `explain` and `render`.

use crate::util::{item_creation, Dir};

const TREE: &str = "trees/item-creation.yaml";
const DATA: &str = "fixtures/data/item-creation.csv";

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The fixture's rows whose `cohort` is `cohort`, as a file of their own in `dir`.
fn only(dir: &Dir, cohort: &str) -> String {
    let text = std::fs::read_to_string(dir.path().join(DATA)).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for line in lines.filter(|l| l.ends_with(&format!(",{cohort}"))) {
        out += line;
        out.push('\n');
    }
    let name = format!("{cohort}.csv");
    dir.create(&name, &out);
    name
}

/// Every metric's value, previous value and status, from `eval`'s JSON.
fn values(doc: &serde_json::Value) -> Vec<(String, String, String, String)> {
    let metrics = doc["metrics"].as_array().unwrap();
    (metrics.iter())
        .map(|m| {
            let field = |k: &str| m[k].to_string();
            (
                field("id"),
                field("value"),
                field("previous"),
                field("status"),
            )
        })
        .collect()
}

#[test]
fn eval_where_is_the_tree_on_the_slices_rows() {
    let dir = item_creation();
    let new = only(&dir, "new");
    for period in ["2026-W47", "2026-W40"] {
        let args = ["eval", TREE, "--period", period, "--format", "json"];
        let sliced = json(
            &dir.run(
                &[&args[..], &["--data", DATA, "--where", "cohort=new"]].concat(),
                0,
            )
            .stdout,
        );
        let filtered = json(&dir.run(&[&args[..], &["--data", &new]].concat(), 0).stdout);
        let whole = json(&dir.run(&[&args[..], &["--data", DATA]].concat(), 0).stdout);
        assert_eq!(values(&sliced), values(&filtered), "{period}");
        assert_ne!(values(&sliced), values(&whole), "{period}");
        assert_eq!(sliced["where"], serde_json::json!({ "cohort": "new" }));
        assert_eq!(whole.get("where"), None);
    }
    let table = dir.run(
        &[
            "eval",
            TREE,
            "--data",
            DATA,
            "--where",
            "cohort=new",
            "--period",
            "2026-W47",
        ],
        0,
    );
    assert!(
        table
            .stdout
            .starts_with("item-creation 2026-W47 where cohort = new\n"),
        "{}",
        table.stdout
    );
}

#[test]
fn explain_where_is_the_tree_on_the_slices_rows() {
    let dir = item_creation();
    let tenured = only(&dir, "tenured");
    let args = [
        "explain", TREE, "--from", "2026-W44", "--to", "2026-W47", "--format", "json",
    ];
    let sliced = json(
        &dir.run(
            &[&args[..], &["--data", DATA, "--where", "cohort=tenured"]].concat(),
            0,
        )
        .stdout,
    );
    let filtered = json(
        &dir.run(&[&args[..], &["--data", &tenured]].concat(), 0)
            .stdout,
    );
    for key in [
        "before",
        "after",
        "change",
        "contributions",
        "leaves",
        "segments",
    ] {
        assert_eq!(sliced[key], filtered[key], "{key}");
    }
    assert_eq!(sliced["where"], serde_json::json!({ "cohort": "tenured" }));
    let each = json(
        &dir.run(
            &[
                &args[..],
                &["--data", DATA, "--where", "cohort=tenured", "--each"],
            ]
            .concat(),
            0,
        )
        .stdout,
    );
    assert_eq!(each["where"], serde_json::json!({ "cohort": "tenured" }));
    let last = each["transitions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["where"], serde_json::json!({ "cohort": "tenured" }));
    let table = dir.run(
        &[
            "explain",
            TREE,
            "--data",
            DATA,
            "--where",
            "cohort=tenured",
            "--from",
            "2026-W46",
            "--to",
            "2026-W47",
        ],
        0,
    );
    let first = table.stdout.lines().next().unwrap();
    assert!(first.ends_with("where cohort = tenured"), "{first}");
}

#[test]
fn render_where_titles_the_picture_with_the_slice() {
    let dir = item_creation();
    let args = [
        "render", TREE, "--data", DATA, "--format", "svg", "--period", "2026-W47",
    ];
    let sliced = dir.run(&[&args[..], &["--where", "cohort=new"]].concat(), 0);
    assert!(
        sliced.stdout.contains("(where cohort = new)"),
        "{}",
        sliced.stdout
    );
    let whole = dir.run(&args, 0);
    assert!(!whole.stdout.contains("(where"));
}

#[test]
fn where_on_a_dimension_or_value_the_data_lacks_is_an_error() {
    let dir = item_creation();
    let run = dir.run(
        &["eval", TREE, "--data", DATA, "--where", "platform=ios"],
        1,
    );
    assert_eq!(
        run.stderr,
        "error: --where platform=ios: the data (fixtures/data/item-creation.csv) has no segment dimension `platform`\nhelp: its dimensions: cohort\n"
    );
    let run = dir.run(
        &[
            "explain",
            TREE,
            "--data",
            DATA,
            "--from",
            "2026-W46",
            "--to",
            "2026-W47",
            "--where",
            "cohort=new",
            "--where",
            "cohort=tenured",
        ],
        1,
    );
    assert!(
        run.stderr.contains("no rows of the data (fixtures/data/item-creation.csv) have cohort = tenured\nhelp: its values there: new\n"),
        "{}",
        run.stderr
    );
    dir.copy("trees/nps.yaml");
    dir.copy("fixtures/data/nps.csv");
    let run = dir.run(
        &[
            "render",
            "trees/nps.yaml",
            "--data",
            "fixtures/data/nps.csv",
            "--format",
            "html",
            "--where",
            "plan=pro",
        ],
        1,
    );
    assert!(
        run.stderr
            .contains("has no segment dimension `plan`\nhelp: the data has no segment columns"),
        "{}",
        run.stderr
    );
    let run = dir.run(&["eval", TREE, "--data", DATA, "--where", "cohort"], 2);
    assert!(run.stderr.contains("is not DIM=VALUE"), "{}", run.stderr);
}

const ACTIVATION: &[&str] = &[
    "trees/activation.yaml",
    "--data",
    "fixtures/data/activation.csv",
];

fn activation() -> Dir {
    let dir = Dir::new();
    dir.copy("trees/activation.yaml");
    dir.copy("fixtures/data/activation.csv");
    dir
}

/// `--against year` is `--from` the same period a year before, for every week of the data
/// that has one: the explanation (but for the `against` it states) and each metric's
/// previous value.
#[test]
fn against_year_is_from_the_same_week_a_year_before() {
    let dir = activation();
    for week in 1..=26 {
        let to = format!("2026-W{week:02}");
        let before = format!("2025-W{week:02}");
        let explain = |extra: &[&str]| {
            let args = [
                &["explain"],
                ACTIVATION,
                &["--to", &to, "--format", "json"],
                extra,
            ]
            .concat();
            json(&dir.run(&args, 0).stdout)
        };
        let mut against = explain(&["--against", "year"]);
        let from = explain(&["--from", &before]);
        assert_eq!(
            against["against"],
            serde_json::json!({ "baseline": "year", "from": before, "to": before })
        );
        against.as_object_mut().unwrap().remove("against");
        assert_eq!(against, from, "{to}");
        let eval = |period: &str, extra: &[&str]| {
            let args = [
                &["eval"],
                ACTIVATION,
                &["--period", period, "--format", "json"],
                extra,
            ]
            .concat();
            json(&dir.run(&args, 0).stdout)
        };
        let now = eval(&to, &["--against", "year"]);
        let then = eval(&before, &[]);
        let (now, then) = (
            now["metrics"].as_array().unwrap(),
            then["metrics"].as_array().unwrap(),
        );
        for (n, t) in now.iter().zip(then) {
            assert_eq!(n["previous"], t["value"], "{to}: {}", n["id"]);
        }
    }
}

#[test]
fn against_states_its_baseline() {
    let dir = activation();
    let args = [&["eval"], ACTIVATION, &["--period", "2026-W26"]].concat();
    let year = dir.run(&[&args[..], &["--against", "year"]].concat(), 0);
    assert!(
        year.stdout
            .starts_with("activation 2026-W26 against 2025-W26 (the same week a year before)\n"),
        "{}",
        year.stdout
    );
    let mean = dir.run(
        &[&args[..], &["--against", "mean:4", "--format", "json"]].concat(),
        0,
    );
    let mean = json(&mean.stdout);
    assert_eq!(
        mean["against"],
        serde_json::json!({ "baseline": "mean:4", "from": "2026-W22", "to": "2026-W25" })
    );
    let table = dir.run(
        &[
            &["explain"],
            ACTIVATION,
            &["--to", "2026-W26", "--against", "mean:4"],
        ]
        .concat(),
        0,
    );
    let first = table.stdout.lines().next().unwrap();
    assert!(
        first.ends_with("from the mean of 2026-W22 to 2026-W25 to 2026-W26"),
        "{first}"
    );
    let previous = dir.run(
        &[
            &["explain"],
            ACTIVATION,
            &[
                "--to",
                "2026-W26",
                "--against",
                "previous",
                "--format",
                "json",
            ],
        ]
        .concat(),
        0,
    );
    assert_eq!(json(&previous.stdout)["from"], "2026-W25");
    // --against replaces --from, and takes a baseline it knows.
    let both = [
        &["explain"],
        ACTIVATION,
        &[
            "--to",
            "2026-W26",
            "--from",
            "2026-W20",
            "--against",
            "year",
        ],
    ]
    .concat();
    assert!(dir.run(&both, 2).stderr.contains("cannot be used with"));
    let bad = dir.run(&[&args[..], &["--against", "mean:0"]].concat(), 2);
    assert!(
        bad.stderr
            .contains("`mean:0` needs a number of periods from 1 to 520"),
        "{}",
        bad.stderr
    );
}
