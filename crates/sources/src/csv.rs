//! CSV data files, read before any tree is known, into the evaluator's [`Table`]s.
//!
//! A file is split into chunks parsed on every core. Rows keep metric names, periods and
//! segments as written, numbered in small tables per chunk and per value of the `tree`
//! column; [`canopy_evaluator::DataBuilder::add_table`] resolves those tables against a tree.
//! So a file is parsed while its tree is still being loaded, and once for all the trees of a
//! run. The text is not kept: a file's lines are read again only to point at a problem.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use canopy_engine::{Diagnostic, Location, Span};
use canopy_evaluator::table::{Chunk, Field, Fields, Group, Problem, Problems, Row, Table};
use rustc_hash::FxHashMap;

/// The largest CSV file read, in bytes (1 GiB): a larger one is refused, not read into memory.
pub const MAX_CSV_BYTES: u64 = 1 << 30;

/// The longest line of a CSV file, in bytes (1 MiB): long-form rows are short, so a longer
/// line means the file is not CSV (or has no line ends), and reading stops there.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Why a CSV file gave no rows.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// It could not be read, or is too large to be: the message names the file and says
    /// what to do.
    #[error("{0}")]
    Read(String),
    /// Its header is not that of long-form data.
    #[error("{}", .0.message)]
    Header(Diagnostic),
}

/// Reads and parses the CSV file at `path` (see [`parse`]), refusing one larger than
/// [`MAX_CSV_BYTES`] or with a line longer than [`MAX_LINE_BYTES`].
pub fn read(path: &Path) -> Result<Table, CsvError> {
    // A pipe cannot be read twice: its text is kept for diagnostics. A file is parsed block
    // by block as it is read, so that only a few MiB of its text are in memory at once.
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return parse(path, read_bytes(path).map_err(CsvError::Read)?);
    }
    let mut blocks = Blocks::open(path).map_err(CsvError::Read)?;
    let layout = Layout::read(&mut blocks).map_err(|e| match e {
        Stop::Read(message) => CsvError::Read(message),
        Stop::Header(p) => header_error(path, p),
    })?;
    Ok(table(path, layout, Text::File(path.to_path_buf())))
}

/// Parses `text`, the contents of the file at `path`: a header with `period`, `metric` and
/// `value` (in any order), an optional `tree` column, and any further columns as segment
/// dimensions. A UTF-8 byte order mark is skipped. Large files are parsed in chunks on
/// every core.
pub fn parse(path: &Path, text: Vec<u8>) -> Result<Table, CsvError> {
    let (layout, text) = parse_text(path, text)?;
    Ok(table(path, layout, Text::Kept(text)))
}

fn parse_text(path: &Path, text: Vec<u8>) -> Result<(Layout, Vec<u8>), CsvError> {
    match Layout::parse(&text) {
        Ok(layout) => Ok((layout, text)),
        Err(p) => Err(header_error(path, p)),
    }
}

/// The diagnostic of a header that is not long-form data's.
fn header_error(path: &Path, p: Problem) -> CsvError {
    let at = Location {
        path: Arc::from(path),
        span: Span::new(p.line, p.col, p.len),
    };
    let d = Diagnostic::error(at, p.message);
    CsvError::Header(match p.help {
        Some(help) => d.with_help(help),
        None => d,
    })
}

/// The table of `layout`, read from `path`, whose fields are found on `text`.
fn table(path: &Path, layout: Layout, text: Text) -> Table {
    let columns = layout.columns;
    Table {
        path: Arc::from(path),
        dimensions: columns.dim_names,
        by_tree: columns.tree.is_some(),
        chunks: layout.chunks,
        fields: Box::new(Lines {
            text,
            metric: columns.metric,
            period: columns.period,
        }),
    }
}

/// Reads the file at `path` whole, refusing one larger than [`MAX_CSV_BYTES`] or with a line
/// longer than [`MAX_LINE_BYTES`] as soon as either is seen, so that no input (`/dev/zero`, a
/// binary file) can exhaust memory.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let mut blocks = Blocks::open(path)?;
    let mut text = blocks.next()?.unwrap_or_default();
    while let Some(block) = blocks.next()? {
        text.extend_from_slice(&block);
    }
    Ok(text)
}

/// Why the file at `path` cannot be opened. A `--data` that is no file may be a connection
/// string written in a form Canopy does not read, secrets and all: it is shown redacted.
fn not_read(path: &Path, e: &std::io::Error) -> String {
    let shown = canopy_engine::redact_password(&path.display().to_string());
    let help = match shown.contains('=') || shown.contains('@') {
        true => "\nhelp: a database is given as a URL: --data postgres://USER:PASSWORD@HOST/DB?sslmode=verify-full, or --data sqlite://PATH",
        false => "",
    };
    format!("cannot read {shown}: {e}{help}")
}

/// A file read in blocks of whole lines, its size and line length checked as they come.
struct Blocks<'p> {
    path: &'p Path,
    file: std::fs::File,
    /// The start of a line not yet ended, for the next block.
    carry: Vec<u8>,
    /// Bytes read so far.
    read: u64,
    /// Lines in the blocks handed out so far.
    lines: usize,
}

impl<'p> Blocks<'p> {
    /// About how much of a file is read at once.
    const SIZE: usize = 4 << 20;

    fn open(path: &'p Path) -> Result<Blocks<'p>, String> {
        let file = std::fs::File::open(path).map_err(|e| not_read(path, &e))?;
        Ok(Blocks {
            path,
            file,
            carry: Vec::new(),
            read: 0,
            lines: 0,
        })
    }

    /// The next block, ending at a line end (or at the end of the file), or `None` at the end.
    fn next(&mut self) -> Result<Option<Vec<u8>>, String> {
        use std::io::Read;
        let path = self.path.display();
        let mut block = std::mem::take(&mut self.carry);
        block.reserve(Self::SIZE);
        loop {
            let before = block.len();
            let n = (&mut self.file)
                .take(Self::SIZE as u64)
                .read_to_end(&mut block)
                .map_err(|e| format!("cannot read {path}: {e}"))?;
            self.read += n as u64;
            if self.read > MAX_CSV_BYTES {
                return Err(format!("{path} is larger than {} GiB, the most Canopy reads from one CSV file\nhelp: aggregate the data first (one row per period, leaf and segment), or query it with an SQL source", MAX_CSV_BYTES >> 30));
            }
            if n == 0 {
                return Ok((!block.is_empty()).then_some(block));
            }
            let end = memchr::memrchr(b'\n', &block[before..]).map(|nl| before + nl + 1);
            if block.len() - end.unwrap_or(0) > MAX_LINE_BYTES {
                let line = self.lines
                    + 1
                    + end.map_or(0, |e| memchr::memchr_iter(b'\n', &block[..e]).count());
                return Err(format!("{path}:{line}:1: line {line} is longer than {} MiB; this does not look like a CSV file of long-form data\nhelp: give a CSV file with one row per line: period,metric,value[,segments...]", MAX_LINE_BYTES >> 20));
            }
            if let Some(end) = end {
                self.carry = block[end..].to_vec();
                block.truncate(end);
                self.lines += memchr::memchr_iter(b'\n', &block).count();
                return Ok(Some(block));
            }
        }
    }
}

/// A file's lines, kept or read again when asked for, and where the metric and period are
/// on them.
struct Lines {
    text: Text,
    metric: usize,
    period: usize,
}

enum Text {
    Kept(Vec<u8>),
    File(PathBuf),
}

impl Fields for Lines {
    fn find(&self, at: &[(u32, Field)]) -> Vec<(u32, u32)> {
        let read;
        let text = match &self.text {
            Text::Kept(text) => text,
            Text::File(path) => {
                // Unreadable now: the problems are still reported, at column 1.
                read = read_bytes(path).unwrap_or_default();
                &read
            }
        };
        let numbers: Vec<u32> = at.iter().map(|a| a.0).collect();
        let texts = lines(text, &numbers);
        at.iter()
            .enumerate()
            .map(|(i, &(_, field))| {
                let index = match field {
                    Field::Metric => self.metric,
                    Field::Period => self.period,
                };
                texts.get(i).map_or((1, 1), |line| field_at(line, index))
            })
            .collect()
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

/// A file's columns and its rows, chunk by chunk.
struct Layout {
    columns: Columns,
    chunks: Vec<Chunk>,
}

impl Columns {
    /// The columns of the header of `text`, and the rest of it.
    fn split(text: &[u8]) -> Result<(Columns, &[u8]), Problem> {
        let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
        let header_end = memchr::memchr(b'\n', text).map_or(text.len(), |i| i + 1);
        Ok((Columns::read(&text[..header_end])?, &text[header_end..]))
    }

    fn read(header: &[u8]) -> Result<Columns, Problem> {
        let problem = |message: String, help: &str| Problem {
            line: 1,
            col: 1,
            len: 1,
            message,
            help: Some(help.to_string()),
        };
        let form = "write long-form data: period,metric,value[,segment columns...]";
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(header);
        let mut record = csv::ByteRecord::new();
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => {
                return Err(problem(
                    "the CSV file is empty".into(),
                    "start it with the header `period,metric,value`",
                ))
            }
            Err(e) => return Err(problem(format!("cannot read CSV: {e}"), form)),
        }
        let names: Vec<String> = record
            .iter()
            .map(|h| String::from_utf8_lossy(h).trim().to_string())
            .collect();
        let find = |n: &str| names.iter().position(|h| h == n);
        let header = names.join(",");
        if let Some((i, name)) = names
            .iter()
            .enumerate()
            .find(|(i, n)| names[..*i].contains(n))
        {
            return Err(problem(
                format!(
                    "the CSV header `{header}` has the column `{name}` twice (columns {} and {})",
                    find(name).expect("seen before") + 1,
                    i + 1
                ),
                "give each column one name; segment columns need names of their own",
            ));
        }
        let (Some(period), Some(metric), Some(value)) =
            (find("period"), find("metric"), find("value"))
        else {
            return Err(problem(
                format!(
                    "the CSV header is `{header}`; it needs `period`, `metric` and `value` columns"
                ),
                form,
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

/// Why reading a file stopped.
enum Stop {
    Read(String),
    Header(Problem),
}

impl Layout {
    /// Parses a whole file's `text`.
    fn parse(text: &[u8]) -> Result<Layout, Problem> {
        let (columns, body) = Columns::split(text)?;
        let mut chunks = parse_body(&columns, body);
        number_lines(&mut chunks);
        Ok(Layout { columns, chunks })
    }

    /// Reads and parses a file block by block: until a block has a quote, which may hold a
    /// line break, so the rest of the file is read and parsed whole from there.
    fn read(blocks: &mut Blocks<'_>) -> Result<Layout, Stop> {
        let first = blocks.next().map_err(Stop::Read)?.unwrap_or_default();
        let (columns, body) = Columns::split(&first).map_err(Stop::Header)?;
        let mut chunks = Vec::new();
        let mut block = body.to_vec();
        drop(first);
        loop {
            if memchr::memchr(b'"', &block).is_some() {
                while let Some(more) = blocks.next().map_err(Stop::Read)? {
                    block.extend_from_slice(&more);
                }
            }
            chunks.extend(parse_body(&columns, &block));
            match blocks.next().map_err(Stop::Read)? {
                Some(next) => block = next,
                None => break,
            }
        }
        number_lines(&mut chunks);
        Ok(Layout { columns, chunks })
    }
}

/// Parses the rows of `body`, whole lines after the header, in pieces on every core.
fn parse_body(columns: &Columns, body: &[u8]) -> Vec<Chunk> {
    // A quoted field may hold a line break, so only a body without quotes is split.
    let quoted = memchr::memchr(b'"', body).is_some();
    let pieces = if quoted {
        vec![body]
    } else {
        split_lines(body)
    };
    if pieces.len() == 1 {
        return vec![ChunkParser::new(columns).parse(pieces[0], quoted)];
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = pieces
            .iter()
            .map(|piece| scope.spawn(|| ChunkParser::new(columns).parse(piece, false)))
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a CSV worker panicked"))
            .collect()
    })
}

/// Turns each chunk's count of its own lines into the lines before it; the header is line 1.
fn number_lines(chunks: &mut [Chunk]) {
    let mut lines_before = 1;
    for chunk in chunks {
        let lines = chunk.lines_before;
        chunk.lines_before = lines_before;
        lines_before += lines;
    }
}

/// Splits a CSV body without quotes into about one piece per core, at line ends.
fn split_lines(body: &[u8]) -> Vec<&[u8]> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads == 1 || body.len() < 1 << 20 {
        return vec![body];
    }
    let mut pieces = Vec::with_capacity(threads);
    let mut rest = body;
    for k in (1..threads).rev() {
        let target = rest.len() / (k + 1);
        let Some(nl) = memchr::memchr(b'\n', &rest[target..]) else {
            break;
        };
        let (head, tail) = rest.split_at(target + nl + 1);
        pieces.push(head);
        rest = tail;
    }
    pieces.push(rest);
    pieces
}

/// Numbers byte strings as first seen; looking one up costs no allocation.
#[derive(Default)]
struct Numbering {
    numbers: FxHashMap<Box<[u8]>, u32>,
}

impl Numbering {
    fn number(&mut self, text: &[u8], table: &mut Vec<Box<[u8]>>) -> u32 {
        if let Some(&n) = self.numbers.get(text) {
            return n;
        }
        let n = table.len() as u32;
        table.push(text.into());
        self.numbers.insert(text.into(), n);
        n
    }
}

/// What parsing a chunk remembers for one group.
#[derive(Default)]
struct Numberings {
    names: Numbering,
    periods: Numbering,
    /// Segment keys as written (each value preceded by its length), to their numbers.
    keys: FxHashMap<Box<[u8]>, u32>,
    /// The last row's metric and period: rows come grouped by metric in practice, and
    /// then period after period.
    last_name: Option<u32>,
    last_period: Option<u32>,
}

struct ChunkParser<'c> {
    columns: &'c Columns,
    /// Room for the first group's rows: most files hold one tree's rows.
    expected_rows: usize,
    groups: Vec<Group>,
    numberings: Vec<Numberings>,
    /// Groups by value of the tree column.
    by_tree: FxHashMap<Box<[u8]>, usize>,
    unplaced: Problems,
    /// The current row's segment key, reused from row to row.
    key: Vec<u8>,
}

impl<'c> ChunkParser<'c> {
    fn new(columns: &'c Columns) -> ChunkParser<'c> {
        ChunkParser {
            columns,
            expected_rows: 0,
            groups: Vec::new(),
            numberings: Vec::new(),
            by_tree: FxHashMap::default(),
            unplaced: Problems::default(),
            key: Vec::new(),
        }
    }

    /// Parses `bytes`, a whole number of lines: by the `csv` crate when it has `quoted`
    /// fields, else by splitting at line ends and commas, which is several times faster.
    fn parse(mut self, bytes: &[u8], quoted: bool) -> Chunk {
        // Rows of long-form data take some 30 bytes or more.
        self.expected_rows = bytes.len() / 30;
        // Only the lines of chunks split at line ends are counted: only they are followed
        // by another chunk.
        let mut lines = 0;
        if quoted {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(bytes);
            let mut record = csv::ByteRecord::new();
            loop {
                match reader.read_byte_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {
                        let line = record.position().map_or(0, |p| p.line()) as u32;
                        let fields: Vec<&[u8]> = record.iter().collect();
                        // Columns are not counted exactly past a quoted field.
                        self.row(&fields, line);
                    }
                    Err(e) => {
                        let line = e.position().map_or(1, |p| p.line()) as u32;
                        self.unplaced.push(Problem {
                            line,
                            col: 1,
                            len: 1,
                            message: format!("cannot read CSV: {e}"),
                            help: Some("check the quotes on this line: a quoted field ends with a quote before the next comma".to_string()),
                        });
                    }
                }
            }
        } else {
            let mut fields: Vec<&[u8]> = Vec::with_capacity(self.columns.count);
            for text in bytes.split_inclusive(|&b| b == b'\n') {
                lines += 1;
                let line = lines;
                let text = text.strip_suffix(b"\n").unwrap_or(text);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                if text.is_empty() {
                    continue;
                }
                fields.clear();
                let mut start = 0;
                for comma in memchr::memchr_iter(b',', text) {
                    fields.push(&text[start..comma]);
                    start = comma + 1;
                }
                fields.push(&text[start..]);
                self.row(&fields, line);
            }
        }
        Chunk {
            // The lines of this chunk, until the chunks are put in order.
            lines_before: lines,
            groups: self.groups,
            unplaced: self.unplaced,
        }
    }

    /// The group of rows whose tree column says `tree`.
    fn group(&mut self, tree: &[u8]) -> usize {
        if let Some(&g) = self.by_tree.get(tree) {
            return g;
        }
        let g = self.groups.len();
        self.groups.push(Group {
            tree: tree.into(),
            names: Vec::new(),
            periods: Vec::new(),
            keys: Vec::new(),
            rows: Vec::with_capacity(std::mem::take(&mut self.expected_rows)),
            problems: Problems::default(),
        });
        self.numberings.push(Numberings::default());
        self.by_tree.insert(tree.into(), g);
        g
    }

    /// Files row `fields` at `line` in its group, or a problem with it.
    fn row(&mut self, fields: &[&[u8]], line: u32) {
        let c = self.columns;
        // Columns are counted in characters from the start of the line, assuming no quotes.
        let problem = |i: usize, len: usize, message: String, help: Option<&str>| Problem {
            line,
            col: 1 + fields[..i].iter().map(|f| f.len() as u32 + 1).sum::<u32>(),
            len: len as u32,
            message,
            help: help.map(str::to_string),
        };
        if fields.len() != c.count {
            let count = fields.len();
            self.unplaced.push(problem(
                0,
                1,
                format!(
                    "this row has {count} field{}, but the header `{}` has {}",
                    if count == 1 { "" } else { "s" },
                    c.header,
                    c.count
                ),
                Some("every row needs a value for each column of the header (leave the segment columns empty for a total)"),
            ));
            return;
        }
        let g = match c.tree {
            Some(t) => self.group(fields[t]),
            None if self.groups.is_empty() => self.group(b""),
            None => 0,
        };
        let raw = fields[c.value];
        let value = match value_of(raw) {
            Ok(v) => v,
            Err((message, help)) => {
                let p = problem(c.value, raw.len(), message, Some(help));
                self.groups[g].problems.push(p);
                return;
            }
        };
        let key = match self.key(g, fields) {
            Ok(k) => k,
            Err(message) => {
                let p = problem(c.dims[0], 1, message, None);
                self.groups[g].problems.push(p);
                return;
            }
        };
        let (group, numberings) = (&mut self.groups[g], &mut self.numberings[g]);
        let name = fields[c.metric];
        let name = match numberings.last_name {
            Some(n) if *group.names[n as usize] == *name => n,
            _ => numberings.names.number(name, &mut group.names),
        };
        numberings.last_name = Some(name);
        let text = fields[c.period];
        let period = match numberings.last_period.map(|p| p as usize + 1) {
            Some(next) if group.periods.get(next).is_some_and(|p| **p == *text) => next as u32,
            _ => numberings.periods.number(text, &mut group.periods),
        };
        numberings.last_period = Some(period);
        group.rows.push(Row {
            name,
            period,
            key,
            line,
            value,
        });
    }

    /// The number of the row's segment in group `g`: 0 for a total.
    fn key(&mut self, g: usize, fields: &[&[u8]]) -> Result<u32, String> {
        let c = self.columns;
        if c.dims.is_empty() {
            return Ok(0);
        }
        self.key.clear();
        let mut empty = 0;
        for &i in &c.dims {
            let value = fields[i].trim_ascii();
            empty += usize::from(value.is_empty());
            self.key
                .extend_from_slice(&(value.len() as u32).to_le_bytes());
            self.key.extend_from_slice(value);
        }
        let numberings = &mut self.numberings[g];
        if let Some(&k) = numberings.keys.get(self.key.as_slice()) {
            return Ok(k);
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
        let keys = &mut self.groups[g].keys;
        keys.push(
            c.dims
                .iter()
                .map(|&i| String::from_utf8_lossy(fields[i].trim_ascii()).into_owned())
                .collect(),
        );
        let k = keys.len() as u32;
        numberings.keys.insert(self.key.as_slice().into(), k);
        Ok(k)
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

/// The lines numbered `wanted` (from 1, ascending) of `text`, found in one pass.
fn lines<'t>(text: &'t [u8], wanted: &[u32]) -> Vec<&'t [u8]> {
    let mut found = Vec::with_capacity(wanted.len());
    let mut want = wanted.iter().peekable();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        while want.next_if(|&&w| w as usize == n + 1).is_some() {
            found.push(line.strip_suffix(b"\r").unwrap_or(line));
        }
        if want.peek().is_none() {
            break;
        }
    }
    found
}

/// Where field `index` of `line` starts (from 1) and how long it is, assuming no quotes.
fn field_at(line: &[u8], index: usize) -> (u32, u32) {
    let mut col = 1;
    for (i, field) in line.split(|&b| b == b',').enumerate() {
        if i == index {
            return (col, field.len() as u32);
        }
        col += field.len() as u32 + 1;
    }
    (1, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of `table`'s problems, as (file line, message).
    fn problems(table: &Table) -> Vec<(u32, String)> {
        let mut found = Vec::new();
        for chunk in &table.chunks {
            let groups = chunk.groups.iter().map(|g| &g.problems);
            for p in groups.chain([&chunk.unplaced]).flat_map(|p| &p.list) {
                found.push((chunk.lines_before + p.line, p.message.clone()));
            }
        }
        found
    }

    /// A file of `rows` rows, row `bad` with a value that is not a number and, from row
    /// `quoted` on, metric names in quotes.
    fn write(path: &Path, rows: usize, bad: usize, quoted: usize) {
        let mut text = String::from("period,metric,value\n");
        for r in 1..=rows {
            let name = match r >= quoted {
                true => format!("\"m{}\"", r % 7),
                false => format!("m{}", r % 7),
            };
            let value = if r == bad {
                "x".to_string()
            } else {
                r.to_string()
            };
            text.push_str(&format!("2026-W{:02},{name},{value}\n", 1 + r % 52));
        }
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn a_file_read_block_by_block_gives_the_rows_and_lines_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.csv");
        // About 8 MiB: three blocks, the last with quotes.
        let rows = 300_000;
        write(&path, rows, 250_000, 290_000);
        let streamed = read(&path).unwrap();
        let whole = parse(&path, std::fs::read(&path).unwrap()).unwrap();
        assert!(streamed.chunks.len() > whole.chunks.len(), "read in blocks");
        for table in [&streamed, &whole] {
            let count: usize = table
                .chunks
                .iter()
                .flat_map(|c| &c.groups)
                .map(|g| g.rows.len())
                .sum();
            assert_eq!(count, rows - 1);
            // The header is line 1, so row r is line r + 1.
            let found = problems(table);
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].0, 250_001);
            assert!(found[0].1.contains("`x` is not a finite number"));
        }
        let at = streamed
            .fields
            .find(&[(3, Field::Period), (250_001, Field::Metric)]);
        assert_eq!(at, vec![(1, 8), (10, 2)]);
    }

    #[test]
    fn a_line_longer_than_the_bound_stops_reading_at_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.csv");
        let mut text = b"period,metric,value\n2026-W01,m,1\n".to_vec();
        text.resize(text.len() + MAX_LINE_BYTES + 10, b'7');
        std::fs::write(&path, &text).unwrap();
        let Err(CsvError::Read(message)) = read(&path) else {
            panic!("a line over the bound must be refused");
        };
        assert!(
            message.contains("long.csv:3:1: line 3 is longer than 1 MiB"),
            "{message}"
        );
    }
}
