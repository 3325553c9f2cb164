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

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
    /// The SIP-over-TLS port on 127.0.0.1 (`tls.port`).
    pub tls_port: u16,
    /// Extra lines for the `[tls]` section.
    pub tls_extra: String,
    /// The `[websocket]` section's lines (default: WS and WSS off, so tests
    /// never reach for ports 80/443).
    pub websocket: String,
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
            tls_port: free_port(),
            tls_extra: String::new(),
            websocket: "ws_port = 0\nwss_port = 0\n".to_owned(),
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

    /// The server's SIP-over-TLS address.
    pub(crate) fn tls_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.tls_port))
    }

    /// The settings text for this environment.
    pub(crate) fn settings_text(&self) -> String {
        let d = self.dir().display();
        format!(
            "[service]\nsip_domain = \"{DOMAIN}\"\nlisten = [\"127.0.0.1\"]\nsip_port = {}\n\
             save_registrations = true\n{}\n\
             [security]\nsip_authentication = true\nauthenticate_local_calls = true\n\n\
             [logging]\nlevel = \"developer\"\ndirectory = \"{d}/logs\"\n\n\
             [storage]\ndata_dir = \"{}\"\n\n[tls]\nport = {}\n{}\n\n[websocket]\n{}\n{}",
            self.port,
            self.service_extra,
            self.data_dir.display(),
            self.tls_port,
            self.tls_extra,
            self.websocket,
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
                    env.tls_port = free_port();
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

mod call;
mod ua;
pub(crate) mod ws;

#[allow(unused_imports)] // each test binary uses a different part
pub(crate) use call::{CallDone, call};
#[allow(unused_imports)]
pub(crate) use ua::{Ua, elements, text, tls_config, tls_connect, uri_of};
