//! Requests routed by dialed-number prefix (issue 4, TekSIP's "Routing"
//! chapter) through the stateful proxy (RFC 3261 §16).
//!
//! A request for a user of our domain who is not a local extension, from an
//! authenticated local caller or from a destination's gateway, is sent to the
//! destinations the [`RoutingTable`] lists for the number, one at a time:
//! - a `Proxy` destination gets the request forwarded statefully with the
//!   Request-URI `sip:<rewritten number>@<domain or gateway>[:port]` (§16.6
//!   step 2 allows the proxy to retarget);
//! - a `UserAgent` destination gets, for an INVITE, a new INVITE of ours to
//!   that Request-URI (at each address RFC 3263 finds for a host name): the call is bridged as a B2BUA with
//!   the caller's topology hidden ([`super::b2bua`]);
//! - an `Extension` destination gets it as the location service would deliver
//!   it to that extension (§16.5), forking to its contacts.
//!
//! When the current destination fails — a final 408, 5xx or 6xx (600 and 603
//! only with `failover_on_decline`), a timeout (Timer B/F, §17.1) or a
//! transport error (§18.4) — the next usable candidate gets a new branch of
//! the same server transaction (§16.7 step 5 lets a proxy add branches while
//! no final response has been sent). Any other response (a 486, a 404…) ends
//! the search; when no candidate is left, the best response (§16.7 step 6)
//! goes back. Candidates are re-checked for capacity, health and registration
//! as the search reaches them.
//!
//! Calls in progress count against their destination's capacity from the
//! moment a destination is chosen until the request fails or, once answered,
//! until the session ends (BYE).

use super::context::{Context, rank};
use super::forward::{RouteEdit, Target};
use super::serial::{Next, Pending, Serial};
use super::{Ctx, Proxy};
use crate::dns::SipTarget;
use crate::event::{Event, LogLevel};
use crate::identity::Identity;
use crate::routing::{
    Candidate, Destination, DestinationKind, Prefix, RoutingConfig, RoutingError, RoutingTable,
};
use crate::sip::{Host, Message};
use crate::transaction::{Destination as NextHop, TxId};
use crate::transport::Flow;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// The destination a routed request is currently using.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    /// Its name (released by name: the table may be replaced meanwhile).
    pub name: String,
}

/// A routed request's search through its candidates.
#[derive(Debug)]
pub(crate) struct Routed {
    /// The dialed number (the Request-URI user, unescaped).
    dialed: String,
    /// Every candidate, in order.
    candidates: Vec<Candidate>,
    /// The next one to try.
    next: usize,
    /// The destination in use, counted against its capacity.
    pub current: Option<Held>,
    /// Best final status of the current destination's branches.
    outcome: Option<u16>,
    /// How the received request's Route set is edited (kept for new branches).
    edit: RouteEdit,
    /// The request's loop hash (for new branches).
    hash: u64,
    /// No more failover (Timer C fired).
    pub exhausted: bool,
    /// Targets to try before the next route (DNS, ENUM, 3xx recursion).
    pub(crate) serial: Serial,
}

impl Routed {
    /// A request routed among `candidates` for the number `dialed`.
    fn new(dialed: String, candidates: Vec<Candidate>, edit: RouteEdit, hash: u64) -> Self {
        Self {
            dialed,
            candidates,
            next: 0,
            current: None,
            outcome: None,
            edit,
            hash,
            exhausted: false,
            serial: Serial::default(),
        }
    }

    /// A request that only recurses on 3xx (no routes): plain forks when
    /// local 3xx processing is on.
    pub(crate) fn for_redirects(edit: RouteEdit, hash: u64) -> Self {
        Self::new(String::new(), Vec::new(), edit, hash)
    }

    /// No route matched the number.
    pub(crate) fn no_candidates(&self) -> bool {
        self.candidates.is_empty()
    }

    /// The request's loop hash (for branches added later, e.g. an
    /// authenticated resend).
    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    /// Records a final status of one of the current destination's branches.
    pub(crate) fn note(&mut self, status: u16) {
        if self.outcome.is_none_or(|o| rank(status) < rank(o)) {
            self.outcome = Some(status);
        }
    }
}

/// Does `status` from a destination send the call on to the next one?
///
/// A 6xx is a global failure: RFC 3261 §16.7 step 5 forbids new branches after
/// one, so it fails over only when the operator asked for it
/// (`routing.failover_on_decline`).
pub fn fails_over(status: u16, on_decline: bool) -> bool {
    match status {
        408 | 500..=599 => true,
        600..=699 => on_decline,
        _ => false,
    }
}

/// Characters left as they are in a Request-URI user part (RFC 3261 §25.1
/// `unreserved` and `user-unreserved`); anything else is escaped.
pub(crate) fn push_user(out: &mut String, user: &str) {
    for b in user.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 0xf)]));
        }
    }
}

/// The gateway's address when it is an IP literal (with or without brackets).
fn gateway_ip(d: &Destination) -> Option<IpAddr> {
    d.gateway.trim_matches(['[', ']']).parse().ok()
}

/// Does destination `d` send calls back to this server?
pub fn points_to_us(identity: &Identity, d: &Destination) -> bool {
    if d.kind == DestinationKind::Extension {
        return false;
    }
    let host = match gateway_ip(d) {
        Some(IpAddr::V4(ip)) => Host::V4(ip),
        Some(IpAddr::V6(ip)) => Host::V6(ip),
        None => Host::Domain(d.gateway.clone()),
    };
    identity.is_us(&host, d.port, Some(d.transport))
}

/// The Request-URI and next hop for a `Proxy` (or `UserAgent`) destination.
pub fn proxy_target(d: &Destination, number: &str) -> Result<Target, String> {
    let Some(ip) = gateway_ip(d) else {
        return Err(format!(
            "destination {}: gateway {} is a host name and DNS resolution (RFC 3263) is not \
             available yet; trying the next route",
            d.name, d.gateway
        ));
    };
    let port = d.port.unwrap_or_else(|| d.transport.default_port());
    let mut ruri = String::with_capacity(16 + number.len() + d.gateway.len());
    ruri.push_str("sip:");
    push_user(&mut ruri, number);
    ruri.push('@');
    match &d.domain {
        Some(domain) => ruri.push_str(domain),
        None => {
            match ip {
                IpAddr::V4(v4) => ruri.push_str(&v4.to_string()),
                IpAddr::V6(v6) => {
                    ruri.push('[');
                    ruri.push_str(&v6.to_string());
                    ruri.push(']');
                }
            }
            if let Some(p) = d.port {
                ruri.push(':');
                ruri.push_str(&p.to_string());
            }
        }
    }
    if d.transport != crate::Transport::Udp {
        ruri.push_str(";transport=");
        ruri.push_str(d.transport.param());
    }
    Ok(Target {
        request_uri: Some(ruri),
        dest: NextHop {
            transport: d.transport,
            remote: SocketAddr::new(ip, port),
            local: None,
            conn: None,
        },
        push_routes: Vec::new(),
        direct: true,
    })
}

/// The Request-URI and what to resolve (RFC 3263) for a `Proxy` (or
/// `UserAgent`) destination whose gateway is a host name. A UDP destination
/// without a port gives a URI without `transport` or port, so NAPTR may choose
/// the transport (§4.1).
pub fn named_gateway_target(d: &Destination, number: &str) -> (String, SipTarget) {
    let mut ruri = String::with_capacity(16 + number.len() + d.gateway.len());
    ruri.push_str("sip:");
    push_user(&mut ruri, number);
    ruri.push('@');
    match &d.domain {
        Some(domain) => ruri.push_str(domain),
        None => {
            ruri.push_str(&d.gateway);
            if let Some(p) = d.port {
                ruri.push(':');
                ruri.push_str(&p.to_string());
            }
        }
    }
    let explicit = d.transport != crate::Transport::Udp;
    if explicit {
        ruri.push_str(";transport=");
        ruri.push_str(d.transport.param());
    }
    let target = SipTarget {
        host: d.gateway.clone(),
        port: d.port,
        transport: (explicit || d.port.is_some()).then_some(d.transport),
        secure: false,
    };
    (ruri, target)
}

impl Proxy {
    /// The TLS options of a destination whose gateway is `remote` (directly,
    /// or by a cached A/AAAA answer for its name or its `_sips._tcp` SRV
    /// targets, RFC 3263 §4.2); `None` for other peers.
    pub fn tls_peer_for(&self, now: Instant, remote: SocketAddr) -> Option<crate::TlsPeer> {
        use crate::dns::{DnsQuery, DnsRecords};
        let cache = self.dns.cache();
        let has_addr = |name: &str, ip: IpAddr| {
            matches!(cache.get(now, &DnsQuery::Addr(name.to_owned())),
                Some(Ok(DnsRecords::Addr(ips))) if ips.contains(&ip))
        };
        self.router.tls_peer_for(remote, |name, ip| {
            if has_addr(name, ip) {
                return true;
            }
            let srv = crate::dns::rfc3263::srv_name(crate::Transport::Tls, name);
            match cache.get(now, &DnsQuery::Srv(srv)) {
                Some(Ok(DnsRecords::Srv(records))) => {
                    records.iter().any(|r| has_addr(&r.target, ip))
                }
                _ => false,
            }
        })
    }

    /// The routing table in force.
    pub fn routing(&self) -> &RoutingTable {
        &self.router
    }

    /// The routing table, for runtime state changes (health, registration).
    pub fn routing_mut(&mut self) -> &mut RoutingTable {
        &mut self.router
    }

    /// Validates `cfg`, refuses gateways that point to this server, and swaps
    /// the new table in, carrying over the state of destinations that stay.
    pub fn replace_routing(&mut self, cfg: RoutingConfig) -> Result<(), RoutingError> {
        cfg.validate()?;
        for r in cfg.routes.iter().filter(|r| r.enabled) {
            let Some(d) = cfg.destinations.iter().find(|d| d.name == r.destination) else {
                continue;
            };
            if points_to_us(&self.identity, d) {
                let prefix = match &r.prefix {
                    Prefix::Default => "Default",
                    Prefix::Digits(p) => p.as_str(),
                };
                return Err(RoutingError::new(
                    format!("route {prefix}"),
                    format!("destination {} points to this host", d.name),
                ));
            }
        }
        let mut table = RoutingTable::new(cfg)?;
        table.carry_state_from(&self.router);
        self.router = table;
        Ok(())
    }

    /// Routes `msg` (dialed number `dialed`) through the table: 404 when no
    /// route matches, 503 when routes matched but no destination was usable.
    /// `caller` is the calling extension (not a gateway), whose external-call
    /// policy applies.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn route_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        tx: TxId,
        msg: &Message,
        edit: RouteEdit,
        hash: u64,
        dialed: String,
        caller: Option<String>,
    ) {
        let mut candidates = self.router.lookup(&dialed);
        // The calling extension's external-call policy (issue 4, extfeat.rs).
        if let Some(u) = caller.as_deref()
            && !candidates.is_empty()
        {
            candidates = match self.external_policy(ctx, u, candidates) {
                Ok(c) => c,
                Err((code, reason)) => return self.reply(ctx, tx, code, &reason, &[]),
            };
        }
        // ENUM (RFC 6116) comes before the static routes. Its results lead
        // outside, so an extension without external calls does not get it.
        // An extension tied to one external route never takes ENUM's either.
        let may_leave = caller.as_deref().is_none_or(|u| {
            ctx.registrar
                .directory
                .get(u)
                .is_none_or(|e| e.allow_external && e.external_route.is_none())
        });
        let enum_job = if may_leave {
            self.start_enum(ctx, tx, &dialed)
        } else {
            None
        };
        if candidates.is_empty() && enum_job.is_none() {
            return self.reply(ctx, tx, 404, "Not Found", &[]);
        }
        let Some(mut c) = Context::for_request(ctx.now, msg) else {
            return;
        };
        c.route = Some(Box::new(Routed::new(dialed, candidates, edit, hash)));
        self.open_session(ctx, msg, &mut c);
        if let Some((job, waiter)) = enum_job {
            if let Some(r) = c.route.as_mut() {
                r.serial.waiting = Some(job);
            }
            self.dns_waiters.insert(job, waiter);
            // Resumed by `pump_dns` when the answer (or its timeout) comes.
            return self.insert_context(tx, c);
        }
        self.insert_context(tx, c);
        // No branch yet: this picks the first usable candidate, or answers.
        self.maybe_finish(ctx, tx);
    }

    /// Moves a routed request whose branches are all done to its next usable
    /// candidate. Returns false when the request must finish instead (the last
    /// destination's answer is not one to fail over on, the caller cancelled,
    /// or no candidate is left).
    pub(crate) fn fail_over(&mut self, ctx: &mut Ctx<'_>, server: TxId) -> bool {
        let Some(mut c) = self.contexts.remove(&server) else {
            return false;
        };
        let launched = self.next_candidate(ctx, server, &mut c);
        self.contexts.insert(server, c);
        launched
    }

    fn next_candidate(&mut self, ctx: &mut Ctx<'_>, server: TxId, c: &mut Context) -> bool {
        let on_decline = self.router.failover_on_decline();
        let Some(mut r) = c.route.take() else {
            return false;
        };
        let alive = !c.cancelled && !r.exhausted;
        if let Some(job) = r.serial.waiting {
            // Waiting for DNS: keep waiting unless the request is over.
            if alive {
                c.route = Some(r);
                return true;
            }
            self.dns.cancel(job);
            self.dns_waiters.remove(&job);
            r.serial.waiting = None;
        }
        // A destination's other addresses (RFC 3263 §4.3) are tried only after
        // a timeout, a transport error or an answer that fails over: a 486 or
        // a 404 from the first address must not ring the callee again.
        if r.outcome.is_some_and(|s| !fails_over(s, on_decline)) {
            while matches!(r.serial.pending.front(), Some(Pending::Target(_))) {
                r.serial.pending.pop_front();
            }
        }
        // A 3xx's Contacts and ENUM URIs are tried whatever the last answer
        // was; the next route only after an answer that fails over.
        let go_on = alive
            && (!r.serial.pending.is_empty()
                || r.outcome.is_none_or(|s| fails_over(s, on_decline)));
        if !go_on {
            c.route = Some(r);
            return false;
        }
        let (Some(msg), Some(flow)) = (
            ctx.layer.server_request(server).cloned(),
            ctx.layer.server_flow(server),
        ) else {
            c.route = Some(r);
            return false;
        };
        let mut launched = false;
        loop {
            if let Some(p) = r.serial.pending.pop_front() {
                // An address found for a UA destination's host name (RFC 3263)
                // is called as a B2BUA too.
                let ua = matches!(p, Pending::Target(_))
                    .then(|| self.ua_destination(&r, c))
                    .flatten();
                match self.next_pending(ctx, server, p) {
                    Next::Launch(targets) => {
                        let sent = match &ua {
                            Some(d) => self.b2bua_launch(ctx, server, &msg, d, r.hash, &targets, c),
                            None => {
                                self.launch(ctx, server, &msg, &flow, &r.edit, r.hash, &targets, c)
                            }
                        };
                        if sent > 0 {
                            r.outcome = None;
                            launched = true;
                            break;
                        }
                        c.offer_local(503);
                    }
                    Next::Wait(job, waiter) => {
                        r.serial.waiting = Some(job);
                        self.dns_waiters.insert(job, waiter);
                        launched = true;
                        break;
                    }
                    Next::Skip(status) => c.offer_local(status),
                }
                continue;
            }
            if r.outcome.is_some_and(|s| !fails_over(s, on_decline)) {
                break;
            }
            if let Some(h) = r.current.take() {
                self.router.release(&h.name);
                // The operator's trace of a failover (who failed, and how).
                let how = r
                    .outcome
                    .map_or_else(|| "no answer".to_owned(), |st| format!("{st}"));
                self.events.push_back(Event::Log {
                    level: LogLevel::Session,
                    message: format!(
                        "routing {}: destination {} failed ({how})",
                        r.dialed, h.name
                    ),
                });
            }
            let Some(&cand) = r.candidates.get(r.next) else {
                break;
            };
            r.next += 1;
            if !self.router.available(cand.destination) {
                continue;
            }
            let Some(d) = self.router.destination(cand.destination).cloned() else {
                continue;
            };
            let named = d.kind != DestinationKind::Extension && gateway_ip(&d).is_none();
            let targets = if named {
                let number = self.router.rewrite(cand.destination, &r.dialed);
                let (ruri, target) = named_gateway_target(&d, &number);
                r.serial
                    .pending
                    .push_back(Pending::Resolve { ruri, target });
                Vec::new()
            } else {
                match self.candidate_targets(ctx, &d, &r.dialed) {
                    Ok(t) => t,
                    Err((status, why)) => {
                        if let Some(why) = why {
                            self.events.push_back(Event::Log {
                                level: LogLevel::Warn,
                                message: why,
                            });
                        }
                        c.offer_local(status);
                        continue;
                    }
                }
            };
            // A UA destination makes the call a B2BUA call (b2bua/).
            let sent = if named {
                1
            } else if d.kind == DestinationKind::UserAgent && c.invite {
                self.b2bua_launch(ctx, server, &msg, &d, r.hash, &targets, c)
            } else {
                self.launch(ctx, server, &msg, &flow, &r.edit, r.hash, &targets, c)
            };
            if sent == 0 {
                c.offer_local(503);
                continue;
            }
            self.router.acquire(cand.destination);
            self.events.push_back(Event::Log {
                level: LogLevel::Session,
                message: format!("routing {}: destination {}", r.dialed, d.name),
            });
            r.current = Some(Held {
                name: d.name.clone(),
            });
            r.outcome = None;
            if let Some((cid, ft)) = &c.session {
                let prefix = match self.router.prefix(&cand) {
                    Some(Prefix::Digits(p)) => p.clone(),
                    _ => "Default".to_owned(),
                };
                ctx.sessions
                    .set_route(cid, ft, Some((prefix, d.name.clone())));
            }
            if named {
                continue; // resolve it (the pending entry just queued)
            }
            launched = true;
            break;
        }
        if !launched && let Some((cid, ft)) = &c.session {
            ctx.sessions.set_route(cid, ft, None);
        }
        c.route = Some(r);
        launched
    }

    /// The destination in use when it is a UA destination and the request
    /// an INVITE (a B2BUA call).
    fn ua_destination(&self, r: &Routed, c: &Context) -> Option<Destination> {
        let name = &r.current.as_ref()?.name;
        let d = self.router.destination(self.router.id_of(name)?)?;
        (c.invite && d.kind == DestinationKind::UserAgent).then(|| d.clone())
    }

    /// The targets for one destination, or the status it counts as (and a
    /// log line) when it cannot be used.
    fn candidate_targets(
        &self,
        ctx: &mut Ctx<'_>,
        d: &Destination,
        dialed: &str,
    ) -> Result<Vec<Target>, (u16, Option<String>)> {
        match d.kind {
            DestinationKind::Extension => self
                .location_targets_of(ctx, &d.gateway)
                .map_err(|(status, _)| (status, None)),
            // UserAgent: the same Request-URI and next hop, sent by b2bua/.
            DestinationKind::Proxy | DestinationKind::UserAgent => {
                let id = self.router.id_of(&d.name).ok_or((503, None::<String>))?;
                let number = self.router.rewrite(id, dialed);
                proxy_target(d, &number)
                    .map(|t| vec![t])
                    .map_err(|why| (503, Some(why)))
            }
        }
    }

    /// An answered routed session ended: its destination has a call less.
    pub(crate) fn session_gone(&mut self, s: &crate::dialog::Session) {
        if s.state == crate::dialog::SessionState::Answered
            && let Some(d) = &s.destination
        {
            self.router.release(d);
        }
        // What was kept for the dialog goes with it: its maximum-duration
        // deadline and its CSeq shift (next-hop authentication).
        if let (Some(answered), Some(max)) = (s.answered, self.ext.max_session) {
            self.ext
                .session
                .remove(&(answered + max, s.call_id.clone(), s.from_tag.clone()));
        }
        self.dialog_shifts
            .remove(&(s.call_id.clone(), s.from_tag.clone()));
        self.idle.forget(&s.call_id, &s.from_tag);
    }

    /// A request from a destination's gateway to an account we register
    /// there (Request-URI user = the destination's username, not an
    /// extension of ours) is a call for its To user: providers send calls to
    /// the registered Contact and name the dialed number in To. Returns that
    /// user, which then goes to the extension of that name or through the
    /// routes like any dialed number.
    pub(crate) fn account_call_user(
        &self,
        msg: &Message,
        flow: &Flow,
        user: &str,
        is_extension: bool,
    ) -> Option<String> {
        if is_extension || !self.is_from_gateway(flow) {
            return None;
        }
        let ours = self
            .router
            .config()
            .destinations
            .iter()
            .any(|d| d.register && d.enabled && d.username.as_deref() == Some(user));
        if !ours {
            return None;
        }
        let to = crate::sip::NameAddr::parse(msg.header(crate::sip::HeaderName::To)?).ok()?;
        let to_user = to.uri.as_sip()?.user_unescaped()?.into_owned();
        (!to_user.is_empty() && to_user != user).then_some(to_user)
    }

    /// May a request from `flow` be routed out, and must it skip the challenge?
    /// A request from a destination's gateway address (an IP literal) is trusted
    /// as TekSIP does.
    pub(crate) fn is_from_gateway(&self, flow: &Flow) -> bool {
        self.router.is_gateway_ip(flow.remote.ip())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Transport;

    fn dest(gateway: &str) -> Destination {
        Destination::new("gw", gateway)
    }

    #[test]
    fn failover_statuses() {
        for s in [408, 500, 503, 504, 599] {
            assert!(fails_over(s, false), "{s}");
        }
        // 6xx: no new branches (RFC 3261 §16.7 step 5) unless the operator opts in.
        for s in [300, 401, 404, 407, 480, 486, 487, 600, 603, 604, 606] {
            assert!(!fails_over(s, false), "{s}");
        }
        for s in [600, 603, 604, 606] {
            assert!(fails_over(s, true), "{s}");
        }
    }

    #[test]
    fn proxy_request_uri_and_next_hop() {
        let t = proxy_target(&dest("192.0.2.201"), "+4420").expect("ip");
        assert_eq!(t.request_uri.as_deref(), Some("sip:+4420@192.0.2.201"));
        assert_eq!(t.dest.remote, "192.0.2.201:5060".parse().expect("addr"));
        let mut d = dest("2001:db8::1");
        d.port = Some(5080);
        d.transport = Transport::Tcp;
        let t = proxy_target(&d, "12 3").expect("ip");
        assert_eq!(
            t.request_uri.as_deref(),
            Some("sip:12%203@[2001:db8::1]:5080;transport=tcp")
        );
        assert_eq!(t.dest.transport, Transport::Tcp);
        let mut d = dest("192.0.2.201");
        d.domain = Some("carrier.example".into());
        d.port = Some(5070);
        let t = proxy_target(&d, "99").expect("ip");
        assert_eq!(t.request_uri.as_deref(), Some("sip:99@carrier.example"));
        assert_eq!(t.dest.remote, "192.0.2.201:5070".parse().expect("addr"));
        let e = proxy_target(&dest("gw.example.net"), "1").expect_err("host name");
        assert!(e.contains("host name"), "{e}");
    }
}
