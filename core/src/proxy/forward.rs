//! Building the copy of a request the proxy forwards (RFC 3261 §16.6), finding
//! where to send it, and stateless forwarding of ACKs for 2xx and stray responses.
//!
//! The forwarded request is the received bytes with only these edits, made by
//! the splicing writer so everything else passes byte-exact:
//! - the Request-URI, when the target is a registered contact (§16.6 step 2);
//! - `Max-Forwards` decremented, or set to 70 when absent (step 3);
//! - `Record-Route` added for dialog-creating requests, twice when the transport
//!   changes (step 4, RFC 5658);
//! - our Route entries removed and the binding's `Path` pushed as Route (§16.4, RFC 3327);
//! - our `Via` on top with a loop-detecting branch (step 8), and `received`/`rport`
//!   recorded on the previous hop's Via (RFC 3581).

use crate::identity::Identity;
use crate::registrar::Registrar;
use crate::registrar::bindings::Binding;
use crate::registrar::register::sip_key;
use crate::sip::{HeaderName, Message, Method, NameAddr, SipUri, Splice, Uri, Via};
use crate::transaction::Destination;
use crate::transport::{Flow, Transport};
use bytes::Bytes;
use std::net::SocketAddr;

/// One place to send a forwarded request.
#[derive(Debug, Clone)]
pub struct Target {
    /// New Request-URI (location-service targets), or `None` to keep it.
    pub request_uri: Option<String>,
    /// Where to send.
    pub dest: Destination,
    /// Route values to push (a binding's Path).
    pub push_routes: Vec<String>,
    /// The destination is the address the target names itself (not a NAT
    /// flow learned from a REGISTER), so it may be reached over TCP instead of
    /// UDP when a request is too large for UDP (RFC 3261 §18.1.1).
    pub direct: bool,
}

/// RFC 3261 §18.1.1: a request within 200 bytes of the path MTU (1500, so
/// larger than 1300 bytes) must go over a congestion-controlled transport.
pub const UDP_LIMIT: usize = 1300;

/// Is `b`'s UDP flow the very address its contact names (no NAT in between)?
pub fn binding_is_direct(b: &Binding) -> bool {
    let Ok(uri) = Uri::parse(&b.contact) else {
        return false;
    };
    let Some(u) = uri.as_sip() else { return false };
    let port = u.port.unwrap_or(5060);
    u.host.ip() == Some(b.flow.remote.ip()) && port == b.flow.remote.port()
}

/// How the received request's Route set must change before forwarding.
#[derive(Debug, Clone, Default)]
pub struct RouteEdit {
    /// Route values of ours to remove from the top (loose routing, §16.4).
    pub popped: usize,
    /// The remaining Route values, when the set must be rewritten (strict routing
    /// or more than one of ours popped); `None` leaves the remaining headers untouched.
    pub rewrite: Option<Vec<String>>,
    /// The Request-URI to use instead of ours (a strict router sent it to us, §16.4).
    pub request_uri: Option<String>,
    /// Remove `Proxy-Authorization`: we consumed the credentials (our realm).
    pub strip_credentials: bool,
}

/// Does this method create a dialog (and so get a Record-Route)?
pub fn creates_dialog(m: &Method) -> bool {
    matches!(
        m,
        Method::Invite | Method::Subscribe | Method::Refer | Method::Notify
    )
}

/// Resolves a next-hop URI to a destination: a registered contact goes over the
/// flow it registered on (NAT, TCP connection reuse); otherwise the URI must name
/// an IP address (name resolution per RFC 3263 arrives with the routing issue).
pub fn resolve(registrar: &Registrar, uri: &SipUri) -> Option<Destination> {
    if let Some(b) = registrar.bindings.find_by_contact(&sip_key(uri)) {
        return binding_destination(b);
    }
    uri_destination(uri)
}

/// Where to reach a registered contact: over the flow its REGISTER came on
/// (UDP: that source address, for NAT; a stream: that connection) while the
/// flow is usable. Once a stream binding's connection closed, the address
/// its first Path entry (RFC 3327 §5.3) or else its Contact URI names (RFC 3261
/// §18.2.2): the old connection's source port was the client's ephemeral
/// port, where nobody listens.
pub fn binding_destination(b: &Binding) -> Option<Destination> {
    if b.flow.transport.is_reliable() && b.flow.conn.is_none() {
        let uri = match b.path.first() {
            Some(p) => NameAddr::parse(p).ok()?.uri,
            None => Uri::parse(&b.contact).ok()?,
        };
        return uri_destination(uri.as_sip()?);
    }
    Some(flow_destination(&b.flow))
}

/// The destination a URI names by itself (an IP address host or `maddr`).
fn uri_destination(uri: &SipUri) -> Option<Destination> {
    let host = match uri.maddr() {
        Some(m) => crate::sip::Host::parse(m).ok()?,
        None => uri.host.clone(),
    };
    let ip = host.ip()?;
    let transport = uri.transport_kind().unwrap_or(if uri.secure {
        Transport::Tls
    } else {
        Transport::Udp
    });
    let port = uri.port.unwrap_or_else(|| transport.default_port());
    Some(Destination {
        transport,
        remote: SocketAddr::new(ip, port),
        local: None,
        conn: None,
    })
}

/// The destination that reaches the peer of `flow` (the same connection, or
/// its source address for UDP).
pub fn flow_destination(flow: &Flow) -> Destination {
    Destination {
        transport: flow.transport,
        remote: flow.remote,
        local: Some(flow.local),
        conn: flow.conn,
    }
}

/// Our Record-Route URI (as a header value) for `transport`.
pub fn record_route_value(
    identity: &Identity,
    transport: Transport,
    local: Option<SocketAddr>,
    toward: Option<SocketAddr>,
) -> Option<String> {
    let l = identity.listener(transport, toward)?;
    let mut v = String::with_capacity(64);
    v.push_str("<sip:");
    identity.push_advertised(&mut v, l, local);
    if transport != Transport::Udp {
        v.push_str(";transport=");
        v.push_str(transport.param());
    }
    v.push_str(";lr>");
    Some(v)
}

/// Our Via value for a request leaving on `dest`.
pub fn via_value(identity: &Identity, dest: &Destination, branch: &str) -> Option<String> {
    let l = identity.listener(dest.transport, Some(dest.remote))?;
    let mut v = String::with_capacity(80 + branch.len());
    v.push_str("SIP/2.0/");
    v.push_str(dest.transport.via_token());
    v.push(' ');
    identity.push_advertised(&mut v, l, dest.local);
    v.push_str(";branch=");
    v.push_str(branch);
    v.push_str(";rport");
    Some(v)
}

/// The previous hop's top Via with `received` and `rport` filled in from where
/// the request really came from (RFC 3261 §18.2.1, RFC 3581 §4); `None` when
/// nothing needs to change.
pub fn stamped_top_via(msg: &Message, flow: &Flow) -> Option<String> {
    crate::sip::via::stamp_top_via(msg.top_via_value(), flow.remote)
}

/// Everything needed to produce one forwarded copy.
pub struct ForwardSpec<'a> {
    /// The request as received.
    pub msg: &'a Message,
    /// Where it came from.
    pub flow: &'a Flow,
    /// Route changes.
    pub routes: &'a RouteEdit,
    /// The target.
    pub target: &'a Target,
    /// Our new top Via value.
    pub via: String,
    /// Record-Route values to add, top first.
    pub record_route: Vec<String>,
}

/// Writes the forwarded request.
pub fn build_forward(spec: &ForwardSpec<'_>) -> Bytes {
    let msg = spec.msg;
    let mut s = Splice::new(msg);
    if let Some(ruri) = spec
        .target
        .request_uri
        .as_deref()
        .or(spec.routes.request_uri.as_deref())
    {
        s.set_request_uri(ruri);
    }
    let mf = match msg.max_forwards() {
        Ok(Some(n)) => n.saturating_sub(1),
        _ => 70,
    };
    s.replace_first(HeaderName::MaxForwards, mf);
    if spec.routes.strip_credentials {
        s.remove_all(HeaderName::ProxyAuthorization);
    }
    match &spec.routes.rewrite {
        Some(rest) => {
            s.remove_all(HeaderName::Route);
            for r in spec.target.push_routes.iter().chain(rest) {
                s.append(HeaderName::Route, r);
            }
        }
        None => {
            if spec.routes.popped == 1 {
                s.remove_first_value(HeaderName::Route);
            }
            for r in &spec.target.push_routes {
                s.prepend(HeaderName::Route, r);
            }
        }
    }
    for rr in &spec.record_route {
        s.prepend(HeaderName::RecordRoute, rr);
    }
    s.prepend(HeaderName::Via, &spec.via);
    if let Some(stamped) = stamped_top_via(msg, spec.flow) {
        s.remove_first_value(HeaderName::Via);
        s.prepend(HeaderName::Via, stamped);
    }
    s.to_bytes()
}

/// Where a response must go when no transaction of ours matches it (stateless
/// forwarding, §16.7 / §18.2.2): our Via must be on top; the next Via says where.
/// Returns the response with our Via removed and its destination.
pub fn stateless_response(identity: &Identity, msg: &Message) -> Option<(Bytes, Destination)> {
    let vias: Vec<&str> = msg
        .header_values(HeaderName::Via)
        .flat_map(crate::sip::split_commas)
        .take(2)
        .collect();
    let ours = Via::parse(vias.first()?).ok()?;
    if !identity.is_us(&ours.host, ours.port, ours.transport_kind()) {
        return None;
    }
    let next = Via::parse(vias.get(1)?).ok()?;
    let transport = next.transport_kind()?;
    let ip = next.received_ip().or_else(|| next.host.ip())?;
    let port = match next.rport() {
        Some(Some(p)) => p,
        _ => next.port.unwrap_or_else(|| transport.default_port()),
    };
    let mut s = Splice::new(msg);
    s.remove_first_value(HeaderName::Via);
    Some((
        s.to_bytes(),
        Destination {
            transport,
            remote: SocketAddr::new(ip, port),
            local: None,
            conn: None,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registrar::BindingId;
    use crate::transport::ConnId;

    fn binding(contact: &str, conn: Option<u64>, path: &[&str]) -> Binding {
        Binding {
            id: BindingId(1),
            contact: contact.into(),
            contact_key: contact.into(),
            q: 1000,
            expires_at: crate::test_epoch(),
            call_id: "c".into(),
            cseq: 1,
            flow: Flow {
                transport: Transport::Tcp,
                local: "192.0.2.1:5060".parse().expect("literal"),
                remote: "192.0.2.101:49152".parse().expect("literal"),
                conn: conn.map(ConnId),
            },
            instance: None,
            reg_id: None,
            path: path.iter().map(|p| (*p).into()).collect(),
            user_agent: None,
        }
    }

    #[test]
    fn a_binding_is_reached_on_its_connection_while_open_then_at_its_contact() {
        let b = binding("sip:101@192.0.2.101:5060;transport=tcp", Some(3), &[]);
        let d = binding_destination(&b).expect("open flow");
        assert_eq!(d.conn, Some(ConnId(3)));
        assert_eq!(d.remote, "192.0.2.101:49152".parse().expect("literal"));
        // The connection closed (RFC 3261 §18.2.2): the Contact's address, not the
        // old ephemeral source port.
        let b = binding("sip:101@192.0.2.101:5060;transport=tcp", None, &[]);
        let d = binding_destination(&b).expect("contact address");
        assert_eq!(d.conn, None);
        assert_eq!(d.transport, Transport::Tcp);
        assert_eq!(d.remote, "192.0.2.101:5060".parse().expect("literal"));
        // With a Path, its first hop (RFC 3327 §5.3).
        let b = binding(
            "sip:101@10.0.0.5",
            None,
            &["<sip:192.0.2.50:5070;transport=tcp;lr>"],
        );
        let d = binding_destination(&b).expect("path address");
        assert_eq!(d.remote, "192.0.2.50:5070".parse().expect("literal"));
        assert_eq!(d.transport, Transport::Tcp);
        // A host name cannot be resolved here.
        assert!(binding_destination(&binding("sip:101@phone.example.com", None, &[])).is_none());
    }
}
