//! Upstream registration (issue 4; RFC 3261 §10.2, §22.2, §10.2.8, §10.3):
//! every enabled destination with `register = yes` is registered as a user
//! agent, so the provider sends the account's calls to us.
//!
//! - REGISTER `sip:<domain or gateway>`, To and From `sip:<username>@<domain
//!   or gateway>`, Contact `sip:<username>@<our listener>`, Expires the
//!   destination's `register_expires`; one Call-ID per registration and a
//!   CSeq that grows with every request (§10.2.4).
//! - 401/407: answered once per challenge with the destination's credentials
//!   ([`crate::auth::respond`]: `qop=auth`, `nc=00000001`, a fresh cnonce).
//! - 423 Interval Too Brief: asked again once with the `Min-Expires` value
//!   (§10.2.8, §10.3 step 7).
//! - 2xx: registered for the expiry granted (our Contact's `expires`, else the
//!   `Expires` header, else what we asked), refreshed at half of it.
//! - Anything else, a timeout or a transport error: failed (the destination is
//!   skipped by routing), with the status kept, retried after a back-off of
//!   30 s doubling up to 10 minutes; a success resets it.
//! - [`crate::Engine::shutdown`] and removing the destination send
//!   `Expires: 0` for a registered account (§10.2.2).
//! - Editing a destination (`ReplaceRouting`) keeps the registration and its
//!   Call-ID when the account (registrar, transport, user) is the same
//!   (§10.2.4: a UA uses one Call-ID for all registrations of a contact);
//!   changed credentials or expiry only re-REGISTER at once with the next
//!   CSeq, superseding a request in flight. A changed account un-REGISTERs
//!   the old one, and the new registration waits until that un-REGISTER has
//!   ended, so the registrar never sees the two cross (an `Expires: 0` that
//!   arrives after the new binding would remove it, §10.3 step 7). A
//!   destination re-added while its un-REGISTER is in flight waits the same
//!   way and then continues the old Call-ID and CSeq.
//! - An answer counts only for the request it answers: its transaction
//!   (branch) and its Call-ID and CSeq number (§8.1.3.3).
//!
//! Calls the provider then sends to our Contact (`sip:<username>@<our
//! address>`, which counts as our domain) go to the extension of that name if
//! there is one; otherwise, coming from the destination's (trusted) gateway,
//! they are for their `To` user, delivered to that extension or routed like
//! any dialed number (`Proxy::account_call_user` in `proxy/routed.rs`).

use super::{Job, Outcome, Outgoing, Uac, UacCtx, account_host, next_hop};
use crate::auth::{Secret, pick_challenge, respond};
use crate::event::Event;
use crate::proxy::nexthop_auth::credentials;
use crate::routing::Destination;
use crate::sip::{ContactSet, HeaderName, Message, Method, parse_contacts};
use crate::transaction::TxId;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// First retry delay after a failure.
pub const BACKOFF_MIN: Duration = Duration::from_secs(30);
/// Longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(600);
/// Never refresh more often than this, whatever the registrar grants.
pub const MIN_REFRESH: Duration = Duration::from_secs(5);
/// A `Min-Expires` above this (a day) is not followed.
pub const MAX_MIN_EXPIRES: u32 = 86_400;

/// Where an upstream registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegState {
    /// Not registered yet: the first REGISTER is on its way.
    Pending,
    /// Registered (a 2xx arrived).
    Registered,
    /// The last attempt failed; a retry is scheduled.
    Failed,
    /// Unregistered on purpose (shutdown or the destination went away).
    Unregistered,
}

/// One upstream registration as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRegistration {
    /// The destination's name.
    pub name: String,
    /// Its state.
    pub state: RegState,
    /// The last final response's status and reason (408 for a timeout, 503
    /// for a transport error), if any.
    pub last_status: Option<(u16, String)>,
    /// When the binding expires at the registrar, while registered.
    pub expires_at: Option<Instant>,
}

/// One destination's registration.
#[derive(Debug)]
pub(super) struct Registration {
    dest: Destination,
    call_id: String,
    from_tag: String,
    cseq: u32,
    state: RegState,
    last: Option<(u16, String)>,
    expires_at: Option<Instant>,
    next_at: Option<Instant>,
    tx: Option<TxId>,
    /// The request in flight carries credentials (a challenge is answered once).
    authed: bool,
    /// The request in flight followed a 423 (followed once).
    interval_raised: bool,
    /// Expiry asked for.
    asked: u32,
    backoff: Duration,
    /// Un-registering (Expires: 0); the entry goes when this ends, unless `keep`.
    removing: bool,
    /// Keep the entry (as Unregistered) after un-registering (shutdown).
    keep: bool,
    /// Not started yet: an un-REGISTER of the same destination or account
    /// is in flight and must end first.
    waiting: bool,
}

/// Every registration, by an id that is never reused.
#[derive(Debug, Default)]
pub(super) struct Registrations {
    by_id: BTreeMap<u64, Registration>,
    next_id: u64,
}

impl Registrations {
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.by_id.values().filter_map(|r| r.next_at).min()
    }

    pub(super) fn snapshot(&self) -> Vec<UpstreamRegistration> {
        self.by_id
            .values()
            .filter(|r| !r.removing || r.keep)
            .map(|r| UpstreamRegistration {
                name: r.dest.name.clone(),
                state: r.state,
                last_status: r.last.clone(),
                expires_at: r.expires_at,
            })
            .collect()
    }

    /// True when a registration for `d` must wait: an un-REGISTER of the
    /// same destination or account is in flight.
    fn blocked(&self, d: &Destination) -> bool {
        self.by_id
            .values()
            .any(|r| r.removing && (r.dest.name == d.name || same_account(&r.dest, d)))
    }

    /// [`Registrations::blocked`] for waiting registration `wid`, ignoring
    /// the un-REGISTER `done` that just ended.
    fn blocked_except(&self, wid: u64, done: u64) -> bool {
        let Some(w) = self.by_id.get(&wid) else {
            return false;
        };
        self.by_id.iter().any(|(id, r)| {
            *id != done
                && r.removing
                && (r.dest.name == w.dest.name || same_account(&r.dest, &w.dest))
        })
    }

    fn active_for(&self, name: &str) -> Option<u64> {
        self.by_id
            .iter()
            .find(|(_, r)| r.dest.name == name && !r.removing)
            .map(|(id, _)| *id)
    }
}

/// The user of the account's address (and of our Contact).
fn account_user(d: &Destination) -> Option<&str> {
    d.username.as_deref().or(d.auth_username.as_deref())
}

/// True when `a` and `b` register the same binding at the same registrar:
/// same next hop, transport, account host and user (§10.2: the AOR in To and
/// the Contact). Anything else (credentials, expiry, routing fields) can
/// change without un-registering.
pub(super) fn same_account(a: &Destination, b: &Destination) -> bool {
    a.gateway.eq_ignore_ascii_case(&b.gateway)
        && a.port == b.port
        && a.transport == b.transport
        && a.domain == b.domain
        && account_user(a) == account_user(b)
}

/// True when an edit of the same account needs a new REGISTER (the
/// credentials or the expiry asked for changed).
fn needs_reregister(old: &Destination, new: &Destination) -> bool {
    old.password != new.password
        || old.auth_username != new.auth_username
        || old.register_expires != new.register_expires
}

/// The expiry a 2xx grants the contact `ours` (§10.2.4, §10.3 step 8).
fn granted(resp: &Message, ours: &str, asked: u32) -> u32 {
    for v in resp.header_values(HeaderName::Contact) {
        if let Ok(ContactSet::List(list)) = parse_contacts(v) {
            for c in list {
                if c.uri().to_string().eq_ignore_ascii_case(ours)
                    && let Some(e) = c.expires()
                {
                    return e;
                }
            }
        }
    }
    resp.header(HeaderName::Expires)
        .and_then(|e| e.trim().parse().ok())
        .unwrap_or(asked)
}

/// The next back-off after `d` (doubling, capped).
fn next_backoff(d: Duration) -> Duration {
    (d * 2).min(BACKOFF_MAX)
}

/// When to refresh a binding granted `secs` seconds: at half of it.
fn refresh_after(secs: u32) -> Duration {
    (Duration::from_secs(u64::from(secs)) / 2).max(MIN_REFRESH)
}

impl Uac {
    pub(super) fn sync_registrations(&mut self, ctx: &mut UacCtx<'_>, all: &[Destination]) {
        let wanted: Vec<&Destination> = all.iter().filter(|d| d.register && d.enabled).collect();
        // Edited, same account: keep the registration and its Call-ID.
        for d in &wanted {
            let Some(id) = self.regs.active_for(&d.name) else {
                continue;
            };
            let Some(r) = self.regs.by_id.get_mut(&id) else {
                continue;
            };
            if r.dest == **d || !same_account(&r.dest, d) {
                continue;
            }
            let again = needs_reregister(&r.dest, d);
            r.dest = (*d).clone();
            if again && !r.waiting {
                r.asked = d.register_expires;
                self.reregister_now(ctx, id);
            }
        }
        // Gone or changed: un-register (when registered) and forget.
        let stale: Vec<u64> = self
            .regs
            .by_id
            .iter()
            .filter(|(_, r)| !r.removing && !wanted.iter().any(|d| **d == r.dest))
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.stop_registration(ctx, id, false);
        }
        for d in wanted {
            if self.regs.active_for(&d.name).is_some() {
                continue;
            }
            let id = self.regs.next_id;
            self.regs.next_id += 1;
            if let Some(s) = ctx.table.state_mut(&d.name) {
                s.registered = false;
            }
            let waiting = self.regs.blocked(d);
            self.regs.by_id.insert(
                id,
                Registration {
                    dest: d.clone(),
                    call_id: ctx.rng.call_id(),
                    from_tag: ctx.rng.tag(),
                    cseq: 0,
                    state: RegState::Pending,
                    last: None,
                    expires_at: None,
                    next_at: (!waiting).then_some(ctx.now),
                    tx: None,
                    authed: false,
                    interval_raised: false,
                    asked: d.register_expires,
                    backoff: BACKOFF_MIN,
                    removing: false,
                    keep: false,
                    waiting,
                },
            );
        }
    }

    /// Sends `id`'s REGISTER now with the next CSeq, superseding a request
    /// in flight (whose answer is then ignored) and a scheduled retry.
    fn reregister_now(&mut self, ctx: &mut UacCtx<'_>, id: u64) {
        let Some(r) = self.regs.by_id.get_mut(&id) else {
            return;
        };
        if let Some(tx) = r.tx.take() {
            self.txs.remove(&tx);
        }
        r.next_at = None;
        r.authed = false;
        r.interval_raised = false;
        self.send_register(ctx, id, None);
    }

    /// Un-registers `id` if it is registered, else forgets it at once.
    fn stop_registration(&mut self, ctx: &mut UacCtx<'_>, id: u64, keep: bool) {
        let Some(r) = self.regs.by_id.get_mut(&id) else {
            return;
        };
        r.next_at = None;
        r.waiting = false;
        if let Some(tx) = r.tx.take() {
            self.txs.remove(&tx); // whatever it answers no longer matters
        }
        let name = r.dest.name.clone();
        if let Some(s) = ctx.table.state_mut(&name) {
            s.registered = false; // no calls through an account on its way out
        }
        let Some(r) = self.regs.by_id.get_mut(&id) else {
            return;
        };
        if r.state == RegState::Registered {
            r.removing = true;
            r.keep = keep;
            r.asked = 0;
            r.authed = false;
            self.send_register(ctx, id, None);
        } else if keep {
            r.state = RegState::Unregistered;
        } else {
            self.regs.by_id.remove(&id);
        }
    }

    pub(super) fn unregister_all(&mut self, ctx: &mut UacCtx<'_>) {
        let ids: Vec<u64> = self.regs.by_id.keys().copied().collect();
        for id in ids {
            self.stop_registration(ctx, id, true);
        }
    }

    pub(super) fn drive_registrations(&mut self, ctx: &mut UacCtx<'_>) {
        let due: Vec<u64> = self
            .regs
            .by_id
            .iter()
            .filter(|(_, r)| r.tx.is_none() && r.next_at.is_some_and(|t| t <= ctx.now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(r) = self.regs.by_id.get_mut(&id) {
                r.next_at = None;
                r.authed = false;
                r.interval_raised = false;
            }
            self.send_register(ctx, id, None);
        }
    }

    /// Sends the registration's REGISTER (with `auth`, an answer header and
    /// value, when answering a challenge).
    fn send_register(&mut self, ctx: &mut UacCtx<'_>, id: u64, auth: Option<(HeaderName, String)>) {
        let Some(r) = self.regs.by_id.get(&id) else {
            return;
        };
        let d = &r.dest;
        let Some(user) = d.username.as_deref().or(d.auth_username.as_deref()) else {
            return self.fail(ctx, id, None, "the destination has no username".into());
        };
        let hop = match next_hop(d) {
            Ok(h) => h,
            Err(why) => return self.fail(ctx, id, None, why),
        };
        let Some(contact) = self.contact_uri(d, user, &hop) else {
            return self.fail(ctx, id, None, "no listener for its transport".into());
        };
        let host = account_host(d);
        let ruri = format!("sip:{host}{}", super::transport_param(d));
        let aor = format!("<sip:{user}@{host}>");
        let from = format!("{aor};tag={}", r.from_tag);
        let mut extra = vec![
            (HeaderName::Contact, format!("<{contact}>")),
            (HeaderName::Expires, r.asked.to_string()),
        ];
        extra.extend(auth);
        let cseq = r.cseq + 1;
        let call_id = r.call_id.clone();
        let req = Outgoing {
            method: Method::Register,
            request_uri: &ruri,
            from: &from,
            to: &aor,
            call_id: &call_id,
            cseq,
            extra,
        };
        let Some(tx) = self.send(ctx, hop, &req) else {
            return self.fail(ctx, id, None, "no listener for its transport".into());
        };
        self.txs.insert(tx, Job::Register(id));
        if let Some(r) = self.regs.by_id.get_mut(&id) {
            r.cseq = cseq;
            r.tx = Some(tx);
        }
    }

    pub(super) fn register_outcome(
        &mut self,
        ctx: &mut UacCtx<'_>,
        id: u64,
        tx: TxId,
        outcome: Outcome<'_>,
    ) {
        self.txs.remove(&tx);
        let Some(r) = self.regs.by_id.get_mut(&id) else {
            return;
        };
        if r.tx != Some(tx) {
            return;
        }
        r.tx = None;
        let resp = match outcome {
            Outcome::Response(m) => m,
            Outcome::Failed(status, reason) => {
                return self.fail(ctx, id, Some(status), reason.into());
            }
        };
        // §8.1.3.3: the transaction matched by branch; the answer must also
        // be to this request (Call-ID, CSeq number), not to an earlier one.
        if resp.call_id() != r.call_id || resp.cseq().seq != r.cseq {
            return self.fail(
                ctx,
                id,
                None,
                "the answer's Call-ID or CSeq is not the request's".into(),
            );
        }
        let status = resp.status().unwrap_or(500);
        let reason = resp.reason().unwrap_or("").to_owned();
        match status {
            200..=299 => self.registered(ctx, id, resp, reason),
            401 | 407 if !r.authed => {
                let d = &r.dest;
                let (challenge_h, answer_h) = if status == 401 {
                    (HeaderName::WwwAuthenticate, HeaderName::Authorization)
                } else {
                    (
                        HeaderName::ProxyAuthenticate,
                        HeaderName::ProxyAuthorization,
                    )
                };
                let (Some((user, pw)), Some(ch)) = (
                    credentials(d),
                    pick_challenge(resp.header_values(challenge_h)),
                ) else {
                    return self.fail(ctx, id, Some(status), reason);
                };
                let ruri = format!("sip:{}{}", account_host(d), super::transport_param(d));
                let mut cnonce = String::with_capacity(16);
                ctx.rng.push_token(&mut cnonce, 16);
                let answer = respond(
                    &ch,
                    "REGISTER",
                    &ruri,
                    user,
                    Secret::Password(pw),
                    &cnonce,
                    1,
                );
                r.authed = true;
                self.send_register(ctx, id, Some((answer_h, answer.to_string())));
            }
            423 if !r.interval_raised && !r.removing => {
                let min = resp
                    .header(HeaderName::MinExpires)
                    .and_then(|v| v.trim().parse::<u32>().ok())
                    .filter(|m| *m > r.asked && *m <= MAX_MIN_EXPIRES);
                let Some(min) = min else {
                    return self.fail(ctx, id, Some(status), reason);
                };
                r.asked = min;
                r.interval_raised = true;
                r.authed = false;
                self.send_register(ctx, id, None);
            }
            _ => self.fail(ctx, id, Some(status), reason),
        }
    }

    fn registered(&mut self, ctx: &mut UacCtx<'_>, id: u64, resp: &Message, reason: String) {
        let status = resp.status().unwrap_or(200);
        let Some(r) = self.regs.by_id.get(&id) else {
            return;
        };
        if r.removing {
            return self.unregistered(ctx.now, id, Some((status, reason)));
        }
        let user = r
            .dest
            .username
            .as_deref()
            .or(r.dest.auth_username.as_deref());
        let ours = next_hop(&r.dest)
            .ok()
            .zip(user)
            .and_then(|(hop, u)| self.contact_uri(&r.dest, u, &hop));
        let Some(r) = self.regs.by_id.get_mut(&id) else {
            return;
        };
        let secs = granted(resp, ours.as_deref().unwrap_or(""), r.asked);
        if secs == 0 {
            return self.fail(
                ctx,
                id,
                Some(status),
                "the registrar granted 0 seconds".into(),
            );
        }
        let changed = r.state != RegState::Registered;
        r.state = RegState::Registered;
        r.last = Some((status, reason.clone()));
        r.expires_at = Some(ctx.now + Duration::from_secs(u64::from(secs)));
        r.next_at = Some(ctx.now + refresh_after(secs));
        r.backoff = BACKOFF_MIN;
        let name = r.dest.name.clone();
        if let Some(s) = ctx.table.state_mut(&name) {
            s.registered = true;
        }
        if changed {
            self.events.push_back(Event::UpstreamRegistration {
                destination: name,
                state: RegState::Registered,
                status: Some(status),
                reason,
                expires: Some(secs),
            });
        }
    }

    /// An un-REGISTER ended (answered or not): a registration waiting for it
    /// starts now, continuing its Call-ID and CSeq when it is the same account.
    fn unregistered(&mut self, now: Instant, id: u64, last: Option<(u16, String)>) {
        let Some(r) = self.regs.by_id.get_mut(&id) else {
            return;
        };
        let name = r.dest.name.clone();
        let old = (
            r.dest.clone(),
            r.call_id.clone(),
            r.from_tag.clone(),
            r.cseq,
        );
        r.removing = false; // no longer blocks anyone
        let keep = r.keep;
        let waiter = self
            .regs
            .by_id
            .iter()
            .filter(|(_, w)| w.waiting)
            .find(|(_, w)| w.dest.name == old.0.name || same_account(&w.dest, &old.0))
            .map(|(wid, _)| *wid);
        if let Some(wid) = waiter
            && !self.regs.blocked_except(wid, id)
            && let Some(w) = self.regs.by_id.get_mut(&wid)
        {
            w.waiting = false;
            w.next_at = Some(now);
            if same_account(&w.dest, &old.0) {
                (w.call_id, w.from_tag, w.cseq) = (old.1, old.2, old.3);
            }
        }
        let Some(r) = self.regs.by_id.get_mut(&id) else {
            return;
        };
        if keep {
            r.state = RegState::Unregistered;
            r.expires_at = None;
            r.next_at = None;
            if let Some(l) = last.clone() {
                r.last = Some(l);
            }
        } else {
            self.regs.by_id.remove(&id);
        }
        let (status, reason) = last.map_or((None, String::new()), |(s, r)| (Some(s), r));
        self.events.push_back(Event::UpstreamRegistration {
            destination: name,
            state: RegState::Unregistered,
            status,
            reason,
            expires: None,
        });
    }

    fn fail(&mut self, ctx: &mut UacCtx<'_>, id: u64, status: Option<u16>, reason: String) {
        let Some(r) = self.regs.by_id.get_mut(&id) else {
            return;
        };
        if r.removing {
            return self.unregistered(ctx.now, id, status.map(|s| (s, reason)));
        }
        let changed = r.state != RegState::Failed || r.last.as_ref().map(|l| l.0) != status;
        r.state = RegState::Failed;
        r.last = status.map(|s| (s, reason.clone()));
        r.expires_at = None;
        r.next_at = Some(ctx.now + r.backoff);
        r.backoff = next_backoff(r.backoff);
        let name = r.dest.name.clone();
        if let Some(s) = ctx.table.state_mut(&name) {
            s.registered = false;
        }
        if changed {
            self.events.push_back(Event::UpstreamRegistration {
                destination: name,
                state: RegState::Failed,
                status,
                reason,
                expires: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Limits;

    fn ok(headers: &str) -> Message {
        let raw = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\n\
             To: <sip:a@x>;tag=2\r\nCall-ID: c\r\nCSeq: 2 REGISTER\r\n{headers}Content-Length: 0\r\n\r\n"
        );
        Message::parse(bytes::Bytes::from(raw), &Limits::default()).expect("valid")
    }

    #[test]
    fn granted_expiry_prefers_our_contact_then_expires_then_asked() {
        let ours = "sip:acct@192.0.2.1:5060";
        let m = ok(
            "Contact: <sip:other@192.0.2.9>;expires=30, <sip:acct@192.0.2.1:5060>;expires=120\r\nExpires: 300\r\n",
        );
        assert_eq!(granted(&m, ours, 600), 120);
        let m = ok("Contact: <sip:other@192.0.2.9>;expires=30\r\nExpires: 300\r\n");
        assert_eq!(granted(&m, ours, 600), 300);
        assert_eq!(granted(&ok(""), ours, 600), 600);
        let m = ok("Expires: nonsense\r\n");
        assert_eq!(granted(&m, ours, 600), 600);
    }

    #[test]
    fn backoff_doubles_to_ten_minutes() {
        let mut d = BACKOFF_MIN;
        let mut seen = vec![d.as_secs()];
        for _ in 0..6 {
            d = next_backoff(d);
            seen.push(d.as_secs());
        }
        assert_eq!(seen, [30, 60, 120, 240, 480, 600, 600]);
    }

    #[test]
    fn refresh_at_half_but_not_too_often() {
        assert_eq!(refresh_after(3600), Duration::from_secs(1800));
        assert_eq!(refresh_after(60), Duration::from_secs(30));
        assert_eq!(refresh_after(4), MIN_REFRESH);
    }
}
