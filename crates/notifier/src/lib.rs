//! Canopy's notifier: the scheduled run. It detects which metrics moved, explains them,
//! composes one digest email per person, records everything in the history database in one
//! transaction, and delivers the outbox over SMTP or into a folder of `.eml` files.
//!
//! Only this crate knows email. Side effects are confined to [`History`] (SQLite) and the
//! [`Deliver`] implementations; deciding a run ([`plan`]) is a pure function of the
//! evaluation and the remembered alert state.

#![warn(missing_docs)]

mod delivery;
mod email;
mod history;
mod moves;
mod outbox;
mod run;

pub use delivery::{Deliver, Failure, Folder, Smtp, SmtpSettings};
pub use email::{compose, escape_html, message_id, strip_controls, Digest, MovedMetric};
pub use history::{History, OutboxStatus, RunRecord, StoredEmail, ValueRecord};
pub use moves::{detect, is_bad, AlertState, Move, Rule};
pub use outbox::{flush, Pass, Refused, Retry};
pub use run::{plan, MoveReport, PlannedRun};

/// A sender or recipient: display name and address.
pub use lettre::message::Mailbox;

/// Why the notifier could not do its work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The history database failed.
    #[error("history database: {0}")]
    History(String),
    /// An address could not be used in an email.
    #[error("email address: {0}")]
    Address(String),
    /// The SMTP settings are wrong.
    #[error("{0}")]
    Smtp(String),
}

#[cfg(test)]
mod tests;
