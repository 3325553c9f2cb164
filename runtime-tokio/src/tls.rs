//! SIP over TLS (RFC 3261 §26.2, §18; RFC 5630 for `sips:`): the listener,
//! the server handshake, and outbound TLS connections.
//!
//! - Only TLS 1.2 and 1.3 are offered or accepted (RFC 8996 retired 1.0 and
//!   1.1): a ClientHello offering nothing newer is refused by rustls with a
//!   `protocol_version` alert, logged at info, and costs nothing more.
//! - Every handshake has a deadline (`tls.handshake_timeout_s`): a peer that
//!   stalls it is disconnected when the deadline passes. Handshakes count
//!   toward `service.max_tcp_connections` ([`ConnTable::in_use`]), so a flood
//!   of stalled handshakes is bounded in number as well as in time.
//! - After the handshake the encrypted stream runs as one task, like TCP
//!   ([`net::spawn_stream`], [`crate::stream`]); the engine sees a
//!   [`Transport::Tls`] flow and frames SIP messages like on TCP (§18.3).
//! - The server certificate comes from [`crate::certs::CertResolver`], so a
//!   certificate swap reaches the next handshake and never an open
//!   connection.
//! - Outbound ([`tls_connect`]): the peer's certificate is verified against
//!   `tls.ca_file` or the system roots, for the server name that resolved to
//!   the address when the runtime's own DNS answered for it, else for the IP
//!   address (RFC 5922 §7).

use crate::certs::CertResolver;
use crate::engine_loop::ToEngine;
use crate::net::{self, ConnTable, TcpLimits};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use switchboard_core::{ConnId, Flow, Input, Transport};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The protocol versions offered and accepted.
pub static VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// Files tried, in order, for the system's CA bundle when `tls.ca_file` is
/// empty (Debian/Ubuntu, Fedora/RHEL, openSUSE, Alpine share the first).
pub const SYSTEM_CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The server configuration: TLS 1.2/1.3, no client certificates, the
/// certificate from `resolver`.
pub fn server_config(resolver: Arc<CertResolver>) -> Result<ServerConfig, String> {
    let mut cfg = ServerConfig::builder_with_provider(crate::certs::provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    // Stateless session resumption would need a ticket key rotated by us;
    // the default in-memory session cache (bounded) is enough for phones.
    cfg.ignore_client_order = true;
    Ok(cfg)
}

/// The roots outbound connections verify against: `ca_file`, else the first
/// system bundle that exists. Errors name the file.
pub fn root_store(ca_file: &Path) -> Result<RootCertStore, String> {
    let file = if ca_file.as_os_str().is_empty() {
        match SYSTEM_CA_FILES.iter().map(Path::new).find(|p| p.exists()) {
            Some(p) => p,
            None => {
                tracing::warn!(
                    "no system CA bundle found (looked for {}): outbound TLS connections will fail verification; set tls.ca_file",
                    SYSTEM_CA_FILES.join(", ")
                );
                return Ok(RootCertStore::empty());
            }
        }
    } else {
        ca_file
    };
    let pem = std::fs::read(file)
        .map_err(|e| format!("tls.ca_file: cannot read {}: {e}", file.display()))?;
    let mut roots = RootCertStore::empty();
    let mut bad = 0usize;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        match cert {
            Ok(c) => {
                if roots.add(c).is_err() {
                    bad += 1;
                }
            }
            Err(e) => {
                return Err(format!(
                    "{}: not a PEM certificate file: {e}",
                    file.display()
                ));
            }
        }
    }
    if roots.is_empty() {
        return Err(format!(
            "{}: no usable CA certificate in the file",
            file.display()
        ));
    }
    if bad > 0 {
        tracing::debug!(
            "{}: {bad} certificates skipped (not usable as roots)",
            file.display()
        );
    }
    Ok(roots)
}

/// The client configuration for outbound connections that verify the peer.
pub fn client_config(roots: RootCertStore) -> Result<ClientConfig, String> {
    Ok(
        ClientConfig::builder_with_provider(crate::certs::provider())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| format!("TLS configuration: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// What TLS connections need at run time.
#[derive(Clone)]
pub struct TlsContext {
    /// Accepts inbound handshakes.
    pub acceptor: TlsAcceptor,
    /// Opens outbound ones (verified, no client certificate).
    pub connector: TlsConnector,
    /// Client configurations for destinations with their own TLS options.
    pub clients: Arc<crate::tlsdest::ClientConfigs>,
    /// Deadline of every handshake.
    pub handshake_timeout: Duration,
}

impl std::fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsContext")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// TLS made ready at start: the run-time context and the certificate
/// reloader ([`crate::certs::watch`] runs it).
#[derive(Debug)]
pub struct TlsSetup {
    /// For the listeners and outbound connections.
    pub context: TlsContext,
    /// Swaps the certificate when its files change.
    pub reloader: crate::certs::CertReloader,
    /// The serving certificate's SHA-256 fingerprint.
    pub fingerprint: String,
}

/// Loads (or, with none configured, generates once) the server certificate,
/// and builds the server and client configurations. Every error names the
/// file and the reason. Logs the certificate's fingerprint.
pub fn setup(settings: &switchboard_storage::Settings, domain: &str) -> Result<TlsSetup, String> {
    use crate::certs;
    let t = &settings.tls;
    let (cert, key, generated) = if t.certificate.as_os_str().is_empty() {
        certs::ensure_self_signed(&settings.storage.data_dir, domain)?
    } else {
        (t.certificate.clone(), t.private_key.clone(), false)
    };
    let ck = certs::load_pair(&cert, &key, &certs::provider())
        .map_err(|e| format!("TLS certificate: {e}"))?;
    let fingerprint = certs::leaf_fingerprint(&ck);
    if generated {
        tracing::info!(
            "TLS: generated a self-signed certificate for {domain} in {} (SHA-256 {fingerprint}); set tls.certificate and tls.private_key to use a real one",
            cert.display()
        );
    } else {
        tracing::info!("TLS certificate {} (SHA-256 {fingerprint})", cert.display());
    }
    println!("tls certificate {} sha-256 {fingerprint}", cert.display());
    let resolver = Arc::new(certs::CertResolver::new(ck));
    let server = server_config(resolver.clone())?;
    let roots = root_store(&t.ca_file)?;
    let clients = Arc::new(crate::tlsdest::ClientConfigs::new(roots.clone()));
    let client = client_config(roots)?;
    Ok(TlsSetup {
        context: TlsContext {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            connector: TlsConnector::from(Arc::new(client)),
            clients,
            handshake_timeout: Duration::from_secs(u64::from(t.handshake_timeout_s)),
        },
        reloader: certs::CertReloader::new(resolver, cert, key),
        fingerprint,
    })
}

fn closed(conn: ConnId) -> ToEngine {
    ToEngine::Input(Input::ConnectionClosed {
        now: Instant::now().into_std(),
        conn,
    })
}

/// Accepts TLS connections on `listener` until aborted: each handshake runs
/// in its own task under the deadline, then the connection joins the engine.
pub async fn tls_acceptor(
    listener: TcpListener,
    ctx: TlsContext,
    tx: mpsc::Sender<ToEngine>,
    table: Arc<ConnTable>,
    limits: TcpLimits,
) {
    loop {
        let (stream, remote) =
            crate::net::accept_below(&listener, "TLS", limits.max_connections, || table.in_use())
                .await;
        let guard = table.handshake();
        let (ctx, tx, table) = (ctx.clone(), tx.clone(), table.clone());
        tokio::spawn(async move {
            let Ok(local) = stream.local_addr() else {
                return;
            };
            let _ = stream.set_nodelay(true);
            let accepted =
                tokio::time::timeout(ctx.handshake_timeout, ctx.acceptor.accept(stream)).await;
            drop(guard);
            let tls = match accepted {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::info!("TLS handshake from {remote} failed: {e}");
                    return;
                }
                Err(_) => {
                    tracing::info!(
                        "TLS handshake from {remote} not finished within {:?}: closed",
                        ctx.handshake_timeout
                    );
                    return;
                }
            };
            let flow = Flow {
                transport: Transport::Tls,
                local,
                remote,
                conn: Some(table.next_id()),
            };
            tracing::debug!(
                "{flow}: TLS established ({:?}, {:?})",
                tls.get_ref().1.protocol_version(),
                tls.get_ref().1.negotiated_cipher_suite().map(|s| s.suite())
            );
            net::spawn_stream(tls, flow, tx, table, limits.idle_timeout);
        });
    }
}

/// Opens an outbound TLS connection the engine asked for: TCP connect, then a
/// client handshake for `name` (or the address), both bounded. The peer is
/// verified and no client certificate is sent unless `peer` (a routing
/// destination's options, [`crate::tlsdest`]) says otherwise; its server name
/// wins over `name`. A client certificate that cannot be loaded fails the
/// connect (logged as an error naming the file).
#[allow(clippy::too_many_arguments)]
pub async fn tls_connect(
    conn: ConnId,
    remote: SocketAddr,
    name: Option<String>,
    peer: Option<switchboard_core::TlsPeer>,
    ctx: TlsContext,
    tx: mpsc::Sender<ToEngine>,
    table: Arc<ConnTable>,
    idle: Duration,
) {
    let name = peer.as_ref().and_then(|p| p.server_name.clone()).or(name);
    let connector = match &peer {
        None => ctx.connector.clone(),
        Some(p) => match ctx.clients.get(p) {
            Ok(cfg) => TlsConnector::from(cfg),
            Err(e) => {
                tracing::error!(
                    "TLS connection to destination {} ({remote}) not opened: {e}",
                    p.destination.as_deref().unwrap_or("?")
                );
                let _ = tx.send(closed(conn)).await;
                return;
            }
        },
    };
    let server_name = name
        .as_deref()
        .and_then(|n| ServerName::try_from(n.to_owned()).ok())
        .unwrap_or_else(|| ServerName::IpAddress(remote.ip().into()));
    let shown = name.unwrap_or_else(|| remote.ip().to_string());
    let attempt = async {
        let tcp = TcpStream::connect(remote)
            .await
            .map_err(|e| format!("TCP connect failed: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let local = tcp
            .local_addr()
            .map_err(|e| format!("no local address: {e}"))?;
        let tls = connector
            .connect(server_name, tcp)
            .await
            .map_err(|e| format!("TLS handshake failed: {e}"))?;
        Ok::<_, String>((local, tls))
    };
    match tokio::time::timeout(ctx.handshake_timeout + Duration::from_secs(10), attempt).await {
        Ok(Ok((local, tls))) => {
            let flow = Flow {
                transport: Transport::Tls,
                local,
                remote,
                conn: Some(conn),
            };
            tracing::debug!("{flow}: outbound TLS to {shown} established");
            net::spawn_stream(tls, flow, tx, table, idle);
        }
        Ok(Err(e)) => {
            tracing::info!("TLS connection to {shown} ({remote}): {e}");
            let _ = tx.send(closed(conn)).await;
        }
        Err(_) => {
            tracing::info!("TLS connection to {shown} ({remote}) timed out");
            let _ = tx.send(closed(conn)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_from_a_file_and_errors_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (c, _k, _) = crate::certs::ensure_self_signed(dir.path(), "ca.example").expect("gen");
        let roots = root_store(&c).expect("one root");
        assert_eq!(roots.len(), 1);
        let missing = dir.path().join("missing-ca.pem");
        let e = root_store(&missing).expect_err("missing");
        assert!(e.contains("missing-ca.pem"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").expect("write");
        let e = root_store(&empty).expect_err("empty");
        assert!(e.contains("no usable CA"), "{e}");
        assert!(client_config(roots).is_ok());
    }

    #[tokio::test]
    async fn handshake_over_loopback_presents_the_current_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (c, k, _) = crate::certs::ensure_self_signed(dir.path(), "127.0.0.1").expect("gen");
        let ck = crate::certs::load_pair(&c, &k, &crate::certs::provider()).expect("load");
        let expected = ck.cert.first().expect("leaf").clone();
        let resolver = Arc::new(CertResolver::new(ck));
        let acceptor = TlsAcceptor::from(Arc::new(server_config(resolver).expect("server")));
        let connector = TlsConnector::from(Arc::new(
            client_config(root_store(&c).expect("roots")).expect("client"),
        ));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.expect("accept");
            acceptor.accept(s).await.map(|_| ())
        });
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::IpAddress(addr.ip().into());
        let tls = connector
            .connect(name, tcp)
            .await
            .expect("verified handshake");
        let (_, session) = tls.get_ref();
        assert_eq!(
            session.peer_certificates().and_then(|c| c.first()),
            Some(&expected)
        );
        assert!(server.await.expect("join").is_ok());
    }
}
