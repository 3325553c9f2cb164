//! The transaction-stateful proxy (RFC 3261 §16): the engine's transaction user
//! for everything that is not answered by the registrar.
//!
//! For each new request it validates (§16.3: Max-Forwards → 483, loops → 482,
//! Proxy-Require → 420), pre-processes the Route set (§16.4, loose routing and
//! strict-router compatibility), answers what is addressed to the server
//! itself (REGISTER through the registrar, OPTIONS locally, others 405/501),
//! authenticates callers of our domain (407), determines the targets (the
//! location service for our domain's users: 404 unknown, 480 unregistered;
//! the Route set otherwise; no open relay: 403) and forks to all of them in
//! parallel ([`context`]). Numbers of our domain that are not local
//! extensions go out through the routing table ([`routed`], issue 4). ACKs for 2xx and responses that match no
//! transaction are forwarded statelessly ([`forward`]).

pub mod b2bua;
pub mod branch;
pub mod context;
pub mod extfeat;
pub mod forward;
pub mod indialog_dns;
pub mod nexthop_auth;
pub mod pickup;
pub mod routed;
pub mod serial;
pub mod session_idle;
pub mod session_limit;
pub mod udp_fallback;

use crate::auth::Verdict;
use crate::config::Config;
use crate::dialog::Sessions;
use crate::event::Event;
use crate::identity::Identity;
use crate::io::Transmit;
use crate::registrar::Registrar;
use crate::rng::{Rng, SeededState};
use crate::sip::{
    HeaderName, Message, Method, NameAddr, ParseError, ResponseBuilder, Uri, parse_name_addr_list,
    parse_tokens,
};
use crate::transaction::layer::dest_transmit;
use crate::transaction::{Layer, TxId};
use crate::transport::Flow;
use context::Context;
use forward::{RouteEdit, Target};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Instant;

/// Methods we proxy and list in `Allow` when answering OPTIONS.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, REFER, MESSAGE, PUBLISH";

/// The services the proxy uses while handling one input (borrowed from the engine).
pub struct Ctx<'a> {
    /// The input's time.
    pub now: Instant,
    /// The transaction layer.
    pub layer: &'a mut Layer,
    /// The registrar (directory, bindings, authenticator).
    pub registrar: &'a mut Registrar,
    /// Active sessions.
    pub sessions: &'a mut Sessions,
    /// The engine's RNG.
    pub rng: &'a mut Rng,
}

/// Proxy counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProxyStats {
    /// Requests forwarded (one per branch, ACKs included).
    pub requests_forwarded: u64,
    /// Responses forwarded upstream.
    pub responses_forwarded: u64,
    /// Responses generated locally.
    pub responses_sent: u64,
    /// INVITEs that got a 2xx.
    pub successful_calls: u64,
    /// INVITEs that ended with a final failure.
    pub failed_calls: u64,
    /// Requests answered with 407/401 after credentials failed.
    pub auth_failures: u64,
    /// Responses and ACKs dropped (no route).
    pub dropped: u64,
    /// Branches sent over TCP for their size whose connection failed, sent
    /// again over UDP (RFC 3261 §18.1.1, [`udp_fallback`]).
    pub udp_fallbacks: u64,
}

/// Proxy state: fork contexts and the client transactions that belong to them.
#[derive(Debug)]
pub struct Proxy {
    identity: Identity,
    loop_keys: SeededState,
    record_route: bool,
    call_auth: bool,
    large_over_tcp: bool,
    server_name: String,
    contexts: BTreeMap<TxId, Context>,
    timer_c: BTreeSet<(Instant, TxId)>,
    branches: BTreeMap<TxId, TxId>,
    cancels: BTreeSet<TxId>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    router: crate::routing::RoutingTable,
    ext: extfeat::ExtFeatures,
    /// DNS jobs and cache (RFC 3263, ENUM).
    dns: crate::dns::Resolver,
    /// What each DNS job was started for.
    dns_waiters: BTreeMap<crate::dns::JobId, serial::Waiter>,
    /// ENUM suffix when ENUM is on (RFC 6116).
    enum_suffix: Option<String>,
    /// Recurse on 3xx instead of relaying them.
    process_3xx: bool,
    /// CSeq shifts of dialogs whose INVITE we resent with credentials, by
    /// (Call-ID, caller's From tag) ([`nexthop_auth`]).
    dialog_shifts: BTreeMap<(String, String), u32>,
    /// Calls to UA-type destinations, bridged as a B2BUA ([`b2bua`]).
    b2bua: b2bua::B2bua,
    /// Requests waiting for their next hop's address ([`indialog_dns`]).
    held: BTreeMap<crate::dns::JobId, indialog_dns::Held>,
    /// Idle deadlines of answered sessions ([`session_idle`]).
    idle: session_idle::IdleSessions,
    /// Branches upgraded to TCP that may fall back to UDP ([`udp_fallback`]).
    udp_fallback: udp_fallback::UdpFallbacks,
    /// Counters.
    pub stats: ProxyStats,
}

impl Proxy {
    /// A proxy for `cfg`.
    pub fn new(cfg: &Config, rng: &mut Rng) -> Self {
        Self {
            identity: Identity::new(cfg),
            loop_keys: rng.hasher(),
            record_route: cfg.record_route,
            call_auth: cfg.call_auth,
            large_over_tcp: cfg.large_requests_over_tcp,
            server_name: cfg.server_name.clone(),
            contexts: BTreeMap::new(),
            timer_c: BTreeSet::new(),
            branches: BTreeMap::new(),
            cancels: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            router: crate::routing::RoutingTable::default(),
            ext: extfeat::ExtFeatures::new(cfg),
            dns: crate::dns::Resolver::default(),
            dns_waiters: BTreeMap::new(),
            enum_suffix: cfg.enum_enabled.then(|| cfg.enum_suffix.clone()),
            process_3xx: cfg.process_3xx_locally,
            dialog_shifts: BTreeMap::new(),
            b2bua: b2bua::B2bua::default(),
            held: BTreeMap::new(),
            idle: session_idle::IdleSessions::new(cfg.session_idle_timeout),
            udp_fallback: udp_fallback::UdpFallbacks::default(),
            stats: ProxyStats::default(),
        }
    }

    /// Live B2BUA calls (UA-type destinations).
    pub fn b2bua_call_count(&self) -> usize {
        self.b2bua.len()
    }

    /// Live fork contexts (one per proxied request awaiting its final response).
    pub fn context_count(&self) -> usize {
        self.contexts.len()
    }

    /// Stateless sends (ACK for 2xx, stray responses).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Events (authentication failures).
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Sends a locally generated response on server transaction `tx`.
    pub(crate) fn reply(
        &mut self,
        ctx: &mut Ctx<'_>,
        tx: TxId,
        status: u16,
        reason: &str,
        extra: &[(HeaderName, String)],
    ) {
        let Some(req) = ctx.layer.server_request(tx) else {
            return;
        };
        let mut b = ResponseBuilder::for_request(req, status, reason);
        if let Some(flow) = ctx.layer.server_flow(tx) {
            b = b.received_from(flow.remote);
        }
        if status > 100 {
            b = b.to_tag(&ctx.rng.tag());
        }
        for (n, v) in extra {
            b = b.header(*n, v);
        }
        let bytes = b.header(HeaderName::Server, &self.server_name).build();
        self.stats.responses_sent += 1;
        ctx.layer.respond(ctx.now, tx, status, bytes);
    }

    /// Handles a new request on server transaction `tx`. `merged` says the transaction
    /// layer saw another live transaction with the same From tag, Call-ID and CSeq
    /// (§8.2.2.2); that only matters for requests we answer as a UAS (REGISTER,
    /// OPTIONS to the server): a proxied request that comes back is a spiral or a
    /// loop, judged by §16.3 step 4.
    pub fn on_request(&mut self, ctx: &mut Ctx<'_>, tx: TxId, merged: bool) {
        let (Some(msg), Some(flow)) = (
            ctx.layer.server_request(tx).cloned(),
            ctx.layer.server_flow(tx),
        ) else {
            return;
        };
        let Some(method) = msg.method().cloned() else {
            return;
        };
        // In-dialog requests of a B2BUA call are bridged to its other leg.
        if msg.to_tag().is_some() && self.b2bua_request(ctx, tx, &msg) {
            return;
        }

        // §16.3 step 3: Max-Forwards.
        let max_forwards = match msg.max_forwards() {
            Ok(mf) => mf,
            Err(e) => return self.reply(ctx, tx, 400, &e.reason(), &[]),
        };
        // §16.3 step 6: Proxy-Require — we support no extension as a proxy.
        let unsupported: Vec<&str> = msg
            .header_values(HeaderName::ProxyRequire)
            .flat_map(parse_tokens)
            .collect();
        if !unsupported.is_empty() {
            let list = unsupported.join(", ");
            return self.reply(
                ctx,
                tx,
                420,
                "Bad Extension",
                &[(HeaderName::Unsupported, list)],
            );
        }
        // Route set and Request-URI (§16.4).
        let ruri = match Uri::parse(msg.request_uri().unwrap_or("")) {
            Ok(u) => u,
            Err(ParseError::UnsupportedScheme) => {
                return self.reply(ctx, tx, 416, "Unsupported URI Scheme", &[]);
            }
            Err(e) => return self.reply(ctx, tx, 400, &e.reason(), &[]),
        };
        let (mut edit, remaining) = match self.route_edit(&msg, &ruri) {
            Ok(x) => x,
            Err(e) => return self.reply(ctx, tx, 400, &e.reason(), &[]),
        };
        let ruri = match &edit.request_uri {
            Some(r) => match Uri::parse(r) {
                Ok(u) => u,
                Err(e) => return self.reply(ctx, tx, 400, &e.reason(), &[]),
            },
            None => ruri,
        };
        let sip_ruri = ruri.as_sip();
        let to_server = remaining.is_empty()
            && sip_ruri.as_ref().is_some_and(|u| {
                u.user.is_none()
                    && (self.identity.is_our_domain_uri(&u.host, u.port)
                        || self.identity.is_us(&u.host, u.port, u.transport_kind()))
            });
        // Requests for the server itself.
        if remaining.is_empty() && method == Method::Register {
            if sip_ruri.as_ref().is_some_and(|u| {
                self.identity.is_our_domain(&u.host) || self.identity.is_us(&u.host, u.port, None)
            }) {
                if merged {
                    return self.merged_reply(ctx, tx);
                }
                let reply = ctx.registrar.handle_register(ctx.now, &msg, flow, ctx.rng);
                self.stats.responses_sent += 1;
                if reply.status == 401 {
                    // A challenge keeps no state (RFC 3261 §8.2.7); see `Layer::respond_stateless`.
                    ctx.layer.respond_stateless(tx, reply.response);
                } else {
                    ctx.layer.respond(ctx.now, tx, reply.status, reply.response);
                }
                return;
            }
            return self.reply(ctx, tx, 403, "Forbidden: relaying denied", &[]);
        }
        if to_server {
            if merged {
                return self.merged_reply(ctx, tx);
            }
            return self.answer_locally(ctx, tx, &msg, &method);
        }
        if max_forwards == Some(0) {
            return self.reply(ctx, tx, 483, "Too Many Hops", &[]);
        }
        // §16.3 step 4: loop detection.
        let hash = branch::loop_hash(&self.loop_keys, &msg);
        if self.is_loop(&msg) {
            return self.reply(ctx, tx, 482, "Loop Detected", &[]);
        }
        // Authenticate callers who claim to be ours (initial requests only);
        // requests from a destination's gateway are trusted (TekSIP, issue 4).
        let initial = msg.to_tag().is_none();
        let from_gateway = self.is_from_gateway(&flow);
        let from_us = self.is_from_our_domain(&msg);
        if initial
            && self.call_auth
            && !from_gateway
            && !matches!(method, Method::Ack | Method::Cancel)
            && from_us
        {
            if !self.authorize(ctx, tx, &msg, &method) {
                return;
            }
            // The credentials were for us; the next hop has no use for them (RFC 3665 §3.2).
            edit.strip_credentials = true;
        }
        // Who may have calls routed out: our own (authenticated when call
        // authentication is on, which the check above enforced). Gateways are
        // trusted toward our extensions only: a source address can be spoofed
        // over UDP, and routing their calls out again would be toll fraud.
        // Foreign callers never reach routes (no open relay).
        let may_route = from_us && !from_gateway;
        if !initial && let (Some(ft), Some(tt)) = (msg.from_tag(), msg.to_tag()) {
            ctx.sessions
                .note_in_dialog(msg.call_id(), ft, tt, msg.cseq().seq);
            let se = session_idle::session_expires(&msg);
            self.idle.touch(ctx.now, msg.call_id(), ft, tt, se);
        }
        // Targets.
        let targets: Vec<Target> = if let Some(first) = remaining.first() {
            let Some(u) = first.uri.as_sip() else {
                return self.reply(ctx, tx, 416, "Unsupported URI Scheme", &[]);
            };
            match forward::resolve(ctx.registrar, u) {
                Some(dest) => vec![Target {
                    request_uri: None,
                    dest,
                    push_routes: Vec::new(),
                    direct: false,
                }],
                // A Route named by host name: RFC 3263 (indialog_dns.rs).
                None if self.named_hop(u) => {
                    let u = u.clone();
                    return self.hold_request(ctx, tx, &flow, edit, hash, &u);
                }
                None => {
                    return self.reply(
                        ctx,
                        tx,
                        503,
                        "Service Unavailable: cannot resolve next hop",
                        &[],
                    );
                }
            }
        } else {
            match sip_ruri {
                Some(u) if self.identity.is_our_domain_uri(&u.host, u.port) && u.user.is_some() => {
                    let user = u
                        .user_unescaped()
                        .map(|c| c.into_owned())
                        .unwrap_or_default();
                    // A provider's call to the account we register there (issue 4).
                    let user = match initial
                        .then(|| {
                            let ext = ctx.registrar.directory.get(&user).is_some();
                            self.account_call_user(&msg, &flow, &user, ext)
                        })
                        .flatten()
                    {
                        Some(to_user) => to_user,
                        None => user,
                    };
                    // Extension features (issue 4): pickup codes, redirect.
                    if initial && method == Method::Invite {
                        if self.is_pickup(&user) {
                            return self.pickup(ctx, tx, &msg, from_us && !from_gateway);
                        }
                        if ctx.registrar.directory.active(&user).is_some() {
                            return self.call_extension(ctx, tx, &msg, &flow, edit, hash, user);
                        }
                    }
                    if initial
                        && may_route
                        && !matches!(method, Method::Ack | Method::Cancel)
                        && (!self.router.is_empty() || self.enum_suffix.is_some())
                        && ctx.registrar.directory.get(&user).is_none()
                    {
                        let caller = (!from_gateway).then(|| extfeat::from_user(&msg)).flatten();
                        return self.route_request(ctx, tx, &msg, edit, hash, user, caller);
                    }
                    match self.location_targets_of(ctx, &user) {
                        Ok(t) => t,
                        Err((code, reason)) => return self.reply(ctx, tx, code, reason, &[]),
                    }
                }
                // In-dialog: either it came through the Route we recorded (we are on the
                // dialog's path, so we forward to its remote target wherever that is), or
                // it is addressed straight to a contact registered with us.
                Some(u)
                    if !initial
                        && (edit.popped > 0
                            || ctx
                                .registrar
                                .bindings
                                .find_by_contact(&crate::registrar::register::contact_key(&ruri))
                                .is_some()) =>
                {
                    match forward::resolve(ctx.registrar, u) {
                        Some(dest) => vec![Target {
                            request_uri: None,
                            dest,
                            push_routes: Vec::new(),
                            direct: false,
                        }],
                        // A remote target named by host name: RFC 3263.
                        None if self.named_hop(u) => {
                            return self.hold_request(ctx, tx, &flow, edit, hash, u);
                        }
                        None => {
                            return self.reply(
                                ctx,
                                tx,
                                503,
                                "Service Unavailable: cannot resolve next hop",
                                &[],
                            );
                        }
                    }
                }
                _ => return self.reply(ctx, tx, 403, "Forbidden: relaying denied", &[]),
            }
        };
        self.fork(ctx, tx, &msg, &flow, &edit, hash, targets);
    }

    /// §8.2.2.2: the same request reached us, as its UAS, twice by different paths.
    fn merged_reply(&mut self, ctx: &mut Ctx<'_>, tx: TxId) {
        self.reply(ctx, tx, 482, "Loop Detected (merged request)", &[]);
    }

    /// Works out which Route entries are ours (§16.4) and whether a strict router
    /// put our URI in the Request-URI. Returns the edit and the remaining Route set.
    fn route_edit(
        &self,
        msg: &Message,
        ruri: &Uri,
    ) -> Result<(RouteEdit, Vec<NameAddr>), ParseError> {
        let mut routes: Vec<NameAddr> = Vec::new();
        for v in msg.header_values(HeaderName::Route) {
            routes.extend(parse_name_addr_list(v)?);
        }
        let mut edit = RouteEdit::default();
        let mut rewrite = false;
        // Strict router upstream: the Request-URI is a Record-Route URI of ours
        // (ours always carry `lr`, which a strict router copies along).
        if let Some(u) = ruri.as_sip()
            && u.user.is_none()
            && u.lr()
            && self.identity.is_us(&u.host, u.port, u.transport_kind())
            && !routes.is_empty()
            && let Some(last) = routes.pop()
        {
            edit.request_uri = Some(last.uri.to_string());
            rewrite = true;
        }
        while let Some(first) = routes.first() {
            let ours = first
                .uri
                .as_sip()
                .is_some_and(|u| self.identity.is_us(&u.host, u.port, u.transport_kind()));
            if !ours {
                break;
            }
            routes.remove(0);
            edit.popped += 1;
        }
        if rewrite || edit.popped > 1 {
            edit.rewrite = Some(routes.iter().map(|r| r.to_string()).collect());
        }
        Ok((edit, routes))
    }

    fn is_loop(&self, msg: &Message) -> bool {
        branch::is_looped(&self.loop_keys, msg, |via| {
            self.identity
                .is_us(&via.host, via.port, via.transport_kind())
        })
    }

    fn is_from_our_domain(&self, msg: &Message) -> bool {
        msg.header(HeaderName::From)
            .and_then(|f| NameAddr::parse(f).ok())
            .and_then(|n| n.uri.as_sip().map(|u| self.identity.is_our_domain(&u.host)))
            .unwrap_or(false)
    }

    /// Proxy authentication (§22.3). Returns true if the request may proceed.
    fn authorize(&mut self, ctx: &mut Ctx<'_>, tx: TxId, msg: &Message, method: &Method) -> bool {
        let Some(flow) = ctx.layer.server_flow(tx) else {
            return false;
        };
        let from_user = msg
            .header(HeaderName::From)
            .and_then(|f| NameAddr::parse(f).ok())
            .and_then(|n| {
                n.uri
                    .as_sip()
                    .and_then(|u| u.user_unescaped().map(|c| c.into_owned()))
            });
        let Some(creds) = msg.header(HeaderName::ProxyAuthorization) else {
            self.challenge(ctx, tx, false);
            return false;
        };
        let uri = msg.request_uri().unwrap_or("");
        let dir = &ctx.registrar.directory;
        let verdict = ctx
            .registrar
            .auth
            .verify(ctx.now, method.as_str(), uri, creds, |u| {
                dir.active(u).map(|e| crate::auth::Ha1Ref {
                    md5: &e.ha1_md5,
                    sha256: &e.ha1_sha256,
                })
            });
        match verdict {
            Verdict::Ok { username } => {
                if from_user.as_deref() != Some(username.as_str()) {
                    self.stats.auth_failures += 1;
                    self.events.push_back(Event::AuthFailed {
                        username: Some(username),
                        flow,
                        reason: "authenticated user differs from the From user".into(),
                    });
                    self.reply(ctx, tx, 403, "Forbidden", &[]);
                    return false;
                }
                true
            }
            Verdict::Stale => {
                self.challenge(ctx, tx, true);
                false
            }
            Verdict::Reject { reason } => {
                self.stats.auth_failures += 1;
                let claimed = crate::auth::Credentials::parse(creds)
                    .ok()
                    .map(|c| c.username);
                self.events.push_back(Event::AuthFailed {
                    username: claimed,
                    flow,
                    reason: format!("{reason:?}"),
                });
                self.challenge(ctx, tx, false);
                false
            }
            Verdict::Malformed { reason } => {
                self.reply(ctx, tx, 400, &format!("Bad Request: {reason}"), &[]);
                false
            }
        }
    }

    fn challenge(&mut self, ctx: &mut Ctx<'_>, tx: TxId, stale: bool) {
        let values: smallvec::SmallVec<[(HeaderName, String); 2]> = ctx
            .registrar
            .auth
            .challenge(ctx.now, ctx.rng, stale)
            .into_iter()
            .map(|v| (HeaderName::ProxyAuthenticate, v))
            .collect();
        // Stateless (RFC 3261 §8.2.7): no INVITE server transaction is kept for
        // Timer H; the To tag is derived from the request, so the ACK for this
        // 407 (same Call-ID, CSeq number and branch, §17.1.1.3) is recognised
        // and absorbed by `forward_ack` although it matches no transaction.
        let Some(req) = ctx.layer.server_request(tx) else {
            return;
        };
        let mut b = ResponseBuilder::for_request(req, 407, "Proxy Authentication Required")
            .to_tag(&self.stateless_tag(req));
        if let Some(flow) = ctx.layer.server_flow(tx) {
            b = b.received_from(flow.remote);
        }
        for (n, v) in &values {
            b = b.header(*n, v);
        }
        let bytes = b.header(HeaderName::Server, &self.server_name).build();
        self.stats.responses_sent += 1;
        ctx.layer.respond_stateless(tx, bytes);
    }

    /// The To tag of a stateless answer to `req`: a keyed hash of its Call-ID,
    /// CSeq number and top Via branch, which the ACK for a non-2xx repeats.
    fn stateless_tag(&self, req: &Message) -> String {
        use std::hash::{BuildHasher, Hasher};
        let mut h = self.loop_keys.build_hasher();
        h.write(b"stateless-tag");
        h.write(req.call_id().as_bytes());
        h.write_u32(req.cseq().seq);
        h.write(req.top_via_branch().unwrap_or("").as_bytes());
        let v = h.finish();
        let mut tag = String::with_capacity(18);
        tag.push_str("sl");
        for i in (0..16).rev() {
            tag.push(char::from(
                b"0123456789abcdef"[((v >> (i * 4)) & 0xf) as usize],
            ));
        }
        tag
    }

    /// The location service (§16.5): every live binding of extension `user`.
    pub(crate) fn location_targets_of(
        &self,
        ctx: &mut Ctx<'_>,
        user: &str,
    ) -> Result<Vec<Target>, (u16, &'static str)> {
        if ctx.registrar.directory.active(user).is_none() {
            return Err((404, "Not Found"));
        }
        let aor = format!("{user}@{}", self.identity.domain());
        let mut bindings: Vec<_> = ctx
            .registrar
            .bindings
            .lookup(&aor)
            .iter()
            .filter(|b| b.expires_at > ctx.now)
            .collect();
        if bindings.is_empty() {
            return Err((480, "Temporarily Unavailable"));
        }
        // Highest q first (all are tried in parallel; the order decides branch numbering).
        bindings.sort_by(|a, b| b.q.cmp(&a.q).then(a.id.cmp(&b.id)));
        let bindings = one_per_instance(bindings, |b| b.instance.as_deref());
        let targets: Vec<Target> = bindings
            .into_iter()
            .filter_map(|b| {
                Some(Target {
                    request_uri: Some(b.contact.to_string()),
                    dest: forward::binding_destination(b)?,
                    push_routes: b.path.iter().map(|p| p.to_string()).collect(),
                    direct: b.path.is_empty() && forward::binding_is_direct(b),
                })
            })
            .collect();
        if targets.is_empty() {
            // Only bindings whose connection closed and whose contact names no address.
            return Err((480, "Temporarily Unavailable"));
        }
        Ok(targets)
    }

    /// OPTIONS and other requests addressed to the server itself.
    fn answer_locally(&mut self, ctx: &mut Ctx<'_>, tx: TxId, msg: &Message, method: &Method) {
        let unsupported: Vec<&str> = msg
            .header_values(HeaderName::Require)
            .flat_map(parse_tokens)
            .collect();
        if !unsupported.is_empty() && *method != Method::Cancel && *method != Method::Ack {
            let list = unsupported.join(", ");
            return self.reply(
                ctx,
                tx,
                420,
                "Bad Extension",
                &[(HeaderName::Unsupported, list)],
            );
        }
        match method {
            Method::Options => self.reply(
                ctx,
                tx,
                200,
                "OK",
                &[
                    (HeaderName::Allow, ALLOW.to_owned()),
                    (HeaderName::Accept, "application/sdp".to_owned()),
                    (HeaderName::Supported, "path, outbound".to_owned()),
                ],
            ),
            Method::Other(_) => self.reply(ctx, tx, 501, "Not Implemented", &[]),
            _ => self.reply(
                ctx,
                tx,
                405,
                "Method Not Allowed",
                &[(HeaderName::Allow, "OPTIONS, REGISTER".to_owned())],
            ),
        }
    }

    /// Forwards an ACK for a 2xx (or any ACK matching no transaction) statelessly.
    pub fn forward_ack(&mut self, ctx: &mut Ctx<'_>, msg: &Message, flow: &Flow) {
        if msg
            .to_tag()
            .is_some_and(|t| t.starts_with("sl") && t == self.stateless_tag(msg))
        {
            // The ACK for a 407 we sent statelessly: it ends there (§17.2.1).
            return;
        }
        // The ACK for a 2xx of a B2BUA call: ours goes on the other leg.
        if self.b2bua_ack(ctx, msg, flow) {
            return;
        }
        // The 2xx answered an INVITE we resent with credentials (a higher CSeq).
        let shifted = self.shift_in_dialog(msg);
        let msg = shifted.as_ref().map_or(msg, |(m, _)| m);
        let Ok(ruri) = Uri::parse(msg.request_uri().unwrap_or("")) else {
            self.stats.dropped += 1;
            return;
        };
        let Ok((edit, remaining)) = self.route_edit(msg, &ruri) else {
            self.stats.dropped += 1;
            return;
        };
        let hop = match remaining.first() {
            Some(r) => r.uri.as_sip().cloned(),
            None => match &edit.request_uri {
                Some(r) => Uri::parse(r).ok().and_then(|u| u.as_sip().cloned()),
                None => ruri.as_sip().cloned(),
            },
        };
        let dest = hop.as_ref().and_then(|u| {
            if u.user.is_some()
                && remaining.is_empty()
                && self.identity.is_our_domain_uri(&u.host, u.port)
            {
                // An ACK to our domain's AOR (no Route): the callee's first binding.
                let aor = format!(
                    "{}@{}",
                    u.user_unescaped().unwrap_or_default(),
                    self.identity.domain()
                );
                ctx.registrar
                    .bindings
                    .lookup(&aor)
                    .first()
                    .and_then(forward::binding_destination)
            } else {
                forward::resolve(ctx.registrar, u)
            }
        });
        let Some(dest) = dest else {
            // A next hop named by host name: RFC 3263 (indialog_dns.rs).
            if let Some(u) = hop.as_ref().filter(|u| self.named_hop(u)) {
                return self.hold_ack(ctx, msg, flow, edit, u);
            }
            self.stats.dropped += 1;
            return;
        };
        self.send_ack(ctx, msg, flow, &edit, dest);
    }

    /// Forwards a response that matched no client transaction (§16.7 stateless path).
    pub fn forward_stray_response(&mut self, msg: &Message) -> bool {
        match forward::stateless_response(&self.identity, msg) {
            Some((bytes, dest)) => {
                self.stats.responses_forwarded += 1;
                self.transmits.push_back(dest_transmit(&dest, bytes));
                true
            }
            None => {
                self.stats.dropped += 1;
                false
            }
        }
    }
}

/// RFC 5626 §5.3: the target set never holds more than one contact of the same
/// AOR and instance-id (its flows are alternatives, not separate devices). Keeps
/// the first of each instance in `sorted` order; contacts without an instance all stay.
fn one_per_instance<T>(sorted: Vec<T>, instance: impl Fn(&T) -> Option<&str>) -> Vec<T> {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    sorted
        .into_iter()
        .filter(|t| instance(t).is_none_or(|i| seen.insert(i.to_owned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::one_per_instance;

    #[test]
    fn one_contact_per_outbound_instance_in_the_target_set() {
        let sorted = vec![
            ("sip:a@h:1", Some("urn:uuid:1")),
            ("sip:b@h:2", None),
            ("sip:a@h:3", Some("urn:uuid:1")),
            ("sip:c@h:4", Some("urn:uuid:2")),
            ("sip:d@h:5", None),
        ];
        let kept: Vec<&str> = one_per_instance(sorted, |t| t.1)
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(kept, ["sip:a@h:1", "sip:b@h:2", "sip:c@h:4", "sip:d@h:5"]);
    }
}
