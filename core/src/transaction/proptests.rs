//! Property tests over all four transaction machines (RFC 3261 §17): random event sequences at
//! random, monotonic virtual times. Each machine must never panic (stale-timer `debug_assert`s
//! included), never report a deadline before the last `now`, report Terminated exactly once,
//! and, fed only timeouts afterwards, either terminate within 64·T1 + T4 + 32 s or be waiting
//! without any timer in a state where RFC 3261 waits for the peer or the TU (INVITE client
//! Proceeding, INVITE server Proceeding, non-INVITE server Trying/Proceeding).

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{
    ClientAction, ClientInvite, ClientNonInvite, ServerAction, ServerInvite, ServerNonInvite,
    TimerConfig, client_invite, server_invite, server_non_invite, test_clock_origin,
};

/// One random input.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// A response from the network (client) or from the TU (server).
    Status(u16),
    /// A request retransmission (server only; a no-op call for clients).
    Retransmission,
    /// An ACK (INVITE server only).
    Ack,
    Timeout,
    TransportError,
}

/// The common surface of the four machines, for the generic checks.
trait Machine {
    fn feed(&mut self, now: Instant, op: Op);
    fn deadline(&self) -> Option<Instant>;
    fn terminated(&self) -> bool;
    /// Drains the queue; returns how many Terminated actions came out.
    fn drain_terminated(&mut self) -> usize;
    /// Whether the machine is in a state where it may legitimately wait without a timer.
    fn may_wait_forever(&self) -> bool;
}

fn count_client(actions: impl Iterator<Item = ClientAction>) -> usize {
    actions.filter(|a| *a == ClientAction::Terminated).count()
}

fn count_server(actions: impl Iterator<Item = ServerAction>) -> usize {
    actions.filter(|a| *a == ServerAction::Terminated).count()
}

impl Machine for ClientInvite {
    fn feed(&mut self, now: Instant, op: Op) {
        match op {
            Op::Status(s) => self.handle_response(now, s),
            Op::Timeout | Op::Retransmission | Op::Ack => self.handle_timeout(now),
            Op::TransportError => self.handle_transport_error(now),
        }
    }
    fn deadline(&self) -> Option<Instant> {
        self.poll_timeout()
    }
    fn terminated(&self) -> bool {
        self.is_terminated()
    }
    fn drain_terminated(&mut self) -> usize {
        count_client(std::iter::from_fn(|| self.poll_action()))
    }
    fn may_wait_forever(&self) -> bool {
        self.state() == client_invite::State::Proceeding
    }
}

impl Machine for ClientNonInvite {
    fn feed(&mut self, now: Instant, op: Op) {
        match op {
            Op::Status(s) => self.handle_response(now, s),
            Op::Timeout | Op::Retransmission | Op::Ack => self.handle_timeout(now),
            Op::TransportError => self.handle_transport_error(now),
        }
    }
    fn deadline(&self) -> Option<Instant> {
        self.poll_timeout()
    }
    fn terminated(&self) -> bool {
        self.is_terminated()
    }
    fn drain_terminated(&mut self) -> usize {
        count_client(std::iter::from_fn(|| self.poll_action()))
    }
    fn may_wait_forever(&self) -> bool {
        false // Timer F always bounds it
    }
}

impl Machine for ServerInvite {
    fn feed(&mut self, now: Instant, op: Op) {
        match op {
            Op::Status(s) => self.handle_tu_response(now, s),
            Op::Retransmission => self.handle_request_retransmission(now),
            Op::Ack => self.handle_ack(now),
            Op::Timeout => self.handle_timeout(now),
            Op::TransportError => self.handle_transport_error(now),
        }
    }
    fn deadline(&self) -> Option<Instant> {
        self.poll_timeout()
    }
    fn terminated(&self) -> bool {
        self.is_terminated()
    }
    fn drain_terminated(&mut self) -> usize {
        count_server(std::iter::from_fn(|| self.poll_action()))
    }
    fn may_wait_forever(&self) -> bool {
        self.state() == server_invite::State::Proceeding
    }
}

impl Machine for ServerNonInvite {
    fn feed(&mut self, now: Instant, op: Op) {
        match op {
            Op::Status(s) => self.handle_tu_response(now, s),
            Op::Retransmission | Op::Ack => self.handle_request_retransmission(now),
            Op::Timeout => self.handle_timeout(now),
            Op::TransportError => self.handle_transport_error(now),
        }
    }
    fn deadline(&self) -> Option<Instant> {
        self.poll_timeout()
    }
    fn terminated(&self) -> bool {
        self.is_terminated()
    }
    fn drain_terminated(&mut self) -> usize {
        count_server(std::iter::from_fn(|| self.poll_action()))
    }
    fn may_wait_forever(&self) -> bool {
        matches!(
            self.state(),
            server_non_invite::State::Trying | server_non_invite::State::Proceeding
        )
    }
}

fn check<M: Machine>(
    mut m: M,
    base: Instant,
    cfg: &TimerConfig,
    ops: &[(u64, Op)],
) -> Result<(), TestCaseError> {
    let mut now = base;
    let mut terminations = 0;
    for &(advance_ms, op) in ops {
        now += Duration::from_millis(advance_ms);
        m.feed(now, op);
        terminations += m.drain_terminated();
        if let Some(at) = m.deadline() {
            prop_assert!(at >= now, "deadline {:?} before now", now - at);
        }
        prop_assert_eq!(terminations, usize::from(m.terminated()));
    }
    // Only timeouts from here on, each exactly at the deadline.
    let last_activity = now;
    let bound = cfg.t1() * 64 + cfg.t4() + Duration::from_secs(32);
    for _ in 0..1000 {
        let Some(at) = m.deadline() else { break };
        prop_assert!(at >= now);
        now = at;
        m.feed(now, Op::Timeout);
        terminations += m.drain_terminated();
    }
    prop_assert_eq!(m.deadline(), None, "timer loop did not settle");
    if m.terminated() {
        prop_assert_eq!(terminations, 1);
        prop_assert!(
            now - last_activity <= bound,
            "took {:?}",
            now - last_activity
        );
    } else {
        prop_assert!(m.may_wait_forever(), "stuck without a timer");
        prop_assert_eq!(terminations, 0);
    }
    Ok(())
}

fn op() -> impl Strategy<Value = (u64, Op)> {
    let status = prop_oneof![
        8 => prop_oneof![100u16..=199, 200u16..=299, 300u16..=699],
        1 => any::<u16>(),
    ];
    let op = prop_oneof![
        4 => status.prop_map(Op::Status),
        2 => Just(Op::Retransmission),
        1 => Just(Op::Ack),
        3 => Just(Op::Timeout),
        1 => Just(Op::TransportError),
    ];
    let advance = prop_oneof![3 => 0u64..1000, 1 => 0u64..40_000];
    (advance, op)
}

fn config() -> impl Strategy<Value = TimerConfig> {
    prop_oneof![
        Just(TimerConfig::default()),
        (1u64..=2000, 0u64..=6000, 0u64..=10_000, 0u64..=1000).prop_map(
            |(t1, extra, t4, trying)| {
                TimerConfig::new(
                    Duration::from_millis(t1),
                    Duration::from_millis(t1 + extra),
                    Duration::from_millis(t4),
                    Duration::from_millis(trying),
                )
                .expect("t1 > 0, t2 >= t1, all below the maximum")
            }
        ),
    ]
}

proptest! {
    #[test]
    fn client_invite_invariants(cfg in config(), reliable: bool, ops in prop::collection::vec(op(), 0..40)) {
        let base = test_clock_origin();
        check(ClientInvite::new(base, &cfg, reliable), base, &cfg, &ops)?;
    }

    #[test]
    fn client_non_invite_invariants(cfg in config(), reliable: bool, ops in prop::collection::vec(op(), 0..40)) {
        let base = test_clock_origin();
        check(ClientNonInvite::new(base, &cfg, reliable), base, &cfg, &ops)?;
    }

    #[test]
    fn server_invite_invariants(cfg in config(), reliable: bool, ops in prop::collection::vec(op(), 0..40)) {
        let base = test_clock_origin();
        check(ServerInvite::new(base, &cfg, reliable), base, &cfg, &ops)?;
    }

    #[test]
    fn server_non_invite_invariants(cfg in config(), reliable: bool, ops in prop::collection::vec(op(), 0..40)) {
        let base = test_clock_origin();
        check(ServerNonInvite::new(base, &cfg, reliable), base, &cfg, &ops)?;
    }
}
