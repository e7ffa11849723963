//! A message's file as Switchboard keeps it: where its copy stands and which blob holds it.
//!
//! WhatsApp keeps customers' files 7 days and uploads 30; a conversation is kept for years. So
//! every file a message carries gets a record when the message is stored (in the same write, so
//! the copy is queued durably before the webhook is acknowledged), and the media keeper copies
//! it into the blob store after the acknowledgement.

use switchboard_shared::{MessageKey, PhoneNumberId, TenantId};

use super::UnixMillis;

/// Where a file's copy stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaState {
    /// Queued: the keeper copies it when `next_at` comes.
    Pending,
    /// Copied: `digest` names its blob.
    Stored,
    /// Not copied because it is larger than `media.max_file_mib`.
    TooLarge,
    /// WhatsApp no longer has it and no copy was made (it expired before a copy succeeded).
    Lost,
    /// Removed by a retention policy (the record stays as the trace of what was there).
    Purged,
}

impl MediaState {
    pub const ALL: [MediaState; 5] = [
        MediaState::Pending,
        MediaState::Stored,
        MediaState::TooLarge,
        MediaState::Lost,
        MediaState::Purged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MediaState::Pending => "pending",
            MediaState::Stored => "stored",
            MediaState::TooLarge => "too_large",
            MediaState::Lost => "lost",
            MediaState::Purged => "purged",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// One file of one message, keyed by WhatsApp's media id within its tenant (an inbound file's
/// id, or the id an upload returned for an agent's file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRecord {
    pub tenant: TenantId,
    pub media_id: String,
    /// The number whose token can fetch it from WhatsApp.
    pub number: PhoneNumberId,
    /// The message that carries it (none for an upload not sent yet).
    pub message: Option<MessageKey>,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
    pub state: MediaState,
    /// The blob's SHA-256 (hex), once stored: files are content-addressed, so the same file sent
    /// twice is kept once.
    pub digest: Option<String>,
    pub bytes: u64,
    pub attempts: u32,
    /// When the keeper tries next (pending only).
    pub next_at: UnixMillis,
    /// Why the last attempt failed, for the operator.
    pub error: Option<String>,
    pub created_at: UnixMillis,
}

impl MediaRecord {
    /// A file to copy as soon as possible.
    pub fn pending(
        tenant: TenantId,
        media_id: String,
        number: PhoneNumberId,
        message: Option<MessageKey>,
        at: UnixMillis,
    ) -> Self {
        Self {
            tenant,
            media_id,
            number,
            message,
            mime_type: None,
            filename: None,
            state: MediaState::Pending,
            digest: None,
            bytes: 0,
            attempts: 0,
            next_at: at,
            error: None,
            created_at: at,
        }
    }
}
