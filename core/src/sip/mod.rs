//! The SIP codec (RFC 3261 §7, §19, §20, §25): pure functions over bytes.
//!
//! Nothing here holds protocol state; the state machines in `transaction`,
//! `registrar` and `proxy` use this module to read and write messages and
//! never touch raw bytes themselves.

pub mod builder;
pub mod contact;
pub mod cseq;
pub mod error;
pub mod error_response;
pub mod framing;
#[cfg(test)]
mod grammar_fuzz;
pub mod header;
pub mod host;
pub mod limits;
pub mod message;
pub mod method;
pub mod name_addr;
pub mod params;
mod scan;
pub mod splice;
pub mod split;
pub mod tel;
pub mod uri;
pub mod values;
pub mod via;

pub use builder::{RequestBuilder, ResponseBuilder, ack_for_non2xx, cancel_for};
pub use contact::{Contact, ContactSet, parse_contacts};
pub use cseq::CSeq;
pub use error::ParseError;
pub use framing::{Frame, StreamFramer};
pub use header::HeaderName;
pub use host::Host;
pub use limits::Limits;
pub use message::{Header, Message};
pub use method::Method;
pub use name_addr::{NameAddr, parse_name_addr_list};
pub use params::{Params, unquote};
pub use splice::Splice;
pub use split::{split_commas, trim_lws};
pub use tel::TelUri;
pub use uri::{SipUri, Uri};
pub use values::{ContentType, parse_tokens, parse_u32};
pub use via::{Via, parse_via_list};

pub(crate) use scan::{push_ip, push_u64};
