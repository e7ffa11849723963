//! Retention on the wire: how long a workspace keeps what, the legal holds that keep things
//! regardless, and what a purge (or its dry run) removed.

use serde::{Deserialize, Serialize};

use crate::{ContactId, ConversationId, PhoneNumberId, TeamId};

/// The shortest period a policy may set (days).
pub const MIN_DAYS: u32 = 90;
/// The longest period a policy may set (days; five years). Longer is `null`: forever.
pub const MAX_DAYS: u32 = 1_825;

/// How long each kind of data is kept, in days; `null` keeps it forever.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Periods {
    /// Message text (bodies, captions, and the search index): after it the message stays as a
    /// trace (who, when, which kind, its status) without its words.
    #[serde(default)]
    pub text_days: Option<u32>,
    /// The files messages carry (the kept copies).
    #[serde(default)]
    pub media_days: Option<u32>,
    /// The messages themselves (the trace and its statuses). At least as long as text and
    /// media: a message cannot go before its words and files.
    #[serde(default)]
    pub metadata_days: Option<u32>,
}

/// Periods for one number's conversations, instead of the default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NumberPeriods {
    pub number: PhoneNumberId,
    #[serde(default)]
    pub text_days: Option<u32>,
    #[serde(default)]
    pub media_days: Option<u32>,
    #[serde(default)]
    pub metadata_days: Option<u32>,
}

impl NumberPeriods {
    pub fn periods(&self) -> Periods {
        Periods {
            text_days: self.text_days,
            media_days: self.media_days,
            metadata_days: self.metadata_days,
        }
    }
}

/// Periods for the conversations of a team's numbers, instead of the default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TeamPeriods {
    pub team: TeamId,
    #[serde(default)]
    pub text_days: Option<u32>,
    #[serde(default)]
    pub media_days: Option<u32>,
    #[serde(default)]
    pub metadata_days: Option<u32>,
}

impl TeamPeriods {
    pub fn periods(&self) -> Periods {
        Periods {
            text_days: self.text_days,
            media_days: self.media_days,
            metadata_days: self.metadata_days,
        }
    }
}

/// A workspace's retention policy (`PUT /api/v1/retention/policy`). Which periods apply to a
/// conversation: its number's, when the number has its own; else, when teams that hold the
/// number have their own, the longest of theirs for each kind (keeping longer never breaks
/// another team's rule); else the default.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Read: the stored version (none until saved). Written: when sent, it must be the stored
    /// one (`409` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    #[serde(default)]
    pub default: Periods,
    #[serde(default)]
    pub numbers: Vec<NumberPeriods>,
    #[serde(default)]
    pub teams: Vec<TeamPeriods>,
    /// The workspace's audit log, in days (`null`: forever). Purge receipts are audit lines.
    #[serde(default)]
    pub audit_days: Option<u32>,
}

/// What a legal hold keeps: nothing it covers is purged while it stands, whatever the policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HoldTarget {
    /// Every conversation with the contact's number.
    Contact {
        contact: ContactId,
    },
    Conversation {
        conversation: ConversationId,
    },
    /// Every conversation of one of the workspace's numbers.
    Number {
        number: PhoneNumberId,
    },
    /// Every message sent or received in `[from, to)` (milliseconds since the epoch).
    Range {
        from: i64,
        to: i64,
    },
}

/// A legal hold as written (`POST /api/v1/retention/holds`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewHold {
    pub target: HoldTarget,
    /// Why (a case or matter reference); shown to admins and kept in the audit log.
    pub reason: String,
}

/// A legal hold as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Hold {
    pub id: String,
    pub target: HoldTarget,
    pub reason: String,
    pub created_at: i64,
    /// Who placed it (`user:u_…`).
    pub created_by: String,
}

/// What a purge removed, or its dry run would remove (`POST /api/v1/retention/dry-run`); a
/// purge's is also its receipt, kept in the audit log (`retention.purge`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PurgeReport {
    pub dry_run: bool,
    /// The policy's version it followed (none: no policy saved, nothing is due).
    pub policy_version: Option<u64>,
    pub started_at: i64,
    pub finished_at: i64,
    /// Conversations with something removed.
    pub conversations: u64,
    /// Messages removed whole.
    pub messages: u64,
    /// Messages whose text was removed (they stay as traces).
    pub texts: u64,
    /// Kept files removed, and their bytes.
    pub files: u64,
    pub bytes: u64,
    pub audit_lines: u64,
    /// Conversations left whole by a hold on them, their number or their contact.
    pub held_conversations: u64,
    /// Messages that were due but are in a held date range.
    pub held_messages: u64,
    /// SHA-256 (hex) over what was removed, in order: the message keys and media ids. Two runs
    /// that removed the same things have the same digest.
    pub digest: String,
}

/// Where purging stands for the workspace (`GET /api/v1/retention/status`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RetentionStatus {
    /// A purge is running: how far it is (conversations looked at so far).
    pub running: bool,
    pub conversations_seen: u64,
    /// Messages the running purge has removed or stripped of their text so far.
    #[serde(default)]
    pub messages_purged: u64,
    /// The last purge's receipt since the server started (older ones are in the audit log).
    pub last: Option<PurgeReport>,
}
