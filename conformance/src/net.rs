//! The virtual network: hosts, links, impairments and the delivery queue.
//!
//! Every message in flight is a [`Delivery`] in one queue ordered by
//! `(deliver_at, seq)`; `seq` is a counter, so two deliveries due at the same
//! virtual instant always leave in the order they were sent. Impairments
//! (netem-like: loss, a delay range, duplication, reordering) are drawn from
//! one seeded [`SplitMix64`], globally or per host link, so a seed fixes the
//! whole run.
//!
//! UDP (RFC 3261 §18.1, §18.2) is datagrams: they may be lost, duplicated,
//! delayed and reordered, and `lose next a->b n` drops the next `n` on a path.
//! TCP is a reliable ordered byte stream: never lost or reordered (its own
//! retransmissions are below this model), but writes may be split into several
//! reads (`split=p`), and consecutive writes may reach the reader in one read
//! when they are due together (coalescing), because the engine must frame
//! streams itself (§18.3). A connection is opened by the engine
//! ([`switchboard_core::Output::Connect`]) to a host that listens on TCP, or by
//! a scripted host to the engine; closing it delivers a close to the other side.

use crate::prng::SplitMix64;
use crate::script::NetSetting;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use switchboard_core::ConnId;

/// Link impairments (applied per direction, per message).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impair {
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// One-way delay, drawn uniformly from this range.
    pub delay: (Duration, Duration),
    /// Probability that a datagram arrives twice.
    pub dup: f64,
    /// Probability that a datagram is held back (by 1–3 extra maximum delays,
    /// at least 1 ms) so later ones overtake it.
    pub reorder: f64,
    /// Probability that a stream write is split into 2–4 reads.
    pub split: f64,
}

impl Default for Impair {
    fn default() -> Self {
        Self {
            loss: 0.0,
            delay: (Duration::ZERO, Duration::ZERO),
            dup: 0.0,
            reorder: 0.0,
            split: 0.0,
        }
    }
}

impl Impair {
    /// Applies the settings a `net` line gave.
    pub fn apply(&mut self, s: &NetSetting) {
        if let Some(v) = s.loss {
            self.loss = v;
        }
        if let Some(v) = s.delay {
            self.delay = v;
        }
        if let Some(v) = s.dup {
            self.dup = v;
        }
        if let Some(v) = s.reorder {
            self.reorder = v;
        }
        if let Some(v) = s.split {
            self.split = v;
        }
    }
}

/// What travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A UDP datagram between two addresses.
    Datagram {
        /// Source address.
        from: SocketAddr,
        /// Destination address.
        to: SocketAddr,
        /// The bytes.
        data: Bytes,
    },
    /// A connection finished opening (reported to the side that did not open it,
    /// and to the engine for connections it asked for).
    Opened(ConnId),
    /// Bytes on a connection.
    StreamData(ConnId, Bytes),
    /// The connection closed (or could not be opened).
    Closed(ConnId),
}

/// One message in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The sender's name.
    pub from: String,
    /// The receiver's name.
    pub to: String,
    /// What.
    pub payload: Payload,
}

/// A stream connection between the engine and one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conn {
    /// The host's name.
    pub host: String,
    /// The host's end.
    pub host_addr: SocketAddr,
    /// The engine's end.
    pub engine_addr: SocketAddr,
    /// True if the engine opened it.
    pub by_engine: bool,
    /// False once either side closed it.
    pub open: bool,
    /// Last delivery time towards the engine (keeps the stream ordered).
    last_to_engine: Duration,
    /// Last delivery time towards the host.
    last_to_host: Duration,
}

/// The fate of one send, for the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Delivered at these times (two for a duplicate).
    Sent(Vec<Duration>),
    /// Dropped by a random loss draw.
    Lost,
    /// Dropped by `lose next`.
    LostScripted,
}

/// The network: impairments, scripted losses, connections and the queue.
#[derive(Debug)]
pub struct Net {
    engine: String,
    global: Impair,
    per_host: BTreeMap<String, Impair>,
    lose_next: BTreeMap<(String, String), u32>,
    queue: BTreeMap<(Duration, u64), Delivery>,
    seq: u64,
    rng: SplitMix64,
    conns: BTreeMap<ConnId, Conn>,
    next_conn: u64,
}

impl Net {
    /// A quiet, loss-free network whose randomness comes from `seed`.
    pub fn new(engine: &str, seed: u64) -> Self {
        Self {
            engine: engine.to_owned(),
            global: Impair::default(),
            per_host: BTreeMap::new(),
            lose_next: BTreeMap::new(),
            queue: BTreeMap::new(),
            seq: 0,
            rng: SplitMix64::derive(seed, 1),
            conns: BTreeMap::new(),
            next_conn: 1,
        }
    }

    /// Applies a `net` line (global, or one host's link).
    pub fn configure(&mut self, s: &NetSetting) {
        match &s.host {
            None => {
                self.global.apply(s);
                for imp in self.per_host.values_mut() {
                    imp.apply(s);
                }
            }
            Some(h) => {
                let mut imp = self.per_host.get(h).copied().unwrap_or(self.global);
                imp.apply(s);
                self.per_host.insert(h.clone(), imp);
            }
        }
    }

    /// Drops the next `n` datagrams from `from` to `to`.
    pub fn lose_next(&mut self, from: &str, to: &str, n: u32) {
        *self
            .lose_next
            .entry((from.to_owned(), to.to_owned()))
            .or_insert(0) += n;
    }

    /// The impairment of the link between the engine and the other end.
    fn link(&self, from: &str, to: &str) -> Impair {
        let host = if from == self.engine { to } else { from };
        self.per_host.get(host).copied().unwrap_or(self.global)
    }

    fn push(&mut self, at: Duration, d: Delivery) {
        self.seq += 1;
        self.queue.insert((at, self.seq), d);
    }

    /// Sends a datagram; returns what became of it.
    pub fn send_datagram(&mut self, now: Duration, from: &str, to: &str, p: Payload) -> Fate {
        if let Some(n) = self.lose_next.get_mut(&(from.to_owned(), to.to_owned()))
            && *n > 0
        {
            *n -= 1;
            return Fate::LostScripted;
        }
        let imp = self.link(from, to);
        if self.rng.chance(imp.loss) {
            return Fate::Lost;
        }
        let copies = if self.rng.chance(imp.dup) { 2 } else { 1 };
        let mut times = Vec::with_capacity(copies);
        for _ in 0..copies {
            let mut delay = self.rng.range_duration(imp.delay.0, imp.delay.1);
            if self.rng.chance(imp.reorder) {
                let unit = imp.delay.1.max(Duration::from_millis(1));
                let k = u32::try_from(self.rng.range_u64(1, 3)).unwrap_or(1);
                delay += unit * k;
            }
            let at = now + delay;
            let d = Delivery {
                from: from.to_owned(),
                to: to.to_owned(),
                payload: p.clone(),
            };
            self.push(at, d);
            times.push(at);
        }
        Fate::Sent(times)
    }

    /// A scripted host opens a connection to the engine; the engine hears of it
    /// after the link delay.
    pub fn host_connect(
        &mut self,
        now: Duration,
        host: &str,
        host_addr: SocketAddr,
        engine_addr: SocketAddr,
    ) -> ConnId {
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        let at = now + self.stream_delay(host, &self.engine.clone());
        self.conns.insert(
            id,
            Conn {
                host: host.to_owned(),
                host_addr,
                engine_addr,
                by_engine: false,
                open: true,
                last_to_engine: at,
                last_to_host: now,
            },
        );
        let engine = self.engine.clone();
        self.push(
            at,
            Delivery {
                from: host.to_owned(),
                to: engine,
                payload: Payload::Opened(id),
            },
        );
        id
    }

    /// The engine asked for connection `id` to `remote`: `listener` is the host
    /// listening there, if any. The engine hears `Opened` (or `Closed`) after
    /// the link delay.
    pub fn engine_connect(
        &mut self,
        now: Duration,
        id: ConnId,
        listener: Option<(&str, SocketAddr)>,
        engine_addr: SocketAddr,
    ) {
        let engine = self.engine.clone();
        let Some((host, host_addr)) = listener else {
            self.push(
                now,
                Delivery {
                    from: engine.clone(),
                    to: engine,
                    payload: Payload::Closed(id),
                },
            );
            return;
        };
        let at = now + self.stream_delay(host, &engine);
        self.conns.insert(
            id,
            Conn {
                host: host.to_owned(),
                host_addr,
                engine_addr,
                by_engine: true,
                open: true,
                last_to_engine: at,
                last_to_host: at,
            },
        );
        self.push(
            at,
            Delivery {
                from: host.to_owned(),
                to: engine,
                payload: Payload::Opened(id),
            },
        );
    }

    fn stream_delay(&mut self, a: &str, b: &str) -> Duration {
        let imp = self.link(a, b);
        self.rng.range_duration(imp.delay.0, imp.delay.1)
    }

    /// Writes bytes on a connection from `from` (the engine or the host);
    /// returns false if the connection is unknown or closed.
    pub fn stream_write(&mut self, now: Duration, id: ConnId, from: &str, data: Bytes) -> bool {
        let Some(c) = self.conns.get(&id) else {
            return false;
        };
        if !c.open {
            return false;
        }
        let to_engine = from != self.engine;
        let to = if to_engine {
            self.engine.clone()
        } else {
            c.host.clone()
        };
        let imp = self.link(from, &to);
        let last = if to_engine {
            c.last_to_engine
        } else {
            c.last_to_host
        };
        let at = (now + self.rng.range_duration(imp.delay.0, imp.delay.1)).max(last);
        let mut pieces = Vec::new();
        if data.len() > 1 && self.rng.chance(imp.split) {
            let n = self.rng.range_u64(2, 4);
            let mut cuts: Vec<usize> = (1..n)
                .map(|_| {
                    let max = u64::try_from(data.len() - 1).unwrap_or(u64::MAX);
                    usize::try_from(self.rng.range_u64(1, max)).unwrap_or(1)
                })
                .collect();
            cuts.sort_unstable();
            cuts.dedup();
            let mut start = 0;
            for cut in cuts {
                pieces.push(data.slice(start..cut));
                start = cut;
            }
            pieces.push(data.slice(start..));
        } else {
            pieces.push(data);
        }
        // Pieces of a split write leave 1 µs apart so the reader sees separate reads.
        let mut at = at;
        for (k, piece) in pieces.into_iter().enumerate() {
            if k > 0 {
                at += Duration::from_micros(1);
            }
            self.push(
                at,
                Delivery {
                    from: from.to_owned(),
                    to: to.clone(),
                    payload: Payload::StreamData(id, piece),
                },
            );
        }
        if let Some(c) = self.conns.get_mut(&id) {
            if to_engine {
                c.last_to_engine = at;
            } else {
                c.last_to_host = at;
            }
        }
        true
    }

    /// Closes a connection from one side; the other side hears it after the
    /// data already in flight. Returns false if it was not open.
    pub fn close(&mut self, now: Duration, id: ConnId, from: &str) -> bool {
        let engine = self.engine.clone();
        let Some(c) = self.conns.get_mut(&id) else {
            return false;
        };
        if !c.open {
            return false;
        }
        c.open = false;
        let (to, at) = if from == engine {
            (c.host.clone(), now.max(c.last_to_host))
        } else {
            (engine, now.max(c.last_to_engine))
        };
        self.push(
            at,
            Delivery {
                from: from.to_owned(),
                to,
                payload: Payload::Closed(id),
            },
        );
        true
    }

    /// A connection by id.
    pub fn conn(&self, id: ConnId) -> Option<&Conn> {
        self.conns.get(&id)
    }

    /// The newest open connection between the engine and `host` (optionally to one engine address).
    pub fn open_conn_of(&self, host: &str, engine_addr: Option<SocketAddr>) -> Option<ConnId> {
        self.conns
            .iter()
            .rev()
            .find(|(_, c)| {
                c.open && c.host == host && engine_addr.is_none_or(|a| a == c.engine_addr)
            })
            .map(|(id, _)| *id)
    }

    /// The newest open connection whose host end is `remote`.
    pub fn open_conn_to(&self, remote: SocketAddr) -> Option<ConnId> {
        self.conns
            .iter()
            .rev()
            .find(|(_, c)| c.open && c.host_addr == remote)
            .map(|(id, _)| *id)
    }

    /// Every open connection of `host`.
    pub fn open_conns_of(&self, host: &str) -> Vec<ConnId> {
        self.conns
            .iter()
            .filter(|(_, c)| c.open && c.host == host)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Marks a connection closed without telling anyone (the other side already closed it).
    pub fn mark_closed(&mut self, id: ConnId) {
        if let Some(c) = self.conns.get_mut(&id) {
            c.open = false;
        }
    }

    /// When the next delivery is due.
    pub fn next_at(&self) -> Option<Duration> {
        self.queue.keys().next().map(|(at, _)| *at)
    }

    /// Takes the next delivery if it is due at or before `limit`.
    pub fn pop_due(&mut self, limit: Duration) -> Option<(Duration, Delivery)> {
        let (&(at, seq), _) = self.queue.iter().next()?;
        if at > limit {
            return None;
        }
        let d = self.queue.remove(&(at, seq))?;
        // Coalesce: stream bytes for the same connection and receiver due at the
        // same instant arrive as one read.
        if let Payload::StreamData(id, first) = &d.payload {
            let mut joined: Option<Vec<u8>> = None;
            while let Some((&(at2, seq2), next)) = self.queue.iter().next() {
                let same = at2 == at
                    && next.to == d.to
                    && matches!(&next.payload, Payload::StreamData(id2, _) if id2 == id);
                if !same {
                    break;
                }
                let Some(Delivery {
                    payload: Payload::StreamData(_, more),
                    ..
                }) = self.queue.remove(&(at2, seq2))
                else {
                    break;
                };
                joined
                    .get_or_insert_with(|| first.to_vec())
                    .extend_from_slice(&more);
            }
            if let Some(j) = joined {
                return Some((
                    at,
                    Delivery {
                        payload: Payload::StreamData(*id, Bytes::from(j)),
                        ..d
                    },
                ));
            }
        }
        Some((at, d))
    }

    /// Number of deliveries in flight.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests;
