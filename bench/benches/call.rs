//! Complete proxied calls per second, in process (RFC 3261 §16 stateful proxy;
//! the call flow of RFC 3665 §3.2 "Successful Session Establishment" through a
//! record-routing proxy, then §3.7-style teardown with BYE).
//!
//! One iteration is one whole call between two registered extensions, with a
//! fresh Call-ID, branches and tags; every message is parsed by the peer that
//! receives it and every answer is built from what was received:
//!
//! ```text
//! caller → INVITE (SDP)  → engine → INVITE    → callee
//!                          (100 Trying only if the callee is silent for 200 ms)
//! callee → 180 Ringing   → engine → 180        → caller
//! callee → 200 OK (SDP)  → engine → 200        → caller
//! caller → ACK (Route: the Record-Route) → engine → ACK → callee
//! caller → BYE (Route)   → engine → BYE        → callee
//! callee → 200 OK        → engine → 200        → caller
//! ```
//!
//! Calls need no authentication (`call_auth = false`); 10,000 extensions are
//! registered (without authentication, to set up quickly) and calls go from
//! extension 2k to 2k+1, cycling through the 5,000 pairs. Transport is UDP, so
//! transactions linger after completion (Timer J = 64·T1 = 32 s for BYE,
//! Timer L/M = 32 s for INVITE after a 2xx, RFC 6026): virtual time moves 1 ms
//! per call (an offered load of 1,000 calls/s) and the engine's timers fire as
//! they fall due, so the live-transaction count stays bounded near
//! "1,000 calls/s × 32 s × transactions per call"; the run prints its maximum.
//!
//! The engine-only figure is the time inside `Engine::handle_input` plus
//! draining `Engine::poll_output`, clocked around those calls.
//!
//! `taskset -c 1 cargo bench -p switchboard-bench --bench call`

use bytes::Bytes;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use switchboard_bench::sim::{self, Net, response_to};
use switchboard_bench::{bench, budget, header};
use switchboard_core::Command;
use switchboard_core::auth::Ha1Set;
use switchboard_core::registrar::Extension;
use switchboard_core::sip::{HeaderName, Message, Method};

/// Extensions provisioned and registered (half call the other half).
const EXTENSIONS: u32 = 10_000;
/// Virtual time per call.
const STEP: Duration = Duration::from_millis(1);

struct Phone {
    user: String,
    addr: SocketAddr,
}

struct Bench {
    net: Net,
    phones: Vec<Phone>,
    next_pair: usize,
    serial: u64,
    buf: String,
    body: String,
    scratch: String,
}

impl Bench {
    fn new() -> Self {
        let start = Instant::now();
        let mut cfg = sim::config();
        cfg.register_auth = false;
        cfg.call_auth = false;
        let mut net = Net::new(cfg, start);
        let mut phones = Vec::with_capacity(EXTENSIONS as usize);
        let mut buf = String::new();
        for i in 0..EXTENSIONS {
            let user = sim::username(i);
            let ha1 = Ha1Set::from_password(&user, sim::DOMAIN, "secret-password");
            let ext = Extension::new(user.clone(), ha1.md5, ha1.sha256);
            net.engine
                .handle_command(start, Command::UpsertExtension(ext))
                .expect("valid extension");
            let addr = sim::ua_addr(i);
            buf.clear();
            let _ = write!(
                buf,
                "REGISTER sip:{dom} SIP/2.0\r\n\
Via: SIP/2.0/UDP {addr};branch=z9hG4bKreg{i};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:{user}@{dom}>;tag=r{i}\r\n\
To: <sip:{user}@{dom}>\r\n\
Call-ID: reg{i}@bench\r\n\
CSeq: 1 REGISTER\r\n\
Contact: <sip:{user}@{addr};transport=udp>\r\n\
Expires: 3600\r\n\
Content-Length: 0\r\n\r\n",
                dom = sim::DOMAIN
            );
            net.deliver(addr, Bytes::copy_from_slice(buf.as_bytes()));
            let m = net.parse(net.only(addr));
            assert_eq!(m.status(), Some(200), "registration failed");
            phones.push(Phone { user, addr });
        }
        Self {
            net,
            phones,
            next_pair: 0,
            serial: 0,
            buf,
            body: String::new(),
            scratch: String::new(),
        }
    }

    /// The transmit to `to` among the last delivery's, parsed.
    fn received_by(&self, to: SocketAddr) -> Message {
        let t = self
            .net
            .sent
            .iter()
            .find(|t| t.remote == to)
            .unwrap_or_else(|| panic!("nothing sent to {to}: {:?}", self.net.sent));
        self.net.parse(t)
    }

    /// One whole call: INVITE/100/180/200/ACK/BYE/200.
    fn call(&mut self) {
        let pairs = self.phones.len() / 2;
        let k = self.next_pair;
        self.next_pair = (k + 1) % pairs;
        self.serial += 1;
        let n = self.serial;
        let (a_addr, b_addr) = (self.phones[2 * k].addr, self.phones[2 * k + 1].addr);
        let (a, b) = (&self.phones[2 * k].user, &self.phones[2 * k + 1].user);
        let dom = sim::DOMAIN;

        // Caller: INVITE with an SDP offer.
        sim::sdp(&mut self.body, a, &a_addr.ip().to_string());
        let buf = &mut self.buf;
        buf.clear();
        let _ = write!(
            buf,
            "INVITE sip:{b}@{dom} SIP/2.0\r\n\
Via: SIP/2.0/UDP {a_addr};branch=z9hG4bK{n:x}i;rport\r\n\
Max-Forwards: 70\r\n\
From: \"Caller {a}\" <sip:{a}@{dom}>;tag=a{n:x}\r\n\
To: <sip:{b}@{dom}>\r\n\
Call-ID: {n:x}-call@{ip}\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:{a}@{a_addr};transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE\r\n\
Supported: replaces, timer\r\n\
User-Agent: Softphone/8.1.2 (Linux)\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {len}\r\n\r\n{body}",
            ip = a_addr.ip(),
            len = self.body.len(),
            body = self.body,
        );
        let invite = Bytes::copy_from_slice(buf.as_bytes());
        self.net.deliver(a_addr, invite);
        // The engine sends its own 100 only if the callee has not answered
        // within 200 ms (RFC 3261 §17.2.1); in process the 180 comes first.
        if let Some(t) = self.net.sent.iter().find(|t| t.remote == a_addr) {
            assert_eq!(self.net.parse(t).status(), Some(100));
        }
        let at_callee = self.received_by(b_addr);
        assert_eq!(at_callee.method(), Some(&Method::Invite));

        // Callee: 180, then 200 with an SDP answer.
        let b_tag = format!("b{n:x}");
        self.scratch.clear();
        let _ = write!(
            self.scratch,
            "Contact: <sip:{b}@{b_addr};transport=udp>\r\n"
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
        let m = self.net.parse(self.net.only(a_addr));
        assert_eq!(m.status(), Some(180));

        sim::sdp(&mut self.body, b, &b_addr.ip().to_string());
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

        // Caller: the 200 gives the dialog's remote target, tag and route set.
        let ok = self.net.parse(self.net.only(a_addr));
        assert_eq!(ok.status(), Some(200));
        let to = ok.header(HeaderName::To).expect("200 has To");
        let target = sim::addr_spec(ok.header(HeaderName::Contact).expect("200 has Contact"));
        let mut route = String::new();
        let rr: Vec<&str> = ok.header_values(HeaderName::RecordRoute).collect();
        for (i, r) in rr.iter().rev().enumerate() {
            if i > 0 {
                route.push_str(", ");
            }
            route.push_str(r);
        }
        assert!(!route.is_empty(), "the proxy record-routes");
        let in_dialog = |method: &str, cseq: u32, branch: char| {
            let mut b = String::with_capacity(512);
            let _ = write!(
                b,
                "{method} {target} SIP/2.0\r\n\
Via: SIP/2.0/UDP {a_addr};branch=z9hG4bK{n:x}{branch};rport\r\n\
Max-Forwards: 70\r\n\
Route: {route}\r\n\
From: \"Caller {a}\" <sip:{a}@{dom}>;tag=a{n:x}\r\n\
To: {to}\r\n\
Call-ID: {n:x}-call@{ip}\r\n\
CSeq: {cseq} {method}\r\n\
Content-Length: 0\r\n\r\n",
                ip = a_addr.ip(),
            );
            Bytes::from(b)
        };
        let ack = in_dialog("ACK", 1, 'a');
        let bye = in_dialog("BYE", 2, 'b');
        drop(ok);

        self.net.deliver(a_addr, ack);
        let m = self.net.parse(self.net.only(b_addr));
        assert_eq!(m.method(), Some(&Method::Ack));

        self.net.deliver(a_addr, bye);
        let at_callee = self.net.parse(self.net.only(b_addr));
        assert_eq!(at_callee.method(), Some(&Method::Bye));
        let ok = response_to(&mut self.buf, &at_callee, 200, "OK", &b_tag, "", "");
        self.net.deliver(b_addr, ok);
        let m = self.net.parse(self.net.only(a_addr));
        assert_eq!(m.status(), Some(200));
        assert_eq!(m.cseq().seq, 2);

        self.net.advance(STEP);
    }
}

fn main() {
    let mut b = Bench::new();
    // Warm up: one call per pair, so every map has its steady-state size.
    for _ in 0..EXTENSIONS / 2 {
        b.call();
    }
    header(&format!(
        "Proxied calls (UDP, {EXTENSIONS} registered extensions, record-routing, no call auth; \
         one iteration = INVITE/180/200/ACK/BYE/200)"
    ));
    let engine_before = b.net.engine_time;
    let mut iterations = 0u64;
    let mut max_tx = (0, 0);
    let start = Instant::now();
    let report = bench(
        "proxied call (engine + both phones)",
        budget(Duration::from_secs(5)),
        || {
            b.call();
            iterations += 1;
            let c = b.net.engine.transaction_counts();
            max_tx = (max_tx.0.max(c.0), max_tx.1.max(c.1));
        },
    );
    let wall = start.elapsed();
    let engine = b.net.engine_time - engine_before;
    let (mean_ns, engine_ns) = switchboard_bench::engine_share(wall, engine, iterations);
    println!();
    println!(
        "- iterations: {iterations}; mean {:.2} µs/call of which engine {:.2} µs ({:.0}%), \
         phones {:.2} µs",
        mean_ns / 1e3,
        engine_ns / 1e3,
        100.0 * engine_ns / mean_ns,
        (mean_ns - engine_ns) / 1e3
    );
    let c = b.net.engine.counters();
    println!(
        "- successful calls {}; active sessions {}; live transactions now {:?}, max {:?} \
         (server, client); timer-driven transmits {}; virtual time {:.0} s",
        c.successful_calls,
        c.active_sessions,
        b.net.engine.transaction_counts(),
        max_tx,
        b.net.timer_transmits,
        (b.net.now - b.net.start).as_secs_f64()
    );
    println!(
        "- target ≥ 30,000 calls/s: {} (median {:.0}/s)",
        if report.per_second() >= 30_000.0 {
            "met"
        } else {
            "missed"
        },
        report.per_second()
    );
}
