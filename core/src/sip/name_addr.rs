//! `name-addr` and `addr-spec` values (RFC 3261 §20.10, §20.20, §20.39, §25.1)
//! of From, To, Contact, Route, Record-Route and Path (RFC 3327).
//!
//! ```text
//! ( name-addr / addr-spec ) *( SEMI generic-param )
//! name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
//! display-name = *(token LWS) / quoted-string
//! ```
//!
//! In the `addr-spec` form (no angle brackets) the parameters after the URI
//! belong to the header, not to the URI (§20.10), so `sip:bob@x;tag=1` has a
//! URI without parameters and a header `tag`. A URI containing `,` `?` or `;`
//! must therefore be enclosed in `<>`; an unenclosed URI with `?` is rejected
//! (RFC 4475 `regbadct`). Nothing may stand between `<` `>` and the
//! URI (RFC 4475 `badaspec`). Unquoted display names are tokens separated by
//! LWS; non-ASCII UTF-8 is tolerated there as well, as many user agents send it.

use std::fmt;

use smallvec::SmallVec;

use super::error::ParseError;
use super::params::{Params, unquote};
use super::split::{
    is_lws, is_token_byte, quote, quoted_string_len, split_commas, trim_lws, unfold,
};
use super::uri::Uri;

/// A name-addr or addr-spec with its header parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameAddr {
    /// The display name, unquoted (`"Bob"` → `Bob`); `None` when absent or empty.
    pub display: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// The header parameters (`tag`, `expires`, `q`...).
    pub params: Params,
}

/// The three parts of a name-addr before the URI is parsed.
struct Parts<'a> {
    display: Option<String>,
    uri: &'a str,
    params: &'a str,
}

/// Splits an (unfolded, trimmed) value into display name, URI text and parameter text.
fn split_parts(s: &str) -> Option<Parts<'_>> {
    let b = s.as_bytes();
    if b.first() == Some(&b'"') {
        let n = quoted_string_len(s)?;
        let display = unquote(s.get(..n)?).into_owned();
        let rest = s.get(n..)?.trim_start_matches([' ', '\t']);
        let rest = rest.strip_prefix('<')?;
        let end = rest.find('>')?;
        return Some(Parts {
            display: Some(display).filter(|d| !d.is_empty()),
            uri: rest.get(..end)?,
            params: rest.get(end + 1..)?,
        });
    }
    let mut i = 0;
    while b
        .get(i)
        .is_some_and(|&c| is_token_byte(c) || is_lws(c) || c >= 0x80)
    {
        i += 1;
    }
    if b.get(i) == Some(&b'<') {
        // `i` indexes an ASCII '<'.
        let display = trim_lws(s.get(..i)?);
        let rest = s.get(i + 1..)?;
        let end = rest.find('>')?;
        return Some(Parts {
            display: Some(display.to_owned()).filter(|d| !d.is_empty()),
            uri: rest.get(..end)?,
            params: rest.get(end + 1..)?,
        });
    }
    let (uri, params) = match s.find(';') {
        Some(i) => s.split_at(i),
        None => (s, ""),
    };
    let uri = uri.trim_end_matches([' ', '\t']);
    if uri.contains('?') {
        return None;
    }
    Some(Parts {
        display: None,
        uri,
        params,
    })
}

impl NameAddr {
    /// A name-addr with only a URI.
    pub fn new(uri: Uri) -> Self {
        Self {
            display: None,
            uri,
            params: Params::new(),
        }
    }

    /// Parses one name-addr or addr-spec with its parameters. Folded lines and
    /// LWS around the separators are accepted.
    ///
    /// Errors: `UnsupportedScheme` for a well-formed URI of another scheme,
    /// `BadUri` for anything else.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = unfold(s);
        let parts = split_parts(trim_lws(&s)).ok_or(ParseError::BadUri)?;
        let uri = Uri::parse(parts.uri)?;
        let params = Params::parse_generic(parts.params).ok_or(ParseError::BadUri)?;
        Ok(Self {
            display: parts.display,
            uri,
            params,
        })
    }

    /// [`NameAddr::parse`] with `BadUri` reported as `BadHeader(header)`
    /// (`UnsupportedScheme` is kept: it answers 416).
    pub fn parse_header(s: &str, header: &'static str) -> Result<Self, ParseError> {
        Self::parse(s).map_err(|e| match e {
            ParseError::BadUri => ParseError::BadHeader(header),
            e => e,
        })
    }

    /// The `tag` parameter (From/To, §19.3).
    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "{} ", quote(d))?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// The header parameters of a name-addr or addr-spec whatever its URI scheme
/// (e.g. the `tag` of `To: isbn:2983792873;tag=1`, RFC 4475 `unksm2`).
/// The URI itself is not checked. Errors `BadUri`.
pub fn parse_header_params(s: &str) -> Result<Params, ParseError> {
    let s = unfold(s);
    let parts = split_parts(trim_lws(&s)).ok_or(ParseError::BadUri)?;
    Params::parse_generic(parts.params).ok_or(ParseError::BadUri)
}

/// Parses a comma-separated list of name-addrs (Route, Record-Route, Path,
/// Contact without `*`). An empty list is `BadUri`, as is any bad element.
pub fn parse_name_addr_list(s: &str) -> Result<SmallVec<[NameAddr; 2]>, ParseError> {
    let s = unfold(s);
    let out = split_commas(&s)
        .map(NameAddr::parse)
        .collect::<Result<SmallVec<[NameAddr; 2]>, _>>()?;
    if out.is_empty() {
        return Err(ParseError::BadUri);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn na(s: &str) -> NameAddr {
        NameAddr::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn parses_rfc3261_forms() {
        let a = na("\"Bob\" <sip:bob@biloxi.com>;tag=a6c85cf");
        assert_eq!(a.display.as_deref(), Some("Bob"));
        assert_eq!(a.tag(), Some("a6c85cf"));
        assert_eq!(a.to_string(), "\"Bob\" <sip:bob@biloxi.com>;tag=a6c85cf");

        let a = na("Alice <sip:alice@atlanta.com>;tag=1928301774");
        assert_eq!(a.display.as_deref(), Some("Alice"));
        let a = na("<sip:alice@atlanta.com;lr>");
        assert_eq!(a.display, None);
        assert!(a.uri.as_sip().unwrap().lr());
        assert!(a.params.is_empty());
        let a = na("Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8");
        assert_eq!(a.tag(), Some("hyh8"));
        let a = na("The Operator <sip:operator@cs.columbia.edu>;tag=287447");
        assert_eq!(a.display.as_deref(), Some("The Operator"));
        // RFC 4475 lwsdisp: no space before '<'.
        assert_eq!(
            na("caller<sip:caller@example.com>;tag=323")
                .display
                .as_deref(),
            Some("caller")
        );
    }

    #[test]
    fn addr_spec_params_belong_to_header() {
        let a = na("sip:bob@biloxi.com;tag=1;lr");
        assert_eq!(a.tag(), Some("1"));
        assert!(a.params.contains("lr"));
        assert!(a.uri.as_sip().unwrap().params.is_empty());
        assert_eq!(a.to_string(), "<sip:bob@biloxi.com>;tag=1;lr");
        let a = na("sip:%75se%72@example.com");
        assert_eq!(a.uri.as_sip().unwrap().user_unescaped().unwrap(), "user");
        let a = na("tel:+1-201-555-0123;tag=9");
        assert!(a.uri.as_tel().is_some());
        assert_eq!(a.tag(), Some("9"));
    }

    #[test]
    fn parses_rfc4475_wsinv_folding() {
        let a = na(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n    ;\r\n    tag = 98asjd8",
        );
        assert_eq!(a.display.as_deref(), Some("J Rosenberg \\\""));
        assert_eq!(a.tag(), Some("98asjd8"));
        let a = na(
            "\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam = newvalue ;  secondparam ; q = 0.33",
        );
        assert_eq!(a.display.as_deref(), Some("Quoted string \"\""));
        assert_eq!(a.params.value("q"), Some("0.33"));
        assert_eq!(a.params.get("secondparam"), Some(None));
        // Re-parses from its Display.
        assert_eq!(na(&a.to_string()), a);
    }

    #[test]
    fn rejects_rfc4475_invalid() {
        for bad in [
            // RFC 4475 quotbal: unterminated quoted display name
            "\"Bell, Alexander <sip:a.g.bell@bell-tel.com>;tag=43",
            // RFC 4475 baddn: non-token characters in an unquoted display name
            "Bell, Alexander <sip:a.g.bell@bell-tel.com>;tag=43",
            // RFC 3261 §20.10: a display name needs <>
            "\"Joe\" sip:joe@example.org",
            // RFC 4475 badaspec: spaces within the addr-spec
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            // regbadct: '?' in an unenclosed URI
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "<sip:a@b",
            "sip:a@b>",
            "<>",
            "",
            "<sip:a@b>;",
            "<sip:a@b>x",
            "<sip:a@b>;tag=\"open",
            "sip:a@b;;;",
            "\u{00e9}",
        ] {
            assert!(NameAddr::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            NameAddr::parse("<http://www.example.com>;tag=3234233"),
            Err(ParseError::UnsupportedScheme)
        );
        assert_eq!(
            NameAddr::parse_header("<x", "From"),
            Err(ParseError::BadHeader("From"))
        );
        // The escaped-header URI is fine inside <> (RFC 4475 regescrt).
        assert!(NameAddr::parse("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>").is_ok());
        assert!(NameAddr::parse(&format!("<sip:a@b>{}", ";".repeat(10_000))).is_err());
    }

    #[test]
    fn header_params_of_any_scheme() {
        assert_eq!(
            parse_header_params("isbn:2983792873;tag=7")
                .unwrap()
                .value("tag"),
            Some("7")
        );
        let p = parse_header_params("<http://www.example.com>;tag=3234233").unwrap();
        assert_eq!(p.value("tag"), Some("3234233"));
        assert!(parse_header_params("\"x <a>").is_err());
    }

    #[test]
    fn non_ascii_display_names() {
        let a = na("\"Jos\u{e9}\" <sip:jose@example.com>");
        assert_eq!(a.display.as_deref(), Some("Jos\u{e9}"));
        let a = na("J\u{f6}rg M\u{fc}ller <sip:j@example.com>");
        assert_eq!(a.display.as_deref(), Some("J\u{f6}rg M\u{fc}ller"));
    }

    #[test]
    fn parses_lists() {
        let l = parse_name_addr_list(
            "<sip:p1.example.com;lr>,\r\n <sip:p2.example.com;lr>, \"A, B\" <sip:[2001:db8::1]:5070;lr>",
        )
        .unwrap();
        assert_eq!(l.len(), 3);
        assert_eq!(l[2].display.as_deref(), Some("A, B"));
        assert_eq!(l[2].uri.as_sip().unwrap().port, Some(5070));
        assert!(parse_name_addr_list(" , ").is_err());
        assert!(parse_name_addr_list("<sip:a@b>, <sip:c").is_err());
    }
}
