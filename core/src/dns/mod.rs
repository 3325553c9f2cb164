//! DNS for SIP, Sans-IO (ARCHITECTURE.md §3: "the core asks through outputs
//! and takes answers as inputs").
//!
//! The engine never talks to a DNS server. When it needs a record it emits
//! [`crate::Output::Resolve`] with a raw [`DnsQuery`] (one NAPTR, SRV or
//! address lookup); the runtime performs exactly that lookup and feeds the
//! answer back as [`crate::Input::Resolved`]. Everything above the raw lookup
//! lives here, where it is deterministic and testable:
//!
//! - [`rfc3263`]: locating SIP servers (RFC 3263 §4): NAPTR order and
//!   preference, SRV priority and weighted random choice (RFC 2782) with the
//!   engine's RNG, A/AAAA, giving an ordered list of `(transport, address)`
//!   to fail over across;
//! - [`cache`]: answers kept until their TTL passes on the engine clock;
//! - [`resolver`]: jobs (one RFC 3263 resolution or one ENUM lookup), their
//!   query ids, timeouts and completions;
//! - [`enum_e164`]: ENUM (RFC 6116): the NAPTR owner name of an E.164 number
//!   and the `E2U+sip` regexp substitution (RFC 3402 §3.2).

pub mod cache;
pub mod enum_e164;
pub mod resolver;
pub mod rfc3263;

pub use resolver::{JobId, JobOutcome, Resolver};
pub use rfc3263::{SipTarget, TargetAddr};

use std::net::IpAddr;

/// What to look up: one raw DNS question.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DnsQuery {
    /// NAPTR records of a name (RFC 3403).
    Naptr(String),
    /// SRV records of a name such as `_sip._udp.example.com` (RFC 2782).
    Srv(String),
    /// The A and AAAA records of a host name (both, in one answer).
    Addr(String),
}

impl DnsQuery {
    /// The name asked about.
    pub fn name(&self) -> &str {
        match self {
            Self::Naptr(n) | Self::Srv(n) | Self::Addr(n) => n,
        }
    }
}

/// One NAPTR record (RFC 3403 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NaptrRecord {
    /// Lower first.
    pub order: u16,
    /// Lower first among equal `order`.
    pub preference: u16,
    /// Flags, e.g. `s` (next lookup is SRV) or `u` (terminal URI).
    pub flags: String,
    /// Service, e.g. `SIP+D2U` or `E2U+sip`.
    pub service: String,
    /// Substitution expression (ENUM), may be empty.
    pub regexp: String,
    /// Replacement domain (`.` when unused), without a trailing dot.
    pub replacement: String,
}

/// One SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower first.
    pub priority: u16,
    /// Relative weight among equal priority.
    pub weight: u16,
    /// The port.
    pub port: u16,
    /// The target host (`.` means "service not available here"), without a trailing dot.
    pub target: String,
}

/// The records that answer a [`DnsQuery`] (empty when the name exists without them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsRecords {
    /// NAPTR records.
    Naptr(Vec<NaptrRecord>),
    /// SRV records.
    Srv(Vec<SrvRecord>),
    /// Addresses (A and AAAA).
    Addr(Vec<IpAddr>),
}

impl DnsRecords {
    /// No record at all.
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Naptr(v) => v.is_empty(),
            Self::Srv(v) => v.is_empty(),
            Self::Addr(v) => v.is_empty(),
        }
    }
}

/// A successful answer: the records and how long they may be cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsAnswer {
    /// The records (their kind matches the query's).
    pub records: DnsRecords,
    /// The smallest TTL of the records, in seconds (ignored when there are none).
    pub ttl: u32,
}

/// Why a lookup gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsError {
    /// The name does not exist, or has no record of the kind asked (NXDOMAIN / NODATA).
    NotFound,
    /// No answer in time.
    Timeout,
    /// Any other failure (SERVFAIL, no server reachable…), with a description.
    Failed(String),
}

impl std::fmt::Display for DnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound => f.write_str("no such record"),
            Self::Timeout => f.write_str("timed out"),
            Self::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}
