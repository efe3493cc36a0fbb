//! `canopy init`: a starter tree, sample data and the JSON Schema, to try Canopy on.

use std::path::Path;

use crate::Outcome;

/// The starter tree: a root split into two leaves, with people, a RACI default, bands and a
/// target, and the schema for editors.
const TREE: &str = r#"# yaml-language-server: $schema=tree.schema.json
#
# A starter tree: items created per active user, the product's north star, and the two
# numbers it is made of. Edit it, then `canopy check` it.
version: 1
tree: starter
title: Items per active user
grain: week
root: items_per_active_user
people:
  you:     { name: You,          email: you@example.com }
  growth:  { name: Growth team,  email: growth@example.com }
raci: { accountable: you, informed: [growth] }
alerts: { change_pct: 10, anomaly_z: 3.5, history: 8 }
metrics:
  items_per_active_user:
    title: Items per active user
    unit: items per user
    formula: items_created / active_users
    good: up
    target: 3
    bands:
      - { name: Low,     below: 2 }
      - { name: Healthy, below: 3 }
      - { name: Strong }
  items_created:
    title: Items created
    unit: items
    good: up
  active_users:
    title: Active users
    unit: users
    good: up
    raci: { accountable: growth }
"#;

/// Eight weeks of both leaves on two platforms (a segment column); in the last week fewer
/// items are created on iOS.
fn data() -> String {
    let mut csv = String::from("period,metric,value,platform\n");
    for week in 1..=8u32 {
        let (web_items, ios_items) = (
            5200 + 40 * week,
            if week == 8 { 1700 } else { 2400 + 20 * week },
        );
        let (web_users, ios_users) = (2000 + 10 * week, 1000 + 5 * week);
        for (metric, web, ios) in [
            ("items_created", web_items, ios_items),
            ("active_users", web_users, ios_users),
        ] {
            csv += &format!(
                "2026-W{week:02},{metric},{web},web\n2026-W{week:02},{metric},{ios},ios\n"
            );
        }
    }
    csv
}

pub(crate) fn run(dir: &Path) -> anyhow::Result<Outcome> {
    let schema = serde_json::to_string_pretty(&canopy_engine::json_schema())? + "\n";
    let files = [
        ("tree.yaml", TREE.to_string()),
        ("data.csv", data()),
        ("tree.schema.json", schema),
    ];
    for (name, _) in &files {
        let path = dir.join(name);
        if path.exists() {
            anyhow::bail!("{} exists already; canopy init writes only new files\nhelp: run it in an empty directory (`canopy init DIR`), or move the file away", path.display());
        }
    }
    std::fs::create_dir_all(dir)?;
    for (name, text) in &files {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    let (tree, data) = (dir.join("tree.yaml"), dir.join("data.csv"));
    let (tree, data) = (tree.display(), data.display());
    outln!(
        "wrote tree.yaml, data.csv and tree.schema.json in {}\n",
        dir.display()
    )?;
    outln!("next:")?;
    outln!("  canopy check {tree}")?;
    outln!("  canopy explain {tree} --data {data} --from 2026-W07 --to 2026-W08")?;
    outln!("  canopy run {tree} --data {data} --dry-run")?;
    Ok(Outcome::Success)
}
