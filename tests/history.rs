//! `canopy history`: what three runs recorded, read back; and a history that is read-only,
//! which the commands that only read can still read.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::{item_creation, run_command, Dir, Run, ITEM_CREATION_RUN};

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
