//! The client side of digest authentication (RFC 3261 §22.2–§22.3, RFC 7616
//! §3.4, RFC 8760 §2.4): choosing among a server's challenges and answering
//! one. Used by upstream registration and the test harness.

use super::digest::{Algorithm, Ha1Set, Qop, ha1, response};
use super::params::{Challenge, Credentials};

/// What the client knows about its own secret.
#[derive(Clone, Copy)]
pub enum Secret<'a> {
    /// The clear-text password.
    Password(&'a str),
    /// Precomputed HA1 digests for the challenge's realm.
    Ha1(&'a Ha1Set),
}

impl std::fmt::Debug for Secret<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Password(_) => "Secret::Password(..)",
            Self::Ha1(_) => "Secret::Ha1(..)",
        })
    }
}

/// Picks the challenge to answer from a response's `WWW-Authenticate` (or
/// `Proxy-Authenticate`) values: the first SHA-256 one, else the first MD5
/// one. Values that do not parse or use an unsupported algorithm are skipped
/// (RFC 8760 §2.4: the client uses the first it supports, preferring stronger).
pub fn pick_challenge<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Challenge> {
    let mut md5 = None;
    for v in values {
        match Challenge::parse(v) {
            Ok(c) if c.algorithm == Algorithm::Sha256 => return Some(c),
            Ok(c) if md5.is_none() => md5 = Some(c),
            _ => {}
        }
    }
    md5
}

/// Answers `challenge` for a request `method` to `uri` (the Request-URI).
///
/// Uses `qop=auth` when offered (then `cnonce` and `nc` go into the answer),
/// `auth-int` when it is the only option (computed over an empty body), and the
/// RFC 2069 form when the challenge offers no qop. `nc` counts the requests the
/// client has sent with this nonce, starting at 1.
pub fn respond(
    challenge: &Challenge,
    method: &str,
    uri: &str,
    username: &str,
    secret: Secret<'_>,
    cnonce: &str,
    nc: u32,
) -> Credentials {
    let alg = challenge.algorithm;
    let qop = if challenge.qop.contains(&Qop::Auth) {
        Some(Qop::Auth)
    } else {
        challenge.qop.first().copied()
    };
    let computed;
    let h1 = match secret {
        Secret::Password(p) => {
            computed = ha1(alg, username, &challenge.realm, p);
            computed.as_str()
        }
        Secret::Ha1(set) => set.get(alg),
    };
    let digest = response(alg, h1, &challenge.nonce, nc, cnonce, qop, method, uri);
    Credentials {
        username: username.to_owned(),
        realm: challenge.realm.clone(),
        nonce: challenge.nonce.clone(),
        uri: uri.to_owned(),
        response: digest,
        algorithm: alg,
        cnonce: qop.map(|_| cnonce.to_owned()),
        opaque: challenge.opaque.clone(),
        qop,
        nc: qop.map(|_| nc),
        userhash: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smallvec::smallvec;

    fn rfc7616_challenge(alg: Algorithm) -> Challenge {
        Challenge {
            realm: "http-auth@example.org".into(),
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v".into(),
            algorithm: alg,
            qop: smallvec![Qop::Auth, Qop::AuthInt],
            opaque: Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS".into()),
            stale: false,
            userhash: false,
        }
    }

    #[test]
    fn reproduces_rfc7616_answers() {
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        for (alg, want) in [
            (Algorithm::Md5, "8ca523f5e9506fed4657c9700eebdbec"),
            (
                Algorithm::Sha256,
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let ch = rfc7616_challenge(alg);
            let by_pw = respond(
                &ch,
                "GET",
                "/dir/index.html",
                "Mufasa",
                Secret::Password("Circle of Life"),
                cnonce,
                1,
            );
            assert_eq!(by_pw.response, want);
            assert_eq!(by_pw.qop, Some(Qop::Auth));
            assert_eq!(by_pw.nc, Some(1));
            assert_eq!(by_pw.opaque, ch.opaque);
            let set = Ha1Set::from_password("Mufasa", &ch.realm, "Circle of Life");
            let by_ha1 = respond(
                &ch,
                "GET",
                "/dir/index.html",
                "Mufasa",
                Secret::Ha1(&set),
                cnonce,
                1,
            );
            assert_eq!(by_ha1, by_pw);
        }
    }

    #[test]
    fn no_qop_gives_rfc2069_answer() {
        let mut ch = rfc7616_challenge(Algorithm::Md5);
        ch.qop.clear();
        let c = respond(&ch, "REGISTER", "sip:x", "u", Secret::Password("p"), "c", 1);
        assert_eq!((c.qop, c.nc, c.cnonce.as_deref()), (None, None, None));
        // It prints and parses back.
        assert_eq!(Credentials::parse(&c.to_string()), Ok(c));
    }

    #[test]
    fn picks_sha256_then_md5_skipping_unsupported() {
        let md5 = "Digest realm=\"r\", nonce=\"n1\", algorithm=MD5, qop=\"auth\"";
        let sha = "Digest realm=\"r\", nonce=\"n2\", algorithm=SHA-256, qop=\"auth\"";
        let s512 = "Digest realm=\"r\", nonce=\"n3\", algorithm=SHA-512-256, qop=\"auth\"";
        let got = pick_challenge([s512, md5, "garbage", sha]).expect("one fits");
        assert_eq!(got.nonce, "n2");
        let got = pick_challenge([s512, md5]).expect("one fits");
        assert_eq!(got.nonce, "n1");
        assert_eq!(pick_challenge([s512, "Basic realm=\"r\""]), None);
    }
}
