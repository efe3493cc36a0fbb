//! Reading `--data` sources for a tree, and choosing periods.

use std::path::Path;
use std::sync::Arc;

use canopy_engine::{Grain, MetricId, MetricTree, SourceMap};
use canopy_evaluator::{Data, DataBuilder, Period, Slice, Table};
use canopy_sources::csv::CsvError;
use canopy_sources::{Database, Progress, Quiet};

use crate::trees::Style;

/// A period as given on the command line, before the data is known.
#[derive(Clone, Debug)]
pub(crate) enum PeriodArg {
    Latest,
    Previous,
    Given(Period),
}

impl PeriodArg {
    pub(crate) fn parse(text: &str, grain: Grain) -> anyhow::Result<PeriodArg> {
        Ok(match text {
            "latest" => PeriodArg::Latest,
            "previous" => PeriodArg::Previous,
            _ => PeriodArg::Given(Period::parse_for(text, grain).map_err(|e| {
                anyhow::anyhow!("{e}\nhelp: write `latest` (the newest period in the data), `previous` (the last complete period before today), or {}", Period::form(grain))
            })?),
        })
    }
}

/// The last complete period before today.
pub(crate) fn previous_period(grain: Grain) -> Period {
    Period::containing(chrono::Local::now().date_naive(), grain).previous()
}

/// The `--data` sources, with CSV files read and parsed in the background (they need no
/// tree for that) while the trees load. A file is parsed once for all the trees of a run.
pub(crate) struct Sources {
    worker: Option<std::thread::JoinHandle<Vec<CsvFile>>>,
    files: Vec<CsvFile>,
    databases: Vec<String>,
    /// Every `--data` given.
    given: Vec<String>,
    /// How the databases are queried, read once for every tree.
    settings: canopy_sources::Settings,
}

/// A CSV source, or why it could not be read.
type CsvFile = (String, Result<Arc<Table>, CsvError>);

impl Sources {
    /// Starts reading the CSV files among `sources`, once the settings for the databases
    /// among them are known to be right.
    pub(crate) fn start(sources: &[String]) -> anyhow::Result<Sources> {
        let settings = crate::env::sql_settings()?;
        let (databases, files): (Vec<String>, Vec<String>) =
            sources.iter().cloned().partition(|s| Database::is_url(s));
        let worker = (!files.is_empty()).then(|| {
            std::thread::spawn(move || {
                files
                    .into_iter()
                    .map(|source| {
                        let read = canopy_sources::csv::read(Path::new(&source)).map(Arc::new);
                        (source, read)
                    })
                    .collect()
            })
        });
        Ok(Sources {
            worker,
            files: Vec::new(),
            databases,
            given: sources.to_vec(),
            settings,
        })
    }

    /// The CSV files, once read.
    fn files(&mut self) -> &[CsvFile] {
        if let Some(worker) = self.worker.take() {
            self.files = worker.join().expect("the CSV reader panicked");
        }
        &self.files
    }
}

/// A progress bar on stderr for a tree's SQL queries: how many have finished, and the last.
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn new(tree: &str) -> Bar {
        let style = indicatif::ProgressStyle::with_template(
            "{prefix} SQL {pos}/{len} [{bar:30}] {elapsed} {wide_msg}",
        )
        .expect("a valid template")
        .progress_chars("=> ");
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(0),
            indicatif::ProgressDrawTarget::stderr(),
        );
        Bar(bar.with_style(style).with_prefix(tree.to_string()))
    }
}

impl Progress for Bar {
    fn start(&self, total: usize) {
        self.0.set_length(total as u64);
    }

    fn finished(&self, leaf: &str, period: Option<Period>) {
        let when = period.map_or_else(|| "all periods".to_string(), |p| p.to_string());
        self.0.set_message(format!("{leaf} {when}"));
        self.0.inc(1);
    }
}

/// Loads the tree's leaf values: every CSV first, then each database queried for the periods
/// `periods` returns once the CSV data's last period (if any) is known. Data problems are
/// printed; `Ok(None)` means they were.
pub(crate) fn load(
    tree: &MetricTree,
    sources: &mut Sources,
    style: Style,
    periods: impl FnOnce(Option<Period>) -> anyhow::Result<Vec<Period>>,
) -> anyhow::Result<Option<(Data, Vec<Period>)>> {
    if sources.given.is_empty() {
        let unsourced: Vec<&str> = (tree.ids())
            .filter(|&id| tree.metric(id).is_leaf() && tree.metric(id).source.is_none())
            .map(|id| tree.metric(id).id.as_str())
            .collect();
        if !unsourced.is_empty() {
            anyhow::bail!("no data for `{}`: its leaves {} have no source\nhelp: give their values with --data FILE.csv (or a database), or give each leaf a `source:` on a connection", tree.id(), unsourced.join(", "));
        }
    }
    let mut builder = DataBuilder::new(tree);
    let mut texts = SourceMap::default();
    for (source, file) in sources.files() {
        match file {
            Ok(table) => builder.add_table(table),
            Err(CsvError::Header(d)) => builder.add_problem(d.clone()),
            Err(e @ CsvError::Read(_)) => anyhow::bail!("{e}"),
        }
        // Read again, for quoting lines in diagnostics, only if something is wrong.
        if builder.has_problems() {
            let path = Path::new(source);
            let text = canopy_sources::csv::read_bytes(path).unwrap_or_default();
            texts.insert(path, String::from_utf8_lossy(&text).into());
        }
    }
    let wanted = periods(builder.last_period())?;
    let queried = Queried {
        tree,
        wanted: &wanted,
        settings: sources.settings,
        style,
    };
    let unnamed = leaves_on(tree, None);
    if sources.databases.is_empty() && !unnamed.is_empty() {
        eprintln!("note: `{}` has leaves with SQL sources, but no database was given (--data sqlite://... or postgres://...)", tree.id());
    }
    for url in &sources.databases {
        queried.run(&Database::open(url)?, &unnamed, &mut builder)?;
    }
    for connection in tree.connections().values() {
        let leaves = leaves_on(tree, Some(&connection.name));
        if !leaves.is_empty() {
            let db = crate::connections::open(tree, connection, &leaves)?;
            queried.run(&db, &leaves, &mut builder)?;
        }
    }
    match builder.finish() {
        Ok(data) => Ok(Some((data, wanted))),
        Err(e) => report(e, &texts, style),
    }
}

/// The leaves of `tree` whose queries run on `connection` (`None`: the `--data` databases).
fn leaves_on<'t>(tree: &'t MetricTree, connection: Option<&str>) -> Vec<(MetricId, &'t str)> {
    tree.ids()
        .filter_map(|id| {
            let source = tree.metric(id).source.as_ref()?;
            (source.connection.as_deref() == connection).then_some((id, source.query.as_str()))
        })
        .collect()
}

/// What running a tree's queries on a database needs.
struct Queried<'a> {
    tree: &'a MetricTree,
    wanted: &'a [Period],
    settings: canopy_sources::Settings,
    style: Style,
}

impl Queried<'_> {
    /// Runs `leaves` on `db`, with a progress bar on a terminal; their problems go to
    /// `builder`, failing to connect is an error.
    fn run(
        &self,
        db: &Database,
        leaves: &[(MetricId, &str)],
        builder: &mut DataBuilder<'_>,
    ) -> anyhow::Result<()> {
        let bar = self.style.progress.then(|| Bar::new(self.tree.id()));
        let progress: &dyn Progress = match &bar {
            Some(bar) => bar,
            None => &Quiet,
        };
        let problems = db.load_into(
            self.tree,
            leaves,
            builder,
            self.wanted,
            self.settings,
            progress,
        );
        if let Some(bar) = bar {
            bar.0.finish_and_clear();
        }
        for problem in problems? {
            builder.add_problem(problem);
        }
        Ok(())
    }
}

fn report<T>(
    e: canopy_evaluator::Error,
    texts: &SourceMap,
    style: Style,
) -> anyhow::Result<Option<T>> {
    match e {
        canopy_evaluator::Error::Data { diagnostics } => {
            style.print(&diagnostics, texts);
            let problems = crate::table::plural(diagnostics.len(), "problem");
            eprintln!("error: the data is invalid ({problems})");
            Ok(None)
        }
        other => Err(other.into()),
    }
}

/// Resolves `latest` and `previous` against the data's last period.
pub(crate) fn resolve(
    arg: &PeriodArg,
    last: Option<Period>,
    grain: Grain,
) -> anyhow::Result<Period> {
    match arg {
        PeriodArg::Given(p) => Ok(*p),
        PeriodArg::Previous => Ok(previous_period(grain)),
        PeriodArg::Latest => match last {
            Some(p) => Ok(p),
            // Only databases: the newest period they can hold complete is the previous one.
            None => Ok(previous_period(grain)),
        },
    }
}

/// The data of the period `arg` names and the `back` periods before it, checked to cover
/// that period; with the period.
pub(crate) fn load_period(
    tree: &MetricTree,
    sources: &mut Sources,
    style: Style,
    arg: &str,
    back: u32,
) -> anyhow::Result<Option<(Data, Period)>> {
    let earlier = |p: Period| (1..=back as i32).rev().map(|k| p.offset(-k)).collect();
    load_with(tree, sources, style, arg, earlier)
}

/// The data of the period `arg` names and of the periods `earlier` gives for it (oldest
/// first), checked to cover that period; with the period.
pub(crate) fn load_with(
    tree: &MetricTree,
    sources: &mut Sources,
    style: Style,
    arg: &str,
    earlier: impl Fn(Period) -> Vec<Period>,
) -> anyhow::Result<Option<(Data, Period)>> {
    let arg = PeriodArg::parse(arg, tree.grain())?;
    let loaded = load(tree, sources, style, |last| {
        let p = resolve(&arg, last, tree.grain())?;
        let mut wanted = earlier(p);
        wanted.push(p);
        Ok(wanted)
    })?;
    let Some((data, periods)) = loaded else {
        return Ok(None);
    };
    let period = *periods.last().expect("at least the period itself");
    if let (Some(first), Some(last)) = (data.first(), data.last()) {
        if period < first || period > last {
            anyhow::bail!("the data has no values for {period}; it covers {first} to {last}\nhelp: choose a period from {first} to {last}, or `latest`");
        }
    }
    Ok(Some((data, period)))
}

/// The slice of `data` the `--where` conditions name (all of it without any). A dimension
/// the data lacks, or a value no row has, is an error naming the data files and, on a help
/// line, what they have.
pub(crate) fn sliced(
    data: Data,
    conditions: &[(String, String)],
    sources: &[String],
) -> anyhow::Result<Data> {
    if conditions.is_empty() {
        return Ok(data);
    }
    // Database URLs may hold a password: only files are named.
    let files: Vec<&str> = (sources.iter())
        .filter(|s| !Database::is_url(s))
        .map(String::as_str)
        .collect();
    let data_named = match files.as_slice() {
        [] => "the data".to_string(),
        files => format!("the data ({})", files.join(", ")),
    };
    match data.sliced(&Slice(conditions.to_vec())) {
        Ok(slice) => Ok(slice),
        Err(canopy_evaluator::Error::UnknownDimension { dimension, present }) => {
            let value = (conditions.iter())
                .find(|(d, _)| *d == dimension)
                .map_or("", |(_, v)| v.as_str());
            let help = match present.is_empty() {
                true => "help: the data has no segment columns; --where needs a CSV with columns after period,metric,value (or a leaf query returning a segment and a value)".to_string(),
                false => format!("help: its dimensions: {}", present.join(", ")),
            };
            anyhow::bail!("--where {dimension}={value}: {data_named} has no segment dimension `{dimension}`\n{help}")
        }
        Err(canopy_evaluator::Error::EmptySlice {
            dimension,
            value,
            values,
        }) => anyhow::bail!(
            "--where {dimension}={value}: no rows of {data_named} have {dimension} = {value}\nhelp: its values there: {}",
            values.join(", ")
        ),
        Err(other) => Err(other.into()),
    }
}
