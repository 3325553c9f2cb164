//! Tests of `Digest` header-value parsing and printing (RFC 7616 §3.9.1, RFC 2617 §3.5).

use super::*;
use smallvec::smallvec;

/// The RFC 7616 §3.9.1 SHA-256 Authorization value (its `uri` and `nc` as in the RFC).
const RFC7616_AUTH: &str = "Digest username=\"Mufasa\",\r\n realm=\"http-auth@example.org\",\r\n \
     uri=\"/dir/index.html\",\r\n algorithm=SHA-256,\r\n nc=00000001,\r\n \
     cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n qop=auth,\r\n \
     response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\",\r\n \
     opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\",\r\n \
     nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\"";

#[test]
fn parses_rfc7616_credentials_with_folding() {
    let c = Credentials::parse(RFC7616_AUTH).expect("valid");
    assert_eq!(c.username, "Mufasa");
    assert_eq!(c.realm, "http-auth@example.org");
    assert_eq!(c.uri, "/dir/index.html");
    assert_eq!(c.algorithm, Algorithm::Sha256);
    assert_eq!(c.nc, Some(1));
    assert_eq!(c.qop, Some(Qop::Auth));
    assert_eq!(
        c.cnonce.as_deref(),
        Some("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    );
    assert_eq!(
        c.opaque.as_deref(),
        Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
    );
    assert_eq!(c.nonce, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v");
    assert!(!c.userhash);
}

#[test]
fn parses_rfc2617_example_and_defaults_to_md5() {
    let v = "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
             qop=auth, nc=00000001, cnonce=\"0a4f113b\", \
             response=\"6629fae49393a05397450978507c4ef1\", \
             opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
    let c = Credentials::parse(v).expect("valid");
    assert_eq!(c.algorithm, Algorithm::Md5);
    assert_eq!(c.response, "6629fae49393a05397450978507c4ef1");
}

#[test]
fn scheme_and_names_are_case_insensitive_and_quoting_is_lenient() {
    let v = "dIgEsT USERNAME=alice,Realm=\"r\" , NONCE = n1 ,uri=\"sip:r\",\
             Response=\"0123456789ABCDEF0123456789abcdef\",ALGORITHM=\"md5\",\
             QOP=\"auth\",NC=\"0000000A\",cnonce=c";
    let c = Credentials::parse(v).expect("valid");
    assert_eq!(c.username, "alice");
    assert_eq!(c.nonce, "n1");
    assert_eq!(c.nc, Some(10));
    assert_eq!(c.response, "0123456789abcdef0123456789abcdef");
}

#[test]
fn quoted_string_escapes_and_folds() {
    let v = "Digest username=\"a\\\"b\\\\c\", realm=\"x\r\n y\", nonce=\"n\", uri=\"u\", \
             response=\"00000000000000000000000000000000\"";
    let c = Credentials::parse(v).expect("valid");
    assert_eq!(c.username, "a\"b\\c");
    assert_eq!(c.realm, "x y");
}

#[test]
fn rejects_bad_inputs_with_precise_errors() {
    let base = "username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:r\"";
    let md5 = "response=\"00000000000000000000000000000000\"";
    let cases: &[(String, AuthError)] = &[
        (String::new(), AuthError::NotDigest),
        (
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==".into(),
            AuthError::NotDigest,
        ),
        ("Digestive username=\"u\"".into(), AuthError::NotDigest),
        ("Digest".into(), AuthError::MissingParam("response")),
        (
            format!("Digest {base}"),
            AuthError::MissingParam("response"),
        ),
        (
            format!("Digest realm=\"r\", nonce=\"n\", uri=\"u\", {md5}"),
            AuthError::MissingParam("username"),
        ),
        (
            format!("Digest {base}, response=\"abc\""),
            AuthError::BadResponse,
        ),
        (
            format!("Digest {base}, {md5}, algorithm=SHA-256"),
            AuthError::BadResponse,
        ),
        (
            format!("Digest {base}, response=\"0000000000000000000000000000000g\""),
            AuthError::BadResponse,
        ),
        (
            format!("Digest {base}, {md5}, algorithm=MD5-sess"),
            AuthError::UnsupportedAlgorithm("MD5-sess"),
        ),
        (
            format!("Digest {base}, {md5}, algorithm=SHA-512-256"),
            AuthError::UnsupportedAlgorithm("SHA-512-256"),
        ),
        (
            format!("Digest {base}, {md5}, algorithm=RC4"),
            AuthError::BadAlgorithm,
        ),
        (
            format!("Digest {base}, {md5}, qop=auth, nc=00000001"),
            AuthError::QopWithout("cnonce"),
        ),
        (
            format!("Digest {base}, {md5}, qop=auth, cnonce=\"c\""),
            AuthError::QopWithout("nc"),
        ),
        (
            format!("Digest {base}, {md5}, cnonce=\"c\""),
            AuthError::WithoutQop("cnonce"),
        ),
        (
            format!("Digest {base}, {md5}, qop=auth, cnonce=c, nc=0001"),
            AuthError::BadNc,
        ),
        (
            format!("Digest {base}, {md5}, qop=auth, cnonce=c, nc=00000000"),
            AuthError::BadNc,
        ),
        (
            format!("Digest {base}, {md5}, qop=auth, cnonce=c, nc=0000000x"),
            AuthError::BadNc,
        ),
        (
            format!("Digest {base}, {md5}, qop=auth, cnonce=c, nc=+0000001"),
            AuthError::BadNc,
        ),
        (
            format!("Digest {base}, {md5}, qop=bogus"),
            AuthError::BadQop,
        ),
        (
            format!("Digest {base}, {md5}, userhash=maybe"),
            AuthError::BadFlag("userhash"),
        ),
        (
            format!("Digest {base}, {md5}, Realm=\"x\""),
            AuthError::DuplicateParam("realm".into()),
        ),
        (
            format!("Digest {base}, {md5}, foo=1, FOO=2"),
            AuthError::DuplicateParam("foo".into()),
        ),
        (format!("Digest {base} {md5}"), AuthError::Syntax),
        (format!("Digest {base}, {md5}, x"), AuthError::Syntax),
        (format!("Digest {base}, {md5}, x="), AuthError::Syntax),
        (format!("Digest {base}, {md5}, =x"), AuthError::Syntax),
        (format!("Digest {base}, {md5}\r\nVia: x"), AuthError::Syntax),
        (
            format!("Digest {base}, {md5}, x=\"open"),
            AuthError::BadQuotedString,
        ),
        (
            format!("Digest {base}, {md5}, x=\"a\r\nb\""),
            AuthError::BadQuotedString,
        ),
        (
            format!("Digest {base}, {md5}, x=\"a\\\r\n b\""),
            AuthError::BadQuotedString,
        ),
        (
            format!("Digest {base}, {md5}, x=\"a\u{0}b\""),
            AuthError::BadQuotedString,
        ),
        (
            format!("Digest {base}, {md5}, x=\"a\\é\""),
            AuthError::BadQuotedString,
        ),
    ];
    for (input, want) in cases {
        assert_eq!(
            Credentials::parse(input).as_ref(),
            Err(want),
            "input: {input:?}"
        );
    }
}

#[test]
fn unknown_params_and_empty_elements_are_tolerated() {
    let v = "Digest , username=\"u\",, realm=\"r\", nonce=\"n\", uri=\"sip:r\", \
             response=\"00000000000000000000000000000000\", x-ext=\"é\", foo=bar/baz=,";
    assert!(Credentials::parse(v).is_ok());
}

#[test]
fn too_many_params_is_bounded() {
    let mut v = String::from("Digest ");
    for i in 0..=MAX_PARAMS {
        v.push_str(&format!("p{i}=1, "));
    }
    assert_eq!(Credentials::parse(&v), Err(AuthError::TooManyParams));
}

#[test]
fn non_ascii_values_survive() {
    let v = "Digest username=\"jürgen\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", \
             response=\"00000000000000000000000000000000\"";
    assert_eq!(Credentials::parse(v).expect("valid").username, "jürgen");
    // A non-ASCII byte right after a bare value ends it; the next item must be a comma.
    let v = "Digest username=u\u{e9}, realm=\"r\"";
    assert_eq!(Credentials::parse(v), Err(AuthError::Syntax));
}

#[test]
fn credentials_display_round_trips() {
    let c = Credentials {
        username: "a\"l\\ice".into(),
        realm: "example.com".into(),
        nonce: "abc".into(),
        uri: "sip:example.com".into(),
        response: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
        algorithm: Algorithm::Sha256,
        cnonce: Some("cn".into()),
        opaque: Some("op".into()),
        qop: Some(Qop::Auth),
        nc: Some(0x2a),
        userhash: true,
    };
    let s = c.to_string();
    assert!(
        s.starts_with("Digest username=\"a\\\"l\\\\ice\", realm=\"example.com\""),
        "{s}"
    );
    assert!(s.contains("algorithm=SHA-256"), "{s}");
    assert!(s.contains("qop=auth, nc=0000002a"), "{s}");
    assert_eq!(Credentials::parse(&s), Ok(c));
}

#[test]
fn display_drops_line_breaks() {
    let c = Challenge {
        realm: "evil\r\nVia: x".into(),
        nonce: "n".into(),
        algorithm: Algorithm::Md5,
        qop: SmallVec::new(),
        opaque: None,
        stale: false,
        userhash: false,
    };
    let s = c.to_string();
    assert!(!s.contains('\r') && !s.contains('\n'));
    assert_eq!(Challenge::parse(&s).expect("valid").realm, "evilVia: x");
}

#[test]
fn challenge_display_format_and_round_trip() {
    let c = Challenge {
        realm: "example.com".into(),
        nonce: "n0nce".into(),
        algorithm: Algorithm::Sha256,
        qop: smallvec![Qop::Auth],
        opaque: Some("op".into()),
        stale: true,
        userhash: false,
    };
    let s = c.to_string();
    assert_eq!(
        s,
        "Digest realm=\"example.com\", nonce=\"n0nce\", opaque=\"op\", algorithm=SHA-256, qop=\"auth\", stale=true"
    );
    assert_eq!(Challenge::parse(&s), Ok(c));
}

#[test]
fn parses_rfc7616_challenge() {
    let v = "Digest\r\n realm=\"http-auth@example.org\",\r\n qop=\"auth, auth-int\",\r\n \
             algorithm=SHA-256,\r\n nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
    let c = Challenge::parse(v).expect("valid");
    assert_eq!(c.realm, "http-auth@example.org");
    assert_eq!(c.algorithm, Algorithm::Sha256);
    assert_eq!(c.qop.as_slice(), &[Qop::Auth, Qop::AuthInt]);
    assert!(!c.stale);
}

#[test]
fn challenge_errors_and_defaults() {
    assert_eq!(
        Challenge::parse("Digest nonce=\"n\""),
        Err(AuthError::MissingParam("realm"))
    );
    assert_eq!(
        Challenge::parse("Digest realm=\"r\""),
        Err(AuthError::MissingParam("nonce"))
    );
    assert_eq!(
        Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256"),
        Err(AuthError::UnsupportedAlgorithm("SHA-512-256"))
    );
    assert_eq!(
        Challenge::parse("Digest realm=\"r\", nonce=\"n\", qop=\"x-new\""),
        Err(AuthError::BadQop)
    );
    assert_eq!(
        Challenge::parse("Digest realm=\"r\", nonce=\"n\", stale=yes"),
        Err(AuthError::BadFlag("stale"))
    );
    let c = Challenge::parse(
        "Digest realm=\"r\", nonce=\"n\", stale=TRUE, domain=\"sip:r\", qop=\"x-new,auth,auth\"",
    )
    .expect("valid");
    assert_eq!(c.algorithm, Algorithm::Md5);
    assert!(c.stale);
    assert_eq!(c.qop.as_slice(), &[Qop::Auth]);
    assert_eq!(c.opaque, None);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parsers_never_panic(s in "\\PC*") {
            let _ = Credentials::parse(&s);
            let _ = Challenge::parse(&s);
        }

        #[test]
        fn parsers_never_panic_on_digest_like_input(
            s in "(Digest|digest) ([a-z]{1,8}=(\"([^\"\\\\]|\\\\.|\r\n )*\"?|[a-z0-9/=]*)[, \r\n\t]{0,3}){0,10}"
        ) {
            let _ = Credentials::parse(&s);
            let _ = Challenge::parse(&s);
        }

        #[test]
        fn credentials_round_trip(
            username in "\\PC{0,20}", realm in "\\PC{0,20}", nonce in "[ -~]{0,40}",
            uri in "[ -~]{1,40}", sha in any::<bool>(), qop in any::<bool>(),
            nc in 1u32.., cnonce in "\\PC{0,10}", opaque in proptest::option::of("\\PC{0,10}"),
        ) {
            let algorithm = if sha { Algorithm::Sha256 } else { Algorithm::Md5 };
            let c = Credentials {
                username, realm, nonce, uri,
                response: "a".repeat(algorithm.hex_len()),
                algorithm,
                cnonce: qop.then_some(cnonce),
                opaque,
                qop: qop.then_some(Qop::Auth),
                nc: qop.then_some(nc),
                userhash: false,
            };
            prop_assert_eq!(Credentials::parse(&c.to_string()), Ok(c));
        }
    }
}
