//! Authentication toward the next hop (issue 4; RFC 3261 §22.2–§22.3,
//! §8.1.3.5): when a routed request's destination answers 401 or 407 and the
//! destination has credentials, the proxy resends the request on a new branch
//! of the same server transaction with `Authorization` (for a 401's
//! `WWW-Authenticate`) or `Proxy-Authorization` (for a 407's
//! `Proxy-Authenticate`), computed by [`crate::auth::respond`] (MD5 or
//! SHA-256, `qop=auth`, a `cnonce` from the engine RNG, `nc=00000001`).
//!
//! - Once per challenge: the resent branch is marked, and a 401/407 to it is
//!   handled as any final response (relayed to the caller, or failed over).
//! - A destination without credentials (no `auth_username`/`username`, or no
//!   password) gets its 401/407 relayed as before.
//! - Only the destination itself gets them ([`addressed_to`]): a branch that
//!   follows a 3xx Contact or an ENUM result to another host — named in the
//!   URI's host or its `maddr` (§19.1.1), or reached at another address — has
//!   its challenge relayed to the caller, never answered with the trunk's account.
//! - §22.3 / §8.1.3.5: a request resent with credentials carries the next
//!   CSeq number. The caller's transaction still has the old one, so the
//!   proxy puts the caller's number back into the responses of that branch
//!   and, from the first To-tagged response of the INVITE on (a 1xx sets up
//!   an early dialog, §12.1; a 2xx the dialog), shifts every request the
//!   caller sends in that dialog (PRACK and UPDATE in the early dialog, the
//!   ACK for the 2xx, BYE, re-INVITE, INFO…) by the same amount, puts the
//!   caller's number back into their responses, and shifts the CSeq number
//!   inside a PRACK's `RAck` (RFC 3262 §7.2: it names the INVITE's CSeq as
//!   the callee sent it). The shift is forgotten when the dialog ends with a
//!   BYE, or when the INVITE fails (its early dialogs end, §12.3).

use super::{Ctx, Proxy, branch, forward};
use crate::auth::{Secret, pick_challenge, respond};
use crate::routing::Destination;
use crate::sip::{HeaderName, Limits, Message, Method, Splice, Uri};
use crate::transaction::TxId;
use std::net::IpAddr;

/// At most this many answered dialogs keep a CSeq shift (the oldest is
/// forgotten past it, so a caller that never sends BYE cannot grow the map).
const MAX_DIALOG_SHIFTS: usize = 4096;

/// The digest username and password of `d`, if it has credentials.
pub fn credentials(d: &Destination) -> Option<(&str, &str)> {
    let user = d.auth_username.as_deref().or(d.username.as_deref())?;
    let password = d.password.as_deref()?;
    (!user.is_empty()).then_some((user, password))
}

/// Is a request for `uri`, sent to address `remote`, addressed to destination
/// `d`, so that a challenge to it may be answered with `d`'s credentials?
///
/// The host the request goes to — the URI's `maddr` when it has one (RFC 3261
/// §19.1.1), else its host — must be `d`'s gateway or domain; and when the
/// gateway is an IP address, the request must really have been sent there. A
/// 3xx Contact or an ENUM result can name the gateway and still reach another
/// host (a `maddr`, or a contact some user registered with us), which must not
/// receive a digest made with the trunk's password.
pub fn addressed_to(d: &Destination, uri: &str, remote: IpAddr) -> bool {
    let Ok(parsed) = Uri::parse(uri) else {
        return false;
    };
    let Some(u) = parsed.as_sip() else {
        return false;
    };
    let host = match u.maddr() {
        Some(m) => m.to_owned(),
        None => u.host.to_string(),
    };
    let names_it = [Some(d.gateway.as_str()), d.domain.as_deref()]
        .into_iter()
        .flatten()
        .any(|h| same_host(h, &host));
    let sent_there = match unbracket(&d.gateway).parse::<IpAddr>() {
        Ok(ip) => ip.to_canonical() == remote.to_canonical(),
        // A host name: its addresses came from DNS (RFC 3263); the name decides.
        Err(_) => true,
    };
    names_it && sent_there
}

fn unbracket(host: &str) -> &str {
    host.trim_matches(['[', ']'])
}

/// Host names compare without case; IP addresses by value (`::1` = `0::1`).
fn same_host(a: &str, b: &str) -> bool {
    let (a, b) = (unbracket(a), unbracket(b));
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// `msg` with CSeq number `seq` (same method), re-parsed.
pub fn with_cseq(msg: &Message, seq: u32) -> Option<Message> {
    let method = msg.cseq().method.clone();
    let mut s = Splice::new(msg);
    s.replace_first(HeaderName::CSeq, format_args!("{seq} {method}"));
    Message::parse(s.to_bytes(), &Limits::default()).ok()
}

/// `msg` (a PRACK) with the CSeq number inside its `RAck` raised by `shift`
/// (RFC 3262 §7.2: `RAck: response-num CSeq-num Method`), re-parsed. `None`
/// when it has no well-formed RAck or the number would overflow.
pub fn with_rack_shifted(msg: &Message, shift: u32) -> Option<Message> {
    let value = msg.header_named("RAck")?;
    let mut parts = value.split_ascii_whitespace();
    let (rseq, cseq, method) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let rseq: u32 = rseq.parse().ok()?;
    let cseq = cseq.parse::<u32>().ok()?.checked_add(shift)?;
    // The value is a slice of the raw message: splice the new one in.
    let raw = msg.raw();
    let start = (value.as_ptr() as usize).checked_sub(raw.as_ptr() as usize)?;
    let end = start.checked_add(value.len())?;
    let (head, tail) = (raw.get(..start)?, raw.get(end..)?);
    let new = format!("{rseq} {cseq} {method}");
    let mut out = Vec::with_capacity(raw.len() + 8);
    out.extend_from_slice(head);
    out.extend_from_slice(new.as_bytes());
    out.extend_from_slice(tail);
    Message::parse(bytes::Bytes::from(out), &Limits::default()).ok()
}

/// The header a challenge comes in and the one its answer goes in.
fn headers_for(status: u16) -> (HeaderName, HeaderName) {
    if status == 401 {
        (HeaderName::WwwAuthenticate, HeaderName::Authorization)
    } else {
        (
            HeaderName::ProxyAuthenticate,
            HeaderName::ProxyAuthorization,
        )
    }
}

impl Proxy {
    /// Answers a destination's 401/407 on branch `client` of routed request
    /// `server`. Returns true when a new, authenticated branch was sent (the
    /// challenged branch is then done and its response is not relayed).
    pub(crate) fn answer_next_hop_challenge(
        &mut self,
        ctx: &mut Ctx<'_>,
        server: TxId,
        client: TxId,
        response: &Message,
        status: u16,
    ) -> bool {
        let Some(c) = self.contexts.get(&server) else {
            return false;
        };
        if c.final_sent || c.cancelled {
            return false;
        }
        let Some(b) = c.branches.iter().find(|b| b.client == client) else {
            return false;
        };
        if b.auth_retry {
            return false; // once per challenge
        }
        let shift = b.cseq_shift;
        let Some(route) = c.route.as_ref() else {
            return false;
        };
        let hash = route.hash();
        let Some(name) = route.current.as_ref().map(|h| h.name.as_str()) else {
            return false;
        };
        let Some(d) = self
            .router
            .id_of(name)
            .and_then(|id| self.router.destination(id))
        else {
            return false;
        };
        let Some((user, password)) = credentials(d) else {
            return false;
        };
        let (challenge_header, answer_header) = headers_for(status);
        let Some(challenge) = pick_challenge(response.header_values(challenge_header)) else {
            return false;
        };
        let (Some(sent), Some(dest)) = (
            ctx.layer.client_request(client).cloned(),
            ctx.layer.client_destination(client),
        ) else {
            return false;
        };
        let Ok(sent) = Message::parse(sent, &Limits::default()) else {
            return false;
        };
        let (Some(method), Some(uri)) = (sent.method().cloned(), sent.request_uri()) else {
            return false;
        };
        // Only a request addressed to the destination itself gets its
        // credentials: a branch that follows a 3xx Contact or an ENUM result
        // goes to whatever host that named, which must not be handed a digest
        // made with the trunk's password.
        if !addressed_to(d, uri, dest.remote.ip()) {
            return false;
        }
        let Some(seq) = sent.cseq().seq.checked_add(1).filter(|s| *s < 1 << 31) else {
            return false;
        };
        let mut cnonce = String::with_capacity(16);
        ctx.rng.push_token(&mut cnonce, 16);
        let answer = respond(
            &challenge,
            method.as_str(),
            uri,
            user,
            Secret::Password(password),
            &cnonce,
            1,
        );
        let br = branch::new_branch(hash, ctx.rng);
        let Some(via) = forward::via_value(&self.identity, &dest, &br) else {
            return false;
        };
        let mut s = Splice::new(&sent);
        s.remove_first_value(HeaderName::Via);
        s.prepend(HeaderName::Via, via);
        s.replace_first(HeaderName::CSeq, format_args!("{seq} {method}"));
        s.append(answer_header, answer);
        let bytes = s.to_bytes();
        let new = if method == Method::Invite {
            ctx.layer.send_invite(ctx.now, &br, bytes, dest)
        } else {
            ctx.layer
                .send_request(ctx.now, &br, &method, bytes, None, dest)
        };
        self.stats.requests_forwarded += 1;
        self.branches.insert(new, server);
        let Some(c) = self.contexts.get_mut(&server) else {
            return true;
        };
        if let Some(b) = c.branches.iter_mut().find(|b| b.client == client) {
            b.done = true;
        }
        let added = super::context::Branch::resend(new, shift + 1);
        c.branches.push(added);
        true
    }

    /// A response of branch `client` with the caller's CSeq number back (when
    /// the branch was resent with credentials); a 2xx also records the shift
    /// for the caller's later requests in the dialog.
    pub(crate) fn unshift_response(
        &mut self,
        server: TxId,
        client: TxId,
        response: Message,
        status: u16,
    ) -> Message {
        let shift = self
            .contexts
            .get(&server)
            .and_then(|c| c.branches.iter().find(|b| b.client == client))
            .map_or(0, |b| b.cseq_shift);
        if shift == 0 {
            return response;
        }
        // Only an INVITE's To-tagged 1xx (early dialog) or 2xx starts a
        // dialog whose later requests need the shift (a MESSAGE or OPTIONS
        // never gets a BYE, so recording it would only fill the table).
        if response.cseq().method == crate::sip::Method::Invite
            && let Some(from_tag) = response.from_tag()
        {
            let key = (response.call_id().to_owned(), from_tag.to_owned());
            if (101..300).contains(&status) && response.to_tag().is_some() {
                if !self.dialog_shifts.contains_key(&key)
                    && self.dialog_shifts.len() >= MAX_DIALOG_SHIFTS
                {
                    self.dialog_shifts.pop_first();
                }
                self.dialog_shifts.insert(key, shift);
            } else if status >= 300 && !self.contexts.get(&server).is_some_and(|c| c.answered) {
                // The INVITE failed: its early dialogs are over (§12.3), and
                // a failover branch starts again from the caller's CSeq.
                self.dialog_shifts.remove(&key);
            }
        }
        let seq = response.cseq().seq.saturating_sub(shift);
        with_cseq(&response, seq).unwrap_or(response)
    }

    /// The caller's in-dialog request `msg` with its CSeq shifted as the
    /// dialog's INVITE was (and the shift), when the dialog has one.
    pub(crate) fn shift_in_dialog(&self, msg: &Message) -> Option<(Message, u32)> {
        if self.dialog_shifts.is_empty() {
            return None;
        }
        msg.to_tag()?;
        let key = (msg.call_id().to_owned(), msg.from_tag()?.to_owned());
        let shift = *self.dialog_shifts.get(&key)?;
        let seq = msg.cseq().seq.checked_add(shift)?;
        let shifted = with_cseq(msg, seq)?;
        if msg.method() == Some(&Method::Prack) && msg.header_named("RAck").is_some() {
            // RFC 3262 §7.2: the RAck names the INVITE's CSeq the callee saw.
            // A malformed RAck goes on as it came (the callee answers 481).
            let with_rack = with_rack_shifted(&shifted, shift);
            return Some((with_rack.unwrap_or(shifted), shift));
        }
        Some((shifted, shift))
    }

    /// A BYE ends the dialog: its CSeq shift is no longer needed.
    pub(crate) fn forget_dialog_shift(&mut self, msg: &Message) {
        if self.dialog_shifts.is_empty() {
            return;
        }
        let call_id = msg.call_id().to_owned();
        for tag in [msg.from_tag(), msg.to_tag()].into_iter().flatten() {
            self.dialog_shifts
                .remove(&(call_id.clone(), tag.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest() -> Destination {
        Destination::new("gw", "192.0.2.201")
    }

    #[test]
    fn credentials_need_a_user_and_a_password() {
        let mut d = dest();
        assert_eq!(credentials(&d), None);
        d.password = Some("pw".into());
        assert_eq!(credentials(&d), None, "no user");
        d.username = Some("acct".into());
        assert_eq!(credentials(&d), Some(("acct", "pw")));
        d.auth_username = Some("auth".into());
        assert_eq!(credentials(&d), Some(("auth", "pw")), "auth user wins");
        d.password = None;
        assert_eq!(credentials(&d), None);
        d.password = Some("pw".into());
        d.auth_username = Some(String::new());
        assert_eq!(credentials(&d), None, "an empty user is no user");
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("an IP literal")
    }

    #[test]
    fn credentials_only_for_requests_sent_to_the_destination() {
        let d = dest();
        let gw = ip("192.0.2.201");
        // The routed request itself, and a 3xx Contact at the gateway's own address.
        assert!(addressed_to(&d, "sip:7001@192.0.2.201", gw));
        assert!(addressed_to(
            &d,
            "sip:7009@192.0.2.201:5080;transport=udp",
            gw
        ));
        // Another host named by a 3xx Contact or an ENUM result.
        assert!(!addressed_to(&d, "sip:7001@192.0.2.203", ip("192.0.2.203")));
        assert!(
            !addressed_to(&d, "sip:7001@carrier.example", gw),
            "a name, not the gateway"
        );
        // The gateway's address in the host, but maddr sends it elsewhere (§19.1.1).
        let maddr = "sip:7002@192.0.2.201;maddr=192.0.2.203";
        assert!(!addressed_to(&d, maddr, ip("192.0.2.203")));
        // The gateway's address named, but the request went elsewhere (e.g. a
        // contact with that URI registered with us from another address).
        assert!(!addressed_to(&d, "sip:7001@192.0.2.201", ip("192.0.2.66")));
        // maddr pointing at the gateway: it is the gateway that challenges.
        assert!(addressed_to(
            &d,
            "sip:x@elsewhere.example;maddr=192.0.2.201",
            gw
        ));
        // Not a SIP URI, or not a URI at all.
        assert!(!addressed_to(&d, "tel:+15551230000", gw));
        assert!(!addressed_to(&d, "sip:", gw));
        assert!(!addressed_to(&d, "", gw));
    }

    #[test]
    fn destination_domains_names_and_ipv6() {
        let mut d = dest();
        d.domain = Some("Carrier.Example".into());
        let gw = ip("192.0.2.201");
        assert!(
            addressed_to(&d, "sip:7001@carrier.example", gw),
            "domain, any case"
        );
        assert!(!addressed_to(
            &d,
            "sip:7001@carrier.example",
            ip("192.0.2.9")
        ));
        // A gateway by name: its addresses came from DNS, the name decides.
        let named = Destination::new("gw", "gw.carrier.example");
        assert!(addressed_to(
            &named,
            "sip:1@GW.carrier.example",
            ip("192.0.2.44")
        ));
        assert!(!addressed_to(
            &named,
            "sip:1@other.example",
            ip("192.0.2.44")
        ));
        // IPv6: brackets and spellings do not matter, the address does.
        let v6 = Destination::new("gw6", "[2001:db8::1]");
        let a = ip("2001:db8::1");
        assert!(addressed_to(&v6, "sip:1@[2001:DB8:0::1]", a));
        assert!(addressed_to(
            &v6,
            "sip:1@[2001:db8::2];maddr=[2001:db8::1]",
            a
        ));
        assert!(!addressed_to(&v6, "sip:1@[2001:db8::2]", ip("2001:db8::2")));
        assert!(!addressed_to(&v6, "sip:1@[2001:db8::1]", ip("2001:db8::2")));
    }

    #[test]
    fn cseq_is_rewritten_and_the_rest_kept() {
        let raw = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
                   From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\n\
                   CSeq: 2 INVITE\r\nContent-Length: 0\r\n\r\n";
        let m = Message::parse(bytes::Bytes::from(raw), &Limits::default()).expect("valid");
        let back = with_cseq(&m, 1).expect("still valid");
        assert_eq!(back.cseq().seq, 1);
        assert_eq!(back.cseq().method, Method::Invite);
        assert_eq!(back.to_tag(), Some("2"));
        assert_eq!(back.raw().len(), raw.len());
    }

    fn prack(rack: &str) -> Message {
        let raw = format!(
            "PRACK sip:b@192.0.2.9 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
             From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: c\r\n\
             CSeq: 2 PRACK\r\nRAck: {rack}\r\nContent-Length: 0\r\n\r\n"
        );
        Message::parse(bytes::Bytes::from(raw), &Limits::default()).expect("valid")
    }

    #[test]
    fn rack_cseq_number_is_shifted() {
        let m = prack("1 1 INVITE");
        let out = with_rack_shifted(&m, 1).expect("well formed");
        assert_eq!(out.header_named("RAck"), Some("1 2 INVITE"));
        assert_eq!(out.cseq().seq, 2, "the rest is kept");
        assert_eq!(out.raw().len(), m.raw().len());
        let m = prack("776656   4294967290 INVITE");
        assert_eq!(
            with_rack_shifted(&m, 3).and_then(|o| o.header_named("RAck").map(str::to_owned)),
            Some("776656 4294967293 INVITE".to_owned()),
            "extra blanks normalised"
        );
        for bad in [
            "1 x INVITE",
            "1 1",
            "1 1 INVITE extra",
            "1 4294967295 INVITE",
        ] {
            assert!(with_rack_shifted(&prack(bad), 1).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn challenge_and_answer_headers() {
        assert_eq!(
            headers_for(401),
            (HeaderName::WwwAuthenticate, HeaderName::Authorization)
        );
        assert_eq!(
            headers_for(407),
            (
                HeaderName::ProxyAuthenticate,
                HeaderName::ProxyAuthorization
            )
        );
    }
}
