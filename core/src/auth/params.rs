//! `Digest` credentials and challenges as header values (RFC 3261 §22.4, §25.1;
//! RFC 7616 §3.3–§3.4; RFC 2617 §3.2).
//!
//! [`Credentials`] is the value of `Authorization` / `Proxy-Authorization`,
//! [`Challenge`] the value of `WWW-Authenticate` / `Proxy-Authenticate`. Both
//! parse from the text after the header's colon and print back to a value the
//! other side accepts.
//!
//! ```text
//! credentials = "Digest" LWS digest-response *(COMMA digest-response)
//! auth-param  = token EQUAL ( token / quoted-string )
//! LWS         = [*WSP CRLF] 1*WSP        ; folding allowed
//! ```
//!
//! The scheme and parameter names are case-insensitive. Values may be quoted
//! (with `\` escapes and folded whitespace) or bare, whichever the peer chose:
//! being lenient on the quoting costs nothing and real phones differ. A
//! parameter given twice is an error, unknown parameters are ignored, and at
//! most [`MAX_PARAMS`] parameters are read, so work is linear in the input.

use super::digest::{Algorithm, Qop, format_nc};
use super::error::AuthError;
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// The most parameters one header value may carry.
pub const MAX_PARAMS: usize = 32;

/// Parsed `Digest` credentials (RFC 7616 §3.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `username`: the user (or, with `userhash`, its hash).
    pub username: String,
    /// `realm`: the protection space the client answers for.
    pub realm: String,
    /// `nonce`: echoed from the challenge.
    pub nonce: String,
    /// `uri`: the digest-uri, which must equal the Request-URI.
    pub uri: String,
    /// `response`: the request-digest, lowercase hex of the algorithm's length.
    pub response: String,
    /// `algorithm`; `MD5` when absent (RFC 2617 §3.2.1).
    pub algorithm: Algorithm,
    /// `cnonce`: the client nonce (required with qop).
    pub cnonce: Option<String>,
    /// `opaque`: echoed from the challenge.
    pub opaque: Option<String>,
    /// `qop`: the quality of protection the client applied.
    pub qop: Option<Qop>,
    /// `nc`: the nonce-count, 8 hex digits on the wire (required with qop).
    pub nc: Option<u32>,
    /// `userhash=true`: `username` is `H(username:realm)` (RFC 7616 §3.4.4).
    pub userhash: bool,
}

/// A parsed `Digest` challenge (RFC 7616 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `realm`: the protection space.
    pub realm: String,
    /// `nonce`: the server nonce.
    pub nonce: String,
    /// `algorithm`; `MD5` when absent.
    pub algorithm: Algorithm,
    /// The known `qop` options offered, in the server's order; empty when
    /// `qop` is absent (the client then answers in the RFC 2069 form).
    pub qop: SmallVec<[Qop; 2]>,
    /// `opaque`: to be echoed unchanged.
    pub opaque: Option<String>,
    /// `stale=true`: the previous nonce was stale, the password was right.
    pub stale: bool,
    /// `userhash=true`: the server accepts a hashed username.
    pub userhash: bool,
}

/// [`Credentials`] borrowed from the header value: what the server's
/// [`verify`](super::Authenticator::verify) reads, without copying any
/// parameter (a quoted value is copied only when it holds escapes or folds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CredentialsRef<'a> {
    pub(crate) username: Cow<'a, str>,
    pub(crate) realm: Cow<'a, str>,
    pub(crate) nonce: Cow<'a, str>,
    pub(crate) uri: Cow<'a, str>,
    /// As sent (hex of the algorithm's length, either case).
    pub(crate) response: Cow<'a, str>,
    pub(crate) algorithm: Algorithm,
    pub(crate) cnonce: Option<Cow<'a, str>>,
    pub(crate) opaque: Option<Cow<'a, str>>,
    pub(crate) qop: Option<Qop>,
    pub(crate) nc: Option<u32>,
    pub(crate) userhash: bool,
}

impl<'a> CredentialsRef<'a> {
    /// Parses an `Authorization` / `Proxy-Authorization` value (the rules of
    /// [`Credentials::parse`]).
    pub(crate) fn parse(value: &'a str) -> Result<Self, AuthError> {
        let mut username = None;
        let mut realm = None;
        let mut nonce = None;
        let mut uri = None;
        let mut response = None;
        let mut algorithm = Algorithm::Md5;
        let mut cnonce = None;
        let mut opaque = None;
        let mut qop = None;
        let mut nc = None;
        let mut userhash = false;
        for_each_param(value, |name, v| {
            let is = |n: &str| name.eq_ignore_ascii_case(n);
            if is("username") {
                username = Some(v);
            } else if is("realm") {
                realm = Some(v);
            } else if is("nonce") {
                nonce = Some(v);
            } else if is("uri") {
                uri = Some(v);
            } else if is("response") {
                response = Some(v);
            } else if is("algorithm") {
                algorithm = Algorithm::parse(&v)?;
            } else if is("cnonce") {
                cnonce = Some(v);
            } else if is("opaque") {
                opaque = Some(v);
            } else if is("qop") {
                qop = Some(Qop::parse(&v).ok_or(AuthError::BadQop)?);
            } else if is("nc") {
                nc = Some(parse_nc(&v)?);
            } else if is("userhash") {
                userhash = parse_flag(&v, "userhash")?;
            }
            Ok(())
        })?;
        let response = response.ok_or(AuthError::MissingParam("response"))?;
        let valid_hex = response.len() == algorithm.hex_len()
            && response.bytes().all(|b| b.is_ascii_hexdigit());
        if !valid_hex {
            return Err(AuthError::BadResponse);
        }
        if qop.is_some() {
            if cnonce.is_none() {
                return Err(AuthError::QopWithout("cnonce"));
            }
            if nc.is_none() {
                return Err(AuthError::QopWithout("nc"));
            }
        } else if cnonce.is_some() {
            return Err(AuthError::WithoutQop("cnonce"));
        } else if nc.is_some() {
            return Err(AuthError::WithoutQop("nc"));
        }
        Ok(Self {
            username: username.ok_or(AuthError::MissingParam("username"))?,
            realm: realm.ok_or(AuthError::MissingParam("realm"))?,
            nonce: nonce.ok_or(AuthError::MissingParam("nonce"))?,
            uri: uri.ok_or(AuthError::MissingParam("uri"))?,
            response,
            algorithm,
            cnonce,
            opaque,
            qop,
            nc,
            userhash,
        })
    }
}

impl Credentials {
    /// Parses an `Authorization` / `Proxy-Authorization` value.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        let c = CredentialsRef::parse(value)?;
        Ok(Self {
            username: c.username.into_owned(),
            realm: c.realm.into_owned(),
            nonce: c.nonce.into_owned(),
            uri: c.uri.into_owned(),
            response: c.response.to_ascii_lowercase(),
            algorithm: c.algorithm,
            cnonce: c.cnonce.map(Cow::into_owned),
            opaque: c.opaque.map(Cow::into_owned),
            qop: c.qop,
            nc: c.nc,
            userhash: c.userhash,
        })
    }
}

impl Challenge {
    /// Parses a `WWW-Authenticate` / `Proxy-Authenticate` value.
    ///
    /// A challenge with an unsupported algorithm (e.g. `SHA-512-256`) is
    /// [`AuthError::UnsupportedAlgorithm`]: a client skips it and answers one
    /// of the server's other challenges (RFC 8760 §2.4).
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        let mut realm = None;
        let mut nonce = None;
        let mut algorithm = Algorithm::Md5;
        let mut qop: Option<SmallVec<[Qop; 2]>> = None;
        let mut opaque = None;
        let mut stale = false;
        let mut userhash = false;
        for_each_param(value, |name, v| {
            let is = |n: &str| name.eq_ignore_ascii_case(n);
            if is("realm") {
                realm = Some(v);
            } else if is("nonce") {
                nonce = Some(v);
            } else if is("algorithm") {
                algorithm = Algorithm::parse(&v)?;
            } else if is("qop") {
                let mut list = SmallVec::new();
                for q in v
                    .split(',')
                    .filter_map(|t| Qop::parse(t.trim_matches([' ', '\t'])))
                {
                    if !list.contains(&q) {
                        list.push(q);
                    }
                }
                if list.is_empty() {
                    return Err(AuthError::BadQop);
                }
                qop = Some(list);
            } else if is("opaque") {
                opaque = Some(v);
            } else if is("stale") {
                stale = parse_flag(&v, "stale")?;
            } else if is("userhash") {
                userhash = parse_flag(&v, "userhash")?;
            }
            Ok(())
        })?;
        Ok(Self {
            realm: realm.ok_or(AuthError::MissingParam("realm"))?.into_owned(),
            nonce: nonce.ok_or(AuthError::MissingParam("nonce"))?.into_owned(),
            algorithm,
            qop: qop.unwrap_or_default(),
            opaque: opaque.map(Cow::into_owned),
            stale,
            userhash,
        })
    }
}

impl FromStr for Credentials {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, AuthError> {
        Self::parse(s)
    }
}

impl FromStr for Challenge {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, AuthError> {
        Self::parse(s)
    }
}

impl fmt::Display for Credentials {
    /// `Digest username="…", realm="…", nonce="…", uri="…", response="…",
    /// algorithm=…[, cnonce="…"][, opaque="…"][, qop=auth, nc=…][, userhash=true]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Digest username=")?;
        write_quoted(f, &self.username)?;
        f.write_str(", realm=")?;
        write_quoted(f, &self.realm)?;
        f.write_str(", nonce=")?;
        write_quoted(f, &self.nonce)?;
        f.write_str(", uri=")?;
        write_quoted(f, &self.uri)?;
        f.write_str(", response=")?;
        write_quoted(f, &self.response)?;
        write!(f, ", algorithm={}", self.algorithm)?;
        if let Some(c) = &self.cnonce {
            f.write_str(", cnonce=")?;
            write_quoted(f, c)?;
        }
        if let Some(o) = &self.opaque {
            f.write_str(", opaque=")?;
            write_quoted(f, o)?;
        }
        if let Some(q) = self.qop {
            write!(f, ", qop={q}")?;
        }
        if let Some(nc) = self.nc {
            write!(f, ", nc={}", format_nc(nc))?;
        }
        if self.userhash {
            f.write_str(", userhash=true")?;
        }
        Ok(())
    }
}

impl fmt::Display for Challenge {
    /// `Digest realm="…", nonce="…"[, opaque="…"], algorithm=…[, qop="…"][, stale=true]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_challenge(
            f,
            &ChallengeParts {
                realm: &self.realm,
                nonce: &self.nonce,
                opaque: self.opaque.as_deref(),
                algorithm: self.algorithm,
                qop: &self.qop,
                stale: self.stale,
                userhash: self.userhash,
            },
        )
    }
}

/// The fields of a [`Challenge`], borrowed: what a server writes without
/// building one.
pub(crate) struct ChallengeParts<'a> {
    pub(crate) realm: &'a str,
    pub(crate) nonce: &'a str,
    pub(crate) opaque: Option<&'a str>,
    pub(crate) algorithm: Algorithm,
    pub(crate) qop: &'a [Qop],
    pub(crate) stale: bool,
    pub(crate) userhash: bool,
}

/// Writes a challenge value (the text of `Challenge`'s `Display`) to any
/// writer: a `String` takes it without the formatting machinery.
pub(crate) fn write_challenge<W: fmt::Write>(f: &mut W, c: &ChallengeParts<'_>) -> fmt::Result {
    f.write_str("Digest realm=")?;
    write_quoted(f, c.realm)?;
    f.write_str(", nonce=")?;
    write_quoted(f, c.nonce)?;
    if let Some(o) = c.opaque {
        f.write_str(", opaque=")?;
        write_quoted(f, o)?;
    }
    f.write_str(", algorithm=")?;
    f.write_str(c.algorithm.as_str())?;
    if !c.qop.is_empty() {
        f.write_str(", qop=\"")?;
        for (i, q) in c.qop.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(q.as_str())?;
        }
        f.write_str("\"")?;
    }
    if c.stale {
        f.write_str(", stale=true")?;
    }
    if c.userhash {
        f.write_str(", userhash=true")?;
    }
    Ok(())
}

/// Writes `s` as a quoted-string: `"` and `\` are escaped; CR and LF, which no
/// quoted-string can carry, are dropped so a value can never end the header.
fn write_quoted<W: fmt::Write>(f: &mut W, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        if matches!(b, b'"' | b'\\' | b'\r' | b'\n') {
            f.write_str(s.get(start..i).unwrap_or_default())?;
            if matches!(b, b'"' | b'\\') {
                f.write_str("\\")?;
                start = i;
            } else {
                start = i + 1;
            }
        }
    }
    f.write_str(s.get(start..).unwrap_or_default())?;
    f.write_str("\"")
}

/// `nc-value = 8LHEX` (RFC 7616 §3.4); upper-case digits are tolerated, zero is not.
fn parse_nc(v: &str) -> Result<u32, AuthError> {
    if v.len() != 8 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::BadNc);
    }
    match u32::from_str_radix(v, 16) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(AuthError::BadNc),
    }
}

fn parse_flag(v: &str, name: &'static str) -> Result<bool, AuthError> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(AuthError::BadFlag(name))
    }
}

/// `token` characters (RFC 3261 §25.1).
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

/// Characters of an unquoted value: visible ASCII except `"` and `,`.
/// Wider than `token` so bare nonces and URIs from lax peers still parse.
fn is_bare_value(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && b != b'"' && b != b','
}

/// A cursor over a header value.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn at(&self, off: usize) -> Option<u8> {
        self.s.as_bytes().get(self.pos + off).copied()
    }

    /// Skips linear whitespace, including folding (CRLF or LF followed by
    /// SP/HT). Returns whether anything was skipped. A line break that is not
    /// a fold is a syntax error.
    fn skip_lws(&mut self) -> Result<bool, AuthError> {
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'\r')
                    if self.at(1) == Some(b'\n') && matches!(self.at(2), Some(b' ' | b'\t')) =>
                {
                    self.pos += 3;
                }
                Some(b'\n') if matches!(self.at(1), Some(b' ' | b'\t')) => self.pos += 2,
                Some(b'\r' | b'\n') => return Err(AuthError::Syntax),
                _ => return Ok(self.pos > start),
            }
        }
    }

    /// Takes the longest run of bytes matching `pred` (all ASCII, so the
    /// slice ends on a char boundary).
    fn take_while(&mut self, pred: fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(pred) {
            self.pos += 1;
        }
        self.s.get(start..self.pos).unwrap_or_default()
    }

    /// Reads a quoted-string whose opening `"` is at the cursor; borrows when
    /// it holds no escapes or folds.
    fn quoted(&mut self) -> Result<Cow<'a, str>, AuthError> {
        self.pos += 1; // the opening quote
        let start = self.pos;
        let bytes = self.s.as_bytes();
        let mut plain = true;
        let mut i = start;
        // First pass: find the closing quote and validate.
        loop {
            match bytes.get(i).copied() {
                None => return Err(AuthError::BadQuotedString),
                Some(b'"') => break,
                Some(b'\\') => {
                    plain = false;
                    match bytes.get(i + 1).copied() {
                        Some(c) if c.is_ascii() && c != b'\r' && c != b'\n' => i += 2,
                        _ => return Err(AuthError::BadQuotedString),
                    }
                }
                Some(b'\r')
                    if bytes.get(i + 1) == Some(&b'\n')
                        && matches!(bytes.get(i + 2), Some(b' ' | b'\t')) =>
                {
                    plain = false;
                    i += 3;
                }
                Some(b'\n') if matches!(bytes.get(i + 1), Some(b' ' | b'\t')) => {
                    plain = false;
                    i += 2;
                }
                Some(c) if (c < 0x20 && c != b'\t') || c == 0x7f => {
                    return Err(AuthError::BadQuotedString);
                }
                Some(_) => i += 1,
            }
        }
        let inner = self.s.get(start..i).ok_or(AuthError::BadQuotedString)?;
        self.pos = i + 1;
        if plain {
            return Ok(Cow::Borrowed(inner));
        }
        // Second pass: unescape and unfold (validated above).
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.extend(chars.next()),
                '\r' | '\n' => {} // a fold: the following SP/HT stays
                c => out.push(c),
            }
        }
        Ok(Cow::Owned(out))
    }
}

/// Checks the `Digest` scheme and calls `f(name, value)` for every parameter,
/// in order. Enforces the grammar, [`MAX_PARAMS`] and no duplicate names.
fn for_each_param<'a>(
    value: &'a str,
    mut f: impl FnMut(&'a str, Cow<'a, str>) -> Result<(), AuthError>,
) -> Result<(), AuthError> {
    let mut c = Cursor { s: value, pos: 0 };
    c.skip_lws()?;
    let scheme = c.take_while(is_token);
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(AuthError::NotDigest);
    }
    if !c.skip_lws()? && c.peek().is_some() {
        return Err(AuthError::NotDigest); // e.g. "Digestive ..." or "Digest,"
    }
    let mut seen: SmallVec<[&str; 12]> = SmallVec::new();
    // `expect_comma`: a parameter was just read, so the next item must be a comma.
    let mut expect_comma = false;
    loop {
        c.skip_lws()?;
        match c.peek() {
            None => return Ok(()),
            Some(b',') => {
                // Empty list elements are tolerated (RFC 7230 §7).
                c.pos += 1;
                expect_comma = false;
                continue;
            }
            Some(_) if expect_comma => return Err(AuthError::Syntax),
            Some(_) => {}
        }
        let name = c.take_while(is_token);
        if name.is_empty() {
            return Err(AuthError::Syntax);
        }
        c.skip_lws()?;
        if c.peek() != Some(b'=') {
            return Err(AuthError::Syntax);
        }
        c.pos += 1;
        c.skip_lws()?;
        let v = if c.peek() == Some(b'"') {
            c.quoted()?
        } else {
            let v = c.take_while(is_bare_value);
            if v.is_empty() {
                return Err(AuthError::Syntax);
            }
            Cow::Borrowed(v)
        };
        if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            return Err(AuthError::DuplicateParam(name.to_ascii_lowercase()));
        }
        if seen.len() >= MAX_PARAMS {
            return Err(AuthError::TooManyParams);
        }
        seen.push(name);
        f(name, v)?;
        expect_comma = true;
    }
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
