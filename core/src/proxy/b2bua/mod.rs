//! UA-type destinations (issue 4): Switchboard as a back-to-back user agent
//! with topology hiding (RFC 3261 §6 "B2BUA"; RFC 5853 §3.1 on topology
//! hiding; RFC 7092 §3.1.3 for the signalling-only kind built here).
//!
//! When routing picks a destination of type `UserAgent` for an INVITE, the
//! call is split in two dialogs:
//! - the **A leg** is the caller's INVITE server transaction and, once
//!   answered, the dialog in which we are the caller's UAS (our own To tag,
//!   our Contact, the caller's Record-Route copied back to it, §12.1.1);
//! - the **B leg** is a new INVITE of ours ([`leg::initial_invite`]): new
//!   Call-ID, our From tag, one Via, our Contact, none of the caller's
//!   addresses. A failover to the next destination starts a new B leg.
//!
//! The A leg keeps using the proxy's fork context ([`super::context`]): a B
//! leg is one branch of it, and each response on it is rewritten as the A
//! leg's response ([`call`]) before the context sees it, so best-response
//! choice, failover, Timer C, CANCEL, sessions and capacity work as for
//! proxied calls. Once answered, in-dialog requests are bridged in both
//! directions with CSeq numbering per leg, ACK for 2xx is generated on the
//! other leg when its party ACKs (§13.2.2.4), and BYE, max session duration
//! and the operator's terminate end both legs ([`bridge`]).
//!
//! Keys: a call has an engine-unique number. It is found by the A leg's
//! server transaction, by each B INVITE client transaction, by Call-ID (the
//! caller's and each B leg's) and, for bridged in-dialog requests, by their
//! client transaction. Everything of a call goes when it ends: a failure
//! (the A server transaction ends unanswered), a BYE answered or timed out,
//! the terminate command or the maximum duration.
//!
//! Not bridged: reliable provisional responses (RFC 3262: `100rel` is removed
//! from `Supported`, so PRACK never starts), requests inside an early dialog,
//! REFER's transfer semantics (a REFER is bridged as an opaque request), and
//! CANCEL of a bridged re-INVITE.

pub mod bridge;
pub mod call;
pub mod leg;

use crate::transaction::{Destination, TxId};
use leg::UaLeg;
use std::collections::BTreeMap;

/// Most B2BUA calls kept at once; beyond it UA destinations are skipped (503).
pub const MAX_CALLS: usize = 65_536;

/// Which leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The caller's.
    A = 0,
    /// The destination's.
    B = 1,
}

impl Side {
    /// The other leg.
    pub(crate) fn other(self) -> Self {
        match self {
            Self::A => Self::B,
            Self::B => Self::A,
        }
    }
}

/// One B INVITE sent for a call (one per destination tried).
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    /// Its client transaction (the latest, after a resend with credentials).
    pub client: TxId,
    /// Its Call-ID.
    pub call_id: String,
    /// Our From value (with tag).
    pub from: String,
    /// Our tag.
    pub tag: String,
    /// Its CSeq number.
    pub cseq: u32,
    /// Where it was sent.
    pub dest: Destination,
}

/// One B2BUA call.
#[derive(Debug)]
pub(crate) struct Call {
    /// The A leg's INVITE server transaction.
    pub server: TxId,
    /// The caller's Call-ID.
    pub a_call_id: String,
    /// The caller's From tag.
    pub a_from_tag: String,
    /// Our To tag toward the caller.
    pub a_tag: String,
    /// B INVITEs sent, in order.
    pub attempts: Vec<Attempt>,
    /// Both dialogs once answered: `[A, B]`.
    pub legs: Option<Box<[UaLeg; 2]>>,
}

impl Call {
    /// The leg on `side` (answered calls only).
    pub(crate) fn leg_mut(&mut self, side: Side) -> Option<&mut UaLeg> {
        self.legs.as_mut().map(|l| &mut l[side as usize])
    }

    /// Which party sent an in-dialog request with these identifiers.
    pub(crate) fn side_of(&self, call_id: &str, from_tag: &str, to_tag: &str) -> Option<Side> {
        let legs = self.legs.as_ref()?;
        [Side::A, Side::B]
            .into_iter()
            .find(|s| legs[*s as usize].matches(call_id, from_tag, to_tag))
    }
}

/// A request we sent on one leg for a request received on the other (or on
/// our own, for a BYE of ours).
#[derive(Debug, Clone)]
pub(crate) struct Bridged {
    /// The call.
    pub call: u64,
    /// The other party's server transaction to answer, if any.
    pub server: Option<TxId>,
    /// The leg it went on.
    pub toward: Side,
    /// Its CSeq number.
    pub cseq: u32,
    /// It is a BYE: its end is the call's.
    pub bye: bool,
}

/// All B2BUA calls and their indexes.
#[derive(Debug, Default)]
pub struct B2bua {
    pub(crate) calls: BTreeMap<u64, Call>,
    next: u64,
    /// A leg server transaction → call.
    pub(crate) by_server: BTreeMap<TxId, u64>,
    /// B INVITE client transaction → call.
    pub(crate) by_attempt: BTreeMap<TxId, u64>,
    /// Call-ID (A's and every B leg's) → call.
    pub(crate) by_call_id: BTreeMap<String, u64>,
    /// Client transactions of bridged (or our own) in-dialog requests.
    pub(crate) bridged: BTreeMap<TxId, Bridged>,
}

impl B2bua {
    /// Live calls.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// No live call.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Starts a call for A leg `server`.
    pub(crate) fn insert(&mut self, call: Call) -> u64 {
        self.next += 1;
        let id = self.next;
        self.by_server.insert(call.server, id);
        self.by_call_id.insert(call.a_call_id.clone(), id);
        self.calls.insert(id, call);
        id
    }

    /// Records a B INVITE of call `id`.
    pub(crate) fn add_attempt(&mut self, id: u64, a: Attempt) {
        self.by_attempt.insert(a.client, id);
        self.by_call_id.insert(a.call_id.clone(), id);
        if let Some(c) = self.calls.get_mut(&id) {
            c.attempts.push(a);
        }
    }

    /// Moves an attempt to the client transaction that resent it with
    /// credentials (its CSeq one higher).
    pub(crate) fn resent(&mut self, old: TxId, new: TxId) {
        let Some(id) = self.by_attempt.get(&old).copied() else {
            return;
        };
        self.by_attempt.insert(new, id);
        if let Some(a) = self
            .calls
            .get_mut(&id)
            .and_then(|c| c.attempts.iter_mut().find(|a| a.client == old))
        {
            a.client = new;
            a.cseq = a.cseq.saturating_add(1);
        }
    }

    /// Forgets everything of call `id`.
    pub(crate) fn remove(&mut self, id: u64) -> Option<Call> {
        let c = self.calls.remove(&id)?;
        self.by_server.remove(&c.server);
        self.by_call_id.remove(&c.a_call_id);
        for a in &c.attempts {
            self.by_attempt.remove(&a.client);
            self.by_call_id.remove(&a.call_id);
        }
        if let Some(legs) = &c.legs {
            self.by_call_id.remove(&legs[1].call_id);
        }
        Some(c)
    }

    /// A client transaction ended: its bookkeeping goes.
    pub(crate) fn client_gone(&mut self, tx: TxId) -> bool {
        let a = self.by_attempt.remove(&tx).is_some();
        let b = self.bridged.remove(&tx).is_some();
        a || b
    }

    /// The call with this A leg session key (Call-ID, caller's From tag).
    pub(crate) fn by_session(&self, call_id: &str, from_tag: &str) -> Option<u64> {
        let id = *self.by_call_id.get(call_id)?;
        let c = self.calls.get(&id)?;
        (c.a_call_id == call_id && c.a_from_tag == from_tag).then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Transport;

    fn dest() -> Destination {
        Destination {
            transport: Transport::Udp,
            remote: "192.0.2.201:5060".parse().expect("addr"),
            local: None,
            conn: None,
        }
    }

    #[test]
    fn a_call_is_found_by_every_key_and_removed_from_all() {
        let mut b = B2bua::default();
        let id = b.insert(Call {
            server: TxId(7),
            a_call_id: "a-call".into(),
            a_from_tag: "ft".into(),
            a_tag: "at".into(),
            attempts: Vec::new(),
            legs: None,
        });
        b.add_attempt(
            id,
            Attempt {
                client: TxId(8),
                call_id: "b-call-1".into(),
                from: "<sip:x@y>;tag=t".into(),
                tag: "t".into(),
                cseq: 1,
                dest: dest(),
            },
        );
        b.resent(TxId(8), TxId(9));
        assert_eq!(b.by_attempt.get(&TxId(9)), Some(&id));
        assert_eq!(b.calls[&id].attempts[0].cseq, 2);
        assert_eq!(b.by_session("a-call", "ft"), Some(id));
        assert_eq!(b.by_session("a-call", "other"), None);
        assert_eq!(b.by_call_id.get("b-call-1"), Some(&id));
        assert!(b.remove(id).is_some());
        assert!(b.is_empty());
        assert!(b.by_server.is_empty() && b.by_call_id.is_empty());
        assert!(!b.by_attempt.contains_key(&TxId(9)));
        assert!(
            b.client_gone(TxId(8)),
            "the first transaction's entry stays until it ends"
        );
        assert!(b.by_attempt.is_empty());
    }

    #[test]
    fn sides() {
        assert_eq!(Side::A.other(), Side::B);
        assert_eq!(Side::B.other(), Side::A);
    }
}
