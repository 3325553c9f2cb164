//! The Contact header (RFC 3261 §20.10, §10.2.1, §10.3; RFC 5626 §4.1 for
//! `+sip.instance` and `reg-id`).
//!
//! ```text
//! Contact = ( STAR / (contact-param *(COMMA contact-param)))
//! contact-param  = (name-addr / addr-spec) *(SEMI contact-params)
//! contact-params = c-p-q / c-p-expires / contact-extension
//! qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
//! ```
//!
//! `*` is only valid alone (§10.2.2, a REGISTER removing all bindings). A `q`
//! that is not a qvalue and an `expires` that is not digits are errors at parse
//! time, so the accessors can be total; a huge `expires` saturates at
//! `u32::MAX` (RFC 4475 `scalarlg` lets an element treat it as a default). Errors
//! are `BadHeader("Contact")`, except `UnsupportedScheme` (416) for a
//! well-formed URI of another scheme.

use std::fmt;

use super::error::ParseError;
use super::name_addr::NameAddr;
use super::params::unquote;
use super::split::{split_commas, trim_lws, unfold};
use super::uri::Uri;

const ERR: ParseError = ParseError::BadHeader("Contact");

/// A Contact header value: `*` or a list of contacts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContactSet {
    /// `Contact: *` (only in a REGISTER with `Expires: 0`).
    Star,
    /// One or more contacts.
    List(Vec<Contact>),
}

/// One contact: a name-addr with contact parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Contact {
    /// The address and its header parameters.
    pub addr: NameAddr,
}

/// Parses a qvalue into thousandths (`0.5` → 500, `1` → 1000).
pub fn parse_qvalue(s: &str) -> Option<u16> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (k, b) in frac.bytes().enumerate() {
        let scale = [100, 10, 1].get(k).copied().unwrap_or(0);
        thousandths += u16::from(b - b'0') * scale;
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Parses delta-seconds (`1*DIGIT`), saturating at `u32::MAX`.
fn parse_delta_saturating(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u32, |acc, b| {
        acc.saturating_mul(10).saturating_add(u32::from(b - b'0'))
    }))
}

impl Contact {
    /// Wraps a name-addr.
    pub fn new(addr: NameAddr) -> Self {
        Self { addr }
    }

    /// Parses one contact-param (not `*`, not a list).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let addr = NameAddr::parse(s).map_err(|e| match e {
            ParseError::UnsupportedScheme => e,
            _ => ERR,
        })?;
        let c = Self { addr };
        let q_ok = c
            .addr
            .params
            .get("q")
            .is_none_or(|v| v.and_then(parse_qvalue).is_some());
        let exp_ok = c
            .addr
            .params
            .get("expires")
            .is_none_or(|v| v.and_then(parse_delta_saturating).is_some());
        if q_ok && exp_ok { Ok(c) } else { Err(ERR) }
    }

    /// The URI.
    pub fn uri(&self) -> &Uri {
        &self.addr.uri
    }

    /// The `q` parameter in thousandths (0..=1000).
    pub fn q(&self) -> Option<u16> {
        self.addr.params.value("q").and_then(parse_qvalue)
    }

    /// The `expires` parameter in seconds, saturating at `u32::MAX`.
    pub fn expires(&self) -> Option<u32> {
        self.addr
            .params
            .value("expires")
            .and_then(parse_delta_saturating)
    }

    /// The `+sip.instance` parameter (RFC 5626), unquoted: `<urn:uuid:...>`.
    pub fn instance(&self) -> Option<String> {
        self.addr
            .params
            .value("+sip.instance")
            .map(|v| unquote(v).into_owned())
    }

    /// The `reg-id` parameter (RFC 5626), when it is a number.
    pub fn reg_id(&self) -> Option<u32> {
        self.addr
            .params
            .value("reg-id")
            .and_then(|v| v.parse().ok())
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.addr.fmt(f)
    }
}

impl fmt::Display for ContactSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Star => f.write_str("*"),
            Self::List(l) => {
                for (i, c) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    c.fmt(f)?;
                }
                Ok(())
            }
        }
    }
}

/// Parses a Contact header value: `*`, or one or more comma-separated contacts.
pub fn parse_contacts(s: &str) -> Result<ContactSet, ParseError> {
    let s = unfold(s);
    if trim_lws(&s) == "*" {
        return Ok(ContactSet::Star);
    }
    let list = split_commas(&s)
        .map(Contact::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if list.is_empty() {
        return Err(ERR);
    }
    Ok(ContactSet::List(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> Vec<Contact> {
        match parse_contacts(s) {
            Ok(ContactSet::List(l)) => l,
            other => panic!("{s:?}: {other:?}"),
        }
    }

    #[test]
    fn parses_rfc3261_examples() {
        let l =
            list("\"Mr. Watson\" <sip:watson@worcester.bell-telephone.com>;q=0.7; expires=3600");
        assert_eq!(l[0].q(), Some(700));
        assert_eq!(l[0].expires(), Some(3600));
        let l = list("<sip:alice@pc33.atlanta.com>");
        assert_eq!((l[0].q(), l[0].expires()), (None, None));
        let l =
            list("sip:a@b.com;q=1, <sip:c@d.com>;q=0, <sip:e@f.com>;q=0.05,<sip:g@h.com>;q=1.000");
        let qs: Vec<_> = l.iter().map(Contact::q).collect();
        assert_eq!(qs, [Some(1000), Some(0), Some(50), Some(1000)]);
        assert_eq!(parse_contacts(" * "), Ok(ContactSet::Star));
        assert_eq!(parse_contacts("*").unwrap().to_string(), "*");
    }

    #[test]
    fn mailto_contact_is_unsupported_scheme() {
        assert_eq!(
            parse_contacts("\"Mr. Watson\" <mailto:watson@bell-telephone.com> ;q=0.1"),
            Err(ParseError::UnsupportedScheme)
        );
    }

    #[test]
    fn rfc5626_outbound_params() {
        let l = list(
            "<sip:line1@192.0.2.2;transport=tcp>; reg-id=1;\r\n +sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"",
        );
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].reg_id(), Some(1));
        assert_eq!(
            l[0].instance().as_deref(),
            Some("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>")
        );
        assert_eq!(
            l[0].to_string(),
            "<sip:line1@192.0.2.2;transport=tcp>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\""
        );
    }

    #[test]
    fn huge_expires_saturates() {
        // RFC 4475 `scalarlg`
        let l = list("<sip:user@host129.example.com>;expires=280297596632815");
        assert_eq!(l[0].expires(), Some(u32::MAX));
    }

    #[test]
    fn rejects_bad_contacts() {
        for bad in [
            "",
            " , ",
            "*, <sip:a@b>",
            "<sip:a@b>, *",
            "**",
            "<sip:a@b>;q=1.5",
            "<sip:a@b>;q=2",
            "<sip:a@b>;q=0.1234",
            "<sip:a@b>;q=.5",
            "<sip:a@b>;q",
            "<sip:a@b>;q=-0",
            "<sip:a@b>;expires=-1",
            "<sip:a@b>;expires=1h",
            "<sip:a@b>;expires",
            "<sip:a@b>;;;",
            "\"Joe\" sip:joe@example.org",
            "<sip:a@b",
            "<sip:user@example.com>;;",
        ] {
            assert_eq!(
                parse_contacts(bad),
                Err(ParseError::BadHeader("Contact")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue("0"), Some(0));
        assert_eq!(parse_qvalue("0."), Some(0));
        assert_eq!(parse_qvalue("0.333"), Some(333));
        assert_eq!(parse_qvalue("0.33"), Some(330));
        assert_eq!(parse_qvalue("1."), Some(1000));
        assert_eq!(parse_qvalue("1.001"), None);
        assert_eq!(parse_qvalue("01"), None);
        assert_eq!(parse_qvalue(""), None);
    }
}
