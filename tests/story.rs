//! The emails a run would send, as their owners read them: text and HTML of a root move with
//! one dominant cause (headline, moves grouped by cause, a responsible's marker), a score in points with a band
//! change, and a summary for someone only informed.

use crate::util::{parts, preview, Dir};

#[test]
fn a_root_move_with_one_cause_leads_with_it_and_groups_what_it_carries() {
    let dir = Dir::new();
    dir.copy("trees/item-creation.yaml");
    dir.copy("fixtures/data/item-creation.csv");
    preview(
        &dir,
        "trees/item-creation.yaml",
        "fixtures/data/item-creation.csv",
        "2026-W47",
    );
    let (text, html) = parts(&dir, "item-creation-2026-W47-product@example.com");
    // Product is responsible for the root (Maya is accountable) and accountable for two
    // metrics under it that carry its change: one item, those two beneath it.
    assert!(
        text.contains("3 metrics you are accountable or responsible for"),
        "{text}"
    );
    assert!(
        text.contains("You are responsible; accountable: Maya Chen"),
        "{text}"
    );
    assert_eq!(text.matches("\n* ").count(), 1, "{text}");
    insta::assert_snapshot!("grouped_text", text);
    insta::assert_snapshot!("grouped_html", html);
}

const NPS: &str = "period,metric,value\n2026-Q1,responses,800\n2026-Q1,promoters,418\n2026-Q1,detractors,50\n2026-Q2,responses,800\n2026-Q2,promoters,421\n2026-Q2,detractors,47\n2026-Q3,responses,800\n2026-Q3,promoters,420\n2026-Q3,detractors,46\n2026-Q4,responses,800\n2026-Q4,promoters,420\n2026-Q4,detractors,227\n";

#[test]
fn a_score_moves_in_points_and_says_its_band() {
    let dir = Dir::new();
    dir.copy("trees/nps.yaml");
    dir.create("nps.csv", NPS);
    preview(&dir, "trees/nps.yaml", "nps.csv", "2026-Q4");
    let (text, html) = parts(&dir, "nps-2026-Q4-ravi@example.com");
    assert!(
        text.contains("Net Promoter Score fell 46.75 -> 24.12 points (-100 to 100) (Great -> Good): Detractors (0-6) +181 drove 100%."),
        "{text}"
    );
    assert!(
        text.contains("46.75 -> 24.12 points (-100 to 100) (-22.62 pts)"),
        "{text}"
    );
    insta::assert_snapshot!("points_text", text);
    insta::assert_snapshot!("points_html", html);
}

#[test]
fn someone_only_informed_gets_a_summary_with_what_changed() {
    let dir = Dir::new();
    dir.copy("trees/nps.yaml");
    dir.copy("fixtures/data/nps.csv");
    preview(&dir, "trees/nps.yaml", "fixtures/data/nps.csv", "2026-Q4");
    let (text, html) = parts(&dir, "nps-2026-Q4-ravi@example.com");
    assert!(text.contains("Metrics you follow:"), "{text}");
    insta::assert_snapshot!("informed_text", text);
    insta::assert_snapshot!("informed_html", html);
}
