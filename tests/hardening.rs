//! Regressions of defects found by attacking the binary: each test is one attack, run end to
//! end where the failure was end to end.

use crate::util::{settings, Dir};

/// A weekly tree whose change's metric `a` was 0 until it shipped in 2026-W30 (a new
/// feature's count), with data for 2026-W01 to 2026-W45; the evaluation window ends 2026-W36.
fn launched(dir: &Dir) {
    dir.create(
        "zero.yaml",
        "tree: zero\nroot: r\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nmetrics:\n  r: { formula: a + b }\n  a: {}\n  b: {}\nchanges:\n  - { id: launch, title: New thing, metric: a, shipped: 2026-W30, expect: { direction: up }, owner: p }\n",
    );
    dir.create(
        "monthly.yaml",
        "tree: monthly\ngrain: month\nroot: n\npeople: { q: { email: q@example.com } }\nraci: { accountable: q }\nmetrics:\n  n: {}\n",
    );
    let mut csv = String::from("period,metric,value,tree\n");
    for week in 1..=45 {
        let a = if week < 30 { 0 } else { 5 + week % 3 };
        let b = 100 + week % 5;
        csv += &format!("2026-W{week:02},a,{a},zero\n2026-W{week:02},b,{b},zero\n");
    }
    csv += "2026-07,n,5,monthly\n2026-08,n,9,monthly\n";
    dir.create("data.csv", &csv);
}

#[test]
fn a_zero_baseline_is_not_evaluable_and_one_trees_failure_holds_back_no_other() {
    let dir = Dir::new();
    launched(&dir);
    // `2026-W36` is no month: the monthly tree fails, and the weekly one still sends.
    let args = [
        "run",
        "monthly.yaml",
        "zero.yaml",
        "--data",
        "data.csv",
        "--format",
        "json",
    ];
    let run = dir.run(&[&args[..], &["--period", "2026-W36"]].concat(), 1);
    assert!(
        run.stderr
            .contains("error: nothing is sent for tree `monthly`: `2026-W36` is a week"),
        "{}",
        run.stderr
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["tree"], "zero");
    let verdict = &doc["verdicts"][0];
    assert_eq!(verdict["status"], "not_evaluable", "{verdict}");
    assert_eq!(
        verdict["reason"],
        "the metric was 0 before it shipped; the effect has no scale"
    );
    assert_eq!(doc["emails"][0]["status"], "written");
    let eml = std::fs::read_to_string(
        dir.path()
            .join(".canopy/outbox/zero-2026-W36-p@example.com.eml"),
    )
    .unwrap();
    assert!(eml.contains("NOT EVALUABLE"), "{eml}");
    // The verdict was stored: the periods after the window run, and tell it no more.
    let run = dir.run(
        &[
            "run",
            "zero.yaml",
            "--data",
            "data.csv",
            "--period",
            "2026-W37",
            "--format",
            "json",
        ],
        0,
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["verdicts"], serde_json::json!([]), "{doc}");
    dir.run(&["impact", "zero.yaml", "--data", "data.csv"], 0);
    // Replay decides the same period the same way, without a panic.
    let replay = [
        "replay",
        "zero.yaml",
        "--data",
        "data.csv",
        "--format",
        "json",
    ];
    let run = dir.run(
        &[&replay[..], &["--from", "2026-W35", "--to", "2026-W37"]].concat(),
        0,
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let judged: Vec<&serde_json::Value> = (doc["periods"].as_array().unwrap().iter())
        .map(|p| &p["verdicts"])
        .collect();
    assert_eq!(
        judged,
        [
            &serde_json::json!([]),
            &serde_json::json!(["launch"]),
            &serde_json::json!([])
        ]
    );
}

/// Every setting, given a secret in each form a user may paste one: no message shows it.
#[test]
fn no_setting_shows_its_secret_in_a_message() {
    const MARK: &str = "S3cretMark";
    let forms = [
        format!("u:{MARK}@127.0.0.1:1"),
        format!("host=127.0.0.1 port=1 password={MARK} dbname=x"),
        format!("smtp://u:{MARK}@[::1"),
        format!("postgres://u:{MARK}@127.0.0.1:1/x"),
        format!("postgresql://127.0.0.1:1/x?password={MARK}"),
        format!("https://u:{MARK}@127.0.0.1:1/x?token={MARK}"),
    ];
    let dir = Dir::new();
    launched(&dir);
    let tree = [
        "run",
        "zero.yaml",
        "--period",
        "2026-W36",
        "--data",
        "data.csv",
    ];
    let mut shown = Vec::new();
    for form in &forms {
        for setting in settings() {
            let mut cmd = dir.command(&tree);
            cmd.env(setting, form);
            shown.push((setting.to_string(), form.clone(), cmd.output().unwrap()));
        }
        let mut cmd = dir.command(&[&tree[..], &["--data", form]].concat());
        shown.push(("--data".to_string(), form.clone(), cmd.output().unwrap()));
    }
    for (setting, form, out) in shown {
        let text = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned();
        assert!(
            !text.contains(MARK),
            "{setting}={form} shows its secret:\n{text}"
        );
    }
}

/// A setting read two ways, or one that would put a script in every email, is refused before
/// anything is decided or sent.
#[test]
fn settings_that_would_mislead_are_refused_with_help() {
    let dir = Dir::new();
    launched(&dir);
    let run = [
        "run",
        "zero.yaml",
        "--period",
        "2026-W36",
        "--data",
        "data.csv",
    ];
    for (setting, value, said) in [
        (
            "CANOPY_SQL_TIMEOUT",
            "0",
            "error: CANOPY_SQL_TIMEOUT=0: a query needs a time limit",
        ),
        (
            "CANOPY_REPORT_URL",
            "javascript:alert(1)",
            "error: CANOPY_REPORT_URL `javascript:alert(1)` is not an http or https address",
        ),
        (
            "CANOPY_REPORT_URL",
            "ftp://example.com/r",
            "is not an http or https address",
        ),
        (
            "CANOPY_REPORT_URL",
            "https://u:pw@example.com/r",
            "error: CANOPY_REPORT_URL `https://u:***@example.com/r` carries credentials",
        ),
    ] {
        let out = dir.run_env(&run, &[(setting, value.to_string())], 1);
        assert!(
            out.stderr.contains(said) && out.stderr.contains("\nhelp: "),
            "{setting}={value}: {}",
            out.stderr
        );
        assert!(
            !dir.path().join(".canopy/outbox").exists(),
            "nothing was sent"
        );
    }
    let ok = dir.run_env(
        &[&run[..], &["--format", "json"]].concat(),
        &[(
            "CANOPY_REPORT_URL",
            "https://reports.example.com/c/".to_string(),
        )],
        0,
    );
    assert!(
        ok.stdout.contains("\"status\": \"written\""),
        "{}",
        ok.stdout
    );
    let eml = std::fs::read_to_string(
        dir.path()
            .join(".canopy/outbox/zero-2026-W36-p@example.com.eml"),
    )
    .unwrap();
    // Quoted-printable wraps long lines with a soft break, `=` at the end.
    let unwrapped = eml.replace("=\r\n", "").replace("=\n", "");
    assert!(
        unwrapped.contains("https://reports.example.com/c/zero/2026-W36.html"),
        "{eml}"
    );
}

#[test]
fn a_replay_of_a_mistyped_year_is_refused_before_it_allocates() {
    let dir = Dir::new();
    dir.create("day.yaml", "tree: daily\ngrain: day\nroot: n\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nmetrics:\n  n: {}\n");
    dir.create(
        "day.csv",
        "period,metric,value\n2026-11-01,n,5\n2026-11-02,n,9\n",
    );
    let args = [
        "replay",
        "day.yaml",
        "--data",
        "day.csv",
        "--to",
        "2026-11-02",
    ];
    let run = dir.run(&[&args[..], &["--from", "0001-01-01"]].concat(), 1);
    assert!(
        run.stderr.contains("error: --from 0001-01-01 --to 2026-11-02 is 739922 periods; a replay covers at most 5000\nhelp: "),
        "{}",
        run.stderr
    );
    dir.run(&[&args[..], &["--from", "2026-11-01"]].concat(), 0);
}

/// `canopy --help` lists every `CANOPY_*` name the binary's sources read, so the tests clear
/// and try each.
#[test]
fn every_setting_is_known_to_the_tests() {
    let mut read = std::collections::BTreeSet::new();
    let mut folders = vec![crate::util::repo().join("crates")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(folder).unwrap() {
            let path = entry.unwrap().path();
            // What the binary reads: its own sources, not the crates' tests.
            if path.is_dir() && !path.ends_with("tests") {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for part in text.split("\"CANOPY_").skip(1) {
                    let name: String = part
                        .chars()
                        .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                        .collect();
                    if part[name.len()..].starts_with('"') {
                        read.insert(format!("CANOPY_{name}"));
                    }
                }
            }
        }
    }
    let known: std::collections::BTreeSet<String> = settings().iter().cloned().collect();
    assert_eq!(read, known);
}

/// A skipped test still prints `ok` in `cargo test`; the line it writes on stderr is what
/// tells a local run (`--nocapture`) that something went unchecked, so each one must start
/// with `skipped:` and say why, where a reader looking for skips will find it.
#[test]
fn every_skip_says_skipped_and_why() {
    let root = crate::util::repo();
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    for dir in ["tests", "crates/sources/tests", "crates/evaluator/tests"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut skips = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        // Spelt in two halves so that this test's own source is not taken for a call.
        for call in text.split(concat!("eprintln", "!(")).skip(1) {
            let call = &call[..call.find(");").unwrap_or(call.len())];
            if !call.to_lowercase().contains("skip") {
                continue;
            }
            skips += 1;
            let message = call.trim_start();
            assert!(
                message.starts_with("\"skipped: ") && message.len() > "\"skipped: \"".len() + 10,
                "{}: a skip that does not say `skipped:` and why: {message}",
                path.display()
            );
        }
    }
    // The PostgreSQL, TLS, ClickHouse (twice), PostHog, Chromium, chromedriver and read-only
    // mount skips: finding fewer means the search above stopped seeing them.
    assert!(skips >= 8, "{skips} skips found");
}
