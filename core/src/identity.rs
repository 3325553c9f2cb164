//! Who "we" are: the SIP domain, its aliases and our listening addresses.
//!
//! The proxy asks this module whether a Request-URI or a Route names this
//! server (RFC 3261 §16.4: "a URI that this proxy placed into a Record-Route")
//! and what to write in the Via and Record-Route headers it adds for each
//! transport (§16.6 steps 4 and 8).

use crate::config::{Config, Listener};
use crate::sip::{Host, push_ip, push_u64};
use crate::transport::Transport;
use std::fmt::Write as _;
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

    /// Is `host:port` (a Request-URI's) in our domain, so that it means one of
    /// our users or the server itself? As [`is_our_domain`](Self::is_our_domain),
    /// except that an address host with an explicit port we do not listen on
    /// names another program on that machine (a softphone on the server's own
    /// host, `sip:192.0.2.1:5062`), not us: requests to it are forwarded.
    pub fn is_our_domain_uri(&self, host: &Host, port: Option<u16>) -> bool {
        if !self.is_our_domain(host) {
            return false;
        }
        match (host, port) {
            (Host::Domain(_), _) | (_, None) => true,
            (_, Some(p)) => self.listeners.iter().any(|l| l.addr.port() == p),
        }
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
        let mut out = String::with_capacity(32);
        self.push_advertised(&mut out, l, local);
        out
    }

    /// Appends [`Identity::advertised`] to `out` (no formatting machinery for
    /// IPv4 and names: this runs for every Via and Record-Route we add).
    pub fn push_advertised(&self, out: &mut String, l: &Listener, local: Option<SocketAddr>) {
        if let Some(a) = &l.advertise {
            if a.contains(':') && !a.starts_with('[') && a.parse::<std::net::Ipv6Addr>().is_ok() {
                out.push('[');
                out.push_str(a);
                out.push(']');
            } else {
                out.push_str(a);
            }
            out.push(':');
            push_u64(out, u64::from(l.addr.port()));
            return;
        }
        // An unspecified bind address is replaced by the concrete local address the
        // message used, when the runtime told us; else by the domain.
        let addr = match local {
            Some(loc) if l.addr.ip().is_unspecified() => SocketAddr::new(loc.ip(), l.addr.port()),
            _ => l.addr,
        };
        match addr {
            _ if addr.ip().is_unspecified() => {
                out.push_str(&self.domain);
                out.push(':');
                push_u64(out, u64::from(addr.port()));
            }
            SocketAddr::V4(a) => {
                push_ip(out, IpAddr::V4(*a.ip()));
                out.push(':');
                push_u64(out, u64::from(a.port()));
            }
            SocketAddr::V6(_) => {
                let _ = write!(out, "{addr}");
            }
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
    fn an_address_with_a_port_we_do_not_listen_on_is_not_our_domain() {
        let id = identity();
        let v4 = Host::parse("192.0.2.1").expect("valid host");
        assert!(id.is_our_domain_uri(&v4, None), "sip:101@192.0.2.1");
        assert!(id.is_our_domain_uri(&v4, Some(5060)));
        assert!(
            id.is_our_domain_uri(&v4, Some(5070)),
            "a port of another listener"
        );
        assert!(
            !id.is_our_domain_uri(&v4, Some(5062)),
            "a softphone on our host"
        );
        let name = Host::parse("example.com").expect("valid host");
        assert!(
            id.is_our_domain_uri(&name, Some(5062)),
            "names ignore the port"
        );
        let other = Host::parse("192.0.2.2").expect("valid host");
        assert!(!id.is_our_domain_uri(&other, None));
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
