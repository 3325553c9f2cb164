//! Saved registrations: the registrar's bindings (RFC 3261 §10.3), written as they
//! change when "Save Registrations" is on and restored at start with their
//! remaining expiry, so a restart — even `kill -9` — loses none that had been
//! acknowledged (the storage worker commits before the 200 OK is counted as
//! durable; see ARCHITECTURE.md §5).
//!
//! A binding is keyed by its address-of-record and contact key (the registrar's
//! normalised contact URI, or `+sip.instance`/`reg-id` for RFC 5626 outbound).
//! `path` (RFC 3327) is stored newline-joined: header values never contain a raw
//! CR or LF after unfolding (RFC 3261 §7.3.1), and entries containing one are
//! refused. Connection-oriented flows cannot survive a restart; the runtime
//! restores them by address and lets the next REGISTER refresh the connection.

use super::Db;
use crate::error::{FResult, Fail, StorageError};
use rusqlite::{Connection, Row, params};
use std::net::SocketAddr;

/// One saved binding. Plain data; the runtime converts to and from the core's
/// registrar binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedBinding {
    /// The address-of-record, e.g. `sip:101@example.com`.
    pub aor: String,
    /// The Contact URI as registered.
    pub contact: String,
    /// The key identifying the binding within the AOR.
    pub contact_key: String,
    /// The `q` value in thousandths (0..=1000).
    pub q: u16,
    /// When the binding expires, unix seconds.
    pub expires_at: i64,
    /// Call-ID of the REGISTER that created or last refreshed it.
    pub call_id: String,
    /// CSeq number of that REGISTER.
    pub cseq: u32,
    /// The transport it arrived on, lowercase (`udp`, `tcp`, `tls`, `ws`, `wss`).
    pub transport: String,
    /// Our address it arrived at.
    pub local_addr: SocketAddr,
    /// The address it came from.
    pub remote_addr: SocketAddr,
    /// `+sip.instance` (RFC 5626), if any.
    pub instance: Option<String>,
    /// `reg-id` (RFC 5626), if any.
    pub reg_id: Option<u32>,
    /// The Path header values (RFC 3327), in order.
    pub path: Vec<String>,
    /// The registering User-Agent, if it sent one.
    pub user_agent: Option<String>,
}

impl SavedBinding {
    /// Checks the fields the store relies on.
    pub fn validate(&self) -> Result<(), StorageError> {
        let what = || format!("saved binding {:?} of {:?}", self.contact_key, self.aor);
        let line = |v: &str| v.is_empty() || v.contains(['\r', '\n']);
        if line(&self.aor) || line(&self.contact) || line(&self.contact_key) || line(&self.call_id)
        {
            return Err(StorageError::invalid(
                what(),
                "aor, contact, contact key and Call-ID must be non-empty single lines",
            ));
        }
        if self.q > 1000 {
            return Err(StorageError::invalid(
                what(),
                format!("q {} is above 1000", self.q),
            ));
        }
        if self.transport.is_empty() || !self.transport.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(StorageError::invalid(
                what(),
                format!("transport {:?} is not a lowercase name", self.transport),
            ));
        }
        if let Some(p) = self.path.iter().find(|p| line(p)) {
            return Err(StorageError::invalid(
                what(),
                format!("Path entry {p:?} is empty or contains a line break"),
            ));
        }
        Ok(())
    }
}

const TABLE: &str = "bindings";

pub(super) fn save(conn: &Connection, b: &SavedBinding) -> FResult<()> {
    b.validate().map_err(Fail::Invalid)?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO bindings (aor, contact_key, contact, q, expires_at, call_id, \
         cseq, transport, local_addr, remote_addr, instance, reg_id, path, user_agent) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        b.aor,
        b.contact_key,
        b.contact,
        b.q,
        b.expires_at,
        b.call_id,
        b.cseq,
        b.transport,
        b.local_addr.to_string(),
        b.remote_addr.to_string(),
        b.instance,
        b.reg_id,
        b.path.join("\n"),
        b.user_agent,
    ])?;
    Ok(())
}

pub(super) fn delete(conn: &Connection, aor: &str, contact_key: &str) -> FResult<bool> {
    let n = conn
        .prepare_cached("DELETE FROM bindings WHERE aor = ?1 AND contact_key = ?2")?
        .execute([aor, contact_key])?;
    Ok(n > 0)
}

pub(super) fn delete_aor(conn: &Connection, aor: &str) -> FResult<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM bindings WHERE aor = ?1")?
        .execute([aor])?)
}

pub(super) fn clear(conn: &Connection) -> FResult<usize> {
    Ok(conn.prepare_cached("DELETE FROM bindings")?.execute([])?)
}

/// A row with its addresses still as text (parsed after the query).
struct RawRow {
    b: SavedBinding,
    local: String,
    remote: String,
    path: String,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
    Ok(RawRow {
        b: SavedBinding {
            aor: r.get(0)?,
            contact_key: r.get(1)?,
            contact: r.get(2)?,
            q: r.get(3)?,
            expires_at: r.get(4)?,
            call_id: r.get(5)?,
            cseq: r.get(6)?,
            transport: r.get(7)?,
            local_addr: unspecified,
            remote_addr: unspecified,
            instance: r.get(10)?,
            reg_id: r.get(11)?,
            path: Vec::new(),
            user_agent: r.get(13)?,
        },
        local: r.get(8)?,
        remote: r.get(9)?,
        path: r.get(12)?,
    })
}

fn finish(raw: RawRow) -> FResult<SavedBinding> {
    let RawRow {
        mut b,
        local,
        remote,
        path,
    } = raw;
    let addr = |name: &str, v: &str| {
        v.parse::<SocketAddr>().map_err(|e| Fail::BadRow {
            table: TABLE,
            cause: format!(
                "binding {:?} of {:?}: {name} {v:?} is not a socket address: {e}",
                b.contact_key, b.aor
            ),
        })
    };
    let local_addr = addr("local_addr", &local)?;
    let remote_addr = addr("remote_addr", &remote)?;
    b.local_addr = local_addr;
    b.remote_addr = remote_addr;
    b.path = if path.is_empty() {
        Vec::new()
    } else {
        path.split('\n').map(str::to_owned).collect()
    };
    Ok(b)
}

impl Db {
    /// Inserts or replaces a binding (key: aor + contact_key).
    pub fn save_binding(&mut self, b: &SavedBinding) -> Result<(), StorageError> {
        self.write(|tx| save(tx, b))
    }

    /// Deletes one binding; `true` when it existed.
    pub fn delete_binding(&mut self, aor: &str, contact_key: &str) -> Result<bool, StorageError> {
        self.write(|tx| delete(tx, aor, contact_key))
    }

    /// Deletes every binding of one AOR; returns how many.
    pub fn delete_bindings_of(&mut self, aor: &str) -> Result<usize, StorageError> {
        self.write(|tx| delete_aor(tx, aor))
    }

    /// Deletes every binding; returns how many.
    pub fn clear_bindings(&mut self) -> Result<usize, StorageError> {
        self.write(|tx| clear(tx))
    }

    /// Every binding still valid at `now_unix` (expiry strictly later), ordered
    /// by AOR then contact key. Expired ones are deleted in the same
    /// transaction. A row that cannot be interpreted is a
    /// [`StorageError::BadRow`], not silently dropped.
    pub fn load_bindings(&mut self, now_unix: i64) -> Result<Vec<SavedBinding>, StorageError> {
        self.write(|tx| {
            tx.prepare_cached("DELETE FROM bindings WHERE expires_at <= ?1")?
                .execute([now_unix])?;
            let mut stmt = tx.prepare_cached(
                "SELECT aor, contact_key, contact, q, expires_at, call_id, cseq, transport, \
                 local_addr, remote_addr, instance, reg_id, path, user_agent \
                 FROM bindings ORDER BY aor, contact_key",
            )?;
            let rows = stmt.query_map([], from_row)?;
            let mut out = Vec::new();
            for raw in rows {
                out.push(finish(raw?)?);
            }
            Ok(out)
        })
    }
}
