//! PostHog: a leaf's HogQL runs through the project's query API
//! (`POST /api/projects/ID/query/`, kind `HogQLQuery`), authorized by a personal API key.
//! `{start}` and `{end}` stay in the text as HogQL placeholders and travel as the query's
//! `values`, so a date is never pasted into the query.
//!
//! An answer that says it has more rows (`hasMore`) is an error, never a silent truncation.
//! An asynchronous answer (a `query_status` not yet complete) is polled until it completes,
//! within the time limit. PostHog runs at most 3 queries of a project at once, so a
//! connection opens at most 3 sessions. PostHog has no way to describe a query's columns:
//! they are read from the query run once on an empty range (`{start}` equal to `{end}`).

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::http::{self, Deadline, Method, Service};
use crate::sql::{finite, Connector, Row, Session, Shape, Stage};

/// The queries PostHog runs at once for one project, at most (its documented limit).
const MAX_CONCURRENT: usize = 3;

/// The first and the longest wait between polls of an asynchronous query.
const POLL: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(2));

/// A PostHog project, ready to query.
pub(crate) struct PostHog {
    service: Arc<Service>,
    /// `/api/projects/ID/query/`.
    endpoint: String,
}

impl PostHog {
    /// Reads `posthog://HOST/projects/ID`; `key` is the personal API key.
    pub(crate) fn new(url: &str, key: Option<&str>) -> Result<PostHog, String> {
        let address = http::address(url)?;
        if let Some((k, _)) = address.query.first() {
            return Err(format!("unknown setting `{k}` in the URL (expected scheme=http for a loopback test server, or nothing)"));
        }
        let project = address
            .path
            .strip_prefix("/projects/")
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
            .ok_or("expected posthog://HOST/projects/ID, with the project's number")?
            .to_string();
        let key = key
            .filter(|k| !k.is_empty())
            .ok_or("PostHog needs a personal API key (with the query:read scope)")?;
        let service = Service {
            name: "PostHog",
            credential: "personal API key",
            address,
            authorization: http::Auth::Header(format!("Bearer {key}")),
            headers: &[],
            secret: key.to_string(),
            words: detail,
            agent: http::agent(),
        };
        Ok(PostHog {
            service: Arc::new(service),
            endpoint: format!("/api/projects/{project}/query/"),
        })
    }
}

impl Connector for PostHog {
    fn connect(&self, timeout: Duration) -> Result<Box<dyn Session>, String> {
        Ok(Box::new(PostHogSession {
            service: self.service.clone(),
            endpoint: self.endpoint.clone(),
            timeout,
        }))
    }

    fn max_sessions(&self) -> usize {
        MAX_CONCURRENT
    }

    /// `select 1` through the project's query API: what its answer's status says.
    fn probe(&self, timeout: Duration) -> Result<(), (Stage, String)> {
        let body = json!({ "query": { "kind": "HogQLQuery", "query": "select 1" } });
        let deadline = Deadline::after(timeout);
        (self
            .service
            .call(&Method::Post(&body), &self.endpoint, &deadline))
        .map(|_| ())
        .map_err(|f| (f.stage(), f.message))
    }
}

/// PostHog's own words in an error answer: its `detail`.
fn detail(body: &Value) -> Option<String> {
    body.get("detail")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// One query thread's use of a project.
struct PostHogSession {
    service: Arc<Service>,
    endpoint: String,
    timeout: Duration,
}

/// A query's answer: the columns' names and the rows.
struct Answer {
    columns: Vec<String>,
    results: Vec<Value>,
}

impl Session for PostHogSession {
    fn columns(&mut self, query: &str) -> Result<Vec<String>, String> {
        let day = crate::sql::empty_range();
        Ok(self.run(query, day, day)?.columns)
    }

    fn rows(
        &mut self,
        query: &str,
        shape: &Shape,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<Row>, String> {
        let answer = self.run(query, start, end)?;
        let width = answer.columns.len();
        answer
            .results
            .iter()
            .map(|r| match r.as_array() {
                Some(cells) if cells.len() == width => row(cells, shape),
                _ => Err(format!(
                    "a row of PostHog's answer is not a list of {width} values"
                )),
            })
            .collect()
    }
}

impl PostHogSession {
    /// Runs `query` for `start <= t < end`, polling an asynchronous answer to its end.
    fn run(&self, query: &str, start: NaiveDate, end: NaiveDate) -> Result<Answer, String> {
        let deadline = Deadline::after(self.timeout);
        let body = json!({
            "query": {
                "kind": "HogQLQuery",
                "query": query,
                "values": { "start": start.to_string(), "end": end.to_string() },
            }
        });
        let call = |method: &Method<'_>, path: &str| {
            self.service
                .call(method, path, &deadline)
                .map_err(|f| f.message)
        };
        let mut answer = call(&Method::Post(&body), &self.endpoint)?;
        let mut wait = POLL.0;
        loop {
            match self.status(&answer)? {
                Status::Done(response) => return self.answer(response),
                Status::Running(id) => {
                    if !deadline.sleep(wait) {
                        return Err(deadline.passed(&self.service.shown()));
                    }
                    wait = (wait * 2).min(POLL.1);
                    let path = format!("{}{}/", self.endpoint, path_segment(&id));
                    answer = call(&Method::Get, &path)?;
                }
            }
        }
    }

    /// Whether `answer` is a result, or a query still running (by its id).
    fn status(&self, answer: &Value) -> Result<Status, String> {
        let Some(status) = answer.get("query_status").filter(|s| !s.is_null()) else {
            return Ok(Status::Done(answer.clone()));
        };
        if status.get("error").and_then(Value::as_bool) == Some(true) {
            let said = status.get("error_message").and_then(Value::as_str);
            return Err(format!(
                "{}: the query failed: {}",
                self.service.shown(),
                self.service.quote(said.unwrap_or_default())
            ));
        }
        if status.get("complete").and_then(Value::as_bool) == Some(true) {
            let results = status.get("results").cloned().unwrap_or(Value::Null);
            return Ok(Status::Done(results));
        }
        match status.get("id").and_then(Value::as_str) {
            Some(id) => Ok(Status::Running(id.to_string())),
            None => Err(format!(
                "{} answered a running query without its id",
                self.service.shown()
            )),
        }
    }

    /// The columns and rows of a complete answer; more rows than it holds are an error.
    fn answer(&self, response: Value) -> Result<Answer, String> {
        let shown = self.service.shown();
        if response.get("hasMore").and_then(Value::as_bool) == Some(true) {
            return Err(format!("{shown} answered with only part of the rows (hasMore): aggregate in the query so that it returns fewer rows, or add a LIMIT (PostHog sends 100 rows without one)"));
        }
        let columns = response
            .get("columns")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().map(|n| n.as_str().map(str::to_string)).collect())
            .ok_or_else(|| format!("{shown} answered without the columns' names"))?;
        let results = match response.get("results") {
            Some(Value::Array(rows)) => rows.clone(),
            _ => return Err(format!("{shown} answered without results")),
        };
        Ok(Answer { columns, results })
    }
}

/// Where a query is.
enum Status {
    Done(Value),
    Running(String),
}

/// A query id as one segment of a path.
fn path_segment(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// One row of PostHog's answer, read as `shape` says.
fn row(cells: &[Value], shape: &Shape) -> Result<Row, String> {
    let value = crate::sql::json_value(&cells[shape.value])?;
    let segment = shape.segment(|i| crate::sql::json_segment(&cells[i]))?;
    let date = match shape.period {
        None => None,
        Some(i) => {
            let text = cells[i]
                .as_str()
                .ok_or("a row has a period that is not a date")?;
            let date = text.get(..10).and_then(|d| d.parse::<NaiveDate>().ok());
            Some(date.ok_or_else(|| format!("the period column holds `{text}`, not an ISO date"))?)
        }
    };
    Ok(Row {
        date,
        segment,
        value: finite(value)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_project_and_need_a_key() {
        let ph = PostHog::new("posthog://eu.posthog.com/projects/12345", Some("phx_k")).unwrap();
        assert_eq!(ph.endpoint, "/api/projects/12345/query/");
        assert_eq!(ph.service.address.base, "https://eu.posthog.com");
        for (url, key, error) in [
            (
                "posthog://eu.posthog.com/projects/abc",
                Some("k"),
                "project's number",
            ),
            ("posthog://eu.posthog.com", Some("k"), "project's number"),
            (
                "posthog://eu.posthog.com/projects/1",
                None,
                "personal API key",
            ),
            (
                "posthog://eu.posthog.com/projects/1?x=1",
                Some("k"),
                "unknown setting `x`",
            ),
        ] {
            let e = PostHog::new(url, key).err().unwrap();
            assert!(e.contains(error), "{url}: {e}");
        }
    }

    #[test]
    fn rows_read_numbers_text_and_dates() {
        let shape = Shape {
            period: Some(0),
            segments: vec![(1, "plan".into())],
            value: 2,
        };
        let r = row(
            &[json!("2026-11-16T00:00:00Z"), json!(7), json!("3.5")],
            &shape,
        )
        .unwrap();
        assert_eq!(r.date, NaiveDate::from_ymd_opt(2026, 11, 16));
        assert_eq!(
            (r.segment.first().map(String::as_str), r.value),
            (Some("7"), Some(3.5))
        );
        let r = row(&[json!("2026-11-16"), json!("pro"), Value::Null], &shape).unwrap();
        assert_eq!(r.value, None);
        let e = row(&[json!("soon"), json!("pro"), json!(1)], &shape)
            .err()
            .unwrap();
        assert!(e.contains("`soon`, not an ISO date"), "{e}");
        let e = row(&[json!("2026-11-16"), Value::Null, json!(1)], &shape)
            .err()
            .unwrap();
        assert!(e.contains("NULL"), "{e}");
    }
}
