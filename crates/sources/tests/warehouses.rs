//! The cloud warehouses' connections against servers on loopback speaking each one's
//! statement API and running the statements on SQLite over the same events
//! (`tests/databricks_server.py`, `tests/bigquery_server.py`, `tests/snowflake_server.py`):
//! values per period and by range equal the data, asynchronous statements are polled, a 429 is
//! retried, and a refused credential, a statement past its time limit (cancelled) or an SQL
//! error leave the leaf missing, never zero, with the service's words and no secret.

use std::process::Command;
use std::time::{Duration, Instant};

use canopy_engine::MetricTree;
use canopy_evaluator::{evaluate, Cell, DataBuilder, Evaluation};
use canopy_sources::{Credentials, Database, Quiet, Settings, Stage};
use chrono::{Duration as Days, NaiveDate};
use serde_json::{json, Value};

mod support;
use support::{monday, periods, repo, tree_of, Server, WEEKS};

const TREE: &str = "tree: t
people: { p: { email: p@example.com } }
raci: { accountable: p }
root: top
metrics:
  top: { formula: total + plans }
  total: {}
  plans: {}
";

fn tree() -> MetricTree {
    tree_of(TREE)
}

/// Events from the day before the first week to the day after the last: each day a `pro`
/// count of `d % 5 + 1` and a `free` count of `d % 3 + 1`.
fn events() -> Vec<(NaiveDate, &'static str, i64)> {
    let mut out = Vec::new();
    for d in -1..22i64 {
        let day = monday() + Days::days(d);
        out.push((day, "pro", d.rem_euclid(5) + 1));
        out.push((day, "free", d.rem_euclid(3) + 1));
    }
    out
}

fn events_json() -> Value {
    let rows = events()
        .into_iter()
        .map(|(day, plan, n)| json!({ "day": day.to_string(), "plan": plan, "n": n }));
    Value::Array(rows.collect())
}

/// The sum of `n` in each week, for `plan` or all.
fn per_week(plan: Option<&str>) -> Vec<f64> {
    (0..3)
        .map(|w| {
            let (start, end) = (monday() + Days::weeks(w), monday() + Days::weeks(w + 1));
            let rows = events().into_iter();
            let rows =
                rows.filter(|(d, p, _)| *d >= start && *d < end && plan.is_none_or(|x| x == *p));
            rows.map(|(_, _, n)| n as f64).sum()
        })
        .collect()
}

/// Starts the warehouse server `script` over the events with `args`, in `dir` (where
/// `data.json` is written and `log.jsonl` goes, `{dir}` in an argument).
fn warehouse(script: &str, dir: tempfile::TempDir, args: &[&str]) -> Server {
    let mut all = vec!["--data", "{dir}/data.json", "--log", "{dir}/log.jsonl"];
    all.extend(args);
    Server::start(script, dir, &[("data.json", &events_json())], &all)
}

/// The leaf `total` of `loaded` has every week's sum though the server (scripted
/// `200,429,200,503`) asked twice to retry after a second: both waits were kept (two sessions
/// run at once, so they may overlap) and every request was logged.
fn assert_retried(t: &MetricTree, loaded: &Loaded<'_>, started: Instant, server: &Server) {
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    for (w, n) in per_week(None).iter().enumerate() {
        assert_eq!(loaded.total(t, "total", w), Ok(*n));
    }
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not waited for"
    );
    assert_eq!(server.log().len(), 6);
}

/// The leaf of `late`, past its time limit, failed in one week (two sessions run at once:
/// which week's statement hangs is not known) with `service`'s words, and `server` was asked
/// once to cancel the statement.
fn assert_cancelled(late: &Loaded<'_>, server: &Server, service: &str) {
    let words = [
        "failed for 2026-W4".to_string(),
        format!("{service} at 127.0.0.1 gave no complete answer within 2 s"),
    ];
    assert!(
        late.problems.len() == 1 && words.iter().all(|w| late.problems[0].contains(w)),
        "{:?}",
        late.problems
    );
    let cancels = (server.log().into_iter())
        .filter(|r| {
            let path = r["path"].as_str().unwrap();
            path.split('?').next().unwrap().ends_with("/cancel")
        })
        .count();
    assert_eq!(cancels, 1);
}

/// A folder with a fresh RSA key pair: `key.pem` (PKCS#8) and `public.json`.
fn keyed_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .arg(repo().join("tests/server_common.py"))
        .arg(dir.path())
        .status()
        .expect("python3 runs");
    assert!(status.success(), "no key pair");
    dir
}

/// What loading leaves gave: the values, and the problems in words.
struct Loaded<'t> {
    eval: Evaluation<'t>,
    problems: Vec<String>,
}

impl Loaded<'_> {
    fn total(&self, tree: &MetricTree, leaf: &str, week: usize) -> Result<f64, Cell> {
        self.eval.total(tree.find(leaf).unwrap(), periods()[week])
    }

    fn segment(&self, tree: &MetricTree, leaf: &str, week: usize, s: usize) -> Result<f64, Cell> {
        self.eval
            .get(tree.find(leaf).unwrap(), periods()[week], Some(s))
    }
}

/// Loads `leaves` (name, query) of the test tree for the three weeks from `url`.
fn load<'t>(
    tree: &'t MetricTree,
    url: &str,
    credentials: &Credentials,
    leaves: &[(&str, &str)],
    timeout: u64,
) -> Loaded<'t> {
    let db = Database::open_with(url, credentials).unwrap();
    let ids: Vec<_> = leaves
        .iter()
        .map(|(name, query)| (tree.find(name).unwrap(), *query))
        .collect();
    let mut builder = DataBuilder::new(tree);
    let settings = Settings {
        timeout: Duration::from_secs(timeout),
        connections: 2,
    };
    let diagnostics = db
        .load_into(tree, &ids, &mut builder, &periods(), settings, &Quiet)
        .unwrap();
    let data = builder.finish().unwrap();
    assert!(data.dimensions().len() <= 1);
    let problems = diagnostics.iter().map(|d| d.message.clone()).collect();
    Loaded {
        eval: evaluate(tree, &data),
        problems,
    }
}

/// The per-period leaf `total` and the range leaf `plans` equal the events' sums; the
/// segments are `free` then `pro` (in the order the data first has them).
fn assert_values(t: &MetricTree, loaded: &Loaded<'_>) {
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let (all, pro, free) = (
        per_week(None),
        per_week(Some("pro")),
        per_week(Some("free")),
    );
    assert_ne!(all[0], all[1]);
    for w in 0..3 {
        assert_eq!(
            loaded.total(t, "total", w),
            Ok(all[w]),
            "total in {}",
            WEEKS[w]
        );
        assert_eq!(
            loaded.total(t, "plans", w),
            Ok(all[w]),
            "plans in {}",
            WEEKS[w]
        );
        let (a, b) = (
            loaded.segment(t, "plans", w, 0),
            loaded.segment(t, "plans", w, 1),
        );
        assert!(
            (a, b) == (Ok(pro[w]), Ok(free[w])) || (a, b) == (Ok(free[w]), Ok(pro[w])),
            "{a:?} {b:?}"
        );
    }
}

/// The leaf `total` missing in every week, with one problem holding each of `words` and
/// not `secret`.
fn assert_failed(t: &MetricTree, loaded: &Loaded<'_>, words: &[&str], secret: &str) {
    for w in 0..3 {
        let got = loaded.total(t, "total", w);
        assert!(matches!(got, Err(Cell::Missing { .. })), "{got:?}");
    }
    let [problem] = loaded.problems.as_slice() else {
        panic!("one problem expected: {:?}", loaded.problems)
    };
    for word in words {
        assert!(problem.contains(word), "`{word}` is not in: {problem}");
    }
    assert!(!problem.contains(secret), "a secret is shown: {problem}");
}

// Databricks.

const DATABRICKS_TOKEN: &str = "dapi-test-token-never-shown";

const DATABRICKS_TOTAL: &str =
    "select sum(n) as n from events where day >= {start} and day < {end}";

const DATABRICKS_PLANS: &str = "select date(day, '-6 days', 'weekday 1') as period, plan, sum(n) as n from events where day >= {start} and day < {end} group by 1, 2 order by 1, 2";

/// Starts the Databricks server with `script`, answering `chunk` rows a chunk; its URL.
fn databricks(script: &str, chunk: &str) -> (Server, String) {
    let args = [
        "--token",
        DATABRICKS_TOKEN,
        "--warehouse",
        "abc123",
        "--script",
        script,
        "--retry-after",
        "1",
        "--chunk",
        chunk,
    ];
    let server = warehouse("databricks_server.py", tempfile::tempdir().unwrap(), &args);
    let url = format!(
        "databricks://127.0.0.1:{}/warehouses/abc123?scheme=http",
        server.port
    );
    (server, url)
}

fn databricks_token(token: &str) -> Credentials {
    Credentials {
        user: None,
        secret: Some(token.to_string()),
    }
}

#[test]
fn databricks_values_equal_the_data_by_period_and_by_range() {
    let t = tree();
    // The range query's answer comes in chunks of 4 rows; the first statement is polled.
    let (server, url) = databricks("pending", "4");
    let leaves = [("total", DATABRICKS_TOTAL), ("plans", DATABRICKS_PLANS)];
    let loaded = load(&t, &url, &databricks_token(DATABRICKS_TOKEN), &leaves, 30);
    assert_values(&t, &loaded);
    let sent = server.log();
    let posts: Vec<&Value> = sent
        .iter()
        .filter(|r| r["path"] == "/api/2.0/sql/statements")
        .map(|r| &r["body"])
        .collect();
    // The columns of each, three weeks of `total`, one range statement of `plans`.
    assert_eq!(posts.len(), 2 + 3 + 1, "{posts:?}");
    let range = json!([{ "name": "start", "value": "2026-11-02", "type": "DATE" }, { "name": "end", "value": "2026-11-23", "type": "DATE" }]);
    let ranged: Vec<&&Value> = posts.iter().filter(|b| b["parameters"] == range).collect();
    let [one] = ranged.as_slice() else {
        panic!("{posts:?}")
    };
    assert!(one["statement"]
        .as_str()
        .unwrap()
        .contains("day >= :start and day < :end"));
    assert_eq!(
        (one["format"].as_str(), one["disposition"].as_str()),
        (Some("JSON_ARRAY"), Some("INLINE"))
    );
    assert_eq!(one["wait_timeout"], "29s");
    assert!(sent
        .iter()
        .any(|r| r["path"].as_str().unwrap().contains("/result/chunks/1")));
    assert!(sent
        .iter()
        .any(|r| r["method"] == "GET" && !r["path"].as_str().unwrap().contains("chunks")));
}

#[test]
fn databricks_retries_a_429_after_retry_after() {
    let t = tree();
    let (server, url) = databricks("200,429,200,503", "1000");
    let started = Instant::now();
    let loaded = load(
        &t,
        &url,
        &databricks_token(DATABRICKS_TOKEN),
        &[("total", DATABRICKS_TOTAL)],
        30,
    );
    assert_retried(&t, &loaded, started, &server);
}

#[test]
fn databricks_failures_leave_the_leaf_missing_in_databricks_words() {
    let t = tree();
    let (_server, url) = databricks("", "1000");
    let wrong = load(
        &t,
        &url,
        &databricks_token("dapi-wrong"),
        &[("total", DATABRICKS_TOTAL)],
        30,
    );
    assert_failed(
        &t,
        &wrong,
        &[
            "Databricks at 127.0.0.1 answered 401 Unauthorized",
            "check the access token",
            "UNAUTHENTICATED: Invalid access token.",
        ],
        "dapi-wrong",
    );
    let bad = "select sum(n) from no_such_table where day >= {start}";
    let failed = load(
        &t,
        &url,
        &databricks_token(DATABRICKS_TOKEN),
        &[("total", bad)],
        30,
    );
    assert_failed(
        &t,
        &failed,
        &[
            "the statement ended FAILED",
            "BAD_REQUEST: no such table: no_such_table",
        ],
        DATABRICKS_TOKEN,
    );
    // Past its time limit, a running statement is cancelled.
    let (server, url) = databricks("200,hang", "1000");
    let late = load(
        &t,
        &url,
        &databricks_token(DATABRICKS_TOKEN),
        &[("total", DATABRICKS_TOTAL)],
        2,
    );
    assert_cancelled(&late, &server, "Databricks");
}

#[test]
fn databricks_probe_tells_a_refused_token_from_an_unreached_host() {
    let (_server, url) = databricks("", "1000");
    let timeout = Duration::from_secs(10);
    let probe = |url: &str, token: &str| {
        Database::open_with(url, &databricks_token(token))
            .unwrap()
            .probe(timeout)
    };
    assert_eq!(probe(&url, DATABRICKS_TOKEN), Ok(()));
    let (stage, message) = probe(&url, "dapi-wrong").unwrap_err();
    assert_eq!(stage, Stage::Authenticate, "{message}");
    assert!(!message.contains("dapi-wrong"), "{message}");
    let closed = "databricks://127.0.0.1:9/warehouses/abc123?scheme=http";
    assert_eq!(probe(closed, DATABRICKS_TOKEN).unwrap_err().0, Stage::Reach);
}

// Snowflake.

const SNOWFLAKE_TOTAL: &str = DATABRICKS_TOTAL;

const SNOWFLAKE_PLANS: &str = DATABRICKS_PLANS;

/// Starts the Snowflake server with `script`, answering `partition` rows a partition, for a
/// fresh key pair; its URL and the private key.
fn snowflake(script: &str, partition: &str) -> (Server, String, String) {
    let dir = keyed_folder();
    let key = std::fs::read_to_string(dir.path().join("key.pem")).unwrap();
    let args = [
        "--public-key",
        "{dir}/public.json",
        "--account",
        "ACME-XY123",
        "--user",
        "CANOPY",
        "--script",
        script,
        "--retry-after",
        "1",
        "--partition",
        partition,
    ];
    let server = warehouse("snowflake_server.py", dir, &args);
    let url = format!(
        "snowflake://acme-xy123/ANALYTICS/PUBLIC?warehouse=REPORTING&role=READER&endpoint=http://127.0.0.1:{}",
        server.port
    );
    (server, url, key)
}

fn snowflake_key(user: &str, key: &str) -> Credentials {
    Credentials {
        user: Some(user.to_string()),
        secret: Some(key.to_string()),
    }
}

#[test]
fn snowflake_values_equal_the_data_by_period_and_by_range() {
    let t = tree();
    // The first statement is answered 202 and polled; the range answer comes in partitions.
    let (server, url, key) = snowflake("async", "4");
    let leaves = [("total", SNOWFLAKE_TOTAL), ("plans", SNOWFLAKE_PLANS)];
    let loaded = load(&t, &url, &snowflake_key("canopy", &key), &leaves, 30);
    assert_values(&t, &loaded);
    let sent = server.log();
    let posts: Vec<&Value> = sent
        .iter()
        .filter(|r| r["path"] == "/api/v2/statements")
        .map(|r| &r["body"])
        .collect();
    assert_eq!(posts.len(), 2 + 3 + 1, "{posts:?}");
    let range = json!({ "1": { "type": "TEXT", "value": "2026-11-02" }, "2": { "type": "TEXT", "value": "2026-11-23" } });
    let ranged: Vec<&&Value> = posts.iter().filter(|b| b["bindings"] == range).collect();
    let [one] = ranged.as_slice() else {
        panic!("{posts:?}")
    };
    assert!(one["statement"]
        .as_str()
        .unwrap()
        .contains("day >= ? and day < ?"));
    assert_eq!(
        (
            &one["database"],
            &one["schema"],
            &one["warehouse"],
            &one["role"]
        ),
        (
            &json!("ANALYTICS"),
            &json!("PUBLIC"),
            &json!("REPORTING"),
            &json!("READER")
        )
    );
    assert_eq!(
        (&one["timeout"], &one["parameters"]["timezone"]),
        (&json!(30), &json!("UTC"))
    );
    let paths: Vec<&str> = sent.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert!(
        paths.iter().any(|p| p.ends_with("?partition=1")),
        "{paths:?}"
    );
    assert!(paths
        .iter()
        .any(|p| p.starts_with("/api/v2/statements/") && !p.contains('?')));
}

#[test]
fn snowflake_retries_a_429_after_retry_after() {
    let t = tree();
    let (server, url, key) = snowflake("200,429,200,503", "1000");
    let started = Instant::now();
    let leaves = [("total", SNOWFLAKE_TOTAL)];
    let loaded = load(&t, &url, &snowflake_key("CANOPY", &key), &leaves, 30);
    assert_retried(&t, &loaded, started, &server);
}

#[test]
fn snowflake_failures_leave_the_leaf_missing_in_snowflake_words() {
    let t = tree();
    let (_server, url, key) = snowflake("", "1000");
    // Another user: the token names a user the key is not registered for.
    let wrong = load(
        &t,
        &url,
        &snowflake_key("intruder", &key),
        &[("total", SNOWFLAKE_TOTAL)],
        30,
    );
    let words = [
        "Snowflake at 127.0.0.1 answered 401 Unauthorized",
        "JWT token is invalid.",
        "(code 390144)",
    ];
    assert_failed(&t, &wrong, &words, "PRIVATE KEY");
    let bad = "select sum(n) from no_such_table where day >= {start}";
    let failed = load(
        &t,
        &url,
        &snowflake_key("CANOPY", &key),
        &[("total", bad)],
        30,
    );
    let words = [
        "answered 422 Unprocessable Entity",
        "SQL compilation error: no such table: no_such_table",
    ];
    assert_failed(&t, &failed, &words, "PRIVATE KEY");
    // Past its time limit, a running statement is cancelled.
    let (server, url, key) = snowflake("200,hang", "1000");
    let late = load(
        &t,
        &url,
        &snowflake_key("CANOPY", &key),
        &[("total", SNOWFLAKE_TOTAL)],
        2,
    );
    assert_cancelled(&late, &server, "Snowflake");
}

#[test]
fn snowflake_probe_tells_a_refused_key_from_an_unreached_host() {
    let (_server, url, key) = snowflake("", "1000");
    let timeout = Duration::from_secs(10);
    let probe = |url: &str, user: &str| {
        let db = Database::open_with(url, &snowflake_key(user, &key)).unwrap();
        db.probe(timeout)
    };
    assert_eq!(probe(&url, "canopy"), Ok(()));
    assert_eq!(probe(&url, "intruder").unwrap_err().0, Stage::Authenticate);
    let closed = url.rsplit_once(':').unwrap().0.to_string() + ":9";
    assert_eq!(probe(&closed, "canopy").unwrap_err().0, Stage::Reach);
}

// BigQuery.

const BIGQUERY_TOTAL: &str = "select sum(n) as n from events where day >= {start} and day < {end}";

const BIGQUERY_PLANS: &str = DATABRICKS_PLANS;

const BIGQUERY_EMAIL: &str = "canopy@my-project.iam.gserviceaccount.com";

/// Starts the BigQuery server with `script`, answering `page` rows a page, for a fresh key
/// pair; its URL and the service account's JSON key.
fn bigquery(script: &str, page: &str) -> (Server, String, String) {
    let dir = keyed_folder();
    let key = std::fs::read_to_string(dir.path().join("key.pem")).unwrap();
    let args = [
        "--project",
        "my-project",
        "--location",
        "EU",
        "--public-key",
        "{dir}/public.json",
        "--email",
        BIGQUERY_EMAIL,
        "--token",
        "ya29.ready-token",
        "--script",
        script,
        "--retry-after",
        "1",
        "--page",
        page,
    ];
    let server = warehouse("bigquery_server.py", dir, &args);
    let base = format!("http://127.0.0.1:{}", server.port);
    let account = json!({
        "type": "service_account",
        "project_id": "my-project",
        "private_key_id": "k1",
        "private_key": key,
        "client_email": BIGQUERY_EMAIL,
        "token_uri": format!("{base}/token"),
    });
    let url = format!("bigquery://my-project?location=EU&endpoint={base}");
    (server, url, account.to_string())
}

fn bigquery_credentials(credentials: &str) -> Credentials {
    Credentials {
        user: None,
        secret: Some(credentials.to_string()),
    }
}

#[test]
fn bigquery_values_equal_the_data_by_period_and_by_range() {
    let t = tree();
    // The first query is incomplete twice; the range answer comes in pages of 4 rows.
    let (server, url, account) = bigquery("pending", "4");
    let leaves = [("total", BIGQUERY_TOTAL), ("plans", BIGQUERY_PLANS)];
    let loaded = load(&t, &url, &bigquery_credentials(&account), &leaves, 30);
    assert_values(&t, &loaded);
    let sent = server.log();
    // One token for every session and query.
    assert_eq!(sent.iter().filter(|r| r["path"] == "/token").count(), 1);
    let posts: Vec<&Value> = sent
        .iter()
        .filter(|r| r["path"] == "/bigquery/v2/projects/my-project/queries")
        .map(|r| &r["body"])
        .collect();
    assert_eq!(posts.len(), 2 + 3 + 1, "{posts:?}");
    let range = json!([
        { "name": "start", "parameterType": { "type": "DATE" }, "parameterValue": { "value": "2026-11-02" } },
        { "name": "end", "parameterType": { "type": "DATE" }, "parameterValue": { "value": "2026-11-23" } },
    ]);
    let ranged: Vec<&&Value> = posts
        .iter()
        .filter(|b| b["queryParameters"] == range)
        .collect();
    let [one] = ranged.as_slice() else {
        panic!("{posts:?}")
    };
    assert!(one["query"]
        .as_str()
        .unwrap()
        .contains("day >= @start and day < @end"));
    assert_eq!(
        (&one["useLegacySql"], &one["location"]),
        (&json!(false), &json!("EU"))
    );
    assert_eq!(one["jobTimeoutMs"], 30_000);
    let paths: Vec<&str> = sent.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert!(paths.iter().any(|p| p.contains("pageToken=4")), "{paths:?}");
}

#[test]
fn bigquery_takes_a_ready_access_token_and_retries_a_429() {
    let t = tree();
    let (server, url, _) = bigquery("200,429,200,503", "1000");
    let started = Instant::now();
    let leaves = [("total", BIGQUERY_TOTAL)];
    let loaded = load(
        &t,
        &url,
        &bigquery_credentials("ya29.ready-token"),
        &leaves,
        30,
    );
    assert_retried(&t, &loaded, started, &server);
}

#[test]
fn bigquery_failures_leave_the_leaf_missing_in_google_s_words() {
    let t = tree();
    let (_server, url, account) = bigquery("", "1000");
    // A key the service account does not have: the token endpoint refuses the grant.
    let other = keyed_folder();
    let other_key = std::fs::read_to_string(other.path().join("key.pem")).unwrap();
    let mut wrong: Value = serde_json::from_str(&account).unwrap();
    wrong["private_key"] = json!(other_key);
    let refused = load(
        &t,
        &url,
        &bigquery_credentials(&wrong.to_string()),
        &[("total", BIGQUERY_TOTAL)],
        30,
    );
    let words = [
        "Google's token endpoint at 127.0.0.1 answered 400 Bad Request",
        "invalid_grant: Invalid JWT Signature.",
    ];
    assert_failed(&t, &refused, &words, "PRIVATE KEY");
    let expired = load(
        &t,
        &url,
        &bigquery_credentials("ya29.expired"),
        &[("total", BIGQUERY_TOTAL)],
        30,
    );
    let words = [
        "BigQuery at 127.0.0.1 answered 401 Unauthorized",
        "Request had invalid authentication credentials.",
    ];
    assert_failed(&t, &expired, &words, "ya29.expired");
    let bad = "select sum(n) from no_such_table where day >= {start}";
    let failed = load(
        &t,
        &url,
        &bigquery_credentials(&account),
        &[("total", bad)],
        30,
    );
    let words = [
        "answered 400 Bad Request",
        "Syntax error: no such table: no_such_table",
    ];
    assert_failed(&t, &failed, &words, "PRIVATE KEY");
    // Past its time limit, a running job is cancelled.
    let (server, url, account) = bigquery("200,hang", "1000");
    let late = load(
        &t,
        &url,
        &bigquery_credentials(&account),
        &[("total", BIGQUERY_TOTAL)],
        2,
    );
    assert_cancelled(&late, &server, "BigQuery");
}

#[test]
fn bigquery_probe_tells_a_refused_credential_from_an_unreached_host() {
    let (_server, url, account) = bigquery("", "1000");
    let timeout = Duration::from_secs(10);
    let probe = |url: &str, credentials: &str| {
        let db = Database::open_with(url, &bigquery_credentials(credentials)).unwrap();
        db.probe(timeout)
    };
    assert_eq!(probe(&url, &account), Ok(()));
    assert_eq!(
        probe(&url, "ya29.expired").unwrap_err().0,
        Stage::Authenticate
    );
    let closed = url.rsplit_once(':').unwrap().0.to_string() + ":9";
    assert_eq!(
        probe(&closed, "ya29.ready-token").unwrap_err().0,
        Stage::Reach
    );
}
