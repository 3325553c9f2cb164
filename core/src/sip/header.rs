//! Header field names (RFC 3261 §7.3, §20; compact forms §7.3.3 and the IANA
//! "Header Fields" registry).
//!
//! Names are case-insensitive (§7.3.1). [`HeaderName::from_bytes`] maps a name
//! as it appears on the wire (long or compact form, any case) to a
//! [`HeaderName`] with a match on the length and first byte followed by one
//! case-insensitive comparison, done on two or three overlapping 4- or 8-byte
//! words rather than byte by byte: no hashing, no allocation. A name the codec
//! does not know becomes [`HeaderName::Other`]; its text stays in the
//! message's bytes, so a proxy forwards it byte-exact.

use std::fmt;

/// A SIP header field name. Known names are variants; anything else is
/// [`HeaderName::Other`] and keeps its spelling in the message bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum HeaderName {
    /// `Via` / `v` (§20.42)
    Via,
    /// `From` / `f` (§20.20)
    From,
    /// `To` / `t` (§20.39)
    To,
    /// `Call-ID` / `i` (§20.8)
    CallId,
    /// `CSeq` (§20.16)
    CSeq,
    /// `Contact` / `m` (§20.10)
    Contact,
    /// `Max-Forwards` (§20.22)
    MaxForwards,
    /// `Route` (§20.34)
    Route,
    /// `Record-Route` (§20.30)
    RecordRoute,
    /// `Path` (RFC 3327)
    Path,
    /// `Expires` (§20.19)
    Expires,
    /// `Min-Expires` (§20.23)
    MinExpires,
    /// `Content-Length` / `l` (§20.14)
    ContentLength,
    /// `Content-Type` / `c` (§20.15)
    ContentType,
    /// `Content-Encoding` / `e` (§20.12)
    ContentEncoding,
    /// `Authorization` (§20.7)
    Authorization,
    /// `Proxy-Authorization` (§20.28)
    ProxyAuthorization,
    /// `WWW-Authenticate` (§20.44)
    WwwAuthenticate,
    /// `Proxy-Authenticate` (§20.27)
    ProxyAuthenticate,
    /// `Authentication-Info` (§20.6)
    AuthenticationInfo,
    /// `Supported` / `k` (§20.37)
    Supported,
    /// `Require` (§20.32)
    Require,
    /// `Proxy-Require` (§20.29)
    ProxyRequire,
    /// `Unsupported` (§20.40)
    Unsupported,
    /// `Allow` (§20.5)
    Allow,
    /// `Accept` (§20.1)
    Accept,
    /// `User-Agent` (§20.41)
    UserAgent,
    /// `Server` (§20.35)
    Server,
    /// `Date` (§20.17)
    Date,
    /// `Subject` / `s` (§20.36)
    Subject,
    /// `Event` / `o` (RFC 6665)
    Event,
    /// `Allow-Events` / `u` (RFC 6665)
    AllowEvents,
    /// `Refer-To` / `r` (RFC 3515)
    ReferTo,
    /// `Referred-By` / `b` (RFC 3892)
    ReferredBy,
    /// `Session-Expires` / `x` (RFC 4028)
    SessionExpires,
    /// `Timestamp` (§20.38)
    Timestamp,
    /// `Warning` (§20.43)
    Warning,
    /// `Retry-After` (§20.33)
    RetryAfter,
    /// Any other name; its spelling is kept in the message bytes.
    Other,
}

/// A known long name prepared for a case-insensitive match against wire
/// bytes a word at a time: the lowercase literal read as little-endian words
/// at fixed offsets, with `0x20` set in the mask at every letter position.
///
/// A wire byte `a` matches a literal letter `b` if `a | 0x20 == b` (`b` or its
/// uppercase form) and any other literal byte (`-`) only if `a == b`. The
/// words overlap so that every byte of the name is covered: offsets `0` and
/// `len - 4` for 4–7 bytes, `0` and `len - 8` for 8–16 bytes, plus `8` for
/// longer names.
#[derive(Clone, Copy)]
struct Lit {
    name: HeaderName,
    words: [u64; 3],
    masks: [u64; 3],
}

/// The word offsets and width used for a name of `len` bytes (`len >= 4`).
const fn offsets(len: usize) -> ([usize; 3], usize) {
    if len < 8 {
        ([0, len - 4, len - 4], 4)
    } else if len <= 16 {
        ([0, len - 8, len - 8], 8)
    } else {
        ([0, 8, len - 8], 8)
    }
}

impl Lit {
    /// Prepares `lower` (a lowercase name of at least 4 bytes) for `name`.
    const fn new(name: HeaderName, lower: &str) -> Self {
        let b = lower.as_bytes();
        let (at, width) = offsets(b.len());
        let mut words = [0u64; 3];
        let mut masks = [0u64; 3];
        let mut w = 0;
        while w < 3 {
            let mut k = 0;
            while k < width {
                let c = b[at[w] + k];
                words[w] |= (c as u64) << (8 * k);
                if c.is_ascii_lowercase() {
                    masks[w] |= 0x20 << (8 * k);
                }
                k += 1;
            }
            w += 1;
        }
        Self { name, words, masks }
    }

    /// Does `wire` (of the literal's length) match, ignoring case?
    #[inline]
    fn matches(&self, wire: &[u8]) -> bool {
        let (at, width) = offsets(wire.len());
        let load = |from: usize| -> u64 {
            match width {
                4 => wire
                    .get(from..from + 4)
                    .and_then(|w| <[u8; 4]>::try_from(w).ok())
                    .map_or(u64::MAX, |w| u64::from(u32::from_le_bytes(w))),
                _ => wire
                    .get(from..from + 8)
                    .and_then(|w| <[u8; 8]>::try_from(w).ok())
                    .map_or(u64::MAX, u64::from_le_bytes),
            }
        };
        (0..3).all(|w| load(at[w]) | self.masks[w] == self.words[w])
    }
}

/// Case-insensitive comparison of a short wire name with a lowercase
/// literal, byte by byte, with the rule of [`Lit`].
#[inline]
fn eq_short(name: &[u8], lower: &[u8]) -> bool {
    name.len() == lower.len()
        && name
            .iter()
            .zip(lower)
            .all(|(&a, &b)| a == b || (a | 0x20 == b && b.is_ascii_lowercase()))
}

/// The known names of four bytes or more, prepared for [`Lit::matches`].
mod lits {
    use super::{HeaderName as H, Lit};

    pub(super) static FROM: Lit = Lit::new(H::From, "from");
    pub(super) static CSEQ: Lit = Lit::new(H::CSeq, "cseq");
    pub(super) static PATH: Lit = Lit::new(H::Path, "path");
    pub(super) static DATE: Lit = Lit::new(H::Date, "date");
    pub(super) static ROUTE: Lit = Lit::new(H::Route, "route");
    pub(super) static ALLOW: Lit = Lit::new(H::Allow, "allow");
    pub(super) static EVENT: Lit = Lit::new(H::Event, "event");
    pub(super) static ACCEPT: Lit = Lit::new(H::Accept, "accept");
    pub(super) static SERVER: Lit = Lit::new(H::Server, "server");
    pub(super) static CALL_ID: Lit = Lit::new(H::CallId, "call-id");
    pub(super) static CONTACT: Lit = Lit::new(H::Contact, "contact");
    pub(super) static EXPIRES: Lit = Lit::new(H::Expires, "expires");
    pub(super) static REQUIRE: Lit = Lit::new(H::Require, "require");
    pub(super) static SUBJECT: Lit = Lit::new(H::Subject, "subject");
    pub(super) static WARNING: Lit = Lit::new(H::Warning, "warning");
    pub(super) static REFER_TO: Lit = Lit::new(H::ReferTo, "refer-to");
    pub(super) static SUPPORTED: Lit = Lit::new(H::Supported, "supported");
    pub(super) static TIMESTAMP: Lit = Lit::new(H::Timestamp, "timestamp");
    pub(super) static USER_AGENT: Lit = Lit::new(H::UserAgent, "user-agent");
    pub(super) static MIN_EXPIRES: Lit = Lit::new(H::MinExpires, "min-expires");
    pub(super) static UNSUPPORTED: Lit = Lit::new(H::Unsupported, "unsupported");
    pub(super) static RETRY_AFTER: Lit = Lit::new(H::RetryAfter, "retry-after");
    pub(super) static REFERRED_BY: Lit = Lit::new(H::ReferredBy, "referred-by");
    pub(super) static MAX_FORWARDS: Lit = Lit::new(H::MaxForwards, "max-forwards");
    pub(super) static RECORD_ROUTE: Lit = Lit::new(H::RecordRoute, "record-route");
    pub(super) static CONTENT_TYPE: Lit = Lit::new(H::ContentType, "content-type");
    pub(super) static ALLOW_EVENTS: Lit = Lit::new(H::AllowEvents, "allow-events");
    pub(super) static AUTHORIZATION: Lit = Lit::new(H::Authorization, "authorization");
    pub(super) static PROXY_REQUIRE: Lit = Lit::new(H::ProxyRequire, "proxy-require");
    pub(super) static CONTENT_LENGTH: Lit = Lit::new(H::ContentLength, "content-length");
    pub(super) static SESSION_EXPIRES: Lit = Lit::new(H::SessionExpires, "session-expires");
    pub(super) static CONTENT_ENCODING: Lit = Lit::new(H::ContentEncoding, "content-encoding");
    pub(super) static WWW_AUTHENTICATE: Lit = Lit::new(H::WwwAuthenticate, "www-authenticate");
    pub(super) static PROXY_AUTHENTICATE: Lit =
        Lit::new(H::ProxyAuthenticate, "proxy-authenticate");
    pub(super) static PROXY_AUTHORIZATION: Lit =
        Lit::new(H::ProxyAuthorization, "proxy-authorization");
    pub(super) static AUTHENTICATION_INFO: Lit =
        Lit::new(H::AuthenticationInfo, "authentication-info");
}

impl HeaderName {
    /// Maps a header name as written on the wire (long or compact form, any
    /// case) to a [`HeaderName`]. Unknown names give [`HeaderName::Other`].
    pub fn from_bytes(name: &[u8]) -> Self {
        use lits::*;
        let Some(&first) = name.first() else {
            return Self::Other;
        };
        // Lowercases letters; other bytes become bytes no arm expects,
        // or are rejected by the full comparison.
        let first = first | 0x20;
        let lit: &Lit = match (name.len(), first) {
            (1, _) => {
                return match first {
                    b'v' => Self::Via,
                    b'f' => Self::From,
                    b't' => Self::To,
                    b'i' => Self::CallId,
                    b'm' => Self::Contact,
                    b'l' => Self::ContentLength,
                    b'c' => Self::ContentType,
                    b'e' => Self::ContentEncoding,
                    b'k' => Self::Supported,
                    b's' => Self::Subject,
                    b'o' => Self::Event,
                    b'r' => Self::ReferTo,
                    b'u' => Self::AllowEvents,
                    b'x' => Self::SessionExpires,
                    b'b' => Self::ReferredBy,
                    _ => Self::Other,
                };
            }
            (2, b't') if eq_short(name, b"to") => return Self::To,
            (3, b'v') if eq_short(name, b"via") => return Self::Via,
            (4, b'f') => &FROM,
            (4, b'c') => &CSEQ,
            (4, b'p') => &PATH,
            (4, b'd') => &DATE,
            (5, b'r') => &ROUTE,
            (5, b'a') => &ALLOW,
            (5, b'e') => &EVENT,
            (6, b'a') => &ACCEPT,
            (6, b's') => &SERVER,
            (7, b'c') if CALL_ID.matches(name) => return Self::CallId,
            (7, b'c') => &CONTACT,
            (7, b'e') => &EXPIRES,
            (7, b'r') => &REQUIRE,
            (7, b's') => &SUBJECT,
            (7, b'w') => &WARNING,
            (8, b'r') => &REFER_TO,
            (9, b's') => &SUPPORTED,
            (9, b't') => &TIMESTAMP,
            (10, b'u') => &USER_AGENT,
            (11, b'm') => &MIN_EXPIRES,
            (11, b'u') => &UNSUPPORTED,
            // The only length/first-byte pair shared by two names.
            (11, b'r') if REFERRED_BY.matches(name) => return Self::ReferredBy,
            (11, b'r') => &RETRY_AFTER,
            (12, b'm') => &MAX_FORWARDS,
            (12, b'r') => &RECORD_ROUTE,
            (12, b'c') => &CONTENT_TYPE,
            (12, b'a') => &ALLOW_EVENTS,
            (13, b'a') => &AUTHORIZATION,
            (13, b'p') => &PROXY_REQUIRE,
            (14, b'c') => &CONTENT_LENGTH,
            (15, b's') => &SESSION_EXPIRES,
            (16, b'c') => &CONTENT_ENCODING,
            (16, b'w') => &WWW_AUTHENTICATE,
            (18, b'p') => &PROXY_AUTHENTICATE,
            (19, b'p') => &PROXY_AUTHORIZATION,
            (19, b'a') => &AUTHENTICATION_INFO,
            _ => return Self::Other,
        };
        if lit.matches(name) {
            lit.name
        } else {
            Self::Other
        }
    }

    /// Like [`HeaderName::from_bytes`] for a `&str`.
    pub fn parse(name: &str) -> Self {
        Self::from_bytes(name.as_bytes())
    }

    /// The canonical long name (RFC 3261 §20 spelling). `Other` gives `""`:
    /// its spelling lives in the message.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Via => "Via",
            Self::From => "From",
            Self::To => "To",
            Self::CallId => "Call-ID",
            Self::CSeq => "CSeq",
            Self::Contact => "Contact",
            Self::MaxForwards => "Max-Forwards",
            Self::Route => "Route",
            Self::RecordRoute => "Record-Route",
            Self::Path => "Path",
            Self::Expires => "Expires",
            Self::MinExpires => "Min-Expires",
            Self::ContentLength => "Content-Length",
            Self::ContentType => "Content-Type",
            Self::ContentEncoding => "Content-Encoding",
            Self::Authorization => "Authorization",
            Self::ProxyAuthorization => "Proxy-Authorization",
            Self::WwwAuthenticate => "WWW-Authenticate",
            Self::ProxyAuthenticate => "Proxy-Authenticate",
            Self::AuthenticationInfo => "Authentication-Info",
            Self::Supported => "Supported",
            Self::Require => "Require",
            Self::ProxyRequire => "Proxy-Require",
            Self::Unsupported => "Unsupported",
            Self::Allow => "Allow",
            Self::Accept => "Accept",
            Self::UserAgent => "User-Agent",
            Self::Server => "Server",
            Self::Date => "Date",
            Self::Subject => "Subject",
            Self::Event => "Event",
            Self::AllowEvents => "Allow-Events",
            Self::ReferTo => "Refer-To",
            Self::ReferredBy => "Referred-By",
            Self::SessionExpires => "Session-Expires",
            Self::Timestamp => "Timestamp",
            Self::Warning => "Warning",
            Self::RetryAfter => "Retry-After",
            Self::Other => "",
        }
    }

    /// The compact form (§7.3.3), if the name has one.
    pub fn compact(self) -> Option<char> {
        Some(match self {
            Self::Via => 'v',
            Self::From => 'f',
            Self::To => 't',
            Self::CallId => 'i',
            Self::Contact => 'm',
            Self::ContentLength => 'l',
            Self::ContentType => 'c',
            Self::ContentEncoding => 'e',
            Self::Supported => 'k',
            Self::Subject => 's',
            Self::Event => 'o',
            Self::ReferTo => 'r',
            Self::AllowEvents => 'u',
            Self::SessionExpires => 'x',
            Self::ReferredBy => 'b',
            _ => return None,
        })
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: &[HeaderName] = &[
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
        HeaderName::Contact,
        HeaderName::MaxForwards,
        HeaderName::Route,
        HeaderName::RecordRoute,
        HeaderName::Path,
        HeaderName::Expires,
        HeaderName::MinExpires,
        HeaderName::ContentLength,
        HeaderName::ContentType,
        HeaderName::ContentEncoding,
        HeaderName::Authorization,
        HeaderName::ProxyAuthorization,
        HeaderName::WwwAuthenticate,
        HeaderName::ProxyAuthenticate,
        HeaderName::AuthenticationInfo,
        HeaderName::Supported,
        HeaderName::Require,
        HeaderName::ProxyRequire,
        HeaderName::Unsupported,
        HeaderName::Allow,
        HeaderName::Accept,
        HeaderName::UserAgent,
        HeaderName::Server,
        HeaderName::Date,
        HeaderName::Subject,
        HeaderName::Event,
        HeaderName::AllowEvents,
        HeaderName::ReferTo,
        HeaderName::ReferredBy,
        HeaderName::SessionExpires,
        HeaderName::Timestamp,
        HeaderName::Warning,
        HeaderName::RetryAfter,
    ];

    #[test]
    fn every_long_name_round_trips_in_any_case() {
        for &h in ALL {
            let s = h.as_str();
            assert_eq!(HeaderName::parse(s), h, "{s}");
            assert_eq!(HeaderName::parse(&s.to_ascii_lowercase()), h, "{s}");
            assert_eq!(HeaderName::parse(&s.to_ascii_uppercase()), h, "{s}");
        }
    }

    #[test]
    fn compact_forms_follow_rfc3261_and_iana() {
        let table = [
            ("v", HeaderName::Via),
            ("F", HeaderName::From),
            ("t", HeaderName::To),
            ("I", HeaderName::CallId),
            ("m", HeaderName::Contact),
            ("L", HeaderName::ContentLength),
            ("c", HeaderName::ContentType),
            ("e", HeaderName::ContentEncoding),
            ("k", HeaderName::Supported),
            ("s", HeaderName::Subject),
            ("o", HeaderName::Event),
            ("r", HeaderName::ReferTo),
            ("u", HeaderName::AllowEvents),
            ("x", HeaderName::SessionExpires),
            ("b", HeaderName::ReferredBy),
        ];
        for (c, h) in table {
            assert_eq!(HeaderName::parse(c), h, "{c}");
            assert_eq!(
                h.compact().map(|x| x.to_string()),
                Some(c.to_ascii_lowercase())
            );
        }
        assert_eq!(HeaderName::parse("z"), HeaderName::Other);
        assert_eq!(HeaderName::CSeq.compact(), None);
    }

    /// The matching rule, byte by byte: the reference for the word-wise match.
    fn reference(name: &[u8]) -> HeaderName {
        let same = |lower: &str| {
            name.len() == lower.len()
                && name.iter().zip(lower.bytes()).all(|(&a, b)| {
                    a == b || (b.is_ascii_lowercase() && a == b.to_ascii_uppercase())
                })
        };
        ALL.iter()
            .copied()
            .find(|h| {
                same(&h.as_str().to_ascii_lowercase())
                    || h.compact().is_some_and(|c| same(&c.to_string()))
            })
            .unwrap_or(HeaderName::Other)
    }

    #[test]
    fn every_one_byte_change_matches_the_reference() {
        // Each byte of each name (long and compact, two cases) set to every
        // value: catches a mask or word offset that lets a wrong byte through
        // (e.g. CR where `-` belongs, since `\r | 0x20 == b'-'`).
        let mut names: Vec<String> = ALL.iter().map(|h| h.as_str().to_owned()).collect();
        names.extend(
            ALL.iter()
                .filter_map(|h| h.compact())
                .map(|c| c.to_string()),
        );
        for name in names {
            for spelled in [name.to_ascii_lowercase(), name.to_ascii_uppercase()] {
                let mut b = spelled.into_bytes();
                for at in 0..b.len() {
                    let keep = b[at];
                    for v in 0..=255u8 {
                        b[at] = v;
                        assert_eq!(HeaderName::from_bytes(&b), reference(&b), "{b:?}");
                    }
                    b[at] = keep;
                }
            }
        }
    }

    #[test]
    fn near_misses_are_other() {
        for s in [
            "", "vi", "Viaa", "Call-Id2", "Contacts", "Cseq ", "X-Via", "Tx",
        ] {
            assert_eq!(HeaderName::parse(s), HeaderName::Other, "{s:?}");
        }
        assert_eq!(HeaderName::parse("Call-Id"), HeaderName::CallId);
        assert_eq!(
            HeaderName::parse("WWW-AUTHENTICATE"),
            HeaderName::WwwAuthenticate
        );
        assert_eq!(HeaderName::Other.as_str(), "");
    }
}
