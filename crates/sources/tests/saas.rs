//! The PostHog and Jira connections against real servers on loopback: `tests/posthog_server.py`
//! running HogQL on a real ClickHouse, and `tests/jira_server.py` counting a fixture of
//! issues. Values per period equal the data; each misbehaviour of a server is retried and
//! succeeds, or leaves the leaf missing (never zero) with an error in the server's words.

use std::time::{Duration, Instant};

use canopy_engine::MetricTree;
use canopy_evaluator::{evaluate, Cell, Data, DataBuilder, Evaluation};
use canopy_sources::{Credentials, Database, Quiet, Settings};
use chrono::{Duration as Days, NaiveDate};
use serde_json::{json, Value};

mod support;
use support::{monday, periods, tree_of, Server, WEEKS};

const TREE: &str = "tree: t
people: { p: { email: p@example.com } }
raci: { accountable: p }
root: top
metrics:
  top: { formula: creators + bugs + actions }
  creators: {}
  bugs: {}
  actions: {}
";

const KEY: &str = "phx_test_key_never_shown";
const TOKEN: &str = "jira-token-never-shown";
const USER: &str = "lead@acme.com";

fn tree() -> MetricTree {
    tree_of(TREE)
}

/// What loading leaves gave: the values, and the problems in words.
struct Loaded<'t> {
    eval: Evaluation<'t>,
    data: Data,
    problems: Vec<String>,
}

impl Loaded<'_> {
    fn total(&self, tree: &MetricTree, leaf: &str, week: usize) -> Result<f64, Cell> {
        self.eval.total(tree.find(leaf).unwrap(), periods()[week])
    }
}

/// Loads `leaves` (name, query) of the test tree for the three weeks from `url`.
fn load<'t>(
    tree: &'t MetricTree,
    url: &str,
    credentials: &Credentials,
    leaves: &[(&str, &str)],
    settings: Settings,
) -> Loaded<'t> {
    let db = Database::open_with(url, credentials).unwrap();
    let ids: Vec<_> = leaves
        .iter()
        .map(|(name, query)| (tree.find(name).unwrap(), *query))
        .collect();
    let mut builder = DataBuilder::new(tree);
    let diagnostics = db
        .load_into(tree, &ids, &mut builder, &periods(), settings, &Quiet)
        .unwrap();
    let data = builder.finish().unwrap();
    let problems = diagnostics
        .iter()
        .map(|d| {
            format!(
                "{} (help: {})",
                d.message,
                d.help.clone().unwrap_or_default()
            )
        })
        .collect();
    Loaded {
        eval: evaluate(tree, &data),
        data,
        problems,
    }
}

fn settings(timeout: u64, connections: usize) -> Settings {
    Settings {
        timeout: Duration::from_secs(timeout),
        connections,
    }
}

/// A server misbehaving by a script, and the problem it gives.
struct Case {
    /// The server's answers, in order.
    script: &'static str,
    /// The wait its 429 and 503 answers ask for, in seconds.
    retry_after: &'static str,
    /// The time limit of a query, in seconds.
    timeout: u64,
    /// The weeks read before the failure.
    ok: usize,
    /// What the problem says.
    words: &'static [&'static str],
}

/// A leaf whose first `ok` weeks have the values `expected` and whose other weeks are
/// missing, with one problem holding every one of `words` and no secret.
fn assert_failed(
    loaded: &Loaded<'_>,
    tree: &MetricTree,
    leaf: &str,
    ok: usize,
    expected: &[f64],
    words: &[&str],
) {
    for week in 0..WEEKS.len() {
        let got = loaded.total(tree, leaf, week);
        if week < ok {
            assert_eq!(got, Ok(expected[week]), "{leaf} in {}", WEEKS[week]);
        } else {
            assert!(
                matches!(got, Err(Cell::Missing { .. })),
                "{leaf} in {}: {got:?}",
                WEEKS[week]
            );
        }
    }
    let [problem] = loaded.problems.as_slice() else {
        panic!("one problem expected: {:?}", loaded.problems)
    };
    for word in words {
        assert!(problem.contains(word), "`{word}` is not in: {problem}");
    }
    for secret in [KEY, TOKEN] {
        assert!(!problem.contains(secret), "a secret is shown: {problem}");
    }
}

// PostHog.

/// The ClickHouse the PostHog test server runs HogQL on: its HTTP address and the reader's
/// password. Without it the test is skipped and says so; under CI it fails instead.
fn clickhouse() -> Option<(String, String)> {
    let url = std::env::var("CANOPY_TEST_CLICKHOUSE_HTTP").ok();
    let password = std::env::var("CANOPY_TEST_CLICKHOUSE_PASSWORD").ok();
    match (url, password) {
        (Some(url), Some(password)) => Some((url, password)),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CANOPY_TEST_CLICKHOUSE_HTTP is not set under CI: the PostHog tests cannot be skipped")
        }
        _ => {
            eprintln!("skipped: CANOPY_TEST_CLICKHOUSE_HTTP is not set (eval \"$(.ci/clickhouse.sh)\" starts a ClickHouse)");
            None
        }
    }
}

/// Events from the day before the first week to the day after the last: on day `d`,
/// `d % 4 + 1` of 13 people create items (some the same people as on other days), and two
/// people view pages.
fn events() -> Vec<(String, String, NaiveDate)> {
    let mut out = Vec::new();
    for d in -1..22i64 {
        let day = monday() + Days::days(d);
        for k in 0..(d.rem_euclid(4) + 1) {
            let person = format!("p{}", (d * 3 + k).rem_euclid(13));
            out.push(("item_created".to_string(), person, day));
        }
        for k in 0..2 {
            out.push(("page_viewed".to_string(), format!("p{k}"), day));
        }
    }
    out
}

fn events_json() -> Value {
    let rows: Vec<Value> = events()
        .iter()
        .enumerate()
        .map(|(i, (event, person, day))| {
            let at = format!("{day} {:02}:{:02}:00", i % 24, i % 60);
            json!({ "event": event, "person_id": person, "timestamp": at })
        })
        .collect();
    Value::Array(rows)
}

/// The people who created items in each week, counted once each.
fn creators_per_week() -> Vec<f64> {
    let events = events();
    (0..3)
        .map(|w| {
            let (start, end) = (monday() + Days::weeks(w), monday() + Days::weeks(w + 1));
            let people: std::collections::BTreeSet<&String> = events
                .iter()
                .filter(|(e, _, day)| e == "item_created" && *day >= start && *day < end)
                .map(|(_, p, _)| p)
                .collect();
            people.len() as f64
        })
        .collect()
}

const CREATORS: &str = "select count(distinct person_id) from events where event = 'item_created' and timestamp >= {start} and timestamp < {end}";

/// Starts the PostHog test server with `script`; its URL.
fn posthog(ch: &(String, String), script: &str, retry_after: &str) -> (Server, String) {
    let server = Server::start(
        "posthog_server.py",
        tempfile::tempdir().unwrap(),
        &[("fixture.json", &events_json())],
        &[
            "--clickhouse",
            &ch.0,
            "--password",
            &ch.1,
            "--events",
            "{dir}/fixture.json",
            "--key",
            KEY,
            "--log",
            "{dir}/log.jsonl",
            "--script",
            script,
            "--retry-after",
            retry_after,
            "--hang",
            "4",
        ],
    );
    let url = format!("posthog://127.0.0.1:{}/projects/7?scheme=http", server.port);
    (server, url)
}

fn key() -> Credentials {
    Credentials {
        user: None,
        secret: Some(KEY.to_string()),
    }
}

#[test]
fn posthog_values_equal_the_events_of_each_period() {
    let Some(ch) = clickhouse() else { return };
    let t = tree();
    let (server, url) = posthog(&ch, "", "1");
    // A range query, segmented by event, next to the per-period count of creators.
    let actions = "select toMonday(timestamp) as period, event, count() from events where timestamp >= {start} and timestamp < {end} group by period, event";
    let loaded = load(
        &t,
        &url,
        &key(),
        &[("creators", CREATORS), ("actions", actions)],
        settings(30, 4),
    );
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let creators = creators_per_week();
    // Fewer people than items, and a different number each week.
    assert_eq!(creators, [12.0, 11.0, 10.0]);
    for (w, expected) in creators.iter().enumerate() {
        assert_eq!(loaded.total(&t, "creators", w), Ok(*expected));
    }
    // Each week has 7 days of 2 page views, and 1 to 4 items created a day.
    assert_eq!(loaded.data.dimensions(), ["event"]);
    let segments: Vec<String> = loaded
        .data
        .segments()
        .iter()
        .map(|s| s[0].clone())
        .collect();
    let views = segments.iter().position(|s| s == "page_viewed").unwrap();
    let made = segments.iter().position(|s| s == "item_created").unwrap();
    let actions_id = t.find("actions").unwrap();
    let week = |w: usize, s: usize| loaded.eval.get(actions_id, periods()[w], Some(s));
    assert_eq!((week(0, views), week(2, views)), (Ok(14.0), Ok(14.0)));
    let items = |w: i64| (0..7).map(|d| (w * 7 + d) % 4 + 1).sum::<i64>() as f64;
    assert_eq!(
        (week(0, made), week(1, made), week(2, made)),
        (Ok(items(0)), Ok(items(1)), Ok(items(2)))
    );
    // The bounds travel as the query's values; the text keeps its placeholders.
    let sent = server.log();
    let query = &sent.last().unwrap()["body"]["query"];
    assert!(
        query["query"]
            .as_str()
            .unwrap()
            .contains("timestamp >= {start}"),
        "{query}"
    );
    assert_eq!(query["kind"], "HogQLQuery");
    let values: Vec<&Value> = sent.iter().map(|r| &r["body"]["query"]["values"]).collect();
    assert!(
        values.contains(&&json!({ "start": "2026-11-09", "end": "2026-11-16" })),
        "{values:?}"
    );
    assert!(
        values.contains(&&json!({ "start": "2026-11-02", "end": "2026-11-23" })),
        "{values:?}"
    );
    // The columns are read from a run on an empty range.
    assert_eq!(
        values[0],
        &json!({ "start": "1970-01-01", "end": "1970-01-01" })
    );
}

#[test]
fn posthog_retries_after_429_and_polls_an_asynchronous_answer() {
    let Some(ch) = clickhouse() else { return };
    let t = tree();
    // The columns, then the first week throttled once, then the second answered later.
    let (server, url) = posthog(&ch, "200,429,200,async", "1");
    let started = Instant::now();
    let loaded = load(&t, &url, &key(), &[("creators", CREATORS)], settings(30, 1));
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    for (w, expected) in creators_per_week().iter().enumerate() {
        assert_eq!(loaded.total(&t, "creators", w), Ok(*expected));
    }
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not waited for"
    );
    // Five queries: the columns, the throttled one and its retry, and two weeks.
    assert_eq!(server.log().len(), 5);
}

/// Misbehaviours of the PostHog server: the first request reads the columns, the second the
/// first week.
const POSTHOG_FAILURES: &[Case] = &[
    Case {
        script: "200,200,401",
        retry_after: "1",
        timeout: 30,
        ok: 1,
        words: &[
            "HogQL source of `creators` failed for 2026-W46",
            "PostHog at 127.0.0.1 answered 401 Unauthorized",
            "authentication failed",
            "Invalid personal API key.",
        ],
    },
    Case {
        script: "200,500",
        retry_after: "1",
        timeout: 30,
        ok: 0,
        words: &[
            "failed for 2026-W45",
            "answered 500 Internal Server Error",
            "A server error occurred.",
        ],
    },
    Case {
        script: "200,200,200,hasmore",
        retry_after: "1",
        timeout: 30,
        ok: 2,
        words: &["failed for 2026-W47", "only part of the rows (hasMore)"],
    },
    Case {
        script: "200,notjson",
        retry_after: "1",
        timeout: 30,
        ok: 0,
        words: &[
            "answered 200 OK with a body that is not JSON",
            "Bad gateway",
        ],
    },
    Case {
        script: "200,hang",
        retry_after: "1",
        timeout: 1,
        ok: 0,
        words: &["PostHog at 127.0.0.1 gave no complete answer within 1 s (CANOPY_SQL_TIMEOUT)"],
    },
    Case {
        script: "200,429",
        retry_after: "60",
        timeout: 5,
        ok: 0,
        words: &[
            "answered 429 Too Many Requests",
            "Request was throttled",
            "after 0 retries",
            "retry budget",
        ],
    },
    Case {
        script: "401",
        retry_after: "1",
        timeout: 30,
        ok: 0,
        words: &["the HogQL source of `creators` failed: PostHog at 127.0.0.1 answered 401"],
    },
];

#[test]
fn posthog_failures_leave_the_leaf_missing_with_posthog_s_words() {
    let Some(ch) = clickhouse() else { return };
    let t = tree();
    let creators = creators_per_week();
    for case in POSTHOG_FAILURES {
        let (_server, url) = posthog(&ch, case.script, case.retry_after);
        let leaves = [("creators", CREATORS)];
        let loaded = load(&t, &url, &key(), &leaves, settings(case.timeout, 1));
        assert_failed(&loaded, &t, "creators", case.ok, &creators, case.words);
    }
}

#[test]
fn posthog_reports_its_errors_in_a_query_and_a_wrong_key() {
    let Some(ch) = clickhouse() else { return };
    let t = tree();
    let (_server, url) = posthog(&ch, "", "1");
    let wrong = Credentials {
        user: None,
        secret: Some("phx_wrong".into()),
    };
    let loaded = load(&t, &url, &wrong, &[("creators", CREATORS)], settings(30, 1));
    assert_failed(
        &loaded,
        &t,
        "creators",
        0,
        &[],
        &["401 Unauthorized", "check the personal API key"],
    );
    let bad = "select count() from events where timestamp >= {start} and timestamp < {later}";
    let loaded = load(&t, &url, &key(), &[("creators", bad)], settings(30, 1));
    assert_failed(
        &loaded,
        &t,
        "creators",
        0,
        &[],
        &["400 Bad Request", "Placeholder {later} is not available"],
    );
}

// Jira.

/// Issues from the day before the first week to the day after the last: on day `d`, `3d % 7`
/// issues, of projects ENG and OPS and types Bug and Task in turn.
fn issues() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for d in -1..22i64 {
        let day = monday() + Days::days(d);
        for k in 0..(d * 3).rem_euclid(7) {
            let project = ["ENG", "OPS"][(d + k).rem_euclid(2) as usize];
            let kind = ["Bug", "Task", "Bug"][(k % 3) as usize];
            let at = format!("{day}T{:02}:15:00.000Z", (k * 7) % 24);
            out.push((project.to_string(), kind.to_string(), at));
        }
    }
    out
}

fn issues_json() -> Value {
    let rows: Vec<Value> = issues()
        .iter()
        .enumerate()
        .map(|(i, (p, k, at))| json!({ "key": format!("{p}-{i}"), "project": p, "type": k, "created": at }))
        .collect();
    Value::Array(rows)
}

/// The ENG bugs created in each week.
fn bugs_per_week() -> Vec<f64> {
    (0..3)
        .map(|w| {
            let (start, end) = (monday() + Days::weeks(w), monday() + Days::weeks(w + 1));
            issues()
                .iter()
                .filter(|(p, k, at)| {
                    let day: NaiveDate = at[..10].parse().unwrap();
                    p == "ENG" && k == "Bug" && day >= start && day < end
                })
                .count() as f64
        })
        .collect()
}

const BUGS: &str = "project = ENG and issuetype = Bug and created >= {start} and created < {end}";

/// Starts the Jira test server with `script` and `more` arguments; its URL.
fn jira(script: &str, retry_after: &str, more: &[&str]) -> (Server, String) {
    let mut args = vec![
        "--issues",
        "{dir}/fixture.json",
        "--user",
        USER,
        "--token",
        TOKEN,
        "--log",
        "{dir}/log.jsonl",
        "--script",
        script,
        "--retry-after",
        retry_after,
        "--hang",
        "4",
    ];
    args.extend(more);
    let server = Server::start(
        "jira_server.py",
        tempfile::tempdir().unwrap(),
        &[("fixture.json", &issues_json())],
        &args,
    );
    let url = format!("jira://127.0.0.1:{}?scheme=http", server.port);
    (server, url)
}

fn token() -> Credentials {
    Credentials {
        user: Some(USER.to_string()),
        secret: Some(TOKEN.to_string()),
    }
}

#[test]
fn jira_counts_equal_the_issues_of_each_period() {
    let t = tree();
    let expected = bugs_per_week();
    assert!(expected.iter().all(|&n| n > 0.0) && expected[0] != expected[1]);
    let (server, url) = jira("", "1", &[]);
    let loaded = load(&t, &url, &token(), &[("bugs", BUGS)], settings(30, 4));
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    for (w, n) in expected.iter().enumerate() {
        assert_eq!(loaded.total(&t, "bugs", w), Ok(*n));
    }
    let sent = server.log();
    assert_eq!(sent.len(), 3);
    assert!(sent
        .iter()
        .all(|r| r["path"] == "/rest/api/3/search/approximate-count"));
    let bodies: Vec<&str> = sent.iter().map(|r| r["body"].as_str().unwrap()).collect();
    let jql = json!({ "jql": "project = ENG and issuetype = Bug and created >= \"2026-11-09\" and created < \"2026-11-16\"" });
    assert!(bodies.contains(&jql.to_string().as_str()), "{bodies:?}");
}

#[test]
fn jira_data_center_counts_by_the_search_total() {
    let t = tree();
    let expected = bugs_per_week();
    // Chosen in the URL, or found when the Cloud endpoint answers 404.
    for (more, query) in [(&[][..], "&api=2"), (&["--data-center"][..], "")] {
        let (server, url) = jira("", "1", more);
        let loaded = load(
            &t,
            &format!("{url}{query}"),
            &token(),
            &[("bugs", BUGS)],
            settings(30, 1),
        );
        assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
        for (w, n) in expected.iter().enumerate() {
            assert_eq!(loaded.total(&t, "bugs", w), Ok(*n));
        }
        let sent = server.log();
        assert_eq!(sent.len(), 3);
        assert!(
            sent.iter().all(|r| r["path"] == "/rest/api/2/search"),
            "{sent:?}"
        );
    }
}

#[test]
fn jira_retries_a_429_and_a_503_after_retry_after() {
    let t = tree();
    let (server, url) = jira("429,200,503", "1", &[]);
    let started = Instant::now();
    let loaded = load(&t, &url, &token(), &[("bugs", BUGS)], settings(30, 1));
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    for (w, n) in bugs_per_week().iter().enumerate() {
        assert_eq!(loaded.total(&t, "bugs", w), Ok(*n));
    }
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "two waits of Retry-After: 1"
    );
    assert_eq!(server.log().len(), 5);
}

/// Misbehaviours of the Jira server: one request per week.
const JIRA_FAILURES: &[Case] = &[
    Case {
        script: "200,401",
        retry_after: "1",
        timeout: 30,
        ok: 1,
        words: &[
            "the JQL source of `bugs` failed for 2026-W46",
            "Jira at 127.0.0.1 answered 401 Unauthorized",
            "authentication failed: check the user and API token",
            "Client must be authenticated",
        ],
    },
    Case {
        script: "403",
        retry_after: "1",
        timeout: 30,
        ok: 0,
        words: &[
            "answered 403 Forbidden (permission denied",
            "You do not have permission to browse issues",
        ],
    },
    Case {
        script: "200,200,500",
        retry_after: "1",
        timeout: 30,
        ok: 2,
        words: &[
            "failed for 2026-W47",
            "500 Internal Server Error",
            "Internal server error",
        ],
    },
    Case {
        script: "notjson",
        retry_after: "1",
        timeout: 30,
        ok: 0,
        words: &[
            "answered 200 OK with a body that is not JSON",
            "down for maintenance",
        ],
    },
    Case {
        script: "hang",
        retry_after: "1",
        timeout: 1,
        ok: 0,
        words: &["Jira at 127.0.0.1 gave no complete answer within 1 s (CANOPY_SQL_TIMEOUT)"],
    },
    Case {
        script: "429",
        retry_after: "60",
        timeout: 5,
        ok: 0,
        words: &[
            "429 Too Many Requests",
            "Rate limit exceeded.",
            "retry budget",
        ],
    },
];

#[test]
fn jira_failures_leave_the_leaf_missing_with_jira_s_words() {
    let t = tree();
    let bugs = bugs_per_week();
    for case in JIRA_FAILURES {
        let (_server, url) = jira(case.script, case.retry_after, &[]);
        let leaves = [("bugs", BUGS)];
        let loaded = load(&t, &url, &token(), &leaves, settings(case.timeout, 1));
        assert_failed(&loaded, &t, "bugs", case.ok, &bugs, case.words);
    }
}

#[test]
fn jira_reports_a_wrong_token_and_bad_jql_in_its_own_words() {
    let t = tree();
    let (_server, url) = jira("", "1", &[]);
    let wrong = Credentials {
        user: Some(USER.to_string()),
        secret: Some("not-the-token".into()),
    };
    let loaded = load(&t, &url, &wrong, &[("bugs", BUGS)], settings(30, 1));
    assert_failed(
        &loaded,
        &t,
        "bugs",
        0,
        &[],
        &["401 Unauthorized", "Client must be authenticated"],
    );
    let bad = "project = ENG or created >= {start}";
    let loaded = load(&t, &url, &token(), &[("bugs", bad)], settings(30, 1));
    assert_failed(
        &loaded,
        &t,
        "bugs",
        0,
        &[],
        &[
            "400 Bad Request",
            "Error in the JQL Query: Expecting a field or a clause",
        ],
    );
}
