//! Idle expiry of answered sessions (issue 4 review; RFC 4028 §10).
//!
//! A proxy learns that a call ended from its BYE (RFC 3261 §15). When one
//! side loses power or its network, no BYE ever passes, and the session —
//! with the count it holds against its destination's capacity — would stay
//! for ever. So every answered session has an idle deadline:
//!
//! - `security.session_idle_timeout_s` ([`crate::Config::session_idle_timeout`],
//!   default two hours): no in-dialog request in either direction for that
//!   long ends the session.
//! - RFC 4028 session timers: when the 2xx of the INVITE, or a later
//!   in-dialog request (a session refresh, §7–§9), carries `Session-Expires`
//!   (or its compact form `x`), the session also ends when no in-dialog
//!   request arrived within that interval (§10: a session not refreshed
//!   before it expires is over; refreshes come at half of it). The shorter of
//!   the two applies.
//!
//! Ending it goes the way the maximum session duration does
//! (`session_limit.rs`): a BYE to each side along the recorded dialog with a
//! `Reason` (RFC 3326), the session ended with cause `Timeout`, the
//! destination's capacity released. The BYE to both sides is deliberate: the
//! side still alive (typically the trunk, still billing the call, or the other
//! phone) learns the call is over; the BYE to the dead side simply times out
//! in its own transaction (Timer F), which costs nothing more.
//!
//! Timers are lazy: activity only updates the session's last-seen time; a
//! deadline that fires for a session seen since is re-armed at its new
//! deadline. Work is O(log n) per request and per firing.

use super::{Ctx, Proxy};
use crate::event::EndCause;
use crate::sip::Message;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The `Reason` of a BYE sent when a session saw no in-dialog request for the
/// idle timeout.
pub const REASON_IDLE: &str = "SIP;cause=408;text=\"Session idle timeout\"";
/// The `Reason` of a BYE sent when an RFC 4028 session was not refreshed.
pub const REASON_EXPIRED: &str = "SIP;cause=408;text=\"Session expired\"";

/// The smallest `Session-Expires` honoured (RFC 4028 §4: Min-SE is at
/// least 90 s); a smaller value is treated as 90 s, never as "end at once".
pub const MIN_SESSION_EXPIRES: Duration = Duration::from_secs(90);

/// The interval of a `Session-Expires` (or `x`) header of `msg`, if any and
/// well formed (`delta-seconds *(;param)`, RFC 4028 §4).
pub fn session_expires(msg: &Message) -> Option<Duration> {
    let v = msg
        .header_named("Session-Expires")
        .or_else(|| msg.header_named("x"))?;
    let delta = v.split(';').next()?.trim();
    if delta.is_empty() || delta.len() > 10 || !delta.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = delta.parse().ok()?;
    Some(Duration::from_secs(secs).max(MIN_SESSION_EXPIRES))
}

/// What is known of one answered session's activity.
#[derive(Debug, Clone, Copy)]
struct Activity {
    /// The last in-dialog request (or the answer).
    at: Instant,
    /// The RFC 4028 interval, when session timers are in use.
    session_expires: Option<Duration>,
}

/// Idle deadlines of the answered sessions, by (Call-ID, caller's From tag).
#[derive(Debug, Default)]
pub(crate) struct IdleSessions {
    timeout: Option<Duration>,
    last: BTreeMap<(String, String), Activity>,
    /// Check points; an entry may be stale (the session was seen since).
    due: BTreeSet<(Instant, String, String)>,
}

impl IdleSessions {
    /// Idle expiry after `timeout` (`None`: only RFC 4028 session timers).
    pub(crate) fn new(timeout: Option<Duration>) -> Self {
        Self {
            timeout,
            ..Self::default()
        }
    }

    /// How long `a` may stay idle, if at all limited.
    fn limit(&self, a: &Activity) -> Option<Duration> {
        match (self.timeout, a.session_expires) {
            (Some(t), Some(se)) => Some(t.min(se)),
            (t, se) => t.or(se),
        }
    }

    /// A session was answered at `now` (its 2xx's `Session-Expires`, if any).
    pub(crate) fn arm(
        &mut self,
        now: Instant,
        call_id: &str,
        from_tag: &str,
        session_expires: Option<Duration>,
    ) {
        let a = Activity {
            at: now,
            session_expires,
        };
        let Some(limit) = self.limit(&a) else {
            return;
        };
        self.last
            .insert((call_id.to_owned(), from_tag.to_owned()), a);
        self.due
            .insert((now + limit, call_id.to_owned(), from_tag.to_owned()));
    }

    /// An in-dialog request passed at `now`, in either direction (the
    /// caller's From tag is `from_tag` or, from the callee, `to_tag`). A
    /// `Session-Expires` in it (a refresh) sets the interval from now on.
    pub(crate) fn touch(
        &mut self,
        now: Instant,
        call_id: &str,
        from_tag: &str,
        to_tag: &str,
        session_expires: Option<Duration>,
    ) {
        if self.last.is_empty() {
            return;
        }
        for tag in [from_tag, to_tag] {
            let key = (call_id.to_owned(), tag.to_owned());
            let Some(a) = self.last.get_mut(&key) else {
                continue;
            };
            a.at = a.at.max(now);
            if session_expires.is_none() {
                return; // the armed check point re-arms itself lazily
            }
            a.session_expires = session_expires;
            let a = *a;
            // A new interval may be shorter than the armed one.
            if let Some(limit) = self.limit(&a) {
                self.due.insert((now + limit, key.0, key.1));
            }
            return;
        }
    }

    /// The session ended: nothing more to watch.
    pub(crate) fn forget(&mut self, call_id: &str, from_tag: &str) {
        self.last.remove(&(call_id.to_owned(), from_tag.to_owned()));
    }

    /// The next check point.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.due.first().map(|(t, _, _)| *t)
    }

    /// Sessions idle past their limit at `now`, with whether it was the RFC
    /// 4028 interval that ran out; they are no longer watched. Check points
    /// of sessions seen since are re-armed.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Vec<(String, String, bool)> {
        let mut out = Vec::new();
        while let Some((at, cid, ft)) = self.due.first().cloned() {
            if at > now {
                break;
            }
            self.due.remove(&(at, cid.clone(), ft.clone()));
            let key = (cid, ft);
            let Some(a) = self.last.get(&key).copied() else {
                continue; // ended meanwhile
            };
            let Some(limit) = self.limit(&a) else {
                continue;
            };
            let deadline = a.at + limit;
            if deadline > now {
                if deadline > at {
                    self.due.insert((deadline, key.0, key.1));
                }
                continue;
            }
            self.last.remove(&key);
            let expired = a
                .session_expires
                .is_some_and(|se| self.timeout.is_none_or(|t| se < t));
            out.push((key.0, key.1, expired));
        }
        out
    }
}

impl Proxy {
    /// Ends the answered sessions that stayed idle too long (see the module docs).
    pub(crate) fn idle_timeouts(&mut self, ctx: &mut Ctx<'_>) {
        for (cid, ft, expired) in self.idle.take_expired(ctx.now) {
            let reason = if expired { REASON_EXPIRED } else { REASON_IDLE };
            if !self.end_answered(ctx, &cid, &ft, EndCause::Timeout, reason)
                && let Some(s) = ctx.sessions.end(&cid, &ft, EndCause::Timeout)
            {
                self.session_gone(&s);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Limits;

    fn with(header: &str) -> Message {
        let raw = format!(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\n\
             To: <sip:b@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{header}Content-Length: 0\r\n\r\n"
        );
        Message::parse(bytes::Bytes::from(raw), &Limits::default()).expect("valid")
    }

    #[test]
    fn session_expires_is_parsed_with_its_floor() {
        let s = |h: &str| session_expires(&with(h));
        assert_eq!(
            s("Session-Expires: 1800;refresher=uac\r\n"),
            Some(Duration::from_secs(1800))
        );
        assert_eq!(
            s("x: 600\r\n"),
            Some(Duration::from_secs(600)),
            "compact form"
        );
        assert_eq!(s("Session-Expires: 30\r\n"), Some(MIN_SESSION_EXPIRES));
        assert_eq!(s(""), None);
        for bad in ["abc", "-5", "", "99999999999", "1 800"] {
            assert_eq!(s(&format!("Session-Expires: {bad}\r\n")), None, "{bad:?}");
        }
    }

    #[test]
    fn idle_sessions_expire_and_activity_pushes_the_deadline() {
        let t0 = crate::test_epoch();
        let mut idle = IdleSessions::new(Some(Duration::from_secs(100)));
        idle.arm(t0, "c1", "a", None);
        idle.arm(t0, "c2", "b", None);
        assert_eq!(idle.next_deadline(), Some(t0 + Duration::from_secs(100)));
        // c1's callee (From tag = its To tag "z", To tag = the caller's "a") speaks at 60 s.
        idle.touch(t0 + Duration::from_secs(60), "c1", "z", "a", None);
        let gone = idle.take_expired(t0 + Duration::from_secs(100));
        assert_eq!(gone, vec![("c2".to_owned(), "b".to_owned(), false)]);
        assert!(idle.take_expired(t0 + Duration::from_secs(159)).is_empty());
        assert_eq!(
            idle.take_expired(t0 + Duration::from_secs(160)),
            vec![("c1".to_owned(), "a".to_owned(), false)]
        );
        assert_eq!(idle.next_deadline(), None, "nothing left to watch");
    }

    #[test]
    fn session_timers_shorten_the_limit_and_ended_sessions_are_forgotten() {
        let t0 = crate::test_epoch();
        let mut idle = IdleSessions::new(Some(Duration::from_secs(7200)));
        idle.arm(t0, "c1", "a", Some(Duration::from_secs(120)));
        idle.arm(t0, "c2", "b", None);
        // A refresh at 100 s with a new interval of 300 s.
        idle.touch(
            t0 + Duration::from_secs(100),
            "c1",
            "a",
            "z",
            Some(Duration::from_secs(300)),
        );
        assert!(idle.take_expired(t0 + Duration::from_secs(399)).is_empty());
        assert_eq!(
            idle.take_expired(t0 + Duration::from_secs(400)),
            vec![("c1".to_owned(), "a".to_owned(), true)]
        );
        idle.forget("c2", "b");
        assert!(idle.take_expired(t0 + Duration::from_secs(9000)).is_empty());
        // Off, and no session timer: nothing is watched.
        let mut off = IdleSessions::new(None);
        off.arm(t0, "c3", "c", None);
        assert_eq!(off.next_deadline(), None);
        off.arm(t0, "c4", "d", Some(Duration::from_secs(90)));
        assert_eq!(off.next_deadline(), Some(t0 + Duration::from_secs(90)));
    }
}
