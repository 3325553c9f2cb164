//! The engine's inputs and outputs (ARCHITECTURE.md §3): values only.
//!
//! A runtime feeds [`Input`]s stamped with its clock and drains [`Output`]s
//! until it gets [`Output::Timeout`]. Nothing here refers to a socket.

use crate::event::Event;
use crate::transport::{ConnId, Flow, Transport};
use bytes::Bytes;
use std::net::SocketAddr;
use std::time::Instant;

/// Something that happened outside the engine.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Input {
    /// A UDP datagram arrived on `flow.local` from `flow.remote` (`flow.conn` is `None`).
    Datagram {
        /// When it arrived.
        now: Instant,
        /// The path it came on.
        flow: Flow,
        /// The datagram, exactly as received.
        data: Bytes,
    },
    /// A stream connection (TCP, TLS, WS, WSS) was accepted or finished opening.
    /// For WebSocket transports each later [`Input::StreamData`] is one whole message.
    ConnectionOpened {
        /// When.
        now: Instant,
        /// The connection's flow; `flow.conn` is `Some`.
        flow: Flow,
    },
    /// Bytes arrived on a stream connection (any split; the engine frames them).
    StreamData {
        /// When.
        now: Instant,
        /// The connection.
        conn: ConnId,
        /// The bytes.
        data: Bytes,
    },
    /// A connection closed, failed to open, or failed to send.
    ConnectionClosed {
        /// When.
        now: Instant,
        /// The connection.
        conn: ConnId,
    },
    /// A datagram could not be sent (e.g. ICMP unreachable reported by the socket).
    SendFailed {
        /// When.
        now: Instant,
        /// The transport.
        transport: Transport,
        /// The destination that failed.
        remote: SocketAddr,
    },
    /// The answer to an [`Output::Resolve`] (or why there is none).
    Resolved {
        /// When it arrived.
        now: Instant,
        /// The id of the [`Output::Resolve`] it answers.
        id: u64,
        /// The records, or the failure.
        result: Result<crate::dns::DnsAnswer, crate::dns::DnsError>,
    },
    /// The deadline from [`Output::Timeout`] (or any later time) was reached.
    Timeout(Instant),
}

impl Input {
    /// The time the input carries.
    pub fn now(&self) -> Instant {
        match self {
            Self::Datagram { now, .. }
            | Self::ConnectionOpened { now, .. }
            | Self::StreamData { now, .. }
            | Self::ConnectionClosed { now, .. }
            | Self::SendFailed { now, .. }
            | Self::Resolved { now, .. } => *now,
            Self::Timeout(now) => *now,
        }
    }
}

/// Bytes to send, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Transmit {
    /// The transport to send on.
    pub transport: Transport,
    /// The local address to send from (the socket), when it matters.
    pub local: Option<SocketAddr>,
    /// The destination address.
    pub remote: SocketAddr,
    /// For stream transports: the connection to write on. `None` with a stream
    /// transport means "the connection to `remote`" which the engine opened
    /// with [`Output::Connect`] first.
    pub conn: Option<ConnId>,
    /// The message (or CRLF keep-alive) to send.
    pub data: Bytes,
}

/// TLS options of an outbound connection to a routing destination (issue 5:
/// the per-destination "do not verify" switch and mutual TLS, RFC 5246 §7.4.6
/// / RFC 8446 §4.4.2 client certificates). Plain data: the runtime loads the
/// files and builds the TLS configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsPeer {
    /// The destination's name (for logs).
    pub destination: Option<String>,
    /// The name to verify the certificate for; `None`: the address.
    pub server_name: Option<String>,
    /// Verify the peer's certificate (false only for labs).
    pub verify: bool,
    /// PEM client certificate path (mutual TLS), with `client_key`.
    pub client_cert: Option<String>,
    /// PEM private key path of `client_cert`.
    pub client_key: Option<String>,
}

/// Something the runtime must do, or the next deadline.
#[derive(Debug, Clone)]
#[must_use]
#[non_exhaustive]
pub enum Output {
    /// Send bytes.
    Transmit(Transmit),
    /// Open a stream connection with this id; report [`Input::ConnectionOpened`]
    /// or [`Input::ConnectionClosed`] for it.
    Connect {
        /// The id the engine chose (≥ [`ConnId::OUTBOUND_BASE`]).
        conn: ConnId,
        /// The transport.
        transport: Transport,
        /// Where to connect.
        remote: SocketAddr,
        /// For [`Transport::Tls`] to a routing destination: how to authenticate
        /// the peer and ourselves. `None`: verify the peer, no client certificate.
        tls: Option<TlsPeer>,
    },
    /// Close a connection.
    Close(ConnId),
    /// Perform this one DNS lookup and report [`Input::Resolved`] with the
    /// same `id` (a timeout of the engine's own covers a lost answer).
    Resolve {
        /// Echoed in the answer.
        id: u64,
        /// The question.
        query: crate::dns::DnsQuery,
    },
    /// Something to log, count or publish.
    Event(Event),
    /// Nothing more to do until this instant (or the next input).
    Timeout(Instant),
}
