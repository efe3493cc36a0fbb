//! How the history database is opened when it may not be writable: for reading, without
//! creating, locking or changing anything beside it; for writing, refused with a clear error
//! when it is read-only (a file this process may not write, or a read-only file system).

use std::io::ErrorKind;
use std::path::Path;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::{lock, Error};

/// What SQLite's URIs give a meaning to, escaped in a path.
const URI: &AsciiSet = &CONTROLS.add(b'%').add(b'?').add(b'#');

/// A connection that only reads the database at `path`. While a writer has the database
/// open, its `-wal` file exists, and the connection shares it (with its `-shm`) to read a
/// consistent state beside that writer. Otherwise nobody is writing, and the file is read as
/// immutable: SQLite then takes no lock and creates no `-wal` or `-shm`, so a history on a
/// read-only file system, or in a folder this process may not write, can be read, and
/// reading leaves no file behind. A run that starts while such a read goes on writes into a
/// `-wal` of its own and changes the file itself only at a checkpoint; a read that meets one
/// may fail, and is repeated, but writes nothing.
pub(crate) fn read_only(path: &Path) -> rusqlite::Result<Connection> {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if Path::new(&wal).exists() {
        return Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY);
    }
    let uri = format!(
        "file:{}?immutable=1",
        utf8_percent_encode(&path.to_string_lossy(), URI)
    );
    Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
}

/// The error of a history that cannot be written: the database at `path` (shown as `db`) or
/// the folder it is in (where the lock file and SQLite's `-wal` go). Checked before the lock
/// is taken, so the cause is named rather than a lock that cannot be made.
pub(crate) fn refuse_read_only(path: &Path, db: &str) -> Result<(), Error> {
    let read_only = |e: std::io::Error| match e.kind() {
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => Err(Error::ReadOnly {
            db: db.to_string(),
            why: e.to_string(),
        }),
        // Anything else is for opening the database to report, as it always has.
        _ => Ok(()),
    };
    if path.exists() {
        if let Err(e) = std::fs::OpenOptions::new().write(true).open(path) {
            return read_only(e);
        }
    }
    // The lock file is what a writer creates first beside the database.
    let lock = lock::path_of(path);
    let opened = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock);
    match opened {
        Ok(_) => Ok(()),
        Err(e) => read_only(e),
    }
}

/// Whether `e` says SQLite could not write the database or create its files beside it.
pub(crate) fn cannot_write(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen)
    )
}

/// Whether `e` says the file is not a database at all.
pub(crate) fn not_a_database(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::NotADatabase)
}
