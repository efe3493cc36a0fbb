//! Judged changes for people: the document `canopy impact --format json` prints (and `run
//! --format json` repeats for the verdicts it tells), why a change has no verdict (or a weaker
//! one) in words, and where it stands as the table and the stories say it.

use canopy_engine::MetricTree;
use canopy_evaluator::impact::{
    Assessment, Effect, GuardrailReport, Model, PlaceboReport, Reason, RootShare, ShortHistory,
    Span, Stage, Stretch, Tested, Verdict, MAX_MISSING, MIN_BASELINE, MIN_PLACEBOS,
};
use canopy_evaluator::Period;
use serde::Serialize;

/// The document `canopy impact --format json` prints.
#[derive(Serialize)]
pub struct ImpactReport<'a> {
    /// The tree's id.
    pub tree: &'a str,
    /// The version of the tree's definition.
    pub definition: String,
    /// The last complete period the changes were judged as of.
    pub as_of: String,
    /// Each change judged.
    pub changes: Vec<ChangeReport<'a>>,
}

/// The document of the changes `assessed` in `tree`, as of `as_of`.
pub fn impact_report<'a>(
    tree: &'a MetricTree,
    as_of: Period,
    assessed: &'a [Assessment],
) -> ImpactReport<'a> {
    ImpactReport {
        tree: tree.id(),
        definition: tree.version(),
        as_of: as_of.to_string(),
        changes: assessed.iter().map(ChangeReport::of).collect(),
    }
}

/// One judged change as the JSON says it: the assessment's results in a fixed order, the
/// reason in words, and `short_history` only where history was short. The records within
/// (spans, effect, calibration, root share, guardrails) are written as the history keeps them.
#[derive(Serialize)]
pub struct ChangeReport<'a> {
    /// The change's id.
    pub id: &'a str,
    /// Its title.
    pub title: &'a str,
    /// The metric it was meant to move.
    pub metric: &'a str,
    /// The first full period it was live.
    pub shipped: &'a str,
    /// Who answers for it.
    pub owner: &'a str,
    /// Where it stands: `pending`, `not_evaluable` or `evaluated`.
    pub status: Stage,
    /// The verdict, once evaluated.
    pub verdict: Option<Verdict>,
    /// Whether a confirmed effect is smaller than the size expected.
    pub smaller_than_expected: bool,
    /// Why it is pending or cannot be evaluated, or what weakened a verdict, in words.
    pub reason: Option<String>,
    /// How the counterfactual was built, by name.
    pub model: Option<&'a Model>,
    /// The baseline periods.
    pub baseline: &'a Span,
    /// The evaluated periods.
    pub evaluation: &'a Span,
    /// The effect.
    pub effect: Option<&'a Effect>,
    /// Its p-value (an effect the expected way).
    pub p: Option<f64>,
    /// The p-value of an effect the other way.
    pub p_opposite: Option<f64>,
    /// The calibration; `null` with too little history.
    pub placebo: Option<&'a PlaceboReport>,
    /// The smallest relative effect the test would detect.
    pub mde: Option<f64>,
    /// What it means for the root.
    pub root: Option<&'a RootShare>,
    /// Metrics that must not get worse.
    pub guardrails: &'a [GuardrailReport],
    /// Whether the change was registered after it shipped.
    pub post_hoc: bool,
    /// With fewer periods before shipping than a verdict needs: how many more, and the
    /// unverified means before and after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_history: Option<&'a ShortHistory>,
}

impl<'a> ChangeReport<'a> {
    /// The document of `a`.
    pub fn of(a: &'a Assessment) -> ChangeReport<'a> {
        ChangeReport {
            id: &a.id,
            title: &a.title,
            metric: &a.metric,
            shipped: &a.shipped,
            owner: &a.owner,
            status: a.status,
            verdict: a.verdict,
            smaller_than_expected: a.smaller_than_expected,
            reason: a.reason.as_ref().map(reason),
            model: a.model.as_ref(),
            baseline: &a.baseline,
            evaluation: &a.evaluation,
            effect: a.effect.as_ref(),
            p: a.p,
            p_opposite: a.p_opposite,
            placebo: a.placebo.as_ref(),
            mde: a.mde,
            root: a.root.as_ref(),
            guardrails: &a.guardrails,
            post_hoc: a.post_hoc,
            short_history: a.short_history.as_ref(),
        }
    }
}

/// An assessment kept by a document that owns it, written as its [`ChangeReport`].
#[derive(Clone, Debug, PartialEq)]
pub struct ChangeJson(pub Assessment);

impl Serialize for ChangeJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ChangeReport::of(&self.0).serialize(s)
    }
}

/// Where a change stands in words: its stage's name with spaces (`not evaluable`).
pub fn stage(stage: Stage) -> String {
    stage.name().replace('_', " ")
}

/// Why a change is pending or not evaluable, or what weakened its verdict, in words.
pub fn reason(r: &Reason) -> String {
    match r {
        Reason::Pending { ends } => {
            format!("the evaluation window ends with {ends}; verdicts wait for it")
        }
        Reason::NoData => "there is no data".into(),
        Reason::StartsAfter { first } => {
            format!("the data starts with {first}, after the change shipped")
        }
        Reason::EndsBefore { last } => {
            format!("the data ends with {last}, before the evaluation window does")
        }
        Reason::NoDimension { dimension, known } => no_dimension(dimension, known),
        Reason::NoSegment { wanted } => {
            let wanted: Vec<String> = (wanted.iter())
                .map(|(d, v)| format!("{d} = {}", v.join(" or ")))
                .collect();
            format!("the data has no segment with {}", wanted.join(", "))
        }
        Reason::TooShort {
            periods,
            more,
            data_from,
            judged_from,
            verdict_from,
        } => format!(
            "{}, so {more} more: with the data starting from {data_from} or earlier, or for a change shipped from {judged_from} on (its verdict due with {verdict_from})",
            few(*periods)
        ),
        Reason::FewBaseline { periods } => few(*periods),
        Reason::WindowPastData => "the evaluation window is not all in the data".into(),
        Reason::Missing {
            series,
            window,
            share,
        } => missing(*series, *window, *share),
        Reason::TooFewValues => "too few values in the windows to fit the model".into(),
        Reason::NoVariation => "the metric did not vary before it shipped (nor against its control, where it has one), so noise has no scale to judge the effect against".into(),
        Reason::TooLarge => "the metric's values are too large to compare: their spread is beyond the range of numbers".into(),
        Reason::ZeroBefore => "the metric was 0 before it shipped; the effect has no scale".into(),
        Reason::ZeroMean => {
            "the metric averaged 0 before it shipped; an effect relative to it has no scale".into()
        }
        Reason::EffectTooLarge => {
            "the effect is beyond the range of numbers as a share of the metric".into()
        }
        Reason::Uncalibrated { needed } => format!(
            "no verdict without the false-alarm check: it needs {MIN_PLACEBOS} earlier dates where the same windows fit in the data, so at least {needed} periods of data before shipping (with a baseline of {MIN_BASELINE}) and a tenth at most missing in each window"
        ),
        Reason::ControlMoved => {
            "a control moved with the metric, so the effect cannot be told from what moved both"
                .into()
        }
        Reason::Redefined {
            metric,
            period,
            from,
            to,
        } => format!("the definition of `{metric}` (its formula, or one under it) is not what the run for {period} computed, inside the windows from {from} to {to}"),
        Reason::Text(words) => words.clone(),
    }
}

/// Too few periods before shipping for a verdict.
fn few(periods: usize) -> String {
    let s = if periods == 1 { "" } else { "s" };
    format!(
        "the data has {periods} period{s} before shipping; a verdict needs at least {MIN_BASELINE}"
    )
}

/// A segment dimension the data does not have, and those it has.
fn no_dimension(dimension: &str, known: &[String]) -> String {
    let known = match known.is_empty() {
        true => "none".to_string(),
        false => known.join(", "),
    };
    format!("the data has no segment dimension `{dimension}` (its dimensions: {known})")
}

/// Too many values missing in a window of a series.
fn missing(series: Tested, window: Stretch, share: f64) -> String {
    let series = match series {
        Tested::Metric => "metric",
        Tested::Control => "control",
    };
    let window = match window {
        Stretch::Baseline => "baseline",
        Stretch::Evaluation => "evaluation window",
    };
    format!(
        "{:.0}% of the {series}'s values in the {window} are missing (at most {:.0}% may be)",
        share * 100.0,
        MAX_MISSING * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(r: Reason, expected: &str) {
        assert_eq!(reason(&r), expected, "{r:?}");
    }

    #[test]
    fn reasons_are_told_in_the_words_verdicts_have_always_had() {
        check(
            Reason::Pending {
                ends: "2026-W20".into(),
            },
            "the evaluation window ends with 2026-W20; verdicts wait for it",
        );
        check(
            Reason::FewBaseline { periods: 10 },
            "the data has 10 periods before shipping; a verdict needs at least 12",
        );
        check(
            Reason::TooShort {
                periods: 1,
                more: 11,
                data_from: "2025-W40".into(),
                judged_from: "2026-W03".into(),
                verdict_from: "2026-W11".into(),
            },
            "the data has 1 period before shipping; a verdict needs at least 12, so 11 more: with the data starting from 2025-W40 or earlier, or for a change shipped from 2026-W03 on (its verdict due with 2026-W11)",
        );
        check(
            Reason::Missing {
                series: Tested::Metric,
                window: Stretch::Baseline,
                share: 3.0 / 26.0,
            },
            "12% of the metric's values in the baseline are missing (at most 10% may be)",
        );
        check(
            Reason::Missing {
                series: Tested::Control,
                window: Stretch::Evaluation,
                share: 0.5,
            },
            "50% of the control's values in the evaluation window are missing (at most 10% may be)",
        );
        check(
            Reason::NoDimension {
                dimension: "platform".into(),
                known: vec![],
            },
            "the data has no segment dimension `platform` (its dimensions: none)",
        );
        check(
            Reason::NoSegment {
                wanted: vec![
                    ("country".into(), vec!["FR".into(), "DE".into()]),
                    ("plan".into(), vec!["pro".into()]),
                ],
            },
            "the data has no segment with country = FR or DE, plan = pro",
        );
        check(
            Reason::Uncalibrated { needed: 46 },
            "no verdict without the false-alarm check: it needs 19 earlier dates where the same windows fit in the data, so at least 46 periods of data before shipping (with a baseline of 12) and a tenth at most missing in each window",
        );
        check(Reason::Text("as stored".into()), "as stored");
    }

    #[test]
    fn stages_are_named_once() {
        assert_eq!(stage(Stage::NotEvaluable), "not evaluable");
        assert_eq!(stage(Stage::Pending), "pending");
    }
}
