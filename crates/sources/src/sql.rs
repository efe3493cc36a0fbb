//! SQL sources: a leaf's `source: { sql: ... }` on SQLite or PostgreSQL.
//!
//! `{start}` and `{end}` in the query are bounds (`start <= t < end`, as dates), always bound
//! as query parameters, never pasted into the text. Columns, by name and position:
//! - a column named `period` (a date or timestamp inside the period) makes the query a
//!   **range query**: it runs once, with `{start}` and `{end}` spanning every period wanted,
//!   and each row is assigned to the period its date falls in;
//! - of the other columns, one gives the value; two give `(segment, value)`, the first one's
//!   name being the segment dimension.
//!
//! Without a `period` column the query runs once per period. All queries run on a small pool
//! of connections. A NULL value is no data, never zero; a value that is not a finite number is
//! an error. Every session is read-only, in UTC, and every query has a time limit.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use canopy_engine::{redact_password, Diagnostic, MetricId, MetricTree, Source};
use canopy_evaluator::{DataBuilder, Period};
use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use postgres::types::{ToSql, Type};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::tls::{self, SslMode};
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

/// A database holding leaves' data, ready to connect to.
pub struct Database {
    /// The URL without its password, for messages.
    shown: String,
    kind: Kind,
}

enum Kind {
    Sqlite(PathBuf),
    Postgres {
        config: Box<postgres::Config>,
        mode: SslMode,
        connector: MakeRustlsConnect,
    },
}

/// One open connection.
enum Conn {
    Sqlite {
        conn: rusqlite::Connection,
        /// When the running query is cancelled.
        deadline: Arc<Mutex<Option<Instant>>>,
        timeout: Duration,
    },
    Postgres {
        client: Box<postgres::Client>,
        /// Each query prepared once, with the bound each parameter takes (`true`: start).
        statements: HashMap<String, (postgres::Statement, Vec<bool>)>,
    },
}

/// What a query's columns are.
#[derive(Clone, Debug, PartialEq)]
struct Shape {
    /// The `period` column, for a range query.
    period: Option<usize>,
    /// The segment column and its name (the dimension).
    segment: Option<(usize, String)>,
    /// The value column.
    value: usize,
}

/// What one query returned, or why it failed.
type Answer = Result<Vec<Row>, String>;

/// One row of a result: the date of a range query's row, the segment, the value (`None` for
/// NULL).
struct Row {
    date: Option<NaiveDate>,
    segment: Option<String>,
    value: Option<f64>,
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
        let shown = redact_password(url);
        let bad = |reason: String| Error::Connect {
            url: shown.clone(),
            reason,
        };
        if let Some(path) = url.strip_prefix("sqlite://") {
            let kind = Kind::Sqlite(PathBuf::from(path));
            return Ok(Database { shown, kind });
        }
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::Source(shown));
        }
        let split = tls::split(url).map_err(bad)?;
        let mut config: postgres::Config = split.rest.parse().map_err(|e| bad(chain(&e)))?;
        config.ssl_mode(split.mode.wire());
        let connector = tls::connector(split.mode, split.root_cert.as_deref()).map_err(bad)?;
        let kind = Kind::Postgres {
            config: Box::new(config),
            mode: split.mode,
            connector,
        };
        Ok(Database { shown, kind })
    }

    /// A read-only session whose queries stop after `timeout`.
    fn connect(&self, timeout: Duration) -> Result<Conn, Error> {
        match &self.kind {
            Kind::Sqlite(path) => sqlite_connect(path, timeout).map_err(|reason| Error::Connect {
                url: self.shown.clone(),
                reason,
            }),
            Kind::Postgres {
                config,
                mode,
                connector,
            } => {
                let failed = |reason: String| Error::Connect {
                    url: format!("{} (sslmode={})", self.shown, mode.name()),
                    reason,
                };
                let mut client = config
                    .connect(connector.clone())
                    .map_err(|e| failed(chain(&e)))?;
                // UTC, as the bounds are bound: a `timestamptz` bound is midnight UTC, and a
                // range query's `date_trunc` on one truncates in the session's time zone.
                let setup = format!(
                    "set default_transaction_read_only = on; set statement_timeout = {}; set time zone 'UTC'",
                    timeout.as_millis()
                );
                client
                    .batch_execute(&setup)
                    .map_err(|e| failed(pg_error(&e)))?;
                Ok(Conn::Postgres {
                    client: Box::new(client),
                    statements: HashMap::new(),
                })
            }
        }
    }

    /// Runs every SQL leaf of `tree` for `periods`, adding the values to `builder`. Problems
    /// of a leaf (its query fails, returns the wrong columns or rows outside the periods) are
    /// returned as diagnostics at the leaf, one per leaf; failing to connect is an error.
    pub fn load_into(
        &self,
        tree: &MetricTree,
        builder: &mut DataBuilder<'_>,
        periods: &[Period],
        settings: Settings,
        progress: &dyn Progress,
    ) -> Result<Vec<Diagnostic>, Error> {
        let leaves: Vec<(MetricId, &str)> = tree
            .ids()
            .filter_map(|id| match &tree.metric(id).source {
                Some(Source::Sql(sql)) => Some((id, sql.as_str())),
                _ => None,
            })
            .collect();
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
        for &(id, sql) in &leaves {
            match conn.describe(sql).and_then(|columns| shape(&columns)) {
                Err(message) => diagnostics.push(failure(tree, id, None, &message)),
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
                    .map(|message| failure(tree, *id, None, &message))
            } else {
                let mut failed = None;
                for (p, rows) in periods.iter().zip(answers.by_ref().take(periods.len())) {
                    match (rows, &failed) {
                        (Ok(rows), None) => builder.add_values(*id, *p, dim(shape), values(&rows)),
                        (Err(message), None) => {
                            failed = Some(failure(tree, *id, Some(*p), &message))
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

    /// Runs `jobs` on up to `settings.connections` connections at once (`first` among them);
    /// answers in the order of the jobs.
    fn pooled(
        &self,
        first: Conn,
        pool: &Pool<'_>,
        jobs: &[Job],
        settings: Settings,
    ) -> Result<Vec<Answer>, Error> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let workers = settings.connections.clamp(1, jobs.len().max(1));
        let mut conns = vec![first];
        for _ in 1..workers {
            conns.push(self.connect(settings.timeout)?);
        }
        // Each worker takes the next job until none is left; answers keep their job's index.
        let next = AtomicUsize::new(0);
        let work = |mut conn: Conn| {
            let mut out: Vec<(usize, Answer)> = Vec::new();
            loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(j) else { break out };
                let (id, sql, shape) = &pool.leaves[job.leaf];
                let (start, end) = job.period.map_or(pool.range, |p| (p.start(), p.end()));
                out.push((j, conn.query(sql, shape, start, end)));
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

/// The dimension of a shape's segment column.
fn dim(shape: &Shape) -> Option<&str> {
    shape.segment.as_ref().map(|(_, name)| name.as_str())
}

/// The `(segment, value)` pairs of rows; NULL values are no data.
fn values(rows: &[Row]) -> Vec<(Option<String>, f64)> {
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
    let mut grouped: Vec<Vec<(Option<String>, f64)>> = vec![Vec::new(); periods.len()];
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
        builder.add_values(id, *p, dim(shape), values);
    }
    Ok(())
}

/// Reads what a query's columns are from their names.
fn shape(columns: &[String]) -> Result<Shape, String> {
    let period = columns
        .iter()
        .position(|c| c.eq_ignore_ascii_case("period"));
    let others: Vec<usize> = (0..columns.len()).filter(|&i| Some(i) != period).collect();
    match others.as_slice() {
        [value] => Ok(Shape {
            period,
            segment: None,
            value: *value,
        }),
        [segment, value] => Ok(Shape {
            period,
            segment: Some((*segment, columns[*segment].clone())),
            value: *value,
        }),
        _ => Err(format!(
            "the query returns {} columns ({}); expected the value, or a segment and the value, and optionally a `period` column",
            columns.len(),
            columns.join(", ")
        )),
    }
}

fn failure(tree: &MetricTree, id: MetricId, period: Option<Period>, message: &str) -> Diagnostic {
    let metric = tree.metric(id);
    let when = period.map(|p| format!(" for {p}")).unwrap_or_default();
    Diagnostic::error(
        metric.location.clone(),
        format!("the SQL source of `{}` failed{when}: {message}", metric.id),
    )
    .with_help("the query gets {start} and {end} (the first day, and the day after the last) as parameters; it runs read-only, within CANOPY_SQL_TIMEOUT")
}

/// An error and its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
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

/// PostgreSQL's own message, with its detail and hint, rather than "db error".
fn pg_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut out = format!("{} ({})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                out += &format!("; {detail}");
            }
            if let Some(hint) = db.hint() {
                out += &format!("; hint: {hint}");
            }
            out
        }
        None => chain(e),
    }
}

/// Replaces `{start}` and `{end}` by numbered parameters, returning which bound each is.
fn placeholders(sql: &str, numbered: impl Fn(usize) -> String) -> (String, Vec<bool>) {
    // `true` stands for {start}, `false` for {end}, in parameter order.
    let mut order = Vec::new();
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let tail = &rest[open..];
        let which = if tail.starts_with("{start}") {
            Some(true)
        } else if tail.starts_with("{end}") {
            Some(false)
        } else {
            None
        };
        match which {
            Some(is_start) => {
                let n = match order.iter().position(|&o| o == is_start) {
                    Some(n) => n,
                    None => {
                        order.push(is_start);
                        order.len() - 1
                    }
                };
                out.push_str(&numbered(n + 1));
                rest = &tail[if is_start { 7 } else { 5 }..];
            }
            None => {
                out.push('{');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    (out, order)
}

/// A value as a finite number, or why it is not one.
fn finite(v: Option<f64>) -> Result<Option<f64>, String> {
    match v {
        Some(v) if !v.is_finite() => {
            Err(format!("the value column holds {v}, not a finite number"))
        }
        v => Ok(v),
    }
}

impl Conn {
    /// The names of the columns `sql` returns.
    fn describe(&mut self, sql: &str) -> Result<Vec<String>, String> {
        match self {
            Conn::Sqlite { conn, .. } => {
                let (text, _) = placeholders(sql, |n| format!("?{n}"));
                let stmt = conn.prepare_cached(&text).map_err(|e| e.to_string())?;
                Ok(stmt.column_names().map(str::to_string).collect())
            }
            Conn::Postgres { client, statements } => {
                let (stmt, _) = pg_statement(client, statements, sql)?;
                Ok(stmt
                    .columns()
                    .iter()
                    .map(|c| c.name().to_string())
                    .collect())
            }
        }
    }

    fn query(
        &mut self,
        sql: &str,
        shape: &Shape,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<Row>, String> {
        match self {
            Conn::Sqlite {
                conn,
                deadline,
                timeout,
            } => {
                let query = SqliteQuery {
                    sql,
                    shape,
                    timeout: *timeout,
                };
                query.run(conn, deadline, start, end)
            }
            Conn::Postgres { client, statements } => {
                let (stmt, order) = pg_statement(client, statements, sql)?;
                let bounds: Vec<NaiveDate> =
                    order.iter().map(|&s| if s { start } else { end }).collect();
                postgres_query(client, &stmt, shape, &bounds)
            }
        }
    }
}

fn sqlite_connect(path: &std::path::Path, timeout: Duration) -> Result<Conn, String> {
    use rusqlite::OpenFlags;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = rusqlite::Connection::open_with_flags(path, flags).map_err(|e| e.to_string())?;
    // No other database can be attached to read from (or write to).
    conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_ATTACHED, 0)
        .map_err(|e| e.to_string())?;
    let deadline: Arc<Mutex<Option<Instant>>> = Arc::default();
    let watched = deadline.clone();
    let past = move || {
        let at = *watched.lock().expect("the deadline lock");
        at.is_some_and(|at| Instant::now() >= at)
    };
    conn.progress_handler(10_000, Some(past))
        .map_err(|e| e.to_string())?;
    Ok(Conn::Sqlite {
        conn,
        deadline,
        timeout,
    })
}

/// SQLite compares dates as ISO text; the end of year 9999 (`+10000-01-01` as a date) is
/// written so that it sorts after every date and time of that year.
fn sqlite_date(date: NaiveDate) -> String {
    if date.year() > 9999 {
        "9999-12-31T24:00:00".to_string()
    } else {
        date.to_string()
    }
}

/// One query on SQLite.
struct SqliteQuery<'a> {
    sql: &'a str,
    shape: &'a Shape,
    timeout: Duration,
}

impl SqliteQuery<'_> {
    fn run(
        &self,
        conn: &rusqlite::Connection,
        deadline: &Mutex<Option<Instant>>,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<Row>, String> {
        let (text, order) = placeholders(self.sql, |n| format!("?{n}"));
        let mut stmt = conn.prepare_cached(&text).map_err(|e| e.to_string())?;
        let params: Vec<String> = order
            .iter()
            .map(|&s| sqlite_date(if s { start } else { end }))
            .collect();
        *deadline.lock().expect("the deadline lock") = Some(Instant::now() + self.timeout);
        let failed = |e: rusqlite::Error| sqlite_error(&e, self.timeout);
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(failed)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(failed)? {
            out.push(self.row(row)?);
        }
        *deadline.lock().expect("the deadline lock") = None;
        Ok(out)
    }

    fn row(&self, row: &rusqlite::Row<'_>) -> Result<Row, String> {
        use rusqlite::types::ValueRef;
        let get = |i: usize| row.get_ref(i).map_err(|e| e.to_string());
        let number = match get(self.shape.value)? {
            ValueRef::Null => None,
            ValueRef::Integer(i) => Some(i as f64),
            ValueRef::Real(f) => Some(f),
            ValueRef::Text(t) => Some(
                String::from_utf8_lossy(t)
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| "the value column holds text, not a number".to_string())?,
            ),
            ValueRef::Blob(_) => return Err("the value column holds a blob, not a number".into()),
        };
        let segment = match &self.shape.segment {
            None => None,
            Some((i, _)) => Some(match get(*i)? {
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                ValueRef::Integer(i) => i.to_string(),
                ValueRef::Null => return Err("a segment is NULL".into()),
                other => format!("{other:?}"),
            }),
        };
        let date = match self.shape.period {
            None => None,
            Some(i) => match get(i)? {
                ValueRef::Text(t) => Some(sqlite_period(&String::from_utf8_lossy(t))?),
                ValueRef::Null => return Err("a row has a NULL period".into()),
                other => {
                    return Err(format!(
                        "the period column holds {other:?}, not an ISO date"
                    ))
                }
            },
        };
        Ok(Row {
            date,
            segment,
            value: finite(number)?,
        })
    }
}

/// A `period` value of SQLite: an ISO date, or a timestamp starting with one.
fn sqlite_period(text: &str) -> Result<NaiveDate, String> {
    text.get(..10)
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .ok_or_else(|| format!("the period column holds `{text}`, not an ISO date"))
}

fn sqlite_error(e: &rusqlite::Error, timeout: Duration) -> String {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::OperationInterrupted) => format!(
            "the query ran longer than {} s (CANOPY_SQL_TIMEOUT) and was cancelled",
            timeout.as_secs()
        ),
        _ => e.to_string(),
    }
}

/// The prepared statement of `sql` on this connection, prepared once.
fn pg_statement(
    client: &mut postgres::Client,
    statements: &mut HashMap<String, (postgres::Statement, Vec<bool>)>,
    sql: &str,
) -> Result<(postgres::Statement, Vec<bool>), String> {
    if let Some(found) = statements.get(sql) {
        return Ok(found.clone());
    }
    let (text, order) = placeholders(sql, |n| format!("${n}"));
    let stmt = client.prepare(&text).map_err(|e| pg_error(&e))?;
    statements.insert(sql.to_string(), (stmt.clone(), order.clone()));
    Ok((stmt, order))
}

fn postgres_query(
    client: &mut postgres::Client,
    stmt: &postgres::Statement,
    shape: &Shape,
    bounds: &[NaiveDate],
) -> Result<Vec<Row>, String> {
    // The server infers each parameter's type from the query; bind the bound in that type.
    let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    for (ty, &date) in stmt.params().iter().zip(bounds) {
        let midnight: NaiveDateTime = date.and_hms_opt(0, 0, 0).expect("midnight exists");
        params.push(match *ty {
            Type::DATE => Box::new(date),
            Type::TIMESTAMP => Box::new(midnight),
            Type::TIMESTAMPTZ => Box::new(Utc.from_utc_datetime(&midnight)),
            _ => Box::new(date.to_string()),
        });
    }
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
    // Each query in its own read-only transaction, rolled back: nothing a query does stays.
    let mut tx = client
        .build_transaction()
        .read_only(true)
        .start()
        .map_err(|e| pg_error(&e))?;
    let rows = tx.query(stmt, &refs).map_err(|e| pg_error(&e))?;
    tx.rollback().map_err(|e| pg_error(&e))?;
    let columns = stmt.columns();
    rows.iter()
        .map(|row| {
            Ok(Row {
                date: match shape.period {
                    None => None,
                    Some(i) => pg_date(row, i, columns[i].type_())?,
                },
                segment: match &shape.segment {
                    None => None,
                    Some((i, _)) => {
                        Some(pg_segment(row, *i, columns[*i].type_())?.ok_or("a segment is NULL")?)
                    }
                },
                value: finite(pg_number(row, shape.value, columns[shape.value].type_())?)?,
            })
        })
        .collect()
}

fn pg_number(row: &postgres::Row, i: usize, ty: &Type) -> Result<Option<f64>, String> {
    match *ty {
        Type::INT2 => row.try_get::<_, Option<i16>>(i).map(|v| v.map(f64::from)),
        Type::INT4 => row.try_get::<_, Option<i32>>(i).map(|v| v.map(f64::from)),
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map(|v| v.map(|i| i as f64)),
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(i).map(|v| v.map(f64::from)),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i),
        Type::NUMERIC => row
            .try_get::<_, Option<rust_decimal::Decimal>>(i)
            .map(|v| v.map(|d| d.try_into().unwrap_or(f64::NAN))),
        ref other => {
            return Err(format!(
                "the value column has type {other}; expected a number"
            ))
        }
    }
    .map_err(|e| chain(&e))
}

/// A segment value as text, from the integer or text types a segment column usually has.
fn pg_segment(row: &postgres::Row, i: usize, ty: &Type) -> Result<Option<String>, String> {
    let text = match *ty {
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map(|v| v.map(|i| i.to_string())),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map(|v| v.map(|i| i.to_string())),
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map(|v| v.map(|i| i.to_string())),
        _ => row.try_get::<_, Option<String>>(i),
    };
    text.map_err(|e| format!("the segment column: {}", chain(&e)))
}

/// A range query's `period` value as a date.
fn pg_date(row: &postgres::Row, i: usize, ty: &Type) -> Result<Option<NaiveDate>, String> {
    let date = match *ty {
        Type::DATE => row.try_get::<_, Option<NaiveDate>>(i),
        Type::TIMESTAMP => row
            .try_get::<_, Option<NaiveDateTime>>(i)
            .map(|v| v.map(|t| t.date())),
        Type::TIMESTAMPTZ => row
            .try_get::<_, Option<chrono::DateTime<Utc>>>(i)
            .map(|v| v.map(|t| t.date_naive())),
        ref other => {
            return Err(format!(
                "the period column has type {other}; expected a date or timestamp"
            ))
        }
    };
    date.map_err(|e| format!("the period column: {}", chain(&e)))
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
                segment: None,
                value: 0
            }
        );
        assert_eq!(
            shape(&names(&["plan", "n"])).unwrap(),
            Shape {
                period: None,
                segment: Some((0, "plan".into())),
                value: 1
            }
        );
        assert_eq!(
            shape(&names(&["plan", "PERIOD", "n"])).unwrap(),
            Shape {
                period: Some(1),
                segment: Some((0, "plan".into())),
                value: 2
            }
        );
        assert!(shape(&names(&["a", "b", "c"]))
            .unwrap_err()
            .contains("3 columns (a, b, c)"));
    }

    #[test]
    fn the_end_of_year_9999_sorts_after_its_days() {
        let end = NaiveDate::from_ymd_opt(9999, 12, 31)
            .unwrap()
            .succ_opt()
            .unwrap();
        let bound = sqlite_date(end);
        assert!(bound.as_str() > "9999-12-31" && bound.as_str() > "9999-12-31 23:59:59");
        assert!(bound.as_str() > "9999-12-31T23:59:59.999");
    }
}
