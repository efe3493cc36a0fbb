//! `semantic_manifest.json` as `dbt parse` writes it, decoded with serde. Only the fields the
//! import reads are declared; dbt adds fields from version to version, and unknown ones are
//! ignored. Both shapes are read: simple metrics over a semantic model's `measures` (dbt 1.6
//! to 1.11), and simple metrics that carry their own aggregation
//! (`type_params.metric_aggregation_params` and `type_params.expr`, dbt 1.12 and later).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ImportError;

/// The newest minor version of dbt-semantic-interfaces (major version 0) whose manifests are
/// known to decode as declared here.
pub(crate) const NEWEST_MINOR: u32 = 10;

/// The whole file.
#[derive(Debug, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) semantic_models: Vec<SemanticModel>,
    pub(crate) metrics: Vec<Metric>,
    #[serde(default)]
    pub(crate) project_configuration: Option<ProjectConfiguration>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ProjectConfiguration {
    #[serde(default)]
    pub(crate) dsi_package_version: Option<Version>,
}

/// The version of dbt-semantic-interfaces that wrote the manifest (numbers as strings).
#[derive(Debug, Deserialize)]
pub(crate) struct Version {
    pub(crate) major_version: String,
    pub(crate) minor_version: String,
    #[serde(default)]
    pub(crate) patch_version: Option<String>,
}

impl Version {
    pub(crate) fn text(&self) -> String {
        match &self.patch_version {
            Some(p) => format!("{}.{}.{p}", self.major_version, self.minor_version),
            None => format!("{}.{}", self.major_version, self.minor_version),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct SemanticModel {
    pub(crate) name: String,
    pub(crate) node_relation: NodeRelation,
    #[serde(default)]
    pub(crate) defaults: Option<Defaults>,
    #[serde(default)]
    pub(crate) primary_entity: Option<String>,
    #[serde(default)]
    pub(crate) entities: Vec<Entity>,
    #[serde(default)]
    pub(crate) measures: Vec<Measure>,
    #[serde(default)]
    pub(crate) dimensions: Vec<Dimension>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NodeRelation {
    pub(crate) alias: String,
    pub(crate) schema_name: String,
    #[serde(default)]
    pub(crate) database: Option<String>,
    #[serde(default)]
    pub(crate) relation_name: Option<String>,
}

impl NodeRelation {
    /// The relation as SQL names it: `relation_name` as dbt rendered it for the warehouse, or
    /// the quoted parts when the manifest has none.
    pub(crate) fn sql(&self) -> String {
        if let Some(name) = self.relation_name.as_deref().filter(|n| !n.is_empty()) {
            return name.to_string();
        }
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut parts: Vec<String> = self.database.iter().map(|d| quote(d)).collect();
        parts.push(quote(&self.schema_name));
        parts.push(quote(&self.alias));
        parts.join(".")
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Defaults {
    #[serde(default)]
    pub(crate) agg_time_dimension: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Entity {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Measure {
    pub(crate) name: String,
    pub(crate) agg: String,
    #[serde(default)]
    pub(crate) expr: Option<String>,
    #[serde(default)]
    pub(crate) agg_time_dimension: Option<String>,
    #[serde(default)]
    pub(crate) non_additive_dimension: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Dimension {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) expr: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Metric {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) type_params: TypeParams,
    #[serde(default)]
    pub(crate) filter: Option<Filter>,
    #[serde(default)]
    pub(crate) label: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) config: Option<Config>,
    /// dbt 1.6 and 1.7 kept `meta` beside the metric rather than in its config.
    #[serde(default)]
    pub(crate) meta: Option<BTreeMap<String, serde_json::Value>>,
}

impl Metric {
    /// `meta.owner`, from the config or the metric itself.
    pub(crate) fn owner(&self) -> Option<&serde_json::Value> {
        let config = self.config.as_ref().and_then(|c| c.meta.as_ref());
        (config.and_then(|m| m.get("owner")))
            .or_else(|| self.meta.as_ref().and_then(|m| m.get("owner")))
            .filter(|v| !v.is_null())
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Config {
    #[serde(default)]
    pub(crate) meta: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filter {
    #[serde(default)]
    pub(crate) where_filters: Vec<WhereFilter>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WhereFilter {
    pub(crate) where_sql_template: String,
}

/// A window such as `1 week` (offsets, cumulative and conversion windows).
#[derive(Debug, Deserialize)]
pub(crate) struct Window {
    pub(crate) count: i64,
    pub(crate) granularity: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TypeParams {
    /// Legacy shape: the measure a simple metric aggregates.
    #[serde(default)]
    pub(crate) measure: Option<InputMeasure>,
    #[serde(default)]
    pub(crate) numerator: Option<MetricInput>,
    #[serde(default)]
    pub(crate) denominator: Option<MetricInput>,
    /// A derived metric's expression; in the newer shape, a simple metric's aggregated
    /// expression too.
    #[serde(default)]
    pub(crate) expr: Option<String>,
    #[serde(default)]
    pub(crate) metrics: Option<Vec<MetricInput>>,
    /// Newer shape: a simple metric's own aggregation.
    #[serde(default)]
    pub(crate) metric_aggregation_params: Option<AggregationParams>,
    #[serde(default)]
    pub(crate) fill_nulls_with: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InputMeasure {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) filter: Option<Filter>,
    #[serde(default)]
    pub(crate) fill_nulls_with: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MetricInput {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) filter: Option<Filter>,
    #[serde(default)]
    pub(crate) alias: Option<String>,
    #[serde(default)]
    pub(crate) offset_window: Option<Window>,
    #[serde(default)]
    pub(crate) offset_to_grain: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AggregationParams {
    pub(crate) semantic_model: String,
    pub(crate) agg: String,
    #[serde(default)]
    pub(crate) agg_time_dimension: Option<String>,
    #[serde(default)]
    pub(crate) non_additive_dimension: Option<serde_json::Value>,
}

/// Decodes the manifest's text, refusing other files and versions not known to decode as
/// declared here. `name` is how messages call the file.
pub(crate) fn decode(text: &str, name: &str) -> Result<Manifest, ImportError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        ImportError::new(format!(
            "{name}:{}:{}: the manifest is not JSON: {e}",
            e.line(),
            e.column()
        ))
        .help("give the `target/semantic_manifest.json` that `dbt parse` writes")
    })?;
    check_version(&value, name)?;
    if value.get("nodes").is_some() && value.get("semantic_models").is_none() {
        return Err(ImportError::new(format!(
            "{name} is dbt's project manifest (manifest.json), not its semantic manifest"
        ))
        .help("give `target/semantic_manifest.json`, which `dbt parse` writes beside it"));
    }
    serde_json::from_value(value).map_err(|e| {
        ImportError::new(format!(
            "{name} is not a semantic manifest of a known shape: {e}"
        ))
        .help("give the `target/semantic_manifest.json` that `dbt parse` writes (dbt 1.6 or later)")
    })
}

/// A manifest written by a dbt-semantic-interfaces newer than this import knows is refused,
/// rather than read by guesswork.
fn check_version(value: &serde_json::Value, name: &str) -> Result<(), ImportError> {
    let Some(version) = value
        .pointer("/project_configuration/dsi_package_version")
        .filter(|v| !v.is_null())
    else {
        return Ok(());
    };
    let version: Version = serde_json::from_value(version.clone()).map_err(|e| {
        ImportError::new(format!(
            "{name}: `project_configuration.dsi_package_version` is not a version: {e}"
        ))
        .help("give the `target/semantic_manifest.json` that `dbt parse` writes")
    })?;
    let minor = version.minor_version.parse::<u32>().ok();
    if version.major_version != "0" || minor.is_none_or(|m| m > NEWEST_MINOR) {
        return Err(ImportError::new(format!(
            "{name} was written by dbt-semantic-interfaces {}, a version this import does not know",
            version.text()
        ))
        .help(format!(
            "manifests of dbt-semantic-interfaces 0.1 to 0.{NEWEST_MINOR} (dbt 1.6 to 1.12) are read; \
             a newer manifest may describe metrics differently, so it is refused rather than guessed"
        )));
    }
    Ok(())
}
