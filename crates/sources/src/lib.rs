//! Canopy's data sources: CSV files of long-form data (see [`csv`]), and leaves whose
//! `source:` runs a query on SQLite, PostgreSQL (and Postgres-wire warehouses), ClickHouse
//! (over HTTP) or the statement APIs of Databricks, BigQuery and Snowflake, HogQL on PostHog's query API, or JQL that Jira counts, with TLS by rustls,
//! read-only sessions, a time limit per query, and range queries pushed down to the
//! warehouse. Rows go to the evaluator as [`canopy_evaluator::Table`]s and through
//! [`canopy_evaluator::DataBuilder::add_values`]; the evaluator itself reads no file and knows
//! no database.

#![warn(missing_docs)]

mod bigquery;
mod clickhouse;
pub mod csv;
mod databricks;
pub mod dbt;
mod http;
mod jira;
mod jwt;
mod postgres;
mod posthog;
mod snowflake;
mod sql;
mod sqlite;
mod statement;
mod tls;

pub use sql::{Credentials, Database, Progress, Quiet, Settings, Stage};
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
