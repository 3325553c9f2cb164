//! Small typed header values (RFC 3261 §20, §25.1).
//!
//! - numbers: `Expires` and `Min-Expires` (§20.19, §20.23, `delta-seconds`),
//!   `Max-Forwards` (§20.22, 0..=255, RFC 4475 `scalarlg`), `Content-Length`
//!   (§20.14). Leading zeros are fine (`Max-Forwards: 0068`, RFC 4475 `wsinv`);
//!   values past the type's range are errors, which the caller may turn into a
//!   default (RFC 4475 `scalarlg`).
//! - option-tag and method lists: `Supported`, `Require`, `Proxy-Require`,
//!   `Unsupported` (§20.32, §20.37, §20.29, §20.40) and `Allow` (§20.5).
//! - media types: `Content-Type` (§20.15, `media-type`).

use std::fmt;

use super::error::ParseError;
use super::params::Params;
use super::split::{is_token, is_token_byte, skip_ws, split_commas, trim_lws, unfold};

/// Digits only, no overflow past `u32`.
fn digits_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u32, |acc, b| {
        acc.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

/// Parses a decimal header value (`Expires`, `Min-Expires`, `Max-Forwards`,
/// `Content-Length`...), surrounded by optional LWS.
///
/// For `Max-Forwards` the value must be 0..=255. Errors `BadHeader(header)`,
/// or `BadContentLength` when `header` is `Content-Length`.
pub fn parse_u32(s: &str, header: &'static str) -> Result<u32, ParseError> {
    let err = if header.eq_ignore_ascii_case("Content-Length") {
        ParseError::BadContentLength
    } else {
        ParseError::BadHeader(header)
    };
    let v = digits_u32(trim_lws(s)).ok_or(err.clone())?;
    if header.eq_ignore_ascii_case("Max-Forwards") && v > 255 {
        return Err(err);
    }
    Ok(v)
}

/// Parses `Max-Forwards` (0..=255). Errors `BadHeader("Max-Forwards")`.
pub fn parse_max_forwards(s: &str) -> Result<u8, ParseError> {
    let v = parse_u32(s, "Max-Forwards")?;
    u8::try_from(v).map_err(|_| ParseError::BadHeader("Max-Forwards"))
}

/// Parses `delta-seconds`, saturating values above `u32::MAX` instead of failing
/// (for `Expires` where a registrar prefers a clamp). Errors `BadHeader(header)`
/// when the value is not digits.
pub fn parse_delta_seconds(s: &str, header: &'static str) -> Result<u32, ParseError> {
    let s = trim_lws(s);
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::BadHeader(header));
    }
    Ok(s.bytes().fold(0u32, |acc, b| {
        acc.saturating_mul(10).saturating_add(u32::from(b - b'0'))
    }))
}

/// Splits a comma-separated list of tokens (option tags, methods), trimmed,
/// empty elements skipped. Elements are returned as written, valid or not;
/// see [`is_token`] to check them.
pub fn parse_tokens(s: &str) -> Vec<&str> {
    split_commas(s).collect()
}

/// A media type: `type/subtype;params` (RFC 3261 §20.15, RFC 2045 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentType {
    /// The top-level type as written (`application`).
    pub mtype: String,
    /// The subtype as written (`sdp`).
    pub subtype: String,
    /// Parameters (`charset`, `boundary`...).
    pub params: Params,
}

impl ContentType {
    /// Parses a `media-type`; LWS is allowed around `/`, `;` and `=`.
    /// Errors `BadHeader("Content-Type")`.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        const ERR: ParseError = ParseError::BadHeader("Content-Type");
        let s = unfold(s);
        let s = trim_lws(&s);
        let b = s.as_bytes();
        let mut i = 0;
        while b.get(i).copied().is_some_and(is_token_byte) {
            i += 1;
        }
        let mtype = s.get(..i).ok_or(ERR)?;
        let j = skip_ws(b, i);
        if b.get(j) != Some(&b'/') {
            return Err(ERR);
        }
        let start = skip_ws(b, j + 1);
        let mut k = start;
        while b.get(k).copied().is_some_and(is_token_byte) {
            k += 1;
        }
        let subtype = s.get(start..k).ok_or(ERR)?;
        if !is_token(mtype) || !is_token(subtype) {
            return Err(ERR);
        }
        let params = Params::parse_generic(s.get(k..).ok_or(ERR)?).ok_or(ERR)?;
        Ok(Self {
            mtype: mtype.to_owned(),
            subtype: subtype.to_owned(),
            params,
        })
    }

    /// True when the type is `mtype/subtype`, case-insensitively.
    pub fn is(&self, mtype: &str, subtype: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype) && self.subtype.eq_ignore_ascii_case(subtype)
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.mtype, self.subtype, self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u32(" 3600 ", "Expires"), Ok(3600));
        assert_eq!(parse_u32("0068", "Max-Forwards"), Ok(68));
        assert_eq!(parse_u32("4294967295", "Expires"), Ok(u32::MAX));
        assert_eq!(parse_max_forwards("70"), Ok(70));
        assert_eq!(parse_max_forwards("\r\n 0"), Ok(0));
        for bad in [
            "",
            " ",
            "-1",
            "+1",
            "1 2",
            "0x10",
            "4294967296",
            "1.5",
            "\u{664}",
        ] {
            assert_eq!(
                parse_u32(bad, "Expires"),
                Err(ParseError::BadHeader("Expires")),
                "{bad:?}"
            );
        }
        // RFC 4475 `scalarlg`
        assert_eq!(
            parse_max_forwards("300"),
            Err(ParseError::BadHeader("Max-Forwards"))
        );
        assert_eq!(
            parse_u32("18446744073709551617", "Content-Length"),
            Err(ParseError::BadContentLength)
        );
        assert_eq!(
            parse_u32("-999", "Content-Length"),
            Err(ParseError::BadContentLength)
        );
        assert_eq!(
            parse_delta_seconds("10000000000000000000000000000000000", "Expires"),
            Ok(u32::MAX)
        );
        assert_eq!(parse_delta_seconds(" 60", "Expires"), Ok(60));
        assert!(parse_delta_seconds("6O", "Expires").is_err());
    }

    #[test]
    fn token_lists() {
        assert_eq!(
            parse_tokens("100rel, timer ,,path\r\n ,outbound"),
            ["100rel", "timer", "path", "outbound"]
        );
        assert_eq!(
            parse_tokens("INVITE, ACK, OPTIONS, CANCEL, BYE"),
            ["INVITE", "ACK", "OPTIONS", "CANCEL", "BYE"]
        );
        assert!(parse_tokens(" , ").is_empty());
        assert_eq!(parse_tokens("foo bar, x"), ["foo bar", "x"]);
        assert!(!is_token("foo bar"));
    }

    #[test]
    fn content_types() {
        let c = ContentType::parse("application/sdp").unwrap();
        assert!(c.is("APPLICATION", "SDP"));
        assert_eq!(c.to_string(), "application/sdp");
        let c = ContentType::parse("multipart/mixed ; boundary=unique-boundary-1").unwrap();
        assert_eq!(c.params.value("boundary"), Some("unique-boundary-1"));
        let c = ContentType::parse("text/plain;\r\n charset = \"utf-8\"").unwrap();
        assert_eq!(c.params.value("charset"), Some("\"utf-8\""));
        assert!(
            ContentType::parse("application / pidf+xml")
                .unwrap()
                .is("application", "pidf+xml")
        );
        for bad in [
            "",
            "application",
            "application/",
            "/sdp",
            "a/b/c",
            "a/b;",
            "a/b c",
            "\u{e9}/x",
        ] {
            assert_eq!(
                ContentType::parse(bad),
                Err(ParseError::BadHeader("Content-Type")),
                "{bad:?}"
            );
        }
    }
}
