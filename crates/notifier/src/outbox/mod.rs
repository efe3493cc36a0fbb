//! The outbox: every email and chat message a run decided, kept in the history database
//! (`store`), and sent through one route per channel (`smtp`, `folder`, `webhook`).
//!
//! Sending what the outbox holds: each due email is sent, then marked sent; a transient
//! failure is retried with backoff and otherwise left pending for the next run or
//! `canopy outbox flush`; a permanent refusal marks the email failed; a hand-over the server
//! did not acknowledge marks it uncertain, not retried until `uncertain_after` has passed.
//! An email is marked uncertain before it is handed over, too, so a process killed before
//! the answer leaves it as a timeout would.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::history::History;
use crate::Error;

mod folder;
mod smtp;
mod store;
mod webhook;

pub use folder::{html_part, preview, Folder};
pub use smtp::{Smtp, SmtpSettings};
pub(crate) use store::write_outbox;
pub use store::{
    shown_recipient, Channel, EmailStatus, Medium, OutboxStatus, Selection, StoredEmail, Unresolved,
};
pub use webhook::Poster;

/// What one failed delivery attempt means for the email.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Nothing was delivered; another try may work (no connection, a 4xx reply, a timeout
    /// before the message was handed over).
    Transient,
    /// The server refused the message for good (a 5xx reply), or it cannot be sent at all:
    /// retrying will not help.
    Permanent,
    /// The message was handed over but its acceptance was not acknowledged (a timeout or a
    /// lost connection after the content was sent): it may have been delivered.
    Uncertain,
}

/// Why one delivery attempt failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// What the failure means for the email.
    pub kind: FailureKind,
    /// What happened.
    pub message: String,
}

/// Called by a delivery at the moment it hands a message over for good (over SMTP: once the
/// server has accepted DATA, before the content goes). The outbox then marks the message in
/// flight, durably, so that a process killed before the server answers leaves it
/// `uncertain`, as a timeout at the same point would. An error stops the delivery before
/// anything was handed over.
pub type HandOver<'a> = &'a dyn Fn() -> Result<(), Failure>;

/// Somewhere emails can be delivered.
pub trait Deliver {
    /// Delivers one email, calling `hand_over` just before the point after which it may have
    /// been delivered without this process knowing.
    fn deliver(&self, email: &StoredEmail, hand_over: HandOver<'_>) -> Result<(), Failure>;
    /// Where emails go, for messages to the user.
    fn describe(&self) -> String;
    /// How emails are delivered, as the history records it.
    fn channel(&self) -> Channel;
}

/// How hard to try within one pass.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Attempts per email in this pass (at least one).
    pub attempts: u32,
    /// Wait before the second attempt; it doubles for each one after.
    pub first_delay: Duration,
    /// How long an uncertain email waits before it is sent again.
    pub uncertain_after: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            attempts: 3,
            first_delay: Duration::from_secs(2),
            uncertain_after: Duration::from_secs(3600),
        }
    }
}

/// An email this pass could not deliver for sure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Undelivered {
    /// Its Message-ID.
    pub message_id: String,
    /// Who it was for, as listings show it.
    pub recipient: String,
    /// An email or a chat message.
    pub medium: Medium,
    /// Its subject.
    pub subject: String,
    /// What happened.
    pub reason: String,
}

/// What one pass over the outbox did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Message-IDs of the emails sent.
    pub sent: Vec<String>,
    /// Ids of the chat messages posted.
    pub posted: Vec<String>,
    /// Emails refused for good.
    pub failed: Vec<Undelivered>,
    /// Emails handed over without an acknowledgement.
    pub uncertain: Vec<Undelivered>,
    /// Message-IDs still pending, with the last error when there was an attempt.
    pub pending: Vec<(String, Option<String>)>,
    /// How many of those are chat messages.
    pub pending_chat: usize,
}

/// Where each kind of outbox entry is delivered.
#[derive(Clone, Copy)]
pub struct Routes<'a> {
    /// Emails: an SMTP server, or the outbox folder.
    pub email: &'a dyn Deliver,
    /// Chat messages: their webhooks.
    pub chat: &'a dyn Deliver,
}

impl<'a> Routes<'a> {
    /// Everything through `to`.
    pub fn all(to: &'a dyn Deliver) -> Routes<'a> {
        Routes {
            email: to,
            chat: to,
        }
    }

    fn of(&self, medium: Medium) -> &'a dyn Deliver {
        match medium {
            Medium::Email => self.email,
            Medium::Webhook => self.chat,
        }
    }
}

/// Delivers every due entry through its route. After an entry exhausts its retries on a
/// transient failure, its route is taken to be unavailable: the rest of that route's stay
/// pending untried (an SMTP outage does not hold back chat, nor the reverse). An entry whose
/// hand-over was not acknowledged is not tried again in the pass.
pub fn flush(
    history: &History,
    routes: Routes<'_>,
    retry: Retry,
    now: &dyn Fn() -> DateTime<Utc>,
    sleep: &dyn Fn(Duration),
) -> Result<Pass, Error> {
    let mut pass = Pass::default();
    let mut unavailable: Vec<Medium> = Vec::new();
    for email in history.due(now(), retry.uncertain_after)? {
        if unavailable.contains(&email.medium) {
            pass.pending_chat += usize::from(email.medium == Medium::Webhook);
            pass.pending.push((email.message_id, None));
            continue;
        }
        let to = routes.of(email.medium);
        // Written before the server can have the message, so that a process killed while
        // waiting for its answer leaves it uncertain rather than pending (sent again at once).
        let hand_over = || {
            history
                .mark_in_flight(email.id, now())
                .map_err(|e| Failure {
                    kind: FailureKind::Transient,
                    message: e.to_string(),
                })
        };
        match attempt(&email, to, retry, sleep, &hand_over) {
            Ok(()) => {
                history.mark_sent(email.id, now(), to.channel())?;
                match email.medium {
                    Medium::Email => pass.sent.push(email.message_id),
                    Medium::Webhook => pass.posted.push(email.message_id),
                }
            }
            Err((kind, message)) => {
                let status = match kind {
                    FailureKind::Transient => EmailStatus::Pending,
                    FailureKind::Permanent => EmailStatus::Failed,
                    FailureKind::Uncertain => EmailStatus::Uncertain,
                };
                history.mark_attempt(email.id, status, &message, now())?;
                let undelivered = |email: StoredEmail| Undelivered {
                    recipient: email.shown_recipient(),
                    medium: email.medium,
                    message_id: email.message_id,
                    subject: email.subject,
                    reason: message.clone(),
                };
                match kind {
                    FailureKind::Transient => {
                        unavailable.push(email.medium);
                        pass.pending_chat += usize::from(email.medium == Medium::Webhook);
                        pass.pending.push((email.message_id, Some(message.clone())));
                    }
                    FailureKind::Permanent => pass.failed.push(undelivered(email)),
                    FailureKind::Uncertain => pass.uncertain.push(undelivered(email)),
                }
            }
        }
    }
    Ok(pass)
}

/// Tries `email` until it is delivered, a failure is not transient, or the attempts run out.
fn attempt(
    email: &StoredEmail,
    to: &dyn Deliver,
    retry: Retry,
    sleep: &dyn Fn(Duration),
    hand_over: HandOver<'_>,
) -> Result<(), (FailureKind, String)> {
    let mut delay = retry.first_delay;
    let mut last = None;
    for n in 0..retry.attempts.max(1) {
        if n > 0 {
            sleep(delay);
            delay *= 2;
        }
        match to.deliver(email, hand_over) {
            Ok(()) => return Ok(()),
            Err(f) if f.kind == FailureKind::Transient => last = Some(f),
            Err(f) => return Err((f.kind, f.message)),
        }
    }
    let last = last.expect("at least one attempt");
    Err((last.kind, last.message))
}
