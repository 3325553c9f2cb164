//! Errors of the digest-authentication module (RFC 3261 §22.4, RFC 7616 §3.4).
//!
//! Every variant names what is wrong with a credentials or challenge header value
//! so a server can put it in the reason phrase of its 400 and an operator reading
//! a trace knows which parameter the client got wrong.

use thiserror::Error;

/// Why a `Digest` credentials or challenge value was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The header value is empty or names an auth scheme other than `Digest`
    /// (SIP forbids `Basic`, RFC 3261 §22.1).
    #[error("auth scheme is not Digest")]
    NotDigest,
    /// The parameter list does not follow the `auth-param` grammar
    /// (RFC 3261 §25.1: `name EQUAL (token / quoted-string)`, comma-separated).
    #[error("malformed digest parameter list")]
    Syntax,
    /// A quoted string is not closed, or holds a bare CR/LF or an escaped CR/LF.
    #[error("malformed quoted string")]
    BadQuotedString,
    /// A parameter appears more than once.
    #[error("duplicate digest parameter {0}")]
    DuplicateParam(String),
    /// More parameters than the parser is willing to look at.
    #[error("too many digest parameters")]
    TooManyParams,
    /// A parameter the scheme requires is absent; carries its name.
    #[error("missing digest parameter {0}")]
    MissingParam(&'static str),
    /// `algorithm` names no digest algorithm we know.
    #[error("unknown digest algorithm")]
    BadAlgorithm,
    /// `algorithm` names a known algorithm we do not support (`-sess` variants,
    /// `SHA-512-256`); carries its canonical name.
    #[error("unsupported digest algorithm {0}")]
    UnsupportedAlgorithm(&'static str),
    /// `qop` in credentials is neither `auth` nor `auth-int`.
    #[error("bad qop value")]
    BadQop,
    /// `nc` is not exactly 8 hex digits, or is zero (RFC 7616 §3.4).
    #[error("bad nonce-count (nc)")]
    BadNc,
    /// `response` is not hex of the length the algorithm produces (32 for MD5,
    /// 64 for SHA-256).
    #[error("bad response length for the algorithm")]
    BadResponse,
    /// `stale` or `userhash` is neither `true` nor `false`.
    #[error("bad boolean parameter {0}")]
    BadFlag(&'static str),
    /// `qop` is present but `cnonce` or `nc` is missing (RFC 7616 §3.4); carries
    /// the missing parameter's name.
    #[error("qop given without {0}")]
    QopWithout(&'static str),
    /// `cnonce` or `nc` is present without `qop` (RFC 2617 §3.2.2).
    #[error("{0} given without qop")]
    WithoutQop(&'static str),
    /// The credentials' `uri` differs from the Request-URI (RFC 3261 §22.4).
    #[error("digest uri does not match the Request-URI")]
    UriMismatch,
    /// `qop` is absent although the server requires it (no RFC 2069 answers).
    #[error("qop is required")]
    MissingQop,
    /// The client used a qop the server did not offer (`auth-int`).
    #[error("qop {0} was not offered")]
    QopNotOffered(&'static str),
    /// `userhash=true`, which the server did not offer (RFC 7616 §3.4.4).
    #[error("userhash was not offered")]
    UserhashNotOffered,
}
