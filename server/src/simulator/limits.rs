//! Token buckets for Meta's limits, as pure functions of a clock the caller passes in.
//!
//! - Throughput: 80 messages/s per number by default (130429 beyond it).
//! - Pair rate: about one message every 6 s to the same user, bursts of up to 45 that must then
//!   be paid back at the normal rate (131056 beyond it).

use std::time::Duration;

/// Refill arithmetic in f64 can land a hair under a whole token (6 s × 1/6 per s); this much
/// slack counts it as whole.
const EPSILON: f64 = 1e-9;

/// A token bucket: `capacity` tokens, refilled at `per_second`. Time is a `Duration` since any
/// fixed origin the caller chooses.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    updated: Duration,
}

impl TokenBucket {
    pub fn new(capacity: f64, per_second: f64, now: Duration) -> Self {
        Self {
            capacity,
            per_second,
            tokens: capacity,
            updated: now,
        }
    }

    /// Meta's per-number throughput: `mps` messages per second, bursting to one second's worth.
    pub fn throughput(mps: u32, now: Duration) -> Self {
        Self::new(f64::from(mps.max(1)), f64::from(mps.max(1)), now)
    }

    /// Meta's pair rate: 45 in a burst, refilled one per 6 seconds.
    pub fn pair(now: Duration) -> Self {
        Self::new(45.0, 1.0 / 6.0, now)
    }

    fn refill(&mut self, now: Duration) {
        if now > self.updated {
            let elapsed = (now - self.updated).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
            self.updated = now;
        }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Duration) -> bool {
        self.refill(now);
        if self.tokens + EPSILON >= 1.0 {
            self.tokens = (self.tokens - 1.0).max(0.0);
            true
        } else {
            false
        }
    }

    /// How long until a token is available (zero if one is).
    pub fn wait_time(&mut self, now: Duration) -> Duration {
        self.refill(now);
        if self.tokens + EPSILON >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn throughput_allows_its_rate_and_no_more() {
        let mut b = TokenBucket::throughput(80, MS(0));
        let taken = (0..200).filter(|_| b.try_take(MS(0))).count();
        assert_eq!(taken, 80, "one second's burst");
        assert!(!b.try_take(MS(5)), "12.5 ms per token");
        assert!(b.try_take(MS(13)));
    }

    #[test]
    fn pair_burst_borrows_quota_that_must_be_repaid() {
        let mut b = TokenBucket::pair(MS(0));
        assert_eq!((0..100).filter(|_| b.try_take(MS(0))).count(), 45);
        assert!(!b.try_take(MS(5_999)));
        assert!(b.try_take(MS(6_000)));
        let wait = b.wait_time(MS(6_000)).as_secs_f64();
        assert!((wait - 6.0).abs() < 1e-6, "{wait}");
    }

    proptest! {
        /// Over any window, a bucket never grants more than capacity + rate × window.
        #[test]
        fn never_exceeds_capacity_plus_rate(steps in proptest::collection::vec(0u64..50, 1..400), mps in 1u32..200) {
            let mut b = TokenBucket::throughput(mps, MS(0));
            let mut now = 0;
            let mut granted = 0u64;
            for step in steps {
                now += step;
                if b.try_take(MS(now)) { granted += 1; }
            }
            let bound = f64::from(mps) + f64::from(mps) * (now as f64 / 1000.0);
            prop_assert!(granted as f64 <= bound + 1e-9, "granted {granted} > {bound}");
        }
    }
}
