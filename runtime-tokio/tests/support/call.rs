//! A whole authenticated call through the proxy, as two test UAs see it
//! (RFC 3261 §16 stateful proxy, §12 dialogs, §22 digest): INVITE with SDP,
//! 407, ACK, INVITE with Proxy-Authorization; at the callee the proxy's Via,
//! Record-Route and Max-Forwards are checked; 180 and 200 back; ACK and BYE
//! along the route set (§12.1.2: the 2xx's Record-Route reversed).

use super::DOMAIN;
use super::ua::{Ua, elements, parse, text, unique, uri_of};
use switchboard_core::sip::{HeaderName, Method, RequestBuilder, ResponseBuilder, ack_for_non2xx};

/// What [`call`] leaves behind.
pub(crate) struct CallDone {
    /// The call's Call-ID.
    pub call_id: String,
    /// The Record-Route elements of the INVITE the callee received.
    pub record_route: Vec<String>,
}

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                   m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// One authenticated call from `caller` to `callee` (registered) through the
/// server at `server_port`, answered and hung up by the caller.
pub(crate) fn call(caller: &mut Ua, callee: &mut Ua, server_port: u16) -> CallDone {
    let target = format!("sip:{}@{DOMAIN}", callee.user);
    let call_id = format!("call-{}-{}@127.0.0.1", unique(), std::process::id());
    let from_tag = caller.tag();
    let from = format!("<{}>;tag={from_tag}", caller.aor());
    let invite = |caller: &Ua, cseq: u32, auth: Option<(HeaderName, String)>| {
        let (via, _) = caller.via();
        let mut b = RequestBuilder::new(&Method::Invite, &target)
            .header(HeaderName::Via, via)
            .header(HeaderName::MaxForwards, 70)
            .header(HeaderName::From, &from)
            .header(HeaderName::To, format!("<{target}>"))
            .header(HeaderName::CallId, &call_id)
            .header(HeaderName::CSeq, format!("{cseq} INVITE"))
            .header(HeaderName::Contact, format!("<{}>", caller.contact_uri()));
        if let Some((name, value)) = auth {
            b = b.header(name, value);
        }
        b.body("application/sdp", SDP.as_bytes()).build()
    };

    // 1. The INVITE without credentials is challenged (authenticate_local_calls).
    let first = invite(caller, 1, None);
    caller.send(&first);
    let challenge = caller.expect_response(Method::Invite);
    assert_eq!(challenge.status(), Some(407), "{}", text(&challenge));
    let first = parse(first);
    caller.send(&ack_for_non2xx(&first, &challenge));

    // 2. With credentials it reaches the callee.
    let auth = caller.credentials(&challenge, "INVITE", &target);
    caller.send(&invite(caller, 2, Some(auth)));
    let inv = callee.expect_request(Method::Invite);
    assert_eq!(
        inv.request_uri(),
        Some(callee.contact_uri().as_str()),
        "{}",
        text(&inv)
    );
    assert_eq!(inv.call_id(), call_id);
    assert_eq!(inv.max_forwards(), Ok(Some(69)), "Max-Forwards decremented");
    let vias = elements(&inv, HeaderName::Via);
    assert_eq!(
        vias.len(),
        2,
        "the proxy's Via on top of the caller's: {vias:?}"
    );
    let top = vias.first().expect("two Vias");
    assert!(
        top.starts_with(&format!(
            "SIP/2.0/{} 127.0.0.1:{server_port};",
            callee.transport()
        )),
        "top Via is the proxy's over the callee's transport: {top}"
    );
    assert!(top.contains("branch=z9hG4bK"), "RFC 3261 branch: {top}");
    assert!(
        vias.get(1).is_some_and(|v| v.contains(&caller.via_host())),
        "second Via is the caller's: {vias:?}"
    );
    let rr = elements(&inv, HeaderName::RecordRoute);
    assert!(
        rr.iter()
            .any(|r| r.contains(&format!("sip:127.0.0.1:{server_port}")) && r.contains(";lr")),
        "the proxy record-routes (loose): {rr:?}"
    );
    assert!(inv.body().starts_with(b"v=0"), "the SDP offer is forwarded");

    // 3. The callee rings and answers.
    let to_tag = callee.tag();
    let callee_contact = format!("<{}>", callee.contact_uri());
    let ringing = ResponseBuilder::for_request(&inv, 180, "Ringing")
        .to_tag(&to_tag)
        .copy_record_route()
        .header(HeaderName::Contact, &callee_contact)
        .build();
    callee.send(&ringing);
    let r180 = caller.expect_response(Method::Invite);
    assert_eq!(r180.status(), Some(180), "{}", text(&r180));
    let ok = ResponseBuilder::for_request(&inv, 200, "OK")
        .to_tag(&to_tag)
        .copy_record_route()
        .header(HeaderName::Contact, &callee_contact)
        .body("application/sdp", SDP.as_bytes())
        .build();
    callee.send(&ok);
    let r200 = caller.expect_response(Method::Invite);
    assert_eq!(r200.status(), Some(200), "{}", text(&r200));
    assert_eq!(
        elements(&r200, HeaderName::Via).len(),
        1,
        "the proxy removed its Via"
    );
    assert_eq!(r200.to_tag(), Some(to_tag.as_str()));
    assert!(
        r200.body().starts_with(b"v=0"),
        "the SDP answer is forwarded"
    );

    // 4. The caller's route set is the Record-Route of the 2xx, reversed (§12.1.2).
    let mut routes = elements(&r200, HeaderName::RecordRoute);
    routes.reverse();
    assert!(!routes.is_empty(), "the 200 carries the Record-Route");
    let remote_target = uri_of(
        r200.header(HeaderName::Contact)
            .expect("the 200 has the callee's Contact"),
    )
    .to_owned();
    let to = r200.header(HeaderName::To).expect("To").to_owned();
    let in_dialog = |caller: &Ua, method: Method, cseq: u32| {
        let (via, _) = caller.via();
        let mut b = RequestBuilder::new(&method, &remote_target)
            .header(HeaderName::Via, via)
            .header(HeaderName::MaxForwards, 70);
        for r in &routes {
            b = b.header(HeaderName::Route, r);
        }
        b.header(HeaderName::From, &from)
            .header(HeaderName::To, &to)
            .header(HeaderName::CallId, &call_id)
            .header(HeaderName::CSeq, format!("{cseq} {method}"))
            .build()
    };
    caller.send(&in_dialog(caller, Method::Ack, 2));
    let ack = callee.expect_request(Method::Ack);
    assert_eq!(ack.call_id(), call_id);
    assert_eq!(ack.request_uri(), Some(callee.contact_uri().as_str()));
    assert_eq!(
        ack.header_count(HeaderName::Route),
        0,
        "the proxy consumed its Route"
    );

    // 5. The caller hangs up.
    caller.send(&in_dialog(caller, Method::Bye, 3));
    let bye = callee.expect_request(Method::Bye);
    assert_eq!(bye.call_id(), call_id);
    assert_eq!(
        bye.header_count(HeaderName::Route),
        0,
        "the proxy consumed its Route"
    );
    callee.send(&ResponseBuilder::for_request(&bye, 200, "OK").build());
    let bye_ok = caller.expect_response(Method::Bye);
    assert_eq!(bye_ok.status(), Some(200), "{}", text(&bye_ok));
    CallDone {
        call_id,
        record_route: rr,
    }
}
