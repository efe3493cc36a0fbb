//! `canopy explain`: why a metric changed, down to its leaves and segments.

use std::io::{BufWriter, Write};
use std::path::Path;

use canopy_engine::MetricId;
use canopy_evaluator::{evaluate, explain, Baseline, Evaluation, Period, Planner};
use canopy_present::{explain_report, ExplainReport};

use crate::args::{DataArgs, Format};
use crate::data;
use canopy_present::format::{change, signed_at};

use crate::table;
use crate::trees::{self, Style};
use crate::Outcome;

/// What to explain.
pub(crate) struct Request<'a> {
    /// `--from`, which `--against` replaces.
    pub(crate) from: Option<&'a str>,
    pub(crate) against: Option<Baseline>,
    pub(crate) to: &'a str,
    pub(crate) metric: Option<&'a str>,
    pub(crate) each: bool,
    pub(crate) slices: bool,
    pub(crate) format: Format,
    /// The `--where` conditions.
    pub(crate) slice: &'a [(String, String)],
}

pub(crate) fn run(
    path: &Path,
    data_args: &DataArgs,
    request: Request<'_>,
    style: Style,
) -> anyhow::Result<Outcome> {
    let mut sources = data::Sources::start(&data_args.sources)?;
    let Some(loaded) = trees::load(path, style)? else {
        return Ok(Outcome::Failure);
    };
    let tree = &loaded.tree;
    let to = Period::parse(request.to, tree.grain())?;
    // A mean stands in for the period before --to (see `Data::mean_before`).
    let from = match (request.from, request.against) {
        (Some(from), _) => Period::parse(from, tree.grain())?,
        (None, baseline) => (baseline.and_then(|b| b.period(to))).unwrap_or(to.previous()),
    };
    if from >= to {
        anyhow::bail!("--from ({from}) must be before --to ({to})");
    }
    let metric = metric_named(tree, request.metric)?;
    let range: Vec<Period> = match request.against {
        Some(baseline) => [baseline.periods(to), vec![to]].concat(),
        None => (0..=to.since(from)).map(|k| from.offset(k)).collect(),
    };
    let Some((data, _)) = data::load(tree, &mut sources, style, |_| Ok(range.clone()))? else {
        return Ok(Outcome::Failure);
    };
    // The files' text and parsed rows are laid out in `data` now: free them before the work.
    drop(sources);
    let data = data::sliced(data, request.slice, &data_args.sources)?;
    let data = match request.against {
        Some(Baseline::Mean(n)) => data.mean_before(to, n),
        _ => data,
    };
    let eval = evaluate(tree, &data);
    // The evaluation holds every value now: the leaves' layout is no longer needed.
    drop(data);
    let planner = Planner::new(tree);
    // The report borrows the explanation, so it is handed to `use_it` rather than returned.
    let one = |a: Period, b: Period, use_it: &mut dyn FnMut(&ExplainReport<'_>)| {
        let e = explain(&eval, &planner, metric, a, b);
        let reason = e.as_ref().map_err(|e| e.reason.clone());
        let mut report = explain_report(&eval, metric, a, b, reason);
        if request.slices {
            report.add_slices(&eval, metric, a, b);
        }
        if let Some(against) = request.against.map(|baseline| baseline.against(b)) {
            // A mean is named by its first period; `against` says what it is.
            report.from = against.from.to_string();
            report.against = Some(against);
        }
        use_it(&report);
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if request.each {
        let pairs: Vec<(Period, Period)> = range.windows(2).map(|w| (w[0], w[1])).collect();
        write_each(&mut out, &eval, metric, &pairs, request.format, one)?;
    } else {
        let mut written = Ok(());
        one(from, to, &mut |r| {
            written = write_one(&mut out, &eval, metric, r, request.format)
        });
        written?;
    }
    out.flush()?;
    Ok(Outcome::Success)
}

/// The metric `name` names (the root without one), or why there is none.
pub(crate) fn metric_named(
    tree: &canopy_engine::MetricTree,
    name: Option<&str>,
) -> anyhow::Result<MetricId> {
    let Some(name) = name else {
        return Ok(tree.root());
    };
    tree.find(name).ok_or_else(|| {
        let names = tree.ids().map(|id| tree.metric(id).id.as_str());
        match canopy_engine::did_you_mean(name, names) {
            Some(s) => anyhow::anyhow!(
                "no metric `{name}` in tree `{}` (did you mean `{s}`?)",
                tree.id()
            ),
            None => anyhow::anyhow!("no metric `{name}` in tree `{}`", tree.id()),
        }
    })
}

/// Writes the explanation of one pair of periods, or fails with why there is none.
fn write_one(
    out: &mut impl Write,
    eval: &Evaluation<'_>,
    metric: MetricId,
    report: &ExplainReport<'_>,
    format: Format,
) -> anyhow::Result<()> {
    if let Some(reason) = &report.reason {
        anyhow::bail!(
            "cannot explain `{}` from {} to {}: {reason}",
            report.metric,
            report.from,
            report.to
        );
    }
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)?;
        }
        Format::Table => write!(out, "{}", render(eval, metric, report))?,
    }
    Ok(())
}

/// Writes the explanation of every pair in `pairs`, made by `one` on every core: one JSON
/// document with a transition per line, or the tables one after another.
fn write_each(
    out: &mut impl Write,
    eval: &Evaluation<'_>,
    metric: MetricId,
    pairs: &[(Period, Period)],
    format: Format,
    one: impl Fn(Period, Period, &mut dyn FnMut(&ExplainReport<'_>)) + Sync,
) -> anyhow::Result<()> {
    let tree = eval.tree();
    let json = matches!(format, Format::Json);
    if json {
        // One document, one transition per line so that it reads and diffs well.
        let head = serde_json::json!({
            "tree": tree.id(),
            "metric": tree.metric(metric).id,
            "definition": canopy_engine::Definition::of(tree, metric).version(),
        });
        let mut head = head;
        if !eval.slice().is_empty() {
            head["where"] = serde_json::to_value(eval.slice())?;
        }
        let head = serde_json::to_string(&head)?;
        writeln!(out, "{},\"transitions\":[", &head[..head.len() - 1])?;
    }
    each(
        pairs,
        |a, b, buf| match format {
            Format::Json => {
                one(a, b, &mut |r| r.write_json(buf));
                buf.push(b'\n');
            }
            Format::Table => one(a, b, &mut |r| {
                buf.extend_from_slice(render(eval, metric, r).as_bytes())
            }),
        },
        |i, part| {
            if i > 0 {
                out.write_all(if json { b"," } else { b"\n" })?;
            }
            out.write_all(part)
        },
    )?;
    if json {
        writeln!(out, "]}}")?;
    }
    Ok(())
}

/// Makes one part per pair of periods with `make`, spread over the machine's cores, and
/// hands them to `sink` in order as they are ready. Buffers go back to the worker that
/// filled them, so memory stays bounded however many pairs there are.
fn each(
    pairs: &[(Period, Period)],
    make: impl Fn(Period, Period, &mut Vec<u8>) + Sync,
    mut sink: impl FnMut(usize, &[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    use std::sync::mpsc;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(pairs.len())
        .max(1);
    std::thread::scope(|scope| {
        let mut filled = Vec::with_capacity(threads);
        let mut returned = Vec::with_capacity(threads);
        for worker in 0..threads {
            let (full, full_rx) = mpsc::sync_channel::<Vec<u8>>(2);
            let (empty, empty_rx) = mpsc::channel::<Vec<u8>>();
            let make = &make;
            scope.spawn(move || {
                for &(a, b) in pairs.iter().skip(worker).step_by(threads) {
                    let mut buf = empty_rx.try_recv().unwrap_or_default();
                    buf.clear();
                    make(a, b, &mut buf);
                    if full.send(buf).is_err() {
                        return; // the sink failed and stopped listening
                    }
                }
            });
            filled.push(full_rx);
            returned.push(empty);
        }
        for i in 0..pairs.len() {
            let worker = i % threads;
            let buf = filled[worker].recv().expect("a worker panicked");
            sink(i, &buf)?;
            // The worker may have finished already; then the buffer is simply dropped.
            let _ = returned[worker].send(buf);
        }
        Ok(())
    })
}

/// The report for people: the change, what drove it, what hides beneath flat metrics, and
/// which segments moved it.
pub(crate) fn render(eval: &Evaluation<'_>, metric: MetricId, r: &ExplainReport) -> String {
    let tree = eval.tree();
    let m = tree.metric(metric);
    let from = match &r.against {
        Some(against) => canopy_present::words::against(against, tree.grain()),
        None => r.from.clone(),
    };
    let mut out = format!(
        "{} {}: {} from {from} to {}",
        r.tree, r.metric, m.title, r.to
    );
    if !r.slice.is_empty() {
        out += &format!(" where {}", r.slice.describe());
    }
    out.push('\n');
    let (Some(before), Some(after)) = (r.before, r.after) else {
        out += &format!(
            "  no explanation: {}\n",
            r.reason.as_deref().unwrap_or("no values")
        );
        return out;
    };
    out += &format!("  {}\n", change(before, after, m.unit.as_deref(), m.change));
    let text = Text::new(r, contribution_unit(m));
    out += &text.list(
        "What changed it (direct inputs):",
        &r.contributions,
        usize::MAX,
    );
    out += &text.list("Down to the leaves:", &r.leaves, 10);
    out += &offsetting(eval, r);
    out += &text.slices();
    out += &text.segments();
    if let Some(note) = &r.segments_note {
        out += &format!("\nSegments: {note}\n");
    }
    out += "\n";
    out += &exactness(r);
    // The method is a footnote: people read the shares first, and the JSON and
    // docs/explain.md hold the whole method.
    out += "Method: Shapley shares of each formula, chained down to the leaves (`--format json` names each metric's way).\n";
    out
}

/// A contribution's unit as text: `pts` for a metric told in points, else its unit. A
/// contribution is in the unit of the metric it explains, not of the input it names, so
/// `items_per_activated_user -288` must say `items`.
fn contribution_unit(m: &canopy_engine::Metric) -> Option<String> {
    match m.change {
        canopy_engine::ChangeIn::Points => Some("pts".into()),
        canopy_engine::ChangeIn::Relative => m.unit.clone(),
    }
}

/// What every table of one explanation shares: the scale under which a number is rounding,
/// the change that shares are of, and the unit contributions are in.
struct Text<'r, 'a> {
    report: &'r ExplainReport<'a>,
    scale: f64,
    change: f64,
    header: String,
}

impl<'r, 'a> Text<'r, 'a> {
    fn new(report: &'r ExplainReport<'a>, unit: Option<String>) -> Self {
        let scale = report.scale();
        let change = canopy_present::format::settled(report.change.unwrap_or(0.0), scale);
        let header = unit.map_or("contribution".into(), |u| format!("contribution (in {u})"));
        Text {
            report,
            scale,
            change,
            header,
        }
    }

    fn signed(&self, v: f64) -> String {
        signed_at(v, self.scale)
    }

    /// `v`'s share of the change in percent, as the emails give it; `-` when nothing changed.
    fn share(&self, v: f64) -> String {
        match self.change {
            0.0 => "-".into(),
            change => format!(
                "{:.0}%",
                canopy_present::format::settled(v, self.scale) / change * 100.0
            ),
        }
    }

    /// A table of contributions, the first `limit` of them.
    fn list(&self, title: &str, items: &[canopy_present::Contribution], limit: usize) -> String {
        if items.is_empty() {
            return String::new();
        }
        let rows: Vec<Vec<String>> = items
            .iter()
            .take(limit)
            .map(|c| {
                let v = c.contribution;
                vec![format!("  {}", c.metric), self.signed(v), self.share(v)]
            })
            .collect();
        let more = items.len().saturating_sub(limit);
        let tail = if more > 0 {
            format!("  ... and {more} more\n")
        } else {
            String::new()
        };
        let header = ["  metric", &self.header, "share of the change"];
        format!("\n{title}\n{}{tail}", table::render(&header, &rows, &[]))
    }

    /// The slices that moved, with mix and rate for a ratio, or why none is named.
    fn slices(&self) -> String {
        let r = self.report;
        let Some(slices) = &r.slices else {
            return String::new();
        };
        if let Some(note) = &r.slices_note {
            return format!("\nWhere: {note}\n");
        }
        let ratio = slices.iter().any(|s| s.mix.is_some());
        let rows: Vec<Vec<String>> = slices
            .iter()
            .map(|s| {
                let mut row = vec![format!("  {}", s.slice.describe()), self.signed(s.change)];
                row.push(self.share(s.change));
                row.push(s.segments.to_string());
                if ratio {
                    row.push(s.mix.map_or("-".into(), |v| self.signed(v)));
                    row.push(s.rate.map_or("-".into(), |v| self.signed(v)));
                }
                row
            })
            .collect();
        let mut header = vec!["  slice", &self.header, "share of the change", "segments"];
        if ratio {
            header.extend(["mix", "rate"]);
        }
        format!("\nWhere it moved:\n{}", table::render(&header, &rows, &[]))
    }

    /// Each segment's contribution, with mix and rate for a ratio and a line saying what
    /// those two words mean.
    fn segments(&self) -> String {
        let r = self.report;
        if r.segments.is_empty() {
            return String::new();
        }
        let ratio = r.segments.iter().any(|s| s.mix.is_some());
        let rows: Vec<Vec<String>> = r
            .segments
            .iter()
            .map(|s| {
                let mut row = vec![format!("  {}", s.name()), self.signed(s.contribution)];
                row.push(self.share(s.contribution));
                if ratio {
                    row.push(s.mix.map_or("-".into(), |v| self.signed(v)));
                    row.push(s.rate.map_or("-".into(), |v| self.signed(v)));
                }
                row
            })
            .collect();
        let mut header = vec!["  segment", &self.header, "share of the change"];
        if ratio {
            header.extend(["mix", "rate"]);
        }
        let mut out = format!("\nBy segment:\n{}", table::render(&header, &rows, &[]));
        if ratio {
            out += "  mix: because more or less of the whole came from this segment; rate: because this segment's own value changed\n";
        }
        out
    }
}

/// The offsetting movements: flat metrics hiding opposite moves of their inputs, each number
/// in the flat metric's unit.
fn offsetting(eval: &Evaluation<'_>, r: &ExplainReport) -> String {
    if r.offsetting.is_empty() {
        return String::new();
    }
    let tree = eval.tree();
    let mut out = String::from("\nOffsetting movements (a flat metric hiding opposite moves):\n");
    for o in &r.offsetting {
        let unit = contribution_unit(tree.metric(o.id)).map_or(String::new(), |u| format!(" {u}"));
        // In the flat metric's unit, computed from its inputs' shares: those set the scale.
        let scale = (o.inputs.iter()).fold(o.change.abs(), |m, i| m.max(i.contribution.abs()));
        let inputs: Vec<String> = o
            .inputs
            .iter()
            .map(|i| format!("{} {}{unit}", i.metric, signed_at(i.contribution, scale)))
            .collect();
        out += &format!(
            "  {} changed {}{unit}; beneath it: {}\n",
            o.metric,
            signed_at(o.change, scale),
            inputs.join(", ")
        );
    }
    out
}

/// One line saying the explanation is exact everywhere, or which metrics are approximate.
fn exactness(r: &canopy_present::ExplainReport<'_>) -> String {
    const SHOWN: usize = 10;
    let approximate: Vec<String> = r
        .methods
        .iter()
        .filter(|m| !m.exact)
        .map(|m| format!("~ {} ({})", m.metric, m.method))
        .collect();
    match approximate.len() {
        0 if r.methods.iter().next().is_none() => String::new(),
        0 => "Exact at every metric.\n".into(),
        n => {
            let more = n.saturating_sub(SHOWN);
            let tail = if more > 0 {
                format!("  ... and {more} more\n")
            } else {
                String::new()
            };
            format!(
                "Approximate at {}:\n  {}\n{tail}",
                table::plural(n, "metric"),
                approximate[..n.min(SHOWN)].join("\n  ")
            )
        }
    }
}
