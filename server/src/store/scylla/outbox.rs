//! The durable queue of sends (with an index of the pending ones per number).

use async_trait::async_trait;
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::{ConversationId, PhoneNumberId, SendId, TenantId, WaId, Wamid};

use super::{lwt_applied, unavailable, Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::page::*;

use crate::store::{check_limit, MessageStore, OutboxStore, StoreError, StoreResult};

row! {
    /// A send (`outbox_by_id`).
    struct SendRow {
        tenant: String,
        send_id: String,
        conversation_id: String,
        number: String,
        customer: String,
        author: String,
        request: String,
        kind: String,
        text: Option<String>,
        state: String,
        attempts: i32,
        wamid: Option<String>,
        error: Option<String>,
        created_at: i64,
        updated_at: i64,
    }
}

impl SendRow {
    fn of(o: &OutboxRecord) -> Self {
        Self {
            tenant: o.tenant.as_str().to_owned(),
            send_id: o.id.to_string(),
            conversation_id: o.conversation.as_str().to_owned(),
            number: o.number.as_str().to_owned(),
            customer: o.customer.as_str().to_owned(),
            author: o.author.clone(),
            request: o.request.clone(),
            kind: o.kind.clone(),
            text: o.text.clone(),
            state: o.state.as_str().to_owned(),
            attempts: i32::try_from(o.attempts).unwrap_or(i32::MAX),
            wamid: o.wamid.as_ref().map(|w| w.as_str().to_owned()),
            error: o.error.clone(),
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }

    fn into_record(self) -> StoreResult<OutboxRecord> {
        Ok(OutboxRecord {
            tenant: TenantId::new(self.tenant),
            id: self.send_id.into(),
            conversation: ConversationId::new(self.conversation_id),
            number: PhoneNumberId::new(self.number),
            customer: WaId::new(self.customer),
            author: self.author,
            request: self.request,
            kind: self.kind,
            text: self.text,
            state: SendState::parse(&self.state)
                .ok_or_else(|| StoreError::Corrupt(format!("send state `{}`", self.state)))?,
            attempts: u32::try_from(self.attempts).unwrap_or_default(),
            wamid: self.wamid.map(Wamid::new),
            error: self.error,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

row! {
    /// An entry of a number's pending sends (`outbox_pending_by_number`).
    struct PendingRow {
        created_at: i64,
        send_id: String,
        tenant: String,
    }
}

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
            claim_send: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.outbox_by_id ({}) VALUES ({}) IF NOT EXISTS",
                        SendRow::COLUMNS,
                        super::markers(SendRow::COLUMNS)
                    ),
                    false,
                )
                .await?,
            put_send: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.outbox_by_id ({}) VALUES ({})",
                        SendRow::COLUMNS,
                        super::markers(SendRow::COLUMNS)
                    ),
                    true,
                )
                .await?,
            get_send: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.outbox_by_id WHERE tenant = ? AND send_id = ?",
                        SendRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            index_send: p
                .prepare(
                    format!(
                    "INSERT INTO {ks}.outbox_pending_by_number (number, created_at, send_id, tenant)
                     VALUES (?, ?, ?, ?)"
                ),
                    true,
                )
                .await?,
            unindex_send: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.outbox_pending_by_number
                     WHERE number = ? AND created_at = ? AND send_id = ?"
                    ),
                    true,
                )
                .await?,
            pending_sends: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.outbox_pending_by_number
                     WHERE number = ? AND (created_at, send_id) > (?, ?) LIMIT ?",
                        PendingRow::COLUMNS
                    ),
                    true,
                )
                .await?,
        })
    }
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
            .execute_unpaged(&self.outbox.claim_send, &SendRow::of(send))
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
            .execute_unpaged(&self.outbox.put_send, &SendRow::of(send))
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

    async fn get_send(&self, tenant: &TenantId, id: &SendId) -> StoreResult<Option<OutboxRecord>> {
        self.one::<SendRow>(&self.outbox.get_send, (tenant.as_str(), id.as_str()))
            .await?
            .map(SendRow::into_record)
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
        let entries: Vec<PendingRow> = self
            .rows(
                &self.outbox.pending_sends,
                (number.as_str(), after_at, after_id, limit as i32),
            )
            .await?;
        let reads = entries.iter().map(|e| {
            self.one::<SendRow>(
                &self.outbox.get_send,
                (e.tenant.as_str(), e.send_id.as_str()),
            )
        });
        let mut items = Vec::with_capacity(entries.len());
        for row in futures_util::future::join_all(reads).await {
            // An entry without its row is an enqueue that crashed midway: nobody was told
            // "queued", so there is nothing to send.
            if let Some(row) = row? {
                items.push(row.into_record()?);
            }
        }
        let next = (entries.len() == limit)
            .then(|| {
                entries
                    .last()
                    .map(|e| Cursor::after_time(e.created_at, &e.send_id))
            })
            .flatten();
        Ok(Page { items, next })
    }
}
