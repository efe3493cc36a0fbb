//! Mean baselines: a period compared with the leaves' mean over the periods before it, laid
//! out as the period before it.

use super::*;

const TREE: &str = "root: r\nmetrics:\n  r: { formula: a / b + m }\n  m: { formula: \"max(a, b) * b\" }\n  a: {}\n  b: {}\n";

/// Weekly rows of `a` and `b` in segments `s0` and `s1` from 2025-W01 for `values.len()`
/// weeks.
fn weekly(values: &[(u32, u32, u32, u32)]) -> String {
    let mut csv = String::from("period,metric,value,seg\n");
    for (k, (a0, b0, a1, b1)) in values.iter().enumerate() {
        let p = week("2025-W01").offset(k as i32);
        csv += &format!("{p},a,{a0},s0\n{p},b,{b0},s0\n{p},a,{a1},s1\n{p},b,{b1},s1\n");
    }
    csv
}

/// A mean baseline averages the leaves, then computes the derived metrics from the means:
/// `r` of the mean is not the mean of `r`. A leaf missing in one of the periods is missing.
#[test]
fn a_mean_baseline_computes_derived_metrics_from_the_leaves_means() {
    let t = tree(TREE);
    let d = data(&t, &weekly(&[(2, 1, 0, 1), (4, 1, 2, 1), (9, 9, 9, 9)])).unwrap();
    let to = week("2025-W03");
    let based = evaluate(&t, &d.mean_before(to, 2));
    let base = |name: &str| based.total(t.find(name).unwrap(), to.previous()).unwrap();
    // a: (2 + 0 + 4 + 2) / 2 = 4, b: (1 + 1 + 1 + 1) / 2 = 2.
    assert_eq!((base("a"), base("b")), (4.0, 2.0));
    assert_eq!(base("r"), 4.0 / 2.0 + 4.0 * 2.0);
    assert_eq!(
        based.total(t.find("r").unwrap(), to).unwrap(),
        1.0 + 18.0 * 18.0
    );
    let missing = data(&t, "period,metric,value\n2025-W01,a,1\n2025-W01,b,1\n2025-W02,b,1\n2025-W03,a,1\n2025-W03,b,1\n").unwrap();
    let based = evaluate(&t, &missing.mean_before(to, 2));
    assert!(based.total(t.find("a").unwrap(), to.previous()).is_err());
    assert_eq!(
        Baseline::Mean(2).against(to),
        Against {
            baseline: Baseline::Mean(2),
            from: week("2025-W01"),
            to: week("2025-W02")
        }
    );
    assert_eq!(Baseline::Mean(2).to_string(), "mean:2");
    // One name each, read back as written.
    for b in [Baseline::Previous, Baseline::Year, Baseline::Mean(7)] {
        assert_eq!(Baseline::parse(&b.to_string()), Ok(b));
    }
    assert!(Baseline::parse("mean:0").is_err());
    assert_eq!(Baseline::parse("year"), Ok(Baseline::Year));
    assert_eq!(Baseline::Year.period(to), Some(week("2024-W03")));
    assert_eq!(Baseline::Mean(2).period(to), None);
}
