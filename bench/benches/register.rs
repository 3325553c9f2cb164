//! Digest-authenticated REGISTER transactions per second, in process (RFC 3261
//! §10.2, §22.2; RFC 3665 §2.1; RFC 8760 SHA-256 digest).
//!
//! One iteration is one complete authenticated registration refresh of one
//! extension, as a phone does it:
//!
//! 1. REGISTER without credentials → the engine answers 401; the phone parses
//!    it and picks the SHA-256 `WWW-Authenticate` challenge;
//! 2. the phone computes its answer (`auth::respond` from its stored HA1) and
//!    sends REGISTER with `Authorization` → the engine verifies it, refreshes
//!    the binding and answers 200; the phone parses the 200.
//!
//! 10,000 extensions are provisioned and registered once before measuring;
//! iterations cycle through them, so every REGISTER looks up a 10,000-entry
//! directory and binding table. Virtual time moves 1 ms per iteration (an
//! offered load of 1,000 registrations/s) and the engine's timers fire as they
//! fall due, so Timer J retires the UDP server transactions after 32 s of
//! virtual time and the live-transaction count stays bounded.
//!
//! The engine-only figure is the time spent inside `Engine::handle_input` and
//! draining `Engine::poll_output`, measured with the monotonic clock around
//! those calls in every iteration (the rest is the phone's work: building the
//! requests, parsing the answers, computing the digest).
//!
//! `taskset -c 1 cargo bench -p switchboard-bench --bench register`

use bytes::Bytes;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use switchboard_bench::sim::{self, Net};
use switchboard_bench::{bench, budget, header};
use switchboard_core::Command;
use switchboard_core::auth::{Ha1Set, Secret, pick_challenge, respond};
use switchboard_core::registrar::Extension;
use switchboard_core::sip::HeaderName;

/// Extensions provisioned and cycled through.
const EXTENSIONS: u32 = 10_000;
/// Virtual time per iteration.
const STEP: Duration = Duration::from_millis(1);

/// One phone.
struct Phone {
    user: String,
    addr: SocketAddr,
    ha1: Ha1Set,
    cseq: u32,
}

/// The benchmark's state: engine, phones and scratch buffers.
struct Bench {
    net: Net,
    phones: Vec<Phone>,
    next: usize,
    serial: u64,
    buf: String,
}

impl Bench {
    fn new() -> Self {
        let start = Instant::now();
        let mut net = Net::new(sim::config(), start);
        let mut phones = Vec::with_capacity(EXTENSIONS as usize);
        for i in 0..EXTENSIONS {
            let user = sim::username(i);
            let ha1 = Ha1Set::from_password(&user, sim::DOMAIN, "secret-password");
            let ext = Extension::new(user.clone(), ha1.md5.clone(), ha1.sha256.clone());
            net.engine
                .handle_command(start, Command::UpsertExtension(ext))
                .expect("valid extension");
            phones.push(Phone {
                user,
                addr: sim::ua_addr(i),
                ha1,
                cseq: 0,
            });
        }
        Self {
            net,
            phones,
            next: 0,
            serial: 0,
            buf: String::with_capacity(1024),
        }
    }

    fn request(&mut self, idx: usize, auth: Option<&str>) -> Bytes {
        self.serial += 1;
        let p = &mut self.phones[idx];
        p.cseq += 1;
        let b = &mut self.buf;
        b.clear();
        let _ = write!(
            b,
            "REGISTER sip:{dom} SIP/2.0\r\n\
Via: SIP/2.0/UDP {addr};branch=z9hG4bK{serial:x}r;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:{user}@{dom}>;tag=t{user}\r\n\
To: <sip:{user}@{dom}>\r\n\
Call-ID: reg-{user}@{ip}\r\n\
CSeq: {cseq} REGISTER\r\n\
Contact: <sip:{user}@{addr};transport=udp>\r\n",
            dom = sim::DOMAIN,
            addr = p.addr,
            ip = p.addr.ip(),
            serial = self.serial,
            user = p.user,
            cseq = p.cseq,
        );
        if let Some(a) = auth {
            let _ = write!(b, "Authorization: {a}\r\n");
        }
        b.push_str(
            "Expires: 3600\r\n\
User-Agent: Softphone/8.1.2 (Linux)\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY, MESSAGE\r\n\
Content-Length: 0\r\n\r\n",
        );
        Bytes::copy_from_slice(b.as_bytes())
    }

    /// One authenticated registration: REGISTER → 401 → REGISTER+Authorization → 200.
    fn iteration(&mut self) {
        let idx = self.next;
        self.next = (self.next + 1) % self.phones.len();
        let addr = self.phones[idx].addr;

        let first = self.request(idx, None);
        self.net.deliver(addr, first);
        let challenge = {
            let m = self.net.parse(self.net.only(addr));
            assert_eq!(m.status(), Some(401), "expected a challenge");
            pick_challenge(m.header_values(HeaderName::WwwAuthenticate))
                .expect("the 401 carries a usable challenge")
        };
        let mut cnonce = String::with_capacity(16);
        let _ = write!(
            cnonce,
            "{:016x}",
            self.serial.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
        let p = &self.phones[idx];
        let creds = respond(
            &challenge,
            "REGISTER",
            "sip:example.com",
            &p.user,
            Secret::Ha1(&p.ha1),
            &cnonce,
            1,
        )
        .to_string();

        let second = self.request(idx, Some(&creds));
        self.net.deliver(addr, second);
        let m = self.net.parse(self.net.only(addr));
        assert_eq!(
            m.status(),
            Some(200),
            "expected the registration to succeed"
        );
        self.net.advance(STEP);
    }
}

fn main() {
    let mut b = Bench::new();
    // Register every extension once, so the measured loop refreshes bindings
    // in a full table (the steady state of a running registrar).
    for _ in 0..EXTENSIONS {
        b.iteration();
    }
    assert_eq!(
        b.net.engine.counters().active_registrations,
        EXTENSIONS as u64
    );

    header(&format!(
        "Authenticated REGISTER (UDP, SHA-256 digest, {EXTENSIONS} extensions cycling; \
         one iteration = REGISTER→401 + REGISTER/Authorization→200)"
    ));
    let engine_before = b.net.engine_time;
    let mut iterations = 0u64;
    let mut max_tx = (0, 0);
    let start = Instant::now();
    let report = bench(
        "authenticated REGISTER (engine + phone)",
        budget(Duration::from_secs(5)),
        || {
            b.iteration();
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
        "- iterations: {iterations}; mean {:.2} µs/iteration of which engine {:.2} µs ({:.0}%), \
         phone {:.2} µs",
        mean_ns / 1e3,
        engine_ns / 1e3,
        100.0 * engine_ns / mean_ns,
        (mean_ns - engine_ns) / 1e3
    );
    let c = b.net.engine.counters();
    println!(
        "- bindings {}; live transactions now {:?}, max {:?} (server, client); \
         timer-driven transmits {}; virtual time {:.0} s",
        c.active_registrations,
        b.net.engine.transaction_counts(),
        max_tx,
        b.net.timer_transmits,
        (b.net.now - b.net.start).as_secs_f64()
    );
    println!(
        "- target ≥ 100,000 authenticated REGISTER/s: {} (median {:.0}/s)",
        if report.per_second() >= 100_000.0 {
            "met"
        } else {
            "missed"
        },
        report.per_second()
    );
}
