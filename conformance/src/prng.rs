//! The harness's own small deterministic PRNG (SplitMix64).
//!
//! The virtual network (loss, delay, duplication, reordering, stream splits)
//! and the script's fresh identifiers (`${branch:..}`, `${tag:..}`,
//! `${callid:..}`, digest cnonces) draw from generators seeded from the
//! scenario seed. Nothing here touches ambient randomness, so one seed gives
//! one byte-identical run (ARCHITECTURE.md §3, §7). The engine under test has
//! its own RNG (`switchboard_core::rng::Rng`); the harness never shares it.
//!
//! SplitMix64 (Steele, Lea, Flood 2014) is tiny, has a full 2^64 period and
//! passes BigCrush — more than enough for test impairments. It is *not* a
//! cryptographic generator and must never be used for anything secret.

use std::time::Duration;

/// Characters used for generated SIP tokens (all are RFC 3261 §25.1 `token` chars).
const ALPHABET: &[u8; 62] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A SplitMix64 generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator for one purpose (`stream`), so independent users of one
    /// scenario seed (the network, the script) never perturb each other.
    pub fn derive(seed: u64, stream: u64) -> Self {
        let mut g = Self::new(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        // Mix once so that nearby (seed, stream) pairs start far apart.
        let s = g.next_u64();
        Self::new(s)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in `[0, 1)` built from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (p ≤ 0 never draws, so a loss-free network
    /// consumes no randomness and adding `loss=0` changes nothing).
    pub fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        self.next_f64() < p
    }

    /// A uniform integer in `[lo, hi]` (inclusive); `lo` when the range is empty.
    pub fn range_u64(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        let span = hi - lo;
        if span == u64::MAX {
            return self.next_u64();
        }
        // Modulo bias is below 2^-40 for the spans used here (microseconds of delay).
        lo + self.next_u64() % (span + 1)
    }

    /// A uniform duration in `[lo, hi]` with microsecond resolution.
    pub fn range_duration(&mut self, lo: Duration, hi: Duration) -> Duration {
        let lo_us = u64::try_from(lo.as_micros()).unwrap_or(u64::MAX);
        let hi_us = u64::try_from(hi.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(self.range_u64(lo_us, hi_us))
    }

    /// `n` random token characters.
    pub fn token(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n);
        for _ in 0..n {
            let i = (self.next_u64() % ALPHABET.len() as u64) as usize;
            s.push(char::from(ALPHABET[i]));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vector() {
        // SplitMix64 from seed 0: the first outputs of the published reference code.
        let mut g = SplitMix64::new(0);
        assert_eq!(g.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(g.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn same_seed_same_stream_and_streams_differ() {
        let mut a = SplitMix64::derive(42, 1);
        let mut b = SplitMix64::derive(42, 1);
        let mut c = SplitMix64::derive(42, 2);
        let xa: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
    }

    #[test]
    fn chance_extremes_and_ranges() {
        let mut g = SplitMix64::new(7);
        let before = g.clone();
        assert!(!g.chance(0.0));
        assert_eq!(g, before, "p=0 must not consume randomness");
        assert!(g.chance(1.0));
        for _ in 0..1000 {
            let v = g.range_u64(5, 9);
            assert!((5..=9).contains(&v));
            let f = g.next_f64();
            assert!((0.0..1.0).contains(&f));
        }
        assert_eq!(g.range_u64(9, 5), 9);
        let t = g.token(12);
        assert_eq!(t.len(), 12);
        assert!(t.bytes().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn chance_is_roughly_fair() {
        let mut g = SplitMix64::new(99);
        let hits = (0..10_000).filter(|_| g.chance(0.3)).count();
        assert!((2_700..3_300).contains(&hits), "{hits}");
    }
}
