//! Header field names (RFC 3261 §7.3, §20; compact forms §7.3.3 and the IANA
//! "Header Fields" registry).
//!
//! Names are case-insensitive (§7.3.1). [`HeaderName::from_bytes`] maps a name
//! as it appears on the wire (long or compact form, any case) to a
//! [`HeaderName`] with a match on the length and first byte followed by one
//! case-insensitive comparison: no hashing, no allocation. A name the codec
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

/// Case-insensitive comparison of a wire name with a lowercase literal:
/// a byte matches if equal, or if it is the uppercase form of a letter.
#[inline]
fn eq(name: &[u8], lower: &str) -> bool {
    name.len() == lower.len()
        && name
            .iter()
            .zip(lower.as_bytes())
            .all(|(&a, &b)| a == b || (a | 0x20 == b && b.is_ascii_lowercase()))
}

impl HeaderName {
    /// Maps a header name as written on the wire (long or compact form, any
    /// case) to a [`HeaderName`]. Unknown names give [`HeaderName::Other`].
    pub fn from_bytes(name: &[u8]) -> Self {
        let Some(&first) = name.first() else {
            return Self::Other;
        };
        let first = first.to_ascii_lowercase();
        if name.len() == 1 {
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
        let candidate = match (name.len(), first) {
            (2, b't') => (Self::To, "to"),
            (3, b'v') => (Self::Via, "via"),
            (4, b'f') => (Self::From, "from"),
            (4, b'c') => (Self::CSeq, "cseq"),
            (4, b'p') => (Self::Path, "path"),
            (4, b'd') => (Self::Date, "date"),
            (5, b'r') => (Self::Route, "route"),
            (5, b'a') => (Self::Allow, "allow"),
            (5, b'e') => (Self::Event, "event"),
            (6, b'a') => (Self::Accept, "accept"),
            (6, b's') => (Self::Server, "server"),
            (7, b'c') if eq(name, "call-id") => return Self::CallId,
            (7, b'c') => (Self::Contact, "contact"),
            (7, b'e') => (Self::Expires, "expires"),
            (7, b'r') => (Self::Require, "require"),
            (7, b's') => (Self::Subject, "subject"),
            (7, b'w') => (Self::Warning, "warning"),
            (8, b'r') => (Self::ReferTo, "refer-to"),
            (9, b's') => (Self::Supported, "supported"),
            (9, b't') => (Self::Timestamp, "timestamp"),
            (10, b'u') => (Self::UserAgent, "user-agent"),
            (11, b'm') => (Self::MinExpires, "min-expires"),
            (11, b'u') => (Self::Unsupported, "unsupported"),
            (11, b'r') => (Self::RetryAfter, "retry-after"),
            (12, b'm') => (Self::MaxForwards, "max-forwards"),
            (12, b'r') => (Self::RecordRoute, "record-route"),
            (12, b'c') => (Self::ContentType, "content-type"),
            (12, b'a') => (Self::AllowEvents, "allow-events"),
            (13, b'a') => (Self::Authorization, "authorization"),
            (13, b'p') => (Self::ProxyRequire, "proxy-require"),
            (14, b'c') => (Self::ContentLength, "content-length"),
            (15, b's') => (Self::SessionExpires, "session-expires"),
            (16, b'c') => (Self::ContentEncoding, "content-encoding"),
            (16, b'w') => (Self::WwwAuthenticate, "www-authenticate"),
            (18, b'p') => (Self::ProxyAuthenticate, "proxy-authenticate"),
            (19, b'p') => (Self::ProxyAuthorization, "proxy-authorization"),
            (19, b'a') => (Self::AuthenticationInfo, "authentication-info"),
            _ => return Self::Other,
        };
        if eq(name, candidate.1) {
            candidate.0
        } else if name.len() == 11 && eq(name, "referred-by") {
            // The only length/first-byte pair shared by two names.
            Self::ReferredBy
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
