//! The history database's schema: its migrations, in order, and how they are applied.
//! Tables of the history (runs, values, alert state, moves, changes, definitions, snoozes)
//! and of the outbox live in one database, so that a run is written in one transaction.

use rusqlite::{Connection, Transaction};

use canopy_engine::Period;

/// Schema migrations, in order; `PRAGMA user_version` is how many have been applied.
pub(crate) const MIGRATIONS: &[&str] = &[
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
    // 2: emails whose hand-over was not acknowledged (`uncertain`), emails given up on
    // (`discarded`), when each was last tried, and how each was delivered (over SMTP, or
    // written to the outbox folder). SQLite cannot
    // change a check constraint, so the table is rebuilt.
    "create table outbox_v2 (
        id integer primary key,
        message_id text not null unique,
        tree text not null,
        period text not null,
        sender text not null,
        recipient text not null,
        subject text not null,
        body blob not null,
        status text not null check (status in ('pending', 'sent', 'failed', 'uncertain', 'discarded')),
        attempts integer not null default 0,
        last_error text,
        last_attempt_at text,
        channel text check (channel in ('smtp', 'folder')),
        created_at text not null,
        sent_at text
    );
    insert into outbox_v2 (id, message_id, tree, period, sender, recipient, subject, body,
                           status, attempts, last_error, created_at, sent_at)
        select id, message_id, tree, period, sender, recipient, subject, body,
               status, attempts, last_error, created_at, sent_at from outbox;
    drop table outbox;
    alter table outbox_v2 rename to outbox;
    create index outbox_status on outbox (status, id);",
    // 3: registered changes: the period of the first run that saw each (a change first seen
    // after it shipped is post hoc), and its verdict, decided once and never recomputed; and
    // the fingerprint of each changed metric's definition in each run, so that a verdict
    // across a change of definition is refused.
    "create table changes (
        tree text not null,
        change text not null,
        shipped text not null,
        first_seen text not null,
        judged_in text,
        verdict text,
        story text,
        primary key (tree, change)
    );
    create table definitions (
        tree text not null,
        metric text not null,
        period text not null,
        fingerprint text not null,
        primary key (tree, metric, period)
    );",
    // 4: definition versions: the hash of the whole tree's definition with each run, of each
    // metric's with each of its values, and each metric definition's fields by hash, so that
    // a run can say what changed since the last one and a trend can say where it changed.
    "alter table runs add column definition text;
    alter table vals add column definition text;
    create table definition_texts (
        tree text not null,
        metric text not null,
        hash text not null,
        fields text not null,
        primary key (tree, metric, hash)
    );",
    // 5: a channel-neutral outbox: each entry is an email or a chat message (`medium`), and
    // one may be delivered by posting it to a webhook. The table is rebuilt for the checks.
    "create table outbox_v5 (
        id integer primary key,
        message_id text not null unique,
        tree text not null,
        period text not null,
        medium text not null default 'email' check (medium in ('email', 'webhook')),
        sender text not null,
        recipient text not null,
        subject text not null,
        body blob not null,
        status text not null check (status in ('pending', 'sent', 'failed', 'uncertain', 'discarded')),
        attempts integer not null default 0,
        last_error text,
        last_attempt_at text,
        channel text check (channel in ('smtp', 'folder', 'webhook')),
        created_at text not null,
        sent_at text
    );
    insert into outbox_v5 (id, message_id, tree, period, sender, recipient, subject, body,
                           status, attempts, last_error, last_attempt_at, channel, created_at, sent_at)
        select id, message_id, tree, period, sender, recipient, subject, body,
               status, attempts, last_error, last_attempt_at, channel, created_at, sent_at from outbox;
    drop table outbox;
    alter table outbox_v5 rename to outbox;
    create index outbox_status on outbox (status, id);",
    // 6: how a changed metric was computed in each run is read from the definitions kept with
    // its values and those under it (migration 4), so the fingerprints of migration 3 go.
    "drop table definitions;",
    // 7: snoozes: a metric's moves held back until a period, with who, when and why; and why
    // each move that nobody was told of was held back (a snooze, or a volume guard).
    "alter table moves add column held text;
    create table snoozes (
        tree text not null,
        metric text not null,
        until text not null,
        by text not null,
        note text,
        at text not null,
        primary key (tree, metric)
    );",
    // 8: every period as its key (`2026-11-16/2026-W47`, see `Period::key`), which orders
    // periods of every grain by when they start; written periods order within one grain only.
    "update runs set period = period_key(period);
    update vals set period = period_key(period);
    update alert_state set period = period_key(period);
    update moves set period = period_key(period);
    update outbox set period = period_key(period);
    update changes set shipped = period_key(shipped), first_seen = period_key(first_seen),
                       judged_in = period_key(judged_in);
    update snoozes set until = period_key(until);",
];

/// Applies the migrations a database lacks, inside `tx`. The inner error says why the
/// database cannot be used (newer than this canopy, or another program's).
pub(crate) fn migrate(tx: &Transaction<'_>) -> rusqlite::Result<Result<usize, String>> {
    let version = tx.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
    if version > MIGRATIONS.len() {
        return Ok(Err(format!(
            "has schema version {version}, newer than this canopy knows ({}); upgrade canopy",
            MIGRATIONS.len()
        )));
    }
    if version == 0 {
        let tables: i64 = tx.query_row("select count(*) from sqlite_master", [], |r| r.get(0))?;
        if tables > 0 {
            return Ok(Err("is a SQLite database of another program (it has tables but no canopy schema); give --db a path of its own".into()));
        }
    }
    period_key_function(tx)?;
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(migration)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    Ok(Ok(MIGRATIONS.len()))
}

/// `period_key(TEXT)`, for migration 8: a period as written, as its key; null stays null.
fn period_key_function(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("period_key", 1, flags, |ctx| {
        let Some(text) = ctx.get::<Option<String>>(0)? else {
            return Ok(None);
        };
        let period = Period::grain_of(&text).and_then(|g| Period::parse(&text, g).ok());
        match period {
            Some(p) => Ok(Some(p.key())),
            None => Err(rusqlite::Error::UserFunctionError(
                format!("`{text}` in the history is not a period").into(),
            )),
        }
    })
}
