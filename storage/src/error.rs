//! Storage errors: every failure names the database file and says what went wrong.
//!
//! The server must never "start empty over a database it could not read" (issue 3,
//! TekSIP's "Endpoints could not be loaded"): so an unreadable, locked, corrupt or
//! full database is an error the runtime reports and exits on, never a reason to
//! create a fresh file. SQLite's primary result codes (<https://sqlite.org/rescode.html>)
//! are mapped onto the variants below so the runtime (and an operator) can tell
//! "another process holds the lock" from "the file is not a database" from "the
//! disk is full".

use rusqlite::ffi::ErrorCode;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A failure of the database layer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The file (or its directory) could not be opened or created: permission
    /// denied, a parent path that is a regular file, a path that is a directory…
    #[error("cannot open database {}: {cause}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why, in words.
        cause: String,
    },
    /// Another connection held a lock for longer than the busy timeout
    /// (`SQLITE_BUSY` / `SQLITE_LOCKED`).
    #[error(
        "database {} is locked by another connection or process (still busy after the timeout): {cause}",
        path.display()
    )]
    Locked {
        /// The database file.
        path: PathBuf,
        /// SQLite's message.
        cause: String,
    },
    /// The file is a database but its content is damaged (`SQLITE_CORRUPT`).
    #[error("database {} is corrupt: {cause}", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// SQLite's message.
        cause: String,
    },
    /// The file is not a SQLite database at all (`SQLITE_NOTADB`).
    #[error("{} is not a SQLite database: {cause}", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// SQLite's message.
        cause: String,
    },
    /// A write failed because the disk (or quota) is full (`SQLITE_FULL`).
    #[error("cannot write database {}: disk full ({cause})", path.display())]
    DiskFull {
        /// The database file.
        path: PathBuf,
        /// SQLite's message.
        cause: String,
    },
    /// A write was refused because the file or its directory is read-only
    /// (`SQLITE_READONLY`).
    #[error("cannot write database {}: read-only ({cause})", path.display())]
    ReadOnly {
        /// The database file.
        path: PathBuf,
        /// SQLite's message.
        cause: String,
    },
    /// The file was written by a newer Switchboard: its schema version is
    /// higher than the migrations this build knows.
    #[error(
        "database {} has schema version {found}, newer than version {known} known to this build; refusing to use it (upgrade Switchboard or restore a backup)",
        path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest version this build can migrate to.
        known: i64,
    },
    /// The file is a SQLite database of some other program (tables but no
    /// Switchboard schema version); it is left untouched.
    #[error(
        "{} is a SQLite database but not a Switchboard one (it has tables and no schema version); refusing to use it",
        path.display()
    )]
    NotSwitchboard {
        /// The file.
        path: PathBuf,
    },
    /// A stored row holds a value this build cannot interpret (e.g. an
    /// unparsable socket address), so it refuses rather than guess.
    #[error("database {}: bad row in table {table}: {cause}", path.display())]
    BadRow {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: &'static str,
        /// What is wrong with the row.
        cause: String,
    },
    /// The key file that encrypts destination passwords at rest
    /// (`<data_dir>/secret.key`) is missing, unreadable, malformed or does not
    /// match the stored passwords.
    #[error("secret key file {}: {cause}", path.display())]
    SecretKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        cause: String,
    },
    /// Any other SQLite failure (I/O error, internal error…).
    #[error("database {}: {cause}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's message, with its result code.
        cause: String,
    },
    /// The caller passed a value the store refuses (TekSIP: "invalid endpoint
    /// information or illegal character in entries").
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was refused, e.g. `extension username "a;b"`.
        what: String,
        /// Why.
        reason: String,
    },
}

impl StorageError {
    /// Maps a rusqlite error met while using the database at `path`.
    pub(crate) fn from_sqlite(path: &Path, err: &rusqlite::Error) -> Self {
        let path = path.to_path_buf();
        let cause = err.to_string();
        match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                Self::Locked { path, cause }
            }
            Some(ErrorCode::DatabaseCorrupt) => Self::Corrupt { path, cause },
            Some(ErrorCode::NotADatabase) => Self::NotADatabase { path, cause },
            Some(ErrorCode::DiskFull) => Self::DiskFull { path, cause },
            Some(ErrorCode::ReadOnly) => Self::ReadOnly { path, cause },
            Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => Self::Open { path, cause },
            Some(code) => Self::Sqlite {
                path,
                cause: format!("{cause} ({code:?})"),
            },
            None => Self::Sqlite { path, cause },
        }
    }

    /// Builds an [`StorageError::Invalid`].
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// The database file the error is about, when it is about one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Open { path, .. }
            | Self::Locked { path, .. }
            | Self::Corrupt { path, .. }
            | Self::NotADatabase { path, .. }
            | Self::DiskFull { path, .. }
            | Self::ReadOnly { path, .. }
            | Self::NewerSchema { path, .. }
            | Self::NotSwitchboard { path }
            | Self::BadRow { path, .. }
            | Self::SecretKey { path, .. }
            | Self::Sqlite { path, .. } => Some(path),
            Self::Invalid { .. } => None,
        }
    }
}

/// What a table function can fail with before the database path is attached.
#[derive(Debug)]
pub(crate) enum Fail {
    /// SQLite refused.
    Sql(rusqlite::Error),
    /// A stored row is unreadable.
    BadRow {
        /// The table.
        table: &'static str,
        /// Why.
        cause: String,
    },
    /// The caller's value is refused (already a complete error).
    Invalid(StorageError),
}

impl From<rusqlite::Error> for Fail {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

impl Fail {
    /// Attaches the database path.
    pub(crate) fn at(self, path: &Path) -> StorageError {
        match self {
            Self::Sql(e) => StorageError::from_sqlite(path, &e),
            Self::BadRow { table, cause } => StorageError::BadRow {
                path: path.to_path_buf(),
                table,
                cause,
            },
            Self::Invalid(e) => e,
        }
    }
}

/// Shorthand for the table functions' result.
pub(crate) type FResult<T> = Result<T, Fail>;

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn result_codes_map_to_variants_naming_the_file() {
        let p = Path::new("/data/x.db");
        let e = StorageError::from_sqlite(p, &sqlite(rusqlite::ffi::SQLITE_BUSY));
        assert!(matches!(e, StorageError::Locked { .. }), "{e:?}");
        assert!(e.to_string().contains("/data/x.db"), "{e}");
        assert!(matches!(
            StorageError::from_sqlite(p, &sqlite(rusqlite::ffi::SQLITE_FULL)),
            StorageError::DiskFull { .. }
        ));
        assert!(matches!(
            StorageError::from_sqlite(p, &sqlite(rusqlite::ffi::SQLITE_NOTADB)),
            StorageError::NotADatabase { .. }
        ));
        assert!(matches!(
            StorageError::from_sqlite(p, &sqlite(rusqlite::ffi::SQLITE_CORRUPT)),
            StorageError::Corrupt { .. }
        ));
        assert!(matches!(
            StorageError::from_sqlite(p, &sqlite(rusqlite::ffi::SQLITE_READONLY)),
            StorageError::ReadOnly { .. }
        ));
        assert!(matches!(
            StorageError::from_sqlite(p, &sqlite(rusqlite::ffi::SQLITE_CANTOPEN)),
            StorageError::Open { .. }
        ));
        let other = StorageError::from_sqlite(p, &sqlite(rusqlite::ffi::SQLITE_IOERR));
        assert!(matches!(other, StorageError::Sqlite { .. }));
        assert_eq!(other.path(), Some(p));
    }
}
