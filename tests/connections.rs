//! Named connections end to end: a tree whose leaves read connections it names, with their
//! settings in the environment, checked, tried and evaluated without `--data`.

use crate::util::{postgres_url, Dir};

/// A tree of one leaf on the connection `wh` (its URL from `WH_URL`), and a second
/// connection `other` with a user and a password from the environment.
const TREE: &str = "tree: conn\nroot: r\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nconnections:\n  wh: { url: env:WH_URL }\n  other: { url: \"postgres://127.0.0.1:1/x\", user: reader, password: env:OTHER_PASSWORD }\nmetrics:\n  r: { source: { connection: wh, sql: \"select sum(n) from conn_events where at >= {start} and at < {end}\" } }\n";

#[test]
fn a_leaf_reads_a_named_connection_without_data() {
    let Some(url) = postgres_url() else {
        return;
    };
    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    client
        .batch_execute("drop table if exists conn_events; create table conn_events (at date, n int); insert into conn_events values ('2026-11-16', 5), ('2026-11-23', 7);")
        .unwrap();
    let dir = Dir::new();
    dir.create("c.yaml", TREE);
    // Checked where no secret is set: warnings at each connection, and valid.
    let run = dir.run(&["check", "c.yaml"], 0);
    assert_eq!(
        run.stderr,
        "c.yaml:6:3: warning: connection `wh` reads WH_URL, not set here\n  help: set it where canopy runs; `canopy check --connections` then tries the connection\nc.yaml:7:3: warning: connection `other` reads OTHER_PASSWORD, not set here\n  help: set it where canopy runs; `canopy check --connections` then tries the connection\n"
    );
    let secret = "S3cretPw".to_string();
    let env = [("WH_URL", url.clone()), ("OTHER_PASSWORD", secret.clone())];
    let tried = dir.run_env(&["check", "--connections", "c.yaml"], &env, 1);
    assert!(
        tried
            .stdout
            .contains("conn connection `wh`: reached, authenticated, permitted to read\n")
            && tried
                .stdout
                .contains("conn connection `other`: not reached: "),
        "{}",
        tried.stdout
    );
    let eval = ["eval", "c.yaml", "--period", "2026-W48", "--format", "json"];
    let run = dir.run_env(&eval, &env, 0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["metrics"][0]["value"], 7.0);
    assert_eq!(doc["metrics"][0]["previous"], 5.0);
    // Without the variable: the connection, where it is written, and what to do.
    let run = dir.run(&eval, 1);
    assert_eq!(
        run.stderr,
        "error: connection `wh` (c.yaml:6:3): the environment variable WH_URL is not set\nhelp: set the variables the connection names where canopy runs\n"
    );
    // A failing query names its connection and the server's words.
    dir.create(
        "bad.yaml",
        &TREE
            .replace("conn_events", "no_such_table")
            .replace("tree: conn", "tree: bad"),
    );
    let run = dir.run_env(&["eval", "bad.yaml", "--period", "2026-W48"], &env, 1);
    assert!(
        run.stderr.starts_with("bad.yaml:9:3: error: the SQL source of `r` (connection `wh`) failed: relation \"no_such_table\" does not exist"),
        "{}",
        run.stderr
    );
    for out in [&tried.stdout, &tried.stderr, &run.stdout, &run.stderr] {
        assert!(!out.contains(&secret), "{out}");
    }
}

#[test]
fn without_data_a_leaf_without_a_source_is_named() {
    let dir = Dir::new();
    dir.create("t.yaml", "tree: t\nroot: r\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nmetrics:\n  r: { formula: a + b }\n  a: {}\n  b: {}\n");
    let run = dir.run(&["eval", "t.yaml"], 1);
    assert_eq!(
        run.stderr,
        "error: no data for `t`: its leaves a, b have no source\nhelp: give their values with --data FILE.csv (or a database), or give each leaf a `source:` on a connection\n"
    );
}
