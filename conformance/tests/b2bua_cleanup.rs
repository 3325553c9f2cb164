//! Calls to UA-type destinations (the B2BUA, issue 4) leave nothing behind:
//! after a failure, a timeout (Timer B on the B leg), a CANCEL, a BYE or idle
//! expiry, the
//! engine holds no B2BUA call, no transaction and no session.

use bytes::Bytes;
use std::net::SocketAddr;
use std::time::Duration;
use switchboard_conformance::probe::{Probe, transmits};
use switchboard_core::Command;
use switchboard_core::routing::{Destination, DestinationKind, Prefix, Route, RoutingConfig};
use switchboard_core::sip::{HeaderName, Limits, Message, ResponseBuilder};

const CALLER: &str = "192.0.2.101:5060";
const GW: &str = "192.0.2.201:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("literal address")
}

fn probe() -> Probe {
    probe_with(switchboard_conformance::probe::test_config())
}

fn probe_with(cfg: switchboard_core::Config) -> Probe {
    let mut p = Probe::new(cfg, &["101"]);
    let mut d = Destination::new("gw", "192.0.2.201");
    d.kind = DestinationKind::UserAgent;
    p.command(Command::ReplaceRouting(RoutingConfig {
        destinations: vec![d],
        routes: vec![Route {
            prefix: Prefix::Digits("7".into()),
            destination: "gw".into(),
            order: 1,
            enabled: true,
        }],
        ..RoutingConfig::default()
    }))
    .expect("valid routing");
    p
}

fn request(method: &str, n: u32, to_tag: Option<&str>, cseq: u32) -> String {
    let (uri, tag) = match to_tag {
        Some(t) => ("sip:b2bua@192.0.2.1:5060".to_owned(), format!(";tag={t}")),
        None => ("sip:7001@example.com".to_owned(), String::new()),
    };
    // A CANCEL repeats its INVITE's branch (RFC 3261 §9.1).
    let branch = if method == "CANCEL" { "INVITE" } else { method };
    format!(
        "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bKc{branch}{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:101@example.com>;tag=a{n}\r\nTo: <sip:7001@example.com>{tag}\r\n\
         Call-ID: b2b-{n}\r\nCSeq: {cseq} {method}\r\nContact: <sip:101@{CALLER}>\r\nContent-Length: 0\r\n\r\n"
    )
}

/// The last message sent to `to` in `out`.
fn last_to(out: &[switchboard_core::Output], to: &str) -> Option<Message> {
    transmits(out)
        .filter(|t| t.remote == addr(to))
        .last()
        .and_then(|t| Message::parse(t.data.clone(), &Limits::default()).ok())
}

fn answer(p: &mut Probe, req: &Message, status: u16) -> Vec<switchboard_core::Output> {
    let bytes: Bytes = ResponseBuilder::for_request(req, status, "X")
        .to_tag("gwtag")
        .header(HeaderName::Contact, format!("<sip:7001@{GW}>"))
        .build();
    p.datagram(addr(GW), bytes).expect("settles")
}

fn assert_clean(p: &mut Probe) {
    p.advance(Duration::from_secs(65)).expect("settles");
    assert_eq!(p.engine().b2bua_calls(), 0, "no B2BUA call left");
    assert_eq!(
        p.engine().transaction_counts(),
        (0, 0),
        "no transaction left"
    );
    assert_eq!(p.engine().sessions().count(), 0, "no session left");
}

#[test]
fn a_failed_b_leg_frees_the_call() {
    let mut p = probe();
    let out = p
        .datagram(addr(CALLER), request("INVITE", 1, None, 1))
        .expect("settles");
    let inv = last_to(&out, GW).expect("a B INVITE");
    assert_eq!(p.engine().b2bua_calls(), 1);
    answer(&mut p, &inv, 486);
    assert_clean(&mut p);
}

#[test]
fn a_b_leg_that_never_answers_ends_by_timer_b() {
    let mut p = probe();
    p.datagram(addr(CALLER), request("INVITE", 2, None, 1))
        .expect("settles");
    assert_eq!(p.engine().b2bua_calls(), 1);
    assert_clean(&mut p);
}

#[test]
fn a_cancelled_call_is_freed() {
    let mut p = probe();
    let out = p
        .datagram(addr(CALLER), request("INVITE", 3, None, 1))
        .expect("settles");
    let inv = last_to(&out, GW).expect("a B INVITE");
    answer(&mut p, &inv, 180);
    let out = p
        .datagram(addr(CALLER), request("CANCEL", 3, None, 1))
        .expect("settles");
    let cancel = last_to(&out, GW).expect("CANCEL on the B leg");
    answer(&mut p, &cancel, 200);
    answer(&mut p, &inv, 487);
    assert_clean(&mut p);
}

#[test]
fn a_hung_up_call_is_freed_and_a_2xx_after_cancel_is_hung_up() {
    let mut p = probe();
    let out = p
        .datagram(addr(CALLER), request("INVITE", 4, None, 1))
        .expect("settles");
    let inv = last_to(&out, GW).expect("a B INVITE");
    let out = answer(&mut p, &inv, 200);
    let ok = last_to(&out, CALLER).expect("200 to the caller");
    let atag = ok.to_tag().expect("our tag").to_owned();
    let out = p
        .datagram(addr(CALLER), request("ACK", 4, Some(&atag), 1))
        .expect("settles");
    assert!(last_to(&out, GW).is_some_and(|m| m.method().is_some_and(|m| m.as_str() == "ACK")));
    let out = p
        .datagram(addr(CALLER), request("BYE", 4, Some(&atag), 2))
        .expect("settles");
    let bye = last_to(&out, GW).expect("BYE on the B leg");
    assert_eq!(bye.cseq().seq, 2);
    let out = answer(&mut p, &bye, 200);
    assert_eq!(last_to(&out, CALLER).and_then(|m| m.status()), Some(200));
    assert_clean(&mut p);

    // A 200 that crosses the caller's CANCEL: ACKed and ended with a BYE.
    let out = p
        .datagram(addr(CALLER), request("INVITE", 5, None, 1))
        .expect("settles");
    let inv = last_to(&out, GW).expect("a B INVITE");
    p.datagram(addr(CALLER), request("CANCEL", 5, None, 1))
        .expect("settles");
    let out = answer(&mut p, &inv, 200);
    let mut methods: Vec<String> = transmits(&out)
        .filter(|t| t.remote == addr(GW))
        .filter_map(|t| Message::parse(t.data.clone(), &Limits::default()).ok())
        .filter_map(|m| m.method().map(|m| m.as_str().to_owned()))
        .collect();
    methods.sort();
    assert_eq!(methods, ["ACK", "BYE"], "the stray B dialog is ended");
    let bye = transmits(&out)
        .filter(|t| t.remote == addr(GW))
        .filter_map(|t| Message::parse(t.data.clone(), &Limits::default()).ok())
        .find(|m| m.method().is_some_and(|m| m.as_str() == "BYE"))
        .expect("BYE");
    answer(&mut p, &bye, 200);
    assert_clean(&mut p);
}

#[test]
fn an_idle_call_is_ended_on_both_legs_and_freed() {
    let mut cfg = switchboard_conformance::probe::test_config();
    cfg.session_idle_timeout = Some(Duration::from_secs(120));
    let mut p = probe_with(cfg);
    let out = p
        .datagram(addr(CALLER), request("INVITE", 6, None, 1))
        .expect("settles");
    let inv = last_to(&out, GW).expect("a B INVITE");
    let out = answer(&mut p, &inv, 200);
    let atag = last_to(&out, CALLER)
        .and_then(|m| m.to_tag().map(str::to_owned))
        .expect("200 to the caller with our tag");
    p.datagram(addr(CALLER), request("ACK", 6, Some(&atag), 1))
        .expect("settles");
    let out = p.advance(Duration::from_secs(121)).expect("settles");
    let bye_b = last_to(&out, GW).expect("BYE on the B leg");
    let bye_a = last_to(&out, CALLER).expect("BYE on the A leg");
    assert_eq!(bye_b.method().map(|m| m.as_str()), Some("BYE"));
    assert_eq!(bye_a.method().map(|m| m.as_str()), Some("BYE"));
    assert_eq!(bye_a.call_id(), "b2b-6");
    assert_eq!(bye_b.call_id(), inv.call_id());
    assert_ne!(bye_b.call_id(), "b2b-6");
    assert_eq!(p.engine().sessions().count(), 0, "the session ended");
    // The B side answers; the caller's phone is gone (its BYE times out).
    answer(&mut p, &bye_b, 200);
    assert_clean(&mut p);
}
