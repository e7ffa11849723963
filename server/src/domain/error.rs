//! How a command on a conversation can end other than in success, in domain terms. The REST API
//! turns each into a status and an error body, the socket into an `error` frame; both take the
//! code and the message from here, so the two entry points cannot drift apart.

use switchboard_shared::compliance::{FilterAction, FilterMatch, Verdict};
use switchboard_shared::{ConversationId, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The thing does not exist, or the caller may not see it (existence never leaks).
    #[error("no such {0}")]
    NotFound(&'static str),
    /// An id from before conversation ids were keyed, for a conversation the caller may read.
    #[error("conversation ids changed; this conversation is now `{0}`")]
    Moved(ConversationId),
    /// A field (named) points at no message of the conversation.
    #[error("`{0}` names no message of this conversation")]
    UnknownMessage(&'static str),
    /// WhatsApp's rules or a compliance check refused the message; nothing was sent.
    #[error("not sent: {0}")]
    Rejected(String),
    /// Free-form messages reach a customer only within 24 hours of their last message.
    #[error("{0}")]
    OutsideWindow(String),
    /// The outgoing word filter matched: blocked (an override may send it) or a warning to
    /// confirm. Nothing was sent.
    #[error("{}", describe_matches(*verdict, matches))]
    Filtered {
        verdict: Verdict,
        matches: Vec<FilterMatch>,
    },
    #[error("{0}")]
    AgentNotConnected(String),
    #[error("the conversation is already resolved")]
    AlreadyResolved,
    #[error("the conversation is open; only a resolved one can be reopened")]
    AlreadyOpen,
    #[error("the customer has not written in this conversation")]
    NothingToRead,
    /// A client's idempotency key reused for different content.
    #[error("{0}")]
    KeyReused(String),
    /// The number was configured without its WhatsApp Business Account.
    #[error("{0}")]
    NoWaba(String),
    /// WhatsApp did not accept the message.
    #[error("WhatsApp did not accept the message: {0}")]
    SendFailed(String),
    /// The send could not be stored, so it was not sent.
    #[error("the message could not be stored, so it was not sent; try again")]
    NotStored,
    /// The caller asked for something the store cannot take (a malformed cursor).
    #[error("{0}")]
    Invalid(String),
    /// A unique value is taken.
    #[error("{0}")]
    Conflict(String),
    #[error("the store is unavailable; try again")]
    StoreUnavailable,
    /// The disk is full or the data read-only: the code says which, the message what to do.
    #[error("{1}")]
    CannotWrite(ErrorCode, &'static str),
    #[error("the server is shutting down; try again")]
    ShuttingDown,
}

impl CommandError {
    /// The wire code both entry points answer with.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Moved(_) => ErrorCode::ConversationMoved,
            Self::UnknownMessage(_) => ErrorCode::UnknownMessage,
            Self::Rejected(_) => ErrorCode::Rejected,
            Self::OutsideWindow(_) => ErrorCode::OutsideWindow,
            Self::Filtered { verdict, .. } => match verdict {
                Verdict::Warn => ErrorCode::NeedsConfirmation,
                _ => ErrorCode::BlockedByFilter,
            },
            Self::AgentNotConnected(_) => ErrorCode::AgentNotConnected,
            Self::AlreadyResolved => ErrorCode::AlreadyResolved,
            Self::AlreadyOpen => ErrorCode::AlreadyOpen,
            Self::NothingToRead => ErrorCode::NothingToRead,
            Self::KeyReused(_) => ErrorCode::KeyReused,
            Self::NoWaba(_) => ErrorCode::NoWaba,
            Self::SendFailed(_) => ErrorCode::SendFailed,
            Self::NotStored | Self::StoreUnavailable => ErrorCode::StoreUnavailable,
            Self::CannotWrite(code, _) => *code,
            Self::Invalid(_) => ErrorCode::BadRequest,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::ShuttingDown => ErrorCode::ShuttingDown,
        }
    }
}

/// What a person reads about a refused send: the terms found and what to do.
pub fn describe_matches(verdict: Verdict, matches: &[FilterMatch]) -> String {
    let mut found: Vec<String> = matches
        .iter()
        .filter(|m| verdict != Verdict::Block || m.action == FilterAction::Block)
        .map(|m| format!("\"{}\" ({})", m.text, m.list_name))
        .collect();
    found.dedup();
    let found = found.join(", ");
    match verdict {
        Verdict::Warn => format!(
            "the message contains words the filter warns about: {found}; send it again with \
             `confirm_warnings: true` to send it anyway"
        ),
        _ => format!(
            "the message contains blocked words: {found}; change them, or (with \
             `compliance.override`) send it again with an `override_reason`"
        ),
    }
}
