//! What the tests of the connections to loopback servers share (`saas.rs`, `warehouses.rs`):
//! the three weeks they read, a tree loaded from text, and a test server process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use canopy_engine::{MemoryFs, MetricTree};
use canopy_evaluator::Period;
use chrono::NaiveDate;
use serde_json::Value;

/// Three weeks: 2026-W45 (from Monday 2 November) to 2026-W47.
pub const WEEKS: [&str; 3] = ["2026-W45", "2026-W46", "2026-W47"];

/// The periods of [`WEEKS`].
pub fn periods() -> Vec<Period> {
    WEEKS
        .iter()
        .map(|w| Period::parse(w, canopy_engine::Grain::Week).unwrap())
        .collect()
}

/// The first day of the data, the Monday of 2026-W45.
pub fn monday() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 2).unwrap()
}

/// Every address is fine: nothing is sent.
struct AnyMailbox;

impl canopy_engine::Mailboxes for AnyMailbox {
    fn address_problem(&self, _: &str) -> Option<String> {
        None
    }

    fn name_problem(&self, _: &str) -> Option<String> {
        None
    }
}

/// The tree written `text`.
pub fn tree_of(text: &str) -> MetricTree {
    let fs = MemoryFs::new().with("t.yaml", text);
    match canopy_engine::load(Path::new("t.yaml"), &fs, &AnyMailbox) {
        Ok(loaded) => loaded.tree,
        Err(e) => panic!("{e:?}"),
    }
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A test server process, killed when dropped, with the folder of its files.
pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `tests/script` with `args`, after writing each of `files` (name, JSON) in `dir`
    /// (`{dir}` in an argument is that folder, where the server's `log.jsonl` goes); waits
    /// until it listens.
    pub fn start(
        script: &str,
        dir: tempfile::TempDir,
        files: &[(&str, &Value)],
        args: &[&str],
    ) -> Server {
        for (name, value) in files {
            std::fs::write(dir.path().join(name), value.to_string()).unwrap();
        }
        let folder = dir.path().to_str().unwrap().to_string();
        let mut child = Command::new("python3")
            .arg(repo().join("tests").join(script))
            .args(args.iter().map(|a| a.replace("{dir}", &folder)))
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("{script} did not start: {line:?}"))
            .parse()
            .unwrap();
        Server { child, port, dir }
    }

    /// The requests the server logged (in `{dir}/log.jsonl`), as JSON.
    pub fn log(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.path().join("log.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}
