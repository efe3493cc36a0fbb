//! `canopy eval` and `canopy explain` on CSV files, SQLite and PostgreSQL.

use crate::util::{sql_tree, Dir, Run};

const ITEM_CREATION: &[&str] = &[
    "trees/item-creation.yaml",
    "fixtures/data/item-creation.csv",
];

fn item_creation() -> Dir {
    let dir = Dir::new();
    ITEM_CREATION.iter().for_each(|f| {
        dir.copy(f);
    });
    dir
}

/// Runs `canopy COMMAND trees/item-creation.yaml --data fixtures/... ARGS...`.
fn item(dir: &Dir, command: &str, args: &[&str], code: i32) -> Run {
    let base = [command, ITEM_CREATION[0], "--data", ITEM_CREATION[1]];
    dir.run(&[&base[..], args].concat(), code)
}

/// The JSON document a run printed.
fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[test]
fn eval_prints_every_metric_of_a_period() {
    let dir = item_creation();
    let run = item(&dir, "eval", &["--period", "2026-W46"], 0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn eval_json_has_the_documented_fields() {
    let dir = item_creation();
    let doc = json(&item(&dir, "eval", &["--format", "json"], 0));
    // `latest` is the newest period in the data.
    assert_eq!(doc["period"], "2026-W47");
    assert_eq!(doc["tree"], "item-creation");
    let root = &doc["metrics"][0];
    for field in [
        "id",
        "value",
        "status",
        "band",
        "previous",
        "change",
        "change_pct",
    ] {
        assert!(root.get(field).is_some(), "missing {field} in {root}");
    }
    assert_eq!(root["id"], "item_creation_rate");
    assert_eq!(root["status"], "ok");
}

#[test]
fn eval_outside_the_data_is_an_error() {
    let dir = item_creation();
    let run = item(&dir, "eval", &["--period", "2027-W01"], 1);
    assert_eq!(
        run.stderr,
        "error: the data has no values for 2027-W01; it covers 2026-W36 to 2026-W47\nhelp: choose a period from 2026-W36 to 2026-W47, or `latest`\n"
    );
    let run = item(&dir, "eval", &["--period", "2026-11"], 1);
    assert_eq!(
        run.stderr,
        "error: `2026-11` is a month, but the tree's grain is week\nhelp: write `latest` (the newest period in the data), `previous` (the last complete period before today), or an ISO week like 2026-W47\n"
    );
}

#[test]
fn missing_data_shows_as_missing_with_the_leaf_named() {
    let dir = item_creation();
    let csv = std::fs::read_to_string(dir.path().join("fixtures/data/item-creation.csv")).unwrap();
    let without: String = csv
        .lines()
        .filter(|l| !(l.starts_with("2026-W46,active_users")))
        .map(|l| format!("{l}\n"))
        .collect();
    dir.create("partial.csv", &without);
    let args = [
        "eval",
        ITEM_CREATION[0],
        "--data",
        "partial.csv",
        "--period",
        "2026-W46",
        "--format",
        "json",
    ];
    let doc = json(&dir.run(&args, 0));
    let root = &doc["metrics"][0];
    assert_eq!(root["status"], "missing");
    assert_eq!(root["value"], serde_json::Value::Null);
    assert_eq!(root["reason"], "`active_users` has no data in 2026-W46");
}

#[test]
fn bad_data_names_file_line_and_column() {
    let dir = item_creation();
    dir.create(
        "bad.csv",
        "period,metric,value,cohort\n2026-W46,active_users,12x,new\n2026-W46,items_created,5,new\n",
    );
    let run = dir.run(
        &[
            "eval",
            "--snippets=never",
            ITEM_CREATION[0],
            "--data",
            "bad.csv",
        ],
        1,
    );
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn explain_finds_the_leaking_funnel() {
    let dir = item_creation();
    let args = ["--from", "2026-W45", "--to", "2026-W46"];
    let table = item(&dir, "explain", &args, 0);
    insta::assert_snapshot!(table.stdout);
    let doc = json(&item(
        &dir,
        "explain",
        &[&args[..], &["--format", "json"]].concat(),
        0,
    ));
    let change = doc["change"].as_f64().unwrap();
    for list in ["contributions", "leaves", "segments"] {
        let sum: f64 = doc[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["contribution"].as_f64().unwrap())
            .sum();
        assert!(
            (sum - change).abs() <= 1e-9 * change.abs().max(1e-12),
            "{list}: {sum} vs {change}"
        );
    }
    assert_eq!(doc["offsetting"][0]["metric"], "items_created");
    assert!(doc["method"].as_str().unwrap().starts_with("shapley-chain"));
    for s in doc["segments"].as_array().unwrap() {
        let (mix, rate) = (s["mix"].as_f64().unwrap(), s["rate"].as_f64().unwrap());
        assert!((mix + rate - s["contribution"].as_f64().unwrap()).abs() < 1e-12);
    }
}

#[test]
fn explain_each_gives_one_transition_per_pair_of_periods() {
    let dir = item_creation();
    let args = [
        "--from", "2026-W40", "--to", "2026-W47", "--each", "--format", "json",
    ];
    let doc = json(&item(&dir, "explain", &args, 0));
    let transitions = doc["transitions"].as_array().unwrap();
    assert_eq!(transitions.len(), 7);
    assert_eq!(
        (doc["tree"].as_str(), doc["metric"].as_str()),
        (Some("item-creation"), Some("item_creation_rate"))
    );
    let pairs: Vec<(&str, &str)> = transitions
        .iter()
        .map(|t| (t["from"].as_str().unwrap(), t["to"].as_str().unwrap()))
        .collect();
    assert_eq!(pairs[0], ("2026-W40", "2026-W41"));
    assert_eq!(pairs[6], ("2026-W46", "2026-W47"));
    // Each transition is what explaining that pair alone says, on a line of its own.
    for (t, (from, to)) in transitions.iter().zip(&pairs) {
        let alone = ["--from", from, "--to", to, "--format", "json"];
        assert_eq!(
            t,
            &json(&item(&dir, "explain", &alone, 0)),
            "{from} to {to}"
        );
    }
    let run = item(&dir, "explain", &args, 0);
    assert_eq!(run.stdout.lines().count(), 1 + 7 + 1, "{}", run.stdout);
}

#[test]
fn explain_a_branch_and_misspelt_metrics() {
    let dir = item_creation();
    let base = ["--from", "2026-W46", "--to", "2026-W47", "--format", "json"];
    let branch = [&base[..], &["--metric", "items_per_activated_user"]].concat();
    let doc = json(&item(&dir, "explain", &branch, 0));
    assert_eq!(doc["contributions"][0]["metric"], "flow_completion_pct");
    let misspelt = [&base[..], &["--metric", "items_per_activated_usr"]].concat();
    let run = item(&dir, "explain", &misspelt, 1);
    assert_eq!(run.stderr, "error: no metric `items_per_activated_usr` in tree `item-creation` (did you mean `items_per_activated_user`?)\n");
    let run = item(
        &dir,
        "explain",
        &["--from", "2026-W47", "--to", "2026-W46"],
        1,
    );
    assert_eq!(
        run.stderr,
        "error: --from (2026-W47) must be before --to (2026-W46)\n"
    );
}

/// Every example tree evaluates and explains on its fixture data.
#[test]
fn every_example_tree_runs_on_its_fixture() {
    let dir = Dir::new();
    for name in [
        "item-creation",
        "user-productivity",
        "user-activity-score",
        "saas-revenue",
        "unit-economics",
        "stickiness",
        "nps",
    ] {
        let tree = dir.copy(&format!("trees/{name}.yaml"));
        let data = dir.copy(&format!("fixtures/data/{name}.csv"));
        if name.contains("revenue") || name.contains("economics") {
            dir.copy("trees/shared/people.yaml");
        }
        let (tree, data) = (tree.to_str().unwrap(), data.to_str().unwrap());
        let doc = json(&dir.run(&["eval", tree, "--data", data, "--format", "json"], 0));
        assert!(
            doc["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["status"] == "ok"),
            "{name}: {doc}"
        );
        let latest = doc["period"].as_str().unwrap().to_string();
        let run = dir.run(
            &[
                "explain",
                tree,
                "--data",
                data,
                "--from",
                &previous(&latest),
                "--to",
                &latest,
                "--format",
                "json",
            ],
            0,
        );
        assert!(run.stdout.contains("\"contributions\""), "{name}");
    }
}

/// The period before `p`, for the grains of the fixtures (weeks, months, quarters).
fn previous(p: &str) -> String {
    let (year, rest) = p.split_once('-').unwrap();
    let year: i32 = year.parse().unwrap();
    let (prefix, n) = match rest
        .strip_prefix('W')
        .map(|w| ("W", w))
        .or(rest.strip_prefix('Q').map(|q| ("Q", q)))
    {
        Some((prefix, n)) => (prefix, n.parse::<u32>().unwrap()),
        None => ("", rest.parse::<u32>().unwrap()),
    };
    match (prefix, n) {
        ("Q", 1) => format!("{}-Q4", year - 1),
        ("", 1) => format!("{}-12", year - 1),
        ("W", n) => format!("{year}-W{:02}", n - 1),
        ("Q", n) => format!("{year}-Q{}", n - 1),
        (_, n) => format!("{year}-{:02}", n - 1),
    }
}

const SQL_TREE: &str = "tree: sql\nroot: rate\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nmetrics:\n  rate: { formula: items / users }\n  items:\n    source: { sql: \"select count(*) from events where kind = 'create' and at >= {start} and at < {end}\" }\n  users:\n    source: { sql: \"select cohort, count(distinct user_id) from events where at >= {start} and at < {end} group by cohort\" }\n";

/// Events of two weeks: week 46 has 3 users (2 new, 1 tenured) and 6 items; week 47 has 2
/// users and 2 items. One event falls on the boundary (Monday 00:00 of week 47).
const EVENTS: &[(i32, &str, &str, &str)] = &[
    (1, "2026-11-09 10:00:00", "create", "new"),
    (1, "2026-11-10 10:00:00", "create", "new"),
    (2, "2026-11-11 10:00:00", "create", "new"),
    (3, "2026-11-12 10:00:00", "create", "tenured"),
    (3, "2026-11-13 10:00:00", "create", "tenured"),
    (3, "2026-11-15 23:59:59", "create", "tenured"),
    (1, "2026-11-16 00:00:00", "create", "new"),
    (4, "2026-11-18 10:00:00", "view", "tenured"),
    (4, "2026-11-19 10:00:00", "create", "tenured"),
];

fn check_sql_results(dir: &Dir, url: &str) {
    dir.create("sql.yaml", SQL_TREE);
    let doc = json(&dir.run(
        &[
            "eval", "sql.yaml", "--data", url, "--period", "2026-W46", "--format", "json",
        ],
        0,
    ));
    let value = |id: &str| {
        doc["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(value("items"), 6.0);
    assert_eq!(value("users"), 3.0);
    assert_eq!(value("rate"), 2.0);
    let args = [
        "explain", "sql.yaml", "--data", url, "--from", "2026-W46", "--to", "2026-W47", "--format",
        "json",
    ];
    let doc = json(&dir.run(&args, 0));
    assert_eq!(
        (doc["before"].as_f64(), doc["after"].as_f64()),
        (Some(2.0), Some(1.0))
    );
    // Users are segmented by cohort (the query's first column), items are not: the rate
    // cannot be split into exact segment parts, and the output says so.
    assert!(
        doc["segments_note"]
            .as_str()
            .unwrap()
            .contains("do not add up"),
        "{doc}"
    );
}

#[test]
fn sql_sources_on_sqlite() {
    let dir = Dir::new();
    let db = rusqlite::Connection::open(dir.path().join("events.db")).unwrap();
    db.execute_batch("create table events (user_id integer, at text, kind text, cohort text)")
        .unwrap();
    for (user, at, kind, cohort) in EVENTS {
        db.execute(
            "insert into events values (?1, ?2, ?3, ?4)",
            rusqlite::params![user, at, kind, cohort],
        )
        .unwrap();
    }
    drop(db);
    check_sql_results(&dir, "sqlite://events.db");
    // The query failing is reported against the metric, with the period.
    dir.create(
        "broken.yaml",
        &SQL_TREE.replace("from events where kind", "from evnts where kind"),
    );
    let run = dir.run(
        &[
            "eval",
            "--snippets=never",
            "broken.yaml",
            "--data",
            "sqlite://events.db",
            "--period",
            "2026-W46",
        ],
        1,
    );
    // Found when the query is first prepared, before any period runs.
    assert!(
        run.stderr.starts_with(
            "broken.yaml:7:3: error: the SQL source of `items` failed: no such table: evnts"
        ),
        "{}",
        run.stderr
    );
}

/// PostgreSQL, when a server is given (CI starts one: see `.ci/postgres.sh`).
#[test]
fn sql_sources_on_postgres() {
    let Some(url) = crate::util::postgres_url() else {
        return;
    };
    // Each run gets a schema of its own, named into the connection's search path.
    let schema = format!("canopy_test_{}", std::process::id());
    let mut client = postgres::Client::connect(&url, postgres::NoTls)
        .expect("the test server accepts connections");
    client
        .batch_execute(&format!(
            "drop schema if exists {schema} cascade; create schema {schema};
             create table {schema}.events (user_id int, at timestamp, kind text, cohort text, amount numeric(10,2), day date)"
        ))
        .unwrap();
    for (user, at, kind, cohort) in EVENTS {
        let at = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S").unwrap();
        client
            .execute(
                &format!("insert into {schema}.events values ($1, $2, $3, $4, 12.50, $5)"),
                &[user, &at, kind, cohort, &at.date()],
            )
            .unwrap();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options=-csearch_path%3D{schema}");
    let dir = Dir::new();
    check_sql_results(&dir, &scoped);
    // numeric sums and date columns bind and read as well.
    let money = SQL_TREE.replace(
        "select count(*) from events where kind = 'create' and at >= {start} and at < {end}",
        "select sum(amount) from events where day >= {start} and day < {end}",
    );
    dir.create("money.yaml", &money);
    let doc = json(&dir.run(
        &[
            "eval",
            "money.yaml",
            "--data",
            &scoped,
            "--period",
            "2026-W46",
            "--format",
            "json",
        ],
        0,
    ));
    assert_eq!(doc["metrics"][1]["value"], 6.0 * 12.5);
    // A CSV and the database together: the CSV gives what SQL does not.
    let mixed = "tree: sql\nroot: rate\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nmetrics:\n  rate: { formula: items / users }\n  items: {}\n  users:\n    source: { sql: \"select count(distinct user_id) from events where at >= {start} and at < {end}\" }\n";
    dir.create("mixed.yaml", mixed);
    dir.create("items.csv", "period,metric,value\n2026-W46,items,9\n");
    let args = [
        "eval",
        "mixed.yaml",
        "--data",
        "items.csv",
        "--data",
        &scoped,
        "--period",
        "2026-W46",
        "--format",
        "json",
    ];
    let doc = json(&dir.run(&args, 0));
    assert_eq!(doc["metrics"][0]["value"], 3.0);
    client
        .batch_execute(&format!("drop schema {schema} cascade"))
        .unwrap();
}

/// A reader that stops early (`canopy eval ... | head -1`) ends the command quietly with
/// success, for every command that prints.
#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    let dir = item_creation();
    let commands: [&[&str]; 3] = [
        &["eval", ITEM_CREATION[0], "--data", ITEM_CREATION[1]],
        &[
            "explain",
            ITEM_CREATION[0],
            "--data",
            ITEM_CREATION[1],
            "--from",
            "2026-W30",
            "--to",
            "2026-W47",
            "--each",
        ],
        &["schema"],
    ];
    for args in commands {
        let mut child = dir
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Closing the pipe's reading end before anything is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

/// Each derived metric's method is named; the table lists the approximate ones.
#[test]
fn explain_names_the_method_at_each_metric_and_marks_approximate_ones() {
    let dir = Dir::new();
    let n = canopy_evaluator::MAX_EXACT + 2;
    let names: Vec<String> = (0..n).map(|i| format!("x{i}")).collect();
    let leaves: String = names.iter().map(|x| format!("  {x}: {{}}\n")).collect();
    dir.create("t.yaml", &format!("tree: t\nroot: r\npeople: {{ p: {{ email: p@example.com }} }}\nraci: {{ accountable: p }}\nmetrics:\n  r: {{ formula: \"s + w\" }}\n  s: {{ formula: \"x0 * x1 + x2\" }}\n  w: {{ formula: \"max({})\" }}\n{leaves}", names.join(", ")));
    let mut csv = String::from("period,metric,value\n");
    for (i, x) in names.iter().enumerate() {
        csv += &format!("2026-W45,{x},{i}\n2026-W46,{x},{}\n", i * 2);
    }
    dir.create("d.csv", &csv);
    let args = [
        "explain", "t.yaml", "--data", "d.csv", "--from", "2026-W45", "--to", "2026-W46",
    ];
    let table = dir.run(&args, 0);
    assert!(
        table
            .stdout
            .contains("\nApproximate at 1 metric:\n  ~ w (sampled (256 orders, max error "),
        "{}",
        table.stdout
    );
    let doc: serde_json::Value = serde_json::from_str(
        &dir.run(&[&args[..], &["--format", "json"]].concat(), 0)
            .stdout,
    )
    .unwrap();
    let methods = doc["methods"].as_object().unwrap();
    let order: Vec<&str> = methods.keys().map(String::as_str).collect();
    assert_eq!(order, ["r", "s", "w"], "walk order");
    assert_eq!(methods["r"], "closed form");
    // x0 did not move (0 in both periods): its limit came from the exact derivative.
    assert_eq!(methods["s"], "decomposed; limit: exact derivative");
    assert!(methods["w"]
        .as_str()
        .unwrap()
        .starts_with("sampled (256 orders"));
}

/// Inputs that would exhaust memory are refused as soon as they are seen.
#[test]
fn data_that_would_exhaust_memory_is_refused() {
    let dir = item_creation();
    let args = ["eval", ITEM_CREATION[0], "--data", "/dev/zero"];
    let run = dir.run(&args, 1);
    assert!(
        run.stderr
            .starts_with("error: /dev/zero:1:1: line 1 is longer than 1 MiB")
            && run.stderr.contains("\nhelp: "),
        "{}",
        run.stderr
    );
    // A mistyped year in a daily tree: named at its row, not a 2.9 GB allocation.
    dir.create("daily.yaml", "tree: daily\ngrain: day\nroot: n\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nmetrics:\n  n: {}\n");
    let mut csv = String::from("period,metric,value\n");
    for day in 1..=20 {
        csv += &format!("2026-11-{day:02},n,{day}\n");
    }
    csv += "0026-11-23,n,5\n2026-11-24,n,6\n";
    dir.create("daily.csv", &csv);
    let run = dir.run(
        &[
            "eval",
            "--snippets=never",
            "daily.yaml",
            "--data",
            "daily.csv",
        ],
        1,
    );
    assert!(
        run.stderr
            .starts_with("daily.csv:22:1: error: 0026-11-23 is 730")
            && run.stderr.contains("data may span at most 5000 periods")
            && run.stderr.contains("help: check the year"),
        "{}",
        run.stderr
    );
    // A header naming a column twice is an error, not "the first wins".
    dir.create(
        "twice.csv",
        "period,metric,value,value\n2026-W47,activated_users,1,2\n",
    );
    let run = dir.run(
        &[
            "eval",
            "--snippets=never",
            ITEM_CREATION[0],
            "--data",
            "twice.csv",
        ],
        1,
    );
    assert!(
        run.stderr
            .contains("has the column `value` twice (columns 3 and 4)"),
        "{}",
        run.stderr
    );
}

/// 100,001 copies of one row: the duplicates are found by hashing, and only the first 50 are
/// listed (the rest counted), however many there are.
#[test]
fn duplicated_rows_are_listed_up_to_the_cap() {
    let dir = item_creation();
    let mut csv = String::from("period,metric,value\n");
    for _ in 0..100_001 {
        csv += "2026-W47,activated_users,1\n";
    }
    dir.create("dup.csv", &csv);
    let run = dir.run(
        &[
            "eval",
            "--snippets=never",
            ITEM_CREATION[0],
            "--data",
            "dup.csv",
        ],
        1,
    );
    let errors = run
        .stderr
        .lines()
        .filter(|l| l.contains(": error: "))
        .count();
    assert_eq!(errors, 51, "{}", &run.stderr[..2000.min(run.stderr.len())]);
    assert!(run
        .stderr
        .contains("a second value for `activated_users` in 2026-W47 (the first is at dup.csv:2)"));
    assert!(
        run.stderr
            .contains("... and 99950 more problems like these\n  help: "),
        "{}",
        &run.stderr[run.stderr.len().saturating_sub(500)..]
    );
}

/// A database value that is not a finite number is an error, as in a CSV file.
#[test]
fn sql_values_that_are_not_finite_are_errors() {
    let dir = Dir::new();
    rusqlite::Connection::open(dir.path().join("x.db")).unwrap();
    let tree = sql_tree(&dir, "inf", "select 1e999");
    let run = dir.run(
        &[
            "eval",
            "--snippets=never",
            &tree,
            "--data",
            "sqlite://x.db",
            "--period",
            "2026-W47",
        ],
        1,
    );
    assert!(
        run.stderr
            .contains("the value column holds inf, not a finite number"),
        "{}",
        run.stderr
    );
}

/// A far-off period on a row that is wrong anyway is reported with that row's problem.
#[test]
fn a_far_off_period_on_a_wrong_row_reports_the_row() {
    let dir = item_creation();
    dir.create(
        "far.csv",
        "period,metric,value\n0026-W47,nosuch,1\n2026-W47,activated_users,1\n",
    );
    let run = dir.run(
        &[
            "eval",
            "--snippets=never",
            ITEM_CREATION[0],
            "--data",
            "far.csv",
        ],
        1,
    );
    assert!(
        run.stderr
            .starts_with("far.csv:2:10: error: unknown metric `nosuch`"),
        "{}",
        run.stderr
    );
}
