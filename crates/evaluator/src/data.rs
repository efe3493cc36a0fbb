//! Leaf values by period and segment, gathered from CSV files and SQL sources.
//!
//! Data files come as [`Table`]s, read without a tree; their names, periods and segments are
//! resolved against the tree here, and problems are reported at the file, line and column they come
//! from. Rows are collected first and laid out densely at the end, one `f64` per (metric, period)
//! for the total and for each segment, with NaN standing for "no data" (data itself is always
//! finite: anything else is rejected when read).

use std::collections::HashMap;
use std::ops::ControlFlow;

use std::path::Path;
use std::sync::Arc;

use canopy_engine::{Diagnostic, Location, MetricId, MetricTree, Span};

use crate::table::{Field, Problem, Table};
use crate::Error;
use crate::Period;

/// Most problems reported for one data file before the rest are only counted.
const MAX_DIAGNOSTICS: usize = 50;

/// The most periods data may span, first to last: values are laid out densely over the span,
/// so a mistyped year (`0026-11-23` in a daily tree) must be a diagnostic, not an attempt to
/// allocate gigabytes. 5,000 periods is 96 years of weeks, or 13 of days.
pub const MAX_SPAN: i32 = 5_000;

/// A segment: values of the data's segment dimensions, e.g. `cohort = new`.
pub type SegmentKey = Vec<String>;

/// The leaf values of one tree, dense over a range of periods.
#[derive(Debug)]
pub struct Data {
    first: Option<Period>,
    len: usize,
    dims: Vec<String>,
    segments: Vec<SegmentKey>,
    /// Slot 0 is the total, slot `s + 1` segment `s`; each is `metrics * len`, metric-major.
    slots: Vec<Vec<f64>>,
    metrics: usize,
    /// The slice these rows are, if they are one.
    slice: Slice,
}

/// A slice of the data: the rows whose segment has every one of these `dimension = value`
/// conditions, in the order given (empty: all the rows).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Slice(pub Vec<(String, String)>);

impl Slice {
    /// Whether this is all the data.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The id a slice of tree `tree` is kept under (its history, emails and report): the
    /// tree's id, with [`Slice::key`] for a slice.
    pub fn tree_id(&self, tree: &str) -> String {
        match self.is_empty() {
            true => tree.to_string(),
            false => format!("{tree}{}", self.key()),
        }
    }

    /// What tells a slice's runs apart from the whole tree's, appended to the tree's id:
    /// `.where.plan-pro.platform-ios`, the conditions in order of dimension. A tree id has no
    /// `.`, so no tree's id is ever a slice's. Where a dimension or value has a character other
    /// than letters, digits and `_`, each such character becomes `-` and a hash of the
    /// conditions as written is appended, so that two slices never share a key.
    pub fn key(&self) -> String {
        let mut conditions = self.0.clone();
        conditions.sort();
        let plain = |t: &str| t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let mut key = String::from(".where");
        for (d, v) in &conditions {
            let kept = |c: char| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '-'
                }
            };
            key.push('.');
            key.extend(d.chars().map(kept));
            key.push('-');
            key.extend(v.chars().map(kept));
        }
        if !conditions.iter().all(|(d, v)| plain(d) && plain(v)) {
            let written = conditions
                .iter()
                .flat_map(|(d, v)| [d.as_bytes(), b"=", v.as_bytes(), b"\0"]);
            let hash = canopy_engine::stable_hash(written.flatten().copied());
            key += &format!("-{:08x}", hash as u32);
        }
        key
    }

    /// The conditions as people read them: `platform = ios, plan = pro`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(|(d, v)| format!("{d} = {v}")).collect();
        parts.join(", ")
    }
}

impl serde::Serialize for Slice {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(d, v)| (d, v)))
    }
}

impl Data {
    /// The first period with data, if there is any.
    pub fn first(&self) -> Option<Period> {
        self.first
    }

    /// The last period with data, if there is any.
    pub fn last(&self) -> Option<Period> {
        self.first.map(|p| p.offset(self.len as i32 - 1))
    }

    /// How many periods the data spans, first to last.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no data at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The names of the segment dimensions (the CSV's extra columns), possibly none.
    pub fn dimensions(&self) -> &[String] {
        &self.dims
    }

    /// The segments, in order of first appearance.
    pub fn segments(&self) -> &[SegmentKey] {
        &self.segments
    }

    /// Leaf values of `metric` for slot `slot` (0 total, `s + 1` segment `s`), one per period
    /// from [`Data::first`]; NaN where there is no data.
    pub(crate) fn row(&self, slot: usize, metric: MetricId) -> &[f64] {
        let start = metric.index() * self.len;
        &self.slots[slot][start..start + self.len]
    }

    /// Leaf values of the metric numbered `m` for slot `slot`, one per period.
    pub(crate) fn row_at(&self, slot: usize, m: usize) -> &[f64] {
        &self.slots[slot][m * self.len..(m + 1) * self.len]
    }

    /// This data's metrics and segments with other values: `len` periods from `first`, each
    /// slot `metrics * len`, metric-major.
    pub(crate) fn with_periods(&self, first: Period, len: usize, slots: Vec<Vec<f64>>) -> Data {
        Data {
            first: Some(first),
            len,
            dims: self.dims.clone(),
            segments: self.segments.clone(),
            slots,
            metrics: self.metrics,
            slice: self.slice.clone(),
        }
    }

    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn metric_count(&self) -> usize {
        self.metrics
    }

    /// The slice these rows are (empty for all the data).
    pub fn slice(&self) -> &Slice {
        &self.slice
    }

    /// The rows of the segments that meet every condition of `slice`, as data of their own:
    /// each leaf's total is the sum of those segments' values (no data where none has one),
    /// so a derived metric is computed from the slice's leaves, never averaged. Totals given
    /// without a segment cannot be sliced and are left out. `Err` names a dimension the data
    /// lacks, or a condition no segment meets.
    pub fn sliced(&self, slice: &Slice) -> Result<Data, crate::Error> {
        let mut keep: Vec<usize> = (0..self.segments.len()).collect();
        for (dim, value) in &slice.0 {
            let Some(d) = self.dims.iter().position(|x| x == dim) else {
                return Err(crate::Error::UnknownDimension {
                    dimension: dim.clone(),
                    present: self.dims.clone(),
                });
            };
            let before = keep.clone();
            keep.retain(|&s| self.segments[s][d] == *value);
            if keep.is_empty() {
                let mut values: Vec<String> = before
                    .iter()
                    .map(|&s| self.segments[s][d].clone())
                    .collect();
                values.sort();
                values.dedup();
                return Err(crate::Error::EmptySlice {
                    dimension: dim.clone(),
                    value: value.clone(),
                    values,
                });
            }
        }
        let mut total = vec![f64::NAN; self.metrics * self.len];
        for &s in &keep {
            for (t, &v) in total.iter_mut().zip(&self.slots[s + 1]) {
                if !v.is_nan() {
                    *t = if t.is_nan() { v } else { *t + v };
                }
            }
        }
        let mut slots = vec![total];
        slots.extend(keep.iter().map(|&s| self.slots[s + 1].clone()));
        Ok(Data {
            first: self.first,
            len: self.len,
            dims: self.dims.clone(),
            segments: keep.iter().map(|&s| self.segments[s].clone()).collect(),
            slots,
            metrics: self.metrics,
            slice: Slice([self.slice.0.clone(), slice.0.clone()].concat()),
        })
    }
}

/// One value, resolved against the tree, with the line it was read from for error messages.
#[derive(Clone, Copy)]
struct Row {
    metric: MetricId,
    /// The period's ordinal (see [`Period::ordinal`]); the grain is the tree's.
    ordinal: i32,
    /// 0 for a total, `s + 1` for segment `s`.
    slot: u32,
    /// The line in the CSV file (0 for SQL).
    line: u32,
    value: f64,
}

/// Rows from one source.
enum Batch {
    /// The rows of one group of a chunk of a data file, and how its tables resolve: metric
    /// ids (`None` where the name is not a leaf of the tree), period ordinals (likewise) and
    /// segment slots.
    File {
        table: Arc<Table>,
        chunk: usize,
        group: usize,
        metrics: Vec<Option<MetricId>>,
        ordinals: Vec<Option<i32>>,
        slots: Vec<u32>,
    },
    /// Rows of a leaf's SQL source.
    Sql { metric: MetricId, rows: Vec<Row> },
}

impl Batch {
    /// Calls `f` with each of the batch's rows that resolve, in the order they were read;
    /// stops early when `f` says so.
    fn each_row(&self, mut f: impl FnMut(Row) -> ControlFlow<()>) {
        match self {
            Batch::Sql { rows, .. } => {
                for &row in rows {
                    if f(row).is_break() {
                        return;
                    }
                }
            }
            Batch::File {
                table,
                chunk,
                group,
                metrics,
                ordinals,
                slots,
            } => {
                let chunk = &table.chunks[*chunk];
                let before = chunk.lines_before;
                for r in &chunk.groups[*group].rows {
                    let (Some(metric), Some(ordinal)) =
                        (metrics[r.name as usize], ordinals[r.period as usize])
                    else {
                        continue;
                    };
                    let row = Row {
                        metric,
                        ordinal,
                        slot: slots[r.key as usize],
                        line: before + r.line,
                        value: r.value,
                    };
                    if f(row).is_break() {
                        return;
                    }
                }
            }
        }
    }
}

/// Collects leaf values for one tree from any number of sources, then lays them out.
pub struct DataBuilder<'t> {
    tree: &'t MetricTree,
    batches: Vec<Batch>,
    /// The earliest and latest period ordinals of the rows so far.
    bounds: Option<(i32, i32)>,
    dims: Option<Vec<String>>,
    segments: HashMap<SegmentKey, u32>,
    segment_order: Vec<SegmentKey>,
    diagnostics: Vec<Diagnostic>,
    suppressed: usize,
}

fn widen(bounds: Option<(i32, i32)>, other: Option<(i32, i32)>) -> Option<(i32, i32)> {
    match (bounds, other) {
        (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
        (x, None) | (None, x) => x,
    }
}

impl<'t> DataBuilder<'t> {
    /// A builder for `tree`'s leaves.
    pub fn new(tree: &'t MetricTree) -> DataBuilder<'t> {
        DataBuilder {
            tree,
            batches: Vec::new(),
            bounds: None,
            dims: None,
            segments: HashMap::new(),
            segment_order: Vec::new(),
            diagnostics: Vec::new(),
            suppressed: 0,
        }
    }

    /// The grain of the tree's periods.
    pub fn grain(&self) -> canopy_engine::Grain {
        self.tree.grain()
    }

    /// Reports a problem found in a source other than CSV, with the rest of the data's.
    pub fn add_problem(&mut self, diagnostic: Diagnostic) {
        self.report(diagnostic);
    }

    /// Whether any problem has been found so far.
    pub fn has_problems(&self) -> bool {
        !self.diagnostics.is_empty()
    }

    /// The newest period of the rows read so far.
    pub fn last_period(&self) -> Option<Period> {
        let (_, last) = self.bounds?;
        Some(Period::from_ordinal(self.tree.grain(), last))
    }

    fn report(&mut self, diagnostic: Diagnostic) {
        if self.diagnostics.len() < MAX_DIAGNOSTICS {
            self.diagnostics.push(diagnostic);
        } else {
            self.suppressed += 1;
        }
    }

    fn report_problem(&mut self, path: &Arc<Path>, lines_before: u32, p: &Problem) {
        let location = Location {
            path: path.clone(),
            span: Span::new(lines_before + p.line, p.col, p.len),
        };
        let d = Diagnostic::error(location, p.message.clone());
        self.report(match &p.help {
            Some(help) => d.with_help(help.clone()),
            None => d,
        });
    }

    /// The slot of a segment with dimensions `dims` and values `values`, fixing the data's
    /// dimensions on first use. `Err` names the mismatch.
    fn slot(&mut self, dims: &[String], values: SegmentKey) -> Result<u32, String> {
        if values.iter().all(String::is_empty) {
            return Ok(0);
        }
        match &self.dims {
            None => self.dims = Some(dims.to_vec()),
            Some(known) if known != dims => {
                return Err(format!(
                    "segment dimensions ({}) differ from earlier data ({})",
                    dims.join(", "),
                    known.join(", ")
                ))
            }
            Some(_) => {}
        }
        // Partly empty keys never get here: CSV files reject them, SQL keys have one value.
        let next = self.segment_order.len() as u32 + 1;
        let slot = *self.segments.entry(values.clone()).or_insert_with(|| next);
        if slot == next {
            self.segment_order.push(values);
        }
        Ok(slot)
    }

    /// Adds the rows of a data file that are for this builder's tree: every row when the
    /// file does not say which tree a row is for, else those whose tree is this one.
    pub fn add_table(&mut self, table: &Arc<Table>) {
        let path = table.path.clone();
        for (c, chunk) in table.chunks.iter().enumerate() {
            for p in &chunk.unplaced.list {
                self.report_problem(&path, chunk.lines_before, p);
            }
            self.suppressed += chunk.unplaced.suppressed;
            let tree_id = self.tree.id().as_bytes();
            let Some(g) = chunk
                .groups
                .iter()
                .position(|g| !table.by_tree || *g.tree == *tree_id)
            else {
                continue;
            };
            let group = &chunk.groups[g];
            for p in &group.problems.list {
                self.report_problem(&path, chunk.lines_before, p);
            }
            self.suppressed += group.problems.suppressed;
            let mut slots = vec![0];
            for key in &group.keys {
                match self.slot(&table.dimensions, key.clone()) {
                    Ok(slot) => slots.push(slot),
                    Err(message) => {
                        let at = Location {
                            path: path.clone(),
                            span: Span::new(1, 1, 1),
                        };
                        let help =
                            "every data source of a tree has the same segment columns (or none)";
                        self.report(Diagnostic::error(at, message).with_help(help));
                        return;
                    }
                }
            }
            let grain = self.tree.grain();
            let metrics: Vec<_> = group
                .names
                .iter()
                .map(|name| metric_for_data(self.tree, &String::from_utf8_lossy(name)))
                .collect();
            let ordinals: Vec<_> = group
                .periods
                .iter()
                .map(|text| parse_period(text, grain).map(Period::ordinal))
                .collect();
            let known = ordinals.iter().filter_map(|o| o.as_ref().ok());
            let bounds = known.fold(None, |b, &o| widen(b, Some((o, o))));
            self.bounds = widen(self.bounds, bounds);
            if metrics.iter().any(Result::is_err) || ordinals.iter().any(Result::is_err) {
                self.unresolved(table, c, g, &metrics, &ordinals);
            }
            self.batches.push(Batch::File {
                table: table.clone(),
                chunk: c,
                group: g,
                metrics: metrics.into_iter().map(Result::ok).collect(),
                ordinals: ordinals.into_iter().map(Result::ok).collect(),
                slots,
            });
        }
    }

    /// Reports every row of a group whose metric or period does not resolve, at its field.
    fn unresolved(
        &mut self,
        table: &Table,
        chunk: usize,
        group: usize,
        metrics: &[Result<MetricId, (String, String)>],
        ordinals: &[Result<i32, String>],
    ) {
        let chunk = &table.chunks[chunk];
        let mut found = Vec::new();
        for r in &chunk.groups[group].rows {
            if let Err((message, help)) = &metrics[r.name as usize] {
                found.push((r.line, Field::Metric, message.clone(), Some(help.clone())));
            } else if let Err(message) = &ordinals[r.period as usize] {
                let grain = self.tree.grain();
                let help = format!(
                    "write periods of the tree's grain, {grain}: {}",
                    Period::form(grain)
                );
                found.push((r.line, Field::Period, message.clone(), Some(help)));
            }
            if found.len() > MAX_DIAGNOSTICS {
                break;
            }
        }
        let total = chunk.groups[group]
            .rows
            .iter()
            .filter(|r| metrics[r.name as usize].is_err() || ordinals[r.period as usize].is_err())
            .count();
        let at: Vec<(u32, Field)> = found
            .iter()
            .map(|f| (chunk.lines_before + f.0, f.1))
            .collect();
        let spans = table.fields.find(&at);
        for ((line, _, message, help), (col, len)) in found.into_iter().zip(spans) {
            let p = Problem {
                line,
                col,
                len,
                message,
                help,
            };
            self.report_problem(&table.path, chunk.lines_before, &p);
        }
        self.suppressed += total.saturating_sub(at.len());
    }

    /// Adds values of the leaf `metric` in `period` from a source other than CSV (a
    /// database): `(segment, value)` per row, where the segment is the row's value of each of
    /// the dimensions `dims`, or empty (with no `dims`) for the total. Problems are reported with the
    /// metric's location, like every other data problem, when [`DataBuilder::finish`] is
    /// called.
    pub fn add_values(
        &mut self,
        metric: MetricId,
        period: Period,
        dims: &[String],
        values: Vec<(Vec<String>, f64)>,
    ) {
        let mut rows = Vec::with_capacity(values.len());
        for (segment, value) in values {
            let slot = match dims.is_empty() {
                false => match self.slot(dims, segment) {
                    Ok(slot) => slot,
                    Err(message) => {
                        let location = self.tree.metric(metric).location.clone();
                        let id = &self.tree.metric(metric).id;
                        let help =
                            "every data source of a tree has the same segment columns (or none)";
                        self.report(
                            Diagnostic::error(location, format!("SQL source of `{id}`: {message}"))
                                .with_help(help),
                        );
                        continue;
                    }
                },
                true => 0,
            };
            rows.push(Row {
                metric,
                ordinal: period.ordinal(),
                slot,
                line: 0,
                value,
            });
        }
        if !rows.is_empty() {
            self.bounds = widen(self.bounds, Some((period.ordinal(), period.ordinal())));
        }
        self.batches.push(Batch::Sql { metric, rows });
    }

    /// Lays the rows out densely, reporting duplicates. Totals not given explicitly are the
    /// sums of the segments present.
    pub fn finish(mut self) -> Result<Data, Error> {
        if let Some((a, b)) = self.bounds.filter(|(a, b)| b - a >= MAX_SPAN) {
            // Every row resolves unless a problem was found; only then can the outlier be named.
            if self.diagnostics.is_empty() {
                let d = self.outlier(a, b);
                self.report(d);
            }
            return Err(self.failure());
        }
        let metrics = self.tree.len();
        let first = self.bounds.map(|(a, _)| a);
        let len = self.bounds.map_or(0, |(a, b)| (b - a) as usize + 1);
        let slot_count = self.segment_order.len() + 1;
        let mut slots = vec![vec![f64::NAN; metrics * len]; slot_count];
        let batches = std::mem::take(&mut self.batches);
        let cell_of = |row: &Row| {
            row.metric.index() * len + (row.ordinal - first.expect("rows exist")) as usize
        };
        let mut duplicates = Vec::new();
        for (b, batch) in batches.iter().enumerate() {
            batch.each_row(|row| {
                // Data values are finite, so NaN marks a cell no row has filled yet.
                let cell = &mut slots[row.slot as usize][cell_of(&row)];
                if cell.is_nan() {
                    *cell = row.value;
                } else {
                    duplicates.push((b, row));
                }
                ControlFlow::Continue(())
            });
        }
        self.duplicates(&batches, &duplicates, |row| (row.slot, cell_of(row)));
        if !self.diagnostics.is_empty() {
            return Err(self.failure());
        }
        let (total, segments) = slots.split_first_mut().expect("slot 0 exists");
        if !segments.is_empty() {
            for (cell, t) in total.iter_mut().enumerate() {
                if t.is_nan() {
                    let present = segments.iter().map(|s| s[cell]).filter(|v| !v.is_nan());
                    *t = present.fold(f64::NAN, |acc, v| if acc.is_nan() { v } else { acc + v });
                }
            }
        }
        Ok(Data {
            first: first.map(|o| Period::from_ordinal(self.tree.grain(), o)),
            len,
            dims: self.dims.unwrap_or_default(),
            segments: self.segment_order,
            slots,
            metrics,
            slice: Slice::default(),
        })
    }

    /// Every problem found, sorted, with a count of those not listed.
    fn failure(mut self) -> Error {
        canopy_engine::sort_diagnostics(&mut self.diagnostics);
        if self.suppressed > 0 {
            let last = self.diagnostics.last().expect("not empty").location.clone();
            self.diagnostics.push(
                Diagnostic::error(
                    last,
                    format!("... and {} more problems like these", self.suppressed),
                )
                .with_help("fix the problems listed, then check again for the rest"),
            );
        }
        Error::Data {
            diagnostics: self.diagnostics,
        }
    }

    /// Reports rows that give a cell a second value, naming the row that gave it first. The
    /// first rows of the duplicated cells are found in one pass, by hashing; only as many as
    /// are reported are looked for.
    fn duplicates(
        &mut self,
        batches: &[Batch],
        duplicates: &[(usize, Row)],
        cell_of: impl Fn(&Row) -> (u32, usize),
    ) {
        if duplicates.is_empty() {
            return;
        }
        let room = MAX_DIAGNOSTICS.saturating_sub(self.diagnostics.len());
        let (listed, rest) = duplicates.split_at(duplicates.len().min(room));
        self.suppressed += rest.len();
        let mut first: HashMap<(u32, usize), Option<(usize, Row)>> =
            listed.iter().map(|(_, row)| (cell_of(row), None)).collect();
        for (b, batch) in batches.iter().enumerate() {
            batch.each_row(|r| {
                if let Some(slot @ None) = first.get_mut(&cell_of(&r)) {
                    *slot = Some((b, r));
                }
                ControlFlow::Continue(())
            });
        }
        for &(b, row) in listed {
            let (fb, earlier) =
                first[&cell_of(&row)].expect("the cell was filled by an earlier row");
            let d = self.duplicate((&batches[b], row), (&batches[fb], earlier));
            self.report(d);
        }
    }

    /// The row whose period lies furthest from the rest of the data, when the data spans
    /// `first..=last`, more than [`MAX_SPAN`] periods.
    fn outlier(&self, first: i32, last: i32) -> Diagnostic {
        let mut ordinals = Vec::new();
        for batch in &self.batches {
            batch.each_row(|r| {
                ordinals.push(r.ordinal);
                ControlFlow::Continue(())
            });
        }
        ordinals.sort_unstable();
        let median = ordinals[ordinals.len() / 2];
        let far = if median - first > last - median {
            first
        } else {
            last
        };
        let mut at = None;
        for batch in &self.batches {
            batch.each_row(|r| {
                if r.ordinal == far {
                    at = Some(self.location(batch, &r));
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            });
            if at.is_some() {
                break;
            }
        }
        let grain = self.tree.grain();
        let (p, typical) = (
            Period::from_ordinal(grain, far),
            Period::from_ordinal(grain, median),
        );
        Diagnostic::error(
            at.expect("a row has the outlying period"),
            format!(
                "{p} is {} periods from the rest of the data (around {typical}); data may span at most {MAX_SPAN} periods",
                (far - median).abs()
            ),
        )
        .with_help("check the year of this row's period")
    }

    /// Where a row was read: its line, or the leaf of its SQL source.
    fn location(&self, batch: &Batch, row: &Row) -> Location {
        match batch {
            Batch::File { table, .. } => Location {
                path: table.path.clone(),
                span: Span::new(row.line, 1, 1),
            },
            Batch::Sql { metric, .. } => self.tree.metric(*metric).location.clone(),
        }
    }

    fn duplicate(
        &self,
        (batch, row): (&Batch, Row),
        (first_batch, first): (&Batch, Row),
    ) -> Diagnostic {
        let name = &self.tree.metric(row.metric).id;
        let describe = |batch: &Batch, r: &Row| match batch {
            Batch::File { table, .. } => format!("{}:{}", table.path.display(), r.line),
            Batch::Sql { metric, .. } => {
                format!("the SQL source of `{}`", self.tree.metric(*metric).id)
            }
        };
        let here = self.location(batch, &row);
        let segment = match row.slot {
            0 => String::new(),
            s => format!(" segment {}", self.segment_order[s as usize - 1].join("/")),
        };
        let period = Period::from_ordinal(self.tree.grain(), row.ordinal);
        Diagnostic::error(
            here,
            format!(
                "a second value for `{name}`{segment} in {period} (the first is at {})",
                describe(first_batch, &first)
            ),
        )
        .with_help("each (period, metric, segment) has one value; remove one of them")
    }
}

/// The leaf called `name`, or why data cannot be given for it.
fn metric_for_data(tree: &MetricTree, name: &str) -> Result<MetricId, (String, String)> {
    let Some(id) = tree.find(name) else {
        let names = tree.ids().map(|id| tree.metric(id).id.as_str());
        let message = match canopy_engine::did_you_mean(name, names) {
            Some(s) => format!("unknown metric `{name}` (did you mean `{s}`?)"),
            None => format!("unknown metric `{name}` in tree `{}`", tree.id()),
        };
        let help = "data rows name leaf metrics of the tree; add a `tree` column to share one file between trees".to_string();
        return Err((message, help));
    };
    if let Some(formula) = &tree.metric(id).formula {
        return Err((
            format!(
                "`{name}` is derived (`{}`), so it cannot be given as data",
                formula.text()
            ),
            "give values for its inputs; Canopy computes derived metrics".to_string(),
        ));
    }
    Ok(id)
}

fn parse_period(raw: &[u8], grain: canopy_engine::Grain) -> Result<Period, String> {
    Period::parse_for(&String::from_utf8_lossy(raw), grain)
}
