//! Simulation-loop tests: time jumps, the step bound, UDP and TCP paths.

use super::*;
use crate::testnode::Echo;

fn script(body: &str) -> Script {
    Script::parse(
        "t.scn",
        &format!(
            "engine server 192.0.2.1:5060 udp tcp\nhost alice 192.0.2.101:5060 udp tcp\n{body}"
        ),
    )
    .expect("valid")
}

#[test]
fn time_jumps_to_the_next_timer() {
    let s = script("config tick=32000\n");
    let mut sim = Sim::new(&s, &Echo::boxed).expect("starts");
    sim.run_until(Duration::from_secs(100)).expect("runs");
    assert_eq!(sim.now(), Duration::from_secs(100));
    let ticks: Vec<&str> = sim
        .transcript()
        .lines()
        .filter(|l| l.contains("tick"))
        .collect();
    assert_eq!(ticks.len(), 3, "{}", sim.transcript());
    assert!(ticks[0].starts_with("+32.000s server event Log"));
    assert!(
        sim.steps() < 20,
        "idle time costs no steps ({})",
        sim.steps()
    );
}

#[test]
fn a_livelock_hits_the_step_bound() {
    let s = script("config stuck=1\nsteps 1000\n");
    let mut sim = Sim::new(&s, &Echo::boxed).expect("starts");
    let e = sim.run_until(Duration::from_secs(1)).expect_err("livelock");
    assert!(e.contains("step bound of 1000 exceeded"), "{e}");
}

#[test]
fn udp_and_tcp_round_trips() {
    let s = script("");
    let mut sim = Sim::new(&s, &Echo::boxed).expect("starts");
    sim.host_send(
        "alice",
        Transport::Udp,
        None,
        Bytes::from_static(b"PING u SIP/2.0\r\n\r\n"),
    )
    .expect("sends");
    assert!(
        sim.run_until_message(Some("alice"), Duration::from_secs(1))
            .expect("runs")
    );
    let m = sim.take("alice").expect("echo");
    assert_eq!(
        (m.transport, &m.data[..]),
        (Transport::Udp, &b"PING u SIP/2.0\r\n\r\n"[..])
    );
    assert_eq!(m.from, "192.0.2.1:5060".parse().expect("addr"));

    sim.host_send(
        "alice",
        Transport::Tcp,
        None,
        Bytes::from_static(b"PING t SIP/2.0\r\nl: 2\r\n\r\nhi"),
    )
    .expect("sends");
    assert!(
        sim.run_until_message(Some("alice"), Duration::from_secs(1))
            .expect("runs")
    );
    let m = sim.take("alice").expect("echo");
    assert_eq!(m.transport, Transport::Tcp);
    assert_eq!(&m.data[..], b"PING t SIP/2.0\r\nl: 2\r\n\r\nhi");
    assert!(m.conn.is_some());
    assert_eq!(sim.host_close("alice"), 1);
    sim.run_until(Duration::from_secs(2)).expect("runs");
    assert!(
        sim.transcript().contains("server <- alice TCP c1 closed"),
        "{}",
        sim.transcript()
    );
    assert!(sim.waiting().is_empty());
    assert!(
        sim.host_send("carol", Transport::Udp, None, Bytes::new())
            .is_err()
    );
}

#[test]
fn messages_to_unknown_addresses_are_noted_not_delivered() {
    let s = Script::parse(
        "t.scn",
        "engine server 192.0.2.1:5060 udp\nhost alice 192.0.2.101:5060 tcp\n",
    )
    .expect("valid");
    let mut sim = Sim::new(&s, &Echo::boxed).expect("starts");
    // alice does not listen on UDP, so the echo has nowhere to go.
    sim.host_send(
        "alice",
        Transport::Udp,
        None,
        Bytes::from_static(b"X y SIP/2.0\r\n\r\n"),
    )
    .expect("sends");
    assert!(
        !sim.run_until_message(None, Duration::from_secs(1))
            .expect("runs")
    );
    assert!(
        sim.transcript().contains("[no host listens there]"),
        "{}",
        sim.transcript()
    );
}
