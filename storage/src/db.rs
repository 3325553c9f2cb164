//! The SQLite database: opening, pragmas, migrations, transactions, batches.
//!
//! One file (default `./data/switchboard.db`, ARCHITECTURE.md §5) holds the
//! provisioned extensions and what must survive a restart: saved registrations
//! ("Save Registrations", RFC 3261 §10.3 bindings), call records and the
//! application log. The file is opened in WAL mode
//! (<https://sqlite.org/wal.html>) so the CLI can write while the server reads,
//! with `synchronous=NORMAL` (a committed transaction survives a process crash
//! or `kill -9`; a power cut may lose the last transactions but never corrupts
//! the file), foreign keys on and a busy timeout, then migrated
//! (`db/schema.rs`). Every write runs in one `BEGIN IMMEDIATE` transaction; the
//! storage worker batches many writes into one with [`Db::apply`].
//!
//! ## Noticing changes made by another process
//!
//! `PRAGMA data_version` ([`Db::data_version`]) changes on *this* connection
//! whenever *another* connection commits — a cheap check that touches no table.
//! Because the server's own storage worker also commits (bindings, records), a
//! change of `data_version` alone does not mean the extensions changed, so the
//! extensions table bumps a counter in `meta` through triggers
//! ([`Db::extensions_generation`]). The runtime polls `data_version` every
//! second or so; when it moved it reads the generation, and when *that* moved it
//! reloads every extension ([`Db::list_extensions`], 10,000 rows take a few ms)
//! and hands the snapshot to the engine. Reloading all is simple and also
//! catches deletions, which an `updated_at` filter would miss. Routing
//! (destinations and routes, `db/routing.rs`) has its own counter,
//! [`Db::routing_generation`], and is reloaded whole.

mod app_log;
mod bindings;
mod call_records;
mod extensions;
mod routing;
mod schema;
mod secret;

pub use app_log::{LogEntry, LogLevel, StoredLogEntry};
pub use bindings::SavedBinding;
pub use call_records::{CallRecord, StoredCallRecord};
pub use extensions::{Extension, Upsert, validate_username};
pub use routing::{StoredDestination, kind_name, prefix_text};
pub use secret::KEY_FILE;

use crate::error::{FResult, StorageError};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a statement waits for another connection's lock before failing
/// with [`StorageError::Locked`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i64 = schema::LATEST;

/// An open database. Not `Sync`: one owner (the storage worker, the CLI, the
/// API thread) per connection; open several for several threads.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

/// One write of a batch applied by [`Db::apply`].
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Insert or replace a saved binding (key: aor + contact_key).
    SaveBinding(SavedBinding),
    /// Delete one saved binding.
    DeleteBinding {
        /// The address-of-record.
        aor: String,
        /// The binding's contact key.
        contact_key: String,
    },
    /// Delete every saved binding of one address-of-record.
    DeleteBindingsOf {
        /// The address-of-record.
        aor: String,
    },
    /// Delete every saved binding.
    ClearBindings,
    /// Append a call record.
    InsertCallRecord(CallRecord),
    /// Append an application-log entry.
    AppendLog(LogEntry),
}

impl Db {
    /// Opens (creating the directory and file when missing) the database at
    /// `path`, with the [`DEFAULT_BUSY_TIMEOUT`], and migrates it.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        Self::open_with_busy_timeout(path, DEFAULT_BUSY_TIMEOUT)
    }

    /// [`Db::open`] with an explicit busy timeout.
    pub fn open_with_busy_timeout(path: &Path, busy: Duration) -> Result<Self, StorageError> {
        prepare_parent(path)?;
        if path.is_dir() {
            return Err(StorageError::Open {
                path: path.to_path_buf(),
                cause: "it is a directory".into(),
            });
        }
        let sql = |e: rusqlite::Error| StorageError::from_sqlite(path, &e);
        let mut conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(busy).map_err(sql)?;
        // The first statement reads the header: garbage files fail here with
        // SQLITE_NOTADB, locked ones with SQLITE_BUSY after the timeout.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(sql)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StorageError::Open {
                path: path.to_path_buf(),
                cause: format!("cannot switch to WAL journal mode (still {mode:?})"),
            });
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        match schema::migrate(&mut conn).map_err(sql)? {
            schema::Outcome::Current => {}
            schema::Outcome::Foreign => {
                return Err(StorageError::NotSwitchboard {
                    path: path.to_path_buf(),
                });
            }
            schema::Outcome::Newer(found) => {
                return Err(StorageError::NewerSchema {
                    path: path.to_path_buf(),
                    found,
                    known: schema::LATEST,
                });
            }
        }
        Ok(Self {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version recorded in the file (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<i64, StorageError> {
        self.read(|c| Ok(schema::version(c)?))
    }

    /// `PRAGMA data_version`: changes when another connection (another process,
    /// e.g. the CLI) commits. See the module docs for the polling approach.
    pub fn data_version(&self) -> Result<i64, StorageError> {
        self.read(|c| Ok(c.pragma_query_value(None, "data_version", |r| r.get(0))?))
    }

    /// A counter bumped (by triggers) on every insert, update or delete of an
    /// extension, by any connection. Reload the extensions when it moved.
    pub fn extensions_generation(&self) -> Result<i64, StorageError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT value FROM meta WHERE key = 'extensions_generation'",
                [],
                |r| r.get(0),
            )?)
        })
    }

    /// Applies every op in ONE transaction: all of them or, if any fails, none.
    pub fn apply(&mut self, ops: &[Op]) -> Result<(), StorageError> {
        self.write(|tx| {
            for op in ops {
                match op {
                    Op::SaveBinding(b) => bindings::save(tx, b)?,
                    Op::DeleteBinding { aor, contact_key } => {
                        bindings::delete(tx, aor, contact_key)?;
                    }
                    Op::DeleteBindingsOf { aor } => {
                        bindings::delete_aor(tx, aor)?;
                    }
                    Op::ClearBindings => {
                        bindings::clear(tx)?;
                    }
                    Op::InsertCallRecord(r) => {
                        call_records::insert(tx, r)?;
                    }
                    Op::AppendLog(e) => {
                        app_log::append(tx, e)?;
                    }
                }
            }
            Ok(())
        })
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction, committing on success and
    /// rolling back on any error.
    fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction<'_>) -> FResult<T>,
    ) -> Result<T, StorageError> {
        let path = &self.path;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| StorageError::from_sqlite(path, &e))?;
        let value = f(&tx).map_err(|e| e.at(path))?;
        tx.commit()
            .map_err(|e| StorageError::from_sqlite(path, &e))?;
        Ok(value)
    }

    /// Runs a read (a single statement, or several that need no snapshot).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> FResult<T>) -> Result<T, StorageError> {
        f(&self.conn).map_err(|e| e.at(&self.path))
    }
}

/// Creates the parent directory of `path` when missing; a parent that exists
/// but is not a directory is reported as such.
fn prepare_parent(path: &Path) -> Result<(), StorageError> {
    let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    let open_err = |cause: String| StorageError::Open {
        path: path.to_path_buf(),
        cause,
    };
    // Walk up to the first existing ancestor: if it is a file, say so (the
    // OS only says "File exists" or "Not a directory").
    let mut existing = Some(parent);
    while let Some(p) = existing {
        if p.exists() {
            if !p.is_dir() {
                return Err(open_err(format!("{} is not a directory", p.display())));
            }
            break;
        }
        existing = p.parent().filter(|p| !p.as_os_str().is_empty());
    }
    std::fs::create_dir_all(parent)
        .map_err(|e| open_err(format!("cannot create directory {}: {e}", parent.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(message: String) -> LogEntry {
        LogEntry {
            ts_ms: 1,
            level: LogLevel::Info,
            message,
        }
    }

    #[test]
    fn full_database_is_disk_full_naming_the_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("full.db");
        let mut db = Db::open(&path).expect("open");
        // SQLite answers SQLITE_FULL when the page limit is reached, exactly
        // as when the disk is.
        let pages: i64 = db
            .conn
            .pragma_query_value(None, "page_count", |r| r.get(0))
            .expect("page_count");
        db.conn
            .pragma_update(None, "max_page_count", pages + 2)
            .expect("limit");
        let big = "x".repeat(64 * 1024);
        let err = db.append_log(&entry(big)).expect_err("full");
        assert!(matches!(err, StorageError::DiskFull { .. }), "{err:?}");
        assert!(err.to_string().contains("full.db"), "{err}");
        // Nothing half-written; small writes still fit.
        assert!(db.list_log(10).expect("list").is_empty());
        db.append_log(&entry("small".into())).expect("fits");
    }

    #[test]
    fn read_only_connection_is_read_only() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("ro.db");
        let mut db = Db::open(&path).expect("open");
        db.conn
            .pragma_update(None, "query_only", true)
            .expect("query_only");
        let err = db.append_log(&entry("x".into())).expect_err("read-only");
        assert!(matches!(err, StorageError::ReadOnly { .. }), "{err:?}");
        assert!(err.to_string().contains("ro.db"), "{err}");
    }
}
