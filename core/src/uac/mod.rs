//! Switchboard as a user agent client toward its destinations (issue 4):
//! upstream registration ([`registration`], RFC 3261 §10.2) and OPTIONS
//! health pings ([`health`], RFC 3261 §11).
//!
//! [`Uac`] owns both. It is Sans-IO like the rest of the core: requests go out
//! as client transactions of the engine's transaction layer (§17.1.2), answers
//! and timeouts come back as [`TxEvent`]s, time only through `now` arguments
//! and [`Uac::poll_timeout`], randomness (Call-IDs, tags, branches, cnonces)
//! from the engine's RNG. Results land in the routing table's per-destination
//! state ([`crate::routing::DestState`]: `registered`, `up`), which routing
//! already honours, and in [`Event`]s.
//!
//! The request line and headers are built here (§8.1.1): `Via` with our
//! listener for the destination's transport and `rport` (RFC 3581), a fresh
//! branch, `Max-Forwards: 70`, From/To/Call-ID/CSeq, and `User-Agent`.

#[cfg(test)]
mod engine_tests;
pub mod health;
#[cfg(test)]
mod reg_edit_tests;
pub mod registration;

pub use registration::{RegState, UpstreamRegistration};

use crate::config::Config;
use crate::event::Event;
use crate::identity::Identity;
use crate::proxy::forward;
use crate::rng::Rng;
use crate::routing::{Destination, RoutingTable};
use crate::sip::{HeaderName, Method, RequestBuilder};
use crate::transaction::{Destination as NextHop, Layer, TxEvent, TxId};
use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// The services the UA side uses while handling one input (borrowed from the engine).
pub struct UacCtx<'a> {
    /// The input's time.
    pub now: Instant,
    /// The transaction layer.
    pub layer: &'a mut Layer,
    /// The engine's RNG.
    pub rng: &'a mut Rng,
    /// The routing table whose destination state the results update.
    pub table: &'a mut RoutingTable,
}

/// Which job a client transaction belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    Register(u64),
    Ping(u64),
}

/// The UA side of the engine: upstream registrations and health pings.
#[derive(Debug)]
pub struct Uac {
    identity: Identity,
    user_agent: String,
    regs: registration::Registrations,
    pings: health::Pings,
    txs: BTreeMap<TxId, Job>,
    events: VecDeque<Event>,
}

/// Where requests to `d` go: its gateway, which must be an IP literal until
/// RFC 3263 resolution is available, at its port or the transport's default.
pub fn next_hop(d: &Destination) -> Result<NextHop, String> {
    let ip: IpAddr = d.gateway.trim_matches(['[', ']']).parse().map_err(|_| {
        format!(
            "gateway {} is a host name and DNS resolution (RFC 3263) is not available yet",
            d.gateway
        )
    })?;
    Ok(NextHop {
        transport: d.transport,
        remote: SocketAddr::new(ip, d.port.unwrap_or_else(|| d.transport.default_port())),
        local: None,
        conn: None,
    })
}

/// The host part of the account's address and of the Request-URI: the
/// destination's domain, else its gateway (with the port when one is set).
pub fn account_host(d: &Destination) -> String {
    if let Some(domain) = &d.domain {
        return domain.clone();
    }
    let mut h = String::with_capacity(d.gateway.len() + 6);
    let v6 = d.gateway.contains(':') && !d.gateway.starts_with('[');
    if v6 {
        h.push('[');
    }
    h.push_str(&d.gateway);
    if v6 {
        h.push(']');
    }
    if let Some(p) = d.port {
        h.push(':');
        h.push_str(&p.to_string());
    }
    h
}

/// `;transport=tcp` and the like for URIs toward `d` (nothing for UDP).
fn transport_param(d: &Destination) -> String {
    if d.transport == crate::Transport::Udp {
        String::new()
    } else {
        format!(";transport={}", d.transport.param())
    }
}

/// The fixed parts of a request the UA side sends.
pub(crate) struct Outgoing<'a> {
    pub method: Method,
    pub request_uri: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub call_id: &'a str,
    pub cseq: u32,
    /// Extra headers (Contact, Expires, Authorization…), in order.
    pub extra: Vec<(HeaderName, String)>,
}

impl Uac {
    /// The UA side for `cfg` (no destinations yet).
    pub fn new(cfg: &Config) -> Self {
        Self {
            identity: Identity::new(cfg),
            user_agent: cfg.server_name.clone(),
            regs: registration::Registrations::default(),
            pings: health::Pings::default(),
            txs: BTreeMap::new(),
            events: VecDeque::new(),
        }
    }

    /// Starts, stops or restarts registrations and pings to match the
    /// routing table's destinations (after a `ReplaceRouting`), then sends
    /// what is due.
    pub fn sync(&mut self, ctx: &mut UacCtx<'_>) {
        let destinations = ctx.table.config().destinations.clone();
        self.sync_registrations(ctx, &destinations);
        self.sync_pings(ctx, &destinations);
        self.handle_timeout(ctx);
    }

    /// Sends what is due: registrations, refreshes, retries, pings.
    pub fn handle_timeout(&mut self, ctx: &mut UacCtx<'_>) {
        self.drive_registrations(ctx);
        self.drive_pings(ctx);
    }

    /// The next time something is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.regs.next_due(), self.pings.next_due()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next event (registration and health changes).
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Handles a transaction-layer event; returns false if it is not ours.
    pub fn on_tx_event(&mut self, ctx: &mut UacCtx<'_>, ev: &TxEvent) -> bool {
        let (tx, outcome) = match ev {
            TxEvent::Response { tx, response, .. } => {
                let Some(status) = response.status() else {
                    return self.txs.contains_key(tx);
                };
                if status < 200 {
                    return self.txs.contains_key(tx);
                }
                (*tx, Outcome::Response(response))
            }
            TxEvent::Timeout { tx } => (*tx, Outcome::Failed(408, "Request Timeout")),
            TxEvent::TransportError { tx } => (*tx, Outcome::Failed(503, "Transport Error")),
            TxEvent::Terminated { tx, server: false } => return self.txs.remove(tx).is_some(),
            _ => return false,
        };
        let Some(job) = self.txs.get(&tx).copied() else {
            return false;
        };
        match job {
            Job::Register(id) => self.register_outcome(ctx, id, tx, outcome),
            Job::Ping(id) => self.ping_outcome(ctx, id, tx, outcome),
        }
        true
    }

    /// Every upstream registration's state (for the engine's query).
    pub fn registrations(&self) -> Vec<UpstreamRegistration> {
        self.regs.snapshot()
    }

    /// Un-REGISTERs (Expires: 0) every registered destination and stops
    /// pings and retries (graceful shutdown).
    pub fn shutdown(&mut self, ctx: &mut UacCtx<'_>) {
        self.pings.clear();
        self.unregister_all(ctx);
    }

    /// Builds and sends a request to `hop`; returns its client transaction.
    fn send(&mut self, ctx: &mut UacCtx<'_>, hop: NextHop, req: &Outgoing<'_>) -> Option<TxId> {
        let branch = ctx.rng.branch();
        let bytes = self.build(hop, &branch, req)?;
        Some(
            ctx.layer
                .send_request(ctx.now, &branch, &req.method, bytes, None, hop),
        )
    }

    fn build(&self, hop: NextHop, branch: &str, req: &Outgoing<'_>) -> Option<Bytes> {
        let via = forward::via_value(&self.identity, &hop, branch)?;
        let mut b = RequestBuilder::new(&req.method, req.request_uri)
            .header(HeaderName::Via, via)
            .header(HeaderName::MaxForwards, 70)
            .header(HeaderName::From, req.from)
            .header(HeaderName::To, req.to)
            .header(HeaderName::CallId, req.call_id)
            .header(
                HeaderName::CSeq,
                format_args!("{} {}", req.cseq, req.method),
            );
        for (n, v) in &req.extra {
            b = b.header(*n, v);
        }
        Some(b.header(HeaderName::UserAgent, &self.user_agent).build())
    }

    /// Our contact URI toward `d`: `sip:<user>@<our listener>`.
    fn contact_uri(&self, d: &Destination, user: &str, hop: &NextHop) -> Option<String> {
        let l = self.identity.listener(hop.transport, Some(hop.remote))?;
        let mut c = String::with_capacity(48);
        c.push_str("sip:");
        c.push_str(user);
        c.push('@');
        self.identity.push_advertised(&mut c, l, None);
        c.push_str(&transport_param(d));
        Some(c)
    }
}

/// How a request of the UA side ended.
pub(crate) enum Outcome<'a> {
    /// A final response.
    Response(&'a crate::sip::Message),
    /// No response: a timeout (408) or a transport error (503).
    Failed(u16, &'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn dest(name: &str, gateway: &str) -> Destination {
        Destination {
            username: Some("acct".into()),
            password: Some("pw".into()),
            register: true,
            register_expires: 600,
            ..Destination::new(name, gateway)
        }
    }

    #[test]
    fn account_host_prefers_the_domain() {
        let mut d = dest("gw", "192.0.2.201");
        assert_eq!(account_host(&d), "192.0.2.201");
        d.port = Some(5070);
        assert_eq!(account_host(&d), "192.0.2.201:5070");
        d.gateway = "2001:db8::1".into();
        assert_eq!(account_host(&d), "[2001:db8::1]:5070");
        d.domain = Some("carrier.example.net".into());
        assert_eq!(account_host(&d), "carrier.example.net");
    }

    #[test]
    fn next_hop_needs_an_ip_gateway() {
        let mut d = dest("gw", "192.0.2.201");
        let hop = next_hop(&d).expect("an IP literal");
        assert_eq!(hop.remote, "192.0.2.201:5060".parse().expect("literal"));
        d.transport = crate::Transport::Tcp;
        d.port = Some(5080);
        assert_eq!(
            next_hop(&d).expect("literal").remote,
            "192.0.2.201:5080".parse().expect("literal")
        );
        d.gateway = "sip.carrier.example".into();
        assert!(next_hop(&d).is_err());
    }
}
