//! End-to-end registration (RFC 3261 §10, digest per §22 and RFC 8760) against
//! the real `switchboard` binary: over UDP, over TCP (the responses come back on
//! the connection the request used, §18.2.2), and extensions added by the CLI
//! while the server runs become usable without a restart.

mod support;

use std::time::{Duration, Instant};
use support::{Env, Server, Ua, text};

#[test]
fn register_over_udp_with_digest() {
    let mut env = Env::new();
    env.add_extension("101", "secret-101");
    let server = Server::start(&mut env);
    assert!(
        server
            .ready
            .contains(&format!("UDP 127.0.0.1:{}", env.port))
            && server
                .ready
                .contains(&format!("TCP 127.0.0.1:{}", env.port)),
        "{}",
        server.ready
    );
    let mut ua = Ua::udp(server.addr, "101", "secret-101");
    let granted = ua.register_ok(600);
    assert_eq!(granted, 600);
    // A refresh with the same Call-ID is answered 200 again.
    assert_eq!(ua.register_ok(300), 300);
}

#[test]
fn wrong_password_is_challenged_again() {
    let mut env = Env::new();
    env.add_extension("101", "secret-101");
    let server = Server::start(&mut env);
    let mut ua = Ua::udp(server.addr, "101", "not-the-password");
    let resp = ua.register(600);
    assert_eq!(resp.status(), Some(401), "{}", text(&resp));
}

#[test]
fn register_over_tcp_with_digest() {
    let mut env = Env::new();
    env.add_extension("102", "secret-102");
    let server = Server::start(&mut env);
    // Every response is read from the one connection the UA opened.
    let mut ua = Ua::tcp(server.addr, "102", "secret-102");
    assert!(ua.contact_uri().ends_with(";transport=tcp"));
    assert_eq!(ua.register_ok(600), 600);
    // The connection stays usable after the 200.
    let resp = ua.options();
    assert_eq!(resp.status(), Some(200), "{}", text(&resp));
}

#[test]
fn extension_added_by_the_cli_while_running_registers_within_two_seconds() {
    let mut env = Env::new();
    env.add_extension("101", "secret-101");
    let server = Server::start(&mut env);
    env.add_extension("103", "secret-103");
    let added = Instant::now();
    let mut ua = Ua::udp(server.addr, "103", "secret-103");
    let mut attempts = 0;
    loop {
        attempts += 1;
        let resp = ua.register(600);
        if resp.status() == Some(200) {
            break;
        }
        assert_eq!(resp.status(), Some(401), "{}", text(&resp));
        assert!(
            added.elapsed() < Duration::from_secs(2),
            "extension 103 still refused {:?} after `ext add` ({attempts} attempts)",
            added.elapsed()
        );
        // Bounded polling: one attempt every 100 ms.
        std::thread::sleep(Duration::from_millis(100));
    }
    // And the server did not need a restart: 101 still works too.
    let mut ua101 = Ua::udp(server.addr, "101", "secret-101");
    ua101.register_ok(600);
}
