//! Stateless server nonces and nonce-count replay protection (RFC 7616 §3.3,
//! §3.4, §5.4–§5.5; RFC 3261 §22.4).
//!
//! A nonce is `hex(issued ‖ random ‖ tag)`: `issued` is the issue time in whole
//! seconds since the authenticator's base instant (8 bytes, big-endian),
//! `random` 8 bytes from the engine RNG, and `tag` the first 16 bytes (128 bits)
//! of `HMAC-SHA256(secret, label ‖ issued ‖ random)`. The server stores nothing
//! per nonce to check one: the tag proves it minted it, `issued` says how old
//! it is. RFC 7616 §5.4 suggests exactly this shape (a timestamp plus a keyed
//! hash).
//!
//! Replay within a nonce's lifetime is stopped by [`NonceCounts`], which keeps
//! the highest `nc` seen for recently used nonces, in bounded memory. When it
//! must forget a still-live nonce to stay within its capacity, it remembers a
//! watermark so that nonce is treated as stale (the client simply retries with
//! a fresh one) rather than replayable.

use super::digest::push_hex;
use crate::rng::HashMap;
use crate::rng::Rng;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Domain-separation label mixed into every nonce tag.
const LABEL: &[u8] = b"switchboard digest nonce v1";
/// Bytes of the issue time, the random part and the truncated tag.
const TIME_LEN: usize = 8;
const RAND_LEN: usize = 8;
const TAG_LEN: usize = 16;
const RAW_LEN: usize = TIME_LEN + RAND_LEN + TAG_LEN;
/// Length of a nonce in hex characters.
pub const NONCE_LEN: usize = RAW_LEN * 2;

/// What [`NonceMinter::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NonceCheck {
    /// We minted it and it is within its lifetime; `issued` is its issue time
    /// in seconds since the base instant.
    Valid {
        /// Issue time, whole seconds since the minter's base instant.
        issued: u64,
    },
    /// We minted it but it is older than the lifetime (answer with `stale=true`).
    Stale,
    /// Not ours: forged, garbled, truncated, or from the future.
    Invalid,
}

/// Mints and checks stateless HMAC nonces.
#[derive(Clone)]
pub struct NonceMinter {
    mac: Hmac<Sha256>,
    base: Instant,
    lifetime: Duration,
}

impl std::fmt::Debug for NonceMinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceMinter")
            .field("base", &self.base)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl NonceMinter {
    /// A minter keyed with `secret`, measuring time from `base`, whose nonces
    /// stay valid for `lifetime`.
    pub fn new(secret: [u8; 32], base: Instant, lifetime: Duration) -> Self {
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&secret)
            .expect("HMAC accepts keys of any length");
        Self {
            mac,
            base,
            lifetime,
        }
    }

    /// How long a nonce stays valid.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// The instant a nonce with issue time `issued` (from [`NonceCheck::Valid`])
    /// was minted, rounded down to the second.
    pub fn issued_at(&self, issued: u64) -> Instant {
        self.base
            .checked_add(Duration::from_secs(issued))
            .unwrap_or(self.base)
    }

    fn secs_since_base(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.base).as_secs()
    }

    fn tag(&self, head: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.mac.clone();
        mac.update(LABEL);
        mac.update(head);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(full.get(..TAG_LEN).expect("SHA-256 output is 32 bytes"));
        tag
    }

    /// A fresh nonce: 64 lowercase hex characters.
    pub fn mint(&self, now: Instant, rng: &mut Rng) -> String {
        let mut raw = [0u8; RAW_LEN];
        raw[..TIME_LEN].copy_from_slice(&self.secs_since_base(now).to_be_bytes());
        rng.fill(&mut raw[TIME_LEN..TIME_LEN + RAND_LEN]);
        let tag = self.tag(&raw[..TIME_LEN + RAND_LEN]);
        raw[TIME_LEN + RAND_LEN..].copy_from_slice(&tag);
        let mut s = String::with_capacity(NONCE_LEN);
        push_hex(&mut s, &raw);
        s
    }

    /// Checks a nonce a client sent back.
    pub fn check(&self, nonce: &str, now: Instant) -> NonceCheck {
        let Some(raw) = decode_hex::<RAW_LEN>(nonce) else {
            return NonceCheck::Invalid;
        };
        let (head, tag) = raw.split_at(TIME_LEN + RAND_LEN);
        let mut mac = self.mac.clone();
        mac.update(LABEL);
        mac.update(head);
        if mac.verify_truncated_left(tag).is_err() {
            return NonceCheck::Invalid;
        }
        let mut t = [0u8; TIME_LEN];
        t.copy_from_slice(&head[..TIME_LEN]);
        let issued = u64::from_be_bytes(t);
        let now_secs = self.secs_since_base(now);
        if issued > now_secs {
            return NonceCheck::Invalid;
        }
        let age = now.saturating_duration_since(self.issued_at(issued));
        if age > self.lifetime {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid { issued }
        }
    }
}

/// Decodes exactly `N` bytes of lowercase hex; `None` otherwise. Upper case is
/// refused so one nonce has one spelling (the replay table is keyed by text).
fn decode_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if bytes.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// What [`NonceCounts::check_and_record`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NcCheck {
    /// `nc` is higher than any seen for this nonce: accepted and recorded.
    Fresh,
    /// `nc` is not higher than one already seen: a replay.
    Replay,
    /// The nonce may have been evicted to keep memory bounded, so its history is
    /// unknown: treat it as stale and issue a fresh nonce.
    Forgotten,
}

#[derive(Debug, Clone)]
struct Entry {
    last_nc: u32,
    /// Key into the age index.
    age_key: (Instant, u64),
}

/// Remembers the highest nonce-count seen per nonce, in bounded memory.
///
/// Entries expire once `lifetime` has passed since they were first seen (by
/// then the nonce itself is stale); beyond `capacity` the oldest entry is
/// evicted. Deterministic: a fixed-key hash map for the lookup (its keys are
/// nonces this server minted and whose HMAC was checked before they are
/// recorded, so no one can choose colliding keys) and a `BTreeMap` for the age
/// order.
#[derive(Debug, Clone)]
pub struct NonceCounts {
    /// Keyed by a 64-bit digest of the nonce, not the nonce text (a third of
    /// the memory per entry): nonces are this server's own, HMAC-checked
    /// before they get here, so a collision cannot be engineered, and an
    /// accidental one (about 1 in 10^9 at full capacity) costs one extra challenge.
    by_nonce: HashMap<u64, Entry>,
    /// (first seen, insertion sequence) → nonce, oldest first.
    by_age: BTreeMap<(Instant, u64), u64>,
    seq: u64,
    capacity: usize,
    lifetime: Duration,
    /// The latest first-seen instant among entries evicted while still live.
    evicted_until: Option<Instant>,
}

impl NonceCounts {
    /// A default capacity: 100 000 nonces (a few tens of megabytes at most).
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// An empty table for nonces valid for `lifetime`, holding at most
    /// `capacity` (at least 1) entries.
    pub fn new(capacity: usize, lifetime: Duration) -> Self {
        Self {
            by_nonce: HashMap::default(),
            by_age: BTreeMap::new(),
            seq: 0,
            capacity: capacity.max(1),
            lifetime,
            evicted_until: None,
        }
    }

    /// Number of nonces remembered.
    pub fn len(&self) -> usize {
        self.by_nonce.len()
    }

    /// Whether no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.by_nonce.is_empty()
    }

    /// Records `nc` for `nonce` if it is higher than the last seen; returns
    /// `false` for a replay (`nc` ≤ last seen, or `nc` = 0).
    ///
    /// Does not know when the nonce was issued, so an evicted nonce starts
    /// over; servers use [`check_and_record`](Self::check_and_record).
    pub fn accept(&mut self, nonce: &str, nc: u32, now: Instant) -> bool {
        self.expire(now);
        self.record(digest(nonce), nc, now)
    }

    /// Like [`accept`](Self::accept), but a nonce not in the table and issued
    /// (`issued_at`) no later than an evicted live entry was first seen is
    /// [`NcCheck::Forgotten`]: it might have been used before.
    pub fn check_and_record(
        &mut self,
        nonce: &str,
        issued_at: Instant,
        nc: u32,
        now: Instant,
    ) -> NcCheck {
        self.expire(now);
        let key = digest(nonce);
        if self.evicted_until.is_some_and(|w| issued_at <= w) && !self.by_nonce.contains_key(&key) {
            return NcCheck::Forgotten;
        }
        if self.record(key, nc, now) {
            NcCheck::Fresh
        } else {
            NcCheck::Replay
        }
    }

    /// Records `nc` for the nonce whose [`digest`] is `key` (the table was
    /// just expired at `now`).
    fn record(&mut self, key: u64, nc: u32, now: Instant) -> bool {
        if nc == 0 {
            return false;
        }
        if let Some(e) = self.by_nonce.get_mut(&key) {
            if nc <= e.last_nc {
                return false;
            }
            e.last_nc = nc;
            return true;
        }
        while self.by_nonce.len() >= self.capacity {
            let Some(((seen, _), old)) = self.by_age.pop_first() else {
                break;
            };
            self.by_nonce.remove(&old);
            self.evicted_until = Some(self.evicted_until.map_or(seen, |w| w.max(seen)));
        }
        self.seq += 1;
        let age_key = (now, self.seq);
        self.by_age.insert(age_key, key);
        self.by_nonce.insert(
            key,
            Entry {
                last_nc: nc,
                age_key,
            },
        );
        true
    }

    /// Drops entries first seen more than `lifetime` before `now`.
    fn expire(&mut self, now: Instant) {
        while let Some((&(seen, seq), _)) = self.by_age.first_key_value() {
            if now.saturating_duration_since(seen) <= self.lifetime {
                break;
            }
            if let Some(nonce) = self.by_age.remove(&(seen, seq)) {
                let removed = self.by_nonce.remove(&nonce);
                debug_assert!(removed.is_some_and(|e| e.age_key == (seen, seq)));
            }
        }
        if self
            .evicted_until
            .is_some_and(|w| now.saturating_duration_since(w) > self.lifetime)
        {
            // Every nonce issued by then is stale anyway.
            self.evicted_until = None;
        }
    }
}

/// The table's key for a nonce.
fn digest(nonce: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = crate::rng::SeededState::default().build_hasher();
    h.write(nonce.as_bytes());
    h.finish()
}

#[cfg(test)]
#[path = "nonce_tests.rs"]
mod tests;
