//! `canopy outbox flush|status`.

use canopy_notifier::History;

use crate::args::{OutboxCommand, StoreArgs};
use crate::mail::{self, Mail};
use crate::Outcome;

pub(crate) fn run(command: &OutboxCommand) -> anyhow::Result<Outcome> {
    match command {
        OutboxCommand::Flush { store } => {
            let history = mail::open_history(store)?;
            let mail = Mail::from_env(store)?;
            let pass = mail.flush(&history)?;
            if pass.sent.is_empty() && pass.failed.is_empty() && pass.pending.is_empty() {
                eprintln!("the outbox is empty");
            }
            Ok(if mail::report_pass(&mail, &pass) {
                Outcome::Success
            } else {
                Outcome::Failure
            })
        }
        OutboxCommand::Status { store } => status(store),
    }
}

fn status(store: &StoreArgs) -> anyhow::Result<Outcome> {
    if !store.db.exists() {
        outln!("no history at {} yet: nothing has run", store.db.display())?;
        return Ok(Outcome::Success);
    }
    let history = History::open_read_only(&store.db)?;
    let s = history.status()?;
    outln!("pending: {}", s.pending)?;
    outln!("failed:  {}", s.failed)?;
    outln!("sent:    {}", s.sent)?;
    if let Some(oldest) = s.oldest_pending {
        let age = chrono::Utc::now().signed_duration_since(oldest);
        outln!(
            "oldest pending: {} ({} minutes ago)",
            oldest.to_rfc3339(),
            age.num_minutes()
        )?;
    }
    for (to, subject, error) in history.failures()? {
        outln!("failed: {to}: {subject}: {error}")?;
    }
    // Stuck: refused for good, or pending after a failed attempt.
    let stuck = s.failed > 0 || s.retrying > 0;
    if stuck {
        eprintln!(
            "error: {} failed and {} pending after failed attempts",
            s.failed, s.retrying
        );
    }
    Ok(if stuck {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}
