//! ClickHouse over its HTTP interface (ureq), as `clickhouse://HOST[:PORT]/DATABASE`.
//!
//! - TLS by rustls with libpq's `sslmode` and `sslrootcert` (see [`crate::tls`]); the default
//!   is `verify-full`, because a warehouse is a remote host and the key travels in each
//!   request. `disable` is plain HTTP (port 8123 by default), anything else HTTPS (8443);
//!   `prefer` is `require`, since HTTP cannot fall back without sending the key in clear.
//! - The user and key travel in the `X-ClickHouse-User` and `X-ClickHouse-Key` headers, never
//!   in the request's URL, and no message repeats them.
//! - Every request carries `readonly=1`, `max_execution_time` (the time limit), a cap on the
//!   result's rows ([`MAX_ROWS`], the query fails past it rather than being cut short) and
//!   `wait_end_of_query=1`, so that an error is the answer's status rather than text after
//!   a partial answer; an answer that still ends in an error is an error.
//! - `{start}` and `{end}` are the server's query parameters (`{start:Date}`, sent as
//!   `param_start`) where it has them; a server without them (before 19.x, such as Debian's
//!   18.16) gets quoted date literals written by [`date_literal`]. Which, each session finds
//!   out on connecting by asking for a parameter. Those older servers cannot compare a
//!   `DateTime` with such a date (an error, which says to write `toDate(at) >= {start}`).
//! - A user whose profile has `readonly=1` already may not be sent settings at all; the
//!   server's message says so, and such a user wants `readonly=2`.
//! - Answers are read as `JSONCompact`: 64-bit integers arrive quoted and are parsed, NULL is
//!   no data, a `period` column may be a `Date` or a `DateTime` (its date in the server's time
//!   zone, which is also the zone the bounds are compared in).

mod https;

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;

use crate::sql::{chain, finite, substitute, Connector, Row, Session, Shape, Stage};
use crate::tls::{self, SslMode};

/// The most rows one query may return; past it the query fails (`result_overflow_mode`
/// `throw`), so a leaf is never computed from part of its rows.
pub(crate) const MAX_ROWS: u64 = 1_000_000;

/// The largest answer read, in bytes: a million rows of a few columns fit well within it.
const MAX_BODY: u64 = 256 << 20;

/// How much longer than the server's time limit the client waits for an answer, so that the
/// server's own cancellation (with its message) normally comes first.
const GRACE: Duration = Duration::from_secs(5);

/// How long reaching the server may take.
const CONNECT: Duration = Duration::from_secs(10);

/// A ClickHouse server, ready to connect to.
pub(crate) struct ClickHouse {
    target: Arc<Target>,
    mode: SslMode,
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// Where requests go and who sends them.
struct Target {
    /// `http(s)://HOST:PORT/`.
    endpoint: String,
    /// `HOST:PORT`, for messages.
    address: String,
    /// The host as TLS checks it.
    host: String,
    database: Option<String>,
    user: Option<String>,
    key: Option<String>,
}

impl ClickHouse {
    /// Reads `clickhouse://[USER[:KEY]@]HOST[:PORT][/DATABASE][?sslmode=..&sslrootcert=..]`;
    /// `user` and `key`, when given, replace the URL's.
    pub(crate) fn new(
        url: &str,
        user: Option<&str>,
        key: Option<&str>,
    ) -> Result<ClickHouse, String> {
        let split = tls::split(url, SslMode::VerifyFull)?;
        let parsed = url::Url::parse(&split.rest).map_err(|e| format!("the URL: {e}"))?;
        if let Some((name, _)) = parsed.query_pairs().next() {
            return Err(format!(
                "the URL's `{name}` is not read; a ClickHouse URL takes sslmode and sslrootcert"
            ));
        }
        let host = match parsed.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err("the URL names no host".into()),
        };
        let tls = match split.mode {
            SslMode::Disable => None,
            mode => Some(Arc::new(tls::client_config(
                mode,
                split.root_cert.as_deref(),
            )?)),
        };
        let port = parsed
            .port()
            .unwrap_or(if tls.is_some() { 8443 } else { 8123 });
        let shown_host = match parsed.host() {
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            _ => host.clone(),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let database = match parsed.path().trim_matches('/') {
            "" => None,
            db if db.contains('/') => {
                return Err(format!(
                    "`{db}` is not a database name; the URL's path is one database"
                ))
            }
            db => Some(decode(db)),
        };
        let url_user = Some(decode(parsed.username())).filter(|u| !u.is_empty());
        let scheme = if tls.is_some() { "https" } else { "http" };
        Ok(ClickHouse {
            target: Arc::new(Target {
                endpoint: format!("{scheme}://{shown_host}:{port}/"),
                address: format!("{shown_host}:{port}"),
                host,
                database,
                user: user.map(str::to_string).or(url_user),
                key: key.map(str::to_string).or(parsed.password().map(decode)),
            }),
            mode: split.mode,
            tls,
        })
    }

    /// An HTTP client whose requests give up a little after the server's time limit.
    fn agent(&self, timeout: Duration) -> Result<ureq::Agent, String> {
        let config = ureq::Agent::config_builder()
            // The body of an error answer holds the server's message: read it.
            .http_status_as_error(false)
            .timeout_global(Some(timeout + GRACE))
            .timeout_connect(Some(CONNECT))
            // Straight to the server, the same with and without TLS.
            .proxy(None)
            .build();
        Ok(match &self.tls {
            None => ureq::Agent::new_with_config(config),
            Some(tls) => https::agent(config, tls.clone(), &self.target.host)?,
        })
    }
}

impl Connector for ClickHouse {
    fn connect(&self, timeout: Duration) -> Result<Box<dyn Session>, String> {
        let mut session = ClickHouseSession {
            agent: self.agent(timeout)?,
            target: self.target.clone(),
            timeout,
            parameters: false,
        };
        session.parameters = session.has_parameters()?;
        Ok(Box::new(session))
    }

    fn suffix(&self) -> String {
        format!(" (sslmode={})", self.mode.name())
    }

    /// Connecting asks the server a question with the credentials, so its answer says how
    /// far the request got: no answer, a refusal of the user (ClickHouse's codes 192, 193
    /// and 516, or HTTP 401), or a refusal to read.
    fn probe(&self, timeout: Duration) -> Result<(), (Stage, String)> {
        let mut session = self.connect(timeout).map_err(|e| (stage_of(&e), e))?;
        (session.columns("select 1").map(|_| ())).map_err(|e| (stage_of(&e).max(Stage::Permit), e))
    }
}

/// How far a request that failed with `message` got.
fn stage_of(message: &str) -> Stage {
    let refused_user = ["Code: 192,", "Code: 193,", "Code: 516,", "HTTP 401:"];
    if refused_user.iter().any(|c| message.contains(c)) {
        Stage::Authenticate
    } else if message.starts_with("HTTP ") {
        Stage::Permit
    } else {
        Stage::Reach
    }
}

/// One session: an HTTP client and what the server was found to understand.
struct ClickHouseSession {
    agent: ureq::Agent,
    target: Arc<Target>,
    timeout: Duration,
    /// Whether the server binds query parameters (`{start:Date}`).
    parameters: bool,
}

/// A `JSONCompact` answer.
#[derive(Deserialize)]
struct Answer {
    meta: Vec<Column>,
    data: Vec<Vec<Value>>,
    /// Where newer servers put an error met after the answer began.
    exception: Option<String>,
}

/// A column of an answer; only its type is read (the names come from `DESCRIBE`).
#[derive(Deserialize)]
struct Column {
    #[serde(rename = "type")]
    kind: String,
}

impl Session for ClickHouseSession {
    fn columns(&mut self, sql: &str) -> Result<Vec<String>, String> {
        // DESCRIBE analyses the query without running it; any dates do for the bounds. The
        // query sits on lines of its own so that a closing `--` comment ends before `)`.
        let day = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");
        let (text, params) = self.bind(sql, day, day);
        let answer = (self.query(&format!("DESCRIBE (\n{text}\n)"), &params))
            .map_err(|e| self.explained(e))?;
        answer
            .data
            .iter()
            .map(|row| match row.first() {
                Some(Value::String(name)) => Ok(name.clone()),
                _ => Err("DESCRIBE gave no column name".to_string()),
            })
            .collect()
    }

    fn rows(
        &mut self,
        sql: &str,
        shape: &Shape,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<Vec<Row>, String> {
        let (text, params) = self.bind(sql, start, end);
        let answer = self.query(&text, &params).map_err(|e| self.explained(e))?;
        rows(&answer, shape)
    }
}

impl ClickHouseSession {
    /// Whether the server binds query parameters: older servers refuse `param_` settings
    /// (code 115, unknown setting). Asking also checks the connection and the credentials.
    fn has_parameters(&self) -> Result<bool, String> {
        let probe = [("canopy".to_string(), "2000-01-01".to_string())];
        match self.query("SELECT {canopy:Date}", &probe) {
            Ok(_) => Ok(true),
            Err(e) if e.contains("Code: 115") && e.contains("param_canopy") => {
                self.query("SELECT 1", &[]).map(|_| false)
            }
            Err(e) => Err(e),
        }
    }

    /// `e`, with what to do when it is a bound that a server without parameters could not
    /// compare with a `DateTime`.
    fn explained(&self, e: String) -> String {
        match !self.parameters && e.contains("Cannot parse datetime") {
            true => format!("{e}; {NO_PARAMETERS}"),
            false => e,
        }
    }

    /// `sql` with `{start}` and `{end}` bound as this server can, and its `param_` values.
    fn bind(&self, sql: &str, start: NaiveDate, end: NaiveDate) -> (String, Vec<(String, String)>) {
        let sql = trim_statement(sql);
        let bound = |is_start: bool| if is_start { start } else { end };
        if !self.parameters {
            return (substitute(sql, |s| date_literal(bound(s))), Vec::new());
        }
        let mut params: Vec<(String, String)> = Vec::new();
        let text = substitute(sql, |s| {
            let name = if s { "start" } else { "end" };
            if !params.iter().any(|(n, _)| n == name) {
                params.push((name.to_string(), bound(s).format("%Y-%m-%d").to_string()));
            }
            format!("{{{name}:Date}}")
        });
        (text, params)
    }

    /// Runs `sql` read-only within the limits, with `params` as query parameters; its answer.
    fn query(&self, sql: &str, params: &[(String, String)]) -> Result<Answer, String> {
        let target = &self.target;
        let seconds = self.timeout.as_secs_f64().ceil().max(1.0) as u64;
        let mut request = self
            .agent
            .post(&target.endpoint)
            .query("readonly", "1")
            .query("max_execution_time", seconds.to_string())
            .query("max_result_rows", MAX_ROWS.to_string())
            .query("result_overflow_mode", "throw")
            .query("wait_end_of_query", "1")
            .query("default_format", "JSONCompact")
            // NaN and infinities as text, so they are refused rather than read as NULL.
            .query("output_format_json_quote_denormals", "1");
        if let Some(database) = &target.database {
            request = request.query("database", database);
        }
        for (name, value) in params {
            request = request.query(format!("param_{name}"), value);
        }
        if let Some(user) = &target.user {
            request = request.header("X-ClickHouse-User", user);
        }
        if let Some(key) = &target.key {
            request = request.header("X-ClickHouse-Key", key);
        }
        let cancelled = || format!("cancelled after CANOPY_SQL_TIMEOUT ({seconds} s)");
        let response = request
            .send(sql)
            .map_err(|e| transport_error(&e, &target.address, &cancelled()))?;
        let status = response.status();
        let body = response
            .into_body()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| transport_error(&e, &target.address, &cancelled()))?;
        if !status.is_success() {
            let message = server_message(&body);
            if message.contains("Code: 159") {
                return Err(format!("{}: {message}", cancelled()));
            }
            return Err(format!("HTTP {}: {message}", status.as_u16()));
        }
        parse(&body)
    }
}

/// The query without the blanks and semicolons that may close it, so that it can be wrapped.
fn trim_statement(sql: &str) -> &str {
    sql.trim_end_matches(|c: char| c.is_whitespace() || c == ';')
}

/// `date` as a quoted ClickHouse literal, for servers without query parameters. The only
/// text put into a query: chrono writes a date as digits and `-` (and a sign past year
/// 9999), so nothing it writes can close the quotes. A plain string rather than
/// `toDate(...)`: those servers compare a `DateTime` with a `Date` by their raw numbers
/// (seconds against days), silently wrong, whereas a `DateTime` compared with this string
/// fails loudly ("Cannot parse datetime"), and [`NO_PARAMETERS`] then says what to write.
pub(crate) fn date_literal(date: NaiveDate) -> String {
    format!("'{}'", date.format("%Y-%m-%d"))
}

/// What to do when a server without query parameters cannot read a bound as a `DateTime`.
const NO_PARAMETERS: &str = "this ClickHouse has no query parameters, so {start} and {end} are dates: compare a DateTime column as a date, `toDate(at) >= {start} and toDate(at) < {end}`";

/// Why a request got no answer, naming the server; never the request's headers.
fn transport_error(e: &ureq::Error, address: &str, cancelled: &str) -> String {
    match e {
        ureq::Error::Timeout(_) => format!("{cancelled}: no answer from {address} in time"),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            format!(
                "{address} refused the connection (is ClickHouse's HTTP interface on this port?)"
            )
        }
        ureq::Error::HostNotFound => format!("{address}: host not found"),
        // TLS failures arrive as I/O errors; their own text says what was wrong.
        ureq::Error::Io(io) => format!("{address}: {io}"),
        ureq::Error::BodyExceedsLimit(limit) => {
            format!(
                "the answer from {address} is larger than {} MiB",
                limit >> 20
            )
        }
        other => format!("{address}: {}", chain(other)),
    }
}

/// ClickHouse's own message from an error answer, on one line and of bounded length.
fn server_message(body: &str) -> String {
    let line = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(2000) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None if line.is_empty() => "(no message)".into(),
        None => line,
    }
}

/// Reads a `JSONCompact` answer; an error the server wrote after it began is an error.
fn parse(body: &str) -> Result<Answer, String> {
    match serde_json::from_str::<Answer>(body) {
        Ok(Answer {
            exception: Some(e), ..
        }) => Err(format!(
            "the query failed while answering: {}",
            server_message(&e)
        )),
        Ok(answer) => Ok(answer),
        // Older servers append `Code: N, ...` to the partial answer.
        Err(e) => match body.rfind("Code: ") {
            Some(at) => Err(format!(
                "the query failed while answering: {}",
                server_message(&body[at..])
            )),
            None => Err(format!(
                "the answer is not JSONCompact ({e}); does the query have a FORMAT clause?"
            )),
        },
    }
}

/// The rows of an answer, read as `shape` says.
fn rows(answer: &Answer, shape: &Shape) -> Result<Vec<Row>, String> {
    let kind = |i: usize| answer.meta.get(i).map_or("", |c| c.kind.as_str());
    if !is_number(kind(shape.value)) {
        return Err(format!(
            "the value column has type {}; expected a number",
            kind(shape.value)
        ));
    }
    answer
        .data
        .iter()
        .map(|row| {
            let cell = |i: usize| row.get(i).unwrap_or(&Value::Null);
            Ok(Row {
                date: match shape.period {
                    None => None,
                    Some(i) => date(cell(i), kind(i))?,
                },
                segment: shape.segment(|i| crate::sql::json_segment(cell(i)))?,
                value: finite(crate::sql::json_value(cell(shape.value))?)?,
            })
        })
        .collect()
}

/// The type inside `Nullable(...)` and `LowCardinality(...)`.
fn inner(kind: &str) -> &str {
    let mut kind = kind;
    for wrapper in ["Nullable(", "LowCardinality("] {
        if let Some(rest) = kind.strip_prefix(wrapper).and_then(|k| k.strip_suffix(')')) {
            kind = rest;
        }
    }
    kind
}

fn is_number(kind: &str) -> bool {
    let kind = inner(kind);
    ["Int", "UInt", "Float", "Decimal"]
        .iter()
        .any(|p| kind.starts_with(p))
}

/// A range query's `period` value (a `Date` or `DateTime`) as a date.
fn date(cell: &Value, kind: &str) -> Result<Option<NaiveDate>, String> {
    if !inner(kind).starts_with("Date") {
        return Err(format!(
            "the period column has type {kind}; expected a Date or DateTime"
        ));
    }
    match cell {
        Value::Null => Ok(None),
        Value::String(text) => text
            .get(..10)
            .and_then(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
            .map(Some)
            .ok_or_else(|| format!("the period column holds `{text}`, not a date")),
        other => Err(format!("the period column holds {other}, not a date")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_literals_are_quoted_digits() {
        let check = |y, m, d, expected: &str| {
            assert_eq!(
                date_literal(NaiveDate::from_ymd_opt(y, m, d).unwrap()),
                expected
            );
        };
        check(2026, 11, 16, "'2026-11-16'");
        check(1970, 1, 1, "'1970-01-01'");
        check(10000, 1, 1, "'+10000-01-01'");
        // Whatever the date, the quoted part is digits, `-` and `+` only.
        for date in [NaiveDate::MIN, NaiveDate::MAX] {
            let text = date_literal(date);
            let quoted = &text[1..text.len() - 1];
            assert!(
                quoted
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '-' || c == '+'),
                "{text}"
            );
        }
    }

    #[test]
    fn urls_name_host_port_database_and_tls() {
        let check = |url: &str, endpoint: &str, database: Option<&str>, mode: SslMode| {
            let ch = ClickHouse::new(url, None, None).unwrap();
            assert_eq!(ch.target.endpoint, endpoint, "{url}");
            assert_eq!(ch.target.database.as_deref(), database, "{url}");
            assert_eq!(ch.mode, mode, "{url}");
        };
        let plain = "?sslmode=disable";
        check(
            &format!("clickhouse://h/db{plain}"),
            "http://h:8123/",
            Some("db"),
            SslMode::Disable,
        );
        check(
            &format!("clickhouse://h:9{plain}"),
            "http://h:9/",
            None,
            SslMode::Disable,
        );
        check(
            &format!("clickhouse://[::1]:9/a%20b{plain}"),
            "http://[::1]:9/",
            Some("a b"),
            SslMode::Disable,
        );
        let refused = |url: &str, expected: &str| {
            let e = ClickHouse::new(url, None, None).err().unwrap();
            assert!(e.contains(expected), "{url}: {e}");
        };
        refused(
            "clickhouse://h/db?sslmode=disable&readonly=0",
            "`readonly` is not read",
        );
        refused(
            "clickhouse://h/a/b?sslmode=disable",
            "`a/b` is not a database name",
        );
        refused("clickhouse://h/db?sslmode=allow", "verify-full");
    }

    #[test]
    fn credentials_replace_the_urls_and_stay_out_of_the_endpoint() {
        let url = "clickhouse://u:s%40cret@h/db?sslmode=disable";
        let ch = ClickHouse::new(url, None, None).unwrap();
        assert_eq!(
            (ch.target.user.as_deref(), ch.target.key.as_deref()),
            (Some("u"), Some("s@cret"))
        );
        assert_eq!(ch.target.endpoint, "http://h:8123/");
        let ch = ClickHouse::new(url, Some("v"), Some("k")).unwrap();
        assert_eq!(
            (ch.target.user.as_deref(), ch.target.key.as_deref()),
            (Some("v"), Some("k"))
        );
    }

    #[test]
    fn answers_are_read_from_json_compact() {
        let body = r#"{"meta":[{"name":"period","type":"Date"},{"name":"plan","type":"LowCardinality(String)"},{"name":"n","type":"Nullable(UInt64)"}],
            "data":[["2026-11-16","free","18446744073709551615"],["2026-11-23 10:00:00",7,null]],"rows":2}"#;
        let shape = Shape {
            period: Some(0),
            segments: vec![(1, "plan".into())],
            value: 2,
        };
        let rows = rows(&parse(body).unwrap(), &shape).unwrap();
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d);
        assert_eq!(rows[0].date, day(16));
        assert_eq!(rows[0].segment.first().map(String::as_str), Some("free"));
        assert_eq!(rows[0].value, Some(18446744073709551615.0));
        assert_eq!(
            (
                rows[1].date,
                rows[1].segment.first().map(String::as_str),
                rows[1].value
            ),
            (day(23), Some("7"), None)
        );
    }

    #[test]
    fn an_error_after_the_answer_began_is_an_error() {
        let old = "{\"meta\":[{\"name\":\"x\",\"type\":\"UInt8\"}],\"data\":[[0],[0]Code: 395, e.displayText() = DB::Exception: Value passed to 'throwIf' function is non zero";
        let e = parse(old).err().unwrap();
        assert!(
            e.starts_with("the query failed while answering: Code: 395,"),
            "{e}"
        );
        let new = r#"{"meta":[],"data":[],"exception":"Code: 395. DB::Exception: boom"}"#;
        assert!(parse(new)
            .err()
            .unwrap()
            .ends_with("Code: 395. DB::Exception: boom"));
        assert!(parse("1\n").err().unwrap().contains("FORMAT clause"));
        let nan = r#"{"meta":[{"name":"x","type":"Float64"}],"data":[["nan"]]}"#;
        let shape = Shape {
            period: None,
            segments: vec![],
            value: 0,
        };
        assert!(rows(&parse(nan).unwrap(), &shape)
            .err()
            .unwrap()
            .contains("NaN, not a finite number"));
        let text = r#"{"meta":[{"name":"x","type":"String"}],"data":[["1"]]}"#;
        assert!(rows(&parse(text).unwrap(), &shape)
            .err()
            .unwrap()
            .contains("type String"));
    }
}
