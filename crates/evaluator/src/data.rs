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

/// One value read from a source, with the line it was read from for error messages. Kept
/// small: a large CSV has a row per value.
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

/// Rows from one source, in the order they were read.
struct Batch {
    /// Index into the builder's origins.
    source: u32,
    rows: Vec<Row>,
}

/// Where rows came from: a CSV file, or a leaf's SQL source.
enum Origin {
    Csv { path: Arc<Path> },
    Sql { metric: MetricId },
}

/// Collects leaf values for one tree from any number of sources, then lays them out.
pub struct DataBuilder<'t> {
    tree: &'t MetricTree,
    batches: Vec<Batch>,
    origins: Vec<Origin>,
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
            origins: Vec::new(),
            bounds: None,
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
    /// segment dimensions. A UTF-8 byte order mark is skipped. Large files are parsed in
    /// chunks on every core.
    pub fn read_csv(&mut self, path: &Path, bytes: &[u8]) {
        let path: Arc<Path> = Arc::from(path);
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let header_end = memchr::memchr(b'\n', bytes).map_or(bytes.len(), |i| i + 1);
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
        };
        let body = &bytes[header_end..];
        // A quoted field may hold a line break, so only a body without quotes is split.
        let quoted = memchr::memchr(b'"', body).is_some();
        let chunks = if quoted {
            vec![body]
        } else {
            split_lines(body)
        };
        let parsed: Vec<Chunk> = if chunks.len() == 1 {
            vec![parser.parse(chunks[0], quoted)]
        } else {
            std::thread::scope(|scope| {
                let workers: Vec<_> = chunks
                    .iter()
                    .map(|c| scope.spawn(|| parser.parse(c, false)))
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().expect("a CSV worker panicked"))
                    .collect()
            })
        };
        // Line numbers were counted within each chunk; the header is line 1.
        let source = self.origins.len() as u32 - 1;
        let mut lines_before = 1u32;
        for mut chunk in parsed {
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
            for r in &mut chunk.rows {
                r.line += lines_before;
                if r.slot != 0 {
                    r.slot = slots[r.slot as usize - 1];
                }
            }
            self.bounds = widen(self.bounds, chunk.bounds);
            self.batches.push(Batch {
                source,
                rows: chunk.rows,
            });
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
        let mut rows = Vec::with_capacity(values.len());
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
        self.batches.push(Batch { source, rows });
    }

    /// Lays the rows out densely, reporting duplicates. Totals not given explicitly are the
    /// sums of the segments present.
    pub fn finish(mut self) -> Result<Data, Error> {
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
            for (index, row) in batch.rows.iter().enumerate() {
                // Data values are finite, so NaN marks a cell no row has filled yet.
                let cell = &mut slots[row.slot as usize][cell_of(row)];
                if cell.is_nan() {
                    *cell = row.value;
                } else {
                    duplicates.push((b, index));
                }
            }
        }
        for (b, index) in duplicates {
            // Rare: find the row that came first for the same cell, to name both.
            let row = &batches[b].rows[index];
            let same = |r: &Row| r.slot == row.slot && cell_of(r) == cell_of(row);
            let earlier = batches
                .iter()
                .flat_map(|batch| batch.rows.iter().map(move |r| (batch.source, r)))
                .find(|(_, r)| same(r))
                .expect("the cell was filled by an earlier row");
            let d = self.duplicate((batches[b].source, row), earlier);
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
        })
    }

    fn duplicate(
        &self,
        (source, row): (u32, &Row),
        (first_source, first): (u32, &Row),
    ) -> Diagnostic {
        let name = &self.tree.metric(row.metric).id;
        let describe = |source: u32, r: &Row| match &self.origins[source as usize] {
            Origin::Csv { path } => format!("{}:{}", path.display(), r.line),
            Origin::Sql { metric } => {
                format!("the SQL source of `{}`", self.tree.metric(*metric).id)
            }
        };
        let here = match &self.origins[source as usize] {
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
        let period = Period::from_ordinal(self.tree.grain(), row.ordinal);
        Diagnostic::error(
            here,
            format!(
                "a second value for `{name}`{segment} in {period} (the first is at {})",
                describe(first_source, first)
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
    /// How many columns the header has; every row must have as many.
    count: usize,
    /// The header as written, for messages.
    header: String,
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
        let header = names.join(",");
        let (Some(period), Some(metric), Some(value)) =
            (find("period"), find("metric"), find("value"))
        else {
            return Err((
                format!(
                    "the CSV header is `{header}`; it needs `period`, `metric` and `value` columns"
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
            count: names.len(),
            header,
        })
    }
}

/// Splits a CSV body without quotes into about one chunk per core, at line ends.
fn split_lines(body: &[u8]) -> Vec<&[u8]> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads == 1 || body.len() < 1 << 20 {
        return vec![body];
    }
    let mut chunks = Vec::with_capacity(threads);
    let mut rest = body;
    for k in (1..threads).rev() {
        let target = rest.len() / (k + 1);
        let Some(nl) = memchr::memchr(b'\n', &rest[target..]) else {
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
    bounds: Option<(i32, i32)>,
    diagnostics: Vec<Diagnostic>,
    suppressed: usize,
    keys: Vec<SegmentKey>,
    lines: u32,
}

/// A problem with a row, at a column and length within its line.
struct Problem {
    col: usize,
    len: usize,
    message: String,
    help: Option<String>,
}

impl Problem {
    fn with_help(self, help: impl Into<String>) -> Problem {
        Problem {
            help: Some(help.into()),
            ..self
        }
    }

    /// The diagnostic, once the file and line are known.
    fn on_line(self, path: &Arc<Path>, line: u32) -> Diagnostic {
        let location = Location {
            path: path.clone(),
            span: Span::new(line, self.col as u32, self.len as u32),
        };
        let d = Diagnostic::error(location, self.message);
        match self.help {
            Some(help) => d.with_help(help),
            None => d,
        }
    }
}

struct ChunkParser<'a> {
    tree: &'a MetricTree,
    columns: &'a Columns,
    path: &'a Arc<Path>,
}

/// What reading rows remembers from one row to the next. Looking up a name as written
/// costs no allocation; only the first sight of each does.
#[derive(Default)]
struct Caches {
    /// Every row names a metric and a period; a fast hash matters at millions of rows.
    metrics: FxHashMap<Box<[u8]>, MetricId>,
    periods: FxHashMap<Box<[u8]>, Result<i32, String>>,
    /// Segment keys as written (see `key`), to their local numbers (from 1, in order of
    /// first appearance).
    keys: FxHashMap<Box<[u8]>, u32>,
    /// The current row's segment values, each preceded by its length, reused from row to row.
    key: Vec<u8>,
}

impl ChunkParser<'_> {
    /// Parses `bytes`, a whole number of lines: by the `csv` crate when it has `quoted`
    /// fields, else by splitting at line ends and commas, which is several times faster.
    fn parse(&self, bytes: &[u8], quoted: bool) -> Chunk {
        let mut chunk = Chunk {
            rows: Vec::with_capacity(bytes.len() / 32),
            bounds: None,
            diagnostics: Vec::new(),
            suppressed: 0,
            keys: Vec::new(),
            lines: 0,
        };
        let mut caches = Caches::default();
        let (mut lo, mut hi) = (i32::MAX, i32::MIN);
        let mut keep = |chunk: &mut Chunk, outcome: Result<Option<Row>, Diagnostic>| match outcome {
            Ok(Some(row)) => {
                lo = lo.min(row.ordinal);
                hi = hi.max(row.ordinal);
                chunk.rows.push(row);
            }
            Ok(None) => {}
            Err(d) if chunk.diagnostics.len() < MAX_DIAGNOSTICS => chunk.diagnostics.push(d),
            Err(_) => chunk.suppressed += 1,
        };
        if quoted {
            chunk.lines = memchr::memchr_iter(b'\n', bytes).count() as u32;
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes);
            let mut record = csv::ByteRecord::new();
            loop {
                let outcome = match reader.read_byte_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {
                        let line = record.position().map_or(0, |p| p.line()) as u32;
                        let fields: Vec<&[u8]> = record.iter().collect();
                        // Columns are not counted exactly past a quoted field.
                        self.row(&fields, line, &mut caches, &mut chunk.keys)
                            .map_err(|p| p.on_line(self.path, line))
                    }
                    Err(e) => {
                        let line = e.position().map_or(1, |p| p.line()) as u32;
                        Err(Problem {
                            col: 1,
                            len: 1,
                            message: format!("cannot read CSV: {e}"),
                            help: None,
                        }
                        .on_line(self.path, line))
                    }
                };
                keep(&mut chunk, outcome);
            }
        } else {
            let mut fields: Vec<&[u8]> = Vec::with_capacity(self.columns.count);
            let mut start = 0;
            let mut line = 0u32;
            while start < bytes.len() {
                let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
                let text = &bytes[start..end];
                start = end + 1;
                line += 1;
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                if text.is_empty() {
                    continue;
                }
                fields.clear();
                fields.extend(text.split(|&b| b == b','));
                let outcome = self
                    .row(&fields, line, &mut caches, &mut chunk.keys)
                    .map_err(|p| p.on_line(self.path, line));
                keep(&mut chunk, outcome);
            }
            chunk.lines = line;
        }
        if lo <= hi {
            chunk.bounds = Some((lo, hi));
        }
        chunk
    }

    /// One record as a row; `None` for a row of another tree. `line` is only recorded: a
    /// problem says where it is within the row.
    fn row(
        &self,
        fields: &[&[u8]],
        line: u32,
        caches: &mut Caches,
        keys: &mut Vec<SegmentKey>,
    ) -> Result<Option<Row>, Problem> {
        let c = self.columns;
        // Columns are counted in characters from the start of the line, assuming no quotes.
        let at = |i: usize, message: String| Problem {
            col: 1 + fields[..i].iter().map(|f| f.len() + 1).sum::<usize>(),
            len: fields[i].len(),
            message,
            help: None,
        };
        if fields.len() != c.count {
            let count = fields.len();
            return Err(Problem {
                col: 1,
                len: 1,
                message: format!(
                    "this row has {count} field{}, but the header `{}` has {}",
                    if count == 1 { "" } else { "s" },
                    c.header,
                    c.count
                ),
                help: Some("every row needs a value for each column of the header (leave the segment columns empty for a total)".into()),
            });
        }
        if c.tree
            .is_some_and(|t| fields[t] != self.tree.id().as_bytes())
        {
            return Ok(None);
        }
        let name = fields[c.metric];
        let metric = match caches.metrics.get(name) {
            Some(&id) => id,
            None => match metric_for_data(self.tree, &String::from_utf8_lossy(name)) {
                Ok(id) => {
                    caches.metrics.insert(name.into(), id);
                    id
                }
                Err((message, help)) => return Err(at(c.metric, message).with_help(help)),
            },
        };
        let text = fields[c.period];
        if !caches.periods.contains_key(text) {
            let parsed = parse_period(text, self.tree.grain()).map(Period::ordinal);
            caches.periods.insert(text.into(), parsed);
        }
        let ordinal = match &caches.periods[text] {
            Ok(o) => *o,
            Err(message) => return Err(at(c.period, message.clone())),
        };
        let value = value_of(fields[c.value])
            .map_err(|(message, help)| at(c.value, message).with_help(help))?;
        let slot = self.slot(fields, caches, keys).map_err(|message| Problem {
            len: 1,
            ..at(c.dims[0], message)
        })?;
        Ok(Some(Row {
            metric,
            ordinal,
            slot,
            line,
            value,
        }))
    }

    /// The record's segment slot: 0 for a total, else its local number.
    fn slot(
        &self,
        fields: &[&[u8]],
        caches: &mut Caches,
        keys: &mut Vec<SegmentKey>,
    ) -> Result<u32, String> {
        let c = self.columns;
        if c.dims.is_empty() {
            return Ok(0);
        }
        caches.key.clear();
        let mut empty = 0;
        for &i in &c.dims {
            let value = fields[i].trim_ascii();
            empty += usize::from(value.is_empty());
            caches
                .key
                .extend_from_slice(&(value.len() as u32).to_le_bytes());
            caches.key.extend_from_slice(value);
        }
        if let Some(&slot) = caches.keys.get(caches.key.as_slice()) {
            return Ok(slot);
        }
        if empty == c.dims.len() {
            return Ok(0);
        }
        if empty > 0 {
            return Err(format!(
                "a segment needs a value for every dimension ({}); leave them all empty for a total",
                c.dim_names.join(", ")
            ));
        }
        let slot = keys.len() as u32 + 1;
        keys.push(
            c.dims
                .iter()
                .map(|&i| String::from_utf8_lossy(fields[i].trim_ascii()).into_owned())
                .collect(),
        );
        caches.keys.insert(caches.key.as_slice().into(), slot);
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
