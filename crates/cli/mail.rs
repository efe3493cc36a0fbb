//! Where emails and chat messages go, as the settings say, and delivering the outbox.

use std::path::Path;

use anyhow::Context;
use canopy_notifier::{
    flush, Deliver, Error, Folder, History, Mailbox, Medium, Pass, Poster, Retry, Routes, Smtp,
};

use crate::args::StoreArgs;
use crate::table::plural;

/// Where emails go: an SMTP server when `CANOPY_SMTP_URL` is set, else the outbox folder.
pub(crate) struct Mail {
    pub(crate) sender: Mailbox,
    pub(crate) transport: Box<dyn Deliver>,
    pub(crate) smtp: bool,
    /// Chat messages, posted to the webhooks they are for.
    chat: Poster,
    retry: Retry,
}

impl Mail {
    /// The sender, the SMTP server (or the outbox folder) and the chat poster, as the
    /// environment sets them (see `crate::env`). The attempts and backoff apply to chat
    /// messages too.
    pub(crate) fn from_env(store: &StoreArgs) -> anyhow::Result<Mail> {
        let sender = crate::env::sender()?;
        let retry = crate::env::retry()?;
        let (transport, smtp): (Box<dyn Deliver>, bool) = match crate::env::smtp()? {
            Some(settings) => (Box::new(Smtp::new(&settings)?), true),
            None => (Box::new(Folder::new(&store.outbox)), false),
        };
        let chat = Poster::new(crate::env::webhook_timeout()?, crate::env::var);
        Ok(Mail {
            sender,
            transport,
            smtp,
            chat,
            retry,
        })
    }

    /// How emails are delivered.
    pub(crate) fn channel(&self) -> canopy_notifier::Channel {
        self.transport.channel()
    }

    /// Sends what the outbox holds.
    pub(crate) fn flush(&self, history: &History) -> anyhow::Result<Pass> {
        let now = chrono::Utc::now;
        let routes = Routes {
            email: self.transport.as_ref(),
            chat: &self.chat,
        };
        Ok(flush(
            history,
            routes,
            self.retry,
            &now,
            &std::thread::sleep,
        )?)
    }
}

/// Opens the history database for writing, creating its folder. If another run or flush
/// has it, waits for that one to finish, at most `CANOPY_LOCK_WAIT` seconds (default 600).
pub(crate) fn open_history(db: &Path) -> anyhow::Result<History> {
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let wait = crate::env::lock_wait()?;
    let mut on_busy = |pid: Option<u32>| {
        let who = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
        eprintln!(
            "note: another canopy run or flush{who} is using {}; waiting up to {} s for it to finish",
            db.display(),
            wait.as_secs()
        );
    };
    match History::open(db, wait, &mut on_busy) {
        Ok(history) => Ok(history),
        Err(e @ Error::Busy { .. }) => Err(anyhow::anyhow!(
            "{e}\nhelp: let it finish (a run started again afterwards sends nothing twice), or set CANOPY_LOCK_WAIT to wait longer"
        )),
        Err(e @ Error::ReadOnly { .. }) => Err(anyhow::anyhow!(
            "{e}\nhelp: `canopy history`, `canopy outbox status` and `canopy run --dry-run` read it as it is; to run, make it writable or give --db a writable path"
        )),
        Err(e) => Err(e.into()),
    }
}

/// Tells what a pass did, on stderr; true when everything it tried went out.
pub(crate) fn report_pass(mail: &Mail, pass: &Pass) -> bool {
    let n = pass.sent.len();
    if n > 0 {
        let verb = if mail.smtp { "sent" } else { "wrote" };
        eprintln!(
            "{verb} {} to {}",
            plural(n, "email"),
            mail.transport.describe()
        );
        if !mail.smtp {
            eprintln!("note: no SMTP server is configured; set CANOPY_SMTP_URL (and CANOPY_FROM) to send emails");
        }
    }
    if !pass.posted.is_empty() {
        let n = pass.posted.len();
        eprintln!("posted {} to webhooks", plural(n, Medium::Webhook.noun()));
    }
    for r in &pass.failed {
        eprintln!(
            "error: the {} to {} (\"{}\") was refused for good: {}",
            r.medium.noun(),
            r.recipient,
            r.subject,
            r.reason
        );
    }
    for r in &pass.uncertain {
        eprintln!(
            "error: the {} to {} (\"{}\") may not have been delivered: {}",
            r.medium.noun(),
            r.recipient,
            r.subject,
            r.reason
        );
    }
    if !pass.uncertain.is_empty() {
        eprintln!("help: it is sent again, with the same Message-ID, by a run or flush after CANOPY_SMTP_UNCERTAIN_AFTER seconds; if the server is slow to answer, raise CANOPY_SMTP_TIMEOUT");
    }
    if !pass.failed.is_empty() {
        eprintln!("help: once the address or server is fixed, `canopy outbox retry` sends refused emails again");
    }
    if !pass.pending.is_empty() {
        let why = pass
            .pending
            .iter()
            .find_map(|(_, w)| w.clone())
            .unwrap_or_default();
        let chat = pass.pending_chat;
        let what = match (pass.pending.len() - chat, chat) {
            (emails, 0) => plural(emails, Medium::Email.noun()),
            (0, chat) => plural(chat, Medium::Webhook.noun()),
            (emails, chat) => format!(
                "{} and {}",
                plural(emails, Medium::Email.noun()),
                plural(chat, Medium::Webhook.noun())
            ),
        };
        eprintln!(
            "error: {what} could not be sent and stay in the outbox ({why}); the next run or `canopy outbox flush` retries",
        );
    }
    pass.failed.is_empty() && pass.pending.is_empty() && pass.uncertain.is_empty()
}
