//! A judged change in words: the paragraph `canopy impact` prints and the owner's email holds.

use canopy_engine::{Change, ChangeIn, Good, MetricTree};

use canopy_evaluator::impact::{Assessment, Model, Stage, Verdict};

use crate::format::{percent, signed};

/// A relative effect as its metric's `change:` rule tells it: `+6.1%`, or for a metric told in
/// points, its share of the `baseline` level in points: `+0.25 pts`.
pub fn told(change: ChangeIn, relative: f64, baseline: f64) -> String {
    match change {
        ChangeIn::Points => format!("{} pts", signed(relative * baseline)),
        ChangeIn::Relative => pct(relative),
    }
}

/// A relative effect as a signed percentage: `+6.1%`.
fn pct(x: f64) -> String {
    percent(x * 100.0)
}

/// The paragraph for `a`, the assessment of `change` in `tree`.
pub fn story(tree: &MetricTree, change: &Change, a: &Assessment) -> String {
    let post_hoc = if a.post_hoc {
        " (registered after it shipped: post hoc)"
    } else {
        ""
    };
    let head = match (a.status, a.verdict) {
        (Stage::Evaluated, Some(v)) => v.name().replace('_', " ").to_uppercase(),
        (Stage::Pending, _) => crate::impact::stage(Stage::Pending).to_uppercase(),
        _ => crate::impact::stage(Stage::NotEvaluable).to_uppercase(),
    };
    let mut out = format!("{}{post_hoc}: {head}.", a.id);
    let (Some(effect), Some(p)) = (a.effect, a.p) else {
        if let Some(reason) = &a.reason {
            out += &format!(" {}.", capitalised(&crate::impact::reason(reason)));
        }
        out += &unverified(tree, change, a);
        return out;
    };
    let metric = tree.metric(change.metric);
    let said = |relative: f64| told(metric.change, relative, effect.baseline);
    let moved = match effect.relative >= 0.0 {
        true => format!("rose {}", said(effect.relative)),
        false => format!("fell {}", said(effect.relative).trim_start_matches('-')),
    };
    let expected = match (change.size, change.direction) {
        (Some(size), Good::Up) => format!(" against the expected {}", pct(size)),
        (Some(size), Good::Down) => format!(" against the expected {}", pct(-size)),
        (None, _) => String::new(),
    };
    let grain = tree.grain();
    let baseline = a.baseline_periods;
    out += &format!(
        " {} {moved}{expected} (likely between {} and {}; noise alone would give at least this move {} of the time), {} to {} against the {baseline} {grain}s before, {}.",
        metric.title,
        said(effect.low),
        said(effect.high),
        chance(if a.verdict == Some(Verdict::Opposite) { a.p_opposite.unwrap_or(p) } else { p }),
        a.evaluation.from,
        a.evaluation.to,
        control(a.model.as_ref(), grain),
    );
    out += &calibration(a);
    if let Some(reason) = &a.reason {
        out += &format!(" {}.", capitalised(&crate::impact::reason(reason)));
    }
    out += &root_share(tree, change, a);
    out += &guardrails(tree, change, a);
    out
}

/// For a change with too little history, the plain before and after means, said to be
/// unverified: a reader should not take them for a verdict, since nothing says the move
/// beats noise.
fn unverified(tree: &MetricTree, change: &Change, a: &Assessment) -> String {
    let Some(short) = &a.short_history else {
        return String::new();
    };
    let (Some(before), Some(after)) = (short.before, short.after) else {
        return String::new();
    };
    let metric = tree.metric(change.metric);
    let periods = match short.periods {
        1 => format!("the {} before", tree.grain()),
        n => format!("the {n} {}s before", tree.grain()),
    };
    format!(
        " Unverified (no test, no control, noise not ruled out): {} went {}, from the mean of {periods} shipping to the mean of {} to {}.",
        metric.title,
        crate::format::change(before, after, metric.unit.as_deref(), metric.change),
        a.evaluation.from,
        a.evaluation.to,
    )
}

/// What the false-alarm check found, whether the effect was smaller than expected, and, for
/// an inconclusive verdict, the smallest effect the test could see.
fn calibration(a: &Assessment) -> String {
    let mut out = match &a.placebo {
        Some(placebo) => {
            let passed = (placebo.false_alarm_rate * placebo.dates as f64).round() as usize;
            format!(
                " False-alarm check: {passed} of {} earlier dates would have passed.",
                placebo.dates
            )
        }
        None => " Too little history for the false-alarm check.".to_string(),
    };
    if a.smaller_than_expected {
        out += " The effect is smaller than expected.";
    }
    if matches!(a.verdict, Some(Verdict::Inconclusive)) {
        if let Some(mde) = a.mde {
            out += &format!(
                " Effects under {} could not be told from noise.",
                pct(mde).trim_start_matches('+')
            );
        }
    }
    out
}

/// For a confirmed effect (or a `likely` one, which earlier versions stored), what share of
/// the root's change since shipping it explains (or both moves, where the root moved less or
/// the other way), each move told as the root's `change:` rule says: in points or relative.
fn root_share(tree: &MetricTree, change: &Change, a: &Assessment) -> String {
    let confirmed = matches!(a.verdict, Some(Verdict::Confirmed | Verdict::Likely));
    let Some(root) = a.root.as_ref().filter(|_| confirmed) else {
        return String::new();
    };
    let metric = tree.metric(tree.root());
    let root_title = &metric.title;
    let told = |relative: f64| told(metric.change, relative, root.baseline);
    match (0.0..=1.0).contains(&root.share) {
        true => format!(
            " It explains {:.0}% of the change in {root_title} since it shipped.",
            root.share * 100.0
        ),
        // The change's own metric is the root: its move was told already; say the rest.
        false if tree.root() == change.metric => format!(
            " {root_title} moved {} in all since it shipped.",
            told(root.change)
        ),
        // The root moved less, or the other way: say both moves instead of a share.
        false => format!(
            " It moved {root_title} {} while {root_title} moved {} in all since it shipped.",
            told(root.effect),
            told(root.change)
        ),
    }
}

/// Each guardrail's move and verdict (the assessment has one per guardrail of `change`, in
/// its order).
fn guardrails(tree: &MetricTree, change: &Change, a: &Assessment) -> String {
    let mut out = String::new();
    for (&id, g) in change.guardrails.iter().zip(&a.guardrails) {
        let metric = tree.metric(id);
        debug_assert_eq!(metric.id, g.metric);
        let moved = match (g.relative, g.baseline) {
            (Some(relative), Some(baseline)) => told(metric.change, relative, baseline),
            (Some(relative), None) => pct(relative),
            (None, _) => "no value".to_string(),
        };
        out += &format!(
            " Guardrail {}: {moved}, {}.",
            metric.title,
            g.verdict.name().replace('_', " ")
        );
    }
    out
}

/// The model in words: what the metric was compared with.
fn control(model: Option<&Model>, grain: canopy_engine::Grain) -> String {
    match model {
        Some(Model::Segments { segments }) => {
            let which: Vec<String> = (segments.iter())
                .map(|(d, v)| format!("{d} = {}", v.join(", ")))
                .collect();
            format!("with {} as control", which.join("; "))
        }
        Some(Model::Regression { controls }) => {
            format!("against {} as control", controls.join(", "))
        }
        Some(Model::YearOverYear) => format!("against the same {grain}s a year before"),
        Some(Model::Text(name)) => format!("by the model `{name}`"),
        Some(Model::Level) | None => "against its own level (no control)".to_string(),
    }
}

/// A p-value to two significant digits, as people read them.
/// A p-value in plain words, as a share of the time: `2.9%`, `under 0.1%`.
fn chance(p: f64) -> String {
    if p < 0.001 {
        "under 0.1%".to_string()
    } else {
        format!("{:.1}%", p * 100.0)
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or(String::new(), |c| {
        c.to_uppercase().collect::<String>() + chars.as_str()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use canopy_engine::Grain;

    #[test]
    fn each_model_is_told_as_what_the_metric_was_compared_with() {
        let told = |name: &str| control(Some(&Model::named(name)), Grain::Week);
        assert_eq!(told("level"), "against its own level (no control)");
        assert_eq!(control(None, Grain::Week), told("level"));
        assert_eq!(
            told("year over year"),
            "against the same weeks a year before"
        );
        assert_eq!(told("regression: b, c"), "against b, c as control");
        assert_eq!(
            told("segments: country = FR, DE; plan = pro"),
            "with country = FR, DE; plan = pro as control"
        );
    }
}
