//! Hosts and ports of SIP URIs and Via sent-by (RFC 3261 §19.1.1, §25.1 `host`;
//! RFC 5118 for IPv6 references).
//!
//! `host = hostname / IPv4address / IPv6reference`: a domain name whose top
//! label starts with a letter, a dotted quad, or an IPv6 address in brackets.
//! An IPv6 address without brackets is not a host (RFC 5118 §4.2: it would be
//! ambiguous with the port), and `[` without `]` is rejected. Domain names
//! compare case-insensitively (§19.1.4); they are kept as written.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::error::ParseError;

/// The host part of a SIP URI or Via sent-by.
#[derive(Debug, Clone, Eq)]
#[non_exhaustive]
pub enum Host {
    /// A domain name as written (compared case-insensitively).
    Domain(String),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address (written in brackets).
    V6(Ipv6Addr),
}

impl Host {
    /// Parses a `host`: a domain name, a dotted quad, or `[IPv6]`. Errors `BadUri`.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        parse_host(s).ok_or(ParseError::BadUri)
    }

    /// The IP address, when the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Self::Domain(_) => None,
            Self::V4(a) => Some(IpAddr::V4(*a)),
            Self::V6(a) => Some(IpAddr::V6(*a)),
        }
    }

    /// True when the host is an IP address rather than a name.
    pub fn is_ip(&self) -> bool {
        !matches!(self, Self::Domain(_))
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Self::V4(a),
            IpAddr::V6(a) => Self::V6(a),
        }
    }
}

impl PartialEq for Host {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Domain(a), Self::Domain(b)) => a.eq_ignore_ascii_case(b),
            (Self::V4(a), Self::V4(b)) => a == b,
            (Self::V6(a), Self::V6(b)) => a == b,
            _ => false,
        }
    }
}

impl Hash for Host {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Self::Domain(d) => {
                0u8.hash(state);
                for b in d.bytes() {
                    b.to_ascii_lowercase().hash(state);
                }
            }
            Self::V4(a) => (1u8, a).hash(state),
            Self::V6(a) => (2u8, a).hash(state),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Domain(d) => f.write_str(d),
            Self::V4(a) => write!(f, "{a}"),
            Self::V6(a) => write!(f, "[{a}]"),
        }
    }
}

/// Parses a `host` (see [`Host::parse`]).
pub(crate) fn parse_host(s: &str) -> Option<Host> {
    if let Some(inner) = s.strip_prefix('[') {
        let inner = inner.strip_suffix(']')?;
        return inner.parse::<Ipv6Addr>().ok().map(Host::V6);
    }
    if let Ok(a) = s.parse::<Ipv4Addr>() {
        return Some(Host::V4(a));
    }
    is_hostname(s).then(|| Host::Domain(s.to_owned()))
}

/// `hostname = *( domainlabel "." ) toplabel [ "." ]` (RFC 3261 §25.1).
fn is_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() || s.len() > 255 {
        return false;
    }
    let mut top_alpha = false;
    for label in s.split('.') {
        let b = label.as_bytes();
        let ok = match (b.first(), b.last()) {
            (Some(f), Some(l)) => {
                f.is_ascii_alphanumeric()
                    && l.is_ascii_alphanumeric()
                    && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
            }
            _ => false,
        };
        if !ok {
            return false;
        }
        top_alpha = b.first().is_some_and(u8::is_ascii_alphabetic);
    }
    top_alpha
}

/// Parses a decimal port, 0..=65535, digits only.
pub(crate) fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() {
        return None;
    }
    let mut v: u32 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
        if v > u32::from(u16::MAX) {
            return None;
        }
    }
    u16::try_from(v).ok()
}

/// Parses `hostport = host [ ":" port ]` with no whitespace.
pub(crate) fn parse_hostport(s: &str) -> Option<(Host, Option<u16>)> {
    let (host, port) = if s.starts_with('[') {
        let end = s.find(']')?;
        // `end` is the index of an ASCII ']'.
        let (h, rest) = s.split_at(end + 1);
        match rest {
            "" => (h, None),
            _ => (h, Some(rest.strip_prefix(':')?)),
        }
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let host = parse_host(host)?;
    let port = match port {
        Some(p) => Some(parse_port(p)?),
        None => None,
    };
    Some((host, port))
}

/// Writes `host[:port]`.
pub(crate) fn fmt_hostport(
    f: &mut fmt::Formatter<'_>,
    host: &Host,
    port: Option<u16>,
) -> fmt::Result {
    write!(f, "{host}")?;
    if let Some(p) = port {
        write!(f, ":{p}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts() {
        assert_eq!(
            Host::parse("AtLanTa.CoM").unwrap(),
            Host::Domain("atlanta.com".into())
        );
        assert_eq!(
            Host::parse("atlanta.com.").unwrap().to_string(),
            "atlanta.com."
        );
        assert_eq!(
            Host::parse("192.0.2.4").unwrap(),
            Host::V4(Ipv4Addr::new(192, 0, 2, 4))
        );
        let v6 = Host::parse("[2001:db8::10]").unwrap();
        assert_eq!(v6.to_string(), "[2001:db8::10]");
        assert!(v6.is_ip());
        assert_eq!(
            Host::parse("[::ffff:192.0.2.10]").unwrap().ip(),
            Some("::ffff:192.0.2.10".parse().unwrap())
        );
        assert_ne!(Host::parse("a.com").unwrap(), Host::parse("b.com").unwrap());
    }

    #[test]
    fn rejects_bad_hosts() {
        for bad in [
            "",
            "2001:db8::10",
            "[2001:db8::10",
            "2001:db8::10]",
            "[2001:db8:::192.0.2.1]",
            "[]",
            "[192.0.2.1]",
            "999.1.1.1",
            "1.2.3",
            "-a.com",
            "a-.com",
            "a..com",
            ".",
            "a b",
            "exa_mple.com",
            "héllo.com",
        ] {
            assert!(Host::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parses_hostports() {
        let (h, p) = parse_hostport("[2001:db8::10]:5070").unwrap();
        assert_eq!(
            (h.to_string(), p),
            ("[2001:db8::10]".to_owned(), Some(5070))
        );
        // RFC 5118 §4.3: the last group is part of the address, not a port.
        let (h, p) = parse_hostport("[2001:db8::10:5070]").unwrap();
        assert_eq!((h.to_string(), p), ("[2001:db8::10:5070]".to_owned(), None));
        assert_eq!(parse_hostport("a.com:0").unwrap().1, Some(0));
        assert_eq!(parse_hostport("a.com:65535").unwrap().1, Some(65535));
        for bad in [
            "a.com:65536",
            "a.com:",
            "a.com:+1",
            "a.com:99999999999999999999",
            "[::1]5060",
            "[::1]:",
            "2001:db8::10",
            ":5060",
        ] {
            assert!(parse_hostport(bad).is_none(), "{bad:?}");
        }
    }
}
