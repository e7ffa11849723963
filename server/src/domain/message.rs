//! Messages, statuses and account events: what a webhook delivers, what the business sends, and
//! how each is keyed and placed, the same on every backend (the keys are Scylla-shaped: derived,
//! so a redelivery is an upsert and never a second row).

use sha2::{Digest, Sha256};
use switchboard_shared::{
    ConversationId, Direction, MessageKey, MessageStatus, PhoneNumberId, TenantId, WaId, Wamid,
};

pub use super::clock::UnixMillis;

/// A day in milliseconds (UTC days have no leap seconds in Unix time).
pub const DAY_MS: i64 = 86_400_000;

/// The time bucket (days since the epoch) a timestamp falls in. Partitions are per
/// (tenant, conversation, bucket), so one busy conversation never makes one huge partition.
pub fn day_bucket(at_ms: UnixMillis) -> i64 {
    at_ms.div_euclid(DAY_MS)
}

pub(crate) fn short_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// Where an inbound message goes in its conversation's order. WhatsApp's timestamps have whole
/// seconds, and customers send bursts within one ("hi" / "my order" / "is late"); ordered by
/// (timestamp, key) a burst came out shuffled, since the key is a digest. So the messages of one
/// second are spread over its milliseconds in the order they arrived (webhook arrival, then
/// position in the batch): each just after the latest already stored in that second. A hybrid
/// logical clock per conversation: always within the second WhatsApp gave (999 messages of one
/// second keep their arrival order, later ones share the last millisecond), and a redelivery
/// keeps the place its first delivery got (the store looks the key up first).
pub fn arrival_at(at_ms: UnixMillis, latest_in_second: Option<UnixMillis>) -> UnixMillis {
    let second = at_ms.div_euclid(1000) * 1000;
    match latest_in_second {
        Some(latest) if latest >= at_ms => (latest + 1).min(second + 999),
        _ => at_ms,
    }
}

/// The idempotency key of an inbound message. A real wamid is unique, but Meta's published
/// examples reuse one wamid for several different messages, so the key also covers the sender,
/// the type and the sender's timestamp: a redelivery maps to the same key, a different message
/// with a recycled id does not.
pub fn inbound_message_key(wamid: &Wamid, from: &WaId, kind: &str, sent_at: &str) -> MessageKey {
    MessageKey::new(format!(
        "in_{}",
        short_hash(&[wamid.as_str(), from.as_str(), kind, sent_at])
    ))
}

/// The idempotency key of an outbound message: the wamid the Cloud API assigned.
pub fn outbound_message_key(wamid: &Wamid) -> MessageKey {
    MessageKey::new(format!("out_{}", short_hash(&[wamid.as_str()])))
}

/// A stable key for an account-level event, so a redelivered event is stored once.
pub fn event_key(field: &str, raw_value: &str) -> String {
    short_hash(&[field, raw_value])
}

/// A customer's profile as the latest webhook described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactUpdate {
    pub wa_id: WaId,
    pub name: Option<String>,
    /// Business-scoped user id (BSUID), when Meta sent one.
    pub user_id: Option<String>,
    /// The customer's WhatsApp username, when they have one (2026).
    pub username: Option<String>,
}

/// An inbound customer message, parsed from a webhook.
#[derive(Clone, Debug, PartialEq)]
pub struct InboundMessage {
    pub key: MessageKey,
    pub wamid: Wamid,
    pub number: PhoneNumberId,
    pub customer: WaId,
    /// WhatsApp's type string, kept even when nobody documented it yet.
    pub kind: String,
    /// Body or caption, when the message has one.
    pub text: Option<String>,
    pub at_ms: UnixMillis,
    /// The message object exactly as received (JSON).
    pub raw: String,
}

/// A delivery status of an outbound message.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusUpdate {
    pub wamid: Wamid,
    pub number: PhoneNumberId,
    pub recipient: WaId,
    pub status: MessageStatus,
    pub at_ms: UnixMillis,
    /// Meta's error codes, for `failed`.
    pub error_codes: Vec<i64>,
    /// `biz_opaque_callback_data` echoed from the send (ours is the outbox id); not stored
    /// apart from `raw`.
    pub callback: Option<String>,
    pub raw: String,
}

/// Anything else a webhook carries: template status and quality, number quality, account
/// updates, user preferences, value-level errors, and fields nobody documented yet.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountEvent {
    pub number: Option<PhoneNumberId>,
    /// The webhook `field` (e.g. `message_template_status_update`), or `messages.errors`.
    pub field: String,
    pub at_ms: UnixMillis,
    /// The change's `value` exactly as received (JSON).
    pub raw: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum InboundEvent {
    Contact(ContactUpdate),
    Message(InboundMessage),
    Status(StatusUpdate),
    Account(AccountEvent),
    /// A customer's marketing consent changed (Meta's `user_preferences`, a send refused with
    /// 131050, or a stop keyword the service found in a message).
    Consent(super::contact::ConsentChange),
    /// A priced status's ledger line (made by the service from the status, stored with it).
    Charge(super::cost::ChargeRecord),
    /// A file a message carries, queued for copying (made by the service from the message,
    /// stored with it; a redelivery leaves an existing record as it is).
    Media(super::media::MediaRecord),
}

/// One webhook delivery, ready to persist.
#[derive(Clone, Debug, PartialEq)]
pub struct IngestBatch {
    pub received_at: UnixMillis,
    /// The raw body exactly as received, for the journal.
    pub raw_body: Vec<u8>,
    /// Events with the tenant that owns them. Events for numbers no tenant owns are journaled
    /// only (the raw body keeps them).
    pub events: Vec<(TenantId, InboundEvent)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IngestReport {
    pub journal_seq: Option<i64>,
    /// The messages stored for the first time (redeliveries are not in it), with where each was
    /// placed in its conversation's order ([`arrival_at`]): what is announced must say the same.
    pub new_messages: std::collections::HashMap<MessageKey, UnixMillis>,
    pub messages_new: usize,
    pub messages_duplicate: usize,
    pub statuses_new: usize,
    pub statuses_duplicate: usize,
    pub events_new: usize,
    pub events_duplicate: usize,
    /// Ledger lines written for the first time (a message priced again is not).
    pub charges_new: usize,
}

/// A customer's message by when its webhook was received: what a start replays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub key: MessageKey,
    pub received_at: UnixMillis,
}

/// The hour a webhook received at `at_ms` is indexed under for replay.
pub fn received_hour(at_ms: UnixMillis) -> i64 {
    at_ms.div_euclid(3_600_000)
}

/// A message the business sent and the Cloud API accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboundRecord {
    pub tenant: TenantId,
    pub wamid: Wamid,
    pub number: PhoneNumberId,
    pub customer: WaId,
    pub kind: String,
    pub text: Option<String>,
    pub at_ms: UnixMillis,
    /// The request body sent to the Cloud API (JSON).
    pub raw: String,
}

/// A stored message as read back.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageRecord {
    pub tenant: TenantId,
    pub key: MessageKey,
    pub conversation: ConversationId,
    pub wamid: Wamid,
    pub number: PhoneNumberId,
    pub customer: WaId,
    pub direction: Direction,
    pub kind: String,
    pub text: Option<String>,
    pub at_ms: UnixMillis,
    /// Latest status: `received` for inbound, the highest reported for outbound.
    pub status: MessageStatus,
    /// Meta's error codes on the latest status (a `failed` one's).
    pub error_codes: Vec<i64>,
    pub raw: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StatusRecord {
    pub wamid: Wamid,
    pub status: MessageStatus,
    pub at_ms: UnixMillis,
    pub error_codes: Vec<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConversationRecord {
    pub tenant: TenantId,
    pub id: ConversationId,
    pub number: PhoneNumberId,
    pub customer: WaId,
    pub customer_name: Option<String>,
    pub last_message_at: UnixMillis,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AccountEventRecord {
    pub tenant: TenantId,
    pub number: Option<PhoneNumberId>,
    pub field: String,
    pub at_ms: UnixMillis,
    pub raw: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_keys_distinguish_recycled_wamids_but_not_redeliveries() {
        let w = Wamid::from("wamid.X");
        let from = WaId::from("1650");
        let a = inbound_message_key(&w, &from, "text", "1749416383");
        assert_eq!(a, inbound_message_key(&w, &from, "text", "1749416383"));
        assert_ne!(a, inbound_message_key(&w, &from, "image", "1744344496"));
        assert_ne!(a, outbound_message_key(&w));
    }

    #[test]
    fn buckets_are_days_and_handle_negative_times() {
        assert_eq!(day_bucket(0), 0);
        assert_eq!(day_bucket(DAY_MS - 1), 0);
        assert_eq!(day_bucket(DAY_MS), 1);
        assert_eq!(day_bucket(-1), -1);
    }
}
