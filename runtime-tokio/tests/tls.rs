//! SIP over TLS end to end (RFC 3261 §26.2, §18; RFC 5630): the real binary,
//! rustls test clients.
//!
//! - REGISTER with digest over TLS, and calls TLS ↔ TLS and UDP ↔ TLS (the
//!   proxy's Via says `SIP/2.0/TLS`, its Record-Route `transport=tls`; a
//!   transport change is double record-routed, RFC 5658);
//! - the self-signed certificate of the first run is reused by the next;
//! - certificate swap without a restart: the established connections keep
//!   working, the next handshake presents the new certificate (peer
//!   certificate DER compared); a mismatched new pair is refused and the old
//!   one keeps serving;
//! - bad input: a missing certificate file stops the start naming it; a
//!   stalled handshake is closed at `tls.handshake_timeout_s`; a ClientHello
//!   offering only TLS 1.0 is refused with a `protocol_version` alert; neither
//!   disturbs a well-behaved client.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::{Env, Server, Ua, call, tls_config, tls_connect};

/// The self-signed certificate the server generated in its data directory.
fn generated_cert(env: &Env) -> PathBuf {
    env.data_dir.join("tls-selfsigned.crt")
}

/// A fresh self-signed pair for the SIP domain, written as `<name>.crt`/`.key` in `dir`.
fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec![support::DOMAIN.to_owned()]).expect("rcgen");
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, ck.cert.pem()).expect("write cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("write key");
    (cert, key)
}

fn der_of(pem: &Path) -> Vec<u8> {
    use rustls_pki_types::{CertificateDer, pem::PemObject};
    CertificateDer::from_pem_file(pem)
        .expect("a PEM certificate")
        .as_ref()
        .to_vec()
}

#[test]
fn register_and_call_between_tls_clients() {
    let mut env = Env::new();
    env.add_extension("101", "secret-101");
    env.add_extension("102", "secret-102");
    let server = Server::start(&mut env);
    assert!(
        server
            .ready
            .contains(&format!("TLS 127.0.0.1:{}", env.tls_port)),
        "{}",
        server.ready
    );
    let trust = tls_config(&generated_cert(&env));
    let mut caller = Ua::tls(env.tls_addr(), "101", "secret-101", trust.clone());
    let mut callee = Ua::tls(env.tls_addr(), "102", "secret-102", trust);
    assert_eq!(
        caller.peer_certificate(),
        Some(der_of(&generated_cert(&env)))
    );
    caller.register_ok(600);
    callee.register_ok(600);
    call(&mut caller, &mut callee, env.tls_port);
    // The next run reuses the generated certificate.
    let first = std::fs::read(generated_cert(&env)).expect("generated cert");
    assert!(server.terminate().success());
    let server = Server::start(&mut env);
    assert_eq!(
        std::fs::read(generated_cert(&env)).expect("generated cert"),
        first
    );
    let mut again = Ua::tls(
        env.tls_addr(),
        "101",
        "secret-101",
        tls_config(&generated_cert(&env)),
    );
    again.register_ok(600);
    drop(server);
}

#[test]
fn calls_between_udp_and_tls_in_both_directions() {
    let mut env = Env::new();
    env.add_extension("201", "secret-201");
    env.add_extension("202", "secret-202");
    let _server = Server::start(&mut env);
    let trust = tls_config(&generated_cert(&env));
    let mut udp = Ua::udp(env.server_addr(), "201", "secret-201");
    let mut tls = Ua::tls(env.tls_addr(), "202", "secret-202", trust);
    udp.register_ok(600);
    tls.register_ok(600);
    // UDP → TLS: the proxy's Via toward the callee is TLS on the TLS port.
    call(&mut udp, &mut tls, env.tls_port);
    // TLS → UDP.
    call(&mut tls, &mut udp, env.port);
}

#[test]
fn tls_12_clients_are_served_too() {
    let mut env = Env::new();
    env.add_extension("301", "secret-301");
    let _server = Server::start(&mut env);
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(der_of(&generated_cert(&env)).into())
        .expect("root");
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .expect("TLS 1.2")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut ua = Ua::tls(
        env.tls_addr(),
        "301",
        "secret-301",
        std::sync::Arc::new(cfg),
    );
    ua.register_ok(600);
}

#[test]
fn certificate_swap_keeps_connections_and_serves_the_new_one() {
    let mut env = Env::new();
    let (a_cert, a_key) = write_pair(env.dir(), "a");
    let (b_cert, b_key) = write_pair(env.dir(), "b");
    let live_cert = env.dir().join("live.crt");
    let live_key = env.dir().join("live.key");
    std::fs::copy(&a_cert, &live_cert).expect("copy");
    std::fs::copy(&a_key, &live_key).expect("copy");
    env.tls_extra = format!(
        "certificate = \"{}\"\nprivate_key = \"{}\"",
        live_cert.display(),
        live_key.display()
    );
    env.write_settings();
    env.add_extension("401", "secret-401");
    env.add_extension("402", "secret-402");
    let server = Server::start(&mut env);
    // Trust both, so a handshake succeeds whichever is served.
    let both = env.dir().join("both.pem");
    let mut pems = std::fs::read(&a_cert).expect("a");
    pems.extend(std::fs::read(&b_cert).expect("b"));
    std::fs::write(&both, pems).expect("write");
    let trust = tls_config(&both);
    let mut caller = Ua::tls(env.tls_addr(), "401", "secret-401", trust.clone());
    let mut callee = Ua::tls(env.tls_addr(), "402", "secret-402", trust.clone());
    assert_eq!(caller.peer_certificate(), Some(der_of(&a_cert)));
    caller.register_ok(600);
    callee.register_ok(600);

    // A renewal that writes only the certificate: mismatched, refused.
    std::fs::copy(&b_cert, &live_cert).expect("copy");
    let refused = wait_for(Duration::from_secs(10), || {
        server.stderr().contains("TLS certificate not replaced")
    });
    assert!(refused, "no refusal logged:\n{}", server.stderr());
    let peer = tls_connect(env.tls_addr(), trust.clone()).expect("handshake");
    assert_eq!(
        peer.conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec()),
        Some(der_of(&a_cert)),
        "the old pair keeps serving"
    );
    // Then the key: the new pair is served to new handshakes.
    std::fs::copy(&b_key, &live_key).expect("copy");
    let swapped = wait_for(Duration::from_secs(10), || {
        tls_connect(env.tls_addr(), trust.clone())
            .ok()
            .and_then(|s| {
                s.conn
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.to_vec())
            })
            == Some(der_of(&b_cert))
    });
    assert!(
        swapped,
        "the new certificate was not served:\n{}",
        server.stderr()
    );
    // The connections made before the swap still carry a whole call.
    call(&mut caller, &mut callee, env.tls_port);
    assert_eq!(caller.peer_certificate(), Some(der_of(&a_cert)));
    // SIGHUP reloads too (same files: logged as unchanged), and the server lives on.
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    assert!(wait_for(Duration::from_secs(5), || server
        .stderr()
        .contains("(SIGHUP)")));
    caller.register_ok(600);
}

/// Polls `cond` (bounded) until it holds.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn a_missing_certificate_file_stops_the_start_naming_it() {
    let mut env = Env::new();
    let missing = env.dir().join("no-such-cert.pem");
    env.tls_extra = format!(
        "certificate = \"{}\"\nprivate_key = \"{}\"",
        missing.display(),
        env.dir().join("no-such-key.pem").display()
    );
    env.write_settings();
    let failure = match Server::try_start(&mut env) {
        Ok(_) => panic!("started without its certificate"),
        Err(f) => f,
    };
    assert!(failure.status.is_some_and(|s| !s.success()), "{failure:?}");
    assert!(
        failure.stderr.contains("no-such-cert.pem") && failure.stderr.contains("cannot read"),
        "{}",
        failure.stderr
    );
}

#[test]
fn stalled_handshakes_and_old_versions_are_refused_without_harm() {
    let mut env = Env::new();
    env.tls_extra = "handshake_timeout_s = 1".into();
    env.write_settings();
    env.add_extension("501", "secret-501");
    let server = Server::start(&mut env);

    // A peer that connects and says nothing is closed at the deadline.
    let mut stalled = TcpStream::connect(env.tls_addr()).expect("connect");
    stalled
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    // Half a ClientHello record header, then silence.
    stalled.write_all(&[0x16, 0x03]).expect("write");
    let t0 = Instant::now();
    let mut buf = [0u8; 64];
    let n = stalled.read(&mut buf).unwrap_or(0);
    let waited = t0.elapsed();
    assert_eq!(n, 0, "closed without an answer");
    assert!(
        waited >= Duration::from_millis(800) && waited < Duration::from_secs(4),
        "closed after {waited:?} (deadline 1 s)"
    );

    // A ClientHello offering only TLS 1.0 gets a protocol_version alert.
    let mut old = TcpStream::connect(env.tls_addr()).expect("connect");
    old.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    old.write_all(&tls10_client_hello()).expect("write");
    let mut got = Vec::new();
    let _ = old.read_to_end(&mut got);
    assert!(
        got.first() == Some(&0x15) && got.get(6) == Some(&70),
        "expected a fatal protocol_version alert, got {got:02x?}"
    );

    // Meanwhile (with another stalled peer open) a real client is served.
    let _held = TcpStream::connect(env.tls_addr()).expect("connect");
    let mut ua = Ua::tls(
        env.tls_addr(),
        "501",
        "secret-501",
        tls_config(&generated_cert(&env)),
    );
    ua.register_ok(600);
    let log = server.stderr();
    assert!(log.contains("not finished within"), "{log}");
    assert!(log.contains("TLS handshake from"), "{log}");
    assert!(
        !log.lines()
            .any(|l| l.contains("ERROR") && l.contains("TLS")),
        "bad peers are not errors of ours:\n{log}"
    );
}

/// A ClientHello of a TLS 1.0-only client (RFC 2246 §7.4.1.2): ECDHE
/// suites, the usual extensions (signature algorithms, groups, point
/// formats), no supported_versions: everything we could serve except the
/// version.
fn tls10_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x01]; // client_version TLS 1.0
    body.extend([0x42; 32]); // random
    body.push(0); // session_id
    // ECDHE-ECDSA/RSA-AES128-GCM-SHA256, AES128-SHA
    body.extend([0x00, 0x06, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x2f]);
    body.extend([0x01, 0x00]); // null compression
    let exts: &[u8] = &[
        0x00, 0x0d, 0x00, 0x06, 0x00, 0x04, 0x04, 0x03, 0x04, 0x01, // signature_algorithms
        0x00, 0x0a, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x17, // supported_groups
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, // ec_point_formats
    ];
    body.extend(u16::try_from(exts.len()).expect("small").to_be_bytes());
    body.extend(exts);
    let mut hs = vec![0x01, 0x00];
    hs.extend(u16::try_from(body.len()).expect("small").to_be_bytes());
    hs.extend(body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend(u16::try_from(hs.len()).expect("small").to_be_bytes());
    rec.extend(hs);
    rec
}

#[test]
fn a_peer_that_hangs_up_is_closed_on_our_side_too() {
    let mut env = Env::new();
    let _server = Server::start(&mut env);
    let trust = tls_config(&generated_cert(&env));
    for _ in 0..3 {
        let mut tls = tls_connect(env.tls_addr(), trust.clone()).expect("handshake");
        // close_notify, then FIN: the server must close its end (not leave
        // the socket in CLOSE-WAIT with its tasks parked).
        tls.conn.send_close_notify();
        while tls.conn.wants_write() {
            tls.conn
                .write_tls(&mut tls.sock)
                .expect("write close_notify");
        }
        tls.sock
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
        tls.sock
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut rest = Vec::new();
        let r = tls.sock.read_to_end(&mut rest);
        assert!(r.is_ok(), "the server did not close its end: {r:?}");
    }
}
