//! Engine configuration: everything the engine needs to know at construction.
//!
//! The runtime builds this from the settings file (with defaults for every
//! key); tests build it in code. [`Config::validate`] rejects impossible values
//! with the name of the setting, so a bad configuration never starts.

use crate::auth::Algorithm;
use crate::transport::Transport;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};
use thiserror::Error;

/// A socket the runtime listens on, as the engine must advertise it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// The transport.
    pub transport: Transport,
    /// The bound address (an unspecified IP means "every address").
    pub addr: SocketAddr,
    /// The host to put in Via / Record-Route when the bound IP is unspecified
    /// or private (e.g. a public name). `None`: use `addr`.
    pub advertise: Option<String>,
}

/// Engine settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Seed of the engine's CSPRNG. The runtime draws it from OS entropy; tests fix it.
    pub rng_seed: [u8; 32],
    /// Wall-clock time at the engine's start `Instant` (for `Date` headers and records).
    pub wall_epoch: SystemTime,
    /// The SIP domain served by the registrar and used as the digest realm.
    pub domain: String,
    /// Other host names and addresses that mean "this server" in a Request-URI.
    pub aliases: Vec<String>,
    /// Listening sockets.
    pub listeners: Vec<Listener>,
    /// RFC 3261 T1 (RTT estimate), default 500 ms.
    pub t1: Duration,
    /// RFC 3261 T2 (maximum retransmit interval for non-INVITE), default 4 s.
    pub t2: Duration,
    /// RFC 3261 T4 (maximum time a message stays in the network), default 5 s.
    pub t4: Duration,
    /// Expiry granted when a REGISTER asks for none, default 3600 s.
    pub default_expires: u32,
    /// Smallest expiry accepted (423 with Min-Expires below it), default 60 s.
    pub min_expires: u32,
    /// Largest expiry granted (longer requests are shortened), default 3600 s.
    pub max_expires: u32,
    /// Require digest authentication for REGISTER.
    pub register_auth: bool,
    /// Require digest authentication (407) for calls and other requests from local users.
    pub call_auth: bool,
    /// How long a nonce stays fresh before `stale=true`, default 300 s.
    pub nonce_lifetime: Duration,
    /// Digest algorithms challenged with, most preferred first; default
    /// SHA-256 then MD5 (RFC 8760 §2.4). `[Md5]` suits clients that only read
    /// the first challenge; credentials in an algorithm not listed are refused.
    pub digest_algorithms: Vec<Algorithm>,
    /// Record-Route every dialog-creating request so in-dialog requests pass through us.
    pub record_route: bool,
    /// Send a request that is too large for UDP (over 1,300 bytes, RFC 3261
    /// §18.1.1) over TCP instead, when the target is reachable at the address
    /// it names (never through a NAT flow) and we listen on TCP. Default off.
    pub large_requests_over_tcp: bool,
    /// ENUM (RFC 6116): look dialed E.164 numbers up as NAPTR before the static routes. Default off.
    pub enum_enabled: bool,
    /// The ENUM suffix, default `e164.arpa`.
    pub enum_suffix: String,
    /// Recurse on 3xx responses (and follow ENUM results) instead of relaying
    /// them to the caller. Default off.
    pub process_3xx_locally: bool,
    /// Maximum SIP message size in bytes, default 65,536.
    pub max_message_size: usize,
    /// Value of `Server` / `User-Agent` headers we generate.
    pub server_name: String,
    /// The voicemail server extensions redirect to (`service.voicemail_server`,
    /// issue 4): an IP address and port (no DNS in the core yet). `None`: none.
    pub voicemail_server: Option<std::net::SocketAddr>,
    /// How long a call to an extension with a redirect may ring before it is
    /// cancelled and redirected (`security.max_ring_duration_s`); `None`: no limit.
    pub max_ring_duration: Option<Duration>,
    /// How long an answered call may last before the server ends it with a BYE
    /// to both sides (`security.max_session_duration_s`); `None`: no limit.
    pub max_session_duration: Option<Duration>,
    /// How long an answered call may go without any in-dialog request before
    /// the server ends it (BYE to both sides): a phone that lost power never
    /// sends its BYE (`security.session_idle_timeout_s`, default 2 hours;
    /// RFC 4028 `Session-Expires`, when negotiated, can shorten it). `None`:
    /// only session timers.
    pub session_idle_timeout: Option<Duration>,
    /// The call pickup prefix (`service.pickup_prefix`, e.g. `*8`); empty: off.
    pub pickup_prefix: String,
}

impl Config {
    /// A configuration with every default, for `domain`, listening on `listeners`.
    pub fn new(domain: impl Into<String>, listeners: Vec<Listener>) -> Self {
        Self {
            rng_seed: [0; 32],
            wall_epoch: SystemTime::UNIX_EPOCH,
            domain: domain.into(),
            aliases: Vec::new(),
            listeners,
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            default_expires: 3600,
            min_expires: 60,
            max_expires: 3600,
            register_auth: true,
            call_auth: true,
            nonce_lifetime: Duration::from_secs(300),
            digest_algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            record_route: true,
            large_requests_over_tcp: false,
            enum_enabled: false,
            enum_suffix: "e164.arpa".to_owned(),
            process_3xx_locally: false,
            max_message_size: 65_536,
            server_name: concat!("Switchboard/", env!("CARGO_PKG_VERSION")).to_owned(),
            voicemail_server: None,
            max_ring_duration: None,
            max_session_duration: None,
            session_idle_timeout: Some(Duration::from_secs(7200)),
            pickup_prefix: String::new(),
        }
    }

    /// Checks the settings; the error names the setting and the reason.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &'static str, reason: String| Err(ConfigError { key, reason });
        if self.domain.is_empty()
            || self
                .domain
                .contains(|c: char| c.is_whitespace() || c == '@')
        {
            return bad(
                "domain",
                format!("{:?} is not a host name or address", self.domain),
            );
        }
        if self.listeners.is_empty() {
            return bad("listeners", "at least one listener is required".into());
        }
        if self.t1.is_zero() || self.t1 > Duration::from_secs(60) {
            return bad("t1", format!("{:?} must be between 1 ms and 60 s", self.t1));
        }
        if self.t2 < self.t1 {
            return bad(
                "t2",
                format!("{:?} must not be smaller than T1 ({:?})", self.t2, self.t1),
            );
        }
        if self.t4.is_zero() {
            return bad("t4", "must be positive".into());
        }
        if self.min_expires == 0 || self.min_expires > self.max_expires {
            return bad(
                "min_expires",
                format!(
                    "{} must be ≥ 1 and ≤ max_expires ({})",
                    self.min_expires, self.max_expires
                ),
            );
        }
        if !(self.min_expires..=self.max_expires).contains(&self.default_expires) {
            return bad(
                "default_expires",
                format!(
                    "{} must lie between min_expires ({}) and max_expires ({})",
                    self.default_expires, self.min_expires, self.max_expires
                ),
            );
        }
        if self.nonce_lifetime < Duration::from_secs(10) {
            return bad(
                "nonce_lifetime",
                format!("{:?} is shorter than 10 s", self.nonce_lifetime),
            );
        }
        if self.digest_algorithms.is_empty() {
            return bad("digest_algorithms", "at least one is required".into());
        }
        if let Some((i, a)) = self.digest_algorithms.iter().enumerate().find(|(i, a)| {
            self.digest_algorithms
                .get(..*i)
                .is_some_and(|p| p.contains(a))
        }) {
            return bad(
                "digest_algorithms",
                format!("{a:?} is listed twice (at {i})"),
            );
        }
        if self.max_ring_duration.is_some_and(|d| d.is_zero()) {
            return bad(
                "max_ring_duration",
                "must be positive (None = no limit)".into(),
            );
        }
        if self.max_session_duration.is_some_and(|d| d.is_zero()) {
            return bad(
                "max_session_duration",
                "must be positive (None = no limit)".into(),
            );
        }
        if self.session_idle_timeout.is_some_and(|d| d.is_zero()) {
            return bad(
                "session_idle_timeout",
                "must be positive (None = no limit)".into(),
            );
        }
        if !crate::proxy::pickup::valid_prefix(&self.pickup_prefix) {
            return bad(
                "pickup_prefix",
                format!(
                    "{:?} must be empty or 1-8 of the characters 0-9 * #",
                    self.pickup_prefix
                ),
            );
        }
        if !(1_500..=1 << 20).contains(&self.max_message_size) {
            return bad(
                "max_message_size",
                format!(
                    "{} must be between 1500 and 1048576 bytes",
                    self.max_message_size
                ),
            );
        }
        Ok(())
    }
}

/// A setting with an impossible value.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("invalid setting `{key}`: {reason}")]
pub struct ConfigError {
    /// The setting's name.
    pub key: &'static str,
    /// Why the value is refused.
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Config {
        Config::new(
            "example.com",
            vec![Listener {
                transport: Transport::Udp,
                addr: "192.0.2.1:5060".parse().expect("literal"),
                advertise: None,
            }],
        )
    }

    #[test]
    fn defaults_are_valid_and_bad_values_name_the_key() {
        assert_eq!(base().validate(), Ok(()));
        let mut c = base();
        c.t2 = Duration::from_millis(100);
        assert_eq!(c.validate().map_err(|e| e.key), Err("t2"));
        let mut c = base();
        c.min_expires = 7200;
        let e = c.validate().expect_err("min > max");
        assert_eq!(e.key, "min_expires");
        assert!(e.to_string().contains("invalid setting `min_expires`"));
        let mut c = base();
        c.domain = "bad domain".into();
        assert_eq!(c.validate().map_err(|e| e.key), Err("domain"));
        let mut c = base();
        c.digest_algorithms.clear();
        assert_eq!(c.validate().map_err(|e| e.key), Err("digest_algorithms"));
        c.digest_algorithms = vec![Algorithm::Md5, Algorithm::Md5];
        assert_eq!(c.validate().map_err(|e| e.key), Err("digest_algorithms"));
        c.digest_algorithms = vec![Algorithm::Md5];
        assert_eq!(c.validate(), Ok(()));
    }
}
