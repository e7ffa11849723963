//! How fast one client may go: the frames one WebSocket sends (commands, subscriptions,
//! pings), the sign-in and setup attempts one address makes, and the webhooks an address that
//! has sent a forged signature may send. Token buckets (GCRA, from `governor`) with the clock
//! passed in, so tests step time instead of sleeping.
//!
//! Owns: the paces and the words of a refusal. Must not: decide what a frame or a request may
//! do (permission checks do), find out who the client is (`web::client_ip` does, behind trusted
//! proxies only) or end a connection (the socket does, when a client keeps going past its
//! refusals).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use ::governor::clock::{Clock, DefaultClock};
use ::governor::middleware::NoOpMiddleware;
use ::governor::state::keyed::DashMapStateStore;
use ::governor::state::{InMemoryState, NotKeyed};
use ::governor::{Quota, RateLimiter};
use dashmap::DashSet;

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

/// Addresses remembered at most, per pace or set: past it, quiet ones are forgotten (a full
/// bucket is the same as no entry), and a set of suspects starts again.
const REMEMBERED: usize = 100_000;

/// The key a client is paced by: an IPv4 address, or an IPv6 address's /64, which one
/// subscriber is routinely given whole and could otherwise walk through.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

/// One bucket per client address: `burst` at once, then `per_minute`.
pub struct ClientPace<C: Clock = DefaultClock> {
    limiter: RateLimiter<IpAddr, DashMapStateStore<IpAddr>, C, NoOpMiddleware<C::Instant>>,
    clock: C,
    per_minute: u32,
    burst: u32,
}

impl ClientPace {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self::with_clock(per_minute, burst, DefaultClock::default())
    }
}

impl<C: Clock + Clone> ClientPace<C> {
    pub fn with_clock(per_minute: u32, burst: u32, clock: C) -> Self {
        let quota = Quota::per_minute(at_least_one(per_minute)).allow_burst(at_least_one(burst));
        Self {
            limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()),
            clock,
            per_minute,
            burst,
        }
    }

    /// Takes one for `ip`'s client; or, refused, how long until one may go.
    pub fn admit(&self, ip: IpAddr) -> Result<(), Duration> {
        if self.limiter.len() > REMEMBERED {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&client_key(ip))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// A refusal's words: `what` is what was counted ("sign-in attempts").
    pub fn refusal(&self, what: &str, wait: Duration) -> String {
        format!(
            "at most {} {what} a minute from one address (bursts of {}): try again in {} s",
            self.per_minute,
            self.burst,
            retry_after_secs(wait)
        )
    }
}

/// Whole seconds for a `Retry-After` header: never 0, which would invite an immediate retry.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_nanos().div_ceil(1_000_000_000) as u64).max(1)
}

/// Who may post webhooks how fast. A webhook's body must be read before its signature can be
/// checked, so forged ones cost reading and hashing; an address that sent one becomes a
/// suspect, and a suspect's webhooks are paced before a byte of them is read. An address that
/// delivered a valid signature is Meta's (nobody else holds the app secret) and is never
/// paced again: Meta's deliveries and its retries, which carry on for 7 days, are never refused
/// here, even when one app's secret is misconfigured and its deliveries fail.
pub struct SenderPace<C: Clock = DefaultClock> {
    pace: ClientPace<C>,
    suspects: DashSet<IpAddr>,
    signers: DashSet<IpAddr>,
}

impl SenderPace {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self::with_clock(per_minute, burst, DefaultClock::default())
    }
}

fn remember(set: &DashSet<IpAddr>, key: IpAddr) {
    if set.len() >= REMEMBERED {
        set.clear();
    }
    set.insert(key);
}

impl<C: Clock + Clone> SenderPace<C> {
    pub fn with_clock(per_minute: u32, burst: u32, clock: C) -> Self {
        Self {
            pace: ClientPace::with_clock(per_minute, burst, clock),
            suspects: DashSet::new(),
            signers: DashSet::new(),
        }
    }

    /// Before reading a webhook from `ip`: admitted, or how long the suspect must wait.
    pub fn admit(&self, ip: IpAddr) -> Result<(), Duration> {
        let key = client_key(ip);
        if self.signers.contains(&key) || !self.suspects.contains(&key) {
            return Ok(());
        }
        self.pace.admit(key)
    }

    /// `ip` delivered a webhook with a valid signature.
    pub fn signed(&self, ip: IpAddr) {
        let key = client_key(ip);
        self.suspects.remove(&key);
        if !self.signers.contains(&key) {
            remember(&self.signers, key);
        }
    }

    /// `ip` sent a webhook whose signature was missing or wrong.
    pub fn forged(&self, ip: IpAddr) {
        let key = client_key(ip);
        if !self.signers.contains(&key) && !self.suspects.contains(&key) {
            remember(&self.suspects, key);
        }
    }

    pub fn refusal(&self, wait: Duration) -> String {
        format!(
            "this address sent webhooks without a valid signature: {}",
            self.pace.refusal("webhooks", wait)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::governor::clock::FakeRelativeClock;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_address_has_its_own_bucket_and_an_ipv6_client_its_64() {
        let clock = FakeRelativeClock::default();
        let pace = ClientPace::with_clock(6, 2, clock.clone());
        for _ in 0..2 {
            assert_eq!(pace.admit(ip("203.0.113.7")), Ok(()));
        }
        let wait = pace.admit(ip("203.0.113.7")).expect_err("past the burst");
        assert_eq!(
            wait,
            Duration::from_secs(10),
            "six a minute: one every 10 s"
        );
        assert!(pace.refusal("sign-in attempts", wait).ends_with(
            "at most 6 sign-in attempts a minute from one address (bursts of 2): try again in 10 s"
        ));
        assert_eq!(pace.admit(ip("203.0.113.8")), Ok(()), "another client");
        // Addresses in one /64 are one client; the next /64 is another.
        for _ in 0..2 {
            assert_eq!(pace.admit(ip("2001:db8:1:2::1")), Ok(()));
        }
        assert!(pace.admit(ip("2001:db8:1:2:ffff::9")).is_err());
        assert_eq!(pace.admit(ip("2001:db8:1:3::1")), Ok(()));
        // An IPv4 client seen through an IPv6 socket is the same client.
        assert!(pace.admit(ip("::ffff:203.0.113.7")).is_err());
        clock.advance(Duration::from_secs(10));
        assert_eq!(pace.admit(ip("203.0.113.7")), Ok(()));
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }

    #[test]
    fn only_an_address_that_forged_a_signature_is_paced_and_never_a_signer() {
        let clock = FakeRelativeClock::default();
        let senders = SenderPace::with_clock(60, 3, clock.clone());
        let (meta, attacker) = (ip("173.252.88.1"), ip("198.51.100.9"));
        // Nobody is paced before a forgery, however fast.
        for _ in 0..100 {
            assert_eq!(senders.admit(attacker), Ok(()));
            assert_eq!(senders.admit(meta), Ok(()));
        }
        senders.signed(meta);
        senders.forged(attacker);
        for _ in 0..3 {
            assert_eq!(senders.admit(attacker), Ok(()));
        }
        let wait = senders
            .admit(attacker)
            .expect_err("a suspect past its burst");
        assert_eq!(wait, Duration::from_secs(1));
        assert!(senders.refusal(wait).contains("without a valid signature"));
        // Meta's address, even when one app's secret is wrong and its deliveries fail.
        senders.forged(meta);
        for _ in 0..100 {
            assert_eq!(senders.admit(meta), Ok(()));
        }
        // A suspect that delivers a valid signature is Meta behind it after all.
        clock.advance(Duration::from_secs(1));
        assert_eq!(senders.admit(attacker), Ok(()));
        senders.signed(attacker);
        for _ in 0..100 {
            assert_eq!(senders.admit(attacker), Ok(()));
        }
    }

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
