//! Files kept on ScyllaDB: a row per file (claimed with a lightweight transaction when its
//! message is stored), the keeper's queue as a partition per number, and the blobs still named.

use async_trait::async_trait;
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::{MessageKey, PhoneNumberId, TenantId};

use super::{first_row, lwt_applied, rows_of, unavailable, Preparer, ScyllaStore};
use crate::domain::{MediaRecord, MediaState};
use crate::store::{check_limit, MediaStore, StoreError, StoreResult};

row! {
    /// A file (`media_by_id`).
    struct MediaRow {
        tenant: String,
        media_id: String,
        number: String,
        message_key: Option<String>,
        mime_type: Option<String>,
        filename: Option<String>,
        state: String,
        digest: Option<String>,
        bytes: i64,
        attempts: i32,
        next_at: i64,
        error: Option<String>,
        created_at: i64,
    }
}

row! {
    /// An entry of a number's queue (`media_pending_by_number`).
    struct PendingRow {
        number: String,
        created_at: i64,
        tenant: String,
        media_id: String,
    }
}

impl MediaRow {
    fn of(m: &MediaRecord) -> Self {
        Self {
            tenant: m.tenant.as_str().to_owned(),
            media_id: m.media_id.clone(),
            number: m.number.as_str().to_owned(),
            message_key: m.message.as_ref().map(|k| k.as_str().to_owned()),
            mime_type: m.mime_type.clone(),
            filename: m.filename.clone(),
            state: m.state.as_str().to_owned(),
            digest: m.digest.clone(),
            bytes: m.bytes as i64,
            attempts: m.attempts.min(i32::MAX as u32) as i32,
            next_at: m.next_at,
            error: m.error.clone(),
            created_at: m.created_at,
        }
    }

    fn into_record(self) -> StoreResult<MediaRecord> {
        Ok(MediaRecord {
            state: MediaState::parse(&self.state)
                .ok_or_else(|| StoreError::Corrupt(format!("media state `{}`", self.state)))?,
            tenant: TenantId::new(self.tenant),
            media_id: self.media_id,
            number: PhoneNumberId::new(self.number),
            message: self.message_key.map(MessageKey::new),
            mime_type: self.mime_type,
            filename: self.filename,
            digest: self.digest,
            bytes: self.bytes.max(0) as u64,
            attempts: self.attempts.max(0) as u32,
            next_at: self.next_at,
            error: self.error,
            created_at: self.created_at,
        })
    }
}

impl PendingRow {
    fn of(m: &MediaRecord) -> Self {
        Self {
            number: m.number.as_str().to_owned(),
            created_at: m.created_at,
            tenant: m.tenant.as_str().to_owned(),
            media_id: m.media_id.clone(),
        }
    }
}

/// Statements of the files kept.
pub(super) struct Statements {
    claim: PreparedStatement,
    upsert: PreparedStatement,
    get: PreparedStatement,
    enqueue: PreparedStatement,
    dequeue: PreparedStatement,
    queue: PreparedStatement,
    name_blob: PreparedStatement,
    unname_blob: PreparedStatement,
    blob_named: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        let columns = MediaRow::COLUMNS;
        let pending = PendingRow::COLUMNS;
        Ok(Self {
            claim: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.media_by_id ({columns}) VALUES ({}) IF NOT EXISTS",
                        super::markers(columns)
                    ),
                    false,
                )
                .await?,
            upsert: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.media_by_id ({columns}) VALUES ({})",
                        super::markers(columns)
                    ),
                    true,
                )
                .await?,
            get: p
                .prepare(
                    format!(
                        "SELECT {columns} FROM {ks}.media_by_id
                         WHERE tenant = ? AND media_id = ?"
                    ),
                    true,
                )
                .await?,
            enqueue: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.media_pending_by_number ({pending}) VALUES ({})",
                        super::markers(pending)
                    ),
                    true,
                )
                .await?,
            dequeue: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.media_pending_by_number
                         WHERE number = ? AND created_at = ? AND tenant = ? AND media_id = ?"
                    ),
                    true,
                )
                .await?,
            queue: p
                .prepare(
                    format!(
                        "SELECT {pending} FROM {ks}.media_pending_by_number
                         WHERE number = ? LIMIT ?"
                    ),
                    true,
                )
                .await?,
            name_blob: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.media_by_digest (digest, tenant, media_id)
                         VALUES (?, ?, ?)"
                    ),
                    true,
                )
                .await?,
            unname_blob: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.media_by_digest
                         WHERE digest = ? AND tenant = ? AND media_id = ?"
                    ),
                    true,
                )
                .await?,
            blob_named: p
                .prepare(
                    format!("SELECT tenant FROM {ks}.media_by_digest WHERE digest = ? LIMIT 1"),
                    true,
                )
                .await?,
        })
    }
}

impl ScyllaStore {
    /// Takes a file out of its number's queue.
    async fn dequeue_media(&self, entry: &PendingRow) -> StoreResult<()> {
        self.session
            .execute_unpaged(
                &self.media.dequeue,
                (
                    entry.number.as_str(),
                    entry.created_at,
                    entry.tenant.as_str(),
                    entry.media_id.as_str(),
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// A file queued with its message unless it has a record already (a redelivery keeps a
    /// stored file stored). A stop between the claim and the queue entry is repaired by the
    /// redelivery: a pending record always gets its entry again.
    pub(super) async fn claim_media(&self, m: &MediaRecord) -> StoreResult<()> {
        let applied = lwt_applied(
            self.session
                .execute_unpaged(&self.media.claim, &MediaRow::of(m))
                .await
                .map_err(unavailable)?,
        )?;
        let pending = if applied {
            true
        } else {
            self.get_media(&m.tenant, &m.media_id)
                .await?
                .is_some_and(|existing| existing.state == MediaState::Pending)
        };
        if pending {
            self.session
                .execute_unpaged(&self.media.enqueue, &PendingRow::of(m))
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }
}

#[async_trait]
impl MediaStore for ScyllaStore {
    async fn put_media(&self, media: &MediaRecord) -> StoreResult<()> {
        // The record first: a stop after it leaves, at worst, a queue entry the keeper drops
        // (its record is no longer pending) or a digest row naming a blob nobody deletes yet.
        self.session
            .execute_unpaged(&self.media.upsert, &MediaRow::of(media))
            .await
            .map_err(unavailable)?;
        let entry = PendingRow::of(media);
        if media.state == MediaState::Pending {
            self.session
                .execute_unpaged(&self.media.enqueue, &entry)
                .await
                .map_err(unavailable)?;
        } else {
            self.dequeue_media(&entry).await?;
        }
        if let Some(digest) = &media.digest {
            let names = (
                digest.as_str(),
                media.tenant.as_str(),
                media.media_id.as_str(),
            );
            let statement = if media.state == MediaState::Stored {
                &self.media.name_blob
            } else {
                &self.media.unname_blob
            };
            self.session
                .execute_unpaged(statement, names)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn get_media(
        &self,
        tenant: &TenantId,
        media_id: &str,
    ) -> StoreResult<Option<MediaRecord>> {
        first_row::<MediaRow>(
            self.session
                .execute_unpaged(&self.media.get, (tenant.as_str(), media_id))
                .await
                .map_err(unavailable)?,
        )?
        .map(MediaRow::into_record)
        .transpose()
    }

    async fn pending_media(
        &self,
        number: &PhoneNumberId,
        limit: usize,
    ) -> StoreResult<Vec<MediaRecord>> {
        let limit = check_limit(limit)?;
        let entries: Vec<PendingRow> = rows_of(
            self.session
                .execute_unpaged(&self.media.queue, (number.as_str(), limit as i32))
                .await
                .map_err(unavailable)?,
        )?;
        let mut due = Vec::with_capacity(entries.len());
        for entry in entries {
            let tenant = TenantId::new(entry.tenant.clone());
            match self.get_media(&tenant, &entry.media_id).await? {
                Some(m) if m.state == MediaState::Pending => due.push(m),
                // An entry left by a stop between a record's write and its dequeue.
                _ => {
                    self.dequeue_media(&entry).await?;
                }
            }
        }
        due.sort_by_key(|m| m.next_at);
        Ok(due)
    }

    async fn blob_in_use(&self, digest: &str) -> StoreResult<bool> {
        Ok(first_row::<(String,)>(
            self.session
                .execute_unpaged(&self.media.blob_named, (digest,))
                .await
                .map_err(unavailable)?,
        )?
        .is_some())
    }
}
