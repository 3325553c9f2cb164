//! Helpers for the end-to-end tests: run the real `switchboard` binary and talk
//! SIP to it over loopback sockets.
//!
//! - [`Env`]: one test's temporary directory (settings file, data directory,
//!   logs, captured stderr) and its port on 127.0.0.1, free for both UDP and
//!   TCP when picked (RFC 3261 §18: one port serves both transports).
//! - [`Server`]: the spawned binary. [`Server::start`] waits (bounded) for the
//!   `ready:` line it prints on stdout; dropping it kills the process.
//!   [`Server::terminate`] sends SIGTERM (graceful shutdown) and waits, bounded,
//!   for the exit; [`Server::kill`] sends SIGKILL.
//! - [`Ua`]: a minimal SIP user agent over UDP or TCP, built on
//!   `switchboard_core::sip` (messages, RFC 3261 §8.1.1 requests, §8.2.6
//!   responses, §18.3 stream framing) and `switchboard_core::auth` (RFC 7616 /
//!   RFC 8760 digest answers to 401/407, RFC 3261 §22). Every receive has a
//!   timeout; nothing sleeps to synchronise.
//! - [`call`]: a whole authenticated call through the proxy (RFC 3261 §16,
//!   §12: INVITE, 407, INVITE with credentials, 180, 200, ACK and BYE along the
//!   Record-Route set), with assertions on what the callee sees.

#![allow(dead_code)] // each test binary uses a different part of this module

use bytes::Bytes;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use switchboard_core::auth::{Secret, pick_challenge, respond};
use switchboard_core::sip::{
    Frame, HeaderName, Limits, Message, Method, RequestBuilder, ResponseBuilder, StreamFramer,
    ack_for_non2xx, split_commas,
};

/// The SIP domain every test server serves.
pub(crate) const DOMAIN: &str = "example.test";

/// How long the server may take to print `ready:`.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a process may take to exit after SIGTERM (its grace period is 5 s).
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default wait for one expected SIP message.
pub(crate) const MSG_TIMEOUT: Duration = Duration::from_secs(5);

/// The path of the binary under test.
pub(crate) fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_switchboard")
}

/// A port on 127.0.0.1 where both UDP and TCP bind right now (released again).
pub(crate) fn free_port() -> u16 {
    for _ in 0..100 {
        let Ok(udp) = UdpSocket::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(addr) = udp.local_addr() else { continue };
        if TcpListener::bind(addr).is_ok() {
            return addr.port();
        }
    }
    panic!("no port on 127.0.0.1 free for both UDP and TCP after 100 tries");
}

/// One test's directory, settings and port.
pub(crate) struct Env {
    dir: tempfile::TempDir,
    /// The SIP port (UDP and TCP) on 127.0.0.1.
    pub port: u16,
    /// The settings file passed with `-c`.
    pub config: PathBuf,
    /// Extra lines for the `[service]` section.
    pub service_extra: String,
    /// Extra sections appended to the settings file.
    pub extra: String,
    /// `storage.data_dir` (default: `data` in the directory).
    pub data_dir: PathBuf,
    runs: u32,
}

impl Env {
    /// A fresh directory with the default test settings written.
    pub(crate) fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("switchboard-e2e-")
            .tempdir()
            .expect("creating a temporary directory");
        let config = dir.path().join("switchboard.toml");
        let data_dir = dir.path().join("data");
        let mut env = Self {
            dir,
            port: free_port(),
            config,
            service_extra: String::new(),
            extra: String::new(),
            data_dir,
            runs: 0,
        };
        env.write_settings();
        env
    }

    /// The temporary directory.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The database file.
    pub(crate) fn db_path(&self) -> PathBuf {
        self.data_dir.join("switchboard.db")
    }

    /// The server's SIP address.
    pub(crate) fn server_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The settings text for this environment.
    pub(crate) fn settings_text(&self) -> String {
        let d = self.dir().display();
        format!(
            "[service]\nsip_domain = \"{DOMAIN}\"\nlisten = [\"127.0.0.1\"]\nsip_port = {}\n\
             save_registrations = true\n{}\n\
             [security]\nsip_authentication = true\nauthenticate_local_calls = true\n\n\
             [logging]\nlevel = \"developer\"\ndirectory = \"{d}/logs\"\n\n\
             [storage]\ndata_dir = \"{}\"\n\n{}",
            self.port,
            self.service_extra,
            self.data_dir.display(),
            self.extra
        )
    }

    /// (Re)writes the settings file from the fields.
    pub(crate) fn write_settings(&mut self) {
        std::fs::write(&self.config, self.settings_text()).expect("writing the settings file");
    }

    /// Runs `switchboard -c <config> ext add <user> --password-stdin`.
    pub(crate) fn add_extension(&self, user: &str, password: &str) {
        let out = run_with_stdin(
            &[
                "-c",
                path_str(&self.config),
                "ext",
                "add",
                user,
                "--password-stdin",
            ],
            &format!("{password}\n"),
        );
        assert!(
            out.status.success(),
            "ext add {user} failed: {}\n{}",
            out.status,
            out.stderr
        );
    }

    /// A file for the next run's stderr.
    fn next_stderr(&mut self) -> PathBuf {
        self.runs += 1;
        self.dir().join(format!("stderr-{}.log", self.runs))
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// What a finished process printed.
pub(crate) struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// Waits (bounded) for `child` to exit; kills it when it does not.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if Instant::now() < end => {
                // Bounded polling for the exit (not synchronisation by sleeping).
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// Runs the binary with `args`, feeding `stdin`, and waits (bounded) for it.
pub(crate) fn run_with_stdin(args: &[&str], stdin: &str) -> Finished {
    let out_dir = tempfile::tempdir().expect("creating a temporary directory");
    let out = out_dir.path().join("stdout");
    let err = out_dir.path().join("stderr");
    let mut child = Command::new(binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(std::fs::File::create(&out).expect("stdout file"))
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .spawn()
        .expect("spawning switchboard");
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin.as_bytes());
    }
    let status = wait_bounded(&mut child, EXIT_TIMEOUT)
        .unwrap_or_else(|| panic!("switchboard {args:?} did not exit within {EXIT_TIMEOUT:?}"));
    Finished {
        status,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}

/// Runs the binary with `args` (no stdin) and waits (bounded) for it.
pub(crate) fn run(args: &[&str]) -> Finished {
    run_with_stdin(args, "")
}

/// The running server.
pub(crate) struct Server {
    child: Child,
    /// Its SIP address.
    pub addr: SocketAddr,
    /// The `ready:` line.
    pub ready: String,
    stderr: PathBuf,
}

/// Why a server did not start.
#[derive(Debug)]
pub(crate) struct StartFailure {
    /// Its exit status, if it exited.
    pub status: Option<ExitStatus>,
    /// What it wrote on stderr.
    pub stderr: String,
}

impl Server {
    /// Starts the server for `env`; on the rare clash for its port, picks
    /// another port and tries again.
    pub(crate) fn start(env: &mut Env) -> Self {
        for _ in 0..5 {
            match Self::try_start(env) {
                Ok(s) => return s,
                Err(f) if f.stderr.contains("address in use") => {
                    env.port = free_port();
                    env.write_settings();
                }
                Err(f) => panic!("switchboard did not start: {f:?}"),
            }
        }
        panic!("switchboard did not start: its port was taken five times");
    }

    /// Starts the server for `env` once (same port, e.g. a restart).
    pub(crate) fn try_start(env: &mut Env) -> Result<Self, StartFailure> {
        let stderr = env.next_stderr();
        let mut child = Command::new(binary())
            .args(["-c", path_str(&env.config)])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("spawning switchboard");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Forward every line (and keep draining so the pipe never fills).
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    // Nobody listens any more; keep draining.
                }
            }
        });
        let end = Instant::now() + START_TIMEOUT;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.starts_with("ready:") => {
                    return Ok(Self {
                        child,
                        addr: env.server_addr(),
                        ready: line,
                        stderr,
                    });
                }
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = wait_bounded(&mut child, EXIT_TIMEOUT);
                    return Err(StartFailure {
                        status,
                        stderr: std::fs::read_to_string(&stderr).unwrap_or_default(),
                    });
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(StartFailure {
                        status: None,
                        stderr: format!(
                            "no ready line within {START_TIMEOUT:?}; stderr:\n{}",
                            std::fs::read_to_string(&stderr).unwrap_or_default()
                        ),
                    });
                }
            }
        }
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote on stderr so far.
    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (bounded) for the exit.
    pub(crate) fn terminate(mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -TERM failed");
        let status = wait_bounded(&mut self.child, EXIT_TIMEOUT);
        status.unwrap_or_else(|| {
            panic!(
                "switchboard did not exit within {EXIT_TIMEOUT:?} of SIGTERM; stderr:\n{}",
                self.stderr()
            )
        })
    }

    /// Sends SIGKILL (at once, from this process) and reaps the process.
    pub(crate) fn kill(mut self) {
        self.child.kill().expect("sending SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Numbers for branches, tags and Call-IDs, unique within the test binary.
fn unique() -> u32 {
    static N: AtomicU32 = AtomicU32::new(1);
    N.fetch_add(1, Ordering::Relaxed)
}

/// The link a UA talks over.
enum Link {
    Udp(UdpSocket),
    Tcp {
        stream: TcpStream,
        framer: StreamFramer,
    },
}

/// A minimal SIP user agent for user `user` of [`DOMAIN`].
pub(crate) struct Ua {
    /// The user part (the extension).
    pub user: String,
    password: String,
    server: SocketAddr,
    link: Link,
    local: SocketAddr,
    reg_call_id: String,
    reg_tag: String,
    reg_cseq: u32,
    /// Every message received and skipped, for failure messages.
    skipped: Vec<String>,
}

impl Ua {
    /// A UA on a UDP socket of its own.
    pub(crate) fn udp(server: SocketAddr, user: &str, password: &str) -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("binding a UDP socket");
        let local = sock.local_addr().expect("local address");
        Self::with_link(server, user, password, Link::Udp(sock), local)
    }

    /// A UA with a TCP connection to the server.
    pub(crate) fn tcp(server: SocketAddr, user: &str, password: &str) -> Self {
        let stream = TcpStream::connect_timeout(&server, MSG_TIMEOUT).expect("connecting over TCP");
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().expect("local address");
        let link = Link::Tcp {
            stream,
            framer: StreamFramer::new(Limits::default()),
        };
        Self::with_link(server, user, password, link, local)
    }

    fn with_link(
        server: SocketAddr,
        user: &str,
        password: &str,
        link: Link,
        local: SocketAddr,
    ) -> Self {
        let n = unique();
        Self {
            user: user.to_owned(),
            password: password.to_owned(),
            server,
            link,
            local,
            reg_call_id: format!("reg-{user}-{n}-{}@127.0.0.1", std::process::id()),
            reg_tag: format!("rt{n}"),
            reg_cseq: 0,
            skipped: Vec::new(),
        }
    }

    /// `UDP` or `TCP`.
    pub(crate) fn transport(&self) -> &'static str {
        match self.link {
            Link::Udp(_) => "UDP",
            Link::Tcp { .. } => "TCP",
        }
    }

    /// Our address.
    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    /// Our address of record.
    pub(crate) fn aor(&self) -> String {
        format!("sip:{}@{DOMAIN}", self.user)
    }

    /// Our contact URI (with `transport=tcp` over TCP).
    pub(crate) fn contact_uri(&self) -> String {
        match self.link {
            Link::Udp(_) => format!("sip:{}@{}", self.user, self.local),
            Link::Tcp { .. } => format!("sip:{}@{};transport=tcp", self.user, self.local),
        }
    }

    /// A fresh Via value for a request we send (§8.1.1.7) and its branch.
    pub(crate) fn via(&self) -> (String, String) {
        let branch = format!("z9hG4bK-e2e-{}-{}", self.user, unique());
        (
            format!(
                "SIP/2.0/{} {};branch={branch};rport",
                self.transport(),
                self.local
            ),
            branch,
        )
    }

    /// A fresh tag.
    pub(crate) fn tag(&self) -> String {
        format!("{}-{}", self.user, unique())
    }

    /// Sends raw bytes to the server.
    pub(crate) fn send(&mut self, data: &[u8]) {
        match &mut self.link {
            Link::Udp(s) => {
                s.send_to(data, self.server).expect("sending a datagram");
            }
            Link::Tcp { stream, .. } => stream.write_all(data).expect("writing to the stream"),
        }
    }

    /// The next message, or `None` after `timeout`. Keep-alives are skipped;
    /// something that does not parse is a test failure.
    pub(crate) fn recv(&mut self, timeout: Duration) -> Option<Message> {
        let end = Instant::now() + timeout;
        match &mut self.link {
            Link::Udp(s) => {
                let mut buf = vec![0u8; 65_536];
                loop {
                    let left = end.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    s.set_read_timeout(Some(left)).expect("set_read_timeout");
                    match s.recv_from(&mut buf) {
                        Ok((n, _)) => {
                            let raw = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                            return Some(parse(raw));
                        }
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) =>
                        {
                            return None;
                        }
                        Err(_) => {} // ICMP errors from earlier sends
                    }
                }
            }
            Link::Tcp { stream, framer } => loop {
                match framer.next() {
                    Some(Ok(Frame::Message(raw))) => return Some(parse(raw)),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => panic!("the server sent a stream we cannot frame: {e:?}"),
                    None => {}
                }
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                stream
                    .set_read_timeout(Some(left))
                    .expect("set_read_timeout");
                let mut buf = [0u8; 16 * 1024];
                match stream.read(&mut buf) {
                    Ok(0) => panic!("the server closed our TCP connection"),
                    Ok(n) => framer.push(buf.get(..n).unwrap_or_default()),
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        return None;
                    }
                    Err(e) => panic!("reading from the server failed: {e}"),
                }
            },
        }
    }

    /// The next message matching `want` within `timeout`; other messages are
    /// skipped (and listed if the wait fails).
    pub(crate) fn expect(
        &mut self,
        what: &str,
        timeout: Duration,
        want: impl Fn(&Message) -> bool,
    ) -> Message {
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Some(m) if want(&m) => return m,
                Some(m) => self
                    .skipped
                    .push(String::from_utf8_lossy(m.raw()).into_owned()),
                None => panic!(
                    "{} ({}): no {what} within {timeout:?}; skipped:\n{}",
                    self.user,
                    self.transport(),
                    self.skipped.join("\n----\n")
                ),
            }
        }
    }

    /// The next final or non-100 provisional response to `method`.
    pub(crate) fn expect_response(&mut self, method: Method) -> Message {
        let what = format!("response to {method}");
        self.expect(&what, MSG_TIMEOUT, |m| {
            !m.is_request() && m.cseq().method == method && m.status() != Some(100)
        })
    }

    /// The next request with `method`.
    pub(crate) fn expect_request(&mut self, method: Method) -> Message {
        let what = format!("{method} request");
        self.expect(&what, MSG_TIMEOUT, |m| m.method() == Some(&method))
    }

    /// Credentials answering the 401/407 `resp` for `method` to `uri`:
    /// the header to add and its value.
    pub(crate) fn credentials(
        &self,
        resp: &Message,
        method: &str,
        uri: &str,
    ) -> (HeaderName, String) {
        let (ask, answer) = match resp.status() {
            Some(401) => (HeaderName::WwwAuthenticate, HeaderName::Authorization),
            Some(407) => (
                HeaderName::ProxyAuthenticate,
                HeaderName::ProxyAuthorization,
            ),
            other => panic!("not a challenge: {other:?}"),
        };
        let ch = pick_challenge(resp.header_values(ask))
            .unwrap_or_else(|| panic!("no usable challenge in {}", text(resp)));
        assert_eq!(ch.realm, DOMAIN, "the realm is the SIP domain");
        let cnonce = format!("cn{}", unique());
        let creds = respond(
            &ch,
            method,
            uri,
            &self.user,
            Secret::Password(&self.password),
            &cnonce,
            1,
        );
        (answer, creds.to_string())
    }

    fn register_request(&mut self, expires: u32, auth: Option<(HeaderName, String)>) -> Bytes {
        self.reg_cseq += 1;
        let (via, _) = self.via();
        let mut b = RequestBuilder::new(&Method::Register, &format!("sip:{DOMAIN}"))
            .header(HeaderName::Via, via)
            .header(HeaderName::MaxForwards, 70)
            .header(
                HeaderName::From,
                format!("<{}>;tag={}", self.aor(), self.reg_tag),
            )
            .header(HeaderName::To, format!("<{}>", self.aor()))
            .header(HeaderName::CallId, &self.reg_call_id)
            .header(HeaderName::CSeq, format!("{} REGISTER", self.reg_cseq))
            .header(HeaderName::Contact, format!("<{}>", self.contact_uri()))
            .header(HeaderName::Expires, expires);
        if let Some((name, value)) = auth {
            b = b.header(name, value);
        }
        b.build()
    }

    /// REGISTERs our contact: a request without credentials, which must be
    /// challenged with 401, then one answering the challenge. Returns the
    /// final response to the second (whatever its status).
    pub(crate) fn register(&mut self, expires: u32) -> Message {
        let req = self.register_request(expires, None);
        self.send(&req);
        let challenge = self.expect_response(Method::Register);
        assert_eq!(
            challenge.status(),
            Some(401),
            "REGISTER without credentials: {}",
            text(&challenge)
        );
        let auth = self.credentials(&challenge, "REGISTER", &format!("sip:{DOMAIN}"));
        let req = self.register_request(expires, Some(auth));
        self.send(&req);
        self.expect_response(Method::Register)
    }

    /// [`Ua::register`], asserting a 200 that lists our contact with an expiry
    /// in (0, `expires`]. Returns the granted expiry.
    pub(crate) fn register_ok(&mut self, expires: u32) -> u32 {
        let resp = self.register(expires);
        assert_eq!(resp.status(), Some(200), "REGISTER: {}", text(&resp));
        let contact = self.contact_uri();
        let granted = resp
            .header_values(HeaderName::Contact)
            .flat_map(split_commas)
            .find(|c| c.contains(&format!("<{contact}>")))
            .unwrap_or_else(|| panic!("200 does not list {contact}: {}", text(&resp)))
            .split(';')
            .find_map(|p| p.trim().strip_prefix("expires="))
            .unwrap_or_else(|| panic!("our contact has no expires in {}", text(&resp)))
            .parse::<u32>()
            .expect("expires is a number");
        assert!(
            granted > 0 && granted <= expires,
            "granted {granted} for {expires}"
        );
        granted
    }

    /// An OPTIONS to the server itself (§11) with `call_id`.
    pub(crate) fn options_request(&self, call_id: &str) -> Bytes {
        let (via, _) = self.via();
        RequestBuilder::new(&Method::Options, &format!("sip:{DOMAIN}"))
            .header(HeaderName::Via, via)
            .header(HeaderName::MaxForwards, 70)
            .header(
                HeaderName::From,
                format!("<{}>;tag={}", self.aor(), self.tag()),
            )
            .header(HeaderName::To, format!("<sip:{DOMAIN}>"))
            .header(HeaderName::CallId, call_id)
            .header(HeaderName::CSeq, "1 OPTIONS")
            .build()
    }

    /// Sends OPTIONS to the server itself and returns the final response.
    pub(crate) fn options(&mut self) -> Message {
        let call_id = format!("opt-{}@127.0.0.1", unique());
        let req = self.options_request(&call_id);
        self.send(&req);
        self.expect("response to OPTIONS", MSG_TIMEOUT, |m| {
            !m.is_request() && m.call_id() == call_id && m.status() != Some(100)
        })
    }
}

/// Parses a message the server sent; a parse failure is a test failure.
fn parse(raw: Bytes) -> Message {
    Message::parse(raw.clone(), &Limits::default()).unwrap_or_else(|e| {
        panic!(
            "the server sent something that does not parse ({e:?}):\n{}",
            String::from_utf8_lossy(&raw)
        )
    })
}

/// The message as text, for assertion messages.
pub(crate) fn text(m: &Message) -> String {
    String::from_utf8_lossy(m.raw()).into_owned()
}

/// The URI inside `<…>` of a name-addr value.
pub(crate) fn uri_of(name_addr: &str) -> &str {
    match (name_addr.find('<'), name_addr.find('>')) {
        (Some(a), Some(b)) if a < b => name_addr.get(a + 1..b).unwrap_or(name_addr),
        _ => name_addr.split(';').next().unwrap_or(name_addr).trim(),
    }
}

/// Every element of every `name` header, in order.
pub(crate) fn elements(m: &Message, name: HeaderName) -> Vec<String> {
    m.header_values(name)
        .flat_map(split_commas)
        .map(|s| s.trim().to_owned())
        .collect()
}

/// What [`call`] leaves behind.
pub(crate) struct CallDone {
    /// The call's Call-ID.
    pub call_id: String,
}

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// One authenticated call from `caller` to `callee` (registered) through the
/// server at `server_port`, answered and hung up by the caller.
pub(crate) fn call(caller: &mut Ua, callee: &mut Ua, server_port: u16) -> CallDone {
    let target = format!("sip:{}@{DOMAIN}", callee.user);
    let call_id = format!("call-{}-{}@127.0.0.1", unique(), std::process::id());
    let from_tag = caller.tag();
    let from = format!("<{}>;tag={from_tag}", caller.aor());
    let invite = |caller: &Ua, cseq: u32, auth: Option<(HeaderName, String)>| {
        let (via, _) = caller.via();
        let mut b = RequestBuilder::new(&Method::Invite, &target)
            .header(HeaderName::Via, via)
            .header(HeaderName::MaxForwards, 70)
            .header(HeaderName::From, &from)
            .header(HeaderName::To, format!("<{target}>"))
            .header(HeaderName::CallId, &call_id)
            .header(HeaderName::CSeq, format!("{cseq} INVITE"))
            .header(HeaderName::Contact, format!("<{}>", caller.contact_uri()));
        if let Some((name, value)) = auth {
            b = b.header(name, value);
        }
        b.body("application/sdp", SDP.as_bytes()).build()
    };

    // 1. The INVITE without credentials is challenged (authenticate_local_calls).
    let first = invite(caller, 1, None);
    caller.send(&first);
    let challenge = caller.expect_response(Method::Invite);
    assert_eq!(challenge.status(), Some(407), "{}", text(&challenge));
    let first = parse(first);
    caller.send(&ack_for_non2xx(&first, &challenge));

    // 2. With credentials it reaches the callee.
    let auth = caller.credentials(&challenge, "INVITE", &target);
    caller.send(&invite(caller, 2, Some(auth)));
    let inv = callee.expect_request(Method::Invite);
    assert_eq!(
        inv.request_uri(),
        Some(callee.contact_uri().as_str()),
        "{}",
        text(&inv)
    );
    assert_eq!(inv.call_id(), call_id);
    assert_eq!(inv.max_forwards(), Ok(Some(69)), "Max-Forwards decremented");
    let vias = elements(&inv, HeaderName::Via);
    assert_eq!(
        vias.len(),
        2,
        "the proxy's Via on top of the caller's: {vias:?}"
    );
    let top = vias.first().expect("two Vias");
    assert!(
        top.starts_with(&format!(
            "SIP/2.0/{} 127.0.0.1:{server_port};",
            callee.transport()
        )),
        "top Via is the proxy's over the callee's transport: {top}"
    );
    assert!(top.contains("branch=z9hG4bK"), "RFC 3261 branch: {top}");
    assert!(
        vias.get(1)
            .is_some_and(|v| v.contains(&caller.local().to_string())),
        "second Via is the caller's: {vias:?}"
    );
    let rr = elements(&inv, HeaderName::RecordRoute);
    assert!(
        rr.iter()
            .any(|r| r.contains(&format!("sip:127.0.0.1:{server_port}")) && r.contains(";lr")),
        "the proxy record-routes (loose): {rr:?}"
    );
    assert!(inv.body().starts_with(b"v=0"), "the SDP offer is forwarded");

    // 3. The callee rings and answers.
    let to_tag = callee.tag();
    let callee_contact = format!("<{}>", callee.contact_uri());
    let ringing = ResponseBuilder::for_request(&inv, 180, "Ringing")
        .to_tag(&to_tag)
        .copy_record_route()
        .header(HeaderName::Contact, &callee_contact)
        .build();
    callee.send(&ringing);
    let r180 = caller.expect_response(Method::Invite);
    assert_eq!(r180.status(), Some(180), "{}", text(&r180));
    let ok = ResponseBuilder::for_request(&inv, 200, "OK")
        .to_tag(&to_tag)
        .copy_record_route()
        .header(HeaderName::Contact, &callee_contact)
        .body("application/sdp", SDP.as_bytes())
        .build();
    callee.send(&ok);
    let r200 = caller.expect_response(Method::Invite);
    assert_eq!(r200.status(), Some(200), "{}", text(&r200));
    assert_eq!(
        elements(&r200, HeaderName::Via).len(),
        1,
        "the proxy removed its Via"
    );
    assert_eq!(r200.to_tag(), Some(to_tag.as_str()));
    assert!(
        r200.body().starts_with(b"v=0"),
        "the SDP answer is forwarded"
    );

    // 4. The caller's route set is the Record-Route of the 2xx, reversed (§12.1.2).
    let mut routes = elements(&r200, HeaderName::RecordRoute);
    routes.reverse();
    assert!(!routes.is_empty(), "the 200 carries the Record-Route");
    let remote_target = uri_of(
        r200.header(HeaderName::Contact)
            .expect("the 200 has the callee's Contact"),
    )
    .to_owned();
    let to = r200.header(HeaderName::To).expect("To").to_owned();
    let in_dialog = |caller: &Ua, method: Method, cseq: u32| {
        let (via, _) = caller.via();
        let mut b = RequestBuilder::new(&method, &remote_target)
            .header(HeaderName::Via, via)
            .header(HeaderName::MaxForwards, 70);
        for r in &routes {
            b = b.header(HeaderName::Route, r);
        }
        b.header(HeaderName::From, &from)
            .header(HeaderName::To, &to)
            .header(HeaderName::CallId, &call_id)
            .header(HeaderName::CSeq, format!("{cseq} {method}"))
            .build()
    };
    caller.send(&in_dialog(caller, Method::Ack, 2));
    let ack = callee.expect_request(Method::Ack);
    assert_eq!(ack.call_id(), call_id);
    assert_eq!(ack.request_uri(), Some(callee.contact_uri().as_str()));
    assert_eq!(
        ack.header_count(HeaderName::Route),
        0,
        "the proxy consumed its Route"
    );

    // 5. The caller hangs up.
    caller.send(&in_dialog(caller, Method::Bye, 3));
    let bye = callee.expect_request(Method::Bye);
    assert_eq!(bye.call_id(), call_id);
    assert_eq!(
        bye.header_count(HeaderName::Route),
        0,
        "the proxy consumed its Route"
    );
    callee.send(&ResponseBuilder::for_request(&bye, 200, "OK").build());
    let bye_ok = caller.expect_response(Method::Bye);
    assert_eq!(bye_ok.status(), Some(200), "{}", text(&bye_ok));
    CallDone { call_id }
}
