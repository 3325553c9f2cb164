//! Events: what the engine tells the runtime for logs, counters, accounting and the API.
//!
//! Events are data. The runtime decides whether to log them, count them,
//! write them to storage or publish them; the engine also keeps its own
//! counters so a query never needs the event stream.

use crate::transport::Flow;

/// Why a message was dropped without an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// A response (or a request too broken to answer) failed to parse; carries the parse error text.
    Unparseable(String),
    /// A response that matches no client transaction and cannot be forwarded statelessly.
    StrayResponse,
    /// An ACK that matches no transaction and no dialog.
    StrayAck,
    /// A request looped back to us with no way to answer.
    Loop,
    /// A stream sent bytes that cannot be framed (the connection is closed).
    BadStream(String),
}

/// Why a binding went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnbindReason {
    /// Its expiry passed.
    Expired,
    /// The client unregistered it (Expires: 0, or `*`).
    Unregistered,
    /// A newer registration of the same instance/reg-id flow replaced it (RFC 5626).
    Replaced,
    /// An operator command cleared it.
    Cleared,
    /// The connection it was bound to closed.
    ConnectionClosed,
}

/// How a session (call) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndCause {
    /// Answered, then a BYE from `by` ("caller" or "callee").
    Bye {
        /// Who hung up: true if the caller did.
        by_caller: bool,
    },
    /// The caller cancelled before an answer.
    Cancelled,
    /// A final failure response (status code).
    Rejected(u16),
    /// No final response in time (Timer B / C), or the ring limit.
    Timeout,
    /// Ended by an operator command.
    Terminated,
}

/// Severity of a [`Event::Log`] line, as TekSIP's levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings.
    Warn,
    /// Sessions and registrations.
    Session,
    /// Everything (developer traces).
    Debug,
}

/// Something the engine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A message was dropped and counted.
    Dropped {
        /// Where it came from.
        flow: Flow,
        /// Why.
        reason: DropReason,
    },
    /// A contact was bound to an address-of-record (new or refreshed).
    Registered {
        /// The address-of-record (`user@domain`).
        aor: String,
        /// The contact URI.
        contact: String,
        /// Seconds granted.
        expires: u32,
        /// Where the REGISTER came from.
        flow: Flow,
        /// True for a refresh of an existing binding.
        refresh: bool,
    },
    /// A binding was removed.
    Unregistered {
        /// The address-of-record.
        aor: String,
        /// The contact URI.
        contact: String,
        /// Why.
        reason: UnbindReason,
    },
    /// A request failed authentication.
    AuthFailed {
        /// The username the client claimed, if any.
        username: Option<String>,
        /// Where it came from.
        flow: Flow,
        /// What was wrong.
        reason: String,
    },
    /// A call started (an INVITE was routed to a callee).
    SessionStarted {
        /// Engine-wide session id.
        id: u64,
        /// Call-ID.
        call_id: String,
        /// Caller (From URI).
        caller: String,
        /// Callee (Request-URI).
        callee: String,
    },
    /// A call was answered (2xx to the INVITE).
    SessionAnswered {
        /// Session id.
        id: u64,
    },
    /// A call ended.
    SessionEnded {
        /// Session id.
        id: u64,
        /// How.
        cause: EndCause,
    },
    /// An upstream registration to a destination changed state (issue 4,
    /// [`crate::uac::registration`]).
    UpstreamRegistration {
        /// The destination's name.
        destination: String,
        /// The new state.
        state: crate::uac::RegState,
        /// The status of the response that caused it (408 for a timeout,
        /// 503 for a transport error), if any.
        status: Option<u16>,
        /// Its reason phrase, or why nothing was sent.
        reason: String,
        /// Seconds granted, when registered.
        expires: Option<u32>,
    },
    /// A destination's health changed (issue 4, OPTIONS pings,
    /// [`crate::uac::health`]).
    DestinationHealth {
        /// The destination's name.
        destination: String,
        /// Up (answering) or down.
        up: bool,
        /// What was seen last (a status, a timeout).
        reason: String,
    },
    /// A free-form log line.
    Log {
        /// Severity.
        level: LogLevel,
        /// The text.
        message: String,
    },
}
