//! ClickHouse leaves against a real server: the one `.ci/clickhouse.sh` starts (CI always
//! does), and for TLS one these tests start with a certificate from a CA made here. Tables are
//! set up through the HTTP interface as `default`; Canopy reads as `reader`, with a password.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use canopy_engine::{Grain, MemoryFs, MetricId, MetricTree, Period, RenderOptions};
use canopy_evaluator::{evaluate, Cell, Data, DataBuilder};
use canopy_sources::{Credentials, Database, Quiet, Settings};

/// The test server: its plain HTTP address and the reader's password.
struct Server {
    http: String,
    password: String,
}

/// The server `.ci/clickhouse.sh` started, if any. Without one the test is skipped and says
/// so; under CI a skipped ClickHouse test fails instead.
fn server() -> Option<Server> {
    match std::env::var("CANOPY_TEST_CLICKHOUSE_HTTP") {
        Ok(http) => Some(Server {
            http,
            password: std::env::var("CANOPY_TEST_CLICKHOUSE_PASSWORD").unwrap_or_default(),
        }),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CANOPY_TEST_CLICKHOUSE_HTTP is not set under CI: the ClickHouse tests cannot be skipped")
        }
        Err(_) => {
            eprintln!(
                "skipped: CANOPY_TEST_CLICKHOUSE_HTTP is not set (eval \"$(.ci/clickhouse.sh)\")"
            );
            None
        }
    }
}

impl Server {
    /// Runs `sql` as `default`, which may write; panics with the server's message if it fails.
    fn admin(&self, sql: &str) -> String {
        let mut answer = ureq::post(&self.http)
            .config()
            .http_status_as_error(false)
            .build()
            .send(sql)
            .unwrap();
        let text = answer.body_mut().read_to_string().unwrap();
        assert!(answer.status().is_success(), "{sql}: {text}");
        text
    }

    /// A fresh database `name` holding `events`: when, who, plan and an optional amount.
    fn events(&self, name: &str, rows: &str) {
        self.admin(&format!("DROP DATABASE IF EXISTS {name}"));
        self.admin(&format!("CREATE DATABASE {name}"));
        self.admin(&format!("CREATE TABLE {name}.events (at DateTime, user UInt64, plan String, amount Nullable(Float64)) ENGINE = MergeTree ORDER BY at"));
        self.admin(&format!("INSERT INTO {name}.events VALUES {rows}"));
    }

    /// Canopy's URL of database `name` over plain HTTP.
    fn url(&self, name: &str) -> String {
        let host = self.http.trim_start_matches("http://");
        format!("clickhouse://{host}/{name}?sslmode=disable")
    }

    fn reader(&self) -> Credentials {
        Credentials {
            user: Some("reader".into()),
            secret: Some(self.password.clone()),
        }
    }
}

/// Two weeks of events: 2026-W47 (from Monday 16 November) and 2026-W48.
const TWO_WEEKS: &str = "('2026-11-16 09:00:00', 1, 'free', 1.5), ('2026-11-18 23:59:59', 5000000000, 'pro', NULL), ('2026-11-22 12:00:00', 3, 'free', 2), ('2026-11-23 00:00:00', 4, 'pro', 10), ('2026-11-29 23:00:00', 6, 'pro', NULL), ('2026-11-30 00:00:00', 7, 'free', 100)";

/// The evaluator sends no email: any address will do.
struct AnyMailbox;

impl canopy_engine::Mailboxes for AnyMailbox {
    fn address_problem(&self, _: &str) -> Option<String> {
        None
    }

    fn name_problem(&self, _: &str) -> Option<String> {
        None
    }
}

/// A tree of `grain` whose root sums the leaves, each `(id, sql)`.
fn tree(grain: &str, leaves: &[(&str, &str)]) -> MetricTree {
    let ids: Vec<&str> = leaves.iter().map(|(id, _)| *id).collect();
    let mut text = format!("tree: t\ngrain: {grain}\npeople: {{ p: {{ email: p@example.com }} }}\nraci: {{ accountable: p }}\nroot: root\nmetrics:\n  root: {{ formula: {} }}\n", ids.join(" + "));
    for (id, sql) in leaves {
        text += &format!("  {id}: {{ source: {{ sql: \"{sql}\" }} }}\n");
    }
    let fs = MemoryFs::new().with("t.yaml", text);
    match canopy_engine::load(Path::new("t.yaml"), &fs, &AnyMailbox) {
        Ok(loaded) => loaded.tree,
        Err(canopy_engine::Error::Invalid {
            diagnostics,
            sources,
            ..
        }) => panic!(
            "{}",
            canopy_engine::render_diagnostics(&diagnostics, &sources, RenderOptions::default())
        ),
        Err(e) => panic!("{e}"),
    }
}

fn periods(grain: Grain, names: &[&str]) -> Vec<Period> {
    names
        .iter()
        .map(|p| Period::parse(p, grain).unwrap())
        .collect()
}

/// What loading `tree`'s leaves from `url` gave: the data, and each leaf's problem as text.
fn load(
    url: &str,
    credentials: &Credentials,
    tree: &MetricTree,
    periods: &[Period],
    timeout: Duration,
) -> Result<(Data, Vec<String>), canopy_sources::Error> {
    let leaves: Vec<(MetricId, &str)> = tree
        .ids()
        .filter_map(|id| {
            let source = tree.metric(id).source.as_ref()?;
            Some((id, source.query.as_str()))
        })
        .collect();
    let db = Database::open_with(url, credentials)?;
    let mut builder = DataBuilder::new(tree);
    let settings = Settings {
        timeout,
        connections: 2,
    };
    let problems = db.load_into(tree, &leaves, &mut builder, periods, settings, &Quiet)?;
    let data = builder.finish().unwrap();
    Ok((data, problems.iter().map(|d| d.message.clone()).collect()))
}

/// The rows of a period, compared as dates: a server without query parameters (before 19.x)
/// cannot compare its date bounds with a `DateTime`.
const RANGE: &str = "where toDate(at) >= {start} and toDate(at) < {end}";

const TIMEOUT: Duration = Duration::from_secs(30);

/// `leaf`'s values per period (`None` where missing), for the total or a segment.
fn values(
    tree: &MetricTree,
    data: &Data,
    leaf: &str,
    segment: Option<&str>,
    periods: &[Period],
) -> Vec<Option<f64>> {
    let eval = evaluate(tree, data);
    let id = tree.find(leaf).unwrap();
    let segment = segment.map(|s| {
        eval.segments()
            .iter()
            .position(|key| key.iter().any(|k| k == s))
            .unwrap_or_else(|| panic!("no segment {s} in {:?}", eval.segments()))
    });
    periods
        .iter()
        .map(|&p| match eval.get(id, p, segment) {
            Ok(v) => Some(v),
            Err(Cell::Missing { .. }) => None,
            Err(other) => panic!("{leaf} in {p}: {other:?}"),
        })
        .collect()
}

#[test]
fn values_per_period_and_segment_and_their_range_forms_agree() {
    let Some(server) = server() else { return };
    server.events("canopy_values", TWO_WEEKS);
    let range = RANGE;
    let tree = tree(
        "week",
        &[
            ("n", &format!("select count() from events {range}")),
            ("n_range", &format!("select toMonday(at) as period, count() from events {range} group by period")),
            ("users", &format!("select plan, sum(user) from events {range} group by plan")),
            ("users_range", &format!("select toMonday(at) as period, plan, sum(user) from events {range} group by period, plan")),
        ],
    );
    let weeks = periods(Grain::Week, &["2026-W47", "2026-W48"]);
    let (data, problems) = load(
        &server.url("canopy_values"),
        &server.reader(),
        &tree,
        &weeks,
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(problems, Vec::<String>::new());
    // The last second of W48 and the first of W49 fall either side of {end}.
    let counts = vec![Some(3.0), Some(2.0)];
    assert_eq!(values(&tree, &data, "n", None, &weeks), counts);
    assert_eq!(values(&tree, &data, "n_range", None, &weeks), counts);
    // UInt64 sums arrive quoted; 5,000,000,000 does not fit 32 bits.
    for leaf in ["users", "users_range"] {
        assert_eq!(
            values(&tree, &data, leaf, Some("pro"), &weeks),
            [Some(5e9), Some(10.0)],
            "{leaf}"
        );
        assert_eq!(
            values(&tree, &data, leaf, Some("free"), &weeks),
            [Some(4.0), None],
            "{leaf}"
        );
        assert_eq!(
            values(&tree, &data, leaf, None, &weeks),
            [Some(5e9 + 4.0), Some(10.0)],
            "{leaf}"
        );
    }
}

/// `at >= {start}` on a `DateTime` column: the right values where the server binds
/// parameters, and where it does not (18.16), an error saying to compare dates, never the
/// silently wrong values a `Date` literal would give there.
#[test]
fn a_date_time_compared_with_the_bounds_is_right_or_says_what_to_write() {
    let Some(server) = server() else { return };
    server.events("canopy_datetime", TWO_WEEKS);
    let tree = tree(
        "week",
        &[(
            "n",
            "select count() from events where at >= {start} and at < {end}",
        )],
    );
    let weeks = periods(Grain::Week, &["2026-W47", "2026-W48"]);
    let url = server.url("canopy_datetime");
    let (data, problems) = load(&url, &server.reader(), &tree, &weeks, TIMEOUT).unwrap();
    match problems.as_slice() {
        [] => assert_eq!(values(&tree, &data, "n", None, &weeks), [Some(3.0), Some(2.0)]),
        [problem] => assert!(
            problem.contains("Cannot parse datetime")
                && problem.contains("compare a DateTime column as a date, `toDate(at) >= {start} and toDate(at) < {end}`"),
            "{problem}"
        ),
        more => panic!("{more:?}"),
    }
}

#[test]
fn months_pushed_down_with_to_start_of_month_agree_with_each_month_queried() {
    let Some(server) = server() else { return };
    server.events("canopy_months", "('2026-10-31 23:59:59', 1, 'free', 1), ('2026-11-01 00:00:00', 2, 'free', 2), ('2026-11-30 12:00:00', 3, 'pro', 3), ('2026-12-01 00:00:00', 4, 'pro', 4)");
    let range = RANGE;
    let tree = tree(
        "month",
        &[
            ("amount", &format!("select sum(amount) from events {range}")),
            ("amount_range", &format!("select toStartOfMonth(at) as period, sum(amount) from events {range} group by period")),
        ],
    );
    let months = periods(Grain::Month, &["2026-10", "2026-11"]);
    let (data, problems) = load(
        &server.url("canopy_months"),
        &server.reader(),
        &tree,
        &months,
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(problems, Vec::<String>::new());
    for leaf in ["amount", "amount_range"] {
        assert_eq!(
            values(&tree, &data, leaf, None, &months),
            [Some(1.0), Some(5.0)],
            "{leaf}"
        );
    }
}

#[test]
fn null_is_missing_not_zero() {
    let Some(server) = server() else { return };
    server.events("canopy_nulls", TWO_WEEKS);
    let range = RANGE;
    let tree = tree(
        "week",
        &[
            (
                "big_amount",
                &format!("select sum(amount) from events {range} and user = 5000000000"),
            ),
            (
                "big_count",
                &format!("select count() from events {range} and user = 5000000000"),
            ),
            (
                "by_plan",
                &format!("select plan, max(amount) from events {range} group by plan"),
            ),
        ],
    );
    let weeks = periods(Grain::Week, &["2026-W47", "2026-W48"]);
    let (data, problems) = load(
        &server.url("canopy_nulls"),
        &server.reader(),
        &tree,
        &weeks,
        TIMEOUT,
    )
    .unwrap();
    assert_eq!(problems, Vec::<String>::new());
    // The row is there and its amount is NULL: no data, where a count of none is zero.
    assert_eq!(
        values(&tree, &data, "big_count", None, &weeks),
        [Some(1.0), Some(0.0)]
    );
    assert_eq!(
        values(&tree, &data, "big_amount", None, &weeks),
        [None, None]
    );
    assert_eq!(
        values(&tree, &data, "by_plan", Some("pro"), &weeks),
        [None, Some(10.0)]
    );
    assert_eq!(
        values(&tree, &data, "by_plan", Some("free"), &weeks),
        [Some(2.0), None]
    );
}

#[test]
fn every_query_runs_read_only_within_the_limits() {
    let Some(server) = server() else { return };
    server.events("canopy_writes", TWO_WEEKS);
    let setting =
        |name: &str| format!("select toFloat64(value) from system.settings where name = '{name}'");
    let writes = [
        ("inserted", "insert into events select * from events"),
        ("dropped", "drop table events"),
        ("created", "create table copied (a UInt8) engine = Memory"),
        ("altered", "alter table events delete where 1"),
    ];
    let mut leaves: Vec<(&str, String)> = writes
        .iter()
        .map(|(id, sql)| (*id, sql.to_string()))
        .collect();
    leaves.push(("readonly", setting("readonly")));
    leaves.push(("rows", setting("max_result_rows")));
    leaves.push(("seconds", setting("max_execution_time")));
    let leaves: Vec<(&str, &str)> = leaves.iter().map(|(id, sql)| (*id, sql.as_str())).collect();
    let tree = tree("week", &leaves);
    let weeks = periods(Grain::Week, &["2026-W47"]);
    let (data, problems) = load(
        &server.url("canopy_writes"),
        &server.reader(),
        &tree,
        &weeks,
        Duration::from_secs(7),
    )
    .unwrap();
    assert_eq!(problems.len(), writes.len(), "{problems:#?}");
    for (id, _) in writes {
        assert!(
            problems
                .iter()
                .any(|p| p.contains(&format!("`{id}` failed"))),
            "{problems:#?}"
        );
    }
    assert_eq!(values(&tree, &data, "readonly", None, &weeks), [Some(1.0)]);
    assert_eq!(
        values(&tree, &data, "rows", None, &weeks),
        [Some(1_000_000.0)]
    );
    assert_eq!(values(&tree, &data, "seconds", None, &weeks), [Some(7.0)]);
    assert_eq!(
        server
            .admin("select count() from canopy_writes.events")
            .trim(),
        "6"
    );
    assert_eq!(
        server
            .admin("select count() from system.tables where database = 'canopy_writes'")
            .trim(),
        "1"
    );
}

#[test]
fn a_query_past_the_time_limit_is_cancelled() {
    let Some(server) = server() else { return };
    let tree = tree(
        "week",
        &[("endless", "select sum(number) from system.numbers")],
    );
    let weeks = periods(Grain::Week, &["2026-W47"]);
    let started = Instant::now();
    let (_, problems) = load(
        &server.url("default"),
        &server.reader(),
        &tree,
        &weeks,
        Duration::from_secs(1),
    )
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("cancelled after CANOPY_SQL_TIMEOUT (1 s)"),
        "{}",
        problems[0]
    );
    assert!(problems[0].contains("Code: 159"), "{}", problems[0]);
}

#[test]
fn the_servers_own_message_reaches_the_diagnostic() {
    let Some(server) = server() else { return };
    server.events("canopy_errors", TWO_WEEKS);
    let tree = tree(
        "week",
        &[
            (
                "missing",
                "select count() from no_such_table where at >= {start}",
            ),
            (
                "thrown",
                "select sum(throwIf(user = 3)) from events where toDate(at) >= {start} and toDate(at) < {end}",
            ),
            (
                "text",
                "select plan from events where toDate(at) >= {start} and toDate(at) < {end} limit 1",
            ),
        ],
    );
    let weeks = periods(Grain::Week, &["2026-W47"]);
    let (_, problems) = load(
        &server.url("canopy_errors"),
        &server.reader(),
        &tree,
        &weeks,
        TIMEOUT,
    )
    .unwrap();
    let find = |leaf: &str| {
        problems
            .iter()
            .find(|p| p.contains(&format!("`{leaf}`")))
            .unwrap_or_else(|| panic!("no problem for {leaf}: {problems:#?}"))
    };
    let missing = find("missing");
    assert!(
        missing.contains("HTTP 404: Code: 60") && missing.contains("canopy_errors.no_such_table"),
        "{missing}"
    );
    let thrown = find("thrown");
    assert!(
        thrown.contains("for 2026-W47: HTTP 500: Code: 395") && thrown.contains("throwIf"),
        "{thrown}"
    );
    let text = find("text");
    assert!(
        text.contains("the value column has type String; expected a number"),
        "{text}"
    );
}

#[test]
fn failing_to_connect_names_the_host_and_never_the_password() {
    let Some(server) = server() else { return };
    let tree = tree("week", &[("n", "select 1")]);
    let weeks = periods(Grain::Week, &["2026-W47"]);
    let wrong = Credentials {
        user: Some("reader".into()),
        secret: Some("not-the-password-7f3a".into()),
    };
    let e = load(&server.url("default"), &wrong, &tree, &weeks, TIMEOUT)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("Code: 193") && e.contains("reader"), "{e}");
    assert!(
        !e.contains("not-the-password-7f3a") && !e.contains(&server.password),
        "{e}"
    );
    // A password in the URL is not shown either.
    let host = server.http.trim_start_matches("http://");
    let url = format!("clickhouse://reader:not-the-password-7f3a@{host}/default?sslmode=disable");
    let e = load(&url, &Credentials::default(), &tree, &weeks, TIMEOUT)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("Code: 193") && !e.contains("not-the-password-7f3a"),
        "{e}"
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("clickhouse://127.0.0.1:{port}/default?sslmode=disable");
    let e = load(&url, &server.reader(), &tree, &weeks, TIMEOUT)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains(&format!("127.0.0.1:{port} refused the connection")),
        "{e}"
    );
}

/// A ClickHouse server that also serves HTTPS with a certificate for 127.0.0.1 only, from a
/// CA made here; stopped when dropped.
struct TlsServer {
    dir: PathBuf,
    https_port: String,
    password: String,
}

impl TlsServer {
    /// Starts one with the certificate and key in `certs`.
    fn start(certs: &Path) -> TlsServer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/clickhouse.sh");
        let out = Command::new("bash")
            .arg(script)
            .env("CANOPY_CH_TLS", certs)
            .output()
            .expect("bash runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let field = |name: &str| {
            let found = text.split_whitespace().find_map(|w| w.strip_prefix(name));
            found
                .unwrap_or_else(|| panic!("no {name} in {text}"))
                .to_string()
        };
        TlsServer {
            dir: PathBuf::from(field("CANOPY_CH_DIR=")),
            https_port: field("CANOPY_TEST_CLICKHOUSE_HTTPS_PORT="),
            password: field("CANOPY_TEST_CLICKHOUSE_PASSWORD="),
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/clickhouse.sh");
        let _ = Command::new("bash")
            .arg(script)
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

/// A private CA and a certificate it signed for 127.0.0.1, as PEM files in `dir`; the CA's
/// file.
fn certs(dir: &Path) -> PathBuf {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // Each CA a name of its own, so that the other one is an unknown issuer.
    let name = format!("Canopy test CA ({})", dir.display());
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("server.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    dir.join("ca.pem")
}

#[test]
fn https_follows_libpq_sslmode() {
    // The test's own server needs ClickHouse installed, which the shared one shows.
    if server().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = certs(&dir.path().join("tls"));
    let other = certs(&dir.path().join("other"));
    let tls = TlsServer::start(ca.parent().unwrap());
    let reader = Credentials {
        user: Some("reader".into()),
        secret: Some(tls.password.clone()),
    };
    let tree = tree(
        "week",
        &[("n", "select toUInt64(1) + 0 * toUInt16(toDate({start}))")],
    );
    let weeks = periods(Grain::Week, &["2026-W47"]);
    let url = |host: &str, query: String| {
        format!("clickhouse://{host}:{}/default?{query}", tls.https_port)
    };
    let root = |ca: &Path| format!("sslrootcert={}", ca.display());
    let ok = [
        url("127.0.0.1", format!("sslmode=verify-full&{}", root(&ca))),
        url("127.0.0.1", root(&ca)),
        url("127.0.0.1", "sslmode=require".into()),
        // verify-ca checks the chain, not the name: the certificate is for 127.0.0.1 only.
        url("localhost", format!("sslmode=verify-ca&{}", root(&ca))),
    ];
    for url in &ok {
        let (data, problems) = load(url, &reader, &tree, &weeks, TIMEOUT).unwrap();
        assert_eq!(problems, Vec::<String>::new(), "{url}");
        assert_eq!(
            values(&tree, &data, "n", None, &weeks),
            [Some(1.0)],
            "{url}"
        );
    }
    let refused = [
        (
            url("localhost", format!("sslmode=verify-full&{}", root(&ca))),
            "certificate not valid for name \"localhost\"",
        ),
        (
            url("localhost", root(&ca)),
            "certificate not valid for name \"localhost\"",
        ),
        (
            url("127.0.0.1", format!("sslmode=verify-full&{}", root(&other))),
            "UnknownIssuer",
        ),
    ];
    for (url, expected) in &refused {
        let e = load(url, &reader, &tree, &weeks, TIMEOUT)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("(sslmode=verify-full)") || e.contains("verify-ca"),
            "{e}"
        );
        assert!(e.contains(expected), "{url}: {e}");
    }
}
