//! Per-destination TLS options end to end (issue 5): the real binary sends
//! its OPTIONS pings (`--ping`) to a destination with transport TLS served by
//! a small rustls test server whose self-signed certificate is NOT in the
//! roots the server trusts.
//!
//! - verify on (the default): the handshake is refused by our side, nothing
//!   reaches the test server, and the failure is logged;
//! - `--tls-verify no`: the ping reaches the test server over TLS and a
//!   warning names the destination;
//! - mutual TLS: a test server that requires a client certificate sees the
//!   configured one (DER compared); an unreadable key fails the connect with
//!   an error naming the file;
//! - `dest show` prints the options; `dest edit` changes them keeping the rest.

mod support;

use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::{Env, Finished, Server, run};

fn sb(env: &Env, args: &[&str]) -> Finished {
    let mut all = vec!["-c", env.config.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    run(&all)
}

#[track_caller]
fn ok(f: &Finished) -> String {
    assert!(
        f.status.success(),
        "expected success: {}\nstdout: {}\nstderr: {}",
        f.status,
        f.stdout,
        f.stderr
    );
    f.stdout.clone()
}

/// A fresh self-signed pair for `name`, written as `<file>.crt`/`.key` in `dir`.
fn write_pair(dir: &Path, file: &str, name: &str) -> (PathBuf, PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec![name.to_owned()]).expect("rcgen");
    let cert = dir.join(format!("{file}.crt"));
    let key = dir.join(format!("{file}.key"));
    std::fs::write(&cert, ck.cert.pem()).expect("write cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("write key");
    (cert, key)
}

/// What the test server saw on one connection.
#[derive(Debug)]
enum Seen {
    /// A completed handshake: the client's certificate (if any) and the
    /// first bytes it sent.
    Data(Option<Vec<u8>>, String),
    /// The handshake failed.
    Failed(String),
}

/// A TLS server on 127.0.0.1 (thread; accepts until the test ends),
/// requiring a client certificate issued by `client_root` when given.
fn test_server(dir: &Path, client_root: Option<&Path>) -> (u16, mpsc::Receiver<Seen>) {
    let (cert, key) = write_pair(dir, "carrier", "127.0.0.1");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = vec![CertificateDer::from_pem_file(&cert).expect("cert")];
    let key = PrivateKeyDer::from_pem_file(&key).expect("key");
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match client_root {
        None => builder.with_no_client_auth(),
        Some(root) => {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_file(root).expect("client root"))
                .expect("usable root");
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = Arc::new(builder.with_single_cert(chain, key).expect("server config"));
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let conn = rustls::ServerConnection::new(config.clone()).expect("server conn");
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut seen = None;
            while tls.conn.is_handshaking() {
                if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
                    seen = Some(Seen::Failed(e.to_string()));
                    break;
                }
            }
            let seen = seen.unwrap_or_else(|| {
                let peer = tls
                    .conn
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.as_ref().to_vec());
                let mut buf = [0u8; 2048];
                let n = tls.read(&mut buf).unwrap_or(0);
                Seen::Data(peer, String::from_utf8_lossy(&buf[..n]).into_owned())
            });
            if tx.send(seen).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

fn next_seen(rx: &mpsc::Receiver<Seen>) -> Seen {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("a connection to the test server within 10 s")
}

fn wait_for_log(server: &Server, needle: &str) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if server.stderr().contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn verification_is_on_by_default_and_can_be_switched_off_per_destination() {
    let mut env = Env::new();
    let (port, seen) = test_server(env.dir(), None);
    let port = port.to_string();
    let add = [
        "dest",
        "add",
        "lab",
        "--gateway",
        "127.0.0.1",
        "--port",
        &port,
        "--transport",
        "tls",
        "--ping",
    ];
    ok(&sb(&env, &add));
    let show = ok(&sb(&env, &["dest", "show", "lab"]));
    assert!(show.contains("tls verify        yes"), "{show}");
    assert!(show.contains("tls client cert   -"), "{show}");

    let server = Server::start(&mut env);
    match next_seen(&seen) {
        Seen::Failed(e) => assert!(e.contains("alert"), "our side refused the certificate: {e}"),
        other => panic!("an unverified peer got {other:?}"),
    }
    assert!(
        wait_for_log(&server, "TLS handshake failed"),
        "{}",
        server.stderr()
    );
    assert!(!server.stderr().contains("TLS peer not verified"));
    assert!(server.terminate().success());

    let edit = ok(&sb(&env, &["dest", "edit", "lab", "--tls-verify", "no"]));
    assert!(edit.contains("not verified"), "{edit}");
    let show = ok(&sb(&env, &["dest", "show", "lab"]));
    assert!(show.contains("tls verify        no"), "{show}");
    assert!(
        show.contains("options ping      yes"),
        "edit keeps the rest: {show}"
    );

    let server = Server::start(&mut env);
    match next_seen(&seen) {
        Seen::Data(peer, text) => {
            assert!(text.starts_with("OPTIONS sip:"), "{text}");
            assert_eq!(peer, None, "no client certificate configured");
        }
        other => panic!("expected the ping, got {other:?}"),
    }
    assert!(
        wait_for_log(&server, "TLS peer not verified for destination lab"),
        "{}",
        server.stderr()
    );
    assert!(server.terminate().success());

    // Verification off is refused for a transport other than TLS.
    let f = sb(
        &env,
        &[
            "dest",
            "add",
            "udp",
            "--gateway",
            "127.0.0.1",
            "--tls-verify",
            "no",
        ],
    );
    assert_eq!(f.status.code(), Some(1), "{}", f.stdout);
    assert!(
        f.stderr.contains("only applies to transport TLS"),
        "{}",
        f.stderr
    );
}

#[test]
fn a_configured_client_certificate_is_presented() {
    let mut env = Env::new();
    let (client_cert, client_key) = write_pair(env.dir(), "client", "pbx.example.test");
    let (port, seen) = test_server(env.dir(), Some(&client_cert));
    let port = port.to_string();
    let missing = env.dir().join("missing.key");
    // First an unreadable key: the connect fails naming the file.
    ok(&sb(
        &env,
        &[
            "dest",
            "add",
            "carrier",
            "--gateway",
            "127.0.0.1",
            "--port",
            &port,
            "--transport",
            "tls",
            "--tls-verify",
            "no",
            "--tls-client-cert",
            client_cert.to_str().expect("utf-8"),
            "--tls-client-key",
            missing.to_str().expect("utf-8"),
            "--ping",
        ],
    ));
    let server = Server::start(&mut env);
    assert!(
        wait_for_log(&server, "missing.key"),
        "the error names the file: {}",
        server.stderr()
    );
    assert!(seen.try_recv().is_err(), "nothing was sent");
    assert!(server.terminate().success());

    ok(&sb(
        &env,
        &[
            "dest",
            "edit",
            "carrier",
            "--tls-client-cert",
            client_cert.to_str().expect("utf-8"),
            "--tls-client-key",
            client_key.to_str().expect("utf-8"),
        ],
    ));
    let show = ok(&sb(&env, &["dest", "show", "carrier"]));
    assert!(show.contains("client.crt"), "{show}");
    assert!(show.contains("client.key"), "{show}");
    let server = Server::start(&mut env);
    let expected = CertificateDer::from_pem_file(&client_cert)
        .expect("cert")
        .as_ref()
        .to_vec();
    match next_seen(&seen) {
        Seen::Data(peer, text) => {
            assert_eq!(peer, Some(expected), "the configured certificate");
            assert!(text.starts_with("OPTIONS sip:"), "{text}");
        }
        other => panic!("expected the ping, got {other:?}"),
    }
    assert!(server.terminate().success());

    // A key without its certificate is refused by the CLI.
    let f = sb(
        &env,
        &[
            "dest",
            "edit",
            "carrier",
            "--tls-client-key",
            client_key.to_str().expect("utf-8"),
        ],
    );
    assert_ne!(f.status.code(), Some(0), "{}", f.stdout);
}
