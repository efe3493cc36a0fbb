//! Where a tree imported from dbt has moved away from the manifest: each metric marked
//! `# dbt: NAME` is mapped again from the manifest and compared (formula, SQL), and a dbt
//! metric that is gone, or that can no longer be imported, is said so.

use canopy_engine::{formula, MetricTree};

use super::manifest;
use super::plan::{Body, Index};
use super::write::MARKER;
use super::ImportError;

/// One difference between a tree and the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// The tree's metric.
    pub metric: String,
    /// The dbt metric it came from.
    pub dbt: String,
    /// 1-based line of the metric in the tree file.
    pub line: usize,
    /// What differs.
    pub what: String,
}

/// The metrics of `tree_text` marked as coming from dbt: (line, id, dbt metric).
fn marked(tree_text: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    for (n, line) in tree_text.lines().enumerate() {
        let Some((key, dbt)) = line.split_once(MARKER) else {
            continue;
        };
        let id = key.trim().trim_end_matches(':').trim().trim_matches('"');
        let dbt = dbt.trim();
        let ident =
            |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if key.trim_end().ends_with(':') && ident(id) && ident(dbt) {
            out.push((n + 1, id.to_string(), dbt.to_string()));
        }
    }
    out
}

/// A formula as the engine prints it, so spacing and redundant parentheses do not count.
fn canonical(text: &str) -> String {
    formula::parse(text).map_or_else(|_| text.to_string(), |p| p.expr.to_string())
}

/// SQL with runs of whitespace as one space.
fn squeeze(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every difference between `tree` (whose file's text is `tree_text`) and the manifest.
/// The tree's metrics without a `# dbt:` marker are its own and are not compared.
pub fn drift(
    manifest_text: &str,
    manifest_name: &str,
    tree: &MetricTree,
    tree_text: &str,
) -> Result<Vec<Drift>, ImportError> {
    let manifest = manifest::decode(manifest_text, manifest_name)?;
    let index = Index::new(&manifest, tree.grain());
    let mut out = Vec::new();
    for (line, id, dbt) in marked(tree_text) {
        let Some(found) = tree.find(&id) else {
            continue;
        };
        let mut say = |what: String| {
            out.push(Drift {
                metric: id.clone(),
                dbt: dbt.clone(),
                line,
                what,
            })
        };
        let Some(source) = index.metrics.get(dbt.as_str()) else {
            say(format!("dbt metric `{dbt}` is gone from the manifest"));
            continue;
        };
        let mapped = match index.map(source) {
            Ok(mapped) => mapped,
            Err(e) => {
                say(format!(
                    "dbt metric `{dbt}` can no longer be imported: {}",
                    e.message
                ));
                continue;
            }
        };
        let Some(expected) = mapped.metrics.iter().find(|p| p.id == id) else {
            say(format!(
                "dbt metric `{dbt}` no longer makes a metric `{id}`"
            ));
            continue;
        };
        let metric = tree.metric(found);
        match (&expected.body, &metric.formula, &metric.source) {
            (Body::Formula(want), Some(have), _) => {
                if canonical(want) != canonical(have.text()) {
                    say(format!(
                        "the formula is `{}` in the tree and `{want}` in the manifest",
                        have.text()
                    ));
                }
            }
            (Body::Sql(want), None, Some(have)) => {
                if squeeze(want) != squeeze(&have.query) {
                    say(format!(
                        "the SQL differs; the manifest's is: {want}\n  the tree's is: {}",
                        have.query
                    ));
                }
            }
            (Body::Formula(want), None, _) => {
                say(format!("it is a leaf in the tree and the formula `{want}` in the manifest"))
            }
            (Body::Sql(_), _, _) => say(
                "it is a formula or a leaf without SQL in the tree, and a leaf with SQL in the manifest"
                    .to_string(),
            ),
        }
    }
    Ok(out)
}
