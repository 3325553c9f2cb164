//! OPTIONS health pings (issue 4, TekSIP's destination "OPTIONS ping"; RFC
//! 3261 §11): every enabled destination with `options_ping = yes` that does not
//! register is sent `OPTIONS sip:<domain or gateway>` every `register_expires`
//! seconds (at least [`MIN_PERIOD`]), one at a time.
//!
//! - Any final response counts as an answer — a 404 or a 500 still proves the
//!   destination is alive — except 408 and 503, which, like a timeout (Timer
//!   F, §17.1.2.2) or a transport error (§18.4), count as a failure.
//! - Hysteresis: a destination starts up; it goes down after
//!   [`DOWN_AFTER`] consecutive failures and up again after one answer.
//! - Changes set [`crate::routing::DestState::up`] (routing skips a down
//!   destination) and emit [`Event::DestinationHealth`].
//!
//! Destinations that register are watched by their registration instead (a
//! failed one is skipped by routing already).

use super::{Job, Outcome, Outgoing, Uac, UacCtx, account_host, next_hop};
use crate::event::Event;
use crate::routing::Destination;
use crate::sip::Method;
use crate::transaction::TxId;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The shortest ping period.
pub const MIN_PERIOD: Duration = Duration::from_secs(5);
/// Consecutive failures that take an up destination down.
pub const DOWN_AFTER: u32 = 2;

/// One destination's pings.
#[derive(Debug)]
pub(super) struct Ping {
    dest: Destination,
    up: bool,
    failures: u32,
    next_at: Option<Instant>,
    tx: Option<TxId>,
    from_tag: String,
    cseq: u32,
}

/// Every pinged destination, by an id that is never reused.
#[derive(Debug, Default)]
pub(super) struct Pings {
    by_id: BTreeMap<u64, Ping>,
    next_id: u64,
}

impl Pings {
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.by_id
            .values()
            .filter(|p| p.tx.is_none())
            .filter_map(|p| p.next_at)
            .min()
    }

    pub(super) fn clear(&mut self) {
        self.by_id.clear();
    }
}

/// The ping period of `d`.
pub fn period(d: &Destination) -> Duration {
    Duration::from_secs(u64::from(d.register_expires)).max(MIN_PERIOD)
}

/// Does a final `status` to a ping show the destination alive?
pub fn is_answer(status: u16) -> bool {
    !matches!(status, 408 | 503)
}

/// Should `d` be pinged?
fn wants_ping(d: &Destination) -> bool {
    d.options_ping && !d.register && d.enabled
}

impl Uac {
    pub(super) fn sync_pings(&mut self, ctx: &mut UacCtx<'_>, all: &[Destination]) {
        let wanted: Vec<&Destination> = all.iter().filter(|d| wants_ping(d)).collect();
        let stale: Vec<(u64, Option<TxId>)> = self
            .pings
            .by_id
            .iter()
            .filter(|(_, p)| !wanted.iter().any(|d| **d == p.dest))
            .map(|(id, p)| (*id, p.tx))
            .collect();
        for (id, tx) in stale {
            if let Some(tx) = tx {
                self.txs.remove(&tx);
            }
            if let Some(p) = self.pings.by_id.remove(&id)
                && !p.up
                && !wanted.iter().any(|d| d.name == p.dest.name)
                && let Some(s) = ctx.table.state_mut(&p.dest.name)
            {
                // No longer pinged: nothing says it is down any more.
                s.up = true;
            }
        }
        for d in wanted {
            if self.pings.by_id.values().any(|p| p.dest == *d) {
                continue;
            }
            let id = self.pings.next_id;
            self.pings.next_id += 1;
            // A changed destination keeps what the table knew of its health.
            let up = ctx.table.state(&d.name).is_none_or(|s| s.up);
            self.pings.by_id.insert(
                id,
                Ping {
                    dest: d.clone(),
                    up,
                    failures: 0,
                    next_at: Some(ctx.now),
                    tx: None,
                    from_tag: ctx.rng.tag(),
                    cseq: 0,
                },
            );
        }
    }

    pub(super) fn drive_pings(&mut self, ctx: &mut UacCtx<'_>) {
        let due: Vec<u64> = self
            .pings
            .by_id
            .iter()
            .filter(|(_, p)| p.tx.is_none() && p.next_at.is_some_and(|t| t <= ctx.now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.send_ping(ctx, id);
        }
    }

    fn send_ping(&mut self, ctx: &mut UacCtx<'_>, id: u64) {
        let Some(p) = self.pings.by_id.get_mut(&id) else {
            return;
        };
        p.next_at = Some(ctx.now + period(&p.dest));
        p.cseq += 1;
        let d = p.dest.clone();
        let (cseq, tag) = (p.cseq, p.from_tag.clone());
        let hop = match next_hop(&d) {
            Ok(h) => h,
            Err(why) => return self.ping_result(ctx, id, false, why),
        };
        let host = account_host(&d);
        let ruri = format!("sip:{host}{}", super::transport_param(&d));
        let user = d.username.as_deref().unwrap_or("switchboard");
        let from = format!("<sip:{user}@{}>;tag={tag}", self.identity.domain());
        let to = format!("<{ruri}>");
        let call_id = ctx.rng.call_id();
        let req = Outgoing {
            method: Method::Options,
            request_uri: &ruri,
            from: &from,
            to: &to,
            call_id: &call_id,
            cseq,
            extra: vec![(crate::sip::HeaderName::Accept, "application/sdp".into())],
        };
        let Some(tx) = self.send(ctx, hop, &req) else {
            return self.ping_result(ctx, id, false, "no listener for its transport".into());
        };
        self.txs.insert(tx, Job::Ping(id));
        if let Some(p) = self.pings.by_id.get_mut(&id) {
            p.tx = Some(tx);
        }
    }

    pub(super) fn ping_outcome(
        &mut self,
        ctx: &mut UacCtx<'_>,
        id: u64,
        tx: TxId,
        outcome: Outcome<'_>,
    ) {
        self.txs.remove(&tx);
        let Some(p) = self.pings.by_id.get_mut(&id) else {
            return;
        };
        if p.tx != Some(tx) {
            return;
        }
        p.tx = None;
        let (ok, why) = match outcome {
            Outcome::Response(m) => {
                let s = m.status().unwrap_or(500);
                (is_answer(s), format!("{s} {}", m.reason().unwrap_or("")))
            }
            Outcome::Failed(s, r) => (false, format!("{s} {r}")),
        };
        self.ping_result(ctx, id, ok, why);
        // The period may have passed while this ping was out (a timeout takes 32 s).
        self.drive_pings(ctx);
    }

    fn ping_result(&mut self, ctx: &mut UacCtx<'_>, id: u64, ok: bool, why: String) {
        let Some(p) = self.pings.by_id.get_mut(&id) else {
            return;
        };
        let was = p.up;
        if ok {
            p.failures = 0;
            p.up = true;
        } else {
            p.failures = p.failures.saturating_add(1);
            if p.failures >= DOWN_AFTER {
                p.up = false;
            }
        }
        if p.up != was {
            let name = p.dest.name.clone();
            let up = p.up;
            if let Some(s) = ctx.table.state_mut(&name) {
                s.up = up;
            }
            self.events.push_back(Event::DestinationHealth {
                destination: name,
                up,
                reason: why.trim_end().to_owned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_failures() {
        for s in [200, 404, 405, 480, 500, 486, 603] {
            assert!(is_answer(s), "{s}");
        }
        assert!(!is_answer(408) && !is_answer(503));
    }

    #[test]
    fn period_is_the_expiry_with_a_floor() {
        let mut d = super::super::tests::dest("gw", "192.0.2.9");
        d.register_expires = 60;
        assert_eq!(period(&d), Duration::from_secs(60));
        d.register_expires = 1;
        assert_eq!(period(&d), MIN_PERIOD);
    }

    #[test]
    fn only_enabled_non_registering_pinged_destinations() {
        let mut d = super::super::tests::dest("gw", "192.0.2.9");
        d.options_ping = true;
        assert!(!wants_ping(&d), "it registers");
        d.register = false;
        assert!(wants_ping(&d));
        d.enabled = false;
        assert!(!wants_ping(&d));
    }
}
