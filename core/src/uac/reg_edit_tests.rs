//! Engine-level tests of an upstream registration's lifecycle across edits
//! of its destination (issue 4; RFC 3261 §10.2.4 one Call-ID per contact,
//! §10.3 step 7 a lower CSeq or a crossing `Expires: 0`, §8.1.3.3 answers
//! matched to their request).

use super::RegState;
use super::engine_tests::{answer, drain, engine, upstream};
use crate::routing::RoutingConfig;
use crate::sip::{HeaderName, Message, Method};
use crate::{Command, Engine, Input};
use std::time::{Duration, Instant};

fn registers(sent: &[Message]) -> Vec<&Message> {
    sent.iter()
        .filter(|m| m.method() == Some(&Method::Register))
        .collect()
}

/// The REGISTERs that are not un-REGISTERs (retransmissions of those may
/// go out on any input).
fn fresh(sent: &[Message]) -> Vec<&Message> {
    registers(sent)
        .into_iter()
        .filter(|m| m.header(HeaderName::Expires) != Some("0"))
        .collect()
}

/// An engine with `up1` registered (its 200 answered); returns the REGISTER.
fn registered(t0: Instant) -> (Engine, Message) {
    let mut e = engine(t0);
    e.handle_command(t0, Command::ReplaceRouting(upstream(true, false)))
        .expect("valid routing");
    let (sent, _) = drain(&mut e);
    let reg = sent.into_iter().next().expect("one REGISTER");
    answer(&mut e, t0, &reg, "200 OK", "Expires: 600\r\n");
    drain(&mut e);
    assert_eq!(e.upstream_registrations()[0].state, RegState::Registered);
    (e, reg)
}

fn replace(e: &mut Engine, now: Instant, cfg: RoutingConfig) -> Vec<Message> {
    e.handle_command(now, Command::ReplaceRouting(cfg))
        .expect("valid routing");
    drain(e).0
}

#[test]
fn an_edit_of_other_fields_keeps_the_registration_and_call_id() {
    let t0 = crate::test_epoch();
    let (mut e, first) = registered(t0);
    let mut cfg = upstream(true, false);
    cfg.destinations[0].capacity = Some(5);
    cfg.destinations[0].add_prefix = "00".into();
    let sent = replace(&mut e, t0, cfg);
    assert!(registers(&sent).is_empty(), "no un-REGISTER, no REGISTER");
    assert_eq!(e.upstream_registrations()[0].state, RegState::Registered);
    assert!(e.routing_table().state("up1").expect("known").registered);
    // The refresh (at half of 600 s) continues the same Call-ID and CSeq.
    let t1 = t0 + Duration::from_secs(300);
    e.handle_input(Input::Timeout(t1));
    let (sent, _) = drain(&mut e);
    let regs = registers(&sent);
    assert_eq!(regs.len(), 1);
    assert_eq!(regs[0].call_id(), first.call_id());
    assert_eq!(regs[0].cseq().seq, first.cseq().seq + 1);
}

#[test]
fn new_credentials_reregister_at_once_with_the_same_call_id() {
    let t0 = crate::test_epoch();
    let (mut e, first) = registered(t0);
    let mut cfg = upstream(true, false);
    cfg.destinations[0].password = Some("new".into());
    cfg.destinations[0].register_expires = 900;
    let sent = replace(&mut e, t0, cfg);
    let regs = registers(&sent);
    assert_eq!(regs.len(), 1, "one REGISTER, no un-REGISTER");
    assert_eq!(regs[0].header(HeaderName::Expires), Some("900"));
    assert_eq!(regs[0].call_id(), first.call_id());
    assert_eq!(regs[0].cseq().seq, first.cseq().seq + 1);
    // Superseded again before the answer: the first one's late answer does
    // not count, the second one's does.
    let pending = regs[0].clone();
    let mut cfg = upstream(true, false);
    cfg.destinations[0].password = Some("newer".into());
    cfg.destinations[0].register_expires = 900;
    let sent = replace(&mut e, t0, cfg);
    let regs = registers(&sent);
    assert_eq!(regs.len(), 1);
    assert_eq!(regs[0].cseq().seq, first.cseq().seq + 2);
    let latest = regs[0].clone();
    answer(&mut e, t0, &pending, "200 OK", "Expires: 30\r\n");
    drain(&mut e);
    assert_eq!(
        e.upstream_registrations()[0].expires_at,
        Some(t0 + Duration::from_secs(600)),
        "the superseded request's 200 changed nothing"
    );
    answer(&mut e, t0, &latest, "200 OK", "Expires: 900\r\n");
    drain(&mut e);
    assert_eq!(
        e.upstream_registrations()[0].expires_at,
        Some(t0 + Duration::from_secs(900))
    );
}

#[test]
fn a_new_account_waits_for_the_old_ones_unregister() {
    let t0 = crate::test_epoch();
    let (mut e, first) = registered(t0);
    let mut cfg = upstream(true, false);
    cfg.destinations[0].username = Some("other".into());
    let sent = replace(&mut e, t0, cfg);
    let regs = registers(&sent);
    assert_eq!(regs.len(), 1, "only the un-REGISTER goes out");
    assert_eq!(regs[0].header(HeaderName::Expires), Some("0"));
    assert_eq!(regs[0].call_id(), first.call_id());
    let unreg = regs[0].clone();
    // Nothing else while it is in flight, however long we wait for Timer E.
    e.handle_input(Input::Timeout(t0 + Duration::from_millis(400)));
    let (sent, _) = drain(&mut e);
    assert!(
        registers(&sent)
            .iter()
            .all(|m| m.header(HeaderName::Expires) == Some("0")),
        "only retransmissions of the un-REGISTER"
    );
    let t1 = t0 + Duration::from_secs(1);
    // Its 200 is its own: not taken for the new registration, which starts
    // only now.
    answer(&mut e, t1, &unreg, "200 OK", "Expires: 600\r\n");
    let (sent, _) = drain(&mut e);
    assert!(fresh(&sent).is_empty(), "nothing sent before the next poll");
    let states = e.upstream_registrations();
    assert_eq!(states.len(), 1);
    assert_eq!(
        states[0].state,
        RegState::Pending,
        "not taken for the new one"
    );
    e.handle_input(Input::Timeout(t1));
    let (sent, _) = drain(&mut e);
    let regs = fresh(&sent);
    assert_eq!(regs.len(), 1);
    assert_eq!(regs[0].header(HeaderName::Expires), Some("600"));
    assert!(
        regs[0]
            .header(HeaderName::To)
            .is_some_and(|t| t.contains("other@"))
    );
    assert_ne!(regs[0].call_id(), first.call_id(), "another account");
}

#[test]
fn readded_during_its_unregister_waits_and_keeps_the_call_id() {
    let t0 = crate::test_epoch();
    let (mut e, first) = registered(t0);
    let sent = replace(&mut e, t0, RoutingConfig::default());
    let unreg = registers(&sent)[0].clone();
    assert_eq!(unreg.header(HeaderName::Expires), Some("0"));
    // Re-added before the un-REGISTER is answered.
    let sent = replace(&mut e, t0, upstream(true, false));
    assert!(registers(&sent).is_empty(), "waits for the un-REGISTER");
    assert_eq!(e.upstream_registrations().len(), 1);
    assert_eq!(e.upstream_registrations()[0].state, RegState::Pending);
    // The un-REGISTER's 200 is its own: the new registration is not Registered by it.
    answer(&mut e, t0, &unreg, "200 OK", "Expires: 600\r\n");
    let (sent, _) = drain(&mut e);
    assert!(fresh(&sent).is_empty());
    assert_eq!(e.upstream_registrations()[0].state, RegState::Pending);
    assert!(!e.routing_table().state("up1").expect("known").registered);
    e.handle_input(Input::Timeout(t0));
    let (sent, _) = drain(&mut e);
    let regs = fresh(&sent);
    assert_eq!(regs.len(), 1);
    assert_eq!(regs[0].header(HeaderName::Expires), Some("600"));
    assert_eq!(
        regs[0].call_id(),
        first.call_id(),
        "same account, same Call-ID"
    );
    assert!(
        regs[0].cseq().seq > unreg.cseq().seq,
        "above the un-REGISTER, so a registrar orders them right"
    );
    let reg = regs[0].clone();
    answer(&mut e, t0, &reg, "200 OK", "Expires: 600\r\n");
    drain(&mut e);
    assert_eq!(e.upstream_registrations()[0].state, RegState::Registered);
}

#[test]
fn an_answer_with_another_cseq_does_not_register() {
    let t0 = crate::test_epoch();
    let mut e = engine(t0);
    let sent = replace(&mut e, t0, upstream(true, false));
    let reg = sent[0].clone();
    // Same branch (the transaction matches) but the CSeq of another request.
    let text = String::from_utf8_lossy(reg.raw()).replace("CSeq: 1 REGISTER", "CSeq: 7 REGISTER");
    let forged = Message::parse(bytes::Bytes::from(text), &Default::default()).expect("valid");
    answer(&mut e, t0, &forged, "200 OK", "");
    drain(&mut e);
    let regs = e.upstream_registrations();
    assert_eq!(regs[0].state, RegState::Failed);
    assert!(!e.routing_table().state("up1").expect("known").registered);
}
