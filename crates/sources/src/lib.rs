//! Canopy's data sources beyond CSV: leaves whose `source: { sql: ... }` runs on SQLite or
//! PostgreSQL (and Postgres-wire warehouses), with TLS by rustls, read-only sessions, a time
//! limit per query, and range queries pushed down to the warehouse. Values go to the
//! evaluator through [`canopy_evaluator::DataBuilder::add_values`]; the evaluator itself
//! knows no database.

#![warn(missing_docs)]

mod sql;
mod tls;

pub use sql::{Database, Progress, Quiet, Settings};
pub use tls::SslMode;

/// Why a database could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database could not be reached, or its URL cannot be used.
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The database URL, without its password.
        url: String,
        /// Why.
        reason: String,
    },
    /// The `--data` argument names no supported source.
    #[error("`{0}` is not a data source: expected a .csv file, sqlite://PATH or postgres://...")]
    Source(String),
}
