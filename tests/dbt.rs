//! `canopy import dbt`: the dbt project under `fixtures/dbt/` built by real dbt on the test
//! PostgreSQL, imported, and the tree's weekly values compared with MetricFlow's own answers
//! (`mf query`) on the same tables; and the refusals, which write nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::util::{postgres_url, repo, run_command, Dir};

/// The Python tools, pinned: the newest dbt-core fetches a parser from outside the package
/// registry, so versions known to install from it alone.
const PINS: [&str; 3] = [
    "dbt-core==1.10.23",
    "dbt-postgres==1.9.1",
    "dbt-metricflow[dbt-postgres]==0.13.0",
];

/// A virtual environment under the target directory holding dbt and MetricFlow, made once
/// and reused by later runs; `None` (having said `skipped:`) when they cannot be installed
/// outside CI.
fn python_tools() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dbt-venv");
        let stamp = dir.join("canopy-pins.txt");
        let pins = PINS.join("\n");
        if std::fs::read_to_string(&stamp).is_ok_and(|s| s == pins) {
            return Some(dir);
        }
        let _ = std::fs::remove_dir_all(&dir);
        let venv = Command::new("python3")
            .arg("-m")
            .arg("venv")
            .arg(&dir)
            .status();
        let installed = venv.is_ok_and(|s| s.success())
            && Command::new(dir.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(PINS)
                .status()
                .is_ok_and(|s| s.success());
        if !installed {
            assert!(
                std::env::var_os("CI").is_none(),
                "could not install {} from PyPI under CI: the dbt tests cannot be skipped",
                PINS.join(", ")
            );
            eprintln!("skipped: could not install {} from PyPI", PINS.join(", "));
            return None;
        }
        std::fs::write(&stamp, pins).unwrap();
        Some(dir)
    })
    .as_deref()
}

/// The dbt project copied into `dir/shop`, for dbt to write its `target/` and logs there.
fn copy_project(dir: &Dir) -> PathBuf {
    let project = dir.path().join("shop");
    for relative in [
        "dbt_project.yml",
        "profiles.yml",
        "seeds/orders_raw.csv",
        "models/orders.sql",
        "models/metricflow_time_spine.sql",
        "models/schema.yml",
    ] {
        let to = project.join(relative);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo().join("fixtures/dbt").join(relative), to).unwrap();
    }
    project
}

/// A dbt or MetricFlow command in the project, with the connection in the environment.
fn tool(venv: &Path, name: &str, project: &Path, url: &url::Url, schema: &str) -> Command {
    let mut cmd = Command::new(venv.join("bin").join(name));
    cmd.current_dir(project)
        .env("DBT_PROFILES_DIR", project)
        .env("DBT_PROJECT_DIR", project)
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .env("DO_NOT_TRACK", "1")
        .env("SHOP_PG_HOST", url.host_str().unwrap())
        .env("SHOP_PG_PORT", url.port().unwrap_or(5432).to_string())
        .env("SHOP_PG_USER", url.username())
        .env("SHOP_PG_DBNAME", url.path().trim_start_matches('/'))
        .env("SHOP_PG_SCHEMA", schema);
    cmd
}

/// MetricFlow's weekly values: metric -> ISO week -> value.
fn metricflow(csv_path: &Path) -> BTreeMap<String, BTreeMap<String, f64>> {
    let mut reader = csv::Reader::from_path(csv_path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for row in reader.records() {
        let row = row.unwrap();
        let day = chrono::NaiveDate::parse_from_str(&row[0][..10], "%Y-%m-%d").unwrap();
        let week = day.iso_week();
        let period = format!("{}-W{:02}", week.year(), week.week());
        for (name, value) in headers.iter().zip(row.iter()).skip(1) {
            if !value.is_empty() {
                let series = out.entry(name.to_string()).or_default();
                series.insert(period.clone(), value.parse().unwrap());
            }
        }
    }
    out
}

use chrono::Datelike as _;

#[test]
fn imported_trees_give_metricflows_weekly_values() {
    let Some(url) = postgres_url() else {
        return;
    };
    let Some(venv) = python_tools() else {
        return;
    };
    let url = url::Url::parse(&url).unwrap();
    let schema = format!("canopy_dbt_{}", std::process::id());
    let dir = Dir::new();
    let project = copy_project(&dir);
    for step in ["seed", "run", "parse"] {
        run_command(tool(venv, "dbt", &project, &url, &schema).arg(step), 0);
    }
    let compared = [
        "orders",
        "buyers",
        "orders_per_buyer",
        "average_order_value",
        "revenue_per_buyer",
        "completed_orders",
        "completion_rate",
        "largest_order",
        "smallest_order",
        "order_spread",
        "revenue",
        "large_orders",
    ];
    let csv_path = dir.path().join("metricflow.csv");
    run_command(
        tool(venv, "mf", &project, &url, &schema)
            .args(["query", "--metrics", &compared.join(",")])
            .args([
                "--group-by",
                "metric_time__week",
                "--order",
                "metric_time__week",
            ])
            .arg("--csv")
            .arg(&csv_path),
        0,
    );
    let expected = metricflow(&csv_path);
    let manifest = project.join("target/semantic_manifest.json");
    let manifest = manifest.to_str().unwrap();
    let env = [("WAREHOUSE_URL", url.to_string())];
    let mut checked = BTreeMap::<String, usize>::new();
    for (root, owner) in [
        ("revenue_per_buyer", None),
        ("completion_rate", None),
        ("order_spread", None),
        ("revenue", None),
        ("large_orders", Some("lead@example.com")),
    ] {
        let file = format!("{root}.yaml");
        let mut args = vec!["import", "dbt", manifest, "--root", root, "-o", &file];
        args.extend(owner.iter().flat_map(|o| ["--owner", *o]));
        dir.run(&args, 0);
        dir.run_env(&["check", &file], &env, 0);
        dir.run(&["import", "dbt", "--check", &file, manifest], 0);
        compare(&dir, &file, &env, &expected, &mut checked);
    }
    for metric in compared {
        let weeks = checked.get(metric).copied().unwrap_or(0);
        assert!(
            weeks >= 10,
            "{metric} was compared over {weeks} weeks: {checked:?}"
        );
    }
}

/// Every week's value of each metric of the tree `file` that MetricFlow answered, against
/// MetricFlow's; `checked` counts the weeks compared per metric.
fn compare(
    dir: &Dir,
    file: &str,
    env: &[(&str, String)],
    expected: &BTreeMap<String, BTreeMap<String, f64>>,
    checked: &mut BTreeMap<String, usize>,
) {
    for week in expected["orders"].keys() {
        let run = dir.run_env(
            &["eval", file, "--period", week, "--format", "json"],
            env,
            0,
        );
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        for m in doc["metrics"].as_array().unwrap() {
            let id = m["id"].as_str().unwrap();
            let Some(want) = expected.get(id).and_then(|s| s.get(week)) else {
                continue;
            };
            let have = m["value"].as_f64().unwrap_or(f64::NAN);
            assert!(
                (have - want).abs() <= 1e-9 * want.abs().max(1.0),
                "{id} in {week}: the tree says {have}, MetricFlow {want}"
            );
            *checked.entry(id.to_string()).or_default() += 1;
        }
    }
}

/// `import dbt` of the committed manifest (as dbt 1.10 wrote it) with `args`, expected to
/// fail: exit 1 with an error and help lines on stderr, and no file written.
fn refused(args: &[&str]) -> String {
    let dir = Dir::new();
    dir.copy("fixtures/dbt/manifests/legacy.json");
    dir.create("not-json.yaml", "version: 1\ntree: t\n");
    let mut all = vec!["import", "dbt"];
    all.extend(args);
    all.extend(["-o", "tree.yaml"]);
    let run = dir.run(&all, 1);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains("\nhelp: "), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(!dir.path().join("tree.yaml").exists());
    run.stderr
}

const LEGACY: &str = "fixtures/dbt/manifests/legacy.json";

#[test]
fn unsupported_metrics_are_refused_and_nothing_is_written() {
    let cumulative = refused(&[LEGACY, "--root", "cumulative_revenue"]);
    assert!(
        cumulative
            .contains("metric `cumulative_revenue` cannot be imported: it is a cumulative metric"),
        "{cumulative}"
    );
    let conversion = refused(&[LEGACY, "--metrics", "repeat_rate"]);
    assert!(
        conversion.contains("it is a conversion metric"),
        "{conversion}"
    );
    let offset = refused(&[LEGACY, "--root", "revenue_growth"]);
    assert!(
        offset.contains("its input `revenue` has offset_window `1 week`"),
        "{offset}"
    );
}

#[test]
fn an_unknown_metric_and_a_manifest_of_another_shape_are_refused() {
    let unknown = refused(&[LEGACY, "--root", "revenue_per_buyers"]);
    assert_eq!(
        unknown,
        "error: the manifest has no metric `revenue_per_buyers`\nhelp: did you mean `revenue_per_buyer`?\n"
    );
    let tree = refused(&["not-json.yaml", "--root", "x"]);
    assert!(tree.contains("the manifest is not JSON"), "{tree}");
    let dir = Dir::new();
    dir.create(
        "manifest.json",
        r#"{"metadata": {"dbt_schema_version": "v12"}, "nodes": {}}"#,
    );
    let run = dir.run(&["import", "dbt", "manifest.json", "-o", "tree.yaml"], 1);
    assert!(
        run.stderr
            .contains("is dbt's project manifest (manifest.json), not its semantic manifest"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("help: give `target/semantic_manifest.json`"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("tree.yaml").exists());
}

#[test]
fn an_import_never_replaces_a_file_and_check_reports_drift() {
    let dir = Dir::new();
    let manifest = dir.copy(LEGACY);
    let manifest = manifest.to_str().unwrap();
    dir.run(
        &[
            "import",
            "dbt",
            manifest,
            "--root",
            "orders_per_buyer",
            "-o",
            "tree.yaml",
        ],
        0,
    );
    let first = std::fs::read_to_string(dir.path().join("tree.yaml")).unwrap();
    let run = dir.run(
        &[
            "import",
            "dbt",
            manifest,
            "--root",
            "revenue",
            "-o",
            "tree.yaml",
        ],
        1,
    );
    assert!(
        run.stderr
            .contains("tree.yaml exists, and an imported tree never replaces a file"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tree.yaml")).unwrap(),
        first
    );
    let run = dir.run(&["import", "dbt", "--check", "tree.yaml", manifest], 0);
    assert!(
        run.stdout.ends_with(&format!("no drift from {manifest}\n")),
        "{}",
        run.stdout
    );
    // dbt's definitions move on: buyers are counted by another column, orders are gone.
    let text = std::fs::read_to_string(manifest).unwrap();
    let moved = text
        .replace("\"expr\": \"customer_id\"", "\"expr\": \"buyer_id\"")
        .replace(
            "\"name\": \"orders\",\n      \"description\": \"Orders placed",
            "\"name\": \"orders_placed\",\n      \"description\": \"Orders placed",
        );
    dir.create("moved.json", &moved);
    let run = dir.run(&["import", "dbt", "--check", "tree.yaml", "moved.json"], 1);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[0].starts_with("tree.yaml:")
            && lines[0].contains(
                "`orders` (dbt metric `orders`): dbt metric `orders` is gone from the manifest"
            ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("`buyers` (dbt metric `buyers`): the SQL differs"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("2 metrics drifted from moved.json\nhelp: "),
        "{}",
        run.stdout
    );
}
