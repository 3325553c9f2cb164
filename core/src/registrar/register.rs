//! REGISTER processing (RFC 3261 §10.3), with RFC 5626 instance/reg-id flows and
//! RFC 3327 Path.
//!
//! [`Registrar::handle_register`] takes a parsed REGISTER and the flow it came
//! on and returns the complete response to send. The request is validated in
//! full before any binding changes, so a request that fails (423, 400, 500 for
//! out-of-order CSeq) changes nothing.

use super::{RegisterReply, Registrar};
use crate::auth::Verdict;
use crate::event::{Event, UnbindReason};
use crate::registrar::bindings::{NewBinding, Upsert};
use crate::rng::Rng;
use crate::sip::builder::ResponseBuilder;
use crate::sip::header::HeaderName;
use crate::sip::message::Message;
use crate::sip::uri::{SipUri, Uri};
use crate::sip::{
    ContactSet, Host, NameAddr, parse_contacts, parse_tokens, parse_u32, push_ip, push_u64,
};
use crate::transport::Flow;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// One contact of the request after validation.
struct Planned {
    contact: String,
    key: String,
    q: u16,
    expires: u32,
    instance: Option<String>,
    reg_id: Option<u32>,
}

/// The §19.1.4 comparison key of a contact URI: two URIs are equivalent exactly
/// when their keys are equal (for the parts a registrar compares).
pub fn contact_key(uri: &Uri) -> String {
    match uri {
        Uri::Sip(u) => sip_key(u),
        other => other.to_string(),
    }
}

/// [`contact_key`] of a SIP or SIPS URI (without wrapping it in a [`Uri`]).
pub fn sip_key(u: &SipUri) -> String {
    let mut k = String::with_capacity(48);
    k.push_str(if u.secure { "sips:" } else { "sip:" });
    if let Some(user) = u.user_unescaped() {
        k.push_str(&user);
        if let Some(pw) = &u.password {
            k.push(':');
            k.push_str(pw);
        }
        k.push('@');
    }
    // The host as `Display` writes it, lowercased (IP literals print in lowercase).
    match &u.host {
        Host::Domain(d) => k.extend(d.chars().map(|c| c.to_ascii_lowercase())),
        Host::V4(a) => push_ip(&mut k, IpAddr::V4(*a)),
        Host::V6(a) => {
            k.push('[');
            push_ip(&mut k, IpAddr::V6(*a));
            k.push(']');
        }
    }
    if let Some(p) = u.port {
        k.push(':');
        push_u64(&mut k, u64::from(p));
    }
    // Parameters that must match when present in either URI (§19.1.4).
    for name in ["transport", "user", "method", "ttl", "maddr"] {
        if let Some(v) = u.params.get(name) {
            k.push(';');
            k.push_str(name);
            if let Some(v) = v {
                k.push('=');
                k.push_str(&v.to_ascii_lowercase());
            }
        }
    }
    k
}

impl Registrar {
    /// Handles a REGISTER that arrived on `flow`; returns the response to send.
    pub fn handle_register(
        &mut self,
        now: Instant,
        req: &Message,
        flow: Flow,
        rng: &mut Rng,
    ) -> RegisterReply {
        // One To tag for whatever this request is answered with.
        let tag = self.tag_for(req);
        self.src = Some(flow.remote);
        // §10.3 step 2: Require (we support path, outbound, gruu-less operation).
        let unsupported: Vec<String> = req
            .header_values(HeaderName::Require)
            .flat_map(parse_tokens)
            .filter(|t| !matches!(t.to_ascii_lowercase().as_str(), "path" | "outbound"))
            .map(str::to_owned)
            .collect();
        if !unsupported.is_empty() {
            let mut r = self
                .response_to(req, 420, "Bad Extension")
                .to_tag(&tag)
                .header(HeaderName::Unsupported, unsupported.join(", "));
            r = r.header(HeaderName::Server, &self.server_name);
            return RegisterReply {
                status: 420,
                response: r.build(),
            };
        }
        // The To header names the address-of-record (§10.3 step 5).
        let Some(to) = req
            .header(HeaderName::To)
            .and_then(|v| NameAddr::parse(v).ok())
        else {
            return self.reply(req, &tag, 400, "Bad Request: malformed To header");
        };
        let Some(to_uri) = to.uri.as_sip() else {
            return self.reply(req, &tag, 404, "Not Found");
        };
        let Some(user) = to_uri.user_unescaped().map(|u| u.into_owned()) else {
            return self.reply(req, &tag, 404, "Not Found");
        };
        if !self.identity.is_our_domain(&to_uri.host)
            && !self.identity.is_us(&to_uri.host, to_uri.port, None)
        {
            return self.reply(req, &tag, 404, "Not Found");
        }
        // §10.3 step 3: authenticate.
        if self.register_auth {
            let Some(credentials) = req.header(HeaderName::Authorization) else {
                return self.challenge(now, req, rng, false, &tag);
            };
            let uri = req.request_uri().unwrap_or("");
            let dir = &self.directory;
            let verdict = self.auth.verify(now, "REGISTER", uri, credentials, |u| {
                dir.active(u).map(|e| crate::auth::Ha1Ref {
                    md5: &e.ha1_md5,
                    sha256: &e.ha1_sha256,
                })
            });
            match verdict {
                Verdict::Ok { username } => {
                    if username != user {
                        self.auth_failed(
                            Some(username),
                            flow,
                            "authenticated user does not own this address-of-record",
                        );
                        return self.reply(req, &tag, 403, "Forbidden");
                    }
                }
                Verdict::Stale => return self.challenge(now, req, rng, true, &tag),
                Verdict::Reject { reason } => {
                    let claimed = crate::auth::Credentials::parse(credentials)
                        .ok()
                        .map(|c| c.username);
                    self.auth_failed(claimed, flow, &format!("{reason:?}"));
                    return self.challenge(now, req, rng, false, &tag);
                }
                Verdict::Malformed { reason } => {
                    return self.reply(req, &tag, 400, &format!("Bad Request: {reason}"));
                }
            }
        } else if self.directory.active(&user).is_none() {
            return self.reply(req, &tag, 404, "Not Found");
        }
        let aor = format!("{user}@{}", self.identity.domain());

        // Expires header (default for contacts without an expires parameter).
        let header_expires = match req.header(HeaderName::Expires) {
            Some(v) => match parse_u32(v, "Expires") {
                Ok(e) => Some(e),
                Err(e) => return self.reply(req, &tag, 400, &e.reason()),
            },
            None => None,
        };
        let contacts = {
            let mut all = Vec::new();
            let mut star = false;
            for v in req.header_values(HeaderName::Contact) {
                match parse_contacts(v) {
                    Ok(ContactSet::Star) => star = true,
                    // Usually one Contact line: take its list as it is (a
                    // `Contact` is large; moving it again costs).
                    Ok(ContactSet::List(list)) if all.is_empty() => all = list,
                    Ok(ContactSet::List(list)) => all.extend(list),
                    Err(e) => return self.reply(req, &tag, 400, &e.reason()),
                }
            }
            if star {
                // §10.3 step 6: `*` only alone and only with Expires: 0.
                if !all.is_empty() || header_expires != Some(0) {
                    return self.reply(
                        req,
                        &tag,
                        400,
                        "Bad Request: Contact * requires Expires: 0 and no other contacts",
                    );
                }
                return self.unregister_all(now, req, &aor, &tag);
            }
            all
        };
        let call_id = req.call_id();
        let cseq = req.cseq().seq;
        // Validate everything first (§10.3 step 7 is atomic).
        let mut planned = Vec::with_capacity(contacts.len());
        for c in &contacts {
            let expires = c
                .expires()
                .or(header_expires)
                .unwrap_or(self.default_expires);
            let expires = if expires == 0 {
                0
            } else if expires < self.min_expires {
                let r = self
                    .response_to(req, 423, "Interval Too Brief")
                    .to_tag(&tag)
                    .header(HeaderName::MinExpires, self.min_expires)
                    .header(HeaderName::Server, &self.server_name)
                    .build();
                return RegisterReply {
                    status: 423,
                    response: r,
                };
            } else {
                expires.min(self.max_expires)
            };
            let key = contact_key(c.uri());
            if let Some(existing) = self.bindings.find(&aor, &key)
                && &*existing.call_id == call_id
                && cseq <= existing.cseq
            {
                return self.reply(
                    req,
                    &tag,
                    500,
                    "Server Internal Error: out-of-order REGISTER",
                );
            }
            let mut contact = String::with_capacity(key.len() + 16);
            c.uri().push_to(&mut contact);
            planned.push(Planned {
                contact,
                key,
                q: c.q().unwrap_or(1000),
                expires,
                instance: c.instance(),
                reg_id: c.reg_id(),
            });
        }
        let path: Vec<Box<str>> = req
            .header_values(HeaderName::Path)
            .map(Into::into)
            .collect();
        let user_agent = req.header(HeaderName::UserAgent).map(Into::into);
        let mut outbound = false;
        for p in planned {
            if p.expires == 0 {
                if let Some(id) = self.bindings.find(&aor, &p.key).map(|b| b.id)
                    && let Some((_, b)) = self.bindings.remove(id)
                {
                    self.push_unbound(&aor, &b.contact, UnbindReason::Unregistered);
                }
                continue;
            }
            outbound |= p.reg_id.is_some() && p.instance.is_some();
            let nb = NewBinding {
                contact: p.contact.clone().into(),
                contact_key: p.key.into(),
                q: p.q,
                expires_at: now + Duration::from_secs(u64::from(p.expires)),
                call_id: call_id.into(),
                cseq,
                flow,
                instance: p.instance.map(Into::into),
                reg_id: p.reg_id,
                path: path.clone(),
                user_agent: user_agent.clone(),
            };
            let outcome = self.bindings.upsert(&aor, nb);
            if let Upsert::Replaced { old_contact, .. } = &outcome {
                self.push_unbound(&aor, old_contact, UnbindReason::Replaced);
            }
            self.events.push_back(Event::Registered {
                aor: aor.clone(),
                contact: p.contact,
                expires: p.expires,
                flow,
                refresh: matches!(outcome, Upsert::Refreshed(_)),
            });
        }
        self.ok_response(now, req, &aor, outbound, &tag)
    }

    fn unregister_all(
        &mut self,
        now: Instant,
        req: &Message,
        aor: &str,
        tag: &str,
    ) -> RegisterReply {
        let call_id = req.call_id();
        let cseq = req.cseq().seq;
        if self
            .bindings
            .lookup(aor)
            .iter()
            .any(|b| &*b.call_id == call_id && cseq <= b.cseq)
        {
            let response = self
                .response_to(req, 500, "Server Internal Error: out-of-order REGISTER")
                .to_tag(tag)
                .header(HeaderName::Server, &self.server_name)
                .build();
            return RegisterReply {
                status: 500,
                response,
            };
        }
        for b in self.bindings.remove_aor(aor) {
            self.push_unbound(aor, &b.contact, UnbindReason::Unregistered);
        }
        self.ok_response(now, req, aor, false, tag)
    }

    fn ok_response(
        &mut self,
        now: Instant,
        req: &Message,
        aor: &str,
        outbound: bool,
        tag: &str,
    ) -> RegisterReply {
        let mut r = self.response_to(req, 200, "OK").to_tag(tag);
        for b in self.bindings.lookup(aor) {
            let remaining = b.remaining(now);
            if remaining == 0 {
                continue;
            }
            let mut v = String::with_capacity(b.contact.len() + 24);
            v.push('<');
            v.push_str(&b.contact);
            v.push_str(">;expires=");
            push_u64(&mut v, u64::from(remaining));
            if b.q != 1000 {
                v.push_str(&format!(";q={}", format_q(b.q)));
            }
            if let Some(i) = &b.instance {
                v.push_str(&format!(";+sip.instance=\"{i}\""));
            }
            if let Some(r) = b.reg_id {
                v.push_str(&format!(";reg-id={r}"));
            }
            r = r.header(HeaderName::Contact, v);
        }
        if outbound {
            r = r.header(HeaderName::Require, "outbound");
        }
        for p in req.header_values(HeaderName::Path) {
            r = r.header(HeaderName::Path, p);
        }
        r = r
            .header(HeaderName::Date, self.clock.date_header(now))
            .header(HeaderName::Supported, "path, outbound")
            .header(HeaderName::Server, &self.server_name);
        self.accepted += 1;
        RegisterReply {
            status: 200,
            response: r.build(),
        }
    }

    fn challenge(
        &mut self,
        now: Instant,
        req: &Message,
        rng: &mut Rng,
        stale: bool,
        tag: &str,
    ) -> RegisterReply {
        let mut builder = self.response_to(req, 401, "Unauthorized").to_tag(tag);
        for value in self.auth.challenge(now, rng, stale) {
            builder = builder.header(HeaderName::WwwAuthenticate, value);
        }
        let response = builder
            .header(HeaderName::Server, &self.server_name)
            .build();
        RegisterReply {
            status: 401,
            response,
        }
    }

    /// A response with only the mandatory headers, To tag and Server.
    fn reply(&self, req: &Message, tag: &str, status: u16, reason: &str) -> RegisterReply {
        RegisterReply {
            status,
            response: self
                .response_to(req, status, reason)
                .to_tag(tag)
                .header(HeaderName::Server, &self.server_name)
                .build(),
        }
    }

    fn auth_failed(&mut self, username: Option<String>, flow: Flow, reason: &str) {
        self.auth_failures += 1;
        self.events.push_back(Event::AuthFailed {
            username,
            flow,
            reason: reason.to_owned(),
        });
    }

    fn push_unbound(&mut self, aor: &str, contact: &str, reason: UnbindReason) {
        self.events.push_back(Event::Unregistered {
            aor: aor.to_owned(),
            contact: contact.to_owned(),
            reason,
        });
    }

    /// A response to `req`, its top Via stamped with where the REGISTER came from
    /// (RFC 3581: a client behind NAT learns its public address from it).
    fn response_to<'m>(&self, req: &'m Message, status: u16, reason: &str) -> ResponseBuilder<'m> {
        let b = ResponseBuilder::for_request(req, status, reason);
        match self.src {
            Some(src) => b.received_from(src),
            None => b,
        }
    }

    /// A To tag for our responses: stable per request (a retransmitted REGISTER
    /// is answered by the transaction layer, so only uniqueness across requests matters).
    fn tag_for(&self, req: &Message) -> String {
        use std::hash::{BuildHasher, Hasher};
        let mut h = self.tag_keys.build_hasher();
        h.write(req.call_id().as_bytes());
        h.write_u32(req.cseq().seq);
        h.write(req.top_via_branch().unwrap_or("").as_bytes());
        let v = h.finish();
        // `format!("{v:016x}")` without the formatting machinery.
        (0..16)
            .rev()
            .map(|i| char::from(b"0123456789abcdef"[((v >> (i * 4)) & 0xf) as usize]))
            .collect()
    }
}

fn format_q(q: u16) -> String {
    let s = format!("{}.{:03}", q / 1000, q % 1000);
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
