//! Opens many idle SIP-over-WebSocket clients (RFC 7118) against a running
//! server, for `bench/ws/measure.sh`: each does the WebSocket handshake with
//! the `sip` subprotocol (over TLS for `wss`), optionally sends one REGISTER
//! (the server must have `security.sip_authentication = false`) and waits
//! for its 200, then stays idle, answering pings, until stdin closes.
//!
//! Usage: `ws_idle <ws|wss> <host:port> <count> [register]`. Prints
//! `ready <count>` once every client is up.

use async_tungstenite::tokio::TokioAdapter;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::tungstenite::client::IntoClientRequest;
use futures_util::StreamExt;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::AsyncBufReadExt;

fn register(i: usize) -> String {
    format!(
        "REGISTER sip:bench.test SIP/2.0\r\nVia: SIP/2.0/WSS c{i}.invalid;branch=z9hG4bK{i};rport\r\n\
         Max-Forwards: 70\r\nTo: <sip:u{i}@bench.test>\r\nFrom: <sip:u{i}@bench.test>;tag=t{i}\r\n\
         Call-ID: idle-{i}\r\nCSeq: 1 REGISTER\r\n\
         Contact: <sip:u{i}@c{i}.invalid;transport=ws>;expires=3600\r\nContent-Length: 0\r\n\r\n"
    )
}

async fn client(
    i: usize,
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsConnector>,
    reg: bool,
    up: tokio::sync::mpsc::Sender<()>,
) -> Result<(), String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let mut req = format!("{scheme}://{addr}/")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "sip".parse().map_err(|_| "header")?,
    );
    let io: Box<dyn AsyncIo> = match tls {
        Some(c) => {
            let name = ServerName::try_from("bench.test").map_err(|e| e.to_string())?;
            Box::new(c.connect(name, tcp).await.map_err(|e| e.to_string())?)
        }
        None => Box::new(tcp),
    };
    let (mut ws, _) = async_tungstenite::client_async(req, TokioAdapter::new(io))
        .await
        .map_err(|e| e.to_string())?;
    if reg {
        ws.send(Message::text(register(i)))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) if t.starts_with("SIP/2.0 200") => break,
                Some(Ok(Message::Text(t))) if t.starts_with("SIP/2.0 1") => {}
                Some(Ok(Message::Text(t))) => return Err(format!("REGISTER: {t}")),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("closed".into()),
            }
        }
    }
    let _ = up.send(()).await;
    // Idle: answer pings until the server or the process ends.
    while let Some(Ok(_)) = ws.next().await {}
    Ok(())
}

trait AsyncIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> AsyncIo for T {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kind), Some(addr), Some(count)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: ws_idle <ws|wss> <host:port> <count> [register]");
        std::process::exit(2);
    };
    let addr: SocketAddr = addr.parse().expect("host:port");
    let count: usize = count.parse().expect("a count");
    let reg = args.get(4).is_some_and(|a| a == "register");
    let tls = (kind == "wss").then(|| {
        let p = Arc::new(rustls::crypto::ring::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(p.clone())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(switchboard::tlsdest::AcceptAnyCertificate(
                p,
            )))
            .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(cfg))
    });
    let (tx, mut rx) = tokio::sync::mpsc::channel(count.max(1));
    // At most 50 handshakes in flight.
    let gate = Arc::new(tokio::sync::Semaphore::new(50));
    for i in 0..count {
        let (tls, tx, gate) = (tls.clone(), tx.clone(), gate.clone());
        tokio::spawn(async move {
            let permit = gate.acquire_owned().await.expect("open");
            let (done_tx, mut done_rx) = tokio::sync::mpsc::channel(1);
            let task = tokio::spawn(client(i, addr, tls, reg, done_tx));
            let _ = done_rx.recv().await;
            drop(permit);
            let _ = tx.send(()).await;
            if let Ok(Err(e)) = task.await {
                eprintln!("client {i}: {e}");
            }
        });
    }
    drop(tx);
    let mut n = 0;
    while n < count && rx.recv().await.is_some() {
        n += 1;
    }
    println!("ready {n}");
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(_)) = lines.next_line().await {}
}
