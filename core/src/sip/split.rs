//! Lexical building blocks shared by the header-value parsers (RFC 3261 §25.1).
//!
//! RFC 3261 §7.3.1 lets a header value be folded over several lines (CRLF
//! followed by SP or HTAB) and §25.1 allows linear whitespace (LWS) around the
//! separators `;` `=` `,` `:` `/` `<` `>`. The parsers in this module family
//! first call [`unfold`], which returns the input untouched (no allocation)
//! when it contains no CR or LF — the common case — and otherwise a copy with
//! every CR and LF turned into a space. After that, SP and HTAB are the only
//! whitespace any parser has to skip.
//!
//! [`split_commas`] cuts a list-valued header (§7.3.1: `Via`, `Contact`,
//! `Route`, `Supported`…) at top-level commas, i.e. commas outside a
//! quoted-string (§25.1, with `\` quoted-pairs) and outside `<…>`.
//! [`unescape`] undoes the `%HH` escapes of URIs (§19.1.2, RFC 3986 §2.1).

use std::borrow::Cow;

/// True for the bytes that make up LWS once folded: SP, HTAB, CR and LF.
pub fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Trims leading and trailing LWS (SP, HTAB, CR, LF) from a value.
pub fn trim_lws(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// Returns `s` with folded line breaks turned into spaces.
///
/// Borrows (no allocation) when `s` contains no CR or LF.
pub fn unfold(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b == b'\r' || b == b'\n') {
        Cow::Owned(s.replace(['\r', '\n'], " "))
    } else {
        Cow::Borrowed(s)
    }
}

/// True for a `token` character of RFC 3261 §25.1:
/// alphanumerics and `-.!%*_+`'~`.
pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// True when `s` is a non-empty `token` (RFC 3261 §25.1).
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// Index of the first byte at or after `i` that is not SP or HTAB (or CR/LF).
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|&c| is_lws(c)) {
        i += 1;
    }
    i
}

/// Length of the quoted-string that starts `s` (both quotes included), or
/// `None` when `s` does not start with `"` or the string is unterminated.
///
/// A backslash escapes the byte after it (a `quoted-pair`, RFC 3261 §25.1).
pub fn quoted_string_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Writes `s` as a quoted-string: wrapped in `"` with `"` and `\` escaped.
/// CR and LF, which a quoted-string cannot carry, become spaces, so a value
/// built from untrusted text cannot start a new header line.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An iterator over the top-level comma-separated elements of a header value.
///
/// Created by [`split_commas`].
#[derive(Debug, Clone)]
pub struct SplitCommas<'a> {
    rest: &'a str,
}

/// Splits a header value at commas that are outside quoted-strings and `<…>`.
///
/// Elements are trimmed of LWS and empty elements are skipped, so
/// `"a, ,b,"` yields `a` and `b`. An unterminated quote or `<` makes the rest of
/// the value one element, which the element parser then rejects.
pub fn split_commas(s: &str) -> SplitCommas<'_> {
    SplitCommas { rest: s }
}

impl<'a> Iterator for SplitCommas<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        while !self.rest.is_empty() {
            let b = self.rest.as_bytes();
            let mut i = 0;
            let mut in_quote = false;
            let mut in_angle = false;
            let mut cut = None;
            while let Some(&c) = b.get(i) {
                if in_quote {
                    match c {
                        b'\\' => i += 1,
                        b'"' => in_quote = false,
                        _ => {}
                    }
                } else if in_angle {
                    if c == b'>' {
                        in_angle = false;
                    }
                } else {
                    match c {
                        b'"' => in_quote = true,
                        b'<' => in_angle = true,
                        b',' => {
                            cut = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                i += 1;
            }
            // `cut` is the index of an ASCII comma, so both slices are on char boundaries.
            let (elem, rest) = match cut {
                Some(at) => (&self.rest[..at], &self.rest[at + 1..]),
                None => (self.rest, ""),
            };
            self.rest = rest;
            let elem = trim_lws(elem);
            if !elem.is_empty() {
                return Some(elem);
            }
        }
        None
    }
}

/// Value of an ASCII hex digit.
pub(crate) fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%HH` escapes (RFC 3261 §19.1.2). Malformed escapes are kept as
/// written; decoded bytes that are not UTF-8 are replaced (U+FFFD).
/// Borrows when `s` contains no `%`.
pub fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex_val),
                b.get(i + 2).copied().and_then(hex_val),
            )
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(c);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfold_borrows_without_crlf() {
        assert!(matches!(unfold("a ; b"), Cow::Borrowed(_)));
        assert_eq!(unfold("a\r\n ;\r\n\tb"), "a   ;  \tb");
    }

    #[test]
    fn trims_lws() {
        assert_eq!(trim_lws(" \t\r\n x y \r\n "), "x y");
        assert_eq!(trim_lws(""), "");
    }

    #[test]
    fn tokens() {
        assert!(is_token("z9hG4bK-.!%*_+`'~"));
        assert!(!is_token(""));
        assert!(!is_token("a b"));
        assert!(!is_token("a,b"));
        assert!(!is_token("é"));
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(quoted_string_len(r#""abc" rest"#), Some(5));
        assert_eq!(quoted_string_len(r#""a\"b""#), Some(6));
        assert_eq!(quoted_string_len(r#""a\\""#), Some(5));
        assert_eq!(quoted_string_len(r#""unterminated"#), None);
        assert_eq!(quoted_string_len(r#""ends in backslash\"#), None);
        assert_eq!(quoted_string_len("abc"), None);
        assert_eq!(quoted_string_len(""), None);
        assert_eq!(quoted_string_len("\"héllo\""), Some(8));
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(quote("x\r\nVia: evil"), "\"x  Via: evil\"");
    }

    #[test]
    fn splits_at_top_level_commas() {
        let v: Vec<_> =
            split_commas(r#""Bell, Alexander" <sip:a@b;x=1,2>;tag=1 , <sip:c@d>,,  sip:e@f ,"#)
                .collect();
        assert_eq!(
            v,
            [
                r#""Bell, Alexander" <sip:a@b;x=1,2>;tag=1"#,
                "<sip:c@d>",
                "sip:e@f"
            ]
        );
        let v: Vec<_> = split_commas(r#""a\", b", c"#).collect();
        assert_eq!(v, [r#""a\", b""#, "c"]);
        assert_eq!(split_commas(" , ,\r\n ,").count(), 0);
        assert_eq!(split_commas("").count(), 0);
        // Unterminated constructs swallow the rest of the value.
        assert_eq!(split_commas(r#""x, y"#).collect::<Vec<_>>(), [r#""x, y"#]);
        assert_eq!(split_commas("<sip:a, b").collect::<Vec<_>>(), ["<sip:a, b"]);
    }

    #[test]
    fn unescapes() {
        assert_eq!(unescape("%61lice"), "alice");
        assert_eq!(unescape("I%20have%20spaces"), "I have spaces");
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(unescape("%G1%4"), "%G1%4");
        assert_eq!(unescape("%ff"), "\u{fffd}");
        assert!(matches!(unescape("plain"), Cow::Borrowed(_)));
    }
}
