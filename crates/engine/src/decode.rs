//! From YAML nodes to the tree file's raw structure, checking keys and types.
//!
//! Decoding never stops at the first problem: each wrong key or value is reported and skipped,
//! so one `canopy check` lists everything. Rules that relate parts of the file to each other
//! (formula names, cycles, RACI) belong to `validate`.

use std::path::Path;
use std::sync::Arc;

use crate::bands::Good;
use crate::diagnostic::{Diagnostic, Location, Severity, Span};
use crate::model::Grain;
use crate::suggest::did_you_mean;
use crate::yaml::{Kind, Node};

/// The keys each mapping of a tree file accepts. The JSON Schema is generated from these too.
pub(crate) mod keys {
    pub(crate) const TREE: &[&str] = &[
        "version",
        "tree",
        "title",
        "description",
        "grain",
        "root",
        "people",
        "connections",
        "params",
        "raci",
        "alerts",
        "metrics",
        "changes",
    ];
    pub(crate) const METRIC: &[&str] = &[
        "title",
        "description",
        "unit",
        "change",
        "formula",
        "source",
        "good",
        "target",
        "bands",
        "raci",
        "alerts",
    ];
    pub(crate) const PERSON: &[&str] = &["name", "email", "webhook"];
    pub(crate) const RACI: &[&str] = &["responsible", "accountable", "consulted", "informed"];
    pub(crate) const ALERTS: &[&str] = &[
        "change_pct",
        "change_abs",
        "bands",
        "anomaly_z",
        "history",
        "target",
        "remind_after",
    ];
    pub(crate) const BAND: &[&str] = &["name", "below"];
    pub(crate) const SOURCE: &[&str] = &["connection", "sql", "hogql", "jql"];
    pub(crate) const CONNECTION: &[&str] =
        &["url", "user", "password", "key", "token", "credentials"];
    pub(crate) const CHANGE: &[&str] = &[
        "id",
        "title",
        "metric",
        "shipped",
        "expect",
        "owner",
        "window",
        "scope",
        "controls",
        "guardrails",
    ];
    pub(crate) const EXPECT: &[&str] = &["direction", "size"];
    pub(crate) const WINDOW: &[&str] = &["ramp", "periods", "baseline"];
    pub(crate) const CONTROLS: &[&str] = &["segments", "metrics"];
}

/// A value and where it was written.
#[derive(Clone, Debug)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

pub(crate) struct TreeSpec {
    pub(crate) id: Option<Spanned<String>>,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) grain: Option<Grain>,
    pub(crate) root: Option<Spanned<String>>,
    pub(crate) people: Option<PeopleSpec>,
    pub(crate) connections: Option<ConnectionsSpec>,
    pub(crate) params: Vec<(Spanned<String>, f64)>,
    pub(crate) raci: Option<RaciSpec>,
    pub(crate) alerts: AlertsSpec,
    pub(crate) metrics: Vec<MetricSpec>,
    pub(crate) changes: Option<crate::change::ChangesSpec>,
}

/// Connections inline (a mapping by name), or a path to a shared connections file.
pub(crate) enum ConnectionsSpec {
    Inline(Vec<ConnectionSpec>),
    File(Spanned<String>),
}

/// A connection as written: each setting with where it was written.
pub(crate) struct ConnectionSpec {
    pub(crate) name: Spanned<String>,
    /// The whole mapping, for what it lacks.
    pub(crate) span: Span,
    pub(crate) url: Option<Spanned<String>>,
    pub(crate) user: Option<Spanned<String>>,
    /// The secret settings given (`password`, `key`, `token`, `credentials`), by key.
    pub(crate) secrets: Vec<(&'static str, Spanned<String>)>,
}

/// A leaf's `source:` as written.
pub(crate) struct SourceSpec {
    pub(crate) span: Span,
    pub(crate) connection: Option<Spanned<String>>,
    /// The query, with the language its key names; `None` when none was given.
    pub(crate) query: Option<(crate::Language, Spanned<String>)>,
}

pub(crate) enum PeopleSpec {
    Inline(Vec<PersonSpec>),
    File(Spanned<String>),
}

pub(crate) struct PersonSpec {
    pub(crate) id: Spanned<String>,
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) email: Option<Spanned<String>>,
    pub(crate) webhook: Option<Spanned<String>>,
}

#[derive(Clone, Default)]
pub(crate) struct RaciSpec {
    pub(crate) span: Span,
    pub(crate) responsible: Option<Vec<Spanned<String>>>,
    pub(crate) accountable: Option<Vec<Spanned<String>>>,
    pub(crate) consulted: Option<Vec<Spanned<String>>>,
    pub(crate) informed: Option<Vec<Spanned<String>>>,
}

/// Alert settings as written: `None` where the file leaves a key to the default. For the
/// optional thresholds, `Some(None)` is an explicit `false` (rule disabled).
#[derive(Clone, Default)]
pub(crate) struct AlertsSpec {
    pub(crate) change_pct: Option<Option<f64>>,
    pub(crate) change_abs: Option<Option<f64>>,
    pub(crate) bands: Option<bool>,
    pub(crate) anomaly_z: Option<Option<f64>>,
    pub(crate) history: Option<u32>,
    pub(crate) target: Option<bool>,
    pub(crate) remind_after: Option<Option<u32>>,
}

pub(crate) struct BandSpec {
    pub(crate) span: Span,
    pub(crate) name: Option<String>,
    pub(crate) below: Option<f64>,
}

pub(crate) struct MetricSpec {
    pub(crate) id: Spanned<String>,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) unit: Option<String>,
    pub(crate) change: Option<crate::model::ChangeIn>,
    /// The formula's text and its node, kept to point inside the text.
    pub(crate) formula: Option<(String, Node)>,
    pub(crate) source: Option<SourceSpec>,
    pub(crate) good: Option<Good>,
    pub(crate) target: Option<f64>,
    pub(crate) bands: Option<Spanned<Vec<BandSpec>>>,
    pub(crate) raci: Option<RaciSpec>,
    pub(crate) alerts: AlertsSpec,
}

/// Collects diagnostics for one file.
pub(crate) struct Decoder<'d> {
    pub(crate) path: Arc<Path>,
    pub(crate) diagnostics: &'d mut Vec<Diagnostic>,
}

type Entries<'n> = Vec<(&'n str, &'n Node, &'n Node)>;

impl Decoder<'_> {
    pub(crate) fn location(&self, span: Span) -> Location {
        Location {
            path: self.path.clone(),
            span,
        }
    }

    pub(crate) fn error_help(
        &mut self,
        span: Span,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let d = Diagnostic::error(self.location(span), message).with_help(help);
        self.diagnostics.push(d);
    }

    /// How many errors (not warnings) have been found so far.
    pub(crate) fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub(crate) fn warning_help(
        &mut self,
        span: Span,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let d = Diagnostic::warning(self.location(span), message).with_help(help);
        self.diagnostics.push(d);
    }

    pub(crate) fn expected(&mut self, node: &Node, what: &str, expected: &str) {
        let found = node.describe();
        self.error_help(
            node.span,
            format!("{what}: expected {expected}, found {found}"),
            format!("write {expected}"),
        );
    }

    /// The entries of a mapping, reporting non-string keys and keys not in `allowed`.
    pub(crate) fn mapping<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&str],
    ) -> Option<Entries<'n>> {
        let Kind::Map(entries) = &node.kind else {
            self.expected(node, what, "a mapping");
            return None;
        };
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let Kind::Scalar(key) = &k.kind else {
                self.expected(k, &format!("a key in {what}"), "a string");
                continue;
            };
            if !allowed.is_empty() && !allowed.contains(&key.text.as_str()) {
                let message = match did_you_mean(&key.text, allowed.iter().copied()) {
                    Some(s) => {
                        format!("unknown key `{}` in {what} (did you mean `{s}`?)", key.text)
                    }
                    None => format!("unknown key `{}` in {what}", key.text),
                };
                self.error_help(
                    k.span,
                    message,
                    format!("the keys are: {}", allowed.join(", ")),
                );
                continue;
            }
            out.push((key.text.as_str(), k, v));
        }
        Some(out)
    }

    pub(crate) fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            Kind::Scalar(s) if !s.is_null() => Some(s.text.clone()),
            _ => {
                self.expected(node, what, "a string");
                None
            }
        }
    }

    pub(crate) fn spanned_string(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        self.string(node, what).map(|value| Spanned {
            value,
            span: node.span,
        })
    }

    pub(crate) fn number(&mut self, node: &Node, what: &str) -> Option<f64> {
        match &node.kind {
            Kind::Scalar(s) if s.is_plain() => match s.text.parse::<f64>() {
                Ok(n) if n.is_finite() => return Some(n),
                _ => {}
            },
            _ => {}
        }
        self.expected(node, what, "a finite number");
        None
    }

    fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.kind {
            Kind::Scalar(s) if s.is_plain() && s.text == "true" => Some(true),
            Kind::Scalar(s) if s.is_plain() && s.text == "false" => Some(false),
            _ => {
                self.expected(node, what, "`true` or `false`");
                None
            }
        }
    }

    /// One of `names`, reported with a suggestion otherwise.
    pub(crate) fn choice(&mut self, node: &Node, what: &str, names: &[&str]) -> Option<usize> {
        let text = self.string(node, what)?;
        if let Some(i) = names.iter().position(|n| *n == text) {
            return Some(i);
        }
        let hint = did_you_mean(&text, names.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        self.error_help(
            node.span,
            format!("{what}: `{text}` is not one of {}{hint}", names.join(", ")),
            format!("write one of: {}", names.join(", ")),
        );
        None
    }

    /// A person id or a list of them.
    fn ids(&mut self, node: &Node, what: &str) -> Option<Vec<Spanned<String>>> {
        match &node.kind {
            Kind::Scalar(s) if s.is_null() => Some(Vec::new()),
            Kind::Scalar(_) => self.spanned_string(node, what).map(|s| vec![s]),
            Kind::Seq(items) => Some(
                items
                    .iter()
                    .filter_map(|i| self.spanned_string(i, what))
                    .collect(),
            ),
            Kind::Map(_) => {
                self.expected(node, what, "a person id or a list of them");
                None
            }
        }
    }

    pub(crate) fn tree(&mut self, node: &Node) -> Option<TreeSpec> {
        let entries = self.mapping(node, "the tree file", keys::TREE)?;
        let mut spec = TreeSpec {
            id: None,
            title: None,
            description: None,
            grain: None,
            root: None,
            people: None,
            connections: None,
            params: Vec::new(),
            raci: None,
            alerts: AlertsSpec::default(),
            metrics: Vec::new(),
            changes: None,
        };
        let mut saw_metrics = false;
        for (key, _, v) in entries {
            match key {
                "version" => {
                    if self.number(v, "`version`") != Some(1.0) {
                        self.error_help(
                            v.span,
                            "unsupported tree file version",
                            "this version of canopy reads `version: 1`",
                        );
                    }
                }
                "tree" => spec.id = self.spanned_string(v, "`tree`"),
                "title" => spec.title = self.string(v, "`title`"),
                "description" => spec.description = self.string(v, "`description`"),
                "grain" => {
                    spec.grain = self
                        .choice(v, "`grain`", &Grain::NAMES)
                        .map(|i| Grain::ALL[i])
                }
                "root" => spec.root = self.spanned_string(v, "`root`"),
                "people" => spec.people = self.people(v),
                "connections" => spec.connections = self.connections(v),
                "params" => spec.params = self.params(v),
                "raci" => spec.raci = self.raci(v, "the tree's `raci`"),
                "alerts" => spec.alerts = self.alerts(v, "the tree's `alerts`"),
                "metrics" => {
                    saw_metrics = true;
                    spec.metrics = self.metrics(v);
                }
                "changes" => spec.changes = self.changes(v),
                _ => unreachable!("mapping() only returns allowed keys"),
            }
        }
        if spec.id.is_none() {
            self.error_help(
                node.span,
                "the tree has no `tree:` id",
                "add `tree: <id>`, unique among your trees",
            );
        }
        if spec.root.is_none() {
            self.error_help(
                node.span,
                "the tree has no `root:` metric",
                "add `root: <metric id>`, the north-star metric",
            );
        }
        if !saw_metrics {
            self.error_help(
                node.span,
                "the tree has no `metrics:`",
                "add `metrics:` with at least the root metric",
            );
        }
        Some(spec)
    }

    /// People inline (a mapping) or a path to a shared people file (a string).
    fn people(&mut self, node: &Node) -> Option<PeopleSpec> {
        if let Kind::Scalar(_) = node.kind {
            return self.spanned_string(node, "`people`").map(PeopleSpec::File);
        }
        self.people_map(node).map(PeopleSpec::Inline)
    }

    /// A mapping of person id to `{ name, email }`: the inline form, and a people file's body.
    pub(crate) fn people_map(&mut self, node: &Node) -> Option<Vec<PersonSpec>> {
        let entries = self.mapping(node, "`people`", &[])?;
        let mut out = Vec::new();
        for (id, k, v) in entries {
            let what = format!("person `{id}`");
            let Some(fields) = self.mapping(v, &what, keys::PERSON) else {
                continue;
            };
            let mut person = PersonSpec {
                id: Spanned {
                    value: id.to_string(),
                    span: k.span,
                },
                name: None,
                email: None,
                webhook: None,
            };
            for (key, _, v) in fields {
                let value = self.spanned_string(v, &format!("{what}'s `{key}`"));
                match key {
                    "name" => person.name = value,
                    "email" => person.email = value,
                    _ => person.webhook = value,
                }
            }
            if person.email.is_none() && person.webhook.is_none() {
                self.error_help(
                    v.span,
                    format!("{what} has no `email`"),
                    "add `email: <address>` (or `webhook: https://...` for chat): owners are notified there",
                );
            }
            out.push(person);
        }
        Some(out)
    }

    fn params(&mut self, node: &Node) -> Vec<(Spanned<String>, f64)> {
        let Some(entries) = self.mapping(node, "`params`", &[]) else {
            return Vec::new();
        };
        entries
            .into_iter()
            .filter_map(|(name, k, v)| {
                let value = self.number(v, &format!("param `{name}`"))?;
                let id = Spanned {
                    value: name.to_string(),
                    span: k.span,
                };
                Some((id, value))
            })
            .collect()
    }

    fn raci(&mut self, node: &Node, what: &str) -> Option<RaciSpec> {
        let entries = self.mapping(node, what, keys::RACI)?;
        let mut spec = RaciSpec {
            span: node.span,
            ..RaciSpec::default()
        };
        for (key, _, v) in entries {
            let ids = self.ids(v, &format!("`{key}` in {what}"));
            match key {
                "responsible" => spec.responsible = ids,
                "accountable" => spec.accountable = ids,
                "consulted" => spec.consulted = ids,
                _ => spec.informed = ids,
            }
        }
        Some(spec)
    }

    fn alerts(&mut self, node: &Node, what: &str) -> AlertsSpec {
        let mut spec = AlertsSpec::default();
        let Some(entries) = self.mapping(node, what, keys::ALERTS) else {
            return spec;
        };
        for (key, _, v) in entries {
            let what = format!("`{key}` in {what}");
            match key {
                "change_pct" => spec.change_pct = self.threshold(v, &what),
                "change_abs" => spec.change_abs = self.threshold(v, &what),
                "anomaly_z" => spec.anomaly_z = self.threshold(v, &what),
                "bands" => spec.bands = self.boolean(v, &what),
                "target" => spec.target = self.boolean(v, &what),
                "remind_after" => {
                    spec.remind_after = self.threshold(v, &what).and_then(|t| match t {
                        Some(n) if n.fract() == 0.0 && n <= 1000.0 => Some(Some(n as u32)),
                        None => Some(None),
                        Some(_) => {
                            self.error_help(
                                v.span,
                                format!("{what}: expected a whole number of runs, or `false`"),
                                "write how many runs in a bad state to wait, like 4, or `false` never to remind",
                            );
                            None
                        }
                    })
                }
                _ => {
                    spec.history = match self.number(v, &what) {
                        Some(n) if n.fract() == 0.0 && (3.0..=520.0).contains(&n) => Some(n as u32),
                        Some(_) => {
                            self.error_help(
                                v.span,
                                format!("{what}: expected a whole number of periods from 3 to 520"),
                                "write how many periods the anomaly rule looks back, like 8",
                            );
                            None
                        }
                        None => None,
                    }
                }
            }
        }
        spec
    }

    /// A positive number, or `false` to turn the rule off.
    fn threshold(&mut self, node: &Node, what: &str) -> Option<Option<f64>> {
        if matches!(&node.kind, Kind::Scalar(s) if s.is_plain() && s.text == "false") {
            return Some(None);
        }
        match &node.kind {
            Kind::Scalar(s) if s.is_plain() => {
                if let Ok(n) = s.text.parse::<f64>() {
                    if n.is_finite() && n > 0.0 {
                        return Some(Some(n));
                    }
                }
            }
            _ => {}
        }
        self.expected(
            node,
            what,
            "a positive number, or `false` to turn the rule off",
        );
        None
    }

    fn metrics(&mut self, node: &Node) -> Vec<MetricSpec> {
        let Some(entries) = self.mapping(node, "`metrics`", &[]) else {
            return Vec::new();
        };
        entries
            .into_iter()
            .filter_map(|(id, k, v)| self.metric(id, k, v))
            .collect()
    }

    fn metric(&mut self, id: &str, key: &Node, node: &Node) -> Option<MetricSpec> {
        let what = format!("metric `{id}`");
        let fields = self.mapping(node, &what, keys::METRIC)?;
        let mut spec = MetricSpec {
            id: Spanned {
                value: id.to_string(),
                span: key.span,
            },
            title: None,
            description: None,
            unit: None,
            change: None,
            formula: None,
            source: None,
            good: None,
            target: None,
            bands: None,
            raci: None,
            alerts: AlertsSpec::default(),
        };
        for (k, _, v) in fields {
            let field = format!("`{k}` of {what}");
            match k {
                "title" => spec.title = self.string(v, &field),
                "description" => spec.description = self.string(v, &field),
                "unit" => spec.unit = self.string(v, &field),
                "change" => {
                    spec.change = self
                        .choice(v, &field, &crate::model::ChangeIn::NAMES)
                        .map(|i| crate::model::ChangeIn::ALL[i]);
                }
                "formula" => spec.formula = self.string(v, &field).map(|t| (t, v.clone())),
                "source" => spec.source = self.source(v, &field),
                "good" => {
                    spec.good = self.choice(v, &field, &Good::NAMES).map(|i| Good::ALL[i]);
                }
                "target" => spec.target = self.number(v, &field),
                "bands" => spec.bands = self.bands(v, &field),
                "raci" => spec.raci = self.raci(v, &field),
                _ => spec.alerts = self.alerts(v, &field),
            }
        }
        Some(spec)
    }

    fn source(&mut self, node: &Node, what: &str) -> Option<SourceSpec> {
        let entries = self.mapping(node, what, keys::SOURCE)?;
        let mut spec = SourceSpec {
            span: node.span,
            connection: None,
            query: None,
        };
        for (key, k, v) in entries {
            let value = self.spanned_string(v, &format!("`{key}` in {what}"));
            let Some(language) = (crate::Language::ALL.iter()).find(|l| l.key() == key) else {
                spec.connection = value;
                continue;
            };
            match (&spec.query, value) {
                (Some((first, _)), Some(_)) => self.error_help(
                    k.span,
                    format!("{what} has both `{}` and `{key}`", first.key()),
                    "a source is one query, in the language of its connection",
                ),
                (None, Some(value)) => spec.query = Some((*language, value)),
                (_, None) => {}
            }
        }
        if spec.query.is_none() {
            self.error_help(
                node.span,
                format!("{what} has no query"),
                "write `source: { sql: \"select ...\" }`, or with a connection `{ connection: NAME, sql | hogql | jql: ... }`",
            );
        }
        Some(spec)
    }

    /// Connections inline (a mapping) or a path to a shared connections file (a string).
    fn connections(&mut self, node: &Node) -> Option<ConnectionsSpec> {
        if let Kind::Scalar(_) = node.kind {
            return (self.spanned_string(node, "`connections`")).map(ConnectionsSpec::File);
        }
        self.connection_map(node).map(ConnectionsSpec::Inline)
    }

    /// A mapping of connection name to its settings: the inline form, and a connections
    /// file's body.
    pub(crate) fn connection_map(&mut self, node: &Node) -> Option<Vec<ConnectionSpec>> {
        let entries = self.mapping(node, "`connections`", &[])?;
        let mut out = Vec::new();
        for (name, k, v) in entries {
            let what = format!("connection `{name}`");
            let Some(fields) = self.mapping(v, &what, keys::CONNECTION) else {
                continue;
            };
            let mut spec = ConnectionSpec {
                name: Spanned {
                    value: name.to_string(),
                    span: k.span,
                },
                span: v.span,
                url: None,
                user: None,
                secrets: Vec::new(),
            };
            for (key, _, v) in fields {
                let Some(value) = self.spanned_string(v, &format!("{what}'s `{key}`")) else {
                    continue;
                };
                match keys::CONNECTION.iter().find(|c| **c == key) {
                    Some(&"url") => spec.url = Some(value),
                    Some(&"user") => spec.user = Some(value),
                    Some(secret) => spec.secrets.push((secret, value)),
                    None => unreachable!("mapping() only returns allowed keys"),
                }
            }
            out.push(spec);
        }
        Some(out)
    }

    fn bands(&mut self, node: &Node, what: &str) -> Option<Spanned<Vec<BandSpec>>> {
        let Kind::Seq(items) = &node.kind else {
            self.expected(node, what, "a list of bands, lowest first");
            return None;
        };
        let mut bands = Vec::new();
        for item in items {
            let Some(entries) = self.mapping(item, &format!("a band in {what}"), keys::BAND) else {
                continue;
            };
            let mut band = BandSpec {
                span: item.span,
                name: None,
                below: None,
            };
            for (key, _, v) in entries {
                match key {
                    "name" => band.name = self.string(v, "a band's `name`"),
                    _ => band.below = self.number(v, "a band's `below`"),
                }
            }
            if band.name.is_none() {
                self.error_help(
                    item.span,
                    "a band has no `name`",
                    "write `{ name: Healthy, below: 5 }`",
                );
            }
            bands.push(band);
        }
        Some(Spanned {
            value: bands,
            span: node.span,
        })
    }
}
