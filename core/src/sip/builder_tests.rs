//! Tests of the message writers: every output must parse back with
//! [`Message::parse`] and carry the fields §8.2.6, §9.1 and §17.1.1.3 require.

use super::*;
use crate::sip::Limits;

fn parse(b: Bytes) -> Message {
    Message::parse(b, &Limits::default()).unwrap()
}

const INVITE: &str = "INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1, SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n\
v: SIP/2.0/UDP  origin.example.com ;branch=z9hG4bK0\r\n\
Max-Forwards: 69\r\n\
Route: <sip:p1.example.com;lr>\r\n\
Route: <sip:p2.example.com;lr>\r\n\
Record-Route: <sip:proxy.example.com;lr>\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\r\n";

#[test]
fn request_builder_writes_a_parseable_request() {
    let b = RequestBuilder::new(&Method::Options, "sip:bob@biloxi.com")
        .header(HeaderName::Via, "SIP/2.0/UDP h;branch=z9hG4bK9")
        .header(HeaderName::MaxForwards, 70)
        .header(HeaderName::To, "<sip:bob@biloxi.com>")
        .header(HeaderName::From, "<sip:a@b>;tag=1")
        .header(HeaderName::CallId, "cid")
        .header(HeaderName::CSeq, CSeqDisplay(7))
        .header_raw("X-Thing", "evil\r\nInjected: yes")
        .body("text/plain", b"hi")
        .build();
    assert!(b.starts_with(
        b"OPTIONS sip:bob@biloxi.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK9\r\n"
    ));
    let m = parse(b);
    assert_eq!(m.cseq().seq, 7);
    assert_eq!(m.max_forwards(), Ok(Some(70)));
    assert_eq!(m.header_named("X-Thing"), Some("evil  Injected: yes"));
    assert_eq!(m.header_named("Injected"), None);
    assert_eq!(m.header(HeaderName::ContentType), Some("text/plain"));
    assert_eq!(m.content_length(), Some(2));
    assert_eq!(&m.body()[..], b"hi");
}

struct CSeqDisplay(u32);
impl Display for CSeqDisplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} OPTIONS", self.0)
    }
}

#[test]
fn response_copies_vias_byte_exact_and_adds_to_tag() {
    let req = parse(Bytes::from_static(INVITE.as_bytes()));
    let r = ResponseBuilder::for_request(&req, 486, "Busy Here")
        .to_tag("xyz")
        .build();
    let text = std::str::from_utf8(&r).unwrap();
    assert!(text.starts_with(
        "SIP/2.0 486 Busy Here\r\n\
         Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1, SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n\
         Via: SIP/2.0/UDP  origin.example.com ;branch=z9hG4bK0\r\n\
         From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
         To: Bob <sip:bob@biloxi.com>;tag=xyz\r\n\
         Call-ID: a84b4c76e66710\r\n\
         CSeq: 314159 INVITE\r\n"
    ), "{text}");
    assert!(!text.contains("Record-Route"));
    assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
    let m = parse(r);
    assert_eq!(m.status(), Some(486));
    assert_eq!(m.to_tag(), Some("xyz"));

    let r = ResponseBuilder::for_request(&req, 200, "OK")
        .to_tag("t1")
        .copy_record_route()
        .header(HeaderName::Contact, "<sip:bob@192.0.2.4>")
        .body("application/sdp", b"v=0\r\n")
        .build();
    let m = parse(r);
    assert_eq!(
        m.header(HeaderName::RecordRoute),
        Some("<sip:proxy.example.com;lr>")
    );
    assert_eq!(m.header(HeaderName::Contact), Some("<sip:bob@192.0.2.4>"));
    assert_eq!(&m.body()[..], b"v=0\r\n");
}

#[test]
fn existing_to_tag_is_kept() {
    let s = INVITE.replace(
        "To: Bob <sip:bob@biloxi.com>",
        "To: Bob <sip:bob@biloxi.com>;tag=old",
    );
    let req = parse(Bytes::from(s));
    let m = parse(
        ResponseBuilder::for_request(&req, 200, "OK")
            .to_tag("new")
            .build(),
    );
    assert_eq!(m.to_tag(), Some("old"));
    assert_eq!(
        m.header(HeaderName::To),
        Some("Bob <sip:bob@biloxi.com>;tag=old")
    );
}

#[test]
fn ack_for_non2xx_follows_17_1_1_3() {
    let req = parse(Bytes::from_static(INVITE.as_bytes()));
    let resp = parse(
        ResponseBuilder::for_request(&req, 486, "Busy Here")
            .to_tag("b1")
            .build(),
    );
    let ack = ack_for_non2xx(&req, &resp);
    let text = std::str::from_utf8(&ack).unwrap().to_owned();
    let m = parse(ack);
    assert_eq!(m.method(), Some(&Method::Ack));
    assert_eq!(m.request_uri(), Some("sip:bob@biloxi.com"));
    assert_eq!(m.header_count(HeaderName::Via), 1);
    assert_eq!(
        m.top_via_value(),
        "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1"
    );
    assert_eq!(
        m.header_values(HeaderName::Route).collect::<Vec<_>>(),
        ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    );
    assert_eq!(m.to_tag(), Some("b1"));
    assert_eq!(m.from_tag(), Some("1928301774"));
    assert_eq!(m.call_id(), "a84b4c76e66710");
    assert_eq!((m.cseq().seq, &m.cseq().method), (314159, &Method::Ack));
    assert_eq!(m.max_forwards(), Ok(Some(70)));
    assert_eq!(m.content_length(), Some(0));
    assert!(!text.contains("Record-Route"), "{text}");
}

#[test]
fn cancel_follows_9_1() {
    let req = parse(Bytes::from_static(INVITE.as_bytes()));
    let m = parse(cancel_for(&req));
    assert_eq!(m.method(), Some(&Method::Cancel));
    assert_eq!(m.request_uri(), Some("sip:bob@biloxi.com"));
    assert_eq!(m.header_count(HeaderName::Via), 1);
    assert_eq!(m.top_via_branch(), Some("z9hG4bKp1"));
    assert_eq!(m.header_count(HeaderName::Route), 2);
    assert_eq!(m.header(HeaderName::To), Some("Bob <sip:bob@biloxi.com>"));
    assert_eq!(m.to_tag(), None);
    assert_eq!((m.cseq().seq, &m.cseq().method), (314159, &Method::Cancel));
}

#[test]
fn responses_stamp_received_and_rport_for_the_source_seen() {
    let raw = "OPTIONS sip:x@example.com SIP/2.0\r\n\
               Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKnat1;rport, SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKup\r\n\
               Via: SIP/2.0/TCP 10.0.0.10;branch=z9hG4bKup2\r\n\
               From: <sip:a@example.com>;tag=1\r\nTo: <sip:x@example.com>\r\nCall-ID: nat\r\n\
               CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
    let req = Message::parse(Bytes::from(raw), &Limits::default()).expect("valid request");
    let src: std::net::SocketAddr = "203.0.113.7:40000".parse().expect("literal");
    let resp = ResponseBuilder::for_request(&req, 200, "OK")
        .received_from(src)
        .build();
    let text = std::str::from_utf8(&resp).expect("ascii");
    let vias: Vec<&str> = text.lines().filter(|l| l.starts_with("Via:")).collect();
    assert_eq!(vias.len(), 2, "{text}");
    assert!(
        vias[0].contains(";rport=40000") && vias[0].contains(";received=203.0.113.7"),
        "{}",
        vias[0]
    );
    assert!(
        vias[0].ends_with(", SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKup"),
        "the rest of the line is kept: {}",
        vias[0]
    );
    assert_eq!(vias[1], "Via: SIP/2.0/TCP 10.0.0.10;branch=z9hG4bKup2");
    // A client that is where it says it is, without rport, gets its Via back unchanged.
    let local: std::net::SocketAddr = "10.0.0.5:5060".parse().expect("literal");
    let raw2 = raw.replace(";rport,", ",");
    let req2 = Message::parse(Bytes::from(raw2), &Limits::default()).expect("valid request");
    let resp2 = ResponseBuilder::for_request(&req2, 200, "OK")
        .received_from(local)
        .build();
    assert!(
        std::str::from_utf8(&resp2)
            .expect("ascii")
            .contains("Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKnat1, ")
    );
}

#[test]
fn edits_in_any_order_give_the_same_response() {
    // The builder writes as it goes and edits in place: the order of the
    // calls must not change the bytes (Via, Record-Route, From, To, Call-ID,
    // CSeq, then added headers; the last To tag wins).
    let req = parse(Bytes::from(INVITE.replace(
        "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1",
        "SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKp1;rport",
    )));
    let src: std::net::SocketAddr = "203.0.113.7:40000".parse().expect("literal");
    let a = ResponseBuilder::for_request(&req, 180, "Ringing")
        .received_from(src)
        .to_tag("first")
        .copy_record_route()
        .header(HeaderName::Contact, "<sip:bob@192.0.2.4>")
        .to_tag("second")
        .build();
    let b = ResponseBuilder::for_request(&req, 180, "Ringing")
        .header(HeaderName::Contact, "<sip:bob@192.0.2.4>")
        .copy_record_route()
        .copy_record_route()
        .to_tag("second")
        .received_from(src)
        .build();
    assert_eq!(a, b);
    let text = std::str::from_utf8(&a).expect("ascii");
    let names: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n))
        .collect();
    assert_eq!(
        names,
        [
            "Via",
            "Via",
            "Record-Route",
            "From",
            "To",
            "Call-ID",
            "CSeq",
            "Contact",
            "Content-Length"
        ]
    );
    assert!(text.contains(
        "Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKp1;rport=40000;received=203.0.113.7, SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n"
    ), "{text}");
    assert!(
        text.contains("To: Bob <sip:bob@biloxi.com>;tag=second\r\n"),
        "{text}"
    );
    assert_eq!(parse(a).to_tag(), Some("second"));
}
