//! Script variables (`${...}`) and message assembly for `send`.
//!
//! Fresh identifiers come from the scenario's seeded PRNG, never from ambient
//! randomness, so they are the same on every run of one seed:
//!
//! | variable | value |
//! | --- | --- |
//! | `${branch}` / `${branch:r1}` | `z9hG4bK` + 12 token chars (RFC 3261 §8.1.1.7); a named one is drawn once and reused |
//! | `${tag}` / `${tag:a}` | 8 token chars (§19.3) |
//! | `${callid}` / `${callid:c1}` | 16 token chars (§8.1.1.4) |
//! | `${saved:x}` | a value stored by `save` |
//! | `${last:alice:To-tag}` | from the last message alice's `expect` consumed: `<Header>-tag`, `branch` (top Via), `status`, `uri`, or any header's first value (`Via`, `Contact`, …) |
//! | `${addr:alice}`, `${ip:alice}`, `${port:alice}` | a host's (or the engine's) address, IP, port |
//! | `${digest:user:password:METHOD:uri}` | credentials answering the last challenge the sending host received (RFC 7616) |
//!
//! `send` lines are joined with CRLF (§7); an empty `|` line separates the
//! body, whose lines also end in CRLF; `Content-Length: auto` becomes the body's
//! length in bytes (§20.14).

use crate::digest::DigestFn;
use crate::msg::{SipView, StartLine, param};
use crate::prng::SplitMix64;
use std::collections::BTreeMap;
use std::net::SocketAddr;

/// Variable state for one scenario run.
#[derive(Debug)]
pub struct Vars {
    rng: SplitMix64,
    named: BTreeMap<(String, String), String>,
    saved: BTreeMap<String, String>,
    last: BTreeMap<String, SipView>,
    challenge: BTreeMap<String, String>,
    addrs: BTreeMap<String, SocketAddr>,
    digest: DigestFn,
}

impl Vars {
    /// Variables seeded from the scenario seed; `addrs` names every host and the engine.
    pub fn new(seed: u64, addrs: BTreeMap<String, SocketAddr>, digest: DigestFn) -> Self {
        Self {
            rng: SplitMix64::derive(seed, 2),
            named: BTreeMap::new(),
            saved: BTreeMap::new(),
            last: BTreeMap::new(),
            challenge: BTreeMap::new(),
            addrs,
            digest,
        }
    }

    /// Records the message a host's `expect` consumed (and any challenge in it).
    pub fn set_last(&mut self, host: &str, m: SipView) {
        let ch = m
            .header("WWW-Authenticate")
            .or_else(|| m.header("Proxy-Authenticate"));
        if let Some(ch) = ch {
            self.challenge.insert(host.to_owned(), ch.to_owned());
        }
        self.last.insert(host.to_owned(), m);
    }

    /// The last message a host consumed.
    pub fn last(&self, host: &str) -> Option<&SipView> {
        self.last.get(host)
    }

    /// Stores `${saved:name}`.
    pub fn save(&mut self, name: &str, value: String) {
        self.saved.insert(name.to_owned(), value);
    }

    /// Expands every `${...}` in `text` on behalf of `host`.
    ///
    /// # Errors
    /// An unknown or unset variable, or an unterminated `${`.
    pub fn expand(&mut self, host: &str, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unterminated ${{ in {text:?}"))?;
            out.push_str(&self.value(host, &after[..end])?);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn fresh(&mut self, kind: &str, name: Option<&str>) -> String {
        if let Some(n) = name
            && let Some(v) = self.named.get(&(kind.to_owned(), n.to_owned()))
        {
            return v.clone();
        }
        let v = match kind {
            "branch" => format!("z9hG4bK{}", self.rng.token(12)),
            "tag" => self.rng.token(8),
            _ => self.rng.token(16),
        };
        if let Some(n) = name {
            self.named
                .insert((kind.to_owned(), n.to_owned()), v.clone());
        }
        v
    }

    fn value(&mut self, host: &str, var: &str) -> Result<String, String> {
        let (kind, arg) = match var.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (var, None),
        };
        match (kind, arg) {
            ("branch" | "tag" | "callid", _) => Ok(self.fresh(kind, arg)),
            ("saved", Some(name)) => self
                .saved
                .get(name)
                .cloned()
                .ok_or_else(|| format!("${{saved:{name}}} was never saved")),
            ("last", Some(a)) => {
                let (h, field) = a.split_once(':').ok_or("expected ${last:<host>:<field>}")?;
                let m = self
                    .last
                    .get(h)
                    .ok_or_else(|| format!("{h} has not received a message yet"))?;
                field_of(m, field).ok_or_else(|| format!("the last message {h} got has no {field}"))
            }
            ("addr" | "ip" | "port", Some(h)) => {
                let a = self
                    .addrs
                    .get(h)
                    .ok_or_else(|| format!("unknown host {h:?}"))?;
                Ok(match kind {
                    "addr" => a.to_string(),
                    "ip" if a.is_ipv6() => format!("[{}]", a.ip()),
                    "ip" => a.ip().to_string(),
                    _ => a.port().to_string(),
                })
            }
            ("digest", Some(a)) => {
                let mut parts = a.splitn(4, ':');
                let (Some(user), Some(pw), Some(method), Some(uri)) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err("expected ${digest:user:password:METHOD:uri}".into());
                };
                let ch = self
                    .challenge
                    .get(host)
                    .ok_or_else(|| format!("{host} has received no challenge to answer"))?;
                (self.digest)(ch, method, uri, user, pw)
            }
            _ => Err(format!("unknown variable ${{{var}}}")),
        }
    }
}

/// A named field of a message (see the table in the module docs).
pub fn field_of(m: &SipView, field: &str) -> Option<String> {
    match field {
        "status" => match &m.start {
            StartLine::Response { code, .. } => Some(code.to_string()),
            StartLine::Request { .. } => None,
        },
        "uri" => match &m.start {
            StartLine::Request { uri, .. } => Some(uri.clone()),
            StartLine::Response { .. } => None,
        },
        "branch" => param(m.header("Via")?, "branch").map(str::to_owned),
        "body" => Some(String::from_utf8_lossy(&m.body).into_owned()),
        f => {
            if let Some(h) = f.strip_suffix("-tag")
                && !h.is_empty()
            {
                return param(m.header(h)?, "tag").map(str::to_owned);
            }
            m.header(f).map(str::to_owned)
        }
    }
}

/// Assembles `send` lines into wire bytes (CRLF endings, body after an empty
/// line, `Content-Length: auto` filled in).
pub fn assemble(lines: &[String]) -> Vec<u8> {
    let split = lines.iter().position(String::is_empty);
    let (head, body) = match split {
        Some(i) => (&lines[..i], lines.get(i + 1..).unwrap_or(&[])),
        None => (lines, &[][..]),
    };
    let mut body_text = String::new();
    for l in body {
        body_text.push_str(l);
        body_text.push_str("\r\n");
    }
    let mut out = String::new();
    for l in head {
        let auto = l.split_once(':').is_some_and(|(n, v)| {
            crate::msg::same_header(n.trim(), "Content-Length") && v.trim() == "auto"
        });
        if auto {
            let name = l.split_once(':').map_or("Content-Length", |(n, _)| n);
            out.push_str(&format!("{name}: {}", body_text.len()));
        } else {
            out.push_str(l);
        }
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body_text);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut addrs = BTreeMap::new();
        addrs.insert(
            "alice".to_owned(),
            "192.0.2.101:5060".parse().expect("addr"),
        );
        addrs.insert(
            "bob".to_owned(),
            "[2001:db8::2]:5070".parse().expect("addr"),
        );
        Vars::new(42, addrs, crate::digest::answer)
    }

    #[test]
    fn named_values_are_stable_and_fresh_ones_differ() {
        let mut v = vars();
        let a = v
            .expand("alice", "${branch:r1} ${branch:r1} ${branch}")
            .expect("ok");
        let parts: Vec<&str> = a.split(' ').collect();
        assert_eq!(parts[0], parts[1]);
        assert_ne!(parts[0], parts[2]);
        assert!(parts[0].starts_with("z9hG4bK") && parts[0].len() == 19);
        assert_eq!(v.expand("alice", "${tag:x}").expect("ok").len(), 8);
        assert_eq!(v.expand("alice", "${callid}").expect("ok").len(), 16);
        // Same seed, same values.
        let mut w = vars();
        assert_eq!(w.expand("alice", "${branch:r1}").expect("ok"), parts[0]);
    }

    #[test]
    fn addresses_saved_and_last() {
        let mut v = vars();
        assert_eq!(
            v.expand("alice", "${addr:bob} ${ip:bob} ${port:bob} ${ip:alice}")
                .expect("ok"),
            "[2001:db8::2]:5070 [2001:db8::2] 5070 192.0.2.101"
        );
        assert!(v.expand("alice", "${saved:n}").is_err());
        v.save("n", "abc".into());
        assert_eq!(v.expand("alice", "x${saved:n}y").expect("ok"), "xabcy");
        let m = SipView::parse(
            b"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nTo: <sip:a@b>;tag=t9\r\nWWW-Authenticate: Digest realm=\"r\", nonce=\"n\"\r\n\r\n",
        )
        .expect("parses");
        assert!(v.expand("alice", "${digest:u:p:REGISTER:sip:b}").is_err());
        v.set_last("alice", m);
        assert_eq!(
            v.expand(
                "bob",
                "${last:alice:To-tag} ${last:alice:branch} ${last:alice:status}"
            )
            .expect("ok"),
            "t9 z9hG4bK1 401"
        );
        let d = v
            .expand("alice", "${digest:u:p:REGISTER:sip:b}")
            .expect("challenge");
        assert!(d.starts_with("Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"sip:b\""));
        assert!(
            v.expand("bob", "${digest:u:p:REGISTER:sip:b}").is_err(),
            "bob has no challenge"
        );
        assert!(v.expand("alice", "${last:alice:From-tag}").is_err());
    }

    #[test]
    fn bad_variables() {
        let mut v = vars();
        for bad in [
            "${nope}",
            "${unterminated",
            "${last:alice}",
            "${addr:carol}",
            "${digest:a}",
        ] {
            assert!(v.expand("alice", bad).is_err(), "{bad}");
        }
        assert_eq!(
            v.expand("alice", "no vars $ { }").expect("ok"),
            "no vars $ { }"
        );
    }

    #[test]
    fn assemble_crlf_and_auto_length() {
        let lines: Vec<String> = [
            "INVITE sip:b SIP/2.0",
            "l: auto",
            "",
            "v=0",
            "o=- 1 1 IN IP4 x",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        let m = assemble(&lines);
        let body = "v=0\r\no=- 1 1 IN IP4 x\r\n";
        assert_eq!(
            String::from_utf8(m).expect("utf8"),
            format!("INVITE sip:b SIP/2.0\r\nl: {}\r\n\r\n{body}", body.len())
        );
        let m = assemble(&[
            "OPTIONS sip:b SIP/2.0".to_owned(),
            "Content-Length: 7".to_owned(),
        ]);
        assert_eq!(m, b"OPTIONS sip:b SIP/2.0\r\nContent-Length: 7\r\n\r\n");
    }
}
