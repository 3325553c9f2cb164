//! Canned DNS for scenarios: the engine's [`Output::Resolve`] questions are
//! answered at once from records the script declares (issue 4: RFC 3263,
//! ENUM), so DNS-driven routing runs on the virtual network like anything
//! else. Every question and answer is noted in the transcript as a log event.
//!
//! Scenario config keys (one record per key, repeat the key for more):
//! - `dns_a=<name>,<ttl>,<ip>[,<ip>…]` — A/AAAA records;
//! - `dns_srv=<name>,<ttl>,<priority>,<weight>,<port>,<target>`;
//! - `dns_naptr=<name>,<ttl>,<order>,<pref>,<flags>,<service>,<regexp>,<replacement>`
//!   (an empty field is written as `-`);
//! - `dns_silent=<name>` — questions about this name are never answered
//!   (the engine's own query timeout fires).
//!
//! A name with no record of the kind asked answers "not found".

use crate::node::{Node, ScenarioSetup};
use std::net::IpAddr;
use std::time::Instant;
use switchboard_core::dns::{DnsAnswer, DnsError, DnsQuery, DnsRecords, NaptrRecord, SrvRecord};
use switchboard_core::event::{Event, LogLevel};
use switchboard_core::{Engine, Input, Output};

/// The records a scenario declares.
#[derive(Debug, Default, Clone)]
pub struct Zone {
    addrs: Vec<(String, u32, IpAddr)>,
    srv: Vec<(String, u32, SrvRecord)>,
    naptr: Vec<(String, u32, NaptrRecord)>,
    silent: Vec<String>,
}

fn field<'a>(parts: &mut impl Iterator<Item = &'a str>, key: &str, v: &str, what: &str) -> &'a str {
    parts
        .next()
        .unwrap_or_else(|| panic!("config {key}={v}: no {what}"))
}

fn num<T: std::str::FromStr>(s: &str, key: &str, v: &str) -> T {
    s.parse()
        .unwrap_or_else(|_| panic!("config {key}={v}: {s:?} is not a number"))
}

impl Zone {
    /// The zone a scenario declares, if it declares any DNS key.
    pub fn from_setup(setup: &ScenarioSetup) -> Option<Self> {
        let mut z = Self::default();
        let mut any = false;
        for (k, v) in &setup.config {
            let mut p = v.split(',');
            match k.as_str() {
                "dns_a" => {
                    let name = field(&mut p, k, v, "name").to_ascii_lowercase();
                    let ttl = num(field(&mut p, k, v, "ttl"), k, v);
                    for ip in p {
                        z.addrs.push((name.clone(), ttl, num(ip, k, v)));
                    }
                }
                "dns_srv" => {
                    let name = field(&mut p, k, v, "name").to_ascii_lowercase();
                    let ttl = num(field(&mut p, k, v, "ttl"), k, v);
                    let rec = SrvRecord {
                        priority: num(field(&mut p, k, v, "priority"), k, v),
                        weight: num(field(&mut p, k, v, "weight"), k, v),
                        port: num(field(&mut p, k, v, "port"), k, v),
                        target: field(&mut p, k, v, "target").to_owned(),
                    };
                    z.srv.push((name, ttl, rec));
                }
                "dns_naptr" => {
                    let name = field(&mut p, k, v, "name").to_ascii_lowercase();
                    let ttl = num(field(&mut p, k, v, "ttl"), k, v);
                    let mut text = |what| {
                        let f = field(&mut p, k, v, what);
                        if f == "-" {
                            String::new()
                        } else {
                            f.to_owned()
                        }
                    };
                    let order = num(&text("order"), k, v);
                    let preference = num(&text("preference"), k, v);
                    let rec = NaptrRecord {
                        order,
                        preference,
                        flags: text("flags"),
                        service: text("service"),
                        regexp: text("regexp"),
                        replacement: text("replacement"),
                    };
                    z.naptr.push((name, ttl, rec));
                }
                "dns_silent" => z.silent.push(v.to_ascii_lowercase()),
                _ => continue,
            }
            any = true;
        }
        any.then_some(z)
    }

    /// The answer to `q`, or `None` for a silent name.
    pub fn answer(&self, q: &DnsQuery) -> Option<Result<DnsAnswer, DnsError>> {
        let name = q.name().to_ascii_lowercase();
        if self.silent.contains(&name) {
            return None;
        }
        let (records, ttl) = match q {
            DnsQuery::Addr(_) => {
                let hits: Vec<_> = self.addrs.iter().filter(|r| r.0 == name).collect();
                let ttl = hits.iter().map(|r| r.1).min().unwrap_or(0);
                (DnsRecords::Addr(hits.iter().map(|r| r.2).collect()), ttl)
            }
            DnsQuery::Srv(_) => {
                let hits: Vec<_> = self.srv.iter().filter(|r| r.0 == name).collect();
                let ttl = hits.iter().map(|r| r.1).min().unwrap_or(0);
                (
                    DnsRecords::Srv(hits.iter().map(|r| r.2.clone()).collect()),
                    ttl,
                )
            }
            DnsQuery::Naptr(_) => {
                let hits: Vec<_> = self.naptr.iter().filter(|r| r.0 == name).collect();
                let ttl = hits.iter().map(|r| r.1).min().unwrap_or(0);
                (
                    DnsRecords::Naptr(hits.iter().map(|r| r.2.clone()).collect()),
                    ttl,
                )
            }
        };
        Some(if records.is_empty() {
            Err(DnsError::NotFound)
        } else {
            Ok(DnsAnswer { records, ttl })
        })
    }
}

/// The engine with a canned DNS server answering its lookups.
pub struct DnsEngine {
    engine: Engine,
    zone: Zone,
    now: Instant,
}

impl DnsEngine {
    /// Wraps `engine`; `start` is the scenario epoch.
    pub fn new(engine: Engine, zone: Zone, start: Instant) -> Self {
        Self {
            engine,
            zone,
            now: start,
        }
    }
}

impl Node for DnsEngine {
    fn handle_input(&mut self, input: Input) {
        self.now = self.now.max(input.now());
        self.engine.handle_input(input);
    }

    fn poll_output(&mut self) -> Output {
        match self.engine.poll_output() {
            Output::Resolve { id, query } => {
                let message = match self.zone.answer(&query) {
                    Some(result) => {
                        let text = match &result {
                            Ok(a) => format!("dns {query:?} -> {:?} ttl {}", a.records, a.ttl),
                            Err(e) => format!("dns {query:?} -> {e}"),
                        };
                        self.engine.handle_input(Input::Resolved {
                            now: self.now,
                            id,
                            result,
                        });
                        text
                    }
                    None => format!("dns {query:?} -> (no answer)"),
                };
                Output::Event(Event::Log {
                    level: LogLevel::Debug,
                    message,
                })
            }
            other => other,
        }
    }
}
