//! A campaign's recipient as stored: one row per contact the campaign selected, eligible or not,
//! written before anything is sent so that a restart continues where it stopped.

use switchboard_shared::campaign::{Recipient, RecipientState};
use switchboard_shared::{CampaignId, ContactId, PhoneNumberId, SendId, TenantId, WaId};

use super::UnixMillis;

/// How many partitions a campaign's recipients are spread over on Scylla (a 100,000-recipient
/// campaign makes partitions of about 6,000 rows).
pub const RECIPIENT_BUCKETS: i32 = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientRecord {
    pub tenant: TenantId,
    pub campaign: CampaignId,
    pub wa_id: WaId,
    pub contact: ContactId,
    pub state: RecipientState,
    pub reason: Option<String>,
    /// The number it goes from.
    pub number: Option<PhoneNumberId>,
    /// The outbox send, once queued there.
    pub send: Option<SendId>,
    pub clicked: bool,
    pub updated_at: UnixMillis,
}

impl RecipientRecord {
    /// The partition of the recipient's row: a stable digest of its WhatsApp id.
    pub fn bucket(&self) -> i32 {
        recipient_bucket(&self.wa_id)
    }

    pub fn wire(&self) -> Recipient {
        Recipient {
            wa_id: self.wa_id.as_str().to_owned(),
            contact: self.contact.clone(),
            state: self.state,
            reason: self.reason.clone(),
            number: self.number.clone(),
            clicked: self.clicked,
            updated_at: self.updated_at,
        }
    }
}

/// A recipient moved along: what changes in its row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientUpdate {
    pub tenant: TenantId,
    pub campaign: CampaignId,
    pub wa_id: WaId,
    pub state: RecipientState,
    /// Replaces the reason when given.
    pub reason: Option<String>,
    /// Replaces the send when given.
    pub send: Option<SendId>,
    pub clicked: bool,
    pub updated_at: UnixMillis,
}

pub fn recipient_bucket(wa_id: &WaId) -> i32 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(wa_id.as_str().as_bytes());
    i32::from(digest[0]) % RECIPIENT_BUCKETS
}
