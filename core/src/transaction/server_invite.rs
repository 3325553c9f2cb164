//! The INVITE server transaction (RFC 3261 §17.2.1, figure 7), with the Accepted state and
//! Timer L of RFC 6026 §7.1 and §8.7.
//!
//! ```text
//!          INVITE received: Trying timer = 200 ms (100 Trying if the TU stays silent)
//!  Proceeding ── INVITE again: resend last provisional ── 1xx from TU: send
//!    │          transport error: inform TU ──► Terminated
//!    │ 300–699 from TU: send, G = T1 (unreliable only), H = 64·T1
//!    ▼
//!  Completed ── INVITE again or G: resend, G = min(2·G, T2) ── H or transport error: inform TU ──► Terminated
//!    │ ACK: I = T4 / 0
//!    ▼
//!  Confirmed ── INVITE or ACK again: absorbed ── I ──► Terminated
//!
//!  Proceeding ── 2xx from TU: send, L = 64·T1 ──► Accepted ── INVITE again: absorbed;
//!        2xx from TU: send; ACK: to TU; transport error: inform TU ── L ──► Terminated
//! ```
//!
//! RFC 6026 replaces RFC 3261's "2xx: terminate at once" with the Accepted state so that an
//! INVITE retransmission arriving after the 2xx is absorbed instead of being taken for a new
//! request; retransmitting the 2xx stays the TU's job (§13.3.1.4), so the TU's 2xx
//! retransmissions pass through [`ServerInvite::handle_tu_response`].
//!
//! The 100 (Trying) of §17.2.1 is sent when the TU has sent nothing within `trying_delay`,
//! on every transport: it quenches retransmissions on UDP and tells a stateful proxy upstream
//! that the request arrived on TCP.

use std::time::{Duration, Instant};

use super::timer::{ActionQueue, MAX_FIRINGS_PER_CALL, TimerId, TimerTable};
use super::{Class, ServerAction, TimerConfig};

/// The states of figure 7 plus RFC 6026's Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum State {
    /// The INVITE was received and passed to the TU; provisional responses may be sent.
    Proceeding,
    /// A 300–699 final was sent; retransmitting it (Timer G) until the ACK or Timer H.
    Completed,
    /// The ACK arrived; absorbing its retransmissions until Timer I.
    Confirmed,
    /// RFC 6026: a 2xx was sent; absorbing INVITE retransmissions until Timer L.
    Accepted,
    /// Done: the layer destroys the transaction.
    Terminated,
}

/// The timers of this machine, for logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Timer {
    /// Timer H: give up waiting for the ACK, 64·T1.
    H,
    /// Timer G: final response retransmission (unreliable transports only).
    G,
    /// Timer I: absorb ACK retransmissions in Confirmed.
    I,
    /// Timer L (RFC 6026): leave Accepted.
    L,
    /// The `trying_delay` (200 ms) after which a silent TU gets a 100 (Trying) sent for it.
    Trying,
}

impl TimerId for Timer {
    // H before G: if both are due, give up rather than resend once more.
    const ALL: &'static [Self] = &[Self::H, Self::G, Self::I, Self::L, Self::Trying];
    fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Request,
    Ack,
    Tu(Class),
    Fired(Timer),
    TransportError,
}

/// An INVITE server transaction (RFC 3261 §17.2.1 with RFC 6026).
#[derive(Debug, Clone)]
pub struct ServerInvite {
    state: State,
    cfg: TimerConfig,
    reliable: bool,
    /// Whether any response (the TU's or our 100) has been sent, so a retransmission can be
    /// answered with the last one.
    responded: bool,
    /// Timer G's current interval: T1, 2·T1, … capped at T2.
    interval_g: Duration,
    timers: TimerTable<Timer, 5>,
    actions: ActionQueue<ServerAction>,
}

impl ServerInvite {
    /// Starts the transaction at `now`, when the INVITE is received and passed to the TU: enters
    /// Proceeding and arms the 100 (Trying) timer.
    pub fn new(now: Instant, cfg: &TimerConfig, reliable: bool) -> Self {
        let mut timers = TimerTable::new();
        timers.set(Timer::Trying, now, cfg.trying_delay());
        Self {
            state: State::Proceeding,
            cfg: *cfg,
            reliable,
            responded: false,
            interval_g: cfg.timer_g(),
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
    /// TU (Proceeding after a response) or once terminated.
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

    /// A retransmission of the INVITE arrived.
    pub fn handle_request_retransmission(&mut self, now: Instant) {
        self.fire_due(now);
        self.step(now, Event::Request);
    }

    /// An ACK matching this transaction arrived (§17.2.3: same branch; or the RFC 2543 key).
    pub fn handle_ack(&mut self, now: Instant) {
        self.fire_due(now);
        self.step(now, Event::Ack);
    }

    /// The TU hands in a response with this status to be sent. The response is sent only if
    /// [`ServerAction::Send`] comes out; [`ServerAction::RejectTuResponse`] means it is illegal
    /// in the current state.
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
        use State::{Accepted, Completed, Confirmed, Proceeding, Terminated};
        match (self.state, event) {
            // Proceeding: the TU is working on it.
            (Proceeding, Event::Fired(Timer::Trying)) => {
                if !self.responded {
                    self.responded = true;
                    self.actions.push(Act::Send100);
                }
            }
            (Proceeding, Event::Request) => self.actions.push(if self.responded {
                Act::ResendLast
            } else {
                Act::Absorb
            }),
            (Proceeding, Event::Tu(Provisional)) => {
                self.actions.push(Act::Send);
                self.responded = true;
                self.timers.stop(Timer::Trying);
            }
            (Proceeding, Event::Tu(Success)) => {
                self.actions.push(Act::Send);
                self.timers.stop_all();
                self.timers.set(Timer::L, now, self.cfg.timer_l());
                self.state = Accepted;
            }
            (Proceeding, Event::Tu(Failure)) => {
                self.actions.push(Act::Send);
                self.timers.stop_all();
                self.timers.set(Timer::H, now, self.cfg.timer_h());
                if !self.reliable {
                    self.timers.set(Timer::G, now, self.interval_g);
                }
                self.state = Completed;
            }
            (Proceeding | Completed, Event::TransportError) => {
                self.actions.push(Act::TransportError);
                self.terminate();
            }
            // Completed: keep the final alive until the ACK.
            (Completed, Event::Request) => self.actions.push(Act::ResendLast),
            (Completed, Event::Fired(Timer::G)) => {
                self.actions.push(Act::ResendLast);
                self.interval_g = TimerConfig::doubled(self.interval_g, Some(self.cfg.t2()));
                self.timers.set(Timer::G, now, self.interval_g);
            }
            (Completed, Event::Fired(Timer::H)) => {
                self.actions.push(Act::Timeout);
                self.terminate();
            }
            (Completed, Event::Ack) => {
                // The ACK of a non-2xx final is hop-by-hop: consumed here (§17.2.1).
                self.actions.push(Act::Absorb);
                self.timers.stop_all();
                self.state = Confirmed;
                let i = self.cfg.timer_i(self.reliable);
                if i.is_zero() {
                    self.terminate();
                } else {
                    self.timers.set(Timer::I, now, i);
                }
            }
            // Confirmed: soak up whatever is still in flight.
            (Confirmed, Event::Request | Event::Ack) => self.actions.push(Act::Absorb),
            (Confirmed, Event::Fired(Timer::I)) => self.terminate(),
            (Confirmed, Event::TransportError) => {}
            // Accepted (RFC 6026 §8.7).
            (Accepted, Event::Request) => self.actions.push(Act::Absorb),
            (Accepted, Event::Ack) => self.actions.push(Act::DeliverAck),
            (Accepted, Event::Tu(Success)) => self.actions.push(Act::Send),
            (Accepted, Event::Fired(Timer::L)) => self.terminate(),
            (Accepted, Event::TransportError) => self.actions.push(Act::TransportError),
            // Stray ACK before any final: not ours to consume yet.
            (Proceeding, Event::Ack) => self.actions.push(Act::Absorb),
            // After a final, only further 2xx (Accepted) may be sent.
            (Accepted, Event::Tu(Provisional | Failure | Invalid))
            | (Completed | Confirmed | Terminated, Event::Tu(_))
            | (Proceeding, Event::Tu(Invalid)) => self.actions.push(Act::RejectTuResponse),
            (Terminated, Event::Request | Event::Ack) => self.actions.push(Act::Absorb),
            (Terminated, Event::Fired(_) | Event::TransportError) => {}
            (Proceeding, Event::Fired(Timer::G | Timer::H | Timer::I | Timer::L))
            | (Completed, Event::Fired(Timer::I | Timer::L | Timer::Trying))
            | (Confirmed, Event::Fired(Timer::G | Timer::H | Timer::L | Timer::Trying))
            | (Accepted, Event::Fired(Timer::G | Timer::H | Timer::I | Timer::Trying)) => {
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

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn drain(m: &mut ServerInvite) -> Vec<ServerAction> {
        std::iter::from_fn(|| m.poll_action()).collect()
    }

    fn run_timers(m: &mut ServerInvite, base: Instant) -> Vec<(Duration, ServerAction)> {
        let mut out = Vec::new();
        for _ in 0..100 {
            let Some(at) = m.poll_timeout() else { break };
            m.handle_timeout(at);
            out.extend(drain(m).into_iter().map(|a| (at - base, a)));
        }
        out
    }

    fn new(base: Instant, reliable: bool) -> ServerInvite {
        ServerInvite::new(base, &TimerConfig::default(), reliable)
    }

    #[test]
    fn silent_tu_gets_100_trying_at_200_ms_on_any_transport() {
        for reliable in [false, true] {
            let base = test_clock_origin();
            let mut m = new(base, reliable);
            assert_eq!(m.next_timer(), Some((Timer::Trying, base + ms(200))));
            m.handle_timeout(base + ms(199));
            assert_eq!(drain(&mut m), vec![]);
            m.handle_timeout(base + ms(200));
            assert_eq!(drain(&mut m), vec![A::Send100]);
            assert_eq!(m.poll_timeout(), None, "Proceeding then waits for the TU");
            // A retransmitted INVITE now gets the 100 again.
            m.handle_request_retransmission(base + ms(500));
            assert_eq!(drain(&mut m), vec![A::ResendLast]);
        }
    }

    #[test]
    fn no_100_when_the_tu_answers_in_time() {
        let base = test_clock_origin();
        let mut m = new(base, false);
        m.handle_request_retransmission(base + ms(50));
        assert_eq!(drain(&mut m), vec![A::Absorb], "nothing to resend yet");
        m.handle_tu_response(base + ms(150), 180);
        assert_eq!(drain(&mut m), vec![A::Send]);
        m.handle_timeout(base + ms(200));
        assert_eq!(drain(&mut m), vec![]);
        assert_eq!(m.poll_timeout(), None);
        m.handle_tu_response(base + ms(300), 183);
        m.handle_request_retransmission(base + ms(500));
        assert_eq!(drain(&mut m), vec![A::Send, A::ResendLast]);
    }

    #[test]
    fn udp_failure_final_ladder_until_timer_h() {
        let base = test_clock_origin();
        let mut m = new(base, false);
        m.handle_tu_response(base, 486);
        assert_eq!(drain(&mut m), vec![A::Send]);
        assert_eq!(m.state(), State::Completed);
        let log = run_timers(&mut m, base);
        let resends: Vec<u64> = log
            .iter()
            .filter(|(_, a)| *a == A::ResendLast)
            .map(|(t, _)| t.as_millis() as u64)
            .collect();
        // G: 0.5, 1, 2, 4, 4, 4 … → 0.5, 1.5, 3.5, 7.5, 11.5, … 31.5.
        let mut expected = vec![500, 1500, 3500, 7500];
        expected.extend((1..=6).map(|i| 7500 + 4000 * i));
        assert_eq!(resends, expected);
        assert_eq!(
            &log[log.len() - 2..],
            &[(ms(32000), A::Timeout), (ms(32000), A::Terminated)]
        );
    }

    #[test]
    fn tcp_failure_final_is_not_retransmitted_but_still_waits_for_ack() {
        let base = test_clock_origin();
        let mut m = new(base, true);
        m.handle_tu_response(base + ms(10), 404);
        assert_eq!(drain(&mut m), vec![A::Send]);
        assert_eq!(m.next_timer(), Some((Timer::H, base + ms(32010))));
        let log = run_timers(&mut m, base);
        assert_eq!(
            log,
            vec![(ms(32010), A::Timeout), (ms(32010), A::Terminated)]
        );
    }

    #[test]
    fn ack_confirms_and_timer_i_absorbs_ack_retransmissions() {
        let base = test_clock_origin();
        let mut m = new(base, false);
        m.handle_tu_response(base, 603);
        m.handle_timeout(base + ms(500));
        m.handle_request_retransmission(base + ms(600));
        assert_eq!(drain(&mut m), vec![A::Send, A::ResendLast, A::ResendLast]);
        m.handle_ack(base + ms(700));
        assert_eq!(drain(&mut m), vec![A::Absorb]);
        assert_eq!(m.state(), State::Confirmed);
        assert_eq!(m.next_timer(), Some((Timer::I, base + ms(5700))));
        m.handle_ack(base + ms(1000));
        m.handle_request_retransmission(base + ms(1100));
        m.handle_transport_error(base + ms(1200));
        assert_eq!(drain(&mut m), vec![A::Absorb, A::Absorb]);
        m.handle_timeout(base + ms(5700));
        assert_eq!(drain(&mut m), vec![A::Terminated]);
    }

    #[test]
    fn ack_on_tcp_terminates_at_once() {
        let base = test_clock_origin();
        let mut m = new(base, true);
        m.handle_tu_response(base, 500);
        m.handle_ack(base + ms(20));
        assert_eq!(drain(&mut m), vec![A::Send, A::Absorb, A::Terminated]);
        assert_eq!(m.poll_timeout(), None);
    }

    #[test]
    fn rfc6026_accepted_absorbs_invites_passes_acks_and_more_2xx() {
        for reliable in [false, true] {
            let base = test_clock_origin();
            let mut m = new(base, reliable);
            m.handle_tu_response(base + ms(100), 200);
            assert_eq!(drain(&mut m), vec![A::Send]);
            assert_eq!(m.state(), State::Accepted);
            assert_eq!(m.next_timer(), Some((Timer::L, base + ms(32100))));
            m.handle_request_retransmission(base + ms(600));
            m.handle_tu_response(base + ms(600), 200); // the TU's own 2xx retransmission
            m.handle_ack(base + ms(700));
            m.handle_tu_response(base + ms(800), 180);
            m.handle_tu_response(base + ms(800), 404);
            m.handle_transport_error(base + ms(900));
            assert_eq!(
                drain(&mut m),
                vec![
                    A::Absorb,
                    A::Send,
                    A::DeliverAck,
                    A::RejectTuResponse,
                    A::RejectTuResponse,
                    A::TransportError
                ]
            );
            assert_eq!(m.state(), State::Accepted);
            m.handle_timeout(base + ms(32100));
            assert_eq!(drain(&mut m), vec![A::Terminated]);
        }
    }

    #[test]
    fn illegal_tu_responses_are_rejected() {
        let base = test_clock_origin();
        let mut m = new(base, false);
        m.handle_tu_response(base, 99);
        m.handle_tu_response(base, 700);
        assert_eq!(drain(&mut m), vec![A::RejectTuResponse; 2]);
        assert_eq!(m.state(), State::Proceeding);
        m.handle_tu_response(base, 480);
        m.handle_tu_response(base, 200);
        m.handle_tu_response(base, 486);
        m.handle_tu_response(base, 180);
        assert_eq!(
            drain(&mut m),
            vec![
                A::Send,
                A::RejectTuResponse,
                A::RejectTuResponse,
                A::RejectTuResponse
            ]
        );
        m.handle_ack(base + ms(10));
        m.handle_tu_response(base + ms(20), 200);
        assert_eq!(drain(&mut m), vec![A::Absorb, A::RejectTuResponse]);
    }

    #[test]
    fn transport_errors_terminate_proceeding_and_completed() {
        for final_first in [false, true] {
            let base = test_clock_origin();
            let mut m = new(base, false);
            if final_first {
                m.handle_tu_response(base, 404);
                drain(&mut m);
            }
            m.handle_transport_error(base + ms(1));
            assert_eq!(drain(&mut m), vec![A::TransportError, A::Terminated]);
            m.handle_tu_response(base + ms(2), 200);
            m.handle_request_retransmission(base + ms(3));
            assert_eq!(drain(&mut m), vec![A::RejectTuResponse, A::Absorb]);
        }
    }

    #[test]
    fn stray_ack_in_proceeding_is_absorbed() {
        let base = test_clock_origin();
        let mut m = new(base, false);
        m.handle_ack(base + ms(10));
        assert_eq!(drain(&mut m), vec![A::Absorb]);
        assert_eq!(m.state(), State::Proceeding);
    }
}
