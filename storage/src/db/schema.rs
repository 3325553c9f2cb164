//! Schema migrations, recorded in `PRAGMA user_version`.
//!
//! `MIGRATIONS[i]` takes the database from version `i` to `i + 1`. Each step runs
//! in its own transaction together with the `user_version` bump (the version lives
//! in the file header, page 1, so it commits or rolls back with the step). A file
//! whose version is higher than `MIGRATIONS.len()` was written by a newer build and
//! is refused (<https://sqlite.org/pragma.html#pragma_user_version>), and so is a
//! version-0 file that already has tables: another program's database, which
//! we must not write our tables into.
//!
//! Time columns: `*_at` are unix seconds, `*_ms` unix milliseconds.

use rusqlite::{Connection, TransactionBehavior};

/// Version 1: extensions, saved registrations, call records, application log.
const V1: &str = r"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('extensions_generation', 0);

CREATE TABLE extensions (
    username        TEXT PRIMARY KEY NOT NULL,
    display_name    TEXT NOT NULL DEFAULT '',
    realm           TEXT NOT NULL,
    ha1_md5         TEXT NOT NULL,
    ha1_sha256      TEXT NOT NULL,
    redirect_target TEXT,
    allow_external  INTEGER NOT NULL DEFAULT 1 CHECK (allow_external IN (0, 1)),
    external_route  TEXT,
    record_audio    INTEGER NOT NULL DEFAULT 0 CHECK (record_audio IN (0, 1)),
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER extensions_ins AFTER INSERT ON extensions BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'extensions_generation';
END;
CREATE TRIGGER extensions_upd AFTER UPDATE ON extensions BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'extensions_generation';
END;
CREATE TRIGGER extensions_del AFTER DELETE ON extensions BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'extensions_generation';
END;

CREATE TABLE bindings (
    aor         TEXT NOT NULL,
    contact_key TEXT NOT NULL,
    contact     TEXT NOT NULL,
    q           INTEGER NOT NULL CHECK (q BETWEEN 0 AND 1000),
    expires_at  INTEGER NOT NULL,
    call_id     TEXT NOT NULL,
    cseq        INTEGER NOT NULL,
    transport   TEXT NOT NULL,
    local_addr  TEXT NOT NULL,
    remote_addr TEXT NOT NULL,
    instance    TEXT,
    reg_id      INTEGER,
    path        TEXT NOT NULL DEFAULT '',
    user_agent  TEXT,
    PRIMARY KEY (aor, contact_key)
) WITHOUT ROWID;
CREATE INDEX bindings_expires ON bindings (expires_at);

CREATE TABLE call_records (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id   TEXT NOT NULL,
    caller    TEXT NOT NULL,
    callee    TEXT NOT NULL,
    start_ms  INTEGER NOT NULL,
    answer_ms INTEGER,
    end_ms    INTEGER NOT NULL,
    cause     TEXT NOT NULL,
    status    INTEGER
);
CREATE INDEX call_records_end ON call_records (end_ms);

CREATE TABLE app_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms   INTEGER NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX app_log_ts ON app_log (ts_ms);
";

/// Version 2: routing (issue 4) — destinations (passwords AES-256-GCM
/// encrypted, `db/secret.rs`) and prefix routes, with a `routing_generation`
/// counter bumped by triggers on every write to either table.
const V2: &str = r"
INSERT INTO meta (key, value) VALUES ('routing_generation', 0);

CREATE TABLE destinations (
    name                TEXT PRIMARY KEY NOT NULL,
    gateway             TEXT NOT NULL,
    port                INTEGER CHECK (port IS NULL OR port BETWEEN 1 AND 65535),
    domain              TEXT,
    transport           TEXT NOT NULL,
    kind                TEXT NOT NULL CHECK (kind IN ('proxy', 'ua', 'extension')),
    username            TEXT,
    auth_username       TEXT,
    password_enc        BLOB,
    register            INTEGER NOT NULL DEFAULT 0 CHECK (register IN (0, 1)),
    register_expires    INTEGER NOT NULL CHECK (register_expires BETWEEN 0 AND 4294967295),
    options_ping        INTEGER NOT NULL DEFAULT 0 CHECK (options_ping IN (0, 1)),
    capacity            INTEGER CHECK (capacity IS NULL OR capacity BETWEEN 0 AND 4294967295),
    remove_prefix       TEXT NOT NULL DEFAULT '',
    add_prefix          TEXT NOT NULL DEFAULT '',
    media_encryption    INTEGER NOT NULL DEFAULT 0 CHECK (media_encryption IN (0, 1)),
    translation_profile TEXT,
    enabled             INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE routes (
    prefix      TEXT NOT NULL,
    destination TEXT NOT NULL REFERENCES destinations (name),
    ord         INTEGER NOT NULL CHECK (ord BETWEEN 0 AND 4294967295),
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    PRIMARY KEY (prefix, destination)
) WITHOUT ROWID;
CREATE INDEX routes_destination ON routes (destination);

CREATE TRIGGER destinations_ins AFTER INSERT ON destinations BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'routing_generation';
END;
CREATE TRIGGER destinations_upd AFTER UPDATE ON destinations BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'routing_generation';
END;
CREATE TRIGGER destinations_del AFTER DELETE ON destinations BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'routing_generation';
END;
CREATE TRIGGER routes_ins AFTER INSERT ON routes BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'routing_generation';
END;
CREATE TRIGGER routes_upd AFTER UPDATE ON routes BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'routing_generation';
END;
CREATE TRIGGER routes_del AFTER DELETE ON routes BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'routing_generation';
END;
";

/// Version 3: per-destination TLS options (issue 5) — verify the peer
/// (existing rows: yes) and an optional client certificate and key (paths)
/// for mutual TLS.
const V3: &str = r"
ALTER TABLE destinations ADD COLUMN tls_verify INTEGER NOT NULL DEFAULT 1
    CHECK (tls_verify IN (0, 1));
ALTER TABLE destinations ADD COLUMN tls_client_cert TEXT;
ALTER TABLE destinations ADD COLUMN tls_client_key TEXT;
";

/// Every migration, in order.
const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The schema version this build writes.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

/// Reads `PRAGMA user_version`.
pub(crate) fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// What [`migrate`] found.
pub(crate) enum Outcome {
    /// The file is at [`LATEST`] (possibly after running steps).
    Current,
    /// The file is newer than this build.
    Newer(i64),
    /// Version 0 but with tables: some other program's database.
    Foreign,
}

/// Brings the database up to [`LATEST`], one transaction per step.
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<Outcome> {
    loop {
        // Read the version inside an IMMEDIATE transaction so two processes
        // opening a fresh file at once cannot both run the same step.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let v = version(&tx)?;
        if v > LATEST {
            return Ok(Outcome::Newer(v));
        }
        let Some(step) = usize::try_from(v).ok().and_then(|i| MIGRATIONS.get(i)) else {
            // v == LATEST (v < 0 cannot be written by us; treat it as current
            // only if it is exactly LATEST, else run from 0 below).
            if v == LATEST {
                return Ok(Outcome::Current);
            }
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                Some(format!("negative schema version {v}")),
            ));
        };
        if v == 0 {
            let tables: i64 = tx.query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'",
                [],
                |r| r.get(0),
            )?;
            if tables > 0 {
                return Ok(Outcome::Foreign);
            }
        }
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", v + 1)?;
        tx.commit()?;
    }
}
