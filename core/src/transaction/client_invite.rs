//! The INVITE client transaction (RFC 3261 §17.1.1, figure 5), with the Accepted state and
//! Timer M of RFC 6026 §7.2 and §8.4.
//!
//! ```text
//!            INVITE sent: A = T1 (unreliable only), B = 64·T1
//!  Calling ── A: retransmit, A doubles (no cap) ── B or transport error: inform TU ──► Terminated
//!    │ 1xx: to TU (A, B stopped)
//!    ▼
//!  Proceeding ── 1xx: to TU
//!    │ 300–699 (from Calling or Proceeding): ACK sent, to TU, D = max(32 s, 64·T1) / 0
//!    ▼
//!  Completed ── 300–699 again: ACK sent again ── D ──► Terminated
//!
//!  Calling/Proceeding ── 2xx: to TU, M = 64·T1 ──► Accepted ── 2xx: to TU (no ACK here:
//!                                                  the TU acks 2xx) ── M ──► Terminated
//! ```
//!
//! RFC 6026 replaces RFC 3261's "2xx: terminate at once" with the Accepted state, so that 2xx
//! retransmissions and 2xx from other forks still reach the TU through the transaction instead
//! of arriving as stray responses. The ACK for a non-2xx final (§17.1.1.3) is the layer's job on
//! [`ClientAction::SendAck`]: same Request-URI, Call-ID, From, CSeq number and top Via as the
//! INVITE, the To of the response, method ACK.

use std::time::{Duration, Instant};

use super::timer::{ActionQueue, MAX_FIRINGS_PER_CALL, TimerId, TimerTable};
use super::{Class, ClientAction, TimerConfig};

/// The states of figure 5 plus RFC 6026's Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum State {
    /// The INVITE was sent; no response yet. Timer A retransmits, Timer B gives up.
    Calling,
    /// A provisional response arrived; waiting (without a timer) for the final one.
    Proceeding,
    /// A 300–699 final arrived and was ACKed; absorbing its retransmissions until Timer D.
    Completed,
    /// RFC 6026: a 2xx arrived; further 2xx go to the TU until Timer M.
    Accepted,
    /// Done: the layer destroys the transaction.
    Terminated,
}

/// The timers of this machine, for logs ("woken by Timer A").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Timer {
    /// Timer B: transaction timeout, 64·T1.
    B,
    /// Timer A: INVITE retransmission (unreliable transports only).
    A,
    /// Timer D: wait for response retransmissions in Completed.
    D,
    /// Timer M (RFC 6026): wait for further 2xx in Accepted.
    M,
}

impl TimerId for Timer {
    // B before A: if both are due, time out rather than retransmit once more.
    const ALL: &'static [Self] = &[Self::B, Self::A, Self::D, Self::M];
    fn index(self) -> usize {
        self as usize
    }
}

/// One input to the transition table.
#[derive(Debug, Clone, Copy)]
enum Event {
    Response(Class),
    Fired(Timer),
    TransportError,
}

/// An INVITE client transaction (RFC 3261 §17.1.1 with RFC 6026).
#[derive(Debug, Clone)]
pub struct ClientInvite {
    state: State,
    cfg: TimerConfig,
    reliable: bool,
    /// Timer A's current interval: T1, 2·T1, 4·T1, … (figure 5: no cap).
    interval_a: Duration,
    timers: TimerTable<Timer, 4>,
    actions: ActionQueue<ClientAction>,
}

impl ClientInvite {
    /// Starts the transaction at `now`, the moment the layer sends the INVITE: enters Calling,
    /// arms Timer B and, on an unreliable transport, Timer A.
    pub fn new(now: Instant, cfg: &TimerConfig, reliable: bool) -> Self {
        let mut timers = TimerTable::new();
        timers.set(Timer::B, now, cfg.timer_b());
        if !reliable {
            timers.set(Timer::A, now, cfg.timer_a());
        }
        Self {
            state: State::Calling,
            cfg: *cfg,
            reliable,
            interval_a: cfg.timer_a(),
            timers,
            actions: ActionQueue::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether the machine reached Terminated and can be dropped.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// The next deadline: call [`Self::handle_timeout`] then. `None` while waiting only for the
    /// network (Proceeding) or once terminated.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next().map(|(_, at)| at)
    }

    /// The timer behind [`Self::poll_timeout`], for logs.
    #[must_use]
    pub fn next_timer(&self) -> Option<(Timer, Instant)> {
        self.timers.next()
    }

    /// The next action for the layer, oldest first; drain until `None` after every `handle_*`.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<ClientAction> {
        self.actions.pop()
    }

    /// A response matching this transaction arrived, with this status code.
    pub fn handle_response(&mut self, now: Instant, status: u16) {
        self.fire_due(now);
        self.step(now, Event::Response(Class::of(status)));
    }

    /// Fires every timer due at `now`; a no-op if none is.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.fire_due(now);
    }

    /// The transport failed to send the INVITE or the ACK (§17.1.4).
    pub fn handle_transport_error(&mut self, now: Instant) {
        self.fire_due(now);
        self.step(now, Event::TransportError);
    }

    fn fire_due(&mut self, now: Instant) {
        for _ in 0..MAX_FIRINGS_PER_CALL {
            match self.timers.pop_expired(now) {
                Some(t) => self.step(now, Event::Fired(t)),
                None => break,
            }
        }
    }

    fn step(&mut self, now: Instant, event: Event) {
        use Class::{Failure, Invalid, Provisional, Success};
        use ClientAction as Act;
        use State::{Accepted, Calling, Completed, Proceeding, Terminated};
        match (self.state, event) {
            // Calling: retransmit on A, give up on B.
            (Calling, Event::Fired(Timer::A)) => {
                self.actions.push(Act::Retransmit);
                self.interval_a = TimerConfig::doubled(self.interval_a, None);
                self.timers.set(Timer::A, now, self.interval_a);
            }
            (Calling, Event::Fired(Timer::B)) => {
                self.actions.push(Act::Timeout);
                self.terminate();
            }
            (Calling | Proceeding, Event::Response(Provisional)) => {
                self.actions.push(Act::Deliver);
                self.timers.stop(Timer::A);
                self.timers.stop(Timer::B);
                self.state = Proceeding;
            }
            (Calling | Proceeding, Event::Response(Success)) => {
                self.actions.push(Act::Deliver);
                self.timers.stop_all();
                self.timers.set(Timer::M, now, self.cfg.timer_m());
                self.state = Accepted;
            }
            (Calling | Proceeding, Event::Response(Failure)) => {
                self.actions.push(Act::SendAck);
                self.actions.push(Act::Deliver);
                self.timers.stop_all();
                self.state = Completed;
                let d = self.cfg.timer_d(self.reliable);
                if d.is_zero() {
                    self.terminate();
                } else {
                    self.timers.set(Timer::D, now, d);
                }
            }
            (Calling | Proceeding | Completed | Accepted, Event::TransportError) => {
                self.actions.push(Act::TransportError);
                self.terminate();
            }
            // Completed: re-ACK retransmitted finals, absorb the rest, end on D.
            (Completed, Event::Response(Failure)) => self.actions.push(Act::SendAck),
            (Completed, Event::Response(Provisional | Success)) => self.actions.push(Act::Absorb),
            (Completed, Event::Fired(Timer::D)) => self.terminate(),
            // Accepted (RFC 6026 §8.4): every 2xx goes to the TU, which ACKs it; end on M.
            (Accepted, Event::Response(Success)) => self.actions.push(Act::Deliver),
            (Accepted, Event::Response(Provisional | Failure)) => self.actions.push(Act::Absorb),
            (Accepted, Event::Fired(Timer::M)) => self.terminate(),
            // Not a status code: the codec should never hand one in; drop it.
            (Calling | Proceeding | Completed | Accepted, Event::Response(Invalid)) => {
                self.actions.push(Act::Absorb);
            }
            // A late message for a dead transaction is dropped.
            (Terminated, Event::Response(_)) => self.actions.push(Act::Absorb),
            (Terminated, Event::TransportError | Event::Fired(_)) => {}
            // Timers are disarmed on every transition that makes them meaningless.
            (Calling, Event::Fired(Timer::D | Timer::M))
            | (Proceeding, Event::Fired(_))
            | (Completed, Event::Fired(Timer::A | Timer::B | Timer::M))
            | (Accepted, Event::Fired(Timer::A | Timer::B | Timer::D)) => {
                debug_assert!(false, "stale timer {event:?} in {:?}", self.state);
            }
        }
    }

    fn terminate(&mut self) {
        self.timers.stop_all();
        self.state = State::Terminated;
        self.actions.push(ClientAction::Terminated);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_clock_origin;
    use ClientAction as A;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn drain(m: &mut ClientInvite) -> Vec<ClientAction> {
        std::iter::from_fn(|| m.poll_action()).collect()
    }

    /// Feeds only timeouts, each at its deadline; returns (offset, action) until terminated.
    fn run_timers(m: &mut ClientInvite, base: Instant) -> Vec<(Duration, ClientAction)> {
        let mut out = Vec::new();
        for _ in 0..100 {
            let Some(at) = m.poll_timeout() else { break };
            m.handle_timeout(at);
            out.extend(drain(m).into_iter().map(|a| (at - base, a)));
        }
        out
    }

    #[test]
    fn udp_no_answer_retransmits_on_a_ladder_and_times_out_at_32_s() {
        let base = test_clock_origin();
        let mut m = ClientInvite::new(base, &TimerConfig::default(), false);
        assert_eq!(m.next_timer(), Some((Timer::A, base + ms(500))));
        let log = run_timers(&mut m, base);
        let expected: Vec<(Duration, ClientAction)> = [500, 1500, 3500, 7500, 15500, 31500]
            .into_iter()
            .map(|t| (ms(t), A::Retransmit))
            .chain([(ms(32000), A::Timeout), (ms(32000), A::Terminated)])
            .collect();
        assert_eq!(log, expected);
        assert!(m.is_terminated());
        assert_eq!(m.poll_timeout(), None);
    }

    #[test]
    fn tcp_no_answer_never_retransmits_and_times_out_at_32_s() {
        let base = test_clock_origin();
        let mut m = ClientInvite::new(base, &TimerConfig::default(), true);
        assert_eq!(m.next_timer(), Some((Timer::B, base + ms(32000))));
        let log = run_timers(&mut m, base);
        assert_eq!(
            log,
            vec![(ms(32000), A::Timeout), (ms(32000), A::Terminated)]
        );
    }

    #[test]
    fn early_timeout_is_a_noop() {
        let base = test_clock_origin();
        let mut m = ClientInvite::new(base, &TimerConfig::default(), false);
        m.handle_timeout(base + ms(499));
        assert_eq!(drain(&mut m), vec![]);
        assert_eq!(m.poll_timeout(), Some(base + ms(500)));
        assert_eq!(m.state(), State::Calling);
    }

    #[test]
    fn provisional_stops_retransmissions_and_timer_b() {
        let base = test_clock_origin();
        let mut m = ClientInvite::new(base, &TimerConfig::default(), false);
        m.handle_timeout(base + ms(500));
        assert_eq!(drain(&mut m), vec![A::Retransmit]);
        m.handle_response(base + ms(600), 100);
        assert_eq!(drain(&mut m), vec![A::Deliver]);
        assert_eq!(m.state(), State::Proceeding);
        assert_eq!(m.poll_timeout(), None, "Proceeding waits without a timer");
        m.handle_response(base + ms(700), 180);
        assert_eq!(drain(&mut m), vec![A::Deliver]);
        m.handle_timeout(base + Duration::from_secs(100));
        assert_eq!(drain(&mut m), vec![]);
    }

    #[test]
    fn failure_final_on_udp_acks_absorbs_and_waits_timer_d() {
        let base = test_clock_origin();
        let mut m = ClientInvite::new(base, &TimerConfig::default(), false);
        m.handle_response(base + ms(100), 180);
        m.handle_response(base + ms(2000), 486);
        assert_eq!(drain(&mut m), vec![A::Deliver, A::SendAck, A::Deliver]);
        assert_eq!(m.state(), State::Completed);
        assert_eq!(m.next_timer(), Some((Timer::D, base + ms(34000))));
        // Retransmitted 486: re-ACK, not delivered again. Stray 1xx/2xx: absorbed.
        m.handle_response(base + ms(2500), 486);
        assert_eq!(drain(&mut m), vec![A::SendAck]);
        m.handle_response(base + ms(2600), 180);
        m.handle_response(base + ms(2700), 200);
        assert_eq!(drain(&mut m), vec![A::Absorb, A::Absorb]);
        m.handle_timeout(base + ms(33999));
        assert_eq!(drain(&mut m), vec![]);
        m.handle_timeout(base + ms(34000));
        assert_eq!(drain(&mut m), vec![A::Terminated]);
        assert!(m.is_terminated());
    }

    #[test]
    fn failure_final_on_tcp_terminates_at_once() {
        let base = test_clock_origin();
        let mut m = ClientInvite::new(base, &TimerConfig::default(), true);
        m.handle_response(base + ms(50), 603);
        assert_eq!(drain(&mut m), vec![A::SendAck, A::Deliver, A::Terminated]);
        assert!(m.is_terminated());
        assert_eq!(m.poll_timeout(), None);
    }

    #[test]
    fn rfc6026_accepted_passes_every_2xx_until_timer_m() {
        for reliable in [false, true] {
            let base = test_clock_origin();
            let mut m = ClientInvite::new(base, &TimerConfig::default(), reliable);
            m.handle_response(base + ms(300), 200);
            assert_eq!(drain(&mut m), vec![A::Deliver]);
            assert_eq!(m.state(), State::Accepted);
            assert_eq!(m.next_timer(), Some((Timer::M, base + ms(32300))));
            // A retransmitted 2xx and a 2xx from another fork: both to the TU, no SendAck.
            m.handle_response(base + ms(800), 200);
            m.handle_response(base + ms(900), 202);
            assert_eq!(drain(&mut m), vec![A::Deliver, A::Deliver]);
            m.handle_response(base + ms(1000), 180);
            m.handle_response(base + ms(1100), 500);
            assert_eq!(drain(&mut m), vec![A::Absorb, A::Absorb]);
            m.handle_timeout(base + ms(32300));
            assert_eq!(drain(&mut m), vec![A::Terminated]);
        }
    }

    #[test]
    fn response_after_timer_b_deadline_is_absorbed() {
        let base = test_clock_origin();
        let mut m = ClientInvite::new(base, &TimerConfig::default(), true);
        // The response is handed in after B's deadline without a prior handle_timeout:
        // B fires first, so the TU gets the timeout and the late response is dropped.
        m.handle_response(base + ms(40000), 200);
        assert_eq!(drain(&mut m), vec![A::Timeout, A::Terminated, A::Absorb]);
    }

    #[test]
    fn late_wakeup_processes_timers_in_order_without_bursts() {
        let base = test_clock_origin();
        let mut m = ClientInvite::new(base, &TimerConfig::default(), false);
        // Woken at 5 s instead of 0.5 s: one retransmission, the next one 1 s later.
        m.handle_timeout(base + ms(5000));
        assert_eq!(drain(&mut m), vec![A::Retransmit]);
        assert_eq!(m.poll_timeout(), Some(base + ms(6000)));
    }

    #[test]
    fn transport_errors_inform_the_tu_and_terminate() {
        let base = test_clock_origin();
        for setup in [None, Some(180), Some(404), Some(200)] {
            let mut m = ClientInvite::new(base, &TimerConfig::default(), false);
            if let Some(s) = setup {
                m.handle_response(base + ms(10), s);
                drain(&mut m);
            }
            m.handle_transport_error(base + ms(20));
            assert_eq!(drain(&mut m), vec![A::TransportError, A::Terminated]);
            assert!(m.is_terminated());
            m.handle_transport_error(base + ms(30));
            m.handle_response(base + ms(40), 200);
            assert_eq!(drain(&mut m), vec![A::Absorb], "dead machines only absorb");
        }
    }

    #[test]
    fn invalid_status_codes_are_absorbed() {
        let base = test_clock_origin();
        let mut m = ClientInvite::new(base, &TimerConfig::default(), false);
        for s in [0, 99, 700, u16::MAX] {
            m.handle_response(base + ms(1), s);
        }
        assert_eq!(drain(&mut m), vec![A::Absorb; 4]);
        assert_eq!(m.state(), State::Calling);
    }

    #[test]
    fn timer_a_doubles_without_cap_under_a_large_timer_b() {
        // With T1 = 2 s, B = 128 s: intervals 2, 4, 8, 16, 32, 64 > T2 (no cap for INVITE).
        let cfg = TimerConfig::new(ms(2000), ms(4000), ms(5000), ms(200)).unwrap();
        let base = test_clock_origin();
        let mut m = ClientInvite::new(base, &cfg, false);
        let log = run_timers(&mut m, base);
        let times: Vec<u64> = log
            .iter()
            .filter(|(_, a)| *a == A::Retransmit)
            .map(|(t, _)| t.as_secs())
            .collect();
        assert_eq!(times, vec![2, 6, 14, 30, 62, 126]);
        assert_eq!(log.last(), Some(&(Duration::from_secs(128), A::Terminated)));
    }
}
