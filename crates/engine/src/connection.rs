//! The kinds of connection a leaf's data can come from, each known by its URL's scheme and
//! speaking one query language: the one table the tree file's checks, the JSON Schema and the
//! sources all read.

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
}

impl Kind {
    /// Every kind with the schemes that name it.
    const SCHEMES: [(Kind, &'static [&'static str]); 5] = [
        (Kind::Sqlite, &["sqlite"]),
        (Kind::Postgres, &["postgres", "postgresql"]),
        (Kind::ClickHouse, &["clickhouse"]),
        (Kind::PostHog, &["posthog"]),
        (Kind::Jira, &["jira"]),
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
            Kind::Sqlite | Kind::Postgres | Kind::ClickHouse => Language::Sql,
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
        }
    }
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
        assert_eq!(Kind::schemes().count(), 6);
    }
}
