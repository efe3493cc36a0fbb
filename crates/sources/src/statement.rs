//! What the cloud warehouses' statement APIs (Databricks, BigQuery, Snowflake) share: an
//! answer as named, typed columns and rows of JSON cells, read into [`Row`]s as a query's
//! [`Shape`] says, with a cap on the rows read and the time between polls of a running
//! statement. Each warehouse writes a date its own way, so each gives the function that reads
//! its `period` cells.

use std::time::Duration;

use chrono::NaiveDate;
use serde_json::Value;

use crate::http::Failure;
use crate::sql::{empty_range, finite, Connector, Row, Session, Shape, Stage};

/// The most rows a statement's answer may hold: the same cap as ClickHouse's. A leaf's query
/// aggregates; more rows than this is a query that forgot to.
pub(crate) const MAX_ROWS: u64 = crate::clickhouse::MAX_ROWS;

/// The first and the longest wait between polls of a running statement.
pub(crate) const POLL: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

/// How long a statement past its time limit is given to be cancelled.
pub(crate) const CANCEL: Duration = Duration::from_secs(5);

/// A session on a warehouse whose API answers one statement at a time with a whole table:
/// the rest of a [`Session`], and the probe, follow from running one statement.
pub(crate) trait Statements: Send {
    /// Runs `query` for `start <= t < end` and gives its whole answer.
    fn run(&self, query: &str, start: NaiveDate, end: NaiveDate) -> Result<Table, Failure>;

    /// A `period` cell's text as a date, given its column's type (each warehouse writes
    /// dates its own way).
    fn date(text: &str, kind: &str) -> Option<NaiveDate>;
}

impl<T: Statements> Session for T {
    fn columns(&mut self, query: &str) -> Result<Vec<String>, String> {
        let day = empty_range();
        Ok(self.run(query, day, day).map_err(|f| f.message)?.names())
    }

    fn rows(
        &mut self,
        query: &str,
        shape: &Shape,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<Row>, String> {
        let table = self.run(query, start, end).map_err(|f| f.message)?;
        table.read(shape, T::date)
    }
}

/// A warehouse whose API answers statements: connecting opens one of its sessions, and the
/// probe is `select 1` on one, its answer's status (or the login before it) saying how far
/// it got. The rest of a [`Connector`] follows.
pub(crate) trait Warehouse: Send + Sync {
    /// The session of one query thread.
    type Session: Statements + 'static;

    /// A session whose statements stop after `timeout`.
    fn session(&self, timeout: Duration) -> Self::Session;
}

impl<W: Warehouse> Connector for W {
    fn connect(&self, timeout: Duration) -> Result<Box<dyn Session>, String> {
        Ok(Box::new(self.session(timeout)))
    }

    fn probe(&self, timeout: Duration) -> Result<(), (Stage, String)> {
        let day = empty_range();
        (self.session(timeout).run("select 1", day, day))
            .map(|_| ())
            .map_err(|f| (f.stage(), f.message))
    }
}

/// A statement's answer: its columns (name, and the service's type name) and rows.
#[derive(Default)]
pub(crate) struct Table {
    pub(crate) columns: Vec<(String, String)>,
    pub(crate) rows: Vec<Vec<Value>>,
}

impl Table {
    /// The columns' names.
    pub(crate) fn names(&self) -> Vec<String> {
        self.columns.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The rows as `shape` says, `date` reading a `period` cell's text given its column's type.
    pub(crate) fn read(
        &self,
        shape: &Shape,
        date: fn(&str, &str) -> Option<NaiveDate>,
    ) -> Result<Vec<Row>, String> {
        let width = self.columns.len();
        self.rows
            .iter()
            .map(|cells| match cells.len() == width {
                true => self.row(cells, shape, date),
                false => Err(format!(
                    "a row of the answer has {} values, not {width}",
                    cells.len()
                )),
            })
            .collect()
    }

    fn row(
        &self,
        cells: &[Value],
        shape: &Shape,
        date: fn(&str, &str) -> Option<NaiveDate>,
    ) -> Result<Row, String> {
        let value = crate::sql::json_value(&cells[shape.value])?;
        let segment = shape.segment(|i| crate::sql::json_segment(&cells[i]))?;
        let date = match shape.period {
            None => None,
            Some(i) => {
                let text = match &cells[i] {
                    Value::Null => return Err("a row has a NULL period".into()),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let kind = &self.columns[i].1;
                Some(date(&text, kind).ok_or_else(|| {
                    format!("the period column ({kind}) holds `{text}`, not a date")
                })?)
            }
        };
        Ok(Row {
            date,
            segment,
            value: finite(value)?,
        })
    }
}

/// A date written as ISO 8601, alone or as the start of a timestamp.
pub(crate) fn iso_date(text: &str) -> Option<NaiveDate> {
    text.get(..10)?.parse().ok()
}

/// The error of an answer with more rows than [`MAX_ROWS`].
pub(crate) fn too_many(shown: &str, rows: impl std::fmt::Display) -> String {
    format!("{shown} answered with {rows} rows, more than the {MAX_ROWS} a leaf may read: aggregate in the query (group by the period and the segment columns)")
}

/// The next wait between polls: doubled, up to the longest.
pub(crate) fn next_wait(wait: Duration) -> Duration {
    (wait * 2).min(POLL.1)
}

/// What a path segment or query value keeps as it is: RFC 3986's unreserved characters, so
/// that ids (UUIDs, job ids) travel unchanged.
const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A string as one segment of a URL's path or a query value.
pub(crate) fn encoded(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, RESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_are_strings_numbers_or_null() {
        let table = Table {
            columns: vec![
                ("period".into(), "date".into()),
                ("plan".into(), "string".into()),
                ("n".into(), "long".into()),
            ],
            rows: vec![
                vec![json!("2026-11-16"), json!("pro"), json!("12")],
                vec![json!("2026-11-23T00:00:00Z"), json!(7), json!(3.5)],
                vec![json!("2026-11-30"), json!("free"), Value::Null],
            ],
        };
        let shape = Shape {
            period: Some(0),
            segments: vec![(1, "plan".into())],
            value: 2,
        };
        let rows = table.read(&shape, |t, _| iso_date(t)).unwrap();
        assert_eq!(rows[0].date, NaiveDate::from_ymd_opt(2026, 11, 16));
        assert_eq!(
            (rows[0].segment.first().map(String::as_str), rows[0].value),
            (Some("pro"), Some(12.0))
        );
        assert_eq!(
            (rows[1].segment.first().map(String::as_str), rows[1].value),
            (Some("7"), Some(3.5))
        );
        assert_eq!(rows[2].value, None);
        let bad = Table {
            rows: vec![vec![json!("soon"), json!("pro"), json!("1")]],
            ..table
        };
        let e = bad.read(&shape, |t, _| iso_date(t)).err().unwrap();
        assert_eq!(e, "the period column (date) holds `soon`, not a date");
    }
}
