//! SQL sources: a leaf's `source: { sql: ... }` run once per period on SQLite or PostgreSQL.
//!
//! `{start}` and `{end}` in the query are the period's bounds (`start <= t < end`), always
//! bound as query parameters, never pasted into the text. A one-column result gives the
//! leaf's value; a two-column result gives `(segment, value)` rows, the first column's name
//! being the segment dimension. A NULL value is no data, never zero.

use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use postgres::types::{ToSql, Type};
use postgres::NoTls;

use canopy_engine::{Diagnostic, MetricId, MetricTree, Source};

use crate::data::DataBuilder;
use crate::period::Period;
use crate::Error;

/// A database connection for SQL sources.
pub enum Database {
    /// `sqlite://PATH`, opened read-only.
    Sqlite(rusqlite::Connection),
    /// `postgres://...` or `postgresql://...`.
    Postgres(Box<postgres::Client>),
}

/// What one query returned: the segment dimension (for two columns) and the values.
type Rows = (Option<String>, Vec<(Option<String>, f64)>);

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redact_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

impl Database {
    /// Whether `source` names a database rather than a file.
    pub fn is_url(source: &str) -> bool {
        ["sqlite://", "postgres://", "postgresql://"]
            .iter()
            .any(|p| source.starts_with(p))
    }

    /// Connects to `url`: `sqlite://PATH` or a PostgreSQL URL.
    pub fn connect(url: &str) -> Result<Database, Error> {
        let connect_error = |source: Box<dyn std::error::Error + Send + Sync>| Error::Connect {
            url: redact_password(url),
            source,
        };
        if let Some(path) = url.strip_prefix("sqlite://") {
            let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let conn = rusqlite::Connection::open_with_flags(path, flags)
                .map_err(|e| connect_error(e.into()))?;
            return Ok(Database::Sqlite(conn));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let client =
                postgres::Client::connect(url, NoTls).map_err(|e| connect_error(e.into()))?;
            return Ok(Database::Postgres(Box::new(client)));
        }
        Err(Error::Source(url.to_string()))
    }

    /// Runs every SQL leaf of `builder`'s tree for every period in `periods`, adding the values.
    /// Failures are reported per leaf (once, with the first failing period).
    pub fn load_into(
        &mut self,
        tree: &MetricTree,
        builder: &mut DataBuilder<'_>,
        periods: &[Period],
    ) -> Result<(), Error> {
        let mut diagnostics = Vec::new();
        for id in tree.ids() {
            let Some(Source::Sql(sql)) = &tree.metric(id).source else {
                continue;
            };
            for &period in periods {
                match self.query(sql, period.start(), period.end()) {
                    Ok((dim, values)) => builder.add_sql(id, period, dim.as_deref(), values),
                    Err(message) => {
                        diagnostics.push(failure(tree, id, period, &message));
                        break;
                    }
                }
            }
        }
        if diagnostics.is_empty() {
            Ok(())
        } else {
            Err(Error::Data { diagnostics })
        }
    }

    fn query(&mut self, sql: &str, start: NaiveDate, end: NaiveDate) -> Result<Rows, String> {
        match self {
            Database::Sqlite(conn) => sqlite_query(conn, sql, start, end),
            Database::Postgres(client) => postgres_query(client, sql, start, end),
        }
    }
}

fn failure(tree: &MetricTree, id: MetricId, period: Period, message: &str) -> Diagnostic {
    let metric = tree.metric(id);
    Diagnostic::error(metric.location.clone(), format!("the SQL source of `{}` failed for {period}: {message}", metric.id))
        .with_help("the query gets {start} and {end} (the period's first day, and the day after its last) as parameters")
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

fn sqlite_query(
    conn: &rusqlite::Connection,
    sql: &str,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Rows, String> {
    let (text, order) = placeholders(sql, |n| format!("?{n}"));
    let mut stmt = conn.prepare_cached(&text).map_err(|e| e.to_string())?;
    let columns = stmt.column_count();
    let dim = match columns {
        1 => None,
        2 => Some(stmt.column_name(0).map_err(|e| e.to_string())?.to_string()),
        n => {
            return Err(format!(
                "the query returns {n} columns; expected one (value) or two (segment, value)"
            ))
        }
    };
    // SQLite keeps dates as ISO text, which compares in date order.
    let params: Vec<String> = order
        .iter()
        .map(|&s| if s { start } else { end }.to_string())
        .collect();
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params.iter()))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        use rusqlite::types::ValueRef;
        let number = |v: ValueRef<'_>| -> Result<Option<f64>, String> {
            match v {
                ValueRef::Null => Ok(None),
                ValueRef::Integer(i) => Ok(Some(i as f64)),
                ValueRef::Real(f) => Ok(Some(f)),
                ValueRef::Text(t) => String::from_utf8_lossy(t)
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| "the value column holds text, not a number".to_string()),
                ValueRef::Blob(_) => Err("the value column holds a blob, not a number".into()),
            }
        };
        let value = number(row.get_ref(columns - 1).map_err(|e| e.to_string())?)?;
        let segment = match dim {
            None => None,
            Some(_) => Some(match row.get_ref(0).map_err(|e| e.to_string())? {
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                ValueRef::Integer(i) => i.to_string(),
                ValueRef::Null => return Err("a segment is NULL".into()),
                other => format!("{other:?}"),
            }),
        };
        if let Some(v) = value.filter(|v| v.is_finite()) {
            out.push((segment, v));
        }
    }
    Ok((dim, out))
}

fn postgres_query(
    client: &mut postgres::Client,
    sql: &str,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<Rows, String> {
    let (text, order) = placeholders(sql, |n| format!("${n}"));
    let stmt = client.prepare(&text).map_err(|e| e.to_string())?;
    let columns = stmt.columns();
    let dim = match columns.len() {
        1 => None,
        2 => Some(columns[0].name().to_string()),
        n => {
            return Err(format!(
                "the query returns {n} columns; expected one (value) or two (segment, value)"
            ))
        }
    };
    // The server infers each parameter's type from the query; bind the bound in that type.
    let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    for (ty, &is_start) in stmt.params().iter().zip(&order) {
        let date = if is_start { start } else { end };
        let midnight: NaiveDateTime = date.and_hms_opt(0, 0, 0).expect("midnight exists");
        params.push(match *ty {
            Type::DATE => Box::new(date),
            Type::TIMESTAMP => Box::new(midnight),
            Type::TIMESTAMPTZ => Box::new(Utc.from_utc_datetime(&midnight)),
            _ => Box::new(date.to_string()),
        });
    }
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
    let rows = client.query(&stmt, &refs).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for row in rows {
        let last = columns.len() - 1;
        let value: Option<f64> = match *columns[last].type_() {
            Type::INT2 => row
                .try_get::<_, Option<i16>>(last)
                .map(|v| v.map(f64::from)),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(last)
                .map(|v| v.map(f64::from)),
            Type::INT8 => row
                .try_get::<_, Option<i64>>(last)
                .map(|v| v.map(|i| i as f64)),
            Type::FLOAT4 => row
                .try_get::<_, Option<f32>>(last)
                .map(|v| v.map(f64::from)),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(last),
            Type::NUMERIC => row
                .try_get::<_, Option<rust_decimal::Decimal>>(last)
                .map(|v| v.map(|d| d.try_into().unwrap_or(f64::NAN))),
            ref other => {
                return Err(format!(
                    "the value column has type {other}; expected a number"
                ))
            }
        }
        .map_err(|e| e.to_string())?;
        let segment = match dim {
            None => None,
            Some(_) => {
                Some(postgres_segment(&row, columns[0].type_())?.ok_or("a segment is NULL")?)
            }
        };
        if let Some(v) = value.filter(|v| v.is_finite()) {
            out.push((segment, v));
        }
    }
    Ok((dim, out))
}

/// A segment value as text, from the integer or text types a segment column usually has.
fn postgres_segment(row: &postgres::Row, ty: &Type) -> Result<Option<String>, String> {
    let text = match *ty {
        Type::INT2 => row
            .try_get::<_, Option<i16>>(0)
            .map(|v| v.map(|i| i.to_string())),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(0)
            .map(|v| v.map(|i| i.to_string())),
        Type::INT8 => row
            .try_get::<_, Option<i64>>(0)
            .map(|v| v.map(|i| i.to_string())),
        _ => row.try_get::<_, Option<String>>(0),
    };
    text.map_err(|e| format!("the segment column: {e}"))
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
    fn passwords_are_redacted() {
        assert_eq!(
            redact_password("postgres://canopy:s3cret@db:5432/x"),
            "postgres://canopy:***@db:5432/x"
        );
        assert_eq!(redact_password("postgres://db/x"), "postgres://db/x");
        assert_eq!(
            redact_password("smtp://u:p@w@host:587?tls=required"),
            "smtp://u:***@host:587?tls=required"
        );
    }
}
