//! End-to-end calls through the proxy (RFC 3261 §16 stateful proxy, §12
//! dialogs, §22 digest with 407 for local callers): the real binary, two
//! extensions registered over UDP (or the callee over TCP), INVITE → 407 →
//! INVITE with Proxy-Authorization → 180/200 → ACK and BYE along the
//! Record-Route set; then, after a graceful stop, the call record in the
//! database.

mod support;

use support::{DOMAIN, Env, Server, Ua, call};
use switchboard_storage::Db;

fn call_and_check_record(callee_tcp: bool) {
    let mut env = Env::new();
    env.add_extension("101", "secret-101");
    env.add_extension("102", "secret-102");
    let server = Server::start(&mut env);
    let mut caller = Ua::udp(server.addr, "101", "secret-101");
    let mut callee = if callee_tcp {
        Ua::tcp(server.addr, "102", "secret-102")
    } else {
        Ua::udp(server.addr, "102", "secret-102")
    };
    caller.register_ok(600);
    callee.register_ok(600);
    let done = call(&mut caller, &mut callee, env.port);

    let status = server.terminate();
    assert!(status.success(), "exit after SIGTERM: {status}");
    let db = Db::open(&env.db_path()).expect("opening the database");
    let records = db.list_call_records(10, 0).expect("reading call records");
    let rec = records
        .iter()
        .map(|r| &r.record)
        .find(|r| r.call_id == done.call_id)
        .unwrap_or_else(|| panic!("no call record for {}: {records:?}", done.call_id));
    assert_eq!(rec.caller, format!("sip:101@{DOMAIN}"));
    assert_eq!(rec.callee, format!("sip:102@{DOMAIN}"));
    assert_eq!(rec.cause, "caller hung up");
    let answer = rec.answer_ms.expect("an answered call has an answer time");
    assert!(
        rec.start_ms <= answer && answer <= rec.end_ms,
        "start {} ≤ answer {answer} ≤ end {}",
        rec.start_ms,
        rec.end_ms
    );
    assert_eq!(records.len(), 1, "one call, one record: {records:?}");
}

#[test]
fn call_between_two_udp_extensions() {
    call_and_check_record(false);
}

#[test]
fn call_to_an_extension_registered_over_tcp() {
    call_and_check_record(true);
}
