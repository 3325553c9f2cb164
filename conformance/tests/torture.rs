//! RFC 4475 (SIP torture test messages) and RFC 5118 (IPv6 torture test
//! messages) against the whole engine, data-driven.
//!
//! Each message is fed as one UDP datagram from a client address to a fresh
//! engine (domain `example.com`, authentication off, a few extensions, `user`
//! registered at `192.0.2.50:5060`) and the outcome is judged against the
//! table below, which states what the RFC text expects of each message:
//!
//! - **valid** (RFC 4475 §3.1.1, §3.2–§3.4 where the message is well formed;
//!   RFC 5118 §4.1, §4.3–§4.10): the engine handles it — it answers with
//!   something other than 400/505/513, or forwards it; a response message is
//!   never answered (it is forwarded or counted as a stray drop);
//! - **reject** with one of the listed statuses (RFC 4475 §3.1.2, §3.3);
//! - **discard**: nothing is sent back and the drop is counted (responses the
//!   RFC says are "simply discarded": `scalarlg`, `bigcode`);
//! - **either**: the RFC allows rejecting with the listed statuses or handling.
//!
//! Whatever the outcome, draining the engine stays bounded, and after five
//! virtual minutes no transaction or session is left.
//!
//! Files: `core/tests/torture/*.dat` (RFC 4475), plus
//! `conformance/tests/corpus/rfc4475/*.dat` (the RFC 4475 messages the core
//! corpus lacks: `badbranch`, `unksm2`, `invut`, `regescrt`) and
//! `conformance/tests/corpus/rfc5118/*.dat`.

use std::net::SocketAddr;
use std::time::Duration;
use switchboard_conformance::msg::SipView;
use switchboard_conformance::probe::{Probe, statuses_to, transmits};
use switchboard_core::Output;

/// What the RFC expects of a message.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Well formed: handled, never rejected as malformed.
    Valid,
    /// Rejected with one of these statuses.
    Reject(&'static [u16]),
    /// Silently discarded (and counted).
    Discard,
    /// Rejected with one of these statuses, or handled as valid.
    Either(&'static [u16]),
}

use Expect::{Discard, Either, Reject, Valid};

/// Which corpus directory a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// `core/tests/torture`.
    Core,
    /// `conformance/tests/corpus/rfc4475`.
    Extra,
    /// `conformance/tests/corpus/rfc5118`.
    V6,
}

/// (directory, file stem, RFC section, expectation).
const CASES: &[(Dir, &str, &str, Expect)] = &[
    // RFC 4475 §3.1.1: valid messages.
    (Dir::Core, "wsinv", "4475 3.1.1.1", Valid),
    (Dir::Core, "intmeth", "4475 3.1.1.2", Valid),
    (Dir::Core, "esc01", "4475 3.1.1.3", Valid),
    (Dir::Core, "escnull", "4475 3.1.1.4", Valid),
    (Dir::Core, "esc02", "4475 3.1.1.5", Valid),
    (Dir::Core, "lwsdisp", "4475 3.1.1.6", Valid),
    (Dir::Core, "longreq", "4475 3.1.1.7", Valid),
    (Dir::Core, "dblreq", "4475 3.1.1.8", Valid),
    (Dir::Core, "semiuri", "4475 3.1.1.9", Valid),
    (Dir::Core, "transports", "4475 3.1.1.10", Valid),
    (Dir::Core, "mpart01", "4475 3.1.1.11", Valid),
    (Dir::Core, "unreason", "4475 3.1.1.12", Valid),
    (Dir::Core, "noreason", "4475 3.1.1.13", Valid),
    // §3.1.2: invalid messages.
    (Dir::Core, "badinv01", "4475 3.1.2.1", Reject(&[400])),
    (Dir::Core, "clerr", "4475 3.1.2.2", Reject(&[400])),
    (Dir::Core, "ncl", "4475 3.1.2.3", Reject(&[400])),
    (Dir::Core, "scalar02", "4475 3.1.2.4", Reject(&[400])),
    (Dir::Core, "scalarlg", "4475 3.1.2.5", Discard),
    (Dir::Core, "quotbal", "4475 3.1.2.6", Reject(&[400])),
    (Dir::Core, "ltgtruri", "4475 3.1.2.7", Reject(&[400])),
    (Dir::Core, "lwsruri", "4475 3.1.2.8", Reject(&[400])),
    (Dir::Core, "lwsstart", "4475 3.1.2.9", Reject(&[400])),
    (Dir::Core, "trws", "4475 3.1.2.10", Reject(&[400])),
    // "acceptable to reject with 400"; a liberal element may ignore the headers.
    (Dir::Core, "escruri", "4475 3.1.2.11", Either(&[400])),
    // "could reject with 400", or parse leniently and proxy.
    (Dir::Core, "baddate", "4475 3.1.2.12", Either(&[400])),
    (Dir::Core, "regbadct", "4475 3.1.2.13", Reject(&[400])),
    // The RFC expects 400 of an element that parses To/From; a proxy that does
    // not use them must ignore them (RFC 3261 §16.3 step 1), so a 403 for a
    // foreign domain is right too.
    (Dir::Core, "badaspec", "4475 3.1.2.14", Either(&[400])),
    (Dir::Core, "baddn", "4475 3.1.2.15", Either(&[400])),
    (Dir::Core, "badvers", "4475 3.1.2.16", Reject(&[505])),
    (Dir::Core, "mismatch01", "4475 3.1.2.17", Reject(&[400])),
    (
        Dir::Core,
        "mismatch02",
        "4475 3.1.2.18",
        Reject(&[400, 501]),
    ),
    (Dir::Core, "bigcode", "4475 3.1.2.19", Discard),
    // §3.2.1: reject with 400 or fall back to RFC 2543 matching.
    (Dir::Extra, "badbranch", "4475 3.2.1", Either(&[400])),
    // §3.3: application-layer semantics.
    (Dir::Core, "insuf", "4475 3.3.1", Reject(&[400])),
    (Dir::Core, "unkscm", "4475 3.3.2", Reject(&[416])),
    // 416, or forwarded by a proxy that knows how to route the scheme.
    (Dir::Core, "novelsc", "4475 3.3.3", Either(&[416])),
    // A registrar rejects a non-SIP AOR in To with 400.
    (Dir::Extra, "unksm2", "4475 3.3.4", Either(&[400, 416])),
    (Dir::Core, "bext01", "4475 3.3.5", Reject(&[420])),
    // A proxy forwards; a UAS would answer 415.
    (Dir::Extra, "invut", "4475 3.3.6", Valid),
    // Auth off: the registrar ignores the unknown scheme (or challenges, 401).
    (Dir::Core, "regaut01", "4475 3.3.7", Either(&[401])),
    (Dir::Core, "multi01", "4475 3.3.8", Reject(&[400])),
    (Dir::Core, "mcl01", "4475 3.3.9", Reject(&[400])),
    // A response for no transaction of ours, with a broadcast Via: dropped.
    (Dir::Core, "bcast", "4475 3.3.10", Discard),
    (Dir::Core, "zeromf", "4475 3.3.11", Reject(&[483])),
    (Dir::Core, "cparam01", "4475 3.3.12", Valid),
    (Dir::Core, "cparam02", "4475 3.3.13", Valid),
    (Dir::Extra, "regescrt", "4475 3.3.14", Valid),
    // A proxy forwards; a UAS would answer 415.
    (Dir::Core, "sdp01", "4475 3.3.15", Valid),
    // §3.4: an RFC 2543 request is processed.
    (Dir::Core, "inv2543", "4475 3.4.1", Valid),
    // RFC 5118 §4: IPv6.
    (Dir::V6, "ipv6-good", "5118 4.1", Valid),
    (Dir::V6, "ipv6-bad", "5118 4.2", Reject(&[400])),
    (Dir::V6, "port-ambiguous", "5118 4.3", Valid),
    (Dir::V6, "port-unambiguous", "5118 4.4", Valid),
    (Dir::V6, "via-received-param-with-delim", "5118 4.5", Valid),
    (Dir::V6, "via-received-param-no-delim", "5118 4.5", Valid),
    (Dir::V6, "ipv6-in-sdp", "5118 4.6", Valid),
    (Dir::V6, "mult-ip-in-header", "5118 4.7", Valid),
    (Dir::V6, "mult-ip-in-sdp", "5118 4.8", Valid),
    (Dir::V6, "ipv4-mapped-ipv6", "5118 4.9", Valid),
    // Three colons: allowed by RFC 3261's buggy ABNF, not an IPv6 address
    // (corrected by RFC 5954); rejecting it is right, accepting is tolerated.
    (
        Dir::V6,
        "ipv6-bug-abnf-3-colons",
        "5118 4.10",
        Either(&[400]),
    ),
    (Dir::V6, "ipv6-correct-abnf-2-colons", "5118 4.10", Valid),
];

/// Extensions provisioned in every engine (targets of the corpus' requests).
const USERS: &[&str] = &[
    "user", "j.user", "vivekg", "caller", "watson", "alice", "bob", "ted",
];

/// Where `user`'s phone is registered.
const PHONE: &str = "192.0.2.50:5060";

/// Statuses that mean "your message is malformed" (RFC 3261 §21.4.1, §21.5.7, §21.4.24).
const MALFORMED: [u16; 3] = [400, 505, 513];

fn sock(s: &str) -> SocketAddr {
    s.parse().expect("literal socket address")
}

fn load(dir: Dir, name: &str) -> Vec<u8> {
    let sub = match dir {
        Dir::Core => "../core/tests/torture",
        Dir::Extra => "tests/corpus/rfc4475",
        Dir::V6 => "tests/corpus/rfc5118",
    };
    let path = format!("{}/{sub}/{name}.dat", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A fresh engine with [`USERS`] provisioned and `user` registered at [`PHONE`].
fn engine() -> Probe {
    let mut p = Probe::with_users(USERS);
    let reg = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE};branch=z9hG4bKreg1\r\n\
         From: <sip:user@example.com>;tag=r1\r\nTo: <sip:user@example.com>\r\n\
         Call-ID: setup-reg@192.0.2.50\r\nCSeq: 1 REGISTER\r\nContact: <sip:user@{PHONE}>\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    let out = p.datagram(sock(PHONE), reg).expect("setup settles");
    assert_eq!(statuses_to(&out, sock(PHONE)), [200], "setup REGISTER");
    p
}

/// What one message did.
#[derive(Debug)]
struct Observed {
    /// Statuses of responses sent back to the client.
    statuses: Vec<u16>,
    /// Requests sent anywhere else (forwarded), or held for a DNS lookup of
    /// their next hop.
    forwarded: usize,
    /// Increase of `counters().dropped`.
    dropped: u64,
    /// Increase of `counters().malformed_requests`.
    malformed: u64,
    /// Everything sent, for failure messages.
    outputs: Vec<Output>,
}

fn client_for(dir: Dir) -> SocketAddr {
    if dir == Dir::V6 {
        sock("[2001:db8::9:1]:5060")
    } else {
        sock("192.0.2.99:5060")
    }
}

/// Requests sent anywhere but back to `from`. A request whose next hop is a
/// host name is held while the engine asks DNS for it (RFC 3263): that
/// lookup counts as forwarding under way.
fn forwarded_count(outputs: &[Output], from: SocketAddr) -> usize {
    transmits(outputs)
        .filter(|t| t.remote != from && !t.data.starts_with(b"SIP/2.0 "))
        .count()
        + outputs
            .iter()
            .filter(|o| matches!(o, Output::Resolve { .. }))
            .count()
}

fn run_case(p: &mut Probe, dir: Dir, name: &str) -> Observed {
    let from = client_for(dir);
    let before = p.engine().counters();
    let outputs = p
        .datagram(from, load(dir, name))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let after = p.engine().counters();
    let forwarded = forwarded_count(&outputs, from);
    Observed {
        statuses: statuses_to(&outputs, from),
        forwarded,
        dropped: after.dropped - before.dropped,
        malformed: after.malformed_requests - before.malformed_requests,
        outputs,
    }
}

/// Judges one outcome; `Err` says why it is wrong.
fn judge(raw: &[u8], expect: Expect, o: &Observed) -> Result<(), String> {
    let is_response = raw.starts_with(b"SIP/2.0 ");
    let valid = || -> Result<(), String> {
        if let Some(s) = o.statuses.iter().find(|s| MALFORMED.contains(s)) {
            return Err(format!("valid message rejected with {s}"));
        }
        if is_response {
            return if o.statuses.is_empty() {
                Ok(())
            } else {
                Err("a response was answered".into())
            };
        }
        if o.statuses.is_empty() && o.forwarded == 0 {
            return Err("valid request neither answered nor forwarded".into());
        }
        Ok(())
    };
    let reject = |set: &[u16]| -> Result<(), String> {
        match o.statuses.as_slice() {
            [s] if set.contains(s) => Ok(()),
            other => Err(format!("expected one of {set:?}, got {other:?}")),
        }
    };
    match expect {
        Valid => valid(),
        Reject(set) => reject(set),
        Discard => {
            if o.statuses.is_empty() && o.forwarded == 0 && o.dropped == 1 {
                Ok(())
            } else {
                Err(format!(
                    "expected one counted silent drop, got statuses {:?}, {} forwarded, dropped +{}",
                    o.statuses, o.forwarded, o.dropped
                ))
            }
        }
        Either(set) => reject(set).or_else(|e| valid().map_err(|v| format!("{e}; or {v}"))),
    }
}

fn describe(outputs: &[Output]) -> String {
    outputs
        .iter()
        .map(|o| match o {
            Output::Transmit(t) => format!(
                "  -> {} {}\n",
                t.remote,
                String::from_utf8_lossy(&t.data)
                    .lines()
                    .next()
                    .unwrap_or("")
            ),
            other => format!("  {other:?}\n"),
        })
        .collect()
}

#[test]
fn every_torture_message_gets_the_outcome_its_rfc_describes() {
    let mut failures = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    for &(dir, name, section, expect) in CASES {
        let mut p = engine();
        let raw = load(dir, name);
        let o = run_case(&mut p, dir, name);
        match expect {
            Valid => valid += 1,
            _ => invalid += 1,
        }
        if let Err(why) = judge(&raw, expect, &o) {
            failures.push(format!(
                "{name} (RFC {section}): {why}\n{}",
                describe(&o.outputs)
            ));
        }
        // A request rejected for its syntax is counted as malformed; no other is.
        if o.malformed > 0 && !o.statuses.iter().any(|s| MALFORMED.contains(s)) {
            failures.push(format!("{name}: counted malformed without a 4xx/5xx"));
        }
        p.advance(Duration::from_secs(300))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        if p.engine().transaction_counts() != (0, 0) || p.engine().sessions().count() != 0 {
            failures.push(format!(
                "{name}: after 5 minutes transactions {:?}, sessions {}",
                p.engine().transaction_counts(),
                p.engine().sessions().count()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} torture messages misjudged:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
    assert_eq!((valid, invalid), (29, 32), "the table's shape");
}

#[test]
fn the_table_covers_every_corpus_file() {
    for (dir, sub) in [
        (Dir::Core, "../core/tests/torture"),
        (Dir::Extra, "tests/corpus/rfc4475"),
        (Dir::V6, "tests/corpus/rfc5118"),
    ] {
        let path = format!("{}/{sub}", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(&path).unwrap_or_else(|e| panic!("{path}: {e}")) {
            let file = entry.expect("dir entry").path();
            if file.extension().is_none_or(|x| x != "dat") {
                continue;
            }
            let stem = file.file_stem().and_then(|s| s.to_str()).expect("utf-8");
            assert!(
                CASES.iter().any(|&(d, n, _, _)| d == dir && n == stem),
                "{} has no row in the table",
                file.display()
            );
        }
    }
}

fn response_to(o: &Observed, from: SocketAddr) -> SipView {
    let t = transmits(&o.outputs)
        .find(|t| t.remote == from)
        .expect("a response");
    SipView::parse(&t.data).expect("our response parses")
}

#[test]
fn bext01_lists_the_proxy_required_extensions_as_unsupported() {
    let mut p = engine();
    let o = run_case(&mut p, Dir::Core, "bext01");
    let r = response_to(&o, client_for(Dir::Core));
    let unsupported = r.header("Unsupported").expect("Unsupported");
    assert!(
        unsupported.contains("noProxiesSupportThis"),
        "{unsupported}"
    );
    assert!(
        unsupported.contains("norDoAnyProxiesSupportThis"),
        "{unsupported}"
    );
}

#[test]
fn contact_params_and_uri_params_are_told_apart() {
    // cparam01: `;unknownparam` after a bare URI is a contact-param, not part of the URI.
    let mut p = engine();
    let o = run_case(&mut p, Dir::Core, "cparam01");
    assert_eq!(o.statuses, [200]);
    let contacts: Vec<_> = p
        .engine()
        .registrations()
        .filter(|(aor, _)| aor.starts_with("watson@"))
        .map(|(_, b)| b.contact.to_string())
        .collect();
    assert_eq!(contacts, ["sip:+19725552222@gw1.example.net"]);
    // cparam02: inside `<>` it is a URI parameter and stays in the binding.
    let mut p = engine();
    let o = run_case(&mut p, Dir::Core, "cparam02");
    assert_eq!(o.statuses, [200]);
    let contacts: Vec<_> = p
        .engine()
        .registrations()
        .filter(|(aor, _)| aor.starts_with("watson@"))
        .map(|(_, b)| b.contact.to_string())
        .collect();
    assert_eq!(contacts, ["sip:+19725552222@gw1.example.net;unknownparam"]);
}

#[test]
fn regescrt_stores_the_escaped_header_with_the_contact() {
    let mut p = engine();
    let o = run_case(&mut p, Dir::Extra, "regescrt");
    assert_eq!(o.statuses, [200]);
    assert!(
        p.engine()
            .registrations()
            .any(|(_, b)| &*b.contact == "sip:user@example.com?Route=%3Csip:sip.example.com%3E"),
        "escaped header kept"
    );
}

#[test]
fn dblreq_over_udp_handles_only_the_first_request() {
    let mut p = engine();
    let o = run_case(&mut p, Dir::Core, "dblreq");
    assert_eq!(o.statuses, [200], "{}", describe(&o.outputs));
    assert_eq!(
        o.forwarded, 0,
        "the INVITE after the REGISTER is not a message"
    );
}

#[test]
fn valid_requests_are_handled_the_same_over_tcp() {
    // Every valid request with a Content-Length frames on a stream and gets
    // the same answer (or is forwarded the same way) as over UDP.
    for &(dir, name, _, expect) in CASES {
        let raw = load(dir, name);
        if !matches!(expect, Valid) || raw.starts_with(b"SIP/2.0 ") || name == "inv2543" {
            continue; // responses; inv2543 has no Content-Length (RFC 3261 §18.3)
        }
        if name == "dblreq" {
            continue; // two requests on a stream; judged in its own test
        }
        let mut udp = engine();
        let by_udp = run_case(&mut udp, dir, name);
        let mut tcp = engine();
        let from = client_for(Dir::Core);
        let (conn, _) = tcp.open_tcp(from).expect("settles");
        let mut outputs = Vec::new();
        for chunk in raw.chunks(61) {
            outputs.extend(tcp.stream(conn, chunk.to_vec()).expect("settles"));
        }
        let by_tcp = statuses_to(&outputs, from);
        let forwarded = forwarded_count(&outputs, from);
        assert_eq!(
            (by_tcp, forwarded > 0),
            (by_udp.statuses.clone(), by_udp.forwarded > 0),
            "{name} over TCP\n{}",
            describe(&outputs)
        );
    }
}

#[test]
fn a_malformed_ack_is_dropped_not_answered() {
    // insuf's defect (no From) on an ACK, and badinv01's (empty Via elements):
    // an ACK never gets a response (RFC 3261 §17), so both are counted drops.
    for ack in [
        "ACK sip:user@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.99;branch=z9hG4bKa1\r\nTo: <sip:user@example.com>;tag=x\r\nCall-ID: a1\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        "ACK sip:user@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.99;;,;,,\r\nFrom: <sip:caller@example.net>;tag=1\r\nTo: <sip:user@example.com>;tag=x\r\nCall-ID: a2\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    ] {
        let mut p = engine();
        let from = sock("192.0.2.99:5060");
        let before = p.engine().counters();
        let out = p.datagram(from, ack).expect("settles");
        let after = p.engine().counters();
        assert!(transmits(&out).next().is_none(), "{}", describe(&out));
        assert_eq!(after.dropped - before.dropped, 1);
        assert_eq!(after.malformed_requests, before.malformed_requests);
    }
}
