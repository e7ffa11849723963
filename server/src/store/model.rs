//! Domain records the store speaks, and the key derivations every backend shares.

use base64::Engine as _;
use sha2::{Digest, Sha256};
use switchboard_shared::{
    ConversationId, Direction, MessageKey, MessageStatus, PhoneNumberId, TenantId, UserId, WaId,
    Wamid,
};

use super::StoreError;

/// Milliseconds since the Unix epoch, UTC.
pub type UnixMillis = i64;

const DAY_MS: i64 = 86_400_000;

/// The time bucket (days since the epoch) a timestamp falls in. Partitions are per
/// (tenant, conversation, bucket), so one busy conversation never makes one huge partition.
pub fn day_bucket(at_ms: UnixMillis) -> i64 {
    at_ms.div_euclid(DAY_MS)
}

fn short_hash(parts: &[&str]) -> String {
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

/// An opaque position in a paged read. Clients pass back what they were given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    pub fn from_token(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Encodes a tuple of fields. Fields may hold any text; they are length-prefixed.
    pub(crate) fn encode(fields: &[&str]) -> Self {
        let mut raw = Vec::new();
        for field in fields {
            raw.extend_from_slice(&(field.len() as u32).to_be_bytes());
            raw.extend_from_slice(field.as_bytes());
        }
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
    }

    pub(crate) fn decode(&self, expected: usize) -> Result<Vec<String>, StoreError> {
        let bad = || StoreError::Invalid("malformed cursor".into());
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&self.0)
            .map_err(|_| bad())?;
        let mut fields = Vec::with_capacity(expected);
        let mut rest = raw.as_slice();
        while !rest.is_empty() {
            if rest.len() < 4 {
                return Err(bad());
            }
            let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            rest = &rest[4..];
            if rest.len() < len {
                return Err(bad());
            }
            fields.push(String::from_utf8(rest[..len].to_vec()).map_err(|_| bad())?);
            rest = &rest[len..];
        }
        if fields.len() != expected {
            return Err(bad());
        }
        Ok(fields)
    }

    /// The position after a unique text key (an email) in an ordered listing.
    pub(crate) fn after_text(key: &str) -> Self {
        Self::encode(&[key])
    }

    /// The text key of [`Cursor::after_text`]; the empty string (before everything) for none.
    pub(crate) fn decode_text(cursor: Option<&Cursor>) -> Result<String, StoreError> {
        match cursor {
            Some(c) => Ok(c.decode(1)?.pop().unwrap_or_default()),
            None => Ok(String::new()),
        }
    }

    /// The position after `(bucket, at, key)` in a newest-first history read.
    pub(crate) fn history(bucket: i64, at_ms: UnixMillis, key: &str) -> Self {
        Self::encode(&[&bucket.to_string(), &at_ms.to_string(), key])
    }

    pub(crate) fn decode_history(&self) -> Result<(i64, UnixMillis, String), StoreError> {
        let mut f = self.decode(3)?;
        let key = f.pop().unwrap_or_default();
        let at = f[1]
            .parse()
            .map_err(|_| StoreError::Invalid("malformed cursor".into()))?;
        let bucket = f[0]
            .parse()
            .map_err(|_| StoreError::Invalid("malformed cursor".into()))?;
        Ok((bucket, at, key))
    }
}

/// Assembles one newest-first page from rows read bucket by bucket, the same way on every
/// backend: callers ask each partition for [`wants`](PageCollector::wants) rows (one more than
/// the page needs, so that a following row proves a next page exists) and stop as soon as
/// [`push`](PageCollector::push) says the page is complete.
pub(crate) struct PageCollector<T> {
    limit: usize,
    items: Vec<T>,
    last: Option<(i64, UnixMillis, String)>,
    more: bool,
}

impl<T> PageCollector<T> {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            limit,
            items: Vec::with_capacity(limit),
            last: None,
            more: false,
        }
    }

    /// How many rows to read from the next partition.
    pub(crate) fn wants(&self) -> usize {
        self.limit + 1 - self.items.len()
    }

    /// Adds a row at position (bucket, at, key). Returns true when the page is complete.
    pub(crate) fn push(&mut self, item: T, bucket: i64, at_ms: UnixMillis, key: &str) -> bool {
        if self.items.len() == self.limit {
            self.more = true;
            return true;
        }
        self.items.push(item);
        self.last = Some((bucket, at_ms, key.to_owned()));
        false
    }

    pub(crate) fn finish(self) -> Page<T> {
        let next = match (self.more, self.last) {
            (true, Some((bucket, at, key))) => Some(Cursor::history(bucket, at, &key)),
            _ => None,
        };
        Page {
            items: self.items,
            next,
        }
    }
}

/// A page of results and the cursor for the next one (`None` at the end).
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// A page read with `limit`: a full one may have a next page, after its last item (`at`
    /// gives that item's position); a short one is the end.
    pub(crate) fn of(items: Vec<T>, limit: usize, at: impl FnOnce(&T) -> Cursor) -> Self {
        let next = if items.len() == limit {
            items.last().map(at)
        } else {
            None
        };
        Self { items, next }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRecord {
    pub id: TenantId,
    pub name: String,
    pub created_at: UnixMillis,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberRecord {
    pub tenant: TenantId,
    pub phone_number_id: PhoneNumberId,
    pub display_phone_number: String,
    pub waba_id: Option<String>,
}

/// A customer's profile as the latest webhook described it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactUpdate {
    pub wa_id: WaId,
    pub name: Option<String>,
    /// Business-scoped user id (BSUID), when Meta sent one.
    pub user_id: Option<String>,
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

/// The id of a send in the outbox: derived from the conversation, who asked and their own key
/// for the message, so a client that retries (after a lost answer, or from an offline queue)
/// gets the same send back instead of a second one.
pub fn send_id(
    tenant: &TenantId,
    conversation: &ConversationId,
    author: &str,
    client_key: &str,
) -> String {
    format!(
        "o_{}",
        short_hash(&[tenant.as_str(), conversation.as_str(), author, client_key])
    )
}

/// Where a send in the outbox stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendState {
    /// Stored, not tried yet.
    Queued,
    /// A request left (or was about to leave) and no answer was recorded: after a crash the
    /// outcome is in doubt until a status webhook or a resend with the same key settles it.
    Sending,
    /// The Cloud API accepted it (`wamid` set); it is in the conversation's history.
    Sent,
    /// Refused for good (`error` says why); nothing was sent.
    Failed,
}

impl SendState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(Self::Queued),
            "sending" => Some(Self::Sending),
            "sent" => Some(Self::Sent),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Sent | Self::Failed)
    }
}

/// A message the business asked to send, kept until WhatsApp accepted or refused it for good.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxRecord {
    pub tenant: TenantId,
    pub id: String,
    pub conversation: ConversationId,
    pub number: PhoneNumberId,
    pub customer: WaId,
    /// Who asked (`user:u_…`, `api_key:k_…`).
    pub author: String,
    /// The Cloud API request body (JSON), sent as is on every attempt.
    pub request: String,
    pub kind: String,
    pub text: Option<String>,
    pub state: SendState,
    pub attempts: u32,
    pub wamid: Option<Wamid>,
    /// Why it failed, for `Failed` (Meta's code and message).
    pub error: Option<String>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

impl OutboxRecord {
    /// The history record of a sent message (`None` before it is sent).
    pub fn sent_message(&self) -> Option<OutboundRecord> {
        Some(OutboundRecord {
            tenant: self.tenant.clone(),
            wamid: self
                .wamid
                .clone()
                .filter(|_| self.state == SendState::Sent)?,
            number: self.number.clone(),
            customer: self.customer.clone(),
            kind: self.kind.clone(),
            text: self.text.clone(),
            at_ms: self.updated_at,
            raw: self.request.clone(),
        })
    }
}

/// An outbox row as both backends read it: the columns of [`OUTBOX_COLUMNS`] in order.
pub(crate) type OutboxRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    i32,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

/// The outbox columns every read selects, in [`OutboxRow`] order.
pub(crate) const OUTBOX_COLUMNS: &str = "tenant, send_id, conversation_id, number, customer, \
    author, request, kind, text, state, attempts, wamid, error, created_at, updated_at";

pub(crate) fn outbox_from_row(r: OutboxRow) -> Result<OutboxRecord, StoreError> {
    Ok(OutboxRecord {
        tenant: TenantId::new(r.0),
        id: r.1,
        conversation: ConversationId::new(r.2),
        number: PhoneNumberId::new(r.3),
        customer: WaId::new(r.4),
        author: r.5,
        request: r.6,
        kind: r.7,
        text: r.8,
        state: SendState::parse(&r.9)
            .ok_or_else(|| StoreError::Corrupt(format!("send state `{}`", r.9)))?,
        attempts: u32::try_from(r.10).unwrap_or_default(),
        wamid: r.11.map(Wamid::new),
        error: r.12,
        created_at: r.13,
        updated_at: r.14,
    })
}

impl Cursor {
    /// The position after `(at, key)` in an oldest-first listing.
    pub(crate) fn after_time(at_ms: UnixMillis, key: &str) -> Self {
        Self::encode(&[&at_ms.to_string(), key])
    }

    /// The position of [`Cursor::after_time`]; before everything for none.
    pub(crate) fn decode_time(cursor: Option<&Cursor>) -> Result<(UnixMillis, String), StoreError> {
        match cursor {
            Some(c) => {
                let mut f = c.decode(2)?;
                let key = f.pop().unwrap_or_default();
                let at = f[0]
                    .parse()
                    .map_err(|_| StoreError::Invalid("malformed cursor".into()))?;
                Ok((at, key))
            }
            None => Ok((i64::MIN, String::new())),
        }
    }
}

/// An internal note on a conversation (colleagues only, never the customer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteRecord {
    pub tenant: TenantId,
    pub conversation: ConversationId,
    pub id: String,
    /// `None` for an API key.
    pub author: Option<UserId>,
    pub author_name: String,
    pub text: String,
    pub mentions: Vec<UserId>,
    pub at_ms: UnixMillis,
}

/// What routing knows of an agent beyond presence: skills and their own capacity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileRecord {
    pub tenant: TenantId,
    pub user: UserId,
    pub skills: Vec<String>,
    /// `None`: the tenant's default.
    pub capacity: Option<u32>,
    pub updated_at: UnixMillis,
}

pub(crate) fn note_from_row(
    tenant: &TenantId,
    conversation: &ConversationId,
    r: (i64, String, Option<String>, String, String, String),
) -> Result<NoteRecord, StoreError> {
    Ok(NoteRecord {
        tenant: tenant.clone(),
        conversation: conversation.clone(),
        at_ms: r.0,
        id: r.1,
        author: r.2.map(UserId::new),
        author_name: r.3,
        text: r.4,
        mentions: super::identity::decode_list(&r.5)?
            .into_iter()
            .map(UserId::new)
            .collect(),
    })
}

pub(crate) fn profile_from_row(
    tenant: &TenantId,
    r: (String, String, Option<u32>, i64),
) -> Result<ProfileRecord, StoreError> {
    Ok(ProfileRecord {
        tenant: tenant.clone(),
        user: UserId::new(r.0),
        skills: super::identity::decode_list(&r.1)?,
        capacity: r.2,
        updated_at: r.3,
    })
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

/// Where a conversation stands in the inbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    /// Waiting for an agent.
    Queued,
    /// With an agent.
    Assigned,
    /// Done; the customer writing again reopens it.
    Resolved,
}

impl ThreadState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Assigned => "assigned",
            Self::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(Self::Queued),
            "assigned" => Some(Self::Assigned),
            "resolved" => Some(Self::Resolved),
            _ => None,
        }
    }
}

/// A conversation's inbox state: who has it, whether the customer waits for a reply, its tags.
/// Written whole by the one task that routes a tenant's conversations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadRecord {
    pub tenant: TenantId,
    pub conversation: ConversationId,
    pub number: PhoneNumberId,
    pub customer: WaId,
    pub state: ThreadState,
    pub assignee: Option<UserId>,
    /// The agent who had it last (sticky routing when the customer comes back).
    pub last_agent: Option<UserId>,
    pub tags: Vec<String>,
    /// When the customer's oldest unanswered message arrived; `None` once answered.
    pub waiting_since: Option<UnixMillis>,
    /// The customer's last message: opens the 24-hour window, and is what `mark_read` marks.
    pub last_inbound_at: Option<UnixMillis>,
    pub last_inbound_wamid: Option<Wamid>,
    /// When the current episode began (first message, or the reopening one).
    pub opened_at: UnixMillis,
    pub updated_at: UnixMillis,
}

impl ThreadRecord {
    pub fn is_open(&self) -> bool {
        self.state != ThreadState::Resolved
    }
}

/// A thread as both backends read it: the columns of [`THREAD_COLUMNS`] in order.
pub(crate) type ThreadRow = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i64,
    i64,
);

/// The thread columns every read selects, in [`ThreadRow`] order.
pub(crate) const THREAD_COLUMNS: &str = "tenant, conversation_id, number, customer, state, \
    assignee, last_agent, tags, waiting_since, last_inbound_at, last_inbound_wamid, opened_at, \
    updated_at";

pub(crate) fn thread_from_row(r: ThreadRow) -> Result<ThreadRecord, StoreError> {
    Ok(ThreadRecord {
        tenant: TenantId::new(r.0),
        conversation: ConversationId::new(r.1),
        number: PhoneNumberId::new(r.2),
        customer: WaId::new(r.3),
        state: ThreadState::parse(&r.4)
            .ok_or_else(|| StoreError::Corrupt(format!("thread state `{}`", r.4)))?,
        assignee: r.5.map(UserId::new),
        last_agent: r.6.map(UserId::new),
        tags: super::identity::decode_list(&r.7)?,
        waiting_since: r.8,
        last_inbound_at: r.9,
        last_inbound_wamid: r.10.map(Wamid::new),
        opened_at: r.11,
        updated_at: r.12,
    })
}

/// A person who signs in to one tenant.
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub tenant: TenantId,
    pub id: UserId,
    /// Unique across all tenants, stored as given by [`normalize_email`].
    pub email: String,
    pub name: String,
    /// A preset role name (`owner`, `admin`, `supervisor`, `agent`, `viewer`) or a custom role id.
    pub role: String,
    /// Argon2id in PHC form.
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: UnixMillis,
    /// Bumped to end every session of the user at once (log out everywhere, password reset,
    /// disabling, a change of role).
    pub session_epoch: i64,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("tenant", &self.tenant)
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("disabled", &self.disabled)
            .field("session_epoch", &self.session_epoch)
            .finish_non_exhaustive()
    }
}

/// Emails compare case-insensitively and without surrounding space.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// `None` where the backend keeps no counts (ScyllaDB: counting would scan every node, and
    /// counter tables are neither idempotent nor allowed on tablets; /metrics has the rates).
    pub journal_entries: Option<u64>,
    pub messages: Option<u64>,
    pub statuses: Option<u64>,
    pub account_events: Option<u64>,
    pub contacts: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_any_text() {
        let c = Cursor::history(-3, 1_700_000_000_123, "in_\u{1F44D}\u{1f}x");
        assert_eq!(
            c.decode_history().unwrap(),
            (-3, 1_700_000_000_123, "in_\u{1F44D}\u{1f}x".to_string())
        );
        assert!(Cursor::from_token("!!!").decode_history().is_err());
        assert!(Cursor::encode(&["a", "b"]).decode_history().is_err());
    }

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
