//! Named connections end to end: a tree whose leaves read connections it names, with their
//! settings in the environment, checked, tried and evaluated without `--data`.

use crate::util::{clickhouse, clickhouse_run, postgres_url, repo, start_server, Dir, Run};

/// A tree of one leaf on the connection `wh` (its URL from `WH_URL`), and a second
/// connection `other` with a user and a password from the environment.
const TREE: &str = "tree: conn\nroot: r\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nconnections:\n  wh: { url: env:WH_URL }\n  other: { url: \"postgres://127.0.0.1:1/x\", user: reader, password: env:OTHER_PASSWORD }\nmetrics:\n  r: { source: { connection: wh, sql: \"select sum(n) from conn_events where at >= {start} and at < {end}\" } }\n";

/// `canopy eval TREE --period 2026-W48 --format json` in `dir` with `env`: its run, and its
/// JSON read.
fn eval_w48(dir: &Dir, tree: &str, env: &[(&str, String)]) -> (Run, serde_json::Value) {
    let eval = ["eval", tree, "--period", "2026-W48", "--format", "json"];
    let run = dir.run_env(&eval, env, 0);
    let doc = serde_json::from_str(&run.stdout).unwrap();
    (run, doc)
}

/// A metric's previous value and value in `eval`'s JSON.
fn previous_and_value(doc: &serde_json::Value, id: &str) -> (f64, f64) {
    let metrics = doc["metrics"].as_array().unwrap();
    let m = metrics.iter().find(|m| m["id"] == id).unwrap();
    (
        m["previous"].as_f64().unwrap(),
        m["value"].as_f64().unwrap(),
    )
}

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

/// A tree on a ClickHouse connection: values per period, by segment and by range, read
/// through the real server; `check --connections` tells a refused password from a wrong
/// port.
#[test]
fn a_tree_reads_clickhouse() {
    let Some((http, password)) = clickhouse() else {
        return;
    };
    let table = format!("conn_events_{}", std::process::id());
    clickhouse_run(&http, &format!("drop table if exists {table}"));
    clickhouse_run(&http, &format!("create table {table} (at Date, user UInt32, plan String) engine = MergeTree order by at"));
    // Week 2026-W47: users 1..=4 (plan a: 1, 2); week 2026-W48: users 1..=6 (plan a: 1, 2, 3).
    clickhouse_run(&http, &format!("insert into {table} values ('2026-11-16', 1, 'a'), ('2026-11-17', 2, 'a'), ('2026-11-18', 3, 'b'), ('2026-11-19', 4, 'b'), ('2026-11-23', 1, 'a'), ('2026-11-24', 2, 'a'), ('2026-11-25', 3, 'a'), ('2026-11-26', 4, 'b'), ('2026-11-27', 5, 'b'), ('2026-11-28', 6, 'b')"));
    let host = http.trim_start_matches("http://");
    let tree = format!(
        "tree: ch\nroot: r\npeople: {{ p: {{ email: p@example.com }} }}\nraci: {{ accountable: p }}\nconnections:\n  events: {{ url: \"clickhouse://{host}/default?sslmode=disable\", user: reader, password: env:CH_PASSWORD }}\nmetrics:\n  r: {{ formula: users + ranged }}\n  users: {{ source: {{ connection: events, sql: \"select plan, uniqExact(user) from {table} where at >= {{start}} and at < {{end}} group by plan\" }} }}\n  ranged: {{ source: {{ connection: events, sql: \"select toMonday(at) as period, count() from {table} where at >= {{start}} and at < {{end}} group by period\" }} }}\n"
    );
    let dir = Dir::new();
    dir.create("ch.yaml", &tree);
    let env = [("CH_PASSWORD", password.clone())];
    let (_, doc) = eval_w48(&dir, "ch.yaml", &env);
    let value = |id: &str| previous_and_value(&doc, id);
    assert_eq!(value("users"), (4.0, 6.0));
    assert_eq!(value("ranged"), (4.0, 6.0));
    assert_eq!(value("r"), (8.0, 12.0));
    let explain = [
        "explain", "ch.yaml", "--from", "2026-W47", "--to", "2026-W48", "--metric", "users",
        "--format", "json",
    ];
    let run = dir.run_env(&explain, &env, 0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let segments: Vec<(String, f64)> = (doc["segments"].as_array().unwrap().iter())
        .map(|s| {
            (
                s["segment"]["plan"].as_str().unwrap().to_string(),
                s["contribution"].as_f64().unwrap(),
            )
        })
        .collect();
    let mut segments = segments;
    segments.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(segments, [("a".to_string(), 1.0), ("b".to_string(), 1.0)]);
    let tried = dir.run_env(&["check", "--connections", "ch.yaml"], &env, 0);
    assert_eq!(tried.stdout, "ch.yaml: ok (tree `ch`, 3 metrics)\nch connection `events`: reached, authenticated, permitted to read\n");
    let wrong = [("CH_PASSWORD", "not-it".to_string())];
    let refused = dir.run_env(&["check", "--connections", "ch.yaml"], &wrong, 1);
    assert!(
        refused
            .stdout
            .contains("ch connection `events`: reached, not authenticated: "),
        "{}",
        refused.stdout
    );
    for out in [&run.stderr, &refused.stdout, &refused.stderr] {
        assert!(!out.contains(&password), "{out}");
    }
    clickhouse_run(&http, &format!("drop table {table}"));
}

/// A test server process (`tests/NAME`), killed when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `tests/script` with `args`; its port.
fn serve(script: &str, args: &[&str]) -> (Server, String) {
    let mut cmd = std::process::Command::new("python3");
    cmd.arg(repo().join("tests").join(script)).args(args);
    let (child, line) = start_server(&mut cmd);
    let port = line
        .strip_prefix("READY ")
        .unwrap_or_else(|| panic!("{script}: {line}"));
    let port = port.to_string();
    (Server(child), port)
}

/// The README's tree: ClickHouse, PostHog and Jira leaves together in one tree, through real
/// servers (PostHog's answering from the real ClickHouse), evaluated and tried by `check`.
#[test]
fn a_tree_reads_clickhouse_posthog_and_jira_together() {
    let Some((http, password)) = clickhouse() else {
        return;
    };
    let dir = Dir::new();
    let table = format!("together_{}", std::process::id());
    let (key, token) = ("phx_never_shown", "jira_never_shown");
    let _servers = product(&dir, &http, &password, &table, (key, token));
    let env = [
        ("CH_PASSWORD", password.clone()),
        ("POSTHOG_KEY", key.to_string()),
        ("JIRA_TOKEN", token.to_string()),
    ];
    let (run, doc) = eval_w48(&dir, "together.yaml", &env);
    let value = |id: &str| previous_and_value(&doc, id);
    assert_eq!(value("active"), (2.0, 3.0));
    assert_eq!(value("creators"), (1.0, 2.0));
    assert_eq!(value("bugs"), (3.0, 1.0));
    assert_eq!(value("r"), (6.0, 6.0));
    let (tried, refused) = tried(&dir, &env, &password);
    for out in [
        &run.stdout,
        &run.stderr,
        &tried.stdout,
        &refused.stdout,
        &refused.stderr,
    ] {
        for secret in [key, token, &password] {
            assert!(!out.contains(secret), "{out}");
        }
    }
    clickhouse_run(&http, &format!("drop table {table}"));
}

/// The product's data in `dir` and on its servers: `table` in ClickHouse (2 active users in
/// 2026-W47, 3 in W48), PostHog's events on a PostHog server over it (1 creator in W47, 2 in
/// W48) and Jira's issues on a Jira server (3 bugs in W47, 1 in W48), with `together.yaml`
/// reading all three. The servers run while the returned handles live.
fn product(
    dir: &Dir,
    http: &str,
    password: &str,
    table: &str,
    (key, token): (&str, &str),
) -> [Server; 2] {
    clickhouse_run(http, &format!("drop table if exists {table}"));
    clickhouse_run(
        http,
        &format!("create table {table} (at Date, user UInt32) engine = MergeTree order by at"),
    );
    // 2026-W47: 2 active users; 2026-W48: 3.
    clickhouse_run(http, &format!("insert into {table} values ('2026-11-16', 1), ('2026-11-18', 2), ('2026-11-23', 1), ('2026-11-24', 2), ('2026-11-29', 3)"));
    // Creators: 1 in W47, 2 in W48 (person 8 twice); bugs: 3 in W47, 1 in W48, one task aside.
    let events = r#"[{"event": "item_created", "person_id": "7", "timestamp": "2026-11-17 10:00:00"},
        {"event": "item_created", "person_id": "8", "timestamp": "2026-11-24 09:00:00"},
        {"event": "item_created", "person_id": "8", "timestamp": "2026-11-25 09:00:00"},
        {"event": "item_created", "person_id": "9", "timestamp": "2026-11-29 23:00:00"},
        {"event": "pageview", "person_id": "9", "timestamp": "2026-11-24 09:00:00"}]"#;
    let issues = r#"[{"key": "ENG-1", "project": "ENG", "type": "Bug", "created": "2026-11-16T08:00:00.000Z"},
        {"key": "ENG-2", "project": "ENG", "type": "Bug", "created": "2026-11-18T08:00:00.000Z"},
        {"key": "ENG-3", "project": "ENG", "type": "Bug", "created": "2026-11-22T23:00:00.000Z"},
        {"key": "ENG-4", "project": "ENG", "type": "Bug", "created": "2026-11-26T08:00:00.000Z"},
        {"key": "ENG-5", "project": "ENG", "type": "Task", "created": "2026-11-26T08:00:00.000Z"}]"#;
    let events = dir.create("events.json", events);
    let issues = dir.create("issues.json", issues);
    let (posthog, posthog_port) = serve(
        "posthog_server.py",
        &[
            "--clickhouse",
            http,
            "--password",
            password,
            "--events",
            events.to_str().unwrap(),
            "--key",
            key,
        ],
    );
    let (jira, jira_port) = serve(
        "jira_server.py",
        &[
            "--issues",
            issues.to_str().unwrap(),
            "--user",
            "lead@acme.com",
            "--token",
            token,
        ],
    );
    let host = http.trim_start_matches("http://");
    dir.create("together.yaml", &format!("tree: together\nroot: r\npeople: {{ p: {{ email: p@example.com }} }}\nraci: {{ accountable: p }}\nconnections:\n  events:  {{ url: \"clickhouse://{host}/default?sslmode=disable\", user: reader, password: env:CH_PASSWORD }}\n  posthog: {{ url: \"posthog://127.0.0.1:{posthog_port}/projects/7?scheme=http\", key: env:POSTHOG_KEY }}\n  jira:    {{ url: \"jira://127.0.0.1:{jira_port}?scheme=http\", user: lead@acme.com, token: env:JIRA_TOKEN }}\nmetrics:\n  r: {{ formula: active + creators + bugs }}\n  active:   {{ source: {{ connection: events,  sql: \"select uniqExact(user) from {table} where at >= {{start}} and at < {{end}}\" }} }}\n  creators: {{ source: {{ connection: posthog, hogql: \"select count(distinct person_id) from events where event = 'item_created' and timestamp >= {{start}} and timestamp < {{end}}\" }} }}\n  bugs:     {{ source: {{ connection: jira,    jql: \"project = ENG and issuetype = Bug and created >= {{start}} and created < {{end}}\" }} }}\n"));
    [posthog, jira]
}

/// `check --connections` with the right secrets (all three reached, authenticated and
/// permitted) and with wrong ones for PostHog and Jira (reached, not authenticated).
fn tried(dir: &Dir, env: &[(&str, String)], password: &str) -> (Run, Run) {
    let tried = dir.run_env(&["check", "--connections", "together.yaml"], env, 0);
    for name in ["events", "posthog", "jira"] {
        let line =
            format!("together connection `{name}`: reached, authenticated, permitted to read\n");
        assert!(tried.stdout.contains(&line), "{}", tried.stdout);
    }
    let wrong = [
        ("CH_PASSWORD", password.to_string()),
        ("POSTHOG_KEY", "nope".to_string()),
        ("JIRA_TOKEN", "nope".to_string()),
    ];
    let refused = dir.run_env(&["check", "--connections", "together.yaml"], &wrong, 1);
    for name in ["posthog", "jira"] {
        let line = format!("together connection `{name}`: reached, not authenticated: ");
        assert!(refused.stdout.contains(&line), "{}", refused.stdout);
    }
    (tried, refused)
}

/// Makes a key pair in `folder` of `dir` (`tests/server_common.py`); the private key's PEM.
fn key_pair(dir: &Dir, folder: &str) -> String {
    let path = dir.path().join(folder);
    std::fs::create_dir(&path).unwrap();
    let made = std::process::Command::new("python3")
        .arg(repo().join("tests/server_common.py"))
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::read_to_string(path.join("key.pem")).unwrap()
}

/// The Databricks, BigQuery and Snowflake servers over `events`, trusting the key pair in
/// `keys/`; the tree reading all three, and their secrets as the environment holds them.
fn clouds(dir: &Dir, events: &str) -> (Vec<Server>, String, [(&'static str, String); 3]) {
    let key = key_pair(dir, "keys");
    let public = dir.path().join("keys/public.json");
    let public = public.to_str().unwrap();
    let email = "canopy@my-project.iam.gserviceaccount.com";
    let databricks = [
        "--data",
        events,
        "--token",
        "dapi-never-shown",
        "--warehouse",
        "abc123",
    ];
    let (lake, lake_port) = serve("databricks_server.py", &databricks);
    let bigquery = [
        "--data",
        events,
        "--project",
        "my-project",
        "--location",
        "EU",
    ];
    let (bq, bq_port) = serve(
        "bigquery_server.py",
        &[&bigquery[..], &["--public-key", public, "--email", email]].concat(),
    );
    let snowflake = [
        "--data",
        events,
        "--public-key",
        public,
        "--account",
        "ACME-XY123",
        "--user",
        "CANOPY",
    ];
    let (sf, sf_port) = serve("snowflake_server.py", &snowflake);
    let range = "select date(day, '-6 days', 'weekday 1') as period, sum(n) from events where day >= {start} and day < {end} group by 1";
    let tree = format!("tree: clouds\nroot: r\npeople: {{ p: {{ email: p@example.com }} }}\nraci: {{ accountable: p }}\nconnections:\n  lake: {{ url: \"databricks://127.0.0.1:{lake_port}/warehouses/abc123?scheme=http\", token: env:DATABRICKS_TOKEN }}\n  bq:   {{ url: \"bigquery://my-project?location=EU&endpoint=http://127.0.0.1:{bq_port}\", credentials: env:BQ_CREDENTIALS }}\n  sf:   {{ url: \"snowflake://acme-xy123/ANALYTICS/PUBLIC?warehouse=REPORTING&endpoint=http://127.0.0.1:{sf_port}\", user: canopy, key: env:SNOWFLAKE_KEY }}\nmetrics:\n  r: {{ formula: lake + bq + sf }}\n  lake: {{ source: {{ connection: lake, sql: \"select sum(n) from events where day >= {{start}} and day < {{end}}\" }} }}\n  bq:   {{ source: {{ connection: bq, sql: \"{range}\" }} }}\n  sf:   {{ source: {{ connection: sf, sql: \"select count(*) from events where day >= {{start}} and day < {{end}}\" }} }}\n");
    let account = serde_json::json!({
        "type": "service_account", "private_key_id": "k1", "private_key": key,
        "client_email": email, "token_uri": format!("http://127.0.0.1:{bq_port}/token"),
    });
    let env = [
        ("DATABRICKS_TOKEN", "dapi-never-shown".to_string()),
        ("BQ_CREDENTIALS", account.to_string()),
        ("SNOWFLAKE_KEY", key),
    ];
    (vec![lake, bq, sf], tree, env)
}

/// The cloud warehouses together: Databricks, BigQuery and Snowflake leaves in one tree,
/// through servers on loopback speaking each one's statement API over the same events
/// (BigQuery's and Snowflake's checking the tokens signed with a key made here), evaluated by
/// period and by range, and tried by `check --connections` with right and wrong secrets.
#[test]
fn a_tree_reads_databricks_bigquery_and_snowflake_together() {
    let dir = Dir::new();
    // 2026-W47: 2 events summing to 5; 2026-W48: 3 summing to 11; one in W49 aside.
    let events = dir.create(
        "events.json",
        r#"[{"day": "2026-11-16", "plan": "pro", "n": 2},
        {"day": "2026-11-18", "plan": "free", "n": 3}, {"day": "2026-11-23", "plan": "pro", "n": 4},
        {"day": "2026-11-27", "plan": "pro", "n": 1}, {"day": "2026-11-29", "plan": "free", "n": 6},
        {"day": "2026-11-30", "plan": "free", "n": 50}]"#,
    );
    let (_servers, tree, env) = clouds(&dir, events.to_str().unwrap());
    dir.create("clouds.yaml", &tree);
    let eval = [
        "eval",
        "clouds.yaml",
        "--period",
        "2026-W48",
        "--format",
        "json",
    ];
    let run = dir.run_env(&eval, &env, 0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let value = |id: &str| previous_and_value(&doc, id);
    assert_eq!(value("lake"), (5.0, 11.0));
    assert_eq!(value("bq"), (5.0, 11.0));
    assert_eq!(value("sf"), (2.0, 3.0));
    assert_eq!(value("r"), (12.0, 25.0));
    let tried = dir.run_env(&["check", "--connections", "clouds.yaml"], &env, 0);
    for name in ["lake", "bq", "sf"] {
        let line =
            format!("clouds connection `{name}`: reached, authenticated, permitted to read\n");
        assert!(tried.stdout.contains(&line), "{}", tried.stdout);
    }
    // Another key: Snowflake and Google refuse it; Databricks refuses another token.
    let other_key = key_pair(&dir, "other");
    let mut account: serde_json::Value = serde_json::from_str(&env[1].1).unwrap();
    account["private_key"] = serde_json::json!(other_key);
    let wrong = [
        ("DATABRICKS_TOKEN", "dapi-wrong".to_string()),
        ("BQ_CREDENTIALS", account.to_string()),
        ("SNOWFLAKE_KEY", other_key),
    ];
    let refused = dir.run_env(&["check", "--connections", "clouds.yaml"], &wrong, 1);
    for name in ["lake", "bq", "sf"] {
        let line = format!("clouds connection `{name}`: reached, not authenticated: ");
        assert!(refused.stdout.contains(&line), "{}", refused.stdout);
    }
    let failed = dir.run_env(&eval, &wrong, 1);
    assert!(failed.stderr.contains("the SQL source of `sf` (connection `sf`) failed: Snowflake at 127.0.0.1 answered 401 Unauthorized"), "{}", failed.stderr);
    for out in [
        &run.stdout,
        &run.stderr,
        &tried.stdout,
        &refused.stdout,
        &refused.stderr,
        &failed.stderr,
    ] {
        for secret in ["dapi-never-shown", "dapi-wrong", "PRIVATE KEY"] {
            assert!(!out.contains(secret), "{out}");
        }
    }
}
