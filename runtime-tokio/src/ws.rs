//! SIP over WebSocket and secure WebSocket (RFC 7118) for browser phones:
//! the WS/WSS acceptor and one task per connection. Like [`crate::net`] they
//! only move bytes; every SIP decision is the engine's.
//!
//! - **Accept**: connections beyond `websocket.max_connections` (WS and WSS
//!   together, handshakes in progress included) are refused at once, so a
//!   flood of stalled handshakes is bounded too.
//! - **Handshake**: for WSS the TLS handshake (a [`TlsAcceptor`] handed in by
//!   the server: the integrator plugs in the hot-swapped certificate store)
//!   and then the HTTP upgrade ([`crate::ws_handshake`]: `sip` subprotocol
//!   required, 4xx with a reason otherwise) must both finish within
//!   `websocket.handshake_timeout_s`.
//! - **Messages**: each WebSocket message, text or binary, is one SIP message
//!   (RFC 7118 §5) and goes to the engine as one [`Input::StreamData`] (the
//!   core frames WS connections by message, not by Content-Length). Messages
//!   and frames over `websocket.max_message_size` are refused from their
//!   header, before their payload is read or buffered, with close code 1009
//!   (RFC 6455 §7.4.1). What the engine sends goes out as a text frame (a
//!   binary frame when it is not UTF-8).
//! - **Liveness**: a ping every `websocket.ping_interval_s`; a connection on
//!   which nothing at all arrived (not even a pong) for
//!   `websocket.idle_timeout_s` is closed — a browser that vanished without a
//!   close frame is found this way (one timer per connection, re-armed only
//!   when it fires, not per frame). A peer that stops reading cannot block
//!   its task either: every send is bounded by the same timeout (a timer is
//!   only registered when the send does not finish at once).
//! - **Close**: whatever ends the task (close frame, EOF, error, timeout, the
//!   engine's [`ConnHandle::close`]) reports [`Input::ConnectionClosed`] so the
//!   engine drops the connection's bindings (RFC 7118 §5: the connection is the
//!   flow) and the engine loop its handle; the task's buffers go with it.
//!
//! One task per connection (not a reader and a writer): it waits on the
//! socket, the write queue, the closer and its timer together, which halves
//! the per-connection cost of idle browser phones.

use crate::engine_loop::ToEngine;
use crate::net::{ConnHandle, ConnTable, WRITE_QUEUE};
use crate::ws_handshake::{self, Head};
use async_tungstenite::WebSocketStream;
use async_tungstenite::tokio::TokioAdapter;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use async_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use bytes::Bytes;
use futures_util::StreamExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use switchboard_core::{ConnId, Flow, Input, Transport};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// The WebSocket read buffer of one connection: small, since idle browser
/// phones are the common case (a larger message grows it while it is read).
const READ_BUFFER: usize = 1024;
/// How long a close frame may take to go out before the socket is dropped.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Limits and timers of WebSocket connections (`[websocket]` settings).
#[derive(Debug, Clone, Copy)]
pub struct WsLimits {
    /// Most connections, WS and WSS together, handshakes included.
    pub max_connections: usize,
    /// Largest message (and frame) accepted, bytes.
    pub max_message_size: usize,
    /// A ping is sent this often.
    pub ping_interval: Duration,
    /// Closed when nothing arrived for this long.
    pub idle_timeout: Duration,
    /// TLS plus HTTP upgrade must finish within this.
    pub handshake_timeout: Duration,
}

impl WsLimits {
    /// The limits the settings give.
    pub fn from_settings(w: &switchboard_storage::settings::WebSocket) -> Self {
        let secs = |s: u32| Duration::from_secs(u64::from(s));
        Self {
            max_connections: w.max_connections as usize,
            max_message_size: w.max_message_size as usize,
            ping_interval: secs(w.ping_interval_s),
            idle_timeout: secs(w.idle_timeout_s),
            handshake_timeout: secs(w.handshake_timeout_s),
        }
    }

    fn config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .write_buffer_size(0)
            .max_write_buffer_size(self.max_message_size.saturating_mul(4).max(1 << 16))
            .max_message_size(Some(self.max_message_size))
            .max_frame_size(Some(self.max_message_size))
    }
}

/// WebSocket connections open right now (handshakes included), for the limit.
#[derive(Debug, Default)]
pub struct WsCount(AtomicUsize);

impl WsCount {
    /// Connections counted now.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Uncounts a connection when its task ends, however it ends.
struct Counted(Arc<WsCount>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What every connection task shares.
#[derive(Clone)]
struct Shared {
    tx: mpsc::Sender<ToEngine>,
    limits: WsLimits,
    transport: Transport,
}

/// Accepts WebSocket connections on `listener` until aborted: plain WS when
/// `tls` is `None`, WSS (TLS first) otherwise. `ids` numbers connections
/// (shared with TCP so ids are unique); `count` is shared by every WS and WSS
/// listener for `limits.max_connections`.
pub async fn ws_acceptor(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    tx: mpsc::Sender<ToEngine>,
    ids: Arc<ConnTable>,
    count: Arc<WsCount>,
    limits: WsLimits,
) {
    let transport = if tls.is_some() {
        Transport::Wss
    } else {
        Transport::Ws
    };
    let shared = Shared {
        tx,
        limits,
        transport,
    };
    loop {
        let (stream, remote) = crate::net::accept_below(
            &listener,
            transport.via_token(),
            limits.max_connections,
            || count.get(),
        )
        .await;
        count.0.fetch_add(1, Ordering::Relaxed);
        let counted = Counted(count.clone());
        let conn = ids.next_id();
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            serve(stream, remote, tls, conn, shared).await;
            drop(counted);
        });
    }
}

/// A connection's byte stream once its handshakes are done: TCP, or TLS over
/// TCP. Boxed, so [`run`] is one function for both and its future (which
/// lives as long as the connection) holds a pointer, not a TLS session.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Handshakes, then runs the connection.
///
/// The handshakes run in their own boxed future, freed before [`run`]
/// starts: the task's future is allocated once, at the size of its largest
/// state, and a TLS accept or a request-head read inline would make every
/// idle connection pay for them (measured: 8.8 kB of task per connection
/// inline, against 1.5 kB for `run` alone).
async fn serve(
    tcp: TcpStream,
    remote: SocketAddr,
    tls: Option<TlsAcceptor>,
    conn: ConnId,
    shared: Shared,
) {
    let Ok(local) = tcp.local_addr() else { return };
    let _ = tcp.set_nodelay(true);
    let flow = Flow {
        transport: shared.transport,
        local,
        remote,
        conn: Some(conn),
    };
    let opened = Box::pin(handshake(tcp, tls, &flow, &shared)).await;
    if let Some((s, rest)) = opened {
        run(s, rest, flow, &shared).await;
    }
}

/// TLS (for WSS) and the HTTP upgrade, within the handshake timeout: the
/// open stream and the bytes read past the request head, or `None`.
async fn handshake(
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    flow: &Flow,
    shared: &Shared,
) -> Option<(Box<dyn Io>, Vec<u8>)> {
    let deadline = Instant::now() + shared.limits.handshake_timeout;
    match tls {
        None => {
            let (s, rest) = upgrade(tcp, deadline, flow, shared).await?;
            Some((Box::new(s), rest))
        }
        Some(acceptor) => {
            let s = match tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::info!("{flow}: TLS handshake failed: {e}");
                    return None;
                }
                Err(_) => {
                    tracing::info!(
                        "{flow}: TLS handshake not finished within {:?}, closing",
                        shared.limits.handshake_timeout
                    );
                    return None;
                }
            };
            let (s, rest) = upgrade(s, deadline, flow, shared).await?;
            Some((Box::new(s), rest))
        }
    }
}

/// The HTTP upgrade, by `deadline`: the stream and the bytes read past the
/// request head, or `None` (refused or timed out; logged, answered, closed).
async fn upgrade<S>(
    mut s: S,
    deadline: Instant,
    flow: &Flow,
    shared: &Shared,
) -> Option<(S, Vec<u8>)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let head = tokio::time::timeout_at(deadline, ws_handshake::read_request(&mut s)).await;
    let refusal = match head {
        Err(_) => {
            tracing::info!(
                "{flow}: WebSocket handshake not finished within {:?}, closing",
                shared.limits.handshake_timeout
            );
            return None;
        }
        Ok(Head::Gone) => {
            tracing::debug!("{flow}: closed during the WebSocket handshake");
            return None;
        }
        Ok(Head::TooLarge) => ws_handshake::Refusal {
            status: 431,
            why: "request head too large",
        },
        Ok(Head::Complete(head, rest)) => match ws_handshake::check(&head) {
            Ok(u) => {
                let sent = tokio::time::timeout_at(deadline, async {
                    s.write_all(u.response().as_bytes()).await?;
                    s.flush().await
                })
                .await;
                if !matches!(sent, Ok(Ok(()))) {
                    tracing::debug!("{flow}: could not send the WebSocket handshake answer");
                    return None;
                }
                tracing::debug!(
                    "{flow}: WebSocket open (origin {})",
                    u.origin.as_deref().unwrap_or("none")
                );
                return Some((s, rest));
            }
            Err(r) => r,
        },
    };
    tracing::info!(
        "{flow}: WebSocket handshake refused with {}: {}",
        refusal.status,
        refusal.why
    );
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        s.write_all(refusal.response().as_bytes()).await?;
        s.shutdown().await
    })
    .await;
    None
}

/// Runs an open WebSocket connection until it ends, then reports the close.
async fn run(stream: Box<dyn Io>, rest: Vec<u8>, flow: Flow, shared: &Shared) {
    let Some(conn) = flow.conn else { return };
    let limits = shared.limits;
    let mut ws = WebSocketStream::from_partially_read(
        TokioAdapter::new(stream),
        rest,
        Role::Server,
        Some(limits.config()),
    )
    .await;
    let (wtx, mut wrx) = mpsc::channel::<Bytes>(WRITE_QUEUE);
    let closer = Arc::new(Notify::new());
    let handle = ConnHandle {
        writer: wtx,
        closer: closer.clone(),
    };
    if shared
        .tx
        .send(ToEngine::Opened { flow, handle })
        .await
        .is_err()
    {
        return;
    }
    let now = || Instant::now().into_std();
    let mut last_rx = Instant::now();
    let mut next_ping = last_rx + limits.ping_interval;
    // One timer for the ping and the idle timeout, armed once and re-armed
    // only when it fires: a frame just records `last_rx`, so a busy
    // connection registers no timer per frame (an early wake-up re-arms).
    let timer = tokio::time::sleep_until(next_ping.min(last_rx + limits.idle_timeout));
    tokio::pin!(timer);
    let close_code = loop {
        tokio::select! {
            biased;
            () = closer.notified() => break Some(CloseCode::Normal),
            out = wrx.recv() => {
                let Some(data) = out else { break Some(CloseCode::Normal) };
                let msg = match Utf8Bytes::try_from(data.clone()) {
                    Ok(text) => Message::Text(text),
                    Err(_) => Message::Binary(data),
                };
                match tokio::time::timeout(limits.idle_timeout, ws.send(msg)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::debug!("{flow}: write failed: {e}");
                        break None;
                    }
                    Err(_) => {
                        tracing::info!("{flow}: peer not reading for {:?}, closing", limits.idle_timeout);
                        break None;
                    }
                }
            }
            frame = ws.next() => {
                last_rx = Instant::now();
                let data = match frame {
                    Some(Ok(Message::Text(t))) => Bytes::from(t),
                    Some(Ok(Message::Binary(b))) => b,
                    // The library queues the answering close frame; the next
                    // read sends it and ends the stream.
                    Some(Ok(_)) => continue, // close, ping (answered by the library), pong
                    None => break None,
                    Some(Err(WsError::Capacity(e))) => {
                        tracing::info!("{flow}: {e} (websocket.max_message_size {}), closing with 1009", limits.max_message_size);
                        break Some(CloseCode::Size);
                    }
                    Some(Err(e)) => {
                        tracing::debug!("{flow}: WebSocket error: {e}");
                        break None;
                    }
                };
                let input = Input::StreamData { now: now(), conn, data };
                if shared.tx.send(ToEngine::Input(input)).await.is_err() {
                    break Some(CloseCode::Away);
                }
            }
            () = &mut timer => {
                let t = timer.deadline();
                if t >= last_rx + limits.idle_timeout {
                    tracing::info!(
                        "{flow}: nothing received for {:?} (no pong), closing",
                        limits.idle_timeout
                    );
                    break None;
                }
                if t >= next_ping {
                    // From now, not from the timer's deadline: a late turn must
                    // not be followed by a burst of catch-up pings.
                    next_ping = Instant::now() + limits.ping_interval;
                    if !matches!(
                        tokio::time::timeout(limits.idle_timeout, ws.send(Message::Ping(Bytes::new()))).await,
                        Ok(Ok(()))
                    ) {
                        tracing::debug!("{flow}: ping not sent, closing");
                        break None;
                    }
                }
                timer.as_mut().reset(next_ping.min(last_rx + limits.idle_timeout));
            }
        }
    };
    if let Some(code) = close_code {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::default(),
        };
        let _ = tokio::time::timeout(CLOSE_WAIT, ws.close(Some(frame))).await;
    }
    drop(ws);
    let _ = shared
        .tx
        .send(ToEngine::Input(Input::ConnectionClosed {
            now: now(),
            conn,
        }))
        .await;
}

/// A TLS acceptor with a self-signed certificate for `domain`, made now
/// (rcgen, ring): TLS 1.2 and 1.3 only, no client certificates.
pub fn self_signed_acceptor(domain: &str) -> Result<TlsAcceptor, String> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let ck =
        rcgen::generate_simple_self_signed(vec![domain.to_owned()]).map_err(|e| e.to_string())?;
    let cert = CertificateDer::from(ck.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.signing_key.serialize_der()));
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .map_err(|e| e.to_string())?;
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_tungstenite::tungstenite::client::IntoClientRequest;
    use async_tungstenite::tungstenite::http::HeaderValue;

    #[tokio::test]
    async fn pings_keep_a_live_connection_open_and_a_silent_one_is_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, mut rx) = mpsc::channel(64);
        let limits = WsLimits {
            max_connections: 10,
            max_message_size: 1 << 16,
            ping_interval: Duration::from_millis(200),
            idle_timeout: Duration::from_secs(1),
            handshake_timeout: Duration::from_secs(5),
        };
        let acceptor = tokio::spawn(ws_acceptor(
            listener,
            None,
            tx,
            Arc::new(ConnTable::default()),
            Arc::new(WsCount::default()),
            limits,
        ));
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let mut req = format!("ws://{addr}/")
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
        let (mut client, _) = async_tungstenite::tokio::client_async(req, tcp)
            .await
            .expect("upgrade");
        let h = match rx.recv().await {
            Some(ToEngine::Opened { handle, .. }) => handle,
            other => panic!("expected Opened, got {other:?}"),
        };
        // Reading (so answering pings) for 2.5 idle timeouts: pinged, open.
        let mut pings = 0;
        let end = Instant::now() + Duration::from_millis(2500);
        while let Ok(m) = tokio::time::timeout_at(end, client.next()).await {
            match m {
                Some(Ok(Message::Ping(_))) => pings += 1,
                other => panic!("expected a ping, got {other:?}"),
            }
        }
        assert!(pings >= 5, "{pings} pings");
        assert!(rx.try_recv().is_err(), "closed while answering pings");
        h.writer
            .try_send(Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n"))
            .expect("queued");
        loop {
            match client.next().await {
                Some(Ok(Message::Text(t))) => {
                    assert_eq!(t.as_str(), "OPTIONS sip:a@b SIP/2.0\r\n\r\n");
                    break;
                }
                Some(Ok(Message::Ping(_))) => {}
                other => panic!("expected the message, got {other:?}"),
            }
        }
        // Silent from now on (no pongs): closed after the idle timeout.
        let t0 = Instant::now();
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Some(ToEngine::Input(Input::ConnectionClosed { .. }))) => {}
            other => panic!("expected the close, got {other:?}"),
        }
        assert!(
            t0.elapsed() >= Duration::from_millis(500),
            "closed too early"
        );
        acceptor.abort();
    }
}
