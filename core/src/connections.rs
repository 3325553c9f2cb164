//! Stream connections as the engine sees them: framing state per connection,
//! reuse by remote address, and outbound connections the engine asks the
//! runtime to open (RFC 3261 §18; RFC 5626 §3.5.1 keep-alives).
//!
//! The runtime numbers accepted connections; the engine numbers the ones it
//! asks for (from [`ConnId::OUTBOUND_BASE`]). Messages for a connection that is
//! still opening wait here, bounded, and are flushed when it opens.

use crate::sip::{Frame, Limits, ParseError, StreamFramer};
use crate::transport::{ConnId, Flow, Transport};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Most messages queued for a connection that has not opened yet.
const MAX_PENDING: usize = 64;

#[derive(Debug)]
struct Conn {
    flow: Option<Flow>,
    transport: Transport,
    remote: SocketAddr,
    framer: Option<StreamFramer>,
    pending: Vec<Bytes>,
}

/// What arrived on a stream, after framing.
#[derive(Debug)]
pub enum Arrival {
    /// A whole SIP message.
    Message(Bytes),
    /// A double-CRLF keep-alive ping: answer with a CRLF pong.
    Ping,
    /// The stream cannot be framed any more: drop the connection.
    Broken(ParseError),
}

/// All stream connections.
#[derive(Debug, Default)]
pub struct Connections {
    conns: BTreeMap<ConnId, Conn>,
    by_remote: BTreeMap<(Transport, SocketAddr), ConnId>,
    next_out: u64,
    limits: Limits,
}

impl Connections {
    /// An empty table; framers use `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Open connections (and ones being opened).
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// The flow of an open connection.
    pub fn flow(&self, conn: ConnId) -> Option<Flow> {
        self.conns.get(&conn).and_then(|c| c.flow)
    }

    /// A connection opened (accepted, or one we asked for). Returns the messages
    /// that were waiting for it.
    pub fn opened(&mut self, flow: Flow) -> Vec<Bytes> {
        let Some(id) = flow.conn else {
            return Vec::new();
        };
        let framer = flow
            .transport
            .is_stream()
            .then(|| StreamFramer::new(self.limits));
        let c = self.conns.entry(id).or_insert(Conn {
            flow: None,
            transport: flow.transport,
            remote: flow.remote,
            framer: None,
            pending: Vec::new(),
        });
        c.flow = Some(flow);
        c.framer = framer;
        self.by_remote.insert((flow.transport, flow.remote), id);
        std::mem::take(&mut c.pending)
    }

    /// Bytes arrived on `conn`; returns what they complete. Message-framed
    /// transports (WS/WSS) deliver each input as one message.
    pub fn data(&mut self, conn: ConnId, data: &[u8]) -> Vec<Arrival> {
        let Some(c) = self.conns.get_mut(&conn) else {
            return Vec::new();
        };
        let Some(framer) = c.framer.as_mut() else {
            return message_arrival(data).into_iter().collect();
        };
        framer.push(data);
        let mut out = Vec::new();
        while let Some(f) = framer.next() {
            match f {
                Ok(Frame::Message(m)) => out.push(Arrival::Message(m)),
                Ok(Frame::Ping) => out.push(Arrival::Ping),
                Ok(Frame::Pong) => {}
                Err(e) => {
                    out.push(Arrival::Broken(e));
                    break;
                }
            }
        }
        out
    }

    /// Per-transport accounting of the connections that are open (ones still
    /// opening are not counted): how many, and the bytes this table holds for
    /// them (partial messages in framers, messages waiting for an opening
    /// connection — the latter counted on the transport they wait for).
    /// O(connections): meant for stats, not for every message.
    pub fn counters(&self) -> ConnectionCounters {
        let mut out = ConnectionCounters::default();
        for c in self.conns.values() {
            let Some(slot) = out.get_mut(c.transport) else {
                continue;
            };
            if c.flow.is_some() {
                slot.open += 1;
            }
            let held = c.framer.as_ref().map_or(0, StreamFramer::buffered)
                + c.pending.iter().map(Bytes::len).sum::<usize>();
            slot.buffered_bytes += held as u64;
        }
        out
    }

    /// A connection closed; returns its transport and remote address if it was known.
    pub fn closed(&mut self, conn: ConnId) -> Option<(Transport, SocketAddr)> {
        let c = self.conns.remove(&conn)?;
        if self.by_remote.get(&(c.transport, c.remote)) == Some(&conn) {
            self.by_remote.remove(&(c.transport, c.remote));
        }
        Some((c.transport, c.remote))
    }

    /// Decides how to send `data` over a stream transport to `remote`, preferring
    /// `conn`, then any connection to `remote`. Returns `Send(conn)` or
    /// `Connect(new id)` (the data is queued until it opens), or `Dropped` when
    /// the queue for an opening connection is full.
    pub fn route(
        &mut self,
        transport: Transport,
        remote: SocketAddr,
        conn: Option<ConnId>,
        data: Bytes,
    ) -> Route {
        if let Some(c) = conn.filter(|c| self.conns.get(c).is_some_and(|x| x.flow.is_some())) {
            return Route::Send(c, data);
        }
        if let Some(&c) = self.by_remote.get(&(transport, remote))
            && let Some(x) = self.conns.get_mut(&c)
        {
            if x.flow.is_some() {
                return Route::Send(c, data);
            }
            if x.pending.len() >= MAX_PENDING {
                return Route::Dropped;
            }
            x.pending.push(data);
            return Route::Queued;
        }
        self.next_out += 1;
        let id = ConnId(ConnId::OUTBOUND_BASE + self.next_out);
        self.conns.insert(
            id,
            Conn {
                flow: None,
                transport,
                remote,
                framer: None,
                pending: vec![data],
            },
        );
        self.by_remote.insert((transport, remote), id);
        Route::Connect(id)
    }
}

/// One WebSocket message (RFC 7118 §5: each carries exactly one SIP
/// message). A message of nothing but CRLFs is the RFC 5626 §3.5.1 keep-alive
/// some clients (SIP.js `keepAliveInterval`) send over WebSocket too: a
/// double CRLF is a ping (answered with CRLF), anything shorter a pong
/// (nothing arrives).
fn message_arrival(data: &[u8]) -> Option<Arrival> {
    if !data.is_empty() && data.len() <= 4 && data.iter().all(|b| matches!(b, b'\r' | b'\n')) {
        return (data == b"\r\n\r\n").then_some(Arrival::Ping);
    }
    Some(Arrival::Message(Bytes::copy_from_slice(data)))
}

/// Connection accounting per stream transport (see [`Connections::counters`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionCounters {
    /// TCP connections.
    pub tcp: TransportCounters,
    /// TLS connections.
    pub tls: TransportCounters,
    /// WebSocket connections.
    pub ws: TransportCounters,
    /// Secure WebSocket connections.
    pub wss: TransportCounters,
}

impl ConnectionCounters {
    /// The counters of `transport` (`None` for UDP, which has no connections).
    pub fn get(&self, transport: Transport) -> Option<&TransportCounters> {
        match transport {
            Transport::Tcp => Some(&self.tcp),
            Transport::Tls => Some(&self.tls),
            Transport::Ws => Some(&self.ws),
            Transport::Wss => Some(&self.wss),
            _ => None,
        }
    }

    fn get_mut(&mut self, transport: Transport) -> Option<&mut TransportCounters> {
        match transport {
            Transport::Tcp => Some(&mut self.tcp),
            Transport::Tls => Some(&mut self.tls),
            Transport::Ws => Some(&mut self.ws),
            Transport::Wss => Some(&mut self.wss),
            _ => None,
        }
    }
}

/// Accounting of one stream transport's connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportCounters {
    /// Open connections.
    pub open: u64,
    /// Bytes the engine holds for them.
    pub buffered_bytes: u64,
}

/// The result of [`Connections::route`].
#[derive(Debug)]
pub enum Route {
    /// Write on this open connection.
    Send(ConnId, Bytes),
    /// Ask the runtime to open this connection; the data waits for it.
    Connect(ConnId),
    /// Queued behind a connection that is opening.
    Queued,
    /// The queue was full; the message is lost (the transaction will time out or retransmit).
    Dropped,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(conn: u64) -> Flow {
        Flow {
            transport: Transport::Tcp,
            local: "192.0.2.1:5060".parse().expect("literal"),
            remote: "192.0.2.9:40000".parse().expect("literal"),
            conn: Some(ConnId(conn)),
        }
    }

    #[test]
    fn frames_pings_and_messages_and_reuses_connections() {
        let mut c = Connections::new(Limits::default());
        assert!(c.opened(flow(1)).is_empty());
        let a = c.data(
            ConnId(1),
            b"\r\n\r\nOPTIONS sip:x SIP/2.0\r\nContent-Length: 0\r\n\r\n",
        );
        assert!(matches!(a[0], Arrival::Ping));
        assert!(matches!(a[1], Arrival::Message(_)));
        let remote = flow(1).remote;
        assert!(matches!(
            c.route(Transport::Tcp, remote, None, Bytes::new()),
            Route::Send(ConnId(1), _)
        ));
        assert_eq!(c.closed(ConnId(1)), Some((Transport::Tcp, remote)));
        // now a new connection must be opened, and data waits for it
        let Route::Connect(id) = c.route(Transport::Tcp, remote, None, Bytes::from_static(b"x"))
        else {
            panic!("expected a connect");
        };
        assert!(id.0 >= ConnId::OUTBOUND_BASE);
        assert!(matches!(
            c.route(Transport::Tcp, remote, None, Bytes::from_static(b"y")),
            Route::Queued
        ));
        let mut f = flow(0);
        f.conn = Some(id);
        assert_eq!(c.opened(f).len(), 2);
    }

    fn ws_flow(conn: u64) -> Flow {
        Flow {
            transport: Transport::Ws,
            ..flow(conn)
        }
    }

    #[test]
    fn websocket_messages_are_taken_whole() {
        let mut c = Connections::new(Limits::default());
        c.opened(ws_flow(3));
        // No Content-Length needed: the WebSocket message frames it (RFC 7118 §5).
        let msg = b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/WS a.invalid\r\n\r\n";
        let a = c.data(ConnId(3), msg);
        assert_eq!(a.len(), 1);
        assert!(matches!(&a[0], Arrival::Message(m) if &m[..] == msg));
        // Two messages in two WebSocket messages stay two; nothing is buffered.
        assert_eq!(c.data(ConnId(3), b"x").len(), 1);
        assert_eq!(c.counters().ws.buffered_bytes, 0);
        // CRLF keep-alives over WebSocket (SIP.js): ping answered, pong ignored.
        assert!(matches!(c.data(ConnId(3), b"\r\n\r\n")[0], Arrival::Ping));
        assert!(c.data(ConnId(3), b"\r\n").is_empty());
        // A message that merely starts with CRLF is still a message.
        assert!(matches!(&c.data(ConnId(3), b"\r\n\r\nX")[0], Arrival::Message(m) if m.len() == 5));
    }

    #[test]
    fn counters_follow_opens_and_closes_per_transport() {
        let mut c = Connections::new(Limits::default());
        c.opened(flow(1));
        c.opened(ws_flow(2));
        c.opened(ws_flow(3));
        let _ = c.data(ConnId(1), b"OPTIONS sip:x SIP/2.0\r\n");
        let n = c.counters();
        assert_eq!((n.tcp.open, n.ws.open, n.wss.open), (1, 2, 0));
        assert_eq!(n.tcp.buffered_bytes, 23, "a partial message is held");
        assert_eq!(n.get(Transport::Ws).map(|t| t.open), Some(2));
        assert!(n.get(Transport::Udp).is_none());
        c.closed(ConnId(2));
        c.closed(ConnId(3));
        c.closed(ConnId(1));
        assert_eq!(c.counters(), ConnectionCounters::default());
        assert!(c.is_empty());
    }

    #[test]
    fn garbage_breaks_the_stream() {
        let mut c = Connections::new(Limits::default());
        c.opened(flow(2));
        let a = c.data(ConnId(2), b"INVITE sip:x SIP/2.0\r\nVia: x\r\n\r\n");
        assert!(
            matches!(a.last(), Some(Arrival::Broken(_))),
            "no Content-Length on a stream"
        );
    }
}
