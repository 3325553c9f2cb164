//! Engine-level tests of the UA side (issue 4): upstream registration state
//! as [`crate::Engine::upstream_registrations`] reports it, un-REGISTER on
//! [`crate::Engine::shutdown`] (RFC 3261 §10.2.2), and the routing table's
//! `registered` / `up` flags following registrations and pings.

use super::RegState;
use crate::routing::{Destination, Route, RoutingConfig, validate_prefix};
use crate::sip::{HeaderName, Limits, Message};
use crate::{Command, Config, Engine, Event, Flow, Input, Listener, Output, Transport};
use bytes::Bytes;
use std::time::{Duration, Instant};

const US: &str = "192.0.2.1:5060";
const UP: &str = "192.0.2.210:5060";

pub(super) fn engine(now: Instant) -> Engine {
    let cfg = Config::new(
        "example.com",
        vec![Listener {
            transport: Transport::Udp,
            addr: US.parse().expect("literal"),
            advertise: None,
        }],
    );
    Engine::new(cfg, now).expect("valid config")
}

pub(super) fn upstream(register: bool, ping: bool) -> RoutingConfig {
    RoutingConfig {
        destinations: vec![Destination {
            username: Some("acct".into()),
            password: Some("pw".into()),
            register,
            register_expires: 600,
            options_ping: ping,
            ..Destination::new("up1", "192.0.2.210")
        }],
        routes: vec![Route {
            prefix: validate_prefix("9").expect("digits"),
            destination: "up1".into(),
            order: 0,
            enabled: true,
        }],
        ..RoutingConfig::default()
    }
}

/// Drains outputs: the requests sent and the events.
pub(super) fn drain(e: &mut Engine) -> (Vec<Message>, Vec<Event>) {
    let (mut sent, mut events) = (Vec::new(), Vec::new());
    loop {
        match e.poll_output() {
            Output::Transmit(t) => {
                sent.push(Message::parse(t.data, &Limits::default()).expect("we send valid SIP"))
            }
            Output::Event(ev) => events.push(ev),
            Output::Timeout(_) => return (sent, events),
            _ => {}
        }
    }
}

/// Answers `req` from the upstream with `status` and extra header lines.
pub(super) fn answer(e: &mut Engine, now: Instant, req: &Message, status: &str, extra: &str) {
    let mut text = format!("SIP/2.0 {status}\r\n");
    for h in [HeaderName::Via, HeaderName::From] {
        text.push_str(&format!(
            "{}: {}\r\n",
            h.as_str(),
            req.header(h).expect("sent")
        ));
    }
    text.push_str(&format!(
        "To: {};tag=up\r\nCall-ID: {}\r\nCSeq: {}\r\n{extra}Content-Length: 0\r\n\r\n",
        req.header(HeaderName::To).expect("sent"),
        req.call_id(),
        req.header(HeaderName::CSeq).expect("sent"),
    ));
    e.handle_input(Input::Datagram {
        now,
        flow: Flow {
            transport: Transport::Udp,
            local: US.parse().expect("literal"),
            remote: UP.parse().expect("literal"),
            conn: None,
        },
        data: Bytes::from(text),
    });
}

#[test]
fn registers_reports_and_unregisters_on_shutdown() {
    let t0 = crate::test_epoch();
    let mut e = engine(t0);
    e.handle_command(t0, Command::ReplaceRouting(upstream(true, false)))
        .expect("valid routing");
    let (sent, _) = drain(&mut e);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header(HeaderName::Expires), Some("600"));
    let regs = e.upstream_registrations();
    assert_eq!(regs.len(), 1);
    assert_eq!(regs[0].state, RegState::Pending);
    assert!(!e.routing_table().state("up1").expect("known").registered);

    answer(&mut e, t0, &sent[0], "200 OK", "Expires: 300\r\n");
    let (_, events) = drain(&mut e);
    assert!(events.iter().any(|ev| matches!(
        ev,
        Event::UpstreamRegistration {
            state: RegState::Registered,
            expires: Some(300),
            ..
        }
    )));
    let regs = e.upstream_registrations();
    assert_eq!(regs[0].state, RegState::Registered);
    assert_eq!(regs[0].last_status, Some((200, "OK".into())));
    assert_eq!(regs[0].expires_at, Some(t0 + Duration::from_secs(300)));
    assert!(e.routing_table().state("up1").expect("known").registered);

    let t1 = t0 + Duration::from_secs(10);
    e.shutdown(t1);
    let (sent, _) = drain(&mut e);
    assert_eq!(sent.len(), 1, "one un-REGISTER");
    assert_eq!(sent[0].header(HeaderName::Expires), Some("0"));
    assert_eq!(sent[0].cseq().seq, 2);
    // Challenged: answered with credentials, still Expires: 0.
    answer(
        &mut e,
        t1,
        &sent[0],
        "401 Unauthorized",
        "WWW-Authenticate: Digest realm=\"up\", nonce=\"n\", qop=\"auth\"\r\n",
    );
    let (sent, _) = drain(&mut e);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header(HeaderName::Expires), Some("0"));
    assert!(sent[0].header(HeaderName::Authorization).is_some());
    answer(&mut e, t1, &sent[0], "200 OK", "");
    let (_, events) = drain(&mut e);
    assert!(events.iter().any(|ev| matches!(
        ev,
        Event::UpstreamRegistration {
            state: RegState::Unregistered,
            ..
        }
    )));
    assert_eq!(e.upstream_registrations()[0].state, RegState::Unregistered);
    assert!(!e.routing_table().state("up1").expect("known").registered);
    // Nothing more is scheduled: no refresh, no retry.
    e.handle_input(Input::Timeout(t1 + Duration::from_secs(3600)));
    let (sent, _) = drain(&mut e);
    assert!(
        sent.iter()
            .all(|m| m.cseq().method != crate::sip::Method::Register)
    );
}

#[test]
fn removing_the_destination_unregisters_and_forgets_it() {
    let t0 = crate::test_epoch();
    let mut e = engine(t0);
    e.handle_command(t0, Command::ReplaceRouting(upstream(true, false)))
        .expect("valid routing");
    let (sent, _) = drain(&mut e);
    answer(&mut e, t0, &sent[0], "200 OK", "");
    drain(&mut e);
    e.handle_command(t0, Command::ReplaceRouting(RoutingConfig::default()))
        .expect("valid routing");
    let (sent, _) = drain(&mut e);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header(HeaderName::Expires), Some("0"));
    answer(&mut e, t0, &sent[0], "200 OK", "");
    drain(&mut e);
    assert!(e.upstream_registrations().is_empty());
}

#[test]
fn a_garbage_answer_to_a_ping_is_dropped_and_a_timeout_counts() {
    let t0 = crate::test_epoch();
    let mut e = engine(t0);
    e.handle_command(t0, Command::ReplaceRouting(upstream(false, true)))
        .expect("valid routing");
    let (sent, _) = drain(&mut e);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method(), Some(&crate::sip::Method::Options));
    e.handle_input(Input::Datagram {
        now: t0,
        flow: Flow {
            transport: Transport::Udp,
            local: US.parse().expect("literal"),
            remote: UP.parse().expect("literal"),
            conn: None,
        },
        data: Bytes::from_static(b"SIP/2.0 2OO garbage\r\n\r\n"),
    });
    drain(&mut e);
    assert!(
        e.routing_table().state("up1").expect("known").up,
        "one bad answer is not down"
    );
    // Two pings (the second one period, 600 s, after the first) time out
    // (Timer F, 32 s each): down.
    let mut now = t0;
    let mut down = false;
    for _ in 0..800 {
        now += Duration::from_secs(1);
        e.handle_input(Input::Timeout(now));
        let (_, events) = drain(&mut e);
        if events
            .iter()
            .any(|ev| matches!(ev, Event::DestinationHealth { up: false, .. }))
        {
            down = true;
            break;
        }
    }
    assert!(down, "down after two timeouts");
    assert!(now >= t0 + Duration::from_secs(632));
    assert!(!e.routing_table().state("up1").expect("known").up);
}

/// The first `Output::Connect` the engine asks for, if any.
fn first_connect(
    e: &mut Engine,
) -> Option<(Transport, std::net::SocketAddr, Option<crate::TlsPeer>)> {
    loop {
        match e.poll_output() {
            Output::Connect {
                transport,
                remote,
                tls,
                ..
            } => return Some((transport, remote, tls)),
            Output::Timeout(_) => return None,
            _ => {}
        }
    }
}

#[test]
fn tls_connects_carry_the_destinations_tls_options() {
    let t0 = crate::test_epoch();
    let cfg = Config::new(
        "example.com",
        vec![
            Listener {
                transport: Transport::Udp,
                addr: US.parse().expect("literal"),
                advertise: None,
            },
            Listener {
                transport: Transport::Tls,
                addr: "192.0.2.1:5061".parse().expect("literal"),
                advertise: None,
            },
        ],
    );
    let mut e = Engine::new(cfg, t0).expect("valid config");
    let mut routing = upstream(true, false);
    routing.destinations[0].transport = Transport::Tls;
    routing.destinations[0].tls_verify = false;
    routing.destinations[0].tls_client_cert = Some("/c.pem".into());
    routing.destinations[0].tls_client_key = Some("/k.pem".into());
    e.handle_command(t0, Command::ReplaceRouting(routing.clone()))
        .expect("valid routing");
    let (transport, remote, tls) = first_connect(&mut e).expect("REGISTER over TLS connects");
    assert_eq!(transport, Transport::Tls);
    assert_eq!(remote, "192.0.2.210:5061".parse().expect("literal"));
    let tls = tls.expect("a TLS destination's options");
    assert!(!tls.verify);
    assert_eq!(tls.destination.as_deref(), Some("up1"));
    assert_eq!(tls.server_name, None);
    assert_eq!(tls.client_cert.as_deref(), Some("/c.pem"));
    assert_eq!(tls.client_key.as_deref(), Some("/k.pem"));

    // A TCP destination: no TLS options.
    let mut e = Engine::new(
        Config::new(
            "example.com",
            vec![Listener {
                transport: Transport::Tcp,
                addr: US.parse().expect("literal"),
                advertise: None,
            }],
        ),
        t0,
    )
    .expect("valid config");
    routing.destinations[0].transport = Transport::Tcp;
    routing.destinations[0].tls_verify = true;
    routing.destinations[0].tls_client_cert = None;
    routing.destinations[0].tls_client_key = None;
    e.handle_command(t0, Command::ReplaceRouting(routing))
        .expect("valid routing");
    let (transport, _, tls) = first_connect(&mut e).expect("REGISTER over TCP connects");
    assert_eq!(transport, Transport::Tcp);
    assert_eq!(tls, None);
}
