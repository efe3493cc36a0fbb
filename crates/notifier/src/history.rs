//! The history database: runs, values, alert state, moves, registered changes and their
//! verdicts, in SQLite. The outbox keeps its entries in the same database (see the `outbox`
//! module's store), and the schema of both is `schema`'s.
//!
//! Everything a run decides is written in one transaction, emails included, before anything
//! is sent. A run killed at any point leaves either nothing of itself or all of it, and the
//! outbox's unique Message-IDs mean a repeated run adds no email twice. One process at a time
//! writes a database (see the `lock` module), so overlapping runs never both send.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use canopy_engine::{Definition, Period};
use canopy_evaluator::impact::Assessment;
use canopy_evaluator::Status;
use chrono::{DateTime, Utc};
use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::access;
use crate::lock::{self, Lock};
use crate::moves::{AlertState, Rule};
use crate::outbox::{write_outbox, EmailStatus, StoredEmail};
use crate::schema;
use crate::Error;

/// One metric's value to remember.
#[derive(Clone, Debug)]
pub struct ValueRecord {
    /// The metric's id.
    pub metric: String,
    /// The segment, `""` for the total.
    pub segment: String,
    /// The value, when ok.
    pub value: Option<f64>,
    /// Computed, or why not.
    pub status: Status,
}

/// Everything one run of a tree for a period decided.
#[derive(Clone, Debug)]
pub struct RunRecord {
    /// The tree's id.
    pub tree: String,
    /// The period.
    pub period: Period,
    /// Every metric's value, totals and segments.
    pub values: Vec<ValueRecord>,
    /// Each metric's alert state after this period.
    pub states: Vec<(String, AlertState)>,
    /// The moves.
    pub moves: Vec<MoveRecord>,
    /// The emails to send.
    pub emails: Vec<StoredEmail>,
    /// The tree's registered changes, and the verdicts decided in this run.
    pub changes: Vec<ChangeRecord>,
    /// The full hash of the whole tree's definition.
    pub definition: String,
    /// Each metric's definition.
    pub definitions: Vec<(String, Definition)>,
}

impl RunRecord {
    /// A run of `tree` for `period` that has decided nothing yet.
    pub fn new(tree: &str, period: Period) -> RunRecord {
        RunRecord {
            tree: tree.to_string(),
            period,
            values: Vec::new(),
            states: Vec::new(),
            moves: Vec::new(),
            emails: Vec::new(),
            changes: Vec::new(),
            definition: String::new(),
            definitions: Vec::new(),
        }
    }
}

/// The definitions one run recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Definitions {
    /// The run's period.
    pub period: Period,
    /// Each metric's definition, by id.
    pub metrics: BTreeMap<String, Definition>,
}

/// What one run recorded: every metric's total, the moves and the emails.
#[derive(Clone, Debug, PartialEq)]
pub struct PastRun {
    /// The period.
    pub period: Period,
    /// The full hash of the tree's definition the run used (`None` before versions were kept).
    pub definition: Option<String>,
    /// (metric, value, status, full hash of its definition) for each metric's total.
    pub values: Vec<(String, Option<f64>, Status, Option<String>)>,
    /// The moves.
    pub moves: Vec<MoveRecord>,
    /// (recipient as shown, subject, status) for each email and chat message.
    pub emails: Vec<(String, String, EmailStatus)>,
}

/// A move as the history keeps it (its rules stored as the JSON `run --json` prints).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct MoveRecord {
    /// The metric's id.
    pub metric: String,
    /// Why it moved.
    pub rules: Vec<Rule>,
    /// Who was told: an address, or a webhook as the tree writes it.
    pub recipient: String,
    /// Why nobody was told, when nobody was (a snooze, or a volume guard).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

/// What the history keeps of a registered change.
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeRecord {
    /// The change's id.
    pub change: String,
    /// Its ship period.
    pub shipped: Period,
    /// The period of the first run that saw it.
    pub first_seen: Period,
    /// The period of the run that judged it.
    pub judged_in: Option<Period>,
    /// The verdict, as `canopy impact` judged it (stored as the `Assessment`'s JSON).
    pub verdict: Option<Assessment>,
    /// The verdict in words, as emailed.
    pub story: Option<String>,
}

impl ChangeRecord {
    /// Whether the change was first seen by a run of its ship period or later: registered
    /// after it shipped, so its verdict is post hoc.
    pub fn post_hoc(&self) -> bool {
        self.first_seen >= self.shipped
    }
}

/// The history database.
pub struct History {
    pub(crate) conn: Connection,
    /// The database's path, as every error names it.
    db: String,
    _lock: Option<Lock>,
}

impl History {
    /// Opens (creating if needed) the database at `path` for writing, bringing its schema up
    /// to date. Only one process at a time has a database open this way: if another has, this
    /// waits for it at most `wait`, calling `on_busy` once (with the other's process id, when
    /// known), then fails with [`Error::Busy`].
    pub fn open(
        path: &Path,
        wait: Duration,
        on_busy: &mut dyn FnMut(Option<u32>),
    ) -> Result<History, Error> {
        let db = path.display().to_string();
        // One file under any of its names is one lock, and the database is opened through
        // the same name the lock was taken for.
        let path = &lock::canonical(path).map_err(|e| Error::history(&db, e))?;
        access::refuse_read_only(path, &db)?;
        let lock = lock::acquire(path, &db, wait, on_busy)?;
        if !path.exists() {
            create(path, &db)?;
        }
        refuse_empty(path, &db)?;
        let conn = Connection::open(path).map_err(|e| Error::history(&db, e))?;
        let mut history = History {
            conn,
            db,
            _lock: Some(lock),
        };
        history.init()?;
        Ok(history)
    }

    /// Opens an existing database without writing to it, for dry runs and status: it takes
    /// no lock and creates no file, so a read-only database can be read (see
    /// `access::read_only`).
    pub fn open_read_only(path: &Path) -> Result<History, Error> {
        let db = path.display().to_string();
        refuse_empty(path, &db)?;
        let conn = access::read_only(path).map_err(|e| Error::history(&db, e))?;
        let history = History {
            conn,
            db,
            _lock: None,
        };
        let version = history.version()?;
        if version != schema::MIGRATIONS.len() {
            return Err(history.error(format!(
                "has schema version {version}; run canopy once without --dry-run to bring it to {}",
                schema::MIGRATIONS.len()
            )));
        }
        Ok(history)
    }

    /// A database in memory, for tests and dry runs.
    pub fn in_memory() -> Result<History, Error> {
        let db = "(in memory)".to_string();
        let conn = Connection::open_in_memory().map_err(|e| Error::history(&db, e))?;
        let mut history = History {
            conn,
            db,
            _lock: None,
        };
        history.init()?;
        Ok(history)
    }

    pub(crate) fn error(&self, message: impl ToString) -> Error {
        Error::history(&self.db, message)
    }

    fn version(&self) -> Result<usize, Error> {
        let version: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| match access::not_a_database(&e) {
                true => self.error(format!("is not a canopy history database ({e})")),
                false => self.error(e),
            })?;
        Ok(version as usize)
    }

    fn init(&mut self) -> Result<(), Error> {
        let configure = |conn: &Connection| -> rusqlite::Result<()> {
            conn.busy_timeout(Duration::from_secs(10))?;
            conn.pragma_update(None, "journal_mode", "wal")?;
            conn.pragma_update(None, "foreign_keys", true)
        };
        match configure(&self.conn) {
            Ok(()) => {}
            Err(e) if access::cannot_write(&e) => {
                return Err(Error::ReadOnly {
                    db: self.db.clone(),
                    why: e.to_string(),
                })
            }
            Err(e) => return Err(self.error(format!("is not a canopy history database ({e})"))),
        }
        // The version is read inside the same immediate (writing) transaction that migrates,
        // so two processes can never both apply a migration.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| Error::history(&self.db, e))?;
        let refused = schema::migrate(&tx).map_err(|e| Error::history(&self.db, e))?;
        if let Err(why) = refused {
            return Err(Error::history(&self.db, why));
        }
        tx.commit().map_err(|e| Error::history(&self.db, e))
    }

    /// What was remembered of each metric of `tree` before `period`: the state after the
    /// latest earlier period, or, if `period` itself was run before, the state it started
    /// from (so a repeated run decides the same). A metric missing here starts afresh, as
    /// does one whose last run was of a later period (a backfill).
    pub fn alert_states_before(
        &self,
        tree: &str,
        period: Period,
    ) -> Result<HashMap<String, AlertState>, Error> {
        let states = self.rows(
            "select metric,
               case when period < ?2 then bad else prev_bad end,
               case when period < ?2 then runs_unalerted else prev_runs_unalerted end
             from alert_state where tree = ?1 and period <= ?2",
            params![tree, period.key()],
            |r| {
                let (bad, runs_unalerted) = (r.get(1)?, r.get(2)?);
                Ok((
                    r.get(0)?,
                    AlertState {
                        bad,
                        runs_unalerted,
                    },
                ))
            },
        )?;
        Ok(states.into_iter().collect())
    }

    /// What is kept of change `change` of `tree`, if a run has seen it.
    pub fn change(&self, tree: &str, change: &str) -> Result<Option<ChangeRecord>, Error> {
        self.conn
            .query_row(
                "select shipped, first_seen, judged_in, verdict, story from changes where tree = ?1 and change = ?2",
                params![tree, change],
                |r| {
                    Ok(ChangeRecord {
                        change: change.to_string(),
                        shipped: period_at(r, 0)?,
                        first_seen: period_at(r, 1)?,
                        judged_in: (r.get::<_, Option<String>>(2)?)
                            .map(|k| period_of(2, &k))
                            .transpose()?,
                        verdict: verdict(r.get(3)?)?,
                        story: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.error(e))
    }

    /// The hash of `metric`'s definition that each run of a period from `from` to `to`
    /// recorded with its value, by period. Runs from before definitions were kept give none.
    pub fn definition_hashes(
        &self,
        tree: &str,
        metric: &str,
        (from, to): (Period, Period),
    ) -> Result<Vec<(Period, String)>, Error> {
        self.rows(
            "select period, definition from vals where tree = ?1 and metric = ?2 and segment = '' and period between ?3 and ?4 and definition is not null order by period",
            params![tree, metric, from.key(), to.key()],
            |r| Ok((period_at(r, 0)?, r.get(1)?)),
        )
    }

    /// The definition of `metric` whose hash is `hash`, as a run recorded it.
    pub fn definition(
        &self,
        tree: &str,
        metric: &str,
        hash: &str,
    ) -> Result<Option<Definition>, Error> {
        let fields: Option<String> = self
            .conn
            .query_row(
                "select fields from definition_texts where tree = ?1 and metric = ?2 and hash = ?3",
                params![tree, metric, hash],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.error(e))?;
        fields
            .map(|f| self.read_definition(metric, hash, &f))
            .transpose()
    }

    /// A definition kept as `fields`, read back.
    fn read_definition(&self, metric: &str, kept: &str, fields: &str) -> Result<Definition, Error> {
        serde_json::from_str(fields).map_err(|e| {
            self.error(format!(
                "the definition of `{metric}` kept for {kept} cannot be read: {e}"
            ))
        })
    }

    /// The latest run of `tree` for a period before `period`, with the definition of each
    /// metric it recorded one for; `None` when there is no such run, or when its tree's
    /// definition hash was `unless` (the current one: then no metric's can differ).
    pub fn definitions_before(
        &self,
        tree: &str,
        period: Period,
        unless: &str,
    ) -> Result<Option<Definitions>, Error> {
        let fail = |e| self.error(e);
        let last: Option<(Period, Option<String>)> = self
            .conn
            .query_row(
                "select period, definition from runs where tree = ?1 and period < ?2 order by period desc limit 1",
                params![tree, period.key()],
                |r| Ok((period_at(r, 0)?, r.get(1)?)),
            )
            .optional()
            .map_err(fail)?;
        let last = match last {
            Some((_, Some(hash))) if hash == unless => return Ok(None),
            Some((last, _)) => last,
            None => return Ok(None),
        };
        let mut query = self
            .conn
            .prepare_cached("select v.metric, t.fields from vals v join definition_texts t on t.tree = v.tree and t.metric = v.metric and t.hash = v.definition where v.tree = ?1 and v.period = ?2 and v.segment = ''")
            .map_err(fail)?;
        let rows = query
            .query_map(params![tree, last.key()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(fail)?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (metric, fields) = row.map_err(fail)?;
            let definition = self.read_definition(&metric, &last.to_string(), &fields)?;
            out.insert(metric, definition);
        }
        Ok(Some(Definitions {
            period: last,
            metrics: out,
        }))
    }

    /// Where the definition of a metric of `tree` changed, for periods from `from` to `to`:
    /// (metric, the first period recorded under the new definition), oldest first. Runs are
    /// compared with the run before them, from the last one before `from`; only those whose
    /// tree's definition changed are compared metric by metric.
    pub fn definition_changes(
        &self,
        tree: &str,
        (from, to): (Period, Period),
    ) -> Result<Vec<(String, Period)>, Error> {
        let runs: Vec<(Period, Option<String>)> = self.rows(
            "select period, definition from runs where tree = ?1 and period <= ?3
               and period >= coalesce((select max(period) from runs where tree = ?1 and period < ?2), ?2)
             order by period",
            params![tree, from.key(), to.key()],
            |r| Ok((period_at(r, 0)?, r.get(1)?)),
        )?;
        let mut out = Vec::new();
        for pair in runs.windows(2) {
            let ((before, a), (after, b)) = (&pair[0], &pair[1]);
            if a.is_none() || b.is_none() || a == b {
                continue;
            }
            let changed: Vec<String> = self.rows(
                "select v.metric from vals v join vals w on w.tree = v.tree and w.metric = v.metric and w.segment = '' and w.period = ?3
                 where v.tree = ?1 and v.period = ?2 and v.segment = '' and v.definition != w.definition
                 order by v.metric",
                params![tree, after.key(), before.key()],
                |r| r.get(0),
            )?;
            out.extend(changed.into_iter().map(|m| (m, *after)));
        }
        Ok(out)
    }

    /// Writes everything a run decided, in one transaction. Emails already in the outbox
    /// (same Message-ID) are left as they are. Returns how many emails were new.
    pub fn record_run(&mut self, run: &RunRecord, now: DateTime<Utc>) -> Result<usize, Error> {
        let db = &self.db;
        let tx = self.conn.transaction().map_err(|e| Error::history(db, e))?;
        let new = write_run(&tx, run, now).map_err(|e| Error::history(db, e))?;
        tx.commit().map_err(|e| Error::history(db, e))?;
        Ok(new)
    }

    /// What the runs of `tree` recorded, for its last `last` periods, oldest first.
    pub fn past(&self, tree: &str, last: usize) -> Result<Vec<PastRun>, Error> {
        (self.periods(tree, last)?.into_iter())
            .map(|p| self.past_run(tree, p))
            .collect()
    }

    /// The periods of the last `last` runs of `tree`, oldest first.
    pub fn periods(&self, tree: &str, last: usize) -> Result<Vec<Period>, Error> {
        let sql = "select period from runs where tree = ?1 order by period desc limit ?2";
        let mut periods = self.rows(sql, params![tree, last as i64], |r| period_at(r, 0))?;
        periods.reverse();
        Ok(periods)
    }

    fn past_run(&self, tree: &str, period: Period) -> Result<PastRun, Error> {
        let key = period.key();
        let values = self.rows("select metric, value, status, definition from vals where tree = ?1 and period = ?2 and segment = '' order by rowid", params![tree, key], |r| Ok((r.get(0)?, r.get(1)?, status_at(r, 2)?, r.get(3)?)))?;
        let moves = self.rows("select metric, rules, recipient, held from moves where tree = ?1 and period = ?2 order by rowid", params![tree, key], |r| {
            Ok(MoveRecord {
                metric: r.get(0)?,
                rules: from_json(1, r.get(1)?)?,
                recipient: r.get(2)?,
                held: r.get(3)?,
            })
        })?;
        let emails = self.entries_of(tree, &key)?;
        let definition = self.rows(
            "select definition from runs where tree = ?1 and period = ?2",
            params![tree, key],
            |r| r.get(0),
        )?;
        Ok(PastRun {
            definition: definition.into_iter().next().flatten(),
            period,
            values,
            moves,
            emails,
        })
    }

    /// The rows of `sql` with `args`, each read by `row`.
    pub(crate) fn rows<T>(
        &self,
        sql: &str,
        args: impl rusqlite::Params,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, Error> {
        let fail = |e| self.error(e);
        let mut stmt = self.conn.prepare_cached(sql).map_err(fail)?;
        let rows = stmt.query_map(args, row).map_err(fail)?;
        rows.collect::<rusqlite::Result<_>>().map_err(fail)
    }

    /// Each metric's alert state, as the latest run of `tree` left it: (metric, period, bad,
    /// runs in a bad state since the last alert).
    pub fn alert_states(&self, tree: &str) -> Result<Vec<(String, Period, bool, u32)>, Error> {
        let fail = |e| self.error(e);
        let mut stmt = self
            .conn
            .prepare("select metric, period, bad, runs_unalerted from alert_state where tree = ?1 order by metric")
            .map_err(fail)?;
        let rows = stmt
            .query_map(params![tree], |r| {
                Ok((r.get(0)?, period_at(r, 1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(fail)?;
        rows.collect::<rusqlite::Result<_>>().map_err(fail)
    }
}

/// Creates a new database at `path` in one step: it is built under a temporary name and
/// renamed, so no process (or a kill at the wrong moment) ever leaves half a database, and an
/// empty file at `path` is always someone else's mistake.
fn create(path: &Path, db: &str) -> Result<(), Error> {
    let mut partial = PathBuf::from(path.as_os_str());
    partial.as_mut_os_string().push(".partial");
    let _ = std::fs::remove_file(&partial);
    let mut conn = Connection::open(&partial).map_err(|e| Error::history(db, e))?;
    let tx = conn.transaction().map_err(|e| Error::history(db, e))?;
    schema::migrate(&tx)
        .map_err(|e| Error::history(db, e))?
        .map_err(|m| Error::history(db, m))?;
    tx.commit().map_err(|e| Error::history(db, e))?;
    conn.close().map_err(|(_, e)| Error::history(db, e))?;
    std::fs::rename(&partial, path)
        .map_err(|e| Error::history(db, format!("cannot create it: {e}")))
}

fn refuse_empty(path: &Path, db: &str) -> Result<(), Error> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.len() == 0 => Err(Error::history(
            db,
            "is an empty file, not a canopy history database; give --db the path of a history (a new one is created), or delete the file",
        )),
        _ => Ok(()),
    }
}

/// The tree's definition with the run, and the fields of each metric definition (by its
/// hash in `hashes`) not seen before. A run of a tree defined as an earlier run was finds
/// them all written already.
fn write_definitions(
    tx: &Transaction<'_>,
    run: &RunRecord,
    hashes: &HashMap<&str, String>,
) -> rusqlite::Result<()> {
    let known: bool = tx.query_row(
        "select exists (select 1 from runs where tree = ?1 and definition = ?2)",
        params![run.tree, run.definition],
        |r| r.get(0),
    )?;
    tx.execute(
        "update runs set definition = ?3 where tree = ?1 and period = ?2",
        params![run.tree, run.period.key(), run.definition],
    )?;
    let mut text = tx.prepare_cached(
        "insert into definition_texts (tree, metric, hash, fields) values (?1, ?2, ?3, ?4)
         on conflict (tree, metric, hash) do nothing",
    )?;
    for (metric, definition) in run.definitions.iter().filter(|_| !known) {
        let fields = serde_json::to_string(definition)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        text.execute(params![run.tree, metric, hashes[metric.as_str()], fields])?;
    }
    Ok(())
}

/// Writes everything `run` decided, inside `tx`; returns how many emails were new.
fn write_run(tx: &Transaction<'_>, run: &RunRecord, now: DateTime<Utc>) -> rusqlite::Result<usize> {
    let now = now.to_rfc3339();
    tx.execute(
        "insert into runs (tree, period, started_at, finished_at) values (?1, ?2, ?3, ?3)
         on conflict (tree, period) do update set finished_at = excluded.finished_at",
        params![run.tree, run.period.key(), now],
    )?;
    // Each value keeps the hash of the definition it was computed under.
    let hashes: HashMap<&str, String> = (run.definitions.iter())
        .map(|(m, d)| (m.as_str(), d.hash()))
        .collect();
    write_values(tx, run, &hashes)?;
    write_states(tx, run)?;
    write_moves(tx, run)?;
    write_changes(tx, run)?;
    write_definitions(tx, run, &hashes)?;
    write_outbox(tx, run, &now)
}

/// Every value, with the hash of its metric's definition from `hashes`.
fn write_values(
    tx: &Transaction<'_>,
    run: &RunRecord,
    hashes: &HashMap<&str, String>,
) -> rusqlite::Result<()> {
    let mut value = tx.prepare_cached(
        "insert into vals (tree, metric, segment, period, value, status, definition) values (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         on conflict (tree, metric, segment, period) do update set value = excluded.value, status = excluded.status, definition = excluded.definition",
    )?;
    let period = run.period.key();
    for v in &run.values {
        let definition = hashes.get(v.metric.as_str());
        value.execute(params![
            run.tree,
            v.metric,
            v.segment,
            period,
            v.value,
            v.status.name(),
            definition
        ])?;
    }
    Ok(())
}

/// Each metric's alert state. A newer period moves the current state to `prev_`; the same
/// period keeps `prev_` (a repeated run); an older period (a backfill) leaves the state alone.
fn write_states(tx: &Transaction<'_>, run: &RunRecord) -> rusqlite::Result<()> {
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
    let period = run.period.key();
    for (metric, s) in &run.states {
        state.execute(params![run.tree, metric, period, s.bad, s.runs_unalerted])?;
    }
    Ok(())
}

fn write_moves(tx: &Transaction<'_>, run: &RunRecord) -> rusqlite::Result<()> {
    let mut moved = tx.prepare_cached(
        "insert into moves (tree, period, metric, rules, recipient, held) values (?1, ?2, ?3, ?4, ?5, ?6)
         on conflict (tree, period, metric) do update set rules = excluded.rules, recipient = excluded.recipient, held = excluded.held",
    )?;
    let period = run.period.key();
    for m in &run.moves {
        let rules = to_json(&m.rules)?;
        moved.execute(params![
            run.tree,
            period,
            m.metric,
            rules,
            m.recipient,
            m.held
        ])?;
    }
    Ok(())
}

/// The value status kept in column `column` of `row`.
fn status_at(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<Status> {
    let text = row.get::<_, String>(column)?;
    text.parse().map_err(|_| {
        let why = format!("`{text}` is not a value's status");
        rusqlite::Error::FromSqlConversionFailure(column, Type::Text, why.into())
    })
}

/// The period kept in column `column` of `row` (as its [`Period::key`]).
pub(crate) fn period_at(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<Period> {
    period_of(column, &row.get::<_, String>(column)?)
}

/// The period kept as `key` in column `column`.
fn period_of(column: usize, key: &str) -> rusqlite::Result<Period> {
    Period::from_key(key).ok_or_else(|| {
        let why = format!("`{key}` is not a period as the history keeps them");
        rusqlite::Error::FromSqlConversionFailure(column, Type::Text, why.into())
    })
}

/// A verdict read back from the JSON stored for it.
fn verdict(json: Option<String>) -> rusqlite::Result<Option<Assessment>> {
    json.map(|j| from_json(3, j)).transpose()
}

/// A value read back from the JSON stored for it in column `column`.
fn from_json<T: serde::de::DeserializeOwned>(column: usize, json: String) -> rusqlite::Result<T> {
    serde_json::from_str(&json)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(column, Type::Text, Box::new(e)))
}

/// A value as the JSON stored for it.
fn to_json(value: &impl serde::Serialize) -> rusqlite::Result<String> {
    serde_json::to_string(value).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// The registered changes. A change is
/// first seen once (an earlier period run later lowers it); its verdict is written once and
/// never replaced.
fn write_changes(tx: &Transaction<'_>, run: &RunRecord) -> rusqlite::Result<()> {
    let mut change = tx.prepare_cached(
        "insert into changes (tree, change, shipped, first_seen, judged_in, verdict, story)
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         on conflict (tree, change) do update set
           shipped = excluded.shipped,
           first_seen = min(changes.first_seen, excluded.first_seen),
           judged_in = coalesce(changes.judged_in, excluded.judged_in),
           verdict = coalesce(changes.verdict, excluded.verdict),
           story = coalesce(changes.story, excluded.story)",
    )?;
    for c in &run.changes {
        let verdict = c.verdict.as_ref().map(to_json).transpose()?;
        change.execute(params![
            run.tree,
            c.change,
            c.shipped.key(),
            c.first_seen.key(),
            c.judged_in.map(Period::key),
            verdict,
            c.story
        ])?;
    }
    Ok(())
}
