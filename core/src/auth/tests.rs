//! End-to-end tests of the [`Authenticator`]: challenge → client answer → verify.

use super::*;

const REALM: &str = "example.com";
const LIFE: Duration = Duration::from_secs(300);
const URI: &str = "sip:example.com";

/// An opaque origin instant; everything else is derived from it.
fn t0() -> Instant {
    crate::test_epoch()
}

fn users(name: &str) -> Option<Ha1Set> {
    (name == "alice").then(|| Ha1Set::from_password("alice", REALM, "s3cret"))
}

struct Fixture {
    auth: Authenticator,
    base: Instant,
    rng: Rng,
}

impl Fixture {
    fn new() -> Self {
        let base = t0();
        Self {
            auth: Authenticator::new(REALM, [9; 32], base, LIFE),
            base,
            rng: Rng::from_seed([3; 32]),
        }
    }

    /// A fresh challenge for `alg`, parsed as a client would.
    fn challenge(&mut self, at: Instant, alg: Algorithm) -> Challenge {
        let values = self.auth.challenge(at, &mut self.rng, false);
        let v = if alg == Algorithm::Sha256 {
            &values[0]
        } else {
            &values[1]
        };
        Challenge::parse(v).expect("our challenge parses")
    }

    fn verify(&mut self, at: Instant, value: &str) -> Verdict {
        self.auth.verify(at, "REGISTER", URI, value, users)
    }
}

fn answer(ch: &Challenge, user: &str, pw: &str, nc: u32) -> String {
    respond(
        ch,
        "REGISTER",
        URI,
        user,
        Secret::Password(pw),
        "0a4f113b",
        nc,
    )
    .to_string()
}

fn ok() -> Verdict {
    Verdict::Ok {
        username: "alice".into(),
    }
}

fn rejected(reason: RejectReason) -> Verdict {
    Verdict::Reject { reason }
}

fn malformed(reason: AuthError) -> Verdict {
    Verdict::Malformed { reason }
}

#[test]
fn challenge_values_follow_rfc8760_order() {
    let mut f = Fixture::new();
    let [sha, md5] = f
        .auth
        .challenge(f.base, &mut f.rng, false)
        .into_inner()
        .expect("two offered");
    let (a, b) = (
        Challenge::parse(&sha).expect("ok"),
        Challenge::parse(&md5).expect("ok"),
    );
    assert_eq!(a.algorithm, Algorithm::Sha256);
    assert_eq!(b.algorithm, Algorithm::Md5);
    assert_eq!((&a.nonce, &a.opaque), (&b.nonce, &b.opaque));
    assert!(a.opaque.is_some());
    assert_eq!(a.qop.as_slice(), &[Qop::Auth]);
    assert_eq!(a.realm, REALM);
    assert!(!a.stale && !sha.contains("stale"));
    assert!(
        sha.starts_with("Digest realm=\"example.com\", nonce=\""),
        "{sha}"
    );
    assert!(sha.ends_with("algorithm=SHA-256, qop=\"auth\""), "{sha}");
    let [stale, _] = f
        .auth
        .challenge(f.base, &mut f.rng, true)
        .into_inner()
        .expect("two offered");
    assert!(Challenge::parse(&stale).expect("ok").stale);
}

#[test]
fn round_trip_ok_with_both_algorithms() {
    for alg in [Algorithm::Sha256, Algorithm::Md5] {
        let mut f = Fixture::new();
        let ch = f.challenge(f.base, alg);
        let later = f.base + Duration::from_secs(2);
        assert_eq!(
            f.verify(later, &answer(&ch, "alice", "s3cret", 1)),
            ok(),
            "{alg}"
        );
        // The same nonce with a higher count is fine.
        assert_eq!(
            f.verify(later, &answer(&ch, "alice", "s3cret", 2)),
            ok(),
            "{alg}"
        );
    }
}

#[test]
fn client_picks_sha256_from_our_challenge() {
    let mut f = Fixture::new();
    let values = f.auth.challenge(f.base, &mut f.rng, false);
    let ch = pick_challenge(values.iter().map(String::as_str)).expect("supported");
    assert_eq!(ch.algorithm, Algorithm::Sha256);
    let set = Ha1Set::from_password("alice", REALM, "s3cret");
    let c = respond(&ch, "REGISTER", URI, "alice", Secret::Ha1(&set), "xyz", 1);
    assert_eq!(f.verify(f.base, &c.to_string()), ok());
}

#[test]
fn md5_only_offer_for_clients_that_read_the_first_challenge() {
    let mut f = Fixture::new();
    f.auth = f.auth.offer(&[Algorithm::Md5, Algorithm::Md5]);
    let values = f.auth.challenge(f.base, &mut f.rng, false);
    assert_eq!(values.len(), 1, "{values:?}");
    let md5 = Challenge::parse(&values[0]).expect("parses");
    assert_eq!(md5.algorithm, Algorithm::Md5);
    assert_eq!(f.verify(f.base, &answer(&md5, "alice", "s3cret", 1)), ok());
    // An answer in an algorithm we no longer offer is refused (no downgrade
    // or upgrade behind the operator's back), even with the right password.
    let mut sha = md5.clone();
    sha.algorithm = Algorithm::Sha256;
    assert_eq!(
        f.verify(f.base, &answer(&sha, "alice", "s3cret", 2)),
        rejected(RejectReason::AlgorithmNotOffered)
    );
    // Reordering keeps both; an empty list keeps the current offer.
    f.auth = f
        .auth
        .offer(&[Algorithm::Md5, Algorithm::Sha256])
        .offer(&[]);
    let values = f.auth.challenge(f.base, &mut f.rng, false);
    let algs: Vec<_> = values
        .iter()
        .map(|v| Challenge::parse(v).expect("parses").algorithm)
        .collect();
    assert_eq!(algs, [Algorithm::Md5, Algorithm::Sha256]);
}

#[test]
fn wrong_password_and_unknown_user_are_rejected_alike() {
    let mut f = Fixture::new();
    let ch = f.challenge(f.base, Algorithm::Sha256);
    let wrong = f.verify(f.base, &answer(&ch, "alice", "guess", 1));
    assert_eq!(wrong, rejected(RejectReason::WrongPassword));
    let unknown = f.verify(f.base, &answer(&ch, "mallory", "s3cret", 1));
    assert_eq!(unknown, rejected(RejectReason::UnknownUser));
    // A failed attempt does not burn the nonce-count.
    assert_eq!(f.verify(f.base, &answer(&ch, "alice", "s3cret", 1)), ok());
}

#[test]
fn unknown_user_still_hashes_and_never_matches_dummy() {
    // Even the dummy's own HA1 cannot authenticate a user that does not exist.
    let mut f = Fixture::new();
    let ch = f.challenge(f.base, Algorithm::Md5);
    let dummy = f.auth.dummy.clone();
    let c = respond(&ch, "REGISTER", URI, "ghost", Secret::Ha1(&dummy), "c", 1);
    let v = f
        .auth
        .verify(f.base, "REGISTER", URI, &c.to_string(), |_| None::<Ha1Set>);
    assert_eq!(v, rejected(RejectReason::UnknownUser));
}

#[test]
fn stale_nonce_with_right_password_is_stale() {
    let mut f = Fixture::new();
    let ch = f.challenge(f.base, Algorithm::Sha256);
    let late = f.base + LIFE + Duration::from_secs(1);
    assert_eq!(
        f.verify(late, &answer(&ch, "alice", "s3cret", 1)),
        Verdict::Stale
    );
    // With a wrong password a stale nonce is just a rejection (RFC 7616 §3.3).
    assert_eq!(
        f.verify(late, &answer(&ch, "alice", "nope", 2)),
        rejected(RejectReason::WrongPassword)
    );
}

#[test]
fn forged_nonce_is_rejected() {
    let mut f = Fixture::new();
    let mut ch = f.challenge(f.base, Algorithm::Sha256);
    // A well-formed nonce from someone else's secret.
    ch.nonce = NonceMinter::new([1; 32], f.base, LIFE).mint(f.base, &mut f.rng);
    assert_eq!(
        f.verify(f.base, &answer(&ch, "alice", "s3cret", 1)),
        rejected(RejectReason::BadNonce)
    );
    ch.nonce = "deadbeef".into();
    assert_eq!(
        f.verify(f.base, &answer(&ch, "alice", "s3cret", 1)),
        rejected(RejectReason::BadNonce)
    );
}

#[test]
fn replayed_nc_is_rejected() {
    let mut f = Fixture::new();
    let ch = f.challenge(f.base, Algorithm::Md5);
    let first = answer(&ch, "alice", "s3cret", 1);
    assert_eq!(f.verify(f.base, &first), ok());
    assert_eq!(f.verify(f.base, &first), rejected(RejectReason::Replay));
    assert_eq!(f.verify(f.base, &answer(&ch, "alice", "s3cret", 5)), ok());
    assert_eq!(
        f.verify(f.base, &answer(&ch, "alice", "s3cret", 3)),
        rejected(RejectReason::Replay)
    );
}

#[test]
fn evicted_nonce_becomes_stale_not_replayable() {
    let mut f = Fixture::new();
    f.auth = f.auth.clone().with_nc_capacity(1);
    let ch1 = f.challenge(f.base, Algorithm::Md5);
    let first = answer(&ch1, "alice", "s3cret", 1);
    assert_eq!(f.verify(f.base, &first), ok());
    let t = f.base + Duration::from_secs(2);
    let ch2 = f.challenge(t, Algorithm::Md5);
    assert_eq!(f.verify(t, &answer(&ch2, "alice", "s3cret", 1)), ok());
    // ch1's count was evicted: replaying `first` must not succeed.
    assert_eq!(f.verify(t, &first), Verdict::Stale);
}

#[test]
fn malformed_credentials_get_400() {
    let mut f = Fixture::new();
    let ch = f.challenge(f.base, Algorithm::Sha256);
    let good = respond(
        &ch,
        "REGISTER",
        URI,
        "alice",
        Secret::Password("s3cret"),
        "c",
        1,
    );

    let mut c = good.clone();
    c.cnonce = None;
    let v = f.verify(f.base, &c.to_string());
    assert_eq!(v, malformed(AuthError::QopWithout("cnonce")));

    let mut c = good.clone();
    c.uri = "sip:other.example.com".into();
    assert_eq!(
        f.verify(f.base, &c.to_string()),
        malformed(AuthError::UriMismatch)
    );

    let mut c = good.clone();
    c.response.truncate(32);
    assert_eq!(
        f.verify(f.base, &c.to_string()),
        malformed(AuthError::BadResponse)
    );

    let mut c = good.clone();
    c.userhash = true;
    assert_eq!(
        f.verify(f.base, &c.to_string()),
        malformed(AuthError::UserhashNotOffered)
    );

    let mut c = good.clone();
    c.qop = Some(Qop::AuthInt);
    assert_eq!(
        f.verify(f.base, &c.to_string()),
        malformed(AuthError::QopNotOffered("auth-int"))
    );

    assert_eq!(
        f.verify(f.base, "Digest username="),
        malformed(AuthError::Syntax)
    );
    // After all that, the good answer still works (nothing was recorded).
    assert_eq!(f.verify(f.base, &good.to_string()), ok());
}

#[test]
fn uri_compared_after_trimming() {
    let mut f = Fixture::new();
    let ch = f.challenge(f.base, Algorithm::Sha256);
    let c = answer(&ch, "alice", "s3cret", 1);
    assert_eq!(
        f.auth
            .verify(f.base, "REGISTER", " sip:example.com ", &c, users),
        ok()
    );
}

#[test]
fn realm_opaque_and_scheme_mismatches_are_rejected() {
    let mut f = Fixture::new();
    let ch = f.challenge(f.base, Algorithm::Sha256);
    let good = respond(
        &ch,
        "REGISTER",
        URI,
        "alice",
        Secret::Password("s3cret"),
        "c",
        1,
    );

    let mut c = good.clone();
    c.realm = "other.org".into();
    assert_eq!(
        f.verify(f.base, &c.to_string()),
        rejected(RejectReason::RealmMismatch)
    );

    let mut c = good.clone();
    c.opaque = Some("ffffffffffffffff".into());
    assert_eq!(
        f.verify(f.base, &c.to_string()),
        rejected(RejectReason::OpaqueMismatch)
    );

    // A client that omits opaque is tolerated.
    let mut c = good.clone();
    c.opaque = None;
    assert_eq!(f.verify(f.base, &c.to_string()), ok());

    assert_eq!(
        f.verify(f.base, "Basic YWxpY2U6czNjcmV0"),
        rejected(RejectReason::NotDigest)
    );
}

#[test]
fn method_is_part_of_the_digest() {
    let mut f = Fixture::new();
    let ch = f.challenge(f.base, Algorithm::Sha256);
    let c = answer(&ch, "alice", "s3cret", 1);
    assert_eq!(
        f.auth.verify(f.base, "INVITE", URI, &c, users),
        rejected(RejectReason::WrongPassword)
    );
}

#[test]
fn rfc2069_answers_only_when_allowed() {
    let mut f = Fixture::new();
    let mut ch = f.challenge(f.base, Algorithm::Md5);
    ch.qop.clear();
    let c = answer(&ch, "alice", "s3cret", 1);
    assert_eq!(f.verify(f.base, &c), malformed(AuthError::MissingQop));
    f.auth = f.auth.clone().allow_rfc2069(true);
    assert_eq!(f.verify(f.base, &c), ok());
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn verify_never_panics_nor_accepts_garbage(
            value in "\\PC*", method in "[A-Z]{0,8}", uri in "\\PC{0,20}"
        ) {
            let mut f = Fixture::new();
            let v = f.auth.verify(f.base, &method, &uri, &value, users);
            prop_assert!(!matches!(v, Verdict::Ok { .. }), "accepted garbage");
        }

        #[test]
        fn tampered_answers_never_authenticate(pos in 0usize..400, byte in 0x20u8..0x7f) {
            let mut f = Fixture::new();
            let ch = f.challenge(f.base, Algorithm::Sha256);
            let good = answer(&ch, "alice", "s3cret", 1);
            let mut bytes = good.clone().into_bytes();
            let i = pos % bytes.len();
            prop_assume!(bytes[i] != byte);
            bytes[i] = byte;
            let tampered = String::from_utf8(bytes).expect("ascii in, ascii out");
            // Case-insensitive names, hex case and quoting choices may leave the
            // value equivalent, and garbling the name `opaque` just drops it (which
            // is tolerated); any other change must not pass.
            let good_c = Credentials::parse(&good).ok();
            let same = Credentials::parse(&tampered).ok().is_some_and(|mut t| {
                t.opaque = t.opaque.or_else(|| good_c.as_ref().and_then(|g| g.opaque.clone()));
                Some(t) == good_c
            });
            let v = f.verify(f.base, &tampered);
            prop_assert!(same || !matches!(v, Verdict::Ok { .. }), "{tampered}");
        }
    }
}

#[test]
fn upper_case_response_and_borrowed_ha1_verify() {
    // The request-digest is compared case-insensitively (the parser lowercases
    // it), and a directory can lend its HA1s without copying them.
    let mut f = Fixture::new();
    let ch = f.challenge(f.base, Algorithm::Sha256);
    let mut c = Credentials::parse(&answer(&ch, "alice", "s3cret", 1)).expect("parses");
    c.response = c.response.to_ascii_uppercase();
    let stored = Ha1Set::from_password("alice", REALM, "s3cret");
    let v = f.auth.verify(f.base, "REGISTER", URI, &c.to_string(), |u| {
        (u == "alice").then_some(Ha1Ref {
            md5: &stored.md5,
            sha256: &stored.sha256,
        })
    });
    assert_eq!(v, ok());
    // The same answer again is a replay, whichever case it is written in.
    c.response = c.response.to_ascii_lowercase();
    assert_eq!(
        f.verify(f.base, &c.to_string()),
        rejected(RejectReason::Replay)
    );
    // A quoted value with an escape is unescaped before it is compared.
    let ch = f.challenge(f.base, Algorithm::Md5);
    let c = answer(&ch, "alice", "s3cret", 1).replace("username=\"alice\"", "username=\"al\\ice\"");
    assert_eq!(f.verify(f.base, &c), ok());
}
