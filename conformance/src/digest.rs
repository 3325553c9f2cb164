//! Client-side HTTP Digest for scripts: the `${digest:user:password:METHOD:uri}` helper.
//!
//! Given the last `WWW-Authenticate`/`Proxy-Authenticate` challenge a scripted
//! host received (RFC 3261 §22.4), this computes the credentials value for an
//! `Authorization`/`Proxy-Authorization` header per RFC 7616 §3.4 (SHA-256,
//! MD5 and their `-sess` variants; `qop=auth`; RFC 2617 without qop), as RFC
//! 8760 asks SIP to do. It is self-contained on purpose: the engine's own auth
//! module is what the conformance scenarios test, so the harness must not reuse it.
//!
//! The client nonce is derived from the server nonce and the user name (not
//! random) so transcripts stay byte-identical; `nc` is always `00000001`.
//! Tests can swap in another implementation through [`DigestFn`].

use md5::Md5;
use sha2::{Digest as _, Sha256};
use std::fmt::Write as _;

use crate::msg::param;

/// The hook a runner uses to answer a challenge:
/// `(challenge header value, method, uri, user, password) -> credentials value`.
pub type DigestFn = fn(&str, &str, &str, &str, &str) -> Result<String, String>;

/// Digest algorithms (RFC 7616 §3.3, §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// MD5 (the RFC 2617 default when the challenge names none).
    Md5,
    /// MD5-sess.
    Md5Sess,
    /// SHA-256.
    Sha256,
    /// SHA-256-sess.
    Sha256Sess,
}

impl Algorithm {
    /// Reads an `algorithm=` token, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Md5, Self::Md5Sess, Self::Sha256, Self::Sha256Sess]
            .into_iter()
            .find(|a| a.token().eq_ignore_ascii_case(s))
    }

    /// The token as written in headers.
    pub fn token(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Md5Sess => "MD5-sess",
            Self::Sha256 => "SHA-256",
            Self::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Lower-case hex of the hash of `data`.
    pub fn hash(self, data: &str) -> String {
        match self {
            Self::Md5 | Self::Md5Sess => hex(&Md5::digest(data.as_bytes())),
            Self::Sha256 | Self::Sha256Sess => hex(&Sha256::digest(data.as_bytes())),
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, Self::Md5Sess | Self::Sha256Sess)
    }
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The inputs of one digest computation (RFC 7616 §3.4.1).
#[derive(Debug, Clone, Copy)]
pub struct DigestInput<'a> {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The user name.
    pub user: &'a str,
    /// The realm from the challenge.
    pub realm: &'a str,
    /// The password.
    pub password: &'a str,
    /// The server nonce.
    pub nonce: &'a str,
    /// The client nonce (used with qop and `-sess`).
    pub cnonce: &'a str,
    /// The nonce count, 8 hex digits.
    pub nc: &'a str,
    /// `Some("auth")` with qop, `None` for RFC 2069-style responses.
    pub qop: Option<&'a str>,
    /// The request method.
    pub method: &'a str,
    /// The digest-uri.
    pub uri: &'a str,
}

/// The `response=` value (RFC 7616 §3.4.1, §3.4.2, §3.4.3).
pub fn response(i: &DigestInput<'_>) -> String {
    let h = |s: &str| i.algorithm.hash(s);
    let mut ha1 = h(&format!("{}:{}:{}", i.user, i.realm, i.password));
    if i.algorithm.is_sess() {
        ha1 = h(&format!("{ha1}:{}:{}", i.nonce, i.cnonce));
    }
    let ha2 = h(&format!("{}:{}", i.method, i.uri));
    match i.qop {
        Some(qop) => h(&format!(
            "{ha1}:{}:{}:{}:{qop}:{ha2}",
            i.nonce, i.nc, i.cnonce
        )),
        None => h(&format!("{ha1}:{}:{ha2}", i.nonce)),
    }
}

/// The default [`DigestFn`]: answers `challenge` for `user`/`password`.
///
/// # Errors
/// A challenge that is not `Digest`, lacks a nonce, or names an unknown algorithm.
pub fn answer(
    challenge: &str,
    method: &str,
    uri: &str,
    user: &str,
    password: &str,
) -> Result<String, String> {
    let scheme = challenge.split_whitespace().next().unwrap_or("");
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(format!("not a Digest challenge: {challenge:?}"));
    }
    let realm = param(challenge, "realm").unwrap_or("");
    let nonce = param(challenge, "nonce").ok_or("challenge has no nonce")?;
    let algorithm = match param(challenge, "algorithm") {
        None => Algorithm::Md5,
        Some(a) => Algorithm::parse(a).ok_or_else(|| format!("unknown algorithm {a:?}"))?,
    };
    // Any qop offer ("auth", or a list such as "auth,auth-int") is answered with
    // `auth`, which RFC 7616 §3.3 requires servers to support when they send qop.
    let offers_qop = param(challenge, "qop").is_some();
    let qop = offers_qop.then_some("auth");
    let cnonce = algorithm.hash(&format!("cnonce:{nonce}:{user}"));
    let cnonce = cnonce.get(..16).unwrap_or(&cnonce);
    let nc = "00000001";
    let resp = response(&DigestInput {
        algorithm,
        user,
        realm,
        password,
        nonce,
        cnonce,
        nc,
        qop,
        method,
        uri,
    });
    let mut out = format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm={}",
        algorithm.token()
    );
    if let Some(q) = qop {
        let _ = write!(out, ", qop={q}, nc={nc}, cnonce=\"{cnonce}\"");
    }
    if let Some(o) = param(challenge, "opaque") {
        let _ = write!(out, ", opaque=\"{o}\"");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc7616(algorithm: Algorithm) -> String {
        response(&DigestInput {
            algorithm,
            user: "Mufasa",
            realm: "http-auth@example.org",
            password: "Circle of Life",
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            nc: "00000001",
            qop: Some("auth"),
            method: "GET",
            uri: "/dir/index.html",
        })
    }

    #[test]
    fn rfc7616_section_3_9_1_examples() {
        assert_eq!(rfc7616(Algorithm::Md5), "8ca523f5e9506fed4657c9700eebdbec");
        assert_eq!(
            rfc7616(Algorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn rfc2617_section_3_5_example() {
        let r = response(&DigestInput {
            algorithm: Algorithm::Md5,
            user: "Mufasa",
            realm: "testrealm@host.com",
            password: "Circle Of Life",
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            cnonce: "0a4f113b",
            nc: "00000001",
            qop: Some("auth"),
            method: "GET",
            uri: "/dir/index.html",
        });
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn answer_builds_a_header_value_that_verifies() {
        let ch = "Digest realm=\"example.com\", nonce=\"abc\", algorithm=SHA-256, qop=\"auth\", opaque=\"op\"";
        let v = answer(ch, "REGISTER", "sip:example.com", "101", "secret").expect("valid");
        assert!(v.starts_with("Digest username=\"101\", realm=\"example.com\""));
        assert!(v.contains("algorithm=SHA-256") && v.contains("opaque=\"op\""));
        let cnonce = param(&v, "cnonce").expect("cnonce");
        let expect = response(&DigestInput {
            algorithm: Algorithm::Sha256,
            user: "101",
            realm: "example.com",
            password: "secret",
            nonce: "abc",
            cnonce,
            nc: "00000001",
            qop: Some("auth"),
            method: "REGISTER",
            uri: "sip:example.com",
        });
        assert_eq!(param(&v, "response"), Some(expect.as_str()));
        // Deterministic.
        assert_eq!(
            v,
            answer(ch, "REGISTER", "sip:example.com", "101", "secret").expect("valid")
        );
    }

    #[test]
    fn answer_rejects_bad_challenges() {
        assert!(answer("Basic realm=x", "R", "u", "a", "b").is_err());
        assert!(answer("Digest realm=x", "R", "u", "a", "b").is_err());
        assert!(answer("Digest nonce=n, algorithm=SHA-512", "R", "u", "a", "b").is_err());
        let v = answer("Digest realm=\"r\", nonce=\"n\"", "R", "u", "a", "b").expect("md5");
        assert!(v.contains("algorithm=MD5") && !v.contains("qop"));
    }
}
