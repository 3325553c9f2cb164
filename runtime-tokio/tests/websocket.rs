//! End-to-end SIP over WebSocket and secure WebSocket (RFC 7118) against the
//! real binary: digest REGISTER over WS and WSS, calls WS → UDP and UDP → WS
//! through the proxy (RFC 3261 §16; double Record-Route when the transport
//! changes, RFC 5658), and the handshake refusals (RFC 6455 §4.2: `sip`
//! subprotocol required, plain HTTP refused, a stalled handshake closed,
//! an oversized frame closed with 1009 before it is read) — each bounded in
//! time and harmless to a client registering at the same moment.

mod support;

use async_tungstenite::tungstenite::{self, protocol::frame::coding::CloseCode};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use support::{Env, Server, Ua, call, free_port};

/// Starts a server with WS on a port of its own (and WSS when `wss`).
fn ws_server(wss: bool, extra: &str) -> (Env, Server, SocketAddr) {
    let mut env = Env::new();
    let port = free_port();
    env.websocket = if wss {
        format!("ws_port = 0\nwss_port = {port}\n{extra}")
    } else {
        format!("ws_port = {port}\nwss_port = 0\n{extra}")
    };
    env.write_settings();
    env.add_extension("101", "secret-101");
    env.add_extension("102", "secret-102");
    let server = Server::start(&mut env);
    assert!(
        server.ready.contains(&format!(
            "{} 127.0.0.1:{port}",
            if wss { "WSS" } else { "WS" }
        )),
        "the ready line lists the WebSocket listener: {}",
        server.ready
    );
    (env, server, SocketAddr::from(([127, 0, 0, 1], port)))
}

fn calls_both_ways(secure: bool) {
    let (env, server, ws_addr) = ws_server(secure, "");
    let mut browser = Ua::ws(ws_addr, "101", "secret-101", secure);
    let mut phone = Ua::udp(server.addr, "102", "secret-102");
    browser.register_ok(600);
    phone.register_ok(600);
    let ws_param = if secure {
        "transport=wss"
    } else {
        "transport=ws"
    };
    // The browser calls the phone: the proxy's Via toward the phone is UDP,
    // and it record-routes twice, the WebSocket side below (RFC 5658).
    let done = call(&mut browser, &mut phone, env.port);
    let rr = &done.record_route;
    assert_eq!(rr.len(), 2, "double Record-Route: {rr:?}");
    assert!(
        !rr[0].contains("transport=") && rr[1].contains(ws_param),
        "{rr:?}"
    );
    // The phone calls the browser: over the browser's own connection.
    let done = call(&mut phone, &mut browser, ws_addr.port());
    let rr = &done.record_route;
    assert_eq!(rr.len(), 2, "double Record-Route: {rr:?}");
    assert!(
        rr[0].contains(ws_param) && !rr[1].contains("transport="),
        "{rr:?}"
    );
    drop(server);
}

#[test]
fn register_and_call_over_ws_in_both_directions() {
    calls_both_ways(false);
}

#[test]
fn register_and_call_over_wss_in_both_directions() {
    calls_both_ways(true);
}

/// Reads until EOF (or the bound); how long the server took to close.
fn closed_within(tcp: &mut TcpStream, bound: Duration) -> Option<Duration> {
    let start = Instant::now();
    tcp.set_read_timeout(Some(bound)).expect("timeout");
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(start.elapsed());
            }
            Err(_) => return None,
        }
    }
}

#[test]
fn bad_handshakes_are_refused_within_bounds() {
    let (_env, server, ws_addr) = ws_server(false, "handshake_timeout_s = 1\n");
    // A stalled handshake (connect, send nothing) holds a slot meanwhile…
    let mut stalled = TcpStream::connect(ws_addr).expect("connect");
    // …and costs a client registering meanwhile nothing.
    let mut ok = Ua::ws(ws_addr, "101", "secret-101", false);
    ok.register_ok(600);
    let took =
        closed_within(&mut stalled, Duration::from_secs(5)).expect("a stalled handshake is closed");
    assert!(took < Duration::from_secs(3), "closed after {took:?}");

    // No `sip` subprotocol: 400 with the reason.
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    let upgrade = |protocol: &str| {
        format!(
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{protocol}\r\n"
        )
    };
    let t = Duration::from_secs(5);
    let r = support::ws::raw_exchange(ws_addr, upgrade("").as_bytes(), t);
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    assert!(
        r.contains("\"sip\" WebSocket subprotocol is required"),
        "{r}"
    );
    let r = support::ws::raw_exchange(
        ws_addr,
        upgrade("Sec-WebSocket-Protocol: chat\r\n").as_bytes(),
        t,
    );
    assert!(r.starts_with("HTTP/1.1 400 "), "{r}");
    let e = support::ws::connect(ws_addr, false, &[])
        .map(|_| ())
        .expect_err("refused");
    assert!(e.contains("400"), "the client sees the 400: {e}");
    // Plain HTTP without the upgrade: 426.
    let r = support::ws::raw_exchange(ws_addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", t);
    assert!(r.starts_with("HTTP/1.1 426 Upgrade Required\r\n"), "{r}");
    assert!(r.contains("\r\nUpgrade: websocket\r\n"), "{r}");
    // The good one answers 101 with the sip subprotocol.
    let r = support::ws::raw_exchange(
        ws_addr,
        upgrade("Sec-WebSocket-Protocol: sip\r\n").as_bytes(),
        Duration::from_millis(500),
    );
    assert!(r.starts_with("HTTP/1.1 101 "), "{r}");
    assert!(r.contains("Sec-WebSocket-Protocol: sip\r\n"), "{r}");

    // The registered client still works.
    assert_eq!(ok.options().status(), Some(200));
    let log = server.stderr();
    assert!(
        log.contains("WebSocket handshake refused with 400"),
        "{log}"
    );
    assert!(
        log.contains("WebSocket handshake not finished within"),
        "{log}"
    );
}

#[test]
fn a_ten_megabyte_frame_is_closed_with_1009_unread() {
    let (_env, server, ws_addr) = ws_server(false, "");
    let (mut ws, _tcp) = support::ws::connect(ws_addr, false, &["sip"]).expect("handshake");
    // A masked binary frame announcing 10 MB, then the first 64 KiB of it.
    let len: u64 = 10 << 20;
    let mut frame = vec![0x82, 0x80 | 127];
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    frame.extend(std::iter::repeat_n(0u8, 64 * 1024));
    let _ = ws.get_mut().write_all(&frame);
    let code = loop {
        match ws.read() {
            Ok(tungstenite::Message::Close(c)) => break c.map(|c| c.code),
            Ok(_) => {}
            Err(e) => panic!("expected a close frame, got {e}"),
        }
    };
    assert_eq!(code, Some(CloseCode::Size), "close code 1009");
    // Others are unaffected.
    let mut ok = Ua::ws(ws_addr, "101", "secret-101", false);
    ok.register_ok(600);
    assert!(server.stderr().contains("closing with 1009"));
}

#[test]
fn a_stalled_tls_handshake_on_wss_is_closed() {
    let (_env, _server, wss_addr) = ws_server(true, "handshake_timeout_s = 1\n");
    let mut stalled = TcpStream::connect(wss_addr).expect("connect");
    let took = closed_within(&mut stalled, Duration::from_secs(5))
        .expect("a stalled TLS handshake is closed");
    assert!(took < Duration::from_secs(3), "closed after {took:?}");
    // Plain WebSocket on the WSS port: the TLS handshake fails, nothing else.
    let e = support::ws::connect(wss_addr, false, &["sip"])
        .map(|_| ())
        .expect_err("not TLS");
    assert!(!e.is_empty());
    let mut ok = Ua::ws(wss_addr, "101", "secret-101", true);
    ok.register_ok(600);
}
