//! `canopy history`: what three runs recorded, read back; a history that is read-only, which
//! the commands that only read can still read; and a history an earlier release wrote, which
//! reads back as that release read it.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use canopy_engine::Period;

use crate::util::{item_creation, repo, run_command, Dir, Run, ITEM_CREATION_RUN};

#[test]
fn three_runs_read_back() {
    let dir = Dir::new();
    dir.copy("trees/item-creation.yaml");
    dir.copy("fixtures/data/item-creation.csv");
    for week in ["2026-W45", "2026-W46", "2026-W47"] {
        let args = [
            "run",
            "trees/item-creation.yaml",
            "--data",
            "fixtures/data/item-creation.csv",
            "--period",
            week,
        ];
        dir.run(&args, 0);
    }
    let table = dir.run(&["history", "trees/item-creation.yaml"], 0);
    insta::assert_snapshot!(table.stdout);
    let args = [
        "history",
        "trees/item-creation.yaml",
        "--metric",
        "flow_completion_pct",
        "--last",
        "2",
        "--format",
        "json",
    ];
    let doc: serde_json::Value = serde_json::from_str(&dir.run(&args, 0).stdout).unwrap();
    let periods = doc["periods"].as_array().unwrap();
    let names: Vec<&str> = periods
        .iter()
        .map(|p| p["period"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["2026-W46", "2026-W47"]);
    let last = &periods[1];
    assert_eq!(last["values"][0]["metric"], "flow_completion_pct");
    assert_eq!(last["values"][0]["band"], "Fair");
    assert_eq!(last["moves"][0]["recipient"], "design@example.com");
    assert_eq!(
        last["emails"].as_array().unwrap().len(),
        4,
        "every email of the run"
    );
    assert_eq!(doc["alert_state"][0]["metric"], "flow_completion_pct");
    // Without a database there is nothing to read.
    let run = dir.run(
        &["history", "trees/item-creation.yaml", "--db", "none.db"],
        1,
    );
    assert!(
        run.stderr.contains("no history at none.db\nhelp: "),
        "{}",
        run.stderr
    );
}

/// Whether this process can give a command a read-only view of a folder: a bind mount with
/// `ro` in a mount namespace of the command's own (`unshare -m`, which needs privileges).
fn can_mount_read_only(dir: &Dir) -> bool {
    let probe = dir.path().join("probe");
    std::fs::create_dir_all(&probe).unwrap();
    let written = probe.join("written");
    let mut touch = Command::new("unshare");
    touch
        .args(["-m", "sh", "-c", MOUNT_RO, "sh"])
        .arg(&probe)
        .arg("touch")
        .arg(&written)
        .stderr(Stdio::null());
    let mut read = Command::new("unshare");
    read.args(["-m", "sh", "-c", MOUNT_RO, "sh"])
        .arg(&probe)
        .args(["ls"])
        .arg(&probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // It works when the folder can be read through the mount and not written.
    let refused = touch.status().is_ok_and(|s| !s.success()) && !written.exists();
    refused && read.status().is_ok_and(|s| s.success())
}

/// Mounts `$1` read-only over itself, then runs the rest of the arguments.
const MOUNT_RO: &str = "mount --bind -o ro \"$1\" \"$1\" && shift && exec \"$@\"";

/// `canopy args` in `dir`, seeing `folder` read-only when `mount` (see
/// [`can_mount_read_only`]).
fn read_only(dir: &Dir, folder: &Path, mount: bool, args: &[&str], code: i32) -> Run {
    let mut canopy = dir.command(args);
    if !mount {
        return run_command(&mut canopy, code);
    }
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", MOUNT_RO, "sh"])
        .arg(folder)
        .arg(canopy.get_program())
        .args(canopy.get_args())
        .current_dir(dir.path());
    for (key, value) in canopy.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    run_command(&mut cmd, code)
}

/// Every file in `folder`, with a hash of its bytes.
fn files(folder: &Path) -> BTreeMap<String, u64> {
    (std::fs::read_dir(folder).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let mut hasher = std::hash::DefaultHasher::new();
            std::fs::read(&p).unwrap().hash(&mut hasher);
            (name, hasher.finish())
        })
        .collect()
}

#[test]
fn a_read_only_history_can_be_read_and_a_run_says_it_is_read_only() {
    let dir = item_creation();
    let run = ITEM_CREATION_RUN;
    dir.run(run, 0);
    let folder = dir.path().join(".canopy");
    let mode = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    mode(&folder.join("canopy.db"), 0o444);
    mode(&folder, 0o555);
    // Tests often run as root, whom permission bits do not stop: a read-only mount does,
    // where one can be made. Either way, reading must leave the folder as it was: no lock,
    // no `-wal` or `-shm`, the database's bytes unchanged.
    let mount = can_mount_read_only(&dir);
    let before = files(&folder);
    let history = read_only(
        &dir,
        &folder,
        mount,
        &["history", "trees/item-creation.yaml"],
        0,
    );
    assert!(
        history.stdout.contains("item-creation 2026-W47: "),
        "{}",
        history.stdout
    );
    let status = read_only(&dir, &folder, mount, &["outbox", "status"], 0);
    assert!(
        status.stdout.contains("sent:      4\n"),
        "{}",
        status.stdout
    );
    let dry = [run, &["--dry-run"]].concat();
    let dry = read_only(&dir, &folder, mount, &dry, 0);
    assert!(
        dry.stdout.contains("4 metrics moved (dry run)"),
        "{}",
        dry.stdout
    );
    assert_eq!(files(&folder), before, "reading wrote nothing");
    if mount {
        let refused = read_only(&dir, &folder, mount, run, 1);
        assert!(
            refused.stderr.starts_with(
                "error: history database .canopy/canopy.db is read-only (Read-only file system"
            ) && refused
                .stderr
                .contains("\nhelp: `canopy history`, `canopy outbox status`"),
            "{}",
            refused.stderr
        );
    } else {
        // As with the other skips: a local run says so, and CI must not skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "no read-only mount can be made under CI: a run's refusal would go unchecked"
        );
        eprintln!(
            "skipped: no read-only mount can be made here, so a run's refusal is not checked"
        );
    }
    mode(&folder, 0o755);
}

/// A history written by 4b0d60b, the last release before periods were kept as keys (schema
/// version 7), with what that release printed of it; its README says how it was made.
const V7: &str = "fixtures/history-v7";

/// Each tree of the [`V7`] history and the period of its last run.
const V7_LAST_RUNS: [(&str, &str); 2] = [("activation", "2026-W24"), ("item-creation", "2026-W47")];

/// Every column of the history that holds a period.
const PERIOD_COLUMNS: [(&str, &str); 9] = [
    ("runs", "period"),
    ("vals", "period"),
    ("alert_state", "period"),
    ("moves", "period"),
    ("outbox", "period"),
    ("changes", "shipped"),
    ("changes", "first_seen"),
    ("changes", "judged_in"),
    ("snoozes", "until"),
];

/// The history database at `path`, opened without writing anything beside it (no `-wal` or
/// `-shm`), so the committed fixture can be read in place.
fn immutable(path: &Path) -> rusqlite::Connection {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    let uri = format!("file:{}?immutable=1", path.display());
    rusqlite::Connection::open_with_flags(uri, flags).unwrap()
}

/// The strings `sql` selects.
fn texts(db: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut query = db.prepare(sql).unwrap();
    let rows = query.query_map([], |r| r.get(0)).unwrap();
    rows.map(Result::unwrap).collect()
}

/// How many rows each table with a period holds.
fn row_counts(db: &rusqlite::Connection) -> BTreeMap<&'static str, i64> {
    (PERIOD_COLUMNS.iter())
        .map(|&(table, _)| {
            let sql = format!("select count(*) from {table}");
            (table, db.query_row(&sql, [], |r| r.get(0)).unwrap())
        })
        .collect()
}

/// An email as composed, with what differs each time it is composed made fixed: its `Date`
/// (when it was composed) and its MIME boundary (random).
fn composed(eml: &str) -> String {
    let boundary = eml
        .split("boundary=\"")
        .nth(1)
        .and_then(|b| b.split('"').next());
    let eml = boundary.map_or(eml.to_string(), |b| eml.replace(b, "BOUNDARY"));
    (eml.lines())
        .map(|l| {
            if l.starts_with("Date: ") {
                "Date: -"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_history_written_before_periods_were_keys_migrates_and_reads_back_the_same() {
    let fixture = repo().join(V7);
    let recorded = |name: &str| std::fs::read_to_string(fixture.join(name)).unwrap();
    let dir = v7_copy(&fixture);
    let old = immutable(&fixture.join("history.db"));
    assert_eq!(
        old.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
            .unwrap(),
        7
    );
    let counts = row_counts(&old);
    // Each tree's last run again, by this binary: it opens the history for writing, migrates
    // it, and decides nothing new. It prints what 4b0d60b printed for the same repeated run,
    // its stored verdict included, and writes no email: every one is already written.
    for (tree, period) in V7_LAST_RUNS {
        let run = run_v7(
            &dir,
            (tree, period),
            &["--outbox", "outbox", "--format", "json"],
        );
        assert_eq!(
            run.stdout,
            recorded(&format!("run-{tree}-{period}.json")),
            "{tree}"
        );
    }
    assert!(!dir.path().join("outbox").exists(), "no email was written");

    // Read back, it prints exactly what 4b0d60b printed of it.
    for (tree, _) in V7_LAST_RUNS {
        let file = format!("trees/{tree}.yaml");
        let args = ["history", &file, "--db", "history.db", "--format", "json"];
        let json = dir.run(&args, 0).stdout;
        assert_eq!(json, recorded(&format!("history-{tree}.json")), "{tree}");
        let table = dir.run(&args[..4], 0).stdout;
        assert_eq!(table, recorded(&format!("history-{tree}.txt")), "{tree}");
    }
    let list = ["snooze", "--list", "--db", "history.db", "--format", "json"];
    assert_eq!(dir.run(&list, 0).stdout, recorded("snoozes.json"));
    assert_eq!(dir.run(&list[..4], 0).stdout, recorded("snoozes.txt"));

    let new = rusqlite::Connection::open(dir.path().join("history.db")).unwrap();
    assert_eq!(row_counts(&new), counts, "no row came or went");
    periods_are_keys_of_the_same_periods(&old, &new);
    emails_compose_as_they_were_sent(&dir, &old);
}

/// `canopy run` of the fixture's `tree` for `period` in `dir`, on its history, with `more`.
fn run_v7(dir: &Dir, (tree, period): (&str, &str), more: &[&str]) -> Run {
    let (file, data) = (format!("trees/{tree}.yaml"), format!("data/{tree}.csv"));
    let mut args = vec!["run", &file, "--data", &data, "--period", period];
    args.extend(["--db", "history.db"]);
    args.extend(more);
    dir.run(&args, 0)
}

/// A copy of the fixture's history, trees and data in a new folder.
fn v7_copy(fixture: &Path) -> Dir {
    let dir = Dir::new();
    let mut files = vec!["history.db".to_string()];
    for (tree, _) in V7_LAST_RUNS {
        files.push(format!("trees/{tree}.yaml"));
        files.push(format!("data/{tree}.csv"));
    }
    for file in &files {
        let to = dir.path().join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(fixture.join(file), to).unwrap();
    }
    dir
}

/// The migrated history `new` is at version 8 and keeps every period of `old` as its key.
fn periods_are_keys_of_the_same_periods(old: &rusqlite::Connection, new: &rusqlite::Connection) {
    let version: i64 = new
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 8);
    for (table, column) in PERIOD_COLUMNS {
        let sql = format!("select {column} from {table} where {column} is not null");
        let (mut written, after) = (texts(old, &sql), texts(new, &sql));
        assert!(!after.is_empty(), "{table}.{column} holds periods");
        let mut read: Vec<String> = (after.iter())
            .map(|k| {
                Period::from_key(k).map_or_else(|| format!("not a key: {k}"), |p| p.to_string())
            })
            .collect();
        written.sort();
        read.sort();
        assert_eq!(read, written, "{table}.{column}");
    }
    let runs = texts(
        new,
        "select tree || ' ' || period from runs order by tree, period",
    );
    assert_eq!(
        runs,
        [
            "activation 2026-05-25/2026-W22",
            "activation 2026-06-01/2026-W23",
            "activation 2026-06-08/2026-W24",
            "item-creation 2026-11-09/2026-W46",
            "item-creation 2026-11-16/2026-W47",
        ]
    );
}

/// The emails of each last period, composed again from the migrated history in `dir`, are
/// those 4b0d60b sent (as `old` keeps them).
fn emails_compose_as_they_were_sent(dir: &Dir, old: &rusqlite::Connection) {
    // All but what differs each time an email is composed (see `composed`).
    let mut sent = BTreeMap::new();
    for (tree, period) in V7_LAST_RUNS {
        run_v7(dir, (tree, period), &["--dry-run", "--preview", "preview"]);
        let sql = "select recipient, body from outbox where tree = ?1 and period = ?2";
        let mut query = old.prepare(sql).unwrap();
        let rows = query.query_map([tree, period], |r| {
            let name = format!("{tree}-{period}-{}.eml", r.get::<_, String>(0)?);
            Ok((name, String::from_utf8(r.get(1)?).unwrap()))
        });
        sent.extend(rows.unwrap().map(Result::unwrap));
    }
    let preview = dir.path().join("preview");
    let composed_again: BTreeMap<String, String> = (std::fs::read_dir(&preview).unwrap())
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".eml"))
        .map(|name| {
            let eml = std::fs::read_to_string(preview.join(&name)).unwrap();
            (name, composed(&eml))
        })
        .collect();
    let sent: BTreeMap<String, String> = (sent.into_iter())
        .map(|(name, eml)| (name, composed(&eml)))
        .collect();
    // activation's three emails of 2026-W24 and item-creation's four of 2026-W47.
    assert_eq!(composed_again.len(), 7);
    assert_eq!(composed_again, sent);
}
