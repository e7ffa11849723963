//! Files kept: one row per file a message carries; the pending ones are the keeper's queue.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use switchboard_shared::{MessageKey, PhoneNumberId, TenantId};

use super::{unavailable, SqliteStore};
use crate::domain::{MediaRecord, MediaState};
use crate::store::{check_limit, MediaStore, StoreError, StoreResult};

const COLUMNS: &str = "tenant, media_id, number, message_key, mime_type, filename, state, digest, \
                       bytes, attempts, next_at, error, created_at";

fn media(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<MediaRecord, StoreError>> {
    let state: String = r.get(6)?;
    let Some(state) = MediaState::parse(&state) else {
        return Ok(Err(StoreError::Corrupt(format!("media state `{state}`"))));
    };
    Ok(Ok(MediaRecord {
        tenant: TenantId::new(r.get::<_, String>(0)?),
        media_id: r.get(1)?,
        number: PhoneNumberId::new(r.get::<_, String>(2)?),
        message: r.get::<_, Option<String>>(3)?.map(MessageKey::new),
        mime_type: r.get(4)?,
        filename: r.get(5)?,
        state,
        digest: r.get(7)?,
        bytes: r.get::<_, i64>(8)?.max(0) as u64,
        attempts: r.get::<_, i64>(9)?.clamp(0, i64::from(u32::MAX)) as u32,
        next_at: r.get(10)?,
        error: r.get(11)?,
        created_at: r.get(12)?,
    }))
}

/// Writes a file's record; `replace` false keeps an existing one (a redelivered message must
/// not put a stored file back in the queue). Runs inside the ingest transaction too.
pub(super) fn write_media(conn: &Connection, m: &MediaRecord, replace: bool) -> StoreResult<()> {
    let verb = if replace { "OR REPLACE" } else { "OR IGNORE" };
    conn.prepare_cached(&format!(
        "INSERT {verb} INTO media ({COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            m.tenant.as_str(),
            m.media_id,
            m.number.as_str(),
            m.message.as_ref().map(|k| k.as_str()),
            m.mime_type,
            m.filename,
            m.state.as_str(),
            m.digest,
            m.bytes as i64,
            i64::from(m.attempts),
            m.next_at,
            m.error,
            m.created_at,
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl MediaStore for SqliteStore {
    async fn put_media(&self, media: &MediaRecord) -> StoreResult<()> {
        let media = media.clone();
        self.write(move |conn, _| write_media(conn, &media, true))
            .await
    }

    async fn get_media(
        &self,
        tenant: &TenantId,
        media_id: &str,
    ) -> StoreResult<Option<MediaRecord>> {
        let (tenant, media_id) = (tenant.clone(), media_id.to_owned());
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM media WHERE tenant = ?1 AND media_id = ?2"
            ))
            .and_then(|mut s| s.query_row([tenant.as_str(), &media_id], media).optional())
            .map_err(unavailable)?
            .transpose()
        })
        .await
    }

    async fn pending_media(
        &self,
        number: &PhoneNumberId,
        limit: usize,
    ) -> StoreResult<Vec<MediaRecord>> {
        let limit = check_limit(limit)?;
        let number = number.clone();
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM media WHERE number = ?1 AND state = 'pending'
                 ORDER BY next_at LIMIT ?2"
            ))
            .and_then(|mut s| {
                s.query_map(params![number.as_str(), limit as i64], media)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(unavailable)?
            .into_iter()
            .collect()
        })
        .await
    }

    async fn blob_in_use(&self, digest: &str) -> StoreResult<bool> {
        let digest = digest.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT 1 FROM media WHERE digest = ?1 AND state = 'stored' LIMIT 1",
            )
            .and_then(|mut s| s.exists([&digest]))
            .map_err(unavailable)
        })
        .await
    }
}
