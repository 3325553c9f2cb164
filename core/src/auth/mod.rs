//! SIP digest authentication (RFC 3261 §22, RFC 7616, RFC 8760), server and client.
//!
//! A registrar (401, `WWW-Authenticate` / `Authorization`) or proxy (407,
//! `Proxy-Authenticate` / `Proxy-Authorization`) owns one [`Authenticator`]:
//!
//! 1. A request without credentials gets a 401/407 carrying every value of
//!    [`Authenticator::challenge`]: by default SHA-256 first, then MD5 (RFC
//!    8760 §2.4), each `qop="auth"`, with one stateless nonce ([`nonce`]) and
//!    one opaque. [`Authenticator::offer`] narrows or reorders the algorithms
//!    for clients that only read the first challenge (sipp, older phones);
//!    credentials using an algorithm not offered are refused.
//! 2. A request with credentials goes through [`Authenticator::verify`] with
//!    a lookup that returns the user's stored [`Ha1Set`]; the [`Verdict`] says
//!    whether to proceed, re-challenge (possibly with `stale=true`), or answer 400.
//!
//! Replay is bounded by the nonce lifetime and, within it, by the nonce-count
//! table: each `nc` is accepted once per nonce and must increase. An unknown
//! user costs the same hashing as a known one and gets the same verdict kind
//! as a wrong password. This module works on header *values* only, so it does
//! not depend on the message codec; [`respond`] is the client side.

pub mod client;
pub mod digest;
pub mod error;
pub mod nonce;
pub mod params;

pub use client::{Secret, pick_challenge, respond};
pub use digest::{Algorithm, Ha1Ref, Ha1Set, Ha1Source, Qop, ct_eq, ha1, response};
pub use error::AuthError;
pub use nonce::{NcCheck, NonceCheck, NonceCounts, NonceMinter};
pub use params::{Challenge, Credentials};

use crate::rng::Rng;
use digest::{push_hex, response_hex};
use hmac::{Hmac, KeyInit, Mac};
use params::{ChallengeParts, CredentialsRef, write_challenge};
use sha2::Sha256;
use smallvec::{SmallVec, smallvec};
use std::time::{Duration, Instant};

/// Why credentials were refused with a fresh challenge (401/407).
///
/// The distinction is for logs and counters only: the response must be the
/// same for [`UnknownUser`](Self::UnknownUser) and
/// [`WrongPassword`](Self::WrongPassword), so probing reveals nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// No such user.
    UnknownUser,
    /// The response does not match the stored HA1.
    WrongPassword,
    /// The nonce-count was already used with this nonce.
    Replay,
    /// The credentials answer another realm.
    RealmMismatch,
    /// The nonce was not minted by us (forged, garbled, another secret).
    BadNonce,
    /// The opaque differs from the one we sent.
    OpaqueMismatch,
    /// The credentials use a scheme other than Digest.
    NotDigest,
    /// The credentials use a digest algorithm we did not offer.
    AlgorithmNotOffered,
}

/// The outcome of [`Authenticator::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Authenticated as `username`.
    Ok {
        /// The authenticated user.
        username: String,
    },
    /// The password was right but the nonce is stale: answer a fresh 401/407
    /// built with `stale = true`.
    Stale,
    /// Answer a fresh 401/407 (without `stale`).
    Reject {
        /// Why, for logs and counters.
        reason: RejectReason,
    },
    /// Answer 400; `reason` names the problem for the reason phrase.
    Malformed {
        /// What is wrong with the credentials.
        reason: AuthError,
    },
}

/// The server side of digest authentication for one realm.
#[derive(Debug, Clone)]
pub struct Authenticator {
    realm: String,
    minter: NonceMinter,
    counts: NonceCounts,
    opaque: String,
    /// HA1s for the unknown-user path, so it hashes as much as the known one.
    dummy: Ha1Set,
    allow_rfc2069: bool,
    /// The algorithms challenged with, in order of preference.
    offer: SmallVec<[Algorithm; 2]>,
}

impl Authenticator {
    /// An authenticator for `realm`, keyed with `secret` (from the engine RNG),
    /// measuring nonce age from `base`; nonces stay valid for `nonce_lifetime`.
    ///
    /// Remembers nonce-counts for up to [`NonceCounts::DEFAULT_CAPACITY`]
    /// nonces and requires `qop` (see [`with_nc_capacity`](Self::with_nc_capacity)
    /// and [`allow_rfc2069`](Self::allow_rfc2069)).
    pub fn new(
        realm: impl Into<String>,
        secret: [u8; 32],
        base: Instant,
        nonce_lifetime: Duration,
    ) -> Self {
        let realm = realm.into();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&secret)
            .expect("HMAC accepts keys of any length");
        mac.update(b"switchboard digest opaque v1:");
        mac.update(realm.as_bytes());
        let derived = mac.finalize().into_bytes();
        let mut opaque = String::with_capacity(16);
        push_hex(
            &mut opaque,
            derived.get(..8).expect("SHA-256 output is 32 bytes"),
        );
        let mut dummy_pw = String::with_capacity(32);
        push_hex(
            &mut dummy_pw,
            derived.get(16..).expect("SHA-256 output is 32 bytes"),
        );
        let dummy = Ha1Set::from_password("", &realm, &dummy_pw);
        Self {
            minter: NonceMinter::new(secret, base, nonce_lifetime),
            counts: NonceCounts::new(NonceCounts::DEFAULT_CAPACITY, nonce_lifetime),
            realm,
            opaque,
            dummy,
            allow_rfc2069: false,
            offer: smallvec![Algorithm::Sha256, Algorithm::Md5],
        }
    }

    /// The algorithms to challenge with, most preferred first (default:
    /// SHA-256 then MD5, RFC 8760 §2.4). Duplicates are dropped; an empty list
    /// leaves the offer unchanged.
    #[must_use]
    pub fn offer(mut self, algorithms: &[Algorithm]) -> Self {
        if !algorithms.is_empty() {
            self.offer.clear();
            for a in algorithms {
                if !self.offer.contains(a) {
                    self.offer.push(*a);
                }
            }
        }
        self
    }

    /// Sets how many nonces the replay table remembers (memory bound).
    #[must_use]
    pub fn with_nc_capacity(mut self, capacity: usize) -> Self {
        self.counts = NonceCounts::new(capacity, self.minter.lifetime());
        self
    }

    /// Whether to accept RFC 2069 answers without `qop` (legacy phones). They
    /// carry no nonce-count, so within a nonce's lifetime they can be replayed.
    #[must_use]
    pub fn allow_rfc2069(mut self, allow: bool) -> Self {
        self.allow_rfc2069 = allow;
        self
    }

    /// The realm this authenticator protects.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The challenge header values for a 401/407, one per offered algorithm
    /// in order of preference (default SHA-256, then MD5: RFC 8760 §2.4),
    /// sharing one fresh nonce and the opaque, all `qop="auth"`, with
    /// `stale=true` when `stale`.
    pub fn challenge(&self, now: Instant, rng: &mut Rng, stale: bool) -> SmallVec<[String; 2]> {
        let nonce = self.minter.mint(now, rng);
        let mut parts = ChallengeParts {
            realm: &self.realm,
            nonce: &nonce,
            opaque: Some(&self.opaque),
            algorithm: Algorithm::Sha256,
            qop: &[Qop::Auth],
            stale,
            userhash: false,
        };
        // Each value sized once and written without the formatting machinery.
        let mut out = SmallVec::new();
        for a in &self.offer {
            parts.algorithm = *a;
            let mut s = String::with_capacity(
                96 + 2 * self.realm.len() + nonce.len() + 2 * self.opaque.len(),
            );
            let _ = write_challenge(&mut s, &parts);
            out.push(s);
        }
        out
    }

    /// Checks an `Authorization` / `Proxy-Authorization` value for a request
    /// `method request_uri`. `lookup` maps a username to its stored HA1s (an
    /// owned [`Ha1Set`] or a borrowed [`Ha1Ref`]) and is called at most once.
    pub fn verify<S: Ha1Source>(
        &mut self,
        now: Instant,
        method: &str,
        request_uri: &str,
        header_value: &str,
        lookup: impl FnOnce(&str) -> Option<S>,
    ) -> Verdict {
        let malformed = |reason| Verdict::Malformed { reason };
        let reject = |reason| Verdict::Reject { reason };
        // Borrowed from the header value: nothing is copied to check it.
        let creds = match CredentialsRef::parse(header_value) {
            Ok(c) => c,
            Err(AuthError::NotDigest) => return reject(RejectReason::NotDigest),
            Err(e) => return malformed(e),
        };
        if creds.userhash {
            return malformed(AuthError::UserhashNotOffered);
        }
        match creds.qop {
            Some(Qop::AuthInt) => return malformed(AuthError::QopNotOffered("auth-int")),
            None if !self.allow_rfc2069 => return malformed(AuthError::MissingQop),
            _ => {}
        }
        if creds.uri.trim() != request_uri.trim() {
            return malformed(AuthError::UriMismatch);
        }
        if creds.realm != self.realm.as_str() {
            return reject(RejectReason::RealmMismatch);
        }
        if !self.offer.contains(&creds.algorithm) {
            return reject(RejectReason::AlgorithmNotOffered);
        }
        if creds
            .opaque
            .as_ref()
            .is_some_and(|o| *o != self.opaque.as_str())
        {
            return reject(RejectReason::OpaqueMismatch);
        }
        let nonce_state = self.minter.check(&creds.nonce, now);
        if nonce_state == NonceCheck::Invalid {
            return reject(RejectReason::BadNonce);
        }
        // Same work whether or not the user exists: hash against a dummy HA1.
        let stored = lookup(&creds.username);
        let known = stored.is_some();
        let ha1 = match &stored {
            Some(s) => s.ha1(creds.algorithm),
            None => self.dummy.get(creds.algorithm),
        };
        let expected = response_hex(
            creds.algorithm,
            ha1,
            &creds.nonce,
            creds.nc.unwrap_or(0),
            creds.cnonce.as_deref().unwrap_or(""),
            creds.qop,
            method,
            &creds.uri,
        );
        // The parser checked the length; compare the client's hex in lower case.
        let mut given = [0u8; 64];
        let given = match given.get_mut(..creds.response.len()) {
            Some(g) => {
                g.copy_from_slice(creds.response.as_bytes());
                g.make_ascii_lowercase();
                &*g
            }
            None => creds.response.as_bytes(),
        };
        let matches = ct_eq(expected.as_bytes(), given);
        if !known {
            return reject(RejectReason::UnknownUser);
        }
        if !matches {
            return reject(RejectReason::WrongPassword);
        }
        let issued = match nonce_state {
            NonceCheck::Valid { issued } => issued,
            _ => return Verdict::Stale,
        };
        if let Some(nc) = creds.nc {
            let issued_at = self.minter.issued_at(issued);
            match self
                .counts
                .check_and_record(&creds.nonce, issued_at, nc, now)
            {
                NcCheck::Fresh => {}
                NcCheck::Replay => return reject(RejectReason::Replay),
                NcCheck::Forgotten => return Verdict::Stale,
            }
        }
        Verdict::Ok {
            username: creds.username.into_owned(),
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
