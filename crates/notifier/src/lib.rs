//! Canopy's notifier: the scheduled run. It detects which metrics moved, explains them,
//! composes one digest email per person, records everything in the history database in one
//! transaction, and delivers the outbox over SMTP or into a folder of `.eml` files.
//!
//! Only this crate knows email. Side effects are confined to [`History`] (SQLite) and the
//! [`Deliver`] implementations; deciding a run ([`plan`]) is a pure function of the
//! evaluation and the remembered alert state.

#![warn(missing_docs)]

mod access;
mod address;
mod digest;
mod history;
mod lock;
mod moves;
mod outbox;
mod redefinition;
mod run;
mod schema;
mod snooze;
mod stored;

pub use address::{
    display_name, fit_subject, parse_address, strip_controls, Sendable, MAX_NAME_CHARS,
    MAX_SUBJECT_CHARS,
};
pub use digest::budget::{BENEATH_SHOWN, MAX_EMAIL_BYTES, OFFSETTING_INPUTS, OFFSETTING_SHOWN};
pub use digest::chat::{compose_chat, MAX_CHAT_CHARS};
pub use digest::{
    compose, compose_or_fail, group, headline, message_id, Carried, Digest, MovedMetric,
    CARRIED_SHARE,
};
pub use history::{
    ChangeRecord, Definitions, History, MoveRecord, PastRun, RunRecord, ValueRecord,
};
pub use moves::{detect, is_bad, AlertState, Move, Rule, Shift, SEGMENT_FLOOR, SHIFTS_TOLD};
pub use outbox::{
    flush, html_part, preview, shown_recipient, Channel, Deliver, EmailStatus, Failure,
    FailureKind, Folder, HandOver, Medium, OutboxStatus, Pass, Poster, Retry, Routes, Selection,
    Smtp, SmtpSettings, StoredEmail, Undelivered, Unresolved,
};
pub use redefinition::{redefinitions, Redefinition};
pub use run::{plan, redefined, MoveReport, PlannedRun, Verdict, MARKED_PERIODS};
pub use snooze::{stamp, Snooze};

/// A sender or recipient: display name and address.
pub use lettre::message::Mailbox;

/// Why the notifier could not do its work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The history database failed, or cannot be used.
    #[error("history database {db}: {message}")]
    History {
        /// The database's path.
        db: String,
        /// What went wrong.
        message: String,
    },
    /// Another process has the history database open for writing, and did not let go of it
    /// in time.
    #[error("history database {db}: another canopy run or flush{} has been using it for more than {waited} s", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Busy {
        /// The database's path.
        db: String,
        /// The other process, when known.
        pid: Option<u32>,
        /// How long this one waited, in seconds.
        waited: u64,
    },
    /// The history database cannot be written (the file, or the folder it is in, is
    /// read-only), and what was asked writes to it.
    #[error("history database {db} is read-only ({why}); a run records what it decides there")]
    ReadOnly {
        /// The database's path.
        db: String,
        /// What the system said.
        why: String,
    },
    /// An address could not be used in an email.
    #[error("email address: {0}")]
    Address(String),
    /// What a run decided could not be written down.
    #[error("cannot record the run: {0}")]
    Record(String),
    /// The SMTP settings are wrong.
    #[error("{0}")]
    Smtp(String),
}

impl Error {
    fn history(db: &str, message: impl ToString) -> Error {
        Error::History {
            db: db.to_string(),
            message: message.to_string(),
        }
    }
}

#[cfg(test)]
mod tests;
