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

    /// Is `host` our domain, one of its aliases (case-insensitive), or one of the
    /// addresses we listen on (`sip:101@192.0.2.1` means extension 101 as much as
    /// `sip:101@example.com` does)? Ports do not matter.
    pub fn is_our_domain(&self, host: &Host) -> bool {
        match host {
            Host::Domain(d) => {
                d.eq_ignore_ascii_case(&self.domain)
                    || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(d))
                    || self.listeners.iter().any(|l| {
                        l.advertise
                            .as_deref()
                            .is_some_and(|a| a.eq_ignore_ascii_case(d))
                    })
            }
            Host::V4(ip) => self.is_our_ip(IpAddr::V4(*ip)),
            Host::V6(ip) => self.is_our_ip(IpAddr::V6(*ip)),
        }
    }

    /// Is `host:port` in our domain *at this server*: [`is_our_domain`](Self::is_our_domain)
    /// with no port, or with one of the ports we listen on. `sip:127.0.0.1:5080`
    /// is another element on our address (a PBX or softphone on the same host),
    /// not us, when we listen on 5060 (RFC 3261 §16.4/§16.5: only a URI naming
    /// this proxy is handled locally or through the location service).
    pub fn is_our_domain_at(&self, host: &Host, port: Option<u16>) -> bool {
        self.is_our_domain(host)
            && port.is_none_or(|p| self.listeners.iter().any(|l| l.addr.port() == p))
    }

    fn is_our_ip(&self, ip: IpAddr) -> bool {
        self.is_alias_ip(ip)
            || self.domain_is_ip(ip)
            || self.listeners.iter().any(|l| l.addr.ip() == ip)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        let mut cfg = Config::new(
            "example.com",
            vec![
                Listener {
                    transport: Transport::Udp,
                    addr: "192.0.2.1:5060".parse().expect("literal"),
                    advertise: None,
                },
                Listener {
                    transport: Transport::Tcp,
                    addr: "[2001:db8::1]:5070".parse().expect("literal"),
                    advertise: None,
                },
            ],
        );
        cfg.aliases = vec!["sip.example.com".into()];
        Identity::new(&cfg)
    }

    #[test]
    fn our_domain_covers_names_aliases_and_listening_addresses() {
        let id = identity();
        for h in [
            "EXAMPLE.com",
            "sip.example.com",
            "192.0.2.1",
            "[2001:db8::1]",
        ] {
            assert!(
                id.is_our_domain(&Host::parse(h).expect("valid host")),
                "{h}"
            );
        }
        for h in ["example.org", "192.0.2.2", "[2001:db8::2]"] {
            assert!(
                !id.is_our_domain(&Host::parse(h).expect("valid host")),
                "{h}"
            );
        }
    }

    #[test]
    fn our_domain_at_a_foreign_port_is_another_element() {
        let id = identity();
        let v4 = Host::parse("192.0.2.1").expect("valid host");
        let name = Host::parse("example.com").expect("valid host");
        assert!(id.is_our_domain_at(&name, None));
        assert!(id.is_our_domain_at(&v4, None));
        assert!(id.is_our_domain_at(&v4, Some(5060)));
        assert!(
            id.is_our_domain_at(&name, Some(5070)),
            "a port we listen on"
        );
        // A PBX or softphone on our own address, another port.
        assert!(!id.is_our_domain_at(&v4, Some(5080)));
        assert!(!id.is_our_domain_at(&name, Some(15090)));
        assert!(!id.is_our_domain_at(&Host::parse("example.org").expect("valid host"), None));
    }

    #[test]
    fn is_us_checks_the_port_against_the_listeners() {
        let id = identity();
        let v4 = Host::parse("192.0.2.1").expect("valid host");
        assert!(id.is_us(&v4, Some(5060), None));
        assert!(
            id.is_us(&v4, None, Some(Transport::Udp)),
            "default port 5060"
        );
        assert!(!id.is_us(&v4, Some(5080), None));
        let v6 = Host::parse("[2001:db8::1]").expect("valid host");
        assert!(id.is_us(&v6, Some(5070), Some(Transport::Tcp)));
        assert!(
            !id.is_us(&v6, None, Some(Transport::Tcp)),
            "5060 is not where we listen on v6"
        );
        let l = id.listener(Transport::Tcp, None).expect("a TCP listener");
        assert_eq!(id.advertised(l, None), "[2001:db8::1]:5070");
    }
}
