//! A call through the engine over a lossy network: two minimal user agents
//! (caller alice, callee bob) with RFC 3261 retransmission rules and a
//! datagram network with seeded loss and random delay (so also reordering).
//!
//! The caller sends INVITE and retransmits it on Timer A until any response,
//! giving up on Timer B (64·T1, §17.1.1.2). It ACKs a non-2xx final hop by
//! hop (§17.1.1.3) and a 2xx end to end along the Record-Route (§13.2.2.4),
//! re-ACKing every retransmission, then hangs up with BYE (Timer E/F,
//! §17.1.2.2). The callee answers as its [`Plan`] says, retransmits its final
//! response until ACKed or 64·T1 (§13.3.1.4, §17.2.1), and answers CANCEL and
//! BYE with 200 (§9.2, §15.1.2).

use bytes::Bytes;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use switchboard_conformance::prng::SplitMix64;
use switchboard_conformance::probe::Probe;
use switchboard_core::Output;
use switchboard_core::sip::{HeaderName, Limits, Message, Method, ResponseBuilder};

const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);
const SERVER: &str = "192.0.2.1:5060";
const ALICE: &str = "192.0.2.101:5060";
const BOB: &str = "192.0.2.102:5060";

fn sock(s: &str) -> SocketAddr {
    s.parse().expect("literal socket address")
}

/// What the callee does with the INVITE.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// Send 180 Ringing first.
    pub(crate) ring: bool,
    /// The final status, or `None` to stay silent (never ringing: a callee
    /// that rings forever needs Timer C, which the proxy does not have).
    pub(crate) answer: Option<u16>,
    /// How long after the INVITE the final response goes out.
    pub(crate) delay_ms: u64,
}

/// Plans worth testing.
pub(crate) fn plan() -> impl Strategy<Value = Plan> {
    (
        any::<bool>(),
        prop::sample::select(vec![Some(200), Some(486), Some(603), Some(302), None]),
        0u64..8_000,
    )
        .prop_map(|(ring, answer, delay_ms)| Plan {
            ring: ring && answer.is_some(),
            answer,
            delay_ms,
        })
}

/// How the call ended for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A final response with this status.
    Final(u16),
    /// Timer B fired with no response at all.
    TimerB,
    /// A provisional response arrived (stopping Timer B, §17.1.1.2) but no
    /// final one within four minutes: the caller's UA gave up, as phones do.
    /// RFC 3261 sets no transaction timer in Proceeding, so under enough loss
    /// (every 2xx retransmission of the callee lost) this is how a call ends.
    GaveUp,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    /// The caller's result.
    pub(crate) caller_outcome: Option<Outcome>,
    /// The caller saw a 2xx.
    pub(crate) answered: bool,
    /// A BYE from the caller was delivered to the engine at least once.
    pub(crate) bye_reached_engine: bool,
    /// The caller got a final response to its BYE.
    pub(crate) bye_answered: bool,
    /// Datagrams sent and lost.
    pub(crate) sent: u32,
    /// Datagrams lost.
    pub(crate) lost: u32,
    /// Virtual time of the last delivery.
    pub(crate) last_activity: Duration,
}

/// A retransmitted message: what, next send, interval, give-up time.
#[derive(Debug, Clone)]
struct Retx {
    data: Bytes,
    next: Duration,
    interval: Duration,
    until: Duration,
    cap: Duration,
}

impl Retx {
    fn new(data: Bytes, now: Duration, cap: Duration) -> Self {
        Self {
            data,
            next: now + T1,
            interval: T1,
            until: now + 64 * T1,
            cap,
        }
    }

    /// Due now? Then returns the data and schedules the next copy.
    fn fire(&mut self, now: Duration) -> Option<Bytes> {
        if now < self.next || now >= self.until {
            return None;
        }
        self.interval = (self.interval * 2).min(self.cap);
        self.next = now + self.interval;
        Some(self.data.clone())
    }

    fn deadline(&self) -> Option<Duration> {
        (self.next < self.until).then_some(self.next)
    }
}

struct Caller {
    invite: Bytes,
    invite_retx: Option<Retx>,
    timer_b: Option<Duration>,
    /// When the caller's UA stops waiting after a provisional response.
    give_up: Option<Duration>,
    ack: Option<Bytes>,
    bye: Option<Retx>,
    bye_done: bool,
}

struct Callee {
    plan: Plan,
    invite: Option<Message>,
    scheduled: Vec<(Duration, Bytes)>,
    last: Option<Bytes>,
    final_retx: Option<Retx>,
    final_sent: bool,
}

/// Datagrams in flight: (arrival, sequence) → (from, to, data).
type Wire = BTreeMap<(Duration, u64), (SocketAddr, SocketAddr, Bytes)>;

struct World {
    rng: SplitMix64,
    loss: f64,
    wire: Wire,
    seq: u64,
    report: Report,
}

impl World {
    fn send(&mut self, now: Duration, from: SocketAddr, to: SocketAddr, data: Bytes) {
        self.report.sent += 1;
        if self.rng.chance(self.loss) {
            self.report.lost += 1;
            return;
        }
        let delay = self
            .rng
            .range_duration(Duration::from_millis(1), Duration::from_millis(60));
        self.seq += 1;
        self.wire.insert((now + delay, self.seq), (from, to, data));
    }
}

fn parse(data: &Bytes) -> Option<Message> {
    Message::parse(data.clone(), &Limits::default()).ok()
}

fn invite() -> Bytes {
    Bytes::from(format!(
        "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch=z9hG4bKinv1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=alice1\r\n\
         To: <sip:bob@example.com>\r\nCall-ID: lossy-call@192.0.2.101\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:alice@{ALICE}>\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"
    ))
}

/// The caller's in-dialog request (ACK for 2xx, BYE) along the response's route set.
fn in_dialog(resp: &Message, method: &str, seq: u32, branch: &str) -> Bytes {
    let target = resp
        .header(HeaderName::Contact)
        .map(|c| {
            c.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
        .unwrap_or_else(|| "sip:bob@example.com".into());
    // A UAC's route set is the Record-Route list reversed (§12.1.2).
    let mut routes: Vec<&str> = resp.header_values(HeaderName::RecordRoute).collect();
    routes.reverse();
    let mut s =
        format!("{method} {target} SIP/2.0\r\nVia: SIP/2.0/UDP {ALICE};branch={branch}\r\n");
    for r in routes {
        s.push_str(&format!("Route: {r}\r\n"));
    }
    s.push_str(&format!(
        "Max-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=alice1\r\nTo: {}\r\n\
         Call-ID: lossy-call@192.0.2.101\r\nCSeq: {seq} {method}\r\nContent-Length: 0\r\n\r\n",
        resp.header(HeaderName::To).unwrap_or_default()
    ));
    Bytes::from(s)
}

impl Caller {
    fn on_message(&mut self, now: Duration, data: &Bytes, w: &mut World) {
        let Some(m) = parse(data) else { return };
        let Some(status) = m.status() else { return };
        if m.cseq().method == Method::Bye {
            if status >= 200 {
                self.bye_done = true;
                self.bye = None;
                w.report.bye_answered = true;
            }
            return;
        }
        if m.cseq().method != Method::Invite {
            return;
        }
        // Any response stops Timer A and Timer B (§17.1.1.2).
        self.invite_retx = None;
        self.timer_b = None;
        if status < 200 {
            if w.report.caller_outcome.is_none() && self.give_up.is_none() {
                self.give_up = Some(now + Duration::from_secs(240)); // after Timer C (180 s) and its 408
            }
            return;
        }
        self.give_up = None;
        if w.report.caller_outcome.is_none() {
            w.report.caller_outcome = Some(Outcome::Final(status));
        }
        if status < 300 {
            w.report.answered = true;
            let ack = self
                .ack
                .get_or_insert_with(|| in_dialog(&m, "ACK", 1, "z9hG4bKack1"))
                .clone();
            w.send(now, sock(ALICE), sock(SERVER), ack);
            if self.bye.is_none() && !self.bye_done {
                let bye = in_dialog(&m, "BYE", 2, "z9hG4bKbye1");
                w.send(now, sock(ALICE), sock(SERVER), bye.clone());
                self.bye = Some(Retx::new(bye, now, T2));
            }
        } else {
            let ack = switchboard_core::sip::ack_for_non2xx(
                &parse(&self.invite).expect("our INVITE parses"),
                &m,
            );
            w.send(now, sock(ALICE), sock(SERVER), ack);
        }
    }

    fn on_timer(&mut self, now: Duration, w: &mut World) {
        if let Some(d) = self.invite_retx.as_mut().and_then(|r| r.fire(now)) {
            w.send(now, sock(ALICE), sock(SERVER), d);
        }
        if self.timer_b.is_some_and(|t| now >= t) {
            self.timer_b = None;
            self.invite_retx = None;
            if w.report.caller_outcome.is_none() {
                w.report.caller_outcome = Some(Outcome::TimerB);
            }
        }
        if self.give_up.is_some_and(|t| now >= t) {
            self.give_up = None;
            if w.report.caller_outcome.is_none() {
                w.report.caller_outcome = Some(Outcome::GaveUp);
            }
        }
        if let Some(d) = self.bye.as_mut().and_then(|r| r.fire(now)) {
            w.send(now, sock(ALICE), sock(SERVER), d);
        }
    }

    fn deadline(&self) -> Option<Duration> {
        [
            self.invite_retx.as_ref().and_then(Retx::deadline),
            self.timer_b,
            self.give_up,
            self.bye.as_ref().and_then(Retx::deadline),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

impl Callee {
    fn respond(&self, req: &Message, status: u16) -> Bytes {
        let reason = match status {
            180 => "Ringing",
            200 => "OK",
            302 => "Moved Temporarily",
            486 => "Busy Here",
            487 => "Request Terminated",
            _ => "Decline",
        };
        let mut b = ResponseBuilder::for_request(req, status, reason).to_tag("bob1");
        if req.method() == Some(&Method::Invite) && status < 300 {
            b = b
                .copy_record_route()
                .header(HeaderName::Contact, format!("<sip:bob@{BOB}>"));
        }
        if status == 302 {
            b = b.header(HeaderName::Contact, "<sip:bob@192.0.2.103:5060>");
        }
        b.build()
    }

    fn on_message(&mut self, now: Duration, data: &Bytes, w: &mut World) {
        let Some(m) = parse(data) else { return };
        let Some(method) = m.method().cloned() else {
            return;
        };
        match method {
            Method::Invite => {
                if self.invite.is_none() {
                    if self.plan.ring {
                        let r = self.respond(&m, 180);
                        w.send(now, sock(BOB), sock(SERVER), r.clone());
                        self.last = Some(r);
                    }
                    if let Some(status) = self.plan.answer {
                        let at = now + Duration::from_millis(self.plan.delay_ms);
                        self.scheduled.push((at, self.respond(&m, status)));
                    }
                    self.invite = Some(m);
                } else if let Some(last) = self.last.clone() {
                    w.send(now, sock(BOB), sock(SERVER), last);
                }
            }
            Method::Ack => self.final_retx = None,
            Method::Cancel => {
                let ok = self.respond(&m, 200);
                w.send(now, sock(BOB), sock(SERVER), ok);
                if !self.final_sent
                    && let Some(inv) = self.invite.clone()
                {
                    self.scheduled.clear();
                    self.scheduled.push((now, self.respond(&inv, 487)));
                }
            }
            _ => {
                let ok = self.respond(&m, 200);
                w.send(now, sock(BOB), sock(SERVER), ok);
            }
        }
    }

    fn on_timer(&mut self, now: Duration, w: &mut World) {
        let due: Vec<Bytes> = self
            .scheduled
            .iter()
            .filter(|(t, _)| *t <= now)
            .map(|(_, d)| d.clone())
            .collect();
        self.scheduled.retain(|(t, _)| *t > now);
        for d in due {
            if self.final_sent {
                continue;
            }
            self.final_sent = true;
            w.send(now, sock(BOB), sock(SERVER), d.clone());
            self.last = Some(d.clone());
            self.final_retx = Some(Retx::new(d, now, T2));
        }
        if let Some(d) = self.final_retx.as_mut().and_then(|r| r.fire(now)) {
            w.send(now, sock(BOB), sock(SERVER), d);
        }
    }

    fn deadline(&self) -> Option<Duration> {
        [
            self.scheduled.iter().map(|(t, _)| *t).min(),
            self.final_retx.as_ref().and_then(Retx::deadline),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// Runs one call on `p` (alice and bob registered) until nothing is left to
/// happen or 15 virtual minutes have passed; then checks that the last
/// activity was at least five minutes before the end.
pub(crate) fn run(p: &mut Probe, rng: SplitMix64, loss: f64, plan: Plan) -> Result<Report, String> {
    let t0 = p.elapsed();
    let limit = t0 + Duration::from_secs(15 * 60);
    let mut w = World {
        rng,
        loss,
        wire: Wire::new(),
        seq: 0,
        report: Report::default(),
    };
    let inv = invite();
    let mut caller = Caller {
        invite: inv.clone(),
        invite_retx: Some(Retx::new(inv.clone(), t0, Duration::MAX)),
        timer_b: Some(t0 + 64 * T1),
        give_up: None,
        ack: None,
        bye: None,
        bye_done: false,
    };
    let mut callee = Callee {
        plan,
        invite: None,
        scheduled: Vec::new(),
        last: None,
        final_retx: None,
        final_sent: false,
    };
    w.send(t0, sock(ALICE), sock(SERVER), inv);
    for _ in 0..200_000 {
        let next_wire = w.wire.keys().next().map(|k| k.0);
        let next_engine = p.next_deadline();
        let next_ua = [caller.deadline(), callee.deadline()]
            .into_iter()
            .flatten()
            .min();
        let Some(t) = [next_wire, next_engine, next_ua]
            .into_iter()
            .flatten()
            .min()
            .filter(|t| *t <= limit)
        else {
            let end = p.elapsed().max(limit);
            if end < w.report.last_activity + Duration::from_secs(300) {
                return Err(format!("activity until {:?}", w.report.last_activity));
            }
            p.advance(end - p.elapsed()).map_err(|e| e.to_string())?;
            return Ok(w.report);
        };
        let now = t.max(p.elapsed());
        let outputs = if next_engine == Some(t) {
            p.advance(now - p.elapsed()).map_err(|e| e.to_string())?
        } else {
            p.skip(now - p.elapsed());
            if next_wire == Some(t) {
                let (_, (from, to, data)) = w.wire.pop_first().expect("a datagram is due");
                w.report.last_activity = now;
                if to == sock(SERVER) {
                    if from == sock(ALICE) && data.starts_with(b"BYE ") {
                        w.report.bye_reached_engine = true;
                    }
                    p.datagram(from, data).map_err(|e| e.to_string())?
                } else if to == sock(ALICE) {
                    caller.on_message(now, &data, &mut w);
                    Vec::new()
                } else if to == sock(BOB) {
                    callee.on_message(now, &data, &mut w);
                    Vec::new()
                } else {
                    Vec::new() // e.g. the 302's target: nobody there
                }
            } else {
                caller.on_timer(now, &mut w);
                callee.on_timer(now, &mut w);
                Vec::new()
            }
        };
        for o in outputs {
            if let Output::Transmit(tx) = o {
                w.send(now, sock(SERVER), tx.remote, tx.data);
            }
        }
    }
    Err("more than 200,000 steps: livelock".into())
}
