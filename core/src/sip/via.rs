//! The Via header (RFC 3261 §20.42, §18.2.1; RFC 3581 `rport`; RFC 5118 IPv6).
//!
//! ```text
//! via-parm   = sent-protocol LWS sent-by *( SEMI via-params )
//! sent-protocol = protocol-name SLASH protocol-version SLASH transport
//! sent-by    = host [ COLON port ]
//! via-params = via-ttl / via-maddr / via-received / via-branch / response-port / via-extension
//! ```
//!
//! `SLASH` and `COLON` allow LWS on both sides, and a value may be folded
//! (RFC 4475 `wsinv`). The transport token is kept as written, so
//! `SCTP` or `TLS-SCTP` (RFC 4475 `transports`) parse too. Known parameters
//! are validated: `ttl` 0..=255, `rport` empty or a port, `received` an IP
//! address (with or without brackets for IPv6, RFC 5118 §4.5), `maddr` a host,
//! `branch` a token. Every error is `BadHeader("Via")`.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use smallvec::SmallVec;

use super::error::ParseError;
use super::host::{Host, fmt_hostport, parse_host, parse_port};
use super::params::{Params, scan_generic};
use super::scan::{push_ip, push_u64};
use super::split::{is_token_byte, skip_ws, split_commas, trim_lws, unfold};
use crate::Transport;

const ERR: ParseError = ParseError::BadHeader("Via");

/// The magic cookie that starts an RFC 3261 branch (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// One Via value: `SIP/2.0/<transport> host[:port];params`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Via {
    /// The transport token as written (`UDP`, `tcp`, `TLS-SCTP`...).
    pub transport: Box<str>,
    /// The sent-by host.
    pub host: Host,
    /// The sent-by port, when written.
    pub port: Option<u16>,
    /// The Via parameters (`branch`, `received`, `rport`...).
    pub params: Params,
}

/// Reads a token starting at `i`; returns it and the index after it.
fn token_at(s: &str, i: usize) -> Option<(&str, usize)> {
    let b = s.as_bytes();
    let mut j = i;
    while b.get(j).copied().is_some_and(is_token_byte) {
        j += 1;
    }
    (j > i).then(|| s.get(i..j).map(|t| (t, j))).flatten()
}

/// Skips LWS, expects the byte `c`, skips LWS again.
fn sep_at(b: &[u8], i: usize, c: u8) -> Option<usize> {
    let i = skip_ws(b, i);
    (b.get(i) == Some(&c)).then(|| skip_ws(b, i + 1))
}

/// Parses a `received` value: an IPv4 or IPv6 address, brackets optional.
fn parse_received(v: &str) -> Option<IpAddr> {
    match v.strip_prefix('[') {
        Some(r) => r
            .strip_suffix(']')?
            .parse::<Ipv6Addr>()
            .ok()
            .map(IpAddr::V6),
        None => v.parse().ok(),
    }
}

impl Via {
    /// A Via for a transport, host and optional port, with no parameters.
    pub fn new(transport: Transport, host: Host, port: Option<u16>) -> Self {
        Self {
            transport: transport.via_token().into(),
            host,
            port,
            params: Params::new(),
        }
    }

    /// Parses one Via value (not a comma-separated list; see [`parse_via_list`]).
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = unfold(s);
        Self::parse_one(trim_lws(&s)).ok_or(ERR)
    }

    fn parse_one(s: &str) -> Option<Self> {
        let view = ViaView::parse_one(s)?;
        Some(Self {
            transport: view.transport.into(),
            host: view.host,
            port: view.port,
            params: Params::parse_generic(view.params)?,
        })
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&str> {
        self.params.value("branch")
    }

    /// True when the branch starts with the RFC 3261 magic cookie `z9hG4bK`.
    pub fn has_magic_cookie(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` parameter as written.
    pub fn received(&self) -> Option<&str> {
        self.params.value("received")
    }

    /// The `received` parameter as an address.
    pub fn received_ip(&self) -> Option<IpAddr> {
        self.received().and_then(parse_received)
    }

    /// The `rport` parameter (RFC 3581): `None` when absent, `Some(None)` when
    /// present without a value (a request asking for it), `Some(Some(port))` when filled.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params.get("rport").map(|v| v.and_then(parse_port))
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&str> {
        self.params.value("maddr")
    }

    /// The `ttl` parameter.
    pub fn ttl(&self) -> Option<u8> {
        self.params.value("ttl").and_then(|v| v.parse().ok())
    }

    /// The sent-by as text: `host[:port]` (IPv6 in brackets).
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.to_string(),
        }
    }

    /// The transport, when it is one we know (UDP, TCP, TLS, WS, WSS).
    pub fn transport_kind(&self) -> Option<Transport> {
        Transport::parse(&self.transport)
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} ", self.transport)?;
        fmt_hostport(f, &self.host, self.port)?;
        write!(f, "{}", self.params)
    }
}

/// A borrowed view of one Via value, checked exactly as [`Via::parse`] checks
/// it (same grammar, same parameter checks) but without building the
/// parameter list: the transaction layer and the engine's Via check need only
/// the sent-protocol, the sent-by and the branch of every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViaView<'a> {
    /// The transport token as written.
    pub transport: &'a str,
    /// The sent-by host.
    pub host: Host,
    /// The sent-by port, when written.
    pub port: Option<u16>,
    /// The value of the first `branch` parameter, if it has one.
    pub branch: Option<&'a str>,
    /// The parameters as written (`;branch=...;rport`), LWS included.
    pub params: &'a str,
}

/// The parameters [`ViaView::parse_one`] checks; only the first of each name
/// counts, as with [`Params::get`].
const CHECKED: [&str; 5] = ["ttl", "rport", "received", "maddr", "branch"];

impl<'a> ViaView<'a> {
    /// Calls `f` with the view of one Via value (as [`Via::parse`] takes it);
    /// `None` if it does not parse. A folded value is unfolded first.
    pub fn with<R>(s: &str, f: impl FnOnce(&ViaView<'_>) -> R) -> Option<R> {
        let s = unfold(s);
        ViaView::parse_one(trim_lws(&s)).map(|v| f(&v))
    }

    /// The known transport of the view (UDP, TCP, TLS, WS, WSS).
    pub fn transport_kind(&self) -> Option<Transport> {
        Transport::parse(self.transport)
    }

    fn parse_one(s: &'a str) -> Option<Self> {
        let b = s.as_bytes();
        let (name, i) = token_at(s, 0)?;
        let i = sep_at(b, i, b'/')?;
        let (version, i) = token_at(s, i)?;
        let i = sep_at(b, i, b'/')?;
        let (transport, i) = token_at(s, i)?;
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return None;
        }
        // sent-protocol LWS sent-by: at least one whitespace byte.
        let start = skip_ws(b, i);
        if start == i {
            return None;
        }
        let mut j = start;
        if b.get(j) == Some(&b'[') {
            j += s.get(j..)?.find(']')? + 1;
        } else {
            while b
                .get(j)
                .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.'))
            {
                j += 1;
            }
        }
        let host = parse_host(s.get(start..j)?)?;
        let mut k = skip_ws(b, j);
        let mut port = None;
        if b.get(k) == Some(&b':') {
            let p = skip_ws(b, k + 1);
            let mut e = p;
            while b.get(e).is_some_and(u8::is_ascii_digit) {
                e += 1;
            }
            port = Some(parse_port(s.get(p..e)?)?);
            k = e;
        }
        let params = s.get(k..)?;
        let mut seen = [false; CHECKED.len()];
        let mut valid = true;
        let mut branch = None;
        scan_generic(params, |n, v| {
            let Some(idx) = CHECKED.iter().position(|c| n.eq_ignore_ascii_case(c)) else {
                return;
            };
            if std::mem::replace(&mut seen[idx], true) {
                return;
            }
            valid &= match idx {
                0 => v.is_some_and(|v| v.parse::<u8>().is_ok()),
                1 => v.is_none_or(|v| parse_port(v).is_some()),
                2 => v.and_then(parse_received).is_some(),
                3 => v.and_then(parse_host).is_some(),
                _ => {
                    branch = v;
                    v.is_some_and(|v| v.bytes().all(is_token_byte))
                }
            };
        })?;
        valid.then_some(Self {
            transport,
            host,
            port,
            branch,
            params,
        })
    }
}

/// The top Via of a request received from `src`, with `received` and `rport`
/// filled in as RFC 3261 §18.2.1 and RFC 3581 §4 ask: `received` when the
/// sent-by host is not `src`'s address (or `rport` was asked for), `rport` with
/// `src`'s port when the client sent an empty `rport`. `None` when nothing
/// changes (or the value is not a Via). Used on forwarded requests and on
/// every response we generate, so a client behind NAT learns its public
/// address and port.
pub fn stamp_top_via(top: &str, src: SocketAddr) -> Option<String> {
    if let Some(stamped) = stamp_received(top, src) {
        return stamped;
    }
    let mut via = Via::parse(top).ok()?;
    let ip = src.ip();
    let wants_rport = matches!(via.rport(), Some(None));
    let host_differs = via.host.ip() != Some(ip);
    if !wants_rport && !host_differs {
        return None;
    }
    via.params.set("received", Some(&ip.to_string()));
    if wants_rport {
        via.params.set("rport", Some(&src.port().to_string()));
    }
    Some(via.to_string())
}

/// RFC 3261 §18.2.1 / RFC 3581 §4 stamping of a received top Via, on its text:
/// `received` set to `src`'s address when the sent-by host differs from it or
/// `rport` is asked for, and an empty `rport` filled with `src`'s port. The
/// result is the text `Via`'s `Display` prints after `Params::set` makes those
/// changes (first parameter of each name edited in place, `received` appended
/// when absent), computed without parsing into owned values when the value is
/// already in that printed form (no LWS but the one space, `SIP/2.0/`, an IPv4
/// or domain sent-by, a port without leading zeros).
///
/// `None`: not in printed form (or not a Via), use the parse-and-print path;
/// `Some(None)`: nothing to change; `Some(Some(v))`: the stamped value.
pub fn stamp_received(top: &str, src: SocketAddr) -> Option<Option<String>> {
    let b = top.as_bytes();
    if !top.starts_with("SIP/2.0/")
        || b.iter().any(|&c| matches!(c, b'\t' | b'\r' | b'\n'))
        || b.iter().filter(|&&c| c == b' ').count() != 1
    {
        return None;
    }
    let view = ViaView::parse_one(top)?;
    if matches!(view.host, Host::V6(_)) {
        return None;
    }
    let params_at = top.len() - view.params.len();
    if view.port.is_some() {
        let digits = top.get(..params_at)?.rsplit(':').next()?;
        if digits.len() > 1 && digits.starts_with('0') {
            return None;
        }
    }
    // (end of the name, end of the parameter) of the first `received` and `rport`.
    let base = top.as_ptr() as usize;
    let mut received = None;
    let mut rport = None;
    let mut wants_rport = false;
    scan_generic(view.params, |n, v| {
        let name_end = n.as_ptr() as usize - base + n.len();
        let end = v.map_or(name_end, |v| v.as_ptr() as usize - base + v.len());
        if received.is_none() && n.eq_ignore_ascii_case("received") {
            received = Some((name_end, end));
        } else if rport.is_none() && n.eq_ignore_ascii_case("rport") {
            rport = Some((name_end, end));
            wants_rport = v.is_none();
        }
    })?;
    let ip = src.ip();
    if !wants_rport && view.host.ip() == Some(ip) {
        return Some(None);
    }
    let mut ip_text = String::with_capacity(16);
    push_ip(&mut ip_text, ip);
    let mut edits: SmallVec<[(usize, usize, bool); 2]> = SmallVec::new();
    match received {
        Some((s, e)) => edits.push((s, e, true)),
        None => edits.push((top.len(), top.len(), true)),
    }
    if wants_rport && let Some((s, e)) = rport {
        edits.push((s, e, false));
    }
    edits.sort_unstable();
    let mut out = String::with_capacity(top.len() + 40);
    let mut at = 0;
    for (s, e, is_received) in edits {
        out.push_str(top.get(at..s)?);
        if is_received {
            if s == top.len() && received.is_none() {
                out.push_str(";received");
            }
            out.push('=');
            out.push_str(&ip_text);
        } else {
            out.push('=');
            push_u64(&mut out, u64::from(src.port()));
        }
        at = e;
    }
    out.push_str(top.get(at..)?);
    Some(Some(out))
}

/// Checks a Via header value with one or more comma-separated values exactly
/// as [`parse_via_list`] does, without building them.
pub fn check_via_list(s: &str) -> Result<(), ParseError> {
    let s = unfold(s);
    let mut any = false;
    for v in split_commas(&s) {
        ViaView::parse_one(v).ok_or(ERR)?;
        any = true;
    }
    if any { Ok(()) } else { Err(ERR) }
}

/// Parses a Via header value with one or more comma-separated values.
/// An empty value or any bad element is `BadHeader("Via")`.
pub fn parse_via_list(s: &str) -> Result<SmallVec<[Via; 2]>, ParseError> {
    let s = unfold(s);
    let out = split_commas(&s)
        .map(|v| Via::parse_one(v).ok_or(ERR))
        .collect::<Result<SmallVec<[Via; 2]>, _>>()?;
    if out.is_empty() {
        return Err(ERR);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn via(s: &str) -> Via {
        Via::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn parses_rfc3261_examples() {
        let v = via("SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds");
        assert_eq!(&*v.transport, "UDP");
        assert_eq!(v.transport_kind(), Some(Transport::Udp));
        assert_eq!(v.host, Host::Domain("pc33.atlanta.com".into()));
        assert_eq!(v.port, None);
        assert_eq!(v.branch(), Some("z9hG4bK776asdhds"));
        assert!(v.has_magic_cookie());
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds"
        );

        let v = via("SIP/2.0/UDP erlang.bell-telephone.com:5060;branch=z9hG4bK87asdks7");
        assert_eq!(v.sent_by(), "erlang.bell-telephone.com:5060");
        let v = via("SIP/2.0/UDP 192.0.2.1:5060 ;received=192.0.2.207;branch=z9hG4bK77asjd");
        assert_eq!(v.received_ip(), Some("192.0.2.207".parse().unwrap()));
        let v = via(
            "SIP/2.0/UDP first.example.com:4000;ttl=16;maddr=224.2.0.1;branch=z9hG4bKa7c6a8dlze.1",
        );
        assert_eq!(v.ttl(), Some(16));
        assert_eq!(v.maddr(), Some("224.2.0.1"));
        let v = via("sip/2.0/tcp client.biloxi.com:5060;branch=z9hG4bK74bf9");
        assert_eq!(v.transport_kind(), Some(Transport::Tcp));
        assert_eq!(v.rport(), None);
    }

    #[test]
    fn rport_rfc3581() {
        let v = via("SIP/2.0/UDP 10.1.1.1:4540;rport;branch=z9hG4bKkjshdyff");
        assert_eq!(v.rport(), Some(None));
        let v =
            via("SIP/2.0/UDP 10.1.1.1:4540;received=192.0.2.1;rport=9988;branch=z9hG4bKkjshdyff");
        assert_eq!(v.rport(), Some(Some(9988)));
        assert!(Via::parse("SIP/2.0/UDP h;rport=70000").is_err());
        assert!(Via::parse("SIP/2.0/UDP h;rport=x").is_err());
    }

    #[test]
    fn parses_rfc4475_wsinv_and_transports() {
        let l = parse_via_list("SIP  /   2.0\r\n  /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(l[0].host.to_string(), "192.0.2.2");
        let l = parse_via_list(
            "  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239",
        )
        .unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].branch(), Some("z9hG4bK9ikj8"));
        assert_eq!(l[1].branch(), Some("z9hG4bK30239"));
        let l = parse_via_list(
            "SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw, SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf, SIP/2.0/TLS-SCTP t3.example.com;branch=z9hG4bK2980unddj",
        )
        .unwrap();
        assert_eq!(&*l[2].transport, "TLS-SCTP");
        assert_eq!(l[2].transport_kind(), None);
        let v = via("SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~");
        assert_eq!(v.branch(), Some("z9hG4bK-.!%66*_+`'~"));
        let v = via("SIP/2.0/UDP host : 5070 ;branch=z9hG4bK1");
        assert_eq!(v.port, Some(5070));
    }

    #[test]
    fn parses_rfc5118_ipv6() {
        let v = via(
            "SIP/2.0/UDP [2001:db8::9:1]:5070;received=[2001:db8::9:255];branch=z9hG4bKas3-111",
        );
        assert_eq!(v.host, Host::V6("2001:db8::9:1".parse().unwrap()));
        assert_eq!(v.port, Some(5070));
        assert_eq!(v.sent_by(), "[2001:db8::9:1]:5070");
        assert_eq!(v.received_ip(), Some("2001:db8::9:255".parse().unwrap()));
        let v = via("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3");
        assert_eq!(v.received_ip(), Some("2001:db8::9:255".parse().unwrap()));
        assert_eq!(Via::parse(&v.to_string()), Ok(v));
        assert!(Via::parse("SIP/2.0/UDP 2001:db8::9:1;branch=z9hG4bK1").is_err());
        assert!(Via::parse("SIP/2.0/UDP [2001:db8::9:1;branch=z9hG4bK1").is_err());
    }

    #[test]
    fn rejects_bad_vias() {
        for bad in [
            "",
            "SIP/2.0/UDP",
            "SIP/2.0/UDP ",
            "SIP/2.0/UDPhost",
            "SIP/3.0/UDP host",
            "HTTP/2.0/UDP host",
            "SIP/2.0 host",
            "SIP/2.0/UDP host:",
            "SIP/2.0/UDP host:99999",
            "SIP/2.0/UDP host;ttl=256",
            "SIP/2.0/UDP host;ttl",
            "SIP/2.0/UDP host;received=example.com",
            "SIP/2.0/UDP host;maddr=",
            "SIP/2.0/UDP host;branch",
            "SIP/2.0/UDP host junk",
            "SIP/2.0/UDP h\u{e9}st",
            "SIP/2.0/UDP host;branch=\"open",
        ] {
            assert_eq!(
                Via::parse(bad),
                Err(ParseError::BadHeader("Via")),
                "{bad:?}"
            );
        }
        // RFC 4475 badinv01: extraneous separators.
        assert!(parse_via_list("SIP/2.0/UDP 192.0.2.15;;,;,,").is_err());
        assert!(parse_via_list(" ,, ").is_err());
        assert!(parse_via_list(&format!("SIP/2.0/UDP h{}", ";".repeat(10_000))).is_err());
    }

    #[test]
    fn builds_and_displays() {
        let mut v = Via::new(
            Transport::Tls,
            Host::parse("proxy.example.com").unwrap(),
            Some(5061),
        );
        v.params.set("branch", Some("z9hG4bKx"));
        v.params.set("rport", None);
        assert_eq!(
            v.to_string(),
            "SIP/2.0/TLS proxy.example.com:5061;branch=z9hG4bKx;rport"
        );
        assert_eq!(Via::parse(&v.to_string()), Ok(v));
    }

    /// The borrowed view accepts exactly what `Via::parse` accepts and sees the
    /// same transport, sent-by and branch; `check_via_list` agrees with `parse_via_list`.
    #[test]
    fn view_agrees_with_parse() {
        let cases = [
            "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds",
            "SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKa;rport;received=192.0.2.9",
            "SIP / 2.0 / TCP  [2001:db8::9]:5061 ; BRANCH = z9hG4bKx ; branch=second",
            "SIP/2.0/UDP host;branch=z9hG4bKa;branch=\"bad\"",
            "SIP/2.0/UDP host;Branch",
            "SIP/2.0/UDP host;branch=\"q\"",
            "SIP/2.0/UDP host;ttl=256",
            "SIP/2.0/UDP host;ttl=255;TTL=999",
            "SIP/2.0/UDP host;ttl",
            "SIP/2.0/UDP host;rport=0x",
            "SIP/2.0/UDP host;rport=5060;received=[2001:db8::1]",
            "SIP/2.0/UDP host;received=not-an-ip",
            "SIP/2.0/UDP host;received",
            "SIP/2.0/UDP host;maddr=224.2.0.1;maddr=###",
            "SIP/2.0/UDP host;maddr",
            "SIP/2.0/UDP host:99999",
            "SIP/2.0/UDP host:",
            "SIP/2.0/UDPhost",
            "SIP/3.0/UDP host",
            "SIP/2.0/UDP host;;branch=x",
            "SIP/2.0/UDP host;branch=z9hG4bK\r\n ;rport",
            "SIP/2.0/SCTP host.example ;  x=\"a,b\";branch=z9hG4bK1",
            "SIP/2.0/UDP host extra",
            "",
        ];
        for c in cases {
            let full = Via::parse(c);
            let view = ViaView::with(c, |v| {
                (
                    v.transport.to_owned(),
                    v.host.clone(),
                    v.port,
                    v.branch.map(str::to_owned),
                )
            });
            match (&full, &view) {
                (Ok(f), Some((t, h, p, b))) => {
                    assert_eq!(&*f.transport, t.as_str(), "{c:?}");
                    assert_eq!((&f.host, f.port), (h, *p), "{c:?}");
                    assert_eq!(f.branch(), b.as_deref(), "{c:?}");
                }
                (Err(_), None) => {}
                _ => panic!("{c:?}: parse {full:?}, view {view:?}"),
            }
            let list = format!("{c}, SIP/2.0/TCP h2;branch=z9hG4bK2");
            for l in [c, list.as_str()] {
                assert_eq!(
                    parse_via_list(l).is_ok(),
                    check_via_list(l).is_ok(),
                    "{l:?}"
                );
            }
        }
    }

    /// The reference: parse, `Params::set`, print (what the proxy did before).
    fn stamp_slow(top: &str, src: SocketAddr) -> Option<String> {
        let mut via = Via::parse(top).ok()?;
        let wants_rport = matches!(via.rport(), Some(None));
        if wants_rport || via.host.ip() != Some(src.ip()) {
            via.params.set("received", Some(&src.ip().to_string()));
            if wants_rport {
                via.params.set("rport", Some(&src.port().to_string()));
            }
            return Some(via.to_string());
        }
        None
    }

    #[test]
    fn stamping_on_text_equals_parse_and_print() {
        let srcs: [SocketAddr; 3] = [
            "192.0.2.4:5060".parse().unwrap(),
            "198.51.100.7:40123".parse().unwrap(),
            "[2001:db8::7]:5062".parse().unwrap(),
        ];
        let cases = [
            "SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKa",
            "SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKa;rport",
            "SIP/2.0/UDP 192.0.2.4;rport;branch=z9hG4bKa",
            "SIP/2.0/UDP 192.0.2.4;RPORT;Received=10.0.0.1;branch=z9hG4bKa;received=1.1.1.1",
            "SIP/2.0/TCP pc33.atlanta.com;branch=z9hG4bKa;received;rport=5060",
            "SIP/2.0/UDP pc33.atlanta.com:5066;branch=z9hG4bKa;rport;x=\"a b\"",
            "SIP/2.0/UDP pc33.atlanta.com:05066;branch=z9hG4bKa;rport",
            "SIP/2.0/UDP [2001:db8::7]:5062;branch=z9hG4bKa;rport",
            "SIP/2.0/UDP [2001:DB8:0::7];branch=z9hG4bKa",
            "sip/2.0/udp 192.0.2.4;branch=z9hG4bKa;rport",
            "SIP / 2.0 / UDP 192.0.2.4 ; branch = z9hG4bKa ; rport",
            "SIP/2.0/UDP  192.0.2.4;rport",
            "SIP/2.0/UDP 192.0.2.4:5060;rport=5060;branch=z9hG4bKa",
            "SIP/2.0/UDP 192.0.2.4;ttl=300",
            "SIP/2.0/UDP bad host",
        ];
        for top in cases {
            for src in srcs {
                let slow = stamp_slow(top, src);
                match stamp_received(top, src) {
                    Some(fast) => assert_eq!(fast, slow, "{top:?} from {src}"),
                    None => assert!(
                        top.starts_with("sip")
                            || top.contains("  ")
                            || top.contains(" ;")
                            || top.contains("\"a b\"")
                            || top.contains(":05066")
                            || top.contains('[')
                            || Via::parse(top).is_err(),
                        "fast path refused {top:?}"
                    ),
                }
            }
        }
    }
}
