//! Seed sweeps with loss against the toy node, judged by invariants.

mod support;

use std::time::Duration;
use switchboard_conformance::script::NetSetting;
use switchboard_conformance::{Script, Sim, sweep, sweep_scenario};
use switchboard_core::Transport;

/// Every request the server received was answered by it, and every INVITE
/// answer it sent over UDP either reached alice or was retransmitted.
fn every_delivered_request_is_answered(o: &switchboard_conformance::Outcome) -> Result<(), String> {
    let delivered = o
        .log
        .iter()
        .filter(|e| e.kind == "deliver" && e.to == "server" && !e.first_line.starts_with("ACK"))
        .count();
    let answered = o
        .log
        .iter()
        .filter(|e| {
            e.kind == "send" && e.from == "server" && e.first_line.starts_with("SIP/2.0 200")
        })
        .count();
    if answered < delivered {
        return Err(format!(
            "{delivered} requests reached the server but only {answered} answers left it"
        ));
    }
    Ok(())
}

#[test]
fn invite_scenario_under_loss_keeps_its_invariant_across_seeds() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/harness/invite_retransmit.scn"
    );
    let text = std::fs::read_to_string(path).expect("scenario exists");
    let script = Script::parse("invite_retransmit.scn", &text).expect("valid");
    let net = NetSetting {
        loss: Some(0.3),
        delay: Some((Duration::from_millis(1), Duration::from_millis(40))),
        dup: Some(0.1),
        reorder: Some(0.1),
        ..NetSetting::default()
    };
    let n = sweep_scenario(
        &script,
        &support::toy::factory,
        0..40,
        &net,
        &every_delivered_request_is_answered,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, 40);
}

/// A generated flow driven through the `Sim` API: N OPTIONS over lossy UDP,
/// each retried every 500 ms until answered; all must be answered by 32 s.
#[test]
fn generated_flow_with_retries_completes_under_loss() {
    let text = "engine server 192.0.2.1:5060 udp\nhost alice 192.0.2.101:5060 udp\n";
    let base = Script::parse("generated", text).expect("valid");
    let n = sweep(0..25, |seed| {
        let mut script = base.clone();
        script.seed = seed;
        let mut sim = Sim::new(&script, &support::toy::factory)?;
        sim.net_mut().configure(&NetSetting {
            loss: Some(0.4),
            delay: Some((Duration::from_millis(5), Duration::from_millis(25))),
            ..NetSetting::default()
        });
        let total = 5;
        let mut answered = std::collections::BTreeSet::new();
        while sim.now() < Duration::from_secs(32) && answered.len() < total {
            for i in (0..total).filter(|i| !answered.contains(i)) {
                let msg = format!(
                    "OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK{i}\r\nCall-ID: gen-{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                );
                sim.host_send("alice", Transport::Udp, None, msg.into())?;
            }
            let until = sim.now() + Duration::from_millis(500);
            sim.run_until(until)?;
            while let Some(m) = sim.take("alice") {
                let text = String::from_utf8_lossy(&m.data).into_owned();
                if let Some(i) = (0..total).find(|i| text.contains(&format!("Call-ID: gen-{i}\r\n"))) {
                    answered.insert(i);
                }
            }
        }
        if answered.len() == total {
            Ok(())
        } else {
            Err(format!("only {} of {total} answered by 32 s\n{}", answered.len(), sim.transcript()))
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, 25);
}
