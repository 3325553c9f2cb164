//! Stream sockets: the TCP acceptor, and one reader and one writer task
//! per stream connection (TCP here; TLS in [`crate::tls`] runs its handshake
//! and then hands the encrypted stream to the same tasks, which work on any
//! tokio `AsyncRead + AsyncWrite`). They only move bytes; every decision is
//! the engine's.
//!
//! Readers turn what arrives into [`Input`]s on the engine channel. Writers
//! take bytes from a bounded per-connection queue; a connection whose queue is
//! full (a peer that does not read) is closed rather than allowed to grow.

use crate::engine_loop::ToEngine;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use switchboard_core::{ConnId, Flow, Input, Transport};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

/// Messages queued for one connection's writer. The writer shares the engine
/// thread, so one turn of the engine (up to 65 reads of 4 kB, several SIP
/// messages each) can queue many answers for a busy connection (a trunk, an
/// SBC) before the writer runs; the channel allocates its slots as they are
/// used, so the bound costs an idle connection nothing.
pub const WRITE_QUEUE: usize = 4096;

/// Bytes read at once from a stream connection. Every open connection keeps
/// one such buffer for its life, so it is small: a larger message arrives in
/// several reads and the engine frames it (RFC 3261 §18.3), while an idle
/// connection costs little (the bound: 16 kB per idle TLS connection).
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

    /// Counts a handshake for as long as the guard lives.
    pub fn handshake(self: &Arc<Self>) -> HandshakeGuard {
        self.handshaking.fetch_add(1, Ordering::Relaxed);
        HandshakeGuard(self.clone())
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
    /// The writer's queue.
    pub writer: mpsc::Sender<Bytes>,
    /// Wakes the reader to close the connection.
    pub closer: Arc<Notify>,
}

impl ConnHandle {
    /// Closes the connection: the reader stops (reporting the close), and the
    /// writer ends once its queue is dropped.
    pub fn close(&self) {
        self.closer.notify_one();
    }
}

/// Limits for stream connections.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    /// Most simultaneous connections; new ones are refused beyond it.
    pub max_connections: usize,
    /// A connection with no traffic for this long is closed.
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

/// Runs one TCP connection (see [`spawn_stream`]).
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
    let (rd, wr) = stream.into_split();
    spawn_halves(rd, wr, flow, tx, table, idle);
}

/// Runs one connection over any byte stream (a TLS session, say): see
/// [`spawn_halves`]. `flow.conn` must be `Some`.
pub fn spawn_stream<S>(
    stream: S,
    flow: Flow,
    tx: mpsc::Sender<ToEngine>,
    table: Arc<ConnTable>,
    idle: Duration,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, wr) = tokio::io::split(stream);
    spawn_halves(rd, wr, flow, tx, table, idle);
}

/// Runs one connection: registers its writer with the engine, then reads until
/// EOF, error or idle timeout, and reports the close.
fn spawn_halves<R, W>(
    mut rd: R,
    mut wr: W,
    flow: Flow,
    tx: mpsc::Sender<ToEngine>,
    table: Arc<ConnTable>,
    idle: Duration,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let Some(conn) = flow.conn else { return };
    table.open.fetch_add(1, Ordering::Relaxed);
    let (wtx, mut wrx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
    let closer = Arc::new(Notify::new());
    tokio::spawn(async move {
        while let Some(data) = wrx.recv().await {
            if let Err(e) = wr.write_all(&data).await {
                tracing::debug!("{flow}: write failed: {e}");
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    tokio::spawn(async move {
        let now = || Instant::now().into_std();
        let handle = ConnHandle {
            writer: wtx,
            closer: closer.clone(),
        };
        if tx.send(ToEngine::Opened { flow, handle }).await.is_err() {
            table.open.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let mut buf = vec![0u8; READ_BUFFER];
        loop {
            let read = tokio::select! {
                r = tokio::time::timeout(idle, rd.read(&mut buf)) => r,
                () = closer.notified() => break,
            };
            match read {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => {
                    let input = Input::StreamData {
                        now: now(),
                        conn,
                        data: Bytes::copy_from_slice(&buf[..n]),
                    };
                    if tx.send(ToEngine::Input(input)).await.is_err() {
                        break;
                    }
                }
                Ok(Err(e)) => {
                    tracing::debug!("{flow}: read failed: {e}");
                    break;
                }
                Err(_) => {
                    tracing::debug!("{flow}: idle for {idle:?}, closing");
                    break;
                }
            }
        }
        table.open.fetch_sub(1, Ordering::Relaxed);
        let _ = tx
            .send(ToEngine::Input(Input::ConnectionClosed {
                now: now(),
                conn,
            }))
            .await;
    });
}
