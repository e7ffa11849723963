//! Campaigns' recipients on ScyllaDB: (tenant, campaign, bucket) partitions, a row per recipient,
//! read bucket by bucket in pages; every write an idempotent upsert.

use async_trait::async_trait;
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::campaign::RecipientState;
use switchboard_shared::{CampaignId, ContactId, PhoneNumberId, SendId, TenantId, WaId};

use super::{first_row, rows_of, unavailable, Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::{check_limit, CampaignStore, StoreError, StoreResult};

row! {
    /// A campaign's recipient (`campaign_recipients`).
    struct RecipientRow {
        tenant: String,
        campaign: String,
        bucket: i32,
        wa_id: String,
        contact: String,
        state: String,
        reason: Option<String>,
        number: Option<String>,
        send: Option<String>,
        clicked: bool,
        updated_at: i64,
    }
}

impl RecipientRow {
    fn of(r: &RecipientRecord) -> Self {
        Self {
            tenant: r.tenant.as_str().to_owned(),
            campaign: r.campaign.as_str().to_owned(),
            bucket: r.bucket(),
            wa_id: r.wa_id.as_str().to_owned(),
            contact: r.contact.as_str().to_owned(),
            state: r.state.as_str().to_owned(),
            reason: r.reason.clone(),
            number: r.number.as_ref().map(|n| n.as_str().to_owned()),
            send: r.send.as_ref().map(|s| s.as_str().to_owned()),
            clicked: r.clicked,
            updated_at: r.updated_at,
        }
    }

    fn into_record(self) -> StoreResult<RecipientRecord> {
        let state = RecipientState::parse(&self.state)
            .ok_or_else(|| StoreError::Corrupt(format!("recipient state `{}`", self.state)))?;
        Ok(RecipientRecord {
            tenant: TenantId::new(self.tenant),
            campaign: CampaignId::new(self.campaign),
            wa_id: WaId::new(self.wa_id),
            contact: ContactId::new(self.contact),
            state,
            reason: self.reason,
            number: self.number.map(PhoneNumberId::new),
            send: self.send.map(SendId::new),
            clicked: self.clicked,
            updated_at: self.updated_at,
        })
    }
}

/// Statements of campaigns' recipients.
pub(super) struct Statements {
    upsert: PreparedStatement,
    update: PreparedStatement,
    get: PreparedStatement,
    page: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        let columns = RecipientRow::COLUMNS;
        Ok(Self {
            upsert: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.campaign_recipients ({columns}) VALUES ({})",
                        super::markers(columns)
                    ),
                    true,
                )
                .await?,
            // Only rows the campaign wrote are updated (an UPDATE of a missing row would make one).
            update: p
                .prepare(
                    format!(
                        "UPDATE {ks}.campaign_recipients SET state = ?, reason = ?, send = ?,
                           clicked = ?, updated_at = ?
                         WHERE tenant = ? AND campaign = ? AND bucket = ? AND wa_id = ?"
                    ),
                    true,
                )
                .await?,
            get: p
                .prepare(
                    format!(
                        "SELECT {columns} FROM {ks}.campaign_recipients
                         WHERE tenant = ? AND campaign = ? AND bucket = ? AND wa_id = ?"
                    ),
                    true,
                )
                .await?,
            page: p
                .prepare(
                    format!(
                        "SELECT {columns} FROM {ks}.campaign_recipients
                         WHERE tenant = ? AND campaign = ? AND bucket = ? AND wa_id > ? LIMIT ?"
                    ),
                    true,
                )
                .await?,
        })
    }
}

#[async_trait]
impl CampaignStore for ScyllaStore {
    async fn put_recipients(&self, recipients: &[RecipientRecord]) -> StoreResult<()> {
        // Side by side, a bounded number at a time: each row is its own idempotent upsert.
        for chunk in recipients.chunks(64) {
            let writes = chunk.iter().map(|r| {
                let row = RecipientRow::of(r);
                async move {
                    self.session
                        .execute_unpaged(&self.campaigns.upsert, &row)
                        .await
                        .map_err(unavailable)
                }
            });
            for result in futures_util::future::join_all(writes).await {
                result?;
            }
        }
        Ok(())
    }

    async fn update_recipients(&self, updates: &[RecipientUpdate]) -> StoreResult<()> {
        for chunk in updates.chunks(64) {
            let writes = chunk.iter().map(|u| async move {
                self.session
                    .execute_unpaged(
                        &self.campaigns.update,
                        (
                            u.state.as_str(),
                            super::unset_if_none(u.reason.as_deref()),
                            super::unset_if_none(u.send.as_ref().map(|s| s.as_str())),
                            u.clicked,
                            u.updated_at,
                            u.tenant.as_str(),
                            u.campaign.as_str(),
                            recipient_bucket(&u.wa_id),
                            u.wa_id.as_str(),
                        ),
                    )
                    .await
                    .map_err(unavailable)
            });
            for result in futures_util::future::join_all(writes).await {
                result?;
            }
        }
        Ok(())
    }

    async fn get_recipient(
        &self,
        tenant: &TenantId,
        campaign: &CampaignId,
        wa_id: &WaId,
    ) -> StoreResult<Option<RecipientRecord>> {
        first_row::<RecipientRow>(
            self.session
                .execute_unpaged(
                    &self.campaigns.get,
                    (
                        tenant.as_str(),
                        campaign.as_str(),
                        recipient_bucket(wa_id),
                        wa_id.as_str(),
                    ),
                )
                .await
                .map_err(unavailable)?,
        )?
        .map(RecipientRow::into_record)
        .transpose()
    }

    async fn recipients(
        &self,
        tenant: &TenantId,
        campaign: &CampaignId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<RecipientRecord>> {
        let limit = check_limit(limit)?;
        let (first, mut after) = Cursor::decode_bucketed(cursor, 0)?;
        let mut items: Vec<RecipientRecord> = Vec::with_capacity(limit);
        for bucket in first.max(0)..RECIPIENT_BUCKETS {
            let want = (limit - items.len()) as i32;
            let rows: Vec<RecipientRow> = rows_of(
                self.session
                    .execute_unpaged(
                        &self.campaigns.page,
                        (
                            tenant.as_str(),
                            campaign.as_str(),
                            bucket,
                            after.as_str(),
                            want,
                        ),
                    )
                    .await
                    .map_err(unavailable)?,
            )?;
            for row in rows {
                items.push(row.into_record()?);
            }
            if items.len() == limit {
                break;
            }
            after = String::new();
        }
        let next = (items.len() == limit)
            .then(|| {
                items
                    .last()
                    .map(|r| Cursor::bucketed(r.bucket(), r.wa_id.as_str()))
            })
            .flatten();
        Ok(Page { items, next })
    }
}
