//! The engine's one source of randomness: a seeded CSPRNG (ChaCha8).
//!
//! Branches, tags, Call-IDs, nonce secrets and hash keys all come from here, so
//! a fixed seed makes every run byte-for-byte identical (ARCHITECTURE.md §3).
//! The runtime seeds it from OS entropy; tests fix the seed. Child state
//! machines take seeds derived with [`Rng::derive_seed`].

use rand::rngs::ChaCha8Rng;
use rand::{Rng as _, SeedableRng};
use std::hash::{BuildHasher, DefaultHasher, Hasher};

/// Characters used in generated tokens (all are `token` characters, §25.1).
const ALPHABET: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The RFC 3261 magic cookie that starts every branch we generate (§8.1.1.7).
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// A seeded, deterministic CSPRNG with SIP helpers.
#[derive(Debug)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// Creates the generator from a 32-byte seed.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(ChaCha8Rng::from_seed(seed))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        self.0.fill_bytes(buf);
    }

    /// A fresh seed for a child state machine.
    pub fn derive_seed(&mut self) -> [u8; 32] {
        let mut s = [0u8; 32];
        self.fill(&mut s);
        s
    }

    /// `n` random alphanumeric characters, appended to `out`.
    pub fn push_token(&mut self, out: &mut String, n: usize) {
        for _ in 0..n {
            // 62 does not divide 2^64 evenly; the bias (< 2^-58) is irrelevant for identifiers.
            let i = (self.next_u64() % ALPHABET.len() as u64) as usize;
            out.push(ALPHABET[i] as char);
        }
    }

    /// A new RFC 3261 branch: the magic cookie and 16 random characters (~95 bits).
    pub fn branch(&mut self) -> String {
        let mut s = String::with_capacity(BRANCH_COOKIE.len() + 16);
        s.push_str(BRANCH_COOKIE);
        self.push_token(&mut s, 16);
        s
    }

    /// A new From/To tag (§19.3: at least 32 bits of randomness; we use ~59).
    pub fn tag(&mut self) -> String {
        let mut s = String::with_capacity(10);
        self.push_token(&mut s, 10);
        s
    }

    /// A new Call-ID local part (~119 bits).
    pub fn call_id(&mut self) -> String {
        let mut s = String::with_capacity(20);
        self.push_token(&mut s, 20);
        s
    }

    /// A keyed hasher state for maps whose keys come from the network, so
    /// their layout is reproducible under one seed and unpredictable to attackers.
    pub fn hasher(&mut self) -> SeededState {
        SeededState {
            k0: self.next_u64(),
            k1: self.next_u64(),
        }
    }
}

/// A [`BuildHasher`] keyed from the engine's RNG (SipHash with the key written first).
#[derive(Debug, Clone, Copy, Default)]
pub struct SeededState {
    k0: u64,
    k1: u64,
}

impl BuildHasher for SeededState {
    type Hasher = DefaultHasher;
    fn build_hasher(&self) -> DefaultHasher {
        let mut h = DefaultHasher::new();
        h.write_u64(self.k0);
        h.write_u64(self.k1);
        h
    }
}

/// A hash map with a seeded hasher: deterministic under one seed, never `RandomState`.
#[allow(clippy::disallowed_types)] // the one sanctioned use: the hasher is seeded, not RandomState
pub type HashMap<K, V> = std::collections::HashMap<K, V, SeededState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::from_seed([7; 32]);
        let mut b = Rng::from_seed([7; 32]);
        assert_eq!(a.branch(), b.branch());
        assert_eq!(a.tag(), b.tag());
        let mut c = Rng::from_seed([8; 32]);
        assert_ne!(a.call_id(), c.call_id());
    }

    #[test]
    fn branch_has_cookie_and_token_chars() {
        let b = Rng::from_seed([1; 32]).branch();
        assert!(b.starts_with(BRANCH_COOKIE));
        assert_eq!(b.len(), 23);
        assert!(b.bytes().all(|c| c.is_ascii_alphanumeric()));
    }
}
