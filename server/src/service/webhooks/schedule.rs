//! When a delivery is tried again, and when an endpoint has failed long enough to be turned
//! off: pure decisions, the clock and the randomness passed in.

use crate::domain::UnixMillis;

const DAY_MS: i64 = 86_400_000;

/// When the next attempt is due after `made` scheduled attempts failed (the first made at
/// once): the `made`-th delay, varied by `jitter` (−1..=1) times 20%; `None` when the delays
/// are spent and the delivery has failed for good.
pub fn next_attempt(
    delays_secs: &[u64],
    made: usize,
    now: UnixMillis,
    jitter: f64,
) -> Option<UnixMillis> {
    let delay_ms = *delays_secs.get(made.checked_sub(1)?)? as f64 * 1000.0;
    let varied = delay_ms * (1.0 + 0.2 * jitter.clamp(-1.0, 1.0));
    Some(now + varied.max(1.0) as i64)
}

/// Whether an endpoint whose attempts all failed since `failing_since` is turned off now.
pub fn disable_due(failing_since: Option<UnixMillis>, now: UnixMillis, after_days: u32) -> bool {
    failing_since.is_some_and(|since| now - since >= i64::from(after_days) * DAY_MS)
}

/// Whether an answer counts as delivered.
pub fn delivered(status: u16) -> bool {
    (200..300).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: [u64; 7] = [5, 300, 1800, 7200, 18000, 36000, 36000];

    #[test]
    fn eight_attempts_over_about_a_day() {
        let mut at = 0;
        let mut made = 1; // the first, at once
        while let Some(next) = next_attempt(&DEFAULT, made, at, 0.0) {
            at = next;
            made += 1;
        }
        assert_eq!(made, 8);
        let hours = at as f64 / 3_600_000.0;
        assert!((27.0..28.0).contains(&hours), "{hours} h");
    }

    #[test]
    fn jitter_varies_a_delay_by_a_fifth_at_most() {
        let low = next_attempt(&DEFAULT, 2, 0, -1.0).unwrap();
        let high = next_attempt(&DEFAULT, 2, 0, 1.0).unwrap();
        assert_eq!((low, high), (240_000, 360_000));
        assert_eq!(next_attempt(&DEFAULT, 2, 0, 7.0), Some(360_000));
        assert_eq!(next_attempt(&DEFAULT, 0, 0, 0.0), None);
    }

    #[test]
    fn an_endpoint_is_turned_off_after_days_of_failures_only() {
        assert!(!disable_due(None, 100 * DAY_MS, 5));
        assert!(!disable_due(Some(DAY_MS), 6 * DAY_MS - 1, 5));
        assert!(disable_due(Some(DAY_MS), 6 * DAY_MS, 5));
    }

    #[test]
    fn only_2xx_is_delivered() {
        assert!(delivered(200) && delivered(204) && delivered(299));
        assert!(!delivered(301) && !delivered(199) && !delivered(410) && !delivered(500));
    }
}
