//! The digest computation itself: algorithms, HA1, request-digest (RFC 7616
//! §3.4.1–§3.4.3, RFC 2617 §3.2.2, RFC 2069 §2.1.2, RFC 8760 §2).
//!
//! ```text
//! HA1      = H(username ":" realm ":" password)
//! HA2      = H(method ":" digest-uri)                      qop=auth or no qop
//! HA2      = H(method ":" digest-uri ":" H(entity-body))   qop=auth-int
//! response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)   with qop
//! response = H(HA1 ":" nonce ":" HA2)                             RFC 2069, no qop
//! ```
//!
//! `H` is MD5 or SHA-256, rendered as lowercase hex. Only HA1 is ever stored
//! ([`Ha1Set`]: one per algorithm, since the realm is part of it); a clear-text
//! password exists only long enough to compute it. The `-sess` variants and
//! `SHA-512-256` are recognised so their use gets a precise error, and refused.

use super::error::AuthError;
use md5::{Digest, Md5};
use sha2::Sha256;
use std::fmt;

/// A digest hash algorithm we support (RFC 7616 §3.3, RFC 8760 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub enum Algorithm {
    /// `MD5` — the RFC 2617 default when `algorithm` is absent.
    #[default]
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
}

impl Algorithm {
    /// Parses an `algorithm` value, case-insensitively (RFC 7616 §3.3).
    ///
    /// `MD5-sess`, `SHA-256-sess`, `SHA-512-256` and `SHA-512-256-sess` are
    /// [`AuthError::UnsupportedAlgorithm`]; anything else unknown is
    /// [`AuthError::BadAlgorithm`].
    pub fn parse(s: &str) -> Result<Self, AuthError> {
        const UNSUPPORTED: [&str; 4] = [
            "MD5-sess",
            "SHA-256-sess",
            "SHA-512-256",
            "SHA-512-256-sess",
        ];
        if s.eq_ignore_ascii_case("MD5") {
            Ok(Self::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Ok(Self::Sha256)
        } else if let Some(name) = UNSUPPORTED.iter().find(|n| s.eq_ignore_ascii_case(n)) {
            Err(AuthError::UnsupportedAlgorithm(name))
        } else {
            Err(AuthError::BadAlgorithm)
        }
    }

    /// The canonical token: `MD5` or `SHA-256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }

    /// Length in hex characters of this algorithm's output (32 or 64).
    pub fn hex_len(self) -> usize {
        match self {
            Self::Md5 => 32,
            Self::Sha256 => 64,
        }
    }

    /// Hashes the parts joined with `:` and returns lowercase hex, without
    /// building the joined string.
    fn hash_joined(self, parts: &[&[u8]]) -> String {
        self.hash_hex(parts).as_str().to_owned()
    }

    /// [`hash_joined`](Self::hash_joined) into a stack buffer (no allocation).
    fn hash_hex(self, parts: &[&[u8]]) -> HexDigest {
        match self {
            Self::Md5 => hash_hex_with::<Md5>(parts),
            Self::Sha256 => hash_hex_with::<Sha256>(parts),
        }
    }
}

/// A digest as lowercase hex, on the stack (at most SHA-256's 64 characters).
#[derive(Clone, Copy)]
pub(crate) struct HexDigest {
    buf: [u8; 64],
    len: usize,
}

impl HexDigest {
    /// The hex characters.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// The hex characters as text.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).expect("hex digits are ASCII")
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A quality of protection (RFC 7616 §3.3 `qop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Qop {
    /// `auth`: authentication only.
    Auth,
    /// `auth-int`: authentication with integrity of the body. Switchboard never
    /// offers it; [`response`] computes it over an empty body.
    AuthInt,
}

impl Qop {
    /// Parses a qop token, case-insensitively; `None` for unknown values.
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("auth") {
            Some(Self::Auth)
        } else if s.eq_ignore_ascii_case("auth-int") {
            Some(Self::AuthInt)
        } else {
            None
        }
    }

    /// The canonical token: `auth` or `auth-int`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::AuthInt => "auth-int",
        }
    }
}

impl fmt::Display for Qop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn hash_hex_with<D: Digest>(parts: &[&[u8]]) -> HexDigest {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut h = D::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p);
    }
    let out = h.finalize();
    let mut hex = HexDigest {
        buf: [0; 64],
        len: 0,
    };
    // MD5 and SHA-256 outputs are at most 32 bytes: 64 hex characters.
    for (pair, &b) in hex.buf.chunks_exact_mut(2).zip(out.iter()) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
        hex.len += 2;
    }
    hex
}

/// Appends `bytes` to `out` as lowercase hex.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0x0f)] as char);
    }
}

/// `HA1 = H(username ":" realm ":" password)` as lowercase hex (RFC 7616 §3.4.2).
pub fn ha1(alg: Algorithm, username: &str, realm: &str, password: &str) -> String {
    alg.hash_joined(&[username.as_bytes(), realm.as_bytes(), password.as_bytes()])
}

/// The HA1 digests of one user in one realm, one per supported algorithm.
///
/// This is what extensions store instead of a password (ARCHITECTURE.md §5).
#[derive(Clone, PartialEq, Eq)]
pub struct Ha1Set {
    /// `MD5(username:realm:password)`, 32 lowercase hex characters.
    pub md5: String,
    /// `SHA-256(username:realm:password)`, 64 lowercase hex characters.
    pub sha256: String,
}

impl Ha1Set {
    /// Computes both HA1 digests from a clear-text password.
    pub fn from_password(username: &str, realm: &str, password: &str) -> Self {
        Self {
            md5: ha1(Algorithm::Md5, username, realm, password),
            sha256: ha1(Algorithm::Sha256, username, realm, password),
        }
    }

    /// The HA1 for `alg`.
    pub fn get(&self, alg: Algorithm) -> &str {
        match alg {
            Algorithm::Md5 => &self.md5,
            Algorithm::Sha256 => &self.sha256,
        }
    }
}

/// Where a server reads a user's stored HA1 from (see
/// [`Authenticator::verify`](super::Authenticator::verify)): an owned
/// [`Ha1Set`] or, without copying, [`Ha1Ref`] borrowed from the directory.
pub trait Ha1Source {
    /// The HA1 for `alg`, lowercase hex.
    fn ha1(&self, alg: Algorithm) -> &str;
}

impl Ha1Source for Ha1Set {
    fn ha1(&self, alg: Algorithm) -> &str {
        self.get(alg)
    }
}

impl<T: Ha1Source + ?Sized> Ha1Source for &T {
    fn ha1(&self, alg: Algorithm) -> &str {
        (**self).ha1(alg)
    }
}

/// A user's HA1 digests borrowed from where they are stored.
#[derive(Clone, Copy)]
pub struct Ha1Ref<'a> {
    /// `MD5(username:realm:password)`, 32 lowercase hex characters.
    pub md5: &'a str,
    /// `SHA-256(username:realm:password)`, 64 lowercase hex characters.
    pub sha256: &'a str,
}

impl Ha1Source for Ha1Ref<'_> {
    fn ha1(&self, alg: Algorithm) -> &str {
        match alg {
            Algorithm::Md5 => self.md5,
            Algorithm::Sha256 => self.sha256,
        }
    }
}

impl fmt::Debug for Ha1Ref<'_> {
    /// HA1 values are password equivalents for their realm: never print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ha1Ref { .. }")
    }
}

impl fmt::Debug for Ha1Set {
    /// HA1 values are password equivalents for their realm: never print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ha1Set { .. }")
    }
}

/// The request-digest (`response` parameter) for a request (RFC 7616 §3.4.1).
///
/// With `qop = Some(..)` it is `H(HA1:nonce:nc:cnonce:qop:HA2)`, `nc` written as
/// 8 lowercase hex digits; with `qop = None` it is the RFC 2069 form
/// `H(HA1:nonce:HA2)` and `nc`/`cnonce` are ignored. For `auth-int` the body is
/// taken to be empty (correct for bodiless requests such as most REGISTERs).
#[allow(clippy::too_many_arguments)] // mirrors the RFC's formula term by term
pub fn response(
    alg: Algorithm,
    ha1: &str,
    nonce: &str,
    nc: u32,
    cnonce: &str,
    qop: Option<Qop>,
    method: &str,
    uri: &str,
) -> String {
    response_hex(alg, ha1, nonce, nc, cnonce, qop, method, uri)
        .as_str()
        .to_owned()
}

/// [`response`] into a stack buffer: what the server compares credentials
/// with, without allocating.
#[allow(clippy::too_many_arguments)] // mirrors the RFC's formula term by term
pub(crate) fn response_hex(
    alg: Algorithm,
    ha1: &str,
    nonce: &str,
    nc: u32,
    cnonce: &str,
    qop: Option<Qop>,
    method: &str,
    uri: &str,
) -> HexDigest {
    let ha2 = match qop {
        Some(Qop::AuthInt) => {
            let body = alg.hash_hex(&[b""]);
            alg.hash_hex(&[method.as_bytes(), uri.as_bytes(), body.as_bytes()])
        }
        _ => alg.hash_hex(&[method.as_bytes(), uri.as_bytes()]),
    };
    match qop {
        Some(q) => {
            let nc = nc_hex(nc);
            alg.hash_hex(&[
                ha1.as_bytes(),
                nonce.as_bytes(),
                &nc,
                cnonce.as_bytes(),
                q.as_str().as_bytes(),
                ha2.as_bytes(),
            ])
        }
        None => alg.hash_hex(&[ha1.as_bytes(), nonce.as_bytes(), ha2.as_bytes()]),
    }
}

/// `nc` as the 8 lowercase hex digits the wire form uses.
pub(crate) fn format_nc(nc: u32) -> String {
    std::str::from_utf8(&nc_hex(nc))
        .expect("hex digits are ASCII")
        .to_owned()
}

/// [`format_nc`] on the stack.
fn nc_hex(nc: u32) -> [u8; 8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 8];
    for (i, o) in out.iter_mut().enumerate() {
        *o = HEX[((nc >> (28 - 4 * i)) & 0xf) as usize];
    }
    out
}

/// Compares two byte strings in time that depends only on their lengths.
///
/// Lengths are public here (they follow from the algorithm), contents are not.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7616 §3.9.1: user "Mufasa", password "Circle of Life".
    const NONCE_7616: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const CNONCE_7616: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    const REALM_7616: &str = "http-auth@example.org";

    #[test]
    fn rfc7616_md5_vector() {
        let h = ha1(Algorithm::Md5, "Mufasa", REALM_7616, "Circle of Life");
        let r = response(
            Algorithm::Md5,
            &h,
            NONCE_7616,
            1,
            CNONCE_7616,
            Some(Qop::Auth),
            "GET",
            "/dir/index.html",
        );
        assert_eq!(r, "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn rfc7616_sha256_vector() {
        let h = ha1(Algorithm::Sha256, "Mufasa", REALM_7616, "Circle of Life");
        let r = response(
            Algorithm::Sha256,
            &h,
            NONCE_7616,
            1,
            CNONCE_7616,
            Some(Qop::Auth),
            "GET",
            "/dir/index.html",
        );
        assert_eq!(
            r,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn rfc2617_example() {
        // RFC 2617 §3.5 (user "Mufasa", password "Circle Of Life").
        let set = Ha1Set::from_password("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert_eq!(set.md5, "939e7578ed9e3c518a452acee763bce9");
        let r = response(
            Algorithm::Md5,
            set.get(Algorithm::Md5),
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            1,
            "0a4f113b",
            Some(Qop::Auth),
            "GET",
            "/dir/index.html",
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn rfc2069_form_differs_from_qop_form() {
        let h = ha1(
            Algorithm::Md5,
            "Mufasa",
            "testrealm@host.com",
            "Circle Of Life",
        );
        let nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093";
        let legacy = response(
            Algorithm::Md5,
            &h,
            nonce,
            1,
            "x",
            None,
            "GET",
            "/dir/index.html",
        );
        // Independently: H(HA1:nonce:H(GET:/dir/index.html)).
        let ha2 = Algorithm::Md5.hash_joined(&[b"GET", b"/dir/index.html"]);
        let want = Algorithm::Md5.hash_joined(&[h.as_bytes(), nonce.as_bytes(), ha2.as_bytes()]);
        assert_eq!(legacy, want);
        // nc and cnonce are ignored without qop.
        assert_eq!(
            legacy,
            response(
                Algorithm::Md5,
                &h,
                nonce,
                9,
                "y",
                None,
                "GET",
                "/dir/index.html"
            )
        );
        assert_ne!(legacy, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn auth_int_uses_empty_body_hash() {
        let h = "939e7578ed9e3c518a452acee763bce9";
        let a = response(
            Algorithm::Md5,
            h,
            "n",
            1,
            "c",
            Some(Qop::AuthInt),
            "REGISTER",
            "sip:x",
        );
        let b = response(
            Algorithm::Md5,
            h,
            "n",
            1,
            "c",
            Some(Qop::Auth),
            "REGISTER",
            "sip:x",
        );
        assert_ne!(a, b);
        // H("") for MD5 is the well-known d41d8cd9...
        let ha2 = Algorithm::Md5.hash_joined(&[
            b"REGISTER",
            b"sip:x",
            b"d41d8cd98f00b204e9800998ecf8427e",
        ]);
        let want = Algorithm::Md5.hash_joined(&[
            h.as_bytes(),
            b"n",
            b"00000001",
            b"c",
            b"auth-int",
            ha2.as_bytes(),
        ]);
        assert_eq!(a, want);
    }

    #[test]
    fn algorithm_parsing() {
        assert_eq!(Algorithm::parse("md5"), Ok(Algorithm::Md5));
        assert_eq!(Algorithm::parse("sha-256"), Ok(Algorithm::Sha256));
        assert_eq!(
            Algorithm::parse("MD5-SESS"),
            Err(AuthError::UnsupportedAlgorithm("MD5-sess"))
        );
        assert_eq!(
            Algorithm::parse("SHA-512-256"),
            Err(AuthError::UnsupportedAlgorithm("SHA-512-256"))
        );
        assert_eq!(
            Algorithm::parse("SHA-256-sess"),
            Err(AuthError::UnsupportedAlgorithm("SHA-256-sess"))
        );
        assert_eq!(Algorithm::parse("SHA-1"), Err(AuthError::BadAlgorithm));
        assert_eq!(Algorithm::parse(""), Err(AuthError::BadAlgorithm));
        assert_eq!(Algorithm::Sha256.hex_len(), 64);
        assert_eq!(Algorithm::default(), Algorithm::Md5);
    }

    #[test]
    fn ha1_set_lengths_and_debug_hides_secrets() {
        let s = Ha1Set::from_password("alice", "example.com", "secret");
        assert_eq!(s.md5.len(), 32);
        assert_eq!(s.sha256.len(), 64);
        assert!(
            s.sha256
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        );
        assert!(!format!("{s:?}").contains(&s.md5));
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn nc_format() {
        assert_eq!(format_nc(1), "00000001");
        assert_eq!(format_nc(0xdeadbeef), "deadbeef");
    }
}
