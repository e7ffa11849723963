//! Files kept: every file a message carries is copied from WhatsApp into the blob store, so a
//! transcript keeps its files after Meta drops them (7 days for customers' files, 30 for uploads).
//!
//! Owns: the keeper (the task that works the durable queue the inbound path fills: it downloads
//! each file through its number, stores it content-addressed and records it, retrying with
//! backoff while WhatsApp or the blob store fails, giving up only when WhatsApp says the file is
//! gone), the copy of an agent's upload before it goes to WhatsApp, and reading a file for a
//! person: the copy when there is one, else WhatsApp's (kept on the way), and deleting the files
//! retention says are due (a blob goes when no other file names it). Must not: decide who may
//! read a file (the API asks `commands::visible` first) or when a file is due (retention does).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use switchboard_shared::api::MediaRef;
use switchboard_shared::{PhoneNumberId, TenantId};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::outbound::{Outbound, OutboundError};
use super::{Events, NumberDirectory, NumberEntry};
use crate::auth::TenantScope;
use crate::connector::errors::CloudApiError;
use crate::domain::{now_ms, DomainEvent, MediaRecord, MediaState, UnixMillis};
use crate::store::blobs::{BlobError, Blobs};
use crate::store::{Store, StoreError};

/// How many queued files one pass takes per number.
const PASS: usize = 100;
/// How often the queue is looked at when nothing woke the keeper (retries come due).
const IDLE: Duration = Duration::from_secs(5);
/// The longest wait between two attempts at one file.
const MAX_BACKOFF_MS: i64 = 15 * 60 * 1000;

/// A file for a reader.
#[derive(Debug)]
pub struct File {
    pub mime_type: String,
    pub bytes: Bytes,
    /// Whether it came from our copy (false: from WhatsApp, which may drop it).
    pub kept: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Neither a copy nor WhatsApp has it; the reason says why, for the reader.
    #[error("{0}")]
    Gone(String),
    /// WhatsApp could not give it now (and no copy exists yet).
    #[error("WhatsApp could not give the file: {0}")]
    Upstream(CloudApiError),
    #[error(transparent)]
    Outbound(OutboundError),
    /// More than `media.max_file_mib` allows: the server does not keep it.
    #[error("the file has {bytes} bytes; this server keeps files of at most {max} bytes (media.max_file_mib)")]
    TooLarge { bytes: u64, max: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The number of a file kept for the workspace rather than for a message of one of its numbers
/// (a saved reply's attachment): no number's token ever fetches it, it is never queued.
const NO_NUMBER: &str = "";

pub struct MediaKeeper {
    store: Arc<dyn Store>,
    blobs: Blobs,
    outbound: Arc<Outbound>,
    numbers: NumberDirectory,
    max_file_bytes: u64,
    wake: Notify,
}

/// Whether WhatsApp's answer means the file is gone for good (an unknown or expired media id),
/// not that it failed for now.
fn gone_at_whatsapp(e: &CloudApiError) -> bool {
    matches!(
        e,
        CloudApiError::Api {
            http_status: 400 | 404,
            code: 100 | 131052 | 131053,
            ..
        }
    ) || matches!(
        e,
        CloudApiError::Http {
            http_status: 404,
            ..
        }
    )
}

/// The wait before attempt `attempts + 1`: 2, 4, 8 … seconds, at most 15 minutes.
fn backoff_ms(attempts: u32) -> i64 {
    (1000i64 << attempts.clamp(1, 20)).min(MAX_BACKOFF_MS)
}

impl MediaKeeper {
    pub fn new(
        store: Arc<dyn Store>,
        blobs: Blobs,
        outbound: Arc<Outbound>,
        numbers: NumberDirectory,
        max_file_bytes: u64,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            blobs,
            outbound,
            numbers,
            max_file_bytes,
            wake: Notify::new(),
        })
    }

    /// Runs the keeper until `shutdown`: a pass at start (files queued before a stop), after
    /// every message that carries a file, and every few seconds for retries that came due.
    pub fn spawn(
        self: &Arc<Self>,
        events: &Events,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let keeper = Arc::clone(self);
        let mut rx = events.subscribe("media");
        tokio::spawn(async move {
            // A pass at start; then only when a file may have been queued (a message with one,
            // a wake-up) or a retry may have come due (the tick): most events carry no file, and
            // a pass reads every number's queue.
            let mut due = true;
            let mut tick = tokio::time::interval(IDLE);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                if std::mem::take(&mut due) {
                    keeper.pass(now_ms()).await;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = keeper.wake.notified() => due = true,
                    _ = tick.tick() => due = true,
                    event = rx.recv() => match event {
                        Ok(event) => due |= keeper.note(event).await,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                        // Missed events are safe: the queue is in the store.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => due = true,
                    },
                }
                // Take what else is queued before the next pass: one pass serves a burst.
                while !rx.is_empty() {
                    match rx.recv().await {
                        Ok(event) => due |= keeper.note(event).await,
                        Err(_) => {
                            due = true;
                            break;
                        }
                    }
                }
            }
        })
    }

    /// What an event means for the queue: whether a file may have been queued. A file an
    /// integrator sent by a media id it uploaded itself has no record yet: it is queued here,
    /// from the stored message.
    async fn note(&self, event: DomainEvent) -> bool {
        let message = match event {
            DomainEvent::MessageReceived { message, .. } => {
                return crate::domain::retention::MEDIA_KINDS.contains(&message.kind.as_str())
            }
            DomainEvent::MessageSent { message, .. } => message,
            _ => return false,
        };
        let Some(media) = crate::connector::parts::message_parts(&message.raw).media else {
            return false;
        };
        match self.store.get_media(&message.tenant, &media.id).await {
            Ok(Some(_)) => false,
            Ok(None) => {
                let mut record = MediaRecord::pending(
                    message.tenant.clone(),
                    media.id,
                    message.number.clone(),
                    None,
                    now_ms(),
                );
                record.mime_type = media.mime_type;
                record.filename = media.filename;
                if let Err(e) = self.store.put_media(&record).await {
                    tracing::warn!(error = %e, "could not queue a sent file for copying");
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read a sent file's record");
                false
            }
        }
    }

    /// One pass over every number's queue: copies what is due. Returns how many files it
    /// settled (stored, too large or lost).
    pub async fn pass(&self, now: UnixMillis) -> usize {
        let mut settled = 0;
        let mut waiting = 0usize;
        for entry in self.numbers.enabled() {
            let queued = match self.store.pending_media(&entry.phone_number_id, PASS).await {
                Ok(queued) => queued,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the media queue");
                    continue;
                }
            };
            waiting += queued.len();
            for record in queued.into_iter().filter(|r| r.next_at <= now) {
                if self.copy(&entry, record).await {
                    settled += 1;
                    waiting -= 1;
                }
            }
        }
        metrics::gauge!("switchboard_media_pending").set(waiting as f64);
        settled
    }

    /// One attempt at one queued file; whether it is settled.
    async fn copy(&self, entry: &NumberEntry, mut record: MediaRecord) -> bool {
        record.attempts += 1;
        let outcome = match self.outbound.download(entry, &record.media_id).await {
            Ok((mime_type, bytes)) => {
                record.mime_type.get_or_insert(mime_type);
                self.keep(&mut record, bytes).await
            }
            Err(OutboundError::Api(e)) if gone_at_whatsapp(&e) => {
                record.state = MediaState::Lost;
                record.error = Some(format!("WhatsApp no longer has the file: {e}"));
                Ok(())
            }
            Err(e) => Err(format!("downloading from WhatsApp: {e}")),
        };
        let settled = match outcome {
            Ok(()) => true,
            Err(why) => {
                record.error = Some(why);
                record.next_at = now_ms() + backoff_ms(record.attempts);
                false
            }
        };
        metrics::counter!(
            "switchboard_media_copies_total",
            "outcome" => if settled { record.state.as_str() } else { "retry" }
        )
        .increment(1);
        if let Err(e) = self.store.put_media(&record).await {
            tracing::warn!(error = %e, media = %record.media_id, "could not record a file's copy");
            return false;
        }
        if !settled {
            tracing::warn!(
                media = %record.media_id,
                attempts = record.attempts,
                error = record.error.as_deref().unwrap_or(""),
                "a file's copy failed; it is retried"
            );
        }
        settled
    }

    /// Stores the bytes (unless too large) and marks the record; the error when the blob store
    /// refused them.
    async fn keep(&self, record: &mut MediaRecord, bytes: Bytes) -> Result<(), String> {
        record.bytes = bytes.len() as u64;
        if record.bytes > self.max_file_bytes {
            record.state = MediaState::TooLarge;
            record.error = Some(format!(
                "{} bytes is more than media.max_file_mib allows ({} bytes)",
                record.bytes, self.max_file_bytes
            ));
            return Ok(());
        }
        match self.blobs.put(bytes).await {
            Ok(digest) => {
                record.digest = Some(digest);
                record.state = MediaState::Stored;
                record.error = None;
                Ok(())
            }
            Err(e) => Err(format!("storing in {}: {e}", self.blobs.place())),
        }
    }

    /// An agent's file, kept before it is uploaded to WhatsApp under `media_id`. When the blob
    /// store fails the file is queued instead (WhatsApp has it for 30 days): the agent's send
    /// never waits on our copy.
    pub async fn keep_upload(
        &self,
        tenant: &TenantId,
        number: &PhoneNumberId,
        media_id: &str,
        bytes: Bytes,
        mime_type: &str,
        filename: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut record = MediaRecord::pending(
            tenant.clone(),
            media_id.to_owned(),
            number.clone(),
            None,
            now,
        );
        record.mime_type = Some(mime_type.to_owned());
        record.filename = filename.map(str::to_owned);
        record.attempts = 1;
        if let Err(why) = self.keep(&mut record, bytes).await {
            record.error = Some(why);
            record.next_at = now + backoff_ms(1);
        }
        self.store.put_media(&record).await?;
        if record.state == MediaState::Pending {
            self.wake.notify_one();
        }
        Ok(())
    }

    /// A file kept for the workspace rather than a message (a saved reply's attachment), under
    /// `media_id`: stored now, or refused (nobody else has it, so there is nothing to retry
    /// from). The record names the blob, so no purge of a message's copy of the same bytes
    /// deletes it.
    pub async fn keep_file(
        &self,
        tenant: &TenantId,
        media_id: String,
        bytes: Bytes,
        mime_type: &str,
        filename: Option<&str>,
    ) -> Result<MediaRecord, MediaError> {
        if bytes.len() as u64 > self.max_file_bytes {
            return Err(MediaError::TooLarge {
                bytes: bytes.len() as u64,
                max: self.max_file_bytes,
            });
        }
        let mut record = MediaRecord::pending(
            tenant.clone(),
            media_id,
            PhoneNumberId::from(NO_NUMBER),
            None,
            now_ms(),
        );
        record.mime_type = Some(mime_type.to_owned());
        record.filename = filename.map(str::to_owned);
        record.attempts = 1;
        self.keep(&mut record, bytes)
            .await
            .map_err(|why| MediaError::Store(StoreError::Unavailable(why)))?;
        self.store.put_media(&record).await?;
        Ok(record)
    }

    /// The bytes of a file [`MediaRecord`] says are kept (see [`Self::keep_file`]).
    pub async fn kept(&self, scope: &TenantScope, media_id: &str) -> Result<File, MediaError> {
        let record = scope.media(media_id).await?;
        let Some((digest, mime_type)) = record
            .filter(|r| r.state == MediaState::Stored)
            .and_then(|r| Some((r.digest?, r.mime_type)))
        else {
            return Err(MediaError::Gone("the file is no longer kept".into()));
        };
        let bytes = self.blobs.get(&digest).await.map_err(|e| match e {
            BlobError::Missing(_) => {
                tracing::error!(media = %media_id, "a kept file is missing");
                MediaError::Gone("the kept file is missing from the blob store".into())
            }
            e => MediaError::Store(StoreError::Unavailable(e.to_string())),
        })?;
        Ok(File {
            mime_type: mime_type.unwrap_or_else(|| "application/octet-stream".into()),
            bytes,
            kept: true,
        })
    }

    /// A message's file for a reader who may see it: our copy when there is one, else
    /// WhatsApp's (copied on the way, so the next read has it).
    pub async fn open(
        &self,
        tenant: &TenantId,
        number: &PhoneNumberId,
        media: &MediaRef,
    ) -> Result<File, MediaError> {
        let record = self.store.get_media(tenant, &media.id).await?;
        if let Some(r) = &record {
            match (r.state, &r.digest) {
                (MediaState::Stored, Some(digest)) => match self.blobs.get(digest).await {
                    Ok(bytes) => {
                        return Ok(File {
                            mime_type: r
                                .mime_type
                                .clone()
                                .unwrap_or_else(|| "application/octet-stream".into()),
                            bytes,
                            kept: true,
                        })
                    }
                    Err(e @ BlobError::Missing(_)) => {
                        tracing::error!(error = %e, media = %r.media_id, "a kept file is missing");
                    }
                    Err(e) => tracing::warn!(error = %e, "the blob store failed a read"),
                },
                (MediaState::Purged, _) => {
                    return Err(MediaError::Gone(
                        "the file was deleted by the workspace's retention policy".into(),
                    ))
                }
                _ => {}
            }
        }
        let entry = self
            .outbound
            .entry(tenant, number)
            .map_err(MediaError::Outbound)?;
        let (mime_type, bytes) = match self.outbound.download(&entry, &media.id).await {
            Ok(found) => found,
            Err(OutboundError::Api(e)) if gone_at_whatsapp(&e) => {
                let why = match record.as_ref().map(|r| r.state) {
                    Some(MediaState::TooLarge) => {
                        "the file was larger than this server keeps, and WhatsApp no longer has it"
                    }
                    _ => {
                        "WhatsApp no longer has the file (it keeps customers' files 7 days and \
                         uploads 30) and no copy was made in time"
                    }
                };
                return Err(MediaError::Gone(why.into()));
            }
            Err(OutboundError::Api(e)) => return Err(MediaError::Upstream(e)),
            Err(e) => return Err(MediaError::Outbound(e)),
        };
        let not_kept = record
            .as_ref()
            .is_none_or(|r| matches!(r.state, MediaState::Pending | MediaState::Stored));
        if not_kept {
            let mut r = record.unwrap_or_else(|| {
                MediaRecord::pending(
                    tenant.clone(),
                    media.id.clone(),
                    number.clone(),
                    None,
                    now_ms(),
                )
            });
            r.mime_type.get_or_insert_with(|| mime_type.clone());
            r.filename = r.filename.or_else(|| media.filename.clone());
            r.attempts += 1;
            if self.keep(&mut r, bytes.clone()).await.is_ok() {
                self.store.put_media(&r).await?;
            }
        }
        Ok(File {
            mime_type,
            bytes,
            kept: false,
        })
    }
}

impl MediaKeeper {
    /// Retention's due files of one tenant: each still kept is marked purged, then its blob is
    /// deleted unless another file (of any tenant) names the same bytes. Returns the media ids
    /// that were purged (or would be, with `apply` false) and the bytes they held.
    pub async fn purge(
        &self,
        scope: &TenantScope,
        media_ids: &[String],
        apply: bool,
    ) -> Result<(Vec<String>, u64), StoreError> {
        let (mut purged, mut bytes) = (Vec::new(), 0u64);
        for id in media_ids {
            let Some(mut record) = scope.media(id).await? else {
                continue;
            };
            if record.state == MediaState::Purged {
                continue;
            }
            if record.state == MediaState::Stored {
                bytes += record.bytes;
            }
            purged.push(id.clone());
            if !apply {
                continue;
            }
            record.state = MediaState::Purged;
            record.error = None;
            // Its name may say who it was about; the record stays only as a trace.
            record.filename = None;
            scope.put_media(&record).await?;
            if let Some(digest) = &record.digest {
                if !self.store.blob_in_use(digest).await? {
                    if let Err(e) = self.blobs.delete(digest).await {
                        // The record says purged; the bytes are found again by nobody. The
                        // operator sees it and the next purge of the same digest retries.
                        tracing::warn!(error = %e, media = %id, "a purged file's blob stayed");
                    }
                }
            }
        }
        Ok((purged, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_stops_at_fifteen_minutes() {
        assert_eq!(backoff_ms(1), 2_000);
        assert_eq!(backoff_ms(2), 4_000);
        assert_eq!(backoff_ms(9), 512_000);
        assert_eq!(backoff_ms(10), MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(u32::MAX), MAX_BACKOFF_MS);
    }

    #[test]
    fn only_an_unknown_media_id_is_gone_for_good() {
        let api = |http_status, code| CloudApiError::Api {
            http_status,
            code,
            subcode: None,
            kind: crate::connector::errors::ErrorKind::from_code(code),
            message: String::new(),
            details: None,
            fbtrace_id: None,
        };
        assert!(gone_at_whatsapp(&api(400, 100)));
        assert!(
            !gone_at_whatsapp(&api(401, 190)),
            "a bad token is fixed, not final"
        );
        assert!(!gone_at_whatsapp(&api(500, 1)));
        assert!(!gone_at_whatsapp(&CloudApiError::Connect("refused".into())));
    }
}
