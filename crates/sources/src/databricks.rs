//! Databricks: a leaf's SQL runs on a SQL warehouse through the SQL Statement Execution API
//! (`POST /api/2.0/sql/statements`), authorized by a personal access token or a service
//! principal's OAuth token. `{start}` and `{end}` become the named markers `:start` and
//! `:end`, sent as `parameters` of type DATE, so a date is never pasted into the text.
//!
//! A statement waits on the server up to `wait_timeout`, then is polled
//! (`GET /api/2.0/sql/statements/ID`) until it succeeds or fails, and cancelled
//! (`POST .../cancel`) when it runs past the time limit. Answers are JSON arrays of strings,
//! inline, in chunks followed by their links; `row_limit` caps them, and a truncated answer is
//! an error. Columns come from the answer's manifest, read from a run on an empty range.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::http::{self, Auth, Deadline, Failure, Method, Service};
use crate::sql::substitute;
use crate::statement::{self, encoded, Statements, Table, Warehouse, MAX_ROWS, POLL};

/// The longest a statement waits on the server before the answer says it is still running
/// (the API allows 5 to 50 s); polls follow.
const WAIT: Duration = Duration::from_secs(30);

/// A Databricks SQL warehouse, ready to query.
pub(crate) struct Databricks {
    service: Arc<Service>,
    warehouse: String,
    /// The default catalog and schema of unqualified names (`?catalog=`, `?schema=`).
    catalog: Option<String>,
    schema: Option<String>,
}

impl Databricks {
    /// Reads `databricks://HOST/warehouses/ID[?catalog=C&schema=S]`; `token` is the access
    /// token.
    pub(crate) fn new(url: &str, token: Option<&str>) -> Result<Databricks, String> {
        let address = http::address(url)?;
        let (mut catalog, mut schema) = (None, None);
        for (key, value) in &address.query {
            match key.as_str() {
                "catalog" => catalog = Some(value.clone()),
                "schema" => schema = Some(value.clone()),
                _ => return Err(format!("unknown setting `{key}` in the URL (expected catalog=, schema=, or scheme=http for a loopback test server)")),
            }
        }
        let warehouse = (address.path.strip_prefix("/warehouses/"))
            .or_else(|| address.path.strip_prefix("/sql/1.0/warehouses/"))
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
            .ok_or("expected databricks://HOST/warehouses/ID, with the SQL warehouse's id")?
            .to_string();
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or("Databricks needs an access token (token: env:NAME)")?;
        let service = Service {
            name: "Databricks",
            credential: "access token",
            address,
            authorization: Auth::Header(format!("Bearer {token}")),
            headers: &[],
            secret: token.to_string(),
            words: error_message,
            agent: http::agent(),
        };
        Ok(Databricks {
            service: Arc::new(service),
            warehouse,
            catalog,
            schema,
        })
    }
}

impl Warehouse for Databricks {
    type Session = DatabricksSession;

    fn session(&self, timeout: Duration) -> DatabricksSession {
        DatabricksSession {
            service: self.service.clone(),
            body: json!({
                "warehouse_id": self.warehouse,
                "catalog": self.catalog,
                "schema": self.schema,
                "format": "JSON_ARRAY",
                "disposition": "INLINE",
                "on_wait_timeout": "CONTINUE",
                "row_limit": MAX_ROWS,
            }),
            timeout,
        }
    }
}

/// Databricks' own words in an error answer: its `error_code` and `message`.
fn error_message(body: &Value) -> Option<String> {
    let message = body.get("message").and_then(Value::as_str)?;
    Some(match body.get("error_code").and_then(Value::as_str) {
        Some(code) => format!("{code}: {message}"),
        None => message.to_string(),
    })
}

/// One query thread's use of a warehouse: the settings of every statement it sends.
pub(crate) struct DatabricksSession {
    service: Arc<Service>,
    body: Value,
    timeout: Duration,
}

impl Statements for DatabricksSession {
    /// Runs `query` for `start <= t < end`: sends it, polls it to its end (cancelling it past
    /// the time limit), and reads every chunk of its answer.
    fn run(&self, query: &str, start: NaiveDate, end: NaiveDate) -> Result<Table, Failure> {
        let deadline = Deadline::after(self.timeout);
        let mut body = self.body.clone();
        body["statement"] = json!(substitute(query, |is_start| match is_start {
            true => ":start".into(),
            false => ":end".into(),
        }));
        body["parameters"] = json!(parameters(query, start, end));
        body["wait_timeout"] = json!(wait_timeout(self.timeout));
        let path = "/api/2.0/sql/statements";
        let mut answer = self.service.call(&Method::Post(&body), path, &deadline)?;
        let mut wait = POLL.0;
        loop {
            let id = answer.get("statement_id").and_then(Value::as_str);
            let state = answer.pointer("/status/state").and_then(Value::as_str);
            match (state, id) {
                (Some("SUCCEEDED"), _) => return self.table(&answer, &deadline),
                (Some("PENDING" | "RUNNING"), Some(id)) => {
                    let status = format!("{path}/{}", encoded(id));
                    if !deadline.sleep(wait) {
                        return Err(self.cancel(&status, &deadline));
                    }
                    wait = statement::next_wait(wait);
                    answer = (self.service.call(&Method::Get, &status, &deadline))
                        .map_err(|f| self.cancelled_if_late(f, &status, &deadline))?;
                }
                _ => return Err(self.failed(&answer)),
            }
        }
    }

    fn date(text: &str, _: &str) -> Option<NaiveDate> {
        statement::iso_date(text)
    }
}

impl DatabricksSession {
    /// The failure of a statement that ended other than in success, in Databricks' words.
    fn failed(&self, answer: &Value) -> Failure {
        let state = answer.pointer("/status/state").and_then(Value::as_str);
        let said = answer.pointer("/status/error").and_then(error_message);
        let message = format!(
            "{}: the statement {}: {}",
            self.service.shown(),
            match state {
                Some(state) => format!("ended {state}"),
                None => "has no state in the answer".into(),
            },
            self.service.quote(&said.unwrap_or_default())
        );
        Failure {
            status: Some(200),
            message,
        }
    }

    /// Cancels the statement at `status` (past the time limit), and says it ran too long.
    fn cancel(&self, status: &str, deadline: &Deadline) -> Failure {
        let cancel = Deadline::after(statement::CANCEL);
        // The answer does not matter: the statement is abandoned either way.
        let _ = self.service.call(
            &Method::Post(&json!({})),
            &format!("{status}/cancel"),
            &cancel,
        );
        Failure {
            status: None,
            message: deadline.passed(&self.service.shown()),
        }
    }

    /// `failure`, after cancelling the statement if it came from passing the time limit.
    fn cancelled_if_late(&self, failure: Failure, status: &str, deadline: &Deadline) -> Failure {
        match failure.status.is_none() && deadline.is_passed() {
            true => self.cancel(status, deadline),
            false => failure,
        }
    }

    /// The columns of a finished statement and the rows of all its chunks.
    fn table(&self, answer: &Value, deadline: &Deadline) -> Result<Table, Failure> {
        let shown = self.service.shown();
        let bad = |what: &str| Failure {
            status: Some(200),
            message: format!("{shown} answered without {what}"),
        };
        if answer
            .pointer("/manifest/truncated")
            .and_then(Value::as_bool)
            == Some(true)
        {
            let rows = answer.pointer("/manifest/total_row_count").cloned();
            return Err(Failure {
                status: Some(200),
                message: statement::too_many(&shown, rows.unwrap_or(json!(MAX_ROWS))),
            });
        }
        let columns = answer
            .pointer("/manifest/schema/columns")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("the columns (manifest.schema.columns)"))?;
        let columns = columns
            .iter()
            .map(|c| {
                let name = c.get("name").and_then(Value::as_str)?;
                let kind = c.get("type_name").and_then(Value::as_str).unwrap_or("");
                Some((name.to_string(), kind.to_ascii_lowercase()))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("each column's name"))?;
        let mut table = Table {
            columns,
            rows: Vec::new(),
        };
        let mut chunk = answer.get("result").cloned().unwrap_or(Value::Null);
        loop {
            if let Some(rows) = chunk.get("data_array").and_then(Value::as_array) {
                let rows = rows
                    .iter()
                    .map(|r| r.as_array().cloned().unwrap_or_default());
                table.rows.extend(rows);
            }
            let Some(next) = chunk
                .get("next_chunk_internal_link")
                .and_then(Value::as_str)
            else {
                return Ok(table);
            };
            if !next.starts_with("/api/2.0/sql/statements/") {
                return Err(bad("a link to its next chunk on the same host"));
            }
            chunk = self.service.call(&Method::Get, next, deadline)?;
        }
    }
}

/// The `parameters` of a statement: `start` and `end` as DATE, those the query uses.
fn parameters(query: &str, start: NaiveDate, end: NaiveDate) -> Vec<Value> {
    let (mut uses_start, mut uses_end) = (false, false);
    substitute(query, |is_start| {
        match is_start {
            true => uses_start = true,
            false => uses_end = true,
        }
        String::new()
    });
    let mut out = Vec::new();
    for (used, name, day) in [(uses_start, "start", start), (uses_end, "end", end)] {
        if used {
            out.push(json!({ "name": name, "value": day.to_string(), "type": "DATE" }));
        }
    }
    out
}

/// The wait on the server: within the API's 5 to 50 s and the time limit, or none (`0s`,
/// answer at once and be polled) when the time limit is shorter than the least wait.
fn wait_timeout(timeout: Duration) -> String {
    // A second short of the time limit, so that the server answers before the client stops
    // waiting and the statement's id is known for cancelling it.
    let secs = timeout
        .saturating_sub(Duration::from_secs(1))
        .min(WAIT)
        .as_secs();
    match secs {
        0..=5 => "0s".to_string(),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_warehouse_and_need_a_token() {
        let db = Databricks::new(
            "databricks://dbc-123.cloud.databricks.com/warehouses/abc123?catalog=main",
            Some("dapi"),
        )
        .unwrap();
        assert_eq!(db.warehouse, "abc123");
        assert_eq!(db.catalog.as_deref(), Some("main"));
        assert_eq!(
            db.service.address.base,
            "https://dbc-123.cloud.databricks.com"
        );
        for (url, token, error) in [
            ("databricks://h/warehouses/", Some("t"), "warehouse's id"),
            ("databricks://h/clusters/1", Some("t"), "warehouse's id"),
            ("databricks://h/warehouses/a", None, "access token"),
            (
                "databricks://h/warehouses/a?x=1",
                Some("t"),
                "unknown setting `x`",
            ),
        ] {
            let e = Databricks::new(url, token).err().unwrap();
            assert!(e.contains(error), "{url}: {e}");
        }
    }

    #[test]
    fn bounds_are_named_date_parameters_of_the_markers_used() {
        let (start, end) = (
            NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 9).unwrap(),
        );
        assert_eq!(
            parameters("select 1 where d < {end} or d < {end}", start, end),
            [json!({ "name": "end", "value": "2026-11-09", "type": "DATE" })]
        );
        assert_eq!(parameters("select 1", start, end).len(), 0);
        assert_eq!(wait_timeout(Duration::from_secs(300)), "30s");
        assert_eq!(wait_timeout(Duration::from_secs(12)), "11s");
        assert_eq!(wait_timeout(Duration::from_secs(6)), "0s");
    }
}
