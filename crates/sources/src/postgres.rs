//! PostgreSQL (and Postgres-wire warehouses): TLS by rustls with libpq's `sslmode`, a
//! read-only session in UTC with a statement timeout, each query in a read-only transaction
//! that is rolled back, each statement prepared once per session.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use postgres::types::{ToSql, Type};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::sql::{chain, finite, placeholders, Connector, Row, Session, Shape, Stage};
use crate::tls::{self, SslMode};

/// A PostgreSQL server, ready to connect to.
pub(crate) struct Postgres {
    config: Box<postgres::Config>,
    mode: SslMode,
    connector: MakeRustlsConnect,
}

impl Postgres {
    /// Reads a PostgreSQL URL with libpq's `sslmode` and `sslrootcert`; `user` and
    /// `password`, when given, replace the URL's.
    pub(crate) fn new(
        url: &str,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<Postgres, String> {
        let split = tls::split(url, SslMode::Prefer)?;
        let mut config: postgres::Config = split.rest.parse().map_err(|e| chain(&e))?;
        config.ssl_mode(split.mode.wire());
        if let Some(user) = user {
            config.user(user);
        }
        if let Some(password) = password {
            config.password(password);
        }
        let connector = tls::connector(split.mode, split.root_cert.as_deref())?;
        Ok(Postgres {
            config: Box::new(config),
            mode: split.mode,
            connector,
        })
    }
}

impl Postgres {
    /// A read-only session in UTC whose statements stop after `timeout`, or why not, with
    /// refused credentials (SQLSTATE class 28) told apart from the rest.
    fn session(&self, timeout: Duration) -> Result<PostgresSession, (Stage, String)> {
        let mut client = self.config.connect(self.connector.clone()).map_err(|e| {
            let refused = (e.code()).is_some_and(|c| c.code().starts_with("28"));
            let stage = if refused {
                Stage::Authenticate
            } else {
                Stage::Reach
            };
            (stage, chain(&e))
        })?;
        // UTC, as the bounds are bound: a `timestamptz` bound is midnight UTC, and a range
        // query's `date_trunc` on one truncates in the session's time zone.
        let setup = format!(
            "set default_transaction_read_only = on; set statement_timeout = {}; set time zone 'UTC'",
            timeout.as_millis()
        );
        (client.batch_execute(&setup)).map_err(|e| (Stage::Permit, pg_error(&e)))?;
        Ok(PostgresSession {
            client: Box::new(client),
            statements: HashMap::new(),
        })
    }
}

impl Connector for Postgres {
    fn connect(&self, timeout: Duration) -> Result<Box<dyn Session>, String> {
        let session = self.session(timeout).map_err(|(_, e)| e)?;
        Ok(Box::new(session))
    }

    fn suffix(&self) -> String {
        format!(" (sslmode={})", self.mode.name())
    }

    fn probe(&self, timeout: Duration) -> Result<(), (Stage, String)> {
        let mut session = self.session(timeout)?;
        let denied = |e: String| (Stage::Permit, e);
        session.columns("select 1").map(|_| ()).map_err(denied)
    }
}

/// One session.
struct PostgresSession {
    client: Box<postgres::Client>,
    /// Each query prepared once, with the bound each parameter takes (`true`: start).
    statements: HashMap<String, (postgres::Statement, Vec<bool>)>,
}

impl Session for PostgresSession {
    fn columns(&mut self, sql: &str) -> Result<Vec<String>, String> {
        let (stmt, _) = pg_statement(&mut self.client, &mut self.statements, sql)?;
        Ok(stmt
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect())
    }

    fn rows(
        &mut self,
        sql: &str,
        shape: &Shape,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<Row>, String> {
        let (stmt, order) = pg_statement(&mut self.client, &mut self.statements, sql)?;
        let bounds: Vec<NaiveDate> = order.iter().map(|&s| if s { start } else { end }).collect();
        postgres_query(&mut self.client, &stmt, shape, &bounds)
    }
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
                segment: shape.segment(|i| {
                    pg_segment(row, i, columns[i].type_())?.ok_or("a segment is NULL".into())
                })?,
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
