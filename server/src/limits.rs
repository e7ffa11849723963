//! How fast one client may go: the frames one WebSocket sends (commands, subscriptions,
//! pings). A token bucket (GCRA, from `governor`) with the clock passed in, so tests step time
//! instead of sleeping.
//!
//! Owns: the pace and the words of a refusal. Must not: decide what a frame may do (the
//! socket's permission checks do) or end a connection (the socket does, when a client keeps
//! going past its refusals).

use std::num::NonZeroU32;
use std::time::Duration;

use ::governor::clock::{Clock, DefaultClock};
use ::governor::middleware::NoOpMiddleware;
use ::governor::state::{InMemoryState, NotKeyed};
use ::governor::{Quota, RateLimiter};

/// A steady rate with room for bursts: `burst` at once, then `per_second`.
pub struct Pace<C: Clock = DefaultClock> {
    limiter: RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    per_second: u32,
    burst: u32,
}

fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl Pace {
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self::with_clock(per_second, burst, DefaultClock::default())
    }
}

impl<C: Clock + Clone> Pace<C> {
    pub fn with_clock(per_second: u32, burst: u32, clock: C) -> Self {
        let quota = Quota::per_second(at_least_one(per_second)).allow_burst(at_least_one(burst));
        Self {
            limiter: RateLimiter::direct_with_clock(quota, clock.clone()),
            clock,
            per_second,
            burst,
        }
    }

    /// Takes one; or, refused, how long until one may go.
    pub fn admit(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// A refusal's words, for the client that was told to wait `wait`.
    pub fn refusal(&self, wait: Duration) -> String {
        format!(
            "at most {} frames a second per connection (bursts of {}): this one was not read; \
             send it again in {} ms",
            self.per_second,
            self.burst,
            wait.as_millis().max(1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::governor::clock::FakeRelativeClock;

    #[test]
    fn a_burst_goes_at_once_then_the_steady_rate() {
        let clock = FakeRelativeClock::default();
        let pace = Pace::with_clock(10, 3, clock.clone());
        for _ in 0..3 {
            assert_eq!(pace.admit(), Ok(()));
        }
        let wait = pace.admit().expect_err("past the burst");
        assert_eq!(wait, Duration::from_millis(100), "one every 100 ms");
        assert!(pace.refusal(wait).contains("send it again in 100 ms"));
        clock.advance(Duration::from_millis(99));
        assert!(pace.admit().is_err(), "not a moment early");
        clock.advance(Duration::from_millis(1));
        assert_eq!(pace.admit(), Ok(()));
        assert!(pace.admit().is_err());
        // A quiet second fills the bucket again, to the burst and no further.
        clock.advance(Duration::from_secs(10));
        for _ in 0..3 {
            assert_eq!(pace.admit(), Ok(()));
        }
        assert!(pace.admit().is_err());
    }

    #[test]
    fn zero_in_the_configuration_means_one() {
        let clock = FakeRelativeClock::default();
        let pace = Pace::with_clock(0, 0, clock.clone());
        assert_eq!(pace.admit(), Ok(()));
        assert_eq!(pace.admit(), Err(Duration::from_secs(1)));
    }
}
