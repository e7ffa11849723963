//! The supervisor board's figures for one tenant, kept by the inbox task as events pass: first
//! response times today, resolutions in the last hour, the queue, customers at risk of waiting
//! past the deadline, and each agent's load. Pure bookkeeping with the clock passed in.
//!
//! The figures live in memory and are read back from the stored episodes at a start
//! ([`Figures::restore`]), so a restart does not reset the day.

use std::collections::VecDeque;

use switchboard_shared::protocol::{AgentLoad, AtRisk, BoardStats};

use crate::domain::{day_bucket, EpisodeRecord, ThreadRecord};
use crate::routing::Engine;

const HOUR_MS: i64 = 3_600_000;
/// Response times kept per day (a busy tenant's day fits; beyond it, the oldest go).
const MAX_SAMPLES: usize = 200_000;
const MAX_AT_RISK: usize = 50;

#[derive(Debug, Default)]
pub struct Figures {
    day: i64,
    /// Today's first response times.
    first_responses: VecDeque<i64>,
    /// When conversations were resolved, the last hour's.
    resolved: VecDeque<i64>,
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

impl Figures {
    fn roll(&mut self, now: i64) {
        let day = day_bucket(now);
        if day != self.day {
            self.day = day;
            self.first_responses.clear();
        }
        while self.resolved.front().is_some_and(|&t| now - t > HOUR_MS) {
            self.resolved.pop_front();
        }
    }

    /// Today's figures from the stored episodes opened yesterday or today (an episode answered
    /// today may have opened yesterday), in any order.
    pub fn restore<'a>(episodes: impl IntoIterator<Item = &'a EpisodeRecord>, now: i64) -> Self {
        let mut f = Self::default();
        f.roll(now);
        let mut answered = Vec::new();
        let mut resolved = Vec::new();
        for e in episodes {
            if let (Some(at), Some(ms)) = (e.first_response_at, e.first_response_ms()) {
                if day_bucket(at) == f.day && at <= now {
                    answered.push((at, ms));
                }
            }
            if let Some(at) = e.resolved_at.filter(|&at| at <= now && now - at <= HOUR_MS) {
                resolved.push(at);
            }
        }
        answered.sort_unstable();
        resolved.sort_unstable();
        let skip = answered.len().saturating_sub(MAX_SAMPLES);
        f.first_responses = answered.into_iter().skip(skip).map(|(_, ms)| ms).collect();
        f.resolved = resolved.into();
        f
    }

    /// An episode's first response, `ms` after it opened.
    pub fn responded(&mut self, ms: i64, now: i64) {
        self.roll(now);
        if self.first_responses.len() == MAX_SAMPLES {
            self.first_responses.pop_front();
        }
        self.first_responses.push_back(ms.max(0));
    }

    pub fn resolved(&mut self, now: i64) {
        self.roll(now);
        self.resolved.push_back(now);
    }

    pub fn stats<'a>(
        &mut self,
        now: i64,
        sla_ms: i64,
        engine: &Engine,
        open: impl Iterator<Item = &'a ThreadRecord>,
    ) -> BoardStats {
        self.roll(now);
        let mut sorted: Vec<i64> = self.first_responses.iter().copied().collect();
        sorted.sort_unstable();
        let waiting = engine.waiting(now);
        let mut at_risk: Vec<AtRisk> = open
            .filter_map(|t| {
                let since = t.waiting_since?;
                (now - since >= sla_ms / 2).then(|| AtRisk {
                    conversation: t.conversation.clone(),
                    assignee: t.assignee.clone(),
                    waiting_since: since,
                    breached: now - since > sla_ms,
                })
            })
            .collect();
        at_risk.sort_by(|a, b| {
            (a.waiting_since, a.conversation.as_str())
                .cmp(&(b.waiting_since, b.conversation.as_str()))
        });
        at_risk.truncate(MAX_AT_RISK);
        BoardStats {
            queue_depth: waiting.len() as u32,
            oldest_queued_since: waiting.first().map(|w| now - w.waited_ms),
            first_responses_today: sorted.len() as u32,
            first_response_median_ms: percentile(&sorted, 50),
            first_response_p90_ms: percentile(&sorted, 90),
            resolved_last_hour: self.resolved.len() as u32,
            sla_ms,
            at_risk,
            agents: engine
                .loads()
                .into_iter()
                .map(|(user, active, capacity)| AgentLoad {
                    user,
                    active: active as u32,
                    capacity,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ThreadState;
    use crate::routing::Strategy;
    use switchboard_shared::{ConversationId, PhoneNumberId, TenantId, UserId, WaId};

    fn c(i: u32) -> ConversationId {
        ConversationId::new(format!("c{i}"))
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn first_responses_reset_daily() {
        let day = 86_400_000 * 20_000;
        let mut f = Figures::default();
        let e = Engine::new(Strategy::LeastLoad);
        f.responded(30_000, day + 30_000);
        f.responded(10_000, day + 10_000);
        let s = f.stats(day + 100_000, 120_000, &e, std::iter::empty());
        assert_eq!(s.first_responses_today, 2);
        assert_eq!(s.first_response_median_ms, Some(10_000));
        assert_eq!(s.first_response_p90_ms, Some(30_000));
        let tomorrow = f.stats(day + 86_400_000, 120_000, &e, std::iter::empty());
        assert_eq!(tomorrow.first_responses_today, 0);
    }

    #[test]
    fn a_restart_reads_today_back_from_the_episodes() {
        let day = 86_400_000 * 20_000;
        let now = day + 5 * HOUR_MS;
        let episode =
            |i: u32, opened: i64, answered: Option<i64>, resolved: Option<i64>| EpisodeRecord {
                tenant: TenantId::from("t"),
                conversation: c(i),
                opened_at: opened,
                number: PhoneNumberId::from("1"),
                country: None,
                agent: None,
                first_response_at: answered,
                first_responder: None,
                resolved_at: resolved,
                messages_in: 1,
                messages_out: 1,
                survey: None,
            };
        let stored = [
            // Opened yesterday, answered today: today's.
            episode(1, day - 60_000, Some(day + 60_000), None),
            // Answered yesterday: not today's.
            episode(
                2,
                day - 90_000,
                Some(day - 30_000),
                Some(day + 4 * HOUR_MS - 1),
            ),
            episode(
                3,
                day + HOUR_MS,
                Some(day + HOUR_MS + 5_000),
                Some(now - 60_000),
            ),
            // Never answered.
            episode(4, day + HOUR_MS, None, None),
        ];
        let mut f = Figures::restore(&stored, now);
        let s = f.stats(
            now,
            120_000,
            &Engine::new(Strategy::LeastLoad),
            std::iter::empty(),
        );
        assert_eq!(s.first_responses_today, 2);
        assert_eq!(s.first_response_median_ms, Some(5_000));
        assert_eq!(s.first_response_p90_ms, Some(120_000));
        // Episode 2's resolution was an hour ago, episode 3's a minute ago.
        assert_eq!(s.resolved_last_hour, 1);
    }

    #[test]
    fn resolutions_age_out_after_an_hour_and_risk_follows_the_deadline() {
        let mut f = Figures::default();
        let e = Engine::new(Strategy::LeastLoad);
        f.resolved(0);
        f.resolved(1_000_000);
        let thread = |i: u32, since: Option<i64>| ThreadRecord {
            tenant: TenantId::from("t"),
            conversation: c(i),
            number: PhoneNumberId::from("1"),
            customer: WaId::from("2"),
            state: ThreadState::Assigned,
            assignee: Some(UserId::from("u")),
            last_agent: None,
            tags: vec![],
            waiting_since: since,
            last_inbound_at: since,
            last_inbound_wamid: None,
            opened_at: 0,
            updated_at: 0,
            episode: Default::default(),
        };
        let open = [
            thread(3, Some(3_600_000)),
            thread(4, Some(3_500_000)),
            thread(5, None),
            thread(6, Some(3_650_000)),
        ];
        let s = f.stats(3_700_000, 120_000, &e, open.iter());
        assert_eq!(s.resolved_last_hour, 1);
        let risk: Vec<(&str, bool)> = s
            .at_risk
            .iter()
            .map(|r| (r.conversation.as_str(), r.breached))
            .collect();
        assert_eq!(risk, vec![("c4", true), ("c3", false)]);
    }
}
