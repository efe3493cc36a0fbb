//! The outbox's store: every email and chat message a run decided, kept in the history
//! database with where it stands (pending, sent, failed, uncertain, discarded), what the
//! send pass takes from it and marks in it, and what `canopy outbox` reads and changes.

use std::time::Duration;

use canopy_engine::Period;
use chrono::{DateTime, Utc};
use rusqlite::{params, params_from_iter, OptionalExtension, Transaction};

use crate::history::{period_at, History, RunRecord};
use crate::stored::stored;
use crate::Error;

canopy_engine::named! {
    /// Where an email stands in the outbox.
    pub enum EmailStatus {
        /// Waiting to be sent.
        Pending,
        /// Delivered: accepted by the SMTP server, or written to the outbox folder.
        Sent,
        /// Refused for good (a 5xx reply), or impossible to compose; `canopy outbox retry`
        /// puts it back.
        Failed,
        /// Handed to the server, which did not acknowledge it: it may have been delivered.
        /// Tried again only after a while (`uncertain_after`), with the same Message-ID.
        Uncertain,
        /// Failed or uncertain, then given up on (`canopy outbox discard`): kept for the
        /// record, never sent.
        Discarded,
    }
}

canopy_engine::named! {
    /// How an outbox entry was delivered.
    pub enum Channel {
        /// Accepted by an SMTP server.
        Smtp,
        /// Written as an `.eml` file to the outbox folder.
        Folder,
        /// Accepted by a chat webhook.
        Webhook,
    }
}

canopy_engine::named! {
    /// What an outbox entry is: an email, or a chat message for a webhook.
    pub enum Medium {
        /// An email (RFC 5322 message), to an address.
        Email,
        /// A chat message (JSON), to a webhook: the recipient is the webhook as the tree
        /// writes it (`env:NAME` or its URL), read again when it is posted.
        Webhook,
    }
}

stored!(EmailStatus, Channel, Medium);

impl Medium {
    /// What an entry of this medium is called in messages: `email`, `chat message`.
    pub fn noun(self) -> &'static str {
        match self {
            Medium::Email => "email",
            Medium::Webhook => "chat message",
        }
    }
}

/// A recipient as listings show it: an address, or a webhook without its secret.
pub fn shown_recipient(medium: Medium, recipient: &str) -> String {
    match medium {
        Medium::Email => recipient.to_string(),
        Medium::Webhook => canopy_engine::Webhook::parse(recipient)
            .map_or_else(|_| "webhook".to_string(), |w| w.to_string()),
    }
}

impl StoredEmail {
    /// Its recipient as listings show it (see [`shown_recipient`]).
    pub fn shown_recipient(&self) -> String {
        shown_recipient(self.medium, &self.recipient)
    }
}

/// An entry of the outbox: an email, or a chat message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEmail {
    /// Row id.
    pub id: i64,
    /// The stable Message-ID, `<...>` included.
    pub message_id: String,
    /// The tree it is about.
    pub tree: String,
    /// The period it is about.
    pub period: Period,
    /// An email or a chat message.
    pub medium: Medium,
    /// Envelope sender address.
    pub sender: String,
    /// Envelope recipient address; for a chat message, the webhook as the tree writes it.
    pub recipient: String,
    /// Its subject, for listings.
    pub subject: String,
    /// The whole message as sent.
    pub body: Vec<u8>,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The last error. A new email that has one could not be composed: it is stored as
    /// failed and never sent.
    pub last_error: Option<String>,
}

/// How the outbox stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboxStatus {
    /// Emails waiting to be sent.
    pub pending: u64,
    /// Emails refused for good.
    pub failed: u64,
    /// Emails handed over without acknowledgement.
    pub uncertain: u64,
    /// Emails sent.
    pub sent: u64,
    /// Emails given up on.
    pub discarded: u64,
    /// When the oldest pending email was stored.
    pub oldest_pending: Option<DateTime<Utc>>,
    /// Pending emails that have failed at least once.
    pub retrying: u64,
}

/// An email not delivered yet (pending, failed or uncertain), for `canopy outbox status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    /// Pending, failed or uncertain.
    pub status: EmailStatus,
    /// Its tree.
    pub tree: String,
    /// Who it is for, as listings show it.
    pub recipient: String,
    /// Its subject.
    pub subject: String,
    /// The last error; empty if it has not failed yet.
    pub error: String,
    /// When it was last tried, if it was.
    pub last_attempt: Option<String>,
    /// Delivery attempts so far.
    pub attempts: u32,
}

/// Which failed or uncertain emails to put back in the outbox, or to give up on.
#[derive(Clone, Debug, Default)]
pub struct Selection<'a> {
    /// Failed emails.
    pub failed: bool,
    /// Uncertain emails.
    pub uncertain: bool,
    /// Only those to this address (compared without regard to case).
    pub to: Option<&'a str>,
    /// Only those of this tree.
    pub tree: Option<&'a str>,
}

impl History {
    /// The emails to send now, oldest first: every pending one, and each uncertain one last
    /// tried at least `uncertain_after` before `now`.
    pub fn due(
        &self,
        now: DateTime<Utc>,
        uncertain_after: Duration,
    ) -> Result<Vec<StoredEmail>, Error> {
        let mut stmt = self
            .conn
            .prepare("select id, message_id, tree, period, sender, recipient, subject, body, attempts, last_error, status, last_attempt_at, medium from outbox where status in (?1, ?2) order by id")
            .map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map([EmailStatus::Pending, EmailStatus::Uncertain], |r| {
                let email = StoredEmail {
                    id: r.get(0)?,
                    message_id: r.get(1)?,
                    tree: r.get(2)?,
                    period: period_at(r, 3)?,
                    sender: r.get(4)?,
                    recipient: r.get(5)?,
                    subject: r.get(6)?,
                    body: r.get(7)?,
                    attempts: r.get(8)?,
                    last_error: r.get(9)?,
                    medium: r.get(12)?,
                };
                Ok((
                    email,
                    r.get::<_, EmailStatus>(10)?,
                    r.get::<_, Option<String>>(11)?,
                ))
            })
            .map_err(|e| self.error(e))?;
        let settled = |at: Option<String>| {
            let at = at.and_then(|t| DateTime::parse_from_rfc3339(&t).ok());
            let after =
                chrono::Duration::from_std(uncertain_after).unwrap_or(chrono::Duration::MAX);
            at.is_none_or(|at| at.with_timezone(&Utc) + after <= now)
        };
        let mut due = Vec::new();
        for row in rows {
            let (email, status, at) = row.map_err(|e| self.error(e))?;
            if status == EmailStatus::Pending || settled(at) {
                due.push(email);
            }
        }
        Ok(due)
    }

    /// Marks an email delivered through `channel`.
    pub fn mark_sent(&self, id: i64, now: DateTime<Utc>, channel: Channel) -> Result<(), Error> {
        let now = now.to_rfc3339();
        self.conn
            .execute("update outbox set status = ?4, attempts = attempts + 1, sent_at = ?2, last_attempt_at = ?2, last_error = null, channel = ?3 where id = ?1", params![id, now, channel, EmailStatus::Sent])
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Marks an email in flight: it is about to be handed over, and stays `uncertain` if no
    /// answer is recorded after (the process was killed), exactly as after a timeout. The
    /// write is committed, and so durable, before the hand-over.
    pub fn mark_in_flight(&self, id: i64, now: DateTime<Utc>) -> Result<(), Error> {
        let why = "canopy stopped after handing it over and before the server answered; it may have been delivered";
        self.conn
            .execute("update outbox set status = ?4, last_error = ?2, last_attempt_at = ?3 where id = ?1", params![id, why, now.to_rfc3339(), EmailStatus::Uncertain])
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Records an attempt that did not deliver: the email becomes `status` (pending for a
    /// transient failure, failed for a refusal, uncertain for an unacknowledged hand-over).
    pub fn mark_attempt(
        &self,
        id: i64,
        status: EmailStatus,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.conn
            .execute("update outbox set status = ?2, attempts = attempts + 1, last_error = ?3, last_attempt_at = ?4 where id = ?1", params![id, status, error, now.to_rfc3339()])
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// Puts the failed or uncertain emails that `which` selects back to pending (those with
    /// content: one that could not be composed can only be discarded); returns how many.
    /// Their attempts and last error are kept, for the record.
    pub fn requeue(&self, which: &Selection<'_>) -> Result<usize, Error> {
        self.resolve(which, EmailStatus::Pending, "and length(body) > 0")
    }

    /// Gives up on the failed or uncertain emails that `which` selects: they are kept, as
    /// `discarded`, and never sent. Returns how many.
    pub fn discard(&self, which: &Selection<'_>) -> Result<usize, Error> {
        self.resolve(which, EmailStatus::Discarded, "")
    }

    fn resolve(&self, which: &Selection<'_>, to: EmailStatus, and: &str) -> Result<usize, Error> {
        let sql = format!(
            "update outbox set status = ?5
             where ((status = ?6 and ?1) or (status = ?7 and ?2))
               and (?3 is null or lower(recipient) = lower(?3))
               and (?4 is null or tree = ?4) {and}"
        );
        let params = params![
            which.failed,
            which.uncertain,
            which.to,
            which.tree,
            to,
            EmailStatus::Failed,
            EmailStatus::Uncertain
        ];
        self.conn.execute(&sql, params).map_err(|e| self.error(e))
    }

    /// Counts of the outbox, for `canopy outbox status`.
    pub fn status(&self) -> Result<OutboxStatus, Error> {
        let counts = self.rows(
            "select status, count(*), sum(attempts > 0), min(created_at) from outbox group by status",
            [],
            |r| Ok((r.get::<_, EmailStatus>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?)),
        )?;
        let row = |status| counts.iter().find(|c| c.0 == status);
        let count = |status| row(status).map_or(0, |c| c.1 as u64);
        let pending = row(EmailStatus::Pending);
        Ok(OutboxStatus {
            pending: count(EmailStatus::Pending),
            failed: count(EmailStatus::Failed),
            uncertain: count(EmailStatus::Uncertain),
            sent: count(EmailStatus::Sent),
            discarded: count(EmailStatus::Discarded),
            oldest_pending: pending
                .and_then(|c| DateTime::parse_from_rfc3339(&c.3).ok())
                .map(|t| t.with_timezone(&Utc)),
            retrying: pending.map_or(0, |c| c.2 as u64),
        })
    }

    /// Failed and uncertain emails with their errors, oldest first.
    pub fn unresolved(&self) -> Result<Vec<Unresolved>, Error> {
        self.listed(&[EmailStatus::Failed, EmailStatus::Uncertain])
    }

    /// Every email not delivered yet (pending, failed or uncertain), oldest first: a person
    /// told `pending: 3` wants to know which three, and why they wait.
    pub fn undelivered(&self) -> Result<Vec<Unresolved>, Error> {
        self.listed(&[
            EmailStatus::Pending,
            EmailStatus::Failed,
            EmailStatus::Uncertain,
        ])
    }

    fn listed(&self, statuses: &[EmailStatus]) -> Result<Vec<Unresolved>, Error> {
        let marks = vec!["?"; statuses.len()].join(", ");
        let sql = format!("select status, tree, recipient, subject, coalesce(last_error, ''), last_attempt_at, medium, attempts from outbox where status in ({marks}) order by id");
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.error(e))?;
        let rows = stmt
            .query_map(params_from_iter(statuses), |r| {
                Ok(Unresolved {
                    status: r.get(0)?,
                    tree: r.get(1)?,
                    recipient: shown_recipient(r.get(6)?, &r.get::<_, String>(2)?),
                    subject: r.get(3)?,
                    error: r.get(4)?,
                    last_attempt: r.get(5)?,
                    attempts: r.get(7)?,
                })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.error(e))
    }

    /// (recipient as shown, subject, status) of each email and chat message of the run of
    /// `tree` for the period kept as `key`, in the order they were decided.
    pub(crate) fn entries_of(
        &self,
        tree: &str,
        key: &str,
    ) -> Result<Vec<(String, String, EmailStatus)>, Error> {
        self.rows("select recipient, subject, status, medium from outbox where tree = ?1 and period = ?2 order by id", params![tree, key], |r| {
            Ok((shown_recipient(r.get(3)?, &r.get::<_, String>(0)?), r.get(1)?, r.get(2)?))
        })
    }

    /// Where the email with `message_id` stands, and how it was delivered if it was.
    pub fn email_status(
        &self,
        message_id: &str,
    ) -> Result<Option<(EmailStatus, Option<Channel>)>, Error> {
        self.conn
            .query_row(
                "select status, channel from outbox where message_id = ?1",
                [message_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.error(e))
    }
}

/// The emails and chat messages, stored at `now`; those already there (same id) are left
/// as they are. Returns how many were new.
pub(crate) fn write_outbox(
    tx: &Transaction<'_>,
    run: &RunRecord,
    now: &str,
) -> rusqlite::Result<usize> {
    let mut email = tx.prepare_cached(
        "insert into outbox (message_id, tree, period, sender, recipient, subject, body, status, last_error, created_at, medium)
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         on conflict (message_id) do nothing",
    )?;
    let mut new = 0;
    for e in &run.emails {
        new += email.execute(params![
            e.message_id,
            e.tree,
            e.period.key(),
            e.sender,
            e.recipient,
            e.subject,
            e.body,
            match e.last_error {
                Some(_) => EmailStatus::Failed,
                None => EmailStatus::Pending,
            },
            e.last_error,
            now,
            e.medium
        ])?;
    }
    Ok(new)
}
