//! Branch parameters for requests we forward, with loop detection (RFC 3261 §16.6 step 8, §16.3 step 4).
//!
//! Our branch is `z9hG4bK` + `sb` + 16 hex digits of a keyed hash over the
//! fields that identify a request's routing (Request-URI, To tag, From tag,
//! Call-ID, CSeq number, Proxy-Require, Proxy-Authorization, Route, and the
//! top Via as received) + `.` + a random part that makes each fork unique.
//!
//! When a request arrives carrying one of *our* Vias whose hash part equals
//! the hash we would compute for it now, it has come back unchanged: a loop
//! (482). If the hash differs (the Request-URI changed, e.g. after a
//! redirect) it is a legitimate spiral.

use crate::rng::{BRANCH_COOKIE, Rng, SeededState};
use crate::sip::header::HeaderName;
use crate::sip::message::Message;
use std::hash::{BuildHasher, Hasher};

/// Marker after the magic cookie that says "this branch carries a loop hash".
const MARK: &str = "sb";

/// Computes the loop-detection hash of a request as received.
pub fn loop_hash(keys: &SeededState, msg: &Message) -> u64 {
    let mut h = keys.build_hasher();
    let mut field = |s: &str| {
        h.write(s.as_bytes());
        h.write_u8(0xff);
    };
    field(msg.request_uri().unwrap_or(""));
    field(msg.to_tag().unwrap_or(""));
    field(msg.from_tag().unwrap_or(""));
    field(msg.call_id());
    field(&msg.cseq().seq.to_string());
    for name in [
        HeaderName::ProxyRequire,
        HeaderName::ProxyAuthorization,
        HeaderName::Route,
    ] {
        for v in msg.header_values(name) {
            field(v);
        }
    }
    field(msg.top_via_value());
    h.finish()
}

/// A new branch for one forwarded copy of a request with loop hash `hash`.
pub fn new_branch(hash: u64, rng: &mut Rng) -> String {
    let mut s = String::with_capacity(BRANCH_COOKIE.len() + MARK.len() + 16 + 1 + 8);
    s.push_str(BRANCH_COOKIE);
    s.push_str(MARK);
    s.push_str(&format!("{hash:016x}"));
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
}
