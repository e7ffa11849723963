//! Messages, statuses, account events and the webhook journal: what `ingest` writes in one
//! savepoint per webhook, and the paged reads of histories.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use switchboard_shared::{
    ConversationId, Direction, MessageKey, MessageStatus, PhoneNumberId, TenantId, WaId, Wamid,
};

use super::{unavailable, SqliteStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::{check_limit, IdKeys, MessageStore, SearchHit, StoreError, StoreResult};

fn ingest(conn: &Connection, batch: &IngestBatch, keys: &IdKeys) -> StoreResult<IngestReport> {
    let mut report = IngestReport::default();
    conn.prepare_cached(
        "INSERT INTO webhook_journal (bucket, received_at, body) VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut s| {
        s.execute(params![
            day_bucket(batch.received_at),
            batch.received_at,
            batch.raw_body
        ])
    })
    .map_err(unavailable)?;
    report.journal_seq = Some(conn.last_insert_rowid());
    for (tenant, touch) in contact_touches(&batch.events) {
        super::contacts::touch(conn, keys, &tenant, &touch, batch.received_at)?;
    }
    for (tenant, event) in &batch.events {
        match event {
            InboundEvent::Consent(_) => {}
            InboundEvent::Media(m) => super::media::write_media(conn, m, false)?,
            InboundEvent::Charge(charge) => {
                if super::costs::insert_charge(conn, charge)? {
                    report.charges_new += 1;
                }
            }
            InboundEvent::Contact(c) => {
                conn.prepare_cached(
                    "INSERT INTO contacts_by_tenant (tenant, wa_id, name, user_id, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (tenant, wa_id) DO UPDATE SET
                       name = COALESCE(excluded.name, name),
                       user_id = COALESCE(excluded.user_id, user_id),
                       updated_at = MAX(updated_at, excluded.updated_at)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        tenant.as_str(),
                        c.wa_id.as_str(),
                        c.name,
                        c.user_id,
                        batch.received_at
                    ])
                })
                .map_err(unavailable)?;
            }
            InboundEvent::Message(m) => {
                let conversation = keys.conversation_id(tenant, &m.number, &m.customer);
                let at_ms = arrival_at(
                    m.at_ms,
                    latest_in_second(conn, tenant, &conversation, m.at_ms)?,
                );
                let inserted = insert_message(
                    conn,
                    tenant,
                    &conversation,
                    &m.key,
                    &m.wamid,
                    &m.number,
                    &m.customer,
                    Direction::Inbound,
                    &m.kind,
                    m.text.as_deref(),
                    at_ms,
                    &m.raw,
                )?;
                if inserted {
                    conn.prepare_cached(
                        "INSERT OR IGNORE INTO inbound_by_received
                         (tenant, hour, received_at, message_key) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            tenant.as_str(),
                            received_hour(batch.received_at),
                            batch.received_at,
                            m.key.as_str()
                        ])
                    })
                    .map_err(unavailable)?;
                    report.messages_new += 1;
                    report.new_messages.insert(m.key.clone(), at_ms);
                } else {
                    report.messages_duplicate += 1;
                }
            }
            InboundEvent::Status(s) => {
                let changed = conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO statuses_by_message
                         (tenant, wamid, rank, status, at_ms, error_codes, raw)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .and_then(|mut st| {
                        st.execute(params![
                            tenant.as_str(),
                            s.wamid.as_str(),
                            s.status.rank(),
                            s.status.as_str(),
                            s.at_ms,
                            encode_codes(&s.error_codes),
                            s.raw
                        ])
                    })
                    .map_err(unavailable)?;
                if changed > 0 {
                    report.statuses_new += 1;
                } else {
                    report.statuses_duplicate += 1;
                }
            }
            InboundEvent::Account(e) => {
                let changed = conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO account_events_by_tenant
                         (tenant, bucket, at_ms, event_key, number, field, raw)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .and_then(|mut st| {
                        st.execute(params![
                            tenant.as_str(),
                            day_bucket(e.at_ms),
                            e.at_ms,
                            event_key(&e.field, &e.raw),
                            e.number.as_ref().map(|n| n.as_str()),
                            e.field,
                            e.raw
                        ])
                    })
                    .map_err(unavailable)?;
                if changed > 0 {
                    report.events_new += 1;
                } else {
                    report.events_duplicate += 1;
                }
            }
        }
    }
    Ok(report)
}

/// The latest message stored in the conversation within the second of `at_ms`, if any.
fn latest_in_second(
    conn: &Connection,
    tenant: &TenantId,
    conversation: &ConversationId,
    at_ms: UnixMillis,
) -> StoreResult<Option<UnixMillis>> {
    let second = at_ms.div_euclid(1000) * 1000;
    conn.prepare_cached(
        "SELECT MAX(at_ms) FROM messages_by_conversation
         WHERE tenant = ?1 AND conversation_id = ?2 AND bucket = ?3 AND at_ms >= ?4 AND at_ms < ?5",
    )
    .and_then(|mut s| {
        s.query_row(
            params![
                tenant.as_str(),
                conversation.as_str(),
                day_bucket(at_ms),
                second,
                second + 1000
            ],
            |r| r.get::<_, Option<i64>>(0),
        )
    })
    .map_err(unavailable)
}

/// Inserts a message unless its key is already stored. Returns whether it was new.
#[allow(clippy::too_many_arguments)]
fn insert_message(
    conn: &Connection,
    tenant: &TenantId,
    conversation: &ConversationId,
    key: &MessageKey,
    wamid: &Wamid,
    number: &PhoneNumberId,
    customer: &WaId,
    direction: Direction,
    kind: &str,
    text: Option<&str>,
    at_ms: UnixMillis,
    raw: &str,
) -> StoreResult<bool> {
    let bucket = day_bucket(at_ms);
    let new = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO messages_by_key (tenant, message_key, conversation_id, bucket, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| {
            s.execute(params![
                tenant.as_str(),
                key.as_str(),
                conversation.as_str(),
                bucket,
                at_ms
            ])
        })
        .map_err(unavailable)?
        > 0;
    if !new {
        return Ok(false);
    }
    conn.prepare_cached(
        "INSERT INTO messages_by_conversation (tenant, conversation_id, bucket, at_ms, message_key,
           wamid, number, customer, direction, kind, body, raw)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .and_then(|mut s| {
        s.execute(params![
            tenant.as_str(),
            conversation.as_str(),
            bucket,
            at_ms,
            key.as_str(),
            wamid.as_str(),
            number.as_str(),
            customer.as_str(),
            direction.as_str(),
            kind,
            text,
            raw
        ])
    })
    .map_err(unavailable)?;
    if let Some(text) = text {
        super::search::index(conn, tenant, conversation, key, at_ms, text)?;
    }
    conn.prepare_cached(
        "INSERT OR IGNORE INTO buckets_by_conversation (tenant, conversation_id, bucket)
         VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut s| s.execute(params![tenant.as_str(), conversation.as_str(), bucket]))
    .map_err(unavailable)?;
    conn.prepare_cached(
        "INSERT INTO conversations_by_id (tenant, conversation_id, number, customer, last_message_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant, conversation_id)
         DO UPDATE SET last_message_at = MAX(last_message_at, excluded.last_message_at)",
    )
    .and_then(|mut s| {
        s.execute(params![
            tenant.as_str(),
            conversation.as_str(),
            number.as_str(),
            customer.as_str(),
            at_ms
        ])
    })
    .map_err(unavailable)?;
    Ok(true)
}

pub(super) fn insert_outbound(
    conn: &Connection,
    o: &OutboundRecord,
    keys: &IdKeys,
) -> StoreResult<()> {
    let conversation = keys.conversation_id(&o.tenant, &o.number, &o.customer);
    insert_message(
        conn,
        &o.tenant,
        &conversation,
        &outbound_message_key(&o.wamid),
        &o.wamid,
        &o.number,
        &o.customer,
        Direction::Outbound,
        &o.kind,
        o.text.as_deref(),
        o.at_ms,
        &o.raw,
    )?;
    let touch = ContactTouch {
        customer: o.customer.as_str().to_owned(),
        outbound_at: Some(o.at_ms),
        ..Default::default()
    };
    super::contacts::touch(conn, keys, &o.tenant, &touch, o.at_ms)
}

fn encode_codes(codes: &[i64]) -> String {
    codes
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_codes(codes: &str) -> Vec<i64> {
    codes.split(',').filter_map(|c| c.parse().ok()).collect()
}

/// The columns every message read selects, with the latest status resolved.
const MESSAGE_COLUMNS: &str = "m.tenant, m.message_key, m.conversation_id, m.wamid, m.number,
    m.customer, m.direction, m.kind, m.body, m.at_ms, m.raw, m.bucket,
    (SELECT s.status || ' ' || COALESCE(s.error_codes, '') FROM statuses_by_message s
      WHERE s.tenant = m.tenant AND s.wamid = m.wamid ORDER BY s.rank DESC LIMIT 1)";

fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(MessageRecord, i64)> {
    let direction: String = row.get(6)?;
    let direction = Direction::parse(&direction).unwrap_or(Direction::Inbound);
    // The latest status and its error codes, as `status codes` (`failed 131047`).
    let latest: Option<String> = row.get(12)?;
    let (latest, codes) = latest
        .as_deref()
        .map_or(("", ""), |l| l.split_once(' ').unwrap_or((l, "")));
    let (status, error_codes) = match direction {
        Direction::Inbound => (MessageStatus::Received, Vec::new()),
        Direction::Outbound => (
            MessageStatus::parse(latest).unwrap_or(MessageStatus::Accepted),
            decode_codes(codes),
        ),
    };
    Ok((
        MessageRecord {
            tenant: TenantId::new(row.get::<_, String>(0)?),
            key: MessageKey::new(row.get::<_, String>(1)?),
            conversation: ConversationId::new(row.get::<_, String>(2)?),
            wamid: Wamid::new(row.get::<_, String>(3)?),
            number: PhoneNumberId::new(row.get::<_, String>(4)?),
            customer: WaId::new(row.get::<_, String>(5)?),
            direction,
            kind: row.get(7)?,
            text: row.get(8)?,
            at_ms: row.get(9)?,
            status,
            error_codes,
            raw: row.get(10)?,
        },
        row.get(11)?,
    ))
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn ingest(&self, batch: IngestBatch) -> StoreResult<IngestReport> {
        self.write(move |conn, keys| ingest(conn, &batch, keys))
            .await
    }

    async fn record_outbound(&self, message: OutboundRecord) -> StoreResult<()> {
        self.write(move |conn, keys| insert_outbound(conn, &message, keys))
            .await
    }

    async fn search_messages(
        &self,
        tenant: &TenantId,
        terms: &[String],
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<SearchHit>> {
        let limit = check_limit(limit)?;
        let (tenant, terms, cursor) = (tenant.clone(), terms.to_vec(), cursor.cloned());
        self.read(move |conn| super::search::find(conn, &tenant, &terms, cursor.as_ref(), limit))
            .await
    }

    async fn get_message(
        &self,
        tenant: &TenantId,
        key: &MessageKey,
    ) -> StoreResult<Option<MessageRecord>> {
        let (tenant, key) = (tenant.clone(), key.clone());
        self.read(move |conn| {
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages_by_key k
                 JOIN messages_by_conversation m ON m.tenant = k.tenant
                  AND m.conversation_id = k.conversation_id AND m.bucket = k.bucket
                  AND m.at_ms = k.at_ms AND m.message_key = k.message_key
                 WHERE k.tenant = ?1 AND k.message_key = ?2"
            );
            conn.prepare_cached(&sql)
                .and_then(|mut s| {
                    s.query_row([tenant.as_str(), key.as_str()], message_from_row)
                        .optional()
                })
                .map(|r| r.map(|(m, _)| m))
                .map_err(unavailable)
        })
        .await
    }

    async fn latest_status(
        &self,
        tenant: &TenantId,
        wamid: &Wamid,
    ) -> StoreResult<Option<StatusRecord>> {
        let (tenant, wamid) = (tenant.clone(), wamid.clone());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT status, at_ms, error_codes FROM statuses_by_message
                 WHERE tenant = ?1 AND wamid = ?2 ORDER BY rank DESC LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row([tenant.as_str(), wamid.as_str()], |r| {
                    let status: String = r.get(0)?;
                    let codes: String = r.get(2)?;
                    Ok((status, r.get::<_, i64>(1)?, codes))
                })
                .optional()
            })
            .map_err(unavailable)?
            .map(|(status, at_ms, codes)| {
                Ok(StatusRecord {
                    wamid: wamid.clone(),
                    status: MessageStatus::parse(&status)
                        .ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
                    at_ms,
                    error_codes: decode_codes(&codes),
                })
            })
            .transpose()
        })
        .await
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
        let (tenant, conversation) = (tenant.clone(), conversation.clone());
        self.read(move |conn| {
            // Walk buckets newest first, exactly as the Scylla backend does, taking rows from
            // each partition until the page is full.
            let mut page = PageCollector::new(limit);
            let start_bucket = after.as_ref().map(|(b, _, _)| *b).unwrap_or(i64::MAX);
            let mut buckets = conn
                .prepare_cached(
                    "SELECT bucket FROM buckets_by_conversation
                     WHERE tenant = ?1 AND conversation_id = ?2 AND bucket <= ?3
                     ORDER BY bucket DESC",
                )
                .map_err(unavailable)?;
            let bucket_list: Vec<i64> = buckets
                .query_map(
                    params![tenant.as_str(), conversation.as_str(), start_bucket],
                    |r| r.get(0),
                )
                .map_err(unavailable)?
                .collect::<Result<_, _>>()
                .map_err(unavailable)?;
            let first_sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages_by_conversation m
                 WHERE m.tenant = ?1 AND m.conversation_id = ?2 AND m.bucket = ?3
                 ORDER BY m.at_ms DESC, m.message_key DESC LIMIT ?4"
            );
            let after_sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages_by_conversation m
                 WHERE m.tenant = ?1 AND m.conversation_id = ?2 AND m.bucket = ?3
                   AND (m.at_ms, m.message_key) < (?5, ?6)
                 ORDER BY m.at_ms DESC, m.message_key DESC LIMIT ?4"
            );
            for bucket in bucket_list {
                let want = page.wants() as i64;
                let rows: Vec<(MessageRecord, i64)> = match &after {
                    Some((b, at, key)) if *b == bucket => {
                        conn.prepare_cached(&after_sql).and_then(|mut s| {
                            s.query_map(
                                params![
                                    tenant.as_str(),
                                    conversation.as_str(),
                                    bucket,
                                    want,
                                    at,
                                    key
                                ],
                                message_from_row,
                            )?
                            .collect()
                        })
                    }
                    _ => conn.prepare_cached(&first_sql).and_then(|mut s| {
                        s.query_map(
                            params![tenant.as_str(), conversation.as_str(), bucket, want],
                            message_from_row,
                        )?
                        .collect()
                    }),
                }
                .map_err(unavailable)?;
                for (m, b) in rows {
                    let (at, key) = (m.at_ms, m.key.as_str().to_owned());
                    if page.push(m, b, at, &key) {
                        return Ok(page.finish());
                    }
                }
            }
            Ok(page.finish())
        })
        .await
    }

    async fn conversation_alias(
        &self,
        tenant: &TenantId,
        old_id: &str,
    ) -> StoreResult<Option<ConversationId>> {
        let (tenant, old_id) = (tenant.clone(), old_id.to_owned());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT new_id FROM conversation_aliases WHERE tenant = ?1 AND old_id = ?2",
            )
            .and_then(|mut s| {
                s.query_row([tenant.as_str(), old_id.as_str()], |r| {
                    r.get::<_, String>(0).map(ConversationId::new)
                })
                .optional()
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn get_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Option<ConversationRecord>> {
        let (tenant, conversation) = (tenant.clone(), conversation.clone());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT c.number, c.customer, c.last_message_at, k.name FROM conversations_by_id c
                 LEFT JOIN contacts_by_tenant k ON k.tenant = c.tenant AND k.wa_id = c.customer
                 WHERE c.tenant = ?1 AND c.conversation_id = ?2",
            )
            .and_then(|mut s| {
                s.query_row([tenant.as_str(), conversation.as_str()], |r| {
                    Ok(ConversationRecord {
                        tenant: tenant.clone(),
                        id: conversation.clone(),
                        number: PhoneNumberId::new(r.get::<_, String>(0)?),
                        customer: WaId::new(r.get::<_, String>(1)?),
                        last_message_at: r.get(2)?,
                        customer_name: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn scan_messages(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<MessageRecord>> {
        let limit = check_limit(limit)?;
        let after = cursor.map(|c| c.decode(5)).transpose()?;
        self.read(move |conn| {
            let rows: Vec<(MessageRecord, i64)> = match &after {
                None => {
                    let sql = format!(
                        "SELECT {MESSAGE_COLUMNS} FROM messages_by_conversation m
                         ORDER BY m.tenant, m.conversation_id, m.bucket, m.at_ms, m.message_key
                         LIMIT ?1"
                    );
                    conn.prepare_cached(&sql).and_then(|mut s| {
                        s.query_map(params![limit as i64], message_from_row)?
                            .collect()
                    })
                }
                Some(f) => {
                    let bucket: i64 = f[2]
                        .parse()
                        .map_err(|_| StoreError::Invalid("malformed cursor".into()))?;
                    let at: i64 = f[3]
                        .parse()
                        .map_err(|_| StoreError::Invalid("malformed cursor".into()))?;
                    let sql = format!(
                        "SELECT {MESSAGE_COLUMNS} FROM messages_by_conversation m
                         WHERE (m.tenant, m.conversation_id, m.bucket, m.at_ms, m.message_key)
                             > (?2, ?3, ?4, ?5, ?6)
                         ORDER BY m.tenant, m.conversation_id, m.bucket, m.at_ms, m.message_key
                         LIMIT ?1"
                    );
                    conn.prepare_cached(&sql).and_then(|mut s| {
                        s.query_map(
                            params![limit as i64, f[0], f[1], bucket, at, f[4]],
                            message_from_row,
                        )?
                        .collect()
                    })
                }
            }
            .map_err(unavailable)?;
            let next = if rows.len() == limit {
                rows.last().map(|(m, bucket)| {
                    Cursor::encode(&[
                        m.tenant.as_str(),
                        m.conversation.as_str(),
                        &bucket.to_string(),
                        &m.at_ms.to_string(),
                        m.key.as_str(),
                    ])
                })
            } else {
                None
            };
            Ok(Page {
                items: rows.into_iter().map(|(m, _)| m).collect(),
                next,
            })
        })
        .await
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
        let after = match cursor {
            Some(c) => c.decode_history()?,
            None => (received_hour(since), since, String::new()),
        };
        let tenant = tenant.clone();
        self.read(move |conn| {
            let (hour, at, key) = after;
            let mut stmt = conn
                .prepare_cached(
                    "SELECT hour, received_at, message_key FROM inbound_by_received
                     WHERE tenant = ?1 AND (hour, received_at, message_key) > (?2, ?3, ?4)
                       AND hour <= ?5 AND received_at >= ?6 AND received_at < ?7
                     ORDER BY hour, received_at, message_key LIMIT ?8",
                )
                .map_err(unavailable)?;
            let rows: Vec<(i64, i64, String)> = stmt
                .query_map(
                    params![
                        tenant.as_str(),
                        hour,
                        at,
                        key,
                        received_hour(until),
                        since,
                        until,
                        limit as i64
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(unavailable)?
                .collect::<Result<_, _>>()
                .map_err(unavailable)?;
            let next = (rows.len() == limit)
                .then(|| {
                    rows.last()
                        .map(|(h, at, key)| Cursor::history(*h, *at, key))
                })
                .flatten();
            Ok(Page {
                items: rows
                    .into_iter()
                    .map(|(_, received_at, key)| Received {
                        key: MessageKey::new(key),
                        received_at,
                    })
                    .collect(),
                next,
            })
        })
        .await
    }

    async fn cursor(&self, name: &str) -> StoreResult<Option<UnixMillis>> {
        let name = name.to_owned();
        self.read(move |conn| {
            conn.prepare_cached("SELECT at_ms FROM cursors WHERE name = ?1")
                .and_then(|mut s| s.query_row(params![name], |r| r.get(0)).optional())
                .map_err(unavailable)
        })
        .await
    }

    async fn set_cursor(&self, name: &str, at: UnixMillis) -> StoreResult<()> {
        let name = name.to_owned();
        self.write(move |conn, _| {
            let before: Option<i64> = conn
                .prepare_cached("SELECT at_ms FROM cursors WHERE name = ?1")
                .and_then(|mut s| s.query_row(params![name], |r| r.get(0)).optional())
                .map_err(unavailable)?;
            conn.prepare_cached(
                "INSERT INTO cursors (name, at_ms) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET at_ms = MAX(at_ms, excluded.at_ms)",
            )
            .and_then(|mut s| s.execute(params![name, at]))
            .map_err(unavailable)?;
            // The index is only read for the last minutes; a week of it is plenty (Scylla
            // drops the rows by TTL). Pruned once an hour, tenant by tenant along the key.
            if before.is_none_or(|b| received_hour(b) < received_hour(at)) {
                conn.prepare_cached(
                    "DELETE FROM inbound_by_received WHERE tenant IN
                       (SELECT tenant FROM tenants_by_id) AND hour < ?1",
                )
                .and_then(|mut s| s.execute(params![received_hour(at) - 7 * 24]))
                .map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }

    async fn account_events(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<AccountEventRecord>> {
        let limit = check_limit(limit)?;
        let after = cursor.map(Cursor::decode_history).transpose()?;
        let tenant = tenant.clone();
        self.read(move |conn| {
            // Without a cursor, start after the largest possible key.
            let (b, at, key) = after.unwrap_or((i64::MAX, i64::MAX, String::new()));
            let mut stmt = conn
                .prepare_cached(
                    "SELECT number, field, at_ms, raw, bucket, event_key FROM account_events_by_tenant
                     WHERE tenant = ?1 AND (bucket, at_ms, event_key) < (?2, ?3, ?4)
                     ORDER BY bucket DESC, at_ms DESC, event_key DESC LIMIT ?5",
                )
                .map_err(unavailable)?;
            let rows: Vec<(AccountEventRecord, i64, String)> = stmt
                .query_map(params![tenant.as_str(), b, at, key, limit as i64], |r| {
                    Ok((
                        AccountEventRecord {
                            tenant: tenant.clone(),
                            number: r.get::<_, Option<String>>(0)?.map(PhoneNumberId::new),
                            field: r.get(1)?,
                            at_ms: r.get(2)?,
                            raw: r.get(3)?,
                        },
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
                .map_err(unavailable)?
                .collect::<Result<_, _>>()
                .map_err(unavailable)?;
            let next = if rows.len() == limit {
                rows.last()
                    .map(|(e, bucket, key)| Cursor::history(*bucket, e.at_ms, key))
            } else {
                None
            };
            Ok(Page {
                items: rows.into_iter().map(|(e, _, _)| e).collect(),
                next,
            })
        })
        .await
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        self.read(|conn| {
            let count = |table: &str| -> StoreResult<u64> {
                conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map(|n| n as u64)
                .map_err(unavailable)
            };
            Ok(StoreStats {
                journal_entries: Some(count("webhook_journal")?),
                messages: Some(count("messages_by_key")?),
                statuses: Some(count("statuses_by_message")?),
                account_events: Some(count("account_events_by_tenant")?),
                contacts: Some(count("contacts_by_tenant")?),
            })
        })
        .await
    }

    async fn schema_ledger(&self) -> StoreResult<Vec<crate::store::ledger::Applied>> {
        self.read(super::migrate::ledger_rows).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.guard_check()?;
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(unavailable)
        })
        .await
    }
}
