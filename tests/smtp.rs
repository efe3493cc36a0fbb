//! `canopy run` and `canopy outbox` against a real SMTP server process (aiosmtpd, started per
//! test on a port of its own on 127.0.0.1): STARTTLS with a private CA and login, delivered
//! bytes, and faults (server down, 4xx, 5xx, a server that stalls, a run killed mid-way),
//! after each of which the outbox holds exactly what must still go and a later flush
//! delivers each email once.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::util::{certs, item_creation, repo, start_server, Dir, Run, ITEM_CREATION_RUN};

/// aiosmtpd, installed once into Cargo's scratch folder if Python lacks it.
fn python_path() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("python");
        let has = |dir: &Path| {
            Command::new("python3")
                .args(["-c", "import aiosmtpd"])
                .env("PYTHONPATH", dir)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !has(&dir) {
            let status = Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--target",
                ])
                .arg(&dir)
                .arg("aiosmtpd==1.4.6")
                .status()
                .expect("python3 runs");
            assert!(
                status.success() && has(&dir),
                "could not install aiosmtpd from PyPI"
            );
        }
        dir
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server; killed when dropped.
struct Server {
    child: Child,
    maildir: PathBuf,
}

/// One message the server accepted.
#[derive(Debug)]
struct Received {
    to: Vec<String>,
    authenticated: bool,
    tls: bool,
    body: String,
}

impl Server {
    fn start(dir: &Dir, port: u16, options: &[&str]) -> Server {
        let maildir = dir.path().join("maildir");
        let (child, line) = start_server(
            Command::new("python3")
                .arg(repo().join("tests/smtp_server.py"))
                .args(["--port", &port.to_string(), "--maildir"])
                .arg(&maildir)
                .args(options)
                .env("PYTHONPATH", python_path())
                // The server's own log (handshake failures are expected in some tests).
                .stderr(std::fs::File::create(dir.path().join("smtp-server.log")).unwrap()),
        );
        assert_eq!(line, "READY", "the SMTP server did not start");
        Server { child, maildir }
    }

    fn messages(&self) -> Vec<Received> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.maildir)
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.retain(|f| f.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files
            .iter()
            .map(|f| {
                let envelope: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(f.with_extension("json")).unwrap(),
                )
                .unwrap();
                Received {
                    to: envelope["to"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t.as_str().unwrap().to_string())
                        .collect(),
                    authenticated: envelope["auth"].as_bool() == Some(true),
                    tls: envelope["tls"].as_bool() == Some(true),
                    body: std::fs::read_to_string(f).unwrap(),
                }
            })
            .collect()
    }

    /// The Message-ID of every message accepted, in order.
    fn message_ids(&self) -> Vec<String> {
        self.messages()
            .iter()
            .map(|m| {
                let line = m.body.lines().find(|l| l.starts_with("Message-ID: "));
                line.expect("a Message-ID")["Message-ID: ".len()..].to_string()
            })
            .collect()
    }

    /// How many messages each recipient got.
    fn per_recipient(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for m in self.messages() {
            for to in m.to {
                *out.entry(to).or_default() += 1;
            }
        }
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Email settings for a plain (no TLS) server on `port`, with fast retries and timeouts.
fn plain(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("CANOPY_SMTP_URL", format!("smtp://127.0.0.1:{port}")),
        ("CANOPY_FROM", "Canopy <canopy@example.com>".to_string()),
        ("CANOPY_SMTP_TIMEOUT", "2".to_string()),
        ("CANOPY_SMTP_ATTEMPTS", "2".to_string()),
        ("CANOPY_SMTP_RETRY_MS", "50".to_string()),
    ]
}

const RUN: &[&str] = ITEM_CREATION_RUN;

fn everyone() -> BTreeMap<String, usize> {
    [
        "design@example.com",
        "growth@example.com",
        "maya@example.com",
        "product@example.com",
    ]
    .into_iter()
    .map(|r| (r.to_string(), 1))
    .collect()
}

fn outbox_status(dir: &Dir, code: i32) -> Run {
    dir.run(&["outbox", "status"], code)
}

const SHOP: &str = "tree: shop\ntitle: Shop <conversion>\nroot: rate\npeople:\n  maya: { name: \"Maya\\r\\nBcc: eve@evil.example\", email: maya@example.com }\n  ops: { name: \"<b>Ops</b> & co\", email: ops@example.com }\nraci: { accountable: ops, informed: [maya] }\nmetrics:\n  rate:\n    title: \"Conversion <script>alert(1)</script>\"\n    formula: orders / visits * 100\n    good: up\n    target: 5\n    raci: { accountable: maya }\n  orders: {}\n  visits: {}\n";

#[test]
fn starttls_with_login_delivers_each_digest_once() {
    let dir = Dir::new();
    dir.create("shop.yaml", SHOP);
    dir.create("shop.csv", "period,metric,value\n2026-W45,orders,52\n2026-W45,visits,1000\n2026-W46,orders,25\n2026-W46,visits,1000\n");
    let certs = certs(&dir, "tls");
    let port = free_port();
    let key = certs.key.to_str().unwrap();
    let server = Server::start(
        &dir,
        port,
        &[
            "--tls",
            certs.cert.to_str().unwrap(),
            key,
            "--auth",
            "canopy:s3cret",
        ],
    );
    let mut env = plain(port);
    env[0].1 = format!("smtp://canopy:s3cret@127.0.0.1:{port}?tls=required");
    env.push(("CANOPY_SMTP_CA", certs.ca.to_str().unwrap().to_string()));
    let args = ["run", "shop.yaml", "--data", "shop.csv", "--format", "json"];
    let run = dir.run_env(&args, &env, 0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(
        doc["emails"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "sent"),
        "{doc}"
    );
    let messages = server.messages();
    assert_eq!(messages.len(), 2);
    for m in &messages {
        assert!(m.tls && m.authenticated, "STARTTLS and login were used");
        let (headers, _) = m.body.split_once("\r\n\r\n").unwrap();
        assert!(!headers.lines().any(|l| l.starts_with("Bcc:")), "{headers}");
        assert!(headers.contains("Auto-Submitted: auto-generated"));
        assert!(m.body.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(m.body.contains("Content-Type: text/html; charset=utf-8"));
        let html = m.body.split("Content-Type: text/html").nth(1).unwrap();
        let html = String::from_utf8(
            quoted_printable::decode(html, quoted_printable::ParseMode::Robust).unwrap(),
        )
        .unwrap();
        assert!(
            !html.contains("<script>") && !html.contains("<b>Ops"),
            "{html}"
        );
    }
    let maya = messages
        .iter()
        .find(|m| m.to == ["maya@example.com"])
        .unwrap();
    // The root moved: its headline is the subject, after the tree and period, and the
    // first line of the email.
    assert!(maya
        .body
        .contains("Subject: [canopy] shop 2026-W46: Conversion"));
    let text = text_of(maya);
    let (_, after_greeting) = text.split_once(",\n\n").unwrap();
    assert!(
        after_greeting.starts_with(
            "Conversion <script>alert(1)</script> fell 5.2 -> 2.5: orders -27 drove 100%.\n"
        ),
        "{text}"
    );
    assert!(maya.body.contains("maya@example.com"));
    // The same run again sends nothing: the outbox knows these Message-IDs.
    let again = dir.run_env(&args, &env, 0);
    assert!(
        again.stdout.contains("\"already sent\""),
        "{}",
        again.stdout
    );
    assert_eq!(server.messages().len(), 2);
}

#[test]
fn an_untrusted_certificate_is_refused_and_kept_for_later() {
    let dir = item_creation();
    let certs = certs(&dir, "tls");
    let port = free_port();
    let _server = Server::start(
        &dir,
        port,
        &[
            "--tls",
            certs.cert.to_str().unwrap(),
            certs.key.to_str().unwrap(),
        ],
    );
    let mut env = plain(port);
    env[0].1 = format!("smtp://127.0.0.1:{port}?tls=required");
    // No CANOPY_SMTP_CA: the private CA is not trusted.
    let run = dir.run_env(RUN, &env, 1);
    assert!(
        run.stderr
            .contains("could not be sent and stay in the outbox"),
        "{}",
        run.stderr
    );
    let status = outbox_status(&dir, 1);
    assert!(
        status.stdout.starts_with("pending:   4\n"),
        "{}",
        status.stdout
    );
}

#[test]
fn server_down_loses_nothing_and_a_flush_delivers_later() {
    let dir = item_creation();
    let port = free_port();
    let env = plain(port);
    let run = dir.run_env(RUN, &env, 1);
    assert!(
        run.stderr
            .contains("4 emails could not be sent and stay in the outbox"),
        "{}",
        run.stderr
    );
    let status = outbox_status(&dir, 1);
    assert!(
        status
            .stdout
            .starts_with("pending:   4\nfailed:    0\nuncertain: 0\nsent:      0\n"),
        "{}",
        status.stdout
    );
    // Each pending email is listed under the counts, with why it waits and when it goes.
    assert!(
        status
            .stdout
            .contains("pending: maya@example.com: [canopy] item-creation 2026-W47"),
        "{}",
        status.stdout
    );
    let details: Vec<&str> = (status.stdout.lines())
        .filter(|l| l.starts_with("  attempts: "))
        .collect();
    assert_eq!(details.len(), 4, "{}", status.stdout);
    assert!(
        (details.iter())
            .all(|l| l.ends_with("; next try: by the next run or `canopy outbox flush`")),
        "{}",
        status.stdout
    );
    // The first email meets the closed port; the rest wait untried behind it.
    let tried: Vec<&&str> = (details.iter())
        .filter(|l| l.starts_with("  attempts: 1; last error: ") && !l.contains("error: none"))
        .collect();
    assert_eq!(tried.len(), 1, "{}", status.stdout);
    assert_eq!(
        (details.iter())
            .filter(|l| l.starts_with("  attempts: 0; last error: none;"))
            .count(),
        3,
        "{}",
        status.stdout
    );
    let server = Server::start(&dir, port, &[]);
    dir.run_env(&["outbox", "flush"], &env, 0);
    assert_eq!(server.per_recipient(), everyone());
    // Nothing is left, and nothing goes twice.
    dir.run_env(&["outbox", "flush"], &env, 0);
    dir.run_env(RUN, &env, 0);
    assert_eq!(server.per_recipient(), everyone());
    outbox_status(&dir, 0);
}

#[test]
fn a_temporary_failure_is_retried_by_the_next_run() {
    let dir = item_creation();
    let port = free_port();
    let env = plain(port);
    {
        let server = Server::start(&dir, port, &["--mode", "tempfail"]);
        let run = dir.run_env(RUN, &env, 1);
        assert!(run.stderr.contains("451"), "{}", run.stderr);
        assert!(server.messages().is_empty());
    }
    let server = Server::start(&dir, port, &[]);
    dir.run_env(RUN, &env, 0);
    assert_eq!(server.per_recipient(), everyone());
}

#[test]
fn a_permanent_rejection_marks_the_email_failed_and_the_run_exits_1() {
    let dir = item_creation();
    let port = free_port();
    let env = plain(port);
    refused_for_good(&dir, port, &env);
    // Refused emails are not retried by a flush or a re-run, which both say so and exit 1.
    let server = Server::start(&dir, port, &[]);
    not_retried(&dir, &server, &env);
    retried_or_discarded(&dir, &server, &env);
}

/// A server refusing every email with a 550: all four are failed, and `outbox status` says so.
fn refused_for_good(dir: &Dir, port: u16, env: &[(&'static str, String)]) {
    {
        let _server = Server::start(dir, port, &["--mode", "reject"]);
        let run = dir.run_env(RUN, env, 1);
        assert_eq!(
            run.stderr.matches("was refused for good").count(),
            4,
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("550"), "{}", run.stderr);
    }
    let status = outbox_status(dir, 1);
    assert!(
        status.stdout.starts_with("pending:   0\nfailed:    4\n"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("failed: maya@example.com: [canopy] item-creation 2026-W47"),
        "{}",
        status.stdout
    );
    assert_eq!(
        status
            .stdout
            .matches("; next try: only after `canopy outbox retry`\n")
            .count(),
        4,
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("last error: permanent error (550)"),
        "{}",
        status.stdout
    );
}

/// Failed emails stay failed through a flush and a re-run, which say so and exit 1.
fn not_retried(dir: &Dir, server: &Server, env: &[(&'static str, String)]) {
    let flush = dir.run_env(&["outbox", "flush"], env, 1);
    assert!(
        flush
            .stderr
            .contains("4 failed and 0 uncertain from earlier passes")
            && flush.stderr.contains("canopy outbox retry"),
        "{}",
        flush.stderr
    );
    let again = dir.run_env(RUN, env, 1);
    assert_eq!(
        again
            .stderr
            .matches("is failed since an earlier run")
            .count(),
        4,
        "{}",
        again.stderr
    );
    assert!(server.messages().is_empty());
}

/// With the server fixed, a retry of one address, then a discard, then a retry of the rest:
/// each delivered once, the discarded one never.
fn retried_or_discarded(dir: &Dir, server: &Server, env: &[(&'static str, String)]) {
    let one = ["outbox", "retry", "--failed", "--to", "MAYA@example.com"];
    let retry = dir.run_env(&one, env, 1);
    assert!(
        retry
            .stderr
            .starts_with("1 email back in the outbox\nsent 1 email"),
        "{}",
        retry.stderr
    );
    assert_eq!(server.messages().len(), 1);
    // One is given up on (its address is gone, say): kept, never sent, no longer stuck.
    let discard = ["outbox", "discard", "--to", "design@example.com"];
    let discarded = dir.run_env(&discard, env, 0);
    assert_eq!(
        discarded.stderr,
        "1 email discarded (kept in the history, never sent)\n"
    );
    let retry = dir.run_env(&["outbox", "retry", "--tree", "item-creation"], env, 0);
    assert!(
        retry.stderr.starts_with("2 emails back in the outbox\n"),
        "{}",
        retry.stderr
    );
    let mut delivered = everyone();
    delivered.remove("design@example.com");
    assert_eq!(server.per_recipient(), delivered);
    dir.run_env(&["outbox", "retry"], env, 0);
    let again = dir.run_env(RUN, env, 0);
    assert_eq!(
        again.stdout.matches("discarded").count(),
        1,
        "{}",
        again.stdout
    );
    assert_eq!(server.per_recipient(), delivered);
    assert!(outbox_status(dir, 0).stdout.contains("discarded: 1\n"));
    assert_eq!(
        again.stdout.matches("already sent").count(),
        3,
        "{}",
        again.stdout
    );
}

#[test]
fn a_server_that_never_answers_the_content_leaves_each_email_uncertain() {
    let dir = item_creation();
    let port = free_port();
    let mut env = plain(port);
    env.push(("CANOPY_SMTP_ATTEMPTS", "3".to_string()));
    {
        let _server = Server::start(&dir, port, &["--mode", "stall"]);
        let started = Instant::now();
        let run = dir.run_env(RUN, &env, 1);
        assert_eq!(
            run.stderr.matches("may not have been delivered").count(),
            4,
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("timed out after 2 s waiting for the server"),
            "{}",
            run.stderr
        );
        // One attempt each, bounded by the 2 s timeout, not by the server (which never
        // answers) nor by the 3 attempts allowed.
        assert!(started.elapsed() < Duration::from_secs(30));
    }
    let status = outbox_status(&dir, 1);
    assert!(
        status.stdout.contains("uncertain: 4\n"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("uncertain: maya@example.com: [canopy] item-creation 2026-W47"),
        "{}",
        status.stdout
    );
    // Not sent again before CANOPY_SMTP_UNCERTAIN_AFTER; after it, once each.
    let server = Server::start(&dir, port, &[]);
    dir.run_env(&["outbox", "flush"], &env, 1);
    assert!(server.messages().is_empty());
    let mut later = env.clone();
    later.push(("CANOPY_SMTP_UNCERTAIN_AFTER", "0".to_string()));
    dir.run_env(&["outbox", "flush"], &later, 0);
    assert_eq!(server.per_recipient(), everyone());
}

#[test]
fn a_server_that_never_greets_times_out_and_the_email_waits() {
    let dir = item_creation();
    let port = free_port();
    // A listener that accepts connections and says nothing.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let run = dir.run_env(RUN, &plain(port), 1);
    assert!(
        run.stderr.contains("4 emails could not be sent and stay in the outbox (timed out after 2 s waiting for the server)"),
        "{}",
        run.stderr
    );
    drop(listener);
    let server = Server::start(&dir, port, &[]);
    dir.run_env(&["outbox", "flush"], &plain(port), 0);
    assert_eq!(server.per_recipient(), everyone());
}

/// Starts `canopy run` with `env`, and kills it (SIGKILL) once `reached` holds.
fn kill_when(dir: &Dir, env: &[(&'static str, String)], mut reached: impl FnMut() -> bool) {
    let mut cmd = dir.command(RUN);
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut run = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reached() {
        assert!(Instant::now() < deadline, "the run never got there");
        std::thread::sleep(Duration::from_millis(20));
    }
    run.kill().unwrap();
    run.wait().unwrap();
}

#[test]
fn a_run_killed_while_the_server_holds_an_email_leaves_it_uncertain() {
    let dir = item_creation();
    let port = free_port();
    let mut env = plain(port);
    env.push(("CANOPY_SMTP_TIMEOUT", "60".to_string()));
    {
        // The server has the second email's content and never answers; the run is killed
        // then, as a timeout would have struck.
        let server = Server::start(&dir, port, &["--mode", "stall", "--stall-after", "1"]);
        kill_when(&dir, &env, || server.maildir.join("stalling").exists());
        assert_eq!(server.messages().len(), 1);
    }
    // The restarted server writes into the same maildir: it holds everything delivered.
    let server = Server::start(&dir, port, &[]);
    let again = dir.run_env(RUN, &plain(port), 1);
    assert!(
        again.stderr.contains("is uncertain since an earlier run"),
        "{}",
        again.stderr
    );
    let delivered = server.per_recipient();
    assert_eq!(delivered.len(), 3, "the one in flight is not sent again");
    let held = everyone().into_keys().find(|r| !delivered.contains_key(r));
    let held = held.expect("one recipient is missing");
    let status = outbox_status(&dir, 1);
    let line = format!("uncertain: {held}: [canopy] item-creation 2026-W47");
    assert!(
        status.stdout.contains("uncertain: 1\n")
            && status.stdout.contains(&line)
            && status
                .stdout
                .contains("canopy stopped after handing it over"),
        "{}",
        status.stdout
    );
    dir.run_env(&["outbox", "retry"], &plain(port), 0);
    assert_eq!(server.per_recipient(), everyone());
}

#[test]
fn a_run_killed_before_the_hand_over_leaves_the_email_pending() {
    let dir = item_creation();
    let port = free_port();
    let mut env = plain(port);
    env.push(("CANOPY_SMTP_TIMEOUT", "60".to_string()));
    // A listener that accepts the connection and never greets: nothing is handed over.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    // The connection is kept open until the run is killed.
    let mut accepted = None;
    kill_when(&dir, &env, || {
        accepted = listener.accept().ok();
        accepted.is_some()
    });
    drop(accepted);
    drop(listener);
    let server = Server::start(&dir, port, &[]);
    dir.run_env(RUN, &plain(port), 0);
    assert_eq!(server.per_recipient(), everyone());
}

#[test]
fn without_smtp_emails_are_written_as_eml_files() {
    let dir = item_creation();
    let run = dir.run(RUN, 0);
    assert!(
        run.stderr.starts_with(
            "wrote 4 emails to the folder .canopy/outbox\nnote: no SMTP server is configured"
        ),
        "{}",
        run.stderr
    );
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join(".canopy/outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files[2], "item-creation-2026-W47-maya@example.com.eml");
    let again = dir.run(RUN, 0);
    assert!(
        again.stdout.contains("already written") && again.stderr.is_empty(),
        "{}{}",
        again.stdout,
        again.stderr
    );
}

/// Two people whose addresses differ only in a `+` and a `_`, each with a move of their own.
const TWINS: &str = "tree: t\nroot: total\npeople:\n  p1: { email: a+b@example.com }\n  p2: { email: a_b@example.com }\nraci: { accountable: p1 }\nmetrics:\n  total: { formula: x + y }\n  x: {}\n  y: { raci: { accountable: p2 } }\n";

/// The `To:` header of each `.eml` file in `folder` of `dir`, by file name.
fn addressed(dir: &Dir, folder: &str) -> BTreeMap<String, String> {
    let files = std::fs::read_dir(dir.path().join(folder)).unwrap();
    let mut out = BTreeMap::new();
    for path in files.map(|e| e.unwrap().path()) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".eml") {
            let text = std::fs::read_to_string(&path).unwrap();
            let to = text.lines().find_map(|l| l.strip_prefix("To: "));
            out.insert(name, to.expect("a To header").to_string());
        }
    }
    out
}

#[test]
fn addresses_that_differ_only_in_symbols_get_files_of_their_own() {
    let dir = Dir::new();
    dir.create("t.yaml", TWINS);
    dir.create(
        "t.csv",
        "period,metric,value\n2026-W01,x,100\n2026-W01,y,100\n2026-W02,x,50\n2026-W02,y,50\n",
    );
    let run = ["run", "t.yaml", "--data", "t.csv", "--period", "2026-W02"];
    let expected: BTreeMap<String, String> = [
        ("t-2026-W02-a+b@example.com.eml", "p1 <a+b@example.com>"),
        ("t-2026-W02-a_b@example.com.eml", "p2 <a_b@example.com>"),
    ]
    .map(|(f, to)| (f.to_string(), to.to_string()))
    .into();
    // A preview made twice replaces its own files.
    let preview = [&run[..], &["--dry-run", "--preview", "preview"]].concat();
    dir.run(&preview, 0);
    dir.run(&preview, 0);
    assert_eq!(addressed(&dir, "preview"), expected);
    let written = dir.run(&run, 0);
    assert!(
        written.stderr.starts_with("wrote 2 emails"),
        "{}",
        written.stderr
    );
    assert_eq!(addressed(&dir, ".canopy/outbox"), expected);
}

#[test]
fn an_outbox_file_of_another_message_is_never_overwritten() {
    let dir = Dir::new();
    dir.create("t.yaml", TWINS);
    dir.create(
        "t.csv",
        "period,metric,value\n2026-W01,x,100\n2026-W01,y,100\n2026-W02,x,50\n2026-W02,y,50\n",
    );
    let theirs = "Message-ID: <someone-else@example.com>\r\n\r\nnot canopy's\r\n";
    let taken = dir.create(".canopy/outbox/t-2026-W02-a_b@example.com.eml", theirs);
    let run = dir.run(
        &["run", "t.yaml", "--data", "t.csv", "--period", "2026-W02"],
        1,
    );
    assert!(
        run.stderr.contains("the email to a_b@example.com (")
            && run
                .stderr
                .contains("holds another message; nothing was overwritten"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(taken).unwrap(), theirs);
    assert!(dir
        .path()
        .join(".canopy/outbox/t-2026-W02-a+b@example.com.eml")
        .exists());
}

#[test]
fn a_period_without_data_fails_the_run_and_sends_nothing() {
    let dir = item_creation();
    let args = [
        "run",
        "trees/item-creation.yaml",
        "--data",
        "fixtures/data/item-creation.csv",
        "--period",
        "2026-W50",
    ];
    let run = dir.run(&args, 1);
    assert_eq!(
        run.stderr,
        "error: tree `item-creation` has no value for its root in 2026-W50 (`activated_users` has no data in 2026-W50); nothing is sent for it\n"
    );
    assert!(!dir.path().join(".canopy/outbox").exists());
}

#[test]
fn a_dry_run_sends_and_records_nothing() {
    let dir = item_creation();
    let port = free_port();
    let server = Server::start(&dir, port, &[]);
    let run = dir.run_env(&[RUN, &["--dry-run"]].concat(), &plain(port), 0);
    assert!(
        run.stdout.contains("(dry run)") && run.stdout.contains("would send"),
        "{}",
        run.stdout
    );
    assert!(server.messages().is_empty());
    assert!(!dir.path().join(".canopy").exists(), "nothing recorded");
}

/// Starts `canopy args` with `env` in `dir` without waiting for it.
fn spawn(dir: &Dir, args: &[&str], env: &[(&'static str, String)]) -> Child {
    let mut cmd = dir.command(args);
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd.spawn().unwrap()
}

/// Waits for `child`, checking it exited 0; returns its stderr.
fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{}\n{stderr}", out.status);
    stderr
}

/// Checks that the messages the server accepted after the first `before` are `expected`
/// distinct Message-IDs, each delivered once.
fn delivered_once(server: &Server, before: usize, expected: usize, round: usize) {
    let ids = server.message_ids();
    let new = &ids[before..];
    let mut distinct = new.to_vec();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        (new.len(), distinct.len()),
        (expected, expected),
        "round {round}: each email once, got {new:?}"
    );
}

#[test]
fn two_runs_started_together_send_each_email_once() {
    let server_dir = Dir::new();
    let port = free_port();
    let server = Server::start(&server_dir, port, &[]);
    let env = plain(port);
    for round in 0..20 {
        let dir = item_creation();
        let before = server.messages().len();
        let (a, b) = (spawn(&dir, RUN, &env), spawn(&dir, RUN, &env));
        let stderr = [finish(a), finish(b)].concat();
        // One sent all four; the other waited for it (or came after) and found them sent.
        assert_eq!(
            stderr.matches("sent 4 emails").count(),
            1,
            "round {round}: {stderr}"
        );
        delivered_once(&server, before, 4, round);
    }
}

#[test]
fn two_names_of_one_database_are_one_lock() {
    let server_dir = Dir::new();
    let port = free_port();
    let server = Server::start(&server_dir, port, &[]);
    let env = plain(port);
    for round in 0..10 {
        let dir = item_creation();
        // `alias.db` names `c.db` before either exists, as a second name in a crontab would.
        std::fs::create_dir(dir.path().join("t")).unwrap();
        std::os::unix::fs::symlink("c.db", dir.path().join("t/alias.db")).unwrap();
        let before = server.messages().len();
        let (a, b) = (
            spawn(&dir, &[RUN, &["--db", "t/c.db"]].concat(), &env),
            spawn(&dir, &[RUN, &["--db", "t/alias.db"]].concat(), &env),
        );
        let stderr = [finish(a), finish(b)].concat();
        assert_eq!(
            stderr.matches("sent 4 emails").count(),
            1,
            "round {round}: {stderr}"
        );
        delivered_once(&server, before, 4, round);
        assert!(
            dir.path().join("t/alias.db").is_symlink(),
            "the link is kept"
        );
    }
}

#[test]
fn a_run_and_a_flush_together_send_each_email_once() {
    let server_dir = Dir::new();
    let port = free_port();
    let server = Server::start(&server_dir, port, &[]);
    let (down, up) = (plain(free_port()), plain(port));
    for round in 0..20 {
        // Four emails wait in the outbox while no server answers.
        let dir = item_creation();
        dir.run_env(RUN, &down, 1);
        let before = server.messages().len();
        let run = spawn(&dir, RUN, &up);
        let flush = spawn(&dir, &["outbox", "flush"], &up);
        finish(run);
        finish(flush);
        delivered_once(&server, before, 4, round);
    }
}

#[test]
fn a_second_run_waits_for_the_first_and_gives_up_after_the_lock_wait() {
    let dir = item_creation();
    let port = free_port();
    let server = Server::start(&dir, port, &["--mode", "stall"]);
    let mut slow = plain(port);
    slow.push(("CANOPY_SMTP_TIMEOUT", "60".to_string()));
    let mut first = spawn(&dir, RUN, &slow);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.maildir.join("stalling").exists() {
        assert!(
            Instant::now() < deadline,
            "the first run never reached the server"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut env = plain(port);
    env.push(("CANOPY_LOCK_WAIT", "1".to_string()));
    let second = dir.run_env(RUN, &env, 1);
    let pid = first.id();
    assert!(
        second.stderr.contains(&format!("note: another canopy run or flush (pid {pid}) is using .canopy/canopy.db; waiting up to 1 s"))
            && second.stderr.contains(&format!("error: history database .canopy/canopy.db: another canopy run or flush (pid {pid}) has been using it for more than 1 s"))
            && second.stderr.contains("help: "),
        "{}",
        second.stderr
    );
    // The second decided and sent nothing; the lock goes with the first process, killed
    // while the server held its first email (so that one is uncertain).
    first.kill().unwrap();
    first.wait().unwrap();
    let status = outbox_status(&dir, 1);
    assert!(
        status
            .stdout
            .starts_with("pending:   3\nfailed:    0\nuncertain: 1\n"),
        "{}",
        status.stdout
    );
    drop(server);
    let server = Server::start(&dir, port, &[]);
    dir.run_env(RUN, &plain(port), 1);
    dir.run_env(&["outbox", "retry"], &plain(port), 0);
    assert_eq!(server.per_recipient(), everyone());
}

#[test]
fn a_server_slower_than_the_timeout_gets_each_email_once() {
    let dir = item_creation();
    let port = free_port();
    let server = Server::start(&dir, port, &["--mode", "slowack", "--ack-delay", "2.5"]);
    let mut env = plain(port);
    env.push(("CANOPY_SMTP_TIMEOUT", "1".to_string()));
    env.push(("CANOPY_SMTP_ATTEMPTS", "4".to_string()));
    let run = dir.run_env(RUN, &env, 1);
    assert_eq!(
        run.stderr
            .matches("the message was handed over, then timed out after 1 s waiting for the server; it may have been delivered")
            .count(),
        4,
        "{}",
        run.stderr
    );
    assert_eq!(server.per_recipient(), everyone(), "each handed over once");
    // Neither a flush nor a re-run sends them again before CANOPY_SMTP_UNCERTAIN_AFTER.
    dir.run_env(&["outbox", "flush"], &env, 1);
    let again = dir.run_env(&[RUN, &["--format", "json"]].concat(), &env, 1);
    let doc: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    let statuses: Vec<&str> = doc["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["uncertain"; 4]);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(server.per_recipient(), everyone());
    let status = outbox_status(&dir, 1);
    assert!(
        status.stdout.contains("uncertain: 4\n"),
        "{}",
        status.stdout
    );
}

#[test]
fn a_100_kb_name_is_cut_and_every_header_line_fits() {
    let dir = Dir::new();
    let name = "N".repeat(100_000);
    let tree = SHOP.replace("\"Maya\\r\\nBcc: eve@evil.example\"", &name);
    dir.create("shop.yaml", &tree);
    dir.create("shop.csv", "period,metric,value\n2026-W45,orders,52\n2026-W45,visits,1000\n2026-W46,orders,25\n2026-W46,visits,1000\n");
    let check = dir.run(&["check", "shop.yaml"], 0);
    assert!(
        check.stderr.contains("shop.yaml:5:17: warning: this name is 100000 characters long; emails show its first 99 and `…`"),
        "{}",
        check.stderr
    );
    let port = free_port();
    let server = Server::start(&dir, port, &[]);
    dir.run_env(&["run", "shop.yaml", "--data", "shop.csv"], &plain(port), 0);
    let maya = server
        .messages()
        .into_iter()
        .find(|m| m.to == ["maya@example.com"])
        .expect("delivered");
    let (headers, _) = maya.body.split_once("\r\n\r\n").unwrap();
    let longest = headers.split("\r\n").map(str::len).max().unwrap();
    assert!(longest <= 998, "a header line of {longest} octets");
    assert!(
        maya.body.len() < 50_000,
        "the name was cut: {} bytes",
        maya.body.len()
    );
}

/// The text part of a message, decoded, with `\n` line ends.
fn text_of(m: &Received) -> String {
    let part = m.body.split("Content-Type: text/plain").nth(1).unwrap();
    let part = part.split("Content-Type: text/html").next().unwrap();
    let decoded = quoted_printable::decode(part, quoted_printable::ParseMode::Robust).unwrap();
    String::from_utf8(decoded).unwrap().replace("\r\n", "\n")
}

/// `canopy run trees/activation.yaml` for `period`, against the server on `port`, as JSON.
fn activation_run(dir: &Dir, port: u16, period: &str) -> serde_json::Value {
    let args = [
        "run",
        "trees/activation.yaml",
        "--data",
        "fixtures/data/activation.csv",
        "--period",
        period,
        "--format",
        "json",
    ];
    let run = dir.run_env(&args, &plain(port), 0);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[test]
fn a_verdict_is_emailed_once_the_run_its_window_ends() {
    let dir = Dir::new();
    dir.copy("trees/activation.yaml");
    dir.copy("fixtures/data/activation.csv");
    let port = free_port();
    let server = Server::start(&dir, port, &[]);
    // Weekly runs from before the checklist shipped (2026-W14) to after its window (W20).
    let mut told = Vec::new();
    for week in 12..=21 {
        let doc = activation_run(&dir, port, &format!("2026-W{week}"));
        for v in doc["verdicts"].as_array().unwrap() {
            told.push((
                week,
                v["id"].as_str().unwrap().to_string(),
                v["post_hoc"].clone(),
            ));
        }
    }
    let expected = (
        20,
        "onboarding-checklist".to_string(),
        serde_json::json!(false),
    );
    assert_eq!(
        told,
        [expected],
        "told once, in the run for 2026-W20, not post hoc"
    );
    let messages = server.messages();
    let judged: Vec<&Received> = messages
        .iter()
        .filter(|m| text_of(m).contains("Verified impact:"))
        .collect();
    let [email] = judged.as_slice() else {
        panic!("one email tells the verdict: {judged:?}")
    };
    // The owner (the metric's accountable: growth) hears it.
    assert_eq!(email.to, ["growth@example.com"]);
    let text = text_of(email);
    assert!(text.contains("Verified impact:"), "{text}");
    assert!(
        text.contains("onboarding-checklist: CONFIRMED. Activated users rose +"),
        "{text}"
    );
    assert!(text.contains("False-alarm check:"), "{text}");

    // A change registered now, after it shipped, is post hoc when its verdict comes.
    let tree = std::fs::read_to_string(dir.path().join("trees/activation.yaml")).unwrap();
    let late = "  - id: late-entry\n    metric: active_users\n    shipped: 2026-W10\n    expect: { direction: up }\n";
    dir.create("trees/activation.yaml", &(tree + late));
    let doc = activation_run(&dir, port, "2026-W22");
    let verdicts = doc["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.len(), 1, "{doc}");
    assert_eq!(verdicts[0]["id"], "late-entry");
    assert_eq!(verdicts[0]["post_hoc"], true);
    let last = server
        .messages()
        .into_iter()
        .rev()
        .find(|m| m.body.contains("change judged"))
        .unwrap();
    assert!(
        text_of(&last).contains("late-entry (registered after it shipped: post hoc):"),
        "{}",
        text_of(&last)
    );
    // And the next run repeats neither.
    let doc = activation_run(&dir, port, "2026-W23");
    assert_eq!(doc["verdicts"], serde_json::json!([]));
}

#[test]
fn a_preview_writes_every_email_and_records_nothing() {
    let dir = item_creation();
    let preview = [RUN, &["--dry-run", "--preview", "preview"]].concat();
    let run = dir.run(&preview, 0);
    assert!(run.stdout.contains("would send"), "{}", run.stdout);
    let mut files: Vec<String> = std::fs::read_dir(dir.path().join("preview"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let people = ["design", "growth", "maya", "product"];
    let expected: Vec<String> = people
        .iter()
        .flat_map(|p| {
            ["eml", "html"].map(|ext| format!("item-creation-2026-W47-{p}@example.com.{ext}"))
        })
        .collect();
    assert_eq!(files, expected);
    let html = std::fs::read_to_string(dir.path().join("preview").join(&expected[5])).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("Item creation rate fell"),
        "{html}"
    );
    assert!(
        !dir.path().join(".canopy").exists(),
        "a dry run records nothing"
    );
    // A preview is of a dry run only.
    let run = dir.run(&[RUN, &["--preview", "preview"]].concat(), 2);
    assert!(run.stderr.contains("--dry-run"), "{}", run.stderr);
}
