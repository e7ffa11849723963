//! Reports over conversations: first response and resolution times as spreads (median, p90,
//! p99, σ), volumes in and out, grouped by agent, team, number, country or day, over the
//! episodes the inbox stores with each conversation (`EpisodeRecord`).
//!
//! Owns: reading a range's episodes through the scope, grouping them and computing the figures.
//! Must not: keep state (every report is computed from the store, so it survives restarts and
//! two servers agree), or count anything the episodes do not say.
//!
//! Episodes are read page by page and folded into per-group duration lists as they come: memory
//! grows with the number of episodes (8 bytes per measure), not with the rows read.

pub mod agents;

use std::collections::HashMap;
use std::ops::Range;

use switchboard_shared::reports::{
    ConversationReport, CsatComment, CsatReport, CsatRow, DurationReport, DurationRow, Durations,
    HistogramBucket, ReportClock, ReportGroup, ReportOverview, ReportRow, FIRST_RESPONSE_EDGES_MS,
};
use switchboard_shared::{PhoneNumberId, UserId};

use crate::auth::TenantScope;
use crate::domain::{day_bucket, instant, EpisodeRecord, SurveyState, TeamRecord, DAY_MS};
use crate::service::automation::TenantHours;
use crate::store::{Cursor, StoreResult, MAX_PAGE};

/// Which measure a duration report is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    FirstResponse,
    Resolution,
}

/// A day (days since the epoch) as `YYYY-MM-DD`.
pub fn day_text(day: i64) -> String {
    super::costs::utc_day(day * DAY_MS).to_string()
}

/// What groups are called, read once per report.
struct Names {
    users: HashMap<UserId, String>,
    teams: Vec<TeamRecord>,
    numbers: HashMap<PhoneNumberId, String>,
    /// Days as text, made once each (a mutex only for `Send`: one task uses it).
    days: std::sync::Mutex<HashMap<i64, String>>,
}

impl Names {
    async fn read(scope: &TenantScope, group_by: ReportGroup) -> StoreResult<Self> {
        let mut names = Self {
            users: HashMap::new(),
            teams: Vec::new(),
            numbers: HashMap::new(),
            days: Default::default(),
        };
        match group_by {
            ReportGroup::Agent => {
                let mut cursor = None;
                loop {
                    let page = scope.users(cursor.as_ref(), MAX_PAGE).await?;
                    names
                        .users
                        .extend(page.items.into_iter().map(|u| (u.id, u.name)));
                    match page.next {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
            }
            ReportGroup::Team => names.teams = scope.teams().await?,
            ReportGroup::Number => {
                names.numbers = scope
                    .numbers()
                    .await?
                    .into_iter()
                    .map(|n| (n.phone_number_id, n.display_phone_number))
                    .collect();
            }
            ReportGroup::Country | ReportGroup::Day => {}
        }
        Ok(names)
    }

    fn label(&self, group_by: ReportGroup, key: &str) -> Option<String> {
        match group_by {
            ReportGroup::Agent => self.users.get(&UserId::from(key)).cloned(),
            ReportGroup::Team => self
                .teams
                .iter()
                .find(|t| t.id.as_str() == key)
                .map(|t| t.name.clone()),
            ReportGroup::Number => self.numbers.get(&PhoneNumberId::from(key)).cloned(),
            ReportGroup::Country | ReportGroup::Day => None,
        }
    }

    /// Calls `f` with each group an episode counts in (`None`: no agent, no team, no known
    /// country); `agent` is the agent that measure belongs to. Borrows, never allocates: a
    /// report visits millions of episodes.
    fn each_key(
        &self,
        group_by: ReportGroup,
        e: &EpisodeRecord,
        agent: Option<&UserId>,
        mut f: impl FnMut(Option<&str>),
    ) {
        match group_by {
            ReportGroup::Agent => f(agent.map(UserId::as_str)),
            ReportGroup::Team => {
                let mut any = false;
                for t in self.teams.iter().filter(|t| t.numbers.contains(&e.number)) {
                    any = true;
                    f(Some(t.id.as_str()));
                }
                if !any {
                    f(None);
                }
            }
            ReportGroup::Number => f(Some(e.number.as_str())),
            ReportGroup::Country => f(e.country.as_deref()),
            ReportGroup::Day => {
                let day = day_bucket(e.opened_at);
                let mut days = self.days.lock().unwrap_or_else(|e| e.into_inner());
                let text = days.entry(day).or_insert_with(|| day_text(day));
                f(Some(text.as_str()));
            }
        }
    }
}

/// Per-group values by key, looked up by `&str` (a key is copied once, when its group is new).
struct Groups<T> {
    named: HashMap<String, T>,
    none: Option<T>,
}

impl<T: Default> Groups<T> {
    fn new() -> Self {
        Self {
            named: HashMap::new(),
            none: None,
        }
    }

    fn slot(&mut self, key: Option<&str>) -> &mut T {
        match key {
            None => self.none.get_or_insert_with(T::default),
            Some(k) => {
                if !self.named.contains_key(k) {
                    self.named.insert(k.to_owned(), T::default());
                }
                self.named.get_mut(k).expect("inserted above")
            }
        }
    }

    fn into_iter(self) -> impl Iterator<Item = (Option<String>, T)> {
        self.named
            .into_iter()
            .map(|(k, v)| (Some(k), v))
            .chain(self.none.map(|v| (None, v)))
    }
}

/// The agent an episode belongs to: who has it or had it last, else (a conversation answered
/// without being assigned) who answered it first.
fn handler(e: &EpisodeRecord) -> Option<&UserId> {
    e.agent.as_ref().or(e.first_responder.as_ref())
}

/// How an episode's durations are counted.
#[derive(Clone, Copy)]
enum Clock<'a> {
    Wall,
    /// Only while the number's schedule is open (all the time for a number without one).
    Business(&'a TenantHours),
}

impl Clock<'_> {
    /// The first response and the resolution, as this clock counts them.
    fn measures(&self, e: &EpisodeRecord) -> (Option<i64>, Option<i64>) {
        let Clock::Business(hours) = self else {
            return (e.first_response_ms(), e.resolution_ms());
        };
        let Some(entry) = hours.for_number(Some(&e.number)) else {
            return (e.first_response_ms(), e.resolution_ms());
        };
        let open = |end: Option<i64>| {
            let (from, to) = (instant(e.opened_at), instant(end?));
            Some(entry.hours.open_ms(from, to))
        };
        (open(e.first_response_at), open(e.resolved_at))
    }
}

/// One group's running figures.
#[derive(Default)]
struct Tally {
    conversations: u64,
    resolved: u64,
    unanswered: u64,
    messages_in: u64,
    messages_out: u64,
    first_response: Vec<i64>,
    resolution: Vec<i64>,
}

impl Tally {
    /// Everything but the first response (which may belong to another agent).
    fn count(&mut self, e: &EpisodeRecord, resolution_ms: Option<i64>) {
        self.conversations += 1;
        self.messages_in += u64::from(e.messages_in);
        self.messages_out += u64::from(e.messages_out);
        if let Some(ms) = resolution_ms {
            self.resolved += 1;
            self.resolution.push(ms);
        }
    }

    fn answer(&mut self, first_response_ms: Option<i64>) {
        match first_response_ms {
            Some(ms) => self.first_response.push(ms),
            None => self.unanswered += 1,
        }
    }

    fn row(mut self, key: Option<String>, label: Option<String>) -> ReportRow {
        ReportRow {
            key,
            label,
            conversations: self.conversations,
            resolved: self.resolved,
            unanswered: self.unanswered,
            messages_in: self.messages_in,
            messages_out: self.messages_out,
            first_response: Durations::of(&mut self.first_response),
            resolution: Durations::of(&mut self.resolution),
        }
    }
}

/// Folds episodes into groups.
struct Grouping<'a> {
    group_by: ReportGroup,
    clock: Clock<'a>,
    names: &'a Names,
    groups: Groups<Tally>,
    total: Tally,
}

impl Grouping<'_> {
    fn add(&mut self, e: &EpisodeRecord) {
        let (first, resolution) = self.clock.measures(e);
        self.total.count(e, resolution);
        self.total.answer(first);
        self.add_groups_only(e);
    }

    /// [`Grouping::add`] without the total (when another grouping keeps it).
    fn add_groups_only(&mut self, e: &EpisodeRecord) {
        let (first, resolution) = self.clock.measures(e);
        let groups = &mut self.groups;
        self.names.each_key(self.group_by, e, handler(e), |key| {
            groups.slot(key).count(e, resolution)
        });
        // By agent, a first response is the answering agent's (the conversation may have moved
        // on since); otherwise the episode's groups.
        let answerer = e.first_responder.as_ref().or(e.agent.as_ref());
        self.names.each_key(self.group_by, e, answerer, |key| {
            groups.slot(key).answer(first)
        });
    }

    fn report(self, days: &Range<i64>) -> ConversationReport {
        let (group_by, names) = (self.group_by, self.names);
        let mut groups: Vec<ReportRow> = self
            .groups
            .into_iter()
            .map(|(key, tally)| {
                let label = key.as_deref().and_then(|k| names.label(group_by, k));
                tally.row(key, label)
            })
            .collect();
        if group_by == ReportGroup::Day {
            groups.sort_by(|a, b| a.key.cmp(&b.key));
        } else {
            groups.sort_by(|a, b| {
                b.conversations
                    .cmp(&a.conversations)
                    .then_with(|| b.first_response.n.cmp(&a.first_response.n))
                    .then_with(|| a.key.cmp(&b.key))
            });
        }
        ConversationReport {
            group_by,
            clock: match self.clock {
                Clock::Wall => ReportClock::Wall,
                Clock::Business(_) => ReportClock::Business,
            },
            from: day_text(days.start),
            to: day_text(days.end),
            groups,
            total: self.total.row(None, None),
        }
    }
}

/// Every episode opened on `days`, a page at a time.
async fn each_episode(
    scope: &TenantScope,
    days: &Range<i64>,
    mut f: impl FnMut(&EpisodeRecord),
) -> StoreResult<()> {
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = scope
            .episodes(days.clone(), cursor.as_ref(), MAX_PAGE)
            .await?;
        page.items.iter().for_each(&mut f);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(()),
        }
    }
}

/// The report over the episodes opened on `days`, grouped; durations counted by `clock`
/// (business hours from `hours`, the tenant's schedules).
pub async fn conversations(
    scope: &TenantScope,
    group_by: ReportGroup,
    days: Range<i64>,
    hours: Option<&TenantHours>,
) -> StoreResult<ConversationReport> {
    let names = Names::read(scope, group_by).await?;
    let mut grouping = Grouping {
        group_by,
        clock: hours.map_or(Clock::Wall, Clock::Business),
        names: &names,
        groups: Groups::new(),
        total: Tally::default(),
    };
    each_episode(scope, &days, |e| grouping.add(e)).await?;
    Ok(grouping.report(&days))
}

/// The report page's figures in one pass: by day (every day of the range), team and country,
/// the first response histogram, and CSAT in total and by team.
pub async fn overview(scope: &TenantScope, days: Range<i64>) -> StoreResult<ReportOverview> {
    let names = Names::read(scope, ReportGroup::Team).await?;
    let grouping = |group_by| Grouping {
        group_by,
        clock: Clock::Wall,
        names: &names,
        groups: Groups::new(),
        total: Tally::default(),
    };
    let (mut by_day, mut by_team, mut by_country) = (
        grouping(ReportGroup::Day),
        grouping(ReportGroup::Team),
        grouping(ReportGroup::Country),
    );
    let mut histogram = [0u64; FIRST_RESPONSE_EDGES_MS.len() + 1];
    let (mut csat, mut csat_by_team) = (Scores::default(), Groups::<Scores>::new());
    let people = Names::read(scope, ReportGroup::Agent).await?;
    let mut agents = agents::Fold::new(ReportGroup::Agent, &people);
    agents.days(scope, &days).await?;
    each_episode(scope, &days, |e| {
        agents.episode(e);
        by_day.add(e);
        by_team.add_groups_only(e);
        by_country.add_groups_only(e);
        if let Some(ms) = e.first_response_ms() {
            let bucket = FIRST_RESPONSE_EDGES_MS.partition_point(|&edge| edge < ms);
            histogram[bucket] += 1;
        }
        if let Some(survey) = &e.survey {
            csat.add(e, survey);
            names.each_key(ReportGroup::Team, e, None, |key| {
                csat_by_team.slot(key).add(e, survey)
            });
        }
    })
    .await?;
    let mut day_rows = by_day.report(&days);
    // Every day of the range, so a chart's axis has no gaps.
    let mut seen: HashMap<Option<String>, ReportRow> = day_rows
        .groups
        .drain(..)
        .map(|r| (r.key.clone(), r))
        .collect();
    let every_day = days
        .clone()
        .map(|d| {
            let key = Some(day_text(d));
            seen.remove(&key).unwrap_or(ReportRow {
                key,
                ..ReportRow::default()
            })
        })
        .collect();
    let mut csat_rows: Vec<CsatRow> = csat_by_team
        .into_iter()
        .map(|(key, scores)| {
            let label = key
                .as_deref()
                .and_then(|k| names.label(ReportGroup::Team, k));
            scores.row(key, label)
        })
        .collect();
    csat_rows.sort_by(|a, b| b.n.cmp(&a.n).then_with(|| a.key.cmp(&b.key)));
    Ok(ReportOverview {
        from: day_rows.from,
        to: day_rows.to,
        total: day_rows.total,
        by_day: every_day,
        by_team: by_team.report(&days).groups,
        by_country: by_country.report(&days).groups,
        first_response_histogram: histogram
            .iter()
            .enumerate()
            .map(|(i, &count)| HistogramBucket {
                upto_ms: FIRST_RESPONSE_EDGES_MS.get(i).copied(),
                count,
            })
            .collect(),
        csat: csat.row(None, None),
        csat_by_team: csat_rows,
        agents: agents.report(&days).groups,
    })
}

/// The most comments a CSAT group lists.
const MAX_COMMENTS: usize = 20;

/// One group's survey answers.
#[derive(Default)]
struct Scores {
    sent: u64,
    scores: Vec<u8>,
    comments: Vec<CsatComment>,
}

impl Scores {
    fn add(&mut self, e: &EpisodeRecord, survey: &SurveyState) {
        self.sent += 1;
        let Some(score) = survey.score.filter(|s| (1..=5).contains(s)) else {
            return;
        };
        self.scores.push(score);
        if let Some(comment) = &survey.comment {
            self.comments.push(CsatComment {
                conversation_id: e.conversation.clone(),
                score,
                comment: comment.clone(),
                at: survey
                    .commented_at
                    .or(survey.answered_at)
                    .unwrap_or(e.opened_at),
            });
        }
    }

    fn row(mut self, key: Option<String>, label: Option<String>) -> CsatRow {
        let n = self.scores.len();
        let mut distribution = [0u64; 5];
        for &s in &self.scores {
            distribution[usize::from(s) - 1] += 1;
        }
        let mean =
            (n > 0).then(|| self.scores.iter().map(|&s| f64::from(s)).sum::<f64>() / n as f64);
        let stddev = mean.filter(|_| n > 1).map(|m| {
            let squares: f64 = self
                .scores
                .iter()
                .map(|&s| (f64::from(s) - m).powi(2))
                .sum();
            (squares / (n - 1) as f64).sqrt()
        });
        let ci95 = match (mean, stddev) {
            (Some(m), Some(s)) => {
                let half = t975(n - 1) * s / (n as f64).sqrt();
                Some([m - half, m + half])
            }
            _ => None,
        };
        self.comments.sort_by_key(|c| std::cmp::Reverse(c.at));
        self.comments.truncate(MAX_COMMENTS);
        CsatRow {
            key,
            label,
            sent: self.sent,
            n: n as u64,
            response_rate: (self.sent > 0).then(|| n as f64 / self.sent as f64),
            mean,
            stddev,
            ci95,
            distribution,
            comments: self.comments,
        }
    }
}

/// Student's t at 97.5% with `freedom` degrees of freedom (the two-sided 95% interval's).
fn t975(freedom: usize) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    StudentsT::new(0.0, 1.0, freedom as f64)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::NAN)
}

/// CSAT over the surveys of the episodes opened on `days`, grouped (by agent: who had the
/// conversation when it was resolved, see [`handler`]).
pub async fn csat(
    scope: &TenantScope,
    group_by: ReportGroup,
    days: Range<i64>,
) -> StoreResult<CsatReport> {
    let names = Names::read(scope, group_by).await?;
    let mut groups: Groups<Scores> = Groups::new();
    let mut total = Scores::default();
    each_episode(scope, &days, |e| {
        let Some(survey) = &e.survey else { return };
        total.add(e, survey);
        names.each_key(group_by, e, handler(e), |key| {
            groups.slot(key).add(e, survey)
        });
    })
    .await?;
    let mut rows: Vec<CsatRow> = groups
        .into_iter()
        .map(|(key, scores)| {
            let label = key.as_deref().and_then(|k| names.label(group_by, k));
            scores.row(key, label)
        })
        .collect();
    if group_by == ReportGroup::Day {
        rows.sort_by(|a, b| a.key.cmp(&b.key));
    } else {
        rows.sort_by(|a, b| b.n.cmp(&a.n).then_with(|| a.key.cmp(&b.key)));
    }
    Ok(CsatReport {
        group_by,
        from: day_text(days.start),
        to: day_text(days.end),
        groups: rows,
        total: total.row(None, None),
    })
}

/// One measure of [`conversations`], flat per group.
pub fn measure(report: ConversationReport, measure: Measure) -> DurationReport {
    let row = |r: ReportRow| {
        let (durations, pending) = match measure {
            Measure::FirstResponse => (r.first_response, r.unanswered),
            Measure::Resolution => (r.resolution, r.conversations - r.resolved),
        };
        DurationRow {
            key: r.key,
            label: r.label,
            durations,
            pending,
        }
    };
    DurationReport {
        group_by: report.group_by,
        clock: report.clock,
        from: report.from,
        to: report.to,
        groups: report
            .groups
            .into_iter()
            .map(row)
            .filter(|g| g.durations.n + g.pending > 0)
            .collect(),
        total: row(report.total),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_shared::{ConversationId, TeamId, TenantId};

    const T0: i64 = 20_000 * DAY_MS;

    fn episode(i: u32, agent: &str, frt: Option<i64>, resolved: Option<i64>) -> EpisodeRecord {
        EpisodeRecord {
            tenant: TenantId::from("t"),
            conversation: ConversationId::new(format!("c{i}")),
            opened_at: T0 + i64::from(i),
            number: PhoneNumberId::from(if i.is_multiple_of(2) { "n1" } else { "n2" }),
            country: Some(if i.is_multiple_of(3) { "RU" } else { "US" }.into()),
            agent: Some(UserId::from(agent)),
            first_response_at: frt.map(|ms| T0 + i64::from(i) + ms),
            first_responder: frt.map(|_| UserId::from(agent)),
            resolved_at: resolved.map(|ms| T0 + i64::from(i) + ms),
            messages_in: 2,
            messages_out: 1,
            survey: None,
        }
    }

    fn names() -> Names {
        let team = |id: &str, numbers: &[&str]| TeamRecord {
            tenant: TenantId::from("t"),
            id: TeamId::from(id),
            name: format!("Team {id}"),
            members: vec![],
            numbers: numbers.iter().map(|n| PhoneNumberId::from(*n)).collect(),
            created_at: 0,
        };
        Names {
            users: [(UserId::from("u_a"), "Ada".to_owned())].into(),
            teams: vec![team("t_all", &["n1", "n2"]), team("t_one", &["n1"])],
            numbers: HashMap::new(),
            days: Default::default(),
        }
    }

    fn run(group_by: ReportGroup, episodes: &[EpisodeRecord]) -> ConversationReport {
        let names = names();
        let mut g = Grouping {
            group_by,
            clock: Clock::Wall,
            names: &names,
            groups: Groups::new(),
            total: Tally::default(),
        };
        for e in episodes {
            g.add(e);
        }
        g.report(&(0..2))
    }

    #[test]
    fn groups_hold_exact_spreads_and_teams_share_numbers() {
        let episodes = [
            episode(0, "u_a", Some(1_000), Some(10_000)),
            episode(1, "u_a", Some(3_000), None),
            episode(2, "u_b", Some(2_000), Some(20_000)),
            episode(3, "u_b", None, None),
            episode(4, "u_a", Some(9_000), None),
        ];
        let by_agent = run(ReportGroup::Agent, &episodes);
        let ada = &by_agent.groups[0];
        assert_eq!(ada.key.as_deref(), Some("u_a"));
        assert_eq!(ada.label.as_deref(), Some("Ada"));
        assert_eq!((ada.conversations, ada.resolved, ada.unanswered), (3, 1, 0));
        assert_eq!(ada.first_response.median_ms, Some(3_000.0));
        assert_eq!((ada.messages_in, ada.messages_out), (6, 3));
        let b = &by_agent.groups[1];
        assert_eq!((b.first_response.n, b.unanswered), (1, 1));
        assert_eq!(by_agent.total.first_response.n, 4);
        assert_eq!(by_agent.total.first_response.median_ms, Some(2_500.0));
        assert_eq!(by_agent.total.resolution.median_ms, Some(15_000.0));

        // n1 carries episodes 0, 2, 4 and is in both teams; n2 only in t_all.
        let by_team = run(ReportGroup::Team, &episodes);
        let count = |key: &str| {
            by_team
                .groups
                .iter()
                .find(|g| g.key.as_deref() == Some(key))
                .map(|g| g.conversations)
        };
        assert_eq!((count("t_all"), count("t_one")), (Some(5), Some(3)));
        assert_eq!(by_team.total.conversations, 5, "the total counts once");

        let by_country = run(ReportGroup::Country, &episodes);
        assert_eq!(by_country.groups[0].key.as_deref(), Some("US"));
        assert_eq!(by_country.groups[1].conversations, 2);
    }

    #[test]
    fn csat_reports_the_spread_and_a_t_interval() {
        let mut scores = Scores::default();
        let e = episode(0, "u_a", None, Some(1));
        for (i, score) in [Some(5), Some(4), Some(4), Some(2), None]
            .into_iter()
            .enumerate()
        {
            let state = SurveyState {
                score,
                answered_at: Some(i as i64),
                comment: (score == Some(2)).then(|| "Too slow".to_owned()),
                ..SurveyState::sent(0, "en".into())
            };
            scores.add(&e, &state);
        }
        let row = scores.row(None, None);
        assert_eq!((row.sent, row.n), (5, 4));
        assert_eq!(row.response_rate, Some(0.8));
        assert_eq!(row.mean, Some(3.75));
        assert_eq!(row.distribution, [0, 1, 0, 2, 1]);
        // Σ(x − 3.75)² = 1.5625 + 0.0625 + 0.0625 + 3.0625 = 4.75; s = √(4.75 / 3).
        let s = (4.75f64 / 3.0).sqrt();
        assert!((row.stddev.unwrap() - s).abs() < 1e-12);
        // t(0.975, 3) = 3.182446305284263 (scipy.stats.t.ppf).
        let half = 3.182446305284263 * s / 2.0;
        let [lo, hi] = row.ci95.unwrap();
        assert!((lo - (3.75 - half)).abs() < 1e-9 && (hi - (3.75 + half)).abs() < 1e-9);
        assert_eq!(row.comments.len(), 1);
        assert_eq!(row.comments[0].score, 2);
        let none = Scores::default().row(None, None);
        assert_eq!(
            (none.mean, none.ci95, none.response_rate),
            (None, None, None)
        );
    }

    #[test]
    fn the_answering_agent_owns_the_first_response() {
        // Ada answered, then Bo took it over and resolved it.
        let mut e = episode(0, "u_b", Some(4_000), Some(8_000));
        e.first_responder = Some(UserId::from("u_a"));
        let r = run(ReportGroup::Agent, &[e]);
        let row = |key: &str| r.groups.iter().find(|g| g.key.as_deref() == Some(key));
        assert_eq!(row("u_a").unwrap().first_response.n, 1);
        assert_eq!(row("u_a").unwrap().conversations, 0);
        assert_eq!(row("u_b").unwrap().first_response.n, 0);
        assert_eq!(row("u_b").unwrap().resolution.n, 1);
        let flat = measure(r, Measure::FirstResponse);
        assert_eq!(
            flat.groups.len(),
            1,
            "a group without the measure is left out"
        );
        assert_eq!(flat.groups[0].durations.median_ms, Some(4_000.0));
    }
}
