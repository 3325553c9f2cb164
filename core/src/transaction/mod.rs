//! SIP transactions (RFC 3261 §17, amended by RFC 6026): the four state machines, their timers
//! and the keys that match messages to them.
//!
//! This module is codec-free. Each machine is driven by abstract events (a response's status
//! code, "a retransmission arrived", "the TU sends a 486", "a deadline passed") and answers with
//! actions that the transaction *layer* turns into bytes using the codec:
//!
//! | machine | figure | states |
//! | --- | --- | --- |
//! | [`ClientInvite`] | RFC 3261 fig. 5, RFC 6026 fig. 3 | Calling, Proceeding, Completed, Accepted, Terminated |
//! | [`ClientNonInvite`] | RFC 3261 fig. 6 | Trying, Proceeding, Completed, Terminated |
//! | [`ServerInvite`] | RFC 3261 fig. 7, RFC 6026 fig. 7 | Proceeding, Completed, Confirmed, Accepted, Terminated |
//! | [`ServerNonInvite`] | RFC 3261 fig. 8 | Trying, Proceeding, Completed, Terminated |
//!
//! Every machine has the same shape (ARCHITECTURE.md §3): it is created with
//! `new(now, &TimerConfig, reliable)` when its request is sent or received, is fed through
//! `handle_*(now, …)`, and is drained with `poll_action()` until `None`; `poll_timeout()` is its
//! next deadline, and `handle_timeout(now)` fires whatever is due (an early call is a no-op).
//! Every `handle_*` first fires the timers that are already due at `now`, so a deadline never
//! lies in the past once a call returns. When a machine reaches Terminated it emits
//! [`ClientAction::Terminated`] / [`ServerAction::Terminated`] exactly once, and the layer
//! drops it.
//!
//! Reliable transports (TCP, TLS, WS, WSS, see [`crate::Transport::is_reliable`]) get no
//! retransmissions: timers A, E and G are never armed and D, I, J and K are zero, in which case
//! the machine terminates at once instead of arming a zero timer.
//!
//! [`key`] holds the matching keys (§17.1.3, §17.2.3 and the RFC 2543 fallback).

pub mod client_invite;
pub mod client_non_invite;
pub mod config;
pub mod key;
pub mod layer;
pub mod server_invite;
pub mod server_non_invite;
mod timer;

pub use client_invite::ClientInvite;
pub use client_non_invite::ClientNonInvite;
pub use config::{TimerConfig, TimerConfigError};
pub use key::{ClientKey, Rfc2543Key, SentBy, ServerKey, is_rfc3261_branch};
pub use layer::{Destination, Layer, RequestMatch, TxEvent, TxId};
pub use server_invite::ServerInvite;
pub use server_non_invite::ServerNonInvite;

/// What a client transaction (INVITE or non-INVITE) asks the layer to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub enum ClientAction {
    /// Pass the stored request to the transport again (Timer A or E fired).
    Retransmit,
    /// Pass the response just handed in to the TU.
    Deliver,
    /// Build the ACK for the non-2xx final response just handed in (§17.1.1.3) and send it;
    /// on a retransmitted final, send the same ACK again. INVITE only.
    SendAck,
    /// The response just handed in is a retransmission or out of place: drop it silently.
    Absorb,
    /// Timer B or F fired: the TU should act as if it got a 408 (Request Timeout).
    Timeout,
    /// The transport reported a fatal error: inform the TU (§17.1.4; it acts as on a 503).
    TransportError,
    /// The machine reached Terminated: destroy it and remove its key.
    Terminated,
}

/// What a server transaction (INVITE or non-INVITE) asks the layer to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub enum ServerAction {
    /// Send the response the TU just handed in and remember it as the last response.
    Send,
    /// Send the last response again (request retransmission, or Timer G).
    ResendLast,
    /// The TU has been silent for `trying_delay`: build a 100 (Trying) (§8.2.6, §17.2.1),
    /// send it and remember it as the last response. INVITE only.
    Send100,
    /// Pass the ACK just handed in to the TU (RFC 6026: an ACK in the Accepted state).
    DeliverAck,
    /// The request or ACK just handed in is a retransmission or consumed by the transaction:
    /// drop it.
    Absorb,
    /// Timer H fired without an ACK: inform the TU.
    Timeout,
    /// The transport reported a fatal error: inform the TU (§17.2.4).
    TransportError,
    /// The machine reached Terminated: destroy it and remove its key.
    Terminated,
    /// The TU tried to send a response that is illegal in the current state (a second final,
    /// a non-2xx after a 2xx, a status outside 100–699): do not send it.
    RejectTuResponse,
}

/// The class of a status code, for the `match (state, event)` tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// 100–199.
    Provisional,
    /// 200–299.
    Success,
    /// 300–699.
    Failure,
    /// Anything else: not a valid SIP status (§7.2, §21).
    Invalid,
}

impl Class {
    /// Classifies a status code.
    pub(crate) fn of(status: u16) -> Self {
        match status {
            100..=199 => Self::Provisional,
            200..=299 => Self::Success,
            300..=699 => Self::Failure,
            _ => Self::Invalid,
        }
    }
}

/// The origin of the virtual clock in tests (the crate's one test clock, `crate::test_epoch`).
#[cfg(test)]
pub(crate) use crate::test_epoch as test_clock_origin;

#[cfg(test)]
mod proptests;
