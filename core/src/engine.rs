//! The engine: composition and drain order only (ARCHITECTURE.md §3, §4).
//!
//! [`Engine`] owns the transaction layer, the registrar, the proxy, the session
//! table and the connection table, feeds each input to the right one, and
//! drains their outputs in a fixed order: engine-level actions (connects,
//! closes, stateless error responses), transaction transmits, stateless proxy
//! transmits, then events, then the next deadline. All protocol decisions live
//! in those modules; this file only routes.

use crate::config::{Config, ConfigError};
use crate::connections::{Arrival, Connections, Route};
use crate::counters::Counters;
use crate::dialog::{Session, Sessions};
use crate::event::{DropReason, Event, LogLevel};
use crate::io::{Input, Output, Transmit};
use crate::proxy::{Ctx, Proxy};
use crate::registrar::{Binding, Extension, NewBinding, Registrar};
use crate::rng::Rng;
use crate::sip::error_response::{error_response, looks_like_request};
use crate::sip::via::check_via_list;
use crate::sip::{HeaderName, Limits, Message, Method, ParseError};
use crate::transaction::layer::server_key;
use crate::transaction::{Layer, RequestMatch, TimerConfig, TxEvent};
use crate::transport::{ConnId, Flow, Transport};
use bytes::Bytes;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// An operator command (from the CLI or the HTTP API).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Command {
    /// Add or replace an extension.
    UpsertExtension(Extension),
    /// Remove an extension (its bindings are cleared too).
    RemoveExtension(String),
    /// Clear the bindings of one user or AOR.
    ClearRegistration(String),
    /// Clear every binding.
    ClearAllRegistrations,
    /// Restore a binding saved before a restart ("Save Registrations"); no event
    /// is emitted, since the binding is already stored.
    RestoreBinding {
        /// The address-of-record (`user@domain`).
        aor: String,
        /// The binding, with its expiry mapped onto the engine's clock.
        binding: NewBinding,
    },
    /// Replace the whole routing configuration (destinations and routes). It is
    /// validated first; a bad one is refused with the reason and the current
    /// configuration keeps serving.
    ReplaceRouting(crate::routing::RoutingConfig),
    /// Health of a destination (from OPTIONS pings): a down one is skipped by
    /// routing until it is marked up again.
    DestinationHealth {
        /// The destination's name.
        name: String,
        /// Up (answering) or down.
        up: bool,
    },
    /// Upstream registration state of a destination that registers: an
    /// unregistered one is skipped by routing.
    DestinationRegistration {
        /// The destination's name.
        name: String,
        /// Registered or not.
        registered: bool,
    },
    /// End the call(s) with this Call-ID now (issue 4): an answered one with a
    /// BYE to both sides, a ringing one by CANCELling its branches (the
    /// caller gets 487). The session ends with [`crate::event::EndCause::Terminated`].
    TerminateSession {
        /// The Call-ID.
        call_id: String,
    },
}

/// The Sans-IO SIP engine.
#[derive(Debug)]
pub struct Engine {
    limits: Limits,
    now: Instant,
    rng: Rng,
    layer: Layer,
    registrar: Registrar,
    proxy: Proxy,
    sessions: Sessions,
    uac: crate::uac::Uac,
    conns: Connections,
    out: VecDeque<Output>,
    counters: Counters,
}

impl Engine {
    /// Builds an engine from a validated configuration; `start` is "now" at construction.
    pub fn new(cfg: Config, start: Instant) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let timers =
            TimerConfig::new(cfg.t1, cfg.t2, cfg.t4, Duration::from_millis(200)).map_err(|e| {
                ConfigError {
                    key: "t1",
                    reason: e.to_string(),
                }
            })?;
        let limits = Limits {
            max_message_size: cfg.max_message_size,
            ..Limits::default()
        };
        let mut rng = Rng::from_seed(cfg.rng_seed);
        // The transaction maps' hash key comes from a stream derived from the
        // seed, not from `rng`, so adding it did not shift the branches and
        // tags every recorded scenario expects.
        let mut key_seed = cfg.rng_seed;
        key_seed[0] ^= 0x5a;
        let tx_keys = Rng::from_seed(key_seed).hasher();
        let registrar = Registrar::new(&cfg, start, &mut rng);
        let proxy = Proxy::new(&cfg, &mut rng);
        Ok(Self {
            limits,
            now: start,
            layer: Layer::new(timers, &cfg.server_name, tx_keys),
            registrar,
            proxy,
            sessions: Sessions::new(),
            uac: crate::uac::Uac::new(&cfg),
            conns: Connections::new(limits),
            out: VecDeque::new(),
            counters: Counters::default(),
            rng,
        })
    }

    /// Feeds one input. Never fails: bad input becomes a response or a counted drop.
    pub fn handle_input(&mut self, input: Input) {
        let now = input.now().max(self.now);
        self.now = now;
        match input {
            Input::Datagram { flow, data, .. } => self.on_bytes(now, flow, data),
            Input::ConnectionOpened { flow, .. } => {
                for data in self.conns.opened(flow) {
                    self.out.push_back(Output::Transmit(Transmit {
                        transport: flow.transport,
                        local: Some(flow.local),
                        remote: flow.remote,
                        conn: flow.conn,
                        data,
                    }));
                }
            }
            Input::StreamData { conn, data, .. } => {
                let Some(flow) = self.conns.flow(conn) else {
                    return;
                };
                for a in self.conns.data(conn, &data) {
                    match a {
                        Arrival::Message(m) => self.on_bytes(now, flow, m),
                        Arrival::Ping => self.out.push_back(Output::Transmit(Transmit {
                            transport: flow.transport,
                            local: Some(flow.local),
                            remote: flow.remote,
                            conn: Some(conn),
                            data: Bytes::from_static(b"\r\n"),
                        })),
                        Arrival::Broken(e) => {
                            self.drop_msg(flow, DropReason::BadStream(e.to_string()));
                            self.conns.closed(conn);
                            self.out.push_back(Output::Close(conn));
                            self.connection_gone(now, conn, Some((flow.transport, flow.remote)));
                        }
                    }
                }
            }
            Input::ConnectionClosed { conn, .. } => {
                let gone = self.conns.closed(conn);
                self.connection_gone(now, conn, gone);
            }
            Input::SendFailed {
                transport, remote, ..
            } => self.layer.send_failed(now, transport, remote),
            Input::Resolved { id, result, .. } => {
                let (mut ctx, proxy) = self.ctx(now);
                proxy.on_dns_answer(&mut ctx, id, result);
            }
            Input::Timeout(_) => {
                self.layer.handle_timeout(now);
                self.registrar.handle_timeout(now);
                self.pump_tx_events(now);
                let (mut ctx, proxy) = self.ctx(now);
                proxy.handle_timeout(&mut ctx);
                let (mut u, uac) = self.uac_ctx(now);
                uac.handle_timeout(&mut u);
            }
        }
        self.pump_tx_events(now);
        // Requests whose DNS lookups finished resume (RFC 3263, ENUM).
        loop {
            let (mut ctx, proxy) = self.ctx(now);
            if !proxy.pump_dns(&mut ctx) {
                break;
            }
            self.pump_tx_events(now);
        }
    }

    fn connection_gone(
        &mut self,
        now: Instant,
        conn: ConnId,
        addr: Option<(crate::Transport, std::net::SocketAddr)>,
    ) {
        self.layer.connection_closed(now, conn, addr);
        self.registrar.connection_closed(conn);
    }

    /// Runs an operator command.
    pub fn handle_command(&mut self, now: Instant, cmd: Command) -> Result<(), String> {
        self.now = now.max(self.now);
        match cmd {
            Command::UpsertExtension(e) => self
                .registrar
                .directory
                .upsert(e)
                .map_err(|e| e.to_string()),
            Command::RemoveExtension(u) => {
                self.registrar
                    .directory
                    .remove(&u)
                    .ok_or_else(|| format!("no extension {u:?}"))?;
                self.registrar.clear(&u);
                Ok(())
            }
            Command::ClearRegistration(aor) => {
                self.registrar.clear(&aor);
                Ok(())
            }
            Command::ClearAllRegistrations => {
                self.registrar.clear_all();
                Ok(())
            }
            Command::ReplaceRouting(cfg) => {
                self.proxy.replace_routing(cfg).map_err(|e| e.to_string())?;
                // Registrations and pings follow the destinations (issue 4).
                let (mut u, uac) = self.uac_ctx(self.now);
                uac.sync(&mut u);
                Ok(())
            }
            Command::DestinationHealth { name, up } => {
                let s = self
                    .proxy
                    .routing_mut()
                    .state_mut(&name)
                    .ok_or_else(|| format!("no destination {name:?}"))?;
                s.up = up;
                Ok(())
            }
            Command::DestinationRegistration { name, registered } => {
                let s = self
                    .proxy
                    .routing_mut()
                    .state_mut(&name)
                    .ok_or_else(|| format!("no destination {name:?}"))?;
                s.registered = registered;
                Ok(())
            }
            Command::TerminateSession { call_id } => {
                let now = self.now;
                let (mut ctx, proxy) = self.ctx(now);
                if proxy.terminate_session(&mut ctx, &call_id) == 0 {
                    return Err(format!("no active session with Call-ID {call_id:?}"));
                }
                self.pump_tx_events(now);
                Ok(())
            }
            Command::RestoreBinding { aor, binding } => {
                if binding.expires_at <= self.now {
                    return Err(format!("binding {} of {aor} has expired", binding.contact));
                }
                self.registrar.bindings.upsert(&aor, binding);
                Ok(())
            }
        }
    }

    fn drop_msg(&mut self, flow: Flow, reason: DropReason) {
        self.counters.dropped += 1;
        self.out
            .push_back(Output::Event(Event::Dropped { flow, reason }));
    }

    fn on_bytes(&mut self, now: Instant, flow: Flow, data: Bytes) {
        if data.iter().all(|b| b.is_ascii_whitespace()) {
            return; // keep-alive (RFC 5626 §3.5.1 / NAT pings): nothing to do
        }
        match Message::parse(data.clone(), &self.limits) {
            Ok(msg) if msg.is_request() => self.on_request(now, msg, flow),
            Ok(msg) => self.on_response(now, msg, flow),
            Err(e) if looks_like_request(&data) => self.reject_malformed(flow, &data, &e),
            Err(e) => self.drop_msg(flow, DropReason::Unparseable(e.to_string())),
        }
    }

    /// Answers a malformed request statelessly with the status its error maps
    /// to (RFC 3261 §8.2, §16.3 step 1), or drops it if there is nowhere to answer.
    fn reject_malformed(&mut self, flow: Flow, data: &[u8], e: &ParseError) {
        let start = data
            .iter()
            .take_while(|b| matches!(b, b'\r' | b'\n'))
            .count();
        if data.get(start..).is_some_and(|d| d.starts_with(b"ACK ")) {
            // An ACK is never answered (RFC 3261 §17.1.1.3, §17.2.1): drop it.
            return self.drop_msg(flow, DropReason::Unparseable(e.to_string()));
        }
        self.counters.malformed_requests += 1;
        self.out.push_back(Output::Event(Event::Log {
            level: LogLevel::Warn,
            message: format!(
                "malformed request from {flow}: {e} (answered {})",
                e.status()
            ),
        }));
        let tag = self.rng.tag();
        match error_response(data, e.status(), &e.reason(), &tag) {
            Some(resp) => {
                self.counters.responses_sent += 1;
                self.out
                    .push_back(Output::Transmit(crate::transaction::layer::flow_transmit(
                        &flow, resp,
                    )));
            }
            None => self.drop_msg(flow, DropReason::Unparseable(e.to_string())),
        }
    }

    fn ctx(&mut self, now: Instant) -> (Ctx<'_>, &mut Proxy) {
        (
            Ctx {
                now,
                layer: &mut self.layer,
                registrar: &mut self.registrar,
                sessions: &mut self.sessions,
                rng: &mut self.rng,
            },
            &mut self.proxy,
        )
    }

    fn uac_ctx(&mut self, now: Instant) -> (crate::uac::UacCtx<'_>, &mut crate::uac::Uac) {
        (
            crate::uac::UacCtx {
                now,
                layer: &mut self.layer,
                rng: &mut self.rng,
                table: self.proxy.routing_mut(),
            },
            &mut self.uac,
        )
    }

    fn on_request(&mut self, now: Instant, msg: Message, flow: Flow) {
        self.counters.requests_received += 1;
        // Responses travel back along the Via list, so every Via value must be
        // well formed before a transaction is made for the request (RFC 3261
        // §16.3 step 1; RFC 4475 §3.1.2.1 `badinv01`: empty Via elements → 400).
        if msg
            .header_values(HeaderName::Via)
            .any(|v| check_via_list(v).is_err())
        {
            return self.reject_malformed(flow, msg.raw(), &ParseError::BadHeader("Via"));
        }
        let key = server_key(&msg, &flow);
        match self.layer.receive_request_keyed(now, &msg, key.as_ref()) {
            RequestMatch::Retransmission | RequestMatch::AckAbsorbed => {}
            RequestMatch::AckUnmatched => {
                let (mut ctx, proxy) = self.ctx(now);
                proxy.forward_ack(&mut ctx, &msg, &flow);
            }
            RequestMatch::Cancel(target) => {
                let tx = self.layer.create_server_keyed(now, msg, flow, key);
                let (mut ctx, proxy) = self.ctx(now);
                match target {
                    Some(invite) => {
                        proxy.reply(&mut ctx, tx, 200, "OK", &[]);
                        proxy.on_cancel(&mut ctx, invite);
                    }
                    None => proxy.reply(&mut ctx, tx, 481, "Call/Transaction Does Not Exist", &[]),
                }
            }
            RequestMatch::New => {
                let merged =
                    msg.method() != Some(&Method::Ack) && self.layer.merged_with(&msg).is_some();
                let tx = self.layer.create_server_keyed(now, msg, flow, key);
                let (mut ctx, proxy) = self.ctx(now);
                // §8.2.2.2 applies where we act as a UAS; the proxy decides that.
                proxy.on_request(&mut ctx, tx, merged);
            }
        }
    }

    fn on_response(&mut self, now: Instant, msg: Message, flow: Flow) {
        self.counters.responses_received += 1;
        if self
            .layer
            .receive_response(now, msg.clone(), flow)
            .is_none()
            && !self.proxy.forward_stray_response(&msg)
        {
            // The proxy already counted this drop; only report it.
            self.out.push_back(Output::Event(Event::Dropped {
                flow,
                reason: DropReason::StrayResponse,
            }));
        }
    }

    fn pump_tx_events(&mut self, now: Instant) {
        while let Some(ev) = self.layer.poll_event() {
            if let TxEvent::Timeout { .. } = ev {
                self.counters.transaction_timeouts += 1;
            }
            let (mut u, uac) = self.uac_ctx(now);
            if uac.on_tx_event(&mut u, &ev) {
                continue;
            }
            let (mut ctx, proxy) = self.ctx(now);
            let _ours = proxy.on_tx_event(&mut ctx, ev);
        }
    }

    /// The next output. Call until it returns [`Output::Timeout`].
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        while let Some(t) = self
            .layer
            .poll_transmit()
            .or_else(|| self.proxy.poll_transmit())
        {
            if let Some(o) = self.route_transmit(t) {
                return o;
            }
        }
        if let Some((id, query)) = self.proxy.poll_dns_query() {
            return Output::Resolve { id, query };
        }
        if let Some(e) = self
            .registrar
            .poll_event()
            .or_else(|| self.sessions.poll_event())
            .or_else(|| self.proxy.poll_event())
            .or_else(|| self.uac.poll_event())
        {
            return Output::Event(e);
        }
        Output::Timeout(
            self.poll_timeout()
                .unwrap_or(self.now + Duration::from_secs(3600)),
        )
    }

    /// Sends datagrams as they are; stream data goes through the connection table.
    fn route_transmit(&mut self, t: Transmit) -> Option<Output> {
        if !t.transport.is_reliable() {
            return Some(Output::Transmit(t));
        }
        match self.conns.route(t.transport, t.remote, t.conn, t.data) {
            Route::Send(conn, data) => Some(Output::Transmit(Transmit {
                conn: Some(conn),
                data,
                ..t
            })),
            Route::Connect(conn) => Some(Output::Connect {
                conn,
                transport: t.transport,
                remote: t.remote,
                tls: if t.transport == Transport::Tls {
                    self.proxy.tls_peer_for(self.now, t.remote)
                } else {
                    None
                },
            }),
            Route::Queued => None,
            Route::Dropped => {
                self.counters.dropped += 1;
                None
            }
        }
    }

    /// The earliest deadline of any part of the engine.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.layer.poll_timeout(),
            self.registrar.poll_timeout(),
            self.proxy.poll_timeout(),
            self.uac.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|t| t.max(self.now))
    }

    /// The routing configuration in force (the last one accepted by
    /// [`Command::ReplaceRouting`]; empty at start).
    pub fn routing(&self) -> &crate::routing::RoutingConfig {
        self.proxy.routing().config()
    }

    /// The routing table in force, with each destination's runtime state
    /// (calls in progress, up/down, registered).
    pub fn routing_table(&self) -> &crate::routing::RoutingTable {
        self.proxy.routing()
    }

    /// Every upstream registration (destinations with register = yes): its
    /// state, last status and expiry (issue 4).
    pub fn upstream_registrations(&self) -> Vec<crate::uac::UpstreamRegistration> {
        self.uac.registrations()
    }

    /// Graceful shutdown of the UA side: every registered upstream account
    /// is un-REGISTERed (Expires: 0) and pings stop. Drain
    /// [`Engine::poll_output`] afterwards and keep feeding inputs for a
    /// moment so the un-REGISTERs (and their challenges) complete.
    pub fn shutdown(&mut self, now: Instant) {
        self.now = now.max(self.now);
        let now = self.now;
        let (mut u, uac) = self.uac_ctx(now);
        uac.shutdown(&mut u);
        self.pump_tx_events(now);
    }

    /// A snapshot of the counters.
    pub fn counters(&self) -> Counters {
        let p = self.proxy.stats;
        Counters {
            active_registrations: self.registrar.bindings.len() as u64,
            active_sessions: self.sessions.len() as u64,
            requests_forwarded: p.requests_forwarded,
            responses_forwarded: p.responses_forwarded,
            responses_sent: self.counters.responses_sent + p.responses_sent,
            successful_calls: p.successful_calls,
            failed_calls: p.failed_calls,
            registrations_accepted: self.registrar.accepted,
            auth_failures: self.registrar.auth_failures + p.auth_failures,
            dropped: self.counters.dropped + p.dropped,
            udp_fallbacks: p.udp_fallbacks,
            connections: self.conns.counters(),
            ..self.counters.clone()
        }
    }

    /// Every binding, by AOR.
    pub fn registrations(&self) -> impl Iterator<Item = (&str, &Binding)> {
        self.registrar
            .bindings
            .iter()
            .flat_map(|(aor, list)| list.iter().map(move |b| (aor, b)))
    }

    /// The bindings of one address-of-record (`user@domain`).
    pub fn bindings_of(&self, aor: &str) -> &[Binding] {
        self.registrar.bindings.lookup(aor)
    }

    /// The SIP domain (also the digest realm).
    pub fn domain(&self) -> &str {
        self.registrar.identity.domain()
    }

    /// Active sessions.
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.sessions.iter()
    }

    /// Provisioned extensions.
    pub fn extensions(&self) -> impl Iterator<Item = &Extension> {
        self.registrar.directory.iter()
    }

    /// Live transactions (server, client), for diagnostics and tests.
    pub fn transaction_counts(&self) -> (usize, usize) {
        (self.layer.server_count(), self.layer.client_count())
    }

    /// Transactions still waiting for a final response (see [`Layer::in_flight`]).
    pub fn in_flight_transactions(&self) -> usize {
        self.layer.in_flight()
    }

    /// Live B2BUA calls (calls to UA-type destinations), for diagnostics and tests.
    pub fn b2bua_calls(&self) -> usize {
        self.proxy.b2bua_call_count()
    }

    /// Open stream connections known to the engine.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }
}

#[cfg(test)]
#[path = "engine_ws_tests.rs"]
mod ws_tests;
