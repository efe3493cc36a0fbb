//! Query sources: a leaf's `source: { sql: ... }` on SQLite, PostgreSQL, ClickHouse,
//! Databricks, BigQuery or Snowflake, its HogQL on PostHog or its JQL on Jira, through one
//! [`Connector`] per kind of database or service (the `sqlite`, `postgres`, `clickhouse`,
//! `databricks`, `bigquery`, `snowflake`, `posthog` and `jira` modules), so that
//! every kind shares the reading of columns, the range queries and the pool.
//!
//! `{start}` and `{end}` in the query are bounds (`start <= t < end`, as dates), always bound
//! as query parameters (HogQL's `values`; on a ClickHouse without parameters, and in JQL,
//! which has none, typed literals written by one function per kind), never pasted into the
//! text as given. Columns, by name and position:
//! - a column named `period` (a date or timestamp inside the period) makes the query a
//!   **range query**: it runs once, with `{start}` and `{end}` spanning every period wanted,
//!   and each row is assigned to the period its date falls in;
//! - of the other columns, the last gives the value and those before it are segment
//!   columns, each named after its dimension (none: the rows are totals).
//!
//! Without a `period` column the query runs once per period. All queries run on a small pool
//! of connections. A NULL value is no data, never zero; a value that is not a finite number is
//! an error. Every session is read-only, in UTC, and every query has a time limit.

use std::path::PathBuf;
use std::time::Duration;

use canopy_engine::{redact_password, ConnectionKind, Diagnostic, Language, MetricId, MetricTree};
use canopy_evaluator::{DataBuilder, Period};
use chrono::NaiveDate;

use crate::bigquery::BigQuery;
use crate::clickhouse::ClickHouse;
use crate::databricks::Databricks;
use crate::jira::Jira;
use crate::postgres::Postgres;
use crate::posthog::PostHog;
use crate::snowflake::Snowflake;
use crate::sqlite::Sqlite;
use crate::Error;

/// Told of queries as they run, for a progress display. Called from the query threads.
pub trait Progress: Sync {
    /// `total` queries are about to run.
    fn start(&self, total: usize);
    /// The query of `leaf` (for `period`, or for the whole range) finished.
    fn finished(&self, leaf: &str, period: Option<Period>);
}

/// No progress display.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: usize) {}
    fn finished(&self, _: &str, _: Option<Period>) {}
}

/// How SQL sources are run.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// The longest a query may run before it is cancelled.
    pub timeout: Duration,
    /// Connections used at once.
    pub connections: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            timeout: Duration::from_secs(300),
            connections: 4,
        }
    }
}

/// A kind of database or service that leaves' queries run on, before anything is connected.
pub(crate) trait Connector: Send + Sync {
    /// A session whose queries stop after `timeout`; why not, in the server's own words.
    fn connect(&self, timeout: Duration) -> Result<Box<dyn Session>, String>;

    /// What messages about connecting add to the shown URL (such as the TLS mode).
    fn suffix(&self) -> String {
        String::new()
    }

    /// The sessions open at once, at most: a service's own limit on concurrent queries.
    fn max_sessions(&self) -> usize {
        usize::MAX
    }

    /// Tries a trivial read-only request, saying how far it got when it fails. By default:
    /// connecting is reaching (and, for kinds that log in as they connect, authenticating),
    /// and the columns of `select 1` are what is permitted.
    fn probe(&self, timeout: Duration) -> Result<(), (Stage, String)> {
        let mut session = self.connect(timeout).map_err(|e| (Stage::Reach, e))?;
        session
            .columns("select 1")
            .map(|_| ())
            .map_err(|e| (Stage::Permit, e))
    }
}

/// How far a connection's trivial request got before it failed, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// The server was not reached (or refused the connection).
    Reach,
    /// The server was reached, but the credentials were refused.
    Authenticate,
    /// Logged in, but not permitted to read.
    Permit,
}

/// One open session of a [`Connector`], used by one query thread at a time.
pub(crate) trait Session: Send {
    /// The names of the columns `query` returns.
    fn columns(&mut self, query: &str) -> Result<Vec<String>, String>;

    /// The rows `query` returns for the bounds `start <= t < end`, read as `shape` says.
    fn rows(
        &mut self,
        query: &str,
        shape: &Shape,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<Row>, String>;
}

/// Who connects, where the URL does not say (or should not: a secret comes from the
/// environment, never from the tree file).
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// The user name.
    pub user: Option<String>,
    /// The password, key or token.
    pub secret: Option<String>,
}

/// A database holding leaves' data, ready to connect to.
pub struct Database {
    /// The URL without its password, for messages.
    shown: String,
    /// The tree's name for the connection, for messages; `None` for `--data`.
    name: Option<String>,
    /// The language of the leaves' queries, for messages.
    language: Language,
    connector: Box<dyn Connector>,
}

/// What a query's columns are.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Shape {
    /// The `period` column, for a range query.
    pub(crate) period: Option<usize>,
    /// The segment columns and their names (the dimensions), in order; none for totals.
    pub(crate) segments: Vec<(usize, String)>,
    /// The value column.
    pub(crate) value: usize,
}

/// What one query returned, or why it failed.
type Answer = Result<Vec<Row>, String>;

/// One row of a result: the date of a range query's row, the segment, the value (`None` for
/// NULL).
pub(crate) struct Row {
    pub(crate) date: Option<NaiveDate>,
    /// The row's value of each segment column (empty for a total).
    pub(crate) segment: Vec<String>,
    pub(crate) value: Option<f64>,
}

impl Database {
    /// Whether `source` names a database rather than a file.
    pub fn is_url(source: &str) -> bool {
        ["sqlite://", "postgres://", "postgresql://"]
            .iter()
            .any(|p| source.starts_with(p))
    }

    /// Reads `url`: `sqlite://PATH`, or a PostgreSQL URL with libpq's `sslmode` and
    /// `sslrootcert`. Nothing is connected yet.
    pub fn open(url: &str) -> Result<Database, Error> {
        Database::open_with(url, &Credentials::default())
    }

    /// Reads `url` as [`Database::open`] does, connecting as `credentials` say.
    pub fn open_with(url: &str, credentials: &Credentials) -> Result<Database, Error> {
        let shown = redact_password(url);
        let bad = |reason: String| Error::Connect {
            url: shown.clone(),
            reason,
        };
        let (user, secret) = (credentials.user.as_deref(), credentials.secret.as_deref());
        let kind = ConnectionKind::of(url);
        let connector: Box<dyn Connector> = match kind {
            Some(ConnectionKind::Sqlite) => Box::new(Sqlite {
                path: PathBuf::from(&url["sqlite://".len()..]),
            }),
            Some(ConnectionKind::Postgres) => {
                Box::new(Postgres::new(url, user, secret).map_err(bad)?)
            }
            Some(ConnectionKind::ClickHouse) => {
                Box::new(ClickHouse::new(url, user, secret).map_err(bad)?)
            }
            Some(ConnectionKind::PostHog) => Box::new(PostHog::new(url, secret).map_err(bad)?),
            Some(ConnectionKind::Jira) => Box::new(Jira::new(url, user, secret).map_err(bad)?),
            Some(ConnectionKind::Databricks) => {
                Box::new(Databricks::new(url, secret).map_err(bad)?)
            }
            Some(ConnectionKind::Snowflake) => {
                Box::new(Snowflake::new(url, user, secret).map_err(bad)?)
            }
            Some(ConnectionKind::BigQuery) => Box::new(BigQuery::new(url, secret).map_err(bad)?),
            None => return Err(Error::Source(shown)),
        };
        Ok(Database {
            shown,
            name: None,
            language: kind.map_or(Language::Sql, |k| k.language()),
            connector,
        })
    }

    /// The database as the tree's connection `name`, which messages about its leaves name.
    pub fn named(self, name: &str) -> Database {
        Database {
            name: Some(name.to_string()),
            ..self
        }
    }

    /// Tries a trivial read-only request within `timeout`, for `check --connections`.
    pub fn probe(&self, timeout: Duration) -> Result<(), (Stage, String)> {
        self.connector.probe(timeout)
    }

    /// A read-only session whose queries stop after `timeout`.
    fn connect(&self, timeout: Duration) -> Result<Box<dyn Session>, Error> {
        self.connector
            .connect(timeout)
            .map_err(|reason| Error::Connect {
                url: format!("{}{}", self.shown, self.connector.suffix()),
                reason,
            })
    }

    /// Runs the queries of `leaves` (of `tree`) for `periods`, adding the values to
    /// `builder`. Problems of a leaf (its query fails, returns the wrong columns or rows
    /// outside the periods) are returned as diagnostics at the leaf, one per leaf; failing to
    /// connect is an error.
    pub fn load_into(
        &self,
        tree: &MetricTree,
        leaves: &[(MetricId, &str)],
        builder: &mut DataBuilder<'_>,
        periods: &[Period],
        settings: Settings,
        progress: &dyn Progress,
    ) -> Result<Vec<Diagnostic>, Error> {
        let (Some(&first), Some(&last)) = (periods.first(), periods.last()) else {
            return Ok(Vec::new());
        };
        if leaves.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.connect(settings.timeout)?;
        let mut diagnostics = Vec::new();
        // One job per range query, one per period for the others; all run on the pool.
        let mut planned: Vec<(MetricId, &str, Shape)> = Vec::new();
        let mut jobs: Vec<Job> = Vec::new();
        for &(id, sql) in leaves {
            match conn.columns(sql).and_then(|columns| shape(&columns)) {
                Err(message) => diagnostics.push(self.failure(tree, id, None, &message)),
                Ok(shape) => {
                    let leaf = planned.len();
                    match shape.period {
                        Some(_) => jobs.push(Job { leaf, period: None }),
                        None => jobs.extend(periods.iter().map(|&p| Job {
                            leaf,
                            period: Some(p),
                        })),
                    }
                    planned.push((id, sql, shape));
                }
            }
        }
        progress.start(jobs.len());
        let pool = Pool {
            leaves: &planned,
            range: (first.start(), last.end()),
            tree,
            progress,
        };
        let mut answers = self.pooled(conn, &pool, &jobs, settings)?.into_iter();
        for (id, _, shape) in &planned {
            let failed = if shape.period.is_some() {
                let rows = answers.next().expect("one answer per job");
                let added = rows.and_then(|rows| by_period(builder, *id, shape, rows, periods));
                added
                    .err()
                    .map(|message| self.failure(tree, *id, None, &message))
            } else {
                let mut failed = None;
                for (p, rows) in periods.iter().zip(answers.by_ref().take(periods.len())) {
                    match (rows, &failed) {
                        (Ok(rows), None) => {
                            builder.add_values(*id, *p, &dims(shape), values(&rows))
                        }
                        (Err(message), None) => {
                            failed = Some(self.failure(tree, *id, Some(*p), &message))
                        }
                        (_, Some(_)) => {}
                    }
                }
                failed
            };
            diagnostics.extend(failed);
        }
        Ok(diagnostics)
    }

    /// The diagnostic at leaf `id` whose query failed (for `period`) with `message`.
    fn failure(
        &self,
        tree: &MetricTree,
        id: MetricId,
        period: Option<Period>,
        message: &str,
    ) -> Diagnostic {
        let metric = tree.metric(id);
        let when = period.map(|p| format!(" for {p}")).unwrap_or_default();
        let (name, help) = match self.language {
            Language::Sql => ("SQL", "the query gets {start} and {end} (the first day, and the day after the last) as parameters; it runs read-only, within CANOPY_SQL_TIMEOUT"),
            Language::HogQl => ("HogQL", "the query gets {start} and {end} (the first day, and the day after the last) as HogQL placeholders; it runs within CANOPY_SQL_TIMEOUT"),
            Language::Jql => ("JQL", "{start} and {end} (the first day, and the day after the last) are written unquoted and become quoted dates; the count runs within CANOPY_SQL_TIMEOUT"),
        };
        let on = (self.name.as_ref())
            .map(|c| format!(" (connection `{c}`)"))
            .unwrap_or_default();
        Diagnostic::error(
            metric.location.clone(),
            format!(
                "the {name} source of `{}`{on} failed{when}: {message}",
                metric.id
            ),
        )
        .with_help(help)
    }

    /// Runs `jobs` on up to `settings.connections` connections at once (`first` among them),
    /// and no more than the connector allows; answers in the order of the jobs.
    fn pooled(
        &self,
        first: Box<dyn Session>,
        pool: &Pool<'_>,
        jobs: &[Job],
        settings: Settings,
    ) -> Result<Vec<Answer>, Error> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let most = settings.connections.min(self.connector.max_sessions());
        let workers = most.clamp(1, jobs.len().max(1));
        let mut conns = vec![first];
        for _ in 1..workers {
            conns.push(self.connect(settings.timeout)?);
        }
        // Each worker takes the next job until none is left; answers keep their job's index.
        let next = AtomicUsize::new(0);
        let work = |mut conn: Box<dyn Session>| {
            let mut out: Vec<(usize, Answer)> = Vec::new();
            loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(j) else { break out };
                let (id, sql, shape) = &pool.leaves[job.leaf];
                let (start, end) = job.period.map_or(pool.range, |p| (p.start(), p.end()));
                out.push((j, conn.rows(sql, shape, start, end)));
                pool.progress
                    .finished(&pool.tree.metric(*id).id, job.period);
            }
        };
        let mut answers: Vec<(usize, Answer)> = std::thread::scope(|s| {
            let handles: Vec<_> = conns.into_iter().map(|c| s.spawn(|| work(c))).collect();
            let joined = handles
                .into_iter()
                .map(|h| h.join().expect("a query worker panicked"));
            joined.flatten().collect()
        });
        answers.sort_by_key(|(j, _)| *j);
        Ok(answers.into_iter().map(|(_, a)| a).collect())
    }
}

/// One query to run: a leaf (by its place among the planned leaves) and its period, or
/// `None` for a range query over all of them.
struct Job {
    leaf: usize,
    period: Option<Period>,
}

/// What the query threads share.
struct Pool<'a> {
    leaves: &'a [(MetricId, &'a str, Shape)],
    /// The bounds of a range query: the first period's start, the day after the last.
    range: (NaiveDate, NaiveDate),
    tree: &'a MetricTree,
    progress: &'a dyn Progress,
}

/// The dimensions of a shape's segment columns.
fn dims(shape: &Shape) -> Vec<String> {
    shape
        .segments
        .iter()
        .map(|(_, name)| name.clone())
        .collect()
}

/// The `(segment, value)` pairs of rows; NULL values are no data.
fn values(rows: &[Row]) -> Vec<(Vec<String>, f64)> {
    rows.iter()
        .filter_map(|r| r.value.map(|v| (r.segment.clone(), v)))
        .collect()
}

/// Assigns a range query's rows to the periods their dates fall in.
fn by_period(
    builder: &mut DataBuilder<'_>,
    id: MetricId,
    shape: &Shape,
    rows: Vec<Row>,
    periods: &[Period],
) -> Result<(), String> {
    let grain = builder.grain();
    let mut grouped: Vec<Vec<(Vec<String>, f64)>> = vec![Vec::new(); periods.len()];
    for row in rows {
        let date = row.date.ok_or("a row has a NULL period")?;
        let period = Period::containing(date, grain);
        let Some(k) = periods.iter().position(|&p| p == period) else {
            return Err(format!(
                "a row's period {date} ({period}) is outside the periods asked for ({} to {}); filter the rows with {{start}} and {{end}}",
                periods[0],
                periods[periods.len() - 1]
            ));
        };
        if let Some(v) = row.value {
            grouped[k].push((row.segment, v));
        }
    }
    for (p, values) in periods.iter().zip(grouped) {
        builder.add_values(id, *p, &dims(shape), values);
    }
    Ok(())
}

/// Reads what a query's columns are from their names.
fn shape(columns: &[String]) -> Result<Shape, String> {
    let period = columns
        .iter()
        .position(|c| c.eq_ignore_ascii_case("period"));
    let others: Vec<usize> = (0..columns.len()).filter(|&i| Some(i) != period).collect();
    match others.split_last() {
        Some((&value, segments)) => Ok(Shape {
            period,
            segments: (segments.iter()).map(|&i| (i, columns[i].clone())).collect(),
            value,
        }),
        None => Err(format!(
            "the query returns {} columns ({}); expected the value last, after any segment columns, and optionally a `period` column",
            columns.len(),
            columns.join(", ")
        )),
    }
}

impl Shape {
    /// A row's value of each segment column, each read by `read`.
    pub(crate) fn segment(
        &self,
        mut read: impl FnMut(usize) -> Result<String, String>,
    ) -> Result<Vec<String>, String> {
        self.segments.iter().map(|(i, _)| read(*i)).collect()
    }
}

/// A segment from a JSON answer: text as it is, a number or boolean as written.
pub(crate) fn json_segment(value: &serde_json::Value) -> Result<String, String> {
    match value {
        serde_json::Value::Null => Err("a segment is NULL".into()),
        serde_json::Value::String(s) => Ok(s.clone()),
        other => Ok(other.to_string()),
    }
}

/// The day `{start}` and `{end}` both are when only a query's columns are wanted: an empty
/// range, so that the query's own filter keeps the run cheap.
pub(crate) fn empty_range() -> NaiveDate {
    NaiveDate::default()
}

/// A value from a JSON answer: a number, or text holding one (warehouses quote 64-bit
/// integers, decimals, NaN and infinities); NULL is no value.
pub(crate) fn json_value(value: &serde_json::Value) -> Result<Option<f64>, String> {
    match value {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Number(n) => Ok(n.as_f64()),
        serde_json::Value::String(s) => (s.trim().parse::<f64>())
            .map(Some)
            .map_err(|_| format!("the value column holds `{s}`, not a number")),
        other => Err(format!("the value column holds {other}, not a number")),
    }
}

/// An error and its causes, on one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out += &format!(": {text}");
        }
        source = cause.source();
    }
    out
}

/// Replaces `{start}` and `{end}` by numbered parameters, returning which bound each is.
pub(crate) fn placeholders(sql: &str, numbered: impl Fn(usize) -> String) -> (String, Vec<bool>) {
    // `true` stands for {start}, `false` for {end}, in parameter order.
    let mut order = Vec::new();
    let text = substitute(sql, |is_start| {
        let n = match order.iter().position(|&o| o == is_start) {
            Some(n) => n,
            None => {
                order.push(is_start);
                order.len() - 1
            }
        };
        numbered(n + 1)
    });
    (text, order)
}

/// Replaces each `{start}` and `{end}` in `sql` by what `each` gives for it (`true` for
/// `{start}`); other braces are kept.
pub(crate) fn substitute(sql: &str, mut each: impl FnMut(bool) -> String) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        if let Some(after) = tail.strip_prefix("{start}") {
            out.push_str(&each(true));
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{end}") {
            out.push_str(&each(false));
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// A value as a finite number, or why it is not one.
pub(crate) fn finite(v: Option<f64>) -> Result<Option<f64>, String> {
    match v {
        Some(v) if !v.is_finite() => {
            Err(format!("the value column holds {v}, not a finite number"))
        }
        v => Ok(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_by_first_use() {
        let (text, order) = placeholders("a >= {start} and a < {end} or b = {start} {x}", |n| {
            format!("${n}")
        });
        assert_eq!(text, "a >= $1 and a < $2 or b = $1 {x}");
        assert_eq!(order, [true, false]);
        let (text, order) = placeholders("select 1 where x < {end}", |n| format!("?{n}"));
        assert_eq!(
            (text.as_str(), order.as_slice()),
            ("select 1 where x < ?1", [false].as_slice())
        );
    }

    #[test]
    fn columns_are_read_by_name_and_position() {
        let names = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            shape(&names(&["n"])).unwrap(),
            Shape {
                period: None,
                segments: vec![],
                value: 0
            }
        );
        assert_eq!(
            shape(&names(&["plan", "n"])).unwrap(),
            Shape {
                period: None,
                segments: vec![(0, "plan".into())],
                value: 1
            }
        );
        assert_eq!(
            shape(&names(&["plan", "PERIOD", "n"])).unwrap(),
            Shape {
                period: Some(1),
                segments: vec![(0, "plan".into())],
                value: 2
            }
        );
        // Several segment columns: each its own dimension, the value last.
        assert_eq!(
            shape(&names(&["platform", "period", "country", "n"])).unwrap(),
            Shape {
                period: Some(1),
                segments: vec![(0, "platform".into()), (2, "country".into())],
                value: 3
            }
        );
        assert!(shape(&names(&["period"]))
            .unwrap_err()
            .contains("1 columns (period)"));
    }
}
