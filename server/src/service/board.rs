//! The supervisor board's figures for one tenant, kept by the inbox task as events pass: first
//! response times today, resolutions in the last hour, the queue, customers at risk of waiting
//! past the deadline, and each agent's load; the same per team, over the team's numbers. Pure
//! bookkeeping with the clock passed in.
//!
//! The figures live in memory and are read back from the stored episodes at a start
//! ([`Figures::restore`]), so a restart does not reset the day.

use std::collections::{HashMap, VecDeque};

use switchboard_shared::protocol::{AgentLoad, AtRisk, BoardStats, TeamBoard};
use switchboard_shared::{ConversationId, PhoneNumberId};

use crate::domain::{day_bucket, EpisodeRecord, TeamRecord, ThreadRecord};
use crate::routing::Engine;

const HOUR_MS: i64 = 3_600_000;
/// Response times kept per day (a busy tenant's day fits; beyond it, the oldest go).
const MAX_SAMPLES: usize = 200_000;
const MAX_AT_RISK: usize = 50;

/// A measure and the number whose conversation it was (an index into [`Figures::numbers`]:
/// the samples of a busy day do not each hold a copy of the id).
type Sample = (u32, i64);

#[derive(Debug, Default)]
pub struct Figures {
    day: i64,
    /// Today's first response times.
    first_responses: VecDeque<Sample>,
    /// When conversations were resolved, the last hour's.
    resolved: VecDeque<Sample>,
    /// The numbers samples name.
    numbers: Vec<PhoneNumberId>,
}

/// The nearest-rank percentile of sorted values.
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// Sorted first response times of the samples `keep` accepts.
fn sorted(samples: &VecDeque<Sample>, keep: impl Fn(u32) -> bool) -> Vec<i64> {
    let mut values: Vec<i64> = samples
        .iter()
        .filter(|(n, _)| keep(*n))
        .map(|(_, v)| *v)
        .collect();
    values.sort_unstable();
    values
}

impl Figures {
    fn roll(&mut self, now: i64) {
        let day = day_bucket(now);
        if day != self.day {
            self.day = day;
            self.first_responses.clear();
        }
        while self
            .resolved
            .front()
            .is_some_and(|&(_, t)| now - t > HOUR_MS)
        {
            self.resolved.pop_front();
        }
    }

    fn number(&mut self, number: &PhoneNumberId) -> u32 {
        match self.numbers.iter().position(|n| n == number) {
            Some(i) => i as u32,
            None => {
                self.numbers.push(number.clone());
                (self.numbers.len() - 1) as u32
            }
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
            let number = f.number(&e.number);
            if let (Some(at), Some(ms)) = (e.first_response_at, e.first_response_ms()) {
                if day_bucket(at) == f.day && at <= now {
                    answered.push((at, number, ms));
                }
            }
            if let Some(at) = e.resolved_at.filter(|&at| at <= now && now - at <= HOUR_MS) {
                resolved.push((at, number));
            }
        }
        answered.sort_unstable();
        resolved.sort_unstable();
        let skip = answered.len().saturating_sub(MAX_SAMPLES);
        f.first_responses = answered
            .into_iter()
            .skip(skip)
            .map(|(_, n, ms)| (n, ms))
            .collect();
        f.resolved = resolved.into_iter().map(|(at, n)| (n, at)).collect();
        f
    }

    /// An episode's first response on `number`, `ms` after it opened.
    pub fn responded(&mut self, number: &PhoneNumberId, ms: i64, now: i64) {
        self.roll(now);
        if self.first_responses.len() == MAX_SAMPLES {
            self.first_responses.pop_front();
        }
        let number = self.number(number);
        self.first_responses.push_back((number, ms.max(0)));
    }

    pub fn resolved(&mut self, number: &PhoneNumberId, now: i64) {
        self.roll(now);
        let number = self.number(number);
        self.resolved.push_back((number, now));
    }

    /// The board now: the tenant's figures, and each team's over its numbers.
    pub fn stats(
        &mut self,
        now: i64,
        sla_ms: i64,
        engine: &Engine,
        open: &HashMap<ConversationId, ThreadRecord>,
        teams: &[TeamRecord],
    ) -> BoardStats {
        self.roll(now);
        let all = sorted(&self.first_responses, |_| true);
        let waiting = engine.waiting(now);
        let mut at_risk: Vec<(AtRisk, &PhoneNumberId)> = open
            .values()
            .filter_map(|t| {
                let since = t.waiting_since?;
                (now - since >= sla_ms / 2).then(|| {
                    let risk = AtRisk {
                        conversation: t.conversation.clone(),
                        assignee: t.assignee.clone(),
                        waiting_since: since,
                        breached: now - since > sla_ms,
                    };
                    (risk, &t.number)
                })
            })
            .collect();
        at_risk.sort_by(|(a, _), (b, _)| {
            (a.waiting_since, a.conversation.as_str())
                .cmp(&(b.waiting_since, b.conversation.as_str()))
        });
        at_risk.truncate(MAX_AT_RISK);
        let loads: Vec<AgentLoad> = engine
            .loads()
            .into_iter()
            .map(|(user, active, capacity)| AgentLoad {
                user,
                active: active as u32,
                capacity,
            })
            .collect();
        let teams = teams
            .iter()
            .map(|team| {
                let ours = |n: u32| team.numbers.contains(&self.numbers[n as usize]);
                let values = sorted(&self.first_responses, ours);
                let queued: Vec<i64> = waiting
                    .iter()
                    .filter(|w| {
                        open.get(&w.conversation)
                            .is_some_and(|t| team.numbers.contains(&t.number))
                    })
                    .map(|w| w.waited_ms)
                    .collect();
                TeamBoard {
                    team: team.id.clone(),
                    name: team.name.clone(),
                    members: team.members.clone(),
                    board: BoardStats {
                        queue_depth: queued.len() as u32,
                        oldest_queued_since: queued.iter().max().map(|waited| now - waited),
                        first_responses_today: values.len() as u32,
                        first_response_median_ms: percentile(&values, 50),
                        first_response_p90_ms: percentile(&values, 90),
                        resolved_last_hour: self.resolved.iter().filter(|(n, _)| ours(*n)).count()
                            as u32,
                        sla_ms,
                        at_risk: at_risk
                            .iter()
                            .filter(|(_, number)| team.numbers.contains(number))
                            .map(|(r, _)| r.clone())
                            .collect(),
                        agents: loads
                            .iter()
                            .filter(|l| team.members.contains(&l.user))
                            .cloned()
                            .collect(),
                        teams: Vec::new(),
                    },
                }
            })
            .collect();
        BoardStats {
            queue_depth: waiting.len() as u32,
            oldest_queued_since: waiting.first().map(|w| now - w.waited_ms),
            first_responses_today: all.len() as u32,
            first_response_median_ms: percentile(&all, 50),
            first_response_p90_ms: percentile(&all, 90),
            resolved_last_hour: self.resolved.len() as u32,
            sla_ms,
            at_risk: at_risk.into_iter().map(|(r, _)| r).collect(),
            agents: loads,
            teams,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ThreadState;
    use crate::routing::Strategy;
    use switchboard_shared::{TeamId, TenantId, UserId, WaId};

    fn n1() -> PhoneNumberId {
        PhoneNumberId::from("1")
    }

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
        f.responded(&n1(), 30_000, day + 30_000);
        f.responded(&n1(), 10_000, day + 10_000);
        let s = f.stats(day + 100_000, 120_000, &e, &HashMap::new(), &[]);
        assert_eq!(s.first_responses_today, 2);
        assert_eq!(s.first_response_median_ms, Some(10_000));
        assert_eq!(s.first_response_p90_ms, Some(30_000));
        let tomorrow = f.stats(day + 86_400_000, 120_000, &e, &HashMap::new(), &[]);
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
            &HashMap::new(),
            &[],
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
        f.resolved(&n1(), 0);
        f.resolved(&n1(), 1_000_000);
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
        let open: HashMap<ConversationId, ThreadRecord> = [
            thread(3, Some(3_600_000)),
            thread(4, Some(3_500_000)),
            thread(5, None),
            thread(6, Some(3_650_000)),
        ]
        .into_iter()
        .map(|t| (t.conversation.clone(), t))
        .collect();
        let s = f.stats(3_700_000, 120_000, &e, &open, &[]);
        assert_eq!(s.resolved_last_hour, 1);
        let risk: Vec<(&str, bool)> = s
            .at_risk
            .iter()
            .map(|r| (r.conversation.as_str(), r.breached))
            .collect();
        assert_eq!(risk, vec![("c4", true), ("c3", false)]);
    }

    #[test]
    fn each_team_sees_the_figures_of_its_numbers() {
        let day = 86_400_000 * 20_000;
        let now = day + 5 * HOUR_MS;
        let (sales, support) = (PhoneNumberId::from("10"), PhoneNumberId::from("20"));
        let mut f = Figures::default();
        f.responded(&sales, 10_000, now - 3_000);
        f.responded(&sales, 30_000, now - 2_000);
        f.responded(&support, 90_000, now - 1_000);
        f.resolved(&support, now - 60_000);
        let team = |id: &str, numbers: Vec<PhoneNumberId>| TeamRecord {
            tenant: TenantId::from("t"),
            id: TeamId::from(id),
            name: id.to_uppercase(),
            members: vec![UserId::from(format!("u_{id}"))],
            numbers,
            created_at: 0,
        };
        let teams = [
            team("sales", vec![sales.clone()]),
            team("support", vec![support.clone()]),
            team("both", vec![sales.clone(), support.clone()]),
        ];
        let thread = |i: u32, number: &PhoneNumberId, since: i64| ThreadRecord {
            tenant: TenantId::from("t"),
            conversation: c(i),
            number: number.clone(),
            customer: WaId::from("2"),
            state: ThreadState::Queued,
            assignee: None,
            last_agent: None,
            tags: vec![],
            waiting_since: Some(since),
            last_inbound_at: Some(since),
            last_inbound_wamid: None,
            opened_at: since,
            updated_at: since,
            episode: Default::default(),
        };
        let mut e = Engine::new(Strategy::LeastLoad);
        let open: HashMap<ConversationId, ThreadRecord> = [
            thread(1, &sales, now - 100_000),
            thread(2, &support, now - 10_000),
        ]
        .into_iter()
        .map(|t| (t.conversation.clone(), t))
        .collect();
        for t in open.values() {
            e.restore(
                crate::routing::Ticket {
                    conversation: t.conversation.clone(),
                    pool: None,
                    skills: Default::default(),
                    sticky: None,
                    since_ms: t.opened_at,
                    strategy: None,
                },
                None,
                false,
                now,
            );
        }
        let s = f.stats(now, 120_000, &e, &open, &teams);
        assert_eq!(s.first_responses_today, 3);
        assert_eq!(s.queue_depth, 2);
        let of = |id: &str| s.teams.iter().find(|t| t.team.as_str() == id).unwrap();
        assert_eq!(of("sales").name, "SALES");
        assert_eq!(of("sales").members, vec![UserId::from("u_sales")]);
        let of = |id: &str| &of(id).board;
        let sales_board = of("sales");
        assert_eq!(
            (
                sales_board.first_responses_today,
                sales_board.first_response_median_ms,
                sales_board.first_response_p90_ms
            ),
            (2, Some(10_000), Some(30_000))
        );
        assert_eq!(sales_board.resolved_last_hour, 0);
        assert_eq!(sales_board.queue_depth, 1);
        assert_eq!(sales_board.oldest_queued_since, Some(now - 100_000));
        let risk: Vec<&ConversationId> = sales_board
            .at_risk
            .iter()
            .map(|r| &r.conversation)
            .collect();
        assert_eq!(risk, vec![&c(1)], "waited past half the deadline");
        assert!(sales_board.teams.is_empty());
        let support_board = of("support");
        assert_eq!(
            (
                support_board.first_responses_today,
                support_board.resolved_last_hour,
                support_board.queue_depth
            ),
            (1, 1, 1)
        );
        assert!(support_board.at_risk.is_empty());
        let both = of("both");
        assert_eq!((both.first_responses_today, both.queue_depth), (3, 2));
    }
}
