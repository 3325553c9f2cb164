//! An in-process "network" for engine benchmarks: one [`Engine`], a virtual
//! clock, and user agents that are plain functions.
//!
//! The engine is Sans-IO (ARCHITECTURE.md §3), so a benchmark can be the whole
//! network: [`Net::deliver`] hands a datagram to the engine as
//! [`Input::Datagram`] on the right [`Flow`] and drains [`Engine::poll_output`]
//! until [`Output::Timeout`], collecting every [`Transmit`]. The peers parse
//! those bytes with the same codec a real phone would need (RFC 3261 §7) and
//! answer by building fresh messages ([`response_to`], RFC 3261 §8.2.6 and
//! §12.1.1: copy Via, Record-Route, From, Call-ID, CSeq; add a To tag).
//!
//! Virtual time only moves when the benchmark calls [`Net::advance`], which
//! fires the engine's timers once their deadline has passed, so transactions
//! leave the Completed/Accepted states (Timer J, K, D, L, M) and live state
//! stays bounded by "virtual rate × timer length".
//!
//! Time spent inside the engine (handle_input plus draining its outputs) is
//! accumulated in [`Net::engine_time`], so a benchmark can report the engine's
//! share of an iteration that also includes the peers' work.

use bytes::Bytes;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};
use switchboard_core::sip::{HeaderName, Limits, Message};
use switchboard_core::{Config, Engine, Flow, Input, Listener, Output, Transmit, Transport};

/// The server's (single UDP listener's) address.
pub const SERVER: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 5060));

/// The SIP domain (and digest realm) the benchmarks use.
pub const DOMAIN: &str = "example.com";

/// A distinct UDP address for user agent number `i` (10.x.y.z:5060, from 10.0.0.1).
pub fn ua_addr(i: u32) -> SocketAddr {
    let [_, b, c, d] = (i + 1).to_be_bytes();
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, b, c, d), 5060))
}

/// The username of extension number `i` (six digits, from 100000).
pub fn username(i: u32) -> String {
    (100_000 + i).to_string()
}

/// A default configuration for [`SERVER`] on UDP with a fixed RNG seed.
pub fn config() -> Config {
    let mut cfg = Config::new(
        DOMAIN,
        vec![Listener {
            transport: Transport::Udp,
            addr: SERVER,
            advertise: None,
        }],
    );
    cfg.rng_seed = [7; 32];
    cfg
}

/// The engine plus a virtual clock, as seen by the benchmark loop.
#[derive(Debug)]
pub struct Net {
    /// The engine under test.
    pub engine: Engine,
    /// Virtual time at construction.
    pub start: Instant,
    /// The current virtual time.
    pub now: Instant,
    /// The engine's next deadline, from the last [`Output::Timeout`].
    deadline: Instant,
    /// Outputs of the last [`Net::deliver`] that were transmits.
    pub sent: Vec<Transmit>,
    /// Events seen so far.
    pub events: u64,
    /// Transmits produced by timers (retransmissions) so far.
    pub timer_transmits: u64,
    /// Time spent inside the engine so far.
    pub engine_time: Duration,
    /// Codec limits for the peers' parsing.
    pub limits: Limits,
}

impl Net {
    /// Builds the engine from `cfg`; virtual time starts at `start`.
    pub fn new(cfg: Config, start: Instant) -> Self {
        let engine = Engine::new(cfg, start).expect("benchmark configuration is valid");
        Self {
            engine,
            start,
            now: start,
            deadline: start + Duration::from_secs(3600),
            sent: Vec::with_capacity(8),
            events: 0,
            timer_transmits: 0,
            engine_time: Duration::ZERO,
            limits: Limits::default(),
        }
    }

    /// Delivers one UDP datagram from `from` to [`SERVER`] and drains the
    /// engine; the transmits are left in [`Net::sent`] (cleared first).
    pub fn deliver(&mut self, from: SocketAddr, data: Bytes) {
        self.sent.clear();
        let flow = Flow {
            transport: Transport::Udp,
            local: SERVER,
            remote: from,
            conn: None,
        };
        let t = Instant::now();
        self.engine.handle_input(Input::Datagram {
            now: self.now,
            flow,
            data,
        });
        self.drain();
        self.engine_time += t.elapsed();
    }

    /// The single transmit the last delivery produced, checked to go to `to`.
    pub fn only(&self, to: SocketAddr) -> &Transmit {
        assert_eq!(self.sent.len(), 1, "expected one transmit: {:?}", self.sent);
        let t = &self.sent[0];
        assert_eq!(t.remote, to, "transmit went to the wrong peer");
        t
    }

    fn drain(&mut self) {
        loop {
            match self.engine.poll_output() {
                Output::Transmit(t) => self.sent.push(t),
                Output::Timeout(at) => {
                    self.deadline = at;
                    return;
                }
                Output::Event(_) => self.events += 1,
                other => panic!("unexpected output in a UDP benchmark: {other:?}"),
            }
        }
    }

    /// Moves virtual time forward by `by`, firing the engine's timers if
    /// their deadline has passed (timer-driven transmits are counted and dropped).
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        if self.now >= self.deadline {
            let t = Instant::now();
            self.sent.clear();
            self.engine.handle_input(Input::Timeout(self.now));
            self.drain();
            self.timer_transmits += self.sent.len() as u64;
            self.sent.clear();
            self.engine_time += t.elapsed();
        }
    }

    /// Parses bytes the engine sent, as the receiving peer would.
    pub fn parse(&self, t: &Transmit) -> Message {
        Message::parse(t.data.clone(), &self.limits).expect("the engine sends parseable SIP")
    }
}

/// Builds a response to `req` the way a UAS does (RFC 3261 §8.2.6): Via,
/// Record-Route, From, Call-ID and CSeq copied in order, To with `to_tag`
/// added when the request had none, then `extra` header lines (each ending in
/// CRLF) and `body`. `buf` is scratch space reused across calls.
pub fn response_to(
    buf: &mut String,
    req: &Message,
    status: u16,
    reason: &str,
    to_tag: &str,
    extra: &str,
    body: &str,
) -> Bytes {
    buf.clear();
    let _ = write!(buf, "SIP/2.0 {status} {reason}\r\n");
    let has_tag = req.to_tag().is_some();
    for h in req.headers() {
        let name = match h.name() {
            HeaderName::Via => "Via",
            HeaderName::RecordRoute => "Record-Route",
            HeaderName::From => "From",
            HeaderName::CallId => "Call-ID",
            HeaderName::CSeq => "CSeq",
            HeaderName::To => {
                let v = req.value_text(h);
                if has_tag {
                    let _ = write!(buf, "To: {v}\r\n");
                } else {
                    let _ = write!(buf, "To: {v};tag={to_tag}\r\n");
                }
                continue;
            }
            _ => continue,
        };
        let _ = write!(buf, "{name}: {}\r\n", req.value_text(h));
    }
    buf.push_str(extra);
    let _ = write!(buf, "Content-Length: {}\r\n\r\n{body}", body.len());
    Bytes::copy_from_slice(buf.as_bytes())
}

/// The URI inside a `<...>` name-addr, or the whole value if there are no brackets.
pub fn addr_spec(v: &str) -> &str {
    match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v,
    }
}

/// A typical SDP offer or answer (about 300 bytes) from `ip`.
pub fn sdp(buf: &mut String, user: &str, ip: &str) {
    buf.clear();
    let _ = write!(
        buf,
        "v=0\r\n\
o={user} 2890844526 2890844526 IN IP4 {ip}\r\n\
s=-\r\n\
c=IN IP4 {ip}\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 9 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_copies_dialog_headers_and_adds_tag() {
        let raw = "INVITE sip:b@example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKp\r\n\
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa\r\n\
Record-Route: <sip:192.0.2.1;lr>\r\n\
From: <sip:a@example.com>;tag=f\r\n\
To: <sip:b@example.com>\r\n\
Call-ID: c\r\n\
CSeq: 1 INVITE\r\n\
Max-Forwards: 69\r\n\
Content-Length: 0\r\n\r\n";
        let req = Message::parse(Bytes::from(raw), &Limits::default()).expect("parses");
        let mut buf = String::new();
        let resp = response_to(&mut buf, &req, 180, "Ringing", "t1", "", "");
        let m = Message::parse(resp, &Limits::default()).expect("parses");
        assert_eq!(m.status(), Some(180));
        assert_eq!(m.header_count(HeaderName::Via), 2);
        assert_eq!(m.to_tag(), Some("t1"));
        assert_eq!(
            m.header(HeaderName::RecordRoute),
            Some("<sip:192.0.2.1;lr>")
        );
        assert_eq!(m.header(HeaderName::MaxForwards), None);
        assert_eq!(addr_spec("\"B\" <sip:b@h>;x"), "sip:b@h");
    }

    #[test]
    fn addresses_are_distinct() {
        assert_ne!(ua_addr(1), ua_addr(257));
        assert_eq!(username(5), "100005");
    }
}
