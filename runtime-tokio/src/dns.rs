//! The runtime's half of DNS (issue 4, ARCHITECTURE.md §3): the engine emits
//! `Output::Resolve` with one raw question (NAPTR, SRV, or A+AAAA); this module
//! asks it with hickory-resolver on the main runtime and returns the records
//! and their TTL as `Input::Resolved`. All RFC 3263 / ENUM logic — ordering,
//! weights, caching by TTL, timeouts — stays in the core.
//!
//! The servers come from /etc/resolv.conf, or from `service.dns_servers`
//! (`ip:port` each) when set (tests point it at a local dnsmasq).

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use std::net::SocketAddr;
use switchboard_core::dns::{DnsAnswer, DnsError, DnsQuery, DnsRecords, NaptrRecord, SrvRecord};

/// Builds the resolver: the system's configuration, or `servers` when given.
pub fn build(servers: &[SocketAddr]) -> Result<TokioResolver, String> {
    let builder = if servers.is_empty() {
        TokioResolver::builder_tokio().map_err(|e| format!("reading /etc/resolv.conf: {e}"))?
    } else {
        let ns = servers
            .iter()
            .map(|s| {
                let mut udp = ConnectionConfig::udp();
                udp.port = s.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = s.port();
                NameServerConfig::new(s.ip(), true, vec![udp, tcp])
            })
            .collect();
        TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(ns),
            TokioRuntimeProvider::default(),
        )
    };
    builder.build().map_err(|e| format!("DNS resolver: {e}"))
}

/// A name as an absolute domain name (no search list).
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

/// A domain name without its trailing dot.
fn bare(name: &impl std::fmt::Display) -> String {
    let s = name.to_string();
    s.strip_suffix('.').map(str::to_owned).unwrap_or(s)
}

/// Performs one raw lookup.
pub async fn lookup(resolver: &TokioResolver, query: &DnsQuery) -> Result<DnsAnswer, DnsError> {
    let (rtype, name) = match query {
        DnsQuery::Naptr(n) => (RecordType::NAPTR, fqdn(n)),
        DnsQuery::Srv(n) => (RecordType::SRV, fqdn(n)),
        DnsQuery::Addr(n) => (RecordType::A, fqdn(n)), // lookup_ip asks A and AAAA
    };
    let map_err = |e: hickory_resolver::net::NetError| {
        if e.is_no_records_found() || e.is_nx_domain() {
            DnsError::NotFound
        } else {
            DnsError::Failed(e.to_string())
        }
    };
    if let DnsQuery::Addr(_) = query {
        let ips = resolver.lookup_ip(name.as_str()).await.map_err(map_err)?;
        let ttl = ips
            .as_lookup()
            .answers()
            .iter()
            .map(|r| r.ttl)
            .min()
            .unwrap_or(0);
        let list: Vec<_> = ips.iter().collect();
        return Ok(DnsAnswer {
            records: DnsRecords::Addr(list),
            ttl,
        });
    }
    let found = resolver
        .lookup(name.as_str(), rtype)
        .await
        .map_err(map_err)?;
    let ttl = found.answers().iter().map(|r| r.ttl).min().unwrap_or(0);
    let records = match query {
        DnsQuery::Naptr(_) => DnsRecords::Naptr(
            found
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::NAPTR(n) => Some(NaptrRecord {
                        order: n.order,
                        preference: n.preference,
                        flags: String::from_utf8_lossy(&n.flags).into_owned(),
                        service: String::from_utf8_lossy(&n.services).into_owned(),
                        regexp: String::from_utf8_lossy(&n.regexp).into_owned(),
                        replacement: bare(&n.replacement),
                    }),
                    _ => None,
                })
                .collect(),
        ),
        _ => DnsRecords::Srv(
            found
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::SRV(s) => Some(SrvRecord {
                        priority: s.priority,
                        weight: s.weight,
                        port: s.port,
                        target: bare(&s.target),
                    }),
                    _ => None,
                })
                .collect(),
        ),
    };
    Ok(DnsAnswer { records, ttl })
}
