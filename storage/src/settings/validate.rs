//! Range and relation checks on parsed settings, each error naming the key
//! path, the value and the reason.
//!
//! Relations come from RFC 3261: T2 ≥ T1 (§17.1.2.2, the retransmit interval
//! doubles from T1 up to T2), T1 ≤ 60 s as the core accepts; registration
//! expiry bounds with min ≤ default ≤ max (§10.3 steps 7–8, 423 Interval Too
//! Brief below the minimum).

use super::{Settings, SettingsError};
use std::collections::BTreeSet;
use std::fmt::Display;
use std::net::IpAddr;
use std::path::Path;

fn bad(key: &str, value: impl Display, reason: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        file: None,
        key: key.to_owned(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// A string value as TOML writes it.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn path_value(p: &Path) -> String {
    quoted(&p.to_string_lossy())
}

/// A host name (RFC 1123 labels) or an IP address literal.
fn is_host(s: &str) -> bool {
    if s.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = s.strip_suffix('.').unwrap_or(s);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl Settings {
    /// Checks ranges and relations between keys.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let s = &self.service;
        if !s.sip_domain.is_empty() && !is_host(&s.sip_domain) {
            return Err(bad(
                "service.sip_domain",
                quoted(&s.sip_domain),
                "not a host name or IP address (leave it empty to detect it at start)",
            ));
        }
        if !is_host(s.enum_suffix.trim_end_matches('.'))
            || s.enum_suffix.parse::<std::net::IpAddr>().is_ok()
        {
            return Err(bad(
                "service.enum_suffix",
                quoted(&s.enum_suffix),
                "not a domain name (the default is e164.arpa)",
            ));
        }
        if s.sip_port == 0 {
            return Err(bad(
                "service.sip_port",
                s.sip_port,
                "must be between 1 and 65535",
            ));
        }
        if s.listen.is_empty() {
            return Err(bad(
                "service.listen",
                "[]",
                "at least one address is required",
            ));
        }
        let mut seen = BTreeSet::new();
        if let Some(dup) = s.listen.iter().find(|ip| !seen.insert(**ip)) {
            return Err(bad(
                "service.listen",
                quoted(&dup.to_string()),
                "listed twice",
            ));
        }
        if !(1..=60_000).contains(&s.t1_ms) {
            return Err(bad(
                "service.t1_ms",
                s.t1_ms,
                "must be between 1 and 60000 ms",
            ));
        }
        if s.t2_ms < s.t1_ms {
            return Err(bad(
                "service.t2_ms",
                s.t2_ms,
                format!("must not be smaller than service.t1_ms ({})", s.t1_ms),
            ));
        }
        if s.t4_ms == 0 {
            return Err(bad("service.t4_ms", s.t4_ms, "must be positive"));
        }
        if s.min_expires == 0 {
            return Err(bad(
                "service.min_expires",
                s.min_expires,
                "must be at least 1 s",
            ));
        }
        if s.min_expires > s.max_expires {
            return Err(bad(
                "service.min_expires",
                s.min_expires,
                format!("must not exceed service.max_expires ({})", s.max_expires),
            ));
        }
        if !(s.min_expires..=s.max_expires).contains(&s.default_expires) {
            return Err(bad(
                "service.default_expires",
                s.default_expires,
                format!(
                    "must lie between service.min_expires ({}) and service.max_expires ({})",
                    s.min_expires, s.max_expires
                ),
            ));
        }
        if s.max_tcp_connections == 0 {
            return Err(bad("service.max_tcp_connections", 0, "must be at least 1"));
        }
        if s.tcp_idle_timeout_s == 0 {
            return Err(bad("service.tcp_idle_timeout_s", 0, "must be at least 1 s"));
        }
        if let Some(Err(why)) = s.voicemail_addr() {
            return Err(bad("service.voicemail_server", &s.voicemail_server, &why));
        }
        let p = &s.pickup_prefix;
        if p.len() > 8
            || !p
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#')
        {
            return Err(bad(
                "service.pickup_prefix",
                p,
                "use up to 8 of the characters 0-9 * # (empty: off)",
            ));
        }
        if self.security.nonce_lifetime_s < 10 {
            return Err(bad(
                "security.nonce_lifetime_s",
                self.security.nonce_lifetime_s,
                "must be at least 10 s",
            ));
        }
        let algs = &self.security.digest_algorithms;
        let shown = || format!("{algs:?}");
        if algs.is_empty() {
            return Err(bad(
                "security.digest_algorithms",
                "[]",
                "list at least one of \"SHA-256\", \"MD5\"",
            ));
        }
        if algs
            .iter()
            .enumerate()
            .any(|(i, a)| algs.get(..i).is_some_and(|before| before.contains(a)))
        {
            return Err(bad(
                "security.digest_algorithms",
                shown(),
                "an algorithm is listed twice",
            ));
        }
        let w = &self.websocket;
        if w.max_connections == 0 {
            return Err(bad("websocket.max_connections", 0, "must be at least 1"));
        }
        if !(1024..=16 << 20).contains(&w.max_message_size) {
            return Err(bad(
                "websocket.max_message_size",
                w.max_message_size,
                "must be between 1024 and 16777216 bytes",
            ));
        }
        if !(1..=3600).contains(&w.ping_interval_s) {
            return Err(bad(
                "websocket.ping_interval_s",
                w.ping_interval_s,
                "must be between 1 and 3600 s",
            ));
        }
        if w.idle_timeout_s <= w.ping_interval_s {
            return Err(bad(
                "websocket.idle_timeout_s",
                w.idle_timeout_s,
                format!(
                    "must be longer than websocket.ping_interval_s ({}): a client answering every ping must not time out",
                    w.ping_interval_s
                ),
            ));
        }
        if !(1..=300).contains(&w.handshake_timeout_s) {
            return Err(bad(
                "websocket.handshake_timeout_s",
                w.handshake_timeout_s,
                "must be between 1 and 300 s",
            ));
        }
        if let (Some(a), Some(b)) = (w.ws_port, w.wss_port)
            && a != 0
            && a == b
        {
            return Err(bad(
                "websocket.wss_port",
                b,
                "must differ from websocket.ws_port",
            ));
        }
        if self.logging.directory.as_os_str().is_empty() {
            return Err(bad("logging.directory", "\"\"", "must not be empty"));
        }
        let t = &self.tls;
        if t.port == 0 {
            return Err(bad("tls.port", 0, "must be between 1 and 65535"));
        }
        if t.enabled && t.port == s.sip_port && s.transport.tcp() {
            return Err(bad(
                "tls.port",
                t.port,
                "is service.sip_port, where TCP already listens (use another port or tls.enabled = false)",
            ));
        }
        if t.certificate.as_os_str().is_empty() != t.private_key.as_os_str().is_empty() {
            let (key, value) = if t.certificate.as_os_str().is_empty() {
                ("tls.private_key", &t.private_key)
            } else {
                ("tls.certificate", &t.certificate)
            };
            return Err(bad(
                key,
                path_value(value),
                "tls.certificate and tls.private_key are set together (both empty: a self-signed certificate)",
            ));
        }
        if !(1..=300).contains(&t.handshake_timeout_s) {
            return Err(bad(
                "tls.handshake_timeout_s",
                t.handshake_timeout_s,
                "must be between 1 and 300 s",
            ));
        }
        let st = &self.storage;
        if st.data_dir.as_os_str().is_empty() {
            return Err(bad(
                "storage.data_dir",
                path_value(&st.data_dir),
                "must not be empty",
            ));
        }
        if st.database.is_empty()
            || st.database.contains(['/', '\\', '\0'])
            || st.database == "."
            || st.database == ".."
        {
            return Err(bad(
                "storage.database",
                quoted(&st.database),
                "must be a plain file name inside storage.data_dir",
            ));
        }
        Ok(())
    }
}
