//! Extension features of TekSIP's "Extensions" chapter (issue 4) in the
//! proxy: redirection when the called extension is unavailable, and the
//! external-call policy of the calling extension.
//!
//! **Redirect** (RFC 3261 §16.5–§16.7). A call to an extension that has a
//! redirect target (another extension, or `voicemail`) is retargeted when the
//! extension
//! - is offline (no live binding: the location service has no target): the
//!   INVITE goes to the target at once instead of a 480;
//! - is busy: every branch ended and the best final response (§16.7 step 6)
//!   is 486 or 600;
//! - does not answer within `max_ring_duration`: the ringing branches are
//!   CANCELled (§16.10: the proxy may cancel pending branches) and, once
//!   their 487s are in, the target gets the call.
//!
//! Retargeting adds new branches to the *same* server transaction: §16.7
//! step 5 lets a proxy add branches while no final response was sent, so the
//! caller sees one INVITE transaction and one dialog, with whoever answers
//! at the target (a recursive "redirect" inside the proxy, not a 3xx). The
//! target is the other extension's contacts (§16.5) or
//! `sip:<callee>@<voicemail_server>` (the voicemail system learns the mailbox
//! from the Request-URI user). Depth is one: a redirect target's own redirect
//! is not followed, and a redirect to the extension itself is refused.
//! Without a redirect target, nothing changes (480, 486… go back as before).
//!
//! **External calls.** A call from one of our extensions that the routing
//! table would send out through a route is refused with 403 when the
//! extension lacks `allow_external`; with `external_route` set, only routes
//! to that destination are candidates. `Extension`-type destinations deliver
//! locally and are not "external". Requests from a gateway are not affected.

use super::context::Context;
use super::forward::{RouteEdit, Target};
use super::{Ctx, Proxy};
use crate::config::Config;
use crate::event::{Event, LogLevel};
use crate::registrar::Redirect;
use crate::routing::{Candidate, DestinationKind};
use crate::sip::{HeaderName, Message, NameAddr};
use crate::transaction::{Destination as NextHop, TxId};
use crate::transport::Flow;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Per-call state of a call to one of our extensions.
#[derive(Debug, Clone)]
pub(crate) struct ExtCall {
    /// The called extension.
    pub callee: String,
    /// The redirect still available (taken when used: depth 1).
    redirect: Option<Redirect>,
    /// Why the call moves on to the redirect once the cancelled branches end
    /// (the ring limit passed, or a pickup); `None`: only if busy.
    move_on: Option<&'static str>,
    /// How the received Route set is edited (kept for new branches).
    edit: RouteEdit,
    /// The request's loop hash (for new branches).
    hash: u64,
}

/// Settings and timers of the extension features.
#[derive(Debug, Default)]
pub(crate) struct ExtFeatures {
    pub voicemail: Option<SocketAddr>,
    pub max_ring: Option<Duration>,
    pub max_session: Option<Duration>,
    pub pickup_prefix: String,
    /// Ring limits: (deadline, server transaction).
    pub ring: BTreeSet<(Instant, TxId)>,
    /// Session limits: (deadline, Call-ID, caller's From tag).
    pub session: BTreeSet<(Instant, String, String)>,
}

impl ExtFeatures {
    /// The features `cfg` turns on.
    pub(crate) fn new(cfg: &Config) -> Self {
        Self {
            voicemail: cfg.voicemail_server,
            max_ring: cfg.max_ring_duration,
            max_session: cfg.max_session_duration,
            pickup_prefix: cfg.pickup_prefix.clone(),
            ..Self::default()
        }
    }

    /// The earliest timer.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let r = self.ring.first().map(|(t, _)| *t);
        let s = self.session.first().map(|(t, _, _)| *t);
        r.into_iter().chain(s).min()
    }
}

/// The From user of a request (unescaped), if it has a SIP URI with a user.
pub(crate) fn from_user(msg: &Message) -> Option<String> {
    msg.header(HeaderName::From)
        .and_then(|f| NameAddr::parse(f).ok())
        .and_then(|n| {
            n.uri
                .as_sip()
                .and_then(|u| u.user_unescaped().map(|c| c.into_owned()))
        })
}

impl Proxy {
    /// Applies the external-call policy of the calling extension `caller` to
    /// the route candidates. `Err` is the response to send instead.
    pub(crate) fn external_policy(
        &self,
        ctx: &Ctx<'_>,
        caller: &str,
        candidates: Vec<Candidate>,
    ) -> Result<Vec<Candidate>, (u16, String)> {
        let Some(ext) = ctx.registrar.directory.get(caller) else {
            return Ok(candidates);
        };
        let external = |c: &Candidate| {
            self.router
                .destination(c.destination)
                .is_some_and(|d| d.kind != DestinationKind::Extension)
        };
        if !ext.allow_external {
            if candidates.iter().any(external) {
                return Err((403, "Forbidden: external calls are not allowed".to_owned()));
            }
            return Ok(candidates);
        }
        let Some(only) = ext.external_route.as_deref() else {
            return Ok(candidates);
        };
        let kept: Vec<Candidate> = candidates
            .into_iter()
            .filter(|c| {
                !external(c)
                    || self
                        .router
                        .destination(c.destination)
                        .is_some_and(|d| d.name == only)
            })
            .collect();
        if kept.is_empty() {
            return Err((
                403,
                format!("Forbidden: external calls only through route {only}"),
            ));
        }
        Ok(kept)
    }

    /// An initial INVITE to our extension `user`: forks to its contacts, or
    /// straight to its redirect target when it is offline; remembers the
    /// redirect for busy and no-answer, and arms the ring limit.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call_extension(
        &mut self,
        ctx: &mut Ctx<'_>,
        tx: TxId,
        msg: &Message,
        flow: &Flow,
        edit: RouteEdit,
        hash: u64,
        user: String,
    ) {
        let mut redirect = ctx
            .registrar
            .directory
            .active(&user)
            .and_then(|e| e.redirect.clone())
            .filter(|r| *r != Redirect::Extension(user.clone()));
        let targets = match self.location_targets_of(ctx, &user) {
            Ok(t) => t,
            Err((480, reason)) => match redirect.take() {
                Some(r) => match self.redirect_targets(ctx, &user, &r) {
                    Ok(t) => t,
                    Err((code, why)) => return self.reply(ctx, tx, code, &why, &[]),
                },
                None => return self.reply(ctx, tx, 480, reason, &[]),
            },
            Err((code, reason)) => return self.reply(ctx, tx, code, reason, &[]),
        };
        self.fork(ctx, tx, msg, flow, &edit, hash, targets);
        let armed = redirect.is_some();
        if let Some(c) = self.contexts.get_mut(&tx) {
            c.ext = Some(Box::new(ExtCall {
                callee: user,
                redirect,
                move_on: None,
                edit,
                hash,
            }));
            if armed && let Some(d) = self.ext.max_ring {
                self.ext.ring.insert((ctx.now + d, tx));
            }
        }
    }

    /// The targets of redirect `r` for a call to `callee`, or the response
    /// to answer with when there are none.
    fn redirect_targets(
        &self,
        ctx: &mut Ctx<'_>,
        callee: &str,
        r: &Redirect,
    ) -> Result<Vec<Target>, (u16, String)> {
        match r {
            Redirect::Extension(t) if t == callee => {
                Err((480, "Temporarily Unavailable".to_owned()))
            }
            Redirect::Extension(t) => self
                .location_targets_of(ctx, t)
                .map_err(|(_, reason)| (480, reason.to_owned())),
            Redirect::Voicemail => {
                let Some(vm) = self.ext.voicemail else {
                    return Err((480, "Temporarily Unavailable".to_owned()));
                };
                let mut ruri = String::with_capacity(8 + callee.len() + 24);
                ruri.push_str("sip:");
                super::routed::push_user(&mut ruri, callee);
                ruri.push('@');
                ruri.push_str(&vm.to_string());
                Ok(vec![Target {
                    request_uri: Some(ruri),
                    dest: NextHop {
                        transport: crate::Transport::Udp,
                        remote: vm,
                        local: None,
                        conn: None,
                    },
                    push_routes: Vec::new(),
                    direct: true,
                }])
            }
        }
    }

    /// Every branch of `server` ended without an answer: if the callee was busy
    /// (486/600) or did not answer in time and has a redirect left, sends the
    /// call to the redirect target on new branches. Returns true if it did.
    pub(crate) fn redirect_on_failure(&mut self, ctx: &mut Ctx<'_>, server: TxId) -> bool {
        let Some(c) = self.contexts.get_mut(&server) else {
            return false;
        };
        if c.cancelled || c.final_sent || c.answered {
            return false;
        }
        let busy = c.best_status().is_some_and(|s| matches!(s, 486 | 600));
        let Some(x) = c.ext.as_mut() else {
            return false;
        };
        if !(busy || x.move_on.is_some()) {
            return false;
        }
        let Some(r) = x.redirect.take() else {
            return false;
        };
        let expired = x.move_on.is_some();
        let (callee, edit, hash) = (x.callee.clone(), x.edit.clone(), x.hash);
        let why = x.move_on.unwrap_or("busy");
        // What rings next (only another extension can be picked up).
        x.callee = match &r {
            Redirect::Extension(t) => t.clone(),
            Redirect::Voicemail => String::new(),
        };
        let targets = match self.redirect_targets(ctx, &callee, &r) {
            Ok(t) => t,
            Err((code, _)) => {
                if expired && let Some(c) = self.contexts.get_mut(&server) {
                    // The caller should not see the 487s of our own CANCELs.
                    c.set_best_local(code);
                }
                return false;
            }
        };
        let (Some(msg), Some(flow)) = (
            ctx.layer.server_request(server).cloned(),
            ctx.layer.server_flow(server),
        ) else {
            return false;
        };
        let Some(mut c) = self.contexts.remove(&server) else {
            return false;
        };
        let saved = c.take_best();
        let sent = self.launch(ctx, server, &msg, &flow, &edit, hash, &targets, &mut c);
        if sent == 0 {
            c.restore_best(saved);
            if expired {
                c.set_best_local(480);
            }
        }
        self.contexts.insert(server, c);
        if sent > 0 {
            self.events.push_back(Event::Log {
                level: LogLevel::Session,
                message: format!(
                    "call {} to {callee} redirected to {} ({why})",
                    msg.call_id(),
                    r.as_str()
                ),
            });
        }
        sent > 0
    }

    /// Fires the ring limits that passed: the call's unanswered branches are
    /// cancelled; when they have all ended, [`Proxy::redirect_on_failure`]
    /// sends the call on.
    pub(crate) fn ring_timeouts(&mut self, ctx: &mut Ctx<'_>) {
        while let Some(&(at, server)) = self.ext.ring.first() {
            if at > ctx.now {
                break;
            }
            self.ext.ring.remove(&(at, server));
            let Some(c) = self.contexts.get_mut(&server) else {
                continue;
            };
            if c.final_sent || c.answered || c.cancelled {
                continue;
            }
            let Some(x) = c.ext.as_mut() else {
                continue;
            };
            if x.redirect.is_none() {
                continue;
            }
            x.move_on = Some("no answer");
            let open: Vec<TxId> = c
                .branches
                .iter()
                .filter(|b| !b.done)
                .map(|b| b.client)
                .collect();
            for o in open {
                self.cancel_branch(ctx, server, o);
            }
            self.maybe_finish(ctx, server);
        }
    }
}

impl ExtCall {
    /// Sends the call to `to` once the current branches end (pickup).
    pub(crate) fn move_on(&mut self, to: Redirect, why: &'static str) {
        self.redirect = Some(to);
        self.move_on = Some(why);
    }
}

/// Is this context a call to an extension still ringing (for pickup)?
pub(crate) fn ringing_extension(c: &Context) -> Option<&str> {
    if c.final_sent || c.answered || c.cancelled {
        return None;
    }
    c.ext.as_ref().map(|x| x.callee.as_str())
}
