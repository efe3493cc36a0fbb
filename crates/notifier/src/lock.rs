//! One writer per history database: an exclusive lock, held by the operating system on a file
//! beside the database (`canopy.db.lock` for `canopy.db`), for as long as the process keeps
//! the history open. The system releases it when the process ends, however it ends, so a
//! killed run never leaves a stale lock behind. The lock belongs to the database's canonical
//! path, so every name of one file (a symlink, `./`, `..`) is the same lock.

use std::ffi::OsString;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Error;

/// How often a waiting process tries the lock again.
const POLL: Duration = Duration::from_millis(50);

/// A held lock; released when dropped.
#[derive(Debug)]
pub(crate) struct Lock {
    _file: File,
}

/// How many symbolic links in a row are followed before giving up, as the kernel does.
const MAX_LINKS: usize = 40;

/// The one absolute name of the database at `db`, with every symbolic link resolved, also
/// when the database does not exist yet (then its folder is resolved, and a dangling link
/// is followed to where the database will be made).
pub(crate) fn canonical(db: &Path) -> std::io::Result<PathBuf> {
    let mut path = db.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::canonicalize(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            resolved => return resolved,
        }
        match std::fs::read_link(&path) {
            Ok(target) => path = path.parent().unwrap_or(Path::new("")).join(target),
            Err(_) => {
                let folder = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => std::fs::canonicalize(p)?,
                    _ => std::env::current_dir()?,
                };
                let name = path.file_name().ok_or_else(|| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, "names no file")
                })?;
                return Ok(folder.join(name));
            }
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        "too many levels of symbolic links",
    ))
}

/// The lock file of the database at `db` (a canonical path).
pub(crate) fn path_of(db: &Path) -> PathBuf {
    let mut name = OsString::from(db.as_os_str());
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the lock of the database at `db` (a canonical path: see [`canonical`]; `shown` is
/// its name as the user gave it, for messages), waiting at most `wait` for another process to
/// release it. `on_busy` is called once, with the holder's process id when it is known, if
/// the lock is held when first tried.
pub(crate) fn acquire(
    db: &Path,
    shown: &str,
    wait: Duration,
    on_busy: &mut dyn FnMut(Option<u32>),
) -> Result<Lock, Error> {
    let path = path_of(db);
    let failed =
        |e: std::io::Error| Error::history(shown, format!("cannot lock {}: {e}", path.display()));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(failed)?;
    let started = Instant::now();
    let mut told = false;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                let holder = holder(&path);
                if started.elapsed() >= wait {
                    return Err(Error::Busy {
                        db: shown.to_string(),
                        pid: holder,
                        waited: wait.as_secs(),
                    });
                }
                if !told {
                    on_busy(holder);
                    told = true;
                }
                std::thread::sleep(POLL.min(wait.saturating_sub(started.elapsed())));
            }
            Err(TryLockError::Error(e)) => return Err(failed(e)),
        }
    }
    // Say who holds it, for the message another process prints while it waits.
    file.set_len(0).map_err(failed)?;
    file.rewind().map_err(failed)?;
    writeln!(file, "{}", std::process::id()).map_err(failed)?;
    Ok(Lock { _file: file })
}

/// The process id written in the lock file by its holder, if it can be read.
fn holder(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_then_gives_up_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("canopy.db");
        let held = acquire(&db, "canopy.db", Duration::ZERO, &mut |_| panic!("free")).unwrap();
        let mut seen = Vec::new();
        let err = acquire(&db, "canopy.db", Duration::from_millis(120), &mut |pid| {
            seen.push(pid)
        })
        .expect_err("the lock is held");
        assert_eq!(
            seen,
            [Some(std::process::id())],
            "told once, with the holder"
        );
        assert!(matches!(err, Error::Busy { pid: Some(p), .. } if p == std::process::id()));
        drop(held);
        acquire(&db, "canopy.db", Duration::ZERO, &mut |_| {
            panic!("released")
        })
        .unwrap();
    }

    #[test]
    fn every_name_of_one_database_is_one_lock() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("c.db");
        let alias = dir.path().join("alias.db");
        // A link to a database not made yet, and the same file through `..`.
        std::os::unix::fs::symlink("c.db", &alias).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let dotted = dir.path().join("sub/../c.db");
        let names = [&real, &alias, &dotted].map(|p| canonical(p).unwrap());
        assert_eq!(
            names,
            [names[0].clone(), names[0].clone(), names[0].clone()]
        );
        let held = acquire(&names[0], "c.db", Duration::ZERO, &mut |_| panic!("free")).unwrap();
        let busy = acquire(
            &canonical(&alias).unwrap(),
            "alias.db",
            Duration::ZERO,
            &mut |_| {},
        );
        assert!(matches!(busy, Err(Error::Busy { db, .. }) if db == "alias.db"));
        drop(held);
        // Made, the database is found through the link as well.
        std::fs::write(&real, "").unwrap();
        assert_eq!(canonical(&alias).unwrap(), names[0]);
    }
}
