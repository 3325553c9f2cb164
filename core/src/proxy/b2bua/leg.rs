//! One leg of a B2BUA call and the messages Switchboard writes on it as a
//! user agent (RFC 3261 §8.1.1, §12.1, §12.2.1.1, §13.2.2.4).
//!
//! A leg is a dialog in which we are one party: on the A leg we are the UAS
//! the caller reached, on the B leg the UAC that called the destination.
//! Either way, a request we send on it is built from the leg's own dialog
//! state (§12.2.1.1): Request-URI = the remote target, Route = the route set,
//! From = our URI and tag, To = the remote URI and tag, Call-ID of the leg,
//! CSeq = the leg's local sequence number plus one, exactly one Via (ours)
//! and our own Contact. Nothing of the other leg's headers is copied except
//! the few end-to-end ones in [`copied_headers`] and the body: that is the
//! topology hiding the issue asks for (no Via, Contact, Record-Route, Route,
//! Call-ID, tags, `P-*` or `Call-Info` of the other side cross over).
//!
//! The SDP body is copied as it is: its `c=` line still names the caller's
//! media address (media relay is a later issue).

use crate::Transport;
use crate::dialog::Leg;
use crate::identity::Identity;
use crate::sip::{HeaderName, Message, Method, NameAddr, RequestBuilder, parse_name_addr_list};
use bytes::Bytes;
use std::borrow::Cow;
use std::net::SocketAddr;

/// The user part of our Contact on both legs: in-dialog requests come back
/// to `sip:b2bua@<our address>` (one no extension can own: it is not a number).
pub const CONTACT_USER: &str = "b2bua";

/// Known headers carried across legs (end-to-end, no topology in them).
const COPIED: [HeaderName; 9] = [
    HeaderName::Allow,
    HeaderName::Supported,
    HeaderName::Accept,
    HeaderName::Event,
    HeaderName::AllowEvents,
    HeaderName::Subject,
    HeaderName::Warning,
    HeaderName::RetryAfter,
    HeaderName::Unsupported,
];

/// Extension headers carried across legs.
const COPIED_OTHER: [&str; 6] = [
    "Reason",
    "Content-Disposition",
    "Subscription-State",
    "Info-Package",
    "Recv-Info",
    "Accept-Language",
];

/// Our dialog with one party of a B2BUA call.
#[derive(Debug, Clone)]
pub(crate) struct UaLeg {
    /// The leg's Call-ID.
    pub call_id: String,
    /// Target, route set, next hop, From (ours), To (theirs), our last CSeq.
    pub dlg: Leg,
    /// Our tag in this dialog.
    pub local_tag: String,
    /// The party's tag.
    pub remote_tag: String,
    /// A 2xx answered an INVITE we sent on this leg: its CSeq, until the
    /// other party's ACK lets us send ours (§13.2.2.4).
    pub awaiting_ack: Option<u32>,
    /// The last ACK we sent on this leg, resent when its 2xx is retransmitted.
    pub last_ack: Option<(u32, Bytes)>,
}

impl UaLeg {
    /// Does an in-dialog request from this leg's party carry these identifiers?
    pub(crate) fn matches(&self, call_id: &str, from_tag: &str, to_tag: &str) -> bool {
        self.call_id == call_id && self.remote_tag == from_tag && self.local_tag == to_tag
    }
}

/// Our Contact (a header value) for a leg reached over `transport` toward `toward`.
pub fn our_contact(
    identity: &Identity,
    transport: Transport,
    local: Option<SocketAddr>,
    toward: SocketAddr,
) -> Option<String> {
    let l = identity.listener(transport, Some(toward))?;
    let mut v = String::with_capacity(48);
    v.push_str("<sip:");
    v.push_str(CONTACT_USER);
    v.push('@');
    identity.push_advertised(&mut v, l, local);
    if transport != Transport::Udp {
        v.push_str(";transport=");
        v.push_str(transport.param());
    }
    v.push('>');
    Some(v)
}

/// The URI of a message's first Contact, as text.
pub fn contact_uri(msg: &Message) -> Option<String> {
    let c = msg.header(HeaderName::Contact)?;
    let first = parse_name_addr_list(c).ok()?.into_iter().next()?;
    Some(first.uri.to_string())
}

/// `Supported` without `100rel`: reliable provisional responses (RFC 3262)
/// are not bridged, so neither side may be led to use them. `None` when
/// nothing is left.
fn without_100rel(v: &str) -> Option<Cow<'_, str>> {
    if !v
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case("100rel"))
    {
        return Some(Cow::Borrowed(v));
    }
    let kept: Vec<&str> = v
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("100rel"))
        .collect();
    (!kept.is_empty()).then(|| Cow::Owned(kept.join(", ")))
}

/// The end-to-end headers of `msg` that cross to the other leg, as (name,
/// value) in message order. Everything else stays on its leg.
pub fn copied_headers(msg: &Message) -> Vec<(&str, Cow<'_, str>)> {
    let mut out = Vec::new();
    for h in msg.headers() {
        let value = msg.value_text(h);
        if COPIED.contains(&h.name()) {
            let v = if h.name() == HeaderName::Supported {
                match without_100rel(value) {
                    Some(v) => v,
                    None => continue,
                }
            } else {
                Cow::Borrowed(value)
            };
            out.push((h.name().as_str(), v));
        } else if h.name() == HeaderName::Other {
            let name = msg.name_text(h);
            if let Some(n) = COPIED_OTHER.iter().find(|n| n.eq_ignore_ascii_case(name)) {
                out.push((n, Cow::Borrowed(value)));
            }
        }
    }
    out
}

/// The body of `msg` and its Content-Type, when it has one.
pub fn body_of(msg: &Message) -> Option<(String, Bytes)> {
    let body = msg.body();
    if body.is_empty() {
        return None;
    }
    let ct = msg
        .header(HeaderName::ContentType)
        .unwrap_or("application/octet-stream");
    Some((ct.to_owned(), body))
}

/// What the first request of a B leg needs.
pub struct InitialInvite<'a> {
    /// Request-URI (the rewritten number at the destination).
    pub request_uri: &'a str,
    /// Our Via value (the only one).
    pub via: &'a str,
    /// Our From value, with its tag ([`from_value`]).
    pub from: &'a str,
    /// The B leg's Call-ID.
    pub call_id: &'a str,
    /// Our Contact value.
    pub contact: &'a str,
    /// Our `User-Agent`.
    pub user_agent: &'a str,
}

/// The INVITE that starts a B leg: new identifiers, one Via, our Contact,
/// the caller's Max-Forwards less one (70 when it had none: with the
/// caller's Vias hidden, Max-Forwards is what still ends a loop through a
/// UA destination, RFC 3261 §16.6 step 3), and of the caller's INVITE only
/// [`copied_headers`] and the body.
pub fn initial_invite(spec: &InitialInvite<'_>, caller: &Message) -> Bytes {
    let max_forwards = match caller.max_forwards() {
        Ok(Some(n)) => n.saturating_sub(1),
        _ => 70,
    };
    let mut b = RequestBuilder::new(&Method::Invite, spec.request_uri)
        .header(HeaderName::Via, spec.via)
        .header(HeaderName::MaxForwards, max_forwards)
        .header(HeaderName::From, spec.from)
        .header(HeaderName::To, format_args!("<{}>", spec.request_uri))
        .header(HeaderName::CallId, spec.call_id)
        .header(HeaderName::CSeq, "1 INVITE")
        .header(HeaderName::Contact, spec.contact);
    for (n, v) in copied_headers(caller) {
        b = b.header_raw(n, &v);
    }
    b = b.header(HeaderName::UserAgent, spec.user_agent);
    if let Some((ct, body)) = body_of(caller) {
        b = b.body(&ct, &body);
    }
    b.build()
}

/// A request on `leg` (§12.2.1.1) with CSeq `seq`: its copied headers and
/// body come from `src` (the request from the other leg, if any), `extra`
/// lines are added (e.g. a `Reason`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn in_dialog_request(
    leg: &UaLeg,
    method: &Method,
    seq: u32,
    via: &str,
    contact: Option<&str>,
    src: Option<&Message>,
    extra: &[(&str, &str)],
    user_agent: &str,
) -> Bytes {
    let mut b = RequestBuilder::new(method, &leg.dlg.target)
        .header(HeaderName::Via, via)
        .header(HeaderName::MaxForwards, 70);
    for r in &leg.dlg.routes {
        b = b.header(HeaderName::Route, r);
    }
    b = b
        .header(HeaderName::From, &leg.dlg.from)
        .header(HeaderName::To, &leg.dlg.to)
        .header(HeaderName::CallId, &leg.call_id)
        .header(HeaderName::CSeq, format_args!("{seq} {}", method.as_str()));
    if let Some(c) = contact {
        b = b.header(HeaderName::Contact, c);
    }
    if let Some(m) = src {
        for (n, v) in copied_headers(m) {
            b = b.header_raw(n, &v);
        }
    }
    for (n, v) in extra {
        b = b.header_raw(n, v);
    }
    b = b.header(HeaderName::UserAgent, user_agent);
    if let Some((ct, body)) = src.and_then(body_of) {
        b = b.body(&ct, &body);
    }
    b.build()
}

/// Our From value on a B leg: `<sip:user@host>;tag=tag` (user escaped).
pub fn from_value(user: &str, host: &str, tag: &str) -> String {
    let mut from = String::with_capacity(24 + user.len() + host.len() + tag.len());
    from.push_str("<sip:");
    super::super::routed::push_user(&mut from, user);
    from.push('@');
    from.push_str(host);
    from.push_str(">;tag=");
    from.push_str(tag);
    from
}

/// The From/To value of a name-addr with `;tag=` added.
pub fn with_tag(value: &str, tag: &str) -> String {
    let mut v = String::with_capacity(value.len() + tag.len() + 5);
    v.push_str(value.trim());
    v.push_str(";tag=");
    v.push_str(tag);
    v
}

/// The user part of the From URI of `msg` (unescaped).
pub fn from_user(msg: &Message) -> Option<String> {
    let n = NameAddr::parse(msg.header(HeaderName::From)?).ok()?;
    Some(n.uri.as_sip()?.user_unescaped()?.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Limits;
    use crate::transaction::Destination;

    fn parse(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace('\n', "\r\n")), &Limits::default()).expect("valid")
    }

    const CALLER_INVITE: &str = "INVITE sip:7001@example.com SIP/2.0\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKpx\n\
Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa1\n\
Max-Forwards: 69\n\
Record-Route: <sip:10.0.0.7;lr>\n\
Route: <sip:192.0.2.1;lr>\n\
From: \"Alice\" <sip:101@example.com>;tag=alice1\n\
To: <sip:7001@example.com>\n\
Call-ID: secret-call@192.0.2.101\n\
CSeq: 7 INVITE\n\
Contact: <sip:101@192.0.2.101:5060>\n\
Call-Info: <http://192.0.2.101/photo.png>;purpose=icon\n\
P-Asserted-Identity: <sip:101@192.0.2.101>\n\
Allow: INVITE, ACK, BYE\n\
k: 100rel, replaces\n\
Reason: Q.850;cause=16\n\
Content-Type: application/sdp\n\
Content-Length: 27\n\
\n\
v=0\nc=IN IP4 192.0.2.101\n";

    #[test]
    fn the_b_invite_hides_the_callers_topology() {
        let caller = parse(CALLER_INVITE);
        let bytes = initial_invite(
            &InitialInvite {
                request_uri: "sip:+4420@192.0.2.201",
                via: "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKb1;rport",
                from: &from_value("101", "example.com", "t1"),
                call_id: "newcall",
                contact: "<sip:b2bua@192.0.2.1:5060>",
                user_agent: "Switchboard",
            },
            &caller,
        );
        let m = Message::parse(bytes, &Limits::default()).expect("we write valid messages");
        assert_eq!(m.header_count(HeaderName::Via), 1);
        assert_eq!(m.call_id(), "newcall");
        assert_eq!(m.cseq().seq, 1);
        // the caller's 69 less one: a loop through UA destinations still ends
        assert_eq!(m.max_forwards().expect("valid"), Some(68));
        assert_eq!(
            m.header(HeaderName::From),
            Some("<sip:101@example.com>;tag=t1")
        );
        assert_eq!(m.header(HeaderName::To), Some("<sip:+4420@192.0.2.201>"));
        assert_eq!(m.header(HeaderName::Supported), Some("replaces"));
        assert_eq!(m.header(HeaderName::Allow), Some("INVITE, ACK, BYE"));
        assert_eq!(m.header_named("Reason"), Some("Q.850;cause=16"));
        assert_eq!(m.header(HeaderName::RecordRoute), None);
        assert_eq!(m.header(HeaderName::Route), None);
        assert_eq!(m.header_named("Call-Info"), None);
        assert_eq!(m.header_named("P-Asserted-Identity"), None);
        assert_eq!(&m.body()[..], b"v=0\r\nc=IN IP4 192.0.2.101\r\n");
        // No header names the caller's address, Call-ID or tag.
        for h in m.headers() {
            let v = m.value_text(h);
            assert!(!v.contains("192.0.2.101"), "{v}");
            assert!(!v.contains("secret-call") && !v.contains("alice1"), "{v}");
        }
    }

    #[test]
    fn in_dialog_requests_follow_the_legs_dialog_state() {
        let leg = UaLeg {
            call_id: "b-call".into(),
            dlg: Leg {
                target: "sip:gw@192.0.2.201:5060".into(),
                routes: vec!["<sip:192.0.2.250;lr>".into()],
                hop: Destination {
                    transport: Transport::Udp,
                    remote: "192.0.2.250:5060".parse().expect("addr"),
                    local: None,
                    conn: None,
                },
                from: "<sip:101@example.com>;tag=ours".into(),
                to: "<sip:+4420@192.0.2.201>;tag=theirs".into(),
                cseq: 1,
            },
            local_tag: "ours".into(),
            remote_tag: "theirs".into(),
            awaiting_ack: None,
            last_ack: None,
        };
        assert!(leg.matches("b-call", "theirs", "ours"));
        assert!(!leg.matches("b-call", "ours", "theirs"));
        let src = parse(
            "BYE sip:b2bua@192.0.2.1 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.101;branch=z9hG4bKx\n\
             From: <sip:101@example.com>;tag=alice1\nTo: <sip:7001@example.com>;tag=a\n\
             Call-ID: secret\nCSeq: 9 BYE\nContent-Length: 0\n\n",
        );
        let bytes = in_dialog_request(
            &leg,
            &Method::Bye,
            2,
            "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKq",
            None,
            Some(&src),
            &[("Reason", "SIP;cause=200")],
            "Switchboard",
        );
        let m = Message::parse(bytes, &Limits::default()).expect("valid");
        assert_eq!(m.request_uri(), Some("sip:gw@192.0.2.201:5060"));
        assert_eq!(m.header(HeaderName::Route), Some("<sip:192.0.2.250;lr>"));
        assert_eq!(m.call_id(), "b-call");
        assert_eq!(m.cseq().seq, 2);
        assert_eq!(m.cseq().method, Method::Bye);
        assert_eq!(m.from_tag(), Some("ours"));
        assert_eq!(m.to_tag(), Some("theirs"));
        assert_eq!(m.header_named("Reason"), Some("SIP;cause=200"));
        assert!(!String::from_utf8_lossy(m.raw()).contains("secret"));
    }

    #[test]
    fn supported_loses_only_100rel() {
        assert_eq!(without_100rel("timer").as_deref(), Some("timer"));
        assert_eq!(without_100rel("100rel").as_deref(), None);
        assert_eq!(
            without_100rel("100REL , timer,replaces").as_deref(),
            Some("timer, replaces")
        );
        assert_eq!(with_tag(" <sip:a@b> ", "x"), "<sip:a@b>;tag=x");
    }
}
