//! Sending what the outbox holds: each pending email is sent, then marked sent; a transient
//! failure is retried with backoff and otherwise left pending for the next run or
//! `canopy outbox flush`; a permanent refusal marks the email failed.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::delivery::Deliver;
use crate::history::History;
use crate::Error;

/// How hard to try within one pass.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Attempts per email in this pass (at least one).
    pub attempts: u32,
    /// Wait before the second attempt; it doubles for each one after.
    pub first_delay: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            attempts: 3,
            first_delay: Duration::from_secs(2),
        }
    }
}

/// An email the server refused for good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// Its Message-ID.
    pub message_id: String,
    /// Who it was for.
    pub recipient: String,
    /// Its subject.
    pub subject: String,
    /// The server's answer.
    pub reason: String,
}

/// What one pass over the outbox did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Message-IDs sent.
    pub sent: Vec<String>,
    /// Emails refused for good.
    pub failed: Vec<Refused>,
    /// Message-IDs still pending, with the last error when there was an attempt.
    pub pending: Vec<(String, Option<String>)>,
}

/// Sends every pending email through `to`. After an email exhausts its retries on a
/// transient failure the server is taken to be unavailable: the rest stay pending untried.
pub fn flush(
    history: &History,
    to: &dyn Deliver,
    retry: Retry,
    now: &dyn Fn() -> DateTime<Utc>,
    sleep: &dyn Fn(Duration),
) -> Result<Pass, Error> {
    let mut pass = Pass::default();
    let mut unavailable: Option<String> = None;
    for email in history.pending()? {
        if unavailable.is_some() {
            pass.pending.push((email.message_id, None));
            continue;
        }
        let mut delay = retry.first_delay;
        let mut outcome = Ok(());
        for attempt in 0..retry.attempts.max(1) {
            if attempt > 0 {
                sleep(delay);
                delay *= 2;
            }
            outcome = to.deliver(&email);
            match &outcome {
                Ok(()) => break,
                Err(f) if f.permanent => break,
                Err(_) => {}
            }
        }
        match outcome {
            Ok(()) => {
                history.mark_sent(email.id, now())?;
                pass.sent.push(email.message_id);
            }
            Err(f) if f.permanent => {
                history.mark_attempt_failed(email.id, &f.message, true)?;
                pass.failed.push(Refused {
                    message_id: email.message_id,
                    recipient: email.recipient,
                    subject: email.subject,
                    reason: f.message,
                });
            }
            Err(f) => {
                history.mark_attempt_failed(email.id, &f.message, false)?;
                pass.pending
                    .push((email.message_id, Some(f.message.clone())));
                unavailable = Some(f.message);
            }
        }
    }
    Ok(pass)
}
