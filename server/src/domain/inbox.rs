//! A conversation's place in the inbox, its internal notes, and what routing knows of agents.

use switchboard_shared::{ConversationId, PhoneNumberId, TenantId, UserId, WaId, Wamid};

use super::UnixMillis;

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
