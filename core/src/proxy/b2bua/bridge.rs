//! An answered B2BUA call: requests from either party are bridged to the
//! other leg as new requests of ours (RFC 3261 §12.2.1.1, CSeq per leg), their
//! responses answer the original (§8.2.6, §12.2.2), an ACK for a 2xx is sent
//! on the other leg when its party ACKs (§13.2.2.4, carrying the ACK's body),
//! and the call ends on both legs — BYE bridged from one party, or BYEs of
//! ours for the maximum session duration and the operator's terminate
//! command (RFC 3326 `Reason`).
//!
//! A request whose Call-ID is one of a call's but whose tags are not (or one
//! addressed to our B2BUA Contact for a call that is gone) is answered 481
//! (§12.2.2). When the BYE's transaction ends (answered or timed out), every
//! trace of the call goes.

use super::leg::{self, CONTACT_USER};
use super::{Bridged, Side};
use crate::dialog::SessionState;
use crate::event::EndCause;
use crate::proxy::{Ctx, Proxy};
use crate::sip::{HeaderName, Message, Method, ResponseBuilder, Uri};
use crate::transaction::{TxEvent, TxId};
use crate::transport::Flow;

impl Proxy {
    /// A request with a To tag: bridged if it belongs to a B2BUA call (or
    /// answered 481 if it names our B2BUA Contact). Returns false when it is
    /// not ours.
    pub(crate) fn b2bua_request(&mut self, ctx: &mut Ctx<'_>, tx: TxId, msg: &Message) -> bool {
        let (Some(from_tag), Some(to_tag), Some(method)) =
            (msg.from_tag(), msg.to_tag(), msg.method())
        else {
            return false;
        };
        let Some(&id) = self.b2bua.by_call_id.get(msg.call_id()) else {
            if self.names_b2bua_contact(msg) {
                self.reply(ctx, tx, 481, "Call/Transaction Does Not Exist", &[]);
                return true;
            }
            return false;
        };
        let Some(call) = self.b2bua.calls.get_mut(&id) else {
            return false;
        };
        let Some(from) = call.side_of(msg.call_id(), from_tag, to_tag) else {
            self.reply(ctx, tx, 481, "Call/Transaction Does Not Exist", &[]);
            return true;
        };
        let method = method.clone();
        // Traffic on either leg keeps the session from idling out
        // (session_idle), which knows the call by the caller's identifiers.
        let se = super::super::session_idle::session_expires(msg);
        self.idle.touch(
            ctx.now,
            &call.a_call_id,
            &call.a_from_tag,
            &call.a_from_tag,
            se,
        );
        // A target refresh (§12.2.2) moves the sender's remote target.
        if matches!(method, Method::Invite | Method::Update)
            && let Some(uri) = leg::contact_uri(msg)
            && let Some(l) = call.leg_mut(from)
        {
            l.dlg.target = uri;
        }
        let to = from.other();
        let Some(mut out) = call.leg_mut(to).cloned() else {
            return false;
        };
        let sent = self.b2bua_send(ctx, id, &mut out, to, &method, Some(msg), Some(tx));
        if let Some(l) = self.b2bua.calls.get_mut(&id).and_then(|c| c.leg_mut(to)) {
            l.dlg.cseq = out.dlg.cseq;
        }
        if sent.is_none() {
            self.reply(ctx, tx, 503, "Service Unavailable", &[]);
            return true;
        }
        if method == Method::Bye {
            self.b2bua_session_over(
                ctx,
                id,
                EndCause::Bye {
                    by_caller: from == Side::A,
                },
            );
        }
        true
    }

    /// Is `msg` addressed to our B2BUA Contact (`sip:b2bua@<us>`)?
    fn names_b2bua_contact(&self, msg: &Message) -> bool {
        Uri::parse(msg.request_uri().unwrap_or(""))
            .ok()
            .and_then(|u| u.as_sip().cloned())
            .is_some_and(|u| {
                u.user.as_deref() == Some(CONTACT_USER)
                    && self.identity.is_us(&u.host, u.port, u.transport_kind())
            })
    }

    /// An ACK matching no transaction: if it acknowledges a 2xx we relayed
    /// for a B2BUA call, the ACK of ours goes on the other leg. Returns
    /// false when it is not ours.
    pub(crate) fn b2bua_ack(&mut self, ctx: &mut Ctx<'_>, msg: &Message, _flow: &Flow) -> bool {
        let Some(&id) = self.b2bua.by_call_id.get(msg.call_id()) else {
            return false;
        };
        let (Some(from_tag), Some(to_tag)) = (msg.from_tag(), msg.to_tag()) else {
            return true;
        };
        let Some(call) = self.b2bua.calls.get_mut(&id) else {
            return true;
        };
        let Some(from) = call.side_of(msg.call_id(), from_tag, to_tag) else {
            return true; // not a dialog of ours: an ACK is never answered
        };
        let Some(mut out) = call.leg_mut(from.other()).cloned() else {
            return true;
        };
        match out.awaiting_ack.take() {
            Some(seq) => self.b2bua_send_ack(ctx, &mut out, seq, Some(msg)),
            None => {
                // A retransmitted ACK (the caller saw our 2xx again): ours again.
                if let Some((_, ack)) = &out.last_ack {
                    self.transmits
                        .push_back(crate::transaction::layer::dest_transmit(
                            &out.dlg.hop,
                            ack.clone(),
                        ));
                }
            }
        }
        if let Some(l) = self
            .b2bua
            .calls
            .get_mut(&id)
            .and_then(|c| c.leg_mut(from.other()))
        {
            *l = out;
        }
        true
    }

    /// A transaction event for a B2BUA request of ours. Returns false when
    /// it is not one.
    pub(crate) fn b2bua_tx_event(&mut self, ctx: &mut Ctx<'_>, ev: &TxEvent) -> bool {
        match ev {
            TxEvent::Response { tx, response, .. } => {
                let Some(b) = self.b2bua.bridged.get(tx).cloned() else {
                    return false;
                };
                self.b2bua_bridged_response(ctx, *tx, &b, response);
                true
            }
            TxEvent::Timeout { tx } | TxEvent::TransportError { tx } => {
                let Some(b) = self.b2bua.bridged.get(tx).cloned() else {
                    return false;
                };
                let (status, reason) = if matches!(ev, TxEvent::Timeout { .. }) {
                    (408, "Request Timeout")
                } else {
                    (503, "Service Unavailable")
                };
                if let Some(server) = b.server {
                    self.reply(ctx, server, status, reason, &[]);
                }
                self.b2bua_final(ctx, *tx, &b, status);
                true
            }
            TxEvent::Terminated { tx, server: false } => {
                if self.b2bua.client_gone(*tx) {
                    self.branches.remove(tx);
                    return true;
                }
                false
            }
            TxEvent::Terminated { tx, server: true } => {
                // An A leg that ended unanswered takes its call along.
                if let Some(&id) = self.b2bua.by_server.get(tx)
                    && self.b2bua.calls.get(&id).is_some_and(|c| c.legs.is_none())
                {
                    self.b2bua.remove(id);
                }
                false // the proxy drops its context too
            }
            _ => false,
        }
    }

    /// A response to a request we sent on one leg: answers the other
    /// party's request it bridges.
    fn b2bua_bridged_response(
        &mut self,
        ctx: &mut Ctx<'_>,
        client: TxId,
        b: &Bridged,
        response: &Message,
    ) {
        let Some(status) = response.status() else {
            return;
        };
        if status == 100 {
            return;
        }
        let invite = response.cseq().method == Method::Invite;
        if invite && (200..300).contains(&status) {
            // A 2xx to a re-INVITE of ours: ACK it when the other party ACKs
            // ours; a retransmission after that gets our ACK again.
            let mut resend = None;
            if let Some(l) = self
                .b2bua
                .calls
                .get_mut(&b.call)
                .and_then(|c| c.leg_mut(b.toward))
            {
                if let Some(uri) = leg::contact_uri(response) {
                    l.dlg.target = uri;
                }
                match &l.last_ack {
                    Some((seq, ack)) if *seq == b.cseq => resend = Some((l.dlg.hop, ack.clone())),
                    _ => l.awaiting_ack = Some(b.cseq),
                }
            }
            if let Some((hop, ack)) = resend {
                self.transmits
                    .push_back(crate::transaction::layer::dest_transmit(&hop, ack));
                return;
            }
        }
        if let Some(server) = b.server
            && let (Some(req), Some(flow)) = (
                ctx.layer.server_request(server),
                ctx.layer.server_flow(server),
            )
        {
            let mut rb = ResponseBuilder::for_request(req, status, response.reason().unwrap_or(""))
                .received_from(flow.remote);
            let refresh = matches!(req.method(), Some(Method::Invite | Method::Update));
            if refresh
                && (200..300).contains(&status)
                && let Some(c) = leg::our_contact(
                    &self.identity,
                    flow.transport,
                    Some(flow.local),
                    flow.remote,
                )
            {
                rb = rb.header(HeaderName::Contact, c);
            }
            for (n, v) in leg::copied_headers(response) {
                rb = rb.header_raw(n, &v);
            }
            rb = rb.header(HeaderName::Server, &self.server_name);
            if let Some((ct, body)) = leg::body_of(response) {
                rb = rb.body(&ct, &body);
            }
            let bytes = rb.build();
            self.stats.responses_forwarded += 1;
            if !ctx.layer.respond(ctx.now, server, status, bytes.clone())
                && (200..300).contains(&status)
            {
                ctx.layer.send_on_server_flow(server, bytes);
            }
        }
        if status >= 200 {
            self.b2bua_final(ctx, client, b, status);
        }
    }

    /// A request of ours got its final answer (or none): a BYE's end is the
    /// call's end.
    fn b2bua_final(&mut self, _ctx: &mut Ctx<'_>, _client: TxId, b: &Bridged, _status: u16) {
        if b.bye {
            self.b2bua.remove(b.call);
        }
    }

    /// The call's session is over (BYE, terminate, maximum duration): the
    /// session table, the destination's capacity and deadlines are released.
    fn b2bua_session_over(&mut self, ctx: &mut Ctx<'_>, id: u64, cause: EndCause) {
        let Some(c) = self.b2bua.calls.get(&id) else {
            return;
        };
        let (cid, ft) = (c.a_call_id.clone(), c.a_from_tag.clone());
        if let Some(ended) = ctx.sessions.end(&cid, &ft, cause) {
            self.session_gone(&ended);
        }
    }

    /// Ends answered B2BUA session (Call-ID, caller's From tag) with a BYE on
    /// each leg carrying `reason`. Returns false when it is not a B2BUA call.
    pub(crate) fn b2bua_end(
        &mut self,
        ctx: &mut Ctx<'_>,
        call_id: &str,
        from_tag: &str,
        cause: EndCause,
        reason: &str,
    ) -> bool {
        let Some(id) = self.b2bua.by_session(call_id, from_tag) else {
            return false;
        };
        let answered = ctx
            .sessions
            .get(call_id, from_tag)
            .is_some_and(|s| s.state == SessionState::Answered);
        let Some(legs) = self
            .b2bua
            .calls
            .get(&id)
            .and_then(|c| c.legs.as_deref().cloned())
        else {
            return false;
        };
        if !answered {
            return false;
        }
        for (side, mut l) in [(Side::A, legs[0].clone()), (Side::B, legs[1].clone())] {
            self.b2bua_bye(ctx, id, &mut l, side, reason);
        }
        self.b2bua_session_over(ctx, id, cause);
        // Nothing more is bridged; the BYEs' answers end where they arrive.
        self.b2bua.remove(id);
        true
    }

    /// Sends a BYE of ours with `reason` on `leg`.
    fn b2bua_bye(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: u64,
        leg: &mut super::leg::UaLeg,
        side: Side,
        reason: &str,
    ) {
        let br = crate::proxy::branch::new_branch(0, ctx.rng);
        let Some(via) = crate::proxy::forward::via_value(&self.identity, &leg.dlg.hop, &br) else {
            return;
        };
        leg.dlg.cseq = leg.dlg.cseq.saturating_add(1);
        let bytes = leg::in_dialog_request(
            leg,
            &Method::Bye,
            leg.dlg.cseq,
            &via,
            None,
            None,
            &[("Reason", reason)],
            &self.server_name,
        );
        let client = ctx
            .layer
            .send_request(ctx.now, &br, &Method::Bye, bytes, None, leg.dlg.hop);
        self.stats.requests_forwarded += 1;
        self.b2bua.bridged.insert(
            client,
            Bridged {
                call: id,
                server: None,
                toward: side,
                cseq: leg.dlg.cseq,
                bye: true,
            },
        );
    }
}
