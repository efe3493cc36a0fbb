//! One slice of the data: the tree evaluated on the rows of the segments that meet every
//! condition, with derived metrics computed from the slice's leaves.

use super::*;

const SLICED: &str = "root: r\nmetrics:\n  r: { formula: a / b + m }\n  m: { formula: \"max(a, b)\" }\n  a: {}\n  b: {}\n";

proptest! {
    /// `sliced` is the tree evaluated on the slice's rows written as data of their own:
    /// every metric, period and status alike, bit for bit.
    #[test]
    fn a_slice_is_the_tree_on_the_filtered_rows(
        rows in prop::collection::vec((0usize..2, 0usize..3, 0i32..3, 0usize..2, 0u32..20), 1..30),
        conditions in prop::collection::vec((0usize..2, 0usize..3), 1..3),
    ) {
        let t = tree(SLICED);
        let (platforms, plans) = (["ios", "web"], ["free", "pro", "team"]);
        let mut seen = std::collections::HashSet::new();
        let line = |(p, q, w, leaf, v): (usize, usize, i32, usize, u32)| {
            format!("{},{},{v},{},{}\n", week("2026-W10").offset(w), ["a", "b"][leaf], platforms[p], plans[q])
        };
        // One row per (platform, plan, week, leaf): a repeated one is an error of its own.
        let rows: Vec<_> = rows.into_iter().filter(|r| seen.insert((r.0, r.1, r.2, r.3))).collect();
        let header = "period,metric,value,platform,plan\n";
        let all: String = rows.iter().map(|&r| line(r)).collect();
        let slice = Slice(conditions.iter().map(|&(d, v)| match d {
            0 => ("platform".to_string(), platforms[v % 2].to_string()),
            _ => ("plan".to_string(), plans[v].to_string()),
        }).collect());
        let keep = |r: &(usize, usize, i32, usize, u32)| slice.0.iter().all(|(d, v)| match d.as_str() {
            "platform" => platforms[r.0] == v,
            _ => plans[r.1] == v,
        });
        let whole = data(&t, &format!("{header}{all}")).unwrap();
        let sliced = whole.sliced(&slice);
        let kept: String = rows.iter().filter(|r| keep(r)).map(|&r| line(r)).collect();
        prop_assume!(!kept.is_empty());
        let sliced = sliced.unwrap();
        let filtered = data(&t, &format!("{header}{kept}")).unwrap();
        let (a, b) = (evaluate(&t, &sliced), evaluate(&t, &filtered));
        prop_assert_eq!(a.slice(), &slice);
        let (first, last) = (filtered.first().unwrap(), filtered.last().unwrap());
        for k in 0..=last.since(first) {
            let p = first.offset(k);
            for id in t.ids() {
                let (x, y) = (a.total(id, p), b.total(id, p));
                prop_assert_eq!(x.map(f64::to_bits), y.map(f64::to_bits), "{} in {}", t.metric(id).id, p);
            }
        }
    }
}

#[test]
fn a_slice_names_what_the_data_lacks() {
    let t = tree(SLICED);
    let d = data(
        &t,
        "period,metric,value,platform\n2026-W10,a,1,ios\n2026-W10,b,2,web\n",
    )
    .unwrap();
    let condition = |d: &str, v: &str| Slice(vec![(d.to_string(), v.to_string())]);
    match d.sliced(&condition("plan", "pro")) {
        Err(Error::UnknownDimension { dimension, present }) => {
            assert_eq!(
                (dimension.as_str(), present),
                ("plan", vec!["platform".to_string()])
            )
        }
        other => panic!("{other:?}"),
    }
    match d.sliced(&condition("platform", "android")) {
        Err(Error::EmptySlice { values, .. }) => assert_eq!(values, ["ios", "web"]),
        other => panic!("{other:?}"),
    }
    // A leaf with no row in the slice is missing there, never zero.
    let ios = evaluate(&t, &d.sliced(&condition("platform", "ios")).unwrap());
    assert!(ios.total(t.find("b").unwrap(), week("2026-W10")).is_err());
    assert!(ios.total(t.find("r").unwrap(), week("2026-W10")).is_err());
}

#[test]
fn every_slice_has_its_own_key_whatever_the_order_of_its_conditions() {
    let slice = |conditions: &[(&str, &str)]| {
        Slice(
            conditions
                .iter()
                .map(|(d, v)| (d.to_string(), v.to_string()))
                .collect(),
        )
    };
    let both = slice(&[("platform", "ios"), ("plan", "pro")]);
    assert_eq!(both.key(), ".where.plan-pro.platform-ios");
    assert_eq!(
        both.key(),
        slice(&[("plan", "pro"), ("platform", "ios")]).key()
    );
    assert_eq!(both.tree_id("shop"), "shop.where.plan-pro.platform-ios");
    assert_eq!(slice(&[]).tree_id("shop"), "shop");
    // A `-` or any other character in a name is replaced, and a hash keeps slices apart.
    let (a, b) = (slice(&[("a", "b-c")]), slice(&[("a-b", "c")]));
    assert!(a.key().starts_with(".where.a-b-c-") && b.key().starts_with(".where.a-b-c-"));
    assert_ne!(a.key(), b.key());
    let odd = slice(&[("country", "Côte d'Ivoire")]).key();
    assert!(
        odd.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)),
        "{odd}"
    );
}
