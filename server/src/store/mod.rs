//! Persistence behind traits in domain terms.
//!
//! Owns: the `Store` traits, the domain records they speak, the Scylla-shaped key derivations
//! (conversation ids, message keys, time buckets, cursors) that every backend must share, and the
//! backends themselves (`SqliteStore`, the embedded default; `ScyllaStore`, for scale).
//! Must not: leak a backend type (SQL, CQL, driver rows) into a signature, or know about HTTP.
//!
//! Data model, identical on both backends (see `migrations/`):
//! - messages are partitioned by (tenant, conversation, day bucket) and clustered newest first;
//! - a message is keyed by its [`MessageKey`], derived from the wamid and the message's identity,
//!   so a redelivered webhook is a plain upsert and never a second row;
//! - statuses are rows keyed by (tenant, wamid, rank): the latest status is the highest rank, so a
//!   late `delivered` can never undo `read`, with no read-before-write;
//! - every read is paged with an opaque [`Cursor`] both backends encode identically.

pub mod blobs;
pub mod conformance;
pub mod keys;
pub mod ledger;
pub mod page;
pub mod scylla;
pub mod sqlite;

use async_trait::async_trait;
use switchboard_shared::contacts::{AttributeDef, ConsentEvidence, Filter};
use switchboard_shared::{
    ApiKeyId, CampaignId, ContactId, ConversationId, ImportId, MessageKey, PhoneNumberId, RoleId,
    SegmentId, SendId, TeamId, TenantId, UserId, WaId, Wamid,
};

pub use keys::IdKeys;
pub use page::*;

use crate::domain::*;

/// Errors every backend maps its own failures into.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or failed to execute; the operation may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The backend's driver failed (SQLite, the Scylla driver); its error is kept as the source,
    /// so logs and callers can see the whole chain. The operation may be retried.
    #[error("store unavailable: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The disk holding the data is full; nothing of the operation was written. It may be
    /// retried once there is space again.
    #[error("the disk is full: {0}")]
    Full(String),
    /// The data cannot be written (a read-only file system, permissions); nothing was written.
    #[error("the store is read-only: {0}")]
    ReadOnly(String),
    /// Stored data or a cursor could not be decoded.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The caller passed something the store cannot accept (e.g. a malformed cursor).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The store is shutting down and accepts no more writes.
    #[error("store is closed")]
    Closed,
    /// A unique value (an email) is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The data under a running server is gone or damaged (its database file deleted, replaced
    /// or corrupt): nothing is written any more until an operator restores it and restarts.
    #[error("the stored data is lost: {0}")]
    Lost(String),
}

impl StoreError {
    /// Why a write could not happen, for callers: the wire code and a sentence an operator can
    /// act on. A full disk and a read-only data directory are told apart from the rest.
    pub fn refusal(&self) -> (switchboard_shared::ErrorCode, &'static str) {
        use switchboard_shared::ErrorCode;
        match self {
            StoreError::Full(_) => (
                ErrorCode::StorageFull,
                "the server's disk is full: nothing was written; it works again as soon as \
                 space is freed",
            ),
            StoreError::ReadOnly(_) => (
                ErrorCode::StorageReadOnly,
                "the server's data directory cannot be written: nothing was written",
            ),
            StoreError::Lost(_) => (
                ErrorCode::StorageLost,
                "the server's database file was deleted, replaced or damaged while it ran: \
                 nothing was written; the operator restores it (`switchboard restore`) and \
                 restarts",
            ),
            _ => (
                ErrorCode::StoreUnavailable,
                "the store is unavailable; try again",
            ),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Tenants and the business numbers they own.
#[async_trait]
pub trait DirectoryStore: Send + Sync {
    /// The deployment's identifier keys (conversation ids, masked message references), made
    /// once and kept by the store so that every server on it derives the same ids.
    fn id_keys(&self) -> &IdKeys;
    /// Creates or updates a tenant. Idempotent.
    async fn upsert_tenant(&self, tenant: &TenantRecord) -> StoreResult<()>;
    /// All tenants, ordered by id.
    async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>>;
    /// Creates or updates a number and its owner. Idempotent.
    async fn upsert_number(&self, number: &NumberRecord) -> StoreResult<()>;
    /// The numbers a tenant owns, ordered by phone_number_id.
    async fn list_numbers(&self, tenant: &TenantId) -> StoreResult<Vec<NumberRecord>>;
    /// Connects a number from the app, with its audit line, and lists it among its tenant's
    /// numbers: `Taken` when the phone number id is another tenant's (listed there, or connected
    /// there), `Exists` when this tenant has connected it already. Nothing is written then.
    async fn connect_number(
        &self,
        connection: &NumberConnection,
        audit: &AuditRecord,
    ) -> StoreResult<Connect>;
    /// Replaces a connected number's settings and secrets, with its audit line (a tier change
    /// from Meta has none); false, and nothing written, when the tenant has not connected it.
    async fn update_connection(
        &self,
        connection: &NumberConnection,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<bool>;
    /// Forgets a connected number's settings and secrets, with its audit line; its history and
    /// its place in the tenant's list stay. False when the tenant has not connected it.
    async fn disconnect_number(
        &self,
        tenant: &TenantId,
        number: &PhoneNumberId,
        audit: &AuditRecord,
    ) -> StoreResult<bool>;
    /// Every number connected from the app, of every tenant, ordered by phone_number_id.
    async fn number_connections(&self) -> StoreResult<Vec<NumberConnection>>;
}

/// A message a search found: where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchHit {
    pub conversation: ConversationId,
    pub message: MessageKey,
    pub at_ms: UnixMillis,
}

/// Messages, statuses and the raw webhook journal.
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Persists one webhook delivery: its raw body in the journal and every event it carries,
    /// atomically where the backend can (SQLite), idempotently everywhere: ingesting the same batch
    /// twice leaves the store as after the first time. Returns only once the data is durable.
    async fn ingest(&self, batch: IngestBatch) -> StoreResult<IngestReport>;

    /// Records a message the business sent (accepted by the Cloud API). Idempotent on its key.
    async fn record_outbound(&self, message: OutboundRecord) -> StoreResult<()>;

    /// A page of the tenant's messages whose text holds every one of `terms` (a query's
    /// [`search_terms`](switchboard_shared::normalize::search_terms); a message's text is
    /// indexed the same way as it is stored), newest first (SQLite: in the order stored;
    /// Scylla: by the message's time).
    async fn search_messages(
        &self,
        tenant: &TenantId,
        terms: &[String],
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<SearchHit>>;

    /// One message by key, or `None` if the tenant has no such message.
    async fn get_message(
        &self,
        tenant: &TenantId,
        key: &MessageKey,
    ) -> StoreResult<Option<MessageRecord>>;

    /// The latest (highest-rank) status reported for an outbound message, or `None`.
    async fn latest_status(
        &self,
        tenant: &TenantId,
        wamid: &Wamid,
    ) -> StoreResult<Option<StatusRecord>>;

    /// A page of a conversation's history, newest first. `cursor` is the `next` of the previous
    /// page; `None` starts from the newest message. At most `limit` (1..=500) items.
    async fn conversation_history(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<MessageRecord>>;

    /// The keyed id of a conversation that had `old_id` before ids were keyed (migration 7), if
    /// any: so that a client holding an old id is told the new one instead of "not found".
    async fn conversation_alias(
        &self,
        tenant: &TenantId,
        old_id: &str,
    ) -> StoreResult<Option<ConversationId>>;

    /// The conversation between a number and a customer, if any message was stored for it.
    async fn get_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Option<ConversationRecord>>;

    /// A page of every stored message across tenants, in the backend's stable scan order (for
    /// export and backfills). Messages stored while a scan runs may or may not appear; none
    /// appears twice.
    async fn scan_messages(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<MessageRecord>>;

    /// A page of a tenant's account-level events (template, quality, account, preference
    /// updates and value-level errors), newest first.
    async fn account_events(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<AccountEventRecord>>;

    /// A page of a tenant's customer messages whose webhooks were received in `[since, until)`,
    /// oldest first: what a start replays (see `Inbound::replay`). Every message stored for the
    /// first time is in it; a redelivery may be too (its consumers are idempotent).
    async fn received_between(
        &self,
        tenant: &TenantId,
        since: UnixMillis,
        until: UnixMillis,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<Received>>;

    /// A named position in time (the inbox's replay cursor), if one was set.
    async fn cursor(&self, name: &str) -> StoreResult<Option<UnixMillis>>;

    /// Moves a named position (it never moves back: a lower `at` is ignored).
    async fn set_cursor(&self, name: &str, at: UnixMillis) -> StoreResult<()>;

    /// Counts for the plain index page, where the backend keeps them (they may scan).
    async fn stats(&self) -> StoreResult<StoreStats>;

    /// Whether the store answers, cheaply (readiness probes call it often).
    async fn ping(&self) -> StoreResult<()>;
    /// The migrations applied, from the ledger, oldest first.
    async fn schema_ledger(&self) -> StoreResult<Vec<ledger::Applied>>;
}

/// Users, sessions, API keys, custom roles, teams and the audit log.
///
/// Every change an administrator makes carries its [`AuditRecord`], written with the change: in
/// the same transaction on SQLite, in the same logged batch (or right after the lightweight
/// transaction) on Scylla. A change is never stored without its audit line.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// Creates a user. `Conflict` when the (normalized) email is taken in any tenant; nothing is
    /// written then.
    async fn create_user(&self, user: &UserRecord, audit: &AuditRecord) -> StoreResult<()>;
    /// The user with this email (normalized first), in whichever tenant.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>>;
    /// A tenant's user by id; `None` for another tenant's user.
    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> StoreResult<Option<UserRecord>>;
    /// A tenant's users ordered by email, paged (1..=500).
    async fn list_users(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>>;
    /// Replaces a user's name, role, password hash, disabled flag and session epoch (the email
    /// and tenant never change). Returns false, writing nothing, when the tenant has no such user.
    async fn update_user(&self, user: &UserRecord, audit: &AuditRecord) -> StoreResult<bool>;

    /// Stores a new session (a login). Expired sessions may be purged on the way.
    async fn create_session(&self, session: &SessionRecord, audit: &AuditRecord)
        -> StoreResult<()>;
    /// The session whose token hashes to `token_hash`, expired or not.
    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>>;
    /// Records activity on a session that ends at `expires_at` (a backend that expires rows by
    /// itself writes the activity to expire with the row, never to outlive it).
    async fn touch_session(
        &self,
        token_hash: &str,
        at: UnixMillis,
        expires_at: UnixMillis,
    ) -> StoreResult<()>;
    /// Ends one session (a logout). Returns whether it existed.
    async fn delete_session(&self, token_hash: &str, audit: &AuditRecord) -> StoreResult<bool>;

    /// Creates or replaces a custom role.
    async fn put_role(&self, role: &RoleRecord, audit: &AuditRecord) -> StoreResult<()>;
    async fn get_role(&self, tenant: &TenantId, id: &RoleId) -> StoreResult<Option<RoleRecord>>;
    /// A tenant's custom roles (at most [`MAX_ROLES`]), ordered by id.
    async fn list_roles(&self, tenant: &TenantId) -> StoreResult<Vec<RoleRecord>>;
    async fn delete_role(
        &self,
        tenant: &TenantId,
        id: &RoleId,
        audit: &AuditRecord,
    ) -> StoreResult<bool>;

    /// Creates or replaces a team.
    async fn put_team(&self, team: &TeamRecord, audit: &AuditRecord) -> StoreResult<()>;
    async fn get_team(&self, tenant: &TenantId, id: &TeamId) -> StoreResult<Option<TeamRecord>>;
    /// A tenant's teams (at most [`MAX_TEAMS`]), ordered by id.
    async fn list_teams(&self, tenant: &TenantId) -> StoreResult<Vec<TeamRecord>>;
    async fn delete_team(
        &self,
        tenant: &TenantId,
        id: &TeamId,
        audit: &AuditRecord,
    ) -> StoreResult<bool>;

    /// Stores a new API key. `Conflict` if the id exists.
    async fn create_api_key(&self, key: &ApiKeyRecord, audit: &AuditRecord) -> StoreResult<()>;
    /// A key by its public id, in whichever tenant.
    async fn get_api_key(&self, id: &ApiKeyId) -> StoreResult<Option<ApiKeyRecord>>;
    /// A tenant's keys, revoked ones included, ordered by id (bounded like roles).
    async fn list_api_keys(&self, tenant: &TenantId) -> StoreResult<Vec<ApiKeyRecord>>;
    /// Marks a key revoked at `at`. Returns false, writing nothing, for another tenant's key or
    /// an already revoked one.
    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &ApiKeyId,
        at: UnixMillis,
        audit: &AuditRecord,
    ) -> StoreResult<bool>;
    /// Records a use of a key.
    async fn touch_api_key(&self, id: &ApiKeyId, at: UnixMillis) -> StoreResult<()>;

    /// Appends an audit line that goes with no change (a login, a denied request, a read).
    async fn append_audit(&self, audit: &AuditRecord) -> StoreResult<()>;
    /// A page of a tenant's audit log, newest first, filtered.
    async fn audit_log(
        &self,
        tenant: &TenantId,
        query: &AuditQuery,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<AuditRecord>>;
}

/// Conversations' inbox state (assignment, queue, tags, the reply window).
///
/// Scylla shape: one row per conversation found by its id, plus an index of the tenant's *open*
/// conversations in one partition (bounded by the live workload, not by history: resolving a
/// conversation removes it from the index), the archive's index: a partition per (tenant,
/// day) naming the conversations written that day, and the episodes reports read: a partition
/// per (tenant, day the episode opened).
#[async_trait]
pub trait InboxStore: Send + Sync {
    /// Writes a conversation's state whole (and its audit line, for a person's action, in the
    /// same transaction or logged batch).
    async fn put_thread(
        &self,
        thread: &ThreadRecord,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<()>;
    async fn get_thread(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Option<ThreadRecord>>;
    /// A page of the tenant's open (queued or assigned) conversations, ordered by id.
    async fn open_threads(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ThreadRecord>>;

    /// A page of the tenant's conversations, open and resolved, whose last activity
    /// (`updated_at`) falls on a day of `days` (days since the epoch, [`day_bucket`]): newest day
    /// first, by id within a day. Each conversation appears once, on its last day.
    async fn threads_by_activity(
        &self,
        tenant: &TenantId,
        days: std::ops::Range<i64>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ThreadRecord>>;

    /// A page of the tenant's episodes (reports' facts, written with each thread: see
    /// [`ThreadRecord::episode_record`]) opened on a day of `days`, by day, then conversation,
    /// then opening time.
    async fn episodes(
        &self,
        tenant: &TenantId,
        days: std::ops::Range<i64>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<EpisodeRecord>>;

    /// Adds an internal note. Idempotent on its id.
    async fn add_note(&self, note: &NoteRecord) -> StoreResult<()>;
    /// A page of a conversation's notes, newest first.
    async fn notes(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<NoteRecord>>;
    /// Writes an agent's routing profile whole, with its audit line.
    async fn put_profile(&self, profile: &ProfileRecord, audit: &AuditRecord) -> StoreResult<()>;
    /// A page of the tenant's agent profiles, ordered by user id.
    async fn profiles(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ProfileRecord>>;
}

/// Sends waiting for WhatsApp: stored before the caller hears "queued", finished once WhatsApp
/// accepted (the message then enters the conversation's history) or refused for good.
///
/// Scylla shape: one row per send found by its id, plus an index of each number's unfinished
/// sends in one partition, oldest first (bounded by the backlog: finishing removes the entry).
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Stores a new send, durably. When the tenant already has a send with this id (a client's
    /// retry), nothing is written and the stored one is returned; otherwise `send` itself.
    async fn enqueue_send(&self, send: &OutboxRecord) -> StoreResult<OutboxRecord>;
    /// Writes a send's progress whole. A send written as `Sent` enters the conversation's
    /// history ([`OutboxRecord::sent_message`]) before it leaves the pending index, and a
    /// finished one leaves the index: a crash in between leaves it pending, and finishing it
    /// again is harmless.
    async fn update_send(&self, send: &OutboxRecord) -> StoreResult<()>;
    async fn get_send(&self, tenant: &TenantId, id: &SendId) -> StoreResult<Option<OutboxRecord>>;
    /// A page of a number's unfinished sends, oldest first.
    async fn pending_sends(
        &self,
        number: &PhoneNumberId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<OutboxRecord>>;
}

/// A contact listing's filter: words of a name or a number prefix, a tag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContactQuery {
    /// A name ([`NameQuery`]: any word of it, each query word beginning a word of the name),
    /// or number digits prefix; at least two characters.
    pub prefix: Option<String>,
    /// Whether the prefix may match numbers (callers who may not see numbers cannot search
    /// by them).
    pub by_phone: bool,
    pub tag: Option<String>,
}

/// The search index rows a contact search reads at a time, and the most reads one page makes
/// (a tag filter or a later word of the query may pass over many rows); a page that ends early
/// still has a cursor, from the last row read.
pub const SEARCH_ROWS: usize = 200;
pub const SEARCH_ROUNDS: usize = 20;

/// The page a contact search made from its index, walked in (term, id) order: `found` holds the
/// contacts kept with the term each was kept under. A full page goes on after its last contact; a
/// short one that stopped before the index `ended` (after [`SEARCH_ROUNDS`] reads) goes on after
/// the last row read, `last`.
pub fn search_page(
    found: Vec<(String, ContactRecord)>,
    limit: usize,
    ended: bool,
    last: (&str, &str),
) -> Page<ContactRecord> {
    let next = match found.last() {
        Some((term, c)) if found.len() == limit => Some(Cursor::encode(&[term, c.id.as_str()])),
        _ if !ended => Some(Cursor::encode(&[last.0, last.1])),
        _ => None,
    };
    Page {
        items: found.into_iter().map(|(_, c)| c).collect(),
        next,
    }
}

/// Customers, their notes and consent history, segment counts and erasure.
///
/// Scylla shape: contacts are partitioned by (tenant, shard of 16) and found by id; a number or
/// a BSUID finds its contact through an index row of its own; notes and consent history by
/// (tenant, contact). Every write is an upsert.
#[async_trait]
pub trait ContactStore: Send + Sync {
    /// Writes a contact whole (with its identity and search index entries, its consent change
    /// when given, and its audit line). `Conflict` when its number or BSUID belongs to another
    /// contact; nothing is written then.
    async fn put_contact(
        &self,
        contact: &ContactRecord,
        consent: Option<&ConsentEvidence>,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<()>;
    async fn get_contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
    ) -> StoreResult<Option<ContactRecord>>;
    /// The contact a `wa_id` or a BSUID belongs to.
    async fn find_contact(
        &self,
        tenant: &TenantId,
        customer: &str,
    ) -> StoreResult<Option<ContactRecord>>;
    /// The contacts of these numbers (E.164 digits), in any order; unknown ones are absent.
    async fn contacts_by_phones(
        &self,
        tenant: &TenantId,
        phones: &[String],
    ) -> StoreResult<Vec<ContactRecord>>;
    /// Applies what webhooks said about customers (made when new), outside `ingest` (an
    /// outbound message's time).
    async fn touch_contacts(&self, touches: &[(TenantId, ContactTouch)]) -> StoreResult<()>;
    /// A page of contacts: by name (folded) or number prefix when `query.prefix` is given,
    /// else by id; only those with `query.tag` when given.
    async fn list_contacts(
        &self,
        tenant: &TenantId,
        query: &ContactQuery,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ContactRecord>>;
    /// How many contacts a (checked) filter selects. `open` holds the customers (`wa_id`s and
    /// BSUIDs) with a queued or assigned conversation now.
    async fn count_segment(
        &self,
        tenant: &TenantId,
        filter: &Filter,
        now: UnixMillis,
        open: &std::collections::HashSet<String>,
    ) -> StoreResult<u64>;
    /// A page of the contacts a filter selects, by id.
    async fn segment_members(
        &self,
        tenant: &TenantId,
        filter: &Filter,
        now: UnixMillis,
        open: &std::collections::HashSet<String>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ContactRecord>>;
    /// Removes a contact with its notes and consent history (not its conversations).
    async fn delete_contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<bool>;
    /// Writes `into` and removes `from`, moving `from`'s notes and consent history to `into`,
    /// with the audit line: one transaction on SQLite, idempotent steps on Scylla (`into`
    /// first, so a retry finishes the job).
    async fn merge_contacts(
        &self,
        into: &ContactRecord,
        from: &ContactRecord,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// Removes everything stored about a customer: the contact, its notes and consent
    /// history, and the messages, statuses, conversations, inbox state, notes and sends of
    /// every conversation with `customers` (its `wa_id` and BSUID), on every number. Counts
    /// what it removed; writes the audit line (which holds the counts, never the content).
    async fn erase_contact(
        &self,
        contact: &ContactRecord,
        audit: &AuditRecord,
    ) -> StoreResult<ErasureReceipt>;

    async fn add_contact_note(&self, note: &ContactNoteRecord) -> StoreResult<()>;
    /// A page of a contact's notes, newest first.
    async fn contact_notes(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ContactNoteRecord>>;
    /// A page of a contact's consent changes, newest first.
    async fn consent_history(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ConsentEvidence>>;
}

/// The shape of a tenant's contact base: the tag catalogue, attribute definitions and saved
/// segments. Small bounded sets, one partition per tenant on Scylla.
#[async_trait]
pub trait CatalogueStore: Send + Sync {
    /// Creates or replaces a tag of the catalogue (found case-insensitively).
    async fn put_tag(&self, tag: &TagRecord, audit: Option<&AuditRecord>) -> StoreResult<()>;
    /// The catalogue (at most [`MAX_CATALOGUE_TAGS`]), by name.
    async fn list_tags(&self, tenant: &TenantId) -> StoreResult<Vec<TagRecord>>;
    async fn delete_tag(
        &self,
        tenant: &TenantId,
        name: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool>;
    async fn put_attribute(
        &self,
        tenant: &TenantId,
        def: &AttributeDef,
        audit: &AuditRecord,
    ) -> StoreResult<()>;
    /// The definitions (at most [`MAX_ATTRIBUTES`]), by key.
    async fn list_attributes(&self, tenant: &TenantId) -> StoreResult<Vec<AttributeDef>>;
    async fn delete_attribute(
        &self,
        tenant: &TenantId,
        key: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool>;

    async fn put_segment(&self, segment: &SegmentRecord, audit: &AuditRecord) -> StoreResult<()>;
    async fn get_segment(
        &self,
        tenant: &TenantId,
        id: &SegmentId,
    ) -> StoreResult<Option<SegmentRecord>>;
    /// The segments (at most [`MAX_SEGMENTS`]), by id.
    async fn list_segments(&self, tenant: &TenantId) -> StoreResult<Vec<SegmentRecord>>;
    async fn delete_segment(
        &self,
        tenant: &TenantId,
        id: &SegmentId,
        audit: &AuditRecord,
    ) -> StoreResult<bool>;
}

/// Automation's documents (keyword rules, the word filter's term lists, and later schedules and
/// flows): per tenant and kind a
/// bounded set (at most [`MAX_ITEMS_PER_KIND`]), one partition on Scylla, each written whole
/// only over the version its writer read.
#[async_trait]
pub trait AutomationStore: Send + Sync {
    /// The tenant's documents of a kind, by id.
    async fn list_items(
        &self,
        tenant: &TenantId,
        kind: ItemKind,
    ) -> StoreResult<Vec<AutomationItem>>;
    async fn get_item(
        &self,
        tenant: &TenantId,
        kind: ItemKind,
        id: &str,
    ) -> StoreResult<Option<AutomationItem>>;
    /// Writes the document if the stored one has version `item.version - 1` (none stored when
    /// it is 1), with its audit line; `Conflict` when another change came first.
    /// `audit`: the change's audit line, written with it (none for run state, which changes
    /// with every step of a bot flow).
    async fn put_item(&self, item: &AutomationItem, audit: Option<&AuditRecord>)
        -> StoreResult<()>;
    /// Removes a document; whether it was there.
    async fn delete_item(
        &self,
        tenant: &TenantId,
        kind: ItemKind,
        id: &str,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<bool>;
}

/// Contact imports: the job's record and checkpoint, its undo log and its rejected rows (by
/// (tenant, import) on Scylla), and the index of running ones a restart resumes.
#[async_trait]
pub trait ImportStore: Send + Sync {
    /// Writes an import's record whole (its state and checkpoint).
    async fn put_import(&self, import: &ImportRecord) -> StoreResult<()>;
    async fn get_import(
        &self,
        tenant: &TenantId,
        id: &ImportId,
    ) -> StoreResult<Option<ImportRecord>>;
    /// A tenant's imports, newest first (the last 100).
    async fn list_imports(&self, tenant: &TenantId) -> StoreResult<Vec<ImportRecord>>;
    /// Every tenant's imports still `running` (to resume after a restart).
    async fn running_imports(&self) -> StoreResult<Vec<ImportRecord>>;
    /// One committed chunk of an import: the contacts written (with their tags' index), the
    /// undo entries, the rejected rows and the import's checkpoint, together: a restart
    /// resumes after the last chunk written, never half of one. A contact whose number is
    /// another's is `Conflict` and nothing of the chunk is written.
    async fn import_chunk(
        &self,
        import: &ImportRecord,
        contacts: &[ContactRecord],
        undo: &[UndoEntry],
        rejected: &[RejectedRow],
    ) -> StoreResult<()>;
    /// A page of an import's undo log, by contact id.
    async fn import_undo_log(
        &self,
        tenant: &TenantId,
        import: &ImportId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<UndoEntry>>;
    /// A page of an import's rejected rows, by line.
    async fn rejected_rows(
        &self,
        tenant: &TenantId,
        import: &ImportId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<RejectedRow>>;
}

/// The cost ledger: one line per priced message (written with its status by `ingest`), read a
/// month partition at a time.
#[async_trait]
pub trait CostStore: Send + Sync {
    /// A message's ledger line, if it has one.
    async fn get_charge(
        &self,
        tenant: &TenantId,
        wamid: &Wamid,
    ) -> StoreResult<Option<ChargeRecord>>;
    /// A page of a month's ledger lines (`2026-11`), by wamid.
    async fn charges(
        &self,
        tenant: &TenantId,
        month: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ChargeRecord>>;
}

/// Campaigns' recipients: a row per contact a campaign selected, spread over
/// [`RECIPIENT_BUCKETS`] partitions per campaign on Scylla, read in (bucket, WhatsApp id) order.
#[async_trait]
pub trait CampaignStore: Send + Sync {
    /// Writes recipients whole (an upsert: writing one again is harmless).
    async fn put_recipients(&self, recipients: &[RecipientRecord]) -> StoreResult<()>;
    /// Moves recipients already written (their state, click, and the reason and send when
    /// given); one write for the batch where the backend can.
    async fn update_recipients(&self, updates: &[RecipientUpdate]) -> StoreResult<()>;
    async fn get_recipient(
        &self,
        tenant: &TenantId,
        campaign: &CampaignId,
        wa_id: &WaId,
    ) -> StoreResult<Option<RecipientRecord>>;
    /// A page of a campaign's recipients.
    async fn recipients(
        &self,
        tenant: &TenantId,
        campaign: &CampaignId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<RecipientRecord>>;
}

/// The files messages carry: where each copy stands, the keeper's queue, and which blobs are
/// still named.
#[async_trait]
pub trait MediaStore: Send + Sync {
    /// Records a file's state; a pending one is in its number's queue, any other is not.
    async fn put_media(&self, media: &MediaRecord) -> StoreResult<()>;
    async fn get_media(
        &self,
        tenant: &TenantId,
        media_id: &str,
    ) -> StoreResult<Option<MediaRecord>>;
    /// A number's queued files, the longest waiting first.
    async fn pending_media(
        &self,
        number: &PhoneNumberId,
        limit: usize,
    ) -> StoreResult<Vec<MediaRecord>>;
    /// Whether any file of any tenant still names this blob (it may be deleted when none does).
    async fn blob_in_use(&self, digest: &str) -> StoreResult<bool>;
}

/// Retention: removing what a policy says is due, and nothing a hold keeps.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Purges one conversation's messages before the cut's times, except those in a held range:
    /// removes whole the ones before `rows_before` (with their statuses and search postings),
    /// strips the text of the ones before `text_before` (see [`crate::domain::retention::skeleton`])
    /// and lists the media ids of the ones before `media_before` (the caller deletes the files
    /// first). With `apply` false it only counts. Running it again finds nothing more.
    async fn purge_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cut: &PurgeCut,
        apply: bool,
    ) -> StoreResult<PurgeCounts>;
    /// Removes the tenant's audit lines of the days before `before`'s day (whole days); how
    /// many (with `apply` false, how many would go).
    async fn purge_audit(
        &self,
        tenant: &TenantId,
        before: UnixMillis,
        apply: bool,
    ) -> StoreResult<u64>;
    /// Removes the webhook journal's bodies received on the days before `before`'s day; how
    /// many. (ScyllaDB's journal table expires rows by its own TTL instead: 0 there.)
    async fn purge_journal(&self, before: UnixMillis) -> StoreResult<u64>;
}

/// Agents' working time by day ([`AgentDayRecord`]): running totals the inbox rewrites whole.
///
/// Scylla shape: a partition per (tenant, day), a row per agent; idempotent upserts.
#[async_trait]
pub trait ActivityStore: Send + Sync {
    /// Writes each agent-day whole (an upsert: writing one again is harmless).
    async fn put_agent_days(&self, days: &[AgentDayRecord]) -> StoreResult<()>;
    /// A page of the tenant's agent-days on `days` (days since the epoch), by day, then user.
    async fn agent_days(
        &self,
        tenant: &TenantId,
        days: std::ops::Range<i64>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<AgentDayRecord>>;
}

/// Outbound webhooks: each workspace's endpoints (a bounded set, one partition on Scylla) and
/// their deliveries (the log by endpoint and day, newest first; the pending ones indexed apart
/// for a start to resume). A delivery is added once: adding one whose id is stored already
/// changes nothing, whatever state it reached.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Writes an endpoint whole, with its audit line (none for the dispatcher's own changes:
    /// a failure streak's start and end).
    async fn put_endpoint(
        &self,
        endpoint: &EndpointRecord,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<()>;
    async fn get_endpoint(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<EndpointRecord>>;
    /// A tenant's endpoints (at most [`MAX_ENDPOINTS`](crate::domain::MAX_ENDPOINTS)), by id.
    async fn list_endpoints(&self, tenant: &TenantId) -> StoreResult<Vec<EndpointRecord>>;
    /// Removes an endpoint; whether it was there. Its deliveries stay in the log; the pending
    /// ones fail at their next attempt.
    async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        id: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool>;
    /// Adds deliveries not stored yet, durably; for each, whether it was new.
    async fn add_deliveries(&self, deliveries: &[DeliveryRecord]) -> StoreResult<Vec<bool>>;
    /// Writes a stored delivery's state, next attempt and attempts.
    async fn update_delivery(&self, delivery: &DeliveryRecord) -> StoreResult<()>;
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<DeliveryRecord>>;
    /// A page of an endpoint's deliveries created since `since`, newest first.
    async fn deliveries(
        &self,
        tenant: &TenantId,
        endpoint: &str,
        since: UnixMillis,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<DeliveryRecord>>;
    /// A page of every tenant's pending deliveries, in no particular order (a start loads them).
    async fn pending_deliveries(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<DeliveryRecord>>;
    /// Removes settled deliveries created before `before`; how many (Scylla's rows expire by
    /// themselves and it answers 0).
    async fn purge_deliveries(&self, before: UnixMillis) -> StoreResult<u64>;
}

/// Everything a running server needs from persistence.
pub trait Store:
    DirectoryStore
    + MessageStore
    + IdentityStore
    + InboxStore
    + OutboxStore
    + ContactStore
    + CatalogueStore
    + ImportStore
    + AutomationStore
    + CostStore
    + CampaignStore
    + MediaStore
    + RetentionStore
    + ActivityStore
    + WebhookStore
{
}
impl<T> Store for T where
    T: DirectoryStore
        + MessageStore
        + IdentityStore
        + InboxStore
        + OutboxStore
        + ContactStore
        + CatalogueStore
        + ImportStore
        + AutomationStore
        + CostStore
        + CampaignStore
        + MediaStore
        + RetentionStore
        + ActivityStore
        + WebhookStore
{
}

/// The largest page any read returns.
pub const MAX_PAGE: usize = 500;

pub(crate) fn check_limit(limit: usize) -> StoreResult<usize> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(StoreError::Invalid(format!(
            "page size must be 1..={MAX_PAGE}, got {limit}"
        )));
    }
    Ok(limit)
}

/// Encodes a list of names for a text column (both backends store lists as JSON text).
pub(crate) fn encode_list<S: AsRef<str>>(items: &[S]) -> String {
    serde_json::to_string(&items.iter().map(AsRef::as_ref).collect::<Vec<_>>())
        .expect("strings serialize")
}

pub(crate) fn decode_list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("list column: {e}")))
}

/// The event types a stored list names; a name this build does not know is corrupt data.
pub(crate) fn events_of(
    text: &str,
) -> Result<Vec<switchboard_shared::webhooks::EventType>, StoreError> {
    decode_list(text)?
        .iter()
        .map(|n| {
            switchboard_shared::webhooks::EventType::parse(n)
                .ok_or_else(|| StoreError::Corrupt(format!("event type `{n}`")))
        })
        .collect()
}

pub(crate) fn event_names(events: &[switchboard_shared::webhooks::EventType]) -> String {
    encode_list(&events.iter().map(|e| e.as_str()).collect::<Vec<_>>())
}
