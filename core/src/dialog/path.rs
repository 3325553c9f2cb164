//! What the proxy keeps of an answered dialog so that it can end it itself:
//! for each side, where in-dialog requests toward it go and with which
//! headers (RFC 3261 §12.1–§12.2).
//!
//! The proxy is on the dialog's path because it record-routed the INVITE
//! (§16.6 step 4), so it can act as each party's peer UA: a BYE toward the
//! callee carries the caller's From and the 2xx's To, the callee's Contact
//! as Request-URI (§12.2.1.1) and the Record-Route entries between us and
//! the callee as Route set; a BYE toward the caller mirrors that. Each side's
//! CSeq is the highest one seen in requests sent toward it plus one
//! (§12.2.1.1: "MUST be incremented by one"), the proxy watching in-dialog
//! requests as they pass.

use crate::transaction::Destination;

/// How to reach one party of a dialog with a new in-dialog request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    /// The party's Contact URI (the Request-URI, §12.2.1.1).
    pub target: String,
    /// Route header values toward it (the recorded path beyond us), in order.
    pub routes: Vec<String>,
    /// Where to send (the first Route's address, or the party's own flow).
    pub hop: Destination,
    /// The From header value (the *other* party, with its tag).
    pub from: String,
    /// The To header value (this party, with its tag).
    pub to: String,
    /// The highest CSeq number seen in requests sent toward this party.
    pub cseq: u32,
}

/// Both sides of an answered dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogPath {
    /// The side that sent the INVITE.
    pub caller: Leg,
    /// The side that answered it.
    pub callee: Leg,
}

impl DialogPath {
    /// A request passed from one side to the other; `toward_callee` says which
    /// way. Keeps the highest CSeq number per direction.
    pub fn note_cseq(&mut self, toward_callee: bool, seq: u32) {
        let leg = if toward_callee {
            &mut self.callee
        } else {
            &mut self.caller
        };
        leg.cseq = leg.cseq.max(seq);
    }
}

/// Splits a 2xx's Record-Route values at our own entries (`is_ours`): the
/// route set toward the callee is the entries above ours, nearest first
/// (reversed); toward the caller, the entries below ours, nearest first.
/// Without an entry of ours, `None` (we are not on the dialog's path).
pub fn split_record_route(
    entries: &[String],
    is_ours: impl Fn(&str) -> bool,
) -> Option<(Vec<String>, Vec<String>)> {
    let first = entries.iter().position(|e| is_ours(e))?;
    let last = entries.iter().rposition(|e| is_ours(e))?;
    let toward_callee: Vec<String> = entries.get(..first)?.iter().rev().cloned().collect();
    let toward_caller: Vec<String> = entries.get(last + 1..)?.to_vec();
    Some((toward_callee, toward_caller))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn record_route_is_split_around_our_entries() {
        // Callee-side proxy p2 on top, then us twice (double RR), then p1 near the caller.
        let rr = v(&[
            "<sip:p2a;lr>",
            "<sip:p2b;lr>",
            "<sip:us;lr>",
            "<sip:us2;lr>",
            "<sip:p1;lr>",
        ]);
        let (callee, caller) = split_record_route(&rr, |e| e.contains("us")).expect("ours");
        assert_eq!(callee, v(&["<sip:p2b;lr>", "<sip:p2a;lr>"]));
        assert_eq!(caller, v(&["<sip:p1;lr>"]));
        let (callee, caller) =
            split_record_route(&v(&["<sip:us;lr>"]), |e| e.contains("us")).expect("ours");
        assert!(callee.is_empty() && caller.is_empty());
        assert!(split_record_route(&v(&["<sip:p1;lr>"]), |e| e.contains("us")).is_none());
        assert!(split_record_route(&[], |_| true).is_none());
    }

    #[test]
    fn cseq_per_direction_only_grows() {
        let hop = Destination {
            transport: crate::Transport::Udp,
            remote: "192.0.2.1:5060".parse().expect("addr"),
            local: None,
            conn: None,
        };
        let leg = Leg {
            target: "sip:a@192.0.2.1".into(),
            routes: Vec::new(),
            hop,
            from: "<sip:b@x>;tag=2".into(),
            to: "<sip:a@x>;tag=1".into(),
            cseq: 7,
        };
        let mut p = DialogPath {
            caller: leg.clone(),
            callee: leg,
        };
        p.note_cseq(true, 9);
        p.note_cseq(true, 8);
        p.note_cseq(false, 3);
        assert_eq!((p.callee.cseq, p.caller.cseq), (9, 7));
    }
}
