//! The agents' report: working time from presence (online, idle, available, on a break), how
//! many conversations each agent held at once, and the episodes they handled, by agent, team
//! (the teams the agent belongs to) or day.
//!
//! Reads the stored agent-days ([`AgentDayRecord`], kept by the inbox) and the episodes opened
//! in the same range; keeps nothing.

use std::collections::HashSet;
use std::ops::Range;

use switchboard_shared::reports::{AgentActivityReport, AgentActivityRow, ReportGroup};
use switchboard_shared::UserId;

use super::{day_text, each_episode, handler, Groups, Names};
use crate::auth::TenantScope;
use crate::domain::{day_bucket, AgentDayRecord, EpisodeRecord};
use crate::store::{Cursor, StoreResult, MAX_PAGE};

/// The groupings this report has.
pub const GROUPS: [ReportGroup; 3] = [ReportGroup::Agent, ReportGroup::Team, ReportGroup::Day];

#[derive(Default)]
struct Tally {
    online_ms: i64,
    idle_ms: i64,
    available_ms: i64,
    break_ms: i64,
    load_ms: i64,
    peak: u32,
    agents: HashSet<UserId>,
    days: HashSet<i64>,
    conversations: u64,
    resolved: u64,
    first_responses: u64,
}

impl Tally {
    fn add_day(&mut self, d: &AgentDayRecord) {
        self.online_ms += d.online_ms;
        self.idle_ms += d.idle_ms;
        self.available_ms += d.available_ms;
        self.break_ms += d.break_ms;
        self.load_ms += d.load_ms;
        self.peak = self.peak.max(d.peak_load);
        if d.online_ms > 0 {
            self.agents.insert(d.user.clone());
            self.days.insert(d.day);
        }
    }

    fn handled(&mut self, e: &EpisodeRecord) {
        self.conversations += 1;
        self.resolved += u64::from(e.resolved_at.is_some());
    }

    fn row(self, key: Option<String>, label: Option<String>) -> AgentActivityRow {
        AgentActivityRow {
            key,
            label,
            online_ms: self.online_ms,
            idle_ms: self.idle_ms,
            available_ms: self.available_ms,
            break_ms: self.break_ms,
            concurrency_mean: (self.online_ms > 0)
                .then(|| self.load_ms as f64 / self.online_ms as f64),
            concurrency_peak: self.peak,
            agents: self.agents.len() as u32,
            days: self.days.len() as u32,
            conversations: self.conversations,
            resolved: self.resolved,
            first_responses: self.first_responses,
        }
    }
}

/// Calls `f` with each group an agent's figures of `day` count in.
fn each_group(
    names: &Names,
    group_by: ReportGroup,
    user: &UserId,
    day: i64,
    mut f: impl FnMut(Option<&str>),
) {
    match group_by {
        ReportGroup::Team => {
            let mut any = false;
            for t in names.teams.iter().filter(|t| t.members.contains(user)) {
                any = true;
                f(Some(t.id.as_str()));
            }
            if !any {
                f(None);
            }
        }
        ReportGroup::Day => {
            let mut days = names.days.lock().unwrap_or_else(|e| e.into_inner());
            f(Some(
                days.entry(day).or_insert_with(|| day_text(day)).as_str(),
            ))
        }
        _ => f(Some(user.as_str())),
    }
}

/// The agents' report being built: agent-days and episodes folded in, in any order.
pub(super) struct Fold<'a> {
    group_by: ReportGroup,
    names: &'a Names,
    groups: Groups<Tally>,
    total: Tally,
}

impl<'a> Fold<'a> {
    /// `names` must hold the users (and the teams, by team).
    pub(super) fn new(group_by: ReportGroup, names: &'a Names) -> Self {
        Self {
            group_by,
            names,
            groups: Groups::new(),
            total: Tally::default(),
        }
    }

    /// Every stored agent-day of `days`.
    pub(super) async fn days(&mut self, scope: &TenantScope, days: &Range<i64>) -> StoreResult<()> {
        let mut cursor: Option<Cursor> = None;
        loop {
            let page = scope
                .agent_days(days.clone(), cursor.as_ref(), MAX_PAGE)
                .await?;
            for d in &page.items {
                self.total.add_day(d);
                let groups = &mut self.groups;
                each_group(self.names, self.group_by, &d.user, d.day, |key| {
                    groups.slot(key).add_day(d)
                });
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// An episode: handled by its agent, answered first by its first responder.
    pub(super) fn episode(&mut self, e: &EpisodeRecord) {
        let day = day_bucket(e.opened_at);
        let groups = &mut self.groups;
        if let Some(agent) = handler(e) {
            self.total.handled(e);
            each_group(self.names, self.group_by, agent, day, |key| {
                groups.slot(key).handled(e)
            });
        }
        if let Some(first) = &e.first_responder {
            self.total.first_responses += 1;
            each_group(self.names, self.group_by, first, day, |key| {
                groups.slot(key).first_responses += 1
            });
        }
    }

    pub(super) fn report(self, days: &Range<i64>) -> AgentActivityReport {
        let (group_by, names) = (self.group_by, self.names);
        let mut rows: Vec<AgentActivityRow> = self
            .groups
            .into_iter()
            .map(|(key, tally)| {
                let label = key.as_deref().and_then(|k| match group_by {
                    ReportGroup::Team => names.label(ReportGroup::Team, k),
                    ReportGroup::Day => None,
                    _ => names.label(ReportGroup::Agent, k),
                });
                tally.row(key, label)
            })
            .collect();
        if group_by == ReportGroup::Day {
            rows.sort_by(|a, b| a.key.cmp(&b.key));
        } else {
            rows.sort_by(|a, b| {
                b.online_ms
                    .cmp(&a.online_ms)
                    .then_with(|| b.conversations.cmp(&a.conversations))
                    .then_with(|| a.key.cmp(&b.key))
            });
        }
        AgentActivityReport {
            group_by,
            from: day_text(days.start),
            to: day_text(days.end),
            groups: rows,
            total: self.total.row(None, None),
        }
    }
}

/// The report over `days`, grouped by agent, team or day (see [`GROUPS`]).
pub async fn report(
    scope: &TenantScope,
    group_by: ReportGroup,
    days: Range<i64>,
) -> StoreResult<AgentActivityReport> {
    let mut names = Names::read(scope, ReportGroup::Agent).await?;
    if group_by == ReportGroup::Team {
        names.teams = scope.teams().await?;
    }
    let mut fold = Fold::new(group_by, &names);
    fold.days(scope, &days).await?;
    each_episode(scope, &days, |e| fold.episode(e)).await?;
    Ok(fold.report(&days))
}
