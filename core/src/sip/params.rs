//! Ordered `;name[=value]` parameter lists (RFC 3261 §19.1.1, §25.1 `generic-param`).
//!
//! Two grammars produce a [`Params`]:
//!
//! - **header parameters** (`generic-param`, §25.1): after a name-addr, a Via,
//!   a Contact or a media type. Names are tokens; values are a token, a host
//!   (IPv6 references included) or a quoted-string, which keeps its quotes in
//!   the stored value ([`unquote`] removes them). LWS is allowed around `;`
//!   and `=`.
//! - **URI parameters** (`uri-parameters`, §25.1): inside a SIP or tel URI,
//!   no whitespace, `paramchar`s and `%HH` escapes. §19.1.4 makes an escaped
//!   unreserved character equal to the character itself, so escapes of
//!   unreserved characters are decoded when parsed (`;%6C%72` is stored as
//!   `;lr`); other escapes stay as written. Display then re-parses equal.
//!
//! Names are looked up case-insensitively (§7.3.1); order and duplicates are kept.

use std::borrow::Cow;
use std::fmt;

use smallvec::SmallVec;

use super::error::ParseError;
use super::split::{hex_val, is_lws, is_token_byte, quoted_string_len, skip_ws};

/// An ordered list of parameters, each a name and an optional value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Params {
    list: SmallVec<[(String, Option<String>); 4]>,
}

impl Params {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Looks a parameter up by name, case-insensitively: `None` when absent,
    /// `Some(None)` when present without a value, `Some(Some(v))` otherwise.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.list
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// The value of a parameter, if present with a value.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).flatten()
    }

    /// True when a parameter with that name is present (with or without value).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Sets a parameter: replaces the value of the first one with that name
    /// (keeping its position) or appends it.
    pub fn set(&mut self, name: &str, value: Option<&str>) {
        let value = value.map(str::to_owned);
        match self
            .list
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.list.push((name.to_owned(), value)),
        }
    }

    /// Removes every parameter with that name; returns the first one's value.
    pub fn remove(&mut self, name: &str) -> Option<Option<String>> {
        let pos = self
            .list
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))?;
        let (_, first) = self.list.remove(pos);
        self.list.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        Some(first)
    }

    /// The parameters in order, as `(name, value)`.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.list.iter().map(|(n, v)| (n.as_str(), v.as_deref()))
    }

    /// Parses header parameters (`*( SEMI generic-param )`, §25.1), e.g.
    /// `;tag=1 ; q = 0.5;+sip.instance="<urn:x>"`. LWS (already unfolded or not)
    /// may surround `;` and `=`. An empty string gives an empty list.
    ///
    /// Errors with `BadHeader("parameters")`; callers usually map it to their header.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        Self::parse_generic(s).ok_or(ParseError::BadHeader("parameters"))
    }

    pub(crate) fn parse_generic(s: &str) -> Option<Self> {
        let mut out = Self::new();
        scan_generic(s, |name, value| {
            out.list.push((name.to_owned(), value.map(str::to_owned)));
        })?;
        Some(out)
    }

    /// Parses URI parameters (`*( ";" uri-parameter )`, §19.1.1, §25.1): no
    /// whitespace, `paramchar`s only, escapes of unreserved characters decoded.
    pub(crate) fn parse_uri(s: &str) -> Option<Self> {
        let mut out = Self::new();
        if s.is_empty() {
            return Some(out);
        }
        let body = s.strip_prefix(';')?;
        for part in body.split(';') {
            let (name, value) = match part.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (part, None),
            };
            if name.is_empty() || value.is_some_and(str::is_empty) {
                return None;
            }
            let name = normalize_escapes(name, is_param_byte)?;
            let value = match value {
                Some(v) => Some(normalize_escapes(v, is_param_byte)?),
                None => None,
            };
            out.list.push((name, value));
        }
        Some(out)
    }
}

/// Walks header parameters with the grammar of [`Params::parse`] without
/// allocating: calls `f` with each name and value as written (a quoted value
/// keeps its quotes). `None` on a syntax error (`f` may have seen a prefix).
pub(crate) fn scan_generic<'a>(
    s: &'a str,
    mut f: impl FnMut(&'a str, Option<&'a str>),
) -> Option<()> {
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        i = skip_ws(b, i);
        match b.get(i) {
            None => return Some(()),
            Some(b';') => {}
            Some(_) => return None,
        }
        i = skip_ws(b, i + 1);
        let start = i;
        while b.get(i).copied().is_some_and(is_token_byte) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let name = s.get(start..i)?;
        i = skip_ws(b, i);
        let value = if b.get(i) == Some(&b'=') {
            i = skip_ws(b, i + 1);
            let start = i;
            if b.get(i) == Some(&b'"') {
                i += quoted_string_len(s.get(i..)?)?;
            } else {
                while b
                    .get(i)
                    .is_some_and(|&c| is_token_byte(c) || matches!(c, b'[' | b']' | b':'))
                {
                    i += 1;
                }
            }
            if i == start {
                return None;
            }
            Some(s.get(start..i)?)
        } else {
            None
        };
        f(name, value);
    }
}

impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, v) in &self.list {
            match v {
                Some(v) => write!(f, ";{n}={v}")?,
                None => write!(f, ";{n}")?,
            }
        }
        Ok(())
    }
}

/// Removes the quotes of a quoted-string value and its `\` escapes;
/// returns anything else unchanged (borrowed).
pub fn unquote(s: &str) -> Cow<'_, str> {
    let inner = match s
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .filter(|_| s.len() >= 2)
    {
        Some(i) => i,
        None => return Cow::Borrowed(s),
    };
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `unreserved` of RFC 3261 §25.1: alphanumerics and the marks `-_.!~*'()`.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

/// `paramchar` without escapes: unreserved and `[]/:&+$`.
pub(crate) fn is_param_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

/// Checks that `s` is made of `allowed` bytes and well-formed `%HH` escapes,
/// and decodes the escapes that stand for unreserved characters.
pub(crate) fn normalize_escapes(s: &str, allowed: fn(u8) -> bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let h = b.get(i + 1).copied().and_then(hex_val)?;
            let l = b.get(i + 2).copied().and_then(hex_val)?;
            let d = h * 16 + l;
            if is_unreserved(d) {
                out.push(char::from(d));
            } else {
                // The three bytes are ASCII ('%' and two hex digits).
                out.push_str(s.get(i..i + 3)?);
            }
            i += 3;
        } else if allowed(c) && !is_lws(c) {
            out.push(char::from(c));
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_params_with_lws() {
        let p = Params::parse(" ;\t tag = 98asjd8 ;lr; q=0.5 ;maddr=[2001:db8::1]").unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p.get("TAG"), Some(Some("98asjd8")));
        assert_eq!(p.get("lr"), Some(None));
        assert_eq!(p.get("nope"), None);
        assert_eq!(p.value("q"), Some("0.5"));
        assert_eq!(p.value("maddr"), Some("[2001:db8::1]"));
        assert!(p.contains("Lr"));
        assert_eq!(p.to_string(), ";tag=98asjd8;lr;q=0.5;maddr=[2001:db8::1]");
    }

    #[test]
    fn quoted_values_keep_quotes() {
        let p = Params::parse(r#";+sip.instance="<urn:uuid:f81d4fae-7dec>";x="a\"b;c""#).unwrap();
        let v = p.value("+sip.instance").unwrap();
        assert_eq!(v, r#""<urn:uuid:f81d4fae-7dec>""#);
        assert_eq!(unquote(v), "<urn:uuid:f81d4fae-7dec>");
        assert_eq!(unquote(p.value("x").unwrap()), r#"a"b;c"#);
        assert_eq!(unquote("token"), "token");
        assert_eq!(unquote("\""), "\"");
    }

    #[test]
    fn rejects_bad_header_params() {
        for bad in [
            "x",
            ";",
            ";;",
            ";a=",
            ";a==b",
            r#";a="open"#,
            ";a b",
            ";=b",
            ";a=b c",
            ";é=1",
        ] {
            assert!(Params::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Params::parse("").unwrap().is_empty());
        assert!(Params::parse(&";".repeat(10_000)).is_err());
        let many = ";a".repeat(10_000);
        assert_eq!(Params::parse(&many).unwrap().len(), 10_000);
    }

    #[test]
    fn set_and_remove() {
        let mut p = Params::parse(";a=1;B=2;a=3").unwrap();
        p.set("b", Some("x"));
        p.set("c", None);
        assert_eq!(p.to_string(), ";a=1;B=x;a=3;c");
        assert_eq!(p.remove("A"), Some(Some("1".to_owned())));
        assert_eq!(p.to_string(), ";B=x;c");
        assert_eq!(p.remove("a"), None);
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            [("B", Some("x")), ("c", None)]
        );
    }

    #[test]
    fn uri_params_normalize_unreserved_escapes() {
        let p = Params::parse_uri(";%6C%72;n%61me=v%61lue%25%34%31").unwrap();
        assert_eq!(p.get("lr"), Some(None));
        assert_eq!(p.value("name"), Some("value%2541"));
        assert!(Params::parse_uri(";a b").is_none());
        assert!(Params::parse_uri(";a=%4").is_none());
        assert!(Params::parse_uri(";;").is_none());
        assert!(Params::parse_uri("lr").is_none());
        assert!(Params::parse_uri(";a=").is_none());
        assert!(Params::parse_uri(";a=\"q\"").is_none());
    }
}
