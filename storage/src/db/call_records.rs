//! Call records (CDRs): who called whom, when it was answered and how it ended.
//!
//! One row per INVITE session the proxy saw end (RFC 3261 §13, §15): the Call-ID,
//! caller and callee (the From and To/Request-URI identities as the engine
//! reports them), start / answer / end times in unix milliseconds, the final
//! status code when the call failed (`None` for an answered call that ended with
//! BYE) and a human cause ("BYE from caller", "486 Busy Here", "CANCEL"…).
//! Records are append-only; old ones are pruned by age (the logging
//! "auto clear days" setting).

use super::Db;
use crate::error::{FResult, StorageError};
use rusqlite::{Connection, Row, params};

/// A call record to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    /// The dialog's Call-ID.
    pub call_id: String,
    /// The caller (From identity).
    pub caller: String,
    /// The callee (To / Request-URI identity).
    pub callee: String,
    /// When the INVITE arrived, unix milliseconds.
    pub start_ms: i64,
    /// When the call was answered (2xx), unix milliseconds; `None` if never.
    pub answer_ms: Option<i64>,
    /// When the call ended, unix milliseconds.
    pub end_ms: i64,
    /// How it ended, in words.
    pub cause: String,
    /// The final failure status code, if the call failed.
    pub status: Option<u16>,
}

/// A stored call record with its row id (ascending with insertion).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCallRecord {
    /// Row id.
    pub id: i64,
    /// The record.
    pub record: CallRecord,
}

pub(super) fn insert(conn: &Connection, r: &CallRecord) -> FResult<i64> {
    conn.prepare_cached(
        "INSERT INTO call_records (call_id, caller, callee, start_ms, answer_ms, end_ms, cause, status) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        r.call_id,
        r.caller,
        r.callee,
        r.start_ms,
        r.answer_ms,
        r.end_ms,
        r.cause,
        r.status,
    ])?;
    Ok(conn.last_insert_rowid())
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<StoredCallRecord> {
    Ok(StoredCallRecord {
        id: r.get(0)?,
        record: CallRecord {
            call_id: r.get(1)?,
            caller: r.get(2)?,
            callee: r.get(3)?,
            start_ms: r.get(4)?,
            answer_ms: r.get(5)?,
            end_ms: r.get(6)?,
            cause: r.get(7)?,
            status: r.get(8)?,
        },
    })
}

impl Db {
    /// Appends a call record; returns its id.
    pub fn insert_call_record(&mut self, r: &CallRecord) -> Result<i64, StorageError> {
        self.write(|tx| insert(tx, r))
    }

    /// Up to `limit` records, newest first, skipping the `offset` newest.
    pub fn list_call_records(
        &self,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<StoredCallRecord>, StorageError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, call_id, caller, callee, start_ms, answer_ms, end_ms, cause, status \
                 FROM call_records ORDER BY id DESC LIMIT ?1 OFFSET ?2",
            )?;
            let rows = stmt.query_map([limit, offset], from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Deletes the records that ended before `older_than_ms`; returns how many.
    pub fn prune_call_records(&mut self, older_than_ms: i64) -> Result<usize, StorageError> {
        self.write(|tx| {
            Ok(tx
                .prepare_cached("DELETE FROM call_records WHERE end_ms < ?1")?
                .execute([older_than_ms])?)
        })
    }
}
