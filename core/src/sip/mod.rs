//! The SIP codec (RFC 3261 §7, §19, §20, §25): pure functions over bytes.
//!
//! Nothing here holds protocol state; the state machines in `transaction`,
//! `registrar` and `proxy` use this module to read and write messages and
//! never touch raw bytes themselves.

pub mod builder;
pub mod cseq;
pub mod error;
pub mod framing;
pub mod header;
pub mod limits;
pub mod message;
pub mod method;
mod scan;
pub mod splice;

pub use builder::{RequestBuilder, ResponseBuilder, ack_for_non2xx, cancel_for};
pub use cseq::CSeq;
pub use error::ParseError;
pub use framing::{Frame, StreamFramer};
pub use header::HeaderName;
pub use limits::Limits;
pub use message::{Header, Message};
pub use method::Method;
pub use splice::Splice;
