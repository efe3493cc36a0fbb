//! `canopy init`: the starter passes `check` and `run`, and nothing is ever overwritten.

use crate::util::Dir;

#[test]
fn the_starter_checks_and_runs_and_is_never_written_twice() {
    let dir = Dir::new();
    let init = dir.run(&["init", "start"], 0);
    assert!(
        init.stdout.contains("canopy check start/tree.yaml"),
        "{}",
        init.stdout
    );
    let check = dir.run(&["check", "start/tree.yaml"], 0);
    assert!(
        check.stdout.contains("ok (tree `starter`, 3 metrics)"),
        "{}",
        check.stdout
    );
    let run = dir.run(&["run", "start/tree.yaml", "--data", "start/data.csv"], 0);
    assert!(
        run.stdout.contains("starter 2026-W08: 1 metric moved"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Items per active user fell"),
        "{}",
        run.stdout
    );
    // The schema the tree points its editor at is the one `canopy schema` prints.
    let schema = std::fs::read_to_string(dir.path().join("start/tree.schema.json")).unwrap();
    assert_eq!(schema, dir.run(&["schema"], 0).stdout);
    // Again: refused, and the edited tree is left as it is.
    dir.create("start/tree.yaml", "# mine\n");
    let again = dir.run(&["init", "start"], 1);
    assert!(
        again.stderr.contains("start/tree.yaml exists already"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("help: "), "{}", again.stderr);
    let kept = std::fs::read_to_string(dir.path().join("start/tree.yaml")).unwrap();
    assert_eq!(kept, "# mine\n");
}

/// The explanation `init` suggests prints no rounding residue: the mix of a segment whose
/// weight did not move is `0`, not `-1.11e-16`, while `--format json` keeps every digit.
#[test]
fn the_suggested_explanation_prints_no_rounding_residue() {
    let dir = Dir::new();
    dir.run(&["init", "start"], 0);
    let args = [
        "explain",
        "start/tree.yaml",
        "--data",
        "start/data.csv",
        "--from",
        "2026-W07",
        "--to",
        "2026-W08",
    ];
    let text = dir.run(&args, 0).stdout;
    let residue = text
        .split_whitespace()
        .filter_map(|w| w.trim_end_matches(['%', ',', ')']).parse::<f64>().ok())
        .find(|v| *v != 0.0 && v.abs() < 1e-9);
    assert_eq!(residue, None, "{text}");
    assert!(text.contains("platform=ios"), "{text}");
    // Plain words first: the unit and share of each contribution, mix and rate in a sentence,
    // the method last.
    assert!(
        text.contains("contribution (in items per user)  share of the change"),
        "{text}"
    );
    assert!(text.contains("  mix: because more or less of the whole came from this segment; rate: because this segment's own value changed\n"), "{text}");
    assert!(text.ends_with("Method: Shapley shares of each formula, chained down to the leaves (`--format json` names each metric's way).\n"), "{text}");
    let json = dir
        .run(&[&args[..], &["--format", "json"]].concat(), 0)
        .stdout;
    assert!(json.contains("e-1"), "{json}");
}

/// A newcomer reads `canopy --help` top down: the command that makes something to try comes
/// first, then checking, evaluating, explaining and the scheduled run.
#[test]
fn help_lists_init_first_then_the_first_steps() {
    let help = Dir::new().run(&["--help"], 0).stdout;
    let (_, commands) = help.split_once("Commands:\n").expect("a list of commands");
    let names: Vec<&str> = (commands.lines())
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        names[..5],
        ["init", "check", "eval", "explain", "run"],
        "{help}"
    );
}
