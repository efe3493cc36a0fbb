//! Canopy's model: metric trees written in YAML, validated into a DAG of metrics with
//! formulas, RACI owners, bands and alert rules.
//!
//! The engine knows nothing of data or email; it knows periods, which trees name (a change's
//! ship date) as data does. Its one way in is [`load`], which reads
//! a tree file through a [`FileSystem`] and returns either a [`MetricTree`] that satisfies every
//! rule of the tree format, or every problem found, as [`Diagnostic`]s with file, line and
//! column.

#![warn(missing_docs)]

mod bands;
mod change;
mod connection;
mod decode;
mod definition;
mod diagnostic;
pub mod formula;
mod hash;
mod keys;
mod load;
mod model;
mod named;
mod period;
mod raci;
mod redact;
mod render;
mod schema;
mod suggest;
mod validate;
mod yaml;

pub use bands::{Band, Bands, Good};
pub use change::{Change, Controls, Window, MIN_BASELINE};
pub use connection::{Connection, Kind as ConnectionKind, Language, Setting};
pub use definition::{
    redefined_note, short as short_version, Definition, FieldChange, VERSION_DIGITS,
};
pub use diagnostic::{
    render as render_diagnostic, render_all as render_diagnostics, sort_diagnostics, Diagnostic,
    Location, RenderOptions, Severity, SourceMap, Span,
};
pub use hash::stable_hash;
pub use load::{duplicate_ids, load, Error, FileSystem, Loaded, MemoryFs};
pub use model::{
    Alerts, ChangeIn, Compare, Formula, Grain, Guard, Metric, MetricId, MetricTree, Source,
};
pub use period::{Period, PeriodError};
pub use raci::{Mailboxes, Person, Raci, Webhook};
pub use redact::redact_password;
pub use render::{dot, escape_html, formula_text, mermaid};
pub use schema::json_schema;
pub use suggest::did_you_mean;
pub use validate::MAX_TREE_ID;
pub use yaml::MAX_BYTES as MAX_FILE_BYTES;

#[cfg(test)]
mod tests;
