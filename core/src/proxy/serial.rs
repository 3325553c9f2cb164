//! Serial targets of a routed request: what is tried before the next route —
//! the addresses RFC 3263 gives for a destination named by host name, the
//! SIP URI an ENUM lookup gives (RFC 6116), and the Contacts of a 3xx when
//! the proxy recurses on redirects (RFC 3261 §16.5, §16.7 step 4).
//!
//! Each entry is tried in turn, one branch at a time, on the same server
//! transaction (§16.7 step 5), failing over on 408, 5xx, a timeout or a
//! transport error exactly as between routes; when the list is empty the
//! request moves on to its next route ([`super::routed`]).
//!
//! DNS is asked through the core's [`Resolver`] (ARCHITECTURE.md §3): while a
//! lookup is outstanding the request has no branch and waits; the answer (or
//! its timeout) resumes it. A failed or empty lookup falls through to the next
//! entry or route.
//!
//! Recursion on 3xx is bounded: at most [`MAX_REDIRECTS`] 3xx responses are
//! followed per request, at most [`MAX_CONTACTS`] Contacts of each, and a URI
//! already tried for the request is never tried again (no loops). A 3xx that
//! adds nothing is kept as a response like any other (§16.7 step 4).

use super::context::Context;
use super::forward::{self, Target};
use super::{Ctx, Proxy};
use crate::dns::enum_e164::{e164, enum_domain, enum_sip_uri};
use crate::dns::{JobId, JobOutcome, SipTarget, TargetAddr};
use crate::event::{EndCause, Event, LogLevel};
use crate::sip::{HeaderName, Host, Message, Uri, parse_name_addr_list};
use crate::transaction::{Destination as NextHop, TxId};
use std::collections::{BTreeSet, VecDeque};

/// Most 3xx responses followed for one request.
pub const MAX_REDIRECTS: u8 = 5;
/// Most Contacts taken from one 3xx.
pub const MAX_CONTACTS: usize = 5;

/// Something to try before the next route.
#[derive(Debug, Clone)]
pub(crate) enum Pending {
    /// A ready branch target.
    Target(Target),
    /// A destination named by host name: resolve `target`, send with `ruri`.
    Resolve {
        /// The Request-URI for every address found.
        ruri: String,
        /// What to resolve.
        target: SipTarget,
    },
    /// A URI from ENUM or a 3xx Contact.
    Uri(String),
}

/// The serial state of one request.
#[derive(Debug, Default)]
pub(crate) struct Serial {
    /// To try next, in order.
    pub pending: VecDeque<Pending>,
    /// The DNS job the request waits for.
    pub waiting: Option<JobId>,
    /// 3xx responses followed so far.
    pub redirects: u8,
    /// URIs already queued (no loops).
    pub seen: BTreeSet<String>,
}

/// What a DNS job was started for.
#[derive(Debug, Clone)]
pub(crate) enum Waiter {
    /// RFC 3263 for a branch with this Request-URI.
    Target {
        /// The request.
        server: TxId,
        /// Its Request-URI.
        ruri: String,
    },
    /// ENUM for the number whose Application Unique String this is.
    Enum {
        /// The request.
        server: TxId,
        /// `+` and the digits.
        aus: String,
    },
}

/// What to do with the next pending entry.
pub(crate) enum Next {
    /// Send branches to these.
    Launch(Vec<Target>),
    /// Wait for this DNS job.
    Wait(JobId, Waiter),
    /// Unusable: the status it counts as.
    Skip(u16),
}

/// A branch target for a resolved address.
fn addr_target(ruri: &str, a: TargetAddr) -> Target {
    Target {
        request_uri: Some(ruri.to_owned()),
        dest: NextHop {
            transport: a.transport,
            remote: a.addr,
            local: None,
            conn: None,
        },
        push_routes: Vec::new(),
        direct: true,
    }
}

impl Proxy {
    /// Transports DNS may choose (those we listen on).
    pub(crate) fn supported_transports(&self) -> Vec<crate::Transport> {
        use crate::Transport::*;
        [Udp, Tcp, Tls, Ws, Wss]
            .into_iter()
            .filter(|t| self.identity.listener(*t, None).is_some())
            .collect()
    }

    /// Turns the next pending entry of request `server` into branch targets,
    /// a DNS job to wait for, or a skip.
    pub(crate) fn next_pending(&mut self, ctx: &mut Ctx<'_>, server: TxId, p: Pending) -> Next {
        match p {
            Pending::Target(t) => Next::Launch(vec![t]),
            Pending::Resolve { ruri, target } => {
                let supported = self.supported_transports();
                let job = self.dns.resolve(ctx.now, &target, &supported, ctx.rng);
                Next::Wait(job, Waiter::Target { server, ruri })
            }
            Pending::Uri(s) => {
                let Ok(uri) = Uri::parse(&s) else {
                    return Next::Skip(400);
                };
                let Some(u) = uri.as_sip() else {
                    return Next::Skip(416);
                };
                if u.user.is_some() && self.identity.is_our_domain_uri(&u.host, u.port) {
                    let user = u
                        .user_unescaped()
                        .map(|c| c.into_owned())
                        .unwrap_or_default();
                    return match self.location_targets_of(ctx, &user) {
                        Ok(t) => Next::Launch(t),
                        Err((status, _)) => Next::Skip(status),
                    };
                }
                if self.identity.is_us(&u.host, u.port, u.transport_kind()) {
                    self.log(
                        LogLevel::Warn,
                        format!("redirect to this server refused: {s}"),
                    );
                    return Next::Skip(482);
                }
                if matches!(u.host, Host::Domain(_)) && u.maddr().is_none() {
                    let target = SipTarget {
                        host: u.host.to_string(),
                        port: u.port,
                        transport: u.transport_kind(),
                        secure: u.secure,
                    };
                    let supported = self.supported_transports();
                    let job = self.dns.resolve(ctx.now, &target, &supported, ctx.rng);
                    return Next::Wait(job, Waiter::Target { server, ruri: s });
                }
                match forward::resolve(ctx.registrar, u) {
                    Some(dest) => Next::Launch(vec![Target {
                        request_uri: Some(s),
                        dest,
                        push_routes: Vec::new(),
                        direct: true,
                    }]),
                    None => Next::Skip(503),
                }
            }
        }
    }

    /// Starts the ENUM lookup for `dialed` when ENUM is on and the number is
    /// E.164: returns the job to wait for.
    pub(crate) fn start_enum(
        &mut self,
        ctx: &mut Ctx<'_>,
        server: TxId,
        dialed: &str,
    ) -> Option<(JobId, Waiter)> {
        let suffix = self.enum_suffix.as_deref()?;
        let (digits, aus) = e164(dialed)?;
        let name = enum_domain(digits, suffix);
        let job = self.dns.naptr(ctx.now, &name, ctx.rng);
        Some((job, Waiter::Enum { server, aus }))
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.events.push_back(Event::Log { level, message });
    }

    /// Feeds a DNS answer from the runtime to the resolver.
    pub fn on_dns_answer(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: u64,
        result: Result<crate::dns::DnsAnswer, crate::dns::DnsError>,
    ) {
        self.dns.answer(ctx.now, id, result, ctx.rng);
    }

    /// The next raw DNS query for the runtime.
    pub fn poll_dns_query(&mut self) -> Option<(u64, crate::dns::DnsQuery)> {
        self.dns.poll_query()
    }

    /// Resumes the requests whose DNS jobs finished. Returns true if any did.
    pub fn pump_dns(&mut self, ctx: &mut Ctx<'_>) -> bool {
        let mut any = false;
        while let Some((job, outcome)) = self.dns.poll_done() {
            any = true;
            let Some(w) = self.dns_waiters.remove(&job) else {
                // Or a request held for its next hop (indialog_dns.rs).
                self.resume_held(ctx, job, outcome);
                continue;
            };
            let server = match &w {
                Waiter::Target { server, .. } | Waiter::Enum { server, .. } => *server,
            };
            let Some(c) = self.contexts.get_mut(&server) else {
                continue;
            };
            let Some(r) = c.route.as_mut() else {
                continue;
            };
            if c.final_sent || r.serial.waiting != Some(job) {
                continue;
            }
            r.serial.waiting = None;
            match (w, outcome) {
                (Waiter::Target { ruri, .. }, JobOutcome::Targets(list)) if !list.is_empty() => {
                    for a in list.into_iter().rev() {
                        r.serial
                            .pending
                            .push_front(Pending::Target(addr_target(&ruri, a)));
                    }
                }
                (Waiter::Target { ruri, .. }, other) => {
                    c.offer_local(503);
                    let why = match other {
                        JobOutcome::Failed(e) => e.to_string(),
                        _ => "no address".to_owned(),
                    };
                    self.log(
                        LogLevel::Warn,
                        format!("DNS (RFC 3263) for {ruri}: {why}; trying the next target"),
                    );
                }
                (Waiter::Enum { aus, .. }, JobOutcome::Naptr(records)) => {
                    match enum_sip_uri(&records, &aus) {
                        Some(uri) if self.process_3xx => {
                            r.serial.seen.insert(uri.clone());
                            r.serial.pending.push_front(Pending::Uri(uri));
                        }
                        Some(uri) => {
                            let contact = format!("<{uri}>");
                            self.finish_with(
                                ctx,
                                server,
                                302,
                                "Moved Temporarily",
                                &[(HeaderName::Contact, contact)],
                            );
                            continue;
                        }
                        None => {
                            if r.no_candidates() {
                                self.finish_with(ctx, server, 404, "Not Found", &[]);
                                continue;
                            }
                        }
                    }
                }
                (Waiter::Enum { aus, .. }, other) => {
                    let none = r.no_candidates();
                    self.log(
                        LogLevel::Warn,
                        format!("ENUM lookup for {aus}: {other:?}; using the static routes"),
                    );
                    if none {
                        self.finish_with(ctx, server, 404, "Not Found", &[]);
                        continue;
                    }
                }
            }
            self.maybe_finish(ctx, server);
        }
        any
    }

    /// Answers a request that has no branch out with `status` and closes its session.
    pub(crate) fn finish_with(
        &mut self,
        ctx: &mut Ctx<'_>,
        server: TxId,
        status: u16,
        reason: &str,
        extra: &[(HeaderName, String)],
    ) {
        let Some(c) = self.contexts.get_mut(&server) else {
            return;
        };
        c.final_sent = true;
        let held = c.route.as_mut().and_then(|r| r.current.take());
        let session = c.session.take();
        let invite = c.invite;
        if let Some(h) = held {
            self.router.release(&h.name);
        }
        self.reply(ctx, server, status, reason, extra);
        if invite {
            self.stats.failed_calls += 1;
            if let Some((cid, ft)) = session {
                ctx.sessions.end(&cid, &ft, EndCause::Rejected(status));
            }
        }
    }
}

/// With local 3xx processing on (`enabled`), queues the new Contacts of a 3xx
/// from a branch of `c`. Returns true when the proxy recurses (the 3xx is
/// then not a candidate response, §16.7 step 4).
pub(crate) fn recurse_on_3xx(enabled: bool, c: &mut Context, response: &Message) -> bool {
    if !enabled || !c.invite {
        return false;
    }
    let Some(r) = c.route.as_mut() else {
        return false;
    };
    if r.serial.redirects >= MAX_REDIRECTS {
        return false;
    }
    let mut added = 0;
    for v in response.header_values(HeaderName::Contact) {
        let Ok(list) = parse_name_addr_list(v) else {
            continue;
        };
        for na in list {
            if added >= MAX_CONTACTS {
                break;
            }
            if na.uri.as_sip().is_none() {
                continue;
            }
            let s = na.uri.to_string();
            if r.serial.seen.insert(s.clone()) {
                r.serial.pending.push_back(Pending::Uri(s));
                added += 1;
            }
        }
    }
    if added > 0 {
        r.serial.redirects += 1;
    }
    added > 0
}
