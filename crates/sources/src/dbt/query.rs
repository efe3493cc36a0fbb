//! A simple metric's aggregation as the SQL of a leaf: the range form, one row per period
//! with a `period` column, over the semantic model's relation and bounded by its agg time
//! dimension. A filter in MetricFlow's `{{ Dimension('entity__name') }}` form becomes a
//! `where` condition when it is a plain comparison on the model's own dimensions.

use canopy_engine::Grain;

use super::manifest::SemanticModel;
use super::ImportError;

/// What a simple metric aggregates, from its measure or (newer manifests) from itself.
pub(crate) struct Aggregation<'a> {
    pub(crate) model: &'a SemanticModel,
    /// The aggregated SQL expression (the measure's `expr`, or its name).
    pub(crate) expr: String,
    /// The time dimension periods are cut by.
    pub(crate) time_dimension: String,
    /// `where` conditions already translated to SQL.
    pub(crate) conditions: Vec<String>,
}

/// An aggregate function Canopy can sum over segments and periods as a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Agg {
    Count,
    CountDistinct,
    Sum,
    SumBoolean,
    Min,
    Max,
    /// Imported as the sum over the count, two leaves.
    Average,
}

impl Agg {
    /// MetricFlow's `agg`, or `None` for the ones not imported (percentile, median).
    pub(crate) fn parse(agg: &str) -> Option<Agg> {
        Some(match agg {
            "count" => Agg::Count,
            "count_distinct" => Agg::CountDistinct,
            "sum" => Agg::Sum,
            "sum_boolean" => Agg::SumBoolean,
            "min" => Agg::Min,
            "max" => Agg::Max,
            "average" => Agg::Average,
            _ => return None,
        })
    }

    /// How MetricFlow's aggregation reads, for comments: `average(amount)`.
    pub(crate) fn describe(self, expr: &str) -> String {
        match self {
            Agg::Average => format!("average({expr})"),
            Agg::SumBoolean => format!("sum_boolean({expr})"),
            _ => self.call(expr),
        }
    }

    /// The SQL aggregate over `expr`; an average is its sum here (the count is its other leaf).
    pub(crate) fn call(self, expr: &str) -> String {
        match self {
            Agg::Count => format!("count({expr})"),
            Agg::CountDistinct => format!("count(distinct {expr})"),
            Agg::Sum | Agg::Average => format!("sum({expr})"),
            Agg::SumBoolean => format!("sum(case when {expr} then 1 else 0 end)"),
            Agg::Min => format!("min({expr})"),
            Agg::Max => format!("max({expr})"),
        }
    }
}

/// The `date_trunc` unit of a grain.
fn unit(grain: Grain) -> &'static str {
    match grain {
        Grain::Day => "day",
        Grain::Week => "week",
        Grain::Month => "month",
        Grain::Quarter => "quarter",
    }
}

/// `expr` as an operand: a column name stays bare, anything else is parenthesised.
fn operand(expr: &str) -> String {
    let bare = expr
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '"');
    if bare {
        expr.to_string()
    } else {
        format!("({expr})")
    }
}

impl Aggregation<'_> {
    /// The time dimension's SQL: its `expr`, or its name as a column.
    fn time_column(&self) -> Result<String, ImportError> {
        let dimension = (self.model.dimensions.iter())
            .find(|d| d.name == self.time_dimension)
            .ok_or_else(|| {
                ImportError::new(format!(
                    "semantic model `{}` has no dimension `{}`, its agg time dimension",
                    self.model.name, self.time_dimension
                ))
                .help("run `dbt parse` again: the manifest does not hold together")
            })?;
        Ok(operand(
            dimension.expr.as_deref().unwrap_or(&dimension.name),
        ))
    }

    /// The leaf's SQL for `call` (an aggregate over the expression).
    pub(crate) fn sql(&self, call: &str, grain: Grain) -> Result<String, ImportError> {
        let time = self.time_column()?;
        let mut filters = vec![format!("{time} >= {{start}}"), format!("{time} < {{end}}")];
        filters.extend(self.conditions.iter().cloned());
        Ok(format!(
            "select date_trunc('{}', {time}) as period, {call} from {} where {} group by 1",
            unit(grain),
            self.model.node_relation.sql(),
            filters.join(" and ")
        ))
    }
}

/// A token of a filter once its `{{ Dimension(...) }}` calls are replaced.
#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// A dimension, as its SQL.
    Column(String),
    /// A string, number or boolean literal, as written.
    Literal(String),
    /// A comparison operator.
    Op(String),
    Word(String),
    Open,
    Close,
    Comma,
}

/// Translates one `where_sql_template` of `metric` on `model` to a SQL condition.
pub(crate) fn condition(
    template: &str,
    model: &SemanticModel,
    metric: &str,
) -> Result<String, ImportError> {
    let refuse = |why: String| {
        ImportError::new(format!(
            "the filter of metric `{metric}` cannot be imported: {why}"
        ))
        .help(format!("the filter is `{template}`"))
        .help(
            "a filter is imported when it compares dimensions of the metric's own semantic model \
             with literals: `{{ Dimension('entity__name') }} = 'value'`, `<>`, `<`, `in (...)`, \
             `is [not] null`, joined by `and`; write other filters into the model's SQL, or edit \
             the leaf's SQL after importing the rest",
        )
    };
    let tokens = tokens(template, model).map_err(refuse)?;
    let mut out = Vec::new();
    let mut rest = &tokens[..];
    loop {
        let (text, after) = comparison(rest).map_err(refuse)?;
        out.push(text);
        match after.split_first() {
            None => break,
            Some((Tok::Word(w), after)) if w == "and" => rest = after,
            Some((t, _)) => return Err(refuse(format!("`{}` joins comparisons", show(t)))),
        }
    }
    Ok(if out.len() == 1 {
        out.remove(0)
    } else {
        format!("({})", out.join(" and "))
    })
}

fn show(t: &Tok) -> String {
    match t {
        Tok::Column(s) | Tok::Literal(s) | Tok::Op(s) | Tok::Word(s) => s.clone(),
        Tok::Open => "(".into(),
        Tok::Close => ")".into(),
        Tok::Comma => ",".into(),
    }
}

/// One comparison at the start of `toks`, as SQL, and the tokens after it.
fn comparison(toks: &[Tok]) -> Result<(String, &[Tok]), String> {
    let word = |t: Option<&Tok>, w: &str| matches!(t, Some(Tok::Word(x)) if x == w);
    let Some((Tok::Column(column), rest)) = toks.split_first() else {
        return Err(match toks.first() {
            Some(t) => format!("`{}` is not a dimension of the model", show(t)),
            None => "a comparison is missing".into(),
        });
    };
    match rest {
        [Tok::Op(op), Tok::Literal(value), after @ ..] => {
            Ok((format!("{column} {op} {value}"), after))
        }
        [Tok::Word(is), after @ ..] if is == "is" => {
            let (not, after) = match after.first() {
                t if word(t, "not") => (" not", &after[1..]),
                _ => ("", after),
            };
            match after.split_first() {
                Some((t, after)) if word(Some(t), "null") => {
                    Ok((format!("{column} is{not} null"), after))
                }
                _ => Err("`is` is not followed by `null` or `not null`".into()),
            }
        }
        [first, ..] if word(Some(first), "in") || word(Some(first), "not") => {
            let (not, after) = if word(Some(first), "not") {
                match rest.get(1) {
                    t if word(t, "in") => (" not", &rest[2..]),
                    _ => return Err("`not` is not followed by `in`".into()),
                }
            } else {
                ("", &rest[1..])
            };
            in_list(column, not, after)
        }
        _ => Err(format!(
            "`{}` is not compared with a literal",
            rest.first().map_or(column.clone(), show)
        )),
    }
}

fn in_list<'t>(column: &str, not: &str, toks: &'t [Tok]) -> Result<(String, &'t [Tok]), String> {
    let Some((Tok::Open, mut rest)) = toks.split_first() else {
        return Err("`in` is not followed by a list".into());
    };
    let mut values = Vec::new();
    loop {
        match rest {
            [Tok::Literal(v), Tok::Comma, after @ ..] => {
                values.push(v.clone());
                rest = after;
            }
            [Tok::Literal(v), Tok::Close, after @ ..] => {
                values.push(v.clone());
                return Ok((format!("{column}{not} in ({})", values.join(", ")), after));
            }
            _ => return Err("an `in` list holds something other than literals".into()),
        }
    }
}

/// The tokens of a filter, its `{{ Dimension('entity__name') }}` calls resolved against the
/// model's dimensions.
fn tokens(template: &str, model: &SemanticModel) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = template.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let rest: String = chars[i..].iter().collect();
        if c.is_whitespace() {
            i += 1;
        } else if rest.starts_with("{{") {
            let end = rest.find("}}").ok_or("a `{{` is not closed")?;
            out.push(Tok::Column(dimension(&rest[2..end], model)?));
            i += rest[..end + 2].chars().count();
        } else if c == '\'' {
            let mut j = i + 1;
            loop {
                match chars.get(j) {
                    None => return Err("a string is not closed".into()),
                    Some('\'') if chars.get(j + 1) == Some(&'\'') => j += 2,
                    Some('\'') => break,
                    Some(_) => j += 1,
                }
            }
            out.push(Tok::Literal(chars[i..=j].iter().collect()));
            i = j + 1;
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let len = 1 + chars[i + 1..]
                .iter()
                .take_while(|d| d.is_ascii_digit() || **d == '.')
                .count();
            out.push(Tok::Literal(chars[i..i + len].iter().collect()));
            i += len;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let len = chars[i..]
                .iter()
                .take_while(|d| d.is_ascii_alphanumeric() || **d == '_')
                .count();
            let word: String = chars[i..i + len].iter().collect::<String>().to_lowercase();
            out.push(match word.as_str() {
                "true" | "false" => Tok::Literal(word),
                "and" | "is" | "not" | "null" | "in" => Tok::Word(word),
                _ => {
                    return Err(format!(
                        "`{word}` is not a dimension call, literal or `and`"
                    ))
                }
            });
            i += len;
        } else {
            let op = ["<>", "!=", "<=", ">=", "=", "<", ">"]
                .into_iter()
                .find(|op| rest.starts_with(op));
            match (op, c) {
                (Some(op), _) => {
                    out.push(Tok::Op(op.to_string()));
                    i += op.len();
                }
                (None, '(') => (out.push(Tok::Open), i += 1).1,
                (None, ')') => (out.push(Tok::Close), i += 1).1,
                (None, ',') => (out.push(Tok::Comma), i += 1).1,
                (None, c) => return Err(format!("`{c}` has no translation")),
            }
        }
    }
    Ok(out)
}

/// The SQL of `Dimension('entity__name')` (the inside of `{{ }}`) on `model`: the model's own
/// dimension, reached through its primary entity.
fn dimension(call: &str, model: &SemanticModel) -> Result<String, String> {
    let call = call.trim();
    let name = (call.strip_prefix("Dimension("))
        .and_then(|c| c.strip_suffix(')'))
        .map(|a| a.trim())
        .and_then(|a| {
            (a.strip_prefix('\'').and_then(|a| a.strip_suffix('\'')))
                .or_else(|| a.strip_prefix('"').and_then(|a| a.strip_suffix('"')))
        })
        .ok_or_else(|| format!("`{{{{ {call} }}}}` is not a plain `Dimension('entity__name')`"))?;
    let (entity, dim) = name
        .rsplit_once("__")
        .ok_or_else(|| format!("`{name}` does not name its entity (`entity__{name}`)"))?;
    let own = (model.entities.iter())
        .filter(|e| matches!(e.kind.as_str(), "primary" | "unique" | "natural"))
        .map(|e| e.name.as_str())
        .chain(model.primary_entity.as_deref());
    if entity.contains("__") || !own.into_iter().any(|e| e == entity) {
        return Err(format!(
            "`{name}` is reached through entity `{entity}`, not semantic model `{}`'s own (a join)",
            model.name
        ));
    }
    let found = (model.dimensions.iter())
        .find(|d| d.name == dim)
        .ok_or_else(|| format!("semantic model `{}` has no dimension `{dim}`", model.name))?;
    if found.kind != "categorical" {
        return Err(format!(
            "`{dim}` is a {} dimension (only categorical ones are compared here)",
            found.kind
        ));
    }
    Ok(operand(found.expr.as_deref().unwrap_or(&found.name)))
}
