//! Branch parameters for requests we forward, with loop detection (RFC 3261 §16.6 step 8, §16.3 step 4).
//!
//! Our branch is `z9hG4bK` + `sb` + 16 hex digits of a keyed hash over the
//! fields that identify a request's routing (Request-URI, To tag, From tag,
//! Call-ID, CSeq number, Proxy-Require, Proxy-Authorization, Route, and the
//! top Via as received) + `.` + a random part that makes each fork unique.
//!
//! When a request arrives carrying one of *our* Vias whose hash part equals
//! the hash we compute for it as we first received it (with the Via just below
//! ours standing for the top Via, which it was then), it has come back
//! unchanged: a loop (482). If the hash differs (the Request-URI changed, e.g.
//! after a redirect or call forwarding) it is a legitimate spiral.

use crate::rng::{BRANCH_COOKIE, Rng, SeededState};
use crate::sip::header::HeaderName;
use crate::sip::message::Message;
use crate::sip::split_commas;
use crate::sip::via::{Via, ViaView};
use std::hash::{BuildHasher, Hasher};

/// Marker after the magic cookie that says "this branch carries a loop hash".
const MARK: &str = "sb";

/// Computes the loop-detection hash of a request as received.
pub fn loop_hash(keys: &SeededState, msg: &Message) -> u64 {
    let top = msg.top_via_branch().unwrap_or_else(|| msg.top_via_value());
    loop_hash_with_top(keys, msg, top)
}

/// The hash with `top` standing for the topmost Via: its branch parameter (the
/// whole value for a branchless RFC 2543 Via). Only the branch is hashed because
/// the proxy that forwards the request may add `received`/`rport` to that Via
/// (RFC 3581), and the loop check later sees it in that form, below our own Via.
fn loop_hash_with_top(keys: &SeededState, msg: &Message, top: &str) -> u64 {
    let mut h = keys.build_hasher();
    let mut field = |s: &str| {
        h.write(s.as_bytes());
        h.write_u8(0xff);
    };
    field(msg.request_uri().unwrap_or(""));
    field(msg.to_tag().unwrap_or(""));
    field(msg.from_tag().unwrap_or(""));
    field(msg.call_id());
    // The CSeq number in decimal, as `to_string` would write it, without allocating.
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut n = msg.cseq().seq;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    field(std::str::from_utf8(&digits[i..]).unwrap_or(""));
    for name in [
        HeaderName::ProxyRequire,
        HeaderName::ProxyAuthorization,
        HeaderName::Route,
    ] {
        for v in msg.header_values(name) {
            field(v);
        }
    }
    field(top);
    h.finish()
}

/// §16.3 step 4: has `msg` come back unchanged to an element whose Vias `is_us`
/// recognizes? For each Via of ours carrying a loop hash, recompute the hash the
/// request had when we first received it — the Via just below ours was its top
/// Via then — and compare. A differing hash (e.g. a new Request-URI) is a spiral.
pub fn is_looped(keys: &SeededState, msg: &Message, is_us: impl Fn(&Via) -> bool) -> bool {
    let mut vias = msg
        .header_values(HeaderName::Via)
        .flat_map(split_commas)
        .peekable();
    while let Some(v) = vias.next() {
        // Only a Via with one of our loop-hash branches needs parsing in full;
        // the view checks the same grammar without building the parameters.
        let Some(hash) = ViaView::with(v, |view| view.branch.and_then(hash_of_branch)).flatten()
        else {
            continue;
        };
        let Ok(via) = Via::parse(v) else { continue };
        if !is_us(&via) {
            continue;
        }
        let Some(below) = vias.peek() else { continue };
        let below_parsed = Via::parse(below).ok();
        let top = below_parsed
            .as_ref()
            .and_then(Via::branch)
            .unwrap_or(below.trim());
        if loop_hash_with_top(keys, msg, top) == hash {
            return true;
        }
    }
    false
}

/// A new branch for one forwarded copy of a request with loop hash `hash`.
pub fn new_branch(hash: u64, rng: &mut Rng) -> String {
    let mut s = String::with_capacity(BRANCH_COOKIE.len() + MARK.len() + 16 + 1 + 8);
    s.push_str(BRANCH_COOKIE);
    s.push_str(MARK);
    for i in (0..16).rev() {
        let nibble = (hash >> (i * 4)) & 0xf;
        s.push(char::from(b"0123456789abcdef"[nibble as usize]));
    }
    s.push('.');
    rng.push_token(&mut s, 8);
    s
}

/// The loop hash embedded in a branch we generated, if it is one of ours.
pub fn hash_of_branch(branch: &str) -> Option<u64> {
    let rest = branch.strip_prefix(BRANCH_COOKIE)?.strip_prefix(MARK)?;
    let hex = rest.get(..16)?;
    if rest.as_bytes().get(16) != Some(&b'.') {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_round_trips_its_hash_and_stays_unique() {
        let mut rng = Rng::from_seed([3; 32]);
        let a = new_branch(0xdead_beef_0123_4567, &mut rng);
        let b = new_branch(0xdead_beef_0123_4567, &mut rng);
        assert_ne!(a, b, "forks get distinct branches");
        assert!(a.starts_with("z9hG4bKsb"));
        assert_eq!(hash_of_branch(&a), Some(0xdead_beef_0123_4567));
        assert_eq!(hash_of_branch("z9hG4bK776asdhds"), None);
        assert_eq!(hash_of_branch("z9hG4bKsb0123"), None);
        assert_eq!(hash_of_branch("z9hG4bKsbzzzzzzzzzzzzzzzz.abc"), None);
    }

    fn parse(text: &str) -> Message {
        Message::parse(
            bytes::Bytes::from(text.replace('\n', "\r\n")),
            &Default::default(),
        )
        .expect("test message parses")
    }

    fn invite(ruri: &str, vias: &str) -> Message {
        parse(&format!(
            "INVITE {ruri} SIP/2.0\n{vias}Max-Forwards: 70\nFrom: <sip:101@example.com>;tag=a1\nTo: <sip:102@example.com>\nCall-ID: c1\nCSeq: 1 INVITE\nContent-Length: 0\n\n"
        ))
    }

    #[test]
    fn a_request_that_comes_back_through_another_hop_is_a_loop_a_changed_one_a_spiral() {
        let mut rng = Rng::from_seed([4; 32]);
        let keys = rng.hasher();
        let alice = "Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKalice;rport\n";
        let first = invite("sip:102@example.com", alice);
        let ours = new_branch(loop_hash(&keys, &first), &mut rng);
        let is_us = |v: &Via| v.host.to_string() == "192.0.2.1";
        assert!(!is_looped(&keys, &first, is_us), "no Via of ours yet");
        // Back through bob, with alice's Via stamped by us (RFC 3581) on the way out.
        let back = format!(
            "Via: SIP/2.0/UDP 192.0.2.102:5060;branch=z9hG4bKbob\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch={ours};rport\nVia: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKalice;rport=5060;received=192.0.2.101\n"
        );
        assert!(is_looped(
            &keys,
            &invite("sip:102@example.com", &back),
            is_us
        ));
        // The same path but a new Request-URI (call forwarding): a spiral.
        assert!(!is_looped(
            &keys,
            &invite("sip:103@example.com", &back),
            is_us
        ));
        // Someone else's Via with our branch is not ours; our Via at the bottom has nothing below.
        assert!(!is_looped(
            &keys,
            &invite("sip:102@example.com", &back),
            |_| false
        ));
        let bottom = format!("Via: SIP/2.0/UDP 192.0.2.1:5060;branch={ours}\n");
        assert!(!is_looped(
            &keys,
            &invite("sip:102@example.com", &bottom),
            is_us
        ));
    }
}
