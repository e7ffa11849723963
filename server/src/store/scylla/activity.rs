//! Agents' working time on ScyllaDB: a partition per (tenant, day), a row per agent, rewritten
//! whole (idempotent upserts, so the driver may retry them).

use async_trait::async_trait;
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::{TenantId, UserId};

use super::{unavailable, Preparer, ScyllaStore};
use crate::domain::AgentDayRecord;
use crate::store::{check_limit, ActivityStore, Cursor, Page, StoreResult};

row! {
    /// An agent's day (`agent_days`).
    struct AgentDayRow {
        tenant: String,
        day: i64,
        user_id: String,
        online_ms: i64,
        idle_ms: i64,
        available_ms: i64,
        break_ms: i64,
        load_ms: i64,
        peak_load: i32,
        updated_at: i64,
    }
}

impl AgentDayRow {
    fn of(d: &AgentDayRecord) -> Self {
        Self {
            tenant: d.tenant.as_str().to_owned(),
            day: d.day,
            user_id: d.user.as_str().to_owned(),
            online_ms: d.online_ms,
            idle_ms: d.idle_ms,
            available_ms: d.available_ms,
            break_ms: d.break_ms,
            load_ms: d.load_ms,
            peak_load: i32::try_from(d.peak_load).unwrap_or(i32::MAX),
            updated_at: d.updated_at,
        }
    }

    fn into_record(self) -> AgentDayRecord {
        AgentDayRecord {
            tenant: TenantId::new(self.tenant),
            day: self.day,
            user: UserId::new(self.user_id),
            online_ms: self.online_ms,
            idle_ms: self.idle_ms,
            available_ms: self.available_ms,
            break_ms: self.break_ms,
            load_ms: self.load_ms,
            peak_load: self.peak_load.max(0) as u32,
            updated_at: self.updated_at,
        }
    }
}

/// Statements of agents' days.
pub(super) struct Statements {
    put: PreparedStatement,
    of_day: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        let columns = AgentDayRow::COLUMNS;
        Ok(Self {
            put: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.agent_days ({columns}) VALUES ({})",
                        super::markers(columns)
                    ),
                    true,
                )
                .await?,
            of_day: p
                .prepare(
                    format!(
                        "SELECT {columns} FROM {ks}.agent_days
                         WHERE tenant = ? AND day = ? AND user_id > ? LIMIT ?"
                    ),
                    true,
                )
                .await?,
        })
    }
}

#[async_trait]
impl ActivityStore for ScyllaStore {
    async fn put_agent_days(&self, days: &[AgentDayRecord]) -> StoreResult<()> {
        let writes = days.iter().map(|d| async move {
            self.session
                .execute_unpaged(&self.activity.put, AgentDayRow::of(d))
                .await
                .map_err(unavailable)
        });
        futures_util::future::try_join_all(writes).await?;
        Ok(())
    }

    async fn agent_days(
        &self,
        tenant: &TenantId,
        days: std::ops::Range<i64>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<AgentDayRecord>> {
        let limit = check_limit(limit)?;
        let (mut day, mut after) = Cursor::decode_day(cursor, days.start)?;
        let mut items = Vec::with_capacity(limit);
        // Day partitions oldest first; within one, in pages of what the page still needs.
        while day >= days.start && day < days.end && items.len() < limit {
            let wanted = limit - items.len();
            let rows: Vec<AgentDayRow> = self
                .rows(
                    &self.activity.of_day,
                    (tenant.as_str(), day, after.as_str(), wanted as i32),
                )
                .await?;
            let full = rows.len() == wanted;
            if let Some(last) = rows.last() {
                after = last.user_id.clone();
            }
            items.extend(rows.into_iter().map(AgentDayRow::into_record));
            if !full {
                day += 1;
                after = String::new();
            }
        }
        Ok(Page::of(items, limit, |d: &AgentDayRecord| {
            Cursor::bucketed(d.day as i32, d.user.as_str())
        }))
    }
}
