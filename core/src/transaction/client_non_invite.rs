//! The non-INVITE client transaction (RFC 3261 §17.1.2, figure 6).
//!
//! ```text
//!             request sent: E = T1 (unreliable only), F = 64·T1
//!  Trying ── E: retransmit, E = min(2·E, T2) ── F or transport error: inform TU ──► Terminated
//!    │ 1xx: to TU
//!    ▼
//!  Proceeding ── 1xx: to TU ── E: retransmit, E = T2 ── F or transport error ──► Terminated
//!    │ 200–699 (from Trying or Proceeding): to TU, K = T4 / 0
//!    ▼
//!  Completed ── any response: absorbed ── K ──► Terminated
//! ```
//!
//! On a provisional response the pending Timer E keeps its deadline; every later interval is T2
//! (§17.1.2.2: "Timer E MUST be reset with a value of T2 seconds").

use std::time::{Duration, Instant};

use super::timer::{ActionQueue, MAX_FIRINGS_PER_CALL, TimerId, TimerTable};
use super::{Class, ClientAction, TimerConfig};

/// The states of figure 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum State {
    /// The request was sent; no response yet.
    Trying,
    /// A provisional response arrived; still retransmitting every T2.
    Proceeding,
    /// A final response arrived; absorbing its retransmissions until Timer K.
    Completed,
    /// Done: the layer destroys the transaction.
    Terminated,
}

/// The timers of this machine, for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Timer {
    /// Timer F: transaction timeout, 64·T1.
    F,
    /// Timer E: request retransmission (unreliable transports only).
    E,
    /// Timer K: wait for response retransmissions in Completed.
    K,
}

impl TimerId for Timer {
    // F before E: if both are due, time out rather than retransmit once more.
    const ALL: &'static [Self] = &[Self::F, Self::E, Self::K];
    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Response(Class),
    Fired(Timer),
    TransportError,
}

/// A non-INVITE client transaction (RFC 3261 §17.1.2).
#[derive(Debug, Clone)]
pub struct ClientNonInvite {
    state: State,
    cfg: TimerConfig,
    reliable: bool,
    /// Timer E's current interval: T1, 2·T1, … capped at T2; T2 once in Proceeding.
    interval_e: Duration,
    timers: TimerTable<Timer, 3>,
    actions: ActionQueue<ClientAction>,
}

impl ClientNonInvite {
    /// Starts the transaction at `now`, the moment the layer sends the request: enters Trying,
    /// arms Timer F and, on an unreliable transport, Timer E.
    pub fn new(now: Instant, cfg: &TimerConfig, reliable: bool) -> Self {
        let mut timers = TimerTable::new();
        timers.set(Timer::F, now, cfg.timer_f());
        if !reliable {
            timers.set(Timer::E, now, cfg.timer_e());
        }
        Self {
            state: State::Trying,
            cfg: *cfg,
            reliable,
            interval_e: cfg.timer_e(),
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

    /// The next deadline: call [`Self::handle_timeout`] then; `None` once terminated.
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

    /// The transport failed to send the request (§17.1.4).
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
        use State::{Completed, Proceeding, Terminated, Trying};
        match (self.state, event) {
            (Trying, Event::Fired(Timer::E)) => {
                self.actions.push(Act::Retransmit);
                self.interval_e = TimerConfig::doubled(self.interval_e, Some(self.cfg.t2()));
                self.timers.set(Timer::E, now, self.interval_e);
            }
            (Proceeding, Event::Fired(Timer::E)) => {
                self.actions.push(Act::Retransmit);
                self.interval_e = self.cfg.t2();
                self.timers.set(Timer::E, now, self.interval_e);
            }
            (Trying | Proceeding, Event::Fired(Timer::F)) => {
                self.actions.push(Act::Timeout);
                self.terminate();
            }
            (Trying | Proceeding, Event::TransportError) => {
                self.actions.push(Act::TransportError);
                self.terminate();
            }
            (Trying | Proceeding, Event::Response(Provisional)) => {
                self.actions.push(Act::Deliver);
                self.state = Proceeding;
            }
            (Trying | Proceeding, Event::Response(Success | Failure)) => {
                self.actions.push(Act::Deliver);
                self.timers.stop_all();
                self.state = Completed;
                let k = self.cfg.timer_k(self.reliable);
                if k.is_zero() {
                    self.terminate();
                } else {
                    self.timers.set(Timer::K, now, k);
                }
            }
            (Completed, Event::Response(_)) => self.actions.push(Act::Absorb),
            (Completed, Event::Fired(Timer::K)) => self.terminate(),
            // Nothing is sent in Completed, so a transport error there concerns nobody.
            (Completed | Terminated, Event::TransportError) => {}
            (Trying | Proceeding, Event::Response(Invalid)) => self.actions.push(Act::Absorb),
            (Terminated, Event::Response(_)) => self.actions.push(Act::Absorb),
            (Terminated, Event::Fired(_)) => {}
            (Trying | Proceeding, Event::Fired(Timer::K))
            | (Completed, Event::Fired(Timer::E | Timer::F)) => {
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

    fn drain(m: &mut ClientNonInvite) -> Vec<ClientAction> {
        std::iter::from_fn(|| m.poll_action()).collect()
    }

    fn run_timers(m: &mut ClientNonInvite, base: Instant) -> Vec<(Duration, ClientAction)> {
        let mut out = Vec::new();
        for _ in 0..100 {
            let Some(at) = m.poll_timeout() else { break };
            m.handle_timeout(at);
            out.extend(drain(m).into_iter().map(|a| (at - base, a)));
        }
        out
    }

    fn retransmit_times(log: &[(Duration, ClientAction)]) -> Vec<u64> {
        log.iter()
            .filter(|(_, a)| *a == A::Retransmit)
            .map(|(t, _)| t.as_millis() as u64)
            .collect()
    }

    #[test]
    fn udp_no_answer_ladder_caps_at_t2_and_times_out_at_32_s() {
        let base = test_clock_origin();
        let mut m = ClientNonInvite::new(base, &TimerConfig::default(), false);
        let log = run_timers(&mut m, base);
        let mut expected = vec![500, 1500, 3500, 7500];
        expected.extend((1..=6).map(|i| 7500 + 4000 * i)); // 11.5 … 31.5
        assert_eq!(retransmit_times(&log), expected);
        assert_eq!(
            &log[log.len() - 2..],
            &[(ms(32000), A::Timeout), (ms(32000), A::Terminated)]
        );
        assert!(m.is_terminated());
    }

    #[test]
    fn tcp_no_answer_never_retransmits() {
        let base = test_clock_origin();
        let mut m = ClientNonInvite::new(base, &TimerConfig::default(), true);
        assert_eq!(m.next_timer(), Some((Timer::F, base + ms(32000))));
        let log = run_timers(&mut m, base);
        assert_eq!(
            log,
            vec![(ms(32000), A::Timeout), (ms(32000), A::Terminated)]
        );
    }

    #[test]
    fn provisional_moves_timer_e_to_t2() {
        let base = test_clock_origin();
        let mut m = ClientNonInvite::new(base, &TimerConfig::default(), false);
        m.handle_timeout(base + ms(500));
        assert_eq!(drain(&mut m), vec![A::Retransmit]);
        // 1xx at 0.7 s: E keeps its deadline of 1.5 s, then fires every T2 = 4 s.
        m.handle_response(base + ms(700), 100);
        assert_eq!(drain(&mut m), vec![A::Deliver]);
        assert_eq!(m.state(), State::Proceeding);
        let log = run_timers(&mut m, base);
        assert_eq!(
            retransmit_times(&log),
            vec![1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500]
        );
        assert_eq!(log.last(), Some(&(ms(32000), A::Terminated)));
    }

    #[test]
    fn proceeding_from_the_start_uses_t2_after_the_first_interval() {
        let base = test_clock_origin();
        let mut m = ClientNonInvite::new(base, &TimerConfig::default(), false);
        m.handle_response(base + ms(100), 180);
        drain(&mut m);
        m.handle_timeout(base + ms(500));
        assert_eq!(drain(&mut m), vec![A::Retransmit]);
        assert_eq!(m.poll_timeout(), Some(base + ms(4500)));
    }

    #[test]
    fn final_on_udp_absorbs_until_timer_k() {
        let base = test_clock_origin();
        let mut m = ClientNonInvite::new(base, &TimerConfig::default(), false);
        m.handle_response(base + ms(200), 200);
        assert_eq!(drain(&mut m), vec![A::Deliver]);
        assert_eq!(m.state(), State::Completed);
        assert_eq!(m.next_timer(), Some((Timer::K, base + ms(5200))));
        m.handle_response(base + ms(900), 200);
        m.handle_response(base + ms(950), 100);
        m.handle_transport_error(base + ms(960));
        assert_eq!(drain(&mut m), vec![A::Absorb, A::Absorb]);
        m.handle_timeout(base + ms(5199));
        assert_eq!(drain(&mut m), vec![]);
        m.handle_timeout(base + ms(5200));
        assert_eq!(drain(&mut m), vec![A::Terminated]);
    }

    #[test]
    fn final_on_tcp_terminates_at_once() {
        for status in [200, 404, 699] {
            let base = test_clock_origin();
            let mut m = ClientNonInvite::new(base, &TimerConfig::default(), true);
            m.handle_response(base + ms(5), 100);
            m.handle_response(base + ms(10), status);
            assert_eq!(drain(&mut m), vec![A::Deliver, A::Deliver, A::Terminated]);
            assert_eq!(m.poll_timeout(), None);
        }
    }

    #[test]
    fn transport_error_in_trying_and_proceeding() {
        for provisional in [false, true] {
            let base = test_clock_origin();
            let mut m = ClientNonInvite::new(base, &TimerConfig::default(), false);
            if provisional {
                m.handle_response(base, 100);
                drain(&mut m);
            }
            m.handle_transport_error(base + ms(1));
            assert_eq!(drain(&mut m), vec![A::TransportError, A::Terminated]);
        }
    }

    #[test]
    fn invalid_status_is_absorbed() {
        let base = test_clock_origin();
        let mut m = ClientNonInvite::new(base, &TimerConfig::default(), false);
        m.handle_response(base, 42);
        assert_eq!(drain(&mut m), vec![A::Absorb]);
        assert_eq!(m.state(), State::Trying);
    }
}
