//! Driving the real engine directly, one input at a time, for corpus and
//! property tests (RFC 4475, RFC 5118, proptest): no scripts, no virtual
//! network — a [`Probe`] feeds an input, then drains `poll_output` until
//! `Output::Timeout` exactly as a runtime does (ARCHITECTURE.md §3), with a
//! bound: more than [`MAX_OUTPUTS_PER_INPUT`] outputs for one input is a
//! [`Runaway`], reported instead of looping forever.
//!
//! The default configuration ([`test_config`]) serves `example.com` on
//! `192.0.2.1:5060` (UDP and TCP) and on `[2001:db8::10]` ports 5060 and 5070
//! (UDP), with authentication off so requests reach the registrar and proxy
//! logic (RFC 3261 §10, §16) rather than stopping at a 401/407.

use bytes::Bytes;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};
use switchboard_core::registrar::Extension;
use switchboard_core::{
    Command, Config, ConnId, Engine, Flow, Input, Listener, Output, Transmit, Transport,
};

/// The engine's main address (UDP and TCP).
pub const SERVER: &str = "192.0.2.1:5060";

/// More outputs than this for one input means the engine is livelocked.
pub const MAX_OUTPUTS_PER_INPUT: usize = 10_000;

/// Timer firings allowed in one [`Probe::advance`] before it counts as a livelock.
pub const MAX_TIMER_FIRINGS: usize = 100_000;

/// The engine produced too many outputs for one input, or its timers never settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runaway {
    /// What was being drained.
    pub what: &'static str,
    /// How many outputs or firings were seen before giving up.
    pub count: usize,
}

impl std::fmt::Display for Runaway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "runaway {}: {} without settling", self.what, self.count)
    }
}

impl std::error::Error for Runaway {}

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("literal socket address")
}

/// The corpus configuration: domain `example.com`, auth off, fixed seed and wall clock.
pub fn test_config() -> Config {
    let listeners = [
        (Transport::Udp, SERVER),
        (Transport::Tcp, SERVER),
        (Transport::Udp, "[2001:db8::10]:5060"),
        (Transport::Udp, "[2001:db8::10]:5070"),
    ]
    .into_iter()
    .map(|(transport, a)| Listener {
        transport,
        addr: addr(a),
        advertise: None,
    })
    .collect();
    let mut cfg = Config::new("example.com", listeners);
    cfg.rng_seed = [7; 32];
    cfg.wall_epoch = SystemTime::UNIX_EPOCH + Duration::from_secs(1_798_761_600);
    cfg.register_auth = false;
    cfg.call_auth = false;
    cfg
}

/// One engine and its virtual clock.
#[derive(Debug)]
pub struct Probe {
    engine: Engine,
    now: Instant,
    start: Instant,
    next_conn: u64,
}

impl Probe {
    /// An engine built from `cfg`, starting at the harness epoch, with `users` provisioned.
    pub fn new(cfg: Config, users: &[&str]) -> Self {
        let start = crate::sim::epoch();
        let mut engine = Engine::new(cfg, start).expect("probe configuration is valid");
        for u in users {
            let ext = Extension::new((*u).to_owned(), "0".repeat(32), "0".repeat(64));
            engine
                .handle_command(start, Command::UpsertExtension(ext))
                .expect("probe extension is valid");
        }
        Self {
            engine,
            now: start,
            start,
            next_conn: 1,
        }
    }

    /// [`Probe::new`] with [`test_config`].
    pub fn with_users(users: &[&str]) -> Self {
        Self::new(test_config(), users)
    }

    /// The engine under test.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Runs an operator command at the current virtual time.
    pub fn command(&mut self, cmd: Command) -> Result<(), String> {
        self.engine.handle_command(self.now, cmd)
    }

    /// The current virtual time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time since the probe started.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// The UDP flow from `from` to the engine's address of the same family.
    pub fn udp_flow(from: SocketAddr) -> Flow {
        let local = if from.is_ipv6() {
            addr("[2001:db8::10]:5060")
        } else {
            addr(SERVER)
        };
        Flow {
            transport: Transport::Udp,
            local,
            remote: from,
            conn: None,
        }
    }

    /// The engine's next deadline, as time since the probe started.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.engine
            .poll_timeout()
            .map(|t| t.saturating_duration_since(self.start))
    }

    /// Lets `d` pass without firing timers (the next input or [`Probe::advance`] fires them).
    pub fn skip(&mut self, d: Duration) {
        self.now += d;
    }

    /// Feeds one UDP datagram from `from` and drains.
    pub fn datagram(
        &mut self,
        from: SocketAddr,
        data: impl Into<Bytes>,
    ) -> Result<Vec<Output>, Runaway> {
        self.input(Input::Datagram {
            now: self.now,
            flow: Self::udp_flow(from),
            data: data.into(),
        })
    }

    /// Opens an inbound TCP connection from `from` and drains.
    pub fn open_tcp(&mut self, from: SocketAddr) -> Result<(ConnId, Vec<Output>), Runaway> {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let flow = Flow {
            transport: Transport::Tcp,
            local: addr(SERVER),
            remote: from,
            conn: Some(conn),
        };
        let out = self.input(Input::ConnectionOpened {
            now: self.now,
            flow,
        })?;
        Ok((conn, out))
    }

    /// Feeds stream bytes on `conn` and drains.
    pub fn stream(&mut self, conn: ConnId, data: impl Into<Bytes>) -> Result<Vec<Output>, Runaway> {
        self.input(Input::StreamData {
            now: self.now,
            conn,
            data: data.into(),
        })
    }

    /// Reports `conn` closed and drains.
    pub fn close(&mut self, conn: ConnId) -> Result<Vec<Output>, Runaway> {
        self.input(Input::ConnectionClosed {
            now: self.now,
            conn,
        })
    }

    /// Feeds any input (its time is raised to the probe's clock) and drains.
    pub fn input(&mut self, input: Input) -> Result<Vec<Output>, Runaway> {
        self.engine.handle_input(input);
        self.drain()
    }

    /// Drains `poll_output` until `Output::Timeout`, or fails past the bound.
    pub fn drain(&mut self) -> Result<Vec<Output>, Runaway> {
        let mut out = Vec::new();
        loop {
            match self.engine.poll_output() {
                Output::Timeout(_) => return Ok(out),
                o => out.push(o),
            }
            if out.len() > MAX_OUTPUTS_PER_INPUT {
                return Err(Runaway {
                    what: "outputs for one input",
                    count: out.len(),
                });
            }
        }
    }

    /// Runs the clock forward by `d`, firing every deadline that falls in it,
    /// and returns everything the timers produced.
    pub fn advance(&mut self, d: Duration) -> Result<Vec<Output>, Runaway> {
        let target = self.now + d;
        let mut out = Vec::new();
        for _ in 0..MAX_TIMER_FIRINGS {
            match self.engine.poll_timeout() {
                Some(t) if t <= target => {
                    self.now = t.max(self.now);
                    out.extend(self.input(Input::Timeout(self.now))?);
                }
                _ => {
                    self.now = target;
                    return Ok(out);
                }
            }
        }
        Err(Runaway {
            what: "timer firings",
            count: MAX_TIMER_FIRINGS,
        })
    }
}

/// The transmits among `outputs`.
pub fn transmits(outputs: &[Output]) -> impl Iterator<Item = &Transmit> {
    outputs.iter().filter_map(|o| match o {
        Output::Transmit(t) => Some(t),
        _ => None,
    })
}

/// The status code of a response in `data` (`SIP/2.0 NNN ...`), if it is one.
pub fn status_of(data: &[u8]) -> Option<u16> {
    let rest = data.strip_prefix(b"SIP/2.0 ")?;
    let code = rest.get(..3)?;
    std::str::from_utf8(code).ok()?.parse().ok()
}

/// Status codes of the responses sent to `to`, in order.
pub fn statuses_to(outputs: &[Output], to: SocketAddr) -> Vec<u16> {
    transmits(outputs)
        .filter(|t| t.remote == to)
        .filter_map(|t| status_of(&t.data))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_to_the_server_is_answered_and_timers_settle() {
        let mut p = Probe::with_users(&["alice"]);
        let from = addr("192.0.2.101:5060");
        let msg = "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKp1\r\nFrom: <sip:x@example.net>;tag=1\r\nTo: <sip:example.com>\r\nCall-ID: p1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
        let out = p.datagram(from, msg).expect("settles");
        assert_eq!(statuses_to(&out, from), [200]);
        assert_eq!(p.engine().transaction_counts(), (1, 0));
        p.advance(Duration::from_secs(60)).expect("settles");
        assert_eq!(p.engine().transaction_counts(), (0, 0));
        assert_eq!(p.elapsed(), Duration::from_secs(60));
    }

    #[test]
    fn status_of_reads_only_responses() {
        assert_eq!(status_of(b"SIP/2.0 404 Not Found\r\n"), Some(404));
        assert_eq!(status_of(b"INVITE sip:x SIP/2.0\r\n"), None);
        assert_eq!(status_of(b"SIP/2.0 4"), None);
    }
}
