//! Unit tests of [`Message::parse`] and its accessors (RFC 3261 §7, §8, §18.3, §24).

use super::*;

/// RFC 3261 §24.2 F1, the INVITE from Alice to Bob via atlanta.com.
pub(crate) const INVITE: &str = "INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

fn parse(s: &str) -> Result<Message, ParseError> {
    Message::parse(Bytes::copy_from_slice(s.as_bytes()), &Limits::default())
}

#[test]
fn parses_rfc3261_invite() {
    let m = parse(INVITE).unwrap();
    assert!(m.is_request());
    assert_eq!(m.method(), Some(&Method::Invite));
    assert_eq!(m.request_uri(), Some("sip:bob@biloxi.com"));
    assert_eq!(m.status(), None);
    assert_eq!(m.call_id(), "a84b4c76e66710");
    assert_eq!(m.cseq().seq, 314159);
    assert_eq!(m.from_tag(), Some("1928301774"));
    assert_eq!(m.to_tag(), None);
    assert_eq!(
        m.top_via_value(),
        "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8"
    );
    assert_eq!(m.top_via_branch(), Some("z9hG4bKnashds8"));
    assert_eq!(&m.body()[..], b"v=0\n");
    assert_eq!(m.content_length(), Some(4));
    assert_eq!(m.max_forwards(), Ok(Some(70)));
    assert_eq!(m.headers().len(), 9);
    let h = &m.headers()[3];
    assert_eq!(h.name(), HeaderName::From);
    assert_eq!(m.name_text(h), "From");
    assert_eq!(
        m.value_text(h),
        "Alice <sip:alice@atlanta.com>;tag=1928301774"
    );
    assert_eq!(m.header(HeaderName::ContentType), Some("application/sdp"));
    assert_eq!(m.header_named("content-type"), Some("application/sdp"));
    assert_eq!(m.header_named("c"), Some("application/sdp"));
}

#[test]
fn parses_response_with_several_vias() {
    let m = parse(
        "SIP/2.0 180 Ringing\r\n\
         Via: SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bK4b43c2ff8.1, \r\n SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1\r\n\
         v: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1\r\n\
         To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n\
         From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710\r\n\
         CSeq: 314159 INVITE\r\n\
         Content-Length: 0\r\n\r\n",
    )
    .unwrap();
    assert!(!m.is_request());
    assert_eq!(m.status(), Some(180));
    assert_eq!(m.reason(), Some("Ringing"));
    assert_eq!(m.to_tag(), Some("a6c85cf"));
    assert_eq!(m.top_via_branch(), Some("z9hG4bK4b43c2ff8.1"));
    assert_eq!(
        m.top_via_value(),
        "SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bK4b43c2ff8.1"
    );
    let vias: Vec<_> = m.header_values(HeaderName::Via).collect();
    assert_eq!(vias.len(), 2);
    assert!(
        vias[0].ends_with("z9hG4bK77ef4c2312983.1"),
        "folded value kept whole"
    );
    assert_eq!(m.header_count(HeaderName::Via), 2);
    assert!(m.body().is_empty());
}

#[test]
fn leading_crlfs_and_folding() {
    let m = parse(
        "\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\n\
         Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
         To:\r\n   <sip:a@b>\r\n\
         From: <sip:c@d>\r\n ;tag=5 \r\n\
         Call-ID: x\r\n\
         CSeq: 1\r\n OPTIONS\r\n\r\n",
    )
    .unwrap();
    assert_eq!(m.header(HeaderName::To), Some("<sip:a@b>"));
    assert_eq!(m.header(HeaderName::From), Some("<sip:c@d>\r\n ;tag=5"));
    assert_eq!(m.from_tag(), Some("5"));
    assert_eq!(m.cseq().method, Method::Options);
    assert_eq!(m.content_length(), None);
}

#[test]
fn udp_body_truncated_to_content_length() {
    let s = INVITE.replace("Content-Length: 4", "Content-Length: 2");
    let m = parse(&s).unwrap();
    assert_eq!(&m.body()[..], b"v=");
    let s = INVITE.replace("Content-Length: 4", "Content-Length: 5");
    assert_eq!(parse(&s).unwrap_err(), ParseError::BadContentLength);
    let s = INVITE.replace("Content-Length: 4", "Content-Length: 4x");
    assert_eq!(parse(&s).unwrap_err(), ParseError::BadContentLength);
    let s = INVITE.replace("Content-Length: 4", "Content-Length: 99999999999");
    assert_eq!(parse(&s).unwrap_err(), ParseError::BadContentLength);
    let s = INVITE.replace("Content-Length: 4\r\n", "");
    assert_eq!(&parse(&s).unwrap().body()[..], b"v=0\n");
}

#[test]
fn validation_errors() {
    let cases: &[(&str, &str, ParseError)] = &[
        (
            "Call-ID: a84b4c76e66710\r\n",
            "",
            ParseError::MissingHeader("Call-ID"),
        ),
        (
            "Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n",
            "",
            ParseError::MissingHeader("Via"),
        ),
        (
            "To: Bob <sip:bob@biloxi.com>\r\n",
            "To: a <sip:a@b>\r\nt: b <sip:b@c>\r\n",
            ParseError::DuplicateHeader("To"),
        ),
        (
            "Max-Forwards: 70\r\n",
            "Max-Forwards: 70\r\nMax-Forwards: 69\r\n",
            ParseError::DuplicateHeader("Max-Forwards"),
        ),
        (
            "CSeq: 314159 INVITE",
            "CSeq: 314159 BYE",
            ParseError::CSeqMethodMismatch,
        ),
        (
            "CSeq: 314159 INVITE",
            "CSeq: 2147483648 INVITE",
            ParseError::BadHeader("CSeq"),
        ),
        ("SIP/2.0\r\n", "SIP/3.0\r\n", ParseError::BadVersion),
        (
            "INVITE sip:bob",
            "INVITE  sip:bob",
            ParseError::BadStartLine,
        ),
        (
            "INVITE sip:bob@biloxi.com",
            "INVITE <sip:bob@biloxi.com>",
            ParseError::BadUri,
        ),
        (
            "Call-ID: a84b4c76e66710",
            "Call-ID:",
            ParseError::BadHeader("Call-ID"),
        ),
        (
            "Call-ID: a84b4c76e66710",
            "Call-ID a84b4c76e66710",
            ParseError::BadHeaderLine,
        ),
        (
            "To: Bob <sip:bob@biloxi.com>",
            "To: \"Bob <sip:bob@biloxi.com>",
            ParseError::BadHeader("To"),
        ),
        ("\r\n\r\nv=0\n", "\r\n", ParseError::Incomplete),
    ];
    for (from, to, err) in cases {
        let s = INVITE.replace(from, to);
        assert_ne!(s, INVITE, "{from:?} not in the template");
        assert_eq!(parse(&s).unwrap_err(), *err, "{from:?} -> {to:?}");
    }
    assert_eq!(parse("").unwrap_err(), ParseError::Incomplete);
    assert_eq!(
        parse(" Via: x\r\n\r\n").unwrap_err(),
        ParseError::BadStartLine
    );
}

#[test]
fn status_line_forms() {
    let tail = "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n";
    let ok = |line: &str| parse(&format!("{line}\r\n{tail}"));
    assert_eq!(ok("SIP/2.0 100 ").unwrap().reason(), Some(""));
    assert_eq!(ok("SIP/2.0 100").unwrap().reason(), Some(""));
    assert_eq!(ok("sip/2.0 699 x y").unwrap().reason(), Some("x y"));
    assert_eq!(ok("SIP/2.0 200 да").unwrap().reason(), Some("да"));
    for bad in [
        "SIP/2.0 099 x",
        "SIP/2.0 700 x",
        "SIP/2.0 4294967301 x",
        "SIP/2.0 20 x",
        "SIP/2.0",
    ] {
        assert_eq!(ok(bad).unwrap_err(), ParseError::BadStartLine, "{bad}");
    }
    assert_eq!(ok("SIP/2.1 200 OK").unwrap_err(), ParseError::BadVersion);
}

#[test]
fn limits_are_enforced() {
    let small = Limits {
        max_message_size: 100,
        ..Limits::default()
    };
    let raw = Bytes::from_static(INVITE.as_bytes());
    assert_eq!(
        Message::parse(raw.clone(), &small).unwrap_err(),
        ParseError::TooLarge
    );
    let few = Limits {
        max_headers: 3,
        ..Limits::default()
    };
    assert_eq!(
        Message::parse(raw.clone(), &few).unwrap_err(),
        ParseError::TooManyHeaders
    );
    let short = Limits {
        max_line_len: 40,
        ..Limits::default()
    };
    assert_eq!(
        Message::parse(raw, &short).unwrap_err(),
        ParseError::LineTooLong
    );
}

#[test]
fn bad_utf8_in_headers_is_rejected_but_body_is_free() {
    let mut v = INVITE.as_bytes().to_vec();
    let at = INVITE.find("Alice").unwrap();
    v[at] = 0xff;
    assert_eq!(
        Message::parse(Bytes::from(v), &Limits::default()).unwrap_err(),
        ParseError::BadEncoding
    );
    let mut v = INVITE.as_bytes().to_vec();
    let n = v.len();
    v[n - 2] = 0xff;
    assert_eq!(
        Message::parse(Bytes::from(v), &Limits::default())
            .unwrap()
            .body()[2],
        0xff
    );
}

#[test]
fn max_forwards_values() {
    let with = |v: &str| {
        parse(&INVITE.replace("Max-Forwards: 70", &format!("Max-Forwards: {v}")))
            .unwrap()
            .max_forwards()
    };
    assert_eq!(with("0"), Ok(Some(0)));
    assert_eq!(with("0068"), Ok(Some(68)));
    assert_eq!(with("255"), Ok(Some(255)));
    assert_eq!(with("300"), Err(ParseError::BadHeader("Max-Forwards")));
    assert_eq!(with("7a"), Err(ParseError::BadHeader("Max-Forwards")));
    assert_eq!(with("00000000000000000000255"), Ok(Some(255)));
    for bad in ["256", "99999999999999999999999", "1 2", "+1", "-0"] {
        assert_eq!(
            with(bad),
            Err(ParseError::BadHeader("Max-Forwards")),
            "{bad}"
        );
    }
    assert_eq!(
        parse(&INVITE.replace("Max-Forwards: 70\r\n", ""))
            .unwrap()
            .max_forwards(),
        Ok(None)
    );
}

#[test]
fn request_uri_headers_and_odd_userinfo() {
    let with =
        |uri: &str| parse(&INVITE.replace("INVITE sip:bob@biloxi.com", &format!("INVITE {uri}")));
    // RFC 4475 escruri: a headers component in a SIP Request-URI is invalid.
    assert_eq!(
        with("sip:bob@biloxi.com?Route=%3Csip:x%3E").unwrap_err(),
        ParseError::BadUri
    );
    assert_eq!(with("sips:biloxi.com?x=y").unwrap_err(), ParseError::BadUri);
    // `?` inside the userinfo is fine (RFC 4475 intmeth), as is any scheme.
    assert!(with("sip:what?ever@biloxi.com").is_ok());
    assert!(with("tel:+1-201-555-0123").is_ok());
    assert!(with("soap.beep://192.0.2.103:3002").is_ok());
    for bad in ["bob@biloxi.com", ":x", "1sip:x", "sip:", "sip:a\"b"] {
        assert_eq!(with(bad).unwrap_err(), ParseError::BadUri, "{bad}");
    }
}
