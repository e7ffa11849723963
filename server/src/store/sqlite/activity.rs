//! Agents' working time: a row per (tenant, day, agent), rewritten whole.

use async_trait::async_trait;
use rusqlite::params;
use switchboard_shared::{TenantId, UserId};

use super::{unavailable, SqliteStore};
use crate::domain::AgentDayRecord;
use crate::store::{check_limit, ActivityStore, Cursor, Page, StoreResult};

const COLUMNS: &str = "tenant, day, user_id, online_ms, idle_ms, available_ms, break_ms, load_ms, \
                       peak_load, updated_at";

#[async_trait]
impl ActivityStore for SqliteStore {
    async fn put_agent_days(&self, days: &[AgentDayRecord]) -> StoreResult<()> {
        if days.is_empty() {
            return Ok(());
        }
        let days = days.to_vec();
        self.write(move |conn, _| {
            let mut insert = conn
                .prepare_cached(&format!(
                    "INSERT OR REPLACE INTO agent_days ({COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
                ))
                .map_err(unavailable)?;
            for d in &days {
                insert
                    .execute(params![
                        d.tenant.as_str(),
                        d.day,
                        d.user.as_str(),
                        d.online_ms,
                        d.idle_ms,
                        d.available_ms,
                        d.break_ms,
                        d.load_ms,
                        i64::from(d.peak_load),
                        d.updated_at,
                    ])
                    .map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }

    async fn agent_days(
        &self,
        tenant: &TenantId,
        days: std::ops::Range<i64>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<AgentDayRecord>> {
        let limit = check_limit(limit)?;
        let (day, after) = Cursor::decode_day(cursor, days.start)?;
        let tenant = tenant.clone();
        let rows = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM agent_days
                     WHERE tenant = ?1 AND day < ?2 AND (day, user_id) > (?3, ?4)
                     ORDER BY day, user_id LIMIT ?5"
                ))
                .and_then(|mut s| {
                    s.query_map(
                        params![tenant.as_str(), days.end, day, after, limit as i64],
                        |r| {
                            Ok(AgentDayRecord {
                                tenant: tenant.clone(),
                                day: r.get(1)?,
                                user: UserId::new(r.get::<_, String>(2)?),
                                online_ms: r.get(3)?,
                                idle_ms: r.get(4)?,
                                available_ms: r.get(5)?,
                                break_ms: r.get(6)?,
                                load_ms: r.get(7)?,
                                peak_load: r.get::<_, i64>(8)?.clamp(0, i64::from(u32::MAX)) as u32,
                                updated_at: r.get(9)?,
                            })
                        },
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        Ok(Page::of(rows, limit, |d: &AgentDayRecord| {
            Cursor::bucketed(d.day as i32, d.user.as_str())
        }))
    }
}
