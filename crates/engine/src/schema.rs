//! The JSON Schema of the tree file, for editors (yaml-language-server) to complete and check
//! trees as they are typed.

use serde_json::{json, Map, Value};

use crate::model::Grain;
use crate::validate::{IDENTIFIER, MAX_TREE_ID, TREE_ID};
use crate::{ConnectionKind, Language};

/// An object schema with exactly `properties`, no others.
fn object(description: &str, properties: Vec<(&str, Value)>, required: &[&str]) -> Value {
    let props: Map<String, Value> = properties
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    json!({
        "type": "object",
        "description": description,
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

fn text(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

fn ids(description: &str) -> Value {
    json!({
        "description": description,
        "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }, { "type": "null" }],
    })
}

fn threshold(description: &str) -> Value {
    json!({
        "description": description,
        "anyOf": [{ "type": "number", "exclusiveMinimum": 0 }, { "const": false }],
    })
}

fn raci() -> Value {
    object(
        "RACI ownership. Keys left out are taken from the tree-level `raci:` default.",
        vec![
            (
                "responsible",
                ids("Who does the work that moves the metric."),
            ),
            (
                "accountable",
                json!({ "type": "string", "description": "The one person who answers for the metric; emailed when it moves." }),
            ),
            ("consulted", ids("Who is asked before decisions.")),
            ("informed", ids("Who gets a weekly summary.")),
        ],
        &[],
    )
}

fn alerts() -> Value {
    object(
        "When a metric counts as having moved. Tree-level values are defaults; a metric may override any key.",
        vec![
            ("change_pct", threshold("A move when |change| >= this percent of the previous value (default 10); false turns it off.")),
            ("change_abs", threshold("A move when |change| >= this, in the metric's unit (off by default); when set, also the least change change_pct fires on.")),
            ("bands", json!({ "type": "boolean", "description": "A move when the value enters another band (default true)." })),
            ("anomaly_z", threshold("A move when the robust z-score against recent history reaches this (default 3.5); false turns it off.")),
            ("history", json!({ "type": "integer", "minimum": 3, "maximum": 520, "description": "Periods of history the anomaly rule uses (default 8)." })),
            ("target", json!({ "type": "boolean", "description": "A move when the value crosses the target (default true)." })),
            ("remind_after", json!({ "description": "Remind the owner after this many runs in a bad state (off target, or in the worst band) without another alert (default 4); false never reminds.", "anyOf": [{ "type": "integer", "minimum": 1, "maximum": 1000 }, { "const": false }] })),
        ],
        &[],
    )
}

fn metric() -> Value {
    let band = object(
        "A named range; a value is in the first band whose `below` it is under.",
        vec![
            ("name", text("Band name, e.g. Healthy.")),
            (
                "below",
                json!({ "type": "number", "description": "Exclusive upper bound; left out on the last band only." }),
            ),
        ],
        &["name"],
    );
    object(
        "A metric: derived by `formula`, or a leaf measured from data (CSV or `source`).",
        vec![
            ("title", text("Display title.")),
            ("description", text("What the metric means.")),
            ("unit", text("Unit, e.g. items per active user.")),
            ("change", json!({ "enum": crate::model::ChangeIn::NAMES, "description": "How changes are told: points (default for unit %, pts, points, score) or relative (percent)." })),
            ("formula", text("Formula over other metrics and params: + - * / ^, min max abs sum avg clamp, if(a > b, x, y).")),
            ("source", source()),
            ("good", json!({ "enum": crate::Good::NAMES, "description": "Which direction is an improvement." })),
            ("target", json!({ "type": "number", "description": "The value the owner aims for." })),
            ("bands", json!({ "type": "array", "minItems": 1, "items": band, "description": "Named ranges, lowest first." })),
            ("raci", raci()),
            ("alerts", alerts()),
        ],
        &[],
    )
}

/// A leaf's source: one query, in the language of its connection (or SQL for `--data`).
fn source() -> Value {
    let queries: Vec<Value> = Language::ALL
        .iter()
        .map(|l| json!({ "required": [l.key()] }))
        .collect();
    let mut source = object(
        "Where a leaf's values come from: one query; {start} and {end} are bound by the server's parameters.",
        vec![
            ("connection", text("The named connection it runs on; without one, SQL on the databases given by --data.")),
            ("sql", text("SQL returning one value, or (segment, value) rows, optionally with a `period` column (one query for the whole range).")),
            ("hogql", text("HogQL, on a PostHog connection.")),
            ("jql", text("JQL on a Jira connection: the issues it matches are counted per period.")),
        ],
        &[],
    );
    source["oneOf"] = json!(queries);
    source
}

/// `env:NAME`, NAME an identifier, as a pattern without anchors.
fn env_pattern() -> String {
    let name = IDENTIFIER.pattern();
    format!("env:{}", &name[1..name.len() - 1])
}

/// A setting that is a secret: only ever the name of an environment variable.
fn secret(description: &str) -> Value {
    json!({ "type": "string", "pattern": format!("^{}$", env_pattern()), "description": description })
}

/// A named connection.
fn connection() -> Value {
    let schemes: Vec<String> = ConnectionKind::schemes()
        .map(|s| format!("{s}://"))
        .collect();
    let url = json!({
        "type": "string",
        "description": format!("The URL ({}), or env:NAME to read it (and any secret in it) from the environment.", schemes.join(", ")),
        "pattern": format!("^({}$|({})://)", env_pattern(), ConnectionKind::schemes().collect::<Vec<_>>().join("|")),
    });
    object(
        "Where leaves read data: a database or a service. Secrets are env:NAME only.",
        vec![
            ("url", url),
            (
                "user",
                text("Who connects (ClickHouse, PostgreSQL, Jira's email), or env:NAME."),
            ),
            (
                "password",
                secret("env:NAME holding the password (ClickHouse, PostgreSQL)."),
            ),
            ("key", secret("env:NAME holding the API key (PostHog).")),
            ("token", secret("env:NAME holding the API token (Jira).")),
            ("credentials", secret("env:NAME holding credentials.")),
        ],
        &["url"],
    )
}

fn change() -> Value {
    let names = json!({ "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }] });
    let whole = |least: u32, description: &str| json!({ "type": "integer", "minimum": least, "maximum": 520, "description": description });
    object(
        "A change shipped to move a metric, whose impact Canopy verifies once its evaluation window ends.",
        vec![
            ("id", text("Identifier, unique in the tree.")),
            ("title", text("Display title.")),
            ("metric", text("The metric it was meant to move.")),
            ("shipped", text("The first full period it was live, in the tree's grain (e.g. 2026-W30).")),
            ("expect", object("What it should do to the metric.", vec![
                ("direction", json!({ "enum": ["up", "down"], "description": "Which way it should move the metric." })),
                ("size", json!({ "description": "By how much: 5% or 0.05.", "anyOf": [{ "type": "number", "exclusiveMinimum": 0 }, { "type": "string", "pattern": "^[0-9.]+ *%$" }] })),
            ], &["direction"])),
            ("owner", text("Who answers for it (default: the metric's accountable).")),
            ("window", object("The periods around the ship date.", vec![
                ("ramp", whole(0, "Periods after shipping left out while it ramps up (default 1).")),
                ("periods", whole(1, "Periods evaluated after the ramp (default 6).")),
                ("baseline", whole(crate::change::MIN_BASELINE, "Periods before shipping it is measured against (default 26).")),
            ], &[])),
            ("scope", json!({ "type": "object", "additionalProperties": { "type": "string" }, "description": "The segment it shipped to: dimension and value." })),
            ("controls", object("What it did not touch, to compare with: other segments of the metric, or other metrics.", vec![
                ("segments", json!({ "type": "object", "additionalProperties": names, "description": "Values of each dimension." })),
                ("metrics", json!({ "type": "array", "items": { "type": "string" }, "description": "Metric ids." })),
            ], &[])),
            ("guardrails", json!({ "type": "array", "items": { "type": "string" }, "description": "Metrics that must not get worse." })),
        ],
        &["id", "metric", "shipped", "expect"],
    )
}

fn person() -> Value {
    let mut person = object(
        "Someone who owns or follows metrics.",
        vec![
            ("name", text("Display name.")),
            (
                "email",
                json!({ "type": "string", "format": "email", "description": "Where notifications go." }),
            ),
            (
                "webhook",
                text("A Slack-compatible incoming webhook's https:// URL, or env:NAME to read it from the environment."),
            ),
        ],
        &[],
    );
    // At least one way to reach them.
    person["anyOf"] = json!([{ "required": ["email"] }, { "required": ["webhook"] }]);
    person
}

/// The JSON Schema (draft-07) of the tree file.
pub fn json_schema() -> Value {
    let people = json!({ "type": "object", "additionalProperties": person() });
    let tree = object(
        "A Canopy metric tree.",
        vec![
            (
                "version",
                json!({ "const": 1, "description": "Tree file format version." }),
            ),
            (
                "tree",
                json!({ "type": "string", "pattern": TREE_ID.pattern(), "maxLength": MAX_TREE_ID, "description": "Tree id, unique among trees." }),
            ),
            ("title", text("Display title.")),
            ("description", text("What the tree is for.")),
            (
                "grain",
                json!({ "enum": Grain::NAMES, "description": "Period length (default week)." }),
            ),
            ("root", text("The north-star metric's id.")),
            (
                "people",
                json!({ "description": "People by id, or a path to a shared people file.", "anyOf": [people, { "type": "string" }] }),
            ),
            (
                "connections",
                json!({ "description": "Named connections leaves read from, or a path to a shared connections file.", "anyOf": [{ "type": "object", "additionalProperties": connection(), "propertyNames": { "pattern": IDENTIFIER.pattern() } }, { "type": "string" }] }),
            ),
            (
                "params",
                json!({ "type": "object", "additionalProperties": { "type": "number" }, "description": "Named constants usable in formulas." }),
            ),
            ("raci", raci()),
            ("alerts", alerts()),
            (
                "metrics",
                json!({ "type": "object", "additionalProperties": metric(), "propertyNames": { "pattern": IDENTIFIER.pattern() }, "description": "Metrics by id." }),
            ),
            (
                "changes",
                json!({ "description": "Changes shipped, to verify their impact: a list, or a path to a file holding one.", "anyOf": [{ "type": "array", "items": change() }, { "type": "string" }] }),
            ),
        ],
        &["tree", "root", "metrics"],
    );
    let mut schema = tree;
    let obj = schema.as_object_mut().expect("an object");
    obj.insert(
        "$schema".into(),
        json!("http://json-schema.org/draft-07/schema#"),
    );
    obj.insert(
        "$id".into(),
        json!("https://canopy-metrics.github.io/schema/tree-v1.json"),
    );
    obj.insert("title".into(), json!("Canopy metric tree"));
    schema
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::keys;

    fn property_names(v: &Value) -> Vec<&str> {
        let mut names: Vec<&str> = v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort();
        names
    }

    fn sorted(keys: &[&'static str]) -> Vec<&'static str> {
        let mut k = keys.to_vec();
        k.sort();
        k
    }

    /// The schema and the decoder must accept the same keys, or editors would mislead users.
    #[test]
    fn schema_keys_match_the_decoder() {
        let s = json_schema();
        assert_eq!(property_names(&s), sorted(keys::TREE));
        let m = &s["properties"]["metrics"]["additionalProperties"];
        assert_eq!(property_names(m), sorted(keys::METRIC));
        assert_eq!(property_names(&m["properties"]["raci"]), sorted(keys::RACI));
        assert_eq!(
            property_names(&m["properties"]["alerts"]),
            sorted(keys::ALERTS)
        );
        assert_eq!(
            property_names(&m["properties"]["bands"]["items"]),
            sorted(keys::BAND)
        );
        assert_eq!(
            property_names(&m["properties"]["source"]),
            sorted(keys::SOURCE)
        );
        let c = &s["properties"]["changes"]["anyOf"][0]["items"];
        assert_eq!(property_names(c), sorted(keys::CHANGE));
        assert_eq!(
            property_names(&c["properties"]["expect"]),
            sorted(keys::EXPECT)
        );
        assert_eq!(
            property_names(&c["properties"]["window"]),
            sorted(keys::WINDOW)
        );
        assert_eq!(
            property_names(&c["properties"]["controls"]),
            sorted(keys::CONTROLS)
        );
        let p = &s["properties"]["people"]["anyOf"][0]["additionalProperties"];
        assert_eq!(property_names(p), sorted(keys::PERSON));
        let c = &s["properties"]["connections"]["anyOf"][0]["additionalProperties"];
        assert_eq!(property_names(c), sorted(keys::CONNECTION));
    }
}
