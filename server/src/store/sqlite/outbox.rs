//! The durable queue of sends.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use switchboard_shared::{PhoneNumberId, TenantId, Wamid};

use super::messages::insert_outbound;
use super::{unavailable, SqliteStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::rows::*;
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
                o.id,
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

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    OutboxRow::try_from(r)
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

    async fn get_send(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<OutboxRecord>> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        let row = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox_by_id WHERE tenant = ?1 AND send_id = ?2"
                ))
                .and_then(|mut s| {
                    s.query_row(params![tenant.as_str(), id], outbox_row)
                        .optional()
                })
                .map_err(unavailable)
            })
            .await?;
        row.map(outbox_from_row).transpose()
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
                        outbox_row,
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        let items = rows
            .into_iter()
            .map(outbox_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::of(items, limit, |o| {
            Cursor::after_time(o.created_at, &o.id)
        }))
    }
}
