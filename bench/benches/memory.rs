//! Engine memory per registered contact (RFC 3261 §10.3 location service).
//!
//! Provisions 100,000 extensions, registers each with one contact over UDP
//! (REGISTER → 200, authentication off so setup is quick: the binding stored
//! is the same either way, and digest state is per nonce, not per contact),
//! one every 30 ms of virtual time (so Timer J, 64·T1 = 32 s, retires the
//! completed REGISTER transactions as it goes and about 1,100 are live at any
//! time), then lets virtual time pass Timer J so only the bindings remain.
//!
//! Memory is measured two ways:
//! - a counting global allocator (live heap bytes, exact, allocator overhead
//!   not included), installed in this benchmark binary only;
//! - the process's resident set size from `/proc/self/statm` (includes
//!   allocator overhead and fragmentation; freed memory is not returned).
//!
//! `taskset -c 1 cargo bench -p switchboard-bench --bench memory`

// A `GlobalAlloc` needs an `unsafe impl`; the workspace forbids unsafe code
// everywhere else (the bench crate lowers it to `deny` just so this one file
// can opt in). The impl only forwards to `System` and counts bytes.
#![allow(unsafe_code)]

use bytes::Bytes;
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use switchboard_bench::rss_bytes;
use switchboard_bench::sim::{self, Net};
use switchboard_core::Command;
use switchboard_core::auth::Ha1Set;
use switchboard_core::registrar::Extension;

/// Forwards to the system allocator and keeps the number of live bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; the counter is a side effect.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Contacts registered.
const CONTACTS: u32 = 100_000;
/// Virtual time between REGISTERs.
const STEP: Duration = Duration::from_millis(30);

fn live() -> i64 {
    LIVE.load(Ordering::Relaxed) as i64
}

fn rss() -> i64 {
    rss_bytes().map_or(0, |b| b as i64)
}

fn main() {
    let start = Instant::now();
    let mut cfg = sim::config();
    cfg.register_auth = false;
    let (heap0, rss0) = (live(), rss());
    let mut net = Net::new(cfg, start);
    let (heap1, rss1) = (live(), rss());

    for i in 0..CONTACTS {
        let user = sim::username(i);
        let ha1 = Ha1Set::from_password(&user, sim::DOMAIN, "secret-password");
        let ext = Extension::new(user, ha1.md5, ha1.sha256);
        net.engine
            .handle_command(start, Command::UpsertExtension(ext))
            .expect("valid extension");
    }
    let (heap2, rss2) = (live(), rss());

    let mut buf = String::with_capacity(1024);
    let t = Instant::now();
    for i in 0..CONTACTS {
        let addr = sim::ua_addr(i);
        let user = sim::username(i);
        buf.clear();
        let _ = write!(
            buf,
            "REGISTER sip:{dom} SIP/2.0\r\n\
Via: SIP/2.0/UDP {addr};branch=z9hG4bKm{i};rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:{user}@{dom}>;tag=m{i}\r\n\
To: <sip:{user}@{dom}>\r\n\
Call-ID: mem{i}@{ip}\r\n\
CSeq: 1 REGISTER\r\n\
Contact: <sip:{user}@{addr};transport=udp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-{i:012X}>\"\r\n\
Expires: 3600\r\n\
User-Agent: Softphone/8.1.2 (Linux)\r\n\
Content-Length: 0\r\n\r\n",
            dom = sim::DOMAIN,
            ip = addr.ip(),
        );
        net.deliver(addr, Bytes::copy_from_slice(buf.as_bytes()));
        let m = net.parse(net.only(addr));
        assert_eq!(m.status(), Some(200), "registration failed");
        // 30 ms of virtual time per REGISTER (100,000 take 3,000 s, inside the
        // 3,600 s expiry): Timer J retires transactions as we go, so about
        // 1,100 are live at any time and RSS mostly measures the bindings.
        net.advance(STEP);
    }
    let took = t.elapsed();
    net.sent.clear();
    net.sent.shrink_to_fit();
    let (heap3, rss3) = (live(), rss());
    let live_tx = net.engine.transaction_counts();

    // Let Timer J retire the completed REGISTER transactions (UDP: 64·T1 = 32 s).
    for _ in 0..40 {
        net.advance(Duration::from_secs(1));
    }
    let (heap4, rss4) = (live(), rss());
    let after_tx = net.engine.transaction_counts();
    let c = net.engine.counters();
    assert_eq!(c.active_registrations, CONTACTS as u64);

    let per = |a: i64, b: i64| (b - a) as f64 / CONTACTS as f64;
    let n = CONTACTS;
    println!(
        "\n### Engine memory ({n} extensions, one UDP contact each, registered without auth)\n"
    );
    println!("| stage | live heap (counting allocator) | RSS |");
    println!("| --- | --- | --- |");
    let mib = |b: i64| b as f64 / (1024.0 * 1024.0);
    println!(
        "| empty engine | {:.2} MiB | {:.1} MiB |",
        mib(heap1 - heap0),
        mib(rss1 - rss0)
    );
    println!(
        "| + {n} extensions provisioned | +{:.0} B/extension | +{:.0} B/extension |",
        per(heap1, heap2),
        per(rss1, rss2)
    );
    println!(
        "| + {n} contacts registered, transactions still live {live_tx:?} | +{:.0} B/contact | +{:.0} B/contact |",
        per(heap2, heap3),
        per(rss2, rss3)
    );
    println!(
        "| after Timer J, transactions {after_tx:?}: **per contact** | **{:.0} B/contact** | {:.0} B/contact (RSS does not shrink after frees) |",
        per(heap2, heap4),
        per(rss2, rss4)
    );
    println!(
        "| whole engine (extension + contact) | {:.0} B/user | {:.0} B/user |",
        per(heap1, heap4),
        per(rss1, rss4)
    );
    println!();
    println!(
        "- {n} unauthenticated REGISTERs in {:.2} s ({:.0}/s, one pass, includes the phone side)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    let per_contact = per(heap2, heap4);
    println!(
        "- target ≤ 1 KiB per contact: {} ({per_contact:.0} B counted heap)",
        if per_contact <= 1024.0 {
            "met"
        } else {
            "missed"
        }
    );
}
