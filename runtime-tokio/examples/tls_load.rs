//! A load tool for SIP over TLS (bench/tls/run.sh drives it): opens many
//! idle TLS connections to a running server and reports the server's memory
//! per connection, or runs full handshakes for a while and reports the rate.
//!
//! ```text
//! tls_load idle       <addr> <server-name> <ca.pem> <server-pid> <connections>
//! tls_load handshakes <addr> <server-name> <ca.pem> <server-pid> <seconds> [concurrency]
//! ```
//!
//! In `idle` mode each connection carries one OPTIONS and its 200 first (as
//! a registered phone's would), then stays open without traffic.
//! Memory is the server's resident set (`VmRSS` in /proc/<pid>/status)
//! before, with the connections open and settled, and after they closed.
//! Every handshake is a full one (no session resumption): TLS 1.3, the
//! server's certificate verified against `ca.pem` for `server-name`. The
//! server's CPU time (utime + stime from /proc/<pid>/stat) over the run gives
//! handshakes per server CPU-second, which does not depend on how much of the
//! machine this client takes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

fn rss_kb(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of `pid`, in clock ticks (100 per second on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ')'.
    let rest = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    num(11) + num(12)
}

fn config(ca: &str) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).expect("reading the CA file") {
        roots
            .add(c.expect("a PEM certificate"))
            .expect("a usable root");
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.resumption = rustls::client::Resumption::disabled();
    Arc::new(cfg)
}

type Conn = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn open(addr: &str, name: &str, connector: &TlsConnector) -> Result<Conn, String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let sn = rustls::pki_types::ServerName::try_from(name.to_owned())
        .map_err(|e| format!("server name: {e}"))?;
    connector
        .connect(sn, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))
}

/// Sends one OPTIONS (RFC 3261 §11) on `c` and waits (bounded) for the
/// answer, as a registered phone's connection would have carried traffic.
async fn ping(c: &mut Conn, i: u64) -> Result<(), String> {
    let local = c.get_ref().0.local_addr().map_err(|e| e.to_string())?;
    let msg = format!(
        "OPTIONS sip:{name} SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bK-load-{i};rport\r\n\
         Max-Forwards: 70\r\nFrom: <sip:load@{name}>;tag=l{i}\r\nTo: <sip:{name}>\r\n\
         Call-ID: load-{i}@{local}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        name = "bench.test"
    );
    c.write_all(msg.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    let read = async {
        loop {
            let n = c.read(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("closed".to_owned());
            }
            got.extend_from_slice(buf.get(..n).unwrap_or_default());
            if got.windows(4).any(|w| w == b"\r\n\r\n") {
                return Ok(());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .map_err(|_| "no answer to OPTIONS".to_owned())?
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let (mode, addr, name, ca) = (arg(1), arg(2), arg(3), arg(4));
    let pid: u32 = arg(5).parse().expect("server pid");
    let n: u64 = arg(6).parse().expect("a count");
    let connector = TlsConnector::from(config(&ca));
    match mode.as_str() {
        "idle" => {
            let before = rss_kb(pid);
            let mut conns = Vec::with_capacity(n as usize);
            let t0 = Instant::now();
            for i in 0..n {
                let opened = match open(&addr, &name, &connector).await {
                    Ok(mut c) => ping(&mut c, i).await.map(|()| c),
                    Err(e) => Err(e),
                };
                match opened {
                    Ok(c) => conns.push(c),
                    Err(e) => {
                        eprintln!("connection {i}: {e}");
                        break;
                    }
                }
            }
            let opened = conns.len() as u64;
            // Let the server settle (tasks parked, buffers as they stay).
            tokio::time::sleep(Duration::from_secs(2)).await;
            let during = rss_kb(pid);
            let per = (during.saturating_sub(before) * 1024) / opened.max(1);
            println!(
                "idle TLS connections: {opened} opened in {:.1} s; server RSS {before} kB -> {during} kB: {per} bytes ({:.1} kB) per connection",
                t0.elapsed().as_secs_f64(),
                per as f64 / 1024.0
            );
            for mut c in conns {
                let _ = c.shutdown().await;
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
            println!("after closing them: server RSS {} kB", rss_kb(pid));
        }
        "handshakes" => {
            let secs = n;
            let conc: usize = arg(7).parse().unwrap_or(8);
            let done = Arc::new(AtomicU64::new(0));
            let failed = Arc::new(AtomicU64::new(0));
            let end = Instant::now() + Duration::from_secs(secs);
            let cpu0 = cpu_ticks(pid);
            let t0 = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..conc {
                let (addr, name, connector) = (addr.clone(), name.clone(), connector.clone());
                let (done, failed) = (done.clone(), failed.clone());
                tasks.push(tokio::spawn(async move {
                    while Instant::now() < end {
                        let attempt = open(&addr, &name, &connector);
                        let bounded = tokio::time::timeout(Duration::from_secs(5), attempt);
                        match bounded.await.unwrap_or_else(|_| Err("timed out".into())) {
                            Ok(mut c) => {
                                let _ = c.shutdown().await;
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(_) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
            let wall = t0.elapsed().as_secs_f64();
            let cpu = (cpu_ticks(pid) - cpu0) as f64 / 100.0;
            let ok = done.load(Ordering::Relaxed);
            println!(
                "TLS handshakes: {ok} in {wall:.1} s = {:.0}/s (wall, client on the same machine); server CPU {cpu:.2} s = {:.0} handshakes per server CPU-second; {} failed",
                ok as f64 / wall,
                ok as f64 / cpu.max(0.01),
                failed.load(Ordering::Relaxed)
            );
        }
        _ => {
            eprintln!(
                "usage: tls_load idle|handshakes <addr> <name> <ca.pem> <pid> <n> [concurrency]"
            );
            std::process::exit(2);
        }
    }
}
