//! The durable queue of sends.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use switchboard_shared::{ConversationId, PhoneNumberId, SendId, TenantId, WaId, Wamid};

use super::messages::insert_outbound;
use super::{unavailable, SqliteStore};
use crate::domain::*;
use crate::store::page::*;

use crate::store::{check_limit, IdKeys, OutboxStore, StoreError, StoreResult};

pub(super) fn enqueue_send(conn: &Connection, o: &OutboxRecord) -> StoreResult<bool> {
    let inserted = write_send(conn, o, false)?;
    Ok(inserted)
}

pub(super) fn update_send(conn: &Connection, o: &OutboxRecord, keys: &IdKeys) -> StoreResult<()> {
    if let Some(m) = o.sent_message() {
        insert_outbound(conn, &m, keys)?;
    }
    write_send(conn, o, true)?;
    Ok(())
}

/// Inserts a send (`replace`: or overwrites it). Returns whether a row was written.
fn write_send(conn: &Connection, o: &OutboxRecord, replace: bool) -> StoreResult<bool> {
    let conflict = if replace {
        "ON CONFLICT (tenant, send_id) DO UPDATE SET state = excluded.state,
           attempts = excluded.attempts, wamid = excluded.wamid, error = excluded.error,
           updated_at = excluded.updated_at, pending = excluded.pending"
    } else {
        "ON CONFLICT (tenant, send_id) DO NOTHING"
    };
    let written = conn
        .prepare_cached(&format!(
            "INSERT INTO outbox_by_id ({OUTBOX_COLUMNS}, pending)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
             {conflict}"
        ))
        .and_then(|mut st| {
            st.execute(params![
                o.tenant.as_str(),
                o.id.as_str(),
                o.conversation.as_str(),
                o.number.as_str(),
                o.customer.as_str(),
                o.author,
                o.request,
                o.kind,
                o.text,
                o.state.as_str(),
                o.attempts,
                o.wamid.as_ref().map(Wamid::as_str),
                o.error,
                o.created_at,
                o.updated_at,
                !o.state.is_finished()
            ])
        })
        .map_err(unavailable)?;
    Ok(written > 0)
}

/// The columns of `outbox_by_id` a send is written with, in the order of the insert's values.
const OUTBOX_COLUMNS: &str = "tenant, send_id, conversation_id, number, customer, author, \
    request, kind, text, state, attempts, wamid, error, created_at, updated_at";

/// A send from its row, by column name.
fn send_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRecord> {
    Ok(OutboxRecord {
        tenant: TenantId::new(r.get::<_, String>("tenant")?),
        id: SendId::new(r.get::<_, String>("send_id")?),
        conversation: ConversationId::new(r.get::<_, String>("conversation_id")?),
        number: PhoneNumberId::new(r.get::<_, String>("number")?),
        customer: WaId::new(r.get::<_, String>("customer")?),
        author: r.get("author")?,
        request: r.get("request")?,
        kind: r.get("kind")?,
        text: r.get("text")?,
        state: r.get("state")?,
        attempts: r.get("attempts")?,
        wamid: r.get::<_, Option<String>>("wamid")?.map(Wamid::new),
        error: r.get("error")?,
        created_at: r.get("created_at")?,
        updated_at: r.get("updated_at")?,
    })
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue_send(&self, send: &OutboxRecord) -> StoreResult<OutboxRecord> {
        let s = send.clone();
        if self.write(move |conn, _| enqueue_send(conn, &s)).await? {
            return Ok(send.clone());
        }
        self.get_send(&send.tenant, &send.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("send {} vanished", send.id)))
    }

    async fn update_send(&self, send: &OutboxRecord) -> StoreResult<()> {
        let s = send.clone();
        self.write(move |conn, keys| update_send(conn, &s, keys))
            .await
    }

    async fn get_send(&self, tenant: &TenantId, id: &SendId) -> StoreResult<Option<OutboxRecord>> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        let row = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox_by_id WHERE tenant = ?1 AND send_id = ?2"
                ))
                .and_then(|mut s| {
                    s.query_row(params![tenant.as_str(), id.as_str()], send_from)
                        .optional()
                })
                .map_err(unavailable)
            })
            .await?;
        Ok(row)
    }

    async fn pending_sends(
        &self,
        number: &PhoneNumberId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<OutboxRecord>> {
        let limit = check_limit(limit)?;
        let (after_at, after_id) = Cursor::decode_time(cursor)?;
        let number = number.clone();
        let rows = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox_by_id
                     WHERE number = ?1 AND pending = 1 AND (created_at, send_id) > (?2, ?3)
                     ORDER BY created_at, send_id LIMIT ?4"
                ))
                .and_then(|mut s| {
                    s.query_map(
                        params![number.as_str(), after_at, after_id, limit as i64],
                        send_from,
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        Ok(Page::of(rows, limit, |o| {
            Cursor::after_time(o.created_at, o.id.as_str())
        }))
    }
}
