//! The routing model (TekSIP's "Routing" chapter): destinations (where calls can
//! go) and routes (which dialed numbers go where). Plain data: validated and
//! indexed by `routing::table::RoutingTable`, stored by `switchboard-storage`,
//! edited by the CLI and later the HTTP API.

use crate::Transport;

/// How calls are handed to a destination (TekSIP's destination "type").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DestinationKind {
    /// Forward as a stateful proxy (our Via on top, the caller's kept).
    Proxy,
    /// Forward as if we were the calling user agent: one Via of ours, our own
    /// Contact and Call-ID, the caller's topology hidden (a B2BUA for that call).
    UserAgent,
    /// Deliver to a registered extension (`Destination::gateway` names it).
    Extension,
}

/// A place calls can be sent: a carrier, a PBX, another proxy or an extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Unique name (letters, digits, `-._`), referenced by routes.
    pub name: String,
    /// IP literal or host name of the next hop; for `Extension` the extension's username.
    pub gateway: String,
    /// Port; `None` means the transport's default (5060/5061) or, for a host
    /// name, RFC 3263 SRV.
    pub port: Option<u16>,
    /// Host for the Request-URI and To when it differs from the gateway.
    pub domain: Option<String>,
    /// Transport toward the gateway.
    pub transport: Transport,
    /// How calls are handed over.
    pub kind: DestinationKind,
    /// User for From/Contact/REGISTER toward the destination (the account).
    pub username: Option<String>,
    /// Digest username when it differs from `username`.
    pub auth_username: Option<String>,
    /// Digest password (plain in memory; storage keeps it encrypted at rest).
    pub password: Option<String>,
    /// Register to the destination as a user agent.
    pub register: bool,
    /// Registration expiry asked for, in seconds; also the OPTIONS ping period.
    pub register_expires: u32,
    /// Send OPTIONS pings and skip the destination while it does not answer.
    pub options_ping: bool,
    /// Most concurrent calls; `None` means unlimited.
    pub capacity: Option<u32>,
    /// Digits stripped from the front of the dialed number when it starts with them.
    pub remove_prefix: String,
    /// Digits put in front of the dialed number (after `remove_prefix`).
    pub add_prefix: String,
    /// SRTP toward the destination (stored; used by the media issue).
    pub media_encryption: bool,
    /// Name of a translation profile (stored; used by the translation issue).
    pub translation_profile: Option<String>,
    /// Disabled destinations are never selected.
    pub enabled: bool,
    /// With transport TLS: verify the gateway's certificate (against
    /// `tls.ca_file` or the system roots). Off only for labs: the peer is
    /// then not authenticated at all.
    pub tls_verify: bool,
    /// With transport TLS: path of the PEM client certificate (chain)
    /// presented to the gateway (mutual TLS); set with `tls_client_key`.
    pub tls_client_cert: Option<String>,
    /// With transport TLS: path of the PEM private key of `tls_client_cert`.
    pub tls_client_key: Option<String>,
}

impl Destination {
    /// A destination as `switchboard dest add NAME --gateway HOST` creates it:
    /// enabled, Proxy over UDP, the transport's port, no account, no
    /// registration, no pings, unlimited capacity, no number rewriting.
    pub fn new(name: impl Into<String>, gateway: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            gateway: gateway.into(),
            port: None,
            domain: None,
            transport: Transport::Udp,
            kind: DestinationKind::Proxy,
            username: None,
            auth_username: None,
            password: None,
            register: false,
            register_expires: 3600,
            options_ping: false,
            capacity: None,
            remove_prefix: String::new(),
            add_prefix: String::new(),
            media_encryption: false,
            translation_profile: None,
            enabled: true,
            tls_verify: true,
            tls_client_cert: None,
            tls_client_key: None,
        }
    }

    /// What an outbound TLS connection to this destination needs
    /// ([`crate::Output::Connect`]); `None` unless the transport is TLS.
    /// The server name is the gateway when it is a host name (an IP-literal
    /// gateway is verified for its address, RFC 5922 §7.2).
    pub fn tls_peer(&self) -> Option<crate::TlsPeer> {
        if self.transport != Transport::Tls {
            return None;
        }
        let is_ip = self
            .gateway
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok();
        Some(crate::TlsPeer {
            destination: Some(self.name.clone()),
            server_name: (!is_ip).then(|| self.gateway.clone()),
            verify: self.tls_verify,
            client_cert: self.tls_client_cert.clone(),
            client_key: self.tls_client_key.clone(),
        })
    }
}

/// What a route matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prefix {
    /// The catch-all (TekSIP's `Default` route).
    Default,
    /// Dialed numbers starting with these digits (an optional leading `+`, then `0-9`).
    Digits(String),
}

/// One routing rule: a prefix sends calls to a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// What it matches.
    pub prefix: Prefix,
    /// The destination's name.
    pub destination: String,
    /// Position among routes with the same prefix (lower first).
    pub order: u32,
    /// Disabled routes are ignored.
    pub enabled: bool,
}

/// Among routes with the same (longest) prefix: share the load or hunt in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Selection {
    /// Round robin across destinations with free capacity.
    LoadSharing,
    /// Always try in `order`.
    #[default]
    Hunting,
}

/// A whole routing configuration, validated and swapped in at once
/// ([`crate::Command::ReplaceRouting`]): a bad change is refused and the old
/// configuration keeps serving.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoutingConfig {
    /// Every destination.
    pub destinations: Vec<Destination>,
    /// Every route.
    pub routes: Vec<Route>,
    /// Load sharing or hunting among equal prefixes.
    pub selection: Selection,
    /// Fail over to the next route on 600/603 too (off: a decline ends the call).
    pub failover_on_decline: bool,
}
