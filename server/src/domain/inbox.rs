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
    /// What the current episode has seen so far, for reports.
    pub episode: EpisodeFigures,
}

impl ThreadRecord {
    pub fn is_open(&self) -> bool {
        self.state != ThreadState::Resolved
    }

    /// The current episode as reports keep it: one per (conversation, `opened_at`), rewritten
    /// with every write of the thread, so it survives restarts and a reopening starts another.
    pub fn episode_record(&self) -> EpisodeRecord {
        EpisodeRecord {
            tenant: self.tenant.clone(),
            conversation: self.conversation.clone(),
            opened_at: self.opened_at,
            number: self.number.clone(),
            country: super::contact::country_of(self.customer.as_str()),
            agent: self.assignee.clone().or_else(|| self.last_agent.clone()),
            first_response_at: self.episode.first_response_at,
            first_responder: self.episode.first_responder.clone(),
            resolved_at: (!self.is_open()).then_some(self.updated_at),
            messages_in: self.episode.messages_in,
            messages_out: self.episode.messages_out,
            survey: self.episode.survey.clone(),
        }
    }
}

/// An episode's running figures, kept on the thread (reset when it reopens).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EpisodeFigures {
    /// When a person (an agent or an API key, not automation) first answered.
    pub first_response_at: Option<UnixMillis>,
    /// The agent who did (`None` for an API key).
    pub first_responder: Option<UserId>,
    pub messages_in: u32,
    pub messages_out: u32,
    /// The satisfaction survey sent when the episode was resolved, and its answer.
    pub survey: Option<SurveyState>,
}

/// A satisfaction survey's progress (stored as JSON beside the episode's figures).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SurveyState {
    pub sent_at: UnixMillis,
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminded_at: Option<UnixMillis>,
    /// 1 to 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<UnixMillis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commented_at: Option<UnixMillis>,
    /// The comment prompt went out after the score; the next text is the comment.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_comment: bool,
}

impl SurveyState {
    /// A survey just sent, in `language`, nothing answered yet.
    pub fn sent(at: UnixMillis, language: String) -> Self {
        Self {
            sent_at: at,
            language,
            reminded_at: None,
            score: None,
            answered_at: None,
            comment: None,
            commented_at: None,
            awaiting_comment: false,
        }
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// `None` for a column that holds none; an unreadable one is reported by the caller.
    pub fn decode(text: Option<&str>) -> Result<Option<Self>, String> {
        text.map(|t| serde_json::from_str(t).map_err(|e| format!("survey state: {e}")))
            .transpose()
    }
}

/// One episode of a conversation (from its first message, or the one that reopened it, to its
/// resolution) as reports read it. Rows are never deleted by the inbox; retention purges them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpisodeRecord {
    pub tenant: TenantId,
    pub conversation: ConversationId,
    pub opened_at: UnixMillis,
    pub number: PhoneNumberId,
    /// ISO 3166 code from the customer's number (`None`: a BSUID or an unknown prefix).
    pub country: Option<String>,
    /// Who has it, or had it last.
    pub agent: Option<UserId>,
    pub first_response_at: Option<UnixMillis>,
    pub first_responder: Option<UserId>,
    pub resolved_at: Option<UnixMillis>,
    pub messages_in: u32,
    pub messages_out: u32,
    pub survey: Option<SurveyState>,
}

impl EpisodeRecord {
    pub fn first_response_ms(&self) -> Option<i64> {
        self.first_response_at
            .map(|at| (at - self.opened_at).max(0))
    }

    pub fn resolution_ms(&self) -> Option<i64> {
        self.resolved_at.map(|at| (at - self.opened_at).max(0))
    }
}
