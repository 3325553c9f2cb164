//! WebSocket clients for the end-to-end tests (RFC 6455 client side, RFC 7118
//! `sip` subprotocol): blocking tungstenite (the protocol core of
//! async-tungstenite) over a TCP socket, or over TLS (rustls with the ring
//! provider) for WSS. The test server's WSS certificate is self-signed, so
//! the TLS client here accepts any certificate — for tests only.

use async_tungstenite::tungstenite::{self, client::IntoClientRequest};
use rustls::pki_types::ServerName;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// A byte stream a WebSocket runs over (TCP, or TLS over TCP).
pub(crate) trait Io: Read + Write + Send {}
impl<T: Read + Write + Send> Io for T {}

/// A TLS client session to the test server (any certificate accepted).
pub(crate) fn tls(tcp: TcpStream) -> Result<Box<dyn Io>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(switchboard::tlsdest::AcceptAnyCertificate(
            provider,
        )))
        .with_no_client_auth();
    let name = ServerName::try_from("example.test").map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).map_err(|e| e.to_string())?;
    Ok(Box::new(rustls::StreamOwned::new(conn, tcp)))
}

/// Opens a WebSocket to `addr` (over TLS when `secure`) offering
/// `protocols`; returns it and the TCP socket underneath.
pub(crate) fn connect(
    addr: SocketAddr,
    secure: bool,
    protocols: &[&str],
) -> Result<(tungstenite::WebSocket<Box<dyn Io>>, TcpStream), String> {
    let tcp =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let under = tcp.try_clone().map_err(|e| e.to_string())?;
    let io: Box<dyn Io> = if secure { tls(tcp)? } else { Box::new(tcp) };
    let scheme = if secure { "wss" } else { "ws" };
    let mut req = format!("{scheme}://{addr}/")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    if !protocols.is_empty() {
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            protocols
                .join(", ")
                .parse()
                .map_err(|_| "bad protocol list")?,
        );
    }
    let (ws, _resp) = tungstenite::client(req, io).map_err(|e| e.to_string())?;
    Ok((ws, under))
}

/// Sends `request` on a fresh connection to `addr` and returns what the
/// server answered before closing (bounded by `timeout`).
pub(crate) fn raw_exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> String {
    let mut tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connecting");
    tcp.set_read_timeout(Some(timeout))
        .expect("set_read_timeout");
    tcp.write_all(request).expect("writing");
    let mut out = Vec::new();
    let _ = tcp.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}
