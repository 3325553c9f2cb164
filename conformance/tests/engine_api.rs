//! The engine's operator API: commands and queries the runtime and the HTTP
//! API rely on (restoring saved bindings, clearing registrations, removing
//! extensions), checked through their effect on routing.

use std::net::SocketAddr;
use std::time::Duration;
use switchboard_conformance::probe::{Probe, statuses_to, transmits};
use switchboard_core::Command;
use switchboard_core::registrar::NewBinding;

const CALLER: &str = "192.0.2.101:5060";
const CALLEE: &str = "192.0.2.102:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("literal address")
}

fn invite(to_user: &str, n: u32) -> String {
    format!(
        "INVITE sip:{to_user}@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {CALLER};branch=z9hG4bKapi{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:101@example.com>;tag=a{n}\r\nTo: <sip:{to_user}@example.com>\r\n\
         Call-ID: api-{n}\r\nCSeq: 1 INVITE\r\nContact: <sip:101@{CALLER}>\r\nContent-Length: 0\r\n\r\n"
    )
}

fn restored(p: &Probe, contact: &str, expires: Duration) -> NewBinding {
    NewBinding {
        contact: contact.into(),
        contact_key: contact.into(),
        q: 1000,
        expires_at: p.now() + expires,
        call_id: "saved-call-id".into(),
        cseq: 7,
        flow: Probe::udp_flow(addr(CALLEE)),
        instance: None,
        reg_id: None,
        path: Vec::new(),
        user_agent: Some("restored".into()),
    }
}

#[test]
fn a_restored_binding_routes_calls_until_it_expires() {
    let mut p = Probe::with_users(&["101", "102"]);
    let b = restored(&p, &format!("sip:102@{CALLEE}"), Duration::from_secs(60));
    p.command(Command::RestoreBinding {
        aor: "102@example.com".into(),
        binding: b,
    })
    .expect("restorable");
    assert_eq!(p.engine().bindings_of("102@example.com").len(), 1);
    let out = p.datagram(addr(CALLER), invite("102", 1)).expect("settles");
    let to_callee: Vec<_> = transmits(&out)
        .filter(|t| t.remote == addr(CALLEE))
        .collect();
    assert_eq!(
        to_callee.len(),
        1,
        "the INVITE is forwarded to the restored contact"
    );
    // After its expiry the binding is gone and the callee is unavailable.
    p.advance(Duration::from_secs(61)).expect("settles");
    assert!(p.engine().bindings_of("102@example.com").is_empty());
    let out = p.datagram(addr(CALLER), invite("102", 2)).expect("settles");
    assert!(statuses_to(&out, addr(CALLER)).contains(&480));
}

#[test]
fn expired_bindings_are_not_restored_and_clearing_removes_bindings() {
    let mut p = Probe::with_users(&["101", "102"]);
    let mut old = restored(&p, &format!("sip:102@{CALLEE}"), Duration::from_secs(1));
    old.expires_at = p.now();
    assert!(
        p.command(Command::RestoreBinding {
            aor: "102@example.com".into(),
            binding: old
        })
        .is_err()
    );
    let b = restored(&p, &format!("sip:102@{CALLEE}"), Duration::from_secs(600));
    p.command(Command::RestoreBinding {
        aor: "102@example.com".into(),
        binding: b,
    })
    .expect("restorable");
    p.command(Command::ClearRegistration("102".into()))
        .expect("clears");
    assert!(p.engine().bindings_of("102@example.com").is_empty());
    let out = p.datagram(addr(CALLER), invite("102", 3)).expect("settles");
    assert!(statuses_to(&out, addr(CALLER)).contains(&480));
    p.command(Command::RemoveExtension("102".into()))
        .expect("removes");
    let out = p.datagram(addr(CALLER), invite("102", 4)).expect("settles");
    assert!(statuses_to(&out, addr(CALLER)).contains(&404));
    assert!(
        p.command(Command::RemoveExtension("102".into())).is_err(),
        "already gone"
    );
}
