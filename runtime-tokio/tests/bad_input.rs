//! Bad input end to end: malformed datagrams are answered 400 (RFC 3261
//! §8.2.2 / §21.4.1) or dropped and do not disturb service; a TCP peer whose
//! stream cannot be framed (no Content-Length, §18.3; an endless header) is
//! disconnected; bad settings, a port in use and an unusable data path stop
//! the start-up with a message naming the problem and a non-zero exit.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};
use support::{Env, MSG_TIMEOUT, Server, Ua, free_port};

#[test]
fn malformed_datagrams_get_400_or_are_dropped_and_service_goes_on() {
    let mut env = Env::new();
    env.add_extension("101", "secret-101");
    let server = Server::start(&mut env);
    // A raw socket: the answers to junk may lack the headers a UA expects.
    let junk = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let local = junk.local_addr().expect("local");
    let send = |d: &[u8]| {
        junk.send_to(d, server.addr).expect("send");
    };
    // A request with a usable Via but no Call-ID, From, To or CSeq.
    send(
        format!(
            "OPTIONS sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKbad1\r\n\
             Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        )
        .as_bytes(),
    );
    // Noise, a truncated message, an absurd Content-Length, zeros.
    send(b"\x00\xff\xfe garbage \r\n\r\n");
    send(b"INVITE sip:102@example.test SIP/2.0\r\nVia: SIP/2.0/UDP");
    send(
        format!(
            "OPTIONS sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKbad2\r\n\
             From: <sip:101@example.test>;tag=1\r\nTo: <sip:example.test>\r\nCall-ID: bad2\r\n\
             CSeq: 1 OPTIONS\r\nContent-Length: 99999999999\r\n\r\n"
        )
        .as_bytes(),
    );
    send(&[0u8; 1500]);
    // Then a good OPTIONS. The server answers in order: whatever comes before
    // its 200 must be a 400 (Bad Request), never anything else.
    send(
        format!(
            "OPTIONS sip:example.test SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKgood\r\n\
             Max-Forwards: 70\r\nFrom: <sip:101@example.test>;tag=1\r\nTo: <sip:example.test>\r\n\
             Call-ID: after-the-junk\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        .as_bytes(),
    );
    let end = Instant::now() + MSG_TIMEOUT;
    let mut buf = vec![0u8; 65_536];
    let mut before = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no 200 to OPTIONS after the junk; got {before:?}"
        );
        junk.set_read_timeout(Some(left)).expect("set_read_timeout");
        let Ok(n) = junk.recv(&mut buf) else { continue };
        let got = String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned();
        if got.starts_with("SIP/2.0 200") && got.contains("after-the-junk") {
            break;
        }
        before.push(got);
    }
    for m in &before {
        assert!(m.starts_with("SIP/2.0 400"), "only 400s for junk: {m}");
    }
    // And registration still works.
    let mut ua = Ua::udp(server.addr, "101", "secret-101");
    ua.register_ok(600);
}

/// Reads until the server closes the connection; `true` if it did in time.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> (bool, Vec<u8>) {
    let end = Instant::now() + limit;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (false, got);
        }
        stream
            .set_read_timeout(Some(left))
            .expect("set_read_timeout");
        match stream.read(&mut buf) {
            Ok(0) => return (true, got),
            Ok(n) => got.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (true, got),
            Err(_) => return (false, got),
        }
    }
}

#[test]
fn tcp_garbage_without_content_length_is_disconnected() {
    let mut env = Env::new();
    env.add_extension("101", "secret-101");
    let server = Server::start(&mut env);

    // A header block with no Content-Length (required on streams, §18.3).
    let mut s = TcpStream::connect(server.addr).expect("connect");
    let _ = s.write_all(b"GARBAGE not sip at all\r\nfoo: bar\r\nbaz qux\r\n\r\nmore garbage");
    let (closed, got) = closed_within(&mut s, MSG_TIMEOUT);
    assert!(
        closed,
        "still open; received: {}",
        String::from_utf8_lossy(&got)
    );
    if !got.is_empty() {
        assert!(
            got.starts_with(b"SIP/2.0 4") || got.starts_with(b"SIP/2.0 5"),
            "only an error response may precede the close: {}",
            String::from_utf8_lossy(&got)
        );
    }

    // A request without Content-Length on a stream is also cut off.
    let mut s = TcpStream::connect(server.addr).expect("connect");
    let local = s.local_addr().expect("local");
    let _ = s.write_all(
        format!(
            "OPTIONS sip:example.test SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bKnocl\r\n\
             From: <sip:101@example.test>;tag=1\r\nTo: <sip:example.test>\r\nCall-ID: nocl\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n"
        )
        .as_bytes(),
    );
    let (closed, got) = closed_within(&mut s, MSG_TIMEOUT);
    assert!(
        closed,
        "still open; received: {}",
        String::from_utf8_lossy(&got)
    );

    // An endless header line: disconnected at the size limit, not buffered forever.
    let mut s = TcpStream::connect(server.addr).expect("connect");
    let _ = s.write_all(b"OPTIONS sip:example.test SIP/2.0\r\nX-Endless: ");
    let chunk = [b'a'; 8192];
    for _ in 0..32 {
        if s.write_all(&chunk).is_err() {
            break; // already cut off
        }
    }
    let (closed, _) = closed_within(&mut s, MSG_TIMEOUT);
    assert!(
        closed,
        "a 256 KiB header line did not get the connection closed"
    );

    // Service goes on, over UDP and over a new TCP connection.
    let mut ua = Ua::udp(server.addr, "101", "secret-101");
    assert_eq!(ua.options().status(), Some(200));
    let mut ua = Ua::tcp(server.addr, "101", "secret-101");
    ua.register_ok(600);
}

#[test]
fn unknown_settings_key_stops_the_start() {
    let mut env = Env::new();
    env.service_extra = "sip_prot = 5070".into();
    env.write_settings();
    let f = Server::try_start(&mut env)
        .err()
        .expect("the server must refuse to start");
    let status = f.status.expect("it exits");
    assert!(!status.success(), "exit status {status}");
    assert!(
        f.stderr.contains("service.sip_prot"),
        "the message names the key: {}",
        f.stderr
    );
}

#[test]
fn udp_port_in_use_stops_the_start() {
    let mut env = Env::new();
    let port = free_port();
    let _holder = UdpSocket::bind(("127.0.0.1", port)).expect("holding the UDP port");
    env.port = port;
    env.write_settings();
    let f = Server::try_start(&mut env)
        .err()
        .expect("the server must refuse to start");
    assert!(!f.status.expect("it exits").success());
    let want = format!("cannot bind UDP 127.0.0.1:{port}: address in use");
    assert!(f.stderr.contains(&want), "want {want:?} in: {}", f.stderr);
}

#[test]
fn tcp_port_in_use_stops_the_start() {
    let mut env = Env::new();
    let port = free_port();
    let _holder = TcpListener::bind(("127.0.0.1", port)).expect("holding the TCP port");
    env.port = port;
    env.write_settings();
    let f = Server::try_start(&mut env)
        .err()
        .expect("the server must refuse to start");
    assert!(!f.status.expect("it exits").success());
    let want = format!("cannot bind TCP 127.0.0.1:{port}: address in use");
    assert!(f.stderr.contains(&want), "want {want:?} in: {}", f.stderr);
}

#[test]
fn data_dir_under_a_regular_file_stops_the_start() {
    let mut env = Env::new();
    let file = env.dir().join("not-a-directory");
    std::fs::write(&file, b"just a file\n").expect("writing the file");
    env.data_dir = file.join("data");
    env.write_settings();
    let f = Server::try_start(&mut env)
        .err()
        .expect("the server must refuse to start");
    assert!(!f.status.expect("it exits").success());
    assert!(
        f.stderr.contains(&file.display().to_string()),
        "the message names {}: {}",
        file.display(),
        f.stderr
    );
    // Nothing was created over it.
    assert!(file.is_file());
}
