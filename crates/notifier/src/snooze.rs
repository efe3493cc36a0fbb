//! Snoozes: a metric whose moves are still detected and recorded, but not emailed or posted
//! until a given period, with who snoozed it, when and why. Kept in the history database
//! (migration 7), one per metric of a tree; a new snooze of the same metric replaces it.

use canopy_engine::{MetricId, MetricTree};
use canopy_evaluator::Period;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

use crate::history::{period_at, History};
use crate::Error;

/// A metric snoozed: its moves are held back in every period before `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snooze {
    /// The tree's id.
    pub tree: String,
    /// The metric's id.
    pub metric: String,
    /// The first period whose moves are sent again.
    pub until: Period,
    /// Who snoozed it.
    pub by: String,
    /// Why, in their words.
    pub note: Option<String>,
    /// When it was snoozed (RFC 3339).
    pub at: String,
}

impl Snooze {
    /// Whether moves in `period` are held back: `period` starts before `until` does (so a
    /// snooze written in another grain than the tree's now still holds by date).
    pub fn holds(&self, period: Period) -> bool {
        period.start() < self.until.start()
    }

    /// The snooze in words: `snoozed until 2026-W50 by Ana: waiting for the fix`.
    pub fn told(&self) -> String {
        let note = self.note.as_deref().map(|n| format!(": {n}"));
        format!(
            "snoozed until {} by {}{}",
            self.until,
            self.by,
            note.unwrap_or_default()
        )
    }
}

/// The snooze of `metric` among `snoozes`.
pub(crate) fn of(snoozes: &[(MetricId, Snooze)], metric: MetricId) -> Option<&Snooze> {
    snoozes.iter().find(|(m, _)| *m == metric).map(|(_, s)| s)
}

impl History {
    /// Snoozes `snooze.metric` of `snooze.tree`, replacing any snooze of it. Gives the one
    /// replaced.
    pub fn snooze(&mut self, snooze: &Snooze) -> Result<Option<Snooze>, Error> {
        let replaced = replace(&mut self.conn, &snooze.tree, &snooze.metric, |tx| {
            tx.execute(
                "insert into snoozes (tree, metric, until, by, note, at) values (?1, ?2, ?3, ?4, ?5, ?6)",
                params![snooze.tree, snooze.metric, snooze.until.key(), snooze.by, snooze.note, snooze.at],
            )
        });
        replaced.map_err(|e| self.error(e))
    }

    /// Ends the snooze of `metric` of `tree`, giving it back; `None` when there was none.
    pub fn unsnooze(&mut self, tree: &str, metric: &str) -> Result<Option<Snooze>, Error> {
        replace(&mut self.conn, tree, metric, |_| Ok(0)).map_err(|e| self.error(e))
    }

    /// Every snooze, of `tree` or of all trees, by tree and metric.
    pub fn snoozes(&self, tree: Option<&str>) -> Result<Vec<Snooze>, Error> {
        self.rows(
            "select tree, metric, until, by, note, at from snoozes where ?1 is null or tree = ?1 order by tree, metric",
            params![tree],
            read,
        )
    }

    /// The metrics of `tree` whose moves in `period` are held back, with their snoozes: a
    /// snooze of the tree as written holds in the runs of its slices too.
    pub fn snoozed(
        &self,
        tree: &MetricTree,
        period: Period,
    ) -> Result<Vec<(MetricId, Snooze)>, Error> {
        Ok((self.snoozes(Some(tree.written_id()))?.into_iter())
            .filter(|s| s.holds(period))
            .filter_map(|s| Some((tree.find(&s.metric)?, s)))
            .collect())
    }
}

/// In one transaction: removes the snooze of `metric` of `tree` and runs `then`; gives the
/// snooze removed.
fn replace(
    conn: &mut rusqlite::Connection,
    tree: &str,
    metric: &str,
    then: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<usize>,
) -> rusqlite::Result<Option<Snooze>> {
    let tx = conn.transaction()?;
    let before = find(&tx, tree, metric)?;
    tx.execute(
        "delete from snoozes where tree = ?1 and metric = ?2",
        params![tree, metric],
    )?;
    then(&tx)?;
    tx.commit()?;
    Ok(before)
}

/// The snooze of `metric` of `tree`, if any.
fn find(conn: &rusqlite::Connection, tree: &str, metric: &str) -> rusqlite::Result<Option<Snooze>> {
    conn.query_row(
        "select tree, metric, until, by, note, at from snoozes where tree = ?1 and metric = ?2",
        params![tree, metric],
        read,
    )
    .optional()
}

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Snooze> {
    Ok(Snooze {
        tree: r.get(0)?,
        metric: r.get(1)?,
        until: period_at(r, 2)?,
        by: r.get(3)?,
        note: r.get(4)?,
        at: r.get(5)?,
    })
}

/// The time of a snooze as stored.
pub fn stamp(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
