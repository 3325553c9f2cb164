//! Routing tables (issue 4, TekSIP's "Routing" chapter): destinations and
//! prefix routes, stored as the core's model (`switchboard_core::routing`).
//!
//! Every write runs in one transaction that reads the whole current
//! configuration, applies the change in memory, checks the result with
//! [`RoutingConfig::validate`] (the same rules, and messages, as the engine's
//! `Command::ReplaceRouting`) and only then writes: a refused change leaves the
//! database untouched. Passwords of rows a change does not touch are not
//! decrypted for this (they were checked when stored), so a lost key file does
//! not block removing destinations.
//!
//! Triggers bump `routing_generation` in `meta` on every write; the server
//! polls it ([`Db::routing_generation`]) and reloads the whole configuration
//! ([`Db::load_routing`]) when it moved.

use super::secret::{self, SecretKey};
use super::{Db, Upsert};
use crate::error::{FResult, Fail, StorageError};
use rusqlite::{Connection, Row, params};
use switchboard_core::Transport;
use switchboard_core::routing::{
    Destination, DestinationKind, Prefix, Route, RoutingConfig, RoutingError, validate_prefix,
};

/// A stored destination as listed: never the password, only whether one is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDestination {
    /// The destination, with `password` always `None`.
    pub destination: Destination,
    /// Whether an (encrypted) password is stored.
    pub password_set: bool,
    /// When it was first added (unix seconds).
    pub created_at: i64,
    /// When it was last changed (unix seconds).
    pub updated_at: i64,
}

/// Stands in for passwords that a change's validation does not decrypt.
const REDACTED: &str = "(stored)";

/// The text stored for a destination kind.
pub fn kind_name(kind: DestinationKind) -> &'static str {
    match kind {
        DestinationKind::Proxy => "proxy",
        DestinationKind::UserAgent => "ua",
        DestinationKind::Extension => "extension",
    }
}

fn parse_kind(s: &str) -> Option<DestinationKind> {
    match s {
        "proxy" => Some(DestinationKind::Proxy),
        "ua" => Some(DestinationKind::UserAgent),
        "extension" => Some(DestinationKind::Extension),
        _ => None,
    }
}

/// The text stored for a prefix: `Default` or the digits.
pub fn prefix_text(p: &Prefix) -> &str {
    match p {
        Prefix::Default => "Default",
        Prefix::Digits(d) => d,
    }
}

/// A stored prefix; not validated here (a hand-edited bad one is refused by
/// [`RoutingConfig::validate`] with its message).
fn parse_prefix(s: &str) -> Prefix {
    if s.eq_ignore_ascii_case("default") {
        Prefix::Default
    } else {
        Prefix::Digits(s.to_owned())
    }
}

fn invalid(e: RoutingError) -> Fail {
    Fail::Invalid(StorageError::invalid(e.what, e.reason))
}

fn bad_row(table: &'static str, cause: String) -> Fail {
    Fail::BadRow { table, cause }
}

const DEST_COLUMNS: &str = "name, gateway, port, domain, transport, kind, username, \
    auth_username, password_enc, register, register_expires, options_ping, capacity, \
    remove_prefix, add_prefix, media_encryption, translation_profile, enabled, \
    created_at, updated_at, tls_verify, tls_client_cert, tls_client_key";

/// One destination row: the destination (password `None`), its encrypted
/// password, created_at, updated_at.
type DestRow = (Destination, Option<Vec<u8>>, i64, i64);

fn dest_from_row(r: &Row<'_>) -> rusqlite::Result<FResult<DestRow>> {
    let name: String = r.get(0)?;
    let transport: String = r.get(4)?;
    let kind: String = r.get(5)?;
    let port: Option<i64> = r.get(2)?;
    let expires: i64 = r.get(10)?;
    let capacity: Option<i64> = r.get(12)?;
    let row = |cause: String| Err(bad_row("destinations", format!("{name:?}: {cause}")));
    let Some(transport) = Transport::parse(&transport) else {
        return Ok(row(format!("unknown transport {transport:?}")));
    };
    let Some(kind) = parse_kind(&kind) else {
        return Ok(row(format!("unknown type {kind:?}")));
    };
    let Ok(port) = port.map(u16::try_from).transpose() else {
        return Ok(row(format!("port {port:?} out of range")));
    };
    let Ok(register_expires) = u32::try_from(expires) else {
        return Ok(row(format!("registration timeout {expires} out of range")));
    };
    let Ok(capacity) = capacity.map(u32::try_from).transpose() else {
        return Ok(row(format!("capacity {capacity:?} out of range")));
    };
    let d = Destination {
        name,
        gateway: r.get(1)?,
        port,
        domain: r.get(3)?,
        transport,
        kind,
        username: r.get(6)?,
        auth_username: r.get(7)?,
        password: None,
        register: r.get(9)?,
        register_expires,
        options_ping: r.get(11)?,
        capacity,
        remove_prefix: r.get(13)?,
        add_prefix: r.get(14)?,
        media_encryption: r.get(15)?,
        translation_profile: r.get(16)?,
        enabled: r.get(17)?,
        tls_verify: r.get(20)?,
        tls_client_cert: r.get(21)?,
        tls_client_key: r.get(22)?,
    };
    Ok(Ok((d, r.get(8)?, r.get(18)?, r.get(19)?)))
}

fn read_destinations(c: &Connection, only: Option<&str>) -> FResult<Vec<DestRow>> {
    let sql = match only {
        Some(_) => format!("SELECT {DEST_COLUMNS} FROM destinations WHERE name = ?1"),
        None => format!("SELECT {DEST_COLUMNS} FROM destinations ORDER BY name"),
    };
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = match only {
        Some(n) => stmt.query_map([n], dest_from_row)?,
        None => stmt.query_map([], dest_from_row)?,
    };
    let mut out = Vec::new();
    for row in rows {
        out.push(row??);
    }
    Ok(out)
}

fn route_from_row(r: &Row<'_>) -> rusqlite::Result<FResult<Route>> {
    let prefix: String = r.get(0)?;
    let destination: String = r.get(1)?;
    let ord: i64 = r.get(2)?;
    let Ok(order) = u32::try_from(ord) else {
        return Ok(Err(bad_row(
            "routes",
            format!("{prefix} -> {destination:?}: order {ord} out of range"),
        )));
    };
    Ok(Ok(Route {
        prefix: parse_prefix(&prefix),
        destination,
        order,
        enabled: r.get(3)?,
    }))
}

/// Sort key for routes: digit prefixes in text order, then `Default`; within
/// a prefix by order, then destination name.
fn route_key(r: &Route) -> (bool, &str, u32, &str) {
    (
        r.prefix == Prefix::Default,
        prefix_text(&r.prefix),
        r.order,
        &r.destination,
    )
}

fn read_routes(c: &Connection) -> FResult<Vec<Route>> {
    let mut stmt = c.prepare_cached("SELECT prefix, destination, ord, enabled FROM routes")?;
    let mut out = Vec::new();
    for row in stmt.query_map([], route_from_row)? {
        out.push(row??);
    }
    out.sort_by(|a, b| route_key(a).cmp(&route_key(b)));
    Ok(out)
}

/// The whole configuration with stored passwords shown as [`REDACTED`].
fn read_redacted(c: &Connection) -> FResult<RoutingConfig> {
    let destinations = read_destinations(c, None)?
        .into_iter()
        .map(|(mut d, enc, _, _)| {
            d.password = enc.map(|_| REDACTED.to_owned());
            d
        })
        .collect();
    Ok(RoutingConfig {
        destinations,
        routes: read_routes(c)?,
        ..RoutingConfig::default()
    })
}

/// How many destinations other than `except` have an encrypted password.
fn encrypted_count(c: &Connection, except: &str) -> FResult<u64> {
    let n: i64 = c.query_row(
        "SELECT count(*) FROM destinations WHERE password_enc IS NOT NULL AND name != ?1",
        [except],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn find_route<'a>(
    cfg: &'a mut RoutingConfig,
    prefix: &Prefix,
    dest: &str,
) -> Option<&'a mut Route> {
    cfg.routes
        .iter_mut()
        .find(|r| &r.prefix == prefix && r.destination == dest)
}

fn parse_prefix_arg(text: &str) -> FResult<Prefix> {
    validate_prefix(text).map_err(invalid)
}

impl Db {
    /// The key file that encrypts destination passwords:
    /// `secret.key` beside the database.
    pub fn secret_key_path(&self) -> std::path::PathBuf {
        secret::key_path(&self.path)
    }

    /// A counter bumped (by triggers) on every write to destinations or
    /// routes, by any connection. Reload the routing when it moved.
    pub fn routing_generation(&self) -> Result<i64, StorageError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT value FROM meta WHERE key = 'routing_generation'",
                [],
                |r| r.get(0),
            )?)
        })
    }

    /// Adds a destination, or replaces the one with the same name (TekSIP's
    /// behaviour; its `created_at` is kept). The password, if any, is stored
    /// encrypted (the key file is created on first need). Refused, with the
    /// database unchanged, when the resulting configuration does not validate
    /// (e.g. disabling a destination that enabled routes use).
    pub fn upsert_destination(&mut self, d: &Destination) -> Result<Upsert, StorageError> {
        let key_path = self.secret_key_path();
        self.write(|tx| {
            let mut cfg = read_redacted(tx)?;
            let existed = match cfg.destinations.iter_mut().find(|x| x.name == d.name) {
                Some(slot) => {
                    *slot = d.clone();
                    true
                }
                None => {
                    cfg.destinations.push(d.clone());
                    false
                }
            };
            cfg.validate().map_err(invalid)?;
            let enc = match &d.password {
                None => None,
                Some(pw) => {
                    let key = match SecretKey::load(&key_path).map_err(Fail::Invalid)? {
                        Some(k) => k,
                        None => match encrypted_count(tx, &d.name)? {
                            0 => SecretKey::create(&key_path).map_err(Fail::Invalid)?,
                            n => return Err(Fail::Invalid(secret::missing(&key_path, n))),
                        },
                    };
                    Some(key.encrypt(&d.name, pw).map_err(Fail::Invalid)?)
                }
            };
            tx.prepare_cached(
                "INSERT INTO destinations (name, gateway, port, domain, transport, kind, \
                 username, auth_username, password_enc, register, register_expires, \
                 options_ping, capacity, remove_prefix, add_prefix, media_encryption, \
                 translation_profile, enabled, created_at, updated_at, tls_verify, \
                 tls_client_cert, tls_client_key) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, \
                 ?16, ?17, ?18, unixepoch(), unixepoch(), ?19, ?20, ?21) \
                 ON CONFLICT (name) DO UPDATE SET gateway = excluded.gateway, \
                 port = excluded.port, domain = excluded.domain, \
                 transport = excluded.transport, kind = excluded.kind, \
                 username = excluded.username, auth_username = excluded.auth_username, \
                 password_enc = excluded.password_enc, register = excluded.register, \
                 register_expires = excluded.register_expires, \
                 options_ping = excluded.options_ping, capacity = excluded.capacity, \
                 remove_prefix = excluded.remove_prefix, add_prefix = excluded.add_prefix, \
                 media_encryption = excluded.media_encryption, \
                 translation_profile = excluded.translation_profile, \
                 enabled = excluded.enabled, updated_at = excluded.updated_at, \
                 tls_verify = excluded.tls_verify, \
                 tls_client_cert = excluded.tls_client_cert, \
                 tls_client_key = excluded.tls_client_key",
            )?
            .execute(params![
                d.name,
                d.gateway,
                d.port,
                d.domain,
                d.transport.param(),
                kind_name(d.kind),
                d.username,
                d.auth_username,
                enc,
                d.register,
                d.register_expires,
                d.options_ping,
                d.capacity,
                d.remove_prefix,
                d.add_prefix,
                d.media_encryption,
                d.translation_profile,
                d.enabled,
                d.tls_verify,
                d.tls_client_cert,
                d.tls_client_key,
            ])?;
            Ok(if existed {
                Upsert::Updated
            } else {
                Upsert::Created
            })
        })
    }

    /// Removes a destination. Refused while enabled routes use it (the error
    /// lists them); its disabled routes are removed with it and returned.
    /// `Ok(None)` when there is no such destination.
    pub fn remove_destination(&mut self, name: &str) -> Result<Option<Vec<Route>>, StorageError> {
        self.write(|tx| {
            let mut cfg = read_redacted(tx)?;
            if !cfg.destinations.iter().any(|d| d.name == name) {
                return Ok(None);
            }
            let (mine, others): (Vec<Route>, Vec<Route>) = std::mem::take(&mut cfg.routes)
                .into_iter()
                .partition(|r| r.destination == name);
            let used: Vec<String> = mine
                .iter()
                .filter(|r| r.enabled)
                .map(|r| format!("{} (order {})", prefix_text(&r.prefix), r.order))
                .collect();
            if !used.is_empty() {
                return Err(Fail::Invalid(StorageError::invalid(
                    format!("removal of destination {name:?}"),
                    format!(
                        "enabled routes use it: {}; remove or disable them first",
                        used.join(", ")
                    ),
                )));
            }
            cfg.routes = others;
            cfg.destinations.retain(|d| d.name != name);
            cfg.validate().map_err(invalid)?;
            tx.prepare_cached("DELETE FROM routes WHERE destination = ?1")?
                .execute([name])?;
            tx.prepare_cached("DELETE FROM destinations WHERE name = ?1")?
                .execute([name])?;
            Ok(Some(mine))
        })
    }

    /// One destination (without its password).
    pub fn get_destination(&self, name: &str) -> Result<Option<StoredDestination>, StorageError> {
        self.read(|c| {
            Ok(read_destinations(c, Some(name))?
                .into_iter()
                .next()
                .map(stored))
        })
    }

    /// Every destination (without passwords), ordered by name.
    pub fn list_destinations(&self) -> Result<Vec<StoredDestination>, StorageError> {
        self.read(|c| {
            Ok(read_destinations(c, None)?
                .into_iter()
                .map(stored)
                .collect())
        })
    }

    /// Adds a route `prefix` (digits, `+digits` or `Default`) → `destination`,
    /// or updates the existing one for that pair. `order: None` puts a new
    /// route after the others with the same prefix (an existing one keeps its
    /// order). Refused, with the database unchanged, when the resulting
    /// configuration does not validate (missing or disabled destination,
    /// bad prefix). Returns the route as stored.
    pub fn add_route(
        &mut self,
        prefix: &str,
        destination: &str,
        order: Option<u32>,
        enabled: bool,
    ) -> Result<(Route, Upsert), StorageError> {
        self.write(|tx| {
            let prefix = parse_prefix_arg(prefix)?;
            let mut cfg = read_redacted(tx)?;
            let next = cfg
                .routes
                .iter()
                .filter(|r| r.prefix == prefix)
                .map(|r| r.order.saturating_add(1))
                .max()
                .unwrap_or(1);
            let (route, what) = match find_route(&mut cfg, &prefix, destination) {
                Some(r) => {
                    r.order = order.unwrap_or(r.order);
                    r.enabled = enabled;
                    (r.clone(), Upsert::Updated)
                }
                None => {
                    let r = Route {
                        prefix,
                        destination: destination.to_owned(),
                        order: order.unwrap_or(next),
                        enabled,
                    };
                    cfg.routes.push(r.clone());
                    (r, Upsert::Created)
                }
            };
            cfg.validate().map_err(invalid)?;
            tx.prepare_cached(
                "INSERT INTO routes (prefix, destination, ord, enabled) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (prefix, destination) DO UPDATE SET ord = excluded.ord, \
                 enabled = excluded.enabled",
            )?
            .execute(params![
                prefix_text(&route.prefix),
                route.destination,
                route.order,
                route.enabled
            ])?;
            Ok((route, what))
        })
    }

    /// Removes the route `prefix` → `destination`; `true` when it existed.
    /// The prefix is matched as stored, so a route with a hand-edited bad
    /// prefix can be removed too.
    pub fn remove_route(&mut self, prefix: &str, destination: &str) -> Result<bool, StorageError> {
        self.write(|tx| {
            let prefix = validate_prefix(prefix).unwrap_or_else(|_| parse_prefix(prefix));
            let mut cfg = read_redacted(tx)?;
            let before = cfg.routes.len();
            cfg.routes
                .retain(|r| !(r.prefix == prefix && r.destination == destination));
            if cfg.routes.len() == before {
                return Ok(false);
            }
            cfg.validate().map_err(invalid)?;
            tx.prepare_cached("DELETE FROM routes WHERE prefix = ?1 AND destination = ?2")?
                .execute([prefix_text(&prefix), destination])?;
            Ok(true)
        })
    }

    /// Enables or disables the route `prefix` → `destination`; `false` when
    /// there is no such route. Enabling is refused while its destination is
    /// disabled.
    pub fn set_route_enabled(
        &mut self,
        prefix: &str,
        destination: &str,
        enabled: bool,
    ) -> Result<bool, StorageError> {
        self.update_route(prefix, destination, |r| r.enabled = enabled)
    }

    /// Moves the route `prefix` → `destination` to position `order` among the
    /// routes with its prefix (lower first); `false` when there is no such route.
    pub fn set_route_order(
        &mut self,
        prefix: &str,
        destination: &str,
        order: u32,
    ) -> Result<bool, StorageError> {
        self.update_route(prefix, destination, |r| r.order = order)
    }

    fn update_route(
        &mut self,
        prefix: &str,
        destination: &str,
        change: impl FnOnce(&mut Route),
    ) -> Result<bool, StorageError> {
        self.write(|tx| {
            let prefix = parse_prefix_arg(prefix)?;
            let mut cfg = read_redacted(tx)?;
            let Some(r) = find_route(&mut cfg, &prefix, destination) else {
                return Ok(false);
            };
            change(r);
            let r = r.clone();
            cfg.validate().map_err(invalid)?;
            tx.prepare_cached(
                "UPDATE routes SET ord = ?3, enabled = ?4 WHERE prefix = ?1 AND destination = ?2",
            )?
            .execute(params![
                prefix_text(&r.prefix),
                r.destination,
                r.order,
                r.enabled
            ])?;
            Ok(true)
        })
    }

    /// Every route: digit prefixes in text order, then `Default`; within a
    /// prefix by order.
    pub fn list_routes(&self) -> Result<Vec<Route>, StorageError> {
        self.read(read_routes)
    }

    /// The whole stored configuration with passwords decrypted, for the
    /// engine; `selection` and `failover_on_decline` are left at their
    /// defaults (they come from the settings file). Not validated here: the
    /// engine's `Command::ReplaceRouting` does that. A missing key file while
    /// passwords are stored, or a key that does not decrypt them, is an error
    /// naming the file.
    pub fn load_routing(&self) -> Result<RoutingConfig, StorageError> {
        let key_path = self.secret_key_path();
        // One snapshot for both tables.
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| StorageError::from_sqlite(&self.path, &e))?;
        let rows = read_destinations(&tx, None).map_err(|e| e.at(&self.path))?;
        let routes = read_routes(&tx).map_err(|e| e.at(&self.path))?;
        drop(tx);
        let need = rows.iter().filter(|(_, enc, _, _)| enc.is_some()).count();
        let key = match (need, SecretKey::load(&key_path)?) {
            (0, _) => None,
            (_, Some(k)) => Some(k),
            (n, None) => return Err(secret::missing(&key_path, n as u64)),
        };
        let mut destinations = Vec::with_capacity(rows.len());
        for (mut d, enc, _, _) in rows {
            if let (Some(enc), Some(key)) = (enc, &key) {
                d.password = Some(key.decrypt(&d.name, &enc)?);
            }
            destinations.push(d);
        }
        Ok(RoutingConfig {
            destinations,
            routes,
            ..RoutingConfig::default()
        })
    }
}

fn stored((destination, enc, created_at, updated_at): DestRow) -> StoredDestination {
    StoredDestination {
        destination,
        password_set: enc.is_some(),
        created_at,
        updated_at,
    }
}

#[cfg(test)]
mod tests;
