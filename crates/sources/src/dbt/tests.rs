use std::path::Path;

use canopy_engine::{Grain, Mailboxes, MemoryFs};

use super::{drift, import, ImportError, Request};

const LEGACY: &str = include_str!("../../../../fixtures/dbt/manifests/legacy.json");
const LATEST: &str = include_str!("../../../../fixtures/dbt/manifests/latest.json");

struct AnyAddress;

impl Mailboxes for AnyAddress {
    fn address_problem(&self, address: &str) -> Option<String> {
        (!address.contains('@')).then(|| format!("`{address}` is not an address"))
    }
    fn name_problem(&self, _: &str) -> Option<String> {
        None
    }
}

fn request<'a>(root: Option<&'a str>, metrics: &'a [String]) -> Request<'a> {
    Request {
        manifest: "semantic_manifest.json",
        root,
        metrics,
        grain: Grain::Week,
        connection: "warehouse",
        owner: None,
    }
}

fn root(manifest: &str, root: &str) -> Result<String, ImportError> {
    import(manifest, &request(Some(root), &[]))
}

/// Loads `yaml` with the engine, as `canopy check` would.
fn load(yaml: &str) -> canopy_engine::MetricTree {
    let fs = MemoryFs::new().with("tree.yaml", yaml);
    match canopy_engine::load(Path::new("tree.yaml"), &fs, &AnyAddress) {
        Ok(loaded) => loaded.tree,
        Err(canopy_engine::Error::Invalid { diagnostics, .. }) => {
            panic!("invalid tree: {diagnostics:#?}\n{yaml}")
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_derived_root_imports_with_its_ratio_average_and_simple_inputs() {
    let yaml = root(LEGACY, "revenue_per_buyer").unwrap();
    insta::assert_snapshot!(yaml);
    let tree = load(&yaml);
    let formula = |id: &str| {
        let m = tree.metric(tree.find(id).unwrap());
        m.formula.as_ref().map(|f| f.text().to_string())
    };
    assert_eq!(
        formula("revenue_per_buyer").as_deref(),
        Some("orders_per_buyer * average_order_value")
    );
    assert_eq!(
        formula("orders_per_buyer").as_deref(),
        Some("orders / buyers")
    );
    assert_eq!(
        formula("average_order_value").as_deref(),
        Some("average_order_value_sum / average_order_value_count")
    );
    let buyers = tree.metric(tree.find("buyers").unwrap());
    assert_eq!(buyers.raci.accountable, "maya_chen");
    assert_eq!(buyers.raci.responsible, vec!["growth".to_string()]);
    // No owner in dbt: the tree's default, the root's owner.
    let aov = tree.metric(tree.find("average_order_value_sum").unwrap());
    assert_eq!(aov.raci.accountable, "maya_chen");
    assert!(yaml.contains("# no owner in dbt's meta: the tree's default is accountable"));
}

#[test]
fn both_manifest_shapes_import_to_the_same_metrics() {
    for name in [
        "revenue_per_buyer",
        "completion_rate",
        "order_spread",
        "revenue",
    ] {
        let legacy = root(LEGACY, name).unwrap();
        let latest = root(LATEST, name).unwrap();
        let body = |y: &str| y.split_once("version: 1").unwrap().1.to_string();
        assert_eq!(body(&legacy), body(&latest), "{name}");
        assert!(latest.contains("(dbt-semantic-interfaces 0.10.5)"));
        load(&latest);
    }
}

#[test]
fn a_filter_on_the_models_own_dimension_becomes_a_where_condition() {
    let yaml = root(LEGACY, "completion_rate").unwrap();
    load(&yaml);
    assert!(
        yaml.contains("and status = 'completed' group by 1"),
        "{yaml}"
    );
    let yaml = import(
        LEGACY,
        &Request {
            owner: Some("lead@example.com"),
            ..request(Some("large_orders"), &[])
        },
    )
    .unwrap();
    assert!(
        yaml.contains("and (case when amount >= 100 then 'large' else 'small' end) = 'large'"),
        "{yaml}"
    );
    load(&yaml);
}

#[test]
fn unsupported_metrics_are_refused_by_name_type_and_what_to_do() {
    let cases = [
        (
            "cumulative_revenue",
            "metric `cumulative_revenue` cannot be imported: it is a cumulative metric",
        ),
        (
            "repeat_rate",
            "metric `repeat_rate` cannot be imported: it is a conversion metric",
        ),
        (
            "revenue_growth",
            "its input `revenue` has offset_window `1 week`",
        ),
    ];
    for (metric, message) in cases {
        for manifest in [LEGACY, LATEST] {
            let e = root(manifest, metric).unwrap_err();
            assert!(e.message.contains(message), "{e}");
            assert!(!e.help.is_empty(), "{e}");
        }
    }
}

#[test]
fn an_unknown_metric_is_named_with_the_closest() {
    let e = root(LEGACY, "revenu_per_buyer").unwrap_err();
    assert_eq!(e.message, "the manifest has no metric `revenu_per_buyer`");
    assert_eq!(
        e.help,
        vec!["did you mean `revenue_per_buyer`?".to_string()]
    );
}

#[test]
fn other_files_and_versions_are_refused() {
    let e = root("{\"nodes\": {}, \"metadata\": {}}", "x").unwrap_err();
    assert!(
        e.message.contains("project manifest (manifest.json)"),
        "{e}"
    );
    let e = root("{\"metrics\": []}", "x").unwrap_err();
    assert!(e.message.contains("missing field `semantic_models`"), "{e}");
    let e = root("{\"metrics\": [", "x").unwrap_err();
    assert!(e.message.starts_with("semantic_manifest.json:1:"), "{e}");
    let newer = LATEST.replace("\"minor_version\": \"10\"", "\"minor_version\": \"11\"");
    let e = root(&newer, "orders").unwrap_err();
    assert!(
        e.message
            .contains("dbt-semantic-interfaces 0.11.5, a version this import does not know"),
        "{e}"
    );
}

#[test]
fn filters_other_than_plain_comparisons_are_refused_by_name() {
    let with =
        |filter: &str| LEGACY.replace("{{ Dimension('order__status') }} = 'completed'", filter);
    for (filter, why) in [
        (
            "{{ Dimension('customer__region') }} = 'EU'",
            "reached through entity `customer`",
        ),
        (
            "{{ TimeDimension('order__ordered_at', 'day') }} > '2026-01-01'",
            "is not a plain `Dimension('entity__name')`",
        ),
        (
            "{{ Dimension('order__status') }} = 'a' or {{ Dimension('order__status') }} = 'b'",
            "`or` is not a dimension call",
        ),
        (
            "{{ Dimension('order__status') }} like 'c%'",
            "`like` is not a dimension call",
        ),
    ] {
        let e = root(&with(filter), "completed_orders").unwrap_err();
        assert!(
            e.message
                .contains("the filter of metric `completed_orders` cannot be imported"),
            "{e}"
        );
        assert!(e.message.contains(why), "{filter}: {e}");
    }
    let ok = with("{{ Dimension('order__status') }} in ('completed', 'returned') and {{ Dimension('order__status') }} is not null");
    let yaml = root(&ok, "completed_orders").unwrap_err();
    // The root has no owner: the import asks for one rather than invent it.
    assert!(yaml.message.contains("names no owner"), "{yaml}");
    let yaml = import(
        &ok,
        &Request {
            owner: Some("lead@example.com"),
            ..request(Some("completed_orders"), &[])
        },
    )
    .unwrap();
    assert!(
        yaml.contains(
            "and (status in ('completed', 'returned') and status is not null) group by 1"
        ),
        "{yaml}"
    );
}

#[test]
fn the_root_is_the_named_metric_that_reads_the_others() {
    let named = ["orders".to_string(), "orders_per_buyer".to_string()];
    let yaml = import(LEGACY, &request(None, &named)).unwrap();
    assert!(yaml.contains("root: orders_per_buyer"), "{yaml}");
    let e = import(
        LEGACY,
        &request(None, &["orders".to_string(), "revenue".to_string()]),
    )
    .unwrap_err();
    assert!(
        e.message.contains("no metric named reads all the others"),
        "{e}"
    );
    assert!(e.help[0].contains("`orders`, `revenue`"), "{e}");
    let e = import(LEGACY, &request(None, &[])).unwrap_err();
    assert!(e.help[0].starts_with("name the root with --root"), "{e}");
}

#[test]
fn drift_names_changed_formulas_sql_and_metrics_gone() {
    let yaml = root(LEGACY, "revenue_per_buyer").unwrap();
    let tree = load(&yaml);
    assert_eq!(drift(LEGACY, "m.json", &tree, &yaml).unwrap(), vec![]);
    // The same tree against a manifest that moved on.
    let moved = LEGACY
        .replace("\"expr\": \"opb * aov\"", "\"expr\": \"opb * aov * 2\"")
        .replace("\"expr\": \"customer_id\"", "\"expr\": \"buyer_id\"")
        .replace(
            "\"name\": \"orders\",\n      \"description\": \"Orders placed",
            "\"name\": \"orders_placed\",\n      \"description\": \"Orders placed",
        );
    let found = drift(&moved, "m.json", &tree, &yaml).unwrap();
    let said: Vec<(&str, &str)> = found
        .iter()
        .map(|d| (d.metric.as_str(), d.what.as_str()))
        .collect();
    assert_eq!(said.len(), 3, "{found:#?}");
    assert_eq!(said[0].0, "revenue_per_buyer");
    assert_eq!(said[0].1, "the formula is `orders_per_buyer * average_order_value` in the tree and `orders_per_buyer * average_order_value * 2` in the manifest");
    assert_eq!(
        said[1],
        ("orders", "dbt metric `orders` is gone from the manifest")
    );
    assert_eq!(said[2].0, "buyers");
    assert!(said[2].1.contains("count(distinct buyer_id)"), "{found:#?}");
    assert!(found.iter().all(|d| yaml
        .lines()
        .nth(d.line - 1)
        .unwrap()
        .contains(&format!("{}:", d.metric))));
}

#[test]
fn scalars_read_back_as_written() {
    use super::write::scalar;
    for text in [
        "Revenue per buyer",
        "a: b",
        "#1",
        "yes",
        "Null",
        "2026-01-05",
        "x, y",
        "{a}",
        "it's",
        "env:WAREHOUSE_URL",
        "trailing ",
        "select \"a\" from t where x = '\\n'",
        "tab\there",
        "",
    ] {
        let yaml = format!(
            "version: 1\ntree: t\nroot: m\npeople: {{ p: {{ name: {}, email: p@example.com }} }}\nraci: {{ accountable: p }}\nmetrics:\n  m:\n    title: {}\n",
            scalar(text),
            scalar(text)
        );
        if text.is_empty() {
            assert_eq!(scalar(text), "\"\"");
            continue;
        }
        let tree = load(&yaml);
        assert_eq!(tree.metric(tree.root()).title, text, "{yaml}");
        assert_eq!(tree.person("p").name, text, "{yaml}");
    }
    assert_eq!(scalar("Revenue per buyer"), "Revenue per buyer");
    assert_eq!(scalar("env:WAREHOUSE_URL"), "env:WAREHOUSE_URL");
}
