//! The DNS answer cache: records kept for their TTL (RFC 1035 §3.2.1,
//! RFC 2181 §8) on the engine clock, and "no such record" answers for a short
//! fixed time (negative caching, RFC 2308 §5, without the SOA minimum the
//! runtime does not pass on).
//!
//! Failures (timeouts, SERVFAIL) are never cached: the next call tries again.
//! The cache is bounded; when full, expired entries go first, then the one
//! closest to expiry.

use super::{DnsError, DnsQuery, DnsRecords};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How long a "no such record" answer is kept.
pub const NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// The longest any answer is kept, whatever its TTL (RFC 2181 §8 caps at 2^31 s; we cap lower).
pub const MAX_TTL: Duration = Duration::from_secs(86_400);
/// Most entries kept.
pub const MAX_ENTRIES: usize = 4096;

/// A cached answer: records, or `None` for "no such record".
#[derive(Debug, Clone)]
struct Entry {
    records: Option<DnsRecords>,
    expires: Instant,
}

/// Answers by question, until they expire.
#[derive(Debug, Default)]
pub struct DnsCache {
    entries: BTreeMap<DnsQuery, Entry>,
}

impl DnsCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries (expired ones included until they are pruned).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The cached answer to `q` at `now`: `Some(Ok(records))`,
    /// `Some(Err(NotFound))`, or `None` when absent or expired.
    pub fn get(&self, now: Instant, q: &DnsQuery) -> Option<Result<DnsRecords, DnsError>> {
        let e = self.entries.get(q)?;
        if e.expires <= now {
            return None;
        }
        Some(e.records.clone().ok_or(DnsError::NotFound))
    }

    /// Stores the answer to `q` received at `now`. Records with a zero TTL and
    /// failures other than [`DnsError::NotFound`] are not stored.
    pub fn put(&mut self, now: Instant, q: DnsQuery, answer: &Result<(DnsRecords, u32), DnsError>) {
        let (records, ttl) = match answer {
            Ok((r, _)) if r.is_empty() => (None, NEGATIVE_TTL),
            Ok((r, ttl)) => (
                Some(r.clone()),
                Duration::from_secs(u64::from(*ttl)).min(MAX_TTL),
            ),
            Err(DnsError::NotFound) => (None, NEGATIVE_TTL),
            Err(_) => return,
        };
        if ttl.is_zero() {
            return;
        }
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(&q) {
            self.entries.retain(|_, e| e.expires > now);
            if self.entries.len() >= MAX_ENTRIES
                && let Some(k) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
            {
                self.entries.remove(&k);
            }
        }
        self.entries.insert(
            q,
            Entry {
                records,
                expires: now + ttl,
            },
        );
    }

    /// Drops every expired entry.
    pub fn prune(&mut self, now: Instant) {
        self.entries.retain(|_, e| e.expires > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn addr(ip: &str) -> DnsRecords {
        DnsRecords::Addr(vec![ip.parse::<IpAddr>().expect("ip")])
    }

    #[test]
    fn entries_expire_by_ttl_on_the_engine_clock() {
        let t0 = crate::test_epoch();
        let mut c = DnsCache::new();
        let q = DnsQuery::Addr("gw.example.net".into());
        c.put(t0, q.clone(), &Ok((addr("192.0.2.1"), 60)));
        assert_eq!(c.get(t0, &q), Some(Ok(addr("192.0.2.1"))));
        assert_eq!(
            c.get(t0 + Duration::from_secs(59), &q),
            Some(Ok(addr("192.0.2.1")))
        );
        assert_eq!(c.get(t0 + Duration::from_secs(60), &q), None, "expired");
        c.prune(t0 + Duration::from_secs(61));
        assert!(c.is_empty());
    }

    #[test]
    fn negative_answers_are_short_and_failures_are_not_cached() {
        let t0 = crate::test_epoch();
        let mut c = DnsCache::new();
        let q = DnsQuery::Srv("_sip._udp.nx.example".into());
        c.put(t0, q.clone(), &Err(DnsError::NotFound));
        assert_eq!(c.get(t0, &q), Some(Err(DnsError::NotFound)));
        assert_eq!(c.get(t0 + NEGATIVE_TTL, &q), None);
        let q2 = DnsQuery::Srv("_sip._udp.slow.example".into());
        c.put(t0, q2.clone(), &Err(DnsError::Timeout));
        c.put(t0, q2.clone(), &Err(DnsError::Failed("servfail".into())));
        assert_eq!(c.get(t0, &q2), None);
        // An empty answer is a negative one; a zero TTL is not kept.
        let q3 = DnsQuery::Addr("empty.example".into());
        c.put(t0, q3.clone(), &Ok((DnsRecords::Addr(vec![]), 3600)));
        assert_eq!(c.get(t0, &q3), Some(Err(DnsError::NotFound)));
        let q4 = DnsQuery::Addr("zero.example".into());
        c.put(t0, q4.clone(), &Ok((addr("192.0.2.9"), 0)));
        assert_eq!(c.get(t0, &q4), None);
    }

    #[test]
    fn huge_ttls_are_capped_and_the_cache_is_bounded() {
        let t0 = crate::test_epoch();
        let mut c = DnsCache::new();
        let q = DnsQuery::Addr("long.example".into());
        c.put(t0, q.clone(), &Ok((addr("192.0.2.1"), u32::MAX)));
        assert_eq!(c.get(t0 + MAX_TTL, &q), None);
        for i in 0..(MAX_ENTRIES + 10) {
            c.put(
                t0,
                DnsQuery::Addr(format!("h{i}.example")),
                &Ok((addr("192.0.2.1"), 100 + i as u32)),
            );
        }
        assert!(c.len() <= MAX_ENTRIES);
        // The newest entry survived; the one closest to expiry went.
        let last = DnsQuery::Addr(format!("h{}.example", MAX_ENTRIES + 9));
        assert!(c.get(t0, &last).is_some());
    }
}
