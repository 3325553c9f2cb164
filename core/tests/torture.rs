//! RFC 4475 torture messages through the message layer: `Message::parse` and the
//! stream framer. Each message is classified as the message layer must: parsed,
//! or rejected with the error (and so the status) RFC 4475 expects of it.

use bytes::Bytes;
use switchboard_core::sip::{Frame, HeaderName, Limits, Message, Method, ParseError, StreamFramer};

fn load(name: &str) -> Bytes {
    let path = format!("{}/tests/torture/{name}.dat", env!("CARGO_MANIFEST_DIR"));
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}")))
}

fn parse(name: &str) -> Result<Message, ParseError> {
    Message::parse(load(name), &Limits::default())
}

fn ok(name: &str) -> Message {
    parse(name).unwrap_or_else(|e| panic!("{name} should parse: {e:?}"))
}

/// Messages valid at the message layer (some are invalid in a header's grammar
/// or semantics, which later layers judge).
#[test]
fn messages_the_message_layer_accepts() {
    for name in [
        "wsinv",
        "intmeth",
        "esc01",
        "escnull",
        "esc02",
        "lwsdisp",
        "longreq",
        "dblreq",
        "semiuri",
        "transports",
        "mpart01",
        "unreason",
        "noreason",
        "badinv01",
        "baddate",
        "regbadct",
        "badaspec",
        "baddn",
        "bcast",
        "bext01",
        "zeromf",
        "cparam01",
        "cparam02",
        "regaut01",
        "sdp01",
        "inv2543",
        "novelsc",
        "unkscm",
    ] {
        ok(name);
    }
}

#[test]
fn wsinv_short_tortuous_invite() {
    let m = ok("wsinv");
    assert_eq!(m.method(), Some(&Method::Invite));
    assert_eq!(
        m.request_uri(),
        Some("sip:vivekg@chair-dnrc.example.com;unknownparam")
    );
    assert_eq!(m.to_tag(), Some("1918181833n"));
    assert_eq!(m.from_tag(), Some("98asjd8"));
    assert_eq!(m.call_id(), "wsinv.ndaksdj@192.0.2.1");
    assert_eq!((m.cseq().seq, &m.cseq().method), (9, &Method::Invite));
    assert_eq!(m.max_forwards(), Ok(Some(68)));
    assert_eq!(m.header(HeaderName::Subject), Some(""));
    assert_eq!(m.header_count(HeaderName::Via), 2);
    assert_eq!(
        m.top_via_value(),
        "SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;rport;branch=390skdjuw"
    );
    assert_eq!(m.top_via_branch(), Some("390skdjuw"));
    assert_eq!(
        m.header_named("NewFangledHeader"),
        Some("newfangled value\r\n continued newfangled value")
    );
    assert_eq!(
        m.header_named("UnknownHeaderWithUnusualValue"),
        Some(";;,,;;,;")
    );
    assert_eq!(m.content_length(), Some(150));
    assert_eq!(m.body().len(), 150);
    assert!(m.body().starts_with(b"v=0\r\n"));
}

#[test]
fn intmeth_unusual_method_and_characters() {
    let m = ok("intmeth");
    let method = Method::parse("!interesting-Method0123456789_*+`.%indeed'~").unwrap();
    assert_eq!(m.method(), Some(&method));
    assert_eq!(m.cseq().method, method);
    assert_eq!(m.from_tag(), Some("_token~1'+`*%!-."));
    assert_eq!(m.call_id(), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    assert_eq!(
        m.header_named("extensionHeader-!.%*+_`'~"),
        Some("\u{feff}大停電")
    );
    assert!(m.header(HeaderName::To).unwrap().contains("NUL:\\\0"));
}

#[test]
fn compact_forms_escapes_and_long_values() {
    let m = ok("esc01");
    assert_eq!(m.call_id(), "esc01.239409asdfakjkn23onasd0-3234");
    assert_eq!(m.header(HeaderName::ContentType), Some("application/sdp"));
    let m = ok("esc02");
    assert_eq!(m.method().map(Method::as_str), Some("RE%47IST%45R"));
    assert_eq!(
        m.header_count(HeaderName::Contact),
        2,
        "C%6Fntact is not Contact"
    );
    let m = ok("longreq");
    assert_eq!(m.header_count(HeaderName::Via), 34);
    assert_eq!(m.top_via_value(), "SIP/2.0/TCP sip33.example.com");
    assert_eq!(m.top_via_branch(), None);
    assert!(m.from_tag().unwrap().starts_with("12982982"));
    assert_eq!(m.body().len(), 150);
    let m = ok("semiuri");
    assert_eq!(
        m.request_uri(),
        Some("sip:user;par=u%40example.net@example.com")
    );
    assert!(
        m.header(HeaderName::Accept)
            .unwrap()
            .ends_with("message/sipfrag")
    );
    let m = ok("transports");
    assert_eq!(m.header_count(HeaderName::Via), 5);
    assert_eq!(m.call_id(), "transports.kijh4akdnaqjkwendsasfdj");
}

#[test]
fn datagram_with_two_requests_keeps_the_first() {
    // dblreq: over UDP, Content-Length 0 ends the REGISTER; the INVITE after it is ignored.
    let m = ok("dblreq");
    assert_eq!(m.method(), Some(&Method::Register));
    assert!(m.body().is_empty());
    // On a stream the same bytes are two messages.
    let mut f = StreamFramer::new(Limits::default());
    f.push(&load("dblreq"));
    let mut methods = Vec::new();
    while let Some(frame) = f.next() {
        let Frame::Message(b) = frame.unwrap() else {
            panic!("no keep-alives here")
        };
        methods.push(
            Message::parse(b, &Limits::default())
                .unwrap()
                .method()
                .cloned(),
        );
    }
    assert_eq!(methods, [Some(Method::Register), Some(Method::Invite)]);
}

#[test]
fn responses_with_odd_reason_phrases() {
    let m = ok("unreason");
    assert_eq!(m.status(), Some(200));
    assert_eq!(
        m.reason(),
        Some("= 2**3 * 5**2 но сто девяносто девять - простое")
    );
    let m = ok("noreason");
    assert_eq!(m.status(), Some(100));
    assert_eq!(m.reason(), Some(""));
    assert_eq!(
        parse("bigcode").unwrap_err(),
        ParseError::BadStartLine,
        "a status code of 4294967301 is not 3DIGIT"
    );
}

#[test]
fn multipart_binary_body_is_kept() {
    let m = ok("mpart01");
    assert_eq!(m.method(), Some(&Method::Message));
    assert_eq!(m.body().len(), 553);
    assert!(m.body().ends_with(b"--7a9cbec02ceef655--\r\n"));
}

#[test]
fn rfc2543_request_without_branch_or_length() {
    let m = ok("inv2543");
    assert_eq!(m.top_via_branch(), None);
    assert_eq!(m.max_forwards(), Ok(None));
    assert_eq!(m.content_length(), None);
    assert!(m.body().ends_with(b"m=audio 49217 RTP/AVP 0\r\n"));
}

#[test]
fn semantic_cases_parse_for_later_layers() {
    assert_eq!(ok("zeromf").max_forwards(), Ok(Some(0)));
    assert_eq!(
        ok("novelsc").request_uri(),
        Some("soap.beep://192.0.2.103:3002")
    );
    assert_eq!(
        ok("unkscm").request_uri(),
        Some("nobodyKnowsThisScheme:totallyopaquecontent")
    );
    assert_eq!(
        ok("bext01").header(HeaderName::Require),
        Some("nothingSupportsThis, nothingSupportsThisEither")
    );
    assert_eq!(ok("badinv01").top_via_value(), "SIP/2.0/UDP 192.0.2.15;;");
    assert_eq!(ok("bcast").header_count(HeaderName::Via), 2);
    assert_eq!(
        ok("regaut01").header(HeaderName::Authorization),
        Some("NoOneKnowsThisScheme opaque-data=here")
    );
}

#[test]
fn messages_the_message_layer_rejects() {
    let cases: &[(&str, ParseError, u16)] = &[
        ("badvers", ParseError::BadVersion, 505),
        ("mismatch01", ParseError::CSeqMethodMismatch, 400),
        ("mismatch02", ParseError::CSeqMethodMismatch, 400),
        ("insuf", ParseError::MissingHeader("From"), 400),
        ("ncl", ParseError::BadContentLength, 400),
        ("clerr", ParseError::BadContentLength, 400),
        ("mcl01", ParseError::DuplicateHeader("Content-Length"), 400),
        ("multi01", ParseError::DuplicateHeader("CSeq"), 400),
        ("scalar02", ParseError::BadHeader("CSeq"), 400),
        ("scalarlg", ParseError::BadHeader("CSeq"), 400),
        ("quotbal", ParseError::BadHeader("To"), 400),
        ("ltgtruri", ParseError::BadUri, 400),
        ("escruri", ParseError::BadUri, 400),
        ("lwsruri", ParseError::BadStartLine, 400),
        ("lwsstart", ParseError::BadStartLine, 400),
        ("trws", ParseError::BadStartLine, 400),
        ("bigcode", ParseError::BadStartLine, 400),
    ];
    for (name, err, status) in cases {
        let got = parse(name).map(|_| ()).unwrap_err();
        assert_eq!(&got, err, "{name}");
        assert_eq!(got.status(), *status, "{name}");
    }
    assert!(ParseError::MissingHeader("From").reason().contains("From"));
}

#[test]
fn stream_framing_of_torture_messages() {
    // Every torture message with a valid Content-Length frames on a stream, even
    // split into 7-byte reads; the framed bytes parse the same as the datagram.
    for name in [
        "wsinv", "intmeth", "esc01", "longreq", "mpart01", "unreason", "noreason",
    ] {
        let raw = load(name);
        let mut f = StreamFramer::new(Limits::default());
        let mut frames = Vec::new();
        for chunk in raw.chunks(7) {
            f.push(chunk);
            while let Some(fr) = f.next() {
                frames.push(fr.unwrap());
            }
        }
        assert_eq!(frames, [Frame::Message(raw.clone())], "{name}");
    }
    // Without Content-Length a stream cannot be framed (RFC 3261 §18.3).
    let mut f = StreamFramer::new(Limits::default());
    f.push(&load("inv2543"));
    assert_eq!(f.next(), Some(Err(ParseError::BadContentLength)));
    let mut f = StreamFramer::new(Limits::default());
    f.push(&load("ncl"));
    assert_eq!(f.next(), Some(Err(ParseError::BadContentLength)));
}
