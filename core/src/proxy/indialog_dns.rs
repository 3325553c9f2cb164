//! Next hops named by host name for requests that follow a route set or a
//! remote target (issue 4 review; RFC 3261 §16.6 step 7, §18.1.1, RFC 3263
//! §4).
//!
//! An in-dialog request (and any request carrying a Route set) goes to its
//! first Route entry or, with none left, to its Request-URI (the remote
//! Contact). When that URI names its host by IP address (or `maddr`), or is a
//! contact registered with us, it is resolved at once
//! ([`super::forward::resolve`]). When it names a host by DNS name — a
//! Record-Route of a carrier's proxy, a Contact of a gateway written as a
//! name — the proxy asks the core's RFC 3263 resolver
//! ([`crate::dns::Resolver`], the same jobs routed calls to named gateways
//! use) and holds the request until the answer:
//!
//! - a request keeps its server transaction (its retransmissions are absorbed
//!   by the transaction layer, §17.2) and is forwarded to the first address
//!   the resolver gives (NAPTR/SRV/A order, §4.1–§4.2); no address, a DNS
//!   error or the resolver's timeout answers `503 Service Unavailable`
//!   (§16.6 step 7 / §16.7: no target could be reached). A request CANCELled
//!   meanwhile (answered 487 by the engine) is not sent.
//! - an ACK for a 2xx (stateless, §16.11) is sent to that address, or
//!   dropped and counted ([`super::ProxyStats::dropped`]) on failure.
//!
//! Bounded: at most [`MAX_HELD`] requests wait at a time (beyond it they are
//! answered 503 / dropped at once), and every job ends by the resolver's own
//! timeouts.

use super::forward::{self, ForwardSpec, RouteEdit, Target};
use super::{Ctx, Proxy, branch};
use crate::dns::{JobId, JobOutcome, SipTarget};
use crate::sip::{Host, Message, SipUri};
use crate::transaction::layer::dest_transmit;
use crate::transaction::{Destination, TxId};
use crate::transport::Flow;

/// Most requests held for a DNS answer at once.
pub const MAX_HELD: usize = 1024;

/// A request waiting for its next hop's address.
#[derive(Debug, Clone)]
pub(crate) enum Held {
    /// A request with its server transaction.
    Request {
        /// The server transaction.
        server: TxId,
        /// The request's Route edit.
        edit: RouteEdit,
        /// Its loop hash (branch parameter).
        hash: u64,
        /// The flow it came on.
        flow: Flow,
    },
    /// An ACK for a 2xx (already CSeq-shifted when it had to be).
    Ack {
        /// The ACK.
        msg: Box<Message>,
        /// The flow it came on.
        flow: Flow,
        /// Its Route edit.
        edit: RouteEdit,
    },
}

/// True when `u` names its host by DNS name (no `maddr`): only RFC 3263 can
/// say where it is.
pub(crate) fn needs_dns(u: &SipUri) -> bool {
    matches!(u.host, Host::Domain(_)) && u.maddr().is_none()
}

/// What the resolver is asked for `u`.
fn sip_target(u: &SipUri) -> SipTarget {
    SipTarget {
        host: u.host.to_string(),
        port: u.port,
        transport: u.transport_kind(),
        secure: u.secure,
    }
}

impl Proxy {
    /// True when `u` is a next hop only DNS can place: a host name that is
    /// neither our domain nor one of our own names (those never leave us).
    pub(crate) fn named_hop(&self, u: &SipUri) -> bool {
        needs_dns(u)
            && !self.identity.is_our_domain_uri(&u.host, u.port)
            && !self.identity.is_us(&u.host, u.port, u.transport_kind())
    }

    /// Starts the lookup of `hop` for `held`; false when too many wait
    /// already (the caller then fails the request at once).
    fn hold(&mut self, ctx: &mut Ctx<'_>, hop: &SipUri, held: Held) -> bool {
        if self.held.len() >= MAX_HELD {
            return false;
        }
        let supported = self.supported_transports();
        let job = self
            .dns
            .resolve(ctx.now, &sip_target(hop), &supported, ctx.rng);
        // Resumed by `pump_dns` (the engine runs it after every input; an
        // answer from the cache is ready at once).
        self.held.insert(job, held);
        true
    }

    /// Holds request `server` until `hop` is resolved; answers 503 if it
    /// cannot be held.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn hold_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        server: TxId,
        flow: &Flow,
        edit: RouteEdit,
        hash: u64,
        hop: &SipUri,
    ) {
        let held = Held::Request {
            server,
            edit,
            hash,
            flow: *flow,
        };
        if !self.hold(ctx, hop, held) {
            self.reply(ctx, server, 503, "Service Unavailable: busy", &[]);
        }
    }

    /// Holds an ACK until `hop` is resolved; drops it if it cannot be held.
    pub(crate) fn hold_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        msg: &Message,
        flow: &Flow,
        edit: RouteEdit,
        hop: &SipUri,
    ) {
        let held = Held::Ack {
            msg: Box::new(msg.clone()),
            flow: *flow,
            edit,
        };
        if !self.hold(ctx, hop, held) {
            self.stats.dropped += 1;
        }
    }

    /// A DNS job finished; returns false when it was not one of ours.
    pub(crate) fn resume_held(&mut self, ctx: &mut Ctx<'_>, job: JobId, out: JobOutcome) -> bool {
        let Some(held) = self.held.remove(&job) else {
            return false;
        };
        let dest = match out {
            JobOutcome::Targets(list) => list.first().map(|a| Destination {
                transport: a.transport,
                remote: a.addr,
                local: None,
                conn: None,
            }),
            _ => None,
        };
        match held {
            Held::Request {
                server,
                edit,
                hash,
                flow,
            } => {
                if !ctx.layer.server_is_pending(server) {
                    return true; // CANCELled (487) or otherwise answered meanwhile
                }
                let Some(dest) = dest else {
                    // §15.1.1: the sender of a BYE considers the session over
                    // once it is sent, whatever the answer.
                    self.end_on_failed_bye(ctx, server);
                    self.reply(
                        ctx,
                        server,
                        503,
                        "Service Unavailable: cannot resolve next hop",
                        &[],
                    );
                    return true;
                };
                let Some(msg) = ctx.layer.server_request(server).cloned() else {
                    return true;
                };
                let target = Target {
                    request_uri: None,
                    dest,
                    push_routes: Vec::new(),
                    direct: false,
                };
                self.fork(ctx, server, &msg, &flow, &edit, hash, vec![target]);
            }
            Held::Ack { msg, flow, edit } => match dest {
                Some(dest) => self.send_ack(ctx, &msg, &flow, &edit, dest),
                None => self.stats.dropped += 1,
            },
        }
        true
    }

    /// A BYE that could not be forwarded still ends its session (capacity
    /// released, `SessionEnded`).
    fn end_on_failed_bye(&mut self, ctx: &mut Ctx<'_>, server: TxId) {
        let Some(msg) = ctx.layer.server_request(server).cloned() else {
            return;
        };
        if msg.method() != Some(&crate::sip::Method::Bye) {
            return;
        }
        if let Some(ft) = msg.from_tag()
            && let Some(ended) = ctx
                .sessions
                .end_dialog(msg.call_id(), ft, msg.to_tag(), true)
        {
            self.session_gone(&ended);
        }
        self.forget_dialog_shift(&msg);
    }

    /// Sends an ACK for a 2xx statelessly to `dest` (§16.11).
    pub(crate) fn send_ack(
        &mut self,
        ctx: &mut Ctx<'_>,
        msg: &Message,
        flow: &Flow,
        edit: &RouteEdit,
        dest: Destination,
    ) {
        let hash = branch::loop_hash(&self.loop_keys, msg);
        let br = branch::new_branch(hash, ctx.rng);
        let Some(via) = forward::via_value(&self.identity, &dest, &br) else {
            self.stats.dropped += 1;
            return;
        };
        let target = Target {
            request_uri: None,
            dest,
            push_routes: Vec::new(),
            direct: false,
        };
        let bytes = forward::build_forward(&ForwardSpec {
            msg,
            flow,
            routes: edit,
            target: &target,
            via,
            record_route: Vec::new(),
        });
        self.stats.requests_forwarded += 1;
        self.transmits.push_back(dest_transmit(&dest, bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Uri;

    fn sip(s: &str) -> SipUri {
        Uri::parse(s)
            .expect("valid")
            .as_sip()
            .cloned()
            .expect("sip")
    }

    #[test]
    fn only_host_names_without_maddr_need_dns() {
        assert!(needs_dns(&sip("sip:proxy.carrier.example;lr")));
        assert!(needs_dns(&sip("sip:7001@gw.carrier.example:5070")));
        assert!(!needs_dns(&sip("sip:192.0.2.9;lr")));
        assert!(!needs_dns(&sip("sip:[2001:db8::1]:5060")));
        assert!(!needs_dns(&sip("sip:p.carrier.example;maddr=192.0.2.9;lr")));
    }

    #[test]
    fn the_lookup_asks_for_the_uris_port_transport_and_scheme() {
        let t = sip_target(&sip("sips:p.carrier.example:5071;transport=tcp;lr"));
        assert_eq!(t.host, "p.carrier.example");
        assert_eq!(t.port, Some(5071));
        assert_eq!(t.transport, Some(crate::Transport::Tcp));
        assert!(t.secure);
        let t = sip_target(&sip("sip:p.carrier.example"));
        assert_eq!((t.port, t.transport, t.secure), (None, None, false));
    }
}
