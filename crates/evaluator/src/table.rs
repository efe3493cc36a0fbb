//! Leaf rows as a reader of files found them, before any tree is known: the evaluator's input
//! from data files (the `canopy-sources` crate reads CSV into it).
//!
//! Rows keep metric names, periods and segments as written, numbered in small tables per
//! chunk of the file and per value of its `tree` column, so that
//! [`crate::DataBuilder::add_table`] resolves each name once per tree rather than once per
//! row, and a file is read once for all the trees of a run.

use std::path::Path;
use std::sync::Arc;

use crate::data::SegmentKey;

/// Most problems kept for one group of rows of a chunk before the rest are only counted.
pub const MAX_PROBLEMS: usize = 50;

/// The rows of one data file.
pub struct Table {
    /// The file the rows were read from.
    pub path: Arc<Path>,
    /// The names of the segment dimensions, in the file's order (none for totals only).
    pub dimensions: Vec<String>,
    /// Whether the rows say which tree they are for; without that every row is every tree's.
    pub by_tree: bool,
    /// The rows, chunk by chunk in the file's order.
    pub chunks: Vec<Chunk>,
    /// Finds fields on the file's lines, for pointing at them in diagnostics.
    pub fields: Box<dyn Fields>,
}

/// A field of a row that a tree may not resolve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The metric's name.
    Metric,
    /// The period.
    Period,
}

/// Where fields are on a file's lines: kept apart from the rows, which need not carry it.
pub trait Fields: Send + Sync {
    /// For each line and field of `at` (lines from 1, ascending), the column (from 1) where
    /// the field starts and its length in bytes; `(1, 1)` where that cannot be told.
    fn find(&self, at: &[(u32, Field)]) -> Vec<(u32, u32)>;
}

/// The rows of one chunk of a file, by value of the tree column.
pub struct Chunk {
    /// Lines before the chunk's first line in the file, the header included.
    pub lines_before: u32,
    /// One group per value of the tree column, or a single group without one.
    pub groups: Vec<Group>,
    /// Problems of rows whose tree cannot be told (too few or too many fields).
    pub unplaced: Problems,
}

/// Rows of one tree in one chunk, with names, periods and segments numbered as first seen.
pub struct Group {
    /// The value of the tree column (empty without one).
    pub tree: Box<[u8]>,
    /// Metric names as written, numbered by [`Row::name`].
    pub names: Vec<Box<[u8]>>,
    /// Periods as written, numbered by [`Row::period`].
    pub periods: Vec<Box<[u8]>>,
    /// Segment `k` is `keys[k - 1]`, one value per dimension; 0 is the total.
    pub keys: Vec<SegmentKey>,
    /// The rows, in the file's order.
    pub rows: Vec<Row>,
    /// Problems of rows of this group.
    pub problems: Problems,
}

/// One value, its metric, period and segment numbered in its group's tables. Kept small: a
/// large file has millions.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// The metric's name, in [`Group::names`].
    pub name: u32,
    /// The period, in [`Group::periods`].
    pub period: u32,
    /// The segment: 0 for the total, else `k` for [`Group::keys`]`[k - 1]`.
    pub key: u32,
    /// The line within the chunk, from 1.
    pub line: u32,
    /// The value, always finite.
    pub value: f64,
}

/// Problems found in rows, the first [`MAX_PROBLEMS`] in full.
#[derive(Default, Debug)]
pub struct Problems {
    /// The problems kept.
    pub list: Vec<Problem>,
    /// How many more were found.
    pub suppressed: usize,
}

impl Problems {
    /// Keeps `problem`, or counts it once [`MAX_PROBLEMS`] are kept.
    pub fn push(&mut self, problem: Problem) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(problem);
        } else {
            self.suppressed += 1;
        }
    }
}

/// A problem at a line (within its chunk) and column.
#[derive(Clone, Debug)]
pub struct Problem {
    /// The line within the chunk, from 1.
    pub line: u32,
    /// The column, from 1.
    pub col: u32,
    /// How many columns it spans.
    pub len: u32,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}
