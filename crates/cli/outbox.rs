//! `canopy outbox flush|status|retry|discard`.

use std::time::Duration;

use canopy_notifier::{EmailStatus, History, Selection, Unresolved};

use crate::args::{OutboxCommand, StoreArgs, WhichArgs};
use crate::mail::{self, Mail};
use crate::table::plural;
use crate::Outcome;

pub(crate) fn run(command: &OutboxCommand) -> anyhow::Result<Outcome> {
    match command {
        OutboxCommand::Flush { store } => {
            let history = mail::open_history(&store.db)?;
            flush(&history, store)
        }
        OutboxCommand::Status { store } => status(store),
        OutboxCommand::Retry { store, which } => {
            let history = mail::open_history(&store.db)?;
            match history.requeue(&selection(which))? {
                0 => eprintln!("no failed or uncertain email matches; nothing to retry"),
                n => eprintln!("{} back in the outbox", plural(n, "email")),
            }
            flush(&history, store)
        }
        OutboxCommand::Discard { store, which } => {
            let history = mail::open_history(&store.db)?;
            match history.discard(&selection(which))? {
                0 => eprintln!("no failed or uncertain email matches; nothing discarded"),
                n => eprintln!(
                    "{} discarded (kept in the history, never sent)",
                    plural(n, "email")
                ),
            }
            Ok(Outcome::Success)
        }
    }
}

/// The emails `which` selects: failed, uncertain, or (neither flag given) both.
fn selection(which: &WhichArgs) -> Selection<'_> {
    let both = !which.failed && !which.uncertain;
    Selection {
        failed: which.failed || both,
        uncertain: which.uncertain || both,
        to: which.to.as_deref(),
        tree: which.tree.as_deref(),
    }
}

/// Sends what is due, and says what is left from earlier passes. Exits 1 while anything
/// could not be delivered.
fn flush(history: &History, store: &StoreArgs) -> anyhow::Result<Outcome> {
    let mail = Mail::from_env(store)?;
    let pass = mail.flush(history)?;
    let mut ok = mail::report_pass(&mail, &pass);
    let s = history.status()?;
    let tried = pass.failed.len() + pass.uncertain.len();
    let earlier = (s.failed + s.uncertain) as usize - tried;
    if earlier > 0 {
        eprintln!(
            "error: {} failed and {} uncertain from earlier passes; `canopy outbox status` lists them, `canopy outbox retry` sends them again",
            s.failed as usize - pass.failed.len(),
            s.uncertain as usize - pass.uncertain.len(),
        );
        ok = false;
    } else if pass.sent.is_empty() && tried == 0 && pass.pending.is_empty() {
        eprintln!("nothing to send: the outbox is empty");
    }
    Ok(if ok {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

fn status(store: &StoreArgs) -> anyhow::Result<Outcome> {
    if !store.db.exists() {
        outln!("no history at {} yet: nothing has run", store.db.display())?;
        return Ok(Outcome::Success);
    }
    let history = History::open_read_only(&store.db)?;
    let s = history.status()?;
    outln!("pending:   {}", s.pending)?;
    outln!("failed:    {}", s.failed)?;
    outln!("uncertain: {}", s.uncertain)?;
    outln!("sent:      {}", s.sent)?;
    outln!("discarded: {}", s.discarded)?;
    if let Some(oldest) = s.oldest_pending {
        let age = chrono::Utc::now().signed_duration_since(oldest);
        outln!(
            "oldest pending: {} ({} minutes ago)",
            oldest.to_rfc3339(),
            age.num_minutes()
        )?;
    }
    list_undelivered(&history)?;
    // Stuck: refused for good, unacknowledged, or pending after a failed attempt.
    let stuck = s.failed > 0 || s.uncertain > 0 || s.retrying > 0;
    if stuck {
        eprintln!(
            "error: {} {}, {} {} and {} pending after failed attempts",
            s.failed,
            EmailStatus::Failed.name(),
            s.uncertain,
            EmailStatus::Uncertain.name(),
            s.retrying
        );
        if s.failed + s.uncertain > 0 {
            eprintln!("help: `canopy outbox retry` sends failed and uncertain emails again once the cause is fixed; `canopy outbox discard` gives up on them");
        }
    }
    Ok(if stuck {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

/// Each email the counts include as pending, failed or uncertain: its status, recipient and
/// subject on one line, then its attempts, last error and when it will be tried again, so
/// the reader sees which emails wait and what would move them.
fn list_undelivered(history: &History) -> anyhow::Result<()> {
    let uncertain_after = crate::env::retry()?.uncertain_after;
    for u in history.undelivered()? {
        outln!("{}: {}: {}", u.status.name(), u.recipient, u.subject)?;
        let error = match (u.error.as_str(), u.last_attempt.as_deref()) {
            ("", _) => "none".to_string(),
            (error, Some(at)) => format!("{error} (at {at})"),
            (error, None) => error.to_string(),
        };
        outln!(
            "  attempts: {}; last error: {error}; next try: {}",
            u.attempts,
            next_try(&u, uncertain_after)
        )?;
    }
    Ok(())
}

/// When `u` will be sent again: pending ones by the next run or flush; uncertain ones by a
/// run or flush once `CANOPY_SMTP_UNCERTAIN_AFTER` has passed since the last attempt (not
/// sooner, since the server may have delivered it); failed ones only when retried by hand.
fn next_try(u: &Unresolved, uncertain_after: Duration) -> String {
    match u.status {
        EmailStatus::Uncertain => {
            let last = (u.last_attempt.as_deref())
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            let after = chrono::Duration::from_std(uncertain_after).ok();
            match last.zip(after) {
                Some((last, after)) => format!(
                    "by a run or `canopy outbox flush` from {}",
                    (last + after).to_rfc3339()
                ),
                None => "by the next run or `canopy outbox flush`".to_string(),
            }
        }
        EmailStatus::Failed => "only after `canopy outbox retry`".to_string(),
        _ => "by the next run or `canopy outbox flush`".to_string(),
    }
}
