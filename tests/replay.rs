//! `canopy replay`: what twelve weekly runs would send, decided without sending or recording,
//! is what twelve real runs send.

use crate::util::Dir;

const TREE: &str = "trees/item-creation.yaml";
const DATA: &str = "fixtures/data/item-creation.csv";

/// (period, [(metric, rules, recipient)], [(to, subject)]) of one run's or replay's period.
type Decided = (String, Vec<(String, String, String)>, Vec<(String, String)>);

fn decided(p: &serde_json::Value) -> Decided {
    let text = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    let moves = (p["moves"].as_array().unwrap().iter())
        .map(|m| {
            (
                text(&m["metric"]),
                m["rules"].to_string(),
                text(&m["recipient"]),
            )
        })
        .collect();
    let emails = (p["emails"].as_array().unwrap().iter())
        .map(|e| (text(&e["to"]), text(&e["subject"])))
        .collect();
    (text(&p["period"]), moves, emails)
}

#[test]
fn twelve_weeks_replayed_are_what_twelve_runs_send() {
    let dir = Dir::new();
    dir.copy(TREE);
    dir.copy(DATA);
    let weeks: Vec<String> = (36..=47).map(|w| format!("2026-W{w}")).collect();
    let args = [
        "replay", TREE, "--data", DATA, "--from", &weeks[0], "--to", &weeks[11], "--format", "json",
    ];
    let replay: serde_json::Value = serde_json::from_str(&dir.run(&args, 0).stdout).unwrap();
    assert!(
        !dir.path().join(".canopy").exists(),
        "a replay records nothing"
    );
    let replayed: Vec<Decided> = replay["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(decided)
        .collect();

    let mut sent = Vec::new();
    for week in &weeks {
        let args = [
            "run", TREE, "--data", DATA, "--period", week, "--format", "json",
        ];
        let run: serde_json::Value = serde_json::from_str(&dir.run(&args, 0).stdout).unwrap();
        sent.push(decided(&run));
    }
    assert_eq!(replayed, sent);
    let moves: usize = sent.iter().map(|s| s.1.len()).sum();
    assert!(moves >= 10, "the weeks have moves to compare: {moves}");

    // The counts add up to what was decided.
    let emails: u64 = (replay["people"].as_array().unwrap().iter())
        .map(|p| p["emails"].as_u64().unwrap())
        .sum();
    assert_eq!(
        emails as usize,
        sent.iter().map(|s| s.2.len()).sum::<usize>()
    );
    let fired: u64 = (replay["rules"].as_array().unwrap().iter())
        .map(|r| r["moves"].as_u64().unwrap())
        .sum();
    let rules: usize = (replay["periods"].as_array().unwrap().iter())
        .flat_map(|p| p["moves"].as_array().unwrap())
        .map(|m| m["rules"].as_array().unwrap().len())
        .sum();
    assert_eq!(fired as usize, rules);
    let table = dir.run(
        &[
            "replay", TREE, "--data", DATA, "--from", &weeks[0], "--to", &weeks[11],
        ],
        0,
    );
    assert!(
        table.stdout.contains("flow_completion_pct (reminder)"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("Moves by rule:\nrule        moves\n"),
        "{}",
        table.stdout
    );
}

#[test]
fn a_range_backwards_is_refused_with_help() {
    let dir = Dir::new();
    dir.copy(TREE);
    dir.copy(DATA);
    let args = [
        "replay", TREE, "--data", DATA, "--from", "2026-W47", "--to", "2026-W40",
    ];
    let run = dir.run(&args, 1);
    assert!(
        run.stderr
            .contains("--from (2026-W47) is after --to (2026-W40)\nhelp: "),
        "{}",
        run.stderr
    );
}

/// A verdict email is counted apart from moves and alerts: the activation tree's checklist is
/// judged in 2026-W20 and told to its metric's accountable, who had no move in the range.
#[test]
fn verdict_emails_have_a_column_of_their_own() {
    let dir = Dir::new();
    dir.copy("trees/activation.yaml");
    dir.copy("fixtures/data/activation.csv");
    let args = [
        "replay",
        "trees/activation.yaml",
        "--data",
        "fixtures/data/activation.csv",
        "--from",
        "2026-W12",
        "--to",
        "2026-W21",
    ];
    let table = dir.run(&args, 0).stdout;
    assert!(
        table.contains("period    emails  moves (rules)  verdicts on changes\n")
            && table.contains("2026-W20       2                 onboarding-checklist\n"),
        "{table}"
    );
    assert!(
        table.contains(
            "to                  emails  verdict emails  moves as accountable\n\
             growth@example.com      10               1                     0\n\
             maya@example.com        10               0                     0\n"
        ),
        "{table}"
    );
    assert!(
        table.contains("\nverdict emails: of those, the ones telling a registered change's verdict (neither a move nor an alert)\n"),
        "{table}"
    );
    let json: serde_json::Value = serde_json::from_str(
        &dir.run(&[&args[..], &["--format", "json"]].concat(), 0)
            .stdout,
    )
    .unwrap();
    let told: Vec<(&str, u64)> = (json["people"].as_array().unwrap().iter())
        .map(|p| {
            (
                p["email"].as_str().unwrap(),
                p["verdict_emails"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(told, [("growth@example.com", 1), ("maya@example.com", 0)]);
    let flagged: Vec<&str> = (json["periods"].as_array().unwrap().iter())
        .flat_map(|p| p["emails"].as_array().unwrap())
        .filter(|e| e["verdict"] == true)
        .map(|e| e["to"].as_str().unwrap())
        .collect();
    assert_eq!(flagged, ["growth@example.com"]);
}
