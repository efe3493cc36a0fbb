//! From YAML nodes to the tree file's raw structure, checking keys and types.
//!
//! Decoding never stops at the first problem: each wrong key or value is reported and skipped,
//! so one `canopy check` lists everything. Rules that relate parts of the file to each other
//! (formula names, cycles, RACI) belong to `validate`.

use std::path::Path;
use std::sync::Arc;

use crate::bands::Good;
use crate::diagnostic::{Diagnostic, Location, Severity, Span};
use crate::keys::{
    AlertsKey, BandKey, ConnectionKey, Keys, MetricKey, PersonKey, RaciKey, SourceKey, TreeKey,
};
use crate::model::Grain;
use crate::suggest::did_you_mean;
use crate::yaml::{Kind, Node};

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
    pub(crate) segments: Option<Option<f64>>,
    /// The volume guard's text and its node, kept to point inside the text; `Some(None)`
    /// for `false`, which turns off the tree's.
    pub(crate) only_if: Option<Option<(String, Node)>>,
    pub(crate) compare: Option<crate::model::Compare>,
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

    /// The entries of a mapping whose keys are `K`, each key typed; non-string keys and keys
    /// not of `K` are reported (with "did you mean") and left out.
    pub(crate) fn mapping<'n, K: Keys>(
        &mut self,
        node: &'n Node,
        what: &str,
    ) -> Option<Vec<(K, &'n Node, &'n Node)>> {
        let names: Vec<&str> = K::ALL.iter().map(|k| k.name()).collect();
        let entries = self.entries(node, what)?;
        let mut out = Vec::with_capacity(entries.len());
        for (name, k, v) in entries {
            match K::ALL.iter().find(|key| key.name() == name) {
                Some(&key) => out.push((key, k, v)),
                None => {
                    let message = match did_you_mean(name, names.iter().copied()) {
                        Some(s) => format!("unknown key `{name}` in {what} (did you mean `{s}`?)"),
                        None => format!("unknown key `{name}` in {what}"),
                    };
                    self.error_help(
                        k.span,
                        message,
                        format!("the keys are: {}", names.join(", ")),
                    );
                }
            }
        }
        Some(out)
    }

    /// The entries of a mapping of names (people, params, metrics...): any string key,
    /// reporting the others.
    pub(crate) fn entries<'n>(&mut self, node: &'n Node, what: &str) -> Option<Entries<'n>> {
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
        let entries = self.mapping::<TreeKey>(node, "the tree file")?;
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
                TreeKey::Version => {
                    if self.number(v, "`version`") != Some(1.0) {
                        self.error_help(
                            v.span,
                            "unsupported tree file version",
                            "this version of canopy reads `version: 1`",
                        );
                    }
                }
                TreeKey::Tree => spec.id = self.spanned_string(v, "`tree`"),
                TreeKey::Title => spec.title = self.string(v, "`title`"),
                TreeKey::Description => spec.description = self.string(v, "`description`"),
                TreeKey::Grain => {
                    spec.grain = self
                        .choice(v, "`grain`", &Grain::NAMES)
                        .map(|i| Grain::ALL[i])
                }
                TreeKey::Root => spec.root = self.spanned_string(v, "`root`"),
                TreeKey::People => spec.people = self.people(v),
                TreeKey::Connections => spec.connections = self.connections(v),
                TreeKey::Params => spec.params = self.params(v),
                TreeKey::Raci => spec.raci = self.raci(v, "the tree's `raci`"),
                TreeKey::Alerts => spec.alerts = self.alerts(v, "the tree's `alerts`"),
                TreeKey::Metrics => {
                    saw_metrics = true;
                    spec.metrics = self.metrics(v);
                }
                TreeKey::Changes => spec.changes = self.changes(v),
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
        let entries = self.entries(node, "`people`")?;
        let mut out = Vec::new();
        for (id, k, v) in entries {
            let what = format!("person `{id}`");
            let Some(fields) = self.mapping::<PersonKey>(v, &what) else {
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
                let value = self.spanned_string(v, &format!("{what}'s `{}`", key.name()));
                match key {
                    PersonKey::Name => person.name = value,
                    PersonKey::Email => person.email = value,
                    PersonKey::Webhook => person.webhook = value,
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
        let Some(entries) = self.entries(node, "`params`") else {
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
        let entries = self.mapping::<RaciKey>(node, what)?;
        let mut spec = RaciSpec {
            span: node.span,
            ..RaciSpec::default()
        };
        for (key, _, v) in entries {
            let ids = self.ids(v, &format!("`{}` in {what}", key.name()));
            match key {
                RaciKey::Responsible => spec.responsible = ids,
                RaciKey::Accountable => spec.accountable = ids,
                RaciKey::Consulted => spec.consulted = ids,
                RaciKey::Informed => spec.informed = ids,
            }
        }
        Some(spec)
    }

    fn alerts(&mut self, node: &Node, what: &str) -> AlertsSpec {
        let mut spec = AlertsSpec::default();
        let Some(entries) = self.mapping::<AlertsKey>(node, what) else {
            return spec;
        };
        for (key, _, v) in entries {
            let what = format!("`{}` in {what}", key.name());
            match key {
                AlertsKey::ChangePct => spec.change_pct = self.threshold(v, &what),
                AlertsKey::ChangeAbs => spec.change_abs = self.threshold(v, &what),
                AlertsKey::AnomalyZ => spec.anomaly_z = self.threshold(v, &what),
                AlertsKey::Bands => spec.bands = self.boolean(v, &what),
                AlertsKey::Target => spec.target = self.boolean(v, &what),
                AlertsKey::Segments => spec.segments = self.threshold(v, &what),
                AlertsKey::OnlyIf => spec.only_if = self.guard(v, &what),
                AlertsKey::Compare => {
                    spec.compare = (self.choice(v, &what, &crate::model::Compare::NAMES))
                        .map(|i| crate::model::Compare::ALL[i])
                }
                AlertsKey::RemindAfter => {
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
                AlertsKey::History => {
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
    /// A volume guard: its text and node, or `false` (`Some(None)`).
    fn guard(&mut self, node: &Node, what: &str) -> Option<Option<(String, Node)>> {
        if is_false(node) {
            return Some(None);
        }
        Some(Some((self.string(node, what)?, node.clone())))
    }

    fn threshold(&mut self, node: &Node, what: &str) -> Option<Option<f64>> {
        if is_false(node) {
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
        let Some(entries) = self.entries(node, "`metrics`") else {
            return Vec::new();
        };
        entries
            .into_iter()
            .filter_map(|(id, k, v)| self.metric(id, k, v))
            .collect()
    }

    fn metric(&mut self, id: &str, key: &Node, node: &Node) -> Option<MetricSpec> {
        let what = format!("metric `{id}`");
        let fields = self.mapping::<MetricKey>(node, &what)?;
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
            let field = format!("`{}` of {what}", k.name());
            match k {
                MetricKey::Title => spec.title = self.string(v, &field),
                MetricKey::Description => spec.description = self.string(v, &field),
                MetricKey::Unit => spec.unit = self.string(v, &field),
                MetricKey::Change => {
                    spec.change = self
                        .choice(v, &field, &crate::model::ChangeIn::NAMES)
                        .map(|i| crate::model::ChangeIn::ALL[i]);
                }
                MetricKey::Formula => spec.formula = self.string(v, &field).map(|t| (t, v.clone())),
                MetricKey::Source => spec.source = self.source(v, &field),
                MetricKey::Good => {
                    spec.good = self.choice(v, &field, &Good::NAMES).map(|i| Good::ALL[i]);
                }
                MetricKey::Target => spec.target = self.number(v, &field),
                MetricKey::Bands => spec.bands = self.bands(v, &field),
                MetricKey::Raci => spec.raci = self.raci(v, &field),
                MetricKey::Alerts => spec.alerts = self.alerts(v, &field),
            }
        }
        Some(spec)
    }

    fn source(&mut self, node: &Node, what: &str) -> Option<SourceSpec> {
        let entries = self.mapping::<SourceKey>(node, what)?;
        let mut spec = SourceSpec {
            span: node.span,
            connection: None,
            query: None,
        };
        for (key, k, v) in entries {
            let value = self.spanned_string(v, &format!("`{}` in {what}", key.name()));
            let Some(language) = key.language() else {
                spec.connection = value;
                continue;
            };
            match (&spec.query, value) {
                (Some((first, _)), Some(_)) => self.error_help(
                    k.span,
                    format!("{what} has both `{}` and `{}`", first.key(), key.name()),
                    "a source is one query, in the language of its connection",
                ),
                (None, Some(value)) => spec.query = Some((language, value)),
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
        let entries = self.entries(node, "`connections`")?;
        let mut out = Vec::new();
        for (name, k, v) in entries {
            let what = format!("connection `{name}`");
            let Some(fields) = self.mapping::<ConnectionKey>(v, &what) else {
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
                let what = format!("{what}'s `{}`", key.name());
                let Some(value) = self.spanned_string(v, &what) else {
                    continue;
                };
                match key {
                    ConnectionKey::Url => spec.url = Some(value),
                    ConnectionKey::User => spec.user = Some(value),
                    ConnectionKey::Password
                    | ConnectionKey::Key
                    | ConnectionKey::Token
                    | ConnectionKey::Credentials => spec.secrets.push((key.name(), value)),
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
            let Some(entries) = self.mapping::<BandKey>(item, &format!("a band in {what}")) else {
                continue;
            };
            let mut band = BandSpec {
                span: item.span,
                name: None,
                below: None,
            };
            for (key, _, v) in entries {
                match key {
                    BandKey::Name => band.name = self.string(v, "a band's `name`"),
                    BandKey::Below => band.below = self.number(v, "a band's `below`"),
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

/// Whether `node` is the plain scalar `false`, which turns a rule off.
fn is_false(node: &Node) -> bool {
    matches!(&node.kind, Kind::Scalar(s) if s.is_plain() && s.text == "false")
}
