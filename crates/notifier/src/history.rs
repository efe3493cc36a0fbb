//! The history database: runs, values, alert state, moves and the outbox, in SQLite.
//!
//! Everything a run decides is written in one transaction, emails included, before anything
//! is sent. A run killed at any point leaves either nothing of itself or all of it, and the
//! outbox's unique Message-IDs mean a repeated run adds no email twice.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::moves::AlertState;
use crate::Error;

/// Schema migrations, in order; `PRAGMA user_version` is how many have been applied.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "create table runs (
        tree text not null,
        period text not null,
        started_at text not null,
        finished_at text,
        primary key (tree, period)
    );
    create table vals (
        tree text not null,
        metric text not null,
        segment text not null,
        period text not null,
        value real,
        status text not null,
        primary key (tree, metric, segment, period)
    );
    create table alert_state (
        tree text not null,
        metric text not null,
        period text not null,
        bad integer not null,
        runs_unalerted integer not null,
        prev_bad integer not null,
        prev_runs_unalerted integer not null,
        primary key (tree, metric)
    );
    create table moves (
        tree text not null,
        period text not null,
        metric text not null,
        rules text not null,
        recipient text not null,
        primary key (tree, period, metric)
    );
    create table outbox (
        id integer primary key,
        message_id text not null unique,
        tree text not null,
        period text not null,
        sender text not null,
        recipient text not null,
        subject text not null,
        body blob not null,
        status text not null check (status in ('pending', 'sent', 'failed')),
        attempts integer not null default 0,
        last_error text,
        created_at text not null,
        sent_at text
    );
    create index outbox_status on outbox (status, id);",
];

/// An email as stored in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEmail {
    /// Row id.
    pub id: i64,
    /// The stable Message-ID, `<...>` included.
    pub message_id: String,
    /// The tree it is about.
    pub tree: String,
    /// The period it is about.
    pub period: String,
    /// Envelope sender address.
    pub sender: String,
    /// Envelope recipient address.
    pub recipient: String,
    /// Its subject, for listings.
    pub subject: String,
    /// The whole message as sent.
    pub body: Vec<u8>,
    /// Delivery attempts so far.
    pub attempts: u32,
}

/// One metric's value to remember.
#[derive(Clone, Debug)]
pub struct ValueRecord {
    /// The metric's id.
    pub metric: String,
    /// The segment, `""` for the total.
    pub segment: String,
    /// The value, when ok.
    pub value: Option<f64>,
    /// `ok`, `missing` or `undefined`.
    pub status: &'static str,
}

/// Everything one run of a tree for a period decided.
#[derive(Clone, Debug, Default)]
pub struct RunRecord {
    /// The tree's id.
    pub tree: String,
    /// The period.
    pub period: String,
    /// Every metric's value, totals and segments.
    pub values: Vec<ValueRecord>,
    /// Each metric's alert state after this period.
    pub states: Vec<(String, AlertState)>,
    /// The moves: metric, rules as JSON, recipient address.
    pub moves: Vec<(String, String, String)>,
    /// The emails to send.
    pub emails: Vec<StoredEmail>,
}

/// How the outbox stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboxStatus {
    /// Emails waiting to be sent.
    pub pending: u64,
    /// Emails refused for good.
    pub failed: u64,
    /// Emails sent.
    pub sent: u64,
    /// When the oldest pending email was stored.
    pub oldest_pending: Option<DateTime<Utc>>,
    /// Pending emails that have failed at least once.
    pub retrying: u64,
}

/// The history database.
pub struct History {
    conn: Connection,
}

fn sql(e: rusqlite::Error) -> Error {
    Error::History(e.to_string())
}

impl History {
    /// Opens (creating if needed) the database at `path`, bringing its schema up to date.
    pub fn open(path: &Path) -> Result<History, Error> {
        let conn = Connection::open(path)
            .map_err(|e| Error::History(format!("cannot open {}: {e}", path.display())))?;
        History::init(conn)
    }

    /// Opens an existing database without writing to it, for dry runs and status.
    pub fn open_read_only(path: &Path) -> Result<History, Error> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| Error::History(format!("cannot open {}: {e}", path.display())))?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql)?;
        if version as usize != MIGRATIONS.len() {
            return Err(Error::History(format!("{} has schema version {version}; run canopy once without --dry-run to bring it to {}", path.display(), MIGRATIONS.len())));
        }
        Ok(History { conn })
    }

    /// A database in memory, for tests and dry runs.
    pub fn in_memory() -> Result<History, Error> {
        History::init(Connection::open_in_memory().map_err(sql)?)
    }

    fn init(mut conn: Connection) -> Result<History, Error> {
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "wal")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sql)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql)?;
        let version = version as usize;
        if version > MIGRATIONS.len() {
            return Err(Error::History(format!(
                "the database has schema version {version}, newer than this canopy knows ({}); upgrade canopy",
                MIGRATIONS.len()
            )));
        }
        let tx = conn.transaction().map_err(sql)?;
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(migration).map_err(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)
                .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(History { conn })
    }

    /// What was remembered of `metric` before `period`: the state after the latest earlier
    /// period, or, if `period` itself was run before, the state it started from (so a
    /// repeated run decides the same). A period older than the last run starts afresh.
    pub fn alert_state(&self, tree: &str, metric: &str, period: &str) -> Result<AlertState, Error> {
        let row = self
            .conn
            .query_row(
                "select period, bad, runs_unalerted, prev_bad, prev_runs_unalerted from alert_state where tree = ?1 and metric = ?2",
                params![tree, metric],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?, r.get::<_, u32>(2)?, r.get::<_, bool>(3)?, r.get::<_, u32>(4)?)),
            )
            .optional()
            .map_err(sql)?;
        Ok(match row {
            Some((p, bad, runs, _, _)) if p.as_str() < period => AlertState {
                bad,
                runs_unalerted: runs,
            },
            Some((p, _, _, bad, runs)) if p == period => AlertState {
                bad,
                runs_unalerted: runs,
            },
            _ => AlertState::default(),
        })
    }

    /// Writes everything a run decided, in one transaction. Emails already in the outbox
    /// (same Message-ID) are left as they are. Returns how many emails were new.
    pub fn record_run(&mut self, run: &RunRecord, now: DateTime<Utc>) -> Result<usize, Error> {
        let tx = self.conn.transaction().map_err(sql)?;
        let new = write_run(&tx, run, now).map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(new)
    }

    /// Emails waiting to be sent, oldest first.
    pub fn pending(&self) -> Result<Vec<StoredEmail>, Error> {
        let mut stmt = self
            .conn
            .prepare("select id, message_id, tree, period, sender, recipient, subject, body, attempts from outbox where status = 'pending' order by id")
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(StoredEmail {
                    id: r.get(0)?,
                    message_id: r.get(1)?,
                    tree: r.get(2)?,
                    period: r.get(3)?,
                    sender: r.get(4)?,
                    recipient: r.get(5)?,
                    subject: r.get(6)?,
                    body: r.get(7)?,
                    attempts: r.get(8)?,
                })
            })
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    /// Marks an email sent.
    pub fn mark_sent(&self, id: i64, now: DateTime<Utc>) -> Result<(), Error> {
        self.conn
            .execute("update outbox set status = 'sent', attempts = attempts + 1, sent_at = ?2, last_error = null where id = ?1", params![id, now.to_rfc3339()])
            .map(|_| ())
            .map_err(sql)
    }

    /// Records a failed attempt: the email stays pending, or fails for good if `permanent`.
    pub fn mark_attempt_failed(&self, id: i64, error: &str, permanent: bool) -> Result<(), Error> {
        let status = if permanent { "failed" } else { "pending" };
        self.conn
            .execute("update outbox set status = ?2, attempts = attempts + 1, last_error = ?3 where id = ?1", params![id, status, error])
            .map(|_| ())
            .map_err(sql)
    }

    /// Counts of the outbox, for `canopy outbox status`.
    pub fn status(&self) -> Result<OutboxStatus, Error> {
        let count = |status: &str| -> Result<u64, Error> {
            let n: i64 = self
                .conn
                .query_row(
                    "select count(*) from outbox where status = ?1",
                    [status],
                    |r| r.get(0),
                )
                .map_err(sql)?;
            Ok(n as u64)
        };
        let oldest: Option<String> = self
            .conn
            .query_row(
                "select min(created_at) from outbox where status = 'pending'",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        let retrying: i64 = self
            .conn
            .query_row(
                "select count(*) from outbox where status = 'pending' and attempts > 0",
                [],
                |r| r.get(0),
            )
            .map_err(sql)?;
        let retrying = retrying as u64;
        Ok(OutboxStatus {
            pending: count("pending")?,
            failed: count("failed")?,
            sent: count("sent")?,
            oldest_pending: oldest
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc)),
            retrying,
        })
    }

    /// Failed emails with their errors, for `canopy outbox status`.
    pub fn failures(&self) -> Result<Vec<(String, String, String)>, Error> {
        let mut stmt = self
            .conn
            .prepare("select recipient, subject, coalesce(last_error, '') from outbox where status = 'failed' order by id")
            .map_err(sql)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(sql)?;
        rows.collect::<Result<_, _>>().map_err(sql)
    }

    /// The status of the email with `message_id`, if it is in the outbox.
    pub fn email_status(&self, message_id: &str) -> Result<Option<String>, Error> {
        self.conn
            .query_row(
                "select status from outbox where message_id = ?1",
                [message_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)
    }
}

fn write_run(tx: &Transaction<'_>, run: &RunRecord, now: DateTime<Utc>) -> rusqlite::Result<usize> {
    let now = now.to_rfc3339();
    tx.execute(
        "insert into runs (tree, period, started_at, finished_at) values (?1, ?2, ?3, ?3)
         on conflict (tree, period) do update set finished_at = excluded.finished_at",
        params![run.tree, run.period, now],
    )?;
    let mut value = tx.prepare_cached(
        "insert into vals (tree, metric, segment, period, value, status) values (?1, ?2, ?3, ?4, ?5, ?6)
         on conflict (tree, metric, segment, period) do update set value = excluded.value, status = excluded.status",
    )?;
    for v in &run.values {
        value.execute(params![
            run.tree, v.metric, v.segment, run.period, v.value, v.status
        ])?;
    }
    // A newer period moves the current state to `prev_`; the same period keeps `prev_` (a
    // repeated run); an older period (a backfill) leaves the state alone.
    let mut state = tx.prepare_cached(
        "insert into alert_state (tree, metric, period, bad, runs_unalerted, prev_bad, prev_runs_unalerted)
         values (?1, ?2, ?3, ?4, ?5, 0, 0)
         on conflict (tree, metric) do update set
           prev_bad = case when excluded.period > alert_state.period then alert_state.bad else alert_state.prev_bad end,
           prev_runs_unalerted = case when excluded.period > alert_state.period then alert_state.runs_unalerted else alert_state.prev_runs_unalerted end,
           bad = case when excluded.period >= alert_state.period then excluded.bad else alert_state.bad end,
           runs_unalerted = case when excluded.period >= alert_state.period then excluded.runs_unalerted else alert_state.runs_unalerted end,
           period = max(alert_state.period, excluded.period)",
    )?;
    for (metric, s) in &run.states {
        state.execute(params![
            run.tree,
            metric,
            run.period,
            s.bad,
            s.runs_unalerted
        ])?;
    }
    let mut moved = tx.prepare_cached(
        "insert into moves (tree, period, metric, rules, recipient) values (?1, ?2, ?3, ?4, ?5)
         on conflict (tree, period, metric) do update set rules = excluded.rules, recipient = excluded.recipient",
    )?;
    for (metric, rules, recipient) in &run.moves {
        moved.execute(params![run.tree, run.period, metric, rules, recipient])?;
    }
    let mut email = tx.prepare_cached(
        "insert into outbox (message_id, tree, period, sender, recipient, subject, body, status, created_at)
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8)
         on conflict (message_id) do nothing",
    )?;
    let mut new = 0;
    for e in &run.emails {
        new += email.execute(params![
            e.message_id,
            e.tree,
            e.period,
            e.sender,
            e.recipient,
            e.subject,
            e.body,
            now
        ])?;
    }
    Ok(new)
}
