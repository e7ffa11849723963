//! Contacts on the wire: customer records, their tags, attributes, notes and consent, the tag
//! catalogue and attribute definitions, imports, segments and the segment filter language
//! (docs/segments.md). Times are Unix milliseconds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{ContactId, ImportId, SegmentId, UserId};

/// Whether a customer accepts marketing messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Marketing {
    OptedIn,
    OptedOut,
    /// Nobody asked, or nothing was recorded: broadcasts treat it as not opted out.
    #[default]
    Unknown,
}

impl Marketing {
    pub fn as_str(self) -> &'static str {
        match self {
            Marketing::OptedIn => "opted_in",
            Marketing::OptedOut => "opted_out",
            Marketing::Unknown => "unknown",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "opted_in" => Some(Marketing::OptedIn),
            "opted_out" => Some(Marketing::OptedOut),
            "unknown" => Some(Marketing::Unknown),
            _ => None,
        }
    }
}

/// Where a consent change came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConsentSource {
    /// Meta's `user_preferences` webhook (the customer tapped stop or resume in WhatsApp).
    Webhook,
    /// A stop keyword in the customer's own message.
    Keyword,
    /// A send refused with 131050 (the customer stopped marketing from this business).
    SendFailure,
    /// Set by a person, with their reason.
    Manual,
    /// A column of an import.
    Import,
}

impl ConsentSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentSource::Webhook => "webhook",
            ConsentSource::Keyword => "keyword",
            ConsentSource::SendFailure => "send_failure",
            ConsentSource::Manual => "manual",
            ConsentSource::Import => "import",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "webhook" => ConsentSource::Webhook,
            "keyword" => ConsentSource::Keyword,
            "send_failure" => ConsentSource::SendFailure,
            "manual" => ConsentSource::Manual,
            "import" => ConsentSource::Import,
            _ => return None,
        })
    }
}

/// The latest consent and what it rests on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Consent {
    pub marketing: Marketing,
    /// Its evidence; `None` while `unknown`.
    pub evidence: Option<ConsentEvidence>,
}

/// Why a contact's consent is what it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ConsentEvidence {
    pub marketing: Marketing,
    pub source: ConsentSource,
    pub at: i64,
    /// The words it rests on: the customer's message, Meta's `detail`, the error, the person's
    /// reason, or the import's file and row.
    pub text: String,
    /// Who set it by hand.
    pub by: Option<UserId>,
}

/// A contact as the API shows it. `phone` is E.164 (`+79161234567`) and masked
/// (`•••••••4567`) unless the caller holds `contacts.phone.view`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Contact {
    pub id: ContactId,
    pub phone: Option<String>,
    /// The business-scoped user id Meta sends (`US.1349…`), when known.
    pub bsuid: Option<String>,
    pub username: Option<String>,
    /// The name the business gave; falls back to the WhatsApp profile name.
    pub name: Option<String>,
    /// The name on the customer's WhatsApp profile, from their latest message.
    pub profile_name: Option<String>,
    /// ISO 3166 alpha-2, from the number.
    pub country: Option<String>,
    pub tags: Vec<String>,
    pub attributes: BTreeMap<String, serde_json::Value>,
    pub consent: Consent,
    pub last_inbound_at: Option<i64>,
    pub last_outbound_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `POST /api/v1/contacts`: a phone (any format; national ones with `default_region`) or a BSUID.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    pub phone: Option<String>,
    /// ISO 3166 alpha-2 for a national `phone` (`RU` for `8 916 123-45-67`).
    pub default_region: Option<String>,
    pub bsuid: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

/// `PATCH /api/v1/contacts/{id}`: each field present replaces the stored one; an attribute set
/// to `null` is removed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    /// `""` removes the given name.
    pub name: Option<String>,
    pub tags: Option<Vec<String>>,
    pub attributes: Option<BTreeMap<String, serde_json::Value>>,
    /// A consent set by hand needs its reason.
    pub consent: Option<ConsentInput>,
}

/// Consent set by a person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    pub marketing: Marketing,
    pub reason: String,
}

/// `POST /api/v1/contacts/bulk-tags`: adds and removes tags on many contacts at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BulkTags {
    pub contacts: Vec<ContactId>,
    #[serde(default)]
    pub add: Vec<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// How many contacts a bulk change touched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BulkResult {
    pub changed: u64,
    pub unchanged: u64,
    pub not_found: u64,
}

/// `POST /api/v1/contacts/{id}/merge`: folds `from` into this contact (its identities, tags,
/// attributes this one lacks, notes and consent history), then removes `from`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MergeInput {
    pub from: ContactId,
}

/// A note on a contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ContactNote {
    pub id: String,
    pub author: UserId,
    pub author_name: String,
    pub body: String,
    pub at: i64,
}

/// `POST /api/v1/contacts/{id}/notes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ContactNoteInput {
    pub body: String,
}

/// A tag of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Tag {
    /// 1 to 64 characters, unique in the tenant (case-insensitively).
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 64)))]
    pub name: String,
    /// `#rrggbb`.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^#[0-9a-fA-F]{6}$")))]
    pub colour: String,
}

/// What kind of value an attribute holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum AttributeKind {
    Text,
    Number,
    /// `YYYY-MM-DD`.
    Date,
    Boolean,
    /// One of `options`.
    Choice {
        options: Vec<String>,
    },
    /// An `http`/`https` URL.
    Link,
}

/// An attribute definition: contacts hold values only for defined keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AttributeDef {
    /// `[a-z][a-z0-9_]{0,39}`: how imports, filters and the API name it.
    pub key: String,
    pub label: String,
    pub kind: AttributeKind,
    /// A regular expression a text or link value must match whole.
    #[serde(default)]
    pub pattern: Option<String>,
}

/// Where an import stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ImportState {
    Running,
    Done,
    Failed,
    Undone,
}

impl ImportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportState::Running => "running",
            ImportState::Done => "done",
            ImportState::Failed => "failed",
            ImportState::Undone => "undone",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "running" => ImportState::Running,
            "done" => ImportState::Done,
            "failed" => ImportState::Failed,
            "undone" => ImportState::Undone,
            _ => return None,
        })
    }
}

/// `POST /api/v1/contacts/imports` answers `202` with this.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImportStarted {
    pub id: ImportId,
}

/// `GET /api/v1/contacts/imports/{id}`: progress and totals. For a dry run the totals say what
/// a commit would do, and nothing was written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ImportStatus {
    pub id: ImportId,
    pub state: ImportState,
    pub dry_run: bool,
    pub file_name: Option<String>,
    /// The encoding read (`UTF-8`, `windows-1251`, …) and the delimiter found.
    pub charset: String,
    pub delimiter: String,
    /// Which column became what (`phone`, `name`, `tags`, `attribute:<key>`, `ignored`).
    pub mapping: Vec<ColumnMapping>,
    /// Rows read so far (not counting the header).
    pub total: u64,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// Rows a second time in the file (the first one counted; these are rejected too).
    pub duplicates: u64,
    /// Tags the import added to the catalogue (or would, in a dry run).
    pub new_tags: Vec<String>,
    /// Bytes of the file read, of `bytes_total`.
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub rows_per_second: f64,
    /// Seconds left at the current rate, while running.
    pub eta_seconds: Option<u64>,
    /// The first rows' verdicts (up to 50), for the preview.
    pub preview: Vec<RowVerdict>,
    /// Why the whole import failed, when it did.
    pub error: Option<String>,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub by: UserId,
}

/// How one column of the file is read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ColumnMapping {
    pub header: String,
    pub field: String,
}

/// What an import does (or would do) with one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Create,
    Update,
    Unchanged,
    Reject,
}

/// One row's verdict, with the reason for a rejection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RowVerdict {
    /// The line the row starts on in the file (the header is line 1).
    pub line: u64,
    pub verdict: Verdict,
    /// The number as E.164, when it parsed.
    pub phone: Option<String>,
    pub reason: Option<String>,
}

/// A saved segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Segment {
    pub id: SegmentId,
    pub name: String,
    pub filter: Filter,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `POST /api/v1/segments` and `PUT /api/v1/segments/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SegmentInput {
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 120)))]
    pub name: String,
    pub filter: Filter,
}

/// `GET /api/v1/segments/{id}/count` (and `POST /api/v1/segments/count` for an unsaved filter).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SegmentCount {
    pub count: u64,
}

/// `GET /api/v1/segments/{id}/explain/{contact}`: whether a contact is in, and each clause's
/// answer, in the filter's own shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Explanation {
    pub member: bool,
    pub clauses: Vec<ClauseResult>,
}

/// One clause of a filter and what it answered for the contact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ClauseResult {
    /// Nesting depth (0 for the top clause).
    pub depth: u32,
    /// The clause in words (`tag is vip`).
    pub clause: String,
    pub matched: bool,
    /// What the contact holds (`tags: vip, wholesale`).
    pub actual: String,
}

/// A segment filter (docs/segments.md): one JSON object with exactly one key.
/// `{"all": [{"tag": "vip"}, {"not": {"consent": "opted_out"}}]}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Filter {
    /// Every clause holds (an empty list: every contact).
    All(Vec<Filter>),
    /// At least one clause holds (an empty list: no contact).
    Any(Vec<Filter>),
    Not(Box<Filter>),
    /// The contact has this tag.
    Tag(String),
    /// ISO 3166 alpha-2 of the contact's number.
    Country(String),
    Consent(Marketing),
    Attribute(AttributeTest),
    /// The customer's last message.
    LastInbound(TimeTest),
    /// The business's last message to the customer.
    LastOutbound(TimeTest),
    /// `true`: the customer has a conversation queued or assigned now.
    OpenConversation(bool),
}

/// A test of one attribute.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AttributeTest {
    pub key: String,
    pub op: AttributeOp,
    /// Not for `is_set`; for dates `YYYY-MM-DD`.
    #[serde(default)]
    pub value: Option<serde_json::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttributeOp {
    Equals,
    /// Text and links: contains, case-insensitively.
    Contains,
    /// Numbers.
    GreaterThan,
    LessThan,
    /// Dates.
    Before,
    After,
    IsSet,
}

/// A test of a time: exactly one field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TimeTest {
    Before(i64),
    After(i64),
    /// Within the last N days (relative to when the segment is read).
    WithinDays(u32),
    /// Longer ago than N days, or never.
    OlderThanDays(u32),
    /// `true`: there never was one.
    Never(bool),
}

/// What erasing a contact removed (`DELETE /api/v1/contacts/{id}`); the audit line holds the
/// same counts, never the content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErasureReceipt {
    pub contact: ContactId,
    pub messages: u64,
    pub conversations: u64,
    pub notes: u64,
    pub consent_records: u64,
    /// Messages that carried a file (image, video, audio, document, sticker).
    pub media_references: u64,
    pub at: i64,
}

/// How many contacts a catalogue change touched (a tag or attribute removed from each).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Stripped {
    pub contacts: u64,
}

/// `POST /api/v1/segments/count`: a filter to count before it is saved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FilterInput {
    pub filter: Filter,
}

/// A workspace's stop words: a customer whose whole message is one of them (after folding case,
/// width and the punctuation around it) is opted out of marketing. Until a workspace saves its
/// own list, the server's (`[contacts] stop_keywords`) is in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct StopWords {
    pub words: Vec<String>,
    /// Whether the workspace saved its own list (else these are the server's).
    pub saved: bool,
    /// The saved list's version, for a change that must not overwrite another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

/// `PUT settings/stop-words`: the workspace's whole list (1 to 200 words or phrases of at most
/// 64 characters; the same word spelt twice is kept once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StopWordsChange {
    pub words: Vec<String>,
    /// The version read; refused (409) when the list changed since.
    #[serde(default)]
    pub version: Option<u64>,
}
