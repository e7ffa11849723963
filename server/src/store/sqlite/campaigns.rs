//! Campaigns' recipients: a row per (campaign, recipient), in (bucket, WhatsApp id) order like
//! Scylla's partitions.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use switchboard_shared::campaign::RecipientState;
use switchboard_shared::{CampaignId, ContactId, PhoneNumberId, SendId, TenantId, WaId};

use super::{unavailable, SqliteStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::{check_limit, CampaignStore, StoreError, StoreResult};

const COLUMNS: &str = "wa_id, contact, state, reason, number, send, clicked, updated_at, bucket";

fn recipient(
    tenant: &TenantId,
    campaign: &CampaignId,
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<Result<RecipientRecord, StoreError>> {
    let state: String = r.get(2)?;
    let Some(state) = RecipientState::parse(&state) else {
        return Ok(Err(StoreError::Corrupt(format!(
            "recipient state `{state}`"
        ))));
    };
    Ok(Ok(RecipientRecord {
        tenant: tenant.clone(),
        campaign: campaign.clone(),
        wa_id: WaId::new(r.get::<_, String>(0)?),
        contact: ContactId::new(r.get::<_, String>(1)?),
        state,
        reason: r.get(3)?,
        number: r.get::<_, Option<String>>(4)?.map(PhoneNumberId::new),
        send: r.get::<_, Option<String>>(5)?.map(SendId::new),
        clicked: r.get(6)?,
        updated_at: r.get(7)?,
    }))
}

#[async_trait]
impl CampaignStore for SqliteStore {
    async fn put_recipients(&self, recipients: &[RecipientRecord]) -> StoreResult<()> {
        let rows = recipients.to_vec();
        self.write(move |conn, _| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "INSERT OR REPLACE INTO campaign_recipients (tenant, campaign, {COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
                ))
                .map_err(unavailable)?;
            for r in &rows {
                stmt.execute(params![
                    r.tenant.as_str(),
                    r.campaign.as_str(),
                    r.wa_id.as_str(),
                    r.contact.as_str(),
                    r.state.as_str(),
                    r.reason,
                    r.number.as_ref().map(|n| n.as_str()),
                    r.send.as_ref().map(|s| s.as_str()),
                    r.clicked,
                    r.updated_at,
                    r.bucket(),
                ])
                .map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }

    async fn update_recipients(&self, updates: &[RecipientUpdate]) -> StoreResult<()> {
        let rows = updates.to_vec();
        self.write(move |conn, _| {
            let mut stmt = conn
                .prepare_cached(
                    "UPDATE campaign_recipients SET state = ?1, reason = COALESCE(?2, reason),
                       send = COALESCE(?3, send), clicked = ?4, updated_at = ?5
                     WHERE tenant = ?6 AND campaign = ?7 AND bucket = ?8 AND wa_id = ?9",
                )
                .map_err(unavailable)?;
            for u in &rows {
                stmt.execute(params![
                    u.state.as_str(),
                    u.reason,
                    u.send.as_ref().map(|s| s.as_str()),
                    u.clicked,
                    u.updated_at,
                    u.tenant.as_str(),
                    u.campaign.as_str(),
                    recipient_bucket(&u.wa_id),
                    u.wa_id.as_str(),
                ])
                .map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }

    async fn get_recipient(
        &self,
        tenant: &TenantId,
        campaign: &CampaignId,
        wa_id: &WaId,
    ) -> StoreResult<Option<RecipientRecord>> {
        let (t, c, w) = (tenant.clone(), campaign.clone(), wa_id.clone());
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM campaign_recipients
                 WHERE tenant = ?1 AND campaign = ?2 AND bucket = ?3 AND wa_id = ?4"
            ))
            .and_then(|mut s| {
                s.query_row(
                    params![t.as_str(), c.as_str(), recipient_bucket(&w), w.as_str()],
                    |r| recipient(&t, &c, r),
                )
                .optional()
            })
            .map_err(unavailable)?
            .transpose()
        })
        .await
    }

    async fn recipients(
        &self,
        tenant: &TenantId,
        campaign: &CampaignId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<RecipientRecord>> {
        let limit = check_limit(limit)?;
        let (bucket, after) = Cursor::decode_bucketed(cursor, -1)?;
        let (t, c) = (tenant.clone(), campaign.clone());
        self.read(move |conn| {
            let rows: Vec<RecipientRecord> = conn
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM campaign_recipients
                     WHERE tenant = ?1 AND campaign = ?2 AND (bucket, wa_id) > (?3, ?4)
                     ORDER BY bucket, wa_id LIMIT ?5"
                ))
                .and_then(|mut s| {
                    s.query_map(
                        params![t.as_str(), c.as_str(), bucket, after, limit as i64],
                        |r| recipient(&t, &c, r),
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)?
                .into_iter()
                .collect::<Result<_, _>>()?;
            let next = (rows.len() == limit)
                .then(|| {
                    rows.last()
                        .map(|r| Cursor::bucketed(r.bucket(), r.wa_id.as_str()))
                })
                .flatten();
            Ok(Page { items: rows, next })
        })
        .await
    }
}
