//! A toy Sans-IO "UAS" that proves the harness until the real engine exists.
//!
//! It answers every request except ACK with a final response (200 by default,
//! `config status=<code>` to change it) built by plain string handling: Via,
//! From, To (a `tag` added), Call-ID and CSeq are echoed (RFC 3261 §8.2.6.2).
//! Over UDP it retransmits the response to an INVITE at T1, 2·T1, … capped at
//! T2 until the ACK comes or 64·T1 passes (§17.2.1, Timers G and H), then logs
//! an event. A MESSAGE with `config relay=<addr>` is also relayed over a TCP
//! connection the toy asks the harness to open (`Output::Connect`), to exercise
//! outbound streams. With `config auth=on` a request without `Authorization` gets a 401 with a
//! SHA-256 Digest challenge (RFC 7616), and credentials are echoed back in
//! `X-Echo-Authorization`. It reports `Event::Log` lines for what it does.

use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use switchboard_conformance::msg::{SipView, StartLine, frame_len, param};
use switchboard_conformance::{Node, ScenarioSetup};
use switchboard_core::event::LogLevel;
use switchboard_core::{ConnId, Event, Flow, Input, Output, Transmit, Transport};

const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);

/// A response waiting for its ACK.
struct Pending {
    flow: Flow,
    data: Bytes,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

/// The toy node.
pub(crate) struct Toy {
    status: u16,
    auth: bool,
    relay: Option<SocketAddr>,
    out: VecDeque<Output>,
    now: Instant,
    pending: BTreeMap<String, Pending>,
    streams: BTreeMap<ConnId, (Flow, Vec<u8>)>,
    next_conn: u64,
}

impl Toy {
    /// Builds the toy from a scenario's setup.
    pub(crate) fn new(setup: &ScenarioSetup) -> Self {
        Self {
            status: setup
                .config("status")
                .and_then(|s| s.parse().ok())
                .unwrap_or(200),
            auth: setup.config("auth") == Some("on"),
            relay: setup.config("relay").and_then(|s| s.parse().ok()),
            out: VecDeque::new(),
            now: setup.epoch,
            pending: BTreeMap::new(),
            streams: BTreeMap::new(),
            next_conn: ConnId::OUTBOUND_BASE,
        }
    }

    fn log(&mut self, message: String) {
        self.out.push_back(Output::Event(Event::Log {
            level: LogLevel::Session,
            message,
        }));
    }

    fn send(&mut self, flow: &Flow, data: Bytes) {
        self.out.push_back(Output::Transmit(Transmit {
            transport: flow.transport,
            local: Some(flow.local),
            remote: flow.remote,
            conn: flow.conn,
            data,
        }));
    }

    fn on_message(&mut self, flow: Flow, data: &[u8]) {
        let Some(m) = SipView::parse(data) else {
            self.log("unparseable message dropped".into());
            return;
        };
        let StartLine::Request { method, .. } = &m.start else {
            return;
        };
        let call_id = m.header("Call-ID").unwrap_or("").to_owned();
        if method == "ACK" {
            if self.pending.remove(&call_id).is_some() {
                self.log(format!("ACK stops retransmissions call-id={call_id}"));
            }
            return;
        }
        let challenge = self.auth && m.header("Authorization").is_none();
        let reply = self.response(&m, challenge);
        self.send(&flow, reply.clone());
        let status = if challenge { 401 } else { self.status };
        self.log(format!("answered {method} {status} call-id={call_id}"));
        if method == "INVITE" && !flow.transport.is_reliable() {
            self.pending.insert(
                call_id.clone(),
                Pending {
                    flow,
                    data: reply,
                    next: self.now + T1,
                    interval: T1,
                    give_up: self.now + T1 * 64,
                },
            );
        }
        if method == "MESSAGE"
            && let Some(relay) = self.relay
        {
            let conn = ConnId(self.next_conn);
            self.next_conn += 1;
            self.out.push_back(Output::Connect {
                conn,
                transport: Transport::Tcp,
                remote: relay,
                tls: None,
            });
            let body = String::from_utf8_lossy(&m.body);
            let req = format!(
                "MESSAGE sip:relay@{relay} SIP/2.0\r\nVia: SIP/2.0/TCP toy.invalid;branch=z9hG4bKtoy{}\r\nCall-ID: relay-{call_id}\r\nCSeq: 1 MESSAGE\r\nContent-Length: {}\r\n\r\n{body}",
                conn.0 - ConnId::OUTBOUND_BASE,
                body.len()
            );
            self.out.push_back(Output::Transmit(Transmit {
                transport: Transport::Tcp,
                local: None,
                remote: relay,
                conn: Some(conn),
                data: Bytes::from(req),
            }));
        }
    }

    fn response(&self, m: &SipView, challenge: bool) -> Bytes {
        let (status, reason) = match (challenge, self.status) {
            (true, _) => (401, "Unauthorized"),
            (false, 200) => (200, "OK"),
            (false, s) => (s, "Toy"),
        };
        let mut r = format!("SIP/2.0 {status} {reason}\r\n");
        for v in m.header_all("Via") {
            r.push_str(&format!("Via: {v}\r\n"));
        }
        for h in ["From", "To", "Call-ID", "CSeq"] {
            if let Some(v) = m.header(h) {
                if h == "To" && param(v, "tag").is_none() {
                    r.push_str(&format!("To: {v};tag=toy\r\n"));
                } else {
                    r.push_str(&format!("{h}: {v}\r\n"));
                }
            }
        }
        if challenge {
            let nonce = m.header("Call-ID").unwrap_or("none").replace('"', "");
            r.push_str(&format!(
                "WWW-Authenticate: Digest realm=\"toy\", nonce=\"n-{nonce}\", algorithm=SHA-256, qop=\"auth\"\r\n"
            ));
        }
        if let Some(a) = m.header("Authorization") {
            // Echo the credentials so scenarios can check what the digest helper built.
            r.push_str(&format!("X-Echo-Authorization: {a}\r\n"));
        }
        r.push_str("Content-Length: 0\r\n\r\n");
        Bytes::from(r)
    }

    fn on_timeout(&mut self) {
        let now = self.now;
        let due: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, p)| p.next <= now || p.give_up <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for call_id in due {
            let Some(mut p) = self.pending.remove(&call_id) else {
                continue;
            };
            if now >= p.give_up {
                self.log(format!("no ACK, giving up call-id={call_id}"));
                continue;
            }
            self.send(&p.flow, p.data.clone());
            p.interval = (p.interval * 2).min(T2);
            p.next = now + p.interval;
            self.pending.insert(call_id, p);
        }
    }
}

impl Node for Toy {
    fn handle_input(&mut self, input: Input) {
        self.now = self.now.max(input.now());
        match input {
            Input::Datagram { flow, data, .. } => self.on_message(flow, &data),
            Input::ConnectionOpened { flow, .. } => {
                if let Some(conn) = flow.conn {
                    self.streams.insert(conn, (flow, Vec::new()));
                }
            }
            Input::StreamData { conn, data, .. } => {
                let Some((flow, buf)) = self.streams.get_mut(&conn) else {
                    self.log(format!("data on unknown connection {conn}"));
                    return;
                };
                let flow = *flow;
                buf.extend_from_slice(&data);
                let mut msgs = Vec::new();
                while let Some(len) = frame_len(buf) {
                    msgs.push(buf.drain(..len).collect::<Vec<u8>>());
                }
                for msg in msgs {
                    self.on_message(flow, &msg);
                }
            }
            Input::ConnectionClosed { conn, .. } => {
                self.streams.remove(&conn);
                self.log(format!("connection {conn} closed"));
            }
            Input::Timeout(_) => self.on_timeout(),
            _ => {}
        }
    }

    fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        let next = self.pending.values().map(|p| p.next.min(p.give_up)).min();
        Output::Timeout(next.unwrap_or(self.now + Duration::from_secs(3600)))
    }
}

/// The factory the scenario tests use.
pub(crate) fn factory(setup: &ScenarioSetup) -> Box<dyn Node> {
    Box::new(Toy::new(setup))
}
