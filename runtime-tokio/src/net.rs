//! Stream sockets (RFC 3261 §18): the TCP acceptor and outbound connect, the
//! accounting of open connections, and what the engine holds for each one
//! ([`ConnHandle`]). Each connection runs as one task ([`crate::stream`]; TLS
//! in [`crate::tls`] runs its handshake and then hands the encrypted stream to
//! the same task). The tasks only move bytes; every decision is the engine's.
//!
//! What arrives becomes [`Input`]s on the engine channel; what the engine
//! sends goes through a bounded per-connection queue, and a connection whose
//! queue is full (a peer that does not read) is closed rather than allowed to
//! grow.

use crate::engine_loop::ToEngine;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use switchboard_core::{ConnId, Flow, Input, Transport};
use tokio::io::{AsyncBufRead, AsyncWrite, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

/// Messages queued for one connection's task. The task shares the engine
/// thread, so one turn of the engine (up to 65 reads of 4 kB, several SIP
/// messages each) can queue many answers for a busy connection (a trunk, an
/// SBC) before the writer runs (256 overflowed in the TLS benchmark); the
/// channel allocates its slots as they are used, so the bound costs an idle
/// connection nothing, and a peer that never reads pins at most this many
/// messages (~0.6 MB of 401s) before it is closed.
pub const WRITE_QUEUE: usize = 1024;

/// Bytes read at once from a TCP connection. Every open TCP connection keeps
/// one such buffer for its life, so it is small: a larger message arrives in
/// several reads and the engine frames it (RFC 3261 §18.3), while an idle
/// connection costs little. (A TLS connection has none: it reads from the
/// plaintext rustls buffers anyway, see [`crate::stream`].)
pub const READ_BUFFER: usize = 4 * 1024;

/// Shared numbering and accounting of stream connections.
#[derive(Debug, Default)]
pub struct ConnTable {
    next: AtomicU64,
    open: AtomicUsize,
    /// Accepted connections still in their TLS handshake.
    handshaking: AtomicUsize,
}

impl ConnTable {
    /// A fresh id for an accepted connection (below `ConnId::OUTBOUND_BASE`).
    pub fn next_id(&self) -> ConnId {
        ConnId(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// Open connections right now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Open connections plus those still in a handshake (what the
    /// connection limit counts).
    pub fn in_use(&self) -> usize {
        self.open() + self.handshaking.load(Ordering::Relaxed)
    }

    /// Counts an open connection for as long as the guard lives.
    pub fn opened(self: &Arc<Self>) -> OpenGuard {
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenGuard(self.clone())
    }

    /// Counts a handshake for as long as the guard lives.
    pub fn handshake(self: &Arc<Self>) -> HandshakeGuard {
        self.handshaking.fetch_add(1, Ordering::Relaxed);
        HandshakeGuard(self.clone())
    }
}

/// An open connection; uncounted when dropped.
#[derive(Debug)]
pub struct OpenGuard(Arc<ConnTable>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection in its handshake; uncounted when dropped.
#[derive(Debug)]
pub struct HandshakeGuard(Arc<ConnTable>);

impl Drop for HandshakeGuard {
    fn drop(&mut self) {
        self.0.handshaking.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the engine task holds for one open connection.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    /// The connection's write queue.
    pub writer: mpsc::Sender<Bytes>,
    /// Wakes the connection's task to close it.
    pub closer: Arc<Notify>,
}

impl ConnHandle {
    /// Closes the connection: its task stops reading and reports the close,
    /// writes what was queued before (bounded by [`crate::stream::CLOSE_WAIT`])
    /// and shuts the stream down.
    pub fn close(&self) {
        self.closer.notify_one();
    }
}

/// Limits for stream connections.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    /// Most simultaneous connections; new ones are refused beyond it.
    pub max_connections: usize,
    /// A connection on which nothing arrived for this long is closed.
    pub idle_timeout: Duration,
}

/// The next connection on `listener` while fewer than `max` (as `open` counts
/// them) are open: a failed accept is logged and retried after 50 ms (e.g. out
/// of file descriptors), a connection over the limit is logged and closed.
/// `what` names the transport in the log lines. Shared by the TCP, TLS and
/// WebSocket acceptors.
pub async fn accept_below(
    listener: &TcpListener,
    what: &str,
    max: usize,
    open: impl Fn() -> usize,
) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let n = open();
                if n < max {
                    return (stream, remote);
                }
                tracing::warn!(
                    "{what} connection from {remote} refused: {n} connections open (limit {max})"
                );
                drop(stream);
            }
            Err(e) => {
                let local = listener.local_addr().ok();
                tracing::warn!("{what} accept on {local:?} failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Accepts TCP connections on `listener` until the engine goes away.
pub async fn tcp_acceptor(
    listener: TcpListener,
    tx: mpsc::Sender<ToEngine>,
    table: Arc<ConnTable>,
    limits: TcpLimits,
) {
    loop {
        let (stream, _) =
            accept_below(&listener, "TCP", limits.max_connections, || table.in_use()).await;
        let conn = table.next_id();
        spawn_connection(
            stream,
            Transport::Tcp,
            conn,
            tx.clone(),
            table.clone(),
            limits.idle_timeout,
        );
    }
}

/// Opens an outbound TCP connection the engine asked for.
pub async fn tcp_connect(
    conn: ConnId,
    remote: SocketAddr,
    tx: mpsc::Sender<ToEngine>,
    table: Arc<ConnTable>,
    idle: Duration,
) {
    let now = || Instant::now().into_std();
    match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(remote)).await {
        Ok(Ok(stream)) => spawn_connection(stream, Transport::Tcp, conn, tx, table, idle),
        Ok(Err(e)) => {
            tracing::info!("TCP connect to {remote} failed: {e}");
            let _ = tx
                .send(ToEngine::Input(Input::ConnectionClosed {
                    now: now(),
                    conn,
                }))
                .await;
        }
        Err(_) => {
            tracing::info!("TCP connect to {remote} timed out");
            let _ = tx
                .send(ToEngine::Input(Input::ConnectionClosed {
                    now: now(),
                    conn,
                }))
                .await;
        }
    }
}

/// Runs one TCP connection (see [`crate::stream`]), reading through a
/// [`READ_BUFFER`]-sized buffer.
fn spawn_connection(
    stream: TcpStream,
    transport: Transport,
    conn: ConnId,
    tx: mpsc::Sender<ToEngine>,
    table: Arc<ConnTable>,
    idle: Duration,
) {
    let (Ok(local), Ok(remote)) = (stream.local_addr(), stream.peer_addr()) else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let flow = Flow {
        transport,
        local,
        remote,
        conn: Some(conn),
    };
    let stream = BufReader::with_capacity(READ_BUFFER, stream);
    crate::stream::spawn(stream, flow, tx, table.opened(), idle);
}

/// Runs one connection over any buffered byte stream (a TLS session, which
/// buffers the plaintext it decrypts) as one task: see [`crate::stream`].
/// `flow.conn` must be `Some`.
pub fn spawn_stream<S>(
    stream: S,
    flow: Flow,
    tx: mpsc::Sender<ToEngine>,
    table: Arc<ConnTable>,
    idle: Duration,
) where
    S: AsyncBufRead + AsyncWrite + Unpin + Send + 'static,
{
    crate::stream::spawn(stream, flow, tx, table.opened(), idle);
}
