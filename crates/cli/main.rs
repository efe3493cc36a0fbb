//! The `canopy` command: parses flags, calls the library crates, prints, and maps failures to
//! documented exit codes.

/// `print!` to standard output that returns an error instead of panicking when the reader has
/// gone away (`canopy eval ... | head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `println!` to standard output that returns an error instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

mod args;
mod check;
mod connections;
mod data;
mod env;
mod eval;
mod explain;
mod history;
mod impact;
mod import;
mod init;
mod mail;
mod outbox;
mod owners;
mod render;
mod replay;
mod report;
mod run;
mod snooze;
mod table;
mod trees;

use std::io::Write;
use std::process::ExitCode;

use crate::args::{Args, Command};

/// Exit code: success.
const SUCCESS: u8 = 0;
/// Exit code: the input is wrong (invalid tree, bad data) or the run failed.
const FAILURE: u8 = 1;
/// Exit code: the command line itself is wrong (clap exits with this too).
const USAGE: u8 = 2;

/// What a command decided: success, or failure that it has already explained on stderr.
pub(crate) enum Outcome {
    Success,
    Failure,
}

fn main() -> ExitCode {
    allocator::configure();
    let args = match Args::parse_line() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { USAGE } else { SUCCESS });
        }
    };
    match run(args) {
        Ok(Outcome::Success) => ExitCode::from(SUCCESS),
        Ok(Outcome::Failure) => ExitCode::from(FAILURE),
        // A reader that stopped reading (`| head`) got what it wanted.
        Err(e) if is_broken_pipe(&e) => ExitCode::from(SUCCESS),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: {e:#}");
            ExitCode::from(FAILURE)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn run(args: Args) -> anyhow::Result<Outcome> {
    let style = trees::Style::new(args.snippets, args.quiet);
    match args.command {
        Command::Check { trees, connections } => check::run(&trees, connections, style),
        Command::Render {
            tree,
            format,
            data,
            period,
            slice,
        } => render::run(&tree, format, (&data, &slice), &period, style),
        Command::Eval {
            tree,
            data,
            slice,
            period,
            against,
            format,
        } => eval::run(&tree, (&data, &slice), (&period, against), format, style),
        Command::Explain {
            tree,
            data,
            slice,
            from,
            against,
            to,
            metric,
            each,
            slices,
            format,
        } => {
            let request = explain::Request {
                from: from.as_deref(),
                against,
                to: &to,
                metric: metric.as_deref(),
                each,
                slices,
                format,
                slice: &slice.conditions,
            };
            explain::run(&tree, &data, request, style)
        }
        Command::Impact {
            tree,
            data,
            change,
            db,
            as_of,
            format,
        } => {
            let request = impact::Request {
                change: change.as_deref(),
                db: &db,
                as_of: &as_of,
                format,
            };
            impact::run(&tree, &data, request, style)
        }
        Command::Import {
            from: args::ImportFrom::Dbt(args),
        } => import::run(&args, style),
        Command::Run(args) => run::run(&args, style),
        Command::Replay(args) => replay::run(&args, style),
        Command::Outbox { command } => outbox::run(&command),
        Command::Init { dir } => init::run(&dir),
        Command::History(args) => history::run(&args, style),
        Command::Snooze(args) => snooze::run(&args, style),
        Command::Owners {
            trees,
            person,
            format,
        } => owners::run(&trees, person.as_deref(), format, style),
        Command::Schema => {
            let schema = serde_json::to_string_pretty(&canopy_engine::json_schema())?;
            outln!("{schema}")?;
            Ok(Outcome::Success)
        }
    }
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's settings.
mod allocator {
    /// `mi_option_purge_delay` in mimalloc's `mi_option_e` (v3): how long freed memory stays
    /// committed before it is returned to the system, in milliseconds.
    pub(crate) const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

    /// The purge delay used, in milliseconds: mimalloc v2's default.
    pub(crate) const PURGE_AFTER_MS: std::ffi::c_long = 10;

    /// Returns freed memory to the system after 10 ms rather than after v3's default of a
    /// second: a run is shorter than that, so otherwise every page it ever freed stays
    /// resident, and its peak is the sum of its phases instead of the largest.
    pub(crate) fn configure() {
        // SAFETY: setting an option is allowed at any time; it takes a plain integer.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, PURGE_AFTER_MS) }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_purge_delay_is_the_option_set() {
            // SAFETY: reading and setting options takes plain integers.
            let get = || unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
            // Option 15 is the purge delay: its documented default in mimalloc v3 is 1000 ms.
            assert_eq!(get(), 1000);
            configure();
            assert_eq!(get(), PURGE_AFTER_MS);
        }
    }
}
