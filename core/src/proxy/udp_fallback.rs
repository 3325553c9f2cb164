//! UDP fallback for requests sent over TCP only because of their size.
//!
//! RFC 3261 §18.1.1: a request within 200 bytes of the path MTU (over 1,300
//! bytes) "MUST be sent using an RFC 2914 congestion controlled transport
//! protocol, such as TCP", so [`Proxy::launch`] sends a large request to a
//! directly reachable UDP target over TCP instead. The same section lets the
//! element fall back: "If an element sends a request over TCP because of
//! these message size constraints, and that request would have otherwise been
//! sent over UDP, if the attempt to establish the connection generates either
//! an ICMP Protocol Not Supported, or results in a TCP reset, the element
//! SHOULD retry the request, using UDP." In practice many phones (and sipp)
//! do not listen on TCP at all, so the connection is refused, and without the
//! retry a browser's 2.5 kB INVITE would never ring a UDP-only phone.
//!
//! So when a branch that was upgraded from UDP to TCP fails with a transport
//! error before any response, the same target is tried once more over UDP: a
//! new branch (new Via branch parameter, `Via: SIP/2.0/UDP`, the Record-Route
//! of a UDP target), built from the very request and Route edit the upgraded
//! branch was built from. Only a transport error falls back: a timeout (408)
//! means the target may just be slow, and TCP is what the RFC asks for. A
//! branch that had any response, or whose request was cancelled or already
//! answered elsewhere, does not fall back either.
//!
//! What is needed for the retry is stored only for upgraded branches, boxed,
//! keyed by the client transaction, and forgotten when that transaction gets
//! a response or terminates.

use super::forward::{RouteEdit, Target};
use super::{Ctx, Proxy};
use crate::sip::Message;
use crate::transaction::TxId;
use crate::transport::Flow;
use std::collections::BTreeMap;

/// What an upgraded branch needs to be sent again over UDP.
#[derive(Debug)]
pub(crate) struct Fallback {
    /// The UDP target as it was before the upgrade.
    target: Target,
    /// The request the branch was built from (any CSeq shift applied).
    msg: Message,
    /// The flow the request arrived on (for the Record-Route of both sides).
    flow: Flow,
    /// The Route edit used at launch (§16.4, §16.6 steps 6–7).
    edit: RouteEdit,
    /// The loop-detection hash of the request (for the new branch parameter).
    hash: u64,
}

/// Upgraded branches that may still fall back to UDP, by client transaction.
#[derive(Debug, Default)]
pub(crate) struct UdpFallbacks {
    pending: BTreeMap<TxId, Box<Fallback>>,
}

impl UdpFallbacks {
    /// Remembers that branch `client` was sent over TCP instead of UDP to
    /// `target` (the target before the upgrade).
    pub(crate) fn remember(
        &mut self,
        client: TxId,
        target: &Target,
        msg: &Message,
        flow: &Flow,
        edit: &RouteEdit,
        hash: u64,
    ) {
        let mut target = target.clone();
        // The retry must stay on UDP: `direct` is what lets launch upgrade it.
        target.direct = false;
        self.pending.insert(
            client,
            Box::new(Fallback {
                target,
                msg: msg.clone(),
                flow: *flow,
                edit: edit.clone(),
                hash,
            }),
        );
    }

    /// Forgets branch `client` (it had a response, timed out or ended).
    pub(crate) fn forget(&mut self, client: TxId) {
        self.pending.remove(&client);
    }

    /// Takes what branch `client` needs to fall back, if it was upgraded.
    fn take(&mut self, client: TxId) -> Option<Box<Fallback>> {
        self.pending.remove(&client)
    }

    /// How many upgraded branches may still fall back.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.pending.len()
    }
}

impl Proxy {
    /// Branch `client` had a transport error: if it was upgraded to TCP for
    /// its size and its request still waits for an answer, sends it again over
    /// UDP as a new branch of the same context and returns true (the failed
    /// branch is then done without offering a 503).
    pub(super) fn fall_back_to_udp(&mut self, ctx: &mut Ctx<'_>, client: TxId) -> bool {
        let Some(fb) = self.udp_fallback.take(client) else {
            return false;
        };
        let Some(&server) = self.branches.get(&client) else {
            return false;
        };
        let Some(mut c) = self.contexts.remove(&server) else {
            return false;
        };
        let waiting = !c.final_sent
            && !c.cancelled
            && c.branches
                .iter()
                .any(|b| b.client == client && !b.done && !b.provisional && !b.cancel_pending);
        let sent = if waiting {
            self.launch(
                ctx,
                server,
                &fb.msg,
                &fb.flow,
                &fb.edit,
                fb.hash,
                std::slice::from_ref(&fb.target),
                &mut c,
            )
        } else {
            0
        };
        if sent > 0 {
            if let Some(b) = c.branches.iter_mut().find(|b| b.client == client) {
                b.done = true;
            }
            self.stats.udp_fallbacks += 1;
        }
        // Back in place (its Timer C entry is still armed).
        self.contexts.insert(server, c);
        sent > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transaction::Destination;
    use crate::transport::Transport;

    fn target() -> Target {
        Target {
            request_uri: Some("sip:102@192.0.2.102:5060".into()),
            dest: Destination {
                transport: Transport::Udp,
                remote: "192.0.2.102:5060".parse().expect("literal"),
                local: None,
                conn: None,
            },
            push_routes: Vec::new(),
            direct: true,
        }
    }

    fn request() -> Message {
        let raw = "INVITE sip:102@example.com SIP/2.0\r\n\
                   Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKa1\r\n\
                   Max-Forwards: 70\r\nFrom: <sip:101@example.com>;tag=1\r\n\
                   To: <sip:102@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\
                   Content-Length: 0\r\n\r\n";
        Message::parse(bytes::Bytes::from(raw), &Default::default()).expect("valid request")
    }

    fn flow() -> Flow {
        Flow {
            transport: Transport::Udp,
            local: "192.0.2.1:5060".parse().expect("literal"),
            remote: "192.0.2.101:5060".parse().expect("literal"),
            conn: None,
        }
    }

    #[test]
    fn remembered_target_is_no_longer_upgradable() {
        let mut f = UdpFallbacks::default();
        let id = TxId(7);
        f.remember(id, &target(), &request(), &flow(), &RouteEdit::default(), 9);
        assert_eq!(f.len(), 1);
        let fb = f.take(id).expect("remembered");
        assert!(!fb.target.direct, "the retry must not be upgraded again");
        assert_eq!(fb.target.dest.transport, Transport::Udp);
        assert_eq!(fb.hash, 9);
        assert_eq!(fb.msg.call_id(), "c1");
        assert!(f.take(id).is_none(), "falls back at most once");
    }

    #[test]
    fn forgotten_branch_does_not_fall_back() {
        let mut f = UdpFallbacks::default();
        f.remember(
            TxId(1),
            &target(),
            &request(),
            &flow(),
            &RouteEdit::default(),
            0,
        );
        f.remember(
            TxId(2),
            &target(),
            &request(),
            &flow(),
            &RouteEdit::default(),
            0,
        );
        f.forget(TxId(1));
        assert!(f.take(TxId(1)).is_none());
        assert!(f.take(TxId(2)).is_some());
        assert_eq!(f.len(), 0);
    }
}
