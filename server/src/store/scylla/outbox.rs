//! The durable queue of sends (with an index of the pending ones per number).

use async_trait::async_trait;
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::{PhoneNumberId, TenantId, Wamid};

use super::{lwt_applied, unavailable, Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::rows::*;
use crate::store::{check_limit, MessageStore, OutboxStore, StoreError, StoreResult};

/// Statements of the outbox.
pub(super) struct Statements {
    claim_send: PreparedStatement,
    put_send: PreparedStatement,
    get_send: PreparedStatement,
    index_send: PreparedStatement,
    unindex_send: PreparedStatement,
    pending_sends: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        Ok(Self {
            claim_send: p.prepare(format!(
                    "INSERT INTO {ks}.outbox_by_id ({OUTBOX_COLUMNS})
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
                ),
                false).await?,
            put_send: p.prepare(format!(
                    "INSERT INTO {ks}.outbox_by_id ({OUTBOX_COLUMNS})
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                true).await?,
            get_send: p.prepare(format!(
                    "SELECT {OUTBOX_COLUMNS} FROM {ks}.outbox_by_id WHERE tenant = ? AND send_id = ?"
                ),
                true).await?,
            index_send: p.prepare(format!(
                    "INSERT INTO {ks}.outbox_pending_by_number (number, created_at, send_id, tenant)
                     VALUES (?, ?, ?, ?)"
                ),
                true).await?,
            unindex_send: p.prepare(format!(
                    "DELETE FROM {ks}.outbox_pending_by_number
                     WHERE number = ? AND created_at = ? AND send_id = ?"
                ),
                true).await?,
            pending_sends: p.prepare(format!(
                    "SELECT created_at, send_id, tenant FROM {ks}.outbox_pending_by_number
                     WHERE number = ? AND (created_at, send_id) > (?, ?) LIMIT ?"
                ),
                true).await?,
        })
    }
}

fn send_values(o: &OutboxRecord) -> impl scylla::serialize::row::SerializeRow + '_ {
    // One flat tuple: its elements are the statement's bound columns, in OUTBOX_COLUMNS order.
    (
        o.tenant.as_str(),
        o.id.as_str(),
        o.conversation.as_str(),
        o.number.as_str(),
        o.customer.as_str(),
        o.author.as_str(),
        o.request.as_str(),
        o.kind.as_str(),
        o.text.as_deref(),
        o.state.as_str(),
        i32::try_from(o.attempts).unwrap_or(i32::MAX),
        o.wamid.as_ref().map(Wamid::as_str),
        o.error.as_deref(),
        o.created_at,
        o.updated_at,
    )
}

#[async_trait]
impl OutboxStore for ScyllaStore {
    async fn enqueue_send(&self, send: &OutboxRecord) -> StoreResult<OutboxRecord> {
        // The index entry first: a crash before the row leaves an entry without a row, which
        // readers skip (and the caller never heard "queued"); the reverse would lose the send.
        let index = (
            send.number.as_str(),
            send.created_at,
            send.id.as_str(),
            send.tenant.as_str(),
        );
        self.session
            .execute_unpaged(&self.outbox.index_send, index)
            .await
            .map_err(unavailable)?;
        let claimed = self
            .session
            .execute_unpaged(&self.outbox.claim_send, send_values(send))
            .await
            .map_err(unavailable)?;
        if lwt_applied(claimed)? {
            return Ok(send.clone());
        }
        let stored = self
            .get_send(&send.tenant, &send.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("send {} vanished", send.id)))?;
        if stored.created_at != send.created_at || stored.state.is_finished() {
            // A retry: the entry just written is not the send's own.
            self.session
                .execute_unpaged(
                    &self.outbox.unindex_send,
                    (send.number.as_str(), send.created_at, send.id.as_str()),
                )
                .await
                .map_err(unavailable)?;
        }
        Ok(stored)
    }

    async fn update_send(&self, send: &OutboxRecord) -> StoreResult<()> {
        self.session
            .execute_unpaged(&self.outbox.put_send, send_values(send))
            .await
            .map_err(unavailable)?;
        if let Some(message) = send.sent_message() {
            self.record_outbound(message).await?;
        }
        if send.state.is_finished() {
            self.session
                .execute_unpaged(
                    &self.outbox.unindex_send,
                    (send.number.as_str(), send.created_at, send.id.as_str()),
                )
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn get_send(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<OutboxRecord>> {
        self.one::<OutboxRow>(&self.outbox.get_send, (tenant.as_str(), id))
            .await?
            .map(outbox_from_row)
            .transpose()
    }

    async fn pending_sends(
        &self,
        number: &PhoneNumberId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<OutboxRecord>> {
        let limit = check_limit(limit)?;
        let (after_at, after_id) = Cursor::decode_time(cursor)?;
        let entries: Vec<(i64, String, String)> = self
            .rows(
                &self.outbox.pending_sends,
                (number.as_str(), after_at, after_id, limit as i32),
            )
            .await?;
        let reads = entries.iter().map(|(_, id, tenant)| {
            self.one::<OutboxRow>(&self.outbox.get_send, (tenant.as_str(), id.as_str()))
        });
        let mut items = Vec::with_capacity(entries.len());
        for row in futures_util::future::join_all(reads).await {
            // An entry without its row is an enqueue that crashed midway: nobody was told
            // "queued", so there is nothing to send.
            if let Some(row) = row? {
                items.push(outbox_from_row(row)?);
            }
        }
        let next = (entries.len() == limit)
            .then(|| {
                entries
                    .last()
                    .map(|(at, id, _)| Cursor::after_time(*at, id))
            })
            .flatten();
        Ok(Page { items, next })
    }
}
