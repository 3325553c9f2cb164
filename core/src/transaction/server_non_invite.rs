//! The non-INVITE server transaction (RFC 3261 §17.2.2, figure 8).
//!
//! ```text
//!            request received and passed to the TU
//!  Trying ── request again: absorbed (nothing to resend yet)
//!    │ 1xx from TU: send
//!    ▼
//!  Proceeding ── 1xx from TU: send ── request again: resend last provisional
//!    │ 200–699 from TU (from Trying or Proceeding): send, J = 64·T1 / 0
//!    ▼
//!  Completed ── request again: resend the final ── J ──► Terminated
//!  Trying, Proceeding, Completed ── transport error: inform TU ──► Terminated
//! ```
//!
//! No retransmission timer exists on this side: the client retransmits and every retransmission
//! is answered with the last response. Timer J only keeps the final response around to answer
//! them, so it is zero on reliable transports.

use std::time::Instant;

use super::timer::{ActionQueue, MAX_FIRINGS_PER_CALL, TimerId, TimerTable};
use super::{Class, ServerAction, TimerConfig};

/// The states of figure 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum State {
    /// The request was received and passed to the TU; nothing sent yet.
    Trying,
    /// A provisional response was sent.
    Proceeding,
    /// A final response was sent; answering retransmissions with it until Timer J.
    Completed,
    /// Done: the layer destroys the transaction.
    Terminated,
}

/// The timers of this machine, for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Timer {
    /// Timer J: answer request retransmissions in Completed.
    J,
}

impl TimerId for Timer {
    const ALL: &'static [Self] = &[Self::J];
    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Request,
    Tu(Class),
    Fired(Timer),
    TransportError,
}

/// A non-INVITE server transaction (RFC 3261 §17.2.2).
#[derive(Debug, Clone)]
pub struct ServerNonInvite {
    state: State,
    cfg: TimerConfig,
    reliable: bool,
    timers: TimerTable<Timer, 1>,
    actions: ActionQueue<ServerAction>,
}

impl ServerNonInvite {
    /// Starts the transaction at `now`, when the request is received and passed to the TU:
    /// enters Trying. No timer runs until the TU sends a final response.
    pub fn new(_now: Instant, cfg: &TimerConfig, reliable: bool) -> Self {
        Self {
            state: State::Trying,
            cfg: *cfg,
            reliable,
            timers: TimerTable::new(),
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

    /// The next deadline (Timer J in Completed): call [`Self::handle_timeout`] then.
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
    pub fn poll_action(&mut self) -> Option<ServerAction> {
        self.actions.pop()
    }

    /// A retransmission of the request arrived.
    pub fn handle_request_retransmission(&mut self, now: Instant) {
        self.fire_due(now);
        self.step(now, Event::Request);
    }

    /// The TU hands in a response with this status to be sent; it is sent only if
    /// [`ServerAction::Send`] comes out.
    pub fn handle_tu_response(&mut self, now: Instant, status: u16) {
        self.fire_due(now);
        self.step(now, Event::Tu(Class::of(status)));
    }

    /// Fires every timer due at `now`; a no-op if none is.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.fire_due(now);
    }

    /// The transport failed to send a response (§17.2.4).
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
        use ServerAction as Act;
        use State::{Completed, Proceeding, Terminated, Trying};
        match (self.state, event) {
            (Trying, Event::Request) => self.actions.push(Act::Absorb),
            (Proceeding | Completed, Event::Request) => self.actions.push(Act::ResendLast),
            (Trying | Proceeding, Event::Tu(Provisional)) => {
                self.actions.push(Act::Send);
                self.state = Proceeding;
            }
            (Trying | Proceeding, Event::Tu(Success | Failure)) => {
                self.actions.push(Act::Send);
                self.state = Completed;
                let j = self.cfg.timer_j(self.reliable);
                if j.is_zero() {
                    self.terminate();
                } else {
                    self.timers.set(Timer::J, now, j);
                }
            }
            (Trying | Proceeding | Completed, Event::TransportError) => {
                self.actions.push(Act::TransportError);
                self.terminate();
            }
            (Completed, Event::Fired(Timer::J)) => self.terminate(),
            (Trying | Proceeding, Event::Tu(Invalid)) | (Completed | Terminated, Event::Tu(_)) => {
                self.actions.push(Act::RejectTuResponse);
            }
            (Terminated, Event::Request) => self.actions.push(Act::Absorb),
            (Terminated, Event::Fired(_) | Event::TransportError) => {}
            (Trying | Proceeding, Event::Fired(Timer::J)) => {
                debug_assert!(false, "stale timer {event:?} in {:?}", self.state);
            }
        }
    }

    fn terminate(&mut self) {
        self.timers.stop_all();
        self.state = State::Terminated;
        self.actions.push(ServerAction::Terminated);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::test_clock_origin;
    use ServerAction as A;
    use std::time::Duration;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn drain(m: &mut ServerNonInvite) -> Vec<ServerAction> {
        std::iter::from_fn(|| m.poll_action()).collect()
    }

    fn new(base: Instant, reliable: bool) -> ServerNonInvite {
        ServerNonInvite::new(base, &TimerConfig::default(), reliable)
    }

    #[test]
    fn udp_ladder_trying_proceeding_completed_timer_j() {
        let base = test_clock_origin();
        let mut m = new(base, false);
        assert_eq!(m.poll_timeout(), None, "no 100 Trying timer for non-INVITE");
        m.handle_request_retransmission(base + ms(500));
        assert_eq!(drain(&mut m), vec![A::Absorb]);
        m.handle_tu_response(base + ms(600), 100);
        assert_eq!(m.state(), State::Proceeding);
        m.handle_request_retransmission(base + ms(1500));
        assert_eq!(drain(&mut m), vec![A::Send, A::ResendLast]);
        m.handle_tu_response(base + ms(2000), 200);
        assert_eq!(drain(&mut m), vec![A::Send]);
        assert_eq!(m.state(), State::Completed);
        assert_eq!(m.next_timer(), Some((Timer::J, base + ms(34000))));
        m.handle_request_retransmission(base + ms(3500));
        m.handle_tu_response(base + ms(3600), 500);
        assert_eq!(drain(&mut m), vec![A::ResendLast, A::RejectTuResponse]);
        m.handle_timeout(base + ms(33999));
        assert_eq!(drain(&mut m), vec![]);
        m.handle_timeout(base + ms(34000));
        assert_eq!(drain(&mut m), vec![A::Terminated]);
        assert!(m.is_terminated());
    }

    #[test]
    fn tcp_final_terminates_at_once() {
        for status in [200, 404] {
            let base = test_clock_origin();
            let mut m = new(base, true);
            m.handle_tu_response(base + ms(5), status);
            assert_eq!(drain(&mut m), vec![A::Send, A::Terminated]);
            assert_eq!(m.poll_timeout(), None);
        }
    }

    #[test]
    fn final_straight_from_trying() {
        let base = test_clock_origin();
        let mut m = new(base, false);
        m.handle_tu_response(base, 403);
        assert_eq!(drain(&mut m), vec![A::Send]);
        assert_eq!(m.state(), State::Completed);
    }

    #[test]
    fn illegal_tu_responses_are_rejected() {
        let base = test_clock_origin();
        let mut m = new(base, false);
        m.handle_tu_response(base, 0);
        m.handle_tu_response(base, 1000);
        assert_eq!(drain(&mut m), vec![A::RejectTuResponse; 2]);
        assert_eq!(m.state(), State::Trying);
        m.handle_tu_response(base, 200);
        m.handle_tu_response(base, 180);
        m.handle_tu_response(base, 200);
        assert_eq!(
            drain(&mut m),
            vec![A::Send, A::RejectTuResponse, A::RejectTuResponse]
        );
    }

    #[test]
    fn transport_errors_terminate() {
        for setup in [None, Some(100), Some(200)] {
            let base = test_clock_origin();
            let mut m = new(base, false);
            if let Some(s) = setup {
                m.handle_tu_response(base, s);
                drain(&mut m);
            }
            m.handle_transport_error(base + ms(1));
            assert_eq!(drain(&mut m), vec![A::TransportError, A::Terminated]);
            m.handle_request_retransmission(base + ms(2));
            assert_eq!(drain(&mut m), vec![A::Absorb]);
        }
    }
}
