//! Transports and flows: where a message came from and where it goes.
//!
//! The core never touches a socket. It identifies a datagram path by its
//! addresses and a stream by a [`ConnId`] that the runtime (for accepted
//! connections) or the core (for connections it asks the runtime to open,
//! see [`ConnId::OUTBOUND_BASE`]) assigns.

use std::fmt;
use std::net::SocketAddr;

/// A SIP transport (RFC 3261 §18, RFC 7118 for WS/WSS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Transport {
    /// UDP: unreliable, datagrams.
    Udp,
    /// TCP: reliable stream.
    Tcp,
    /// TLS over TCP: reliable stream.
    Tls,
    /// WebSocket: reliable, message framed.
    Ws,
    /// Secure WebSocket: reliable, message framed.
    Wss,
}

impl Transport {
    /// Reliable transports get no retransmissions (timers A, E, G off; D, I, J, K zero).
    pub fn is_reliable(self) -> bool {
        !matches!(self, Self::Udp)
    }

    /// Stream transports carry several messages in one byte stream, framed by Content-Length.
    pub fn is_stream(self) -> bool {
        matches!(self, Self::Tcp | Self::Tls)
    }

    /// Secure transports (for `sips:` URIs).
    pub fn is_secure(self) -> bool {
        matches!(self, Self::Tls | Self::Wss)
    }

    /// The token used in `Via: SIP/2.0/<token>`.
    pub fn via_token(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
            Self::Ws => "WS",
            Self::Wss => "WSS",
        }
    }

    /// The value of the `transport=` URI parameter.
    pub fn param(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
            Self::Ws => "ws",
            Self::Wss => "wss",
        }
    }

    /// Parses a Via transport token or a `transport=` parameter, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Udp, Self::Tcp, Self::Tls, Self::Ws, Self::Wss]
            .into_iter()
            .find(|t| t.via_token().eq_ignore_ascii_case(s))
    }

    /// The default port for this transport (5060, or 5061 for TLS; 80/443 for WS/WSS per RFC 7118).
    pub fn default_port(self) -> u16 {
        match self {
            Self::Udp | Self::Tcp => 5060,
            Self::Tls => 5061,
            Self::Ws => 80,
            Self::Wss => 443,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via_token())
    }
}

/// Identifies one stream connection (TCP, TLS, WS, WSS) for its lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl ConnId {
    /// Ids at or above this value are allocated by the core for outbound
    /// connections ([`crate::Output::Connect`]); the runtime numbers accepted
    /// connections below it.
    pub const OUTBOUND_BASE: u64 = 1 << 63;
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// The path a message travelled: transport, both addresses, and the
/// connection for stream transports. A binding remembers the flow its
/// REGISTER came in on so requests reach clients behind NAT (RFC 3581, RFC 5626).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Flow {
    /// The transport.
    pub transport: Transport,
    /// Our address (the socket the message arrived on / leaves from).
    pub local: SocketAddr,
    /// The peer's address as seen on the wire (source IP and port).
    pub remote: SocketAddr,
    /// The stream connection, for reliable transports.
    pub conn: Option<ConnId>,
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.transport, self.remote)?;
        if let Some(c) = self.conn {
            write!(f, " {c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_tokens_round_trip() {
        for t in [
            Transport::Udp,
            Transport::Tcp,
            Transport::Tls,
            Transport::Ws,
            Transport::Wss,
        ] {
            assert_eq!(Transport::parse(t.via_token()), Some(t));
            assert_eq!(Transport::parse(t.param()), Some(t));
        }
        assert_eq!(Transport::parse("SCTP"), None);
        assert!(!Transport::Udp.is_reliable());
        assert!(Transport::Ws.is_reliable() && !Transport::Ws.is_stream());
    }
}
