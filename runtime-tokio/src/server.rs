//! Start-up, the running server, and shutdown.
//!
//! Order matters and every step names what failed: settings (already loaded
//! and validated) → the SIP domain (first-run auto-detection) → the database
//! (opened, migrated; a database that cannot be read stops the start) →
//! extensions, saved registrations and the routing table loaded into the
//! engine (a stored routing configuration the engine refuses stops the start
//! with its reason) → sockets bound
//! ("cannot bind UDP 0.0.0.0:5060: address in use") → tasks started. SIGTERM or
//! SIGINT stops accepting, lets in-flight transactions finish within a bound,
//! flushes storage and exits 0.

use crate::autoconf;
use crate::engine_loop::{EngineParts, spawn_engine_thread};
use crate::net::{self, ConnTable, TcpLimits};
use crate::storage_worker;
use crate::ws::{self, WsCount, WsLimits};
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use switchboard_core::auth::{Algorithm, Ha1Set};
use switchboard_core::registrar::{Extension as CoreExtension, NewBinding};
use switchboard_core::routing::{RoutingConfig, Selection};
use switchboard_core::{Command, Config, Engine, Flow, Listener, Transport};
use switchboard_storage::settings::Routing as RoutingSettings;
use switchboard_storage::{Db, DigestAlgorithm, RouteSelection, Settings};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// Depth of the engine's input channel.
const ENGINE_QUEUE: usize = 8192;

/// A start-up failure: what, and why. Printed as one line; the process exits 1.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads 32 bytes of OS entropy for the engine's RNG seed.
fn os_seed() -> Result<[u8; 32], StartError> {
    use std::io::Read;
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .map_err(|e| StartError(format!("cannot read /dev/urandom for the random seed: {e}")))?;
    Ok(seed)
}

/// The SIP domain: the configured one, or the first-run choice (printed).
pub fn sip_domain(settings: &Settings) -> String {
    if !settings.service.sip_domain.is_empty() {
        return settings.service.sip_domain.clone();
    }
    let auto = autoconf::choose(autoconf::first_ipv4());
    if auto.from_dns {
        tracing::info!(
            "SIP domain not set: using {} (reverse DNS of {})",
            auto.domain,
            auto.address
        );
    } else {
        tracing::info!(
            "SIP domain not set: using the address {} (no reverse DNS name)",
            auto.domain
        );
    }
    auto.domain
}

/// The addresses to listen on, per transport.
fn listen_addrs(settings: &Settings) -> Result<Vec<(Transport, SocketAddr)>, StartError> {
    if settings.service.listen.is_empty() {
        return Err(StartError("service.listen: no address to listen on".into()));
    }
    let mode = settings.service.transport;
    let mut transports = Vec::new();
    if mode.udp() {
        transports.push(Transport::Udp);
    }
    if mode.tcp() {
        transports.push(Transport::Tcp);
    }
    let mut out = Vec::new();
    for ip in &settings.service.listen {
        for t in &transports {
            out.push((*t, SocketAddr::new(*ip, settings.service.sip_port)));
        }
        if settings.tls.enabled {
            out.push((Transport::Tls, SocketAddr::new(*ip, settings.tls.port)));
        }
    }
    Ok(out)
}

/// WebSocket listeners: transport, address, and whether a bind failure stops
/// the start (a port set in the file) or only warns (the default 80/443).
fn ws_listen_addrs(settings: &Settings) -> Vec<(Transport, SocketAddr, bool)> {
    use switchboard_storage::settings::WebSocket as W;
    let w = &settings.websocket;
    let mut out = Vec::new();
    for (t, port, default) in [
        (Transport::Ws, w.ws_port, W::DEFAULT_WS_PORT),
        (Transport::Wss, w.wss_port, W::DEFAULT_WSS_PORT),
    ] {
        let (port, required) = match port {
            Some(0) => continue,
            Some(p) => (p, true),
            None => (default, false),
        };
        for ip in &settings.service.listen {
            out.push((t, SocketAddr::new(*ip, port), required));
        }
    }
    out
}

/// Starts accepting on a listener (TCP, TLS, WS or WSS), on the engine thread.
type StreamAcceptor = Box<
    dyn FnOnce(TcpListener) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send,
>;

/// Builds the engine configuration from the settings.
pub fn engine_config(
    settings: &Settings,
    domain: &str,
    listeners: Vec<Listener>,
) -> Result<Config, StartError> {
    let s = &settings.service;
    let mut cfg = Config::new(domain, listeners);
    cfg.rng_seed = os_seed()?;
    cfg.wall_epoch = SystemTime::now();
    cfg.t1 = Duration::from_millis(u64::from(s.t1_ms));
    cfg.t2 = Duration::from_millis(u64::from(s.t2_ms));
    cfg.t4 = Duration::from_millis(u64::from(s.t4_ms));
    cfg.min_expires = s.min_expires;
    cfg.max_expires = s.max_expires;
    cfg.default_expires = s.default_expires;
    cfg.register_auth = settings.security.sip_authentication;
    cfg.call_auth =
        settings.security.sip_authentication && settings.security.authenticate_local_calls;
    cfg.large_requests_over_tcp = s.tcp_for_large_packets && s.transport.tcp();
    cfg.enum_enabled = s.enum_enabled;
    cfg.enum_suffix = s.enum_suffix.trim_end_matches('.').to_owned();
    cfg.process_3xx_locally = s.process_3xx_locally;
    cfg.nonce_lifetime = Duration::from_secs(u64::from(settings.security.nonce_lifetime_s));
    cfg.digest_algorithms = settings
        .security
        .digest_algorithms
        .iter()
        .map(|a| match a {
            DigestAlgorithm::Sha256 => Algorithm::Sha256,
            DigestAlgorithm::Md5 => Algorithm::Md5,
        })
        .collect();
    // Extension features (issue 4).
    cfg.voicemail_server = s.voicemail_addr().and_then(Result::ok);
    cfg.pickup_prefix = s.pickup_prefix.clone();
    let secs = |n: u32| (n > 0).then(|| Duration::from_secs(u64::from(n)));
    cfg.max_ring_duration = secs(settings.security.max_ring_duration_s);
    cfg.max_session_duration = secs(settings.security.max_session_duration_s);
    cfg.session_idle_timeout = secs(settings.security.session_idle_timeout_s);
    cfg.validate()
        .map_err(|e| StartError(format!("invalid settings: {e}")))?;
    Ok(cfg)
}

/// Converts a stored extension for the engine.
pub fn core_extension(e: &switchboard_storage::Extension) -> CoreExtension {
    let mut x = CoreExtension::new(e.username.clone(), e.ha1_md5.clone(), e.ha1_sha256.clone());
    x.enabled = e.enabled;
    x.display_name = (!e.display_name.is_empty()).then(|| e.display_name.clone());
    // A stored target that no longer parses is dropped (the CLI validates it).
    x.redirect = e
        .redirect_target
        .as_deref()
        .and_then(|t| switchboard_core::registrar::Redirect::parse(t).ok());
    x.allow_external = e.allow_external;
    x.external_route = e
        .external_route
        .clone()
        .filter(|r| !r.is_empty() && !r.eq_ignore_ascii_case("none"));
    x
}

/// The routing configuration to put in force: the database's destinations
/// and routes (passwords decrypted) with the `[routing]` settings. Not
/// validated here: the engine's `Command::ReplaceRouting` does it.
pub fn routing_config(db: &Db, settings: &RoutingSettings) -> Result<RoutingConfig, String> {
    let mut cfg = db.load_routing().map_err(|e| e.to_string())?;
    cfg.selection = match settings.selection {
        RouteSelection::Hunting => Selection::Hunting,
        RouteSelection::LoadSharing => Selection::LoadSharing,
    };
    cfg.failover_on_decline = settings.failover_on_decline;
    Ok(cfg)
}

/// The line logged (info) whenever a routing configuration is put in force:
/// `routing: N destinations, M routes in force` (M counts enabled routes).
pub fn routing_summary(cfg: &RoutingConfig) -> String {
    format!(
        "routing: {} destinations, {} routes in force",
        cfg.destinations.len(),
        cfg.routes.iter().filter(|r| r.enabled).count()
    )
}

/// HA1 digests for a new password.
pub fn ha1(username: &str, realm: &str, password: &str) -> Ha1Set {
    Ha1Set::from_password(username, realm, password)
}

fn restore(
    b: &switchboard_storage::SavedBinding,
    now: std::time::Instant,
    now_unix: i64,
) -> Option<NewBinding> {
    let left = b.expires_at - now_unix;
    if left <= 0 {
        return None;
    }
    Some(NewBinding {
        contact: b.contact.clone().into(),
        contact_key: b.contact_key.clone().into(),
        q: b.q,
        expires_at: now + Duration::from_secs(left as u64),
        call_id: b.call_id.clone().into(),
        cseq: b.cseq,
        flow: Flow {
            transport: Transport::parse(&b.transport).unwrap_or(Transport::Udp),
            local: b.local_addr,
            remote: b.remote_addr,
            conn: None, // the connection did not survive the restart
        },
        instance: b.instance.clone().map(Into::into),
        reg_id: b.reg_id,
        path: b.path.iter().map(|p| p.clone().into()).collect(),
        user_agent: b.user_agent.clone().map(Into::into),
    })
}

/// Runs the server until a signal stops it.
pub async fn run(settings: Settings) -> Result<(), StartError> {
    let domain = sip_domain(&settings);
    let db_path = settings.database_path();
    let mut db = Db::open(&db_path).map_err(|e| StartError(e.to_string()))?;
    // Read before the list: a change committed in between moves it, and the
    // extension watcher then compares again.
    let ext_generation = db
        .extensions_generation()
        .map_err(|e| StartError(e.to_string()))?;
    // Same order for routing: the generation first, then the content.
    let routing_generation = db
        .routing_generation()
        .map_err(|e| StartError(e.to_string()))?;
    let routing = routing_config(&db, &settings.routing).map_err(StartError)?;
    let now_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let saved = if settings.service.save_registrations {
        db.load_bindings(now_unix)
            .map_err(|e| StartError(e.to_string()))?
    } else {
        Vec::new()
    };

    // The TLS certificate before any socket: a bad file stops the start, naming it.
    // WSS uses the same certificate, so it is set up when either is on.
    let tls = if settings.tls.enabled || settings.websocket.wss_port != Some(0) {
        Some(crate::tls::setup(&settings, &domain).map_err(StartError)?)
    } else {
        None
    };

    // Bind every socket before anything starts, so a port in use stops the start cleanly.
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    let mut listeners = Vec::new();
    for (t, addr) in listen_addrs(&settings)? {
        // A host without IPv6 cannot bind "::": skip that family with a warning
        // (the default listens on both) rather than refuse to start.
        if addr.ip() == IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED) && !ipv6_available() {
            tracing::warn!("IPv6 is not available on this host: not listening on {t} {addr}");
            continue;
        }
        match t {
            Transport::Udp => {
                let s = bind_udp(addr)?;
                listeners.push(Listener {
                    transport: t,
                    addr: s.local_addr().unwrap_or(addr),
                    advertise: None,
                });
                udp.push(s);
            }
            _ => {
                let l = bind_tcp(addr, t)?;
                listeners.push(Listener {
                    transport: t,
                    addr: l.local_addr().unwrap_or(addr),
                    advertise: None,
                });
                tcp.push((t, l));
            }
        }
    }
    let mut ws_sockets = Vec::new();
    for (t, addr, required) in ws_listen_addrs(&settings) {
        if addr.ip() == IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED) && !ipv6_available() {
            continue; // warned about above
        }
        match bind_stream(addr, t.via_token()) {
            Ok(l) => {
                listeners.push(Listener {
                    transport: t,
                    addr: l.local_addr().unwrap_or(addr),
                    advertise: None,
                });
                ws_sockets.push((t, l));
            }
            Err(e) if !required => tracing::warn!(
                "{e}; running without {t} there (set websocket.{}_port to a free port, or 0 to turn it off)",
                t.param()
            ),
            Err(e) => return Err(e),
        }
    }
    let advertise = advertised_address(&domain);
    for l in &mut listeners {
        if l.addr.ip().is_unspecified() {
            l.advertise = Some(advertise.clone());
        }
    }
    let cfg = engine_config(&settings, &domain, listeners.clone())?;
    let start = std::time::Instant::now();
    let mut engine =
        Engine::new(cfg, start).map_err(|e| StartError(format!("invalid settings: {e}")))?;
    let mut stale_realm = 0;
    let mut fingerprints = std::collections::BTreeMap::new();
    // Streamed from the database straight into the engine (no list of rows).
    db.for_each_extension(|e| {
        if e.realm != domain {
            stale_realm += 1;
        }
        fingerprints.insert(e.username.clone(), crate::reload::fingerprint(&e));
        if let Err(err) = engine.handle_command(start, Command::UpsertExtension(core_extension(&e)))
        {
            tracing::warn!("extension {:?} skipped: {err}", e.username);
        }
    })
    .map_err(|e| StartError(e.to_string()))?;
    let extension_count = fingerprints.len();
    if stale_realm > 0 {
        tracing::warn!(
            "{stale_realm} extensions have passwords set for another SIP domain than {domain}; they cannot authenticate until their passwords are set again (switchboard ext passwd)"
        );
    }
    engine
        .handle_command(start, Command::ReplaceRouting(routing.clone()))
        .map_err(|e| {
            StartError(format!(
                "invalid routing in database {}: {e} (fix it with `switchboard dest …` / `switchboard route …`)",
                db_path.display()
            ))
        })?;
    tracing::info!("{}", routing_summary(&routing));
    crate::tlsdest::warn_unverified(&crate::tlsdest::unverified(&routing));
    let mut restored = 0;
    for b in &saved {
        if let Some(nb) = restore(b, start, now_unix)
            && engine
                .handle_command(
                    start,
                    Command::RestoreBinding {
                        aor: b.aor.clone(),
                        binding: nb,
                    },
                )
                .is_ok()
        {
            restored += 1;
        }
    }
    let (storage, storage_thread) = storage_worker::start(db);

    let (tx, rx) = mpsc::channel(ENGINE_QUEUE);
    let table = Arc::new(ConnTable::default());
    let limits = TcpLimits {
        max_connections: settings.service.max_tcp_connections as usize,
        idle_timeout: Duration::from_secs(u64::from(settings.service.tcp_idle_timeout_s)),
    };
    let mut tasks = Vec::new();
    // Stream listeners are handed to the engine thread once it runs (below).
    let mut stream_acceptors: Vec<(TcpListener, StreamAcceptor)> = Vec::new();
    for (t, l) in tcp {
        match (t, &tls) {
            (Transport::Tls, Some(tls)) => {
                let (ctx, tx, table) = (tls.context.clone(), tx.clone(), table.clone());
                stream_acceptors.push((
                    l,
                    Box::new(move |l| {
                        Box::pin(crate::tls::tls_acceptor(l, ctx, tx, table, limits))
                    }),
                ));
            }
            _ => {
                let (tx, table) = (tx.clone(), table.clone());
                stream_acceptors.push((
                    l,
                    Box::new(move |l| Box::pin(net::tcp_acceptor(l, tx, table, limits))),
                ));
            }
        }
    }
    let ws_count = Arc::new(WsCount::default());
    let ws_limits = WsLimits::from_settings(&settings.websocket);
    // WSS shares the TLS transport's hot-swapped certificate (certs.rs).
    let wss = tls.as_ref().map(|t| t.context.acceptor.clone());
    for (t, l) in ws_sockets {
        let tls = if t == Transport::Wss {
            wss.clone()
        } else {
            None
        };
        let (tx, table, count) = (tx.clone(), table.clone(), ws_count.clone());
        stream_acceptors.push((
            l,
            Box::new(move |l| Box::pin(ws::ws_acceptor(l, tls, tx, table, count, ws_limits))),
        ));
    }
    tasks.push(tokio::spawn(stats_on_sigusr1(tx.clone())));
    let tls_context = tls.as_ref().map(|t| t.context.clone());
    if let Some(t) = tls {
        tasks.push(tokio::spawn(crate::certs::watch(
            t.reloader,
            crate::certs::POLL_INTERVAL,
        )));
    }
    tasks.push(tokio::spawn(housekeeping(
        db_path.clone(),
        settings.logging.directory.clone(),
        settings.logging.auto_clear_days,
        settings.accounting.call_record_retention_days,
    )));
    tasks.push(tokio::spawn(crate::reload::watch_extensions(
        db_path.clone(),
        tx.clone(),
        fingerprints,
        ext_generation,
    )));
    tasks.push(tokio::spawn(crate::reload::watch_routing(
        db_path.clone(),
        tx.clone(),
        settings.routing.clone(),
        routing_generation,
    )));
    let (stop_tx, stop_rx) = watch::channel(false);
    let parts = EngineParts {
        engine,
        rx,
        tx: tx.clone(),
        table,
        idle: limits.idle_timeout,
        storage: Some(storage.clone()),
        save_registrations: settings.service.save_registrations,
        shutdown: stop_rx,
        grace: Duration::from_secs(5),
        dns: match crate::dns::build(&settings.service.dns_servers) {
            Ok(r) => Some(Arc::new(r)),
            Err(e) => {
                tracing::warn!("{e}: DNS lookups (RFC 3263, ENUM) will fail");
                None
            }
        },
        tls: tls_context,
    };
    let engine_thread = spawn_engine_thread(parts, udp, tokio::runtime::Handle::current())
        .await
        .map_err(StartError)?;
    // Stream connections live on the engine thread: a message read from a
    // connection reaches the engine, and its answer the writer, without
    // waking another thread (each wake-up is a futex call; at a few thousand
    // messages a second they were most of the cost of a TLS REGISTER). The
    // listener is registered again with that thread's runtime, so the
    // connections it accepts are driven by it too.
    for (l, accept) in stream_acceptors {
        tasks.push(engine_thread.runtime().spawn(async move {
            match l.into_std().and_then(TcpListener::from_std) {
                Ok(l) => accept(l).await,
                Err(e) => tracing::error!("cannot move a listener to the engine thread: {e}"),
            }
        }));
    }
    let names: Vec<String> = listeners
        .iter()
        .map(|l| format!("{} {}", l.transport, l.addr))
        .collect();
    tracing::info!(
        "Switchboard {} serving {domain} on {}; {} extensions, {restored} registrations restored",
        env!("CARGO_PKG_VERSION"),
        names.join(", "),
        extension_count
    );
    // The handlers are installed before `ready:` is printed: a supervisor
    // that sends SIGTERM as soon as it sees the line must get a graceful stop,
    // not the default action (death by signal, the database not flushed).
    let stop_signal = shutdown_signal();
    println!(
        "ready: sip domain {domain}; listening on {}",
        names.join(", ")
    );
    stop_signal.await;
    tracing::info!("shutting down: finishing in-flight transactions (at most 5 s)");
    for t in &tasks {
        t.abort(); // stop accepting and reading
    }
    let _ = stop_tx.send(true);
    drop(tx);
    let engine = engine_thread.finish().await.map_err(StartError)?;
    let c = engine.counters();
    storage.flush();
    drop(storage);
    drop(engine);
    let _ = storage_thread.join();
    tracing::info!(
        "stopped: {} requests received, {} calls answered, {} failed",
        c.requests_received,
        c.successful_calls,
        c.failed_calls
    );
    Ok(())
}

/// Can this host open an IPv6 socket at all?
fn ipv6_available() -> bool {
    Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))
        .and_then(|s| s.bind(&SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)).into()))
        .is_ok()
}

/// The host to advertise in Via/Record-Route when listening on every address:
/// the domain when it is an address, else the first non-loopback IPv4 address.
fn advertised_address(domain: &str) -> String {
    if domain.parse::<IpAddr>().is_ok() {
        domain.to_owned()
    } else {
        autoconf::first_ipv4().to_string()
    }
}

/// A socket bound the way a SIP server needs: IPv6 sockets IPv6-only (so
/// `0.0.0.0` and `::` can both be bound on a dual-stack host), address reuse for
/// TCP restarts, and large UDP buffers so bursts are not dropped by the kernel.
fn socket_for(addr: SocketAddr, ty: Type, what: &str) -> Result<Socket, StartError> {
    let domain = if addr.is_ipv6() {
        Domain::IPV6
    } else {
        Domain::IPV4
    };
    let protocol = if ty == Type::DGRAM {
        Protocol::UDP
    } else {
        Protocol::TCP
    };
    let sock = Socket::new(domain, ty, Some(protocol)).map_err(|e| bind_error(what, addr, &e))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)
            .map_err(|e| bind_error(what, addr, &e))?;
    }
    if ty == Type::STREAM {
        sock.set_reuse_address(true)
            .map_err(|e| bind_error(what, addr, &e))?;
    } else {
        // Best effort: the kernel caps these at net.core.{r,w}mem_max.
        let _ = sock.set_recv_buffer_size(8 << 20);
        let _ = sock.set_send_buffer_size(8 << 20);
    }
    sock.set_nonblocking(true)
        .map_err(|e| bind_error(what, addr, &e))?;
    sock.bind(&addr.into())
        .map_err(|e| bind_error(what, addr, &e))?;
    Ok(sock)
}

/// Binds a non-blocking UDP socket; it is registered with the engine thread's runtime.
fn bind_udp(addr: SocketAddr) -> Result<std::net::UdpSocket, StartError> {
    Ok(socket_for(addr, Type::DGRAM, "UDP")?.into())
}

fn bind_tcp(addr: SocketAddr, t: Transport) -> Result<TcpListener, StartError> {
    bind_stream(addr, t.via_token())
}

/// Binds a listening stream socket; `what` names it in errors (TCP, WS…).
fn bind_stream(addr: SocketAddr, what: &str) -> Result<TcpListener, StartError> {
    let sock = socket_for(addr, Type::STREAM, what)?;
    sock.listen(1024).map_err(|e| bind_error(what, addr, &e))?;
    TcpListener::from_std(sock.into()).map_err(|e| bind_error(what, addr, &e))
}

/// Logs the engine's counters (one `stats:` line) on every SIGUSR1.
async fn stats_on_sigusr1(tx: mpsc::Sender<crate::engine_loop::ToEngine>) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut usr1) = signal(SignalKind::user_defined1()) else {
        tracing::warn!("cannot listen for SIGUSR1: no stats on demand");
        return;
    };
    while usr1.recv().await.is_some() {
        if tx
            .send(crate::engine_loop::ToEngine::LogStats)
            .await
            .is_err()
        {
            return;
        }
    }
}

fn bind_error(what: &str, addr: SocketAddr, e: &std::io::Error) -> StartError {
    let why = match e.kind() {
        std::io::ErrorKind::AddrInUse => "address in use".to_owned(),
        std::io::ErrorKind::PermissionDenied => {
            "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)".to_owned()
        }
        std::io::ErrorKind::AddrNotAvailable => "address not available on this machine".to_owned(),
        _ => e.to_string(),
    };
    StartError(format!("cannot bind {what} {addr}: {why}"))
}

/// Installs the SIGTERM and SIGINT handlers now (not when first polled) and
/// returns a future that completes on the first of them.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate())
        .map_err(|e| tracing::error!("cannot listen for SIGTERM: {e}"))
        .ok();
    let int = signal(SignalKind::interrupt())
        .map_err(|e| tracing::error!("cannot listen for SIGINT: {e}"))
        .ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = wait(term) => {}
            () = wait(int) => {}
        }
    }
}

/// Every hour: removes log files and application-log rows older than the
/// auto-clear period (`logging.auto_clear_days`; 0 keeps everything). Call
/// records are billing data and are never removed by this.
/// Hourly (and once at start): removes log files and application-log rows
/// older than `log_days`, and call records older than `cdr_days` (0 = never).
async fn housekeeping(
    db_path: std::path::PathBuf,
    log_dir: std::path::PathBuf,
    log_days: u32,
    cdr_days: u32,
) {
    if log_days == 0 && cdr_days == 0 {
        return;
    }
    let cutoff = |now: SystemTime, days: u32| {
        now.checked_sub(Duration::from_secs(u64::from(days) * 86_400))
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64)
    };
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let now = SystemTime::now();
        if log_days > 0 {
            let files = crate::logging::auto_clear(&log_dir, log_days, now);
            let rows =
                match Db::open(&db_path).and_then(|mut db| db.prune_log(cutoff(now, log_days))) {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::error!("cannot prune the application log: {e}");
                        0
                    }
                };
            if files > 0 || rows > 0 {
                tracing::info!(
                    "auto-clear: removed {files} log files and {rows} application-log entries older than {log_days} days"
                );
            }
        }
        if cdr_days > 0 {
            match Db::open(&db_path).and_then(|mut db| db.prune_call_records(cutoff(now, cdr_days)))
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    "accounting: removed {n} call records that ended more than {cdr_days} days ago"
                ),
                Err(e) => tracing::error!("cannot prune call records: {e}"),
            }
        }
    }
}
