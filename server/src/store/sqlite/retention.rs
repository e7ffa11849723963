//! Retention on SQLite: a conversation's due messages removed or stripped of their text (with
//! their statuses and search rows) in one transaction, the audit log's old days under a permit,
//! and the webhook journal's old days in batches.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use switchboard_shared::{ConversationId, TenantId};

use super::{unavailable, SqliteStore};
use crate::domain::retention::{skeleton, Fate};
use crate::domain::{day_bucket, PurgeCounts, PurgeCut, UnixMillis};
use crate::store::{RetentionStore, StoreResult};

/// How many journal rows one write removes (the writer's other jobs go between batches).
const JOURNAL_BATCH: i64 = 10_000;

/// One stored message as a purge sees it.
struct Due {
    bucket: i64,
    at_ms: i64,
    key: String,
    wamid: String,
    kind: String,
    has_text: bool,
    raw: String,
}

/// Removes one message's search row (the conversation's rows are listed by
/// `message_search_rows`; the key is compared among them).
fn unindex(conn: &Connection, tenant: &str, conversation: &str, key: &str) -> StoreResult<()> {
    let row: Option<i64> = conn
        .prepare_cached(
            "SELECT s.rowid FROM message_search s
             JOIN message_search_rows r ON s.rowid = r.search_rowid
             WHERE r.tenant = ?1 AND r.conversation_id = ?2 AND s.message_key = ?3",
        )
        .and_then(|mut s| {
            s.query_row(params![tenant, conversation, key], |r| r.get(0))
                .optional()
        })
        .map_err(unavailable)?;
    if let Some(row) = row {
        conn.prepare_cached("DELETE FROM message_search WHERE rowid = ?1")
            .and_then(|mut s| s.execute([row]))
            .map_err(unavailable)?;
        conn.prepare_cached(
            "DELETE FROM message_search_rows
             WHERE tenant = ?1 AND conversation_id = ?2 AND search_rowid = ?3",
        )
        .and_then(|mut s| s.execute(params![tenant, conversation, row]))
        .map_err(unavailable)?;
    }
    Ok(())
}

fn purge(
    conn: &Connection,
    tenant: &TenantId,
    conversation: &ConversationId,
    cut: &PurgeCut,
    apply: bool,
) -> StoreResult<PurgeCounts> {
    let mut counts = PurgeCounts::default();
    let Some(horizon) = cut.horizon() else {
        return Ok(counts);
    };
    let (t, c) = (tenant.as_str(), conversation.as_str());
    let rows: Vec<Due> = conn
        .prepare_cached(
            "SELECT bucket, at_ms, message_key, wamid, kind, body IS NOT NULL, raw
             FROM messages_by_conversation
             WHERE tenant = ?1 AND conversation_id = ?2 AND at_ms < ?3
             ORDER BY at_ms, message_key",
        )
        .and_then(|mut s| {
            s.query_map(params![t, c, horizon], |r| {
                Ok(Due {
                    bucket: r.get(0)?,
                    at_ms: r.get(1)?,
                    key: r.get(2)?,
                    wamid: r.get(3)?,
                    kind: r.get(4)?,
                    has_text: r.get(5)?,
                    raw: r.get(6)?,
                })
            })?
            .collect()
        })
        .map_err(unavailable)?;
    for m in rows {
        let (whole, strip) = match cut.fate(m.at_ms, &m.kind, m.has_text, &m.raw) {
            Fate::Keep => continue,
            Fate::Held => {
                counts.held += 1;
                continue;
            }
            Fate::Purge { whole, strip, file } => {
                counts.media.extend(file);
                (whole, strip)
            }
        };
        if whole {
            if apply {
                conn.prepare_cached(
                    "DELETE FROM messages_by_conversation WHERE tenant = ?1
                     AND conversation_id = ?2 AND bucket = ?3 AND at_ms = ?4 AND message_key = ?5",
                )
                .and_then(|mut s| s.execute(params![t, c, m.bucket, m.at_ms, m.key]))
                .map_err(unavailable)?;
                conn.prepare_cached(
                    "DELETE FROM messages_by_key WHERE tenant = ?1 AND message_key = ?2",
                )
                .and_then(|mut s| s.execute(params![t, m.key]))
                .map_err(unavailable)?;
                conn.prepare_cached(
                    "DELETE FROM statuses_by_message WHERE tenant = ?1 AND wamid = ?2",
                )
                .and_then(|mut s| s.execute(params![t, m.wamid]))
                .map_err(unavailable)?;
                unindex(conn, t, c, &m.key)?;
            }
            counts.removed.push(m.key);
        } else if strip {
            if apply {
                conn.prepare_cached(
                    "UPDATE messages_by_conversation SET body = NULL, raw = ?6 WHERE tenant = ?1
                     AND conversation_id = ?2 AND bucket = ?3 AND at_ms = ?4 AND message_key = ?5",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        t,
                        c,
                        m.bucket,
                        m.at_ms,
                        m.key,
                        skeleton(&m.kind, &m.raw)
                    ])
                })
                .map_err(unavailable)?;
                unindex(conn, t, c, &m.key)?;
            }
            counts.cleared.push(m.key);
        }
    }
    if apply && !counts.removed.is_empty() {
        conn.prepare_cached(
            "DELETE FROM buckets_by_conversation AS b WHERE b.tenant = ?1 AND b.conversation_id = ?2
             AND NOT EXISTS (SELECT 1 FROM messages_by_conversation m WHERE m.tenant = ?1
                             AND m.conversation_id = ?2 AND m.bucket = b.bucket)",
        )
        .and_then(|mut s| s.execute(params![t, c]))
        .map_err(unavailable)?;
    }
    Ok(counts)
}

#[async_trait]
impl RetentionStore for SqliteStore {
    async fn purge_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cut: &PurgeCut,
        apply: bool,
    ) -> StoreResult<PurgeCounts> {
        let (tenant, conversation, cut) = (tenant.clone(), conversation.clone(), cut.clone());
        if apply {
            self.write(move |conn, _| purge(conn, &tenant, &conversation, &cut, true))
                .await
        } else {
            self.read(move |conn| purge(conn, &tenant, &conversation, &cut, false))
                .await
        }
    }

    async fn purge_audit(
        &self,
        tenant: &TenantId,
        before: UnixMillis,
        apply: bool,
    ) -> StoreResult<u64> {
        let (tenant, day) = (tenant.clone(), day_bucket(before));
        if !apply {
            return self
                .read(move |conn| {
                    conn.prepare_cached(
                        "SELECT count(*) FROM audit_by_tenant WHERE tenant = ?1 AND bucket < ?2",
                    )
                    .and_then(|mut s| s.query_row(params![tenant.as_str(), day], |r| r.get(0)))
                    .map_err(unavailable)
                    .map(|n: i64| n as u64)
                })
                .await;
        }
        self.write(move |conn, _| {
            let t = tenant.as_str();
            // The permit lives only inside this transaction (see migration 17).
            conn.prepare_cached(
                "INSERT OR REPLACE INTO audit_purge_permits (tenant, before_bucket) VALUES (?1, ?2)",
            )
            .and_then(|mut s| s.execute(params![t, day]))
            .map_err(unavailable)?;
            let n = conn
                .prepare_cached("DELETE FROM audit_by_tenant WHERE tenant = ?1 AND bucket < ?2")
                .and_then(|mut s| s.execute(params![t, day]))
                .map_err(unavailable)?;
            conn.prepare_cached("DELETE FROM audit_purge_permits WHERE tenant = ?1")
                .and_then(|mut s| s.execute([t]))
                .map_err(unavailable)?;
            Ok(n as u64)
        })
        .await
    }

    async fn purge_journal(&self, before: UnixMillis) -> StoreResult<u64> {
        let day = day_bucket(before);
        let mut total = 0u64;
        loop {
            let n = self
                .write(move |conn, _| {
                    conn.prepare_cached(
                        "DELETE FROM webhook_journal WHERE seq IN (
                           SELECT seq FROM webhook_journal WHERE bucket < ?1 LIMIT ?2)",
                    )
                    .and_then(|mut s| s.execute(params![day, JOURNAL_BATCH]))
                    .map_err(unavailable)
                })
                .await?;
            total += n as u64;
            if (n as i64) < JOURNAL_BATCH {
                return Ok(total);
            }
        }
    }
}
