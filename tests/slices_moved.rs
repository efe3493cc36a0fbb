//! `explain --slices`: which slices of the data moved, in explain, the report and the email.

use crate::util::{Dir, Run};

fn json(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

const TREE: &str = "version: 1
tree: shop
title: Shop
grain: month
root: conversion
people:
  ana: { name: Ana, email: ana@example.com }
raci: { accountable: ana }
metrics:
  conversion:
    title: Conversion
    unit: \"%\"
    formula: orders / visits * 100
  orders:
    title: Orders
  visits:
    title: Visits
";

/// Visits by platform and country, the same in both months; orders at 5% of visits, except
/// android's, which fall to 3% in February.
fn data() -> String {
    let mut csv = String::from("period,metric,value,platform,country\n");
    for (k, platform) in ["ios", "android", "web"].iter().enumerate() {
        for (j, country) in ["DE", "FR", "US", "JP"].iter().enumerate() {
            let visits = 1000.0 + 100.0 * (k * 4 + j) as f64;
            for month in ["2026-01", "2026-02"] {
                let rate = if *platform == "android" && month == "2026-02" {
                    0.03
                } else {
                    0.05
                };
                csv += &format!("{month},visits,{visits},{platform},{country}\n");
                csv += &format!("{month},orders,{},{platform},{country}\n", visits * rate);
            }
        }
    }
    csv
}

#[test]
fn a_ratio_collapses_in_the_slice_where_its_rate_fell() {
    let dir = Dir::new();
    dir.create("shop.yaml", TREE);
    dir.create("shop.csv", &data());
    let args = [
        "explain",
        "shop.yaml",
        "--data",
        "shop.csv",
        "--from",
        "2026-01",
        "--to",
        "2026-02",
        "--slices",
        "--format",
        "json",
    ];
    let doc = json(&dir.run(&args, 0));
    let slices = doc["slices"].as_array().unwrap();
    assert_eq!(slices.len(), 1, "{doc}");
    let slice = &slices[0];
    assert_eq!(slice["where"], serde_json::json!({"platform": "android"}));
    assert_eq!(slice["segments"], 4);
    let change = doc["change"].as_f64().unwrap();
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * b.abs().max(1.0);
    assert!(close(slice["change"].as_f64().unwrap(), change), "{doc}");
    assert!(close(slice["share"].as_f64().unwrap(), 1.0), "{doc}");
    // Android's visits did not move: all of it is rate, none mix.
    assert!(close(slice["rate"].as_f64().unwrap(), change), "{doc}");
    assert!(slice["mix"].as_f64().unwrap().abs() < 1e-9, "{doc}");

    let text = dir.run(&args[..args.len() - 2], 0).stdout;
    assert!(text.contains("Where it moved:"), "{text}");
    assert!(text.contains("platform = android"), "{text}");
}

#[test]
fn each_pair_of_periods_carries_its_slices_and_no_move_names_none() {
    let dir = Dir::new();
    dir.create("shop.yaml", TREE);
    let mut csv = data();
    // March repeats February: nothing moved.
    for line in data().lines().skip(1).filter(|l| l.starts_with("2026-02")) {
        csv += &format!("{}\n", line.replacen("2026-02", "2026-03", 1));
    }
    dir.create("shop.csv", &csv);
    let args = [
        "explain",
        "shop.yaml",
        "--data",
        "shop.csv",
        "--from",
        "2026-01",
        "--to",
        "2026-03",
        "--each",
        "--slices",
        "--format",
        "json",
    ];
    let out = dir.run(&args, 0).stdout;
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let docs = doc["transitions"].as_array().unwrap();
    assert_eq!(docs.len(), 2, "{out}");
    assert_eq!(
        docs[0]["slices"][0]["where"]["platform"], "android",
        "{out}"
    );
    assert_eq!(docs[1]["slices"], serde_json::json!([]), "{out}");
    assert!(docs[1]["slices_note"].is_string(), "{out}");
}

/// The report's panel of the ratio names the slice, with its share, mix and rate.
#[test]
fn the_report_panel_names_the_slice() {
    let dir = Dir::new();
    dir.create("shop.yaml", TREE);
    dir.create("shop.csv", &data());
    let args = [
        "render",
        "shop.yaml",
        "--format",
        "html",
        "--data",
        "shop.csv",
        "--period",
        "2026-02",
    ];
    let page = dir.run(&args, 0).stdout;
    let start = page.find("id=\"report\">").expect("the report's data") + "id=\"report\">".len();
    let end = start + page[start..].find("</script>").unwrap();
    let doc: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
    let panel = doc["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "conversion")
        .unwrap();
    let shown = serde_json::json!({
        "slices": panel["slices"],
        "slices_note": panel["slices_note"],
    });
    insta::assert_json_snapshot!("report_panel_slices", shown);
}

/// The owner's email says where the conversion and the orders fell, and that the ratio fell
/// by rate.
#[test]
fn the_email_names_the_slice() {
    let dir = Dir::new();
    let tree = TREE.replace(
        "raci: { accountable: ana }",
        "raci: { accountable: ana }\nalerts: { change_pct: 5 }",
    );
    dir.create("shop.yaml", &tree);
    dir.create("shop.csv", &data());
    crate::util::preview(&dir, "shop.yaml", "shop.csv", "2026-02");
    let (text, html) = crate::util::parts(&dir, "shop-2026-02-ana@example.com");
    assert!(text.contains("Where it moved:"), "{text}");
    assert!(text.contains("by rate  platform = android"), "{text}");
    assert!(html.contains("Where it moved"), "{html}");
    insta::assert_snapshot!("email_slices_text", text);
}
