//! The supervisor board's figures for one tenant, kept by the inbox task as events pass: first
//! response times today, resolutions in the last hour, the queue, customers at risk of waiting
//! past the deadline, and each agent's load. Pure bookkeeping with the clock passed in.
//!
//! The figures live in memory: a restart starts today's response times afresh (the messages
//! themselves are stored; reports over history are a separate, stored computation).

use std::collections::{HashSet, VecDeque};

use switchboard_shared::protocol::{AgentLoad, AtRisk, BoardStats};
use switchboard_shared::ConversationId;

use crate::domain::{day_bucket, ThreadRecord};
use crate::routing::Engine;

const HOUR_MS: i64 = 3_600_000;
/// Response times kept per day (a busy tenant's day fits; beyond it, the oldest go).
const MAX_SAMPLES: usize = 200_000;
const MAX_AT_RISK: usize = 50;

#[derive(Debug, Default)]
pub struct Figures {
    day: i64,
    first_responses: Vec<i64>,
    resolved: VecDeque<i64>,
    /// Conversations whose current episode has had its first response.
    answered: HashSet<ConversationId>,
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

    /// The business replied; the first reply of an episode is its first response.
    pub fn replied(&mut self, conversation: &ConversationId, waiting_since: Option<i64>, now: i64) {
        self.roll(now);
        if let Some(since) = waiting_since {
            if self.answered.insert(conversation.clone()) {
                if self.first_responses.len() == MAX_SAMPLES {
                    self.first_responses.remove(0);
                }
                self.first_responses.push((now - since).max(0));
            }
        }
    }

    /// A new episode began (a new or reopened conversation).
    pub fn opened(&mut self, conversation: &ConversationId) {
        self.answered.remove(conversation);
    }

    pub fn resolved(&mut self, conversation: &ConversationId, now: i64) {
        self.roll(now);
        self.answered.remove(conversation);
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
        let mut sorted = self.first_responses.clone();
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
    use switchboard_shared::{PhoneNumberId, TenantId, UserId, WaId};

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
    fn first_responses_count_once_per_episode_and_reset_daily() {
        let day = 86_400_000 * 20_000;
        let mut f = Figures::default();
        let e = Engine::new(Strategy::LeastLoad);
        f.replied(&c(1), Some(day), day + 30_000);
        f.replied(&c(1), Some(day), day + 90_000); // a second reply: not a first response
        f.replied(&c(2), Some(day), day + 10_000);
        f.replied(&c(3), None, day + 10_000); // nobody was waiting
        let s = f.stats(day + 100_000, 120_000, &e, std::iter::empty());
        assert_eq!(s.first_responses_today, 2);
        assert_eq!(s.first_response_median_ms, Some(10_000));
        assert_eq!(s.first_response_p90_ms, Some(30_000));
        f.opened(&c(1));
        f.replied(&c(1), Some(day + 200_000), day + 260_000);
        assert_eq!(
            f.stats(day + 300_000, 120_000, &e, std::iter::empty())
                .first_responses_today,
            3
        );
        let tomorrow = f.stats(day + 86_400_000, 120_000, &e, std::iter::empty());
        assert_eq!(tomorrow.first_responses_today, 0);
    }

    #[test]
    fn resolutions_age_out_after_an_hour_and_risk_follows_the_deadline() {
        let mut f = Figures::default();
        let e = Engine::new(Strategy::LeastLoad);
        f.resolved(&c(1), 0);
        f.resolved(&c(2), 1_000_000);
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
