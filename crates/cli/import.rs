//! `canopy import dbt`: a tree from dbt's semantic manifest, or with `--check`, where a tree has
//! drifted from it. The mapping is `canopy_sources::dbt`'s; this reads and writes the files.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use canopy_sources::dbt::{self, ImportError, Request};

use crate::args::DbtArgs;
use crate::trees::{self, Style};
use crate::Outcome;

/// The largest manifest read (a project of thousands of metrics is a few MiB).
const MAX_MANIFEST: u64 = 256 << 20;

pub(crate) fn run(args: &DbtArgs, style: Style) -> anyhow::Result<Outcome> {
    let text = read_manifest(&args.manifest)?;
    let name = args.manifest.display().to_string();
    if let Some(tree) = &args.check {
        return check(tree, &text, &name, style);
    }
    let request = Request {
        manifest: &name,
        root: args.root.as_deref(),
        metrics: &args.metrics,
        grain: args.grain.into(),
        connection: &args.connection,
        owner: args.owner.as_deref(),
    };
    let yaml = match dbt::import(&text, &request) {
        Ok(yaml) => yaml,
        Err(e) => return failed(&e),
    };
    match &args.output {
        None => out!("{yaml}")?,
        Some(path) => {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
                        "{} exists, and an imported tree never replaces a file\nhelp: compare it with `canopy import dbt --check {} {name}`, or write elsewhere",
                        path.display(),
                        path.display()
                    ),
                    _ => anyhow::Error::new(e).context(format!("cannot create {}", path.display())),
                })?;
            file.write_all(yaml.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(Outcome::Success)
}

fn read_manifest(path: &Path) -> anyhow::Result<String> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size > MAX_MANIFEST {
        anyhow::bail!(
            "{} is {size} bytes, more than the {} MiB a semantic manifest is read up to",
            path.display(),
            MAX_MANIFEST >> 20
        );
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn failed(e: &ImportError) -> anyhow::Result<Outcome> {
    let mut err = std::io::stderr().lock();
    writeln!(err, "error: {e}")?;
    Ok(Outcome::Failure)
}

/// `--check TREE`: every metric marked as coming from dbt compared with the manifest; exit 1
/// when any has drifted.
fn check(tree: &Path, text: &str, name: &str, style: Style) -> anyhow::Result<Outcome> {
    let Some(loaded) = trees::load(tree, style)? else {
        return Ok(Outcome::Failure);
    };
    let tree_text = loaded.sources.get(tree).unwrap_or_default();
    let found = match dbt::drift(text, name, &loaded.tree, tree_text) {
        Ok(found) => found,
        Err(e) => return failed(&e),
    };
    if found.is_empty() {
        outln!("{}: no drift from {name}", tree.display())?;
        return Ok(Outcome::Success);
    }
    for d in &found {
        outln!(
            "{}:{}: `{}` (dbt metric `{}`): {}",
            tree.display(),
            d.line,
            d.metric,
            d.dbt,
            d.what
        )?;
    }
    let n = found.len();
    outln!(
        "{n} metric{} drifted from {name}\nhelp: edit the tree to match, or import again into a new file and compare",
        if n == 1 { "" } else { "s" }
    )?;
    Ok(Outcome::Failure)
}
