//! Named connections and the sources that read them: every mistake at its line and column.

use super::{check, load_str, tree};
use crate::{ConnectionKind, Language, Setting};

/// A tree whose `connections:` block is `connections` and whose metrics follow.
fn with(connections: &str, metrics: &str) -> String {
    format!("connections:\n{connections}{}", tree(metrics))
}

const EVENTS: &str =
    "  events: { url: \"clickhouse://ch:8443/analytics\", user: reader, password: env:CH_PASSWORD }\n";

#[test]
fn leaves_read_named_connections_in_their_language() {
    let yaml = with(
        &format!("{EVENTS}  posthog: {{ url: \"posthog://eu.posthog.com/projects/1\", key: env:POSTHOG_KEY }}\n  jira: {{ url: env:JIRA_URL, user: lead@acme.com, token: env:JIRA_TOKEN }}\n"),
        "  r: { formula: a + b + c + d }\n  a: { source: { connection: events, sql: \"select count() from e where at >= {start} and at < {end}\" } }\n  b: { source: { connection: posthog, hogql: \"select count() from events\" } }\n  c: { source: { connection: jira, jql: \"project = ENG\" } }\n  d: { source: { sql: \"select 1\" } }\n",
    );
    let loaded = load_str(&yaml).unwrap_or_else(|e| panic!("{e:?}"));
    let t = &loaded.tree;
    let events = &t.connections()["events"];
    assert_eq!(events.kind(), Some(ConnectionKind::ClickHouse));
    assert_eq!(events.secret, Some(("password", "CH_PASSWORD".to_string())));
    assert_eq!(events.user, Some(Setting::Text("reader".into())));
    assert_eq!(t.connections()["jira"].url, Setting::Env("JIRA_URL".into()));
    let source = |id: &str| t.metric(t.find(id).unwrap()).source.clone().unwrap();
    assert_eq!(source("c").language, Language::Jql);
    assert_eq!(source("c").connection.as_deref(), Some("jira"));
    assert_eq!(source("d").connection, None);
    assert_eq!(source("b").describe("q"), "hogql on posthog: q");
    assert_eq!(source("d").describe("q"), "sql: q");
}

#[test]
fn a_secret_is_never_written_in_the_tree() {
    check(
        &with(
            "  events: { url: \"clickhouse://ch/a\", password: hunter2 }\n  pg: { url: \"postgres://u:pw@db/x\" }\n  bad: { url: env:9x }\n",
            "  r: {}\n",
        ),
        &[
            "2:49: `password` is written in the tree",
            "3:14: this URL holds a secret (a password or a secret parameter)",
            "4:15: `url`: `env:9x` does not name an environment variable",
        ],
    );
    check(
        &with(
            "  jira: { url: \"jira://a.atlassian.net\", token: env:T, password: env:P }\n",
            "  r: {}\n",
        ),
        &["2:66: a connection takes one secret; `password` is a second"],
    );
}

#[test]
fn connection_mistakes_are_named_where_they_are() {
    check(
        &with(
            &format!("{EVENTS}  lake: {{ url: \"mysql://db/x\" }}\n  nourl: {{ user: me }}\n"),
            "  r: { formula: a + b + c }\n  a: { source: { connection: evnets, sql: \"select 1\" } }\n  b: { source: { connection: events, jql: \"project = X\" } }\n  c: { source: { hogql: \"select 1\" } }\n",
        ),
        &[
            "3:16: `mysql://db/x` is not a connection URL Canopy reads",
            "4:10: connection `nourl` has no `url`",
            "12:30: unknown connection `evnets` (did you mean `events`?)",
            "13:43: `events` is a ClickHouse connection, which reads `sql:`, not `jql:`",
            "14:16: a `hogql` source needs a `connection:`",
        ],
    );
    check(
        &tree("  r: { source: { connection: events, sql: \"select 1\", jql: \"x\" } }\n"),
        &[
            "7:30: unknown connection `events`",
            "7:55: `source` of metric `r` has both `sql` and `jql`",
        ],
    );
}

#[test]
fn connections_from_a_shared_file() {
    let yaml = format!(
        "connections: connections.yaml\n{}",
        tree("  r: { source: { connection: events, sql: \"select 1\" } }\n")
    );
    let err = load_str(&yaml).err().unwrap();
    let crate::Error::Invalid { diagnostics, .. } = err else {
        panic!("{err}")
    };
    // The shared file's literal token is reported in that file, and nothing else.
    let found: Vec<String> = (diagnostics.iter())
        .map(|d| {
            format!(
                "{}:{}:{}: {}",
                d.location.path.display(),
                d.location.span.line,
                d.location.span.col,
                d.message
            )
        })
        .collect();
    assert_eq!(
        found,
        ["connections.yaml:2:71: `token` is written in the tree"]
    );
}
