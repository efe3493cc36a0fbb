//! The JSON Schema of the tree file, for editors (yaml-language-server) to complete and check
//! trees as they are typed. Every mapping's properties come from its table of keys (`keys.rs`),
//! the one the decoder reads, so the two cannot disagree.

use serde_json::{json, Map, Value};

use crate::keys::{ChangeKey, Keys, MetricKey, PersonKey, SourceKey, TreeKey};
use crate::validate::IDENTIFIER;
use crate::{ConnectionKind, Language};

/// The object schema of a mapping whose keys are `K`: exactly those properties, no others.
pub(crate) fn object_of<K: Keys>() -> Value {
    let props: Map<String, Value> = (K::ALL.iter())
        .map(|k| (k.name().to_string(), k.schema()))
        .collect();
    let required: Vec<&str> = K::REQUIRED.iter().map(|k| k.name()).collect();
    json!({
        "type": "object",
        "description": K::DESCRIPTION,
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

pub(crate) fn text(description: &str) -> Value {
    json!({ "type": "string", "description": description })
}

pub(crate) fn ids(description: &str) -> Value {
    json!({
        "description": description,
        "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }, { "type": "null" }],
    })
}

pub(crate) fn threshold(description: &str) -> Value {
    json!({
        "description": description,
        "anyOf": [{ "type": "number", "exclusiveMinimum": 0 }, { "const": false }],
    })
}

pub(crate) fn metric() -> Value {
    object_of::<MetricKey>()
}

pub(crate) fn change() -> Value {
    object_of::<ChangeKey>()
}

/// A person: a mapping of `PersonKey`s with at least one way to reach them.
pub(crate) fn person() -> Value {
    let mut person = object_of::<PersonKey>();
    person["anyOf"] = json!([{ "required": ["email"] }, { "required": ["webhook"] }]);
    person
}

/// A leaf's source: one query, in the language of its connection (or SQL for `--data`).
pub(crate) fn source() -> Value {
    let queries: Vec<Value> = Language::ALL
        .iter()
        .map(|l| json!({ "required": [l.key()] }))
        .collect();
    let mut source = object_of::<SourceKey>();
    source["oneOf"] = json!(queries);
    source
}

/// `env:NAME`, NAME an identifier, as a pattern without anchors.
fn env_pattern() -> String {
    let name = IDENTIFIER.pattern();
    format!("env:{}", &name[1..name.len() - 1])
}

/// A setting that is a secret: only ever the name of an environment variable.
pub(crate) fn secret(description: &str) -> Value {
    json!({ "type": "string", "pattern": format!("^{}$", env_pattern()), "description": description })
}

/// A connection's URL: one of the schemes Canopy reads, or `env:NAME`.
pub(crate) fn connection_url() -> Value {
    let schemes: Vec<&str> = ConnectionKind::schemes().collect();
    let shown: Vec<String> = schemes.iter().map(|s| format!("{s}://")).collect();
    json!({
        "type": "string",
        "description": format!("The URL ({}), or env:NAME to read it (and any secret in it) from the environment.", shown.join(", ")),
        "pattern": format!("^({}$|({})://)", env_pattern(), schemes.join("|")),
    })
}

/// The JSON Schema (draft-07) of the tree file.
pub fn json_schema() -> Value {
    let mut schema = object_of::<TreeKey>();
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
    use crate::keys::*;

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

    fn names<K: Keys>() -> Vec<&'static str> {
        let mut k: Vec<&str> = K::ALL.iter().map(|k| k.name()).collect();
        k.sort();
        k
    }

    /// Every mapping of the schema, where an editor meets it, lists exactly its table's keys.
    #[test]
    fn every_mapping_lists_its_tables_keys() {
        let s = json_schema();
        assert_eq!(property_names(&s), names::<TreeKey>());
        let m = &s["properties"]["metrics"]["additionalProperties"];
        assert_eq!(property_names(m), names::<MetricKey>());
        assert_eq!(property_names(&m["properties"]["raci"]), names::<RaciKey>());
        assert_eq!(
            property_names(&m["properties"]["alerts"]),
            names::<AlertsKey>()
        );
        assert_eq!(
            property_names(&m["properties"]["bands"]["items"]),
            names::<BandKey>()
        );
        assert_eq!(
            property_names(&m["properties"]["source"]),
            names::<SourceKey>()
        );
        let c = &s["properties"]["changes"]["anyOf"][0]["items"];
        assert_eq!(property_names(c), names::<ChangeKey>());
        assert_eq!(
            property_names(&c["properties"]["expect"]),
            names::<ExpectKey>()
        );
        assert_eq!(
            property_names(&c["properties"]["window"]),
            names::<WindowKey>()
        );
        assert_eq!(
            property_names(&c["properties"]["controls"]),
            names::<ControlsKey>()
        );
        let p = &s["properties"]["people"]["anyOf"][0]["additionalProperties"];
        assert_eq!(property_names(p), names::<PersonKey>());
        let c = &s["properties"]["connections"]["anyOf"][0]["additionalProperties"];
        assert_eq!(property_names(c), names::<ConnectionKey>());
        assert_eq!(s["required"], json!(["tree", "root", "metrics"]));
    }

    /// The decoder reads every key of a table as that key, and nothing else.
    fn decodes_every_key<K: Keys + std::fmt::Debug>() {
        let yaml: String = K::ALL
            .iter()
            .map(|k| format!("{}: 1\n", k.name()))
            .collect();
        let doc = crate::yaml::load(&yaml).expect("valid YAML");
        let mut diagnostics = Vec::new();
        let mut dec = crate::decode::Decoder {
            path: std::sync::Arc::from(std::path::Path::new("t.yaml")),
            diagnostics: &mut diagnostics,
        };
        let read: Vec<K> = (dec
            .mapping::<K>(&doc.root, "a mapping")
            .unwrap()
            .into_iter())
        .map(|(k, _, _)| k)
        .collect();
        assert_eq!(read, K::ALL);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    }

    #[test]
    fn the_decoder_reads_every_key_of_every_table() {
        decodes_every_key::<TreeKey>();
        decodes_every_key::<MetricKey>();
        decodes_every_key::<PersonKey>();
        decodes_every_key::<RaciKey>();
        decodes_every_key::<AlertsKey>();
        decodes_every_key::<BandKey>();
        decodes_every_key::<SourceKey>();
        decodes_every_key::<ConnectionKey>();
        decodes_every_key::<ChangeKey>();
        decodes_every_key::<ExpectKey>();
        decodes_every_key::<WindowKey>();
        decodes_every_key::<ControlsKey>();
    }
}
