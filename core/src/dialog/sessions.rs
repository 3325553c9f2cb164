//! The table of active sessions, keyed by Call-ID and the caller's From tag.
//!
//! A dialog is identified by Call-ID and both tags (RFC 3261 §12); a proxy
//! sees forks with several To tags, so a *session* here is the caller's side:
//! Call-ID + From tag, with the To tag of the branch that answered.

use crate::event::{EndCause, Event};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// INVITE forwarded, no final answer yet.
    Ringing,
    /// A 2xx was received; the call is up.
    Answered,
}

/// One call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Engine-wide id (monotonic).
    pub id: u64,
    /// Call-ID.
    pub call_id: String,
    /// The caller's From tag.
    pub from_tag: String,
    /// The answering branch's To tag, once answered.
    pub to_tag: Option<String>,
    /// Caller (From URI).
    pub caller: String,
    /// Callee (Request-URI of the INVITE).
    pub callee: String,
    /// When the INVITE arrived.
    pub started: Instant,
    /// When it was answered.
    pub answered: Option<Instant>,
    /// State.
    pub state: SessionState,
    /// The route prefix the call was routed by (`Default` or the digits), if
    /// it went out through a route (issue 4).
    pub route: Option<String>,
    /// The destination it went to, if routed (the one that answered, after failover).
    pub destination: Option<String>,
    /// What the proxy needs to end the dialog itself (max session duration,
    /// terminate command), once answered through a Record-Route of ours.
    pub path: Option<Box<super::DialogPath>>,
}

impl Session {
    /// Wall-clock start, given the engine's epoch mapping.
    pub fn started_wall(&self, start: Instant, wall_epoch: SystemTime) -> SystemTime {
        wall_epoch + self.started.saturating_duration_since(start)
    }

    /// How long it has been up (zero if not answered).
    pub fn talk_time(&self, now: Instant) -> Duration {
        self.answered
            .map_or(Duration::ZERO, |a| now.saturating_duration_since(a))
    }
}

/// All active sessions.
#[derive(Debug, Default)]
pub struct Sessions {
    by_key: BTreeMap<(String, String), Session>,
    next_id: u64,
    events: VecDeque<Event>,
}

impl Sessions {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of active sessions.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// True if no call is active.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Active sessions in key order.
    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.by_key.values()
    }

    /// The session for this Call-ID and caller tag.
    pub fn get(&self, call_id: &str, from_tag: &str) -> Option<&Session> {
        self.by_key.get(&(call_id.to_owned(), from_tag.to_owned()))
    }

    /// Finds a session by id.
    pub fn by_id(&self, id: u64) -> Option<&Session> {
        self.by_key.values().find(|s| s.id == id)
    }

    /// An initial INVITE was routed. Returns the new session's id, or `None` when
    /// this Call-ID and caller tag are already active (a spiral through this proxy,
    /// or another branch of the same call): that INVITE does not own the session.
    pub fn start(
        &mut self,
        now: Instant,
        call_id: &str,
        from_tag: &str,
        caller: &str,
        callee: &str,
    ) -> Option<u64> {
        let key = (call_id.to_owned(), from_tag.to_owned());
        if self.by_key.contains_key(&key) {
            return None;
        }
        self.next_id += 1;
        let id = self.next_id;
        self.by_key.insert(
            key,
            Session {
                id,
                call_id: call_id.to_owned(),
                from_tag: from_tag.to_owned(),
                to_tag: None,
                caller: caller.to_owned(),
                callee: callee.to_owned(),
                started: now,
                answered: None,
                state: SessionState::Ringing,
                route: None,
                destination: None,
                path: None,
            },
        );
        self.events.push_back(Event::SessionStarted {
            id,
            call_id: call_id.to_owned(),
            caller: caller.to_owned(),
            callee: callee.to_owned(),
        });
        Some(id)
    }

    /// A 2xx to the INVITE passed. Returns false if no such ringing session exists
    /// (a 2xx retransmission, or another fork's 2xx, changes nothing).
    pub fn answer(
        &mut self,
        now: Instant,
        call_id: &str,
        from_tag: &str,
        to_tag: Option<&str>,
    ) -> bool {
        let key = (call_id.to_owned(), from_tag.to_owned());
        let Some(s) = self.by_key.get_mut(&key) else {
            return false;
        };
        if s.state == SessionState::Answered {
            return false;
        }
        s.state = SessionState::Answered;
        s.answered = Some(now);
        s.to_tag = to_tag.map(str::to_owned);
        self.events.push_back(Event::SessionAnswered { id: s.id });
        true
    }

    /// Records the route prefix and destination a routed call is being sent
    /// through (again on each failover); `None` clears them.
    pub fn set_route(&mut self, call_id: &str, from_tag: &str, route: Option<(String, String)>) {
        if let Some(s) = self
            .by_key
            .get_mut(&(call_id.to_owned(), from_tag.to_owned()))
        {
            (s.route, s.destination) = match route {
                Some((r, d)) => (Some(r), Some(d)),
                None => (None, None),
            };
        }
    }

    /// Stores the dialog path of an answered session.
    pub fn set_path(&mut self, call_id: &str, from_tag: &str, path: super::DialogPath) {
        if let Some(s) = self
            .by_key
            .get_mut(&(call_id.to_owned(), from_tag.to_owned()))
        {
            s.path = Some(Box::new(path));
        }
    }

    /// An in-dialog request passed: remembers its CSeq for the direction it
    /// went (From tag = the caller's: toward the callee; = the callee's To
    /// tag: toward the caller).
    pub fn note_in_dialog(&mut self, call_id: &str, from_tag: &str, to_tag: &str, seq: u32) {
        if let Some(p) = self
            .by_key
            .get_mut(&(call_id.to_owned(), from_tag.to_owned()))
            .and_then(|s| s.path.as_mut())
        {
            p.note_cseq(true, seq);
        } else if let Some(p) = self
            .by_key
            .get_mut(&(call_id.to_owned(), to_tag.to_owned()))
            .and_then(|s| s.path.as_mut())
        {
            p.note_cseq(false, seq);
        }
    }

    /// The session ended; returns it if it was active.
    pub fn end(&mut self, call_id: &str, from_tag: &str, cause: EndCause) -> Option<Session> {
        let s = self
            .by_key
            .remove(&(call_id.to_owned(), from_tag.to_owned()))?;
        self.events
            .push_back(Event::SessionEnded { id: s.id, cause });
        Some(s)
    }

    /// Ends a session whose dialog is identified from either side: a BYE from the
    /// callee carries the tags swapped (its From tag is the callee's To tag).
    pub fn end_dialog(
        &mut self,
        call_id: &str,
        tag_a: &str,
        tag_b: Option<&str>,
        cause_if_caller: bool,
    ) -> Option<Session> {
        if self.get(call_id, tag_a).is_some() {
            return self.end(
                call_id,
                tag_a,
                EndCause::Bye {
                    by_caller: cause_if_caller,
                },
            );
        }
        let other = tag_b?;
        self.get(call_id, other)?;
        self.end(
            call_id,
            other,
            EndCause::Bye {
                by_caller: !cause_if_caller,
            },
        )
    }

    /// The next event to report, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn life_of_a_call_and_its_events() {
        let t0 = crate::test_epoch();
        let mut s = Sessions::new();
        let id = s
            .start(t0, "c1", "ft", "sip:101@x", "sip:102@x")
            .expect("a new session");
        assert_eq!(
            s.start(t0, "c1", "ft", "sip:101@x", "sip:102@x"),
            None,
            "a spiral of the same INVITE does not own the session"
        );
        s.set_route("c1", "ft", Some(("0044".into(), "carrier".into())));
        assert_eq!(
            s.get("c1", "ft").and_then(|x| x.destination.as_deref()),
            Some("carrier")
        );
        assert!(s.answer(t0 + Duration::from_secs(2), "c1", "ft", Some("tt")));
        assert!(
            !s.answer(t0 + Duration::from_secs(3), "c1", "ft", Some("tt2")),
            "second 2xx ignored"
        );
        assert_eq!(
            s.get("c1", "ft")
                .map(|x| x.talk_time(t0 + Duration::from_secs(12))),
            Some(Duration::from_secs(10))
        );
        // BYE from the callee: From tag = tt, To tag = ft
        let ended = s.end_dialog("c1", "tt", Some("ft"), true).expect("active");
        assert_eq!(ended.id, id);
        assert_eq!(ended.route.as_deref(), Some("0044"));
        assert!(s.is_empty());
        let evs: Vec<Event> = std::iter::from_fn(|| s.poll_event()).collect();
        assert_eq!(evs.len(), 3);
        assert_eq!(
            evs[2],
            Event::SessionEnded {
                id,
                cause: EndCause::Bye { by_caller: false }
            }
        );
    }
}
