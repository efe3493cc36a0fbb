//! Jira: a leaf's JQL counted per period. Jira Cloud counts by
//! `POST /rest/api/3/search/approximate-count`; Jira Data Center, which has no such
//! endpoint, by the `total` of `POST /rest/api/2/search` with `maxResults: 0` (chosen by
//! `?api=2` in the URL, or after the Cloud endpoint answers 404). JQL has no parameters:
//! `{start}` and `{end}` are written into the text as quoted dates by [`jql_date`], the one
//! place a value enters a query. A leaf always has one column, `count`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use chrono::{Datelike, NaiveDate};
use serde_json::{json, Value};

use crate::http::{self, Deadline, Method, Service};
use crate::sql::{Connector, Row, Session, Shape, Stage};

/// Which search API counts issues.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Api {
    /// Cloud's approximate count (REST API v3).
    Cloud,
    /// Data Center's search total (REST API v2).
    DataCenter,
}

/// A Jira site, ready to count issues.
pub(crate) struct Jira {
    service: Arc<Service>,
    api: Api,
}

impl Jira {
    /// Reads `jira://SITE[/CONTEXT][?api=2]`. With `user`, the secret is an API token sent
    /// with it as Basic authentication; without, it is a Data Center personal access token,
    /// sent as a Bearer token.
    pub(crate) fn new(url: &str, user: Option<&str>, secret: Option<&str>) -> Result<Jira, String> {
        let address = http::address(url)?;
        let mut api = Api::Cloud;
        for (key, value) in &address.query {
            match (key.as_str(), value.as_str()) {
                ("api", "3") => api = Api::Cloud,
                ("api", "2") => api = Api::DataCenter,
                _ => return Err(format!("unknown setting `{key}={value}` in the URL (expected api=2 or api=3, or scheme=http for a loopback test server)")),
            }
        }
        let secret = secret
            .filter(|s| !s.is_empty())
            .ok_or("Jira needs an API token (and the user's email on Jira Cloud)")?;
        let authorization = match user.filter(|u| !u.is_empty()) {
            Some(user) => {
                let pair =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
                format!("Basic {pair}")
            }
            None => format!("Bearer {secret}"),
        };
        let service = Service {
            name: "Jira",
            credential: "user and API token",
            address,
            authorization: http::Auth::Header(authorization),
            headers: &[],
            secret: secret.to_string(),
            words: error_messages,
            agent: http::agent(),
        };
        Ok(Jira {
            service: Arc::new(service),
            api,
        })
    }
}

impl Connector for Jira {
    fn connect(&self, timeout: Duration) -> Result<Box<dyn Session>, String> {
        Ok(Box::new(self.session(timeout)))
    }

    /// Counts every issue created since 1970 (a count reads, as leaves do): what its
    /// answer's status says.
    fn probe(&self, timeout: Duration) -> Result<(), (Stage, String)> {
        let mut session = self.session(timeout);
        let deadline = Deadline::after(timeout);
        (session.counted(r#"created >= "1970-01-01""#, &deadline))
            .map(|_| ())
            .map_err(|f| (f.stage(), f.message))
    }
}

impl Jira {
    fn session(&self, timeout: Duration) -> JiraSession {
        JiraSession {
            service: self.service.clone(),
            api: self.api,
            timeout,
        }
    }
}

/// Jira's own words in an error answer: its `errorMessages`, then its `errors` by field.
fn error_messages(body: &Value) -> Option<String> {
    let mut said: Vec<String> = body
        .get("errorMessages")
        .and_then(Value::as_array)
        .map(|m| {
            m.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(errors) = body.get("errors").and_then(Value::as_object) {
        said.extend(
            errors
                .iter()
                .map(|(field, e)| format!("{field}: {}", e.as_str().unwrap_or_default())),
        );
    }
    (!said.is_empty()).then(|| said.join("; "))
}

/// One query thread's use of a site.
struct JiraSession {
    service: Arc<Service>,
    api: Api,
    timeout: Duration,
}

impl Session for JiraSession {
    fn columns(&mut self, _: &str) -> Result<Vec<String>, String> {
        Ok(vec!["count".to_string()])
    }

    fn rows(
        &mut self,
        jql: &str,
        _: &Shape,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<Row>, String> {
        let text = bind(jql, start, end)?;
        let deadline = Deadline::after(self.timeout);
        let count = self.counted(&text, &deadline);
        Ok(vec![Row {
            date: None,
            segment: Vec::new(),
            value: Some(count.map_err(|f| f.message)?),
        }])
    }
}

impl JiraSession {
    /// The number of issues `jql` finds, by the site's API.
    fn counted(&mut self, jql: &str, deadline: &Deadline) -> Result<f64, http::Failure> {
        match self.api {
            Api::Cloud => match self.count(Api::Cloud, jql, deadline) {
                // A site without the Cloud endpoint is Data Center: ask it the old way, from now on.
                Err(failure) if failure.status == Some(404) => {
                    self.api = Api::DataCenter;
                    self.count(Api::DataCenter, jql, deadline)
                }
                other => other,
            },
            Api::DataCenter => self.count(Api::DataCenter, jql, deadline),
        }
    }

    /// The number of issues `jql` finds, by `api`.
    fn count(&self, api: Api, jql: &str, deadline: &Deadline) -> Result<f64, http::Failure> {
        let (path, body, field) = match api {
            Api::Cloud => (
                "/rest/api/3/search/approximate-count",
                json!({ "jql": jql }),
                "count",
            ),
            Api::DataCenter => (
                "/rest/api/2/search",
                json!({ "jql": jql, "maxResults": 0, "fields": ["id"] }),
                "total",
            ),
        };
        let path = format!("{}{path}", self.service.address.path);
        let answer = self.service.call(&Method::Post(&body), &path, deadline)?;
        answer
            .get(field)
            .and_then(Value::as_u64)
            .map(|n| n as f64)
            .ok_or_else(|| http::Failure {
                status: None,
                message: format!(
                    "{} answered without a `{field}`: {}",
                    self.service.shown(),
                    self.service.quote(&answer.to_string())
                ),
            })
    }
}

/// `jql` with `{start}` and `{end}` written as the quoted dates of the bounds. A placeholder
/// already inside quotes is refused, since its quotes and the date's would cancel out.
fn bind(jql: &str, start: NaiveDate, end: NaiveDate) -> Result<String, String> {
    for placeholder in ["{start}", "{end}"] {
        for (at, _) in jql.match_indices(placeholder) {
            let before = jql[..at].chars().next_back();
            if matches!(before, Some('"' | '\'')) {
                return Err(format!(
                    "write {placeholder} without quotes: it becomes a quoted date"
                ));
            }
        }
    }
    Ok(jql
        .replace("{start}", &jql_date(start)?)
        .replace("{end}", &jql_date(end)?))
}

/// A date as a JQL date literal: `"2026-11-16"`. It is the only text Canopy writes into a
/// JQL query, so it is built from the date's numbers alone, and a year JQL cannot write (it
/// reads four digits) is refused rather than written in another form.
fn jql_date(date: NaiveDate) -> Result<String, String> {
    let (year, month, day) = (date.year(), date.month(), date.day());
    if !(1..=9999).contains(&year) {
        return Err(format!("the date {date} has no JQL form (years 1 to 9999)"));
    }
    Ok(format!("\"{year:04}-{month:02}-{day:02}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn dates_are_quoted_digits_or_refused() {
        assert_eq!(jql_date(day(2026, 11, 16)).unwrap(), "\"2026-11-16\"");
        assert_eq!(jql_date(day(7, 1, 2)).unwrap(), "\"0007-01-02\"");
        assert_eq!(jql_date(day(9999, 12, 31)).unwrap(), "\"9999-12-31\"");
        for far in [day(10000, 1, 1), day(0, 12, 31), day(-44, 3, 15)] {
            let e = jql_date(far).unwrap_err();
            assert!(e.contains("no JQL form"), "{e}");
        }
    }

    #[test]
    fn bounds_are_written_in_place_of_the_placeholders() {
        let (start, end) = (day(2026, 11, 16), day(2026, 11, 23));
        assert_eq!(
            bind(
                "created >= {start} and created < {end} and summary ~ \"{x}\"",
                start,
                end
            )
            .unwrap(),
            "created >= \"2026-11-16\" and created < \"2026-11-23\" and summary ~ \"{x}\""
        );
        let e = bind("created >= \"{start}\"", start, end).unwrap_err();
        assert!(e.contains("without quotes"), "{e}");
    }

    #[test]
    fn errors_are_jira_s_own_words() {
        let said = error_messages(&json!({
            "errorMessages": ["Field 'x' does not exist."],
            "errors": { "jql": "bad" }
        }));
        assert_eq!(said.as_deref(), Some("Field 'x' does not exist.; jql: bad"));
        assert_eq!(error_messages(&json!({ "message": "?" })), None);
    }

    #[test]
    fn the_api_and_authentication_follow_the_url_and_credentials() {
        let cloud = Jira::new("jira://acme.atlassian.net", Some("a@acme.com"), Some("t")).unwrap();
        assert_eq!(cloud.api, Api::Cloud);
        // base64("a@acme.com:t")
        assert_eq!(
            cloud.service.authorization.fixed(),
            Some("Basic YUBhY21lLmNvbTp0")
        );
        let dc = Jira::new("jira://jira.acme.com/jira?api=2", None, Some("pat")).unwrap();
        assert_eq!(
            (dc.api, dc.service.authorization.fixed()),
            (Api::DataCenter, Some("Bearer pat"))
        );
        assert_eq!(dc.service.address.path, "/jira");
        assert!(Jira::new("jira://acme.atlassian.net", Some("a"), None).is_err());
        assert!(
            Jira::new("jira://acme.atlassian.net?api=4", Some("a"), Some("t"))
                .err()
                .unwrap()
                .contains("api=4")
        );
    }
}
