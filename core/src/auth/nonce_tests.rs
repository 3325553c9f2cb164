//! Tests of stateless nonces and nonce-count replay protection.

use super::*;

const LIFE: Duration = Duration::from_secs(300);

fn setup() -> (NonceMinter, Instant, Rng) {
    let base = t0();
    (
        NonceMinter::new([42; 32], base, LIFE),
        base,
        Rng::from_seed([1; 32]),
    )
}

/// An opaque origin instant. Only tests read the clock, once, and nothing
/// depends on its value: every other instant is derived from it.
pub(super) fn t0() -> Instant {
    crate::test_epoch()
}

#[test]
fn minted_nonce_is_valid_hex_of_fixed_length() {
    let (m, base, mut rng) = setup();
    let now = base + Duration::from_secs(7);
    let n = m.mint(now, &mut rng);
    assert_eq!(n.len(), NONCE_LEN);
    assert!(
        n.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    );
    assert_eq!(m.check(&n, now), NonceCheck::Valid { issued: 7 });
    assert_eq!(m.check(&n.to_ascii_uppercase(), now), NonceCheck::Invalid);
    assert_eq!(m.issued_at(7), base + Duration::from_secs(7));
    // Two mints differ (random part).
    assert_ne!(n, m.mint(now, &mut rng));
}

#[test]
fn stale_after_lifetime() {
    let (m, base, mut rng) = setup();
    let n = m.mint(base, &mut rng);
    assert_eq!(m.check(&n, base + LIFE), NonceCheck::Valid { issued: 0 });
    assert_eq!(
        m.check(&n, base + LIFE + Duration::from_millis(1)),
        NonceCheck::Stale
    );
    assert_eq!(m.check(&n, base + LIFE * 100), NonceCheck::Stale);
}

#[test]
fn forged_garbled_and_foreign_nonces_are_invalid() {
    let (m, base, mut rng) = setup();
    let n = m.mint(base, &mut rng);
    // Flip each hex digit in turn: every single change is detected.
    for i in 0..n.len() {
        let mut b = n.clone().into_bytes();
        b[i] = if b[i] == b'0' { b'1' } else { b'0' };
        let forged = String::from_utf8(b).expect("ascii");
        assert_eq!(m.check(&forged, base), NonceCheck::Invalid, "digit {i}");
    }
    assert_eq!(m.check(&n[..NONCE_LEN - 2], base), NonceCheck::Invalid);
    assert_eq!(m.check(&format!("{n}00"), base), NonceCheck::Invalid);
    assert_eq!(m.check("", base), NonceCheck::Invalid);
    assert_eq!(m.check(&"zz".repeat(RAW_LEN), base), NonceCheck::Invalid);
    assert_eq!(m.check(&"é".repeat(RAW_LEN), base), NonceCheck::Invalid);
    // Another secret's nonce is not ours.
    let other = NonceMinter::new([43; 32], base, LIFE);
    assert_eq!(
        m.check(&other.mint(base, &mut rng), base),
        NonceCheck::Invalid
    );
}

#[test]
fn nonce_from_the_future_is_invalid() {
    let (m, base, mut rng) = setup();
    let later = base + Duration::from_secs(100);
    let n = m.mint(later, &mut rng);
    assert_eq!(
        m.check(&n, base + Duration::from_secs(99)),
        NonceCheck::Invalid
    );
    assert_eq!(m.check(&n, later), NonceCheck::Valid { issued: 100 });
}

#[test]
fn nc_must_increase() {
    let (_, base, _) = setup();
    let mut c = NonceCounts::new(10, LIFE);
    assert!(!c.accept("a", 0, base));
    assert!(c.accept("a", 1, base));
    assert!(!c.accept("a", 1, base), "replay of nc=1");
    assert!(c.accept("a", 3, base), "gaps are fine");
    assert!(!c.accept("a", 2, base), "going back is a replay");
    assert!(c.accept("b", 1, base), "counts are per nonce");
    assert_eq!(c.len(), 2);
}

#[test]
fn entries_expire_after_lifetime() {
    let (_, base, _) = setup();
    let mut c = NonceCounts::new(10, LIFE);
    assert!(c.accept("a", 5, base));
    assert!(!c.accept("a", 5, base + LIFE));
    assert_eq!(c.len(), 1);
    // Once expired the entry is gone (the nonce itself is stale by then).
    assert!(c.accept("b", 1, base + LIFE + Duration::from_secs(1)));
    assert_eq!(c.len(), 1);
    assert!(c.accept("a", 1, base + LIFE + Duration::from_secs(1)));
}

#[test]
fn capacity_bounds_memory_and_marks_evicted_as_forgotten() {
    let (_, base, _) = setup();
    let mut c = NonceCounts::new(3, LIFE);
    for (i, n) in ["a", "b", "c", "d"].iter().enumerate() {
        let t = base + Duration::from_secs(i as u64);
        assert_eq!(c.check_and_record(n, t, 1, t), NcCheck::Fresh);
    }
    assert_eq!(c.len(), 3);
    let now = base + Duration::from_secs(10);
    // "a" was evicted: its history is lost, so it must not be replayable.
    assert_eq!(c.check_and_record("a", base, 1, now), NcCheck::Forgotten);
    // A nonce issued after the watermark is genuinely new.
    assert_eq!(
        c.check_and_record("e", base + Duration::from_secs(5), 1, now),
        NcCheck::Fresh
    );
    assert_eq!(
        c.check_and_record("e", base + Duration::from_secs(5), 1, now),
        NcCheck::Replay
    );
    assert!(c.len() <= 3);
    // After a lifetime the watermark no longer matters.
    let later = base + LIFE * 3;
    assert_eq!(
        c.check_and_record("z", base + LIFE * 2, 1, later),
        NcCheck::Fresh
    );
}

#[test]
fn many_nonces_stay_bounded_and_consistent() {
    let (_, base, _) = setup();
    let mut c = NonceCounts::new(100, LIFE);
    for i in 0..1000u64 {
        let t = base + Duration::from_millis(i * 10);
        assert!(c.accept(&format!("n{i}"), 1, t));
        assert!(c.len() <= 100);
        assert_eq!(c.by_nonce.len(), c.by_age.len());
    }
}
