//! One writer per history database: an exclusive lock, held by the operating system on a file
//! beside the database (`canopy.db.lock` for `canopy.db`), for as long as the process keeps
//! the history open. The system releases it when the process ends, however it ends, so a
//! killed run never leaves a stale lock behind.

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

/// The lock file of the database at `db`.
pub(crate) fn path_of(db: &Path) -> PathBuf {
    let mut name = OsString::from(db.as_os_str());
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the lock of the database at `db`, waiting at most `wait` for another process to
/// release it. `on_busy` is called once, with the holder's process id when it is known, if
/// the lock is held when first tried.
pub(crate) fn acquire(
    db: &Path,
    wait: Duration,
    on_busy: &mut dyn FnMut(Option<u32>),
) -> Result<Lock, Error> {
    let path = path_of(db);
    let shown = db.display().to_string();
    let failed =
        |e: std::io::Error| Error::history(&shown, format!("cannot lock {}: {e}", path.display()));
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
                        db: db.display().to_string(),
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
        let held = acquire(&db, Duration::ZERO, &mut |_| panic!("free")).unwrap();
        let mut seen = Vec::new();
        let err = acquire(&db, Duration::from_millis(120), &mut |pid| seen.push(pid))
            .expect_err("the lock is held");
        assert_eq!(
            seen,
            [Some(std::process::id())],
            "told once, with the holder"
        );
        assert!(matches!(err, Error::Busy { pid: Some(p), .. } if p == std::process::id()));
        drop(held);
        acquire(&db, Duration::ZERO, &mut |_| panic!("released")).unwrap();
    }
}
