//! dbt metrics mapped to tree metrics: derived to a formula over its inputs (aliases
//! resolved), ratio to `numerator / denominator`, simple to a leaf with SQL (an average to
//! its sum over its count, two leaves), each with the dbt metric it came from.

use std::collections::{BTreeSet, HashMap};

use canopy_engine::formula::{self, BinOp, Expr};
use canopy_engine::Grain;

use super::manifest::{Filter, Manifest, Metric, MetricInput, SemanticModel};
use super::query::{self, Agg, Aggregation};
use super::ImportError;

/// What a tree metric is made of.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Body {
    Formula(String),
    Sql(String),
}

/// One metric of the tree to write.
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    pub(crate) id: String,
    /// The dbt metric it came from.
    pub(crate) dbt: String,
    /// How, in a few words (the comment beside it).
    pub(crate) note: String,
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) body: Body,
    /// `meta.owner`'s addresses (the first accountable), or why there are none.
    pub(crate) owners: Result<Vec<String>, String>,
}

/// A dbt metric's tree metrics, and the dbt metrics it reads.
pub(crate) struct Mapped {
    pub(crate) metrics: Vec<Planned>,
    pub(crate) inputs: Vec<String>,
}

/// The manifest, indexed by name.
pub(crate) struct Index<'a> {
    pub(crate) metrics: HashMap<&'a str, &'a Metric>,
    models: HashMap<&'a str, &'a SemanticModel>,
    pub(crate) grain: Grain,
}

impl<'a> Index<'a> {
    pub(crate) fn new(manifest: &'a Manifest, grain: Grain) -> Index<'a> {
        Index {
            metrics: (manifest.metrics.iter())
                .map(|m| (m.name.as_str(), m))
                .collect(),
            models: (manifest.semantic_models.iter())
                .map(|m| (m.name.as_str(), m))
                .collect(),
            grain,
        }
    }

    /// The metric named `name`, or an error with the closest names.
    pub(crate) fn metric(&self, name: &str) -> Result<&'a Metric, ImportError> {
        self.metrics.get(name).copied().ok_or_else(|| {
            let mut names: Vec<&str> = self.metrics.keys().copied().collect();
            names.sort_unstable();
            let error = ImportError::new(format!("the manifest has no metric `{name}`"));
            match canopy_engine::did_you_mean(name, names.iter().copied()) {
                Some(close) => error.help(format!("did you mean `{close}`?")),
                None => error.help(format!("its metrics are: {}", names.join(", "))),
            }
        })
    }

    /// The tree metrics of the dbt metric `m` (without its inputs).
    pub(crate) fn map(&self, m: &Metric) -> Result<Mapped, ImportError> {
        let refuse = |why: &str, what: &str| {
            ImportError::new(format!(
                "metric `{}` cannot be imported: it is a {} metric{why}",
                m.name, m.kind
            ))
            .help(what.to_string())
        };
        match m.kind.as_str() {
            "simple" => self.simple(m),
            "ratio" => self.ratio(m),
            "derived" => self.derived(m),
            "cumulative" => Err(refuse(
                ", a running total over a window that a tree's periods do not hold",
                "import the simple metric it accumulates instead, or leave it out of --root/--metrics",
            )),
            "conversion" => Err(refuse(
                ", which joins two event streams per entity within a window",
                "compute the conversions in a dbt model and import a ratio of simple metrics over it",
            )),
            _ => Err(refuse(
                "",
                "import metrics of type simple, ratio or derived, which this import knows",
            )),
        }
    }

    fn simple(&self, m: &Metric) -> Result<Mapped, ImportError> {
        let (model, agg_name, expr, time, non_additive, fill) = self.aggregation_of(m)?;
        let agg = Agg::parse(&agg_name).ok_or_else(|| {
            ImportError::new(format!(
                "metric `{}` cannot be imported: it aggregates by `{agg_name}`, which does not add up over periods and segments",
                m.name
            ))
            .help("count, count_distinct, sum, sum_boolean, min, max and average are imported")
        })?;
        if non_additive {
            return Err(ImportError::new(format!(
                "metric `{}` cannot be imported: its measure has a non_additive_dimension (a balance read at one point of each period)",
                m.name
            ))
            .help("compute the period's balance in a dbt model and import a simple metric over it"));
        }
        let conditions = (filters(m.filter.as_ref()).iter())
            .chain(filters(self.measure_filter(m)).iter())
            .map(|t| query::condition(t, model, &m.name))
            .collect::<Result<Vec<_>, _>>()?;
        let aggregation = Aggregation {
            model,
            expr,
            time_dimension: time,
            conditions,
        };
        let owners = owners(m);
        let filtered = if aggregation.conditions.is_empty() {
            String::new()
        } else {
            format!(" where {}", aggregation.conditions.join(" and "))
        };
        let mut note = format!(
            "simple: {} on semantic model {}{filtered}",
            agg.describe(&aggregation.expr),
            model.name
        );
        if let Some(n) = fill {
            note += &format!("; dbt fills periods without rows with {n}, here they have no data");
        }
        let leaf = |id: String, call: String, note: String| -> Result<Planned, ImportError> {
            Ok(Planned {
                id,
                dbt: m.name.clone(),
                note,
                title: None,
                description: None,
                body: Body::Sql(aggregation.sql(&call, self.grain)?),
                owners: owners.clone(),
            })
        };
        if agg == Agg::Average {
            return average(m, &aggregation.expr, note, leaf);
        }
        let mut planned = leaf(m.name.clone(), agg.call(&aggregation.expr), note)?;
        planned.title = m.label.clone();
        planned.description = description(m);
        Ok(Mapped {
            metrics: vec![planned],
            inputs: Vec::new(),
        })
    }

    /// The legacy shape's measure filter (on `type_params.measure`).
    fn measure_filter<'m>(&self, m: &'m Metric) -> Option<&'m Filter> {
        m.type_params
            .measure
            .as_ref()
            .and_then(|i| i.filter.as_ref())
    }

    /// A simple metric's model, agg, expression, time dimension, whether it is semi-additive,
    /// and what dbt fills empty periods with: from its measure, or from itself.
    #[allow(clippy::type_complexity)]
    fn aggregation_of(
        &self,
        m: &Metric,
    ) -> Result<(&'a SemanticModel, String, String, String, bool, Option<i64>), ImportError> {
        let broken = |what: String| {
            ImportError::new(format!("metric `{}` cannot be imported: {what}", m.name))
                .help("run `dbt parse` again: the manifest does not hold together")
        };
        let time_of = |model: &SemanticModel, own: Option<&String>| {
            (own.cloned())
                .or_else(|| model.defaults.as_ref()?.agg_time_dimension.clone())
                .ok_or_else(|| {
                    broken(format!(
                        "semantic model `{}` names no agg time dimension",
                        model.name
                    ))
                })
        };
        let tp = &m.type_params;
        if let Some(params) = &tp.metric_aggregation_params {
            let model =
                (self.models.get(params.semantic_model.as_str()).copied()).ok_or_else(|| {
                    broken(format!(
                        "there is no semantic model `{}`",
                        params.semantic_model
                    ))
                })?;
            let expr = tp.expr.clone().unwrap_or_else(|| m.name.clone());
            let time = time_of(model, params.agg_time_dimension.as_ref())?;
            let non_additive = params
                .non_additive_dimension
                .as_ref()
                .is_some_and(|v| !v.is_null());
            return Ok((
                model,
                params.agg.clone(),
                expr,
                time,
                non_additive,
                tp.fill_nulls_with,
            ));
        }
        let input = (tp.measure.as_ref()).ok_or_else(|| {
            broken("it is simple but has neither a measure nor its own aggregation".into())
        })?;
        let (model, measure) = (self.models.values())
            .find_map(|model| {
                let measure = model.measures.iter().find(|x| x.name == input.name)?;
                Some((*model, measure))
            })
            .ok_or_else(|| {
                broken(format!(
                    "no semantic model has the measure `{}`",
                    input.name
                ))
            })?;
        let expr = measure.expr.clone().unwrap_or_else(|| measure.name.clone());
        let time = time_of(model, measure.agg_time_dimension.as_ref())?;
        let non_additive = measure
            .non_additive_dimension
            .as_ref()
            .is_some_and(|v| !v.is_null());
        Ok((
            model,
            measure.agg.clone(),
            expr,
            time,
            non_additive,
            input.fill_nulls_with,
        ))
    }

    fn ratio(&self, m: &Metric) -> Result<Mapped, ImportError> {
        let tp = &m.type_params;
        let (Some(num), Some(den)) = (&tp.numerator, &tp.denominator) else {
            return Err(ImportError::new(format!(
                "metric `{}` is a ratio without a numerator and a denominator",
                m.name
            ))
            .help("run `dbt parse` again: the manifest does not hold together"));
        };
        plain_metric_filter(m)?;
        for input in [num, den] {
            plain_input(m, input)?;
        }
        Ok(Mapped {
            metrics: vec![self.formula(
                m,
                &format!("ratio: {} over {}", num.name, den.name),
                format!("{} / {}", num.name, den.name),
            )],
            inputs: vec![num.name.clone(), den.name.clone()],
        })
    }

    fn derived(&self, m: &Metric) -> Result<Mapped, ImportError> {
        let tp = &m.type_params;
        let inputs = tp.metrics.as_deref().unwrap_or_default();
        plain_metric_filter(m)?;
        let mut names = HashMap::new();
        for input in inputs {
            plain_input(m, input)?;
            names.insert(
                input.alias.clone().unwrap_or_else(|| input.name.clone()),
                input.name.clone(),
            );
        }
        let text = tp.expr.clone().unwrap_or_default();
        let formula = translate(&text, &names).map_err(|why| {
            ImportError::new(format!(
                "metric `{}` cannot be imported: its expression `{text}` {why}",
                m.name
            ))
            .help("derived metrics are imported when their expression is arithmetic (`+ - * /`, parentheses, numbers) over their inputs")
        })?;
        let mut seen = BTreeSet::new();
        let inputs = (inputs.iter())
            .filter(|i| seen.insert(i.name.clone()))
            .map(|i| i.name.clone())
            .collect();
        Ok(Mapped {
            metrics: vec![self.formula(m, &format!("derived: {text}"), formula)],
            inputs,
        })
    }

    fn formula(&self, m: &Metric, note: &str, formula: String) -> Planned {
        Planned {
            id: m.name.clone(),
            dbt: m.name.clone(),
            note: note.to_string(),
            title: m.label.clone(),
            description: description(m),
            body: Body::Formula(formula),
            owners: owners(m),
        }
    }
}

/// An average as its sum over its count: a formula over two leaves made by `leaf(id, call,
/// note)`.
fn average(
    m: &Metric,
    expr: &str,
    note: String,
    leaf: impl Fn(String, String, String) -> Result<Planned, ImportError>,
) -> Result<Mapped, ImportError> {
    let (sum, count) = (format!("{}_sum", m.name), format!("{}_count", m.name));
    let legs = [
        leaf(
            sum.clone(),
            format!("sum({expr})"),
            format!("the sum in {}", m.name),
        )?,
        leaf(
            count.clone(),
            format!("count({expr})"),
            format!("the count in {}", m.name),
        )?,
    ];
    let top = Planned {
        id: m.name.clone(),
        dbt: m.name.clone(),
        note: format!("{note}: its sum over its count, which add up over segments"),
        title: m.label.clone(),
        description: description(m),
        body: Body::Formula(format!("{sum} / {count}")),
        owners: owners(m),
    };
    Ok(Mapped {
        metrics: [top].into_iter().chain(legs).collect(),
        inputs: Vec::new(),
    })
}

fn description(m: &Metric) -> Option<String> {
    m.description.clone().filter(|d| !d.trim().is_empty())
}

fn filters(filter: Option<&Filter>) -> Vec<String> {
    (filter.iter())
        .flat_map(|f| &f.where_filters)
        .map(|w| w.where_sql_template.clone())
        .collect()
}

/// A ratio's or derived metric's own filter applies to every input: refused for now.
fn plain_metric_filter(m: &Metric) -> Result<(), ImportError> {
    match filters(m.filter.as_ref()).first() {
        None => Ok(()),
        Some(f) => Err(ImportError::new(format!(
            "metric `{}` cannot be imported: it is a {} metric with a filter (`{f}`)",
            m.name, m.kind
        ))
        .help("move the filter onto simple metrics (one per filtered input) and refer to those")),
    }
}

/// An input with an offset or its own filter is not the input metric itself: refused by name.
fn plain_input(m: &Metric, input: &MetricInput) -> Result<(), ImportError> {
    let refuse = |what: String, help: &str| {
        Err(ImportError::new(format!(
            "metric `{}` cannot be imported: its input `{}` {what}",
            m.name, input.name
        ))
        .help(help.to_string()))
    };
    if let Some(w) = &input.offset_window {
        return refuse(
            format!("has offset_window `{} {}` (a value from an earlier period)", w.count, w.granularity),
            "offsets are not imported yet: leave this metric out, and compare periods with `canopy explain`",
        );
    }
    if let Some(g) = &input.offset_to_grain {
        return refuse(
            format!("has offset_to_grain `{g}`"),
            "offsets are not imported yet: leave this metric out, and compare periods with `canopy explain`",
        );
    }
    if let Some(f) = filters(input.filter.as_ref()).first() {
        return refuse(
            format!("has its own filter (`{f}`)"),
            "define the filtered input as a simple metric with that filter, and refer to it",
        );
    }
    Ok(())
}

/// `meta.owner`: an address or a list of them; anything else is said in a comment.
fn owners(m: &Metric) -> Result<Vec<String>, String> {
    let Some(owner) = m.owner() else {
        return Err("no owner in dbt's meta".to_string());
    };
    let list: Vec<&serde_json::Value> = match owner {
        serde_json::Value::Array(items) => items.iter().collect(),
        one => vec![one],
    };
    let addresses: Option<Vec<String>> = (list.iter())
        .map(|v| {
            v.as_str()
                .map(str::trim)
                .filter(|s| s.contains('@'))
                .map(String::from)
        })
        .collect();
    match addresses {
        Some(a) if !a.is_empty() => Ok(a),
        _ => Err(format!("dbt's meta.owner is {owner}, not an email address")),
    }
}

/// A derived metric's SQL expression as a formula, its aliases replaced by metric names.
fn translate(text: &str, names: &HashMap<String, String>) -> Result<String, String> {
    let parsed = formula::parse(text).map_err(|e| format!("is not arithmetic: {}", e.message))?;
    fn walk(e: &Expr, names: &HashMap<String, String>) -> Result<Expr, String> {
        Ok(match e {
            Expr::Num(n) => Expr::Num(*n),
            Expr::Var(v) => Expr::Var(
                names
                    .get(v)
                    .cloned()
                    .ok_or_else(|| format!("names `{v}`, which is not one of its inputs"))?,
            ),
            Expr::Neg(x) => Expr::Neg(Box::new(walk(x, names)?)),
            Expr::Bin(BinOp::Pow, ..) => return Err("uses `^`".into()),
            Expr::Bin(op, l, r) => {
                Expr::Bin(*op, Box::new(walk(l, names)?), Box::new(walk(r, names)?))
            }
            Expr::Call(f, _) => {
                return Err(format!("calls `{}`, whose SQL meaning differs", f.name()))
            }
            Expr::If(..) => return Err("uses `if`".into()),
        })
    }
    Ok(walk(&parsed.expr, names)?.to_string())
}
