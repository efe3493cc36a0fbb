//! The words for what the evaluator says in types: the baseline a period is compared with, how
//! a metric's shares were computed, and why no segment split or slice is named.

use std::borrow::Cow;
use std::sync::OnceLock;

use canopy_engine::{Grain, MetricTree};
use canopy_evaluator::{Against, Baseline, Limit, Method, Slices, Unsplit, MAX_SLICES};

/// The baseline in words: `2025-W47 (the same week a year before)`, `the mean of 2025-W40 to
/// 2025-W47`.
pub fn against(a: &Against, grain: Grain) -> String {
    match a.baseline {
        Baseline::Previous => format!("{} (the previous {grain})", a.from),
        Baseline::Year => format!("{} (the same {grain} a year before)", a.from),
        Baseline::Mean(_) if a.from == a.to => format!("the mean of {}", a.from),
        Baseline::Mean(_) => format!("the mean of {} to {}", a.from, a.to),
    }
}

/// How a metric's shares were computed, with the limit used under its unchanged inputs if one
/// was: `closed form; limit: exact derivative`. Names without a figure in them are made once
/// (an explanation of thousands of metrics names each one's).
pub fn method(m: Method, limit: Option<Limit>) -> Cow<'static, str> {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    const LIMITS: [Option<Limit>; 4] = [
        None,
        Some(Limit::Exact),
        Some(Limit::Kink),
        Some(Limit::Midpoint),
    ];
    const PLAIN: [Method; 4] = [
        Method::Sum,
        Method::Exact,
        Method::Decomposed,
        Method::Gradient,
    ];
    let k = match m {
        Method::Sum | Method::Product => 0,
        Method::Exact => 1,
        Method::Decomposed => 2,
        Method::Gradient => 3,
        Method::Sampled { .. } => return Cow::Owned(method_with(m, limit)),
    };
    let names = NAMES.get_or_init(|| {
        (PLAIN.iter())
            .flat_map(|&m| LIMITS.iter().map(move |&l| method_with(m, l)))
            .collect()
    });
    let l = (LIMITS.iter().position(|&l| l == limit)).expect("every limit is listed");
    Cow::Borrowed(names[k * LIMITS.len() + l].as_str())
}

/// The method's name, then the limit's when there is one.
fn method_with(m: Method, limit: Option<Limit>) -> String {
    let name = match m {
        Method::Sum | Method::Product => "closed form".into(),
        Method::Exact => "enumeration".into(),
        Method::Decomposed => "decomposed".into(),
        Method::Sampled { orders, max_error } => {
            format!("sampled ({orders} orders, max error {max_error:.3e})")
        }
        Method::Gradient => "gradient fallback".into(),
    };
    match limit {
        None => name,
        Some(l) => format!("{name}; {}", limit_name(l)),
    }
}

/// How the limit under an unchanged input was found.
fn limit_name(l: Limit) -> &'static str {
    match l {
        Limit::Exact => "limit: exact derivative",
        Limit::Kink => "limit: kink rule",
        Limit::Midpoint => "limit: derivative at the midpoint (approximate)",
    }
}

/// Why the segments split no change of a metric of `tree` exactly.
pub fn unsplit(why: Unsplit, tree: &MetricTree) -> String {
    match why {
        Unsplit::Sum { metric, period } => format!(
            "the segments' values of `{}` do not add up to its total in {period}, so no exact split exists",
            tree.metric(metric).id
        ),
        Unsplit::UndefinedTotals => "the totals' numerator or denominator is undefined".into(),
        Unsplit::Ratio { period } => format!(
            "the segments' numerators and denominators do not add up to the totals in {period}, so no exact mix/rate split exists"
        ),
    }
}

/// Why no slice is named, in words; `None` when slices were found.
pub fn slices_note(found: &Slices, tree: &MetricTree) -> Option<String> {
    Some(match found {
        Slices::Unsegmented => "the data has no segment dimensions to slice".to_string(),
        Slices::NotAdditive(why) => unsplit(*why, tree),
        Slices::Nothing => "no slice moved beyond the noise of the segments".to_string(),
        Slices::Everywhere => {
            "every segment moved alike: the change is in no slice more than another".to_string()
        }
        Slices::Diffuse => format!(
            "the change is diffuse: no set of {MAX_SLICES} slices or fewer explains most of it"
        ),
        Slices::Found(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_is_named_with_its_limit() {
        let named = |m: Method, l: Option<Limit>| method(m, l).into_owned();
        assert_eq!(named(Method::Product, None), "closed form");
        assert_eq!(
            named(Method::Exact, Some(Limit::Kink)),
            "enumeration; limit: kink rule"
        );
        assert_eq!(
            named(Method::Gradient, Some(Limit::Midpoint)),
            "gradient fallback; limit: derivative at the midpoint (approximate)"
        );
        let sampled = Method::Sampled {
            orders: 256,
            max_error: 0.00125,
        };
        assert_eq!(
            named(sampled, Some(Limit::Exact)),
            "sampled (256 orders, max error 1.250e-3); limit: exact derivative"
        );
    }
}
