//! The virtual clock and the simulation loop: one node, scripted hosts, one network.
//!
//! Time is a [`Duration`] since one process-wide epoch ([`epoch`], the only
//! `Instant::now()` in the harness). Nothing waits: the loop jumps straight to
//! the next thing that can happen — `min(node deadline, next delivery)`, with
//! the script's own next step as the caller's `limit` — so a 32 s Timer B
//! (RFC 3261 §17.1.1.2) costs microseconds. Each delivery, timer and drained
//! output counts as a step; past the bound (100,000 by default) the run fails
//! as a livelock instead of spinning.
//!
//! The node is driven like a runtime drives `switchboard_core`
//! (ARCHITECTURE.md §3): one input stamped with `epoch + now`, then
//! `poll_output` until `Output::Timeout`. Every output and every delivery is
//! written to the transcript, one line each (see [`crate::transcript`]).

use crate::msg::{frame_len, render};
use crate::net::{Delivery, Fate, Net, Payload};
use crate::node::{Factory, Node, ScenarioSetup};
use crate::script::{HostDecl, Script};
use crate::transcript::{first_line, fmt_time};
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use switchboard_core::{ConnId, Flow, Input, Output, Transport};

/// The default livelock bound.
pub const DEFAULT_MAX_STEPS: u64 = 100_000;

/// A host's stream receive buffer is capped at this many bytes.
const MAX_STREAM_BUFFER: usize = 1 << 20;

/// Virtual time zero, shared by every run in the process.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// A message a scripted host received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// When it arrived.
    pub at: Duration,
    /// Over what.
    pub transport: Transport,
    /// The sender's address.
    pub from: SocketAddr,
    /// The connection, for TCP.
    pub conn: Option<ConnId>,
    /// The whole message.
    pub data: Bytes,
}

/// Who did what, for seed-sweep invariants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// When.
    pub at: Duration,
    /// Sender name.
    pub from: String,
    /// Receiver name.
    pub to: String,
    /// `send` (left the sender, `lost` says whether it was dropped) or `deliver`.
    pub kind: &'static str,
    /// The transport.
    pub transport: Transport,
    /// The message's first line.
    pub first_line: String,
    /// True if the network dropped it.
    pub lost: bool,
}

struct HostState {
    decl: HostDecl,
    inbox: VecDeque<Received>,
    streams: BTreeMap<ConnId, Vec<u8>>,
}

/// One simulation: the node under test, the hosts, the network and the clock.
pub struct Sim {
    epoch: Instant,
    now: Duration,
    node: Box<dyn Node>,
    net: Net,
    engine: String,
    engine_addrs: Vec<(SocketAddr, Vec<Transport>)>,
    hosts: BTreeMap<String, HostState>,
    deadline: Option<Duration>,
    events: VecDeque<(Duration, String)>,
    transcript: String,
    steps: u64,
    max_steps: u64,
    log: Vec<LogEntry>,
}

impl Sim {
    /// Builds the node with `factory` and the world the script declares, at time zero.
    ///
    /// # Errors
    /// The step bound, if the node's first drain never ends.
    pub fn new(script: &Script, factory: Factory<'_>) -> Result<Self, String> {
        let epoch = epoch();
        let setup = ScenarioSetup::from_script(script, epoch);
        let node = factory(&setup);
        let hosts = script
            .hosts
            .iter()
            .map(|h| {
                let st = HostState {
                    decl: h.clone(),
                    inbox: VecDeque::new(),
                    streams: BTreeMap::new(),
                };
                (h.name.clone(), st)
            })
            .collect();
        let mut sim = Self {
            epoch,
            now: Duration::ZERO,
            node,
            net: Net::new(&script.engine, script.seed),
            engine: script.engine.clone(),
            engine_addrs: script.engine_addrs.clone(),
            hosts,
            deadline: None,
            events: VecDeque::new(),
            transcript: String::new(),
            steps: 0,
            max_steps: script.max_steps.unwrap_or(DEFAULT_MAX_STEPS),
            log: Vec::new(),
        };
        sim.drain()?;
        Ok(sim)
    }

    /// Virtual time since the epoch.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// The transcript so far.
    pub fn transcript(&self) -> &str {
        &self.transcript
    }

    /// The send/deliver log so far.
    pub fn log(&self) -> &[LogEntry] {
        &self.log
    }

    /// The network, to change impairments or script losses.
    pub fn net_mut(&mut self) -> &mut Net {
        &mut self.net
    }

    /// The engine's name.
    pub fn engine_name(&self) -> &str {
        &self.engine
    }

    /// A host's declared address.
    pub fn host_addr(&self, host: &str) -> Option<SocketAddr> {
        self.hosts.get(host).map(|h| h.decl.addr)
    }

    /// Appends a line to the transcript at the current time.
    pub fn note(&mut self, text: &str) {
        let _ = writeln!(self.transcript, "{} {text}", fmt_time(self.now));
    }

    /// The engine address a host talks to over `transport` (same IP family first).
    pub fn engine_addr_for(&self, host: &str, transport: Transport) -> Option<SocketAddr> {
        let mine = self.host_addr(host)?;
        let serving = || {
            self.engine_addrs
                .iter()
                .filter(move |(_, ts)| ts.contains(&transport))
                .map(|(a, _)| *a)
        };
        serving()
            .find(|a| a.is_ipv4() == mine.is_ipv4())
            .or_else(|| serving().next())
    }

    /// A scripted host sends `data` to the engine (`to`, or its default address).
    /// Over TCP it reuses the host's open connection or opens one first.
    ///
    /// # Errors
    /// Unknown host, or no engine address serving the transport.
    pub fn host_send(
        &mut self,
        host: &str,
        transport: Transport,
        to: Option<SocketAddr>,
        data: Bytes,
    ) -> Result<(), String> {
        let from_addr = self
            .host_addr(host)
            .ok_or_else(|| format!("unknown host {host:?}"))?;
        let to = match to {
            Some(a) => a,
            None => self
                .engine_addr_for(host, transport)
                .ok_or_else(|| format!("the engine serves no {transport} address"))?,
        };
        let engine = self.engine.clone();
        let summary = first_line(&data);
        let mut head = format!("{host} -> {engine} {transport}");
        let fate = match transport {
            Transport::Udp => {
                let p = Payload::Datagram {
                    from: from_addr,
                    to,
                    data: data.clone(),
                };
                Some(self.net.send_datagram(self.now, host, &engine, p))
            }
            _ => {
                let id = match self.net.open_conn_of(host, Some(to)) {
                    Some(id) => id,
                    None => self.host_connect(host, Some(to))?,
                };
                let _ = write!(head, " {id}");
                self.net.stream_write(self.now, id, host, data.clone());
                None
            }
        };
        self.record_send(
            &head,
            &summary,
            fate.as_ref(),
            &data,
            (host, &engine, transport),
        );
        Ok(())
    }

    /// Opens a TCP connection from a host to the engine.
    ///
    /// # Errors
    /// Unknown host or no TCP address on the engine.
    pub fn host_connect(&mut self, host: &str, to: Option<SocketAddr>) -> Result<ConnId, String> {
        let from = self
            .host_addr(host)
            .ok_or_else(|| format!("unknown host {host:?}"))?;
        let to = match to {
            Some(a) => a,
            None => self
                .engine_addr_for(host, Transport::Tcp)
                .ok_or("the engine serves no TCP address")?,
        };
        let id = self.net.host_connect(self.now, host, from, to);
        let engine = self.engine.clone();
        self.note(&format!(
            "{host} -> {engine} TCP {id} connect {from} -> {to}"
        ));
        Ok(id)
    }

    /// Closes every open connection of a host; returns how many.
    pub fn host_close(&mut self, host: &str) -> usize {
        let ids = self.net.open_conns_of(host);
        for id in &ids {
            self.net.close(self.now, *id, host);
            let engine = self.engine.clone();
            self.note(&format!("{host} -> {engine} TCP {id} close"));
        }
        ids.len()
    }

    fn record_send(
        &mut self,
        head: &str,
        summary: &str,
        fate: Option<&Fate>,
        data: &[u8],
        (from, to, transport): (&str, &str, Transport),
    ) {
        let tag = match fate {
            Some(Fate::Lost) => " [lost]",
            Some(Fate::LostScripted) => " [lost: lose next]",
            Some(Fate::Sent(t)) if t.len() > 1 => " [duplicated]",
            _ => "",
        };
        self.note(&format!("{head} {summary}{tag}"));
        self.transcript.push_str(&render(data, "    "));
        self.log.push(LogEntry {
            at: self.now,
            from: from.to_owned(),
            to: to.to_owned(),
            kind: "send",
            transport,
            first_line: summary.to_owned(),
            lost: matches!(fate, Some(Fate::Lost | Fate::LostScripted)),
        });
    }

    fn bump(&mut self) -> Result<(), String> {
        self.steps += 1;
        if self.steps > self.max_steps {
            return Err(format!(
                "step bound of {} exceeded at {} (livelock?)",
                self.max_steps,
                fmt_time(self.now)
            ));
        }
        Ok(())
    }

    fn instant(&self) -> Instant {
        self.epoch + self.now
    }

    fn feed(&mut self, input: Input) -> Result<(), String> {
        self.node.handle_input(input);
        self.drain()
    }

    /// Drains the node's outputs until it names its next deadline.
    fn drain(&mut self) -> Result<(), String> {
        loop {
            self.bump()?;
            match self.node.poll_output() {
                Output::Timeout(at) => {
                    self.deadline = Some(at.saturating_duration_since(self.epoch));
                    return Ok(());
                }
                Output::Transmit(t) => self.engine_transmit(t),
                Output::Connect {
                    conn,
                    transport,
                    remote,
                    ..
                } => self.engine_connect(conn, transport, remote),
                Output::Close(id) => {
                    let engine = self.engine.clone();
                    let host = self
                        .net
                        .conn(id)
                        .map(|c| c.host.clone())
                        .unwrap_or_default();
                    self.net.close(self.now, id, &engine);
                    self.note(&format!("{engine} -> {host} TCP {id} close"));
                }
                Output::Event(e) => {
                    let text = format!("{e:?}");
                    let engine = self.engine.clone();
                    self.note(&format!("{engine} event {text}"));
                    self.events.push_back((self.now, text));
                }
                other => {
                    let engine = self.engine.clone();
                    self.note(&format!("{engine} output {other:?} (not simulated)"));
                }
            }
        }
    }

    fn host_at(&self, addr: SocketAddr, transport: Transport) -> Option<String> {
        self.hosts
            .values()
            .find(|h| h.decl.addr == addr && h.decl.transports.contains(&transport))
            .map(|h| h.decl.name.clone())
    }

    fn engine_transmit(&mut self, t: switchboard_core::Transmit) {
        let engine = self.engine.clone();
        let summary = first_line(&t.data);
        match t.transport {
            Transport::Udp => {
                let Some(host) = self.host_at(t.remote, Transport::Udp) else {
                    self.note(&format!(
                        "{engine} -> ? UDP {} {summary} [no host listens there]",
                        t.remote
                    ));
                    self.transcript.push_str(&render(&t.data, "    "));
                    return;
                };
                let from = t
                    .local
                    .or_else(|| self.engine_addr_for(&host, Transport::Udp))
                    .unwrap_or(t.remote);
                let p = Payload::Datagram {
                    from,
                    to: t.remote,
                    data: t.data.clone(),
                };
                let fate = self.net.send_datagram(self.now, &engine, &host, p);
                let head = format!("{engine} -> {host} UDP");
                self.record_send(
                    &head,
                    &summary,
                    Some(&fate),
                    &t.data,
                    (&engine, &host, Transport::Udp),
                );
            }
            Transport::Tcp => {
                let id = t.conn.or_else(|| self.net.open_conn_to(t.remote));
                let host = id
                    .and_then(|id| self.net.conn(id))
                    .map(|c| c.host.clone())
                    .unwrap_or_else(|| "?".to_owned());
                let ok = id
                    .is_some_and(|id| self.net.stream_write(self.now, id, &engine, t.data.clone()));
                let id_text = id.map_or_else(|| "-".to_owned(), |i| i.to_string());
                let head = format!("{engine} -> {host} TCP {id_text}");
                let tail = if ok { "" } else { " [no open connection]" };
                self.record_send(
                    &format!("{head}{tail}"),
                    &summary,
                    None,
                    &t.data,
                    (&engine, &host, Transport::Tcp),
                );
                if !ok && let Some(id) = id {
                    // Writing on a dead connection fails: tell the engine it is closed.
                    self.net.engine_connect(self.now, id, None, t.remote);
                }
            }
            other => {
                self.note(&format!(
                    "{engine} -> ? {other} {summary} [transport not simulated]"
                ));
            }
        }
    }

    fn engine_connect(&mut self, id: ConnId, transport: Transport, remote: SocketAddr) {
        let engine = self.engine.clone();
        let host = (transport == Transport::Tcp)
            .then(|| self.host_at(remote, Transport::Tcp))
            .flatten();
        let local = self
            .engine_addrs
            .iter()
            .find(|(a, ts)| ts.contains(&transport) && a.is_ipv4() == remote.is_ipv4())
            .map_or(remote, |(a, _)| *a);
        let to = host.clone().unwrap_or_else(|| "?".to_owned());
        let tail = if host.is_some() {
            ""
        } else {
            " [refused: nobody listens]"
        };
        self.note(&format!(
            "{engine} -> {to} {transport} {id} connect {remote}{tail}"
        ));
        let listener = host.as_deref().map(|h| (h, remote));
        self.net.engine_connect(self.now, id, listener, local);
    }

    /// Runs one delivery or timer due at or before `limit`; false if nothing is.
    ///
    /// # Errors
    /// The step bound.
    pub fn step(&mut self, limit: Duration) -> Result<bool, String> {
        let next_net = self.net.next_at();
        let timer_first = match (self.deadline, next_net) {
            (Some(d), Some(n)) => d < n,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if timer_first {
            let d = self.deadline.unwrap_or(self.now);
            if d > limit {
                return Ok(false);
            }
            self.now = self.now.max(d);
            self.deadline = None;
            self.bump()?;
            let engine = self.engine.clone();
            self.note(&format!("{engine} timer"));
            let at = self.instant();
            self.feed(Input::Timeout(at))?;
            return Ok(true);
        }
        let Some((at, d)) = self.net.pop_due(limit) else {
            return Ok(false);
        };
        self.now = self.now.max(at);
        self.bump()?;
        self.deliver(d)?;
        Ok(true)
    }

    fn deliver(&mut self, d: Delivery) -> Result<(), String> {
        let now = self.instant();
        if d.to == self.engine {
            let (input, transport, what) = match d.payload {
                Payload::Datagram { from, to, data } => {
                    let what = first_line(&data);
                    let flow = Flow {
                        transport: Transport::Udp,
                        local: to,
                        remote: from,
                        conn: None,
                    };
                    (Input::Datagram { now, flow, data }, Transport::Udp, what)
                }
                Payload::Opened(id) => {
                    let Some(c) = self.net.conn(id) else {
                        return Ok(());
                    };
                    let flow = Flow {
                        transport: Transport::Tcp,
                        local: c.engine_addr,
                        remote: c.host_addr,
                        conn: Some(id),
                    };
                    (
                        Input::ConnectionOpened { now, flow },
                        Transport::Tcp,
                        format!("{id} opened"),
                    )
                }
                Payload::StreamData(id, data) => {
                    let what = format!("{id} {} bytes: {}", data.len(), first_line(&data));
                    (
                        Input::StreamData {
                            now,
                            conn: id,
                            data,
                        },
                        Transport::Tcp,
                        what,
                    )
                }
                Payload::Closed(id) => {
                    self.net.mark_closed(id);
                    (
                        Input::ConnectionClosed { now, conn: id },
                        Transport::Tcp,
                        format!("{id} closed"),
                    )
                }
            };
            self.note(&format!("{} <- {} {transport} {what}", d.to, d.from));
            self.log_delivery(&d.from, &d.to, transport, what);
            return self.feed(input);
        }
        let to = d.to.clone();
        match d.payload {
            Payload::Datagram { from, data, .. } => {
                let what = first_line(&data);
                self.note(&format!("{to} <- {} UDP {what}", d.from));
                self.log_delivery(&d.from, &to, Transport::Udp, what);
                if let Some(h) = self.hosts.get_mut(&to) {
                    h.inbox.push_back(Received {
                        at: self.now,
                        transport: Transport::Udp,
                        from,
                        conn: None,
                        data,
                    });
                }
            }
            Payload::StreamData(id, data) => self.host_stream(&to, &d.from, id, &data),
            Payload::Closed(id) => {
                self.net.mark_closed(id);
                self.note(&format!("{to} <- {} TCP {id} closed", d.from));
            }
            Payload::Opened(id) => self.note(&format!("{to} <- {} TCP {id} opened", d.from)),
        }
        Ok(())
    }

    fn log_delivery(&mut self, from: &str, to: &str, transport: Transport, what: String) {
        self.log.push(LogEntry {
            at: self.now,
            from: from.to_owned(),
            to: to.to_owned(),
            kind: "deliver",
            transport,
            first_line: what,
            lost: false,
        });
    }

    fn host_stream(&mut self, to: &str, from: &str, id: ConnId, data: &[u8]) {
        let from_addr = self
            .net
            .conn(id)
            .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.engine_addr);
        let now = self.now;
        let mut lines = Vec::new();
        let mut messages = Vec::new();
        if let Some(h) = self.hosts.get_mut(to) {
            let buf = h.streams.entry(id).or_default();
            buf.extend_from_slice(data);
            while let Some(len) = frame_len(buf) {
                let msg: Vec<u8> = buf.drain(..len).collect();
                let lead = msg
                    .iter()
                    .take_while(|b| **b == b'\r' || **b == b'\n')
                    .count();
                let msg = Bytes::from(msg).slice(lead..);
                lines.push(format!("{to} <- {from} TCP {id} {}", first_line(&msg)));
                messages.push(first_line(&msg));
                h.inbox.push_back(Received {
                    at: now,
                    transport: Transport::Tcp,
                    from: from_addr,
                    conn: Some(id),
                    data: msg,
                });
            }
            if buf.len() > MAX_STREAM_BUFFER {
                buf.clear();
                lines.push(format!(
                    "{to} <- {from} TCP {id} [unframeable stream discarded]"
                ));
            } else if messages.is_empty() {
                lines.push(format!(
                    "{to} <- {from} TCP {id} {} bytes (partial)",
                    data.len()
                ));
            }
        }
        for l in lines {
            self.note(&l);
        }
        for m in messages {
            self.log_delivery(from, to, Transport::Tcp, m);
        }
    }

    /// Runs everything due up to `limit`, then sets the clock to `limit`.
    ///
    /// # Errors
    /// The step bound.
    pub fn run_until(&mut self, limit: Duration) -> Result<(), String> {
        while self.step(limit)? {}
        self.now = self.now.max(limit);
        Ok(())
    }

    /// Runs until `host` (any host when `None`) has a message waiting, or `limit`.
    /// Returns whether a message is waiting; the clock stays at its arrival.
    ///
    /// # Errors
    /// The step bound.
    pub fn run_until_message(
        &mut self,
        host: Option<&str>,
        limit: Duration,
    ) -> Result<bool, String> {
        loop {
            if self.first_waiting(host).is_some() {
                return Ok(true);
            }
            if !self.step(limit)? {
                self.now = self.now.max(limit);
                return Ok(self.first_waiting(host).is_some());
            }
        }
    }

    /// The first host (in name order) with a message waiting, restricted to `host`.
    pub fn first_waiting(&self, host: Option<&str>) -> Option<String> {
        self.hosts
            .values()
            .find(|h| !h.inbox.is_empty() && host.is_none_or(|n| n == h.decl.name))
            .map(|h| h.decl.name.clone())
    }

    /// Takes the oldest message waiting at `host`.
    pub fn take(&mut self, host: &str) -> Option<Received> {
        self.hosts.get_mut(host)?.inbox.pop_front()
    }

    /// Every message still waiting, per host.
    pub fn waiting(&self) -> Vec<(String, Received)> {
        self.hosts
            .values()
            .flat_map(|h| h.inbox.iter().map(|r| (h.decl.name.clone(), r.clone())))
            .collect()
    }

    /// Runs until an event whose debug text satisfies `matches` is emitted (older
    /// unconsumed events count first), consuming it and every event before it.
    ///
    /// # Errors
    /// The step bound.
    pub fn run_until_event(
        &mut self,
        limit: Duration,
        matches: &dyn Fn(&str) -> bool,
    ) -> Result<Option<String>, String> {
        loop {
            while let Some((_, text)) = self.events.pop_front() {
                if matches(&text) {
                    return Ok(Some(text));
                }
            }
            if !self.step(limit)? {
                self.now = self.now.max(limit);
                return Ok(None);
            }
        }
    }

    /// How many steps have run.
    pub fn steps(&self) -> u64 {
        self.steps
    }
}

#[cfg(test)]
mod tests;
