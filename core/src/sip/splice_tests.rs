//! Tests of the splicing writer: output equals the input byte for byte except
//! for the edits, with compact and folded headers elsewhere left alone.

use super::*;
use crate::sip::Limits;

const MSG: &str = "INVITE sip:bob@biloxi.com SIP/2.0\r\n\
v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n\
Via:   SIP/2.0/TCP   c.example.com\r\n ;branch=z9hG4bK3\r\n\
Max-Forwards: 70\r\n\
Route: <sip:me.example.com;lr>, <sip:next.example.com;lr>\r\n\
route: <sip:last.example.com;lr>\r\n\
t: Bob\r\n <sip:bob@biloxi.com>\r\n\
f: <sip:alice@atlanta.com>;tag=1\r\n\
i: abc\r\n\
CSeq: 1 INVITE\r\n\
X-Weird:   ;;,,;; \r\n\
l: 5\r\n\
\r\n\
hello";

fn msg(s: &str) -> Message {
    Message::parse(Bytes::copy_from_slice(s.as_bytes()), &Limits::default()).unwrap()
}

fn out(s: &Splice<'_>) -> String {
    String::from_utf8(s.to_bytes().to_vec()).unwrap()
}

#[test]
fn no_edits_is_identity() {
    let m = msg(MSG);
    assert_eq!(out(&Splice::new(&m)), MSG);
    // Leading CRLFs and bytes past Content-Length are not forwarded.
    let m = msg(&format!("\r\n{MSG}trailing"));
    assert_eq!(out(&Splice::new(&m)), MSG);
}

#[test]
fn typical_proxy_edit_set() {
    let m = msg(MSG);
    let mut s = Splice::new(&m);
    s.prepend(
        HeaderName::Via,
        "SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp",
    )
    .replace_first(HeaderName::MaxForwards, 69)
    .prepend(HeaderName::RecordRoute, "<sip:proxy.example.com;lr>")
    .remove_first_value(HeaderName::Route);
    // Both go before the first header, in call order.
    let expected = MSG
        .replacen("v: SIP", "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp\r\nRecord-Route: <sip:proxy.example.com;lr>\r\nv: SIP", 1)
        .replace("Max-Forwards: 70", "Max-Forwards: 69")
        .replace("Route: <sip:me.example.com;lr>, <sip", "Route: <sip");
    assert_eq!(out(&s), expected);
    let fwd = msg(&out(&s));
    assert_eq!(fwd.top_via_branch(), Some("z9hG4bKp"));
    assert_eq!(
        fwd.header(HeaderName::Route),
        Some("<sip:next.example.com;lr>")
    );
    assert_eq!(fwd.max_forwards(), Ok(Some(69)));
}

#[test]
fn remove_first_value_and_whole_lines() {
    let m = msg(MSG);
    let mut s = Splice::new(&m);
    s.remove_first_value(HeaderName::Via);
    assert_eq!(
        out(&s),
        MSG.replace(
            "v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP",
            "v: SIP"
        )
    );
    let stripped = msg(&out(&s));
    assert_eq!(stripped.top_via_branch(), Some("z9hG4bK2"));

    let one = MSG.replace("v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, ", "v: ");
    let m = msg(&one);
    let mut s = Splice::new(&m);
    s.remove_first_value(HeaderName::Via);
    assert_eq!(
        out(&s),
        one.replace("v: SIP/2.0/UDP b.example.com;branch=z9hG4bK2\r\n", "")
    );
    assert_eq!(msg(&out(&s)).top_via_branch(), Some("z9hG4bK3"));

    let mut s = Splice::new(&m);
    s.remove_all(HeaderName::Route).remove_all(HeaderName::Via);
    let text = out(&s);
    assert!(!text.contains("oute"), "{text}");
    assert!(!text.contains("SIP/2.0/"), "{text}");
    assert!(text.contains("t: Bob\r\n <sip:bob@biloxi.com>\r\n"));
}

#[test]
fn request_uri_append_and_replace_missing() {
    let m = msg(MSG);
    let mut s = Splice::new(&m);
    s.set_request_uri("sip:bob@192.0.2.4:5060;transport=tcp")
        .append(HeaderName::Other, "ignored")
        .append(HeaderName::Path, "<sip:p.example.com;lr>")
        .replace_first(HeaderName::Expires, 60)
        .prepend(HeaderName::Contact, "<sip:x@y>");
    let expected = MSG
        .replace(
            "INVITE sip:bob@biloxi.com SIP",
            "INVITE sip:bob@192.0.2.4:5060;transport=tcp SIP",
        )
        .replace("v: SIP/2.0/UDP a", "Contact: <sip:x@y>\r\nv: SIP/2.0/UDP a")
        .replace(
            "l: 5\r\n\r\n",
            "l: 5\r\nPath: <sip:p.example.com;lr>\r\nExpires: 60\r\n\r\n",
        );
    assert_eq!(out(&s), expected);
    assert_eq!(
        msg(&expected).request_uri(),
        Some("sip:bob@192.0.2.4:5060;transport=tcp")
    );
}

#[test]
fn overlapping_edits_stay_well_formed() {
    let m = msg(MSG);
    let mut s = Splice::new(&m);
    s.remove_first_value(HeaderName::Via)
        .remove_all(HeaderName::Via)
        .replace_first(HeaderName::Via, "never written")
        .prepend(
            HeaderName::Via,
            "SIP/2.0/UDP new.example.com;branch=z9hG4bKn",
        );
    let text = out(&s);
    let fwd = msg(&text);
    assert_eq!(fwd.header_count(HeaderName::Via), 1, "{text}");
    assert_eq!(fwd.top_via_branch(), Some("z9hG4bKn"));
    assert!(!text.contains("never"));
}

#[test]
fn responses_splice_too() {
    let r = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP p;branch=z9hG4bKp\r\nVia: SIP/2.0/UDP c;branch=z9hG4bKc\r\n\
             To: <sip:b@c>;tag=2\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let m = msg(r);
    let mut s = Splice::new(&m);
    s.remove_first_value(HeaderName::Via)
        .set_request_uri("sip:ignored");
    assert_eq!(
        out(&s),
        r.replace("Via: SIP/2.0/UDP p;branch=z9hG4bKp\r\n", "")
    );
}
