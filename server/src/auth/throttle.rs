//! Sign-in throttling: failures are counted per account and per client address in a window;
//! reaching the limit locks that account or address for the lockout period, and every attempt
//! while locked is refused before any password is checked. A success clears the account's count
//! (not the address's: one right password must not reset a spray across many accounts).
//!
//! The clock is passed in, so the policy is tested without waiting. State lives in memory
//! (dashmap): a restart forgets it, which costs an attacker a restart they cannot cause.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use dashmap::DashMap;

#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub max_failures: u32,
    pub window: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockScope {
    Account,
    Address,
}

/// A refusal: what is locked and for how long still.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Locked {
    pub scope: LockScope,
    pub retry_after: Duration,
}

#[derive(Clone, Copy, Debug)]
struct Counter {
    failures: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

/// The most entries kept before stale ones are swept.
const SWEEP_AT: usize = 100_000;

pub struct LoginThrottle {
    accounts: DashMap<String, Counter>,
    addresses: DashMap<IpAddr, Counter>,
    account: Policy,
    address: Policy,
}

impl LoginThrottle {
    pub fn new(account: Policy, address: Policy) -> Self {
        Self {
            accounts: DashMap::new(),
            addresses: DashMap::new(),
            account,
            address,
        }
    }

    /// Refuses an attempt while the account or the address is locked.
    pub fn check(&self, email: &str, ip: Option<IpAddr>, now: Instant) -> Result<(), Locked> {
        let locked = |c: Option<Counter>, scope| match c.and_then(|c| c.locked_until) {
            Some(until) if until > now => Err(Locked {
                scope,
                retry_after: until - now,
            }),
            _ => Ok(()),
        };
        locked(self.accounts.get(email).map(|c| *c), LockScope::Account)?;
        if let Some(ip) = ip {
            locked(self.addresses.get(&ip).map(|c| *c), LockScope::Address)?;
        }
        Ok(())
    }

    /// Counts a failure; returns the lock it causes, if any.
    pub fn failed(&self, email: &str, ip: Option<IpAddr>, now: Instant) -> Option<Locked> {
        if self.accounts.len() + self.addresses.len() > SWEEP_AT {
            self.sweep(now);
        }
        let account = bump(
            &mut self.accounts.entry(email.to_owned()).or_insert(fresh(now)),
            self.account,
            now,
        )
        .map(|retry_after| Locked {
            scope: LockScope::Account,
            retry_after,
        });
        let address = ip.and_then(|ip| {
            bump(
                &mut self.addresses.entry(ip).or_insert(fresh(now)),
                self.address,
                now,
            )
            .map(|retry_after| Locked {
                scope: LockScope::Address,
                retry_after,
            })
        });
        account.or(address)
    }

    /// A successful sign-in clears the account's failures.
    pub fn succeeded(&self, email: &str) {
        self.accounts.remove(email);
    }

    fn sweep(&self, now: Instant) {
        let stale = |c: &Counter, p: Policy| {
            c.locked_until.is_none_or(|u| u <= now) && now.duration_since(c.window_start) > p.window
        };
        self.accounts.retain(|_, c| !stale(c, self.account));
        self.addresses.retain(|_, c| !stale(c, self.address));
    }
}

fn fresh(now: Instant) -> Counter {
    Counter {
        failures: 0,
        window_start: now,
        locked_until: None,
    }
}

/// Counts one failure; returns the lock duration when this failure reaches the limit.
fn bump(c: &mut Counter, policy: Policy, now: Instant) -> Option<Duration> {
    if now.duration_since(c.window_start) > policy.window
        || c.locked_until.is_some_and(|u| u <= now)
    {
        *c = fresh(now);
    }
    c.failures += 1;
    if c.failures >= policy.max_failures {
        c.locked_until = Some(now + policy.window);
        return Some(policy.window);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle() -> LoginThrottle {
        let p = |n| Policy {
            max_failures: n,
            window: Duration::from_secs(900),
        };
        LoginThrottle::new(p(5), p(20))
    }

    #[test]
    fn an_account_locks_at_the_limit_and_unlocks_after_the_window() {
        let t = throttle();
        let now = Instant::now();
        let ip = Some("10.0.0.1".parse().unwrap());
        for i in 0..4 {
            assert_eq!(t.failed("a@x", ip, now), None, "failure {i}");
            assert!(t.check("a@x", ip, now).is_ok());
        }
        let lock = t.failed("a@x", ip, now).unwrap();
        assert_eq!(lock.scope, LockScope::Account);
        let refused = t
            .check("a@x", ip, now + Duration::from_secs(60))
            .unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_secs(840));
        // Another account from the same address is not locked by it.
        assert!(t.check("b@x", ip, now).is_ok());
        assert!(t.check("a@x", ip, now + Duration::from_secs(901)).is_ok());
    }

    #[test]
    fn an_address_spraying_many_accounts_locks() {
        let t = throttle();
        let now = Instant::now();
        let ip = Some("10.0.0.2".parse().unwrap());
        for i in 0..19 {
            assert_eq!(t.failed(&format!("u{i}@x"), ip, now), None);
        }
        let lock = t.failed("u19@x", ip, now).unwrap();
        assert_eq!(lock.scope, LockScope::Address);
        assert_eq!(
            t.check("new@x", ip, now).unwrap_err().scope,
            LockScope::Address
        );
        // Another address may still try.
        assert!(t
            .check("new@x", Some("10.0.0.3".parse().unwrap()), now)
            .is_ok());
    }

    #[test]
    fn success_clears_the_account_count() {
        let t = throttle();
        let now = Instant::now();
        for _ in 0..4 {
            t.failed("a@x", None, now);
        }
        t.succeeded("a@x");
        assert_eq!(t.failed("a@x", None, now), None);
    }
}

/// Lets one audit line per key through per period: refusals an attacker can repeat at will
/// (probing ids, hammering a locked account) are recorded without letting them flood the log.
#[derive(Debug)]
pub struct AuditLimiter {
    period: Duration,
    last: DashMap<String, Instant>,
}

impl AuditLimiter {
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            last: DashMap::new(),
        }
    }

    /// Whether a line for `key` may be written now (and, if so, notes that it was).
    pub fn admit(&self, key: &str, now: Instant) -> bool {
        if self.last.len() > SWEEP_AT {
            let period = self.period;
            self.last.retain(|_, at| now.duration_since(*at) < period);
        }
        match self.last.get_mut(key) {
            Some(at) if now.duration_since(*at) < self.period => false,
            Some(mut at) => {
                *at = now;
                true
            }
            None => {
                self.last.insert(key.to_owned(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod limiter_tests {
    use super::*;

    #[test]
    fn one_line_per_key_per_period() {
        let limiter = AuditLimiter::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(limiter.admit("a", t0));
        assert!(!limiter.admit("a", t0 + Duration::from_secs(59)));
        assert!(limiter.admit("b", t0 + Duration::from_secs(1)));
        assert!(limiter.admit("a", t0 + Duration::from_secs(61)));
    }
}
