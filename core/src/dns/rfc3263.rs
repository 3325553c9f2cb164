//! Locating SIP servers (RFC 3263 §4) as a step machine: it says which raw
//! lookup it needs next ([`Step::Query`]), takes the answer ([`Resolution::feed`])
//! and ends with the ordered list of `(transport, address)` to try
//! ([`Step::Done`]). No I/O, no clock: randomness (SRV weights) comes from the
//! engine's [`Rng`].
//!
//! - A numeric host needs no DNS: the URI's port, or the transport's default.
//! - A port in the URI: A/AAAA of the host (§4.2).
//! - A transport but no port: SRV `_sip._udp.host` / `_sip._tcp.host` /
//!   `_sips._tcp.host` (§4.2), then A/AAAA at the default port when no SRV exists.
//! - Neither: NAPTR of the host (§4.1), keeping `s`-flag records whose
//!   service (`SIP+D2U`, `SIP+D2T`, `SIPS+D2T`) names a transport we support,
//!   ordered by order then preference; each replacement is an SRV name. With
//!   no usable NAPTR, SRV for every supported transport; with no SRV either,
//!   A/AAAA at the default port over UDP (TLS for `sips`).
//! - SRV records: lowest priority first; among equal priority, the weighted
//!   random ordering of RFC 2782 (zero weights first in the running sum). A
//!   single target of `.` means "no service here" (RFC 2782).
//!
//! A NAPTR or SRV lookup that fails (timeout, SERVFAIL) ends the resolution
//! with that error (the caller falls through to its next candidate); a failed
//! address lookup only skips that host. All work is bounded: at most
//! [`MAX_SRV_NAMES`] SRV questions, [`MAX_HOSTS`] hosts and [`MAX_ADDRS`] results.

use super::{DnsError, DnsQuery, DnsRecords, NaptrRecord, SrvRecord};
use crate::rng::Rng;
use crate::transport::Transport;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

/// Most SRV names queried for one resolution.
pub const MAX_SRV_NAMES: usize = 8;
/// Most host names (SRV targets) addressed for one resolution.
pub const MAX_HOSTS: usize = 16;
/// Most addresses returned.
pub const MAX_ADDRS: usize = 32;

/// What to resolve: the host part of a SIP URI and what the URI says about port and transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipTarget {
    /// Host name or IP literal (IPv6 with or without brackets).
    pub host: String,
    /// The port, when the URI has one.
    pub port: Option<u16>,
    /// The transport, when the URI names one (`;transport=`).
    pub transport: Option<Transport>,
    /// A `sips:` URI: only TLS is acceptable.
    pub secure: bool,
}

/// One place to try, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TargetAddr {
    /// The transport to use.
    pub transport: Transport,
    /// The address.
    pub addr: SocketAddr,
}

/// What the resolution needs next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Look this up and [`Resolution::feed`] the answer.
    Query(DnsQuery),
    /// Finished: the targets in the order to try them (empty: nothing found).
    Done(Vec<TargetAddr>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Naptr,
    Srv,
    Addr,
}

/// One RFC 3263 resolution in progress.
#[derive(Debug, Clone)]
pub struct Resolution {
    host: String,
    secure: bool,
    supported: Vec<Transport>,
    stage: Stage,
    srv: VecDeque<(Transport, String)>,
    hosts: VecDeque<(Transport, String, u16)>,
    fallback: Option<(Transport, u16)>,
    out: Vec<TargetAddr>,
}

/// The SRV owner name for `transport` at `host` (RFC 3263 §4.2, RFC 7118 §7 for WS).
pub fn srv_name(transport: Transport, host: &str) -> String {
    let prefix = match transport {
        Transport::Udp => "_sip._udp.",
        Transport::Tcp => "_sip._tcp.",
        Transport::Tls => "_sips._tcp.",
        Transport::Ws => "_sip._ws.",
        Transport::Wss => "_sips._ws.",
    };
    format!("{prefix}{host}")
}

/// The transport a NAPTR service field names (RFC 3263 §4.1, RFC 7118 §7).
pub fn naptr_transport(service: &str) -> Option<Transport> {
    let s = service.to_ascii_uppercase();
    match s.as_str() {
        "SIP+D2U" => Some(Transport::Udp),
        "SIP+D2T" => Some(Transport::Tcp),
        "SIPS+D2T" => Some(Transport::Tls),
        "SIP+D2W" => Some(Transport::Ws),
        "SIPS+D2W" => Some(Transport::Wss),
        _ => None,
    }
}

/// A host name as compared and queried: lower case, no trailing dot, IPv6 brackets removed.
fn clean_host(h: &str) -> String {
    h.trim()
        .trim_end_matches('.')
        .trim_matches(['[', ']'])
        .to_ascii_lowercase()
}

/// NAPTR records usable for SIP, best first (§4.1): `s` flag, a supported transport.
pub fn order_naptr(
    records: &[NaptrRecord],
    supported: &[Transport],
    secure: bool,
) -> Vec<(Transport, String)> {
    let mut usable: Vec<&NaptrRecord> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s"))
        .filter(|r| {
            naptr_transport(&r.service)
                .is_some_and(|t| supported.contains(&t) && (!secure || t.is_secure()))
        })
        .filter(|r| !r.replacement.is_empty() && r.replacement != ".")
        .collect();
    usable.sort_by_key(|r| (r.order, r.preference));
    usable
        .into_iter()
        .filter_map(|r| Some((naptr_transport(&r.service)?, clean_host(&r.replacement))))
        .collect()
}

/// SRV records in the order to try them (RFC 2782): by priority, and within
/// a priority by weighted random selection drawn from `rng`.
pub fn order_srv(records: &[SrvRecord], rng: &mut Rng) -> Vec<SrvRecord> {
    if records.len() == 1
        && records
            .first()
            .is_some_and(|r| r.target == "." || r.target.is_empty())
    {
        return Vec::new(); // "decidedly not available" (RFC 2782)
    }
    let mut sorted: Vec<SrvRecord> = records
        .iter()
        .filter(|r| r.target != "." && !r.target.is_empty())
        .cloned()
        .collect();
    sorted.sort_by_key(|r| r.priority);
    let mut out = Vec::with_capacity(sorted.len());
    let mut i = 0;
    while i < sorted.len() {
        let prio = sorted.get(i).map_or(0, |r| r.priority);
        let mut group: Vec<SrvRecord> = sorted
            .iter()
            .skip(i)
            .take_while(|r| r.priority == prio)
            .cloned()
            .collect();
        i += group.len();
        // Zero weights first, so they get a small chance (RFC 2782).
        group.sort_by_key(|r| r.weight != 0);
        while !group.is_empty() {
            let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
            let pick = rng.next_u64() % (total + 1);
            let mut running = 0u64;
            let mut chosen = group.len() - 1;
            for (k, r) in group.iter().enumerate() {
                running += u64::from(r.weight);
                if running >= pick {
                    chosen = k;
                    break;
                }
            }
            out.push(group.remove(chosen));
        }
    }
    out
}

impl Resolution {
    /// Starts resolving `target`, using only the `supported` transports (our
    /// listeners, in preference order) when DNS chooses the transport.
    pub fn new(target: &SipTarget, supported: &[Transport]) -> Self {
        let host = clean_host(&target.host);
        let secure = target.secure;
        let mut r = Self {
            host: host.clone(),
            secure,
            supported: supported.to_vec(),
            stage: Stage::Addr,
            srv: VecDeque::new(),
            hosts: VecDeque::new(),
            fallback: None,
            out: Vec::new(),
        };
        let default_t = if secure {
            Transport::Tls
        } else {
            Transport::Udp
        };
        match (target.port, target.transport) {
            (Some(p), t) => r.hosts.push_back((t.unwrap_or(default_t), host, p)),
            (None, _) if host.parse::<IpAddr>().is_ok() => {
                let t = target.transport.unwrap_or(default_t);
                r.hosts.push_back((t, host, t.default_port()));
            }
            (None, Some(t)) => {
                r.stage = Stage::Srv;
                r.srv.push_back((t, srv_name(t, &host)));
                r.fallback = Some((t, t.default_port()));
            }
            (None, None) => r.stage = Stage::Naptr,
        }
        r
    }

    /// What to do next.
    pub fn next_step(&mut self) -> Step {
        loop {
            match self.stage {
                Stage::Naptr => return Step::Query(DnsQuery::Naptr(self.host.clone())),
                Stage::Srv => {
                    if let Some((_, name)) = self.srv.front() {
                        return Step::Query(DnsQuery::Srv(name.clone()));
                    }
                    if self.hosts.is_empty()
                        && let Some((t, p)) = self.fallback.take()
                    {
                        self.hosts.push_back((t, self.host.clone(), p));
                    }
                    self.stage = Stage::Addr;
                }
                Stage::Addr => {
                    let Some((t, h, p)) = self.hosts.front().cloned() else {
                        return Step::Done(std::mem::take(&mut self.out));
                    };
                    match h.parse::<IpAddr>() {
                        Ok(ip) => {
                            self.hosts.pop_front();
                            self.push_addr(t, ip, p);
                        }
                        Err(_) => return Step::Query(DnsQuery::Addr(h)),
                    }
                }
            }
        }
    }

    fn push_addr(&mut self, transport: Transport, ip: IpAddr, port: u16) {
        let a = TargetAddr {
            transport,
            addr: SocketAddr::new(ip, port),
        };
        if self.out.len() < MAX_ADDRS && !self.out.contains(&a) {
            self.out.push(a);
        }
    }

    /// Takes the answer to the query [`Resolution::next_step`] asked for last. An
    /// error means the whole resolution failed.
    pub fn feed(
        &mut self,
        answer: Result<DnsRecords, DnsError>,
        rng: &mut Rng,
    ) -> Result<(), DnsError> {
        match self.stage {
            Stage::Naptr => {
                let records = match answer {
                    Ok(DnsRecords::Naptr(r)) => r,
                    Ok(_) | Err(DnsError::NotFound) => Vec::new(),
                    Err(e) => return Err(e),
                };
                let ordered = order_naptr(&records, &self.supported, self.secure);
                self.stage = Stage::Srv;
                if let Some(&(t, _)) = ordered.first() {
                    self.fallback = Some((t, t.default_port()));
                    self.srv.extend(ordered.into_iter().take(MAX_SRV_NAMES));
                } else {
                    for &t in &self.supported {
                        if (!self.secure || t.is_secure()) && self.srv.len() < MAX_SRV_NAMES {
                            self.srv.push_back((t, srv_name(t, &self.host)));
                        }
                    }
                    let t = if self.secure {
                        Transport::Tls
                    } else {
                        Transport::Udp
                    };
                    self.fallback = Some((t, t.default_port()));
                }
                Ok(())
            }
            Stage::Srv => {
                let Some((t, _)) = self.srv.pop_front() else {
                    return Ok(());
                };
                let records = match answer {
                    Ok(DnsRecords::Srv(r)) => r,
                    Ok(_) | Err(DnsError::NotFound) => Vec::new(),
                    Err(e) => return Err(e),
                };
                for r in order_srv(&records, rng) {
                    if self.hosts.len() < MAX_HOSTS {
                        self.hosts.push_back((t, clean_host(&r.target), r.port));
                    }
                }
                Ok(())
            }
            Stage::Addr => {
                let Some((t, _, p)) = self.hosts.pop_front() else {
                    return Ok(());
                };
                if let Ok(DnsRecords::Addr(ips)) = answer {
                    for ip in ips {
                        self.push_addr(t, ip, p);
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: u8) -> Rng {
        Rng::from_seed([seed; 32])
    }

    fn naptr(order: u16, pref: u16, service: &str, repl: &str) -> NaptrRecord {
        NaptrRecord {
            order,
            preference: pref,
            flags: "s".into(),
            service: service.into(),
            regexp: String::new(),
            replacement: repl.into(),
        }
    }

    fn srv(priority: u16, weight: u16, port: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port,
            target: target.into(),
        }
    }

    fn ip(s: &str) -> DnsRecords {
        DnsRecords::Addr(vec![s.parse().expect("ip")])
    }

    fn target(host: &str) -> SipTarget {
        SipTarget {
            host: host.into(),
            port: None,
            transport: None,
            secure: false,
        }
    }

    fn ta(t: Transport, a: &str) -> TargetAddr {
        TargetAddr {
            transport: t,
            addr: a.parse().expect("addr"),
        }
    }

    /// Runs a resolution against a fixed zone; returns the queries made and the result.
    fn run(
        r: &mut Resolution,
        zone: &[(DnsQuery, Result<DnsRecords, DnsError>)],
    ) -> (Vec<DnsQuery>, Result<Vec<TargetAddr>, DnsError>) {
        let mut g = rng(7);
        let mut asked = Vec::new();
        for _ in 0..100 {
            match r.next_step() {
                Step::Done(v) => return (asked, Ok(v)),
                Step::Query(q) => {
                    let a = zone
                        .iter()
                        .find(|(k, _)| *k == q)
                        .map_or(Err(DnsError::NotFound), |(_, a)| a.clone());
                    asked.push(q);
                    if let Err(e) = r.feed(a, &mut g) {
                        return (asked, Err(e));
                    }
                }
            }
        }
        panic!("resolution did not end");
    }

    #[test]
    fn naptr_then_srv_by_priority_then_addresses() {
        // RFC 3263 §4.1 example shape: TCP preferred over UDP by NAPTR order.
        let zone = vec![
            (
                DnsQuery::Naptr("example.com".into()),
                Ok(DnsRecords::Naptr(vec![
                    naptr(50, 50, "SIP+D2U", "_sip._udp.example.com"),
                    naptr(90, 50, "SIPS+D2T", "_sips._tcp.example.com"),
                    naptr(10, 50, "SIP+D2T", "_sip._tcp.example.com."),
                ])),
            ),
            (
                DnsQuery::Srv("_sip._tcp.example.com".into()),
                Ok(DnsRecords::Srv(vec![
                    srv(20, 0, 5070, "b.example.com"),
                    srv(10, 0, 5060, "a.example.com."),
                ])),
            ),
            (
                DnsQuery::Srv("_sip._udp.example.com".into()),
                Ok(DnsRecords::Srv(vec![srv(0, 0, 5060, "a.example.com")])),
            ),
            (DnsQuery::Addr("a.example.com".into()), Ok(ip("192.0.2.1"))),
            (DnsQuery::Addr("b.example.com".into()), Ok(ip("192.0.2.2"))),
        ];
        // We support UDP and TCP (no TLS listener): the SIPS record is ignored.
        let mut r = Resolution::new(&target("Example.COM."), &[Transport::Udp, Transport::Tcp]);
        let (asked, out) = run(&mut r, &zone);
        assert_eq!(
            asked,
            [
                DnsQuery::Naptr("example.com".into()),
                DnsQuery::Srv("_sip._tcp.example.com".into()),
                DnsQuery::Srv("_sip._udp.example.com".into()),
                DnsQuery::Addr("a.example.com".into()),
                DnsQuery::Addr("b.example.com".into()),
                DnsQuery::Addr("a.example.com".into()),
            ]
        );
        assert_eq!(
            out.expect("resolved"),
            [
                ta(Transport::Tcp, "192.0.2.1:5060"),
                ta(Transport::Tcp, "192.0.2.2:5070"),
                ta(Transport::Udp, "192.0.2.1:5060"),
            ]
        );
    }

    #[test]
    fn no_naptr_means_srv_per_supported_transport_then_a_record() {
        let zone = vec![(DnsQuery::Addr("gw.example.net".into()), Ok(ip("192.0.2.9")))];
        let mut r = Resolution::new(&target("gw.example.net"), &[Transport::Udp, Transport::Tcp]);
        let (asked, out) = run(&mut r, &zone);
        assert_eq!(
            asked,
            [
                DnsQuery::Naptr("gw.example.net".into()),
                DnsQuery::Srv("_sip._udp.gw.example.net".into()),
                DnsQuery::Srv("_sip._tcp.gw.example.net".into()),
                DnsQuery::Addr("gw.example.net".into()),
            ]
        );
        assert_eq!(out.expect("ok"), [ta(Transport::Udp, "192.0.2.9:5060")]);
    }

    #[test]
    fn explicit_port_or_transport_skips_naptr() {
        let zone = vec![
            (DnsQuery::Addr("gw.example.net".into()), Ok(ip("192.0.2.9"))),
            (
                DnsQuery::Srv("_sip._tcp.gw.example.net".into()),
                Ok(DnsRecords::Srv(vec![srv(1, 1, 5999, "gw.example.net")])),
            ),
        ];
        let mut t = target("gw.example.net");
        t.port = Some(5080);
        let (asked, out) = run(&mut Resolution::new(&t, &[Transport::Udp]), &zone);
        assert_eq!(asked, [DnsQuery::Addr("gw.example.net".into())]);
        assert_eq!(out.expect("ok"), [ta(Transport::Udp, "192.0.2.9:5080")]);
        let mut t = target("gw.example.net");
        t.transport = Some(Transport::Tcp);
        let (asked, out) = run(&mut Resolution::new(&t, &[Transport::Udp]), &zone);
        assert_eq!(asked.len(), 2, "{asked:?}");
        assert_eq!(out.expect("ok"), [ta(Transport::Tcp, "192.0.2.9:5999")]);
        // A numeric host asks nothing.
        let mut t = target("[2001:db8::5]");
        t.transport = Some(Transport::Tcp);
        let (asked, out) = run(&mut Resolution::new(&t, &[Transport::Udp]), &zone);
        assert!(asked.is_empty());
        assert_eq!(out.expect("ok"), [ta(Transport::Tcp, "[2001:db8::5]:5060")]);
    }

    #[test]
    fn srv_dot_target_and_failures() {
        let zone = vec![(
            DnsQuery::Srv("_sip._udp.no.example".into()),
            Ok(DnsRecords::Srv(vec![srv(0, 0, 0, ".")])),
        )];
        let mut t = target("no.example");
        t.transport = Some(Transport::Udp);
        let (_, out) = run(&mut Resolution::new(&t, &[Transport::Udp]), &zone);
        // "." means no service: falls back to A of the host, which does not exist.
        assert_eq!(out.expect("ok"), []);
        let zone = vec![(
            DnsQuery::Naptr("slow.example".into()),
            Err(DnsError::Timeout),
        )];
        let (_, out) = run(
            &mut Resolution::new(&target("slow.example"), &[Transport::Udp]),
            &zone,
        );
        assert_eq!(out, Err(DnsError::Timeout));
    }

    #[test]
    fn srv_weights_follow_rfc_2782() {
        // Priority always wins; among equal priority, weight 90 vs 10 is first ~90%.
        let records = vec![
            srv(10, 90, 5060, "heavy.example"),
            srv(10, 10, 5060, "light.example"),
            srv(5, 0, 5060, "first.example"),
        ];
        let mut g = rng(3);
        let mut heavy_first = 0;
        for _ in 0..1000 {
            let o = order_srv(&records, &mut g);
            assert_eq!(o.len(), 3);
            assert_eq!(o[0].target, "first.example");
            if o[1].target == "heavy.example" {
                heavy_first += 1;
            }
        }
        assert!((850..=950).contains(&heavy_first), "{heavy_first}");
        // All-zero weights still give every record.
        let z = vec![srv(1, 0, 1, "a"), srv(1, 0, 2, "b")];
        assert_eq!(order_srv(&z, &mut g).len(), 2);
    }

    #[test]
    fn naptr_filtering_and_bounds() {
        let mut recs = vec![
            naptr(1, 1, "E2U+sip", "x.example"),
            naptr(2, 1, "SIP+D2U", "."),
            NaptrRecord {
                flags: "u".into(),
                ..naptr(3, 1, "SIP+D2U", "y.example")
            },
            naptr(4, 2, "sip+d2u", "b.example"),
            naptr(4, 1, "SIP+D2U", "a.example"),
        ];
        let o = order_naptr(&recs, &[Transport::Udp], false);
        assert_eq!(
            o,
            [
                (Transport::Udp, "a.example".to_owned()),
                (Transport::Udp, "b.example".to_owned())
            ]
        );
        assert!(order_naptr(&recs, &[Transport::Udp], true).is_empty());
        // Hundreds of records: only MAX_SRV_NAMES are queried.
        recs = (0..500)
            .map(|i| naptr(i, 0, "SIP+D2U", "z.example"))
            .collect();
        let zone = vec![(
            DnsQuery::Naptr("big.example".into()),
            Ok(DnsRecords::Naptr(recs)),
        )];
        let (asked, _) = run(
            &mut Resolution::new(&target("big.example"), &[Transport::Udp]),
            &zone,
        );
        assert!(asked.len() <= 1 + MAX_SRV_NAMES + 1, "{}", asked.len());
    }
}
