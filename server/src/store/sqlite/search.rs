//! Full-text search of message texts: SQLite's FTS5 over each message's search terms
//! (`migrations/sqlite/0014_search.sql`). A message is indexed in the transaction that stores
//! it, and its rows go with its conversation when that is erased.

use rusqlite::{params, Connection};
use switchboard_shared::normalize::search_terms;
use switchboard_shared::{ConversationId, MessageKey, TenantId};

use super::unavailable;
use crate::domain::{short_hash, UnixMillis};
use crate::store::{Cursor, Page, SearchHit, StoreError, StoreResult};

/// What every term of a tenant starts with in the index: a short tag of the tenant, so that a
/// query's terms meet only that tenant's postings.
fn tag(tenant: &TenantId) -> String {
    format!("s{}", &short_hash(&["search", tenant.as_str()])[..10])
}

/// Indexes one stored message's text (nothing for a message without words).
pub(super) fn index(
    conn: &Connection,
    tenant: &TenantId,
    conversation: &ConversationId,
    key: &MessageKey,
    at_ms: UnixMillis,
    text: &str,
) -> StoreResult<()> {
    let terms = search_terms(text);
    if terms.is_empty() {
        return Ok(());
    }
    let tag = tag(tenant);
    let indexed: Vec<String> = terms.iter().map(|t| format!("{tag}{t}")).collect();
    conn.prepare_cached(
        "INSERT INTO message_search (terms, tenant, conversation_id, message_key, at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            indexed.join(" "),
            tenant.as_str(),
            conversation.as_str(),
            key.as_str(),
            at_ms
        ])
    })
    .map_err(unavailable)?;
    let row = conn.last_insert_rowid();
    conn.prepare_cached(
        "INSERT INTO message_search_rows (tenant, conversation_id, search_rowid)
         VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut s| s.execute(params![tenant.as_str(), conversation.as_str(), row]))
    .map_err(unavailable)?;
    Ok(())
}

/// Removes a conversation's messages from the index.
pub(super) fn unindex_conversation(
    conn: &Connection,
    tenant: &str,
    conversation: &str,
) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM message_search WHERE rowid IN (
           SELECT search_rowid FROM message_search_rows
           WHERE tenant = ?1 AND conversation_id = ?2)",
    )
    .and_then(|mut s| s.execute(params![tenant, conversation]))
    .map_err(unavailable)?;
    conn.prepare_cached(
        "DELETE FROM message_search_rows WHERE tenant = ?1 AND conversation_id = ?2",
    )
    .and_then(|mut s| s.execute(params![tenant, conversation]))
    .map_err(unavailable)?;
    Ok(())
}

/// Indexes every message stored before search existed (the migration's transaction), oldest
/// first, so that the index's order is the messages' order.
pub(super) fn backfill(conn: &Connection) -> StoreResult<u64> {
    let mut read = conn
        .prepare(
            "SELECT tenant, conversation_id, message_key, at_ms, body FROM messages_by_conversation
             WHERE body IS NOT NULL ORDER BY at_ms, message_key",
        )
        .map_err(unavailable)?;
    let rows = read
        .query_map([], |r| {
            Ok((
                TenantId::new(r.get::<_, String>(0)?),
                ConversationId::new(r.get::<_, String>(1)?),
                MessageKey::new(r.get::<_, String>(2)?),
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
            ))
        })
        .map_err(unavailable)?;
    let mut indexed = 0;
    for row in rows {
        let (tenant, conversation, key, at, text) = row.map_err(unavailable)?;
        index(conn, &tenant, &conversation, &key, at, &text)?;
        indexed += 1;
    }
    Ok(indexed)
}

/// A page of `tenant`'s messages holding every term, newest stored first.
pub(super) fn find(
    conn: &Connection,
    tenant: &TenantId,
    terms: &[String],
    cursor: Option<&Cursor>,
    limit: usize,
) -> StoreResult<Page<SearchHit>> {
    if terms.is_empty() {
        return Err(StoreError::Invalid(
            "a search needs at least one term".into(),
        ));
    }
    let before: i64 = match cursor {
        Some(c) => Cursor::decode_text(Some(c))?
            .parse()
            .map_err(|_| StoreError::Invalid("malformed cursor".into()))?,
        None => i64::MAX,
    };
    let tag = tag(tenant);
    // Every term as a quoted string: implicit AND, and nothing in a term is FTS5 syntax.
    let query = terms
        .iter()
        .map(|t| format!("\"{tag}{}\"", t.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" ");
    let rows = conn
        .prepare_cached(
            "SELECT rowid, conversation_id, message_key, at_ms FROM message_search
             WHERE message_search MATCH ?1 AND rowid < ?2 AND tenant = ?3
             ORDER BY rowid DESC LIMIT ?4",
        )
        .and_then(|mut s| {
            s.query_map(params![query, before, tenant.as_str(), limit as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    SearchHit {
                        conversation: ConversationId::new(r.get::<_, String>(1)?),
                        message: MessageKey::new(r.get::<_, String>(2)?),
                        at_ms: r.get(3)?,
                    },
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(unavailable)?;
    let next = (rows.len() == limit)
        .then(|| {
            rows.last()
                .map(|(row, _)| Cursor::after_text(&row.to_string()))
        })
        .flatten();
    Ok(Page {
        items: rows.into_iter().map(|(_, hit)| hit).collect(),
        next,
    })
}
