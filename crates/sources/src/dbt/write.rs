//! The imported tree as YAML meant to be read and edited: a comment on every metric saying
//! which dbt metric it came from (`# dbt: NAME`, which [`super::drift`] reads back) and how.
//! Every scalar goes through [`scalar`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use canopy_engine::Grain;

use super::plan::{Body, Planned};
use super::URL_VARIABLE;

/// The marker of a metric's dbt origin on its key line.
pub(crate) const MARKER: &str = "# dbt: ";

pub(crate) struct Tree<'a> {
    pub(crate) root: &'a str,
    pub(crate) grain: Grain,
    pub(crate) connection: &'a str,
    pub(crate) default_owner: &'a str,
    pub(crate) metrics: &'a [Planned],
    /// dbt-semantic-interfaces' version, as the manifest says.
    pub(crate) version: Option<&'a str>,
}

/// A YAML scalar for `text`: plain when that reads back as the same string in block and flow
/// context alike, double-quoted (JSON's escapes, which YAML shares) otherwise.
pub(crate) fn scalar(text: &str) -> String {
    let reserved = [
        "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~",
    ];
    let mut chars = text.chars().peekable();
    let first_ok = chars
        .peek()
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_');
    let mut plain = first_ok && !text.ends_with(' ') && !text.contains("  ");
    while let Some(c) = chars.next() {
        let ok = c.is_ascii_alphanumeric()
            || " _.-'()/%@+*".contains(c)
            || (c == ':' && chars.peek().is_some_and(|n| *n != ' '));
        plain &= ok;
    }
    if plain && !reserved.contains(&text.to_ascii_lowercase().as_str()) {
        text.to_string()
    } else {
        serde_json::to_string(text).expect("a string serialises")
    }
}

/// A person's id from an address: its local part, lower case, `_` for anything else.
fn person_id(address: &str) -> String {
    let local = address.split('@').next().unwrap_or(address);
    let mut id: String = (local.chars())
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        id.insert_str(0, "p_");
    }
    id
}

/// A display name from an address: `maya.chen@...` is Maya Chen.
fn person_name(address: &str) -> String {
    let local = address.split('@').next().unwrap_or(address);
    (local.split(['.', '_', '-', '+']))
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Person ids by address, unique (a second `maya@` at another domain gets a number).
fn people<'a>(addresses: impl Iterator<Item = &'a str>) -> BTreeMap<String, String> {
    let mut by_address = BTreeMap::new();
    let mut taken = std::collections::BTreeSet::new();
    for address in addresses {
        if by_address.contains_key(address) {
            continue;
        }
        let base = person_id(address);
        let mut id = base.clone();
        let mut n = 2;
        while !taken.insert(id.clone()) {
            id = format!("{base}_{n}");
            n += 1;
        }
        by_address.insert(address.to_string(), id);
    }
    by_address
}

/// The tree file.
pub(crate) fn tree(t: &Tree<'_>) -> String {
    let addresses = std::iter::once(t.default_owner).chain(
        (t.metrics.iter())
            .filter_map(|m| m.owners.as_ref().ok())
            .flatten()
            .map(String::as_str),
    );
    let ids = people(addresses);
    let root = t.metrics.iter().find(|m| m.id == t.root);
    let mut out = String::new();
    let from = t
        .version
        .map_or(String::new(), |v| format!(" (dbt-semantic-interfaces {v})"));
    let _ = writeln!(
        out,
        "# Imported from the dbt semantic layer by `canopy import dbt`{from}.\n\
         # Each metric names the dbt metric it came from (`{}NAME`, kept for --check):\n\
         # `canopy import dbt --check THIS_FILE semantic_manifest.json` reports where it has\n\
         # drifted from the manifest. The leaves' SQL runs on the connection below.",
        MARKER
    );
    let tree_id: String = t.root.replace('_', "-").chars().take(64).collect();
    let _ = writeln!(out, "version: 1\ntree: {}", scalar(&tree_id));
    if let Some(title) = root.and_then(|r| r.title.as_deref()) {
        let _ = writeln!(out, "title: {}", scalar(title));
    }
    let _ = writeln!(
        out,
        "grain: {}\nroot: {}\nconnections:\n  {}: {{ url: {} }}",
        t.grain.name(),
        scalar(t.root),
        scalar(t.connection),
        scalar(&format!("env:{URL_VARIABLE}")),
    );
    out.push_str("people:\n");
    for (address, id) in &ids {
        let _ = writeln!(
            out,
            "  {}: {{ name: {}, email: {} }}",
            scalar(id),
            scalar(&person_name(address)),
            scalar(address)
        );
    }
    let _ = writeln!(
        out,
        "raci: {{ accountable: {} }}  # for the metrics whose dbt metric names no owner",
        scalar(&ids[t.default_owner])
    );
    out.push_str("metrics:\n");
    for m in t.metrics {
        metric(&mut out, m, t.connection, &ids);
    }
    out
}

fn metric(out: &mut String, m: &Planned, connection: &str, ids: &BTreeMap<String, String>) {
    let _ = writeln!(out, "  {}:  {MARKER}{}", scalar(&m.id), m.dbt);
    let _ = writeln!(out, "    # {}", m.note.replace('\n', " "));
    if let Some(title) = &m.title {
        let _ = writeln!(out, "    title: {}", scalar(title));
    }
    if let Some(description) = &m.description {
        let _ = writeln!(out, "    description: {}", scalar(description.trim()));
    }
    match &m.body {
        Body::Formula(f) => {
            let _ = writeln!(out, "    formula: {}", scalar(f));
        }
        Body::Sql(sql) => {
            let _ = writeln!(
                out,
                "    source:\n      connection: {}\n      sql: {}",
                scalar(connection),
                scalar(sql)
            );
        }
    }
    match &m.owners {
        Ok(owners) => {
            let (first, rest) = owners.split_first().expect("owners are never empty");
            let mut raci = format!("accountable: {}", scalar(&ids[first]));
            if !rest.is_empty() {
                let rest: Vec<String> = rest.iter().map(|o| scalar(&ids[o])).collect();
                raci += &format!(", responsible: [{}]", rest.join(", "));
            }
            let _ = writeln!(out, "    raci: {{ {raci} }}");
        }
        Err(why) => {
            let _ = writeln!(out, "    # {why}: the tree's default is accountable");
        }
    }
}
