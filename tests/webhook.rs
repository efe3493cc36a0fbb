//! Chat messages posted to a real HTTP server process on loopback (`webhook_server.py`): the
//! payload, a 5xx and a timeout leaving it pending, a later flush posting it exactly once,
//! and a webhook read from the environment that is not set (or blank).

use std::process::{Child, Command};

use crate::util::{repo, start_server, Dir};

/// A running receiver; killed when dropped.
struct Receiver {
    child: Child,
    port: u16,
    log: std::path::PathBuf,
}

impl Receiver {
    fn start(dir: &Dir, script: &str) -> Receiver {
        let log = dir.path().join("webhook.log");
        let (child, line) = start_server(
            Command::new("python3")
                .arg(repo().join("tests/webhook_server.py"))
                .arg("--log")
                .arg(&log)
                .args(["--script", script, "--hang", "4"]),
        );
        let port = line.strip_prefix("READY ").expect("the receiver started");
        let port = port.parse().unwrap();
        Receiver { child, port, log }
    }

    /// What it accepted: one JSON object per message.
    fn received(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Ana has an email and a webhook from the environment; Bo, informed, only a webhook URL.
fn tree(dir: &Dir, port: u16) {
    let yaml = format!("tree: t\nroot: r\npeople:\n  ana: {{ name: Ana, email: ana@example.com, webhook: env:CANOPY_TEST_HOOK }}\n  bo: {{ name: Bo, webhook: \"http://127.0.0.1:{port}/bo\" }}\nraci: {{ accountable: ana, informed: [bo] }}\nmetrics:\n  r: {{ formula: a + b }}\n  a: {{}}\n  b: {{}}\n");
    dir.create("t.yaml", &yaml);
    dir.create(
        "d.csv",
        "period,metric,value\n2026-W01,a,10\n2026-W01,b,10\n2026-W02,a,30\n2026-W02,b,10\n",
    );
}

const RUN: [&str; 8] = [
    "run", "t.yaml", "--data", "d.csv", "--period", "2026-W02", "--format", "json",
];

#[test]
fn a_5xx_and_a_timeout_leave_it_pending_and_a_later_flush_posts_it_once() {
    let dir = Dir::new();
    let receiver = Receiver::start(&dir, "500,hang");
    tree(&dir, receiver.port);
    let env = [
        (
            "CANOPY_TEST_HOOK",
            format!("http://127.0.0.1:{}/ana-secret", receiver.port),
        ),
        ("CANOPY_WEBHOOK_TIMEOUT", "1".to_string()),
        ("CANOPY_SMTP_ATTEMPTS", "1".to_string()),
    ];
    previewed(&dir, &env);
    let run = dir.run_env(&RUN, &env, 1);
    assert!(
        run.stderr.contains("error: 2 chat messages could not be sent and stay in the outbox (webhook env:CANOPY_TEST_HOOK answered 500 Internal Server Error: try later)"),
        "{}",
        run.stderr
    );
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let sent: Vec<(&str, &str, &str)> = (doc["emails"].as_array().unwrap().iter())
        .map(|e| {
            (
                e["to"].as_str().unwrap(),
                e["channel"].as_str().unwrap(),
                e["status"].as_str().unwrap(),
            )
        })
        .collect();
    let bo = "webhook http://127.0.0.1/…".to_string();
    assert_eq!(
        sent,
        [
            ("ana@example.com", "email", "written"),
            ("webhook env:CANOPY_TEST_HOOK", "webhook", "pending"),
            (bo.as_str(), "webhook", "pending"),
        ]
    );
    assert!(receiver.received().is_empty());

    let flush = dir.run_env(&["outbox", "flush"], &env, 1);
    assert!(
        flush
            .stderr
            .contains("(webhook env:CANOPY_TEST_HOOK: timed out after 1 s waiting for the server)"),
        "{}",
        flush.stderr
    );
    assert!(
        receiver.received().is_empty(),
        "a request that timed out was not accepted"
    );

    let flush = dir.run_env(&["outbox", "flush"], &env, 0);
    assert!(
        flush.stderr.contains("posted 2 chat messages to webhooks"),
        "{}",
        flush.stderr
    );
    let again = dir.run_env(&["outbox", "flush"], &env, 0);
    assert!(again.stderr.contains("nothing to send"), "{}", again.stderr);
    let rerun = dir.run_env(&RUN, &env, 0);
    let doc: serde_json::Value = serde_json::from_str(&rerun.stdout).unwrap();
    assert!(
        (doc["emails"].as_array().unwrap().iter())
            .all(|e| e["status"] == "already sent" || e["status"] == "already written"),
        "{doc}"
    );

    posted_once(&receiver);
    // The secret in the environment's URL is never printed.
    for out in [&run.stderr, &run.stdout, &flush.stderr, &rerun.stdout] {
        assert!(!out.contains("ana-secret"), "{out}");
    }
    let status = dir.run(&["outbox", "status"], 0);
    assert!(!status.stdout.contains("ana-secret"), "{}", status.stdout);
}

/// A dry run's preview holds each chat message's JSON, named without the secret and with a
/// hash of the whole webhook, so two webhooks on one host have files of their own.
fn previewed(dir: &Dir, env: &[(&str, String)]) {
    let mut preview = RUN.to_vec();
    preview.extend(["--dry-run", "--preview", "preview"]);
    dir.run_env(&preview, env, 0);
    let mut names: Vec<String> = std::fs::read_dir(dir.path().join("preview"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    let shown = [
        "t-2026-W02-webhook_env_CANOPY_TEST_HOOK-",
        "t-2026-W02-webhook_http___127.0.0.1__-",
    ];
    for (name, shown) in names.iter().zip(shown) {
        let hash = name
            .strip_prefix(shown)
            .and_then(|n| n.strip_suffix(".json"));
        assert!(hash.is_some_and(|h| h.len() == 8), "{name}");
    }
    let json = std::fs::read_to_string(dir.path().join("preview").join(&names[0])).unwrap();
    let payload: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(
        payload["text"].as_str().unwrap().contains("Hi Ana,"),
        "{json}"
    );
}

/// The receiver accepted Ana's and Bo's messages once each, as Slack-compatible JSON.
fn posted_once(receiver: &Receiver) {
    let received = receiver.received();
    let paths: Vec<&str> = received
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/ana-secret", "/bo"], "each exactly once");
    let ids: Vec<&str> = (received.iter())
        .map(|r| r["headers"]["x-canopy-id"].as_str().unwrap())
        .collect();
    assert_ne!(ids[0], ids[1]);
    for (r, name) in received.iter().zip(["Ana", "Bo"]) {
        assert_eq!(r["headers"]["content-type"], "application/json");
        let payload: serde_json::Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        let text = payload["text"].as_str().unwrap();
        assert!(text.starts_with("*[canopy] t 2026-W02: "), "{text}");
        assert!(text.contains(&format!("Hi {name},")), "{text}");
        assert!(text.contains("definition: "), "{text}");
    }
}

/// A blank variable is not set, as every variable canopy reads.
#[test]
fn a_webhook_whose_variable_is_blank_is_not_set() {
    let dir = Dir::new();
    let receiver = Receiver::start(&dir, "");
    tree(&dir, receiver.port);
    let run = dir.run_env(&RUN, &[("CANOPY_TEST_HOOK", " ".to_string())], 1);
    assert!(
        run.stderr.contains("was refused for good: webhook env:CANOPY_TEST_HOOK: the environment variable CANOPY_TEST_HOOK is not set; set it, then `canopy outbox retry`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_webhook_whose_variable_is_not_set_fails_with_help_and_retry_posts_it() {
    let dir = Dir::new();
    let receiver = Receiver::start(&dir, "");
    tree(&dir, receiver.port);
    let run = dir.run(&RUN, 1);
    assert!(
        run.stderr.contains("error: the chat message to webhook env:CANOPY_TEST_HOOK (\"[canopy] t 2026-W02: ") && run.stderr.contains("was refused for good: webhook env:CANOPY_TEST_HOOK: the environment variable CANOPY_TEST_HOOK is not set; set it, then `canopy outbox retry`"),
        "{}",
        run.stderr
    );
    assert_eq!(receiver.received().len(), 1, "Bo's, by its URL");
    let env = [(
        "CANOPY_TEST_HOOK",
        format!("http://127.0.0.1:{}/ana", receiver.port),
    )];
    let retry = dir.run_env(&["outbox", "retry"], &env, 0);
    assert!(
        retry.stderr.contains("posted 1 chat message to webhooks"),
        "{}",
        retry.stderr
    );
    let paths: Vec<String> = (receiver.received().iter())
        .map(|r| r["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(paths, ["/bo", "/ana"]);
}

#[test]
fn a_webhook_in_clear_to_another_host_is_refused_by_check() {
    let dir = Dir::new();
    let yaml = "tree: t\nroot: r\npeople:\n  ana: { webhook: \"http://hooks.example.com/x\" }\n  bo: { webhook: \"env:not-a-name\" }\n  cy: { name: Cy }\nraci: { accountable: ana }\nmetrics:\n  r: {}\n";
    dir.create("t.yaml", yaml);
    let check = dir.run(&["check", "t.yaml"], 1);
    for expected in [
        "t.yaml:4:19: error: a webhook URL carries its secret: it must be `https://` (plain `http://` only to localhost)",
        "t.yaml:5:18: error: `env:not-a-name` does not name an environment variable",
        "t.yaml:6:7: error: person `cy` has no `email`\n  help: add `email: <address>` (or `webhook: https://...` for chat): owners are notified there",
        "help: write `webhook: https://...` (an incoming webhook's URL), or `webhook: env:NAME` to read it from the environment",
    ] {
        assert!(check.stderr.contains(expected), "{expected}\n{}", check.stderr);
    }
}
