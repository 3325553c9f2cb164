//! Fork contexts (RFC 3261 §16.6–§16.10): one per proxied request, tracking its
//! branches, choosing the best final response (§16.7 step 6), forwarding
//! provisional and 2xx responses at once, and cancelling the other branches
//! when a 2xx or 6xx arrives or the caller sends CANCEL.

use super::forward::{self, ForwardSpec, RouteEdit, Target};
use super::{Ctx, Proxy, branch};
use crate::event::EndCause;
use crate::sip::{HeaderName, Message, Method, NameAddr, Splice, cancel_for};
use crate::transaction::{TxEvent, TxId};
use crate::transport::Flow;
use std::time::{Duration, Instant};

/// Timer C: longer than 3 minutes (§16.6 step 11).
pub const TIMER_C: Duration = Duration::from_secs(181);

/// The best final response so far.
#[derive(Debug, Clone)]
pub(crate) enum Best {
    /// A response a branch sent (our Via still on top).
    Received(Box<Message>),
    /// A response we must generate (408 after a timeout, 503 after a transport error).
    Local(u16),
}

impl Best {
    fn status(&self) -> u16 {
        match self {
            Self::Received(m) => m.status().unwrap_or(500),
            Self::Local(s) => *s,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub(super) client: TxId,
    pub(super) provisional: bool,
    pub(super) done: bool,
    pub(super) cancel_pending: bool,
    /// This branch resends a challenged one with credentials (answered
    /// once per challenge, RFC 3261 §22.2–§22.3).
    pub(super) auth_retry: bool,
    /// How much higher this branch's CSeq is than the caller's (an
    /// authenticated resend increments it, §8.1.3.5); responses get the
    /// caller's number back.
    pub(super) cseq_shift: u32,
}

impl Branch {
    /// A new branch with no answer yet.
    pub(crate) fn fresh(client: TxId) -> Self {
        Self {
            client,
            provisional: false,
            done: false,
            cancel_pending: false,
            auth_retry: false,
            cseq_shift: 0,
        }
    }

    /// A branch that resends a challenged one with credentials, its CSeq
    /// `cseq_shift` above the caller's.
    pub(super) fn resend(client: TxId, cseq_shift: u32) -> Self {
        Self {
            client,
            provisional: false,
            done: false,
            cancel_pending: false,
            auth_retry: true,
            cseq_shift,
        }
    }
}

/// One proxied request and its branches.
#[derive(Debug)]
pub struct Context {
    pub(super) invite: bool,
    pub(super) branches: Vec<Branch>,
    best: Option<Best>,
    pub(super) final_sent: bool,
    pub(super) cancelled: bool,
    /// A branch answered 2xx.
    pub(super) answered: bool,
    /// Timer C (§16.6 step 11): when an INVITE context gives up on branches that
    /// keep ringing without a final response.
    timer_c: Option<Instant>,
    pub(super) session: Option<(String, String)>,
    /// Routing state when the request is routed by prefix (issue 4): the
    /// remaining candidates for failover.
    pub(crate) route: Option<Box<super::routed::Routed>>,
    /// A call to one of our extensions (redirect, pickup; issue 4).
    pub(crate) ext: Option<Box<super::extfeat::ExtCall>>,
    /// CSeq shift of the branches [`Proxy::launch`] sends: non-zero for an
    /// in-dialog request of a call whose INVITE was resent with credentials.
    pub(super) launch_shift: u32,
}

impl Context {
    /// A context for `msg` with no branch yet.
    pub(crate) fn for_request(now: Instant, msg: &Message) -> Option<Self> {
        let invite = *msg.method()? == Method::Invite;
        Some(Self {
            timer_c: invite.then(|| now + TIMER_C),
            invite,
            branches: Vec::new(),
            best: None,
            final_sent: false,
            cancelled: false,
            answered: false,
            session: None,
            route: None,
            ext: None,
            launch_shift: 0,
        })
    }

    /// The best final status so far.
    pub(crate) fn best_status(&self) -> Option<u16> {
        self.best.as_ref().map(Best::status)
    }

    /// Makes `status` (generated locally) the response to send, whatever came before.
    pub(crate) fn set_best_local(&mut self, status: u16) {
        self.best = Some(Best::Local(status));
    }

    /// Forgets the best response (new branches start a new choice).
    pub(crate) fn take_best(&mut self) -> Option<Best> {
        self.best.take()
    }

    /// Puts back what [`Context::take_best`] took.
    pub(crate) fn restore_best(&mut self, b: Option<Best>) {
        self.best = b;
    }

    /// Offers a locally generated status as the best response (§16.7 step 6).
    pub(crate) fn offer_local(&mut self, status: u16) {
        if self
            .best
            .as_ref()
            .is_none_or(|b| rank(status) < rank(b.status()))
        {
            self.best = Some(Best::Local(status));
        }
    }
}

/// §16.7 step 6 preference: lower is better. 6xx beat everything; then the lowest
/// class; within 4xx, challenges and the codes a client can act on come first.
pub(super) fn rank(status: u16) -> (u8, u8, u16) {
    let class = (status / 100) as u8;
    let class_rank = if class == 6 { 0 } else { class };
    let pref = u8::from(!matches!(status, 401 | 407 | 415 | 420 | 484));
    (class_rank, pref, status)
}

impl Proxy {
    /// Creates the context and sends one branch per target.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fork(
        &mut self,
        ctx: &mut Ctx<'_>,
        tx: TxId,
        msg: &Message,
        flow: &Flow,
        edit: &RouteEdit,
        hash: u64,
        targets: Vec<Target>,
    ) {
        let Some(mut c) = Context::for_request(ctx.now, msg) else {
            return;
        };
        if self.process_3xx && c.invite {
            // Recursing on 3xx needs the serial machinery of routed requests.
            c.route = Some(Box::new(super::routed::Routed::for_redirects(
                edit.clone(),
                hash,
            )));
        }
        let shifted = self.shift_in_dialog(msg);
        let msg = match &shifted {
            Some((m, shift)) => {
                c.launch_shift = *shift;
                m
            }
            None => msg,
        };
        self.launch(ctx, tx, msg, flow, edit, hash, &targets, &mut c);
        if c.branches.is_empty() {
            return self.reply(
                ctx,
                tx,
                503,
                "Service Unavailable: no usable transport",
                &[],
            );
        }
        self.open_session(ctx, msg, &mut c);
        if msg.method() == Some(&Method::Bye)
            && let Some(from_tag) = msg.from_tag()
            && let Some(ended) =
                ctx.sessions
                    .end_dialog(msg.call_id(), from_tag, msg.to_tag(), true)
        {
            self.session_gone(&ended);
        }
        if msg.method() == Some(&Method::Bye) {
            self.forget_dialog_shift(msg);
        }
        self.insert_context(tx, c);
    }

    /// Stores a context and arms its Timer C.
    pub(crate) fn insert_context(&mut self, tx: TxId, c: Context) {
        if let Some(at) = c.timer_c {
            self.timer_c.insert((at, tx));
        }
        self.contexts.insert(tx, c);
    }

    /// Starts the session of an initial INVITE (none for a spiral of an active one).
    pub(crate) fn open_session(&mut self, ctx: &mut Ctx<'_>, msg: &Message, c: &mut Context) {
        if c.invite && msg.to_tag().is_none() {
            let caller = msg
                .header(HeaderName::From)
                .and_then(|f| NameAddr::parse(f).ok())
                .map(|n| n.uri.to_string())
                .unwrap_or_default();
            let from_tag = msg.from_tag().unwrap_or("").to_owned();
            let started = ctx.sessions.start(
                ctx.now,
                msg.call_id(),
                &from_tag,
                &caller,
                msg.request_uri().unwrap_or(""),
            );
            if started.is_some() {
                c.session = Some((msg.call_id().to_owned(), from_tag));
            }
        }
    }

    /// Sends one branch per target (skipping targets we have no transport
    /// for) and adds them to `c`. Returns how many were sent.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn launch(
        &mut self,
        ctx: &mut Ctx<'_>,
        tx: TxId,
        msg: &Message,
        flow: &Flow,
        edit: &RouteEdit,
        hash: u64,
        targets: &[Target],
        c: &mut Context,
    ) -> usize {
        let Some(method) = msg.method() else {
            return 0;
        };
        let invite = c.invite;
        let dialog_creating =
            self.record_route && msg.to_tag().is_none() && forward::creates_dialog(method);
        let too_large_for_udp = msg.raw().len() + 200 > forward::UDP_LIMIT;
        let mut sent = 0;
        for target in targets {
            // RFC 3261 §18.1.1: a request too large for UDP goes over TCP when the
            // target can be reached directly and we listen on TCP.
            let upgraded;
            let original = target;
            let target = if self.large_over_tcp
                && too_large_for_udp
                && target.direct
                && target.dest.transport == crate::Transport::Udp
                && self
                    .identity
                    .listener(crate::Transport::Tcp, Some(target.dest.remote))
                    .is_some()
            {
                let mut t = target.clone();
                t.dest.transport = crate::Transport::Tcp;
                t.dest.conn = None;
                t.dest.local = None;
                upgraded = t;
                &upgraded
            } else {
                target
            };
            let br = branch::new_branch(hash, ctx.rng);
            let Some(via) = forward::via_value(&self.identity, &target.dest, &br) else {
                continue;
            };
            let mut record_route = Vec::new();
            if dialog_creating {
                if let Some(out) = forward::record_route_value(
                    &self.identity,
                    target.dest.transport,
                    target.dest.local,
                    Some(target.dest.remote),
                ) {
                    record_route.push(out);
                }
                if flow.transport != target.dest.transport
                    && let Some(inn) = forward::record_route_value(
                        &self.identity,
                        flow.transport,
                        Some(flow.local),
                        Some(flow.remote),
                    )
                {
                    record_route.push(inn);
                }
            }
            let bytes = forward::build_forward(&ForwardSpec {
                msg,
                flow,
                routes: edit,
                target,
                via,
                record_route,
            });
            let client = if invite {
                // Parsed by the layer only if an ACK or CANCEL needs it.
                ctx.layer.send_invite(ctx.now, &br, bytes, target.dest)
            } else {
                ctx.layer
                    .send_request(ctx.now, &br, method, bytes, None, target.dest)
            };
            self.stats.requests_forwarded += 1;
            if target.dest.transport != original.dest.transport {
                // Sent over TCP for its size: over UDP again if TCP fails (§18.1.1).
                self.udp_fallback
                    .remember(client, original, msg, flow, edit, hash);
            }
            self.branches.insert(client, tx);
            c.branches.push(Branch {
                client,
                provisional: false,
                done: false,
                cancel_pending: false,
                auth_retry: false,
                cseq_shift: c.launch_shift,
            });
            sent += 1;
        }
        sent
    }

    /// Handles an event of the transaction layer; returns false if it was not ours.
    pub fn on_tx_event(&mut self, ctx: &mut Ctx<'_>, ev: TxEvent) -> bool {
        if self.b2bua_tx_event(ctx, &ev) {
            return true;
        }
        match ev {
            TxEvent::Response { tx, response, .. } => {
                self.udp_fallback.forget(tx);
                self.on_response(ctx, tx, *response)
            }
            TxEvent::Timeout { tx } => {
                self.udp_fallback.forget(tx);
                self.on_branch_failure(ctx, tx, 408)
            }
            TxEvent::TransportError { tx } => {
                self.fall_back_to_udp(ctx, tx) || self.on_branch_failure(ctx, tx, 503)
            }
            TxEvent::Terminated { tx, server: false } => {
                self.udp_fallback.forget(tx);
                self.cancels.remove(&tx);
                self.branches.remove(&tx).is_some()
            }
            TxEvent::Terminated { tx, server: true } => {
                if let Some(c) = self.contexts.get(&tx)
                    && (c.branches.iter().all(|b| b.done) || c.final_sent)
                {
                    self.contexts.remove(&tx);
                }
                true
            }
            _ => false,
        }
    }

    fn on_response(&mut self, ctx: &mut Ctx<'_>, client: TxId, response: Message) -> bool {
        if self.cancels.contains(&client) {
            return true; // responses to our CANCELs end there
        }
        let Some(&server) = self.branches.get(&client) else {
            return false;
        };
        let Some(status) = response.status() else {
            return true;
        };
        // Issue 4: a destination's challenge is answered with its credentials.
        if matches!(status, 401 | 407)
            && self.answer_next_hop_challenge(ctx, server, client, &response, status)
        {
            if let Some(new) = self
                .contexts
                .get(&server)
                .and_then(|c| c.branches.last())
                .map(|b| b.client)
            {
                self.b2bua.resent(client, new);
            }
            return true;
        }
        // A B2BUA call's B leg answers: rewritten as the A leg's response.
        let response = if self.is_b2bua_attempt(client) {
            match self.b2bua_response(ctx, server, client, response, status) {
                Some(r) => r,
                None => return true,
            }
        } else {
            self.unshift_response(server, client, response, status)
        };
        let Some(c) = self.contexts.get_mut(&server) else {
            return true;
        };
        let Some(bi) = c.branches.iter().position(|b| b.client == client) else {
            return true;
        };
        match status {
            100..=199 => {
                // Any provisional response, 100 included, makes the branch cancellable (§9.1).
                c.branches[bi].provisional = true;
                // §16.7 step 2: a provisional response "101 to 199 inclusive
                // (i.e., anything but 100)" restarts Timer C; a 100 only says the
                // next hop got the request, not that anyone is ringing.
                if status > 100
                    && let Some(old) = c.timer_c.replace(ctx.now + TIMER_C)
                {
                    self.timer_c.remove(&(old, server));
                    self.timer_c.insert((ctx.now + TIMER_C, server));
                }
                if c.branches[bi].cancel_pending {
                    c.branches[bi].cancel_pending = false;
                    self.send_cancel(ctx, client);
                } else if status > 100 && !self.contexts.get(&server).is_some_and(|c| c.final_sent)
                {
                    // 100 is hop-by-hop (§16.7 step 5): never forwarded.
                    self.relay(ctx, server, &response, status);
                }
            }
            200..=299 => {
                c.branches[bi].done = true;
                let first = !c.final_sent;
                c.final_sent = true;
                c.answered = true;
                let session = c.session.clone();
                let others: Vec<TxId> = c
                    .branches
                    .iter()
                    .filter(|b| !b.done)
                    .map(|b| b.client)
                    .collect();
                let held = c.route.as_mut().and_then(|r| r.current.take());
                // What the session needs of the dialog, before the 2xx ends the transactions.
                let leg =
                    first.then(|| super::session_limit::AnsweredLeg::capture(ctx, server, client));
                self.relay(ctx, server, &response, status);
                if first {
                    let answered = session.is_some_and(|(cid, ft)| {
                        ctx.sessions.answer(ctx.now, &cid, &ft, response.to_tag())
                    });
                    if answered {
                        self.stats.successful_calls += 1;
                        if let Some(ft) = response.from_tag() {
                            let se = super::session_idle::session_expires(&response);
                            self.idle.arm(ctx.now, response.call_id(), ft, se);
                        }
                        if let Some(Some(leg)) = leg {
                            self.session_answered(ctx, leg, &response);
                        }
                    }
                    // A routed call's count against its destination's capacity
                    // passes to the session (released when it ends); without
                    // a session the request is over now.
                    if let Some(h) = held
                        && !answered
                    {
                        self.router.release(&h.name);
                    }
                    for o in others {
                        self.cancel_branch(ctx, server, o);
                    }
                }
            }
            300..=399 if super::serial::recurse_on_3xx(self.process_3xx, c, &response) => {
                // §16.7 step 4: the Contacts join the target set; the 3xx is not kept.
                c.branches[bi].done = true;
                self.maybe_finish(ctx, server);
            }
            _ => {
                c.branches[bi].done = true;
                if let Some(r) = c.route.as_mut() {
                    r.note(status);
                }
                let better = c
                    .best
                    .as_ref()
                    .is_none_or(|b| rank(status) < rank(b.status()));
                if better {
                    c.best = Some(Best::Received(Box::new(response)));
                }
                if status >= 600 && !c.final_sent {
                    let others: Vec<TxId> = c
                        .branches
                        .iter()
                        .filter(|b| !b.done)
                        .map(|b| b.client)
                        .collect();
                    for o in others {
                        self.cancel_branch(ctx, server, o);
                    }
                }
                self.maybe_finish(ctx, server);
            }
        }
        true
    }

    fn on_branch_failure(&mut self, ctx: &mut Ctx<'_>, client: TxId, status: u16) -> bool {
        if self.cancels.contains(&client) {
            return true;
        }
        let Some(&server) = self.branches.get(&client) else {
            return false;
        };
        if let Some(c) = self.contexts.get_mut(&server) {
            if let Some(b) = c.branches.iter_mut().find(|b| b.client == client) {
                b.done = true;
            }
            if let Some(r) = c.route.as_mut() {
                r.note(status);
            }
            if c.best
                .as_ref()
                .is_none_or(|b| rank(status) < rank(b.status()))
            {
                c.best = Some(Best::Local(status));
            }
        }
        self.maybe_finish(ctx, server);
        true
    }

    /// When every branch has a final answer, send the best one upstream (§16.7 step 5–6).
    pub(crate) fn maybe_finish(&mut self, ctx: &mut Ctx<'_>, server: TxId) {
        let Some(c) = self.contexts.get(&server) else {
            return;
        };
        if c.final_sent || !c.branches.iter().all(|b| b.done) {
            return;
        }
        // A busy or unanswered extension goes to its redirect target (issue 4).
        let ext_call = c.ext.is_some();
        if ext_call && self.redirect_on_failure(ctx, server) {
            return;
        }
        // A routed request fails over to its next candidate (issue 4).
        let Some(c) = self.contexts.get(&server) else {
            return;
        };
        if c.route.is_some() && self.fail_over(ctx, server) {
            return;
        }
        let Some(c) = self.contexts.get_mut(&server) else {
            return;
        };
        c.final_sent = true;
        if let Some(h) = c.route.as_mut().and_then(|r| r.current.take()) {
            self.router.release(&h.name);
        }
        let Some(c) = self.contexts.get_mut(&server) else {
            return;
        };
        // No branch at all: a routed request whose routes matched but whose
        // destinations were all unusable (503); otherwise every branch timed out.
        let fallback = if c.route.is_some() { 503 } else { 408 };
        let best = c.best.take().unwrap_or(Best::Local(fallback));
        let cancelled = c.cancelled;
        let invite = c.invite;
        let session = c.session.take();
        let status = best.status();
        match best {
            Best::Received(m) => self.relay(ctx, server, &m, status),
            Best::Local(s) => {
                let reason = match s {
                    408 => "Request Timeout",
                    480 => "Temporarily Unavailable",
                    487 => "Request Terminated",
                    _ => "Service Unavailable",
                };
                self.reply(ctx, server, s, reason, &[]);
            }
        }
        if invite {
            self.stats.failed_calls += 1;
            if let Some((cid, ft)) = session {
                let cause = if cancelled {
                    EndCause::Cancelled
                } else if status == 408 {
                    EndCause::Timeout
                } else {
                    EndCause::Rejected(status)
                };
                ctx.sessions.end(&cid, &ft, cause);
            }
        }
    }

    /// Sends a branch's response upstream with our Via removed (§16.7 step 8–9).
    fn relay(&mut self, ctx: &mut Ctx<'_>, server: TxId, response: &Message, status: u16) {
        let mut s = Splice::new(response);
        s.remove_first_value(HeaderName::Via);
        let bytes = s.to_bytes();
        self.stats.responses_forwarded += 1;
        if !ctx.layer.respond(ctx.now, server, status, bytes.clone())
            && (200..300).contains(&status)
        {
            // RFC 6026: another 2xx after the first (a retransmission or another fork's answer)
            // passes through the Accepted server transaction; if it is gone, send it on its flow.
            ctx.layer.send_on_server_flow(server, bytes);
        }
    }

    /// The caller sent CANCEL for `server` (§16.10). The CANCEL itself was answered by the engine.
    pub fn on_cancel(&mut self, ctx: &mut Ctx<'_>, server: TxId) {
        let Some(c) = self.contexts.get_mut(&server) else {
            // Not proxied (yet): the request is still ours to answer.
            if ctx.layer.server_is_pending(server) {
                self.reply(ctx, server, 487, "Request Terminated", &[]);
            }
            return;
        };
        if c.final_sent {
            return;
        }
        c.cancelled = true;
        let any_provisional = c.branches.iter().any(|b| b.provisional && !b.done);
        let open: Vec<TxId> = c
            .branches
            .iter()
            .filter(|b| !b.done)
            .map(|b| b.client)
            .collect();
        for o in open {
            self.cancel_branch(ctx, server, o);
        }
        if !any_provisional {
            // No branch has answered yet, so none can be cancelled now; answer the caller at once.
            if let Some(c) = self.contexts.get_mut(&server) {
                c.best = Some(Best::Local(487));
                for b in &mut c.branches {
                    b.done = true;
                }
            }
            self.maybe_finish(ctx, server);
        }
    }

    /// CANCEL one branch now if it has had a provisional response, else when it gets one (§9.1).
    pub(super) fn cancel_branch(&mut self, ctx: &mut Ctx<'_>, server: TxId, client: TxId) {
        let Some(c) = self.contexts.get_mut(&server) else {
            return;
        };
        let Some(b) = c.branches.iter_mut().find(|b| b.client == client) else {
            return;
        };
        if !c.invite {
            return;
        }
        if b.provisional {
            self.send_cancel(ctx, client);
        } else {
            b.cancel_pending = true;
        }
    }

    fn send_cancel(&mut self, ctx: &mut Ctx<'_>, client: TxId) {
        let (Some(inv), Some(dest)) = (
            ctx.layer.client_invite(client),
            ctx.layer.client_destination(client),
        ) else {
            return;
        };
        let Some(br) = inv.top_via_branch().map(str::to_owned) else {
            return;
        };
        let mut bytes = cancel_for(inv);
        let answered = self
            .branches
            .get(&client)
            .and_then(|server| self.contexts.get(server))
            .is_some_and(|c| c.answered);
        if answered {
            // RFC 3326: tell the other phones the call was answered elsewhere, so they
            // do not log it as missed.
            bytes = with_header(
                &bytes,
                "Reason: SIP;cause=200;text=\"Call completed elsewhere\"",
            );
        }
        let id = ctx
            .layer
            .send_request(ctx.now, &br, &Method::Cancel, bytes, None, dest);
        self.cancels.insert(id);
        self.stats.requests_forwarded += 1;
    }

    /// The next Timer C deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let c = self.timer_c.first().map(|(t, _)| *t);
        c.into_iter()
            .chain(self.ext.next_deadline())
            .chain(self.dns.poll_timeout())
            .chain(self.idle.next_deadline())
            .min()
    }

    /// Fires Timer C for every context whose deadline passed: branches that had a
    /// provisional response are cancelled (their 487 completes the context), the
    /// others are given up as if they had answered 408 (§16.8).
    pub fn handle_timeout(&mut self, ctx: &mut Ctx<'_>) {
        self.ring_timeouts(ctx);
        self.session_timeouts(ctx);
        self.idle_timeouts(ctx);
        self.dns.handle_timeout(ctx.now, ctx.rng);
        self.pump_dns(ctx);
        while let Some(&(at, server)) = self.timer_c.first() {
            if at > ctx.now {
                break;
            }
            self.timer_c.remove(&(at, server));
            let Some(c) = self.contexts.get_mut(&server) else {
                continue;
            };
            c.timer_c = None;
            if c.final_sent {
                continue;
            }
            if let Some(r) = c.route.as_mut() {
                r.exhausted = true; // the call rang long enough: no failover
            }
            // §16.8: a branch that had a provisional response is cancelled (its 487
            // completes it); one that had none behaves as if it got a 408.
            let mut to_cancel = Vec::new();
            let mut gave_up = false;
            for b in c.branches.iter_mut().filter(|b| !b.done) {
                if b.provisional {
                    to_cancel.push(b.client);
                } else {
                    b.done = true;
                    gave_up = true;
                }
            }
            if gave_up && c.best.as_ref().is_none_or(|b| rank(408) < rank(b.status())) {
                c.best = Some(Best::Local(408));
            }
            for client in to_cancel {
                self.send_cancel(ctx, client);
            }
            self.maybe_finish(ctx, server);
        }
    }
}

/// Inserts one header line just before the final `Content-Length` line of a
/// message we built ourselves (so the header block stays well formed).
fn with_header(msg: &bytes::Bytes, line: &str) -> bytes::Bytes {
    let text = msg.as_ref();
    let Some(at) = text
        .windows(17)
        .rposition(|w| w.eq_ignore_ascii_case(b"\r\nContent-Length:"))
    else {
        return msg.clone();
    };
    let mut out = Vec::with_capacity(text.len() + line.len() + 2);
    out.extend_from_slice(&text[..at + 2]);
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&text[at + 2..]);
    bytes::Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_goes_before_content_length() {
        let head = "CANCEL sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                    From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 CANCEL\r\n";
        let m = bytes::Bytes::from(format!("{head}Content-Length: 0\r\n\r\n"));
        let out = with_header(&m, "Reason: SIP;cause=200");
        let want = format!("{head}Reason: SIP;cause=200\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(&out[..], want.as_bytes());
        let parsed = Message::parse(out, &Default::default()).expect("still a valid message");
        assert_eq!(parsed.header_named("Reason"), Some("SIP;cause=200"));
    }

    #[test]
    fn best_response_ranking_follows_16_7() {
        assert!(rank(603) < rank(404), "6xx wins");
        assert!(rank(302) < rank(404), "lower class wins");
        assert!(rank(407) < rank(404), "challenges are preferred among 4xx");
        assert!(rank(404) < rank(503));
    }
}
