//! The task that owns the engine (ARCHITECTURE.md §6): one owner, fed through a
//! bounded channel, drained after every input until the engine names its next
//! deadline.
//!
//! Outputs are carried out here: datagrams are sent with `try_send_to` (UDP
//! never blocks the engine; a full socket buffer drops and counts the
//! datagram, as the network would), stream writes go to the connection's
//! bounded queue, connects are spawned, events are logged and forwarded to
//! the storage worker.
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
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use switchboard_core::{Command, ConnId, Engine, Input, Output, Transmit, Transport};
use tokio::net::UdpSocket;
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
}

impl std::fmt::Debug for ToEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Input(i) => write!(f, "Input({i:?})"),
            Self::Opened { flow, .. } => write!(f, "Opened({flow})"),
            Self::Command(c, _) => write!(f, "Command({c:?})"),
        }
    }
}

/// The engine task's state.
pub struct EngineLoop {
    engine: Engine,
    rx: mpsc::Receiver<ToEngine>,
    tx: mpsc::Sender<ToEngine>,
    udp: Vec<Arc<UdpSocket>>,
    conns: BTreeMap<ConnId, ConnHandle>,
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
}

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
        udp: Vec<Arc<UdpSocket>>,
        table: Arc<ConnTable>,
        idle: Duration,
        storage: Option<StorageTx>,
        save_registrations: bool,
    ) -> Self {
        let (barrier_tx, barrier_rx) = mpsc::unbounded_channel();
        Self {
            engine,
            rx,
            tx,
            udp,
            conns: BTreeMap::new(),
            table,
            idle,
            sink: EventSink::new(storage.clone(), save_registrations),
            udp_dropped: 0,
            storage,
            held: VecDeque::new(),
            next_barrier: 0,
            barrier_tx,
            barrier_rx,
        }
    }

    /// Runs until `shutdown` turns true, then lets in-flight transactions finish
    /// for at most `grace`, and returns the engine (for a final flush).
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>, grace: Duration) -> Engine {
        let mut deadline = self.drain();
        loop {
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
                    deadline = self.drain();
                }
                msg = self.rx.recv() => {
                    let Some(msg) = msg else { break };
                    self.handle(msg);
                    // Take what else is already queued before draining once more
                    // (bounded, so timers are never starved).
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
                    deadline = self.drain();
                }
                () = tokio::time::sleep_until(deadline) => {
                    self.engine.handle_input(Input::Timeout(Instant::now().into_std()));
                    deadline = self.drain();
                }
            }
        }
        // Graceful end: keep serving in-flight transactions for a bounded time.
        let end = Instant::now() + grace;
        while self.engine.in_flight_transactions() > 0 && Instant::now() < end {
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Some(m) => { self.handle(m); deadline = self.drain(); }
                    None => break,
                },
                Some(id) = self.barrier_rx.recv() => {
                    self.release(id);
                    deadline = self.drain();
                }
                () = tokio::time::sleep_until(deadline.min(end)) => {
                    self.engine.handle_input(Input::Timeout(Instant::now().into_std()));
                    deadline = self.drain();
                }
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
        for c in self.conns.values() {
            c.close();
        }
        self.engine
    }

    fn handle(&mut self, msg: ToEngine) {
        match msg {
            ToEngine::Input(i) => self.engine.handle_input(i),
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
                    } => self.connect(conn, transport, remote),
                    Output::Close(conn) => out.push(Held::Close(conn)),
                    Output::Event(e) => self.sink.event(&self.engine, e),
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
                let Some(sock) = self.udp_socket(t.local, t.remote) else {
                    tracing::debug!(
                        "no UDP socket for {} -> {}",
                        t.local.map(|a| a.to_string()).unwrap_or_default(),
                        t.remote
                    );
                    return false;
                };
                if let Err(e) = sock.try_send_to(&t.data, t.remote) {
                    self.udp_dropped += 1;
                    tracing::debug!("UDP send to {} failed: {e}", t.remote);
                    if e.kind() != std::io::ErrorKind::WouldBlock {
                        let now = Instant::now().into_std();
                        self.engine.handle_input(Input::SendFailed {
                            now,
                            transport: Transport::Udp,
                            remote: t.remote,
                        });
                        return true;
                    }
                }
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

    /// The socket to send from: the one bound to `local`, else one of the same address family.
    fn udp_socket(&self, local: Option<SocketAddr>, remote: SocketAddr) -> Option<&Arc<UdpSocket>> {
        let same_local =
            |s: &&Arc<UdpSocket>| local.is_some_and(|l| s.local_addr().ok() == Some(l));
        let same_family = |s: &&Arc<UdpSocket>| {
            s.local_addr()
                .is_ok_and(|a| a.is_ipv4() == remote.is_ipv4())
        };
        self.udp
            .iter()
            .find(same_local)
            .or_else(|| self.udp.iter().find(same_family))
    }

    fn connect(&mut self, conn: ConnId, transport: Transport, remote: SocketAddr) {
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

/// Sends a command to the engine task and waits for its answer.
pub async fn command(tx: &mpsc::Sender<ToEngine>, cmd: Command) -> Result<(), String> {
    let (rtx, rrx) = oneshot::channel();
    tx.send(ToEngine::Command(cmd, Some(rtx)))
        .await
        .map_err(|_| "engine stopped".to_owned())?;
    rrx.await.map_err(|_| "engine stopped".to_owned())?
}
