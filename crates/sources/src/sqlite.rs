//! SQLite: a file opened read-only, no other database attachable, each query interrupted
//! past its time limit. Dates are compared as ISO text.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};

use crate::sql::{finite, placeholders, Connector, Row, Session, Shape};

/// A SQLite database file.
pub(crate) struct Sqlite {
    pub(crate) path: PathBuf,
}

impl Connector for Sqlite {
    fn connect(&self, timeout: Duration) -> Result<Box<dyn Session>, String> {
        Ok(Box::new(connect(&self.path, timeout)?))
    }
}

/// One read-only connection.
struct SqliteSession {
    conn: rusqlite::Connection,
    /// When the running query is cancelled.
    deadline: Arc<Mutex<Option<Instant>>>,
    timeout: Duration,
}

impl Session for SqliteSession {
    fn columns(&mut self, sql: &str) -> Result<Vec<String>, String> {
        let (text, _) = placeholders(sql, |n| format!("?{n}"));
        let stmt = self.conn.prepare_cached(&text).map_err(|e| e.to_string())?;
        Ok(stmt.column_names().map(str::to_string).collect())
    }

    fn rows(
        &mut self,
        sql: &str,
        shape: &Shape,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<Row>, String> {
        let query = SqliteQuery {
            sql,
            shape,
            timeout: self.timeout,
        };
        query.run(&self.conn, &self.deadline, start, end)
    }
}

/// Opens `path` read-only for one session whose queries stop after `timeout`.
fn connect(path: &Path, timeout: Duration) -> Result<SqliteSession, String> {
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
    Ok(SqliteSession {
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
        let segment = self.shape.segment(|i| {
            Ok(match get(i)? {
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                ValueRef::Integer(i) => i.to_string(),
                ValueRef::Null => return Err("a segment is NULL".into()),
                other => format!("{other:?}"),
            })
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
