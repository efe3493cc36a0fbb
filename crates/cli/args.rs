//! The command line, as clap types.

use std::path::PathBuf;

use canopy_evaluator::Baseline;
use clap::{Parser, Subcommand, ValueEnum};

/// Metric trees with RACI ownership: validate, evaluate, explain, notify.
#[derive(Debug, Parser)]
#[command(name = "canopy", version, about, max_term_width = 100)]
pub(crate) struct Args {
    // The global options are hidden from clap's lists, which would repeat them in every
    // command's help; `Args::parse_line` lists them once, in `canopy --help`.
    /// When to quote the source line under each diagnostic.
    #[arg(long, global = true, hide = true, value_name = "WHEN", value_enum, default_value_t = When::Auto)]
    pub(crate) snippets: When,

    /// Show no progress bar (one is shown on a terminal while SQL sources are queried).
    #[arg(long, short, global = true, hide = true)]
    pub(crate) quiet: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

impl Args {
    /// Parses the command line. The options that apply to every command are listed once, in
    /// `canopy --help`, from their own definitions; each command's help points there.
    pub(crate) fn parse_line() -> Result<Args, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        let mut command = Args::command();
        let globals = format!("{}\n\n{}", global_options(&command), crate::env::help());
        command = command.after_help(globals.clone()).after_long_help(globals);
        let names: Vec<String> = (command.get_subcommands())
            .map(|c| c.get_name().to_string())
            .collect();
        for name in names {
            command = command.mut_subcommand(name, |c| {
                c.after_help(
                    "Options for every command (--snippets, --quiet): see `canopy --help`.",
                )
            });
        }
        Args::from_arg_matches(&command.try_get_matches()?)
    }
}

/// The options of `command` that apply to every command, as a help section.
fn global_options(command: &clap::Command) -> String {
    let globals: Vec<&clap::Arg> = (command.get_arguments())
        .filter(|a| a.is_global_set())
        .collect();
    let flag = |a: &clap::Arg| {
        let short = a
            .get_short()
            .map_or("    ".to_string(), |s| format!("-{s}, "));
        let value = (a.get_value_names().unwrap_or_default().first())
            .filter(|_| a.get_action().takes_values())
            .map_or(String::new(), |v| format!(" <{v}>"));
        format!("{short}--{}{value}", a.get_long().unwrap_or_default())
    };
    let width = globals.iter().map(|a| flag(a).len()).max().unwrap_or(0);
    let mut out = String::from("Options for every command:\n");
    for a in globals {
        let help = a.get_help().map(ToString::to_string).unwrap_or_default();
        let values: Vec<String> = (a.get_possible_values().iter())
            .map(|v| v.get_name().to_string())
            .collect();
        let default = (a.get_default_values().first())
            .map(|d| d.to_string_lossy().to_string())
            .filter(|_| !values.is_empty());
        let mut line = format!("  {:width$}  {help}", flag(a));
        if let Some(default) = default {
            line += &format!(" [{}; default {default}]", values.join("|"));
        }
        out += &line;
        out.push('\n');
    }
    out.trim_end().to_string()
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Write a starter tree, sample data and the JSON Schema into DIR, to try Canopy on.
    Init {
        /// Where to write them (created if needed); existing files are never overwritten.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Validate tree files; every problem is printed as path:line:col on stderr.
    Check {
        /// Tree files to check.
        #[arg(required = true, value_name = "TREE")]
        trees: Vec<PathBuf>,
        /// Also try each connection the trees name with a trivial read-only request, and say
        /// whether it was reached, authenticated and permitted. Evaluates nothing.
        #[arg(long)]
        connections: bool,
    },
    /// Evaluate every metric of a tree for one period.
    Eval {
        /// The tree file.
        tree: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        slice: SliceArgs,
        /// The period: `latest` (newest in the data), `previous` (the last complete period
        /// before today), or a period of the tree's grain such as 2026-W47.
        #[arg(long, default_value = "latest")]
        period: String,
        /// What each value is compared with: `previous` (the period before, the default),
        /// `year` (the same period a year before; for weeks, the same ISO week) or `mean:N`
        /// (the leaves' mean over the N periods before, derived metrics computed from it).
        #[arg(long, value_name = "BASELINE", value_parser = baseline)]
        against: Option<Baseline>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Explain why a metric changed between two periods, down to its leaves and segments.
    Explain {
        /// The tree file.
        tree: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        slice: SliceArgs,
        /// The earlier period (or give --against).
        #[arg(long, required_unless_present = "against")]
        from: Option<String>,
        /// Explain the change of --to from a baseline instead of --from: `previous`, `year`
        /// (the same period a year before; for weeks, the same ISO week) or `mean:N` (the
        /// leaves' mean over the N periods before --to).
        #[arg(long, value_name = "BASELINE", value_parser = baseline, conflicts_with_all = ["from", "each"])]
        against: Option<Baseline>,
        /// The later period.
        #[arg(long)]
        to: String,
        /// The metric to explain (default: the root).
        #[arg(long)]
        metric: Option<String>,
        /// Explain every consecutive pair of periods from --from to --to.
        #[arg(long)]
        each: bool,
        /// Also name the slices that moved: the fewest conjunctions of dimension values
        /// (`platform=android & country=DE`) that explain the change (docs/slices.md).
        #[arg(long)]
        slices: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// The scheduled run: detect moves, email each accountable owner one digest, record all.
    Run(RunArgs),
    /// Draw a tree: Mermaid or Graphviz text, or with a period's values as a self-contained
    /// HTML report or an SVG picture.
    Render {
        /// The tree file.
        tree: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = RenderFormat::Mermaid)]
        format: RenderFormat,
        /// Where leaf values come from, for `html` and `svg` (as for `canopy eval`).
        #[arg(long = "data", value_name = "SRC")]
        data: Vec<String>,
        /// The period `html` and `svg` show: `latest`, `previous`, or a period of the tree's
        /// grain.
        #[arg(long, default_value = "latest")]
        period: String,
        #[command(flatten)]
        slice: SliceArgs,
    },
    /// Print the JSON Schema of the tree file, for editors.
    Schema,
    /// What the runs of a tree recorded: values, bands, moves, alert state and emails.
    History(HistoryArgs),
    /// Who is accountable, responsible, consulted and informed for what, across trees.
    Owners {
        /// Tree files.
        #[arg(required = true, value_name = "TREE")]
        trees: Vec<PathBuf>,
        /// Only this person (by id).
        #[arg(long)]
        person: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = crate::owners::OwnersFormat::Table)]
        format: crate::owners::OwnersFormat,
    },
    /// What the tree as it is now would have sent, period by period, over a range.
    ///
    /// Each period's run is decided as `canopy run` would, from an empty history at --from:
    /// moves, rules, recipients and subjects, with counts per recipient and per rule. Nothing
    /// is sent or recorded.
    Replay(ReplayArgs),
    /// Send or inspect the emails waiting in the outbox.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// Hold back a metric's alerts until a period: its moves are still detected and recorded,
    /// but nobody is emailed or posted until then; emails that go anyway list it.
    Snooze(SnoozeArgs),
    /// Judge whether the changes registered in a tree moved their metrics.
    Impact {
        /// The tree file.
        tree: PathBuf,
        #[command(flatten)]
        data: DataArgs,
        /// Only this change (by id).
        #[arg(long)]
        change: Option<String>,
        /// The history database, read (if it exists) for when each change was first seen and how
        /// its metric was defined in earlier runs.
        #[arg(long, value_name = "PATH", default_value = ".canopy/canopy.db")]
        db: PathBuf,
        /// The last complete period: `latest` (newest in the data), `previous`, or a period.
        #[arg(long, default_value = "latest")]
        as_of: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Write a tree from metrics defined elsewhere: `canopy import dbt MANIFEST`.
    Import {
        #[command(subcommand)]
        from: ImportFrom,
    },
}

/// Where `canopy import` reads metrics from.
#[derive(Debug, Subcommand)]
pub(crate) enum ImportFrom {
    /// A tree from the dbt semantic layer (MetricFlow): its simple, ratio and derived metrics,
    /// with leaves whose SQL reads the semantic models' tables.
    ///
    /// MANIFEST is the `target/semantic_manifest.json` that `dbt parse` writes. Derived metrics
    /// become formulas over their inputs, ratios `numerator / denominator`, simple metrics
    /// leaves (count, count_distinct, sum, sum_boolean, min, max; an average as its sum over
    /// its count); `meta.owner` becomes the accountable person. Cumulative and conversion
    /// metrics, offsets and filters other than plain comparisons are refused by name. The
    /// leaves run on a connection whose URL is read from WAREHOUSE_URL.
    Dbt(DbtArgs),
}

/// What `canopy import dbt` is asked.
#[derive(Debug, clap::Args)]
pub(crate) struct DbtArgs {
    /// dbt's `target/semantic_manifest.json`.
    pub(crate) manifest: PathBuf,
    /// The root metric: it and every metric it reads are imported.
    #[arg(long, value_name = "METRIC", conflicts_with_all = ["metrics", "check"])]
    pub(crate) root: Option<String>,
    /// These metrics and every metric they read; one of them must read all the others (the
    /// root). Without --root or --metrics, the one metric no other reads.
    #[arg(
        long,
        value_name = "A,B,...",
        value_delimiter = ',',
        conflicts_with = "check"
    )]
    pub(crate) metrics: Vec<String>,
    /// The tree's grain, by which the leaves' SQL cuts periods.
    #[arg(long, value_enum, default_value_t = GrainArg::Week, conflicts_with = "check")]
    pub(crate) grain: GrainArg,
    /// The name of the connection the leaves query (its URL comes from WAREHOUSE_URL).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "warehouse",
        conflicts_with = "check"
    )]
    pub(crate) connection: String,
    /// The tree's default accountable, for metrics whose dbt metric names no owner (default:
    /// the root's owner).
    #[arg(long, value_name = "EMAIL", conflicts_with = "check")]
    pub(crate) owner: Option<String>,
    /// Write the tree to FILE (never replaced if it exists) instead of standard output.
    #[arg(short, long, value_name = "FILE", conflicts_with = "check")]
    pub(crate) output: Option<PathBuf>,
    /// Instead of importing, compare TREE (imported earlier) with the manifest: every metric
    /// whose formula or SQL differs, or whose dbt metric is gone; exits 1 if any.
    #[arg(long, value_name = "TREE")]
    pub(crate) check: Option<PathBuf>,
}

/// A tree's grain on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum GrainArg {
    /// Days.
    Day,
    /// ISO weeks, from Monday.
    Week,
    /// Calendar months.
    Month,
    /// Calendar quarters.
    Quarter,
}

impl From<GrainArg> for canopy_engine::Grain {
    fn from(g: GrainArg) -> canopy_engine::Grain {
        match g {
            GrainArg::Day => canopy_engine::Grain::Day,
            GrainArg::Week => canopy_engine::Grain::Week,
            GrainArg::Month => canopy_engine::Grain::Month,
            GrainArg::Quarter => canopy_engine::Grain::Quarter,
        }
    }
}

/// The outbox commands.
#[derive(Debug, Subcommand)]
pub(crate) enum OutboxCommand {
    /// Send every pending email now (SMTP, or the outbox folder when none is configured).
    Flush {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show pending, failed, uncertain and sent emails; exits 1 when something is stuck.
    Status {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Put failed and uncertain emails back in the outbox and send them (once the address or
    /// the server is fixed). Without --failed or --uncertain, both.
    Retry {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        which: WhichArgs,
    },
    /// Give up on failed and uncertain emails (kept as `discarded`, never sent), such as
    /// those to an address since corrected in the tree. Without --failed or --uncertain, both.
    Discard {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        which: WhichArgs,
    },
}

/// Which failed or uncertain emails a command is about.
#[derive(Debug, clap::Args)]
pub(crate) struct WhichArgs {
    /// Emails the server refused for good (or that could not be composed).
    #[arg(long)]
    pub(crate) failed: bool,
    /// Emails handed over without an acknowledgement (they may have arrived; a copy has the
    /// same Message-ID).
    #[arg(long)]
    pub(crate) uncertain: bool,
    /// Only the emails to this address.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) to: Option<String>,
    /// Only the emails of this tree (its id).
    #[arg(long, value_name = "ID")]
    pub(crate) tree: Option<String>,
}

/// Where the run history and the outbox folder live.
#[derive(Debug, clap::Args)]
pub(crate) struct StoreArgs {
    /// The history database (runs, values, moves, outbox).
    #[arg(long, value_name = "PATH", default_value = ".canopy/canopy.db")]
    pub(crate) db: PathBuf,
    /// Where emails are written as .eml files when no SMTP server is configured.
    #[arg(long, value_name = "DIR", default_value = ".canopy/outbox")]
    pub(crate) outbox: PathBuf,
}

/// What `canopy snooze` is asked.
#[derive(Debug, clap::Args)]
pub(crate) struct SnoozeArgs {
    /// The tree file (with --list, optional: only its snoozes).
    #[arg(required_unless_present = "list", value_name = "TREE")]
    pub(crate) tree: Option<PathBuf>,
    /// The metric's id.
    #[arg(
        required_unless_present = "list",
        conflicts_with = "list",
        value_name = "METRIC"
    )]
    pub(crate) metric: Option<String>,
    /// The first period whose moves are sent again (a period of the tree's grain).
    #[arg(long, value_name = "PERIOD", required_unless_present_any = ["list", "clear"])]
    pub(crate) until: Option<String>,
    /// Why, for whoever sees the held-back moves.
    #[arg(long, value_name = "TEXT", requires = "until")]
    pub(crate) note: Option<String>,
    /// Who snoozes it (default: the login name, `$USER`).
    #[arg(long, value_name = "NAME", requires = "until")]
    pub(crate) by: Option<String>,
    /// List the snoozes: of TREE, or of every tree in the database.
    #[arg(long, conflicts_with_all = ["until", "clear"])]
    pub(crate) list: bool,
    /// End the snooze of METRIC now.
    #[arg(long, conflicts_with = "until")]
    pub(crate) clear: bool,
    /// The history database.
    #[arg(long, value_name = "PATH", default_value = ".canopy/canopy.db")]
    pub(crate) db: PathBuf,
    /// Output format (of --list).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

/// What `canopy history` is asked.
#[derive(Debug, clap::Args)]
pub(crate) struct HistoryArgs {
    /// The tree file.
    pub(crate) tree: PathBuf,
    /// Only this metric.
    #[arg(long)]
    pub(crate) metric: Option<String>,
    /// How many of the latest periods.
    #[arg(long, default_value_t = 8)]
    pub(crate) last: usize,
    /// The runs of one slice (`run --where`), kept apart from the whole tree's.
    #[command(flatten)]
    pub(crate) slice: SliceArgs,
    /// The history database.
    #[arg(long, value_name = "PATH", default_value = ".canopy/canopy.db")]
    pub(crate) db: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

/// What `canopy run` is asked.
#[derive(Debug, clap::Args)]
pub(crate) struct RunArgs {
    /// Tree files.
    #[arg(required = true, value_name = "TREE")]
    pub(crate) trees: Vec<PathBuf>,
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// The period: `latest` (newest in the data), `previous` (the last complete period
    /// before today), or a period of each tree's grain.
    #[arg(long, default_value = "latest")]
    pub(crate) period: String,
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Show what would be sent, without sending or recording anything.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// With --dry-run: write every email that would be sent into DIR, as `.eml` and its
    /// HTML part as `.html`, to read before sending.
    #[arg(long, value_name = "DIR", requires = "dry_run")]
    pub(crate) preview: Option<PathBuf>,
    /// Where each tree's HTML report is written, as TREE/PERIOD.html with an index.html
    /// (default: `report` beside the outbox folder, `.canopy/report`). With
    /// CANOPY_REPORT_URL set to where that folder is served, each email links its page.
    #[arg(long, value_name = "DIR")]
    pub(crate) report: Option<PathBuf>,
    /// Run one slice's tree: its history, emails and report are its own (the tree's id with
    /// `.where.DIM-VALUE`), apart from the whole tree's.
    #[command(flatten)]
    pub(crate) slice: SliceArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

/// What `canopy replay` is asked.
#[derive(Debug, clap::Args)]
pub(crate) struct ReplayArgs {
    /// The tree file.
    pub(crate) tree: PathBuf,
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// The first period replayed.
    #[arg(long)]
    pub(crate) from: String,
    /// The last period replayed.
    #[arg(long)]
    pub(crate) to: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub(crate) format: Format,
}

/// Where leaf values come from.
#[derive(Debug, clap::Args)]
pub(crate) struct DataArgs {
    /// A CSV file (period,metric,value[,segments...]), sqlite://PATH or postgres://URL for the
    /// leaves' SQL sources without a connection. May be given more than once; not needed
    /// when every leaf reads a connection the tree names.
    #[arg(long = "data", value_name = "SRC")]
    pub(crate) sources: Vec<String>,
}

/// Which rows of the data: all, or one slice's.
#[derive(Debug, clap::Args)]
pub(crate) struct SliceArgs {
    /// Only the rows of one slice: DIM=VALUE, a segment column of the data and one of its
    /// values; repeat for several (all must hold). Derived metrics are computed from the
    /// slice's leaves.
    #[arg(long = "where", value_name = "DIM=VALUE", value_parser = condition)]
    pub(crate) conditions: Vec<(String, String)>,
}

/// An `--against` baseline.
fn baseline(text: &str) -> Result<Baseline, String> {
    Baseline::parse(text)
}

/// A `--where` condition, `DIM=VALUE`.
fn condition(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((dim, value)) if !dim.trim().is_empty() => {
            Ok((dim.trim().to_string(), value.trim().to_string()))
        }
        _ => Err(format!(
            "`{text}` is not DIM=VALUE (a segment column of the data, `=`, one of its values)"
        )),
    }
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON document, for programs.
    Json,
}

/// When to do something that suits a terminal.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum When {
    /// When stderr is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// What `canopy render` draws.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum RenderFormat {
    /// A Mermaid flowchart, for Markdown on GitHub and GitLab and for wikis.
    Mermaid,
    /// A Graphviz digraph, for `dot -Tsvg`.
    Dot,
    /// One self-contained page: the tree with values, bands, trends, and each metric's
    /// explanation on a click. Needs `--data`.
    Html,
    /// The same drawing as a static picture, for wikis and docs. Needs `--data`.
    Svg,
}
