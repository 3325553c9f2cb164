//! SIP and SIPS URIs (RFC 3261 §19.1) and the [`Uri`] type that also covers
//! `tel:` (RFC 3966, see [`super::tel`]).
//!
//! ```text
//! SIP-URI  = "sip:" [ userinfo ] hostport uri-parameters [ headers ]
//! userinfo = ( user / telephone-subscriber ) [ ":" password ] "@"
//! ```
//!
//! Parsing is strict (no whitespace anywhere, escapes must be `%HH`) and does
//! not insert default ports. The user part is kept as written, still escaped
//! ([`SipUri::user_unescaped`] decodes it); escaped unreserved characters in
//! parameters and headers are decoded (§19.1.4 makes them equal). A
//! well-formed URI of another scheme is [`ParseError::UnsupportedScheme`]
//! (416, §8.2.2.1); anything else is [`ParseError::BadUri`].
//!
//! [`SipUri::equivalent`] implements the comparison rules of §19.1.4.

use std::borrow::Cow;
use std::fmt;

use super::error::ParseError;
pub use super::host::Host;
use super::host::{fmt_hostport, parse_hostport};
use super::params::{Params, is_unreserved, normalize_escapes};
use super::split::unescape;
pub use super::tel::TelUri;
use crate::Transport;

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipUri {
    /// True for `sips:`.
    pub secure: bool,
    /// The user part as written (still %-escaped).
    pub user: Option<String>,
    /// The password as written (deprecated by §22.1, but part of the grammar).
    pub password: Option<String>,
    /// The host.
    pub host: Host,
    /// The port, only when written (no default is inserted).
    pub port: Option<u16>,
    /// The URI parameters (`;transport=tcp;lr`...).
    pub params: Params,
    /// The URI headers (`?subject=x&priority=urgent`), names and values as `(hname, hvalue)`.
    pub headers: Vec<(String, String)>,
}

/// A URI in a place where SIP expects one: `sip:`, `sips:` or `tel:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Uri {
    /// A `sip:` or `sips:` URI.
    Sip(SipUri),
    /// A `tel:` URI.
    Tel(TelUri),
}

/// `user-unreserved` and unreserved (RFC 3261 §25.1).
fn is_user_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}

/// Password characters (RFC 3261 §25.1).
fn is_password_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'&' | b'=' | b'+' | b'$' | b',')
}

/// `hnv-unreserved` and unreserved (RFC 3261 §25.1).
fn is_header_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

/// Checks `allowed` bytes and well-formed escapes, keeping the text as written.
fn valid_escaped(s: &str, allowed: fn(u8) -> bool) -> bool {
    normalize_escapes(s, allowed).is_some()
}

impl SipUri {
    /// A URI with only a host (`sip:host`).
    pub fn new(host: Host) -> Self {
        Self {
            secure: false,
            user: None,
            password: None,
            host,
            port: None,
            params: Params::new(),
            headers: Vec::new(),
        }
    }

    /// Parses the part after `sip:` / `sips:`.
    fn parse_after_scheme(s: &str, secure: bool) -> Option<Self> {
        // No raw '@' may appear after the userinfo, so the first one ends it.
        let (userinfo, rest) = match s.find('@') {
            Some(i) => (Some(s.get(..i)?), s.get(i + 1..)?),
            None => (None, s),
        };
        let (user, password) = match userinfo {
            Some(ui) => {
                let (u, p) = match ui.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (ui, None),
                };
                if u.is_empty()
                    || !valid_escaped(u, is_user_byte)
                    || p.is_some_and(|p| !valid_escaped(p, is_password_byte))
                {
                    return None;
                }
                (Some(u.to_owned()), p.map(str::to_owned))
            }
            None => (None, None),
        };
        let (before_headers, headers) = match rest.split_once('?') {
            Some((b, h)) => (b, Some(h)),
            None => (rest, None),
        };
        let (hostport, params) = match before_headers.find(';') {
            Some(i) => before_headers.split_at(i),
            None => (before_headers, ""),
        };
        let (host, port) = parse_hostport(hostport)?;
        let params = Params::parse_uri(params)?;
        let headers = match headers {
            Some(h) => parse_uri_headers(h)?,
            None => Vec::new(),
        };
        Some(Self {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// The user part with escapes decoded (`%61lice` → `alice`).
    pub fn user_unescaped(&self) -> Option<Cow<'_, str>> {
        self.user.as_deref().map(unescape)
    }

    /// The `transport` parameter as written.
    pub fn transport(&self) -> Option<&str> {
        self.params.value("transport")
    }

    /// The `transport` parameter, when it names a transport we know.
    pub fn transport_kind(&self) -> Option<Transport> {
        self.transport().and_then(Transport::parse)
    }

    /// True when the `lr` parameter is present (loose routing, §19.1.1).
    pub fn lr(&self) -> bool {
        self.params.contains("lr")
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&str> {
        self.params.value("maddr")
    }

    /// The `user` parameter (`phone`, `ip`...).
    pub fn user_param(&self) -> Option<&str> {
        self.params.value("user")
    }

    /// The `method` parameter.
    pub fn method_param(&self) -> Option<&str> {
        self.params.value("method")
    }

    /// The `ttl` parameter, when it is a valid 0..=255 number.
    pub fn ttl(&self) -> Option<u8> {
        self.params.value("ttl").and_then(|v| v.parse().ok())
    }

    /// URI equivalence of RFC 3261 §19.1.4.
    ///
    /// Same scheme; user and password equal case-sensitively after unescaping;
    /// host case-insensitive; ports equal (an omitted port differs from an explicit
    /// default); `transport`, `user`, `method`, `ttl` and `maddr` equal when in
    /// either URI; other parameters equal when in both; headers equal as sets.
    pub fn equivalent(&self, other: &Self) -> bool {
        if self.secure != other.secure
            || self.host != other.host
            || self.port != other.port
            || self.user_unescaped() != other.user_unescaped()
            || self.password.as_deref().map(unescape) != other.password.as_deref().map(unescape)
        {
            return false;
        }
        for name in ["transport", "user", "method", "ttl", "maddr"] {
            if !param_eq(self.params.get(name), other.params.get(name)) {
                return false;
            }
        }
        let theirs = normalized_params(&other.params);
        for (n, v) in normalized_params(&self.params) {
            if let Ok(i) = theirs.binary_search_by(|(tn, _)| tn.cmp(&n))
                && theirs.get(i).map(|(_, tv)| tv) != Some(&v)
            {
                return false;
            }
        }
        normalized_headers(&self.headers) == normalized_headers(&other.headers)
    }
}

fn norm(s: &str) -> String {
    unescape(s).to_lowercase()
}

fn param_eq(a: Option<Option<&str>>, b: Option<Option<&str>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.map(norm) == b.map(norm),
        _ => false,
    }
}

/// Lowercased, unescaped params sorted by name (first occurrence wins).
fn normalized_params(p: &Params) -> Vec<(String, Option<String>)> {
    let mut v: Vec<_> = p.iter().map(|(n, v)| (norm(n), v.map(norm))).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.dedup_by(|a, b| a.0 == b.0);
    v
}

fn normalized_headers(h: &[(String, String)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = h.iter().map(|(n, v)| (norm(n), norm(v))).collect();
    v.sort();
    v
}

/// Parses `hname "=" hvalue *( "&" hname "=" hvalue )`.
fn parse_uri_headers(s: &str) -> Option<Vec<(String, String)>> {
    s.split('&')
        .map(|h| {
            let (n, v) = h.split_once('=')?;
            if n.is_empty() {
                return None;
            }
            Some((
                normalize_escapes(n, is_header_byte)?,
                normalize_escapes(v, is_header_byte)?,
            ))
        })
        .collect()
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        fmt_hostport(f, &self.host, self.port)?;
        write!(f, "{}", self.params)?;
        for (i, (n, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3261 §25.1).
fn is_scheme(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphabetic)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// The characters of `absoluteURI` after the scheme: `uric` plus `%` escapes
/// and `#` (fragments seen in the wild); no whitespace, quotes or angle brackets.
fn is_absolute_rest(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            is_unreserved(b)
                || matches!(
                    b,
                    b';' | b'/'
                        | b'?'
                        | b':'
                        | b'@'
                        | b'&'
                        | b'='
                        | b'+'
                        | b'$'
                        | b','
                        | b'%'
                        | b'['
                        | b']'
                        | b'#'
                )
        })
}

impl Uri {
    /// Parses a `sip:`, `sips:` or `tel:` URI (scheme case-insensitive).
    ///
    /// Another well-formed scheme gives `UnsupportedScheme`; anything else `BadUri`.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let (scheme, rest) = s.split_once(':').ok_or(ParseError::BadUri)?;
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            let secure = scheme.len() == 4;
            SipUri::parse_after_scheme(rest, secure)
                .map(Self::Sip)
                .ok_or(ParseError::BadUri)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_subscriber(rest).map(Self::Tel)
        } else if is_scheme(scheme) && is_absolute_rest(rest) {
            Err(ParseError::UnsupportedScheme)
        } else {
            Err(ParseError::BadUri)
        }
    }

    /// The SIP/SIPS URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Self::Sip(u) => Some(u),
            Self::Tel(_) => None,
        }
    }

    /// The tel URI, if this is one.
    pub fn as_tel(&self) -> Option<&TelUri> {
        match self {
            Self::Tel(t) => Some(t),
            Self::Sip(_) => None,
        }
    }

    /// Equivalence: §19.1.4 for SIP URIs, RFC 3966 §4 for tel; never across schemes.
    pub fn equivalent(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Sip(a), Self::Sip(b)) => a.equivalent(b),
            (Self::Tel(a), Self::Tel(b)) => a.equivalent(b),
            _ => false,
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sip(u) => u.fmt(f),
            Self::Tel(t) => t.fmt(f),
        }
    }
}

impl Uri {
    /// Appends the text `Display` writes, without the formatting machinery
    /// for SIP URIs (the registrar stores every contact this way).
    pub fn push_to(&self, out: &mut String) {
        match self {
            Self::Sip(u) => u.push_to(out),
            Self::Tel(t) => {
                use fmt::Write as _;
                let _ = write!(out, "{t}");
            }
        }
    }
}

impl SipUri {
    /// Appends the text `Display` writes, without the formatting machinery.
    pub fn push_to(&self, out: &mut String) {
        out.push_str(if self.secure { "sips:" } else { "sip:" });
        if let Some(u) = &self.user {
            out.push_str(u);
            if let Some(p) = &self.password {
                out.push(':');
                out.push_str(p);
            }
            out.push('@');
        }
        match &self.host {
            Host::Domain(d) => out.push_str(d),
            Host::V4(a) => super::scan::push_ip(out, std::net::IpAddr::V4(*a)),
            Host::V6(a) => {
                out.push('[');
                super::scan::push_ip(out, std::net::IpAddr::V6(*a));
                out.push(']');
            }
        }
        if let Some(p) = self.port {
            out.push(':');
            super::scan::push_u64(out, u64::from(p));
        }
        for (n, v) in self.params.iter() {
            out.push(';');
            out.push_str(n);
            if let Some(v) = v {
                out.push('=');
                out.push_str(v);
            }
        }
        for (i, (n, v)) in self.headers.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(n);
            out.push('=');
            out.push_str(v);
        }
    }
}

impl std::str::FromStr for Uri {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sip(s: &str) -> SipUri {
        match Uri::parse(s) {
            Ok(Uri::Sip(u)) => u,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn parses_rfc3261_examples() {
        let u = sip("sip:alice:secretword@atlanta.com;transport=tcp");
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("secretword"));
        assert_eq!(u.transport_kind(), Some(Transport::Tcp));
        let u = sip("sips:alice@atlanta.com?subject=project%20x&priority=urgent");
        assert!(u.secure);
        assert_eq!(u.headers.len(), 2);
        assert_eq!(u.headers[0], ("subject".into(), "project%20x".into()));
        let u = sip("sip:+1-212-555-1212:1234@gateway.com;user=phone");
        assert_eq!(u.user.as_deref(), Some("+1-212-555-1212"));
        assert_eq!(u.user_param(), Some("phone"));
        let u = sip("sip:alice@192.0.2.4");
        assert_eq!(u.host, Host::V4("192.0.2.4".parse().unwrap()));
        let u = sip("sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com");
        assert_eq!(u.user, None);
        assert_eq!(u.method_param(), Some("REGISTER"));
        let u = sip("sip:alice;day=tuesday@atlanta.com");
        assert_eq!(u.user.as_deref(), Some("alice;day=tuesday"));
        let u = sip("sip:p1.example.com;lr;maddr=239.255.255.1;ttl=15");
        assert!(u.lr());
        assert_eq!(u.maddr(), Some("239.255.255.1"));
        assert_eq!(u.ttl(), Some(15));
        assert_eq!(u.port, None, "no default port inserted");
    }

    #[test]
    fn parses_rfc4475_torture_uris() {
        // intmeth: every allowed character in user and password.
        let u = sip(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        );
        assert_eq!(
            u.user.as_deref(),
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password.as_deref(),
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        assert_eq!(u.host, Host::Domain("example.com".into()));
        // esc01
        let u = sip("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(u.user_unescaped().unwrap(), "sips:user@example.com");
        let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
        assert!(u.lr());
        assert_eq!(u.params.value("name"), Some("value%2541"));
        // escnull, semiuri, escruri
        assert_eq!(
            sip("sip:null-%00-null@example.com")
                .user_unescaped()
                .unwrap(),
            "null-\0-null"
        );
        assert_eq!(
            sip("sip:user;par=u%40example.net@example.com")
                .host
                .to_string(),
            "example.com"
        );
        let u = sip("sip:user@example.com?Route=%3Csip:example.com%3E");
        assert_eq!(
            u.headers,
            [("Route".into(), "%3Csip:example.com%3E".into())]
        );
        // novelsc, unksm2: a well-formed URI of another scheme.
        assert_eq!(
            Uri::parse("soap.beep://192.0.2.103:3002"),
            Err(ParseError::UnsupportedScheme)
        );
        assert_eq!(
            Uri::parse("isbn:2983792873"),
            Err(ParseError::UnsupportedScheme)
        );
        assert_eq!(
            Uri::parse("http://www.example.com"),
            Err(ParseError::UnsupportedScheme)
        );
    }

    #[test]
    fn parses_rfc5118_ipv6() {
        let u = sip("sip:[2001:db8::10]");
        assert_eq!(u.host, Host::V6("2001:db8::10".parse().unwrap()));
        let u = sip("sip:user@[2001:db8::10]:5070");
        assert_eq!(u.port, Some(5070));
        let u = sip("sip:user@[2001:db8::10:5070]");
        assert_eq!(u.port, None);
        let u = sip("sip:[::ffff:192.0.2.10]:5060;transport=udp");
        assert_eq!(u.to_string(), "sip:[::ffff:192.0.2.10]:5060;transport=udp");
        for bad in [
            "sip:user@2001:db8::10",
            "sip:user@[2001:db8::10",
            "sip:user@2001:db8::10]",
            "sip:[2001:db8::10]]",
            "sip:[[2001:db8::10]",
            "sip:[2001:db8:::192.0.2.1]",
        ] {
            assert_eq!(Uri::parse(bad), Err(ParseError::BadUri), "{bad}");
        }
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            ":",
            "sip:",
            "sip:@host",
            "sip:user@",
            "sip: user@host",
            "sip:user@host ",
            "sip:user@host:65536",
            "sip:user@host:99999999999999999999999",
            "sip:user@host;",
            "sip:user@host;;lr",
            "sip:user@host?",
            "sip:user@host?a",
            "sip:us er@host",
            "sip:us%4@host",
            "sip:u\"@host",
            "sip:user@host;p=é",
            "sip:élan@host",
            "<sip:user@host>",
            "1sip:x",
            "tel:",
            "mailto:<x>",
        ] {
            assert_eq!(Uri::parse(bad), Err(ParseError::BadUri), "{bad:?}");
        }
        assert!(Uri::parse(&format!("sip:h{}", ";".repeat(10_000))).is_err());
    }

    #[test]
    fn parses_tel_and_scheme_case() {
        let u = Uri::parse("TEL:+1-201-555-0123").unwrap();
        assert!(u.as_tel().is_some() && u.as_sip().is_none());
        assert_eq!(u.to_string(), "tel:+1-201-555-0123");
        let u = Uri::parse("SIP:ALICE@AtLanTa.CoM").unwrap();
        assert_eq!(u.to_string(), "sip:ALICE@AtLanTa.CoM");
        assert_eq!(
            "SIPS:a@b.c"
                .parse::<Uri>()
                .unwrap()
                .as_sip()
                .map(|u| u.secure),
            Some(true)
        );
    }

    #[test]
    fn rfc3261_19_1_4_equivalent() {
        for (a, b) in [
            (
                "sip:%61lice@atlanta.com;transport=TCP",
                "sip:alice@AtLanTa.CoM;Transport=tcp",
            ),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
            (
                "sip:carol@chicago.com;newparam=5",
                "sip:carol@chicago.com;security=on",
            ),
            (
                "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
            ),
            (
                "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
            ),
            ("sip:[2001:db8::10]:5060", "sip:[2001:DB8:0::10]:5060"),
        ] {
            assert!(sip(a).equivalent(&sip(b)), "{a} == {b}");
            assert!(sip(b).equivalent(&sip(a)), "{b} == {a}");
        }
    }

    #[test]
    fn rfc3261_19_1_4_not_equivalent() {
        for (a, b) in [
            (
                "SIP:ALICE@AtLanTa.CoM;Transport=udp",
                "sip:alice@AtLanTa.CoM;Transport=UDP",
            ),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
            (
                "sip:bob@biloxi.com",
                "sip:bob@biloxi.com:6000;transport=tcp",
            ),
            (
                "sip:carol@chicago.com",
                "sip:carol@chicago.com?Subject=next%20meeting",
            ),
            ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
            (
                "sip:carol@chicago.com;security=on",
                "sip:carol@chicago.com;security=off",
            ),
            ("sip:a@b.com", "sips:a@b.com"),
            ("sip:a@b.com", "sip:b.com"),
            ("sip:a:x@b.com", "sip:a:X@b.com"),
            ("sip:b.com;maddr=1.2.3.4", "sip:b.com"),
            ("sip:b.com;ttl=1", "sip:b.com;ttl=2"),
        ] {
            assert!(!sip(a).equivalent(&sip(b)), "{a} != {b}");
            assert!(!sip(b).equivalent(&sip(a)), "{b} != {a}");
        }
        let t = Uri::parse("tel:+1234").unwrap();
        assert!(!t.equivalent(&Uri::parse("sip:+1234@h.com").unwrap()));
    }

    fn arb_sip_uri() -> impl Strategy<Value = String> {
        let user = proptest::option::of((
            "([a-zA-Z0-9_.!~*'()&=+$,;?/-]|%[0-9a-fA-F]{2}){1,12}",
            proptest::option::of("([a-zA-Z0-9&=+$,-]|%[0-9A-F]{2}){0,8}"),
        ));
        let host = prop_oneof![
            "[a-z]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-zA-Z]([a-zA-Z0-9-]{0,5}[a-zA-Z0-9])?){0,3}",
            any::<[u8; 4]>().prop_map(|b| std::net::Ipv4Addr::from(b).to_string()),
            any::<[u16; 8]>().prop_map(|b| format!("[{}]", std::net::Ipv6Addr::from(b))),
        ];
        let port = proptest::option::of(any::<u16>());
        let params = proptest::collection::vec(
            (
                "([a-zA-Z0-9\\[\\]/:&+$_.!~*'()-]|%[0-9a-fA-F]{2}){1,8}",
                proptest::option::of("([a-zA-Z0-9\\[\\]/:&+$_-]|%[0-9a-fA-F]{2}){1,8}"),
            ),
            0..4,
        );
        let headers = proptest::collection::vec(
            (
                "[a-zA-Z0-9?:+$-]{1,6}",
                "([a-zA-Z0-9?:/+$-]|%[0-9a-fA-F]{2}){0,8}",
            ),
            0..3,
        );
        (any::<bool>(), user, host, port, params, headers).prop_map(
            |(secure, user, host, port, params, headers)| {
                let mut s = String::from(if secure { "sips:" } else { "sip:" });
                if let Some((u, p)) = user {
                    s += &u;
                    if let Some(p) = p {
                        s += ":";
                        s += &p;
                    }
                    s += "@";
                }
                s += &host;
                if let Some(p) = port {
                    s += &format!(":{p}");
                }
                for (n, v) in params {
                    s += ";";
                    s += &n;
                    if let Some(v) = v {
                        s += "=";
                        s += &v;
                    }
                }
                for (i, (n, v)) in headers.into_iter().enumerate() {
                    s += if i == 0 { "?" } else { "&" };
                    s += &format!("{n}={v}");
                }
                s
            },
        )
    }

    #[test]
    fn push_to_writes_what_display_writes() {
        for s in [
            "sip:alice@atlanta.com",
            "SIPS:%61lice:pw@[2001:DB8::1]:5061;transport=TCP;lr;maddr=239.255.255.1?subject=x&priority=urgent",
            "sip:192.0.2.4:5060;transport=udp;%6C%72",
            "sip:+1-212-555-1212:1234@gateway.com;user=phone",
            "tel:+1-201-555-0123;phone-context=example.com",
        ] {
            let u = Uri::parse(s).expect("valid URI");
            let mut out = String::from("<");
            u.push_to(&mut out);
            assert_eq!(out, format!("<{u}"), "{s}");
        }
    }

    proptest! {
        #[test]
        fn display_reparses_equal(s in arb_sip_uri()) {
            let u = Uri::parse(&s).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
            let again = Uri::parse(&u.to_string());
            prop_assert_eq!(again.as_ref(), Ok(&u));
            let mut pushed = String::new();
            u.push_to(&mut pushed);
            prop_assert_eq!(pushed, u.to_string());
            if let (Uri::Sip(a), Ok(Uri::Sip(b))) = (&u, &again) {
                prop_assert!(a.equivalent(b));
            }
        }

        #[test]
        fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let s = String::from_utf8_lossy(&b);
            let _ = Uri::parse(&s);
            let _ = Host::parse(&s);
            let _ = Params::parse(&s);
        }

        #[test]
        fn sip_alphabet_never_panics(s in "[sip:@\\[\\]%0-9a-f;=?&.<>\" ,\\\\é]{0,60}") {
            if let Ok(u) = Uri::parse(&s) {
                let mut pushed = String::new();
                u.push_to(&mut pushed);
                prop_assert_eq!(&pushed, &u.to_string());
                prop_assert_eq!(Uri::parse(&u.to_string()), Ok(u));
            }
        }
    }
}
