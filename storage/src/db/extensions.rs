//! Extensions: the provisioned users the registrar authenticates (TekSIP's
//! "Extensions" page).
//!
//! Passwords are never stored: an extension keeps the two digest HA1 values,
//! `H(username:realm:password)` with MD5 (RFC 2617 §3.2.2.2) and SHA-256
//! (RFC 7616 §3.4.2), computed by the caller with
//! `switchboard_core::auth::Ha1Set::from_password`. Because HA1 depends on the
//! realm, the realm used is stored too, so the runtime can warn about (and the
//! operator re-set) passwords hashed for a different SIP domain.
//!
//! The username is the SIP user part: 1–64 ASCII letters, digits, `-`, `.`,
//! `_` (digits as TekSIP's manual asks, names as its API examples use); never
//! `;` or anything that would need escaping in a URI (RFC 3261 §25.1 `user`).
//! An add of an existing username replaces it (TekSIP: "an add/update replaces
//! an entry with the same username"); a redirect to itself is refused.

use super::Db;
use crate::error::{FResult, Fail, StorageError};
use rusqlite::{Connection, OptionalExtension, Row, params};

/// One extension as stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Extension {
    /// The SIP user part; the primary key. See [`validate_username`].
    pub username: String,
    /// Display name (may be empty).
    pub display_name: String,
    /// The digest realm the HA1 values were computed for.
    pub realm: String,
    /// `MD5(username:realm:password)`, 32 lowercase hex digits.
    pub ha1_md5: String,
    /// `SHA-256(username:realm:password)`, 64 lowercase hex digits.
    pub ha1_sha256: String,
    /// Where calls go when the extension is unavailable (offline, busy, no
    /// answer): another extension's username or a voice-mail target. `None`:
    /// no redirection.
    pub redirect_target: Option<String>,
    /// May call external numbers through routes.
    pub allow_external: bool,
    /// The route external calls must use; `None` = any route.
    pub external_route: Option<String>,
    /// Record this extension's calls (when recording is on globally).
    pub record_audio: bool,
    /// Disabled extensions cannot register or call.
    pub enabled: bool,
    /// When the row was first written, unix seconds (set by the store;
    /// ignored by [`Db::upsert_extension`]).
    pub created_at: i64,
    /// When the row was last written, unix seconds (set by the store).
    pub updated_at: i64,
}

impl Extension {
    /// An enabled extension with no redirect, no external calls and no
    /// recording (external calls are opt-in: toll fraud is the classic abuse).
    pub fn new(
        username: impl Into<String>,
        realm: impl Into<String>,
        ha1_md5: impl Into<String>,
        ha1_sha256: impl Into<String>,
    ) -> Self {
        Self {
            username: username.into(),
            display_name: String::new(),
            realm: realm.into(),
            ha1_md5: ha1_md5.into(),
            ha1_sha256: ha1_sha256.into(),
            redirect_target: None,
            allow_external: false,
            external_route: None,
            record_audio: false,
            enabled: true,
            created_at: 0,
            updated_at: 0,
        }
    }

    /// Checks every field; the error names the field and the value.
    pub fn validate(&self) -> Result<(), StorageError> {
        validate_username(&self.username)?;
        let user = &self.username;
        check_text(user, "display name", &self.display_name, 128, true)?;
        check_text(user, "realm", &self.realm, 255, false)?;
        if self.realm.contains(char::is_whitespace) {
            return Err(bad_field(user, "realm", &self.realm, "contains whitespace"));
        }
        check_hex(user, "HA1 MD5", &self.ha1_md5, 32)?;
        check_hex(user, "HA1 SHA-256", &self.ha1_sha256, 64)?;
        if let Some(t) = &self.redirect_target {
            check_text(user, "redirect target", t, 255, false)?;
            if t == user {
                return Err(StorageError::invalid(
                    format!("extension {user:?}"),
                    "you cannot redirect an endpoint to itself",
                ));
            }
        }
        if let Some(r) = &self.external_route {
            check_text(user, "external route", r, 255, false)?;
        }
        Ok(())
    }
}

/// What [`Db::upsert_extension`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upsert {
    /// A new extension was added.
    Created,
    /// An existing extension with the same username was replaced.
    Updated,
}

/// Checks a username: 1–64 ASCII letters, digits, `-`, `.` or `_`.
pub fn validate_username(username: &str) -> Result<(), StorageError> {
    let what = || format!("extension username {username:?}");
    if username.is_empty() {
        return Err(StorageError::invalid(what(), "it is empty"));
    }
    if username.len() > 64 {
        return Err(StorageError::invalid(
            what(),
            "it is longer than 64 characters",
        ));
    }
    if let Some(c) = username
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')))
    {
        return Err(StorageError::invalid(
            what(),
            format!("illegal character {c:?} (allowed: letters, digits, '-', '.', '_')"),
        ));
    }
    Ok(())
}

fn bad_field(user: &str, field: &str, value: &str, reason: &str) -> StorageError {
    StorageError::invalid(format!("{field} {value:?} of extension {user:?}"), reason)
}

fn check_text(
    user: &str,
    field: &str,
    v: &str,
    max: usize,
    may_be_empty: bool,
) -> Result<(), StorageError> {
    if v.is_empty() && !may_be_empty {
        return Err(bad_field(user, field, v, "it is empty"));
    }
    if v.chars().count() > max {
        return Err(bad_field(
            user,
            field,
            v,
            &format!("longer than {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(bad_field(user, field, v, "contains a control character"));
    }
    Ok(())
}

fn check_hex(user: &str, field: &str, v: &str, len: usize) -> Result<(), StorageError> {
    if v.len() != len || !v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(bad_field(
            user,
            field,
            v,
            &format!("must be {len} lowercase hexadecimal digits"),
        ));
    }
    Ok(())
}

const COLUMNS: &str = "username, display_name, realm, ha1_md5, ha1_sha256, redirect_target, \
     allow_external, external_route, record_audio, enabled, created_at, updated_at";

fn from_row(r: &Row<'_>) -> rusqlite::Result<Extension> {
    Ok(Extension {
        username: r.get(0)?,
        display_name: r.get(1)?,
        realm: r.get(2)?,
        ha1_md5: r.get(3)?,
        ha1_sha256: r.get(4)?,
        redirect_target: r.get(5)?,
        allow_external: r.get(6)?,
        external_route: r.get(7)?,
        record_audio: r.get(8)?,
        enabled: r.get(9)?,
        created_at: r.get(10)?,
        updated_at: r.get(11)?,
    })
}

fn upsert(conn: &Connection, e: &Extension) -> FResult<Upsert> {
    e.validate().map_err(Fail::Invalid)?;
    let exists = conn
        .prepare_cached("SELECT 1 FROM extensions WHERE username = ?1")?
        .query_row([&e.username], |_| Ok(()))
        .optional()?
        .is_some();
    conn.prepare_cached(
        "INSERT INTO extensions (username, display_name, realm, ha1_md5, ha1_sha256, \
         redirect_target, allow_external, external_route, record_audio, enabled, \
         created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, unixepoch(), unixepoch()) \
         ON CONFLICT (username) DO UPDATE SET display_name = excluded.display_name, \
         realm = excluded.realm, ha1_md5 = excluded.ha1_md5, ha1_sha256 = excluded.ha1_sha256, \
         redirect_target = excluded.redirect_target, allow_external = excluded.allow_external, \
         external_route = excluded.external_route, record_audio = excluded.record_audio, \
         enabled = excluded.enabled, updated_at = excluded.updated_at",
    )?
    .execute(params![
        e.username,
        e.display_name,
        e.realm,
        e.ha1_md5,
        e.ha1_sha256,
        e.redirect_target,
        e.allow_external,
        e.external_route,
        e.record_audio,
        e.enabled,
    ])?;
    Ok(if exists {
        Upsert::Updated
    } else {
        Upsert::Created
    })
}

impl Db {
    /// Adds an extension, or replaces the one with the same username (keeping
    /// its `created_at`). Refuses invalid fields ([`Extension::validate`]).
    pub fn upsert_extension(&mut self, ext: &Extension) -> Result<Upsert, StorageError> {
        self.write(|tx| upsert(tx, ext))
    }

    /// Adds or replaces many extensions in ONE transaction (a bulk import):
    /// all of them or, if any is invalid or a write fails, none. Returns how
    /// many were created and how many replaced, in that order.
    pub fn upsert_extensions(&mut self, exts: &[Extension]) -> Result<(u64, u64), StorageError> {
        self.write(|tx| {
            let (mut created, mut updated) = (0, 0);
            for e in exts {
                match upsert(tx, e)? {
                    Upsert::Created => created += 1,
                    Upsert::Updated => updated += 1,
                }
            }
            Ok((created, updated))
        })
    }

    /// Removes an extension; `true` when it existed.
    pub fn remove_extension(&mut self, username: &str) -> Result<bool, StorageError> {
        self.write(|tx| {
            let n = tx
                .prepare_cached("DELETE FROM extensions WHERE username = ?1")?
                .execute([username])?;
            Ok(n > 0)
        })
    }

    /// One extension by username.
    pub fn get_extension(&self, username: &str) -> Result<Option<Extension>, StorageError> {
        self.read(|c| {
            let sql = format!("SELECT {COLUMNS} FROM extensions WHERE username = ?1");
            Ok(c.prepare_cached(&sql)?
                .query_row([username], from_row)
                .optional()?)
        })
    }

    /// Every extension, ordered by username.
    pub fn list_extensions(&self) -> Result<Vec<Extension>, StorageError> {
        self.read(|c| {
            let sql = format!("SELECT {COLUMNS} FROM extensions ORDER BY username");
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map([], from_row)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    /// Calls `f` with every extension, by username, without collecting them:
    /// loading 100,000 extensions at start-up must not hold a second copy of
    /// them all (the allocator keeps such freed memory resident).
    pub fn for_each_extension(&self, mut f: impl FnMut(Extension)) -> Result<(), StorageError> {
        self.read(|c| {
            let sql = format!("SELECT {COLUMNS} FROM extensions ORDER BY username");
            let mut stmt = c.prepare_cached(&sql)?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                f(from_row(row)?);
            }
            Ok(())
        })
    }

    /// How many extensions there are.
    pub fn extension_count(&self) -> Result<u64, StorageError> {
        self.read(|c| {
            let n: i64 = c.query_row("SELECT count(*) FROM extensions", [], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        for ok in ["101", "alice", "a.b-c_d", &"x".repeat(64)] {
            assert!(validate_username(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a;b",
            "a b",
            "al@ce",
            "é",
            "a:b",
            &"x".repeat(65),
            "a\0",
        ] {
            let e = validate_username(bad).expect_err(bad);
            assert!(matches!(e, StorageError::Invalid { .. }), "{e:?}");
        }
        let e = validate_username("a;b").expect_err("semicolon");
        assert!(e.to_string().contains("';'"), "{e}");
    }

    #[test]
    fn fields_are_checked() {
        let good = Extension::new("101", "example.com", "0".repeat(32), "a".repeat(64));
        assert!(good.validate().is_ok());
        let mut e = good.clone();
        e.ha1_md5 = "0".repeat(31);
        assert!(
            e.validate()
                .expect_err("short")
                .to_string()
                .contains("HA1 MD5")
        );
        let mut e = good.clone();
        e.ha1_sha256 = "A".repeat(64);
        assert!(e.validate().is_err(), "uppercase hex");
        let mut e = good.clone();
        e.redirect_target = Some("101".into());
        assert!(
            e.validate()
                .expect_err("self")
                .to_string()
                .contains("itself")
        );
        let mut e = good.clone();
        e.realm = String::new();
        assert!(e.validate().is_err());
        let mut e = good;
        e.display_name = "Bob\nSmith".into();
        assert!(e.validate().is_err());
    }
}
