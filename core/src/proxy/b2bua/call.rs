//! Setting up a B2BUA call (RFC 3261 §13.2–§13.3 on each leg): the B leg's
//! INVITE for a UA-type destination, and each of its responses rewritten as
//! the A leg's response before the fork context chooses and relays it.
//!
//! The rewritten response is the one a UAS answering the caller would send
//! (§8.2.6, §12.1.1): the caller's Via, From, To, Call-ID and CSeq, our To
//! tag, our Contact on 101–199 with a To tag and on 2xx, the caller's
//! Record-Route echoed, the B response's status, reason, end-to-end headers
//! ([`super::leg::copied_headers`]) and body. The B side's Contact, tags,
//! Call-ID and Record-Route never reach the caller, as the caller's never
//! reach the destination. A 2xx fixes both dialogs ([`super::leg::UaLeg`]).
//!
//! A 2xx that arrives when the caller already has a final response (a
//! CANCEL crossed it, §9.1) or from a second fork of the B leg is ACKed and
//! ended with a BYE at once (§13.2.2.4 would have us do so as its UAC).

use super::leg::{self, InitialInvite, UaLeg};
use super::{Attempt, Bridged, Call, MAX_CALLS, Side};
use crate::dialog::Leg;
use crate::proxy::context::{Branch, Context};
use crate::proxy::forward::{self, Target, flow_destination};
use crate::proxy::{Ctx, Proxy, branch};
use crate::routing::Destination;
use crate::sip::{
    HeaderName, Limits, Message, Method, NameAddr, ResponseBuilder, parse_name_addr_list,
};
use crate::transaction::TxId;
use crate::transaction::layer::dest_transmit;
use bytes::Bytes;

/// The Record-Route entries of `msg`, one per element, in order.
fn record_route(msg: &Message) -> Vec<String> {
    let mut out = Vec::new();
    for v in msg.header_values(HeaderName::RecordRoute) {
        if let Ok(list) = parse_name_addr_list(v) {
            out.extend(list.iter().map(ToString::to_string));
        }
    }
    out
}

/// Rewrites a B leg's response to the INVITE as the A leg's response to
/// `a_req` (see the module doc), with `via` on top: the context removes its
/// branch's Via before relaying, as for a proxied response.
pub fn map_response(
    a_req: &Message,
    a_remote: std::net::SocketAddr,
    resp: &Message,
    status: u16,
    a_tag: &str,
    contact: Option<&str>,
    server_name: &str,
) -> Option<Message> {
    let mut b = ResponseBuilder::for_request(a_req, status, resp.reason().unwrap_or(""))
        .received_from(a_remote);
    if status > 100 {
        b = b.to_tag(a_tag);
    }
    let dialog = status >= 200 || (status > 100 && resp.to_tag().is_some());
    if dialog && status < 300 {
        b = b.copy_record_route();
        if let Some(c) = contact {
            b = b.header(HeaderName::Contact, c);
        }
    }
    if (300..400).contains(&status) {
        for v in resp.header_values(HeaderName::Contact) {
            b = b.header(HeaderName::Contact, v);
        }
    }
    for (n, v) in leg::copied_headers(resp) {
        b = b.header_raw(n, &v);
    }
    b = b.header(HeaderName::Server, server_name);
    if let Some((ct, body)) = leg::body_of(resp) {
        b = b.body(&ct, &body);
    }
    let bytes = b.build();
    let head = bytes.windows(2).position(|w| w == b"\r\n")? + 2;
    let via = resp.top_via_value();
    let mut out = Vec::with_capacity(bytes.len() + via.len() + 7);
    out.extend_from_slice(bytes.get(..head)?);
    out.extend_from_slice(b"Via: ");
    out.extend_from_slice(via.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(bytes.get(head..)?);
    Message::parse(Bytes::from(out), &Limits::default()).ok()
}

impl Proxy {
    /// Sends a B leg INVITE for each of `targets` of UA destination `d`
    /// (one, for an IP gateway) as branches of A leg `server`; returns how
    /// many were sent.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn b2bua_launch(
        &mut self,
        ctx: &mut Ctx<'_>,
        server: TxId,
        msg: &Message,
        d: &Destination,
        hash: u64,
        targets: &[Target],
        c: &mut Context,
    ) -> usize {
        let id = match self.b2bua.by_server.get(&server) {
            Some(id) => *id,
            None => {
                if self.b2bua.len() >= MAX_CALLS {
                    return 0;
                }
                self.b2bua.insert(Call {
                    server,
                    a_call_id: msg.call_id().to_owned(),
                    a_from_tag: msg.from_tag().unwrap_or_default().to_owned(),
                    a_tag: ctx.rng.tag(),
                    attempts: Vec::new(),
                    legs: None,
                })
            }
        };
        // The destination's account when it has one (the provider knows us
        // by it and often refuses other From users); else the caller's
        // number, the caller ID the far side should show.
        let from_user = d
            .username
            .clone()
            .filter(|u| !u.is_empty())
            .or_else(|| leg::from_user(msg))
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "anonymous".to_owned());
        let from_host = d
            .domain
            .clone()
            .unwrap_or_else(|| self.identity.domain().to_owned());
        let mut sent = 0;
        for t in targets {
            let Some(ruri) = t.request_uri.as_deref() else {
                continue;
            };
            let br = branch::new_branch(hash, ctx.rng);
            let (Some(via), Some(contact)) = (
                forward::via_value(&self.identity, &t.dest, &br),
                leg::our_contact(
                    &self.identity,
                    t.dest.transport,
                    t.dest.local,
                    t.dest.remote,
                ),
            ) else {
                continue;
            };
            let tag = ctx.rng.tag();
            let call_id = ctx.rng.call_id();
            let from = leg::from_value(&from_user, &from_host, &tag);
            let bytes = leg::initial_invite(
                &InitialInvite {
                    request_uri: ruri,
                    via: &via,
                    from: &from,
                    call_id: &call_id,
                    contact: &contact,
                    user_agent: &self.server_name,
                },
                msg,
            );
            let client = ctx.layer.send_invite(ctx.now, &br, bytes, t.dest);
            self.stats.requests_forwarded += 1;
            self.branches.insert(client, server);
            c.branches.push(Branch::fresh(client));
            self.b2bua.add_attempt(
                id,
                Attempt {
                    client,
                    call_id,
                    from,
                    tag,
                    cseq: 1,
                    dest: t.dest,
                },
            );
            sent += 1;
        }
        sent
    }

    /// Is `client` a B leg INVITE?
    pub(crate) fn is_b2bua_attempt(&self, client: TxId) -> bool {
        self.b2bua.by_attempt.contains_key(&client)
    }

    /// A response to B INVITE `client` of A leg `server`, rewritten as the A
    /// leg's; `None` when it ends here.
    pub(crate) fn b2bua_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        server: TxId,
        client: TxId,
        response: Message,
        status: u16,
    ) -> Option<Message> {
        if status == 100 {
            return Some(response); // hop by hop: the context never relays it
        }
        let id = *self.b2bua.by_attempt.get(&client)?;
        let call = self.b2bua.calls.get(&id)?;
        let attempt = call.attempts.iter().find(|a| a.client == client)?.clone();
        let a_tag = call.a_tag.clone();
        if (200..300).contains(&status) {
            if let Some(legs) = &call.legs {
                let b = &legs[Side::B as usize];
                let same = b.call_id == response.call_id()
                    && response.to_tag() == Some(b.remote_tag.as_str());
                if !same {
                    self.b2bua_hang_up(ctx, &attempt, &response);
                    return None;
                }
                if let Some((_, ack)) = &b.last_ack {
                    // A retransmitted 2xx: our ACK was lost.
                    self.transmits
                        .push_back(dest_transmit(&b.dlg.hop, ack.clone()));
                    return None;
                }
                // Not ACKed yet: the caller gets our 2xx again (below).
            } else if self.contexts.get(&server).is_none_or(|c| c.final_sent) {
                self.b2bua_hang_up(ctx, &attempt, &response);
                return None;
            } else {
                let legs = self.b2bua_legs(ctx, server, &attempt, &call.a_tag, &response)?;
                if let Some(c) = self.b2bua.calls.get_mut(&id) {
                    c.legs = Some(Box::new(legs));
                }
            }
        }
        let (Some(a_req), Some(a_flow)) = (
            ctx.layer.server_request(server),
            ctx.layer.server_flow(server),
        ) else {
            return None;
        };
        // The caller cannot answer the destination's challenge through us:
        // a challenge we could not answer ourselves is a refusal.
        let (status, resp) = if matches!(status, 401 | 407) {
            let forbidden = format!(
                "SIP/2.0 403 Forbidden\r\nVia: {}\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
                response.top_via_value()
            );
            match Message::parse(Bytes::from(forbidden), &Limits::default()) {
                Ok(m) => (403, m),
                Err(_) => (status, response),
            }
        } else {
            (status, response)
        };
        let contact = leg::our_contact(
            &self.identity,
            a_flow.transport,
            Some(a_flow.local),
            a_flow.remote,
        );
        map_response(
            a_req,
            a_flow.remote,
            &resp,
            status,
            &a_tag,
            contact.as_deref(),
            &self.server_name,
        )
    }

    /// Both dialogs of a call whose B INVITE `attempt` got the 2xx `ok`.
    fn b2bua_legs(
        &self,
        ctx: &Ctx<'_>,
        server: TxId,
        attempt: &Attempt,
        a_tag: &str,
        ok: &Message,
    ) -> Option<[UaLeg; 2]> {
        let a_req = ctx.layer.server_request(server)?;
        let a_flow = ctx.layer.server_flow(server)?;
        // A leg (§12.1.1): route set = the INVITE's Record-Route, in order.
        let routes = record_route(a_req);
        let target = leg::contact_uri(a_req).unwrap_or_else(|| format!("sip:{}", a_flow.remote));
        let hop = match routes.first() {
            Some(r) => self.b2bua_resolve(ctx, r)?,
            None => flow_destination(&a_flow),
        };
        let a = UaLeg {
            call_id: a_req.call_id().to_owned(),
            dlg: Leg {
                target,
                routes,
                hop,
                from: leg::with_tag(a_req.header(HeaderName::To)?, a_tag),
                to: a_req.header(HeaderName::From)?.to_owned(),
                cseq: 0,
            },
            local_tag: a_tag.to_owned(),
            remote_tag: a_req.from_tag().unwrap_or_default().to_owned(),
            awaiting_ack: None,
            last_ack: None,
        };
        Some([a, self.b2bua_b_leg(ctx, attempt, ok)])
    }

    /// The B dialog a 2xx to `attempt` sets up (§12.1.2: route set = the
    /// Record-Route reversed; remote target = its Contact).
    fn b2bua_b_leg(&self, ctx: &Ctx<'_>, attempt: &Attempt, ok: &Message) -> UaLeg {
        let mut routes = record_route(ok);
        routes.reverse();
        let target = leg::contact_uri(ok).unwrap_or_else(|| format!("sip:{}", attempt.dest.remote));
        let hop = match routes.first() {
            Some(r) => self.b2bua_resolve(ctx, r),
            None => self.b2bua_resolve(ctx, &target),
        }
        .unwrap_or(attempt.dest);
        UaLeg {
            call_id: attempt.call_id.clone(),
            dlg: Leg {
                target,
                routes,
                hop,
                from: attempt.from.clone(),
                to: ok.header(HeaderName::To).unwrap_or_default().to_owned(),
                cseq: attempt.cseq,
            },
            local_tag: attempt.tag.clone(),
            remote_tag: ok.to_tag().unwrap_or_default().to_owned(),
            awaiting_ack: Some(attempt.cseq),
            last_ack: None,
        }
    }

    /// Where a URI or name-addr (a Route entry, a Contact) is reached.
    pub(crate) fn b2bua_resolve(
        &self,
        ctx: &Ctx<'_>,
        uri: &str,
    ) -> Option<crate::transaction::Destination> {
        let n = NameAddr::parse(uri).ok()?;
        forward::resolve(ctx.registrar, n.uri.as_sip()?)
    }

    /// ACKs and ends a B dialog the caller will never be part of.
    fn b2bua_hang_up(&mut self, ctx: &mut Ctx<'_>, attempt: &Attempt, ok: &Message) {
        let mut b = self.b2bua_b_leg(ctx, attempt, ok);
        let Some(id) = self.b2bua.by_attempt.get(&attempt.client).copied() else {
            return;
        };
        self.b2bua_send_ack(ctx, &mut b, attempt.cseq, None);
        // This BYE ends a stray dialog, not the call.
        if let Some(client) = self.b2bua_send(ctx, id, &mut b, Side::B, &Method::Bye, None, None)
            && let Some(e) = self.b2bua.bridged.get_mut(&client)
        {
            e.bye = false;
        }
    }

    /// Sends a request of ours on `leg` (its CSeq incremented), answered on
    /// `server` if it bridges one; returns its client transaction.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn b2bua_send(
        &mut self,
        ctx: &mut Ctx<'_>,
        call: u64,
        leg: &mut UaLeg,
        toward: Side,
        method: &Method,
        src: Option<&Message>,
        server: Option<TxId>,
    ) -> Option<TxId> {
        let br = branch::new_branch(0, ctx.rng);
        let via = forward::via_value(&self.identity, &leg.dlg.hop, &br)?;
        let refresh = matches!(
            method,
            Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
        );
        let contact = refresh
            .then(|| {
                leg::our_contact(
                    &self.identity,
                    leg.dlg.hop.transport,
                    leg.dlg.hop.local,
                    leg.dlg.hop.remote,
                )
            })
            .flatten();
        leg.dlg.cseq = leg.dlg.cseq.saturating_add(1);
        let seq = leg.dlg.cseq;
        let reason = (src.is_none() && *method == Method::Bye)
            .then_some(("Reason", "SIP;cause=200;text=\"Call completed\""));
        let extra: Vec<(&str, &str)> = reason.into_iter().collect();
        let bytes = leg::in_dialog_request(
            leg,
            method,
            seq,
            &via,
            contact.as_deref(),
            src,
            &extra,
            &self.server_name,
        );
        let client = if *method == Method::Invite {
            ctx.layer.send_invite(ctx.now, &br, bytes, leg.dlg.hop)
        } else {
            ctx.layer
                .send_request(ctx.now, &br, method, bytes, None, leg.dlg.hop)
        };
        self.stats.requests_forwarded += 1;
        self.b2bua.bridged.insert(
            client,
            Bridged {
                call,
                server,
                toward,
                cseq: seq,
                bye: *method == Method::Bye,
            },
        );
        Some(client)
    }

    /// Sends the ACK for the 2xx to INVITE `seq` on `leg` (§13.2.2.4),
    /// carrying `src`'s body if any; kept for 2xx retransmissions.
    pub(crate) fn b2bua_send_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        leg: &mut UaLeg,
        seq: u32,
        src: Option<&Message>,
    ) {
        let br = branch::new_branch(0, ctx.rng);
        let Some(via) = forward::via_value(&self.identity, &leg.dlg.hop, &br) else {
            return;
        };
        let bytes = leg::in_dialog_request(
            leg,
            &Method::Ack,
            seq,
            &via,
            None,
            src,
            &[],
            &self.server_name,
        );
        self.stats.requests_forwarded += 1;
        self.transmits
            .push_back(dest_transmit(&leg.dlg.hop, bytes.clone()));
        leg.last_ack = Some((seq, bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace('\n', "\r\n")), &Limits::default()).expect("valid")
    }

    #[test]
    fn a_b_leg_200_becomes_the_callers_200() {
        let a = parse(
            "INVITE sip:7001@example.com SIP/2.0\n\
             Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa1\n\
             Record-Route: <sip:10.0.0.7;lr>\n\
             From: <sip:101@example.com>;tag=alice1\nTo: <sip:7001@example.com>\n\
             Call-ID: a-call\nCSeq: 7 INVITE\nContact: <sip:101@192.0.2.101>\n\
             Content-Length: 0\n\n",
        );
        let b = parse(
            "SIP/2.0 200 OK\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKb1;rport\n\
             Record-Route: <sip:198.51.100.9;lr>\n\
             From: <sip:101@example.com>;tag=ours\nTo: <sip:7001@192.0.2.201>;tag=gw\n\
             Call-ID: b-call\nCSeq: 1 INVITE\nContact: <sip:gw@198.51.100.10>\n\
             Allow: INVITE, BYE\nContent-Type: application/sdp\nContent-Length: 5\n\nv=0\n",
        );
        let m = map_response(
            &a,
            "192.0.2.101:5060".parse().expect("addr"),
            &b,
            200,
            "atag",
            Some("<sip:b2bua@192.0.2.1:5060>"),
            "Switchboard",
        )
        .expect("valid");
        let vias: Vec<&str> = m.header_values(HeaderName::Via).collect();
        assert_eq!(
            vias.len(),
            2,
            "ours on top for the context to pop, then the caller's"
        );
        assert!(vias[0].contains("z9hG4bKb1") && vias[1].contains("z9hG4bKa1"));
        assert_eq!(m.call_id(), "a-call");
        assert_eq!(m.cseq().seq, 7);
        assert_eq!(m.to_tag(), Some("atag"));
        assert_eq!(m.from_tag(), Some("alice1"));
        assert_eq!(
            m.header(HeaderName::Contact),
            Some("<sip:b2bua@192.0.2.1:5060>")
        );
        assert_eq!(m.header(HeaderName::RecordRoute), Some("<sip:10.0.0.7;lr>"));
        assert_eq!(m.header(HeaderName::Allow), Some("INVITE, BYE"));
        assert_eq!(&m.body()[..], b"v=0\r\n");
        let text = String::from_utf8_lossy(m.raw());
        for leak in ["b-call", "198.51.100", "tag=gw", "tag=ours"] {
            assert!(!text.contains(leak), "{leak} leaked: {text}");
        }
        // A 180 without a To tag makes no early dialog: no Contact.
        let ringing = parse(
            "SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKb1\n\
             From: <sip:101@example.com>;tag=ours\nTo: <sip:7001@192.0.2.201>\n\
             Call-ID: b-call\nCSeq: 1 INVITE\nContent-Length: 0\n\n",
        );
        let m = map_response(
            &a,
            "192.0.2.101:5060".parse().expect("addr"),
            &ringing,
            180,
            "atag",
            Some("<sip:b2bua@192.0.2.1:5060>"),
            "Switchboard",
        )
        .expect("valid");
        assert_eq!(m.status(), Some(180));
        assert_eq!(m.header(HeaderName::Contact), None);
        assert_eq!(m.to_tag(), Some("atag"));
    }
}
