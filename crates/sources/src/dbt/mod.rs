//! The dbt semantic layer (MetricFlow) imported as a tree: [`import`] reads the text of
//! `target/semantic_manifest.json` and writes a tree file whose leaves query the semantic
//! models' relations, and [`drift`] says where a tree has moved away from the manifest since.
//! Both are pure: the caller reads and writes the files.

mod drift;
mod manifest;
mod plan;
mod query;
mod write;

use std::collections::BTreeSet;

use canopy_engine::Grain;

pub use drift::{drift, Drift};

use plan::{Index, Planned};

/// A problem with the manifest or the request: nothing is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// What is wrong.
    pub message: String,
    /// What to do about it, one line each.
    pub help: Vec<String>,
}

impl ImportError {
    pub(crate) fn new(message: impl Into<String>) -> ImportError {
        ImportError {
            message: message.into(),
            help: Vec::new(),
        }
    }

    pub(crate) fn help(mut self, line: impl Into<String>) -> ImportError {
        self.help.push(line.into());
        self
    }
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        for line in &self.help {
            write!(f, "\nhelp: {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ImportError {}

/// What to import.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// How messages name the manifest file.
    pub manifest: &'a str,
    /// The root metric: it and every metric it reads.
    pub root: Option<&'a str>,
    /// Or these metrics and every metric they read; one of them must read all the others.
    pub metrics: &'a [String],
    /// The tree's grain, which the leaves' SQL cuts periods by.
    pub grain: Grain,
    /// The name of the connection the leaves query.
    pub connection: &'a str,
    /// The tree's default accountable (an address), for metrics whose dbt metric names no
    /// owner; by default the root's owner.
    pub owner: Option<&'a str>,
}

/// The environment variable the imported connection's URL is read from.
pub const URL_VARIABLE: &str = "WAREHOUSE_URL";

/// The tree file (YAML) for `request`, from the manifest's text.
pub fn import(text: &str, request: &Request<'_>) -> Result<String, ImportError> {
    let manifest = manifest::decode(text, request.manifest)?;
    let index = Index::new(&manifest, request.grain);
    let root = root(&index, request)?;
    let mut planned: Vec<Planned> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut stack = vec![root.clone()];
    stack.extend(request.metrics.iter().rev().cloned());
    // Depth first from the root, inputs in their order, each metric once.
    while let Some(name) = stack.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let mapped = index.map(index.metric(&name)?)?;
        planned.extend(mapped.metrics);
        stack.extend(mapped.inputs.into_iter().rev());
    }
    let ids: BTreeSet<&str> = planned.iter().map(|p| p.id.as_str()).collect();
    if ids.len() != planned.len() {
        let twice = (planned.iter())
            .find(|p| planned.iter().filter(|q| q.id == p.id).count() > 1)
            .map_or("", |p| p.id.as_str());
        return Err(ImportError::new(format!(
            "two metrics would both be called `{twice}` in the tree (an average's `_sum` or `_count` leaf and a dbt metric)"
        ))
        .help("rename one of them in dbt")
        .help(format!("`{twice}` comes from dbt metrics {}", (planned.iter()).filter(|p| p.id == twice).map(|p| format!("`{}`", p.dbt)).collect::<Vec<_>>().join(" and "))));
    }
    let default = default_owner(&planned, &root, request)?;
    let version = (manifest.project_configuration.as_ref())
        .and_then(|c| c.dsi_package_version.as_ref())
        .map(|v| v.text());
    Ok(write::tree(&write::Tree {
        root: &root,
        grain: request.grain,
        connection: request.connection,
        default_owner: &default,
        metrics: &planned,
        version: version.as_deref(),
    }))
}

/// The root: `--root`, or the one of `--metrics` (or of all metrics) that reads every other.
fn root(index: &Index<'_>, request: &Request<'_>) -> Result<String, ImportError> {
    if let Some(root) = request.root {
        index.metric(root)?;
        return Ok(root.to_string());
    }
    let named: Vec<String> = if request.metrics.is_empty() {
        let mut all: Vec<String> = index.metrics.keys().map(|s| s.to_string()).collect();
        all.sort();
        all
    } else {
        request.metrics.to_vec()
    };
    let mut read = BTreeSet::new();
    for name in &named {
        let m = index.metric(name)?;
        read.extend(reads(m));
    }
    let tops: Vec<&String> = named.iter().filter(|n| !read.contains(*n)).collect();
    match tops.as_slice() {
        [one] => Ok((*one).clone()),
        _ => Err(ImportError::new(if request.metrics.is_empty() {
            "a tree has one root, and the manifest has several metrics that no other reads"
                .to_string()
        } else {
            "a tree has one root, and no metric named reads all the others".to_string()
        })
        .help(format!(
            "name the root with --root; candidates: {}",
            tops.iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// The metrics `m` reads directly, whatever its type.
fn reads(m: &manifest::Metric) -> Vec<String> {
    let tp = &m.type_params;
    (tp.numerator.iter())
        .chain(tp.denominator.iter())
        .chain(tp.metrics.iter().flatten())
        .map(|i| i.name.clone())
        .collect()
}

/// The tree's default accountable: `--owner`, or the root's first owner.
fn default_owner(
    planned: &[Planned],
    root: &str,
    request: &Request<'_>,
) -> Result<String, ImportError> {
    if let Some(owner) = request.owner {
        return Ok(owner.to_string());
    }
    let root_owner = (planned.iter())
        .find(|p| p.id == root)
        .and_then(|p| p.owners.as_ref().ok())
        .and_then(|o| o.first());
    match root_owner {
        Some(o) => Ok(o.clone()),
        None => Err(ImportError::new(format!(
            "the root `{root}` names no owner in dbt's meta, so the tree has no default accountable for the metrics without one"
        ))
        .help("give one with --owner EMAIL, or set `meta: { owner: EMAIL }` on the root metric in dbt")),
    }
}

#[cfg(test)]
mod tests;
