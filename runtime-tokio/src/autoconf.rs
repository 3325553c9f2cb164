//! First-run self-configuration (TekSIP "First run"): with no SIP domain set,
//! take the first non-loopback IPv4 address, and its reverse-DNS name when it
//! has one, else the address itself.

use std::net::{IpAddr, Ipv4Addr};

/// What was chosen and why, for the start-up message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoDomain {
    /// The SIP domain.
    pub domain: String,
    /// The address it came from.
    pub address: IpAddr,
    /// True when the domain is a reverse-DNS name.
    pub from_dns: bool,
}

/// The first non-loopback IPv4 address of this machine (by interface order),
/// or 127.0.0.1 when there is none.
pub fn first_ipv4() -> IpAddr {
    if_addrs::get_if_addrs()
        .ok()
        .and_then(|ifs| {
            ifs.into_iter()
                .filter(|i| !i.is_loopback())
                .map(|i| i.ip())
                .find(|ip| ip.is_ipv4() && !ip.is_unspecified())
        })
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// Picks the domain: the reverse-DNS name of `address` when it resolves to a
/// real name (not just the address again), else the address.
pub fn choose(address: IpAddr) -> AutoDomain {
    let name = dns_lookup::lookup_addr(&address).ok().filter(|n| {
        !n.is_empty()
            && n.parse::<IpAddr>().is_err()
            && n != "localhost"
            && !n.ends_with(".localdomain")
    });
    match name {
        Some(n) => AutoDomain {
            domain: n.trim_end_matches('.').to_owned(),
            address,
            from_dns: true,
        },
        None => AutoDomain {
            domain: address.to_string(),
            address,
            from_dns: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_falls_back_to_the_address() {
        let d = choose(IpAddr::V4(Ipv4Addr::LOCALHOST));
        // 127.0.0.1 reverse-resolves to "localhost" (ignored) or nothing.
        assert_eq!(d.domain, "127.0.0.1");
        assert!(!d.from_dns);
    }

    #[test]
    fn first_ipv4_is_never_loopback_unless_nothing_else_exists() {
        let ip = first_ipv4();
        assert!(ip.is_ipv4());
        let has_other = if_addrs::get_if_addrs()
            .map(|v| v.iter().any(|i| !i.is_loopback() && i.ip().is_ipv4()))
            .unwrap_or(false);
        assert_eq!(ip.is_loopback(), !has_other);
    }
}
