//! The per-number send governor: when a message may leave so that WhatsApp's limits are never
//! hit. Pure code with the clock passed in.
//!
//! Meta enforces a throughput limit per business number (80 messages/s by default, up to 1,000
//! at higher tiers; error 130429 beyond it) and a pair rate per customer (about one message every
//! 6 s, with bursts that must be paid back; error 131056). The governor spaces sends with GCRA
//! (the "virtual scheduling" form of a token bucket) and stays *inside* both limits with a margin:
//! its bursts are smaller than Meta's, at the same sustained rate, so requests that bunch up on
//! the way still fit Meta's bucket.
//!
//! A send asks twice, so that a customer who must wait never holds up the others: first the
//! customer's pacing ([`Governor::recipient_slot`]), and once that time has come, the number's
//! throughput ([`Governor::number_slot`]). A 130429 or 131056 that still happens (another system
//! sending from the same number, a tier that dropped) pushes the matching schedule back.

use std::collections::HashMap;

use switchboard_shared::WaId;

/// GCRA: a cell conforms at time `t` when `t >= tat - tolerance`; taking it moves the
/// theoretical arrival time `tat` one interval on.
#[derive(Clone, Debug, PartialEq)]
struct Gcra {
    interval_ms: f64,
    tolerance_ms: f64,
    tat: f64,
}

impl Gcra {
    /// `per_second` sustained, `burst` at once.
    fn new(per_second: f64, burst: u32) -> Self {
        let interval_ms = 1000.0 / per_second;
        Self {
            interval_ms,
            tolerance_ms: interval_ms * f64::from(burst.max(1) - 1),
            tat: f64::MIN,
        }
    }

    /// Takes the earliest conforming slot at or after `now`; returns its time.
    fn take(&mut self, now: f64) -> f64 {
        let at = (self.tat - self.tolerance_ms).max(now);
        self.tat = self.tat.max(at) + self.interval_ms;
        at
    }

    /// Nothing conforms before `until`, and then with no burst.
    fn hold_until(&mut self, until: f64) {
        self.tat = self.tat.max(until + self.tolerance_ms);
    }

    /// Gives back the last cell taken (it was not used).
    fn refund(&mut self) {
        self.tat -= self.interval_ms;
    }

    /// Whether the schedule is back to a full burst by `now` (so it can be forgotten).
    fn idle(&self, now: f64) -> bool {
        self.tat <= now
    }
}

/// The sustained rate Meta allows one customer: one message per 6 seconds.
pub const PAIR_INTERVAL_MS: f64 = 6_000.0;
/// Meta lets a pair burst to 45; we burst to fewer.
pub const PAIR_BURST: u32 = 20;
/// Our burst at the number's rate, as a fraction of Meta's (a second's worth).
const NUMBER_BURST_SHARE: f64 = 0.25;

/// One business number's schedule.
#[derive(Clone, Debug)]
pub struct Governor {
    /// The tier the number's schedule runs at.
    mps: u32,
    number: Gcra,
    recipients: HashMap<WaId, Gcra>,
    /// Consecutive throttling answers, for exponential backoff.
    strikes: u32,
    /// The number is held back until then (after a 130429).
    held_until: f64,
}

impl Governor {
    /// A number allowed `mps` messages per second (its tier).
    pub fn new(mps: u32) -> Self {
        let mps = mps.max(1);
        let burst = ((f64::from(mps) * NUMBER_BURST_SHARE) as u32).max(1);
        Self {
            mps,
            number: Gcra::new(f64::from(mps), burst),
            recipients: HashMap::new(),
            strikes: 0,
            held_until: f64::MIN,
        }
    }

    /// The tier this schedule runs at, messages per second.
    pub fn mps(&self) -> u32 {
        self.mps
    }

    /// Moves the number to another tier (Meta raised it, or an admin corrected it): its
    /// schedule starts afresh at the new rate; customers' pacing and a throttling hold stay.
    pub fn retier(&mut self, mps: u32) {
        let fresh = Self::new(mps);
        self.mps = fresh.mps;
        self.number = fresh.number;
    }

    /// When a message to `recipient` may go as far as the customer's pacing is concerned. The
    /// slot is taken.
    pub fn recipient_slot(&mut self, recipient: &WaId, now_ms: i64) -> i64 {
        let now = now_ms as f64;
        if self.recipients.len() > 10_000 {
            self.recipients.retain(|_, g| !g.idle(now));
        }
        let slot = self
            .recipients
            .entry(recipient.clone())
            .or_insert_with(|| Gcra::new(1000.0 / PAIR_INTERVAL_MS, PAIR_BURST))
            .take(now);
        slot.ceil() as i64
    }

    /// When the next message may leave the number. The slot is taken.
    pub fn number_slot(&mut self, now_ms: i64) -> i64 {
        self.number.take(now_ms as f64).ceil() as i64
    }

    /// WhatsApp answered 130429 (throughput) or 131056 (pair rate, with `recipient`): hold the
    /// schedule back, twice as long each time in a row (from 1 s, at most 64 s). Answers to
    /// requests that were already on their way when the number was held back (a burst of them
    /// arrives at once) do not lengthen the hold again.
    pub fn throttled(&mut self, recipient: Option<&WaId>, now_ms: i64) -> i64 {
        let now = now_ms as f64;
        if recipient.is_none() && now < self.held_until {
            return self.held_until as i64;
        }
        let backoff = 1000.0 * f64::from(1u32 << self.strikes.min(6));
        self.strikes += 1;
        let until = now + backoff;
        match recipient {
            Some(r) => self
                .recipients
                .entry(r.clone())
                .or_insert_with(|| Gcra::new(1000.0 / PAIR_INTERVAL_MS, PAIR_BURST))
                .hold_until(until),
            None => {
                self.held_until = until;
                self.number.hold_until(until)
            }
        }
        until as i64
    }

    /// A message to `recipient` was refused before it reached them (a throughput refusal, a
    /// transient error): it does not count against the customer's pacing.
    pub fn not_delivered(&mut self, recipient: &WaId) {
        if let Some(g) = self.recipients.get_mut(recipient) {
            g.refund();
        }
    }

    /// A send went through: the backoff starts from 1 s again.
    pub fn accepted(&mut self) {
        self.strikes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::limits::TokenBucket;
    use proptest::prelude::*;
    use std::time::Duration;

    /// Offers `offered` messages per second for `seconds` to `recipients` customers (with a few
    /// hot ones), sends each at its slots, and checks every send against Meta's buckets as the
    /// simulator models them. Returns the send times.
    fn offer(mps: u32, offered: u32, seconds: i64, recipients: usize) -> Vec<i64> {
        let mut g = Governor::new(mps);
        let mut meta = TokenBucket::throughput(mps, Duration::ZERO);
        let mut pairs: HashMap<usize, TokenBucket> = HashMap::new();
        let total = offered as i64 * seconds;
        let mut ready: Vec<(i64, usize)> = Vec::new();
        for i in 0..total {
            let arrival = i * 1000 / offered as i64;
            // Every 10th message goes to one of three hot customers.
            let r = if i % 10 == 0 {
                (i as usize / 10) % 3
            } else {
                3 + i as usize % recipients
            };
            ready.push((g.recipient_slot(&WaId::new(format!("r{r}")), arrival), r));
        }
        // Each waiting send asks for its number slot when its own time has come.
        ready.sort();
        let mut sends: Vec<(i64, usize)> = ready
            .into_iter()
            .map(|(at, r)| (g.number_slot(at), r))
            .collect();
        sends.sort();
        for (at, r) in &sends {
            let now = Duration::from_millis(*at as u64);
            assert!(meta.try_take(now), "130429 at {at} ms");
            let pair = pairs
                .entry(*r)
                .or_insert_with(|| TokenBucket::pair(Duration::ZERO));
            assert!(pair.try_take(now), "131056 for r{r} at {at} ms");
        }
        sends.into_iter().map(|(at, _)| at).collect()
    }

    #[test]
    fn at_twice_the_limit_it_sends_at_the_limit_with_no_violation() {
        let sends = offer(80, 160, 10, 5_000);
        // Everything offered is sent (nothing dropped), later.
        assert_eq!(sends.len(), 1_600);
        // The bulk (not the hot customers' tail, paced at one per 6 s) goes at the number's rate.
        let in_first_10s = sends.iter().filter(|&&t| t < 10_000).count();
        assert!(
            (780..=830).contains(&in_first_10s),
            "{in_first_10s} sent in the first 10 s at 80/s"
        );
    }

    #[test]
    fn a_number_moved_to_a_higher_tier_sends_at_it_and_keeps_customers_pacing() {
        let mut g = Governor::new(80);
        let hot = WaId::from("hot");
        for _ in 0..PAIR_BURST {
            g.recipient_slot(&hot, 0);
        }
        g.retier(1_000);
        assert_eq!(g.mps(), 1_000);
        assert!(
            g.recipient_slot(&hot, 0) >= 6_000,
            "the customer's pacing stays"
        );
        // A thousand sends in the first second, each within Meta's bucket at the new tier.
        let mut meta = TokenBucket::throughput(1_000, Duration::ZERO);
        let mut within_a_second = 0;
        for _ in 0..1_000 {
            let at = g.number_slot(0);
            assert!(
                meta.try_take(Duration::from_millis(at as u64)),
                "130429 at {at} ms"
            );
            within_a_second += usize::from(at < 1_000);
        }
        assert!(
            within_a_second >= 990,
            "{within_a_second} of 1,000 in the first second"
        );
    }

    #[test]
    fn a_paced_customer_does_not_hold_up_the_others() {
        let mut g = Governor::new(80);
        let hot = WaId::from("hot");
        for _ in 0..PAIR_BURST {
            g.recipient_slot(&hot, 0);
        }
        assert!(g.recipient_slot(&hot, 0) >= 6_000, "the hot customer waits");
        let other = g.recipient_slot(&WaId::from("other"), 0);
        assert_eq!(other, 0);
        assert!(g.number_slot(other) < 1_000, "the others do not");
    }

    #[test]
    fn throttling_backs_off_exponentially_and_recovers() {
        let mut g = Governor::new(80);
        assert_eq!(g.throttled(None, 0), 1_000);
        assert!(g.number_slot(0) >= 1_000);
        // More answers from requests already under way: the same hold, not a longer one.
        assert_eq!(g.throttled(None, 5), 1_000);
        assert_eq!(g.throttled(None, 999), 1_000);
        assert_eq!(g.throttled(None, 1_000), 3_000);
        g.accepted();
        assert_eq!(g.throttled(None, 10_000), 11_000);
        let hot = WaId::from("hot");
        let until = g.throttled(Some(&hot), 20_000);
        assert!(g.recipient_slot(&hot, 20_000) >= until);
    }

    #[test]
    fn a_refused_attempt_does_not_use_the_customers_pacing() {
        let mut g = Governor::new(80);
        let hot = WaId::from("hot");
        for _ in 0..PAIR_BURST {
            assert_eq!(g.recipient_slot(&hot, 0), 0);
            // Each first attempt is refused with 130429 and tried again.
            g.not_delivered(&hot);
            assert_eq!(g.recipient_slot(&hot, 0), 0);
        }
        assert!(g.recipient_slot(&hot, 0) >= 6_000, "then the pacing holds");
    }

    proptest! {
        /// Any rate from 1 to 1,000 per second, offered at up to three times the limit: no send
        /// would be refused by Meta's buckets.
        #[test]
        fn never_violates_meta_limits(mps in 1u32..1_000, factor in 1u32..3, recipients in 1usize..50) {
            let offered = (mps * factor).max(1);
            let seconds = (2_000 / offered as i64).clamp(1, 5);
            offer(mps, offered, seconds, recipients);
        }
    }
}
