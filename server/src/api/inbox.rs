//! What an agent or supervisor does to a conversation, the same over REST and over the socket:
//! reply, assign or transfer, resolve, reopen, mark read, show typing. Each action checks that
//! the caller sees the conversation (another tenant's, or one outside the caller's visibility,
//! is "not found"); the permission itself was checked by the caller's entry point (the route
//! table, or the socket's command table).

use switchboard_shared::ErrorCode;
use switchboard_shared::{ConversationId, Permission, UserId};
use warp::http::StatusCode;

use super::Failure;
use crate::auth::{Principal, TenantScope};
use crate::domain::now_ms;
use crate::domain::{ConversationRecord, MessageRecord, OutboxRecord, ThreadRecord};
use crate::service::inbox::{Inbox, InboxError};
use crate::service::outbound::{Draft, Outbound, OutboundError};
use crate::service::outbox::Outbox;

/// What an action needs besides the caller.
pub struct Acting<'a> {
    pub principal: &'a Principal,
    pub scope: &'a TenantScope,
    pub inbox: &'a Inbox,
    pub outbound: &'a Outbound,
    pub outbox: &'a Outbox,
}

impl From<InboxError> for Failure {
    fn from(e: InboxError) -> Self {
        match e {
            InboxError::NotFound => Failure::not_found("conversation"),
            InboxError::AgentNotThere => Failure::conflict(
                ErrorCode::AgentNotConnected,
                InboxError::AgentNotThere.to_string(),
            ),
            InboxError::AlreadyResolved => Failure::conflict(
                ErrorCode::AlreadyResolved,
                "the conversation is already resolved",
            ),
            InboxError::AlreadyOpen => Failure::conflict(
                ErrorCode::AlreadyOpen,
                "the conversation is open; only a resolved one can be reopened",
            ),
            InboxError::Store(e) => e.into(),
            InboxError::Stopped => Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ShuttingDown,
                "the server is shutting down; try again",
            ),
        }
    }
}

impl From<OutboundError> for Failure {
    fn from(e: OutboundError) -> Self {
        match &e {
            OutboundError::UnknownNumber => Failure::not_found("number"),
            OutboundError::Rejected(reason) => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::Rejected,
                format!("not sent: {reason}"),
            ),
            OutboundError::OutsideWindow { .. } => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::OutsideWindow,
                e.to_string(),
            ),
            OutboundError::KeyReused => {
                Failure::conflict(ErrorCode::KeyReused, OutboundError::KeyReused.to_string())
            }
            OutboundError::NoWaba => {
                Failure::conflict(ErrorCode::NoWaba, OutboundError::NoWaba.to_string())
            }
            OutboundError::Api(api) => Failure::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::SendFailed,
                format!("WhatsApp did not accept the message: {api}"),
            ),
            OutboundError::Store(_) => {
                tracing::error!(error = %e, "a send could not be stored");
                Failure::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::StoreUnavailable,
                    "the message could not be stored, so it was not sent; try again",
                )
            }
        }
    }
}

/// A conversation the caller may read, with its inbox state when routing has seen it.
pub async fn visible(
    principal: &Principal,
    scope: &TenantScope,
    id: &ConversationId,
) -> Result<(ConversationRecord, Option<ThreadRecord>), Failure> {
    let Some(conversation) = scope.conversation(id).await? else {
        return Err(moved(principal, scope, id).await?);
    };
    let thread = scope.thread(id).await?;
    let assignee = thread.as_ref().and_then(|t| t.assignee.as_ref());
    if principal.sees(&conversation.number, assignee) {
        Ok((conversation, thread))
    } else {
        Err(Failure::not_found("conversation"))
    }
}

/// Why an id names no conversation: `410 conversation_moved` with the new id when it is an id
/// from before ids were keyed (and the caller may read the conversation it became), else 404.
async fn moved(
    principal: &Principal,
    scope: &TenantScope,
    id: &ConversationId,
) -> Result<Failure, Failure> {
    if !crate::store::IdKeys::is_legacy_conversation_id(id.as_str()) {
        return Ok(Failure::not_found("conversation"));
    }
    let Some(new) = scope.conversation_alias(id.as_str()).await? else {
        return Ok(Failure::not_found("conversation"));
    };
    let Some(conversation) = scope.conversation(&new).await? else {
        return Ok(Failure::not_found("conversation"));
    };
    let assignee = scope.thread(&new).await?.and_then(|t| t.assignee);
    if !principal.sees(&conversation.number, assignee.as_ref()) {
        return Ok(Failure::not_found("conversation"));
    }
    Ok(Failure::new(
        StatusCode::GONE,
        ErrorCode::ConversationMoved,
        format!("conversation ids changed; this conversation is now `{new}`"),
    ))
}

/// The inbox state of a conversation the caller may read (actions need it).
async fn visible_thread(a: &Acting<'_>, id: &ConversationId) -> Result<ThreadRecord, Failure> {
    visible(a.principal, a.scope, id)
        .await?
        .1
        .ok_or_else(|| Failure::not_found("conversation"))
}

/// Queues a message (WhatsApp's rules, compliance and the window first); the outbox sends it.
/// `reply_to` is the key of a message of the conversation to quote; `key` is the client's
/// idempotency key.
pub async fn send(
    a: &Acting<'_>,
    id: &ConversationId,
    draft: Draft,
    reply_to: Option<&str>,
    key: Option<&str>,
) -> Result<OutboxRecord, Failure> {
    let thread = visible_thread(a, id).await?;
    let quoted = match reply_to {
        Some(k) => Some(message_of(a, id, k, "reply_to").await?.wamid),
        None => None,
    };
    let author = a.principal.actor_id();
    Ok(a.outbox
        .compose(&thread, draft, quoted.as_ref(), &author, key, now_ms())
        .await?)
}

/// Reacts to the conversation's message `message` (a key) with `emoji` (empty takes it back);
/// sent like a reply.
pub async fn react(
    a: &Acting<'_>,
    id: &ConversationId,
    message: &str,
    emoji: String,
    key: Option<&str>,
) -> Result<OutboxRecord, Failure> {
    let thread = visible_thread(a, id).await?;
    let target = message_of(a, id, message, "message").await?;
    if target.kind == "reaction" {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Rejected,
            "not sent: a reaction cannot be reacted to",
        ));
    }
    let draft = Draft::Reaction {
        to: target.wamid,
        emoji,
    };
    let author = a.principal.actor_id();
    Ok(a.outbox
        .compose(&thread, draft, None, &author, key, now_ms())
        .await?)
}

/// A message of the conversation by key, or a 422 naming the field that pointed at nothing.
pub async fn message_of(
    a: &Acting<'_>,
    id: &ConversationId,
    key: &str,
    field: &str,
) -> Result<MessageRecord, Failure> {
    a.scope.message(id, key).await?.ok_or_else(|| {
        Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::UnknownMessage,
            format!("`{field}` names no message of this conversation"),
        )
    })
}

/// Gives the conversation to `agent`, an enabled user of the tenant (routing refuses one who is
/// not connected).
pub async fn assign(a: &Acting<'_>, id: &ConversationId, agent: &UserId) -> Result<(), Failure> {
    let thread = visible_thread(a, id).await?;
    let target = a
        .scope
        .user(agent)
        .await?
        .filter(|u| !u.disabled)
        .ok_or_else(|| Failure::not_found("agent"))?;
    let before = serde_json::json!({ "assignee": thread.assignee });
    let mut audit = a.principal.audit(
        "conversation.assign",
        Some(format!("conversation:{id}")),
        "ok",
    );
    audit.before = Some(before.to_string());
    audit.after = Some(serde_json::json!({ "assignee": target.id }).to_string());
    Ok(a.inbox
        .assign(a.scope.tenant(), id, &target.id, audit)
        .await?)
}

pub async fn resolve(a: &Acting<'_>, id: &ConversationId) -> Result<(), Failure> {
    let thread = visible_thread(a, id).await?;
    let mut audit = a.principal.audit(
        "conversation.resolve",
        Some(format!("conversation:{id}")),
        "ok",
    );
    audit.before = Some(
        serde_json::json!({ "state": thread.state.as_str(), "assignee": thread.assignee })
            .to_string(),
    );
    audit.after = Some(serde_json::json!({ "state": "resolved" }).to_string());
    Ok(a.inbox.resolve(a.scope.tenant(), id, audit).await?)
}

pub async fn reopen(a: &Acting<'_>, id: &ConversationId) -> Result<(), Failure> {
    let thread = visible_thread(a, id).await?;
    let mut audit = a.principal.audit(
        "conversation.reopen",
        Some(format!("conversation:{id}")),
        "ok",
    );
    audit.before = Some(serde_json::json!({ "state": thread.state.as_str() }).to_string());
    audit.after = Some(serde_json::json!({ "state": "queued" }).to_string());
    Ok(a.inbox.reopen(a.scope.tenant(), id, audit).await?)
}

/// Marks the customer's last message read, showing a typing indicator when `typing`.
pub async fn mark_read(a: &Acting<'_>, id: &ConversationId, typing: bool) -> Result<(), Failure> {
    let thread = visible_thread(a, id).await?;
    let Some(wamid) = &thread.last_inbound_wamid else {
        return Err(Failure::conflict(
            ErrorCode::NothingToRead,
            "the customer has not written in this conversation",
        ));
    };
    a.outbound
        .mark_read(&thread.tenant, &thread.number, wamid, typing)
        .await?;
    Ok(())
}

/// The permission each socket command needs (the socket's counterpart of the route table).
pub fn command_permission(frame: &switchboard_shared::protocol::ClientFrame) -> Option<Permission> {
    use switchboard_shared::protocol::ClientFrame as F;
    match frame {
        F::SendMessage { .. } | F::Typing { .. } | F::MarkRead { .. } => {
            Some(Permission::ConversationsReply)
        }
        F::Assign { .. } => Some(Permission::ConversationsAssign),
        F::Resolve { .. } | F::Reopen { .. } => Some(Permission::ConversationsResolve),
        F::Auth { .. }
        | F::Subscribe { .. }
        | F::Unsubscribe { .. }
        | F::SetStatus { .. }
        | F::Ping { .. } => None,
    }
}
