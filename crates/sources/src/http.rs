//! What the connections over HTTP (PostHog, Jira, Databricks, BigQuery, Snowflake) share:
//! the service's address read from a connection URL, requests within the query's time limit,
//! an `Authorization` header fixed or minted (and minted again before it expires), retries of
//! 429 and 503 answers that honour `Retry-After` within a bounded budget, and errors that name
//! the service, the status and the server's own words, never the secret.

use crate::sql::Stage;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Retries of one request answered 429 or 503, at most; the waits must also end before the
/// query's deadline.
const MAX_RETRIES: u32 = 5;

/// The largest answer read, so that a runaway answer cannot exhaust memory.
const MAX_BODY: u64 = 64 << 20;

/// How much of a server's own words an error quotes.
const MAX_WORDS: usize = 300;

/// Where a service is, read from a connection URL such as `posthog://eu.posthog.com/projects/1`.
#[derive(Debug, PartialEq)]
pub(crate) struct Address {
    /// `https://host[:port]` (or `http://` for a loopback host that asks for it).
    pub(crate) base: String,
    /// The host, for messages.
    pub(crate) host: String,
    /// The URL's path, without a trailing `/`.
    pub(crate) path: String,
    /// The URL's query pairs other than `scheme`.
    pub(crate) query: Vec<(String, String)>,
}

/// Reads `url`. The service is reached over HTTPS; `?scheme=http` is accepted for loopback
/// hosts only, where a test server listens without TLS. A user or password in the URL is
/// refused: credentials come apart from it, so that the URL can be shown.
pub(crate) fn address(url: &str) -> Result<Address, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("the URL holds credentials; give them apart from it (user, and the key or token from the environment)".into());
    }
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("the URL names no host")?;
    let mut scheme = "https";
    let mut query = Vec::new();
    for (key, value) in parsed.query_pairs() {
        match (key.as_ref(), value.as_ref()) {
            ("scheme", "https") => {}
            ("scheme", "http") if is_loopback(host) => scheme = "http",
            ("scheme", "http") => {
                return Err(format!(
                    "plain http is allowed for loopback hosts only, not {host}"
                ))
            }
            ("scheme", other) => return Err(format!("scheme={other}: expected https or http")),
            _ => query.push((key.into_owned(), value.into_owned())),
        }
    }
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    Ok(Address {
        base: format!("{scheme}://{host}{port}"),
        host: host.to_string(),
        path: parsed.path().trim_end_matches('/').to_string(),
        query,
    })
}

/// Reads an `https://HOST[:PORT][/PATH]` address given in full (an `endpoint=` setting, a
/// token URI); `http://` only for a loopback host, where a test server listens without TLS.
pub(crate) fn endpoint(text: &str) -> Result<Address, String> {
    let parsed = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| format!("`{text}` names no host"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => {
            return Err(format!(
                "plain http is allowed for loopback hosts only, not {host}"
            ))
        }
        other => return Err(format!("`{text}`: expected https://, not {other}://")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some() {
        return Err(format!(
            "`{text}`: expected a scheme, host, port and path only"
        ));
    }
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    Ok(Address {
        base: format!("{}://{host}{port}", parsed.scheme()),
        host: host.to_string(),
        path: parsed.path().trim_end_matches('/').to_string(),
        query: Vec::new(),
    })
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// When a query must have its answer, and the time limit that set it (for messages).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    at: Instant,
    limit: Duration,
}

impl Deadline {
    /// `limit` from now.
    pub(crate) fn after(limit: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + limit,
            limit,
        }
    }

    /// The time left, if any.
    fn left(&self) -> Option<Duration> {
        self.at
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    /// Whether no time is left.
    pub(crate) fn is_passed(&self) -> bool {
        self.left().is_none()
    }

    /// Sleeps `wait` if the deadline is not passed by then; whether it did.
    pub(crate) fn sleep(&self, wait: Duration) -> bool {
        match self.left() {
            Some(left) if left > wait => {
                std::thread::sleep(wait);
                true
            }
            _ => false,
        }
    }

    /// A deadline `limit` from now, or this one if it comes first.
    pub(crate) fn within(&self, limit: Duration) -> Deadline {
        let other = Deadline::after(limit);
        match other.at < self.at {
            true => other,
            false => *self,
        }
    }

    /// The time left, zero once passed.
    pub(crate) fn left_or_zero(&self) -> Duration {
        self.left().unwrap_or_default()
    }

    /// The error of a query that ran past its time limit.
    pub(crate) fn passed(&self, service: &str) -> String {
        format!(
            "{service} gave no complete answer within {} s (CANOPY_SQL_TIMEOUT)",
            self.limit.as_secs_f64()
        )
    }
}

/// A request's method, with its body: JSON, or a form (an OAuth token request).
pub(crate) enum Method<'a> {
    Get,
    Post(&'a Value),
    Form(&'a str),
}

/// Why a request failed: the message, and the status when the server answered.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: Option<u16>,
    pub(crate) message: String,
}

impl Failure {
    /// A credential refused while minting an `Authorization` header, whatever status the
    /// issuer answered (token endpoints refuse a bad grant with 400): read as a 401.
    pub(crate) fn refused(message: String) -> Failure {
        Failure {
            status: Some(401),
            message,
        }
    }

    /// How far the request got: no answer, a refused credential (401), or a refusal to read.
    pub(crate) fn stage(&self) -> Stage {
        match self.status {
            None => Stage::Reach,
            Some(401) => Stage::Authenticate,
            Some(_) => Stage::Permit,
        }
    }
}

/// How a service's requests are authorized.
pub(crate) enum Auth {
    /// One `Authorization` header for the connection's life.
    Header(String),
    /// No header: the request carries its own credential (a token request).
    None,
    /// A header minted when first needed, and again shortly before it expires.
    Minted(Minted),
}

impl Auth {
    /// The header, when it is fixed.
    #[cfg(test)]
    pub(crate) fn fixed(&self) -> Option<&str> {
        match self {
            Auth::Header(header) => Some(header),
            _ => None,
        }
    }
}

/// Makes an `Authorization` header and says how long it is good for.
pub(crate) type Mint = dyn Fn(&Deadline) -> Result<(String, Duration), Failure> + Send + Sync;

/// A header minted by a [`Mint`] (a signed JWT, an access token exchanged for one), kept for
/// the sessions of a connection so that they share one until it nears its expiry.
pub(crate) struct Minted {
    mint: Box<Mint>,
    cache: Mutex<Option<(String, Instant)>>,
}

/// How long before its expiry a minted header is replaced: a request sent with it must
/// still be in time when the server reads it.
const MINT_MARGIN: Duration = Duration::from_secs(120);

impl Minted {
    pub(crate) fn new(mint: Box<Mint>) -> Minted {
        Minted {
            mint,
            cache: Mutex::new(None),
        }
    }

    /// The current header, minted anew when there is none or it nears its expiry. The lock
    /// is held while minting, so that sessions starting together exchange one token, not one
    /// each.
    fn header(&self, deadline: &Deadline) -> Result<String, Failure> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((header, until)) = cache.as_ref() {
            if Instant::now() + MINT_MARGIN < *until {
                return Ok(header.clone());
            }
        }
        let (header, lifetime) = (self.mint)(deadline)?;
        *cache = Some((header.clone(), Instant::now() + lifetime));
        Ok(header)
    }
}

/// A service over HTTP: where it is, how requests are authorized, and how it words errors.
pub(crate) struct Service {
    /// The service's name, for messages: `PostHog`.
    pub(crate) name: &'static str,
    /// What authorizes requests, for messages: `personal API key`.
    pub(crate) credential: &'static str,
    pub(crate) address: Address,
    /// What authorizes requests; it holds the secret.
    pub(crate) authorization: Auth,
    /// Headers every request carries besides it.
    pub(crate) headers: &'static [(&'static str, &'static str)],
    /// The secret, masked wherever a server's words are shown.
    pub(crate) secret: String,
    /// The server's own words in an error answer.
    pub(crate) words: fn(&Value) -> Option<String>,
    pub(crate) agent: ureq::Agent,
}

/// The client of every service: no redirects (they could carry the `Authorization` header
/// elsewhere), statuses read rather than turned into errors.
pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("canopy/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

impl Service {
    /// `name at host`, which every message about the service starts with.
    pub(crate) fn shown(&self) -> String {
        format!("{} at {}", self.name, self.address.host)
    }

    /// Sends a request to `path` and reads the JSON it answers with, retrying 429 and 503
    /// answers after the wait `Retry-After` asks for (or 1, 2, 4... s) as long as the retries
    /// and the deadline allow.
    pub(crate) fn call(
        &self,
        method: &Method<'_>,
        path: &str,
        deadline: &Deadline,
    ) -> Result<Value, Failure> {
        let mut retries = 0;
        loop {
            let (status, retry_after, body) = self.send(method, path, deadline)?;
            if (200..300).contains(&status) {
                return serde_json::from_str(&body).map_err(|_| Failure {
                    status: Some(status),
                    message: format!(
                        "{} answered {} with a body that is not JSON: {}",
                        self.shown(),
                        status_text(status),
                        self.quote(&body)
                    ),
                });
            }
            let busy = matches!(status, 429 | 503);
            let wait = retry_after.unwrap_or(Duration::from_secs(1 << retries.min(5)));
            if busy && retries < MAX_RETRIES && deadline.sleep(wait) {
                retries += 1;
                continue;
            }
            let mut failure = self.refusal(status, &body);
            if busy {
                failure.message += &format!(
                    " (after {retries} retries; the next wait of {} s would pass the retry budget or CANOPY_SQL_TIMEOUT)",
                    wait.as_secs_f64()
                );
            }
            return Err(failure);
        }
    }

    /// One request: its status, `Retry-After` and body.
    fn send(
        &self,
        method: &Method<'_>,
        path: &str,
        deadline: &Deadline,
    ) -> Result<(u16, Option<Duration>, String), Failure> {
        let failed = |message: String| Failure {
            status: None,
            message,
        };
        let left = deadline
            .left()
            .ok_or_else(|| failed(deadline.passed(&self.shown())))?;
        let url = format!("{}{}", self.address.base, path);
        let authorization = match &self.authorization {
            Auth::Header(header) => Some(header.clone()),
            Auth::None => None,
            Auth::Minted(minted) => Some(minted.header(deadline)?),
        };
        let auth = authorization.as_deref();
        let answer = match method {
            Method::Get => self.prepared(self.agent.get(&url), auth, left).call(),
            Method::Post(body) => self
                .prepared(self.agent.post(&url), auth, left)
                .header("Content-Type", "application/json")
                .send(body.to_string()),
            Method::Form(body) => self
                .prepared(self.agent.post(&url), auth, left)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .send(*body),
        };
        let mut answer = answer.map_err(|e| failed(self.unreached(&e, deadline)))?;
        let status = answer.status().as_u16();
        let retry_after = answer
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(retry_after);
        let body = answer
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .lossy_utf8(true)
            .read_to_string()
            .map_err(|e| failed(self.unreached(&e, deadline)))?;
        Ok((status, retry_after, body))
    }

    /// `request` with the headers of every request and the time left.
    fn prepared<B>(
        &self,
        request: ureq::RequestBuilder<B>,
        authorization: Option<&str>,
        left: Duration,
    ) -> ureq::RequestBuilder<B> {
        let mut request = request.header("Accept", "application/json");
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        for (name, value) in self.headers {
            request = request.header(*name, *value);
        }
        request.config().timeout_global(Some(left)).build()
    }

    /// No answer: a timeout, no connection, or an answer too large.
    fn unreached(&self, e: &ureq::Error, deadline: &Deadline) -> String {
        match e {
            ureq::Error::Timeout(_) => deadline.passed(&self.shown()),
            ureq::Error::BodyExceedsLimit(limit) => {
                format!("{} answered with more than {limit} bytes", self.shown())
            }
            other => self.mask(&format!("cannot reach {}: {other}", self.shown())),
        }
    }

    /// The error of an answer that is not a success: the status, what it means for 401 and
    /// 403, and the server's own words.
    fn refusal(&self, status: u16, body: &str) -> Failure {
        let meaning = match status {
            401 => format!(
                " (authentication failed: check the {}, and that it is the service's and unexpired)",
                self.credential
            ),
            403 => format!(
                " (permission denied: the {} lacks access to what the query reads)",
                self.credential
            ),
            _ => String::new(),
        };
        let words = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| (self.words)(&v))
            .map(|w| self.quote(&w))
            .unwrap_or_else(|| self.quote(body));
        Failure {
            status: Some(status),
            message: format!(
                "{} answered {}{meaning}: {words}",
                self.shown(),
                status_text(status)
            ),
        }
    }

    /// Some of `text`, on one line, without the secret.
    pub(crate) fn quote(&self, text: &str) -> String {
        let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut cut: String = line.chars().take(MAX_WORDS).collect();
        if cut.len() < line.len() {
            cut.push('…');
        }
        if cut.is_empty() {
            cut = "(no message)".into();
        }
        self.mask(&cut)
    }

    fn mask(&self, text: &str) -> String {
        if self.secret.is_empty() {
            text.to_string()
        } else {
            text.replace(&self.secret, "***")
        }
    }
}

/// `401 Unauthorized`, or the number alone for a status without a name.
fn status_text(status: u16) -> String {
    let reason = ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    match reason {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// `Retry-After` as a wait: seconds, or an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.signed_duration_since(chrono::Utc::now());
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_https_unless_a_loopback_host_asks() {
        let a = address("posthog://eu.posthog.com/projects/12/").unwrap();
        assert_eq!(
            (a.base.as_str(), a.host.as_str(), a.path.as_str()),
            ("https://eu.posthog.com", "eu.posthog.com", "/projects/12")
        );
        let a = address("jira://127.0.0.1:8080?scheme=http&api=2").unwrap();
        assert_eq!(a.base, "http://127.0.0.1:8080");
        assert_eq!(a.query, [("api".to_string(), "2".to_string())]);
        assert_eq!(
            address("jira://[::1]:9?scheme=http").unwrap().base,
            "http://[::1]:9"
        );
        assert!(address("jira://acme.atlassian.net?scheme=http")
            .unwrap_err()
            .contains("loopback hosts only"));
        assert!(address("jira://me:token@acme.atlassian.net")
            .unwrap_err()
            .contains("credentials"));
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        assert_eq!(retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(retry_after("-1"), None);
        // A date in the past asks for no wait.
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon"), None);
    }
}
