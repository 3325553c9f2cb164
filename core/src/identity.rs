//! Who "we" are: the SIP domain, its aliases and our listening addresses.
//!
//! The proxy asks this module whether a Request-URI or a Route names this
//! server (RFC 3261 §16.4: "a URI that this proxy placed into a Record-Route")
//! and what to write in the Via and Record-Route headers it adds for each
//! transport (§16.6 steps 4 and 8).

use crate::config::{Config, Listener};
use crate::sip::Host;
use crate::transport::Transport;
use std::net::{IpAddr, SocketAddr};

/// Our names and addresses.
#[derive(Debug, Clone)]
pub struct Identity {
    domain: String,
    aliases: Vec<String>,
    listeners: Vec<Listener>,
}

impl Identity {
    /// Builds the identity from the engine configuration.
    pub fn new(cfg: &Config) -> Self {
        Self {
            domain: cfg.domain.to_ascii_lowercase(),
            aliases: cfg.aliases.iter().map(|a| a.to_ascii_lowercase()).collect(),
            listeners: cfg.listeners.clone(),
        }
    }

    /// The SIP domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Is `host` our domain or one of its aliases (case-insensitive)? Ports do not matter.
    pub fn is_our_domain(&self, host: &Host) -> bool {
        match host {
            Host::Domain(d) => {
                d.eq_ignore_ascii_case(&self.domain)
                    || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(d))
            }
            Host::V4(ip) => self.is_alias_ip(IpAddr::V4(*ip)) || self.domain_is_ip(IpAddr::V4(*ip)),
            Host::V6(ip) => self.is_alias_ip(IpAddr::V6(*ip)) || self.domain_is_ip(IpAddr::V6(*ip)),
        }
    }

    fn domain_is_ip(&self, ip: IpAddr) -> bool {
        self.domain.trim_matches(['[', ']']).parse::<IpAddr>() == Ok(ip)
    }

    fn is_alias_ip(&self, ip: IpAddr) -> bool {
        self.aliases
            .iter()
            .any(|a| a.trim_matches(['[', ']']).parse::<IpAddr>() == Ok(ip))
    }

    /// Does `host:port` name this server itself (one of our listening sockets, an
    /// advertised name, or the domain when it is an address)? An absent port
    /// means the transport's default.
    pub fn is_us(&self, host: &Host, port: Option<u16>, transport: Option<Transport>) -> bool {
        let port_ok = |l: &Listener| {
            let want = port.unwrap_or_else(|| transport.unwrap_or(l.transport).default_port());
            want == l.addr.port()
        };
        self.listeners.iter().any(|l| {
            if !port_ok(l) {
                return false;
            }
            if let Some(adv) = &l.advertise
                && host_matches_text(host, adv)
            {
                return true;
            }
            match host {
                Host::V4(ip) => {
                    l.addr.ip() == IpAddr::V4(*ip)
                        || (l.addr.ip().is_unspecified() && self.is_alias_ip(IpAddr::V4(*ip)))
                }
                Host::V6(ip) => {
                    l.addr.ip() == IpAddr::V6(*ip)
                        || (l.addr.ip().is_unspecified() && self.is_alias_ip(IpAddr::V6(*ip)))
                }
                Host::Domain(_) => self.is_our_domain(host),
            }
        })
    }

    /// The listener to send on for `transport` toward `to` (same IP family preferred).
    pub fn listener(&self, transport: Transport, to: Option<SocketAddr>) -> Option<&Listener> {
        let same_family = |l: &&Listener| to.is_none_or(|t| t.is_ipv4() == l.addr.is_ipv4());
        self.listeners
            .iter()
            .filter(|l| l.transport == transport)
            .find(same_family)
            .or_else(|| self.listeners.iter().find(|l| l.transport == transport))
    }

    /// `host:port` to advertise for a listener (Via sent-by, Record-Route).
    pub fn advertised(&self, l: &Listener, local: Option<SocketAddr>) -> String {
        if let Some(a) = &l.advertise {
            return if a.contains(':')
                && !a.starts_with('[')
                && a.parse::<std::net::Ipv6Addr>().is_ok()
            {
                format!("[{a}]:{}", l.addr.port())
            } else {
                format!("{a}:{}", l.addr.port())
            };
        }
        // An unspecified bind address is replaced by the concrete local address the
        // message used, when the runtime told us; else by the domain.
        let addr = match local {
            Some(loc) if l.addr.ip().is_unspecified() => SocketAddr::new(loc.ip(), l.addr.port()),
            _ => l.addr,
        };
        if addr.ip().is_unspecified() {
            format!("{}:{}", self.domain, addr.port())
        } else {
            addr.to_string()
        }
    }
}

fn host_matches_text(host: &Host, text: &str) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case(text),
        Host::V4(ip) => text.parse::<IpAddr>() == Ok(IpAddr::V4(*ip)),
        Host::V6(ip) => text.trim_matches(['[', ']']).parse::<IpAddr>() == Ok(IpAddr::V6(*ip)),
    }
}
