//! DNS jobs: the part of the engine that turns "resolve this SIP target" or
//! "these NAPTR records, please" into raw [`DnsQuery`]s for the runtime
//! (ARCHITECTURE.md §3), matches the answers back by query id, consults and
//! fills the [`DnsCache`], and times queries out on the engine clock.
//!
//! A job is either an RFC 3263 resolution ([`Resolution`], several queries in
//! sequence) or a single NAPTR lookup (ENUM, RFC 6116). Finished jobs are
//! collected with [`Resolver::poll_done`]. A job whose answers are all cached
//! finishes at once, without any output.

use super::cache::DnsCache;
use super::rfc3263::{Resolution, SipTarget, Step, TargetAddr};
use super::{DnsAnswer, DnsError, DnsQuery, DnsRecords, NaptrRecord};
use crate::rng::Rng;
use crate::transport::Transport;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

/// Identifies a job (also used, from the same counter, as query ids).
pub type JobId = u64;

/// How long one query may take before it counts as [`DnsError::Timeout`].
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(4);
/// Most jobs in progress; more fail at once.
pub const MAX_JOBS: usize = 10_000;

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// An RFC 3263 resolution: the targets in order (empty: nothing found).
    Targets(Vec<TargetAddr>),
    /// A NAPTR lookup: the records (empty: none).
    Naptr(Vec<NaptrRecord>),
    /// The lookup failed (timeout, server failure).
    Failed(DnsError),
}

#[derive(Debug)]
enum Job {
    Sip(Box<Resolution>),
    Naptr(String),
}

#[derive(Debug)]
struct InFlight {
    job: JobId,
    query: DnsQuery,
    deadline: Instant,
}

/// Jobs, queries in flight, the cache.
#[derive(Debug)]
pub struct Resolver {
    cache: DnsCache,
    jobs: BTreeMap<JobId, Job>,
    inflight: BTreeMap<u64, InFlight>,
    deadlines: BTreeSet<(Instant, u64)>,
    queries: VecDeque<(u64, DnsQuery)>,
    done: VecDeque<(JobId, JobOutcome)>,
    next_id: u64,
    timeout: Duration,
}

impl Default for Resolver {
    fn default() -> Self {
        Self::new(QUERY_TIMEOUT)
    }
}

impl Resolver {
    /// A resolver whose queries time out after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self {
            cache: DnsCache::new(),
            jobs: BTreeMap::new(),
            inflight: BTreeMap::new(),
            deadlines: BTreeSet::new(),
            queries: VecDeque::new(),
            done: VecDeque::new(),
            next_id: 1,
            timeout,
        }
    }

    fn fresh_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The answers cached so far.
    pub fn cache(&self) -> &DnsCache {
        &self.cache
    }

    /// Jobs not finished yet.
    pub fn pending(&self) -> usize {
        self.jobs.len()
    }

    /// Starts an RFC 3263 resolution of `target` (DNS may choose among `supported`).
    pub fn resolve(
        &mut self,
        now: Instant,
        target: &SipTarget,
        supported: &[Transport],
        rng: &mut Rng,
    ) -> JobId {
        let id = self.fresh_id();
        if self.jobs.len() >= MAX_JOBS {
            self.done.push_back((
                id,
                JobOutcome::Failed(DnsError::Failed("too many lookups".into())),
            ));
            return id;
        }
        let job = Job::Sip(Box::new(Resolution::new(target, supported)));
        self.jobs.insert(id, job);
        self.advance(now, id, None, rng);
        id
    }

    /// Starts a NAPTR lookup of `name` (ENUM).
    pub fn naptr(&mut self, now: Instant, name: &str, rng: &mut Rng) -> JobId {
        let id = self.fresh_id();
        if self.jobs.len() >= MAX_JOBS {
            self.done.push_back((
                id,
                JobOutcome::Failed(DnsError::Failed("too many lookups".into())),
            ));
            return id;
        }
        self.jobs.insert(id, Job::Naptr(name.to_owned()));
        self.advance(now, id, None, rng);
        id
    }

    /// Forgets a job (its answers, if any, are still cached).
    pub fn cancel(&mut self, job: JobId) {
        self.jobs.remove(&job);
    }

    /// Drives job `id`: feeds `answer` (for its last query) if given, then
    /// answers from the cache until a query must go out or the job ends.
    fn advance(
        &mut self,
        now: Instant,
        id: JobId,
        mut answer: Option<Result<DnsRecords, DnsError>>,
        rng: &mut Rng,
    ) {
        loop {
            let Some(job) = self.jobs.get_mut(&id) else {
                return;
            };
            let query = match job {
                Job::Naptr(name) => {
                    let q = DnsQuery::Naptr(name.clone());
                    let a = answer.take().or_else(|| self.cache.get(now, &q));
                    match a {
                        Some(Ok(DnsRecords::Naptr(r))) => Some(JobOutcome::Naptr(r)),
                        Some(Ok(_) | Err(DnsError::NotFound)) => {
                            Some(JobOutcome::Naptr(Vec::new()))
                        }
                        Some(Err(e)) => Some(JobOutcome::Failed(e)),
                        None => {
                            self.send(now, id, q);
                            return;
                        }
                    }
                }
                Job::Sip(res) => {
                    if let Some(a) = answer.take()
                        && let Err(e) = res.feed(a, rng)
                    {
                        Some(JobOutcome::Failed(e))
                    } else {
                        match res.next_step() {
                            Step::Done(t) => Some(JobOutcome::Targets(t)),
                            Step::Query(q) => match self.cache.get(now, &q) {
                                Some(a) => {
                                    answer = Some(a);
                                    continue;
                                }
                                None => {
                                    self.send(now, id, q);
                                    return;
                                }
                            },
                        }
                    }
                }
            };
            if let Some(outcome) = query {
                self.jobs.remove(&id);
                self.done.push_back((id, outcome));
            }
            return;
        }
    }

    fn send(&mut self, now: Instant, job: JobId, query: DnsQuery) {
        let qid = self.fresh_id();
        let deadline = now + self.timeout;
        self.inflight.insert(
            qid,
            InFlight {
                job,
                query: query.clone(),
                deadline,
            },
        );
        self.deadlines.insert((deadline, qid));
        self.queries.push_back((qid, query));
    }

    /// The runtime's answer to query `qid`. Unknown or late ids are ignored.
    pub fn answer(
        &mut self,
        now: Instant,
        qid: u64,
        result: Result<DnsAnswer, DnsError>,
        rng: &mut Rng,
    ) {
        let Some(f) = self.inflight.remove(&qid) else {
            return;
        };
        self.deadlines.remove(&(f.deadline, qid));
        let kind_ok = |r: &DnsRecords| {
            matches!(
                (&f.query, r),
                (DnsQuery::Naptr(_), DnsRecords::Naptr(_))
                    | (DnsQuery::Srv(_), DnsRecords::Srv(_))
                    | (DnsQuery::Addr(_), DnsRecords::Addr(_))
            )
        };
        let result = match result {
            Ok(a) if kind_ok(&a.records) => Ok((a.records, a.ttl)),
            Ok(_) => Err(DnsError::NotFound),
            Err(e) => Err(e),
        };
        self.cache.put(now, f.query.clone(), &result);
        let fed = result.map(|(r, _)| r);
        self.advance(now, f.job, Some(fed), rng);
    }

    /// Times out every query whose deadline passed.
    pub fn handle_timeout(&mut self, now: Instant, rng: &mut Rng) {
        while let Some(&(at, qid)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.remove(&(at, qid));
            if let Some(f) = self.inflight.remove(&qid) {
                self.advance(now, f.job, Some(Err(DnsError::Timeout)), rng);
            }
        }
    }

    /// The next query deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.first().map(|(t, _)| *t)
    }

    /// The next query for the runtime: `(query id, question)`.
    pub fn poll_query(&mut self) -> Option<(u64, DnsQuery)> {
        self.queries.pop_front()
    }

    /// The next finished job.
    pub fn poll_done(&mut self) -> Option<(JobId, JobOutcome)> {
        self.done.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::SrvRecord;

    fn target(host: &str) -> SipTarget {
        SipTarget {
            host: host.into(),
            port: None,
            transport: Some(Transport::Udp),
            secure: false,
        }
    }

    fn addr_answer(ip: &str, ttl: u32) -> Result<DnsAnswer, DnsError> {
        Ok(DnsAnswer {
            records: DnsRecords::Addr(vec![ip.parse().expect("ip")]),
            ttl,
        })
    }

    #[test]
    fn queries_out_answers_in_then_cached_until_ttl() {
        let t0 = crate::test_epoch();
        let mut g = Rng::from_seed([1; 32]);
        let mut r = Resolver::default();
        let job = r.resolve(t0, &target("gw.example.net"), &[Transport::Udp], &mut g);
        let (q1, srv) = r.poll_query().expect("SRV query");
        assert_eq!(srv, DnsQuery::Srv("_sip._udp.gw.example.net".into()));
        r.answer(
            t0,
            q1,
            Ok(DnsAnswer {
                records: DnsRecords::Srv(vec![SrvRecord {
                    priority: 1,
                    weight: 1,
                    port: 5070,
                    target: "a.example.net".into(),
                }]),
                ttl: 300,
            }),
            &mut g,
        );
        let (q2, a) = r.poll_query().expect("A query");
        assert_eq!(a, DnsQuery::Addr("a.example.net".into()));
        assert!(r.poll_done().is_none());
        r.answer(t0, q2, addr_answer("192.0.2.7", 60), &mut g);
        let (id, out) = r.poll_done().expect("done");
        assert_eq!(id, job);
        let JobOutcome::Targets(t) = out else {
            panic!("{out:?}")
        };
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].addr, "192.0.2.7:5070".parse().expect("addr"));
        // Within the A record's TTL the same resolution needs no query at all.
        let t1 = t0 + Duration::from_secs(59);
        let again = r.resolve(t1, &target("gw.example.net"), &[Transport::Udp], &mut g);
        assert!(r.poll_query().is_none());
        assert!(matches!(r.poll_done(), Some((i, JobOutcome::Targets(_))) if i == again));
        // After it, only the A record is asked again (the SRV lives 300 s).
        let t2 = t0 + Duration::from_secs(61);
        r.resolve(t2, &target("gw.example.net"), &[Transport::Udp], &mut g);
        assert_eq!(
            r.poll_query().map(|q| q.1),
            Some(DnsQuery::Addr("a.example.net".into()))
        );
    }

    #[test]
    fn timeouts_fail_the_job_and_late_answers_are_ignored() {
        let t0 = crate::test_epoch();
        let mut g = Rng::from_seed([1; 32]);
        let mut r = Resolver::new(Duration::from_secs(2));
        let job = r.naptr(t0, "1.2.3.e164.arpa", &mut g);
        let (qid, q) = r.poll_query().expect("query");
        assert_eq!(q, DnsQuery::Naptr("1.2.3.e164.arpa".into()));
        assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(2)));
        r.handle_timeout(t0 + Duration::from_secs(1), &mut g);
        assert!(r.poll_done().is_none());
        r.handle_timeout(t0 + Duration::from_secs(2), &mut g);
        assert_eq!(
            r.poll_done(),
            Some((job, JobOutcome::Failed(DnsError::Timeout)))
        );
        r.answer(
            t0 + Duration::from_secs(3),
            qid,
            addr_answer("192.0.2.1", 5),
            &mut g,
        );
        assert!(r.poll_done().is_none());
        assert_eq!(r.pending(), 0);
        // A mismatched record kind counts as no record.
        r.naptr(t0, "x.e164.arpa", &mut g);
        let (qid, _) = r.poll_query().expect("query");
        r.answer(t0, qid, addr_answer("192.0.2.1", 5), &mut g);
        assert!(matches!(r.poll_done(), Some((_, JobOutcome::Naptr(v))) if v.is_empty()));
    }
}
