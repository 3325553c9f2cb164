//! Engine counters (TekSIP's status page: registrations, sessions, traffic).
//!
//! Gauges (current registrations, sessions) and monotonically increasing
//! totals. The engine updates them as it works; the runtime reads them with
//! `Engine::counters` for the API and `/metrics`.

/// A snapshot of the engine's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counters {
    /// Current bindings (registered contacts).
    pub active_registrations: u64,
    /// Current sessions (calls being set up or established).
    pub active_sessions: u64,
    /// SIP requests received (retransmissions included).
    pub requests_received: u64,
    /// SIP responses received.
    pub responses_received: u64,
    /// Requests forwarded by the proxy (one per branch).
    pub requests_forwarded: u64,
    /// Responses forwarded upstream by the proxy.
    pub responses_forwarded: u64,
    /// Responses generated locally (including retransmissions).
    pub responses_sent: u64,
    /// Calls that reached 2xx.
    pub successful_calls: u64,
    /// Calls that ended without 2xx.
    pub failed_calls: u64,
    /// Successful REGISTER transactions.
    pub registrations_accepted: u64,
    /// Requests that failed authentication (each 401/407 after credentials were sent).
    pub auth_failures: u64,
    /// Messages dropped without an answer (unparseable responses, stray ACKs, …).
    pub dropped: u64,
    /// Requests answered with 4xx/5xx because they failed to parse.
    pub malformed_requests: u64,
    /// Transactions that ended by timeout (Timer B/F/H).
    pub transaction_timeouts: u64,
    /// Requests sent over TCP for their size whose connection failed, resent
    /// over UDP (RFC 3261 §18.1.1).
    pub udp_fallbacks: u64,
    /// Open stream connections and the bytes the engine holds for them, per
    /// transport (TCP, TLS, WS, WSS).
    pub connections: crate::connections::ConnectionCounters,
}
