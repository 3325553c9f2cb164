//! The task that owns the engine (ARCHITECTURE.md §6): one owner, fed through a
//! bounded channel, drained after every input until the engine names its next
//! deadline.
//!
//! It runs on a thread of its own with a current-thread runtime
//! ([`spawn_engine_thread`]): the engine is single-threaded by design, and on a
//! work-stealing runtime every datagram woke a second worker for nothing
//! (futex calls and context switches; ~10 % of the CPU per call in the sipp
//! benchmark). Stream connections (TCP, TLS, WS, WSS: their acceptors, one
//! task per connection, TLS handshakes and outbound connects) run on this
//! thread's runtime too, so a message read from a connection reaches the
//! engine, and its answer the connection's task, without waking another thread: that halved the CPU per
//! REGISTER over TLS at low rates (BENCHMARKS §7). The price: TLS handshakes
//! share this core with the engine (≈ 0.5 ms each). The database watchers,
//! signals and DNS lookups stay on the main runtime, whose
//! [`tokio::runtime::Handle`] the loop uses to spawn lookups.
//!
//! The engine task reads the UDP sockets itself, in batches ([`crate::udp`]:
//! `recvmmsg`/`sendmmsg`); stream connections and commands arrive through the
//! channel. Outputs are carried out here: datagrams are queued per socket and
//! sent together once the inputs at hand are handled (UDP never blocks the
//! engine; a full socket buffer drops and counts the datagram, as the network
//! would), stream writes go to the connection's bounded queue, connects are
//! spawned, events are logged and forwarded to the storage worker.
//!
//! Timers are never starved: each turn of the loop first fires a deadline that
//! has passed, however busy the sockets are.
//!
//! Durability before acknowledgement: when handling one input queued a
//! binding write (the engine accepted or removed a registration, RFC 3261
//! §10.3), the bytes that input produced — the 200 among them — are *held*
//! and a storage barrier is queued behind the write; they are sent when the
//! storage worker reports the commit. Everything produced later waits behind
//! them, so the order on the wire is kept. The engine task never waits for the
//! disk, and a SIGKILL right after a 200 loses no binding it acknowledged.

use crate::events::EventSink;
use crate::net::{self, ConnHandle, ConnTable};
use crate::storage_worker::StorageTx;
use crate::udp::{self, RecvBuffers, UdpPort};
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchboard_core::{Command, ConnId, Engine, Flow, Input, Output, Transmit, Transport};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// Everything that reaches the engine task.
pub enum ToEngine {
    /// An input for the engine.
    Input(Input),
    /// A stream connection opened; its writer and closer.
    Opened {
        /// The connection's flow.
        flow: switchboard_core::Flow,
        /// Its handle.
        handle: ConnHandle,
    },
    /// An operator command, with a place for the answer.
    Command(Command, Option<oneshot::Sender<Result<(), String>>>),
    /// Log the engine's counters (SIGUSR1): one `stats:` line.
    LogStats,
}

impl std::fmt::Debug for ToEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Input(i) => write!(f, "Input({i:?})"),
            Self::Opened { flow, .. } => write!(f, "Opened({flow})"),
            Self::Command(c, _) => write!(f, "Command({c:?})"),
            Self::LogStats => f.write_str("LogStats"),
        }
    }
}

/// The engine task's state.
pub struct EngineLoop {
    engine: Engine,
    rx: mpsc::Receiver<ToEngine>,
    tx: mpsc::Sender<ToEngine>,
    udp: Vec<UdpPort>,
    recv_bufs: RecvBuffers,
    /// Where the next readiness poll starts (round robin across UDP sockets).
    next_port: usize,
    conns: BTreeMap<ConnId, ConnHandle>,
    /// Something was queued for a stream writer since the loop last yielded.
    streams_written: bool,
    table: Arc<ConnTable>,
    idle: Duration,
    sink: EventSink,
    udp_dropped: u64,
    storage: Option<StorageTx>,
    /// Outputs held until the storage barrier with that id is committed, oldest first.
    held: VecDeque<(u64, Vec<Held>)>,
    next_barrier: u64,
    barrier_tx: mpsc::UnboundedSender<u64>,
    barrier_rx: mpsc::UnboundedReceiver<u64>,
    /// The runtime that runs connection tasks (not the engine's own thread).
    io: tokio::runtime::Handle,
    /// Answers the engine's DNS questions (`None`: every lookup fails).
    dns: Option<Arc<hickory_resolver::TokioResolver>>,
    /// TLS configuration (`None`: TLS disabled).
    tls: Option<crate::tls::TlsContext>,
    /// The host name each address was last resolved from (the name an
    /// outbound TLS connection to that address verifies); bounded.
    tls_names: Arc<std::sync::Mutex<BTreeMap<std::net::IpAddr, String>>>,
}

/// Most addresses remembered in `tls_names` (cleared when full).
const TLS_NAMES_MAX: usize = 4096;

/// An output waiting for a storage barrier.
enum Held {
    Transmit(Transmit),
    Close(ConnId),
}

impl std::fmt::Debug for EngineLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineLoop")
            .field("conns", &self.conns.len())
            .finish()
    }
}

impl EngineLoop {
    /// Builds the loop around `engine`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        engine: Engine,
        rx: mpsc::Receiver<ToEngine>,
        tx: mpsc::Sender<ToEngine>,
        udp: Vec<UdpPort>,
        table: Arc<ConnTable>,
        idle: Duration,
        storage: Option<StorageTx>,
        save_registrations: bool,
        io: tokio::runtime::Handle,
    ) -> Self {
        let (barrier_tx, barrier_rx) = mpsc::unbounded_channel();
        Self {
            engine,
            rx,
            tx,
            udp,
            recv_bufs: RecvBuffers::default(),
            next_port: 0,
            conns: BTreeMap::new(),
            streams_written: false,
            table,
            idle,
            sink: EventSink::new(storage.clone(), save_registrations),
            udp_dropped: 0,
            storage,
            held: VecDeque::new(),
            next_barrier: 0,
            barrier_tx,
            barrier_rx,
            io,
            dns: None,
            tls: None,
            tls_names: Arc::default(),
        }
    }

    /// Enables TLS connections (outbound ones in particular).
    pub fn with_tls(mut self, tls: Option<crate::tls::TlsContext>) -> Self {
        self.tls = tls;
        self
    }

    /// Sets the resolver that answers the engine's DNS questions.
    pub fn with_dns(mut self, dns: Option<Arc<hickory_resolver::TokioResolver>>) -> Self {
        self.dns = dns;
        self
    }

    /// Runs until `shutdown` turns true, then lets in-flight transactions finish
    /// for at most `grace` (still reading UDP, so their responses and ACKs
    /// arrive), and returns the engine (for a final flush).
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>, grace: Duration) -> Engine {
        let mut deadline = self.settle();
        loop {
            deadline = self.fire_due(deadline);
            tokio::select! {
                biased;
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                // Before new input: under load the input channel is always
                // ready, and held answers must not wait for it to run dry.
                Some(id) = self.barrier_rx.recv() => {
                    self.release(id);
                    deadline = self.settle();
                }
                msg = self.rx.recv() => {
                    let Some(msg) = msg else { break };
                    self.handle_queued(msg);
                    deadline = self.settle();
                    self.let_writers_run().await;
                }
                i = std::future::poll_fn(|cx| udp::poll_readable(&self.udp, self.next_port, cx)) => {
                    self.next_port = i + 1;
                    self.read_udp(i);
                    deadline = self.settle();
                    self.let_writers_run().await;
                }
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
        // Un-REGISTER from upstream providers (issue 4); the requests are in
        // flight below, so their answers (and challenges) are served too.
        self.engine.shutdown(Instant::now().into_std());
        deadline = self.settle();
        // Graceful end: keep serving in-flight transactions for a bounded time.
        let end = Instant::now() + grace;
        while self.engine.in_flight_transactions() > 0 && Instant::now() < end {
            deadline = self.fire_due(deadline);
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Some(m) => { self.handle_queued(m); deadline = self.settle(); }
                    None => break,
                },
                Some(id) = self.barrier_rx.recv() => {
                    self.release(id);
                    deadline = self.settle();
                }
                i = std::future::poll_fn(|cx| udp::poll_readable(&self.udp, self.next_port, cx)) => {
                    self.next_port = i + 1;
                    self.read_udp(i);
                    deadline = self.settle();
                }
                () = tokio::time::sleep_until(deadline.min(end)) => {}
            }
        }
        // What is still held goes out once its writes are committed (bounded).
        let flush_end = Instant::now() + grace;
        while !self.held.is_empty() {
            match tokio::time::timeout_at(flush_end, self.barrier_rx.recv()).await {
                Ok(Some(id)) => self.release(id),
                _ => {
                    tracing::warn!("storage did not confirm saved registrations in time");
                    self.release(u64::MAX);
                }
            }
        }
        self.flush_udp();
        self.close_streams().await;
        self.engine
    }

    /// Closes every stream connection and keeps this thread's runtime (which
    /// drives their tasks) running until each has written what was queued
    /// for it — the answers just released above — and shut its stream down,
    /// bounded by [`crate::stream::CLOSE_WAIT`]. A task holds its closer
    /// until it ends, so the closers' counts say which are still running.
    async fn close_streams(&mut self) {
        let closers: Vec<Arc<tokio::sync::Notify>> = self
            .conns
            .values()
            .map(|c| {
                c.close();
                c.closer.clone()
            })
            .collect();
        self.conns.clear(); // the write queues end: each task flushes and stops
        let end = Instant::now() + crate::stream::CLOSE_WAIT + Duration::from_millis(200);
        while closers.iter().any(|c| Arc::strong_count(c) > 1) && Instant::now() < end {
            // Tasks report their close through the channel: keep it moving.
            if let Ok(None) = tokio::time::timeout(Duration::from_millis(10), self.rx.recv()).await
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }

    /// Fires the engine's timers if `deadline` has passed; the next deadline.
    fn fire_due(&mut self, deadline: Instant) -> Instant {
        let now = Instant::now();
        if now < deadline {
            return deadline;
        }
        self.engine.handle_input(Input::Timeout(now.into_std()));
        self.settle()
    }

    /// Stream connections' tasks share this thread: when this turn queued
    /// bytes for them, yield so they write (each its whole queue at once,
    /// [`crate::stream`]) before the next batch (a
    /// busy connection's queue would otherwise only grow). A UDP-only turn
    /// does not yield: that would poll the reactor once more per batch.
    async fn let_writers_run(&mut self) {
        if std::mem::take(&mut self.streams_written) {
            tokio::task::yield_now().await;
        }
    }

    /// Handles `msg` and what else is already queued on the channel (bounded,
    /// so sockets and timers get their turn), draining after each.
    fn handle_queued(&mut self, msg: ToEngine) {
        self.handle(msg);
        for _ in 0..64 {
            match self.rx.try_recv() {
                Ok(m) => {
                    // The contract: drain after every input.
                    self.drain();
                    self.handle(m);
                }
                Err(_) => break,
            }
        }
    }

    /// Reads what is queued on UDP port `i` (a few batches at most, so other
    /// sockets, the channel and timers get their turn), handing each datagram
    /// to the engine and draining after each.
    fn read_udp(&mut self, i: usize) {
        const BATCHES_PER_TURN: usize = 4;
        let Some(port) = self.udp.get(i) else { return };
        let (local, now) = (port.local, Instant::now().into_std());
        let mut inputs = Vec::with_capacity(udp::BATCH);
        for _ in 0..BATCHES_PER_TURN {
            let Some(port) = self.udp.get(i) else { return };
            let got = udp::recv_batch(port, &mut self.recv_bufs, |remote, data| {
                inputs.push(Input::Datagram {
                    now,
                    flow: Flow {
                        transport: Transport::Udp,
                        local,
                        remote,
                        conn: None,
                    },
                    data: Bytes::copy_from_slice(data),
                });
            });
            for input in inputs.drain(..) {
                // The contract: drain after every input.
                self.engine.handle_input(input);
                self.drain();
            }
            if self.udp.iter().any(|p| p.queued() >= udp::BATCH) {
                self.settle();
            }
            match got {
                Ok(n) if n == udp::BATCH => continue,
                Ok(_) => return,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // ICMP errors surface here on Linux (e.g. port unreachable); keep reading.
                    tracing::debug!("UDP {local}: receive error: {e}");
                    return;
                }
            }
        }
    }

    /// Drains the engine and sends the datagrams that produced, until sending
    /// feeds the engine nothing more; returns the next deadline.
    fn settle(&mut self) -> Instant {
        loop {
            let deadline = self.drain();
            if !self.flush_udp() {
                return deadline;
            }
        }
    }

    /// Sends every queued datagram; `true` if a refused one was reported to
    /// the engine (drain again).
    fn flush_udp(&mut self) -> bool {
        let mut failed = Vec::new();
        for port in &mut self.udp {
            if port.queued() == 0 {
                continue;
            }
            let dropped = port.flush(|remote, e| {
                tracing::debug!("UDP send to {remote} failed: {e}");
                failed.push(remote);
            });
            if dropped > 0 {
                self.udp_dropped += dropped;
                tracing::debug!(
                    "UDP {}: socket buffer full, {dropped} datagrams dropped",
                    port.local
                );
            }
        }
        let now = Instant::now().into_std();
        for remote in &failed {
            self.engine.handle_input(Input::SendFailed {
                now,
                transport: Transport::Udp,
                remote: *remote,
            });
        }
        !failed.is_empty()
    }

    fn handle(&mut self, msg: ToEngine) {
        match msg {
            ToEngine::Input(i) => {
                if let Input::ConnectionClosed { conn, .. } = &i {
                    // The connection ended: drop its write queue so its task
                    // writes what is left and closes the socket (no CLOSE-WAIT
                    // sockets left behind by peers that hung up).
                    self.conns.remove(conn);
                }
                self.engine.handle_input(i);
            }
            ToEngine::LogStats => tracing::info!("{}", stats_line(&self.engine, self.conns.len())),
            ToEngine::Opened { flow, handle } => {
                if let Some(c) = flow.conn {
                    self.conns.insert(c, handle);
                }
                self.engine.handle_input(Input::ConnectionOpened {
                    now: Instant::now().into_std(),
                    flow,
                });
            }
            ToEngine::Command(cmd, reply) => {
                let r = self.engine.handle_command(Instant::now().into_std(), cmd);
                if let Err(e) = &r {
                    tracing::warn!("command failed: {e}");
                }
                if let Some(reply) = reply {
                    let _ = reply.send(r);
                }
            }
        }
    }

    /// Carries out every pending output; returns the next deadline.
    ///
    /// Transmits and closes are collected first; if the input that produced
    /// them queued a binding write, they are held behind a storage barrier
    /// (see the module docs), as is everything while older outputs are held.
    fn drain(&mut self) -> Instant {
        loop {
            let mut out = Vec::new();
            let deadline = loop {
                match self.engine.poll_output() {
                    Output::Transmit(t) => out.push(Held::Transmit(t)),
                    Output::Connect {
                        conn,
                        transport,
                        remote,
                        tls,
                    } => self.connect(conn, transport, remote, tls),
                    Output::Close(conn) => out.push(Held::Close(conn)),
                    Output::Event(e) => self.sink.event(&self.engine, e),
                    Output::Resolve { id, query } => self.resolve(id, query),
                    Output::Timeout(at) => break Instant::from_std(at),
                    _ => {}
                }
            };
            let durable = self.sink.take_durable();
            if out.is_empty() {
                return deadline;
            }
            if durable && let Some(id) = self.barrier() {
                self.held.push_back((id, out));
                return deadline;
            }
            if let Some((_, last)) = self.held.back_mut() {
                last.extend(out);
                return deadline;
            }
            if !self.carry_out(out) {
                return deadline;
            }
            // Carrying them out fed the engine an input (a failed send): drain again.
        }
    }

    /// Queues a storage barrier; `None` (nothing held) without storage or
    /// when its queue is full — then everything held goes out now, since the
    /// writes behind it may never be confirmed.
    fn barrier(&mut self) -> Option<u64> {
        let storage = self.storage.as_ref()?;
        self.next_barrier += 1;
        let id = self.next_barrier;
        if storage.barrier(id, &self.barrier_tx) {
            Some(id)
        } else {
            tracing::error!("storage queue full: answering before saved registrations are on disk");
            self.release(u64::MAX);
            None
        }
    }

    /// Sends what was held behind barriers up to `id` (committed).
    fn release(&mut self, id: u64) {
        while self.held.front().is_some_and(|(b, _)| *b <= id) {
            if let Some((_, out)) = self.held.pop_front() {
                self.carry_out(out);
            }
        }
    }

    /// Sends and closes; `true` if that fed the engine an input (drain next).
    fn carry_out(&mut self, out: Vec<Held>) -> bool {
        let mut fed = false;
        for h in out {
            match h {
                Held::Transmit(t) => fed |= self.transmit(t),
                Held::Close(conn) => {
                    if let Some(c) = self.conns.remove(&conn) {
                        c.close();
                    }
                }
            }
        }
        fed
    }

    /// Sends `t`; `true` if that fed the engine an input (a failed send).
    fn transmit(&mut self, t: Transmit) -> bool {
        match t.transport {
            Transport::Udp => {
                let Some(port) = self.udp_port(t.local, t.remote) else {
                    tracing::debug!(
                        "no UDP socket for {} -> {}",
                        t.local.map(|a| a.to_string()).unwrap_or_default(),
                        t.remote
                    );
                    return false;
                };
                port.queue(t.remote, t.data);
                false
            }
            _ => {
                let Some(conn) = t.conn else { return false };
                let Some(h) = self.conns.get(&conn) else {
                    let now = Instant::now().into_std();
                    self.engine
                        .handle_input(Input::ConnectionClosed { now, conn });
                    return true;
                };
                self.streams_written = true;
                if h.writer.try_send(t.data).is_err() {
                    tracing::warn!("{conn}: write queue full or closed; closing the connection");
                    if let Some(h) = self.conns.remove(&conn) {
                        h.close();
                    }
                }
                false
            }
        }
    }

    /// The port to send from: the one bound to `local`, else one of the same address family.
    fn udp_port(&mut self, local: Option<SocketAddr>, remote: SocketAddr) -> Option<&mut UdpPort> {
        let i = self
            .udp
            .iter()
            .position(|p| Some(p.local) == local)
            .or_else(|| {
                self.udp
                    .iter()
                    .position(|p| p.local.is_ipv4() == remote.is_ipv4())
            })?;
        self.udp.get_mut(i)
    }

    /// Looks `query` up on the main runtime; the answer comes back through the channel.
    fn resolve(&mut self, id: u64, query: switchboard_core::dns::DnsQuery) {
        let Some(dns) = self.dns.clone() else {
            self.engine.handle_input(Input::Resolved {
                now: Instant::now().into_std(),
                id,
                result: Err(switchboard_core::dns::DnsError::Failed(
                    "no DNS resolver".into(),
                )),
            });
            return;
        };
        let tx = self.tx.clone();
        let names = self.tls.is_some().then(|| self.tls_names.clone());
        self.io.spawn(async move {
            let result = crate::dns::lookup(&dns, &query).await;
            tracing::debug!("dns {query:?}: {result:?}");
            if let (Some(names), switchboard_core::dns::DnsQuery::Addr(name)) = (names, &query)
                && let Ok(switchboard_core::dns::DnsAnswer {
                    records: switchboard_core::dns::DnsRecords::Addr(ips),
                    ..
                }) = &result
                && let Ok(mut map) = names.lock()
            {
                if map.len() + ips.len() > TLS_NAMES_MAX {
                    map.clear();
                }
                for ip in ips {
                    map.insert(*ip, name.clone());
                }
            }
            let _ = tx
                .send(ToEngine::Input(Input::Resolved {
                    now: Instant::now().into_std(),
                    id,
                    result,
                }))
                .await;
        });
    }

    fn connect(
        &mut self,
        conn: ConnId,
        transport: Transport,
        remote: SocketAddr,
        peer: Option<switchboard_core::TlsPeer>,
    ) {
        match transport {
            Transport::Tcp => {
                tokio::spawn(net::tcp_connect(
                    conn,
                    remote,
                    self.tx.clone(),
                    self.table.clone(),
                    self.idle,
                ));
            }
            Transport::Tls if self.tls.is_some() => {
                let name = self
                    .tls_names
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&remote.ip()).cloned());
                if let Some(ctx) = self.tls.clone() {
                    tokio::spawn(crate::tls::tls_connect(
                        conn,
                        remote,
                        name,
                        peer,
                        ctx,
                        self.tx.clone(),
                        self.table.clone(),
                        self.idle,
                    ));
                }
            }
            other => {
                tracing::warn!(
                    "cannot open a {other} connection to {remote}: transport not enabled"
                );
                self.engine.handle_input(Input::ConnectionClosed {
                    now: Instant::now().into_std(),
                    conn,
                });
            }
        }
    }
}

/// The `stats:` line: registrations, sessions, and per stream transport the
/// open connections and the bytes the engine holds for them; `handles` is the
/// connection handles the loop keeps (equal to the open connections when
/// nothing leaks).
pub fn stats_line(engine: &Engine, handles: usize) -> String {
    let c = engine.counters();
    let mut line = format!(
        "stats: registrations={} sessions={} handles={handles}",
        c.active_registrations, c.active_sessions
    );
    for t in [
        Transport::Tcp,
        Transport::Tls,
        Transport::Ws,
        Transport::Wss,
    ] {
        if let Some(n) = c.connections.get(t) {
            let name = t.param();
            line.push_str(&format!(
                " {name}_connections={} {name}_buffered_bytes={}",
                n.open, n.buffered_bytes
            ));
        }
    }
    line
}

/// Sends a command to the engine task and waits for its answer.
pub async fn command(tx: &mpsc::Sender<ToEngine>, cmd: Command) -> Result<(), String> {
    let (rtx, rrx) = oneshot::channel();
    tx.send(ToEngine::Command(cmd, Some(rtx)))
        .await
        .map_err(|_| "engine stopped".to_owned())?;
    rrx.await.map_err(|_| "engine stopped".to_owned())?
}

/// What the engine thread needs besides its UDP sockets.
pub struct EngineParts {
    /// The engine, loaded.
    pub engine: Engine,
    /// Its input channel.
    pub rx: mpsc::Receiver<ToEngine>,
    /// A sender on that channel (for connection tasks it spawns).
    pub tx: mpsc::Sender<ToEngine>,
    /// Stream connection accounting.
    pub table: Arc<ConnTable>,
    /// Idle timeout of stream connections.
    pub idle: Duration,
    /// The storage worker.
    pub storage: Option<StorageTx>,
    /// "Save Registrations".
    pub save_registrations: bool,
    /// Turns true to stop.
    pub shutdown: watch::Receiver<bool>,
    /// How long in-flight transactions may finish after the stop.
    pub grace: Duration,
    /// The DNS resolver (RFC 3263, ENUM); `None`: lookups fail.
    pub dns: Option<Arc<hickory_resolver::TokioResolver>>,
    /// TLS (`None`: disabled; outbound TLS connects then fail).
    pub tls: Option<crate::tls::TlsContext>,
}

impl std::fmt::Debug for EngineParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineParts").finish_non_exhaustive()
    }
}

/// The running engine thread.
#[derive(Debug)]
pub struct EngineThread {
    done: oneshot::Receiver<Engine>,
    thread: std::thread::JoinHandle<()>,
    rt: tokio::runtime::Handle,
}

impl EngineThread {
    /// The engine thread's runtime: stream connections' tasks run there, so
    /// a message read from a connection reaches the engine without waking
    /// another thread.
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.rt
    }

    /// Waits for the loop to end (after the shutdown signal and its grace) and
    /// returns the engine.
    pub async fn finish(self) -> Result<Engine, String> {
        let engine = self
            .done
            .await
            .map_err(|_| "the engine thread ended without returning the engine".to_owned());
        let _ = tokio::task::spawn_blocking(move || self.thread.join()).await;
        engine
    }
}

/// Starts the engine on a thread of its own with a current-thread runtime that
/// owns the UDP sockets; returns once the sockets are registered with it (or
/// the error that prevented it). `io` is the runtime for connection tasks.
pub async fn spawn_engine_thread(
    parts: EngineParts,
    udp: Vec<std::net::UdpSocket>,
    io: tokio::runtime::Handle,
) -> Result<EngineThread, String> {
    let (started_tx, started_rx) = oneshot::channel::<Result<tokio::runtime::Handle, String>>();
    let (done_tx, done) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = started_tx.send(Err(format!("cannot start the engine runtime: {e}")));
                    return;
                }
            };
            rt.block_on(async move {
                let ports = udp
                    .into_iter()
                    .map(|s| {
                        tokio::net::UdpSocket::from_std(s).and_then(|s| UdpPort::new(Arc::new(s)))
                    })
                    .collect::<Result<Vec<_>, _>>();
                let ports = match ports {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = started_tx.send(Err(format!("cannot register a UDP socket: {e}")));
                        return;
                    }
                };
                let _ = started_tx.send(Ok(tokio::runtime::Handle::current()));
                let EngineParts {
                    engine,
                    rx,
                    tx,
                    table,
                    idle,
                    storage,
                    save_registrations,
                    shutdown,
                    grace,
                    dns,
                    tls,
                } = parts;
                let lp = EngineLoop::new(
                    engine,
                    rx,
                    tx,
                    ports,
                    table,
                    idle,
                    storage,
                    save_registrations,
                    io,
                )
                .with_dns(dns)
                .with_tls(tls);
                let _ = done_tx.send(lp.run(shutdown, grace).await);
            });
        })
        .map_err(|e| format!("cannot start the engine thread: {e}"))?;
    match started_rx.await {
        Ok(Ok(rt)) => Ok(EngineThread { done, thread, rt }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("the engine thread ended during start-up".to_owned()),
    }
}
