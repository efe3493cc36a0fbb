//! SQL leaves against real databases: a PostgreSQL the test starts with `ssl = on`, a private
//! CA made here and TLS-only `pg_hba.conf` (libpq's `sslmode` semantics); the CI cluster and
//! SQLite for read-only sessions, time limits, and range queries against their per-period
//! form.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{certs, postgres_url, repo, sql_tree, Dir, Run};

/// A PostgreSQL cluster that accepts TCP connections over TLS only; stopped when dropped.
struct TlsCluster {
    dir: PathBuf,
    port: u16,
}

impl TlsCluster {
    /// Starts one whose certificate (for 127.0.0.1 only) is in `certs`. Skipped, saying so,
    /// where PostgreSQL's server is not installed; under CI that fails instead.
    fn start(certs: &Path) -> Option<TlsCluster> {
        let installed = std::fs::read_dir("/usr/lib/postgresql")
            .map(|mut d| d.next().is_some())
            .unwrap_or(false);
        if !installed {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL's server is not installed under CI: the TLS tests cannot be skipped"
            );
            eprintln!("skipped: PostgreSQL's server is not installed (apt-get install postgresql), so TLS is not checked");
            return None;
        }
        let out = Command::new("bash")
            .arg(repo().join(".ci/postgres.sh"))
            .env("CANOPY_PG_TLS", certs)
            .output()
            .expect("bash runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let field = |name: &str| {
            text.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in {text}"))
                .to_string()
        };
        let url = field("CANOPY_TEST_POSTGRES_URL=");
        let port = url.rsplit(':').next().unwrap().split('/').next().unwrap();
        Some(TlsCluster {
            dir: PathBuf::from(field("CANOPY_PG_DIR=")),
            port: port.parse().unwrap(),
        })
    }

    /// A client over the cluster's Unix socket (trusted without TLS), to set up tables.
    fn local_client(&self) -> postgres::Client {
        let mut config = postgres::Config::new();
        config
            .host_path(&self.dir)
            .port(self.port)
            .user("postgres")
            .dbname("postgres");
        config
            .connect(postgres::NoTls)
            .expect("the socket accepts connections")
    }

    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo().join(".ci/postgres.sh"))
            .arg("stop")
            .arg(&self.dir)
            .status();
    }
}

/// `canopy eval` of `tree` on `url` for `period`, with `env`.
fn eval(dir: &Dir, tree: &str, url: &str, period: &str, env: &[(&str, String)], code: i32) -> Run {
    let args = [
        "eval",
        "--snippets=never",
        tree,
        "--data",
        url,
        "--period",
        period,
        "--format",
        "json",
    ];
    dir.run_env(&args, env, code)
}

fn value(run: &Run) -> f64 {
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    doc["metrics"][0]["value"].as_f64().unwrap()
}

const COUNT: &str = "select count(*) from events where at >= {start} and at < {end}";

#[test]
fn postgres_over_tls_follows_libpq_sslmode() {
    let dir = Dir::new();
    let good = certs(&dir, "tls");
    let other = certs(&dir, "other");
    let Some(cluster) = TlsCluster::start(good.ca.parent().unwrap()) else {
        return;
    };
    cluster
        .local_client()
        .batch_execute("create table events (at date); insert into events values ('2026-11-16'), ('2026-11-18'), ('2026-11-25');")
        .unwrap();
    let tree = sql_tree(&dir, "tls", COUNT);
    let ca = |c: &crate::util::Certs| c.ca.to_str().unwrap().to_string();
    let ok = [
        cluster.url("127.0.0.1", "sslmode=require"),
        cluster.url("127.0.0.1", "application_name=canopy"),
        cluster.url(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={}", ca(&good)),
        ),
        // verify-ca checks the chain, not the name: the certificate is for 127.0.0.1 only.
        cluster.url(
            "localhost",
            &format!("sslmode=verify-ca&sslrootcert={}", ca(&good)),
        ),
    ];
    for url in &ok {
        let run = eval(&dir, &tree, url, "2026-W47", &[], 0);
        assert_eq!(value(&run), 2.0, "{url}");
    }
    let refused = [
        (
            cluster.url("127.0.0.1", "sslmode=disable"),
            "(sslmode=disable)",
            "no encryption",
        ),
        (
            cluster.url(
                "127.0.0.1",
                &format!("sslmode=verify-full&sslrootcert={}", ca(&other)),
            ),
            "(sslmode=verify-full)",
            "UnknownIssuer",
        ),
        (
            cluster.url(
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={}", ca(&good)),
            ),
            "(sslmode=verify-full)",
            "not valid for name",
        ),
    ];
    for (url, mode, why) in &refused {
        let run = eval(&dir, &tree, url, "2026-W47", &[], 1);
        assert!(
            run.stderr
                .starts_with("error: cannot connect to postgres://postgres@")
                && run.stderr.contains(mode)
                && run.stderr.contains(why),
            "{url}: {}",
            run.stderr
        );
    }
}

/// The CI cluster: a writing query fails at its leaf and changes nothing; a query past the
/// time limit is cancelled; a range query gives what its per-period form gives.
#[test]
fn postgres_sessions_are_read_only_timed_and_pushed_down() {
    let Some(url) = postgres_url() else {
        return;
    };
    let schema = format!("canopy_warehouse_{}", std::process::id());
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!(
            "drop schema if exists {schema} cascade; create schema {schema};
             create table {schema}.events (at timestamptz, plan text);
             insert into {schema}.events
               select timestamptz '2026-09-01 00:00+00' + (i * interval '37 minutes'), case when i % 3 = 0 then 'pro' else 'free' end
               from generate_series(1, 6000) i;"
        ))
        .unwrap();
    let separator = if url.contains('?') { '&' } else { '?' };
    // A time zone east of UTC, where a local `date_trunc` would move Mondays into Sundays.
    let url = format!("{url}{separator}options=-csearch_path%3D{schema}%20-cTimeZone%3DAsia/Tokyo");
    let dir = Dir::new();
    let tree = sql_tree(&dir, "rw", "delete from events returning 1");
    let run = eval(&dir, &tree, &url, "2026-W40", &[], 1);
    assert!(
        run.stderr
            .starts_with("rw.yaml:6:3: error: the SQL source of `n` failed")
            && run.stderr.contains("read-only transaction")
            && run.stderr.contains("help: "),
        "{}",
        run.stderr
    );
    let count: i64 = client
        .query_one(&format!("select count(*) from {schema}.events"), &[])
        .unwrap()
        .get(0);
    assert_eq!(count, 6000, "nothing was deleted");
    let slow = sql_tree(&dir, "slow", "select count(*) from pg_sleep(3)");
    let run = eval(
        &dir,
        &slow,
        &url,
        "2026-W40",
        &[("CANOPY_SQL_TIMEOUT", "1".into())],
        1,
    );
    assert!(
        run.stderr
            .contains("canceling statement due to statement timeout"),
        "{}",
        run.stderr
    );
    same_by_range_and_by_period(&dir, &url, "date_trunc('week', at)");
    client
        .batch_execute(&format!("drop schema {schema} cascade"))
        .unwrap();
}

/// `explain --each` over 12 weeks gives the same values whether each leaf's query runs once
/// for the range (grouped by a `period` column) or once per week.
fn same_by_range_and_by_period(dir: &Dir, url: &str, week_of: &str) {
    let per_period =
        "select plan, count(*) from events where at >= {start} and at < {end} group by plan";
    let range = format!("select {week_of} as period, plan, count(*) from events where at >= {{start}} and at < {{end}} group by 1, 2");
    let each = |tree: &str| {
        let args = [
            "explain", tree, "--data", url, "--from", "2026-W36", "--to", "2026-W47", "--each",
            "--format", "json",
        ];
        let run = dir.run_env(&args, &[("CANOPY_SQL_CONNECTIONS", "3".into())], 0);
        let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        let values: Vec<(f64, f64)> = doc["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["before"].as_f64().unwrap(), t["after"].as_f64().unwrap()))
            .collect();
        values
    };
    let a = each(&sql_tree(dir, "weekly", per_period));
    let b = each(&sql_tree(dir, "ranged", &range));
    assert_eq!(a.len(), 11);
    assert_eq!(a, b);
    // A query that ignores {start} and {end} returns rows outside the range: an error.
    let careless = sql_tree(
        dir,
        "careless",
        &format!("select {week_of} as period, count(*) from events group by 1"),
    );
    let run = eval(dir, &careless, url, "2026-W40", &[], 1);
    assert!(
        run.stderr.contains("is outside the periods asked for"),
        "{}",
        run.stderr
    );
}

#[test]
fn sqlite_sessions_are_read_only_timed_and_pushed_down() {
    let dir = Dir::new();
    let db = rusqlite::Connection::open(dir.path().join("events.db")).unwrap();
    db.execute_batch(
        "create table events (at text, plan text);
         with recursive i(n) as (select 1 union all select n + 1 from i where n < 6000)
         insert into events select datetime('2026-09-01', '+' || (n * 37) || ' minutes'), case when n % 3 = 0 then 'pro' else 'free' end from i;",
    )
    .unwrap();
    drop(db);
    let url = "sqlite://events.db";
    let tree = sql_tree(&dir, "rw", "delete from events returning 1");
    let run = eval(&dir, &tree, url, "2026-W40", &[], 1);
    assert!(run.stderr.contains("readonly database"), "{}", run.stderr);
    let attach = sql_tree(&dir, "attach", "attach database 'other.db' as other");
    // It returns no columns, so it is refused before it runs (and the connection allows no
    // attached database should it run).
    let run = eval(&dir, &attach, url, "2026-W40", &[], 1);
    assert!(
        run.stderr.contains("the query returns 0 columns"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("other.db").exists());
    let forever =
        "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c";
    let slow = sql_tree(&dir, "slow", forever);
    let run = eval(
        &dir,
        &slow,
        url,
        "2026-W40",
        &[("CANOPY_SQL_TIMEOUT", "1".into())],
        1,
    );
    assert!(
        run.stderr
            .contains("ran longer than 1 s (CANOPY_SQL_TIMEOUT) and was cancelled"),
        "{}",
        run.stderr
    );
    // The Monday that starts each ISO week, as the period's date.
    same_by_range_and_by_period(&dir, url, "date(at, 'weekday 0', '-6 days')");
}

/// A query may return several segment columns before its value: each is a dimension that
/// `--where` and `--slices` read, as a CSV's columns after `value` are.
#[test]
fn a_query_with_several_segment_columns_slices_by_each() {
    let dir = Dir::new();
    let db = rusqlite::Connection::open(dir.path().join("events.db")).unwrap();
    // Two weeks of events by platform and country; in the second, android in DE halves.
    db.execute_batch(
        "create table events (at text, platform text, country text);
         with recursive i(n) as (select 0 union all select n + 1 from i where n < 1199)
         insert into events
           select case when n < 600 then '2026-11-16' else '2026-11-23' end,
                  case when n % 2 = 0 then 'android' else 'ios' end,
                  case when n % 3 = 0 then 'DE' else 'FR' end
           from i
           where not (n >= 600 and n % 2 = 0 and n % 3 = 0 and n % 4 = 0);",
    )
    .unwrap();
    let count = |filter: &str| -> f64 {
        let sql = format!("select count(*) from events where at = '2026-11-23' {filter}");
        db.query_row(&sql, [], |r| r.get::<_, i64>(0)).unwrap() as f64
    };
    let (all, android_de) = (
        count(""),
        count("and platform = 'android' and country = 'DE'"),
    );
    drop(db);
    let url = "sqlite://events.db";
    let tree = sql_tree(&dir, "two", "select platform, country, count(*) from events where at >= {start} and at < {end} group by 1, 2");
    assert_eq!(value(&eval(&dir, &tree, url, "2026-W48", &[], 0)), all);
    let args = [
        "eval",
        &tree,
        "--data",
        url,
        "--period",
        "2026-W48",
        "--where",
        "platform=android",
        "--where",
        "country=DE",
        "--format",
        "json",
    ];
    assert_eq!(value(&dir.run(&args, 0)), android_de);
    let args = [
        "explain", &tree, "--data", url, "--from", "2026-W47", "--to", "2026-W48", "--slices",
        "--format", "json",
    ];
    let doc: serde_json::Value = serde_json::from_str(&dir.run(&args, 0).stdout).unwrap();
    let slices = doc["slices"].as_array().unwrap();
    assert_eq!(slices.len(), 1, "{doc}");
    assert_eq!(
        slices[0]["where"],
        serde_json::json!({ "platform": "android", "country": "DE" }),
        "{doc}"
    );
}
