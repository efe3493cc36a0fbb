//! What a metric means, written down canonically: its formula (as compiled, with params
//! folded to numbers and spacing gone), source, unit, how its changes are told, direction of
//! good, target, bands and alert rules. Two definitions are the same exactly when these fields
//! are; the version is a short hash of them. Titles, descriptions and owners are not part of
//! the definition: renaming a metric or handing it over does not change what it measures.

use serde::{Deserialize, Serialize};

use crate::formula::Expr;
use crate::model::{Alerts, Metric, MetricId, MetricTree};

/// How many hex digits of a definition's hash are shown (`definition: 3f2a9c1`).
pub const VERSION_DIGITS: usize = 7;

/// A metric's definition, field by field, in a fixed order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    /// (field, value as text), in the order of [`Definition::FIELDS`].
    fields: Vec<(String, String)>,
}

/// One field that differs between two definitions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The field's key in the tree file (`formula`, `bands`, ...).
    pub field: String,
    /// Its value before (`None`: it was not set).
    pub before: Option<String>,
    /// Its value now (`None`: it is no longer set).
    pub after: Option<String>,
}

impl Definition {
    /// The fields of a definition, in order: the keys a tree file writes them under.
    pub const FIELDS: [&'static str; 8] = [
        "formula", "source", "unit", "change", "good", "target", "bands", "alerts",
    ];

    /// The definition of `id` in `tree`.
    pub fn of(tree: &MetricTree, id: MetricId) -> Definition {
        let m = tree.metric(id);
        let values = [
            formula(tree, m),
            source(m),
            m.unit.clone(),
            Some(m.change.name().to_string()),
            m.good.map(|g| g.name().to_string()),
            m.target.map(|t| t.to_string()),
            bands(m),
            Some(alerts(&m.alerts)),
        ];
        let fields = Definition::FIELDS
            .iter()
            .zip(values)
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect();
        Definition { fields }
    }

    /// The fields that say how a metric's values are computed; the others say how they are
    /// told and alerted on.
    pub const COMPUTED: [&'static str; 2] = ["formula", "source"];

    /// Whether values under this definition are computed as under `other`: the same formula
    /// (as compiled) and source. A metric computes as it did when this holds for it and for
    /// every metric under it ([`MetricTree::under`]).
    pub fn computes_as(&self, other: &Definition) -> bool {
        Definition::COMPUTED
            .iter()
            .all(|field| self.get(field) == other.get(field))
    }

    /// The formula, as compiled, if the metric is derived by one.
    pub fn formula(&self) -> Option<&str> {
        self.get("formula")
    }

    /// The value of `field`, if the definition sets it.
    pub fn get(&self, field: &str) -> Option<&str> {
        (self.fields.iter())
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.as_str())
    }

    /// The fields that are set, in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The full hash of the definition, as 16 hex digits.
    pub fn hash(&self) -> String {
        format!("{:016x}", crate::stable_hash(self.bytes()))
    }

    /// The version: the first [`VERSION_DIGITS`] digits of the hash.
    pub fn version(&self) -> String {
        short(&self.hash())
    }

    /// The fields that differ from `before`'s, in order.
    pub fn changes_since(&self, before: &Definition) -> Vec<FieldChange> {
        Definition::FIELDS
            .iter()
            .filter_map(|&field| {
                let (b, a) = (before.get(field), self.get(field));
                (b != a).then(|| FieldChange {
                    field: field.to_string(),
                    before: b.map(str::to_string),
                    after: a.map(str::to_string),
                })
            })
            .collect()
    }

    /// The bytes hashed: each field's key and value, each ended by a zero byte.
    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.fields
            .iter()
            .flat_map(|(k, v)| (k.bytes().chain([0])).chain(v.bytes()).chain([0]))
    }
}

/// What a trend says of a change of definition in `period` inside it. Trends are computed
/// from the data under the current definition, so they do not mix two: the note says where
/// the alerts and the history did.
pub fn redefined_note(period: crate::Period) -> String {
    format!("definition changed in {period}; every value shown is under the current one")
}

/// The first [`VERSION_DIGITS`] digits of a hash.
pub fn short(hash: &str) -> String {
    hash.chars().take(VERSION_DIGITS).collect()
}

impl MetricTree {
    /// The full hash of the whole tree's definition: its grain, its root, and every metric's
    /// id and definition in file order. Any change to what the tree computes or alerts on
    /// changes it; see [`short`] for its version.
    pub fn definition_hash(&self) -> String {
        let definitions: Vec<Definition> = self.ids().map(|id| Definition::of(self, id)).collect();
        self.definition_hash_of(&definitions)
    }

    /// [`MetricTree::definition_hash`], from every metric's definition in file order (for
    /// a caller that has them already).
    pub fn definition_hash_of<'d>(
        &self,
        definitions: impl IntoIterator<Item = &'d Definition>,
    ) -> String {
        let head = format!("{}\0{}\0", self.grain(), self.metric(self.root()).id);
        let mut bytes: Vec<u8> = head.into_bytes();
        for (id, definition) in self.ids().zip(definitions) {
            bytes.extend(self.metric(id).id.bytes().chain([0]));
            bytes.extend(definition.bytes());
        }
        format!("{:016x}", crate::stable_hash(bytes))
    }

    /// The version of the whole tree's definition (`definition: 3f2a9c1`).
    pub fn version(&self) -> String {
        short(&self.definition_hash())
    }
}

/// The formula as compiled, inputs by id: `items_created / active_users`.
fn formula(tree: &MetricTree, m: &Metric) -> Option<String> {
    let f = m.formula.as_ref()?;
    let named: Expr<String> = f
        .expr()
        .map_vars(&mut |&i| Expr::Var(tree.metric(f.inputs()[i]).id.clone()));
    Some(named.to_string())
}

fn source(m: &Metric) -> Option<String> {
    match (&m.formula, &m.source) {
        (Some(_), _) => None,
        (None, Some(source)) => Some(source.describe(source.query.trim())),
        (None, None) => Some("data".to_string()),
    }
}

/// `Poor below 10, Fair below 20, Good`.
fn bands(m: &Metric) -> Option<String> {
    if m.bands.is_empty() {
        return None;
    }
    let parts: Vec<String> = (m.bands.iter())
        .map(|b| match b.below {
            Some(below) => format!("{} below {below}", b.name),
            None => b.name.clone(),
        })
        .collect();
    Some(parts.join(", "))
}

/// Every rule with its setting, `off` for a rule turned off.
fn alerts(a: &Alerts) -> String {
    let or_off = |v: Option<f64>| v.map_or("off".to_string(), |v| v.to_string());
    let on_off = |b: bool| if b { "on" } else { "off" };
    let text = format!(
        "change_pct {}, change_abs {}, bands {}, anomaly_z {} over {}, target {}, remind_after {}",
        or_off(a.change_pct),
        or_off(a.change_abs),
        on_off(a.bands),
        or_off(a.anomaly_z),
        a.history,
        on_off(a.target),
        a.remind_after.map_or("off".to_string(), |v| v.to_string()),
    ) + &(a.segments).map_or(String::new(), |s| format!(", segments {s}"))
        + &(a.only_if.as_ref()).map_or(String::new(), |g| format!(", only if {}", g.text));
    // Each said only when not the default, so that the definitions written before the key
    // existed keep their hashes.
    match a.compare {
        crate::model::Compare::Previous => text,
        other => format!("{text}, compare {}", other.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Definition, FieldChange};
    use crate::tests::{load_str, tree};

    fn root(metrics: &str) -> Definition {
        let loaded = load_str(&tree(metrics)).unwrap();
        Definition::of(&loaded.tree, loaded.tree.root())
    }

    const BASE: &str = "  r: { formula: a / b, title: Rate, good: up, bands: [{ name: Low, below: 1 }, { name: High }] }\n  a: {}\n  b: {}\n";

    #[test]
    fn spelling_titles_and_owners_are_not_the_definition() {
        let base = root(BASE);
        let respaced = BASE.replace("a / b", "\"a/b\"").replace("Rate", "Other");
        assert_eq!(base, root(&respaced));
        assert_eq!(base.version().len(), super::VERSION_DIGITS);
        assert_eq!(base.get("formula"), Some("a / b"));
        assert_eq!(base.get("bands"), Some("Low below 1, High"));
        assert_eq!(base.get("target"), None);
    }

    #[test]
    fn each_field_that_differs_is_named_with_before_and_after() {
        let base = root(BASE);
        let changed = root(
            &BASE
                .replace("a / b", "b / a")
                .replace("below: 1", "below: 2")
                .replace("good: up", "good: down, target: 3"),
        );
        assert_ne!(base.version(), changed.version());
        let change = |field: &str, before: Option<&str>, after: Option<&str>| FieldChange {
            field: field.to_string(),
            before: before.map(str::to_string),
            after: after.map(str::to_string),
        };
        assert_eq!(
            changed.changes_since(&base),
            vec![
                change("formula", Some("a / b"), Some("b / a")),
                change("good", Some("up"), Some("down")),
                change("target", None, Some("3")),
                change(
                    "bands",
                    Some("Low below 1, High"),
                    Some("Low below 2, High")
                ),
            ]
        );
        assert!(base.changes_since(&base).is_empty());
    }

    #[test]
    fn the_tree_version_changes_with_any_metric_and_survives_a_round_trip() {
        let version = |metrics: &str| load_str(&tree(metrics)).unwrap().tree.version();
        assert_eq!(version(BASE), version(&BASE.replace("Rate", "Other")));
        assert_ne!(
            version(BASE),
            version(&BASE.replace("  b: {}", "  b: { unit: users }"))
        );
        let base = root(BASE);
        let json = serde_json::to_string(&base).unwrap();
        assert_eq!(serde_json::from_str::<Definition>(&json).unwrap(), base);
    }
}
