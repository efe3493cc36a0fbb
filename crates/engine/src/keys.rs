//! The keys of every mapping of a tree file, each with its JSON Schema: the one table the
//! decoder matches (exhaustively, so a new key cannot be read as another) and
//! `canopy schema` is generated from.

use serde_json::{json, Value};

use crate::model::Grain;
use crate::schema::{
    change, connection_url, ids, metric, object_of, person, secret, source, text, threshold,
};
use crate::validate::{IDENTIFIER, MAX_TREE_ID, TREE_ID};

/// The keys of one kind of mapping.
pub(crate) trait Keys: Copy + Eq + 'static {
    /// Every key, in the order the schema lists them.
    const ALL: &'static [Self];
    /// What the mapping is, for the schema.
    const DESCRIPTION: &'static str;
    /// The keys the mapping must have.
    const REQUIRED: &'static [Self];

    /// The key as written.
    fn name(self) -> &'static str;

    /// The schema of the key's value.
    fn schema(self) -> Value;
}

/// Declares the keys of a mapping: an enum, each variant with its name and schema.
macro_rules! keys {
    (
        $(#[$doc:meta])*
        $enum:ident: $description:literal, required [$($required:ident),*] {
            $($variant:ident = $name:literal => $schema:expr,)*
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum $enum {
            $($variant,)*
        }

        impl Keys for $enum {
            const ALL: &'static [Self] = &[$(Self::$variant,)*];
            const DESCRIPTION: &'static str = $description;
            const REQUIRED: &'static [Self] = &[$(Self::$required,)*];

            fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            fn schema(self) -> Value {
                match self {
                    $(Self::$variant => $schema,)*
                }
            }
        }
    };
}

keys! {
    /// The tree file.
    TreeKey: "A Canopy metric tree.", required [Tree, Root, Metrics] {
        Version = "version" => json!({ "const": 1, "description": "Tree file format version." }),
        Tree = "tree" => json!({ "type": "string", "pattern": TREE_ID.pattern(), "maxLength": MAX_TREE_ID, "description": "Tree id, unique among trees." }),
        Title = "title" => text("Display title."),
        Description = "description" => text("What the tree is for."),
        Grain = "grain" => json!({ "enum": Grain::NAMES, "description": "Period length (default week)." }),
        Root = "root" => text("The north-star metric's id."),
        People = "people" => json!({ "description": "People by id, or a path to a shared people file.", "anyOf": [{ "type": "object", "additionalProperties": person() }, { "type": "string" }] }),
        Connections = "connections" => json!({ "description": "Named connections leaves read from, or a path to a shared connections file.", "anyOf": [{ "type": "object", "additionalProperties": object_of::<ConnectionKey>(), "propertyNames": { "pattern": IDENTIFIER.pattern() } }, { "type": "string" }] }),
        Params = "params" => json!({ "type": "object", "additionalProperties": { "type": "number" }, "description": "Named constants usable in formulas." }),
        Raci = "raci" => object_of::<RaciKey>(),
        Alerts = "alerts" => object_of::<AlertsKey>(),
        Metrics = "metrics" => json!({ "type": "object", "additionalProperties": metric(), "propertyNames": { "pattern": IDENTIFIER.pattern() }, "description": "Metrics by id." }),
        Changes = "changes" => json!({ "description": "Changes shipped, to verify their impact: a list, or a path to a file holding one.", "anyOf": [{ "type": "array", "items": change() }, { "type": "string" }] }),
    }
}

keys! {
    /// A metric.
    MetricKey: "A metric: derived by `formula`, or a leaf measured from data (CSV or `source`).", required [] {
        Title = "title" => text("Display title."),
        Description = "description" => text("What the metric means."),
        Unit = "unit" => text("Unit, e.g. items per active user."),
        Change = "change" => json!({ "enum": crate::model::ChangeIn::NAMES, "description": "How changes are told: points (default for unit %, pts, points, score) or relative (percent)." }),
        Formula = "formula" => text("Formula over other metrics and params: + - * / ^, min max abs sum avg clamp, if(a > b, x, y)."),
        Source = "source" => source(),
        Good = "good" => json!({ "enum": crate::Good::NAMES, "description": "Which direction is an improvement." }),
        Target = "target" => json!({ "type": "number", "description": "The value the owner aims for." }),
        Bands = "bands" => json!({ "type": "array", "minItems": 1, "items": object_of::<BandKey>(), "description": "Named ranges, lowest first." }),
        Raci = "raci" => object_of::<RaciKey>(),
        Alerts = "alerts" => object_of::<AlertsKey>(),
    }
}

keys! {
    /// A person.
    PersonKey: "Someone who owns or follows metrics.", required [] {
        Name = "name" => text("Display name."),
        Email = "email" => json!({ "type": "string", "format": "email", "description": "Where notifications go." }),
        Webhook = "webhook" => text("A Slack-compatible incoming webhook's https:// URL, or env:NAME to read it from the environment."),
    }
}

keys! {
    /// A `raci:` mapping.
    RaciKey: "RACI ownership. Keys left out are taken from the tree-level `raci:` default.", required [] {
        Responsible = "responsible" => ids("Who does the work that moves the metric."),
        Accountable = "accountable" => json!({ "type": "string", "description": "The one person who answers for the metric; emailed when it moves." }),
        Consulted = "consulted" => ids("Who is asked before decisions."),
        Informed = "informed" => ids("Who gets a weekly summary."),
    }
}

keys! {
    /// An `alerts:` mapping.
    AlertsKey: "When a metric counts as having moved. Tree-level values are defaults; a metric may override any key.", required [] {
        ChangePct = "change_pct" => threshold("A move when |change| >= this percent of the previous value (default 10); false turns it off."),
        ChangeAbs = "change_abs" => threshold("A move when |change| >= this, in the metric's unit (off by default); when set, also the least change change_pct fires on."),
        Bands = "bands" => json!({ "type": "boolean", "description": "A move when the value enters another band (default true)." }),
        AnomalyZ = "anomaly_z" => threshold("A move when the robust z-score against recent history reaches this (default 3.5); false turns it off."),
        History = "history" => json!({ "type": "integer", "minimum": 3, "maximum": 520, "description": "Periods of history the anomaly rule uses (default 8)." }),
        Target = "target" => json!({ "type": "boolean", "description": "A move when the value crosses the target (default true)." }),
        Segments = "segments" => threshold("A move when any segment changed by at least this percent, even when the total did not (off by default); a segment under 5% of the metric never does."),
        OnlyIf = "only_if" => json!({ "description": "A volume guard: a condition over the tree's metrics in the period, e.g. `attempts >= 10`. A move where it does not hold (or cannot be evaluated) is recorded as held back, with why, and not sent. `false` on a metric turns off the tree's.", "anyOf": [{ "type": "string" }, { "const": false }] }),
        RemindAfter = "remind_after" => json!({ "description": "Remind the owner after this many runs in a bad state (off target, or in the worst band) without another alert (default 4); false never reminds.", "anyOf": [{ "type": "integer", "minimum": 1, "maximum": 1000 }, { "const": false }] }),
        Compare = "compare" => json!({ "enum": crate::model::Compare::NAMES, "description": "What a period is compared with to tell a move: the period before (default), or the same period a year before (the same ISO week for weeks), for seasonal metrics." }),
    }
}

keys! {
    /// A band.
    BandKey: "A named range; a value is in the first band whose `below` it is under.", required [Name] {
        Name = "name" => text("Band name, e.g. Healthy."),
        Below = "below" => json!({ "type": "number", "description": "Exclusive upper bound; left out on the last band only." }),
    }
}

keys! {
    /// A leaf's `source:`.
    SourceKey: "Where a leaf's values come from: one query; {start} and {end} are bound by the server's parameters.", required [] {
        Connection = "connection" => text("The named connection it runs on; without one, SQL on the databases given by --data."),
        Sql = "sql" => text("SQL returning one value, or (segment, value) rows, optionally with a `period` column (one query for the whole range)."),
        Hogql = "hogql" => text("HogQL, on a PostHog connection."),
        Jql = "jql" => text("JQL on a Jira connection: the issues it matches are counted per period."),
    }
}

impl SourceKey {
    /// The language of a key that holds a query; `None` for `connection`.
    pub(crate) fn language(self) -> Option<crate::Language> {
        match self {
            SourceKey::Connection => None,
            SourceKey::Sql => Some(crate::Language::Sql),
            SourceKey::Hogql => Some(crate::Language::HogQl),
            SourceKey::Jql => Some(crate::Language::Jql),
        }
    }
}

keys! {
    /// A named connection.
    ConnectionKey: "Where leaves read data: a database or a service. Secrets are env:NAME only.", required [Url] {
        Url = "url" => connection_url(),
        User = "user" => text("Who connects (ClickHouse, PostgreSQL, Jira's email), or env:NAME."),
        Password = "password" => secret("env:NAME holding the password (ClickHouse, PostgreSQL)."),
        Key = "key" => secret("env:NAME holding the API key (PostHog)."),
        Token = "token" => secret("env:NAME holding the API token (Jira)."),
        Credentials = "credentials" => secret("env:NAME holding credentials."),
    }
}

keys! {
    /// A registered change.
    ChangeKey: "A change shipped to move a metric, whose impact Canopy verifies once its evaluation window ends.", required [Id, Metric, Shipped, Expect] {
        Id = "id" => text("Identifier, unique in the tree."),
        Title = "title" => text("Display title."),
        Metric = "metric" => text("The metric it was meant to move."),
        Shipped = "shipped" => text("The first full period it was live, in the tree's grain (e.g. 2026-W30)."),
        Expect = "expect" => object_of::<ExpectKey>(),
        Owner = "owner" => text("Who answers for it (default: the metric's accountable)."),
        Window = "window" => object_of::<WindowKey>(),
        Scope = "scope" => json!({ "type": "object", "additionalProperties": { "type": "string" }, "description": "The segment it shipped to: dimension and value." }),
        Controls = "controls" => object_of::<ControlsKey>(),
        Guardrails = "guardrails" => json!({ "type": "array", "items": { "type": "string" }, "description": "Metrics that must not get worse." }),
    }
}

keys! {
    /// A change's `expect:`.
    ExpectKey: "What it should do to the metric.", required [Direction] {
        Direction = "direction" => json!({ "enum": crate::Good::NAMES, "description": "Which way it should move the metric." }),
        Size = "size" => json!({ "description": "By how much: 5% or 0.05.", "anyOf": [{ "type": "number", "exclusiveMinimum": 0 }, { "type": "string", "pattern": "^[0-9.]+ *%$" }] }),
    }
}

/// A whole number of periods from `least` to 520, for a change's window.
fn periods(least: u32, description: &str) -> Value {
    json!({ "type": "integer", "minimum": least, "maximum": 520, "description": description })
}

keys! {
    /// A change's `window:`.
    WindowKey: "The periods around the ship date.", required [] {
        Ramp = "ramp" => periods(0, "Periods after shipping left out while it ramps up (default 1)."),
        Periods = "periods" => periods(1, "Periods evaluated after the ramp (default 6)."),
        Baseline = "baseline" => periods(crate::change::MIN_BASELINE, "Periods before shipping it is measured against (default 26)."),
    }
}

keys! {
    /// A change's `controls:`.
    ControlsKey: "What it did not touch, to compare with: other segments of the metric, or other metrics.", required [] {
        Segments = "segments" => json!({ "type": "object", "additionalProperties": { "anyOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }] }, "description": "Values of each dimension." }),
        Metrics = "metrics" => json!({ "type": "array", "items": { "type": "string" }, "description": "Metric ids." }),
    }
}
