//! Property tests over the whole engine (proptest).
//!
//! (a) **Robustness**: arbitrary bytes, SIP-looking noise and mutated valid
//! messages (bit flips, truncations, duplicated and deleted lines, inserted
//! bytes) fed as UDP datagrams and as TCP stream chunks with random splits
//! never panic, and after each input draining `poll_output` settles within
//! [`MAX_OUTPUTS_PER_INPUT`] outputs (the [`Probe`] enforces the bound).
//! RFC 3261 §18.3 framing and §7 parsing are the code under stress.
//!
//! (b) **write∘parse round trip**: requests and responses generated from
//! small grammars (method, Request-URI, status, header names and values,
//! binary bodies) and written with `RequestBuilder` or as text parse back
//! with `Message::parse` to exactly what was written (RFC 3261 §7, §20).
//!
//! (c) **No transaction outlives its timers**: a call from one registered
//! user to another through the proxy, over a lossy, reordering network (UAs
//! with RFC 3261 §17.1.1 / §17.2.1 retransmission), always ends for the caller
//! in a final response or a Timer B timeout, and five virtual minutes after
//! the last activity the engine holds no transaction and no session.
//!
//! Case counts are modest so the crate's tests stay fast in debug builds.

use bytes::Bytes;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;
use switchboard_conformance::prng::SplitMix64;
use switchboard_conformance::probe::{MAX_OUTPUTS_PER_INPUT, Probe, statuses_to, test_config};
use switchboard_core::sip::{HeaderName, Limits, Message, Method, RequestBuilder, ResponseBuilder};

fn sock(s: &str) -> SocketAddr {
    s.parse().expect("literal socket address")
}

const ALICE: &str = "192.0.2.101:5060";
const BOB: &str = "192.0.2.102:5060";

fn register(p: &mut Probe, user: &str, at: &str) {
    let msg = format!(
        "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP {at};branch=z9hG4bKreg{user}\r\n\
         From: <sip:{user}@example.com>;tag=r{user}\r\nTo: <sip:{user}@example.com>\r\n\
         Call-ID: reg-{user}\r\nCSeq: 1 REGISTER\r\nContact: <sip:{user}@{at}>\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    let out = p.datagram(sock(at), msg).expect("registration settles");
    assert_eq!(statuses_to(&out, sock(at)), [200], "REGISTER {user}");
}

/// An engine with alice and bob provisioned and registered.
fn two_users(cfg: switchboard_core::Config) -> Probe {
    let mut p = Probe::new(cfg, &["alice", "bob", "user"]);
    register(&mut p, "alice", ALICE);
    register(&mut p, "bob", BOB);
    p
}

// ---------------------------------------------------------------------------
// (a) robustness

/// Valid (and torture) messages to mutate.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut out = Vec::new();
        for sub in [
            "../core/tests/torture",
            "tests/corpus/rfc4475",
            "tests/corpus/rfc5118",
        ] {
            let dir = format!("{}/{sub}", env!("CARGO_MANIFEST_DIR"));
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("{dir}: {e}"))
                .map(|e| e.expect("dir entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "dat"))
                .collect();
            files.sort();
            out.extend(files.iter().map(|f| std::fs::read(f).expect("readable")));
        }
        let invite = "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKs1;rport\r\nMax-Forwards: 70\r\nFrom: \"Alice\" <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\nCall-ID: seed-1@192.0.2.101\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.101:5060>\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n";
        out.push(invite.as_bytes().to_vec());
        let resp = "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKs1\r\nFrom: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b1\r\nCall-ID: seed-1@192.0.2.101\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
        out.push(resp.as_bytes().to_vec());
        out
    })
}

/// One change to a message.
#[derive(Debug, Clone)]
enum Mutation {
    /// Flip bit `1` of the byte at index `0` (mod length).
    Flip(usize, u8),
    /// Keep only the first `0` bytes (mod length + 1).
    Truncate(usize),
    /// Duplicate line `0` (mod line count).
    DupLine(usize),
    /// Delete line `0` (mod line count).
    DropLine(usize),
    /// Insert bytes at index `0` (mod length + 1).
    Insert(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::DupLine),
        any::<usize>().prop_map(Mutation::DropLine),
        (
            any::<usize>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..8),
                prop::sample::select(vec![
                    b"\r\n".to_vec(),
                    b",".to_vec(),
                    b";".to_vec(),
                    b"\r\n ".to_vec(),
                    b"\0".to_vec(),
                    b"%".to_vec(),
                    b"<".to_vec(),
                    b"\"".to_vec(),
                    b"[".to_vec(),
                    b":99999999999".to_vec(),
                ]),
            ]
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
    ]
}

fn lines(msg: &[u8]) -> Vec<&[u8]> {
    msg.split_inclusive(|&b| b == b'\n').collect()
}

fn apply(msg: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Flip(i, bit) => {
            if !msg.is_empty() {
                let i = i % msg.len();
                msg[i] ^= 1 << bit;
            }
        }
        Mutation::Truncate(n) => msg.truncate(n % (msg.len() + 1)),
        Mutation::DupLine(i) | Mutation::DropLine(i) => {
            let ls = lines(msg);
            if ls.is_empty() {
                return;
            }
            let k = i % ls.len();
            let mut out = Vec::with_capacity(msg.len() * 2);
            for (j, l) in ls.iter().enumerate() {
                if j != k || matches!(m, Mutation::DupLine(_)) {
                    out.extend_from_slice(l);
                }
                if j == k && matches!(m, Mutation::DupLine(_)) {
                    out.extend_from_slice(l);
                }
            }
            *msg = out;
        }
        Mutation::Insert(i, bytes) => {
            let i = i % (msg.len() + 1);
            msg.splice(i..i, bytes.iter().copied());
        }
    }
}

fn mutated_message() -> impl Strategy<Value = Vec<u8>> {
    (0..seeds().len(), prop::collection::vec(mutation(), 1..5)).prop_map(|(i, ms)| {
        let mut m = seeds()[i].clone();
        for x in &ms {
            apply(&mut m, x);
        }
        m
    })
}

/// Noise built from SIP's own tokens, which gets further into the parser than random bytes.
fn sip_noise() -> impl Strategy<Value = Vec<u8>> {
    let atoms = prop::sample::select(vec![
        "INVITE ",
        "REGISTER ",
        "ACK ",
        "CANCEL ",
        "BYE ",
        "SIP/2.0",
        "SIP/2.0 200 OK",
        "\r\n",
        "\r\n\r\n",
        " ",
        "\t",
        "sip:",
        "sips:",
        "tel:",
        "alice@example.com",
        "[2001:db8::1]",
        ":5060",
        ";branch=z9hG4bK1",
        ";tag=x",
        ";lr",
        "Via: SIP/2.0/UDP 192.0.2.9",
        "v: SIP/2.0/TCP h",
        "From: ",
        "To: ",
        "Call-ID: c",
        "CSeq: 1 INVITE",
        "CSeq: 99999999999 ACK",
        "Max-Forwards: ",
        "Content-Length: ",
        "l: 5",
        "Content-Length: 4294967296",
        "Route: <sip:192.0.2.1;lr>",
        "Contact: *",
        "Expires: 0",
        "<",
        ">",
        ",",
        "\"",
        "\\",
        "%00",
        "0",
        "70",
    ]);
    prop::collection::vec(atoms, 0..60).prop_map(|v| v.concat().into_bytes())
}

fn any_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..1500),
        sip_noise(),
        mutated_message(),
        mutated_message(),
    ]
}

/// One step of a robustness run.
#[derive(Debug, Clone)]
enum Step {
    /// A datagram from one of a few sources.
    Datagram(u8, Vec<u8>),
    /// Bytes on a TCP connection, cut at these points (as fractions of 256).
    Stream(u8, Vec<u8>, Vec<u8>),
    /// Close TCP connection `0`.
    Close(u8),
    /// Let this many milliseconds pass, firing timers.
    Advance(u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..3, any_input()).prop_map(|(s, d)| Step::Datagram(s, d)),
        3 => (0u8..2, any_input(), prop::collection::vec(any::<u8>(), 0..6))
            .prop_map(|(c, d, cuts)| Step::Stream(c, d, cuts)),
        1 => (0u8..2).prop_map(Step::Close),
        1 => (0u32..70_000).prop_map(Step::Advance),
    ]
}

const SOURCES: [&str; 3] = [ALICE, BOB, "[2001:db8::9:1]:5062"];

fn run_steps(steps: &[Step]) -> Result<(), TestCaseError> {
    let mut p = two_users(test_config());
    let mut conns: BTreeMap<u8, switchboard_core::ConnId> = BTreeMap::new();
    for s in steps {
        let r = match s {
            Step::Datagram(src, data) => p
                .datagram(sock(SOURCES[usize::from(*src) % 3]), data.clone())
                .map(drop),
            Step::Stream(c, data, cuts) => {
                let conn = match conns.get(c) {
                    Some(conn) => *conn,
                    None => {
                        let from = sock(if *c == 0 { ALICE } else { BOB });
                        let (conn, _) = p
                            .open_tcp(from)
                            .map_err(|e| TestCaseError::fail(e.to_string()))?;
                        conns.insert(*c, conn);
                        conn
                    }
                };
                let mut points: Vec<usize> = cuts
                    .iter()
                    .map(|x| usize::from(*x) * data.len() / 256)
                    .collect();
                points.push(data.len());
                points.sort_unstable();
                let mut at = 0;
                let mut res = Ok(());
                for end in points {
                    if end > at {
                        res = res.and(p.stream(conn, data[at..end].to_vec()).map(drop));
                        at = end;
                    }
                }
                res
            }
            Step::Close(c) => match conns.remove(c) {
                Some(conn) => p.close(conn).map(drop),
                None => Ok(()),
            },
            Step::Advance(ms) => p.advance(Duration::from_millis(u64::from(*ms))).map(drop),
        };
        r.map_err(|e| TestCaseError::fail(format!("{e} after {s:?}")))?;
    }
    // Whatever happened, every timer eventually runs out.
    p.advance(Duration::from_secs(3 * 3600))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// (a) Arbitrary inputs, in any order, on UDP and TCP: no panic, bounded drains.
    #[test]
    fn engine_survives_arbitrary_and_mutated_input(steps in prop::collection::vec(step(), 1..8)) {
        run_steps(&steps)?;
    }

    /// (a) Every mutation of every seed message, as one datagram and as a split stream.
    #[test]
    fn engine_survives_each_mutated_seed(msg in mutated_message(), cut in any::<usize>()) {
        let mut p = two_users(test_config());
        p.datagram(sock(ALICE), msg.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let (conn, _) = p.open_tcp(sock(BOB)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let cut = cut % (msg.len() + 1);
        p.stream(conn, msg[..cut].to_vec()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        p.stream(conn, msg[cut..].to_vec()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        p.advance(Duration::from_secs(600)).map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

#[test]
fn the_drain_bound_is_the_documented_one() {
    assert_eq!(MAX_OUTPUTS_PER_INPUT, 10_000);
}

// ---------------------------------------------------------------------------
// (b) write∘parse round trip

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!%*_+`'~.-]{1,10}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,6}(\\.[a-z]{2,5}){0,2}",
        (1u8..255, 0u8..255, 1u8..255).prop_map(|(a, b, c)| format!("192.{a}.{b}.{c}")),
        (1u16..0xffff).prop_map(|n| format!("[2001:db8::{n:x}]")),
    ]
}

fn sip_uri() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["sip", "sips"]),
        prop::option::of("[a-z0-9][a-z0-9.+_-]{0,10}"),
        host(),
        prop::option::of(1u16..65535),
        prop::collection::vec(
            prop::sample::select(vec![";lr", ";transport=tcp", ";user=phone", ";x=y", ";ob"]),
            0..3,
        ),
    )
        .prop_map(|(scheme, user, host, port, params)| {
            let user = user.map(|u| format!("{u}@")).unwrap_or_default();
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            format!("{scheme}:{user}{host}{port}{}", params.concat())
        })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        prop::sample::select(vec![
            "INVITE",
            "ACK",
            "BYE",
            "CANCEL",
            "OPTIONS",
            "REGISTER",
            "MESSAGE",
            "SUBSCRIBE",
            "NOTIFY",
            "INFO",
        ])
        .prop_map(String::from),
        "[A-Z][A-Za-z0-9._!%*+`'~-]{0,11}",
    ]
    .prop_map(|m| Method::parse(&m).expect("a token is a method"))
}

/// Header values from a small grammar: words, quoted strings, URIs in `<>`,
/// parameters, commas — never CR/LF, never leading or trailing whitespace.
fn value() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        token(),
        sip_uri().prop_map(|u| format!("<{u}>")),
        "\"[a-zA-Z0-9 ,;:]{0,10}\"",
        token().prop_map(|t| format!("{t};p={t}")),
        Just(",".to_owned()),
        Just("*".to_owned()),
    ];
    prop::collection::vec(word, 1..5).prop_map(|w| w.join(" "))
}

/// Extra headers: known names (long form) and extension names.
fn extra_header() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        prop::sample::select(vec![
            "Subject",
            "Contact",
            "Route",
            "Record-Route",
            "Accept",
            "Allow",
            "Supported",
            "User-Agent",
            "Organization",
            "Expires",
        ])
        .prop_map(String::from),
        "X-[A-Za-z0-9-]{1,10}",
    ];
    (name, value())
}

fn body() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::of(prop::collection::vec(any::<u8>(), 0..300))
}

/// Every header line of `m`, as (name as written, value).
fn all_headers(m: &Message) -> Vec<(String, String)> {
    m.headers()
        .iter()
        .map(|h| (m.name_text(h).to_owned(), m.value_text(h).to_owned()))
        .collect()
}

fn core_headers(method: &Method, seq: u32, mf: u8, tag: &str) -> Vec<(String, String)> {
    vec![
        (
            "Via".into(),
            format!("SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK{tag}"),
        ),
        ("Max-Forwards".into(), mf.to_string()),
        ("From".into(), format!("<sip:alice@example.com>;tag={tag}")),
        ("To".into(), "<sip:bob@example.com>".into()),
        ("Call-ID".into(), format!("{tag}@192.0.2.101")),
        ("CSeq".into(), format!("{seq} {method}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// (b) Requests written by `RequestBuilder` parse back exactly.
    #[test]
    fn built_requests_parse_back_exactly(
        method in method(),
        uri in sip_uri(),
        seq in 0u32..(1 << 31),
        mf in any::<u8>(),
        tag in "[a-z0-9]{1,12}",
        extra in prop::collection::vec(extra_header(), 0..6),
        body in body(),
    ) {
        let mut headers = core_headers(&method, seq, mf, &tag);
        headers.extend(extra);
        let mut b = RequestBuilder::new(&method, &uri);
        for (n, v) in &headers {
            b = b.header_raw(n, v);
        }
        if let Some(body) = &body {
            b = b.body("application/octet-stream", body);
            headers.push(("Content-Type".into(), "application/octet-stream".into()));
        }
        headers.push((
            "Content-Length".into(),
            body.as_ref().map_or(0, Vec::len).to_string(),
        ));
        let wire = b.build();
        let m = Message::parse(wire.clone(), &Limits::default())
            .map_err(|e| TestCaseError::fail(format!("{e:?} for\n{}", String::from_utf8_lossy(&wire))))?;
        prop_assert!(m.is_request());
        prop_assert_eq!(m.method(), Some(&method));
        prop_assert_eq!(m.request_uri(), Some(uri.as_str()));
        prop_assert_eq!(all_headers(&m), headers.clone());
        // Typed access agrees with the lines.
        for name in [HeaderName::Via, HeaderName::Contact, HeaderName::Route, HeaderName::Subject] {
            let want: Vec<&str> = headers
                .iter()
                .filter(|(n, _)| HeaderName::parse(n) == name)
                .map(|(_, v)| v.as_str())
                .collect();
            prop_assert_eq!(m.header_values(name).collect::<Vec<_>>(), want);
        }
        prop_assert_eq!((m.cseq().seq, &m.cseq().method), (seq, &method));
        prop_assert_eq!(m.max_forwards(), Ok(Some(mf)));
        prop_assert_eq!(m.call_id(), format!("{tag}@192.0.2.101"));
        prop_assert_eq!(m.from_tag(), Some(tag.as_str()));
        let branch = format!("z9hG4bK{tag}");
        prop_assert_eq!(m.top_via_branch(), Some(branch.as_str()));
        prop_assert_eq!(&m.body()[..], body.as_deref().unwrap_or_default());
    }

    /// (b) Responses written as text parse back exactly, and a response built
    /// by `ResponseBuilder` from a parsed request echoes its dialog headers.
    #[test]
    fn written_responses_parse_back_exactly(
        status in 100u16..700,
        reason in "[A-Za-z][A-Za-z0-9 .,'!-]{0,20}",
        method in method(),
        seq in 0u32..(1 << 31),
        tag in "[a-z0-9]{1,12}",
        extra in prop::collection::vec(extra_header(), 0..6),
        body in body(),
    ) {
        let reason = reason.trim_end().to_owned();
        let mut headers = core_headers(&method, seq, 70, &tag);
        headers.retain(|(n, _)| n != "Max-Forwards");
        headers.extend(extra);
        let body = body.unwrap_or_default();
        headers.push(("Content-Length".into(), body.len().to_string()));
        let mut text = format!("SIP/2.0 {status} {reason}\r\n").into_bytes();
        for (n, v) in &headers {
            text.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        text.extend_from_slice(b"\r\n");
        text.extend_from_slice(&body);
        let m = Message::parse(Bytes::from(text.clone()), &Limits::default())
            .map_err(|e| TestCaseError::fail(format!("{e:?} for\n{}", String::from_utf8_lossy(&text))))?;
        prop_assert!(!m.is_request());
        prop_assert_eq!(m.status(), Some(status));
        prop_assert_eq!(m.reason(), Some(reason.as_str()));
        prop_assert_eq!(all_headers(&m), headers);
        prop_assert_eq!(&m.body()[..], &body[..]);

        // The response a server would build to the matching request.
        let req = RequestBuilder::new(&method, "sip:bob@example.com");
        let req = core_headers(&method, seq, 70, &tag)
            .iter()
            .fold(req, |b, (n, v)| b.header_raw(n, v))
            .build();
        let req = Message::parse(req, &Limits::default()).expect("built request parses");
        let resp = ResponseBuilder::for_request(&req, status, &reason).to_tag("srv").build();
        let r = Message::parse(resp, &Limits::default())
            .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(r.status(), Some(status));
        prop_assert_eq!(r.call_id(), req.call_id());
        prop_assert_eq!(r.from_tag(), req.from_tag());
        prop_assert_eq!(r.to_tag(), Some("srv"));
        prop_assert_eq!(r.top_via_value(), req.top_via_value());
        prop_assert_eq!((r.cseq().seq, &r.cseq().method), (seq, &method));
    }
}

// ---------------------------------------------------------------------------
// (c) calls under loss

#[path = "properties/call.rs"]
mod call;

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// (c) A call between two registered users under random loss ends for the
    /// caller, and five minutes later the engine holds nothing.
    #[test]
    fn lossy_calls_end_and_leave_no_transaction_behind(
        seed in any::<u64>(),
        loss in 0.0f64..0.4,
        plan in call::plan(),
        record_route in any::<bool>(),
    ) {
        let mut cfg = test_config();
        cfg.record_route = record_route;
        let mut p = two_users(cfg);
        let report = call::run(&mut p, SplitMix64::new(seed), loss, plan)
            .map_err(TestCaseError::fail)?;
        prop_assert!(report.caller_outcome.is_some(), "caller never finished: {report:?}");
        prop_assert_eq!(p.engine().transaction_counts(), (0, 0), "{:?}", report);
        // A caller that gave up after a provisional response may have missed a
        // 2xx the engine passed on: the engine saw an answered call whose ACK
        // and BYE never come, and keeps its session (a proxy cannot know the
        // 2xx was lost; session limits end such calls).
        let gave_up = report.caller_outcome == Some(call::Outcome::GaveUp);
        if report.bye_reached_engine || (!report.answered && !gave_up) {
            prop_assert_eq!(p.engine().sessions().count(), 0, "{:?}", report);
        }
    }
}

#[test]
fn a_lossless_answered_call_ends_cleanly() {
    let mut p = two_users(test_config());
    let report = call::run(
        &mut p,
        SplitMix64::new(1),
        0.0,
        call::Plan {
            ring: true,
            answer: Some(200),
            delay_ms: 300,
        },
    )
    .expect("runs");
    assert_eq!(report.caller_outcome, Some(call::Outcome::Final(200)));
    assert!(report.bye_reached_engine && report.bye_answered);
    assert_eq!(p.engine().transaction_counts(), (0, 0));
    assert_eq!(p.engine().sessions().count(), 0);
    assert_eq!(p.engine().counters().successful_calls, 1);
}

#[test]
fn a_silent_callee_ends_in_408_for_the_caller() {
    let mut p = two_users(test_config());
    let report = call::run(
        &mut p,
        SplitMix64::new(2),
        0.0,
        call::Plan {
            ring: false,
            answer: None,
            delay_ms: 0,
        },
    )
    .expect("runs");
    assert_eq!(report.caller_outcome, Some(call::Outcome::Final(408)));
    assert_eq!(p.engine().transaction_counts(), (0, 0));
    assert_eq!(p.engine().sessions().count(), 0);
}

#[test]
fn a_caller_whose_invites_are_all_lost_ends_on_timer_b() {
    let mut p = two_users(test_config());
    let report = call::run(
        &mut p,
        SplitMix64::new(3),
        1.0,
        call::Plan {
            ring: false,
            answer: Some(200),
            delay_ms: 0,
        },
    )
    .expect("runs");
    assert_eq!(report.caller_outcome, Some(call::Outcome::TimerB));
    assert_eq!(p.engine().transaction_counts(), (0, 0));
}

/// A callee that sends 180 and never a final response: RFC 3261 §16.6 step 11
/// and §16.8 require the proxy's Timer C (> 3 min) to CANCEL the branch; the
/// callee's 487 then reaches the caller and every transaction ends.
#[test]
fn a_callee_that_rings_forever_is_cancelled_by_timer_c() {
    let mut p = two_users(test_config());
    let report = call::run(
        &mut p,
        SplitMix64::new(4),
        0.0,
        call::Plan {
            ring: true,
            answer: None,
            delay_ms: 0,
        },
    )
    .expect("runs");
    assert_eq!(report.caller_outcome, Some(call::Outcome::Final(487)));
    assert_eq!(p.engine().transaction_counts(), (0, 0));
}

/// Found by the lossy-call property: with ~39 % loss every 2xx retransmission
/// of the callee is lost on its way to the caller, who had a 100 (Trying) and
/// so no Timer B (§17.1.1.2). The caller gives up; the engine must still hold
/// no transaction once the callee's retransmissions and Timer L are over.
#[test]
fn a_caller_whose_every_2xx_is_lost_gives_up_and_no_transaction_is_left() {
    let mut p = two_users(test_config());
    let report = call::run(
        &mut p,
        SplitMix64::new(5_090_876_392_229_724_311),
        0.390_630_850_845_039_4,
        call::Plan {
            ring: false,
            answer: Some(200),
            delay_ms: 528,
        },
    )
    .expect("the call runs to quiet");
    assert_eq!(
        report.caller_outcome,
        Some(call::Outcome::GaveUp),
        "{report:?}"
    );
    assert_eq!(p.engine().transaction_counts(), (0, 0), "{report:?}");
}
