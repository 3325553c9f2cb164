//! The server ends calls itself (issue 4): the maximum session duration and
//! the operator's terminate command send a BYE to both sides.
//!
//! A record-routing proxy (RFC 3261 §16.6 step 4) stays on the dialog's path,
//! so when the 2xx passes it records each side's Contact, Route set, tags and
//! CSeq ([`crate::dialog::DialogPath`]). To end the call it builds, toward
//! each party, the in-dialog request the *other* party would send (§12.2.1.1:
//! Request-URI = remote target, Route = route set, From/To with the dialog's
//! tags, CSeq = the last one seen toward that party plus one) with a
//! `Reason` header (RFC 3326) saying why, and sends each in its own
//! non-INVITE client transaction (§17.1.2) whose 200 ends there. The session
//! ends at once with its cause; a BYE that crosses ours is forwarded as usual
//! and answered 481 by a party that already ended the dialog (§15.1.2).
//!
//! A call still ringing when terminated is CANCELled instead (§9.1, §16.10):
//! the caller gets 487.

use super::forward::{self, flow_destination};
use super::{Ctx, Proxy, branch};
use crate::dialog::{DialogPath, Leg, SessionState, split_record_route};
use crate::event::EndCause;
use crate::sip::{HeaderName, Message, Method, NameAddr, RequestBuilder, parse_name_addr_list};
use crate::transaction::TxId;

/// The `Reason` (RFC 3326) of a BYE sent when the maximum session duration is reached.
pub const REASON_MAX_DURATION: &str = "SIP;cause=200;text=\"Maximum session duration reached\"";
/// The `Reason` of a BYE sent on the operator's command.
pub const REASON_TERMINATED: &str = "SIP;cause=200;text=\"Terminated by the operator\"";

/// The URI inside a Contact value, as text.
fn contact_uri(msg: &Message) -> Option<String> {
    let c = msg.header(HeaderName::Contact)?;
    let first = parse_name_addr_list(c).ok()?.into_iter().next()?;
    Some(first.uri.to_string())
}

/// What is known of an INVITE's server side and answering branch when its
/// 2xx arrives (taken before relaying it ends the transactions).
pub(crate) struct AnsweredLeg {
    invite: Message,
    flow: crate::transport::Flow,
    branch_dest: Option<crate::transaction::Destination>,
}

impl AnsweredLeg {
    /// Takes it from the transaction layer.
    pub(crate) fn capture(ctx: &Ctx<'_>, server: TxId, client: TxId) -> Option<Self> {
        Some(Self {
            invite: ctx.layer.server_request(server)?.clone(),
            flow: ctx.layer.server_flow(server)?,
            branch_dest: ctx.layer.client_destination(client),
        })
    }
}

impl Proxy {
    /// A 2xx answered the INVITE `leg` describes: keeps the dialog's path in
    /// the session and arms the maximum session duration.
    pub(crate) fn session_answered(&mut self, ctx: &mut Ctx<'_>, leg: AnsweredLeg, ok: &Message) {
        let AnsweredLeg {
            invite,
            flow,
            branch_dest,
        } = leg;
        let invite = &invite;
        let Some(from_tag) = invite.from_tag().map(str::to_owned) else {
            return;
        };
        let call_id = invite.call_id().to_owned();
        if let Some(path) = self.dialog_path(ctx, invite, flow, branch_dest, ok) {
            ctx.sessions.set_path(&call_id, &from_tag, path);
        }
        if let Some(d) = self.ext.max_session {
            self.ext.session.insert((ctx.now + d, call_id, from_tag));
        }
    }

    /// Works out both legs of the dialog an INVITE and its 2xx set up.
    fn dialog_path(
        &self,
        ctx: &Ctx<'_>,
        invite: &Message,
        flow: crate::transport::Flow,
        branch_dest: Option<crate::transaction::Destination>,
        ok: &Message,
    ) -> Option<DialogPath> {
        let mut rr: Vec<String> = Vec::new();
        for v in ok.header_values(HeaderName::RecordRoute) {
            rr.extend(parse_name_addr_list(v).ok()?.iter().map(|n| n.to_string()));
        }
        let (toward_callee, toward_caller) = split_record_route(&rr, |e| {
            NameAddr::parse(e).ok().is_some_and(|n| {
                n.uri
                    .as_sip()
                    .is_some_and(|u| self.identity.is_us(&u.host, u.port, u.transport_kind()))
            })
        })?;
        let resolve = |uri: &str| {
            let n = NameAddr::parse(uri).ok()?;
            forward::resolve(ctx.registrar, n.uri.as_sip()?)
        };
        let hop = |routes: &[String], target: &str, direct: Option<_>| match routes.first() {
            None => direct.or_else(|| resolve(target)),
            Some(r) => resolve(r),
        };
        let caller_target = contact_uri(invite)?;
        let callee_target = contact_uri(ok)?;
        let inv_from = invite.header(HeaderName::From)?.to_owned();
        let ok_to = ok.header(HeaderName::To)?.to_owned();
        Some(DialogPath {
            caller: Leg {
                hop: hop(
                    &toward_caller,
                    &caller_target,
                    Some(flow_destination(&flow)),
                )?,
                target: caller_target,
                routes: toward_caller,
                from: ok_to.clone(),
                to: inv_from.clone(),
                cseq: 0,
            },
            callee: Leg {
                hop: hop(&toward_callee, &callee_target, branch_dest)?,
                target: callee_target,
                routes: toward_callee,
                from: inv_from,
                to: ok_to,
                cseq: invite.cseq().seq,
            },
        })
    }

    /// Sends a BYE along one leg.
    fn send_bye(&mut self, ctx: &mut Ctx<'_>, call_id: &str, leg: &Leg, reason: &str) {
        let br = branch::new_branch(0, ctx.rng);
        let Some(via) = forward::via_value(&self.identity, &leg.hop, &br) else {
            return;
        };
        let mut b = RequestBuilder::new(&Method::Bye, &leg.target)
            .header(HeaderName::Via, via)
            .header(HeaderName::MaxForwards, 70);
        for r in &leg.routes {
            b = b.header(HeaderName::Route, r);
        }
        let bytes = b
            .header(HeaderName::From, &leg.from)
            .header(HeaderName::To, &leg.to)
            .header(HeaderName::CallId, call_id)
            .header(
                HeaderName::CSeq,
                format!("{} BYE", leg.cseq.saturating_add(1)),
            )
            .header_raw("Reason", reason)
            .header(HeaderName::UserAgent, &self.server_name)
            .build();
        ctx.layer
            .send_request(ctx.now, &br, &Method::Bye, bytes, None, leg.hop);
        self.stats.requests_forwarded += 1;
    }

    /// Ends an answered session: a BYE to each side (when its path is known),
    /// then the session with `cause`. Returns false if no such answered session.
    pub(super) fn end_answered(
        &mut self,
        ctx: &mut Ctx<'_>,
        call_id: &str,
        from_tag: &str,
        cause: EndCause,
        reason: &str,
    ) -> bool {
        let Some(s) = ctx.sessions.get(call_id, from_tag) else {
            return false;
        };
        if s.state != SessionState::Answered {
            return false;
        }
        if self.b2bua_end(ctx, call_id, from_tag, cause.clone(), reason) {
            return true;
        }
        let Some(s) = ctx.sessions.get(call_id, from_tag) else {
            return false;
        };
        if let Some(p) = s.path.clone() {
            self.send_bye(ctx, call_id, &p.caller, reason);
            // The callee saw the caller's CSeqs shifted when we resent the
            // INVITE with a destination's credentials (nexthop_auth.rs): its
            // BYE must be above the INVITE it answered (RFC 3261 §12.2.2).
            let shift = self
                .dialog_shifts
                .get(&(call_id.to_owned(), from_tag.to_owned()))
                .copied()
                .unwrap_or(0);
            let mut callee = p.callee.clone();
            callee.cseq = callee.cseq.saturating_add(shift);
            self.send_bye(ctx, call_id, &callee, reason);
        }
        if let Some(ended) = ctx.sessions.end(call_id, from_tag, cause) {
            self.session_gone(&ended);
        }
        true
    }

    /// Fires the session limits that passed.
    pub(crate) fn session_timeouts(&mut self, ctx: &mut Ctx<'_>) {
        while let Some((at, cid, ft)) = self.ext.session.first().cloned() {
            if at > ctx.now {
                break;
            }
            self.ext.session.remove(&(at, cid.clone(), ft.clone()));
            // Only the session the deadline was armed for (answered at `at - max`).
            let due = ctx.sessions.get(&cid, &ft).is_some_and(|s| {
                s.answered
                    .zip(self.ext.max_session)
                    .is_some_and(|(a, d)| a + d <= ctx.now)
            });
            if due {
                self.end_answered(ctx, &cid, &ft, EndCause::Timeout, REASON_MAX_DURATION);
            }
        }
    }

    /// Ends every session with this Call-ID on the operator's command: BYE to
    /// both sides when answered, CANCEL of the branches when still ringing.
    /// Returns how many sessions it ended.
    pub fn terminate_session(&mut self, ctx: &mut Ctx<'_>, call_id: &str) -> usize {
        let keys: Vec<(String, SessionState)> = ctx
            .sessions
            .iter()
            .filter(|s| s.call_id == call_id)
            .map(|s| (s.from_tag.clone(), s.state))
            .collect();
        let mut ended = 0;
        for (ft, state) in keys {
            if state == SessionState::Answered {
                if self.end_answered(ctx, call_id, &ft, EndCause::Terminated, REASON_TERMINATED) {
                    ended += 1;
                }
                continue;
            }
            let server = self.contexts.iter().find_map(|(tx, c)| {
                c.session
                    .as_ref()
                    .is_some_and(|(cid, f)| cid == call_id && *f == ft)
                    .then_some(*tx)
            });
            if let Some(s) = ctx.sessions.end(call_id, &ft, EndCause::Terminated) {
                self.session_gone(&s);
                ended += 1;
            }
            if let Some(server) = server {
                self.on_cancel(ctx, server);
            }
        }
        ended
    }
}
