//! The SIP codec (RFC 3261 §7, §19, §20, §25): pure functions over bytes.
//!
//! Nothing here holds protocol state; the state machines in `transaction`,
//! `registrar` and `proxy` use this module to read and write messages and
//! never touch raw bytes themselves.

pub mod error;
pub mod method;

pub use error::ParseError;
pub use method::Method;
