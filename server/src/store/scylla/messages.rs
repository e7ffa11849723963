//! Messages, statuses, account events, contacts and the webhook journal.

use async_trait::async_trait;
use base64::Engine as _;
use scylla::response::{PagingState, PagingStateResponse};
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::{
    ConversationId, Direction, MessageKey, MessageStatus, PhoneNumberId, TenantId, WaId, Wamid,
};

use super::{first_row, rows_of, unavailable, unset_if_none, Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::{check_limit, MessageStore, SearchHit, StoreError, StoreResult};

/// Partitions the raw webhook journal spreads each day over (`webhook_journal_by_shard`).
const JOURNAL_SHARDS: i32 = 16;

row! {
    /// A message in its conversation's history (`messages_by_conversation`).
    struct MessageRow {
        tenant: String,
        conversation_id: String,
        bucket: i64,
        at_ms: i64,
        message_key: String,
        wamid: String,
        number: String,
        customer: String,
        direction: String,
        kind: String,
        body: Option<String>,
        raw: String,
    }
}

row! {
    /// Where a message key's message is (`messages_by_key`).
    struct KeyLocation {
        conversation_id: String,
        bucket: i64,
        at_ms: i64,
    }
}

row! {
    /// A message's latest status (`statuses_by_message`).
    struct StatusRow {
        status: String,
        at_ms: i64,
        error_codes: Option<Vec<i64>>,
    }
}

row! {
    /// A conversation's last activity (`conversations_by_id`).
    struct ConversationRow {
        number: String,
        customer: String,
        last_message_at: i64,
    }
}

row! {
    /// An account-level event (`account_events_by_tenant`).
    struct EventRow {
        number: Option<String>,
        field: String,
        at_ms: i64,
        raw: String,
        event_key: String,
    }
}

/// Statements of messages, statuses, account events, contacts and the journal.
pub(super) struct Statements {
    insert_journal: PreparedStatement,
    upsert_contact: PreparedStatement,
    lookup_key: PreparedStatement,
    insert_key: PreparedStatement,
    insert_message: PreparedStatement,
    insert_bucket: PreparedStatement,
    upsert_conversation: PreparedStatement,
    insert_status: PreparedStatement,
    latest_in_second: PreparedStatement,
    conversation_alias: PreparedStatement,
    latest_status: PreparedStatement,
    insert_event: PreparedStatement,
    insert_event_bucket: PreparedStatement,
    list_buckets: PreparedStatement,
    history_first: PreparedStatement,
    history_after: PreparedStatement,
    get_message: PreparedStatement,
    get_conversation: PreparedStatement,
    get_contact_name: PreparedStatement,
    scan: PreparedStatement,
    list_event_buckets: PreparedStatement,
    events_first: PreparedStatement,
    events_after: PreparedStatement,
    insert_received: PreparedStatement,
    received_after: PreparedStatement,
    get_cursor: PreparedStatement,
    set_cursor: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        Ok(Self {
            insert_journal: p.prepare(format!(
                "INSERT INTO {ks}.webhook_journal_by_shard (day, shard, journal_id, received_at, body)
                 VALUES (?, ?, ?, ?, ?)"
            ), true).await?,
            upsert_contact: p.prepare(format!(
                "UPDATE {ks}.contacts_by_tenant SET name = ?, user_id = ?, updated_at = ?
                 WHERE tenant = ? AND wa_id = ?"
            ), true).await?,
            lookup_key: p.prepare(format!(
                "SELECT {} FROM {ks}.messages_by_key WHERE tenant = ? AND message_key = ?",
                KeyLocation::COLUMNS
            ), false).await?,
            insert_key: p.prepare(format!(
                "INSERT INTO {ks}.messages_by_key (tenant, message_key, conversation_id, bucket, at_ms)
                 VALUES (?, ?, ?, ?, ?)"
            ), true).await?,
            insert_message: p.prepare(format!(
                "INSERT INTO {ks}.messages_by_conversation ({}) VALUES ({})",
                MessageRow::COLUMNS,
                super::markers(MessageRow::COLUMNS)
            ), true).await?,
            insert_bucket: p.prepare(format!(
                "INSERT INTO {ks}.buckets_by_conversation (tenant, conversation_id, bucket) VALUES (?, ?, ?)"
            ), true).await?,
            upsert_conversation: p.prepare(format!(
                "INSERT INTO {ks}.conversations_by_id (tenant, conversation_id, number, customer, last_message_at)
                 VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?"
            ), true).await?,
            insert_status: p.prepare(format!(
                "INSERT INTO {ks}.statuses_by_message (tenant, wamid, rank, status, at_ms, error_codes, raw)
                 VALUES (?, ?, ?, ?, ?, ?, ?)"
            ), true).await?,
            latest_in_second: p.prepare(format!(
                "SELECT at_ms FROM {ks}.messages_by_conversation
                 WHERE tenant = ? AND conversation_id = ? AND bucket = ? AND at_ms >= ? AND at_ms < ?
                 ORDER BY at_ms DESC LIMIT 1"
            ), false).await?,
            conversation_alias: p.prepare(format!(
                "SELECT new_id FROM {ks}.conversation_aliases WHERE tenant = ? AND old_id = ?"
            ), false).await?,
            latest_status: p.prepare(format!(
                "SELECT {} FROM {ks}.statuses_by_message WHERE tenant = ? AND wamid = ? LIMIT 1",
                StatusRow::COLUMNS
            ), false).await?,
            insert_event: p.prepare(format!(
                "INSERT INTO {ks}.account_events_by_tenant (tenant, bucket, at_ms, event_key, number, field, raw)
                 VALUES (?, ?, ?, ?, ?, ?, ?)"
            ), true).await?,
            insert_event_bucket: p.prepare(format!(
                "INSERT INTO {ks}.event_buckets_by_tenant (tenant, bucket) VALUES (?, ?)"
            ), true).await?,
            list_buckets: p.prepare(format!(
                "SELECT bucket FROM {ks}.buckets_by_conversation
                 WHERE tenant = ? AND conversation_id = ? AND bucket <= ?"
            ), false).await?,
            history_first: p.prepare(format!(
                "SELECT {} FROM {ks}.messages_by_conversation
                 WHERE tenant = ? AND conversation_id = ? AND bucket = ? LIMIT ?",
                MessageRow::COLUMNS
            ), false).await?,
            history_after: p.prepare(format!(
                "SELECT {} FROM {ks}.messages_by_conversation
                 WHERE tenant = ? AND conversation_id = ? AND bucket = ?
                   AND (at_ms, message_key) < (?, ?) LIMIT ?",
                MessageRow::COLUMNS
            ), false).await?,
            get_message: p.prepare(format!(
                "SELECT {} FROM {ks}.messages_by_conversation
                 WHERE tenant = ? AND conversation_id = ? AND bucket = ? AND at_ms = ? AND message_key = ?",
                MessageRow::COLUMNS
            ), false).await?,
            get_conversation: p.prepare(format!(
                "SELECT {} FROM {ks}.conversations_by_id WHERE tenant = ? AND conversation_id = ?",
                ConversationRow::COLUMNS
            ), false).await?,
            get_contact_name: p.prepare(format!(
                "SELECT name FROM {ks}.contacts_by_tenant WHERE tenant = ? AND wa_id = ?"
            ), false).await?,
            scan: p.prepare(format!("SELECT {} FROM {ks}.messages_by_conversation", MessageRow::COLUMNS), false).await?,
            list_event_buckets: p.prepare(format!(
                "SELECT bucket FROM {ks}.event_buckets_by_tenant WHERE tenant = ? AND bucket <= ?"
            ), false).await?,
            events_first: p.prepare(format!(
                "SELECT {} FROM {ks}.account_events_by_tenant WHERE tenant = ? AND bucket = ? LIMIT ?",
                EventRow::COLUMNS
            ), false).await?,
            events_after: p.prepare(format!(
                "SELECT {} FROM {ks}.account_events_by_tenant
                 WHERE tenant = ? AND bucket = ? AND (at_ms, event_key) < (?, ?) LIMIT ?",
                EventRow::COLUMNS
            ), false).await?,
            insert_received: p.prepare(format!(
                "INSERT INTO {ks}.inbound_by_received (tenant, hour, received_at, message_key)
                 VALUES (?, ?, ?, ?)"
            ), true).await?,
            received_after: p.prepare(format!(
                "SELECT received_at, message_key FROM {ks}.inbound_by_received
                 WHERE tenant = ? AND hour = ?
                   AND (received_at, message_key) > (?, ?) AND (received_at, message_key) < (?, '')
                 LIMIT ?"
            ), false).await?,
            get_cursor: p.prepare(format!(
                "SELECT at_ms FROM {ks}.cursors WHERE name = ?"
            ), false).await?,
            // The write's timestamp is the cursor's own time: a later position always wins, an
            // earlier one written late is ignored (a cursor never moves back).
            set_cursor: p.prepare(format!(
                "INSERT INTO {ks}.cursors (name, at_ms) VALUES (?, ?) USING TIMESTAMP ?"
            ), true).await?,
        })
    }
}

impl ScyllaStore {
    /// Writes a message unless its key exists. Returns whether it was new.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn write_message(
        &self,
        tenant: &TenantId,
        key: &MessageKey,
        wamid: &Wamid,
        number: &PhoneNumberId,
        customer: &WaId,
        direction: Direction,
        kind: &str,
        text: Option<&str>,
        at_ms: UnixMillis,
        raw: &str,
    ) -> StoreResult<Option<UnixMillis>> {
        let stored = self
            .session
            .execute_unpaged(&self.messages.lookup_key, (tenant.as_str(), key.as_str()))
            .await
            .map_err(unavailable)?;
        let existing = first_row::<KeyLocation>(stored)?;
        let existed = existing.is_some();
        let conversation = self.keys.conversation_id(tenant, number, customer);
        // A redelivery keeps the place its first delivery got; a new inbound message goes just
        // after the latest of its second (`arrival_at`). Two deliveries of one conversation at
        // once may read the same latest and tie; the key breaks the tie then.
        let at_ms = match existing {
            Some(placed) => placed.at_ms,
            None if direction == Direction::Inbound => {
                let second = at_ms.div_euclid(1000) * 1000;
                let latest = self
                    .session
                    .execute_unpaged(
                        &self.messages.latest_in_second,
                        (
                            tenant.as_str(),
                            conversation.as_str(),
                            day_bucket(at_ms),
                            second,
                            second + 1000,
                        ),
                    )
                    .await
                    .map_err(unavailable)?;
                arrival_at(at_ms, first_row::<(i64,)>(latest)?.map(|(at,)| at))
            }
            None => at_ms,
        };
        let bucket = day_bucket(at_ms);
        // Upsert even when the key existed: a previous attempt may have died between these
        // statements, and every one of them is idempotent.
        self.session
            .execute_unpaged(
                &self.messages.insert_message,
                &MessageRow {
                    tenant: tenant.as_str().to_owned(),
                    conversation_id: conversation.as_str().to_owned(),
                    bucket,
                    at_ms,
                    message_key: key.as_str().to_owned(),
                    wamid: wamid.as_str().to_owned(),
                    number: number.as_str().to_owned(),
                    customer: customer.as_str().to_owned(),
                    direction: direction.as_str().to_owned(),
                    kind: kind.to_owned(),
                    body: text.map(str::to_owned),
                    raw: raw.to_owned(),
                },
            )
            .await
            .map_err(unavailable)?;
        if let Some(text) = text {
            self.index_text(tenant, &conversation, key, at_ms, text)
                .await?;
        }
        self.session
            .execute_unpaged(
                &self.messages.insert_bucket,
                (tenant.as_str(), conversation.as_str(), bucket),
            )
            .await
            .map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.messages.upsert_conversation,
                (
                    tenant.as_str(),
                    conversation.as_str(),
                    number.as_str(),
                    customer.as_str(),
                    at_ms,
                    at_ms.saturating_mul(1000),
                ),
            )
            .await
            .map_err(unavailable)?;
        // The key row goes last: once it exists, every row above does.
        self.session
            .execute_unpaged(
                &self.messages.insert_key,
                (
                    tenant.as_str(),
                    key.as_str(),
                    conversation.as_str(),
                    bucket,
                    at_ms,
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok((!existed).then_some(at_ms))
    }

    pub(super) async fn status_of(
        &self,
        tenant: &str,
        wamid: &str,
    ) -> StoreResult<Option<StatusRecord>> {
        let result = self
            .session
            .execute_unpaged(&self.messages.latest_status, (tenant, wamid))
            .await
            .map_err(unavailable)?;
        let row = first_row::<StatusRow>(result)?;
        row.map(|r| {
            Ok(StatusRecord {
                wamid: Wamid::new(wamid),
                status: MessageStatus::parse(&r.status)
                    .ok_or_else(|| StoreError::Corrupt(format!("status {}", r.status)))?,
                at_ms: r.at_ms,
                error_codes: r.error_codes.unwrap_or_default(),
            })
        })
        .transpose()
    }

    pub(super) async fn to_record(&self, row: MessageRow) -> StoreResult<(MessageRecord, i64)> {
        let direction = Direction::parse(&row.direction)
            .ok_or_else(|| StoreError::Corrupt(format!("direction {}", row.direction)))?;
        let (status, error_codes) = match direction {
            Direction::Inbound => (MessageStatus::Received, Vec::new()),
            Direction::Outbound => self
                .status_of(&row.tenant, &row.wamid)
                .await?
                .map_or((MessageStatus::Accepted, Vec::new()), |s| {
                    (s.status, s.error_codes)
                }),
        };
        Ok((
            MessageRecord {
                tenant: TenantId::new(row.tenant),
                key: MessageKey::new(row.message_key),
                conversation: ConversationId::new(row.conversation_id),
                wamid: Wamid::new(row.wamid),
                number: PhoneNumberId::new(row.number),
                customer: WaId::new(row.customer),
                direction,
                kind: row.kind,
                text: row.body,
                at_ms: row.at_ms,
                status,
                error_codes,
                raw: row.raw,
            },
            row.bucket,
        ))
    }
}

#[async_trait]
impl MessageStore for ScyllaStore {
    async fn ingest(&self, batch: IngestBatch) -> StoreResult<IngestReport> {
        let mut report = IngestReport::default();
        // Journal first: the raw body is durable before anything is interpreted. Its id is a
        // digest of the body (the row's clustering key), so a redelivery the same day
        // overwrites the same row; the digest also spreads a day over JOURNAL_SHARDS partitions.
        let digest = <sha2::Sha256 as sha2::Digest>::digest(&batch.raw_body);
        let journal_id = hex::encode(digest);
        let shard = i32::from(digest[0]) % JOURNAL_SHARDS;
        self.session
            .execute_unpaged(
                &self.messages.insert_journal,
                (
                    day_bucket(batch.received_at),
                    shard,
                    journal_id.as_str(),
                    batch.received_at,
                    batch.raw_body.as_slice(),
                ),
            )
            .await
            .map_err(unavailable)?;
        for (tenant, touch) in contact_touches(&batch.events) {
            self.touch(&tenant, &touch, batch.received_at).await?;
        }
        for (tenant, event) in &batch.events {
            match event {
                InboundEvent::Consent(_) => {}
                InboundEvent::Media(m) => self.claim_media(m).await?,
                InboundEvent::Charge(charge) => {
                    if self.insert_charge(charge).await? {
                        report.charges_new += 1;
                    }
                }
                InboundEvent::Contact(c) => {
                    self.session
                        .execute_unpaged(
                            &self.messages.upsert_contact,
                            (
                                // Absent fields are left as they are (unset), never bound as
                                // NULL: a webhook without a profile name must not erase the
                                // name (nor write a tombstone), as SQLite's COALESCE keeps it.
                                unset_if_none(c.name.as_deref()),
                                unset_if_none(c.user_id.as_deref()),
                                batch.received_at,
                                tenant.as_str(),
                                c.wa_id.as_str(),
                            ),
                        )
                        .await
                        .map_err(unavailable)?;
                }
                InboundEvent::Message(m) => {
                    // Indexed for replay before the message is written: a stop between the two
                    // leaves an index row a replay skips (no message under it) and the
                    // redelivery writes again, never a message the replay cannot find.
                    self.session
                        .execute_unpaged(
                            &self.messages.insert_received,
                            (
                                tenant.as_str(),
                                received_hour(batch.received_at),
                                batch.received_at,
                                m.key.as_str(),
                            ),
                        )
                        .await
                        .map_err(unavailable)?;
                    let new = self
                        .write_message(
                            tenant,
                            &m.key,
                            &m.wamid,
                            &m.number,
                            &m.customer,
                            Direction::Inbound,
                            &m.kind,
                            m.text.as_deref(),
                            m.at_ms,
                            &m.raw,
                        )
                        .await?;
                    if let Some(at_ms) = new {
                        report.messages_new += 1;
                        report.new_messages.insert(m.key.clone(), at_ms);
                    } else {
                        report.messages_duplicate += 1;
                    }
                }
                InboundEvent::Status(s) => {
                    // IF NOT EXISTS tells a new status from a redelivered one; either way the
                    // row for (wamid, rank) is the same.
                    // A plain, idempotent insert: the row for (wamid, rank) is the same however
                    // often it is written. (It was a lightweight transaction only to count
                    // duplicates for a metric: Paxos on the busiest write, and marked idempotent
                    // so a driver retry could count a new status as a duplicate.)
                    self.session
                        .execute_unpaged(
                            &self.messages.insert_status,
                            (
                                tenant.as_str(),
                                s.wamid.as_str(),
                                s.status.rank(),
                                s.status.as_str(),
                                s.at_ms,
                                &s.error_codes,
                                s.raw.as_str(),
                            ),
                        )
                        .await
                        .map_err(unavailable)?;
                    report.statuses_new += 1;
                }
                InboundEvent::Account(e) => {
                    let bucket = day_bucket(e.at_ms);
                    self.session
                        .execute_unpaged(
                            &self.messages.insert_event,
                            (
                                tenant.as_str(),
                                bucket,
                                e.at_ms,
                                event_key(&e.field, &e.raw),
                                e.number.as_ref().map(|n| n.as_str()),
                                e.field.as_str(),
                                e.raw.as_str(),
                            ),
                        )
                        .await
                        .map_err(unavailable)?;
                    self.session
                        .execute_unpaged(
                            &self.messages.insert_event_bucket,
                            (tenant.as_str(), bucket),
                        )
                        .await
                        .map_err(unavailable)?;
                    report.events_new += 1;
                }
            }
        }
        // No counters after the key rows: once a message's key row exists nothing else can fail
        // the webhook, so a failure before it means Meta's retry finds the message new and
        // announces it (a counter that timed out here used to fail the webhook after the key row,
        // and the retry then saw a duplicate that nobody was ever told of). Rates are in /metrics.
        Ok(report)
    }

    async fn record_outbound(&self, o: OutboundRecord) -> StoreResult<()> {
        self.write_message(
            &o.tenant,
            &outbound_message_key(&o.wamid),
            &o.wamid,
            &o.number,
            &o.customer,
            Direction::Outbound,
            &o.kind,
            o.text.as_deref(),
            o.at_ms,
            &o.raw,
        )
        .await?;
        let touch = ContactTouch {
            customer: o.customer.as_str().to_owned(),
            outbound_at: Some(o.at_ms),
            ..Default::default()
        };
        self.touch(&o.tenant, &touch, o.at_ms).await
    }

    async fn search_messages(
        &self,
        tenant: &TenantId,
        terms: &[String],
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<SearchHit>> {
        let limit = check_limit(limit)?;
        self.search(tenant, terms, cursor, limit).await
    }

    async fn get_message(
        &self,
        tenant: &TenantId,
        key: &MessageKey,
    ) -> StoreResult<Option<MessageRecord>> {
        let located = self
            .session
            .execute_unpaged(&self.messages.lookup_key, (tenant.as_str(), key.as_str()))
            .await
            .map_err(unavailable)?;
        let Some(KeyLocation {
            conversation_id: conversation,
            bucket,
            at_ms,
        }) = first_row::<KeyLocation>(located)?
        else {
            return Ok(None);
        };
        let result = self
            .session
            .execute_unpaged(
                &self.messages.get_message,
                (
                    tenant.as_str(),
                    conversation.as_str(),
                    bucket,
                    at_ms,
                    key.as_str(),
                ),
            )
            .await
            .map_err(unavailable)?;
        match rows_of::<MessageRow>(result)?.into_iter().next() {
            Some(row) => Ok(Some(self.to_record(row).await?.0)),
            None => Ok(None),
        }
    }

    async fn latest_status(
        &self,
        tenant: &TenantId,
        wamid: &Wamid,
    ) -> StoreResult<Option<StatusRecord>> {
        self.status_of(tenant.as_str(), wamid.as_str()).await
    }

    async fn conversation_history(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<MessageRecord>> {
        let limit = check_limit(limit)?;
        let after = cursor.map(Cursor::decode_history).transpose()?;
        let start_bucket = after.as_ref().map(|(b, _, _)| *b).unwrap_or(i64::MAX);
        let buckets: Vec<(i64,)> = rows_of(
            self.session
                .execute_unpaged(
                    &self.messages.list_buckets,
                    (tenant.as_str(), conversation.as_str(), start_bucket),
                )
                .await
                .map_err(unavailable)?,
        )?;
        let mut page = PageCollector::new(limit);
        for (bucket,) in buckets {
            let want = page.wants() as i32;
            let result = match &after {
                Some((b, at, key)) if *b == bucket => {
                    self.session
                        .execute_unpaged(
                            &self.messages.history_after,
                            (
                                tenant.as_str(),
                                conversation.as_str(),
                                bucket,
                                *at,
                                key.as_str(),
                                want,
                            ),
                        )
                        .await
                }
                _ => {
                    self.session
                        .execute_unpaged(
                            &self.messages.history_first,
                            (tenant.as_str(), conversation.as_str(), bucket, want),
                        )
                        .await
                }
            }
            .map_err(unavailable)?;
            for row in rows_of::<MessageRow>(result)? {
                let (m, b) = self.to_record(row).await?;
                let (at, key) = (m.at_ms, m.key.as_str().to_owned());
                if page.push(m, b, at, &key) {
                    return Ok(page.finish());
                }
            }
        }
        Ok(page.finish())
    }

    async fn conversation_alias(
        &self,
        tenant: &TenantId,
        old_id: &str,
    ) -> StoreResult<Option<ConversationId>> {
        let row = self
            .session
            .execute_unpaged(&self.messages.conversation_alias, (tenant.as_str(), old_id))
            .await
            .map_err(unavailable)?;
        Ok(first_row::<(String,)>(row)?.map(|(id,)| ConversationId::new(id)))
    }

    async fn get_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Option<ConversationRecord>> {
        let row = self
            .session
            .execute_unpaged(
                &self.messages.get_conversation,
                (tenant.as_str(), conversation.as_str()),
            )
            .await
            .map_err(unavailable)?;
        let Some(ConversationRow {
            number,
            customer,
            last_message_at,
        }) = first_row::<ConversationRow>(row)?
        else {
            return Ok(None);
        };
        let name = self
            .session
            .execute_unpaged(
                &self.messages.get_contact_name,
                (tenant.as_str(), customer.as_str()),
            )
            .await
            .map_err(unavailable)?;
        let name = first_row::<(Option<String>,)>(name)?.and_then(|(n,)| n);
        Ok(Some(ConversationRecord {
            tenant: tenant.clone(),
            id: conversation.clone(),
            number: PhoneNumberId::new(number),
            customer: WaId::new(customer),
            customer_name: name,
            last_message_at,
        }))
    }

    async fn scan_messages(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<MessageRecord>> {
        let limit = check_limit(limit)?;
        let state = match cursor {
            None => PagingState::start(),
            Some(c) => PagingState::new_from_raw_bytes(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(c.as_str())
                    .map_err(|_| StoreError::Invalid("malformed cursor".into()))?,
            ),
        };
        let mut scan = self.messages.scan.clone();
        scan.set_page_size(limit as i32);
        let (result, next) = self
            .session
            .execute_single_page(&scan, &[], state)
            .await
            .map_err(unavailable)?;
        let mut items = Vec::new();
        for row in rows_of::<MessageRow>(result)? {
            items.push(self.to_record(row).await?.0);
        }
        let next = match next {
            PagingStateResponse::HasMorePages { state } => state.as_bytes_slice().map(|b| {
                Cursor::from_token(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&b[..]))
            }),
            PagingStateResponse::NoMorePages => None,
        };
        Ok(Page { items, next })
    }

    async fn received_between(
        &self,
        tenant: &TenantId,
        since: UnixMillis,
        until: UnixMillis,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<Received>> {
        let limit = check_limit(limit)?;
        // Before the first row of `since`: the empty key sorts first.
        let (first_hour, mut at, mut key) = match cursor {
            Some(c) => c.decode_history()?,
            None => (received_hour(since), since - 1, "\u{10FFFF}".to_owned()),
        };
        let mut page = PageCollector::new(limit);
        for hour in first_hour..=received_hour(until) {
            let result = self
                .session
                .execute_unpaged(
                    &self.messages.received_after,
                    (
                        tenant.as_str(),
                        hour,
                        at.max(since - 1),
                        key.as_str(),
                        until,
                        page.wants() as i32,
                    ),
                )
                .await
                .map_err(unavailable)?;
            for (received_at, message_key) in rows_of::<(i64, String)>(result)? {
                let item = Received {
                    key: MessageKey::new(message_key.clone()),
                    received_at,
                };
                if page.push(item, hour, received_at, &message_key) {
                    return Ok(page.finish());
                }
            }
            // Later hours start from their beginning.
            (at, key) = (since - 1, "\u{10FFFF}".to_owned());
        }
        Ok(page.finish())
    }

    async fn cursor(&self, name: &str) -> StoreResult<Option<UnixMillis>> {
        let result = self
            .session
            .execute_unpaged(&self.messages.get_cursor, (name,))
            .await
            .map_err(unavailable)?;
        Ok(first_row::<(i64,)>(result)?.map(|(at,)| at))
    }

    async fn set_cursor(&self, name: &str, at: UnixMillis) -> StoreResult<()> {
        self.session
            .execute_unpaged(
                &self.messages.set_cursor,
                (name, at, at.saturating_mul(1000)),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn account_events(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<AccountEventRecord>> {
        let limit = check_limit(limit)?;
        let after = cursor.map(Cursor::decode_history).transpose()?;
        let start_bucket = after.as_ref().map(|(b, _, _)| *b).unwrap_or(i64::MAX);
        let buckets: Vec<(i64,)> = rows_of(
            self.session
                .execute_unpaged(
                    &self.messages.list_event_buckets,
                    (tenant.as_str(), start_bucket),
                )
                .await
                .map_err(unavailable)?,
        )?;
        let mut page = PageCollector::new(limit);
        for (bucket,) in buckets {
            let want = page.wants() as i32;
            let result = match &after {
                Some((b, at, key)) if *b == bucket => {
                    self.session
                        .execute_unpaged(
                            &self.messages.events_after,
                            (tenant.as_str(), bucket, *at, key.as_str(), want),
                        )
                        .await
                }
                _ => {
                    self.session
                        .execute_unpaged(
                            &self.messages.events_first,
                            (tenant.as_str(), bucket, want),
                        )
                        .await
                }
            }
            .map_err(unavailable)?;
            for EventRow {
                number,
                field,
                at_ms,
                raw,
                event_key: key,
            } in rows_of::<EventRow>(result)?
            {
                let event = AccountEventRecord {
                    tenant: tenant.clone(),
                    number: number.map(PhoneNumberId::new),
                    field,
                    at_ms,
                    raw,
                };
                if page.push(event, bucket, at_ms, &key) {
                    return Ok(page.finish());
                }
            }
        }
        Ok(page.finish())
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        // No counts on ScyllaDB (see `StoreStats`); a store that answers is all this can say.
        self.ping().await?;
        Ok(StoreStats::default())
    }

    async fn schema_ledger(&self) -> StoreResult<Vec<crate::store::ledger::Applied>> {
        super::migrate::ledger_rows(&self.session, &self.keyspace).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.session
            .query_unpaged("SELECT release_version FROM system.local", &[])
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
