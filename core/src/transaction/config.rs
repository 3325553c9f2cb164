//! Transaction timer configuration: T1, T2, T4 and the 100 (Trying) delay (RFC 3261 §17.1.1.1,
//! §17.1.2.2, §17.2.1, table 4 in appendix A; RFC 6026 §8.4 and §8.7 for Timers L and M).
//!
//! Every timer A–M is derived from these base values:
//!
//! | timer | value | section |
//! | --- | --- | --- |
//! | A | initially T1, doubles on every firing, no cap (unreliable only) | §17.1.1.2 |
//! | B | 64·T1 | §17.1.1.2 |
//! | D | ≥ 32 s unreliable (we use `max(32 s, 64·T1)`), 0 reliable | §17.1.1.2 |
//! | E | initially T1, doubles up to T2; T2 in Proceeding (unreliable only) | §17.1.2.2 |
//! | F | 64·T1 | §17.1.2.2 |
//! | G | initially T1, doubles up to T2 (unreliable only) | §17.2.1 |
//! | H | 64·T1 | §17.2.1 |
//! | I | T4 unreliable, 0 reliable | §17.2.1 |
//! | J | 64·T1 unreliable, 0 reliable | §17.2.2 |
//! | K | T4 unreliable, 0 reliable | §17.1.2.2 |
//! | L | 64·T1 | RFC 6026 §8.7 |
//! | M | 64·T1 | RFC 6026 §8.4 |
//!
//! The fields are private so a [`TimerConfig`] is always valid: `t1 > 0` (otherwise the
//! retransmission timers would fire in a tight loop), `t2 >= t1`, and every value is at most
//! [`TimerConfig::MAX`] so no derived deadline can overflow.

use std::time::Duration;

/// Why a [`TimerConfig`] was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimerConfigError {
    /// T1 must be positive: it is the base of every retransmission interval.
    #[error("T1 must be greater than zero")]
    ZeroT1,
    /// T2 caps the retransmission interval and cannot be below its starting value T1.
    #[error("T2 ({t2:?}) must be at least T1 ({t1:?})")]
    T2BelowT1 {
        /// The T1 given.
        t1: Duration,
        /// The T2 given.
        t2: Duration,
    },
    /// A value is larger than [`TimerConfig::MAX`].
    #[error("{name} ({value:?}) exceeds the maximum of one hour")]
    TooLarge {
        /// Which value: `"T1"`, `"T2"`, `"T4"` or `"trying_delay"`.
        name: &'static str,
        /// The value given.
        value: Duration,
    },
}

/// The base timer values of RFC 3261 §17, validated.
///
/// `Default` gives the RFC values: T1 = 500 ms, T2 = 4 s, T4 = 5 s, and the 100 (Trying) delay of
/// §17.2.1 = 200 ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    t1: Duration,
    t2: Duration,
    t4: Duration,
    trying_delay: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            trying_delay: Duration::from_millis(200),
        }
    }
}

impl TimerConfig {
    /// The largest value accepted for any base timer (one hour), so that 64·T1 and every
    /// deadline derived from it stay far from overflow.
    pub const MAX: Duration = Duration::from_secs(3600);

    /// The minimum Timer D on unreliable transports (RFC 3261 §17.1.1.2: "at least 32 seconds").
    pub const MIN_TIMER_D: Duration = Duration::from_secs(32);

    /// A validated configuration.
    ///
    /// `trying_delay` is how long an INVITE server transaction waits for the TU before it sends
    /// 100 (Trying) itself (§17.2.1; 200 ms by default).
    pub fn new(
        t1: Duration,
        t2: Duration,
        t4: Duration,
        trying_delay: Duration,
    ) -> Result<Self, TimerConfigError> {
        for (name, value) in [
            ("T1", t1),
            ("T2", t2),
            ("T4", t4),
            ("trying_delay", trying_delay),
        ] {
            if value > Self::MAX {
                return Err(TimerConfigError::TooLarge { name, value });
            }
        }
        if t1.is_zero() {
            return Err(TimerConfigError::ZeroT1);
        }
        if t2 < t1 {
            return Err(TimerConfigError::T2BelowT1 { t1, t2 });
        }
        Ok(Self {
            t1,
            t2,
            t4,
            trying_delay,
        })
    }

    /// T1: the round-trip time estimate (500 ms by default).
    pub fn t1(&self) -> Duration {
        self.t1
    }

    /// T2: the maximum retransmission interval for non-INVITE requests and INVITE responses.
    pub fn t2(&self) -> Duration {
        self.t2
    }

    /// T4: the maximum time a message stays in the network.
    pub fn t4(&self) -> Duration {
        self.t4
    }

    /// The delay before an INVITE server transaction sends 100 (Trying) on the TU's behalf.
    pub fn trying_delay(&self) -> Duration {
        self.trying_delay
    }

    /// 64·T1, the transaction timeout used by B, F, H, J, L and M.
    fn sixty_four_t1(&self) -> Duration {
        self.t1 * 64
    }

    /// Timer A's first interval (T1); it doubles on every firing without a cap.
    pub fn timer_a(&self) -> Duration {
        self.t1
    }

    /// Timer B: INVITE client transaction timeout, 64·T1.
    pub fn timer_b(&self) -> Duration {
        self.sixty_four_t1()
    }

    /// Timer D: wait for response retransmissions in the INVITE client's Completed state:
    /// `max(32 s, 64·T1)` on unreliable transports, zero on reliable ones.
    pub fn timer_d(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            Self::MIN_TIMER_D.max(self.sixty_four_t1())
        }
    }

    /// Timer E's first interval (T1); it doubles up to T2, and is T2 in Proceeding.
    pub fn timer_e(&self) -> Duration {
        self.t1
    }

    /// Timer F: non-INVITE client transaction timeout, 64·T1.
    pub fn timer_f(&self) -> Duration {
        self.sixty_four_t1()
    }

    /// Timer G's first interval (T1); it doubles up to T2.
    pub fn timer_g(&self) -> Duration {
        self.t1
    }

    /// Timer H: wait for the ACK of a non-2xx final, 64·T1.
    pub fn timer_h(&self) -> Duration {
        self.sixty_four_t1()
    }

    /// Timer I: absorb ACK retransmissions: T4 on unreliable transports, zero on reliable ones.
    pub fn timer_i(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.t4 }
    }

    /// Timer J: absorb non-INVITE request retransmissions: 64·T1 unreliable, zero reliable.
    pub fn timer_j(&self, reliable: bool) -> Duration {
        if reliable {
            Duration::ZERO
        } else {
            self.sixty_four_t1()
        }
    }

    /// Timer K: absorb non-INVITE response retransmissions: T4 unreliable, zero reliable.
    pub fn timer_k(&self, reliable: bool) -> Duration {
        if reliable { Duration::ZERO } else { self.t4 }
    }

    /// Timer L (RFC 6026): how long an INVITE server transaction stays Accepted, 64·T1.
    pub fn timer_l(&self) -> Duration {
        self.sixty_four_t1()
    }

    /// Timer M (RFC 6026): how long an INVITE client transaction stays Accepted, 64·T1.
    pub fn timer_m(&self) -> Duration {
        self.sixty_four_t1()
    }

    /// The next interval of a doubling retransmission timer, optionally capped (T2 for E and G,
    /// none for A), saturating instead of overflowing.
    pub(crate) fn doubled(interval: Duration, cap: Option<Duration>) -> Duration {
        let next = interval.saturating_mul(2);
        match cap {
            Some(cap) => next.min(cap),
            None => next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn defaults_are_the_rfc_values() {
        let c = TimerConfig::default();
        assert_eq!((c.t1(), c.t2(), c.t4()), (ms(500), ms(4000), ms(5000)));
        assert_eq!(c.trying_delay(), ms(200));
        assert_eq!(
            TimerConfig::new(ms(500), ms(4000), ms(5000), ms(200)),
            Ok(c)
        );
    }

    #[test]
    fn derived_timers_match_table_4() {
        let c = TimerConfig::default();
        let s32 = Duration::from_secs(32);
        assert_eq!(c.timer_a(), ms(500));
        assert_eq!(c.timer_b(), s32);
        assert_eq!(c.timer_d(false), s32);
        assert_eq!(c.timer_d(true), Duration::ZERO);
        assert_eq!(c.timer_e(), ms(500));
        assert_eq!(c.timer_f(), s32);
        assert_eq!(c.timer_g(), ms(500));
        assert_eq!(c.timer_h(), s32);
        assert_eq!(c.timer_i(false), ms(5000));
        assert_eq!(c.timer_i(true), Duration::ZERO);
        assert_eq!(c.timer_j(false), s32);
        assert_eq!(c.timer_j(true), Duration::ZERO);
        assert_eq!(c.timer_k(false), ms(5000));
        assert_eq!(c.timer_k(true), Duration::ZERO);
        assert_eq!(c.timer_l(), s32);
        assert_eq!(c.timer_m(), s32);
    }

    #[test]
    fn timer_d_is_at_least_32_s_and_covers_a_large_t1() {
        let small = TimerConfig::new(ms(100), ms(4000), ms(5000), ms(200)).unwrap();
        assert_eq!(small.timer_d(false), Duration::from_secs(32));
        let large = TimerConfig::new(ms(1000), ms(4000), ms(5000), ms(200)).unwrap();
        assert_eq!(large.timer_d(false), Duration::from_secs(64));
    }

    #[test]
    fn invalid_configs_are_refused() {
        assert_eq!(
            TimerConfig::new(Duration::ZERO, ms(4000), ms(5000), ms(200)),
            Err(TimerConfigError::ZeroT1)
        );
        assert_eq!(
            TimerConfig::new(ms(500), ms(400), ms(5000), ms(200)),
            Err(TimerConfigError::T2BelowT1 {
                t1: ms(500),
                t2: ms(400)
            })
        );
        assert!(matches!(
            TimerConfig::new(ms(500), Duration::MAX, ms(5000), ms(200)),
            Err(TimerConfigError::TooLarge { name: "T2", .. })
        ));
        // T2 == T1 and T4 == 0 are legal.
        assert!(TimerConfig::new(ms(500), ms(500), Duration::ZERO, Duration::ZERO).is_ok());
        let msg = TimerConfigError::ZeroT1.to_string();
        assert!(msg.contains("T1"), "{msg}");
    }

    #[test]
    fn doubling_caps_and_saturates() {
        assert_eq!(TimerConfig::doubled(ms(500), None), ms(1000));
        assert_eq!(TimerConfig::doubled(ms(2000), Some(ms(4000))), ms(4000));
        assert_eq!(TimerConfig::doubled(ms(4000), Some(ms(4000))), ms(4000));
        assert_eq!(TimerConfig::doubled(Duration::MAX, None), Duration::MAX);
    }
}
