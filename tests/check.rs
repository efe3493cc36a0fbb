//! `canopy check`.

use crate::util::{repo, run_command, Dir};

#[test]
fn every_example_tree_is_valid() {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_canopy"));
    let trees: Vec<_> = std::fs::read_dir(repo().join("trees"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    assert!(trees.len() >= 5, "at least five example trees");
    cmd.arg("check").args(&trees);
    let run = run_command(&mut cmd, 0);
    assert_eq!(run.stdout.lines().count(), trees.len(), "{}", run.stdout);
    assert!(
        run.stdout.lines().all(|l| l.contains(": ok (tree `")),
        "{}",
        run.stdout
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn an_invalid_tree_lists_every_problem_and_exits_1() {
    let dir = Dir::new();
    dir.copy("fixtures/invalid/typos.yaml");
    let run = dir.run(
        &["check", "--snippets=never", "fixtures/invalid/typos.yaml"],
        1,
    );
    assert_eq!(run.stdout, "");
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn snippets_quote_the_line_with_a_caret() {
    let dir = Dir::new();
    dir.create("t.yaml", "tree: t\nroot: r\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nmetrics:\n  r: { formula: a + bb }\n  a: {}\n  b: {}\n");
    let run = dir.run(&["check", "--snippets=always", "t.yaml"], 1);
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn valid_and_invalid_trees_are_all_checked() {
    let dir = Dir::new();
    dir.copy("trees/nps.yaml");
    dir.copy("fixtures/invalid/syntax.yaml");
    let run = dir.run(
        &[
            "check",
            "--snippets=never",
            "trees/nps.yaml",
            "fixtures/invalid/syntax.yaml",
        ],
        1,
    );
    assert_eq!(run.stdout, "trees/nps.yaml: ok (tree `nps`, 6 metrics)\n");
    assert!(
        run.stderr
            .starts_with("fixtures/invalid/syntax.yaml:3:5: error: invalid YAML"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .ends_with("error: 1 of 2 tree files failed to validate\n"),
        "{}",
        run.stderr
    );
}

#[test]
fn tree_ids_are_unique_among_trees() {
    let dir = Dir::new();
    dir.copy("trees/nps.yaml");
    let copy = std::fs::read_to_string(dir.path().join("trees/nps.yaml")).unwrap();
    dir.create("trees/nps-copy.yaml", &copy);
    let run = dir.run(
        &[
            "check",
            "--snippets=never",
            "trees/nps.yaml",
            "trees/nps-copy.yaml",
        ],
        1,
    );
    insta::assert_snapshot!(run.stderr);
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let dir = Dir::new();
    let run = dir.run(&["check", "nowhere.yaml"], 1);
    assert!(
        run.stderr
            .starts_with("error: cannot read nowhere.yaml: No such file or directory"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_huge_file_is_refused_without_reading_it_all() {
    let dir = Dir::new();
    let big = "#".repeat(canopy_engine::MAX_FILE_BYTES + 10);
    dir.create("big.yaml", &big);
    let run = dir.run(&["check", "--snippets=never", "big.yaml"], 1);
    assert!(
        run.stderr.contains("more than the limit of 16777216 bytes"),
        "{}",
        run.stderr
    );
}

#[test]
fn usage_errors_exit_2() {
    let dir = Dir::new();
    let run = dir.run(&["check"], 2);
    assert!(
        run.stderr.contains("required arguments were not provided"),
        "{}",
        run.stderr
    );
    dir.run(&["frobnicate"], 2);
    dir.run(&["--help"], 0);
}

/// The options of every command are listed once, in `canopy --help`, and work before or
/// after the command.
#[test]
fn global_options_are_listed_once() {
    let dir = Dir::new();
    let help = dir.run(&["--help"], 0).stdout;
    assert_eq!(help.matches("--snippets").count(), 1, "{help}");
    assert!(help.contains("Options for every command:\n      --snippets <WHEN>  When to quote the source line under each diagnostic [auto|always|never; default auto]\n  -q, --quiet            Show no progress bar"), "{help}");
    for command in ["check", "eval", "run", "outbox"] {
        let help = dir.run(&[command, "--help"], 0).stdout;
        assert!(
            !help.contains("--snippets <") && !help.contains("-q, --quiet"),
            "{help}"
        );
        assert!(
            help.contains("Options for every command (--snippets, --quiet): see `canopy --help`."),
            "{help}"
        );
    }
    dir.create("t.yaml", "tree: t\nroot: r\nmetrics:\n  r: {}\n");
    // Quoting is off when stderr is not a terminal, as here, unless asked for.
    assert!(!dir.run(&["check", "t.yaml"], 1).stderr.contains(" | "));
    for args in [
        ["--snippets=always", "-q", "check", "t.yaml"],
        ["check", "t.yaml", "--snippets=always", "-q"],
    ] {
        let run = dir.run(&args, 1);
        assert!(
            run.stderr.contains("t.yaml:") && run.stderr.contains(" | "),
            "{}",
            run.stderr
        );
    }
}

/// `check` refuses, at the address, exactly what a run could not send: the two forms that
/// used to pass `check` and then abort every run.
#[test]
fn addresses_a_run_cannot_send_to_are_refused_where_they_are_written() {
    let dir = Dir::new();
    dir.create("t.yaml", "tree: t\nroot: r\npeople:\n  q: { email: '\"quoted local\"@example.com' }\n  ip: { email: \"user@[127.0.0.1]\" }\nraci: { accountable: q, informed: [ip] }\nmetrics:\n  r: {}\n");
    let run = dir.run(&["check", "--snippets=never", "t.yaml"], 1);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        lines[0].starts_with("t.yaml:4:15: error: `\"quoted local\"@example.com` cannot be the recipient of an email"),
        "{}",
        run.stderr
    );
    assert!(
        lines.iter().any(|l| l
            .starts_with("t.yaml:5:16: error: `user@[127.0.0.1]` has an IP address as its domain")),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stderr.matches("help: write an address such as").count(),
        2,
        "{}",
        run.stderr
    );
}
