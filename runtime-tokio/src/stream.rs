//! One task per TCP or TLS connection (RFC 3261 §18: a stream connection
//! carries SIP messages both ways; the engine frames what arrives, §18.3, and
//! every decision is the engine's). The task owns the stream — no split, no
//! lock — and waits on four things at once, in one hand-written poll:
//!
//! - **the closer** ([`ConnHandle::close`]): the engine wants the connection
//!   gone (answered and closed, write queue full, shutdown);
//! - **the write queue**: when it wakes, everything already queued (up to
//!   [`COALESCE`] bytes) is gathered into one buffer and written at once — for
//!   TLS one record and one `writev` instead of one per message. A write that
//!   would block stays as state (the unwritten rest) and is resumed when the
//!   socket is writable; nothing is ever cancelled half-way;
//! - **the socket**: what is readable goes to the engine as one
//!   [`Input::StreamData`] per chunk. The stream is an [`AsyncBufRead`]: a TLS
//!   session hands out the plaintext rustls already holds (no second buffer
//!   per connection), plain TCP reads through a
//!   [`READ_BUFFER`](crate::net::READ_BUFFER)-sized `BufReader`;
//! - **one idle deadline**: a single [`Sleep`] pinned once. A read only
//!   records the time in a plain `Instant`; when the timer fires early (there
//!   was traffic since it was armed) it is re-armed for the last read plus the
//!   idle timeout, so a busy connection costs one timer event per idle period,
//!   not one timer per read. As before, only what is received counts as
//!   activity.
//!
//! Back-pressure: while a write is blocked (the peer does not read) the task
//! keeps reading. A peer that sends but does not read fills its write queue
//! and the engine closes it (the queue is bounded, [`WRITE_QUEUE`]); pausing
//! the reads instead could deadlock two peers that each wait for the other to
//! read before reading themselves.
//!
//! Whatever ends the connection — EOF, a read or write error, the idle
//! timeout, the closer, the engine going away — the task uncounts it
//! (`ConnTable::open`), reports [`Input::ConnectionClosed`] exactly once, then
//! for at most [`CLOSE_WAIT`] writes what the engine had already queued (a
//! final answer before a close) and shuts the stream down (TLS `close_notify`,
//! TCP FIN).

use crate::engine_loop::ToEngine;
use crate::net::{ConnHandle, OpenGuard, WRITE_QUEUE};
use bytes::{Buf, Bytes};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use switchboard_core::{Flow, Input};
use tokio::io::{AsyncBufRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};
use tokio::time::{Instant, Sleep};

/// Most bytes gathered from the write queue into one write (a message is
/// never split, so one batch may end up to one message longer).
pub const COALESCE: usize = 64 * 1024;

/// How long, once a connection has ended, what was already queued and the
/// stream's shutdown may take before the socket is dropped regardless (a peer
/// that does not read cannot keep it).
pub const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// The peer closed its side.
    Eof,
    /// Reading failed.
    Read(io::Error),
    /// Writing failed.
    Write(io::Error),
    /// Nothing received for the idle timeout.
    Idle,
    /// The engine closed it.
    Closed,
    /// The engine dropped the write queue, or its channel is gone.
    EngineGone,
}

/// What one poll of a connection yields.
enum Event {
    /// Bytes received.
    Data(Bytes),
    /// The connection is over.
    End(End),
}

/// A connection's stream and its write side's state.
struct Conn<S> {
    io: S,
    /// Taken from the queue, not yet accepted by the stream.
    out: Bytes,
    /// Written since the stream was last flushed (TLS may hold records back).
    unflushed: bool,
    queue: mpsc::Receiver<Bytes>,
}

impl<S: AsyncBufRead + AsyncWrite + Unpin> Conn<S> {
    /// Writes what is queued, coalesced, until the stream would block or the
    /// queue is empty: `Pending` then (a waker is registered with whichever
    /// blocked), `Ready(Ok)` once the queue is closed and all of it written,
    /// `Ready(Err)` if a write failed.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if !self.out.is_empty() {
                match ready!(Pin::new(&mut self.io).poll_write(cx, &self.out)) {
                    Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Ok(n) => {
                        self.out.advance(n.min(self.out.len()));
                        self.unflushed = true;
                        continue;
                    }
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            if self.unflushed {
                ready!(Pin::new(&mut self.io).poll_flush(cx))?;
                self.unflushed = false;
            }
            match ready!(self.queue.poll_recv(cx)) {
                Some(first) => self.out = coalesce(first, &mut self.queue),
                None => return Poll::Ready(Ok(())),
            }
        }
    }

    /// The next chunk received: `None` at EOF.
    fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        let data = ready!(Pin::new(&mut self.io).poll_fill_buf(cx))?;
        if data.is_empty() {
            return Poll::Ready(Ok(None));
        }
        let chunk = Bytes::copy_from_slice(data);
        Pin::new(&mut self.io).consume(chunk.len());
        Poll::Ready(Ok(Some(chunk)))
    }

    /// Waits for the closer, the write side, the socket and the idle timer
    /// (in that order), writing whatever it can on the way. `due` is when the
    /// connection goes idle (the last read plus the timeout).
    fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
        closed: Pin<&mut tokio::sync::futures::Notified<'_>>,
        mut timer: Pin<&mut Sleep>,
        due: Instant,
    ) -> Poll<Event> {
        if closed.poll(cx).is_ready() {
            return Poll::Ready(Event::End(End::Closed));
        }
        match self.poll_send(cx) {
            Poll::Ready(Ok(())) => return Poll::Ready(Event::End(End::EngineGone)),
            Poll::Ready(Err(e)) => return Poll::Ready(Event::End(End::Write(e))),
            Poll::Pending => {}
        }
        match self.poll_receive(cx) {
            Poll::Ready(Ok(Some(data))) => return Poll::Ready(Event::Data(data)),
            Poll::Ready(Ok(None)) => return Poll::Ready(Event::End(End::Eof)),
            Poll::Ready(Err(e)) => return Poll::Ready(Event::End(End::Read(e))),
            Poll::Pending => {}
        }
        while timer.as_mut().poll(cx).is_ready() {
            if timer.deadline() >= due {
                return Poll::Ready(Event::End(End::Idle));
            }
            // Armed before the last read: re-arm (and poll again, to register).
            timer.as_mut().reset(due);
        }
        Poll::Pending
    }
}

/// `first` and whatever else is queued right now, up to [`COALESCE`] bytes,
/// as one buffer (`first` itself, uncopied, when nothing else is queued).
fn coalesce(first: Bytes, queue: &mut mpsc::Receiver<Bytes>) -> Bytes {
    if first.len() >= COALESCE {
        return first;
    }
    let Ok(second) = queue.try_recv() else {
        return first;
    };
    let mut buf = Vec::with_capacity((first.len() + second.len()) * 2);
    buf.extend_from_slice(&first);
    buf.extend_from_slice(&second);
    while buf.len() < COALESCE {
        match queue.try_recv() {
            Ok(next) => buf.extend_from_slice(&next),
            Err(_) => break,
        }
    }
    Bytes::from(buf)
}

/// Runs one connection on the current runtime as one task: registers it with
/// the engine ([`ToEngine::Opened`]), moves bytes both ways until it ends,
/// reports the close. `open` counts it as open until the task lets it go;
/// `flow.conn` must be `Some`.
pub(crate) fn spawn<S>(
    io: S,
    flow: Flow,
    tx: mpsc::Sender<ToEngine>,
    open: OpenGuard,
    idle: Duration,
) where
    S: AsyncBufRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(run(io, flow, tx, open, idle));
}

/// The connection's task (see the module docs).
async fn run<S>(io: S, flow: Flow, tx: mpsc::Sender<ToEngine>, open: OpenGuard, idle: Duration)
where
    S: AsyncBufRead + AsyncWrite + Unpin,
{
    let Some(conn) = flow.conn else { return };
    let (writer, queue) = mpsc::channel::<Bytes>(WRITE_QUEUE);
    let closer = Arc::new(Notify::new());
    let handle = ConnHandle {
        writer,
        closer: closer.clone(),
    };
    if tx.send(ToEngine::Opened { flow, handle }).await.is_err() {
        return;
    }
    let mut c = Conn {
        io,
        out: Bytes::new(),
        unflushed: false,
        queue,
    };
    let mut last_rx = Instant::now();
    let closed = closer.notified();
    let timer = tokio::time::sleep_until(last_rx + idle);
    tokio::pin!(closed, timer);
    let end = loop {
        let due = last_rx + idle;
        let event =
            std::future::poll_fn(|cx| c.poll_event(cx, closed.as_mut(), timer.as_mut(), due)).await;
        match event {
            Event::Data(data) => {
                let t = Instant::now();
                last_rx = t;
                let input = Input::StreamData {
                    now: t.into_std(),
                    conn,
                    data,
                };
                if tx.send(ToEngine::Input(input)).await.is_err() {
                    break End::EngineGone;
                }
            }
            Event::End(end) => break end,
        }
    };
    match &end {
        End::Idle => tracing::debug!("{flow}: idle for {idle:?}, closing"),
        End::Read(e) => tracing::debug!("{flow}: read failed: {e}"),
        End::Write(e) => tracing::debug!("{flow}: write failed: {e}"),
        End::Eof | End::Closed | End::EngineGone => {}
    }
    drop(open);
    let _ = tx
        .send(ToEngine::Input(Input::ConnectionClosed {
            now: Instant::now().into_std(),
            conn,
        }))
        .await;
    drop(tx);
    // The engine drops the queue when it sees the close; what it queued
    // before (an answer sent just before closing) still goes out.
    let failed = matches!(end, End::Write(_));
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        if !failed {
            std::future::poll_fn(|cx| c.poll_send(cx)).await?;
        }
        c.io.shutdown().await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{ConnTable, READ_BUFFER, WRITE_QUEUE};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use switchboard_core::{ConnId, Transport};
    use tokio::io::{AsyncRead, AsyncReadExt, BufReader, DuplexStream, ReadBuf};
    use tokio::net::{TcpListener, TcpStream};

    /// A stream that counts the writes that reach it, or fails them.
    struct Probe {
        inner: DuplexStream,
        writes: Arc<AtomicUsize>,
        fail: bool,
    }

    impl AsyncRead for Probe {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Probe {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            if self.fail {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            let r = ready!(Pin::new(&mut self.inner).poll_write(cx, buf));
            self.writes.fetch_add(1, Ordering::Relaxed);
            Poll::Ready(r)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// An engine's view of one connection under test.
    struct Rig {
        rx: mpsc::Receiver<ToEngine>,
        table: Arc<ConnTable>,
        writes: Arc<AtomicUsize>,
    }

    fn flow() -> Flow {
        Flow {
            transport: Transport::Tcp,
            local: "127.0.0.1:5060".parse().expect("addr"),
            remote: "127.0.0.1:40000".parse().expect("addr"),
            conn: Some(ConnId(7)),
        }
    }

    /// A connection over an in-memory pipe of `capacity` bytes: the rig and
    /// the peer's end.
    fn rig(capacity: usize, idle: Duration, fail: bool) -> (Rig, DuplexStream) {
        let (ours, peer) = tokio::io::duplex(capacity);
        let writes = Arc::new(AtomicUsize::new(0));
        let probe = Probe {
            inner: ours,
            writes: writes.clone(),
            fail,
        };
        let (tx, rx) = mpsc::channel(64);
        let table = Arc::new(ConnTable::default());
        spawn(BufReader::new(probe), flow(), tx, table.opened(), idle);
        let rig = Rig { rx, table, writes };
        (rig, peer)
    }

    impl Rig {
        async fn opened(&mut self) -> ConnHandle {
            match self.rx.recv().await {
                Some(ToEngine::Opened { handle, .. }) => handle,
                other => panic!("expected Opened, got {other:?}"),
            }
        }

        /// Everything the task still reports, until it ends: the bytes
        /// received and how many times the close was reported.
        async fn rest(&mut self) -> (Vec<u8>, usize) {
            let (mut data, mut closed) = (Vec::new(), 0);
            while let Some(m) = self.rx.recv().await {
                match m {
                    ToEngine::Input(Input::StreamData { data: d, .. }) => {
                        assert_eq!(closed, 0, "data after the close");
                        data.extend_from_slice(&d);
                    }
                    ToEngine::Input(Input::ConnectionClosed { conn, .. }) => {
                        assert_eq!(conn, ConnId(7));
                        closed += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            (data, closed)
        }
    }

    /// `n` numbered messages of `size` bytes each.
    fn messages(n: usize, size: usize) -> Vec<Bytes> {
        (0..n)
            .map(|i| {
                let mut m = format!("MESSAGE {i:06} ").into_bytes();
                m.resize(size - 2, b'x');
                m.extend_from_slice(b"\r\n");
                Bytes::from(m)
            })
            .collect()
    }

    /// Queues `msgs` at once and checks the peer reads them back whole and in order.
    async fn queue_and_read_back(h: &ConnHandle, peer: &mut DuplexStream, msgs: Vec<Bytes>) {
        for m in &msgs {
            h.writer.try_send(m.clone()).expect("queued");
        }
        let expected = msgs.concat();
        let mut got = vec![0u8; expected.len()];
        peer.read_exact(&mut got).await.expect("read");
        assert_eq!(got, expected);
    }

    #[tokio::test]
    async fn what_is_queued_before_the_task_runs_goes_out_in_one_write() {
        let (mut rig, mut peer) = rig(1 << 20, Duration::from_secs(60), false);
        let h = rig.opened().await;
        queue_and_read_back(&h, &mut peer, messages(100, 300)).await;
        assert_eq!(rig.writes.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_long_queue_goes_out_in_batches_of_at_most_64_kb() {
        let (mut rig, mut peer) = rig(1 << 20, Duration::from_secs(60), false);
        let h = rig.opened().await;
        queue_and_read_back(&h, &mut peer, messages(1000, 200)).await;
        // 328 messages (65,600 bytes) per batch: 328 + 328 + 328 + 16.
        assert_eq!(rig.writes.load(Ordering::Relaxed), 4);
    }

    #[tokio::test]
    async fn what_the_peer_sends_reaches_the_engine_intact() {
        let (mut rig, mut peer) = rig(1 << 16, Duration::from_secs(60), false);
        let _h = rig.opened().await;
        let sent = messages(50, 700).concat();
        peer.write_all(&sent).await.expect("write");
        drop(peer);
        let (data, closed) = rig.rest().await;
        assert_eq!(data, sent);
        assert_eq!(closed, 1);
        assert_eq!(rig.table.open(), 0);
    }

    #[tokio::test]
    async fn an_answer_queued_before_the_close_still_goes_out() {
        let (mut rig, mut peer) = rig(1 << 16, Duration::from_secs(60), false);
        let h = rig.opened().await;
        h.writer
            .try_send(Bytes::from_static(b"SIP/2.0 400 Bad Request\r\n\r\n"))
            .expect("queued");
        h.close();
        drop(h);
        let mut got = Vec::new();
        peer.read_to_end(&mut got).await.expect("read to EOF");
        assert_eq!(got, b"SIP/2.0 400 Bad Request\r\n\r\n");
        assert_eq!(rig.rest().await, (Vec::new(), 1));
        assert_eq!(rig.table.open(), 0);
    }

    #[tokio::test]
    async fn a_write_error_ends_the_connection() {
        let (mut rig, _peer) = rig(1 << 16, Duration::from_secs(60), true);
        let h = rig.opened().await;
        h.writer
            .try_send(Bytes::from_static(b"OPTIONS"))
            .expect("queued");
        assert_eq!(rig.rest().await, (Vec::new(), 1));
        assert_eq!(rig.table.open(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_timeout_counts_from_the_last_read() {
        let idle = Duration::from_secs(30);
        let (mut rig, mut peer) = rig(1 << 16, idle, false);
        let _h = rig.opened().await;
        tokio::time::sleep(Duration::from_secs(20)).await;
        peer.write_all(b"\r\n\r\n").await.expect("keep-alive");
        match rig.rx.recv().await {
            Some(ToEngine::Input(Input::StreamData { data, .. })) => {
                assert_eq!(&data[..], b"\r\n\r\n");
            }
            other => panic!("expected data, got {other:?}"),
        }
        // 45 s after the start, 25 s after the read: still open.
        tokio::time::sleep(Duration::from_secs(25)).await;
        assert!(rig.rx.try_recv().is_err(), "closed too early");
        assert_eq!(rig.table.open(), 1);
        // 31 s after the read: closed, once.
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert_eq!(rig.table.open(), 0);
        assert_eq!(rig.rest().await, (Vec::new(), 1));
        let mut buf = Vec::new();
        peer.read_to_end(&mut buf).await.expect("EOF");
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_never_reads_is_closed_when_its_queue_is_full() {
        let (mut rig, mut peer) = rig(1024, Duration::from_secs(3600), false);
        let h = rig.opened().await;
        // What the engine does (engine_loop `transmit`): queue until full,
        // letting the task run between turns, then close and forget.
        let msg = Bytes::from(vec![b'x'; 500]);
        let mut queued = 0usize;
        while h.writer.try_send(msg.clone()).is_ok() {
            queued += 1;
            if queued.is_multiple_of(64) {
                tokio::task::yield_now().await;
            }
            assert!(queued <= 2 * WRITE_QUEUE, "the queue never filled");
        }
        h.close();
        drop(h);
        assert_eq!(rig.rest().await, (Vec::new(), 1));
        assert_eq!(rig.table.open(), 0);
        // After CLOSE_WAIT the task lets go of the stream: the peer, reading
        // at last, finds what fitted in the pipe, then EOF.
        tokio::time::sleep(CLOSE_WAIT + Duration::from_millis(10)).await;
        let mut buf = Vec::new();
        peer.read_to_end(&mut buf).await.expect("EOF");
        assert!(buf.len() <= 1024, "{} bytes", buf.len());
    }

    /// Numbered messages queued at once over a real connection arrive whole
    /// and in order, and what the peer sends arrives intact.
    async fn exchange<P>(rx: &mut mpsc::Receiver<ToEngine>, peer: &mut P, max_chunk: usize)
    where
        P: AsyncRead + AsyncWrite + Unpin,
    {
        let h = match rx.recv().await {
            Some(ToEngine::Opened { handle, .. }) => handle,
            other => panic!("expected Opened, got {other:?}"),
        };
        let msgs = messages(WRITE_QUEUE, 250);
        for m in &msgs {
            h.writer.try_send(m.clone()).expect("queued");
        }
        let expected = msgs.concat();
        let mut got = vec![0u8; expected.len()];
        peer.read_exact(&mut got).await.expect("read");
        assert!(got == expected, "messages lost, split or reordered");
        let sent = messages(40, 900).concat();
        peer.write_all(&sent).await.expect("write");
        peer.flush().await.expect("flush");
        let mut data = Vec::new();
        while data.len() < sent.len() {
            match rx.recv().await {
                Some(ToEngine::Input(Input::StreamData { data: d, .. })) => {
                    assert!(d.len() <= max_chunk, "{} bytes at once", d.len());
                    data.extend_from_slice(&d);
                }
                other => panic!("expected data, got {other:?}"),
            }
        }
        assert!(data == sent, "received bytes differ");
        h.close();
        drop(h);
        let mut closed = 0;
        while let Some(m) = rx.recv().await {
            assert!(matches!(m, ToEngine::Input(Input::ConnectionClosed { .. })));
            closed += 1;
        }
        assert_eq!(closed, 1);
    }

    #[tokio::test]
    async fn over_tcp() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, mut rx) = mpsc::channel(64);
        let table = Arc::new(ConnTable::default());
        let idle = Duration::from_secs(60);
        tokio::spawn(crate::net::tcp_connect(
            ConnId(9),
            addr,
            tx,
            table.clone(),
            idle,
        ));
        let (mut peer, _) = listener.accept().await.expect("accept");
        exchange(&mut rx, &mut peer, READ_BUFFER).await;
        assert_eq!(table.open(), 0);
    }

    #[tokio::test]
    async fn over_tls() {
        use tokio_rustls::{TlsAcceptor, TlsConnector};
        let dir = tempfile::tempdir().expect("tempdir");
        let (c, k, _) = crate::certs::ensure_self_signed(dir.path(), "127.0.0.1").expect("gen");
        let ck = crate::certs::load_pair(&c, &k, &crate::certs::provider()).expect("load");
        let resolver = Arc::new(crate::certs::CertResolver::new(ck));
        let acceptor = TlsAcceptor::from(Arc::new(
            crate::tls::server_config(resolver).expect("server"),
        ));
        let roots = crate::tls::root_store(&c).expect("roots");
        let connector =
            TlsConnector::from(Arc::new(crate::tls::client_config(roots).expect("client")));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, mut rx) = mpsc::channel(64);
        let table = Arc::new(ConnTable::default());
        let server = {
            let table = table.clone();
            tokio::spawn(async move {
                let (s, remote) = listener.accept().await.expect("accept");
                let local = s.local_addr().expect("local");
                let tls = acceptor.accept(s).await.expect("handshake");
                let flow = Flow {
                    transport: Transport::Tls,
                    local,
                    remote,
                    conn: Some(ConnId(11)),
                };
                crate::net::spawn_stream(tls, flow, tx, table, Duration::from_secs(60));
            })
        };
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let mut peer = connector.connect(name, tcp).await.expect("handshake");
        server.await.expect("server");
        // A TLS record carries at most 16 kB of plaintext.
        exchange(&mut rx, &mut peer, 16 * 1024).await;
        assert_eq!(table.open(), 0);
    }
}
