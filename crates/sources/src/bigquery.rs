//! BigQuery: a leaf's GoogleSQL runs through `jobs.query`
//! (`POST /bigquery/v2/projects/PROJECT/queries`), never legacy SQL. `{start}` and `{end}`
//! become the named parameters `@start` and `@end` of type DATE, so a date is never pasted
//! into the text.
//!
//! The credential is a service account's JSON key (the JSON itself, or the path of its file):
//! an RS256 JWT signed with its private key is exchanged at its token URI for an access token
//! of the read-only scope `bigquery.readonly`, again before the hour it lasts ends; or an
//! access token that is ready. A query not complete within `timeoutMs` (`jobComplete: false`)
//! is polled through `jobs.getQueryResults`, which also reads the pages after the first
//! (`pageToken`); past the time limit the job is cancelled, and `jobTimeoutMs` stops it on the
//! server's side too. `endpoint=` in the URL replaces the API's address (a private endpoint).

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::http::{self, Auth, Deadline, Failure, Method, Minted, Service};
use crate::jwt::Signer;
use crate::sql::substitute;
use crate::statement::{self, encoded, Statements, Table, Warehouse, MAX_ROWS, POLL};

/// The scope asked for: reading data and running queries, not writing.
const SCOPE: &str = "https://www.googleapis.com/auth/bigquery.readonly";

/// Rows asked for a page.
const PAGE: u64 = 100_000;

/// The longest a request waits for a query to complete before answering that it has not.
const WAIT: Duration = Duration::from_secs(10);

/// A BigQuery project, ready to query.
pub(crate) struct BigQuery {
    service: Arc<Service>,
    /// `[PATH]/bigquery/v2/projects/PROJECT`.
    root: String,
    location: Option<String>,
}

impl BigQuery {
    /// Reads `bigquery://PROJECT[?location=L&endpoint=URL]`; `credentials` is a service
    /// account's JSON key, the path of its file, or an access token.
    pub(crate) fn new(url: &str, credentials: Option<&str>) -> Result<BigQuery, String> {
        let address = http::address(url)?;
        let (mut location, mut endpoint) = (None, None);
        for (key, value) in &address.query {
            match key.as_str() {
                "location" => location = Some(value.clone()),
                "endpoint" => endpoint = Some(http::endpoint(value)?),
                _ => {
                    return Err(format!(
                        "unknown setting `{key}` in the URL (expected location= or endpoint=)"
                    ))
                }
            }
        }
        if !address.path.is_empty() {
            return Err(
                "expected bigquery://PROJECT, the project's id and nothing after it".into(),
            );
        }
        let project = address.host.clone();
        let api = match endpoint {
            Some(endpoint) => endpoint,
            None => http::endpoint("https://bigquery.googleapis.com")?,
        };
        let secret = credentials.filter(|c| !c.trim().is_empty()).ok_or(
            "BigQuery needs credentials: a service account's JSON key, or an access token",
        )?;
        let authorization = authorization(secret)?;
        let service = Service {
            name: "BigQuery",
            credential: "service account or access token",
            address: api,
            authorization,
            headers: &[],
            secret: secret.to_string(),
            words: error_message,
            agent: http::agent(),
        };
        Ok(BigQuery {
            root: format!(
                "{}/bigquery/v2/projects/{}",
                service.address.path,
                encoded(&project)
            ),
            service: Arc::new(service),
            location,
        })
    }
}

impl Warehouse for BigQuery {
    type Session = BigQuerySession;

    fn session(&self, timeout: Duration) -> BigQuerySession {
        BigQuerySession {
            service: self.service.clone(),
            root: self.root.clone(),
            location: self.location.clone(),
            timeout,
        }
    }
}

/// How requests are authorized: a service account's key exchanged for access tokens, or an
/// access token as it is.
fn authorization(secret: &str) -> Result<Auth, String> {
    let text = secret.trim();
    let json = match text.starts_with('{') {
        true => Some(text.to_string()),
        // The convention of GOOGLE_APPLICATION_CREDENTIALS: the path of the key's file.
        false
            if (text.contains('/') || text.ends_with(".json"))
                && std::path::Path::new(text).is_file() =>
        {
            Some(
                std::fs::read_to_string(text)
                    .map_err(|e| format!("cannot read the credentials file: {e}"))?,
            )
        }
        false => None,
    };
    let Some(json) = json else {
        return Ok(Auth::Header(format!("Bearer {text}")));
    };
    let key: Value = serde_json::from_str(&json).map_err(|_| {
        "the credentials are not JSON (expected a service account's key)".to_string()
    })?;
    match key.get("type").and_then(Value::as_str) {
        Some("service_account") => {}
        other => {
            return Err(format!("credentials of type {} are not read: give a service account's JSON key, or an access token", other.unwrap_or("(none)")))
        }
    }
    let field = |name: &str| {
        key.get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("the service account's key has no `{name}`"))
    };
    let email = field("client_email")?.to_string();
    let token_uri = field("token_uri").unwrap_or("https://oauth2.googleapis.com/token");
    let issuer = Service {
        name: "Google's token endpoint",
        credential: "service account key",
        address: http::endpoint(token_uri)?,
        authorization: Auth::None,
        headers: &[],
        secret: String::new(),
        words: oauth_error,
        agent: http::agent(),
    };
    let account = ServiceAccount {
        signer: Signer::from_pem(field("private_key")?)?,
        key_id: key
            .get("private_key_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        email,
        token_uri: token_uri.to_string(),
        issuer,
    };
    Ok(Auth::Minted(Minted::new(Box::new(move |deadline| {
        account.exchange(deadline)
    }))))
}

/// A service account: what signs its token requests, and where they go.
struct ServiceAccount {
    signer: Signer,
    key_id: Option<String>,
    email: String,
    token_uri: String,
    issuer: Service,
}

impl ServiceAccount {
    /// An access token for a signed request (RFC 7523's JWT bearer grant), as a header, and
    /// how long it lasts.
    fn exchange(&self, deadline: &Deadline) -> Result<(String, Duration), Failure> {
        let now = chrono::Utc::now().timestamp();
        let claims = json!({ "iss": self.email, "scope": SCOPE, "aud": self.token_uri, "iat": now, "exp": now + 3600 });
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.key_id });
        let assertion = (self.signer.token(&header, &claims)).map_err(|message| Failure {
            status: None,
            message,
        })?;
        let form = format!(
            "grant_type={}&assertion={assertion}",
            encoded("urn:ietf:params:oauth:grant-type:jwt-bearer")
        );
        let path = self.issuer.address.path.clone();
        let answer = self
            .issuer
            .call(&Method::Form(&form), &path, &deadline.within(WAIT));
        let answer = answer.map_err(|f| match f.status {
            Some(_) => Failure::refused(format!("{} (for {})", f.message, self.email)),
            None => f,
        })?;
        let token = answer.get("access_token").and_then(Value::as_str);
        let token = token.ok_or_else(|| {
            Failure::refused(format!(
                "{} answered without an access token",
                self.issuer.shown()
            ))
        })?;
        let lasts = answer
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(3600);
        Ok((format!("Bearer {token}"), Duration::from_secs(lasts)))
    }
}

/// The token endpoint's own words: its `error` and `error_description`.
fn oauth_error(body: &Value) -> Option<String> {
    let error = body.get("error").and_then(Value::as_str)?;
    Some(
        match body.get("error_description").and_then(Value::as_str) {
            Some(description) => format!("{error}: {description}"),
            None => error.to_string(),
        },
    )
}

/// BigQuery's own words in an error answer: its `error.message`.
fn error_message(body: &Value) -> Option<String> {
    let message = body.pointer("/error/message").and_then(Value::as_str)?;
    Some(message.to_string())
}

/// One query thread's use of the project.
pub(crate) struct BigQuerySession {
    service: Arc<Service>,
    root: String,
    location: Option<String>,
    timeout: Duration,
}

impl Statements for BigQuerySession {
    /// Runs `query` for `start <= t < end`: sends it, polls it until complete (cancelling the
    /// job past the time limit), and reads every page of its answer.
    fn run(&self, query: &str, start: NaiveDate, end: NaiveDate) -> Result<Table, Failure> {
        let deadline = Deadline::after(self.timeout);
        let body = json!({
            "query": substitute(query, |is_start| match is_start { true => "@start".into(), false => "@end".into() }),
            "useLegacySql": false,
            "parameterMode": "NAMED",
            "queryParameters": parameters(query, start, end),
            "location": self.location,
            "timeoutMs": wait(&deadline),
            "jobTimeoutMs": self.timeout.as_millis() as u64,
            "maxResults": PAGE,
            "formatOptions": { "useInt64Timestamp": true },
        });
        let path = format!("{}/queries", self.root);
        let mut answer = self.service.call(&Method::Post(&body), &path, &deadline)?;
        let mut poll = POLL.0;
        let mut table = Table::default();
        loop {
            let complete = answer.get("jobComplete").and_then(Value::as_bool) != Some(false);
            let job = answer
                .pointer("/jobReference/jobId")
                .and_then(Value::as_str)
                .map(str::to_string);
            if complete {
                self.page(&answer, &mut table)?;
            }
            let token = answer
                .get("pageToken")
                .and_then(Value::as_str)
                .filter(|_| complete);
            if complete && token.is_none() {
                return Ok(table);
            }
            let job = job.ok_or_else(|| self.odd("an incomplete answer without its job"))?;
            if !complete && !deadline.sleep(poll) {
                return Err(self.cancel(&job, &deadline));
            }
            poll = statement::next_wait(poll);
            let results = self.results_path(&job, token, &deadline);
            answer = match self.service.call(&Method::Get, &results, &deadline) {
                Err(f) if f.status.is_none() && deadline.is_passed() => {
                    return Err(self.cancel(&job, &deadline))
                }
                other => other?,
            };
        }
    }

    fn date(text: &str, kind: &str) -> Option<NaiveDate> {
        date(text, kind)
    }
}

impl BigQuerySession {
    /// `jobs.getQueryResults` of `job`, from the page of `token`.
    fn results_path(&self, job: &str, token: Option<&str>, deadline: &Deadline) -> String {
        let mut path = format!(
            "{}/queries/{}?maxResults={PAGE}&timeoutMs={}&formatOptions.useInt64Timestamp=true",
            self.root,
            encoded(job),
            wait(deadline)
        );
        if let Some(location) = &self.location {
            path += &format!("&location={}", encoded(location));
        }
        if let Some(token) = token {
            path += &format!("&pageToken={}", encoded(token));
        }
        path
    }

    /// Adds a complete answer's page to `table`, with the columns on the first.
    fn page(&self, answer: &Value, table: &mut Table) -> Result<(), Failure> {
        let total = answer
            .get("totalRows")
            .and_then(Value::as_str)
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(n) = total.filter(|&n| n > MAX_ROWS) {
            return Err(Failure {
                status: Some(200),
                message: statement::too_many(&self.service.shown(), n),
            });
        }
        if table.columns.is_empty() {
            let fields = answer.pointer("/schema/fields").and_then(Value::as_array);
            let columns = fields.and_then(|fields| {
                let named = fields.iter().map(|f| {
                    let name = f.get("name").and_then(Value::as_str)?;
                    Some((
                        name.to_string(),
                        f.get("type")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_ascii_lowercase(),
                    ))
                });
                named.collect::<Option<Vec<_>>>()
            });
            table.columns =
                columns.ok_or_else(|| self.odd("a result without its columns (schema.fields)"))?;
        }
        let rows = answer
            .get("rows")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for row in rows {
            let cells = row
                .get("f")
                .and_then(Value::as_array)
                .ok_or_else(|| self.odd("a row without its cells"))?;
            table.rows.push(
                cells
                    .iter()
                    .map(|c| c.get("v").cloned().unwrap_or(Value::Null))
                    .collect(),
            );
        }
        Ok(())
    }

    /// The error of an answer that is not one of the API's.
    fn odd(&self, what: &str) -> Failure {
        Failure {
            status: Some(200),
            message: format!("{} answered with {what}", self.service.shown()),
        }
    }

    /// Cancels `job` (past the time limit), and says it ran too long.
    fn cancel(&self, job: &str, deadline: &Deadline) -> Failure {
        let mut path = format!("{}/jobs/{}/cancel", self.root, encoded(job));
        if let Some(location) = &self.location {
            path += &format!("?location={}", encoded(location));
        }
        // The answer does not matter: the job is abandoned either way, and `jobTimeoutMs`
        // stops it if this does not.
        let _ = self.service.call(
            &Method::Post(&json!({})),
            &path,
            &Deadline::after(statement::CANCEL),
        );
        Failure {
            status: None,
            message: deadline.passed(&self.service.shown()),
        }
    }
}

/// The wait a request asks BigQuery for, in milliseconds: short of the time left.
fn wait(deadline: &Deadline) -> u64 {
    let left = deadline.within(WAIT).left_or_zero();
    left.saturating_sub(Duration::from_secs(1)).as_millis() as u64
}

/// The `queryParameters`: `start` and `end` as DATE, those the query uses.
fn parameters(query: &str, start: NaiveDate, end: NaiveDate) -> Vec<Value> {
    let mut used = [false, false];
    substitute(query, |is_start| {
        used[usize::from(!is_start)] = true;
        String::new()
    });
    let named = [("start", start), ("end", end)].into_iter().zip(used);
    let named = named.filter(|(_, used)| *used);
    named
        .map(|((name, day), _)| json!({ "name": name, "parameterType": { "type": "DATE" }, "parameterValue": { "value": day.to_string() } }))
        .collect()
}

/// A `period` cell as the API writes it: a TIMESTAMP as microseconds since 1970 (asked for by
/// `useInt64Timestamp`) or seconds in floating point; DATE, DATETIME and text as ISO 8601.
fn date(text: &str, kind: &str) -> Option<NaiveDate> {
    if kind != "timestamp" {
        return statement::iso_date(text);
    }
    let at = match text.parse::<i64>() {
        Ok(micros) => chrono::DateTime::from_timestamp_micros(micros)?,
        Err(_) => chrono::DateTime::from_timestamp(text.parse::<f64>().ok()?.floor() as i64, 0)?,
    };
    Some(at.date_naive())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_named_date_parameters() {
        let (start, end) = (
            NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
            NaiveDate::from_ymd_opt(2026, 11, 9).unwrap(),
        );
        assert_eq!(
            parameters("select 1 where d >= {start}", start, end),
            [
                json!({ "name": "start", "parameterType": { "type": "DATE" }, "parameterValue": { "value": "2026-11-02" } })
            ]
        );
        assert_eq!(parameters("select 1", start, end).len(), 0);
    }

    #[test]
    fn periods_are_read_as_the_api_writes_them() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 16);
        assert_eq!(date("1794787200000000", "timestamp"), day);
        assert_eq!(date("1.7947872E9", "timestamp"), day);
        assert_eq!(date("2026-11-16", "date"), day);
        assert_eq!(date("2026-11-16T10:00:00", "datetime"), day);
    }

    #[test]
    fn urls_name_a_project_and_credentials_are_read() {
        let bq = BigQuery::new("bigquery://my-project?location=EU", Some("ya29.token")).unwrap();
        assert_eq!(bq.root, "/bigquery/v2/projects/my-project");
        assert_eq!(bq.service.address.base, "https://bigquery.googleapis.com");
        assert_eq!(bq.service.authorization.fixed(), Some("Bearer ya29.token"));
        for (url, credentials, error) in [
            ("bigquery://p/x", Some("t"), "nothing after it"),
            ("bigquery://p?x=1", Some("t"), "unknown setting `x`"),
            ("bigquery://p", None, "needs credentials"),
            (
                "bigquery://p",
                Some("{\"type\": \"authorized_user\"}"),
                "type authorized_user",
            ),
            (
                "bigquery://p",
                Some("{\"type\": \"service_account\"}"),
                "no `client_email`",
            ),
        ] {
            let e = BigQuery::new(url, credentials).err().unwrap();
            assert!(e.contains(error), "{url}: {e}");
        }
    }
}
