//! The settings file: `switchboard.toml`, every key optional with a default.
//!
//! [`Settings::default()`] is a working server: SIP over UDP and TCP on port
//! 5060 on every IPv4 and IPv6 address, the SIP domain auto-detected at start
//! (ARCHITECTURE.md §5, "first run"), digest authentication on, registrations
//! saved, the database in `./data/switchboard.db`, logs in `./logs`.
//!
//! Sections follow TekSIP's settings pages: `[service]`, `[security]`,
//! `[accounting]`, `[media]`, `[websocket]`, `[smpp]`, `[http]`, plus
//! `[logging]`, `[storage]` and `[routing]`. Sections whose keys are not implemented yet exist
//! as empty tables that refuse every key, so a typo (or a key from a newer
//! version) is caught instead of silently ignored.
//!
//! Errors name the key path, the value and the reason
//! (`invalid setting service.sip_port = 0: …`): serde with
//! `deny_unknown_fields` rejects unknown keys and ill-typed values, and when it
//! does, each key (and each element of a list) is re-checked on its own to find
//! which one (`diagnose`); then [`Settings::validate`] checks ranges and relations
//! (T2 ≥ T1 per RFC 3261 §17.1.2.2, min ≤ default ≤ max expiry per §10.3).

mod validate;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The file looked for in the current directory when no `--config` is given.
pub const DEFAULT_FILE: &str = "switchboard.toml";

/// Every setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `[service]`: SIP domain, transports, ports, timers, registrations.
    pub service: Service,
    /// `[security]`: authentication.
    pub security: Security,
    /// `[accounting]`: RADIUS accounting (no keys yet).
    pub accounting: Accounting,
    /// `[media]`: RTP proxy, recording, music on hold (no keys yet).
    pub media: Media,
    /// `[websocket]`: SIP over WebSocket and secure WebSocket (RFC 7118).
    pub websocket: WebSocket,
    /// `[smpp]`: the SMPP gateway (no keys yet).
    pub smpp: Smpp,
    /// `[http]`: the management web server (no keys yet).
    pub http: Http,
    /// `[logging]`: level, directory, rotation, auto-clear.
    pub logging: Logging,
    /// `[storage]`: where the database lives.
    pub storage: Storage,
    /// `[routing]`: how routes with the same prefix share calls.
    pub routing: Routing,
    /// `[tls]`: SIP over TLS (port, certificate, outbound verification).
    pub tls: Tls,
}

/// Which SIP transports to serve (TekSIP's "Transport").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransportMode {
    /// UDP only.
    #[serde(rename = "udp")]
    Udp,
    /// TCP only.
    #[serde(rename = "tcp")]
    Tcp,
    /// Both (the default).
    #[default]
    #[serde(rename = "udp+tcp")]
    UdpTcp,
}

impl TransportMode {
    /// Serves UDP.
    pub fn udp(self) -> bool {
        matches!(self, Self::Udp | Self::UdpTcp)
    }

    /// Serves TCP.
    pub fn tcp(self) -> bool {
        matches!(self, Self::Tcp | Self::UdpTcp)
    }
}

/// `[service]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Service {
    /// The SIP domain (an FQDN clients resolve, or our address); empty: detect
    /// at start (first non-loopback IPv4 address, its reverse-DNS name if any).
    pub sip_domain: String,
    /// `"udp"`, `"tcp"` or `"udp+tcp"`.
    pub transport: TransportMode,
    /// The SIP port for UDP and TCP.
    pub sip_port: u16,
    /// Addresses to listen on; the unspecified addresses mean "every address".
    pub listen: Vec<IpAddr>,
    /// Send requests too large for UDP over TCP (RFC 3261 §18.1.1).
    pub tcp_for_large_packets: bool,
    /// T1, the RTT estimate, in ms (RFC 3261 §17.1.1.1).
    pub t1_ms: u32,
    /// T2, the maximum non-INVITE retransmit interval, in ms.
    pub t2_ms: u32,
    /// T4, the time a message stays in the network, in ms.
    pub t4_ms: u32,
    /// Smallest registration expiry accepted, seconds (423 below it).
    pub min_expires: u32,
    /// Largest registration expiry granted, seconds.
    pub max_expires: u32,
    /// Expiry granted when a REGISTER asks for none, seconds.
    pub default_expires: u32,
    /// Keep registrations across restarts ("Save Registrations").
    pub save_registrations: bool,
    /// Most TCP connections open at once.
    pub max_tcp_connections: u32,
    /// Close a TCP connection idle this long, seconds.
    pub tcp_idle_timeout_s: u32,
    /// Look dialed E.164 numbers up in ENUM (RFC 6116) before the static routes.
    pub enum_enabled: bool,
    /// The ENUM suffix (`e164.arpa`).
    pub enum_suffix: String,
    /// Follow 3xx responses (and ENUM results) instead of relaying them to the caller.
    pub process_3xx_locally: bool,
    /// DNS servers (`ip:port`) to use instead of /etc/resolv.conf; empty: the system's.
    pub dns_servers: Vec<std::net::SocketAddr>,
    /// The voicemail server extensions redirect to (`ip` or `ip:port`, port
    /// 5060 by default; a host name needs DNS, not available yet); empty: none.
    pub voicemail_server: String,
    /// The call pickup prefix (`*8`: dialing `*8101` takes over a call ringing
    /// 101); digits, `*` and `#`, up to 8; empty: pickup off.
    pub pickup_prefix: String,
}

impl Service {
    /// The voicemail server's address (`ip[:port]`, port 5060 by default), if set.
    pub fn voicemail_addr(&self) -> Option<Result<std::net::SocketAddr, String>> {
        let v = self.voicemail_server.trim();
        if v.is_empty() {
            return None;
        }
        if let Ok(a) = v.parse::<std::net::SocketAddr>() {
            return Some(Ok(a));
        }
        if let Ok(ip) = v.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Some(Ok(std::net::SocketAddr::new(ip, 5060)));
        }
        Some(Err(format!(
            "{v:?} is not ip or ip:port (host names need DNS, not available yet)"
        )))
    }
}

impl Default for Service {
    fn default() -> Self {
        Self {
            sip_domain: String::new(),
            transport: TransportMode::UdpTcp,
            sip_port: 5060,
            listen: vec![
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            ],
            tcp_for_large_packets: true,
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            save_registrations: true,
            max_tcp_connections: 10_000,
            tcp_idle_timeout_s: 600,
            voicemail_server: String::new(),
            pickup_prefix: String::new(),
            enum_enabled: false,
            enum_suffix: "e164.arpa".to_owned(),
            process_3xx_locally: false,
            dns_servers: Vec::new(),
        }
    }
}

/// `[security]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Security {
    /// Challenge REGISTERs and calls with digest authentication.
    pub sip_authentication: bool,
    /// Also challenge calls between local (registered) endpoints.
    pub authenticate_local_calls: bool,
    /// How long a nonce stays fresh, seconds (then `stale=true`).
    pub nonce_lifetime_s: u32,
    /// Digest algorithms offered in 401/407 challenges, most preferred first
    /// (RFC 8760 §2.4). `["MD5"]` suits clients that only read the first
    /// challenge (sipp, older phones); answers in other algorithms are refused.
    pub digest_algorithms: Vec<DigestAlgorithm>,
    /// How long a call to an extension with a redirect rings before it is
    /// redirected, seconds; 0: no limit.
    pub max_ring_duration_s: u32,
    /// How long an answered call may last before the server ends it (BYE to
    /// both sides), seconds; 0: no limit.
    pub max_session_duration_s: u32,
    /// How long an answered call may go without any in-dialog request (a
    /// phone that lost power never sends BYE) before the server ends it (BYE
    /// to both sides), seconds; 0: only RFC 4028 session timers.
    pub session_idle_timeout_s: u32,
}

/// A digest algorithm (RFC 7616 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DigestAlgorithm {
    /// `SHA-256` (RFC 7616, RFC 8760).
    #[serde(rename = "SHA-256", alias = "sha-256")]
    Sha256,
    /// `MD5` (RFC 2617), what most deployed phones use.
    #[serde(rename = "MD5", alias = "md5")]
    Md5,
}

impl Default for Security {
    fn default() -> Self {
        Self {
            sip_authentication: true,
            authenticate_local_calls: true,
            nonce_lifetime_s: 300,
            digest_algorithms: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
            max_ring_duration_s: 0,
            max_session_duration_s: 0,
            session_idle_timeout_s: 7200,
        }
    }
}

/// `[accounting]`: call records (billing data); RADIUS accounting comes with its issue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Accounting {
    /// Remove call records that ended more than this many days ago (checked
    /// at start and hourly); 0, the default, keeps them for ever. Separate from
    /// `logging.auto_clear_days` on purpose: billing data is kept by a decision,
    /// not by the log-rotation default.
    pub call_record_retention_days: u32,
}

/// `[media]`: RTP proxy, recording, music on hold. No keys yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Media {}

/// `[websocket]`: SIP over WebSocket and secure WebSocket (RFC 7118) for
/// browser phones (WebRTC).
///
/// Ports: TekSIP's defaults are 80 (WS) and 443 (WSS), and so are ours, but
/// a port left unset is *best effort*: when it cannot be bound (a normal user
/// may not bind below 1024 without `CAP_NET_BIND_SERVICE`, or a web server
/// holds it) the server logs a warning and runs without that listener, so
/// `cargo run --release` as a normal user still starts. A port set in the file
/// must bind or the start stops (`cannot bind WS 0.0.0.0:8080: …`); `0`
/// turns the listener off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSocket {
    /// WS port; unset: 80, best effort; 0: off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ws_port: Option<u16>,
    /// WSS port; unset: 443, best effort; 0: off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wss_port: Option<u16>,
    /// Most WebSocket connections (WS and WSS together, handshakes in
    /// progress included); more are refused at accept.
    pub max_connections: u32,
    /// Largest WebSocket message (and frame) accepted, bytes; a bigger one
    /// closes the connection with status 1009 before it is read.
    pub max_message_size: u32,
    /// A WebSocket ping is sent this often, seconds.
    pub ping_interval_s: u32,
    /// A connection on which nothing (not even a pong) arrived for this long
    /// is closed and everything attached to it freed, seconds.
    pub idle_timeout_s: u32,
    /// The TLS and HTTP upgrade handshakes must finish within this, seconds.
    pub handshake_timeout_s: u32,
}

impl WebSocket {
    /// TekSIP's default WS port, used when `ws_port` is unset.
    pub const DEFAULT_WS_PORT: u16 = 80;
    /// TekSIP's default WSS port, used when `wss_port` is unset.
    pub const DEFAULT_WSS_PORT: u16 = 443;
}

impl Default for WebSocket {
    fn default() -> Self {
        Self {
            ws_port: None,
            wss_port: None,
            max_connections: 10_000,
            max_message_size: 65_536,
            ping_interval_s: 30,
            idle_timeout_s: 90,
            handshake_timeout_s: 10,
        }
    }
}

/// `[smpp]`: the SMPP gateway. No keys yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smpp {}

/// `[http]`: the management web server. No keys yet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {}

/// TekSIP's logging levels, from quietest to most verbose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoggingLevel {
    /// Nothing.
    None,
    /// Errors only.
    Errors,
    /// Errors and session lines (who called whom, how it ended).
    #[default]
    Sessions,
    /// Everything, for developers.
    Developer,
}

/// Log file rotation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rotation {
    /// A new file every day.
    #[default]
    Daily,
    /// A new file every hour.
    Hourly,
}

/// `[logging]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Logging {
    /// `"none"`, `"errors"`, `"sessions"` or `"developer"`.
    pub level: LoggingLevel,
    /// Where log files go.
    pub directory: PathBuf,
    /// `"daily"` or `"hourly"`.
    pub rotation: Rotation,
    /// Remove log files and application-log entries older than this many
    /// days; 0 keeps everything (call records: `accounting.call_record_retention_days`).
    pub auto_clear_days: u32,
}

impl Default for Logging {
    fn default() -> Self {
        Self {
            level: LoggingLevel::Sessions,
            directory: PathBuf::from("./logs"),
            rotation: Rotation::Daily,
            auto_clear_days: 30,
        }
    }
}

/// `[storage]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Storage {
    /// The data directory (created when missing).
    pub data_dir: PathBuf,
    /// The database's file name inside `data_dir`.
    pub database: String,
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            database: "switchboard.db".into(),
        }
    }
}

/// Among routes with the same (longest) prefix, how the destination is chosen
/// (TekSIP's "Routing" settings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RouteSelection {
    /// Try the routes in their order (the default).
    #[default]
    Hunting,
    /// Round robin across the destinations with free capacity.
    LoadSharing,
}

/// `[routing]`. Destinations and routes themselves live in the database
/// (`switchboard dest …`, `switchboard route …`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Routing {
    /// `"hunting"` or `"load_sharing"`.
    pub selection: RouteSelection,
    /// Fail over to the next route on 600 Busy Everywhere and 603 Decline too
    /// (off: a decline ends the call).
    pub failover_on_decline: bool,
}

/// `[tls]`: SIP over TLS (RFC 3261 §26.2, RFC 5630). TLS 1.2 and 1.3 only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tls {
    /// Listen for SIP over TLS on `port` at every `service.listen` address.
    pub enabled: bool,
    /// The TLS port (5061, RFC 3261 §19.1.2).
    pub port: u16,
    /// The server certificate chain (PEM). Empty (with `private_key` empty):
    /// a self-signed certificate for the SIP domain is generated on first run
    /// and kept in `storage.data_dir`.
    pub certificate: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1) of `certificate`.
    pub private_key: PathBuf,
    /// CA certificates (PEM) that outbound TLS connections are verified
    /// against; empty: the system's roots.
    pub ca_file: PathBuf,
    /// A TLS handshake (inbound or outbound) not finished in this many
    /// seconds is abandoned and its connection closed.
    pub handshake_timeout_s: u32,
}

impl Default for Tls {
    fn default() -> Self {
        Self {
            enabled: true,
            port: 5061,
            certificate: PathBuf::new(),
            private_key: PathBuf::new(),
            ca_file: PathBuf::new(),
            handshake_timeout_s: 10,
        }
    }
}

/// A settings file that cannot be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The file could not be read (missing, permission…).
    #[error("cannot read settings file {}: {cause}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The text is not valid TOML (the message shows the line and column).
    #[error("{}{message}", in_file(file.as_deref()))]
    Syntax {
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// The parser's message.
        message: String,
    },
    /// A key is unknown or its value is refused.
    #[error("{}invalid setting {key} = {value}: {reason}", in_file(file.as_deref()))]
    Invalid {
        /// The file, when the text came from one.
        file: Option<PathBuf>,
        /// The key path, e.g. `service.sip_port`.
        key: String,
        /// The value as written (TOML syntax).
        value: String,
        /// Why it is refused.
        reason: String,
    },
}

fn in_file(file: Option<&Path>) -> String {
    file.map(|f| format!("settings file {}: ", f.display()))
        .unwrap_or_default()
}

impl SettingsError {
    /// The key path of an [`SettingsError::Invalid`].
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } => Some(key),
            _ => None,
        }
    }

    fn with_file(mut self, path: &Path) -> Self {
        if let Self::Syntax { file, .. } | Self::Invalid { file, .. } = &mut self {
            *file = Some(path.to_path_buf());
        }
        self
    }
}

impl Settings {
    /// Parses and validates settings text (no file name in errors).
    pub fn parse(text: &str) -> Result<Self, SettingsError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| SettingsError::Syntax {
            file: None,
            message: e.to_string(),
        })?;
        let settings = match table.clone().try_into::<Self>() {
            Ok(s) => s,
            Err(e) => {
                return Err(diagnose(&table).unwrap_or_else(|| SettingsError::Syntax {
                    file: None,
                    message: e.to_string(),
                }));
            }
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Reads, parses and validates the file at `path`; a missing file is an
    /// error naming it.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|cause| SettingsError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        Self::parse(&text).map_err(|e| e.with_file(path))
    }

    /// `Some(path)` (given by `--config`): [`Settings::load`]. `None`: loads
    /// [`DEFAULT_FILE`] from the current directory when it exists, else
    /// returns the defaults (first run).
    pub fn load_or_default(path: Option<&Path>) -> Result<Self, SettingsError> {
        match path {
            Some(p) => Self::load(p),
            None if Path::new(DEFAULT_FILE).exists() => Self::load(Path::new(DEFAULT_FILE)),
            None => Ok(Self::default()),
        }
    }

    /// The settings as TOML (every key, for `check-config` or a starter file).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("settings are plain tables, strings, numbers and booleans")
    }

    /// The database file: `storage.data_dir` / `storage.database`.
    pub fn database_path(&self) -> PathBuf {
        self.storage.data_dir.join(&self.storage.database)
    }
}

/// Finds the key serde refused by deserializing each key alone (every other
/// key defaulted): the first one that fails is named with its value and
/// serde's reason. `None` if no single key fails (should not happen).
fn diagnose(table: &toml::Table) -> Option<SettingsError> {
    let invalid = |key: String, value: &toml::Value, reason: &str| SettingsError::Invalid {
        file: None,
        key,
        value: value.to_string(),
        reason: reason.to_owned(),
    };
    for (section, value) in table {
        let probe = |v: toml::Value| {
            let mut t = toml::Table::new();
            t.insert(section.clone(), v);
            t.try_into::<Settings>().err()
        };
        let toml::Value::Table(keys) = value else {
            if let Some(e) = probe(value.clone()) {
                return Some(invalid(section.clone(), value, e.message()));
            }
            continue;
        };
        if let Some(e) = probe(toml::Value::Table(toml::Table::new())) {
            // The section itself is unknown.
            return Some(invalid(section.clone(), value, e.message()));
        }
        for (key, v) in keys {
            let mut one = toml::Table::new();
            one.insert(key.clone(), v.clone());
            if let Some(e) = probe(toml::Value::Table(one)) {
                // In a list, name the element that is refused.
                if let toml::Value::Array(items) = v {
                    for (i, item) in items.iter().enumerate() {
                        let mut one = toml::Table::new();
                        one.insert(key.clone(), toml::Value::Array(vec![item.clone()]));
                        if let Some(e) = probe(toml::Value::Table(one)) {
                            return Some(invalid(
                                format!("{section}.{key}[{i}]"),
                                item,
                                e.message(),
                            ));
                        }
                    }
                }
                return Some(invalid(format!("{section}.{key}"), v, e.message()));
            }
        }
    }
    None
}
