//! The application log: service events shown in the console's "Application log"
//! view (TekSIP: "application log (service events; clear)") — start and stop,
//! settings applied, ports that could not be bound, storage trouble.
//!
//! Entries are append-only with a unix-millisecond timestamp and a level, listed
//! newest first, cleared on request and pruned by age ("auto clear days").
//! Levels are stored as lowercase words so the file stays readable with the
//! `sqlite3` shell.

use super::Db;
use crate::error::{FResult, Fail, StorageError};
use rusqlite::{Connection, Row, params};

/// Severity of an application-log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Something failed.
    Error,
    /// Something is wrong but the service continues.
    Warning,
    /// A normal service event.
    Info,
    /// A session event (who called whom, how it ended).
    Session,
    /// Developer detail.
    Debug,
}

impl LogLevel {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
            Self::Session => "session",
            Self::Debug => "debug",
        }
    }

    /// Parses a stored word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "error" => Self::Error,
            "warning" => Self::Warning,
            "info" => Self::Info,
            "session" => Self::Session,
            "debug" => Self::Debug,
            _ => return None,
        })
    }
}

/// An application-log entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// When, unix milliseconds.
    pub ts_ms: i64,
    /// Severity.
    pub level: LogLevel,
    /// The message.
    pub message: String,
}

/// A stored entry with its row id (ascending with insertion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLogEntry {
    /// Row id.
    pub id: i64,
    /// The entry.
    pub entry: LogEntry,
}

pub(super) fn append(conn: &Connection, e: &LogEntry) -> FResult<i64> {
    conn.prepare_cached("INSERT INTO app_log (ts_ms, level, message) VALUES (?1, ?2, ?3)")?
        .execute(params![e.ts_ms, e.level.as_str(), e.message])?;
    Ok(conn.last_insert_rowid())
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<(i64, i64, String, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

impl Db {
    /// Appends an entry; returns its id.
    pub fn append_log(&mut self, e: &LogEntry) -> Result<i64, StorageError> {
        self.write(|tx| append(tx, e))
    }

    /// Up to `limit` entries, newest first.
    pub fn list_log(&self, limit: u32) -> Result<Vec<StoredLogEntry>, StorageError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, ts_ms, level, message FROM app_log ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit], from_row)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, ts_ms, level, message) = row?;
                let level = LogLevel::parse(&level).ok_or_else(|| Fail::BadRow {
                    table: "app_log",
                    cause: format!("entry {id}: unknown level {level:?}"),
                })?;
                out.push(StoredLogEntry {
                    id,
                    entry: LogEntry {
                        ts_ms,
                        level,
                        message,
                    },
                });
            }
            Ok(out)
        })
    }

    /// Deletes every entry; returns how many.
    pub fn clear_log(&mut self) -> Result<usize, StorageError> {
        self.write(|tx| Ok(tx.prepare_cached("DELETE FROM app_log")?.execute([])?))
    }

    /// Deletes the entries older than `older_than_ms`; returns how many.
    pub fn prune_log(&mut self, older_than_ms: i64) -> Result<usize, StorageError> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached("DELETE FROM app_log WHERE ts_ms < ?1")?
                .execute([older_than_ms])?)
        })
    }
}
