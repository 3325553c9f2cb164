//! Active sessions: calls passing through the proxy (TekSIP's "active sessions" view).
//!
//! A session starts when an INVITE is routed to a callee, is answered by a 2xx
//! and ends with a BYE, a CANCEL, a final failure or a timeout. The proxy
//! reports those facts; this module keeps the table and produces the events.

pub mod path;
pub mod sessions;

pub use path::{DialogPath, Leg, split_record_route};
pub use sessions::{Session, SessionState, Sessions};
