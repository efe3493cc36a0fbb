//! Snowflake: a leaf's SQL runs through the SQL API (`POST /api/v2/statements`), logged in by
//! key-pair authentication: a JWT signed with the user's private key, whose issuer names the
//! account, the user and the SHA-256 fingerprint of the public key registered for them. No
//! password is sent, and the token is minted again before its hour ends.
//!
//! `{start}` and `{end}` become positional `?` markers, bound as `bindings` of type TEXT
//! holding the ISO date, which Snowflake casts to the column's date or timestamp type; a date
//! is never pasted into the text. A statement that does not finish within Snowflake's own wait
//! is answered 202 with its handle and polled (`GET /api/v2/statements/HANDLE`), and cancelled
//! past the time limit. A large answer comes in partitions (`resultSetMetaData.partitionInfo`),
//! the first inline and the others fetched by `?partition=N`. Each statement carries the time
//! limit as its `timeout`, runs alone (`multi_statement_count` 1) and in UTC.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::http::{self, Auth, Deadline, Failure, Method, Minted, Service};
use crate::jwt::Signer;
use crate::sql::substitute;
use crate::statement::{self, encoded, Statements, Table, Warehouse, MAX_ROWS, POLL};

/// How long a minted token is good for: Snowflake accepts at most an hour.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// A Snowflake database and schema, ready to query.
pub(crate) struct Snowflake {
    service: Arc<Service>,
    /// The settings of every statement: database, schema, warehouse, role, parameters.
    body: Value,
}

impl Snowflake {
    /// Reads `snowflake://ACCOUNT/DATABASE/SCHEMA[?warehouse=W&role=R&endpoint=URL]`; `user`
    /// logs in with the PEM private key `key`.
    pub(crate) fn new(
        url: &str,
        user: Option<&str>,
        key: Option<&str>,
    ) -> Result<Snowflake, String> {
        let mut address = http::address(url)?;
        let mut body = json!({
            "parameters": { "timezone": "UTC", "multi_statement_count": "1", "query_tag": "canopy" },
        });
        let mut endpoint = None;
        for (name, value) in &address.query {
            match name.as_str() {
                "warehouse" | "role" => body[name] = json!(value),
                "endpoint" => endpoint = Some(http::endpoint(value)?),
                _ => {
                    return Err(format!(
                    "unknown setting `{name}` in the URL (expected warehouse=, role= or endpoint=)"
                ))
                }
            }
        }
        let parts: Vec<&str> = address.path.trim_start_matches('/').split('/').collect();
        let [database, schema] = parts.as_slice() else {
            return Err("expected snowflake://ACCOUNT/DATABASE/SCHEMA".into());
        };
        body["database"] = json!(database);
        body["schema"] = json!(schema);
        let account = address.host.clone();
        address = match endpoint {
            Some(endpoint) => endpoint,
            None => {
                let host = format!(
                    "{}.snowflakecomputing.com",
                    account.to_ascii_lowercase().replace('_', "-")
                );
                http::endpoint(&format!("https://{host}"))?
            }
        };
        let user = user
            .filter(|u| !u.is_empty())
            .ok_or("Snowflake needs the user (user: NAME) whose public key is registered")?;
        let key = key
            .filter(|k| !k.is_empty())
            .ok_or("Snowflake needs the user's private key (key: env:NAME, PEM)")?;
        let signer = Signer::from_pem(key)?;
        let service = Service {
            name: "Snowflake",
            credential: "user and private key (the public key registered with ALTER USER ... SET RSA_PUBLIC_KEY)",
            address,
            authorization: Auth::Minted(Minted::new(Box::new(mint(&account, user, signer)))),
            headers: &[("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT")],
            secret: key.to_string(),
            words: message,
            agent: http::agent(),
        };
        Ok(Snowflake {
            service: Arc::new(service),
            body,
        })
    }
}

impl Warehouse for Snowflake {
    type Session = SnowflakeSession;

    fn session(&self, timeout: Duration) -> SnowflakeSession {
        SnowflakeSession {
            service: self.service.clone(),
            body: self.body.clone(),
            timeout,
        }
    }
}

/// Mints the `Authorization` header of `user` at `account`: a JWT whose issuer is
/// `ACCOUNT.USER.SHA256:fingerprint`. The account is named without its region (the locator
/// before the first `.`), both in capitals, as Snowflake compares them.
fn mint(
    account: &str,
    user: &str,
    signer: Signer,
) -> impl Fn(&Deadline) -> Result<(String, Duration), Failure> + Send + Sync {
    let account = account
        .split('.')
        .next()
        .unwrap_or(account)
        .to_ascii_uppercase();
    let subject = format!("{account}.{}", user.to_ascii_uppercase());
    let issuer = format!("{subject}.{}", signer.fingerprint());
    move |_| {
        let now = chrono::Utc::now().timestamp();
        let claims = json!({
            "iss": issuer,
            "sub": subject,
            "iat": now,
            "exp": now + TOKEN_LIFETIME.as_secs() as i64,
        });
        let token = (signer.token(&json!({ "alg": "RS256", "typ": "JWT" }), &claims)).map_err(
            |message| Failure {
                status: None,
                message,
            },
        )?;
        Ok((format!("Bearer {token}"), TOKEN_LIFETIME))
    }
}

/// Snowflake's own words in an error answer: its `message`, and its code.
fn message(body: &Value) -> Option<String> {
    let message = body.get("message").and_then(Value::as_str)?;
    Some(match body.get("code").and_then(Value::as_str) {
        Some(code) => format!("{message} (code {code})"),
        None => message.to_string(),
    })
}

/// One query thread's use of the connection.
pub(crate) struct SnowflakeSession {
    service: Arc<Service>,
    body: Value,
    timeout: Duration,
}

const STATEMENTS: &str = "/api/v2/statements";

impl Statements for SnowflakeSession {
    /// Runs `query` for `start <= t < end`: sends it, polls it while it runs (cancelling it
    /// past the time limit), and reads every partition of its answer.
    fn run(&self, query: &str, start: NaiveDate, end: NaiveDate) -> Result<Table, Failure> {
        let deadline = Deadline::after(self.timeout);
        let (text, bindings) = bindings(query, start, end);
        let mut body = self.body.clone();
        body["statement"] = json!(text);
        body["bindings"] = bindings;
        body["timeout"] = json!(self.timeout.as_secs().max(1));
        let mut answer = self
            .service
            .call(&Method::Post(&body), STATEMENTS, &deadline)?;
        let mut wait = POLL.0;
        while answer.get("resultSetMetaData").is_none() {
            let Some(handle) = answer.get("statementHandle").and_then(Value::as_str) else {
                return Err(self.odd("neither a result nor a statement handle"));
            };
            let status = format!("{STATEMENTS}/{}", encoded(handle));
            if !deadline.sleep(wait) {
                return Err(self.cancel(&status, &deadline));
            }
            wait = statement::next_wait(wait);
            answer = match self.service.call(&Method::Get, &status, &deadline) {
                Err(f) if f.status.is_none() && deadline.is_passed() => {
                    return Err(self.cancel(&status, &deadline))
                }
                other => other?,
            };
        }
        self.table(&answer, &deadline)
    }

    fn date(text: &str, kind: &str) -> Option<NaiveDate> {
        date(text, kind)
    }
}

impl SnowflakeSession {
    /// The error of an answer that is not one of the SQL API's.
    fn odd(&self, what: &str) -> Failure {
        Failure {
            status: Some(200),
            message: format!("{} answered with {what}", self.service.shown()),
        }
    }

    /// Cancels the statement at `status` (past the time limit), and says it ran too long.
    fn cancel(&self, status: &str, deadline: &Deadline) -> Failure {
        let cancel = Deadline::after(statement::CANCEL);
        // The answer does not matter: the statement is abandoned either way.
        let _ = (self.service).call(
            &Method::Post(&json!({})),
            &format!("{status}/cancel"),
            &cancel,
        );
        Failure {
            status: None,
            message: deadline.passed(&self.service.shown()),
        }
    }

    /// The columns of a finished statement and the rows of all its partitions.
    fn table(&self, answer: &Value, deadline: &Deadline) -> Result<Table, Failure> {
        let meta = &answer["resultSetMetaData"];
        let rows = meta.get("numRows").and_then(Value::as_u64).unwrap_or(0);
        if rows > MAX_ROWS {
            return Err(Failure {
                status: Some(200),
                message: statement::too_many(&self.service.shown(), rows),
            });
        }
        let columns = (meta.get("rowType").and_then(Value::as_array))
            .and_then(|columns| {
                let named = columns.iter().map(|c| {
                    let name = c.get("name").and_then(Value::as_str)?;
                    let kind = c.get("type").and_then(Value::as_str).unwrap_or("");
                    Some((name.to_string(), kind.to_ascii_lowercase()))
                });
                named.collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| self.odd("a result without its columns (resultSetMetaData.rowType)"))?;
        let mut table = Table {
            columns,
            rows: data(answer),
        };
        let partitions = meta
            .get("partitionInfo")
            .and_then(Value::as_array)
            .map_or(1, Vec::len);
        let handle = answer.get("statementHandle").and_then(Value::as_str);
        for partition in 1..partitions {
            let handle = handle.ok_or_else(|| self.odd("partitions but no statement handle"))?;
            let path = format!("{STATEMENTS}/{}?partition={partition}", encoded(handle));
            let more = self.service.call(&Method::Get, &path, deadline)?;
            table.rows.extend(data(&more));
        }
        Ok(table)
    }
}

/// The rows of a partition.
fn data(answer: &Value) -> Vec<Vec<Value>> {
    let rows = answer.get("data").and_then(Value::as_array);
    let rows = rows.into_iter().flatten();
    rows.map(|r| r.as_array().cloned().unwrap_or_default())
        .collect()
}

/// The statement with `{start}` and `{end}` as `?`, and its bindings in order: TEXT holding
/// the ISO date.
fn bindings(query: &str, start: NaiveDate, end: NaiveDate) -> (String, Value) {
    let mut bound = serde_json::Map::new();
    let text = substitute(query, |is_start| {
        let day = if is_start { start } else { end };
        let n = bound.len() + 1;
        bound.insert(
            n.to_string(),
            json!({ "type": "TEXT", "value": day.to_string() }),
        );
        "?".to_string()
    });
    (text, Value::Object(bound))
}

/// A `period` cell as the SQL API writes it: a DATE as days since 1970, a TIMESTAMP as
/// seconds since 1970 in UTC (with the zone's offset after a space for TIMESTAMP_TZ), text as
/// ISO 8601.
fn date(text: &str, kind: &str) -> Option<NaiveDate> {
    let epoch = NaiveDate::default();
    match kind {
        "date" => epoch.checked_add_signed(chrono::Duration::days(text.trim().parse().ok()?)),
        k if k.starts_with("timestamp") => {
            let seconds: f64 = text.split_whitespace().next()?.parse().ok()?;
            let at = chrono::DateTime::from_timestamp(seconds.floor() as i64, 0)?;
            Some(at.date_naive())
        }
        _ => statement::iso_date(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_positional_text_bindings_in_order_of_use() {
        let (start, end) = (
            NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 9).unwrap(),
        );
        let (text, bound) = bindings("d >= {start} and d < {end} or e >= {start}", start, end);
        assert_eq!(text, "d >= ? and d < ? or e >= ?");
        assert_eq!(
            bound,
            json!({
                "1": { "type": "TEXT", "value": "2026-11-02" },
                "2": { "type": "TEXT", "value": "2026-11-09" },
                "3": { "type": "TEXT", "value": "2026-11-02" },
            })
        );
    }

    #[test]
    fn periods_are_read_as_the_sql_api_writes_them() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 16);
        assert_eq!(date("20773", "date"), day);
        assert_eq!(date("1794787200.000000000", "timestamp_ntz"), day);
        assert_eq!(date("1794787200.000000000 1500", "timestamp_tz"), day);
        assert_eq!(date("2026-11-16", "text"), day);
        assert_eq!(date("soon", "date"), None);
    }

    #[test]
    fn urls_name_a_schema_and_need_a_user_and_a_key() {
        for (url, user, error) in [
            ("snowflake://acme/DB", Some("u"), "ACCOUNT/DATABASE/SCHEMA"),
            (
                "snowflake://acme/DB/S?x=1",
                Some("u"),
                "unknown setting `x`",
            ),
            (
                "snowflake://acme/DB/S?endpoint=http://example.com",
                Some("u"),
                "loopback hosts only",
            ),
            ("snowflake://acme/DB/S", None, "needs the user"),
        ] {
            let e = Snowflake::new(url, user, Some("k")).err().unwrap();
            assert!(e.contains(error), "{url}: {e}");
        }
        let e = Snowflake::new("snowflake://acme/DB/S", Some("u"), None)
            .err()
            .unwrap();
        assert!(e.contains("private key"), "{e}");
    }
}
