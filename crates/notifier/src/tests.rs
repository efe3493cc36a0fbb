//! History, email and outbox behaviour on small inputs.

use std::cell::RefCell;
use std::path::Path;
use std::time::{Duration, SystemTime};

use canopy_engine::{MemoryFs, MetricTree};
use canopy_evaluator::{evaluate, DataBuilder, Evaluation, Period};
use chrono::{TimeZone, Utc};

use crate::*;

/// A small tree whose people have awkward names: a line break (header injection) and markup.
const TREE: &str = "tree: shop\ntitle: Shop <conversion>\nroot: rate\npeople:\n  maya: { name: \"Maya\\r\\nBcc: eve@evil.example\", email: maya@example.com }\n  ops: { name: \"<b>Ops</b> & co\", email: ops@example.com }\nraci: { accountable: ops, informed: [maya] }\nmetrics:\n  rate:\n    title: \"Conversion <script>alert(1)</script>\"\n    unit: \"%\"\n    formula: orders / visits * 100\n    good: up\n    target: 5\n    bands: [{ name: Low, below: 3 }, { name: Fine }]\n    raci: { accountable: maya }\n  orders: {}\n  visits: {}\n";

const DATA: &str = "period,metric,value\n2026-W44,orders,50\n2026-W44,visits,1000\n2026-W45,orders,52\n2026-W45,visits,1000\n2026-W46,orders,25\n2026-W46,visits,1000\n";

/// The rows of CSV `text`, for a [`DataBuilder`].
pub(crate) fn csv(text: &str) -> std::sync::Arc<canopy_evaluator::Table> {
    let table = canopy_sources::csv::parse(Path::new("d.csv"), text.as_bytes().to_vec());
    std::sync::Arc::new(table.expect("a valid header"))
}

fn tree() -> MetricTree {
    canopy_engine::load(
        Path::new("shop.yaml"),
        &MemoryFs::new().with("shop.yaml", TREE),
        &Sendable,
    )
    .expect("valid")
    .tree
}

fn eval(tree: &MetricTree) -> Evaluation<'_> {
    let mut b = DataBuilder::new(tree);
    b.add_table(&csv(DATA));
    evaluate(tree, &b.finish().unwrap())
}

fn period() -> Period {
    Period::parse("2026-W46", canopy_engine::Grain::Week).unwrap()
}

/// The ISO week written `text`.
fn week(text: &str) -> Period {
    Period::parse(text, canopy_engine::Grain::Week).unwrap()
}

fn sender() -> Mailbox {
    "Canopy <canopy@example.com>".parse().unwrap()
}

fn date() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)
}

fn now() -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_795_000_000, 0).unwrap()
}

/// The message with what changes from run to run (the MIME boundary) made stable.
fn stable(email: &StoredEmail) -> String {
    let text = String::from_utf8(email.body.clone()).unwrap();
    let boundary = text
        .split("boundary=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    text.replace(&boundary, "BOUNDARY")
}

/// The text of a quoted-printable part.
fn decode_qp(text: &str) -> String {
    let bytes = quoted_printable::decode(text, quoted_printable::ParseMode::Robust).unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn a_run_plans_one_email_per_person() {
    let t = tree();
    let history = History::in_memory().unwrap();
    let planned = plan(&eval(&t), period(), &history, &sender(), date(), None).unwrap();
    let moves: Vec<(&str, &[&str], &str)> = planned
        .moves
        .iter()
        .map(|m| (m.metric.as_str(), m.rules.as_slice(), m.recipient.as_str()))
        .collect();
    assert_eq!(
        moves,
        [
            (
                "rate",
                &["change_pct", "bands", "target"][..],
                "maya@example.com"
            ),
            ("orders", &["change_pct"][..], "ops@example.com"),
        ]
    );
    let recipients: Vec<&str> = planned
        .record
        .emails
        .iter()
        .map(|e| e.recipient.as_str())
        .collect();
    assert_eq!(recipients, ["maya@example.com", "ops@example.com"]);
}

#[test]
fn emails_are_escaped_and_headers_cannot_be_injected() {
    let t = tree();
    let history = History::in_memory().unwrap();
    let planned = plan(&eval(&t), period(), &history, &sender(), date(), None).unwrap();
    let maya = stable(&planned.record.emails[0]);
    // The line break in Maya's name is gone: no Bcc header appears.
    let headers = maya.split("\r\n\r\n").next().unwrap();
    assert!(!headers.lines().any(|l| l.starts_with("Bcc:")), "{headers}");
    assert!(headers.contains("Message-ID: <canopy.shop.2026-W46."));
    assert!(headers.contains("Auto-Submitted: auto-generated"));
    assert!(headers.contains("List-Id: Canopy shop <shop.canopy.example.com>"));
    let html = decode_qp(maya.split("Content-Type: text/html").nth(1).unwrap());
    assert!(
        !html.contains("<script>")
            && html.contains("Conversion &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    let ops = decode_qp(&stable(&planned.record.emails[1]));
    assert!(
        ops.contains("Hi &lt;b&gt;Ops&lt;/b&gt; &amp; co,</p>"),
        "{ops}"
    );
    insta::assert_snapshot!("maya", maya);
    insta::assert_snapshot!("ops", stable(&planned.record.emails[1]));
}

/// A bad week on a large tree still makes a readable email: 25 metrics in full, 100 more
/// one line each, the rest counted.
#[test]
fn large_digests_are_capped() {
    let n = 140;
    let leaves: String = (0..n).map(|i| format!("  m{i}: {{}}\n")).collect();
    let sum: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    let yaml = format!("tree: big\nroot: total\npeople: {{ p: {{ email: p@example.com }} }}\nraci: {{ accountable: p }}\nmetrics:\n  total: {{ formula: \"{}\" }}\n{leaves}", sum.join(" + "));
    let t = canopy_engine::load(
        Path::new("big.yaml"),
        &MemoryFs::new().with("big.yaml", yaml),
        &Sendable,
    )
    .unwrap()
    .tree;
    let csv: String = std::iter::once("period,metric,value\n".to_string())
        .chain((0..n).map(|i| format!("2026-W45,m{i},10\n2026-W46,m{i},20\n")))
        .collect();
    let mut b = DataBuilder::new(&t);
    b.add_table(&self::csv(&csv));
    let e = evaluate(&t, &b.finish().unwrap());
    let planned = plan(
        &e,
        period(),
        &History::in_memory().unwrap(),
        &sender(),
        date(),
        None,
    )
    .unwrap();
    assert_eq!(planned.moves.len(), n + 1);
    let text = decode_qp(&stable(&planned.record.emails[0]));
    let text = text.split("Content-Type: text/html").next().unwrap();
    assert_eq!(text.matches("\n* ").count(), 25, "{text}");
    assert!(text.contains("\nAnd 116 more that moved:\r\n"), "{text}");
    assert!(
        text.contains("  ... and 16 more; `canopy explain` shows any of them in full\r\n"),
        "{text}"
    );
}

#[test]
fn message_ids_are_stable_per_tree_period_and_recipient() {
    let a: lettre::Address = "canopy@example.com".parse().unwrap();
    let id = message_id("shop", period(), "Maya@Example.com", &a);
    assert_eq!(id, message_id("shop", period(), "maya@example.com", &a));
    assert_ne!(
        id,
        message_id("shop", period().previous(), "maya@example.com", &a)
    );
    assert_ne!(id, message_id("shop", period(), "ops@example.com", &a));
}

#[test]
fn a_repeated_run_adds_nothing_and_decides_the_same() {
    let t = tree();
    let mut history = History::in_memory().unwrap();
    let e = eval(&t);
    let first = plan(&e, period(), &history, &sender(), date(), None).unwrap();
    assert_eq!(history.record_run(&first.record, now()).unwrap(), 2);
    let again = plan(&e, period(), &history, &sender(), date(), None).unwrap();
    assert_eq!(
        history.record_run(&again.record, now()).unwrap(),
        0,
        "no new email"
    );
    assert_eq!(
        again.record.states, first.record.states,
        "same state as the first run"
    );
    assert_eq!(history.due(now(), Duration::ZERO).unwrap().len(), 2);
}

#[test]
fn alert_state_moves_forward_by_period_only() {
    let mut history = History::in_memory().unwrap();
    let record = |period: &str, bad: bool| RunRecord {
        states: vec![(
            "m".into(),
            AlertState {
                bad,
                runs_unalerted: u32::from(bad),
            },
        )],
        ..RunRecord::new("t", week(period))
    };
    history
        .record_run(&record("2026-W45", true), now())
        .unwrap();
    let state = |h: &History, p: &str| {
        let mut states = h.alert_states_before("t", week(p)).unwrap();
        states.remove("m").unwrap_or_default()
    };
    assert_eq!(
        state(&history, "2026-W46"),
        AlertState {
            bad: true,
            runs_unalerted: 1
        }
    );
    history
        .record_run(&record("2026-W46", false), now())
        .unwrap();
    assert_eq!(state(&history, "2026-W47"), AlertState::default());
    // Repeating 2026-W46 starts from what came before it, not from its own result.
    assert_eq!(
        state(&history, "2026-W46"),
        AlertState {
            bad: true,
            runs_unalerted: 1
        }
    );
    history
        .record_run(&record("2026-W46", false), now())
        .unwrap();
    assert_eq!(
        state(&history, "2026-W46"),
        AlertState {
            bad: true,
            runs_unalerted: 1
        }
    );
    // An older period (a backfill) starts afresh and changes nothing.
    assert_eq!(state(&history, "2026-W40"), AlertState::default());
    history
        .record_run(&record("2026-W40", true), now())
        .unwrap();
    assert_eq!(state(&history, "2026-W47"), AlertState::default());
}

/// A delivery that answers from a script, and remembers what it was given.
struct Scripted {
    answers: RefCell<Vec<Result<(), Failure>>>,
    delivered: RefCell<Vec<String>>,
}

impl Deliver for Scripted {
    fn deliver(&self, email: &StoredEmail, _: HandOver<'_>) -> Result<(), Failure> {
        let answer = self.answers.borrow_mut().remove(0);
        if answer.is_ok() {
            self.delivered.borrow_mut().push(email.recipient.clone());
        }
        answer
    }

    fn describe(&self) -> String {
        "a script".into()
    }

    fn channel(&self) -> Channel {
        Channel::Smtp
    }
}

fn script(answers: Vec<Result<(), Failure>>) -> Scripted {
    Scripted {
        answers: RefCell::new(answers),
        delivered: RefCell::new(vec![]),
    }
}

fn failure(kind: FailureKind, message: &str) -> Result<(), Failure> {
    Err(Failure {
        kind,
        message: message.into(),
    })
}

fn transient() -> Result<(), Failure> {
    failure(FailureKind::Transient, "421 try later")
}

fn retry(attempts: u32) -> Retry {
    Retry {
        attempts,
        first_delay: Duration::from_millis(10),
        uncertain_after: Duration::from_secs(3600),
    }
}

fn stored(history: &mut History, recipients: &[&str]) {
    let emails = recipients
        .iter()
        .map(|r| StoredEmail {
            id: 0,
            message_id: format!("<{r}>"),
            tree: "t".into(),
            period: week("2026-W46"),
            sender: "canopy@example.com".into(),
            recipient: r.to_string(),
            subject: "s".into(),
            body: b"body".to_vec(),
            attempts: 0,
            last_error: None,
            medium: Medium::Email,
        })
        .collect();
    history
        .record_run(
            &RunRecord {
                emails,
                ..RunRecord::new("t", week("2026-W46"))
            },
            now(),
        )
        .unwrap();
}

#[test]
fn the_outbox_retries_transient_failures_and_keeps_what_it_cannot_send() {
    let mut history = History::in_memory().unwrap();
    stored(&mut history, &["a@x.example", "b@x.example", "c@x.example"]);
    let retry = retry(2);
    let slept = RefCell::new(Vec::new());
    let sleep = |d: Duration| slept.borrow_mut().push(d);
    // a: fails once, then goes; b: refused for good; c: the server is gone.
    let first = script(vec![
        transient(),
        Ok(()),
        failure(FailureKind::Permanent, "550 no such user"),
        transient(),
        transient(),
    ]);
    let pass = flush(&history, Routes::all(&first), retry, &now, &sleep).unwrap();
    assert_eq!(pass.sent, ["<a@x.example>"]);
    let refused: Vec<(&str, &str)> = pass
        .failed
        .iter()
        .map(|r| (r.recipient.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(refused, [("b@x.example", "550 no such user")]);
    assert_eq!(
        pass.pending,
        [(
            "<c@x.example>".to_string(),
            Some("421 try later".to_string())
        )]
    );
    assert_eq!(
        *slept.borrow(),
        [Duration::from_millis(10), Duration::from_millis(10)]
    );
    let status = history.status().unwrap();
    assert_eq!(
        (status.sent, status.failed, status.pending, status.retrying),
        (1, 1, 1, 1)
    );
    // The next pass sends only what is left, once.
    let script = script(vec![Ok(())]);
    let pass = flush(&history, Routes::all(&script), retry, &now, &sleep).unwrap();
    assert_eq!(pass.sent, ["<c@x.example>"]);
    assert_eq!(*script.delivered.borrow(), ["c@x.example"]);
    assert!(history.due(now(), Duration::ZERO).unwrap().is_empty());
}

#[test]
fn once_the_server_is_unavailable_the_rest_wait() {
    let mut history = History::in_memory().unwrap();
    stored(&mut history, &["a@x.example", "b@x.example"]);
    let script = script(vec![transient()]);
    let pass = flush(&history, Routes::all(&script), retry(1), &now, &|_| {}).unwrap();
    assert_eq!(pass.pending.len(), 2);
    assert_eq!(
        pass.pending[1],
        ("<b@x.example>".to_string(), None),
        "b was not tried"
    );
}

#[test]
fn folder_delivery_writes_one_file_per_email() {
    let dir = std::env::temp_dir().join(format!("canopy-folder-{}", std::process::id()));
    let mut history = History::in_memory().unwrap();
    stored(&mut history, &["a@x.example"]);
    let pass = flush(
        &history,
        Routes::all(&Folder::new(&dir)),
        Retry::default(),
        &now,
        &|_| {},
    )
    .unwrap();
    assert_eq!(pass.sent.len(), 1);
    let file = dir.join("t-2026-W46-a@x.example.eml");
    assert_eq!(std::fs::read(&file).unwrap(), b"body");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A delivery that hands the message over, then reports what the outbox says of it at that
/// moment, as a process killed there would leave it.
struct Handing<'h> {
    history: &'h History,
    /// The outbox's counts, and how many emails were due.
    seen: RefCell<Option<(OutboxStatus, usize)>>,
}

impl Deliver for Handing<'_> {
    fn deliver(&self, _: &StoredEmail, hand_over: HandOver<'_>) -> Result<(), Failure> {
        hand_over()?;
        let due = self.history.due(now(), Duration::from_secs(3600)).unwrap();
        *self.seen.borrow_mut() = Some((self.history.status().unwrap(), due.len()));
        Ok(())
    }

    fn describe(&self) -> String {
        "a hand-over".into()
    }

    fn channel(&self) -> Channel {
        Channel::Smtp
    }
}

#[test]
fn an_email_is_uncertain_while_it_is_handed_over_and_sent_once_answered() {
    let mut history = History::in_memory().unwrap();
    stored(&mut history, &["a@x.example"]);
    let handing = Handing {
        history: &history,
        seen: RefCell::new(None),
    };
    let pass = flush(&history, Routes::all(&handing), retry(1), &now, &|_| {}).unwrap();
    let (seen, due) = handing.seen.borrow().clone().expect("handed over");
    // Killed here, it would be uncertain, and not due again within the hour.
    assert_eq!((seen.uncertain, seen.pending, due), (1, 0, 0));
    assert_eq!(pass.sent.len(), 1);
    let status = history.status().unwrap();
    assert_eq!((status.sent, status.uncertain), (1, 0));
}

#[test]
fn an_unacknowledged_hand_over_is_uncertain_and_waits_before_it_goes_again() {
    let mut history = History::in_memory().unwrap();
    stored(&mut history, &["a@x.example", "b@x.example"]);
    // a: handed over, no answer; b: goes. Neither is tried twice in the pass.
    let first = script(vec![
        failure(
            FailureKind::Uncertain,
            "the message was handed over, then timed out",
        ),
        Ok(()),
    ]);
    let pass = flush(&history, Routes::all(&first), retry(3), &now, &|_| {}).unwrap();
    assert_eq!(pass.sent, ["<b@x.example>"]);
    assert_eq!(pass.uncertain.len(), 1);
    assert_eq!(pass.uncertain[0].recipient, "a@x.example");
    assert!(first.answers.borrow().is_empty(), "two attempts in all");
    let status = history.status().unwrap();
    assert_eq!((status.uncertain, status.sent, status.pending), (1, 1, 0));
    // Within the hour nothing is due; after it, the same email goes again.
    let later = |secs| move || now() + chrono::Duration::seconds(secs);
    assert!(history
        .due(later(3599)(), Duration::from_secs(3600))
        .unwrap()
        .is_empty());
    let again = script(vec![Ok(())]);
    let pass = flush(
        &history,
        Routes::all(&again),
        retry(3),
        &later(3600),
        &|_| {},
    )
    .unwrap();
    assert_eq!(pass.sent, ["<a@x.example>"]);
    assert_eq!(history.status().unwrap().uncertain, 0);
}

#[test]
fn failed_and_uncertain_emails_can_be_put_back_by_address_and_tree() {
    let mut history = History::in_memory().unwrap();
    stored(&mut history, &["a@x.example", "b@x.example", "c@x.example"]);
    let answers = vec![
        failure(FailureKind::Permanent, "550 no such user"),
        failure(FailureKind::Permanent, "550 no such user"),
        failure(FailureKind::Uncertain, "handed over"),
    ];
    flush(
        &history,
        Routes::all(&script(answers)),
        retry(1),
        &now,
        &|_| {},
    )
    .unwrap();
    let unresolved: Vec<(EmailStatus, String)> = history
        .unresolved()
        .unwrap()
        .into_iter()
        .map(|u| (u.status, u.recipient))
        .collect();
    assert_eq!(
        unresolved,
        [
            (EmailStatus::Failed, "a@x.example".to_string()),
            (EmailStatus::Failed, "b@x.example".to_string()),
            (EmailStatus::Uncertain, "c@x.example".to_string()),
        ]
    );
    let only = |failed, uncertain, to, tree| Selection {
        failed,
        uncertain,
        to,
        tree,
    };
    assert_eq!(
        history
            .requeue(&only(true, false, None, Some("other")))
            .unwrap(),
        0
    );
    assert_eq!(
        history
            .requeue(&only(true, false, Some("A@X.example"), None))
            .unwrap(),
        1
    );
    assert_eq!(
        history
            .requeue(&only(false, true, None, Some("t")))
            .unwrap(),
        1
    );
    let due: Vec<String> = history
        .due(now(), Duration::from_secs(3600))
        .unwrap()
        .into_iter()
        .map(|e| e.recipient)
        .collect();
    assert_eq!(due, ["a@x.example", "c@x.example"]);
}

#[test]
fn an_email_that_cannot_be_composed_is_failed_and_the_others_go() {
    /// Rules more lenient than the notifier's, as an older canopy's `check` had.
    struct Lenient;
    impl canopy_engine::Mailboxes for Lenient {
        fn address_problem(&self, _: &str) -> Option<String> {
            None
        }
        fn name_problem(&self, _: &str) -> Option<String> {
            None
        }
    }
    let yaml = TREE.replace("email: maya@example.com", "email: \"maya@[127.0.0.1]\"");
    let t = canopy_engine::load(
        Path::new("shop.yaml"),
        &MemoryFs::new().with("shop.yaml", yaml),
        &Lenient,
    )
    .unwrap()
    .tree;
    let mut history = History::in_memory().unwrap();
    let planned = plan(&eval(&t), period(), &history, &sender(), date(), None).unwrap();
    let [maya, ops] = planned.record.emails.as_slice() else {
        panic!("two emails")
    };
    let error = maya.last_error.as_deref().unwrap();
    assert!(
        error.contains("tree `shop`")
            && error.contains("person `maya`")
            && error.contains("maya@[127.0.0.1]"),
        "{error}"
    );
    assert!(maya.body.is_empty());
    assert_eq!(ops.last_error, None);
    history.record_run(&planned.record, now()).unwrap();
    let status = history.status().unwrap();
    assert_eq!((status.failed, status.pending), (1, 1));
    let status = history.email_status(&maya.message_id).unwrap();
    assert_eq!(status, Some((EmailStatus::Failed, None)));
    // Nothing can be retried without content; it can be given up on.
    let all = Selection {
        failed: true,
        uncertain: true,
        ..Selection::default()
    };
    assert_eq!(history.requeue(&all).unwrap(), 0);
    assert_eq!(history.discard(&all).unwrap(), 1);
    let status = history.status().unwrap();
    assert_eq!((status.failed, status.discarded), (0, 1));
    let status = history.email_status(&maya.message_id).unwrap();
    assert_eq!(status, Some((EmailStatus::Discarded, None)));
}

#[test]
fn a_history_is_created_whole_and_what_is_not_one_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let open = |p: &Path| History::open(p, Duration::ZERO, &mut |_| {});
    let db = dir.path().join("canopy.db");
    open(&db).unwrap();
    assert!(!dir.path().join("canopy.db.partial").exists());
    open(&db).expect("opens again");

    let empty = dir.path().join("empty.db");
    std::fs::write(&empty, "").unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "x".repeat(4096)).unwrap();
    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("create table things (x)")
        .unwrap();
    for (path, why) in [
        (&empty, "is an empty file"),
        (&text, "is not a canopy history database"),
        (&other, "SQLite database of another program"),
    ] {
        let e = open(path).err().expect("refused").to_string();
        assert!(
            e.contains(&path.display().to_string()) && e.contains(why),
            "{e}"
        );
    }
    assert!(History::open_read_only(&empty).is_err());
    let read = History::open_read_only(&text).err().expect("refused");
    assert!(
        read.to_string()
            .contains("is not a canopy history database"),
        "{read}"
    );
    assert_eq!(std::fs::read(&empty).unwrap(), b"", "left as it was");
}

#[test]
fn a_version_1_outbox_is_migrated_with_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("canopy.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(crate::schema::MIGRATIONS[0]).unwrap();
    conn.execute_batch(
        "insert into outbox (message_id, tree, period, sender, recipient, subject, body, status, attempts, last_error, created_at)
         values ('<a>', 't', '2026-W46', 's@x.example', 'a@x.example', 'sub', x'41', 'failed', 1, '550 no', '2026-11-23T07:00:00+00:00');
         pragma user_version = 1;",
    )
    .unwrap();
    drop(conn);
    let history = History::open(&db, Duration::ZERO, &mut |_| {}).unwrap();
    let [u] = history.unresolved().unwrap().try_into().unwrap();
    assert_eq!(
        (u.status, u.error.as_str()),
        (EmailStatus::Failed, "550 no")
    );
    history
        .mark_attempt(1, EmailStatus::Uncertain, "handed over", now())
        .expect("the new status is allowed");
    assert_eq!(
        history.email_status("<a>").unwrap(),
        Some((EmailStatus::Uncertain, None))
    );
    // Through every later migration: a row from before chat is an email.
    let later = now() + chrono::Duration::hours(2);
    let [due] = history
        .due(later, Duration::from_secs(3600))
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(
        (due.message_id.as_str(), due.medium),
        ("<a>", Medium::Email)
    );
}

#[test]
fn a_verdict_is_kept_once_and_a_change_first_seen_stays_the_earliest() {
    let mut history = History::in_memory().unwrap();
    let judged = |verdict: &str| -> canopy_evaluator::impact::Assessment {
        let span = serde_json::json!({ "from": "2026-W10", "to": "2026-W20" });
        serde_json::from_value(serde_json::json!({
            "id": "c", "title": "C", "metric": "m", "shipped": "2026-W14", "owner": "p",
            "status": "evaluated", "verdict": verdict, "smaller_than_expected": false,
            "baseline": span, "evaluation": span, "guardrails": [], "post_hoc": false,
            "effect": { "relative": 0.1, "low": 0.05, "high": 0.15, "baseline": 3.0 },
        }))
        .unwrap()
    };
    let record = |period: &str, verdict: Option<&str>| RunRecord {
        changes: vec![ChangeRecord {
            change: "c".into(),
            shipped: week("2026-W14"),
            first_seen: week(period),
            judged_in: verdict.map(|_| week(period)),
            verdict: verdict.map(judged),
            story: verdict.map(|v| format!("c: {v}.")),
        }],
        ..RunRecord::new("t", week(period))
    };
    for (period, verdict) in [
        ("2026-W13", None),
        ("2026-W20", Some("confirmed")),
        ("2026-W21", Some("inconclusive")),
        ("2026-W12", None),
    ] {
        history.record_run(&record(period, verdict), now()).unwrap();
    }
    let kept = history.change("t", "c").unwrap().unwrap();
    // A verdict stored before effects kept their baseline reads back without one.
    let mut old = serde_json::to_value(judged("confirmed")).unwrap();
    old["effect"].as_object_mut().unwrap().remove("baseline");
    let old: canopy_evaluator::impact::Assessment = serde_json::from_value(old).unwrap();
    assert!(old.effect.unwrap().baseline.is_nan());
    assert_eq!(kept.first_seen, week("2026-W12"));
    assert_eq!(kept.judged_in, Some(week("2026-W20")));
    assert_eq!(kept.verdict, Some(judged("confirmed")));
    assert_eq!(kept.story.as_deref(), Some("c: confirmed."));
    assert_eq!(history.change("t", "other").unwrap(), None);
}

#[test]
fn a_verdict_stored_with_its_reason_in_words_reads_back_and_prints_the_same_words() {
    use canopy_evaluator::impact::{Assessment, Reason};
    // Before reasons had kinds, the history stored the words `canopy impact` printed.
    let span = serde_json::json!({ "from": "2026-W10", "to": "2026-W20" });
    let words = "the data has 3 periods before shipping; a verdict needs at least 12";
    let old = serde_json::json!({
        "id": "c", "title": "C", "metric": "m", "shipped": "2026-W14", "owner": "p",
        "status": "not_evaluable", "verdict": null, "smaller_than_expected": false,
        "reason": words, "model": null, "baseline": span, "evaluation": span,
        "effect": null, "p": null, "p_opposite": null, "placebo": null, "mde": null,
        "root": null, "guardrails": [], "post_hoc": false,
    });
    let a: Assessment = serde_json::from_value(old.clone()).unwrap();
    assert_eq!(a.reason, Some(Reason::Text(words.into())));
    // Printed as it was stored.
    let printed = serde_json::to_value(canopy_present::ChangeReport::of(&a)).unwrap();
    assert_eq!(printed, old);
    // A reason with a kind is stored as one, read back whole and told in the same words.
    let typed = Assessment {
        reason: Some(Reason::FewBaseline { periods: 3 }),
        ..a
    };
    let stored = serde_json::to_string(&typed).unwrap();
    assert!(
        stored.contains(r#""reason":{"kind":"few_baseline","periods":3}"#),
        "{stored}"
    );
    let back: Assessment = serde_json::from_str(&stored).unwrap();
    assert_eq!(back, typed);
    let printed = serde_json::to_value(canopy_present::ChangeReport::of(&back)).unwrap();
    assert_eq!(printed, old);
}

#[test]
fn a_verdict_stored_with_each_model_name_reads_back_typed_and_writes_the_same_name() {
    use canopy_evaluator::impact::{Assessment, Model};
    let span = serde_json::json!({ "from": "2026-W10", "to": "2026-W20" });
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let stored = [
        ("level", Model::Level),
        ("year over year", Model::YearOverYear),
        (
            "regression: b, c",
            Model::Regression {
                controls: strings(&["b", "c"]),
            },
        ),
        (
            "segments: cohort = tenured",
            Model::Segments {
                segments: vec![("cohort".into(), strings(&["tenured"]))],
            },
        ),
        (
            "segments: country = FR, DE; plan = pro",
            Model::Segments {
                segments: vec![
                    ("country".into(), strings(&["FR", "DE"])),
                    ("plan".into(), strings(&["pro"])),
                ],
            },
        ),
        // A segment's value holding `; ` reads back as no other model: kept as it was.
        (
            "segments: city = a; b",
            Model::Text("segments: city = a; b".into()),
        ),
    ];
    for (name, model) in stored {
        let old = serde_json::json!({
            "id": "c", "title": "C", "metric": "m", "shipped": "2026-W14", "owner": "p",
            "status": "evaluated", "verdict": "inconclusive", "smaller_than_expected": false,
            "reason": null, "model": name, "baseline": span, "evaluation": span,
            "effect": null, "p": null, "p_opposite": null, "placebo": null, "mde": null,
            "root": null, "guardrails": [], "post_hoc": false,
        });
        let a: Assessment = serde_json::from_value(old.clone()).unwrap();
        let mut history = History::in_memory().unwrap();
        let period = week("2026-W20");
        let record = RunRecord {
            changes: vec![ChangeRecord {
                change: "c".into(),
                shipped: week("2026-W14"),
                first_seen: period,
                judged_in: Some(period),
                verdict: Some(a),
                story: None,
            }],
            ..RunRecord::new("t", period)
        };
        history.record_run(&record, now()).unwrap();
        let back = history.change("t", "c").unwrap().unwrap().verdict.unwrap();
        assert_eq!(back.model.as_ref(), Some(&model), "{name}");
        let written = serde_json::to_value(&back).unwrap();
        assert_eq!(written["model"], name, "{name}");
        let printed = serde_json::to_value(canopy_present::ChangeReport::of(&back)).unwrap();
        assert_eq!(printed, old, "{name}");
    }
}

#[test]
fn the_headline_names_the_leaves_that_carry_the_roots_move() {
    let yaml = "tree: h\nroot: r\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nmetrics:\n  r: { title: Revenue, unit: EUR, formula: a + b + c, bands: [{ name: Low, below: 110 }, { name: High }] }\n  a: { title: New ARR }\n  b: { title: Expansion }\n  c: { title: Churn }\n";
    let t = canopy_engine::load(
        Path::new("h.yaml"),
        &MemoryFs::new().with("h.yaml", yaml),
        &Sendable,
    )
    .unwrap()
    .tree;
    let headline = |after: [f64; 3]| {
        let rows: String = ["a", "b", "c"]
            .iter()
            .zip(after)
            .map(|(m, v)| format!("2026-W45,{m},{}\n2026-W46,{m},{v}\n", 100.0 / 3.0))
            .collect();
        let mut b = DataBuilder::new(&t);
        b.add_table(&self::csv(&format!("period,metric,value\n{rows}")));
        let e = evaluate(&t, &b.finish().unwrap());
        let planner = canopy_evaluator::Planner::new(&t);
        let x = canopy_evaluator::explain(&e, &planner, t.root(), period().previous(), period())
            .unwrap();
        crate::headline(&e, &x).unwrap()
    };
    let third = 100.0 / 3.0;
    // One leaf carries it all: it alone is named, its title as written.
    assert_eq!(
        headline([third + 20.0, third, third]),
        "Revenue rose 100 -> 120 EUR (Low -> High): New ARR +20 drove 100%"
    );
    // No leaf carries 80%: the next one is named too.
    assert_eq!(
        headline([third + 6.0, third + 4.0, third]),
        "Revenue rose 100 -> 110 EUR (Low -> High): New ARR +6 drove 60%, Expansion +4 drove 40%"
    );
}

/// A chain of moves, each carrying 85% of the change of the one above it (so the leaf
/// carries only 61% of the root's): every move is shown once, all under the root.
#[test]
fn a_chain_of_carried_moves_groups_under_its_top() {
    let yaml = "tree: chain\nroot: r\npeople: { p: { email: p@example.com } }\nraci: { accountable: p }\nalerts: { change_pct: 1, anomaly_z: false }\nmetrics:\n  r: { formula: a + x }\n  a: { formula: b + y }\n  b: { formula: c + z }\n  c: {}\n  x: {}\n  y: {}\n  z: {}\n";
    let t = canopy_engine::load(
        Path::new("chain.yaml"),
        &MemoryFs::new().with("chain.yaml", yaml),
        &Sendable,
    )
    .expect("valid")
    .tree;
    let data = "period,metric,value\n2026-W45,c,100\n2026-W45,z,10\n2026-W45,y,10\n2026-W45,x,10\n2026-W46,c,200\n2026-W46,z,27.647\n2026-W46,y,30.761\n2026-W46,x,34.425\n";
    let mut b = DataBuilder::new(&t);
    b.add_table(&csv(data));
    let e = evaluate(&t, &b.finish().unwrap());
    let history = History::in_memory().unwrap();
    let planned = plan(&e, period(), &history, &sender(), date(), None).unwrap();
    assert_eq!(planned.moves.len(), 7, "every metric moved");
    let text = decode_qp(&stable(&planned.record.emails[0]));
    let text = text
        .split("Content-Type: text/html")
        .next()
        .unwrap()
        .replace("\r\n", "\n");
    let items: Vec<&str> = text.lines().filter(|l| l.starts_with("* ")).collect();
    assert_eq!(
        items.len(),
        4,
        "r with a, b, c beneath it, and x, y, z: {text}"
    );
    let beneath = text.split("Mostly from, also yours:\n").nth(1).unwrap();
    for m in ["a", "b", "c"] {
        assert!(
            beneath
                .lines()
                .take(3)
                .any(|l| l.trim_start().starts_with(m)),
            "{m}: {text}"
        );
    }
}

#[test]
fn a_change_is_refused_across_a_new_way_of_computing_its_metric_or_one_under_it() {
    let yaml = |r: &str, d: &str| {
        format!("tree: h\nroot: r\npeople: {{ p: {{ email: p@example.com }} }}\nraci: {{ accountable: p }}\nmetrics:\n  r: {{ {r} }}\n  a: {{}}\n  b: {{ formula: c + d }}\n  c: {{}}\n  d: {{ {d} }}\nchanges:\n  - {{ id: x, metric: r, shipped: 2026-W46, expect: {{ direction: up }} }}\n")
    };
    let load = |text: &str| {
        canopy_engine::load(
            Path::new("h.yaml"),
            &MemoryFs::new().with("h.yaml", text),
            &Sendable,
        )
        .unwrap()
        .tree
    };
    let data = "period,metric,value\n2026-W43,a,1\n2026-W43,c,2\n2026-W43,d,3\n2026-W44,a,1\n2026-W44,c,2\n2026-W44,d,3\n";
    let week44 = Period::parse("2026-W44", canopy_engine::Grain::Week).unwrap();
    // A history whose run for 2026-W44 computed with the tree `then`, asked about `now`.
    let refused = |then: &str, today: &str| {
        let (then, today) = (load(then), load(today));
        let mut history = History::in_memory().unwrap();
        let mut b = DataBuilder::new(&then);
        b.add_table(&csv(data));
        let e = evaluate(&then, &b.finish().unwrap());
        let planned = plan(&e, week44, &history, &sender(), date(), None).unwrap();
        history.record_run(&planned.record, now()).unwrap();
        crate::redefined(&history, &today, &today.changes()[0]).unwrap()
    };
    let base = yaml("formula: a / b", "title: D");
    assert_eq!(refused(&base, &base), None);
    // How values are told, titled and alerted on is not how they are computed.
    let told = yaml(
        "formula: a/b, unit: x, alerts: { change_pct: 3 }",
        "title: Dee",
    );
    assert_eq!(refused(&base, &told), None);
    for today in [
        yaml("formula: b / a", "title: D"),
        yaml("formula: a / b", "source: { sql: select 1 }"),
    ] {
        let reason = canopy_present::impact::reason(&refused(&base, &today).expect("refused"));
        assert!(
            reason.contains("`r`") && reason.contains("2026-W44"),
            "{reason}"
        );
    }
}

/// A history at schema version 7, with periods as written: `rows` inserted after it.
fn version_7(db: &Path, rows: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    for migration in &crate::schema::MIGRATIONS[..7] {
        conn.execute_batch(migration).unwrap();
    }
    conn.execute_batch(&format!("{rows}\npragma user_version = 7;"))
        .unwrap();
}

#[test]
fn periods_written_as_text_become_keys_that_order_across_grains() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("canopy.db");
    // A tree run monthly, then quarterly: as text `2026-02` sorts before `2026-Q1`.
    version_7(
        &db,
        "insert into runs (tree, period, started_at) values ('t', '2026-02', 'x'), ('t', '2026-Q1', 'x');
         insert into vals (tree, metric, segment, period, value, status) values ('t', 'm', '', '2026-Q1', 2.0, 'ok');
         insert into alert_state values ('t', 'm', '2026-Q1', 1, 1, 0, 0);
         insert into moves (tree, period, metric, rules, recipient) values ('t', '2026-Q1', 'm', '[]', 'a@x.example');
         insert into changes values ('t', 'c', '2026-01', '2026-02', null, null, null);
         insert into snoozes values ('t', 'm', '2026-W10', 'ana', null, 'x');
         insert into outbox (message_id, tree, period, sender, recipient, subject, body, status, created_at)
           values ('<a>', 't', '2026-Q1', 's@x.example', 'a@x.example', 'sub', x'41', 'pending', 'x');",
    );
    let history = History::open(&db, Duration::ZERO, &mut |_| {}).unwrap();
    let quarter = Period::parse("2026-Q1", canopy_engine::Grain::Quarter).unwrap();
    let month = Period::parse("2026-02", canopy_engine::Grain::Month).unwrap();
    assert_eq!(history.periods("t", 10).unwrap(), [quarter, month]);
    let [first, last] = history.past("t", 2).unwrap().try_into().unwrap();
    assert_eq!(
        (first.period, first.values.len(), first.emails.len()),
        (quarter, 1, 1)
    );
    assert_eq!(
        (last.period, last.values.len(), last.moves.len()),
        (month, 0, 0)
    );
    let change = history.change("t", "c").unwrap().unwrap();
    assert_eq!(change.first_seen, month);
    assert!(change.post_hoc());
    let [snooze] = history.snoozes(Some("t")).unwrap().try_into().unwrap();
    assert_eq!(snooze.until, week("2026-W10"));
    let [due] = history
        .due(now(), Duration::ZERO)
        .unwrap()
        .try_into()
        .unwrap();
    assert_eq!(due.period, quarter);
    // The month started after the quarter did: a run of it continues the quarter's state.
    let states = history.alert_states_before("t", month).unwrap();
    assert_eq!(
        states["m"],
        AlertState {
            bad: true,
            runs_unalerted: 1
        }
    );
}

#[test]
fn a_history_with_a_period_that_is_not_one_is_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("canopy.db");
    version_7(
        &db,
        "insert into runs (tree, period, started_at) values ('t', '2026-W10', 'x'), ('t', 'soon', 'x');",
    );
    let error = History::open(&db, Duration::ZERO, &mut |_| {})
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .contains("`soon` in the history is not a period"),
        "{error}"
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = conn
        .query_row("pragma user_version", [], |r| r.get(0))
        .unwrap();
    let periods: Vec<String> = (conn
        .prepare("select period from runs order by period")
        .unwrap())
    .query_map([], |r| r.get(0))
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap();
    assert_eq!(
        (version, periods),
        (7, vec!["2026-W10".into(), "soon".into()])
    );
}
