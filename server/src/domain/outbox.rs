//! The outbox: messages the business asked to send, until WhatsApp accepted or refused them.

use switchboard_shared::{ConversationId, PhoneNumberId, SendId, TenantId, WaId, Wamid};

use super::message::short_hash;
use super::{OutboundRecord, UnixMillis};

/// The id of a send in the outbox: derived from the conversation, who asked and their own key
/// for the message, so a client that retries (after a lost answer, or from an offline queue)
/// gets the same send back instead of a second one.
pub fn send_id(
    tenant: &TenantId,
    conversation: &ConversationId,
    author: &str,
    client_key: &str,
) -> SendId {
    SendId::new(format!(
        "o_{}",
        short_hash(&[tenant.as_str(), conversation.as_str(), author, client_key])
    ))
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

/// How a campaign's sends name their author: `campaign:<id>`.
pub const CAMPAIGN_AUTHOR: &str = "campaign:";

/// A message the business asked to send, kept until WhatsApp accepted or refused it for good.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxRecord {
    pub tenant: TenantId,
    pub id: SendId,
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
    /// The campaign that queued it (its `author` is `campaign:<id>`), if one did.
    pub fn campaign(&self) -> Option<&str> {
        self.author.strip_prefix(CAMPAIGN_AUTHOR)
    }

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
