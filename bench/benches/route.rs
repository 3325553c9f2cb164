//! Calls routed by dialed-number prefix (issue 4: "routing a call by prefix
//! among 100,000 routes adds ≤ 2 µs to the in-process call path").
//!
//! One iteration is one whole call through the record-routing proxy
//! (INVITE/180/200/ACK/BYE/200, as in `call.rs`), measured three ways in the
//! same process:
//! - **extension call, no routes**: extension to extension (the location service);
//! - **routed call, 1 route**: the caller dials a number that goes out through
//!   a single `Default` route to a gateway;
//! - **routed call, 100,000 routes**: 100,000 six-digit prefixes over ten
//!   gateways; each call dials a different prefix (plus four digits), so the
//!   trie walk and the candidate list are exercised with a cold-ish cache.
//!
//! The difference between the last two is what the table costs; between the
//! first and the second, what routing costs at all (rewriting the Request-URI,
//! candidate bookkeeping, capacity counting).
//!
//! `taskset -c 1 cargo bench -p switchboard-bench --bench route`

use bytes::Bytes;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use switchboard_bench::sim::{self, Net, response_to};
use switchboard_bench::{bench, budget, header};
use switchboard_core::Command;
use switchboard_core::auth::Ha1Set;
use switchboard_core::registrar::Extension;
use switchboard_core::routing::{
    Destination, Prefix, Route, RoutingConfig, RoutingTable, Selection,
};
use switchboard_core::sip::{HeaderName, Message, Method};

/// Registered extensions (callers; half are callees in the extension case).
const EXTENSIONS: u32 = 200;
/// Gateways the routes spread over.
const GATEWAYS: u32 = 10;
/// Virtual time per call.
const STEP: Duration = Duration::from_millis(1);

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Extension,
    OneRoute,
    ManyRoutes(u32),
}

fn gateway_addr(i: u32) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 200 + i as u8], 5060))
}

fn destination(i: u32) -> Destination {
    Destination::new(format!("gw{i}"), gateway_addr(i).ip().to_string())
}

/// The `k`-th six-digit prefix of the many-routes table (distinct for k < 10^6/7).
fn prefix(k: u32) -> String {
    format!("{:06}", (k * 7) % 1_000_000)
}

/// The routing configuration of a mode (`None`: no routes at all).
fn routing_config(mode: Mode) -> Option<RoutingConfig> {
    match mode {
        Mode::Extension => None,
        Mode::OneRoute => Some(RoutingConfig {
            destinations: vec![destination(0)],
            routes: vec![Route {
                prefix: Prefix::Default,
                destination: "gw0".into(),
                order: 0,
                enabled: true,
            }],
            ..Default::default()
        }),
        Mode::ManyRoutes(n) => Some(RoutingConfig {
            destinations: (0..GATEWAYS).map(destination).collect(),
            routes: (0..n)
                .map(|k| Route {
                    prefix: Prefix::Digits(prefix(k)),
                    destination: format!("gw{}", k % GATEWAYS),
                    order: 0,
                    enabled: true,
                })
                .collect(),
            selection: Selection::Hunting,
            failover_on_decline: false,
        }),
    }
}

struct Bench {
    net: Net,
    phones: Vec<(String, SocketAddr)>,
    mode: Mode,
    serial: u64,
    buf: String,
    body: String,
    scratch: String,
}

impl Bench {
    fn new(mode: Mode) -> Self {
        let start = Instant::now();
        let mut cfg = sim::config();
        cfg.register_auth = false;
        cfg.call_auth = false;
        let mut net = Net::new(cfg, start);
        let mut phones = Vec::new();
        let mut buf = String::new();
        for i in 0..EXTENSIONS {
            let user = sim::username(i);
            let ha1 = Ha1Set::from_password(&user, sim::DOMAIN, "secret-password");
            net.engine
                .handle_command(
                    start,
                    Command::UpsertExtension(Extension::new(user.clone(), ha1.md5, ha1.sha256)),
                )
                .expect("valid extension");
            let addr = sim::ua_addr(i);
            buf.clear();
            let _ = write!(
                buf,
                "REGISTER sip:{dom} SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch=z9hG4bKreg{i};rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:{user}@{dom}>;tag=r{i}\r\nTo: <sip:{user}@{dom}>\r\n\
Call-ID: reg{i}@bench\r\nCSeq: 1 REGISTER\r\nContact: <sip:{user}@{addr};transport=udp>\r\n\
Expires: 3600\r\nContent-Length: 0\r\n\r\n",
                dom = sim::DOMAIN
            );
            net.deliver(addr, Bytes::copy_from_slice(buf.as_bytes()));
            assert_eq!(net.parse(net.only(addr)).status(), Some(200));
            phones.push((user, addr));
        }
        let routing = routing_config(mode);
        if let Some(r) = routing {
            let t = Instant::now();
            net.engine
                .handle_command(start, Command::ReplaceRouting(r))
                .expect("valid routing");
            println!(
                "- routing table loaded in {:.0} ms",
                t.elapsed().as_secs_f64() * 1e3
            );
        }
        Self {
            net,
            phones,
            mode,
            serial: 0,
            buf,
            body: String::new(),
            scratch: String::new(),
        }
    }

    fn received_by(&self, to: SocketAddr) -> Message {
        let t = self
            .net
            .sent
            .iter()
            .find(|t| t.remote == to)
            .unwrap_or_else(|| panic!("nothing sent to {to}: {:?}", self.net.sent));
        self.net.parse(t)
    }

    /// One whole call: INVITE/180/200/ACK/BYE/200.
    fn call(&mut self) {
        self.serial += 1;
        let n = self.serial;
        let half = (EXTENSIONS / 2) as u64;
        let k = (n % half) as usize;
        let (a, a_addr) = self.phones[2 * k].clone();
        let (dialed, b_addr) = match self.mode {
            Mode::Extension => (self.phones[2 * k + 1].0.clone(), self.phones[2 * k + 1].1),
            Mode::OneRoute => (format!("0044{:07}", n % 10_000_000), gateway_addr(0)),
            Mode::ManyRoutes(routes) => {
                let r = (n % u64::from(routes)) as u32;
                (
                    format!("{}{:04}", prefix(r), n % 10_000),
                    gateway_addr(r % GATEWAYS),
                )
            }
        };
        let dom = sim::DOMAIN;
        sim::sdp(&mut self.body, &a, &a_addr.ip().to_string());
        self.buf.clear();
        let _ = write!(
            self.buf,
            "INVITE sip:{dialed}@{dom} SIP/2.0\r\nVia: SIP/2.0/UDP {a_addr};branch=z9hG4bK{n:x}i;rport\r\n\
Max-Forwards: 70\r\nFrom: \"Caller {a}\" <sip:{a}@{dom}>;tag=a{n:x}\r\nTo: <sip:{dialed}@{dom}>\r\n\
Call-ID: {n:x}-call@{ip}\r\nCSeq: 1 INVITE\r\nContact: <sip:{a}@{a_addr};transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE\r\n\
Supported: replaces, timer\r\nUser-Agent: Softphone/8.1.2 (Linux)\r\n\
Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{body}",
            ip = a_addr.ip(),
            len = self.body.len(),
            body = self.body,
        );
        self.net
            .deliver(a_addr, Bytes::copy_from_slice(self.buf.as_bytes()));
        let at_callee = self.received_by(b_addr);
        assert_eq!(at_callee.method(), Some(&Method::Invite));

        let b_tag = format!("b{n:x}");
        self.scratch.clear();
        let _ = write!(
            self.scratch,
            "Contact: <sip:{dialed}@{b_addr};transport=udp>\r\n"
        );
        let ringing = response_to(
            &mut self.buf,
            &at_callee,
            180,
            "Ringing",
            &b_tag,
            &self.scratch,
            "",
        );
        self.net.deliver(b_addr, ringing);
        assert_eq!(self.net.parse(self.net.only(a_addr)).status(), Some(180));
        sim::sdp(&mut self.body, "callee", &b_addr.ip().to_string());
        self.scratch.push_str("Content-Type: application/sdp\r\n");
        let ok = response_to(
            &mut self.buf,
            &at_callee,
            200,
            "OK",
            &b_tag,
            &self.scratch,
            &self.body,
        );
        self.net.deliver(b_addr, ok);

        let ok = self.net.parse(self.net.only(a_addr));
        assert_eq!(ok.status(), Some(200));
        let to = ok.header(HeaderName::To).expect("200 has To").to_owned();
        let target =
            sim::addr_spec(ok.header(HeaderName::Contact).expect("200 has Contact")).to_owned();
        let rr: Vec<&str> = ok.header_values(HeaderName::RecordRoute).collect();
        let route = rr.into_iter().rev().collect::<Vec<_>>().join(", ");
        assert!(!route.is_empty(), "the proxy record-routes");
        let in_dialog = |method: &str, cseq: u32, branch: char| {
            Bytes::from(format!(
                "{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {a_addr};branch=z9hG4bK{n:x}{branch};rport\r\n\
Max-Forwards: 70\r\nRoute: {route}\r\nFrom: \"Caller {a}\" <sip:{a}@{dom}>;tag=a{n:x}\r\nTo: {to}\r\n\
Call-ID: {n:x}-call@{ip}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n",
                ip = a_addr.ip(),
            ))
        };
        let (ack, bye) = (in_dialog("ACK", 1, 'a'), in_dialog("BYE", 2, 'b'));
        self.net.deliver(a_addr, ack);
        assert_eq!(
            self.net.parse(self.net.only(b_addr)).method(),
            Some(&Method::Ack)
        );
        self.net.deliver(a_addr, bye);
        let at_callee = self.net.parse(self.net.only(b_addr));
        assert_eq!(at_callee.method(), Some(&Method::Bye));
        let ok = response_to(&mut self.buf, &at_callee, 200, "OK", &b_tag, "", "");
        self.net.deliver(b_addr, ok);
        assert_eq!(self.net.parse(self.net.only(a_addr)).status(), Some(200));
        self.net.advance(STEP);
    }
}

fn run(mode: Mode, name: &str) -> f64 {
    let mut b = Bench::new(mode);
    for _ in 0..5_000 {
        b.call(); // warm up: steady-state map sizes
    }
    let engine_before = b.net.engine_time;
    let mut iterations = 0u64;
    let start = Instant::now();
    bench(name, budget(Duration::from_secs(5)), || {
        b.call();
        iterations += 1;
    });
    let (mean_ns, engine_ns) = switchboard_bench::engine_share(
        start.elapsed(),
        b.net.engine_time - engine_before,
        iterations,
    );
    println!(
        "  - mean {:.2} µs/call, of which engine {:.2} µs",
        mean_ns / 1e3,
        engine_ns / 1e3
    );
    let table = b.net.engine.routing_table();
    let active: u32 = table
        .config()
        .destinations
        .iter()
        .filter_map(|d| table.state(&d.name).map(|s| s.active))
        .sum();
    assert_eq!(active, 0, "every call released its destination");
    engine_ns
}

/// The table alone: lookup of the candidates plus the number rewrite.
fn lookup_only(mode: Mode, name: &str) -> f64 {
    let mut t = RoutingTable::new(routing_config(mode).expect("routes")).expect("valid");
    let dialed: Vec<String> = (0..100_000u32)
        .map(|r| format!("{}{:04}", prefix(r), r % 10_000))
        .collect();
    let mut i = 0usize;
    let r = bench(name, budget(Duration::from_secs(2)), || {
        i = (i + 1) % dialed.len();
        let d = &dialed[i];
        let c = t.lookup(d);
        let first = c.first().expect("a route matches");
        t.rewrite(first.destination, d)
    });
    1e9 / r.per_second()
}

fn main() {
    header("Routing table alone (candidates + rewrite)");
    let l1 = lookup_only(Mode::OneRoute, "lookup, 1 route (Default)");
    let lm = lookup_only(Mode::ManyRoutes(100_000), "lookup, 100,000 routes");
    println!(
        "\n- median lookup: 1 route {:.0} ns, 100,000 routes {:.0} ns\n",
        l1, lm
    );
    header(
        "Routed calls (UDP, record-routing, no call auth; one iteration = \
         INVITE/180/200/ACK/BYE/200)",
    );
    let ext = run(Mode::Extension, "extension call, no routes");
    let one = run(Mode::OneRoute, "routed call, 1 route (Default)");
    let many = run(Mode::ManyRoutes(100_000), "routed call, 100,000 routes");
    println!();
    println!(
        "- engine time per call: extension {:.2} µs, routed (1 route) {:.2} µs, routed \
         (100,000 routes) {:.2} µs; 100,000 routes vs 1: {:+.2} µs (target ≤ 2 µs)",
        ext / 1e3,
        one / 1e3,
        many / 1e3,
        (many - one) / 1e3
    );
}
