//! Named connections a leaf's data can come from (`connections:`), and their kinds, each
//! known by its URL's scheme and speaking one query language: the one table the tree file's
//! checks, the JSON Schema and the sources all read.
//!
//! A secret never sits in a tree file: a password, key, token or credential is `env:NAME`,
//! and so is a URL that carries one. The engine reads no environment; whoever connects
//! resolves the names (see [`Setting::resolve`]).

use std::collections::BTreeMap;

use crate::decode::{ConnectionSpec, Decoder, Spanned};
use crate::diagnostic::Location;

/// The language of a leaf's query, named by its key in `source:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Language {
    /// SQL in the connection's dialect (`sql:`).
    Sql,
    /// PostHog's HogQL (`hogql:`).
    HogQl,
    /// Jira's JQL, counted (`jql:`).
    Jql,
}

impl Language {
    /// Every language, in the order of [`Language::KEYS`].
    pub const ALL: [Language; 3] = [Language::Sql, Language::HogQl, Language::Jql];
    /// The keys of `source:` that hold a query, one per language.
    pub const KEYS: [&'static str; 3] = ["sql", "hogql", "jql"];

    /// The language's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Language::Sql => "SQL",
            Language::HogQl => "HogQL",
            Language::Jql => "JQL",
        }
    }

    /// The key of `source:` that holds a query in this language.
    pub fn key(self) -> &'static str {
        Language::KEYS[self as usize]
    }
}

/// A kind of database or service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `sqlite://PATH`.
    Sqlite,
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `clickhouse://HOST[:PORT]/DATABASE`, over its HTTP interface.
    ClickHouse,
    /// `posthog://HOST/projects/ID`, its HogQL query API.
    PostHog,
    /// `jira://SITE`, issues counted by JQL.
    Jira,
    /// `databricks://HOST/warehouses/ID`, its SQL Statement Execution API.
    Databricks,
    /// `bigquery://PROJECT`, its `jobs.query` API.
    BigQuery,
    /// `snowflake://ACCOUNT/DATABASE/SCHEMA`, its SQL API.
    Snowflake,
}

impl Kind {
    /// Every kind with the schemes that name it.
    const SCHEMES: [(Kind, &'static [&'static str]); 8] = [
        (Kind::Sqlite, &["sqlite"]),
        (Kind::Postgres, &["postgres", "postgresql"]),
        (Kind::ClickHouse, &["clickhouse"]),
        (Kind::PostHog, &["posthog"]),
        (Kind::Jira, &["jira"]),
        (Kind::Databricks, &["databricks"]),
        (Kind::BigQuery, &["bigquery"]),
        (Kind::Snowflake, &["snowflake"]),
    ];

    /// The kind `url` names by its scheme, if any.
    pub fn of(url: &str) -> Option<Kind> {
        let (scheme, _) = url.split_once("://")?;
        Kind::SCHEMES
            .iter()
            .find(|(_, names)| names.iter().any(|n| n.eq_ignore_ascii_case(scheme)))
            .map(|(kind, _)| *kind)
    }

    /// Every scheme a connection's URL may have, for messages.
    pub fn schemes() -> impl Iterator<Item = &'static str> {
        Kind::SCHEMES
            .iter()
            .flat_map(|(_, names)| names.iter().copied())
    }

    /// The language its leaves' queries are written in.
    pub fn language(self) -> Language {
        match self {
            Kind::Sqlite
            | Kind::Postgres
            | Kind::ClickHouse
            | Kind::Databricks
            | Kind::BigQuery
            | Kind::Snowflake => Language::Sql,
            Kind::PostHog => Language::HogQl,
            Kind::Jira => Language::Jql,
        }
    }

    /// The kind's name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "SQLite",
            Kind::Postgres => "PostgreSQL",
            Kind::ClickHouse => "ClickHouse",
            Kind::PostHog => "PostHog",
            Kind::Jira => "Jira",
            Kind::Databricks => "Databricks",
            Kind::BigQuery => "BigQuery",
            Kind::Snowflake => "Snowflake",
        }
    }
}

/// A setting written in the tree, or the environment variable that holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Setting {
    /// The value itself.
    Text(String),
    /// The name of the environment variable holding it (`env:NAME`).
    Env(String),
}

impl Setting {
    /// Reads `text` as a tree writes a setting: `env:NAME`, or the value itself.
    pub(crate) fn parse(text: &str) -> Result<Setting, String> {
        match env_name(text) {
            Some(name) => name.map(|n| Setting::Env(n.to_string())),
            None => Ok(Setting::Text(text.to_string())),
        }
    }

    /// The value, reading the environment through `var` for `env:NAME`.
    pub fn resolve(&self, var: impl Fn(&str) -> Option<String>) -> Result<String, String> {
        match self {
            Setting::Text(text) => Ok(text.clone()),
            Setting::Env(name) => {
                var(name).ok_or_else(|| format!("the environment variable {name} is not set"))
            }
        }
    }

    /// As written, for messages: `env:NAME`, or the value.
    pub fn shown(&self) -> String {
        match self {
            Setting::Text(text) => text.clone(),
            Setting::Env(name) => format!("env:{name}"),
        }
    }
}

/// The variable `text` names, if it is written `env:NAME`; an error if NAME is not a name.
/// Environment variable names are identifiers, as metric ids are.
pub(crate) fn env_name(text: &str) -> Option<Result<&str, String>> {
    let name = text.strip_prefix("env:")?;
    Some(match crate::validate::is_identifier(name) {
        true => Ok(name),
        false => Err(format!("`{text}` does not name an environment variable")),
    })
}

/// Where a tree's leaves may read data from, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    /// The name leaves give as `connection:`.
    pub name: String,
    /// The URL.
    pub url: Setting,
    /// Who connects, where the kind needs it apart from the secret.
    pub user: Option<Setting>,
    /// The secret's key (`password`, `key`, `token` or `credentials`) and the environment
    /// variable holding it.
    pub secret: Option<(&'static str, String)>,
    /// Where the connection is written.
    pub location: Location,
}

impl Connection {
    /// The kind its URL names, when the URL is written in the tree.
    pub fn kind(&self) -> Option<Kind> {
        match &self.url {
            Setting::Text(url) => Kind::of(url),
            Setting::Env(_) => None,
        }
    }
}

/// The help of a secret written in the tree.
const SECRET_HELP: &str =
    "secrets never sit in a tree file: write `env:NAME` and set NAME where canopy runs";

/// Checks each connection's settings, reporting every problem at its line and column.
pub(crate) fn validate(
    dec: &mut Decoder<'_>,
    specs: Vec<ConnectionSpec>,
) -> BTreeMap<String, Connection> {
    let mut out = BTreeMap::new();
    for spec in specs {
        if !crate::validate::is_identifier(&spec.name.value) {
            dec.error_help(
                spec.name.span,
                format!("connection name `{}` is not an identifier", spec.name.value),
                "names are letters, digits and `_`, not starting with a digit",
            );
        }
        let url = url(dec, &spec);
        let user = spec.user.as_ref().and_then(|u| setting(dec, u, "user"));
        let secret = secret(dec, &spec.secrets);
        let location = dec.location(spec.name.span);
        let Some(url) = url else { continue };
        let name = spec.name.value.clone();
        out.insert(
            name.clone(),
            Connection {
                name,
                url,
                user,
                secret,
                location,
            },
        );
    }
    out
}

/// A setting that may be written or named; a bad `env:` name is reported.
fn setting(dec: &mut Decoder<'_>, value: &Spanned<String>, key: &str) -> Option<Setting> {
    Setting::parse(&value.value)
        .map_err(|e| {
            dec.error_help(
                value.span,
                format!("`{key}`: {e}"),
                "write `env:NAME`, NAME letters, digits and `_`",
            )
        })
        .ok()
}

/// The connection's URL: `env:NAME`, or a URL of a known kind that carries no secret.
fn url(dec: &mut Decoder<'_>, spec: &ConnectionSpec) -> Option<Setting> {
    let Some(written) = &spec.url else {
        dec.error_help(
            spec.span,
            format!("connection `{}` has no `url`", spec.name.value),
            "write `url: clickhouse://host:8443/db` (or posthog://, jira://, databricks://, bigquery://, snowflake://, postgres://, sqlite://), or `url: env:NAME`",
        );
        return None;
    };
    let url = setting(dec, written, "url")?;
    let Setting::Text(text) = &url else {
        return Some(url);
    };
    if Kind::of(text).is_none() {
        let schemes: Vec<&str> = Kind::schemes().collect();
        dec.error_help(
            written.span,
            format!(
                "`{}` is not a connection URL Canopy reads",
                crate::redact_password(text)
            ),
            format!(
                "write a URL starting with one of: {}",
                schemes.join("://, ") + "://"
            ),
        );
        return None;
    }
    if crate::redact_password(text) != *text {
        dec.error_help(
            written.span,
            "this URL holds a secret (a password or a secret parameter)",
            "write the URL without it and the secret as `password: env:NAME`, or the whole URL as `url: env:NAME`",
        );
        return None;
    }
    Some(url)
}

/// The one secret of a connection, which must be `env:NAME`.
fn secret(
    dec: &mut Decoder<'_>,
    secrets: &[(&'static str, Spanned<String>)],
) -> Option<(&'static str, String)> {
    if let [_, (key, second), ..] = secrets {
        dec.error_help(
            second.span,
            format!("a connection takes one secret; `{key}` is a second"),
            "keep the one its kind reads: password (ClickHouse, PostgreSQL), key (PostHog, Snowflake), token (Jira, Databricks), credentials (BigQuery)",
        );
    }
    let (key, value) = secrets.first()?;
    match env_name(&value.value) {
        Some(Ok(name)) => Some((*key, name.to_string())),
        Some(Err(e)) => {
            dec.error_help(value.span, format!("`{key}`: {e}"), SECRET_HELP);
            None
        }
        None => {
            dec.error_help(
                value.span,
                format!("`{key}` is written in the tree"),
                SECRET_HELP,
            );
            None
        }
    }
}

/// Checks a leaf's source against the tree's connections: the connection exists, and speaks
/// the source's language; without one, the source is SQL for `--data`.
pub(crate) fn check_source(
    dec: &mut Decoder<'_>,
    source: &crate::decode::SourceSpec,
    connections: &BTreeMap<String, Connection>,
) -> Option<crate::model::Source> {
    let (language, query) = source.query.as_ref()?;
    let Some(name) = &source.connection else {
        if *language != Language::Sql {
            dec.error_help(
                source.span,
                format!("a `{}` source needs a `connection:`", language.key()),
                format!(
                    "name a connection that speaks it: `{{ connection: NAME, {}: ... }}`",
                    language.key()
                ),
            );
            return None;
        }
        return Some(crate::model::Source {
            connection: None,
            language: *language,
            query: query.value.clone(),
        });
    };
    let Some(connection) = connections.get(&name.value) else {
        let names: Vec<&str> = connections.keys().map(String::as_str).collect();
        let help = match names.is_empty() {
            true => {
                "declare it under `connections:` (its url, and its secret as env:NAME)".to_string()
            }
            false => format!("the tree's connections: {}", names.join(", ")),
        };
        crate::validate::unknown(dec, name, "connection", &names, &help);
        return None;
    };
    if let Some(kind) = connection.kind().filter(|k| k.language() != *language) {
        dec.error_help(
            query.span,
            format!(
                "`{}` is a {} connection, which reads `{}:`, not `{}:`",
                name.value,
                kind.name(),
                kind.language().key(),
                language.key()
            ),
            format!("write the query as `{}: ...`", kind.language().key()),
        );
        return None;
    }
    Some(crate::model::Source {
        connection: Some(name.value.clone()),
        language: *language,
        query: query.value.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_known_by_scheme_and_speak_one_language() {
        assert_eq!(Kind::of("postgresql://h/db"), Some(Kind::Postgres));
        assert_eq!(Kind::of("ClickHouse://h:8443/x"), Some(Kind::ClickHouse));
        assert_eq!(
            Kind::of("posthog://eu.posthog.com/projects/1"),
            Some(Kind::PostHog)
        );
        assert_eq!(Kind::of("mysql://h/db"), None);
        assert_eq!(Kind::of("data.csv"), None);
        assert_eq!(Kind::Jira.language().key(), "jql");
        assert_eq!(Kind::PostHog.language().key(), "hogql");
        assert_eq!(Kind::ClickHouse.language().key(), "sql");
        assert_eq!(
            Kind::of("snowflake://acme-xy123/DB/PUBLIC"),
            Some(Kind::Snowflake)
        );
        assert_eq!(Kind::BigQuery.language().key(), "sql");
        assert_eq!(Kind::schemes().count(), 9);
    }
}
