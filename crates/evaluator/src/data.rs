//! Leaf values by period and segment, gathered from CSV files and SQL sources.
//!
//! Rows are collected first and laid out densely at the end, one `f64` per (metric, period)
//! for the total and for each segment, with NaN standing for "no data" (data itself is always
//! finite: anything else is rejected when read).

use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::path::Path;
use std::sync::Arc;

use canopy_engine::{Diagnostic, Location, MetricId, MetricTree, Span};

use crate::period::Period;
use crate::Error;

/// Most problems reported for one data file before the rest are only counted.
const MAX_DIAGNOSTICS: usize = 50;

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

    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn metric_count(&self) -> usize {
        self.metrics
    }
}

/// One value read from a source, with where it was read for error messages. Kept small:
/// a large CSV has a row per value.
struct Row {
    metric: MetricId,
    period: Period,
    /// 0 for a total, `s + 1` for segment `s`.
    slot: u32,
    /// Index into the builder's sources, and the line there (0 for SQL).
    source: u32,
    line: u32,
    value: f64,
}

/// Where rows came from: a CSV file, or a leaf's SQL source.
enum Origin {
    Csv { path: Arc<Path> },
    Sql { metric: MetricId },
}

/// Collects leaf values for one tree from any number of sources, then lays them out.
pub struct DataBuilder<'t> {
    tree: &'t MetricTree,
    rows: Vec<Row>,
    origins: Vec<Origin>,
    dims: Option<Vec<String>>,
    segments: HashMap<SegmentKey, u32>,
    segment_order: Vec<SegmentKey>,
    diagnostics: Vec<Diagnostic>,
    suppressed: usize,
}

impl<'t> DataBuilder<'t> {
    /// A builder for `tree`'s leaves.
    pub fn new(tree: &'t MetricTree) -> DataBuilder<'t> {
        DataBuilder {
            tree,
            rows: Vec::new(),
            origins: Vec::new(),
            dims: None,
            segments: HashMap::new(),
            segment_order: Vec::new(),
            diagnostics: Vec::new(),
            suppressed: 0,
        }
    }

    /// Whether any problem has been found so far.
    pub fn has_problems(&self) -> bool {
        !self.diagnostics.is_empty()
    }

    /// The newest period of the rows read so far.
    pub fn last_period(&self) -> Option<Period> {
        self.rows.iter().map(|r| r.period).max()
    }

    fn report(&mut self, diagnostic: Diagnostic) {
        if self.diagnostics.len() < MAX_DIAGNOSTICS {
            self.diagnostics.push(diagnostic);
        } else {
            self.suppressed += 1;
        }
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
        // Partly empty keys never get here: CSV chunks reject them, SQL keys have one value.
        let next = self.segment_order.len() as u32 + 1;
        let slot = *self.segments.entry(values.clone()).or_insert_with(|| next);
        if slot == next {
            self.segment_order.push(values);
        }
        Ok(slot)
    }

    /// Reads long-form CSV: a header with `period`, `metric` and `value` (in any order), an
    /// optional `tree` column (rows for other trees are skipped), and any further columns as
    /// segment dimensions. Large files are parsed in chunks on every core.
    pub fn read_csv(&mut self, path: &Path, bytes: &[u8]) {
        let path: Arc<Path> = Arc::from(path);
        let header_end = bytes
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| i + 1);
        let columns = match Columns::read(&bytes[..header_end]) {
            Ok(c) => c,
            Err((message, help)) => {
                let at = Location {
                    path: path.clone(),
                    span: Span::new(1, 1, 1),
                };
                self.report(Diagnostic::error(at, message).with_help(help));
                return;
            }
        };
        self.origins.push(Origin::Csv { path: path.clone() });
        let parser = ChunkParser {
            tree: self.tree,
            columns: &columns,
            path: &path,
            source: self.origins.len() as u32 - 1,
        };
        let chunks = split_lines(&bytes[header_end..]);
        let parsed: Vec<Chunk> = if chunks.len() == 1 {
            vec![parser.parse(chunks[0])]
        } else {
            std::thread::scope(|scope| {
                let workers: Vec<_> = chunks
                    .iter()
                    .map(|c| scope.spawn(|| parser.parse(c)))
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().expect("a CSV worker panicked"))
                    .collect()
            })
        };
        // Line numbers were counted within each chunk; the header is line 1.
        let mut lines_before = 1u32;
        for chunk in parsed {
            let slots: Result<Vec<u32>, String> = chunk
                .keys
                .into_iter()
                .map(|k| self.slot(&columns.dim_names, k))
                .collect();
            let slots = match slots {
                Ok(s) => s,
                Err(message) => {
                    let at = Location {
                        path: path.clone(),
                        span: Span::new(1, 1, 1),
                    };
                    self.report(Diagnostic::error(at, message));
                    return;
                }
            };
            for mut d in chunk.diagnostics {
                d.location.span.line += lines_before;
                self.report(d);
            }
            self.suppressed += chunk.suppressed;
            self.rows.extend(chunk.rows.into_iter().map(|mut r| {
                r.line += lines_before;
                r.slot = if r.slot == 0 {
                    0
                } else {
                    slots[r.slot as usize - 1]
                };
                r
            }));
            lines_before += chunk.lines;
        }
    }

    /// Values a leaf's SQL source returned: `(segment, value)` per row, the segment `None` for
    /// a one-column result.
    pub(crate) fn add_sql(
        &mut self,
        metric: MetricId,
        period: Period,
        dim: Option<&str>,
        values: Vec<(Option<String>, f64)>,
    ) {
        self.origins.push(Origin::Sql { metric });
        let source = self.origins.len() as u32 - 1;
        for (segment, value) in values {
            let slot = match (dim, segment) {
                (Some(d), Some(s)) => match self.slot(&[d.to_string()], vec![s]) {
                    Ok(slot) => slot,
                    Err(message) => {
                        let location = self.tree.metric(metric).location.clone();
                        self.report(Diagnostic::error(
                            location,
                            format!("SQL source of `{}`: {message}", self.tree.metric(metric).id),
                        ));
                        continue;
                    }
                },
                _ => 0,
            };
            self.rows.push(Row {
                metric,
                period,
                slot,
                source,
                line: 0,
                value,
            });
        }
    }

    /// Lays the rows out densely, reporting duplicates. Totals not given explicitly are the
    /// sums of the segments present.
    pub fn finish(mut self) -> Result<Data, Error> {
        let metrics = self.tree.len();
        let first = self.rows.iter().map(|r| r.period).min();
        let len = match (first, self.rows.iter().map(|r| r.period).max()) {
            (Some(a), Some(b)) => b.since(a) as usize + 1,
            _ => 0,
        };
        let slot_count = self.segment_order.len() + 1;
        let mut slots = vec![vec![f64::NAN; metrics * len]; slot_count];
        let rows = std::mem::take(&mut self.rows);
        let cell_of = |row: &Row| {
            row.metric.index() * len + row.period.since(first.expect("rows exist")) as usize
        };
        let mut duplicates = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            // Data values are finite, so NaN marks a cell no row has filled yet.
            let cell = &mut slots[row.slot as usize][cell_of(row)];
            if cell.is_nan() {
                *cell = row.value;
            } else {
                duplicates.push(index);
            }
        }
        for index in duplicates {
            // Rare: find the row that came first for the same cell, to name both.
            let row = &rows[index];
            let first = rows
                .iter()
                .find(|r| r.slot == row.slot && cell_of(r) == cell_of(row))
                .expect("the cell was filled by an earlier row");
            let d = self.duplicate(row, first);
            self.report(d);
        }
        if !self.diagnostics.is_empty() {
            canopy_engine::sort_diagnostics(&mut self.diagnostics);
            if self.suppressed > 0 {
                let last = self.diagnostics.last().expect("not empty").location.clone();
                self.diagnostics.push(Diagnostic::error(
                    last,
                    format!("... and {} more problems like these", self.suppressed),
                ));
            }
            return Err(Error::Data {
                diagnostics: self.diagnostics,
            });
        }
        let (total, segments) = slots.split_first_mut().expect("slot 0 exists");
        for (cell, t) in total.iter_mut().enumerate() {
            if t.is_nan() {
                let present = segments.iter().map(|s| s[cell]).filter(|v| !v.is_nan());
                *t = present.fold(f64::NAN, |acc, v| if acc.is_nan() { v } else { acc + v });
            }
        }
        Ok(Data {
            first,
            len,
            dims: self.dims.unwrap_or_default(),
            segments: self.segment_order,
            slots,
            metrics,
        })
    }

    fn duplicate(&self, row: &Row, first: &Row) -> Diagnostic {
        let name = &self.tree.metric(row.metric).id;
        let describe = |r: &Row| match &self.origins[r.source as usize] {
            Origin::Csv { path } => format!("{}:{}", path.display(), r.line),
            Origin::Sql { metric } => {
                format!("the SQL source of `{}`", self.tree.metric(*metric).id)
            }
        };
        let here = match &self.origins[row.source as usize] {
            Origin::Csv { path } => Location {
                path: path.clone(),
                span: Span::new(row.line, 1, 1),
            },
            Origin::Sql { metric } => self.tree.metric(*metric).location.clone(),
        };
        let segment = match row.slot {
            0 => String::new(),
            s => format!(" segment {}", self.segment_order[s as usize - 1].join("/")),
        };
        Diagnostic::error(
            here,
            format!(
                "a second value for `{name}`{segment} in {} (the first is at {})",
                row.period,
                describe(first)
            ),
        )
        .with_help("each (period, metric, segment) has one value; remove one of them")
    }
}

/// The columns of a CSV file, from its header.
struct Columns {
    period: usize,
    metric: usize,
    value: usize,
    tree: Option<usize>,
    dims: Vec<usize>,
    dim_names: Vec<String>,
}

impl Columns {
    fn read(header: &[u8]) -> Result<Columns, (String, String)> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(header);
        let mut record = csv::ByteRecord::new();
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => {
                return Err((
                    "the CSV file is empty".into(),
                    "start it with the header `period,metric,value`".into(),
                ))
            }
            Err(e) => {
                return Err((
                    format!("cannot read CSV: {e}"),
                    "write long-form data: period,metric,value[,segment columns...]".into(),
                ))
            }
        }
        let names: Vec<String> = record
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_string())
            .collect();
        let find = |n: &str| names.iter().position(|h| h == n);
        let (Some(period), Some(metric), Some(value)) =
            (find("period"), find("metric"), find("value"))
        else {
            return Err((
                format!(
                    "the CSV header is `{}`; it needs `period`, `metric` and `value` columns",
                    names.join(",")
                ),
                "write long-form data: period,metric,value[,segment columns...]".into(),
            ));
        };
        let tree = find("tree");
        let dims: Vec<usize> = (0..names.len())
            .filter(|&i| ![Some(period), Some(metric), Some(value), tree].contains(&Some(i)))
            .collect();
        let dim_names = dims.iter().map(|&i| names[i].clone()).collect();
        Ok(Columns {
            period,
            metric,
            value,
            tree,
            dims,
            dim_names,
        })
    }
}

/// Splits a CSV body into about one chunk per core, at line ends. A body with quotes is
/// kept whole, since a quoted field may hold a line break.
fn split_lines(body: &[u8]) -> Vec<&[u8]> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads == 1 || body.len() < 1 << 20 || body.contains(&b'"') {
        return vec![body];
    }
    let mut chunks = Vec::with_capacity(threads);
    let mut rest = body;
    for k in (1..threads).rev() {
        let target = rest.len() / (k + 1);
        let Some(nl) = rest[target..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let (head, tail) = rest.split_at(target + nl + 1);
        chunks.push(head);
        rest = tail;
    }
    chunks.push(rest);
    chunks
}

/// Rows, problems and segment keys of one chunk, with line numbers counted from 1 at the
/// chunk's first line and segments numbered locally.
struct Chunk {
    rows: Vec<Row>,
    diagnostics: Vec<Diagnostic>,
    suppressed: usize,
    keys: Vec<SegmentKey>,
    lines: u32,
}

struct ChunkParser<'a> {
    tree: &'a MetricTree,
    columns: &'a Columns,
    path: &'a Arc<Path>,
    source: u32,
}

/// What reading rows remembers from one row to the next.
#[derive(Default)]
struct Caches {
    /// Every row names a period; a fast hash matters at millions of rows.
    periods: FxHashMap<Vec<u8>, Result<Period, String>>,
    /// Rows come grouped by metric in practice, so the last one is remembered.
    last_metric: Option<(Vec<u8>, MetricId)>,
    /// Segment keys, numbered locally from 1 in order of first appearance.
    keys: HashMap<SegmentKey, u32>,
}

impl ChunkParser<'_> {
    fn parse(&self, bytes: &[u8]) -> Chunk {
        let mut chunk = Chunk {
            rows: Vec::with_capacity(bytes.len() / 24),
            diagnostics: Vec::new(),
            suppressed: 0,
            keys: Vec::new(),
            lines: bytes.iter().filter(|&&b| b == b'\n').count() as u32,
        };
        let mut caches = Caches::default();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(false)
            .from_reader(bytes);
        let mut record = csv::ByteRecord::new();
        loop {
            let outcome = match reader.read_byte_record(&mut record) {
                Ok(false) => break,
                Ok(true) => self.row(&record, &mut caches, &mut chunk.keys),
                Err(e) => {
                    let line = e.position().map_or(1, |p| p.line());
                    Err(Diagnostic::error(
                        self.at(line, 1, 1),
                        format!("cannot read CSV: {e}"),
                    ))
                }
            };
            match outcome {
                Ok(Some(row)) => chunk.rows.push(row),
                Ok(None) => {}
                Err(d) if chunk.diagnostics.len() < MAX_DIAGNOSTICS => chunk.diagnostics.push(d),
                Err(_) => chunk.suppressed += 1,
            }
        }
        chunk
    }

    fn at(&self, line: u64, col: usize, len: usize) -> Location {
        Location {
            path: self.path.clone(),
            span: Span::new(line as u32, col as u32, len as u32),
        }
    }

    /// One record as a row; `None` for a row of another tree.
    fn row(
        &self,
        record: &csv::ByteRecord,
        caches: &mut Caches,
        keys: &mut Vec<SegmentKey>,
    ) -> Result<Option<Row>, Diagnostic> {
        let c = self.columns;
        let line = record.position().map_or(0, |p| p.line());
        // Columns are counted in characters from the start of the line, assuming no quotes.
        let col = |i: usize| 1 + (0..i).map(|j| record[j].len() + 1).sum::<usize>();
        if c.tree
            .is_some_and(|t| &record[t] != self.tree.id().as_bytes())
        {
            return Ok(None);
        }
        let metric = match &caches.last_metric {
            Some((name, id)) if name.as_slice() == &record[c.metric] => *id,
            _ => {
                let name = String::from_utf8_lossy(&record[c.metric]).into_owned();
                let id = metric_for_data(self.tree, &name).map_err(|(message, help)| {
                    Diagnostic::error(self.at(line, col(c.metric), name.len()), message)
                        .with_help(help)
                })?;
                caches.last_metric = Some((record[c.metric].to_vec(), id));
                id
            }
        };
        let text = &record[c.period];
        let grain = self.tree.grain();
        let period = match caches.periods.get(text) {
            Some(p) => p.clone(),
            None => caches
                .periods
                .entry(text.to_vec())
                .or_insert_with(|| parse_period(text, grain))
                .clone(),
        };
        let period = period.map_err(|message| {
            Diagnostic::error(self.at(line, col(c.period), text.len()), message)
        })?;
        let raw = &record[c.value];
        let value = value_of(raw).map_err(|(message, help)| {
            Diagnostic::error(self.at(line, col(c.value), raw.len()), message).with_help(help)
        })?;
        let slot = self
            .slot(record, caches, keys)
            .map_err(|message| Diagnostic::error(self.at(line, col(c.dims[0]), 1), message))?;
        Ok(Some(Row {
            metric,
            period,
            slot,
            source: self.source,
            line: line as u32,
            value,
        }))
    }

    /// The record's segment slot: 0 for a total, else its local number.
    fn slot(
        &self,
        record: &csv::ByteRecord,
        caches: &mut Caches,
        keys: &mut Vec<SegmentKey>,
    ) -> Result<u32, String> {
        let c = self.columns;
        if c.dims.is_empty() {
            return Ok(0);
        }
        let key: SegmentKey = c
            .dims
            .iter()
            .map(|&i| String::from_utf8_lossy(&record[i]).trim().to_string())
            .collect();
        if key.iter().all(String::is_empty) {
            return Ok(0);
        }
        if key.iter().any(String::is_empty) {
            return Err(format!(
                "a segment needs a value for every dimension ({}); leave them all empty for a total",
                c.dim_names.join(", ")
            ));
        }
        let next = keys.len() as u32 + 1;
        let slot = *caches.keys.entry(key.clone()).or_insert(next);
        if slot == next {
            keys.push(key);
        }
        Ok(slot)
    }
}

/// A data value: a finite number. Empty is not zero.
fn value_of(raw: &[u8]) -> Result<f64, (String, &'static str)> {
    match std::str::from_utf8(raw)
        .ok()
        .map(str::trim)
        .map(str::parse::<f64>)
    {
        Some(Ok(v)) if v.is_finite() => Ok(v),
        _ => {
            let text = String::from_utf8_lossy(raw);
            Err(if text.trim().is_empty() {
                ("the value is empty".to_string(), "missing data is left out, not written as an empty value (it is never taken as zero)")
            } else {
                (
                    format!("`{text}` is not a finite number"),
                    "values are plain numbers like 1234 or 0.25",
                )
            })
        }
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
    let text = String::from_utf8_lossy(raw);
    let text = text.trim();
    Period::parse(text, grain).map_err(|e| match Period::grain_of(text) {
        Some(other) => format!("`{text}` is a {other}, but the tree's grain is {grain}"),
        None => e.to_string(),
    })
}
