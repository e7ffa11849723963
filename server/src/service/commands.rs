//! What an agent or supervisor does to a conversation, the same over REST and over the socket:
//! reply, react, assign or transfer, resolve, reopen, mark read, show typing. Each command checks
//! that the caller sees the conversation (another tenant's, or one outside the caller's
//! visibility, is "not found"); the permission itself was checked by the caller's entry point
//! (the route table, or the socket's command table).
//!
//! Owns: the use cases and their [`CommandError`]. Must not: know HTTP or sockets (the REST API
//! and the hub each map the error to their wire form).

use std::sync::Arc;

use switchboard_shared::{ConversationId, ErrorCode, Permission, UserId};

use super::compliance::{screening_audit, FilterAck, WordFilter};
use super::inbox::{Inbox, InboxError};
use super::outbound::{Draft, Outbound, OutboundError};
use super::outbox::Outbox;
use crate::auth::{Principal, TenantScope};
use crate::domain::{
    now_ms, CommandError, ConversationRecord, MessageRecord, OutboxRecord, ThreadRecord,
};
use crate::store::{Store, StoreError};

/// The services commands act through, cloned into each entry point (the REST API, the socket).
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn Store>,
    pub inbox: Inbox,
    pub outbound: Arc<Outbound>,
    pub outbox: Outbox,
    pub filter: Arc<WordFilter>,
}

impl Services {
    /// The caller's view of them.
    pub fn acting<'a>(&'a self, principal: &'a Principal, scope: &'a TenantScope) -> Acting<'a> {
        Acting {
            principal,
            scope,
            inbox: &self.inbox,
            outbound: &self.outbound,
            outbox: &self.outbox,
            filter: &self.filter,
        }
    }
}

/// What a command needs besides the caller.
pub struct Acting<'a> {
    pub principal: &'a Principal,
    pub scope: &'a TenantScope,
    pub inbox: &'a Inbox,
    pub outbound: &'a Outbound,
    pub outbox: &'a Outbox,
    pub filter: &'a WordFilter,
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(m) => CommandError::Invalid(m),
            StoreError::Conflict(m) => CommandError::Conflict(m),
            e => {
                tracing::error!(error = %e, "store failure in a command");
                match e.refusal() {
                    (ErrorCode::StoreUnavailable, _) => CommandError::StoreUnavailable,
                    (code, message) => CommandError::CannotWrite(code, message),
                }
            }
        }
    }
}

impl From<InboxError> for CommandError {
    fn from(e: InboxError) -> Self {
        match e {
            InboxError::NotFound => CommandError::NotFound("conversation"),
            InboxError::AgentNotThere => CommandError::AgentNotConnected(e.to_string()),
            InboxError::AlreadyResolved => CommandError::AlreadyResolved,
            InboxError::AlreadyOpen => CommandError::AlreadyOpen,
            InboxError::Store(e) => e.into(),
            InboxError::Stopped => CommandError::ShuttingDown,
        }
    }
}

impl From<OutboundError> for CommandError {
    fn from(e: OutboundError) -> Self {
        match e {
            OutboundError::UnknownNumber => CommandError::NotFound("number"),
            OutboundError::Rejected(reason) => CommandError::Rejected(reason),
            OutboundError::OutsideWindow { .. } => CommandError::OutsideWindow(e.to_string()),
            OutboundError::KeyReused => CommandError::KeyReused(e.to_string()),
            OutboundError::NoWaba => CommandError::NoWaba(e.to_string()),
            OutboundError::Api(api) => CommandError::SendFailed(api.to_string()),
            OutboundError::Template(problem) => CommandError::Rejected(problem.to_string()),
            OutboundError::Store(_) => {
                tracing::error!(error = %e, "a send could not be stored");
                CommandError::NotStored
            }
        }
    }
}

/// A conversation the caller may read, with its inbox state when routing has seen it.
pub async fn visible(
    principal: &Principal,
    scope: &TenantScope,
    id: &ConversationId,
) -> Result<(ConversationRecord, Option<ThreadRecord>), CommandError> {
    let Some(conversation) = scope.conversation(id).await? else {
        return Err(moved(principal, scope, id).await?);
    };
    let thread = scope.thread(id).await?;
    let assignee = thread.as_ref().and_then(|t| t.assignee.as_ref());
    if principal.sees(&conversation.number, assignee) {
        Ok((conversation, thread))
    } else {
        Err(CommandError::NotFound("conversation"))
    }
}

/// Why an id names no conversation: `410 conversation_moved` with the new id when it is an id
/// from before ids were keyed (and the caller may read the conversation it became), else 404.
async fn moved(
    principal: &Principal,
    scope: &TenantScope,
    id: &ConversationId,
) -> Result<CommandError, CommandError> {
    if !crate::store::IdKeys::is_legacy_conversation_id(id.as_str()) {
        return Ok(CommandError::NotFound("conversation"));
    }
    let Some(new) = scope.conversation_alias(id.as_str()).await? else {
        return Ok(CommandError::NotFound("conversation"));
    };
    let Some(conversation) = scope.conversation(&new).await? else {
        return Ok(CommandError::NotFound("conversation"));
    };
    let assignee = scope.thread(&new).await?.and_then(|t| t.assignee);
    if !principal.sees(&conversation.number, assignee.as_ref()) {
        return Ok(CommandError::NotFound("conversation"));
    }
    Ok(CommandError::Moved(new))
}

/// The inbox state of a conversation the caller may read (actions need it).
async fn visible_thread(a: &Acting<'_>, id: &ConversationId) -> Result<ThreadRecord, CommandError> {
    visible(a.principal, a.scope, id)
        .await?
        .1
        .ok_or(CommandError::NotFound("conversation"))
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
    ack: FilterAck,
) -> Result<OutboxRecord, CommandError> {
    let thread = visible_thread(a, id).await?;
    let quoted = match reply_to {
        Some(k) => Some(message_of(a, id, k, "reply_to").await?.wamid),
        None => None,
    };
    let ack = FilterAck {
        may_override: a.principal.can(Permission::ComplianceOverride),
        ..ack
    };
    if ack
        .override_reason
        .as_deref()
        .is_some_and(|r| r.chars().count() > super::compliance::MAX_REASON_CHARS)
    {
        return Err(CommandError::Rejected(format!(
            "an override reason is at most {} characters",
            super::compliance::MAX_REASON_CHARS
        )));
    }
    let screened = match a
        .filter
        .screen(&thread.tenant, &thread.number, draft, &ack)
        .await?
    {
        Ok(screened) => screened,
        Err(refused) => {
            if let Some(line) = screening_audit(a.principal, id.as_str(), Err(&refused)) {
                a.scope.append_audit(line).await?;
            }
            return Err(CommandError::Filtered {
                verdict: refused.verdict,
                matches: refused.matches,
            });
        }
    };
    let line = screening_audit(a.principal, id.as_str(), Ok(&screened.outcome));
    let author = a.principal.actor_id();
    let send = a
        .outbox
        .compose(&thread, screened, quoted.as_ref(), &author, key, now_ms())
        .await?;
    if let Some(line) = line {
        a.scope.append_audit(line).await?;
    }
    Ok(send)
}

/// Reacts to the conversation's message `message` (a key) with `emoji` (empty takes it back);
/// sent like a reply.
pub async fn react(
    a: &Acting<'_>,
    id: &ConversationId,
    message: &str,
    emoji: String,
    key: Option<&str>,
) -> Result<OutboxRecord, CommandError> {
    let thread = visible_thread(a, id).await?;
    let target = message_of(a, id, message, "message").await?;
    if target.kind == "reaction" {
        return Err(CommandError::Rejected(
            "a reaction cannot be reacted to".into(),
        ));
    }
    let draft = Draft::Reaction {
        to: target.wamid,
        emoji,
    };
    let screened = a
        .filter
        .screen(&thread.tenant, &thread.number, draft, &FilterAck::default())
        .await?
        .map_err(|refused| CommandError::Filtered {
            verdict: refused.verdict,
            matches: refused.matches,
        })?;
    let author = a.principal.actor_id();
    Ok(a.outbox
        .compose(&thread, screened, None, &author, key, now_ms())
        .await?)
}

/// A message of the conversation by key, or a 422 naming the field that pointed at nothing.
pub async fn message_of(
    a: &Acting<'_>,
    id: &ConversationId,
    key: &str,
    field: &'static str,
) -> Result<MessageRecord, CommandError> {
    a.scope
        .message(id, key)
        .await?
        .ok_or(CommandError::UnknownMessage(field))
}

/// Gives the conversation to `agent`, an enabled user of the tenant (routing refuses one who is
/// not connected).
pub async fn assign(
    a: &Acting<'_>,
    id: &ConversationId,
    agent: &UserId,
) -> Result<(), CommandError> {
    let thread = visible_thread(a, id).await?;
    let target = a
        .scope
        .user(agent)
        .await?
        .filter(|u| !u.disabled)
        .ok_or(CommandError::NotFound("agent"))?;
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

pub async fn resolve(a: &Acting<'_>, id: &ConversationId) -> Result<(), CommandError> {
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

pub async fn reopen(a: &Acting<'_>, id: &ConversationId) -> Result<(), CommandError> {
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
pub async fn mark_read(
    a: &Acting<'_>,
    id: &ConversationId,
    typing: bool,
) -> Result<(), CommandError> {
    let thread = visible_thread(a, id).await?;
    let Some(wamid) = &thread.last_inbound_wamid else {
        return Err(CommandError::NothingToRead);
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
        | F::Visibility { .. }
        | F::Ping { .. } => None,
    }
}
