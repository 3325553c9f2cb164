//! Engine-level tests of SIP over WebSocket (RFC 7118) as a browser phone
//! uses it: `Via: SIP/2.0/WS <random>.invalid` answered over the connection
//! with `received`/`rport` (RFC 3581), a Contact with an `.invalid` host and
//! `transport=ws` plus RFC 5626 `reg-id`/`+sip.instance` bound to the
//! connection (the connection is the flow, RFC 7118 §5.2 / RFC 5626 §4.2),
//! requests to it sent over that connection, calls WS ↔ UDP in both
//! directions with a double Record-Route (RFC 5658 §4), and the connection's
//! close removing its bindings at once.

use crate::registrar::Extension;
use crate::sip::{HeaderName, Limits, Message, split_commas};
use crate::transport::ConnId;
use crate::{Command, Config, Engine, Event, Flow, Input, Listener, Output, Transmit, Transport};
use bytes::Bytes;
use std::time::Instant;

const UDP_US: &str = "192.0.2.1:5060";
const WS_US: &str = "192.0.2.1:8080";
const BROWSER: &str = "198.51.100.7:53000";
const PHONE: &str = "192.0.2.50:5062";
const CONN: ConnId = ConnId(7);

fn engine(now: Instant) -> Engine {
    let l = |transport, addr: &str| Listener {
        transport,
        addr: addr.parse().expect("literal"),
        advertise: None,
    };
    let mut cfg = Config::new(
        "example.com",
        vec![l(Transport::Udp, UDP_US), l(Transport::Ws, WS_US)],
    );
    cfg.register_auth = false;
    cfg.call_auth = false;
    let mut e = Engine::new(cfg, now).expect("valid config");
    for u in ["alice", "bob"] {
        e.handle_command(
            now,
            Command::UpsertExtension(Extension::new(u, "0".repeat(32), "0".repeat(64))),
        )
        .expect("valid extension");
    }
    e
}

fn ws_flow() -> Flow {
    Flow {
        transport: Transport::Ws,
        local: WS_US.parse().expect("literal"),
        remote: BROWSER.parse().expect("literal"),
        conn: Some(CONN),
    }
}

fn udp_flow() -> Flow {
    Flow {
        transport: Transport::Udp,
        local: UDP_US.parse().expect("literal"),
        remote: PHONE.parse().expect("literal"),
        conn: None,
    }
}

fn drain(e: &mut Engine) -> (Vec<Transmit>, Vec<Event>) {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    loop {
        match e.poll_output() {
            Output::Transmit(t) => sent.push(t),
            Output::Event(ev) => events.push(ev),
            Output::Timeout(_) => return (sent, events),
            _ => {}
        }
    }
}

fn parse(t: &Transmit) -> Message {
    Message::parse(t.data.clone(), &Limits::default()).expect("we send valid SIP")
}

fn ws_in(e: &mut Engine, now: Instant, text: String) {
    e.handle_input(Input::StreamData {
        now,
        conn: CONN,
        data: Bytes::from(text),
    });
}

fn udp_in(e: &mut Engine, now: Instant, text: String) {
    e.handle_input(Input::Datagram {
        now,
        flow: udp_flow(),
        data: Bytes::from(text),
    });
}

/// JsSIP's REGISTER (RFC 7118 §8.1 shape).
fn ws_register() -> String {
    "REGISTER sip:example.com SIP/2.0\r\n\
     Via: SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKasudf;rport\r\n\
     Max-Forwards: 69\r\n\
     To: <sip:alice@example.com>\r\n\
     From: <sip:alice@example.com>;tag=65bnmj6ngu\r\n\
     Call-ID: aiuy7k9njasd\r\n\
     CSeq: 1 REGISTER\r\n\
     Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws>;reg-id=1;\
     +sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\";expires=600\r\n\
     Supported: path, outbound, gruu\r\n\
     Content-Length: 0\r\n\r\n"
        .to_owned()
}

fn udp_register() -> String {
    format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP {PHONE};branch=z9hG4bKreg1\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:bob@example.com>\r\n\
         From: <sip:bob@example.com>;tag=b1\r\n\
         Call-ID: bobreg\r\n\
         CSeq: 1 REGISTER\r\n\
         Contact: <sip:bob@{PHONE}>\r\n\
         Expires: 600\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn invite(via: &str, from: &str, to: &str, contact: &str, call_id: &str) -> String {
    format!(
        "INVITE sip:{to}@example.com SIP/2.0\r\n\
         Via: {via}\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:{to}@example.com>\r\n\
         From: <sip:{from}@example.com>;tag=f1\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <{contact}>\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

fn record_routes(m: &Message) -> Vec<String> {
    m.header_values(HeaderName::RecordRoute)
        .flat_map(split_commas)
        .map(|s| s.trim().to_owned())
        .collect()
}

/// Opens the browser's connection and registers alice over it.
fn registered(now: Instant) -> Engine {
    let mut e = engine(now);
    e.handle_input(Input::ConnectionOpened {
        now,
        flow: ws_flow(),
    });
    ws_in(&mut e, now, ws_register());
    let (sent, _) = drain(&mut e);
    assert_eq!(sent.len(), 1, "one answer");
    let ok = &sent[0];
    assert_eq!((ok.transport, ok.conn), (Transport::Ws, Some(CONN)));
    let m = parse(ok);
    assert_eq!(m.status(), Some(200), "{m:?}");
    let via = m.header(HeaderName::Via).expect("Via echoed");
    assert!(via.starts_with("SIP/2.0/WS df7jal23ls0d.invalid"), "{via}");
    assert!(
        via.contains("received=198.51.100.7") && via.contains("rport=53000"),
        "{via}"
    );
    assert_eq!(e.counters().active_registrations, 1);
    assert_eq!(e.counters().connections.ws.open, 1);
    e
}

#[test]
fn a_udp_phone_calls_the_browser_over_its_connection() {
    let now = crate::test_epoch();
    let mut e = registered(now);
    let inv = invite(
        &format!("SIP/2.0/UDP {PHONE};branch=z9hG4bKinv1"),
        "bob",
        "alice",
        &format!("sip:bob@{PHONE}"),
        "call-1",
    );
    udp_in(&mut e, now, inv);
    let (sent, _) = drain(&mut e);
    let fwd = sent
        .iter()
        .find(|t| parse(t).method().is_some_and(|m| m.as_str() == "INVITE"))
        .expect("the INVITE is forwarded");
    assert_eq!((fwd.transport, fwd.conn), (Transport::Ws, Some(CONN)));
    let m = parse(fwd);
    assert!(
        m.request_uri()
            .is_some_and(|u| u.contains("df7jal23ls0d.invalid")),
        "{m:?}"
    );
    let top_via = m.header(HeaderName::Via).expect("our Via");
    assert!(top_via.starts_with("SIP/2.0/WS "), "{top_via}");
    let rr = record_routes(&m);
    assert_eq!(rr.len(), 2, "double Record-Route (RFC 5658): {rr:?}");
    assert!(
        rr[0].contains("transport=ws"),
        "toward the browser first: {rr:?}"
    );
    assert!(!rr[1].contains("transport=ws"), "{rr:?}");
}

#[test]
fn the_browser_calls_a_udp_phone() {
    let now = crate::test_epoch();
    let mut e = registered(now);
    udp_in(&mut e, now, udp_register());
    let _ = drain(&mut e);
    let inv = invite(
        "SIP/2.0/WS df7jal23ls0d.invalid;branch=z9hG4bKws1",
        "alice",
        "bob",
        "sip:alice@df7jal23ls0d.invalid;transport=ws;ob",
        "call-2",
    );
    ws_in(&mut e, now, inv);
    let (sent, _) = drain(&mut e);
    let fwd = sent
        .iter()
        .find(|t| t.transport == Transport::Udp)
        .expect("forwarded over UDP");
    assert_eq!(fwd.remote, PHONE.parse().expect("literal"));
    let m = parse(fwd);
    let rr = record_routes(&m);
    assert_eq!(rr.len(), 2, "double Record-Route (RFC 5658): {rr:?}");
    assert!(rr[1].contains("transport=ws"), "{rr:?}");
    assert!(!rr[0].contains("transport=ws"), "{rr:?}");
    // Its Via gains `received`: responses go back over the connection anyway.
    let vias: Vec<&str> = m.header_values(HeaderName::Via).collect();
    assert!(vias[1].contains("received=198.51.100.7"), "{vias:?}");
}

#[test]
fn closing_the_connection_removes_its_bindings_at_once() {
    let now = crate::test_epoch();
    let mut e = registered(now);
    udp_in(&mut e, now, udp_register());
    let _ = drain(&mut e);
    assert_eq!(e.counters().active_registrations, 2);
    e.handle_input(Input::ConnectionClosed { now, conn: CONN });
    let (_, events) = drain(&mut e);
    assert!(
        events.iter().any(|ev| matches!(
            ev,
            Event::Unregistered { aor, reason: crate::event::UnbindReason::ConnectionClosed, .. }
                if aor.starts_with("alice@")
        )),
        "{events:?}"
    );
    let c = e.counters();
    assert_eq!(c.active_registrations, 1, "bob over UDP stays");
    assert_eq!(c.connections.ws.open, 0);
    // A call to alice now finds nobody (480), and nothing is sent to the old connection.
    udp_in(
        &mut e,
        now,
        invite(
            &format!("SIP/2.0/UDP {PHONE};branch=z9hG4bKinv3"),
            "bob",
            "alice",
            &format!("sip:bob@{PHONE}"),
            "call-3",
        ),
    );
    let (sent, _) = drain(&mut e);
    assert!(sent.iter().all(|t| t.conn.is_none()), "{sent:?}");
    assert!(
        sent.iter()
            .any(|t| parse(t).status().is_some_and(|s| s >= 400)),
        "the caller gets a final error"
    );
}

#[test]
fn crlf_keepalive_over_websocket_is_answered() {
    let now = crate::test_epoch();
    let mut e = registered(now);
    ws_in(&mut e, now, "\r\n\r\n".to_owned());
    let (sent, _) = drain(&mut e);
    assert_eq!(sent.len(), 1);
    assert_eq!(&sent[0].data[..], b"\r\n");
    assert_eq!(sent[0].conn, Some(CONN));
}
