//! Conversations over REST: the open inbox (filtered, cursor-paged), one conversation, its
//! history, and the actions of [`super::inbox`]. Only conversations the caller's visibility
//! admits (all, their teams' numbers, or assigned to them) exist for them; the rest answer 404.
//! Customers' numbers are masked unless the caller holds `contacts.phone.view`.

use switchboard_shared::api::{mask_phone, AssignTo, Conversation, Message, Page, Send, SendText};
use switchboard_shared::protocol::ConversationState;
use switchboard_shared::{ConversationId, Permission, UserId};
use warp::http::StatusCode;

use super::inbox::{self, Acting};
use super::{json, ApiResult, Ctx, Failure};
use crate::store::{ConversationRecord, Cursor, OutboxRecord, ThreadRecord, ThreadState};

fn customer(ctx: &Ctx, wa_id: &str) -> String {
    if ctx.principal.can(Permission::ContactsPhoneView) {
        wa_id.to_owned()
    } else {
        mask_phone(wa_id)
    }
}

fn dto(ctx: &Ctx, c: ConversationRecord, t: Option<ThreadRecord>) -> Conversation {
    Conversation {
        customer: customer(ctx, c.customer.as_str()),
        id: c.id,
        number: c.number,
        customer_name: c.customer_name,
        last_message_at: c.last_message_at,
        state: t.as_ref().map(|t| match t.state {
            ThreadState::Queued => ConversationState::Queued,
            ThreadState::Assigned => ConversationState::Assigned,
            ThreadState::Resolved => ConversationState::Resolved,
        }),
        assignee: t.as_ref().and_then(|t| t.assignee.clone()),
        waiting_since: t.as_ref().and_then(|t| t.waiting_since),
        last_inbound_at: t.as_ref().and_then(|t| t.last_inbound_at),
        tags: t.map(|t| t.tags).unwrap_or_default(),
    }
}

fn acting(ctx: &Ctx) -> Acting<'_> {
    Acting {
        principal: &ctx.principal,
        scope: &ctx.scope,
        inbox: &ctx.inbox,
        outbound: &ctx.outbound,
        outbox: &ctx.outbox,
    }
}

fn id(ctx: &Ctx) -> ConversationId {
    ConversationId::from(ctx.req.param(0))
}

/// `GET conversations/{id}`.
pub async fn get(ctx: Ctx) -> ApiResult {
    let (c, t) = inbox::visible(&ctx.principal, &ctx.scope, &id(&ctx)).await?;
    json(StatusCode::OK, &dto(&ctx, c, t))
}

/// The most open conversations one list request reads while filtering, so a narrow filter over
/// a huge inbox answers a short page (with a cursor to go on) instead of scanning everything.
const SCAN_BUDGET: usize = 2_000;

/// `GET conversations?state=queued|assigned&assignee=<user>|me|none&number=&cursor=&limit=`:
/// the open inbox the caller can see, ordered by id.
pub async fn list(ctx: Ctx) -> ApiResult {
    let limit = ctx.req.limit(50, 200)?;
    let state = match ctx.req.query("state") {
        None => None,
        Some("queued") => Some(ThreadState::Queued),
        Some("assigned") => Some(ThreadState::Assigned),
        Some(other) => {
            return Err(Failure::bad_request(format!(
            "`state` is `queued` or `assigned` (the inbox lists open conversations), not `{other}`"
        )))
        }
    };
    let me = ctx.principal.user().map(|u| u.id.clone());
    let assignee: Option<Option<UserId>> = match ctx.req.query("assignee") {
        None => None,
        Some("none") => Some(None),
        Some("me") => Some(Some(me.clone().ok_or_else(|| {
            Failure::bad_request("`assignee=me` needs a user, not an API key")
        })?)),
        Some(user) => Some(Some(UserId::from(user))),
    };
    let number = ctx.req.query("number").map(str::to_owned);
    let mut cursor = ctx.req.query("cursor").map(Cursor::from_token);
    let mut picked: Vec<ThreadRecord> = Vec::new();
    let mut scanned = 0;
    let next = loop {
        let page = ctx.scope.open_threads(cursor.as_ref(), 200).await?;
        let mut resume = None;
        for t in page.items {
            scanned += 1;
            let wanted = state.is_none_or(|s| t.state == s)
                && assignee.as_ref().is_none_or(|a| t.assignee == *a)
                && number.as_deref().is_none_or(|n| t.number.as_str() == n)
                && ctx.principal.sees(&t.number, t.assignee.as_ref());
            let stop = picked.len() + usize::from(wanted) == limit || scanned >= SCAN_BUDGET;
            if stop {
                resume = Some(Cursor::after_text(t.conversation.as_str()));
            }
            if wanted {
                picked.push(t);
            }
            if stop {
                break;
            }
        }
        match (resume, page.next) {
            (Some(at), _) => break Some(at),
            (None, Some(more)) => cursor = Some(more),
            (None, None) => break None,
        }
    };
    let mut items = Vec::with_capacity(picked.len());
    for t in picked {
        let c = ctx
            .scope
            .conversation(&t.conversation)
            .await?
            .unwrap_or_else(|| ConversationRecord {
                tenant: t.tenant.clone(),
                id: t.conversation.clone(),
                number: t.number.clone(),
                customer: t.customer.clone(),
                customer_name: None,
                last_message_at: t.last_inbound_at.unwrap_or(t.updated_at),
            });
        items.push(dto(&ctx, c, Some(t)));
    }
    json(
        StatusCode::OK,
        &Page {
            items,
            next: next.map(|c| c.as_str().to_owned()),
        },
    )
}

/// `GET conversations/{id}/messages?cursor=&limit=`: newest first.
pub async fn history(ctx: Ctx) -> ApiResult {
    let (c, _) = inbox::visible(&ctx.principal, &ctx.scope, &id(&ctx)).await?;
    let limit = ctx.req.limit(50, crate::store::MAX_PAGE)?;
    let cursor = ctx.req.query("cursor").map(Cursor::from_token);
    let page = ctx.scope.history(&c.id, cursor.as_ref(), limit).await?;
    let items = page
        .items
        .into_iter()
        .map(|m| Message {
            customer: customer(&ctx, m.customer.as_str()),
            key: m.key.into_string(),
            wamid: m.wamid.into_string(),
            direction: m.direction,
            kind: m.kind,
            text: m.text,
            at: m.at_ms,
            status: m.status,
        })
        .collect();
    json(
        StatusCode::OK,
        &Page {
            items,
            next: page.next.map(|c| c.as_str().to_owned()),
        },
    )
}

/// A send as the API shows it.
pub fn send_dto(s: OutboxRecord) -> Send {
    Send {
        id: s.id,
        conversation: s.conversation,
        state: s.state.as_str().to_owned(),
        wamid: s.wamid.map(|w| w.into_string()),
        error: s.error,
        attempts: s.attempts,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

/// `POST conversations/{id}/messages` `{"text": …, "key": …}`: `202 Accepted` once the reply is
/// stored and queued; `message_stored` (or `send_failed`) follows on the streams.
pub async fn reply(ctx: Ctx) -> ApiResult {
    let body: SendText = ctx.req.json()?;
    let send = inbox::reply(&acting(&ctx), &id(&ctx), &body.text, body.key.as_deref()).await?;
    json(StatusCode::ACCEPTED, &send_dto(send))
}

/// `GET sends/{id}`: where a send stands (for a caller who may read its conversation).
pub async fn get_send(ctx: Ctx) -> ApiResult {
    let send = ctx
        .outbox
        .get(ctx.scope.tenant(), ctx.req.param(0))
        .await?
        .ok_or_else(|| Failure::not_found("send"))?;
    inbox::visible(&ctx.principal, &ctx.scope, &send.conversation).await?;
    json(StatusCode::OK, &send_dto(send))
}

/// `POST conversations/{id}/assign` `{"agent": "u_…"}`.
pub async fn assign(ctx: Ctx) -> ApiResult {
    let body: AssignTo = ctx.req.json()?;
    inbox::assign(&acting(&ctx), &id(&ctx), &body.agent).await?;
    get(ctx).await
}

/// `POST conversations/{id}/resolve`.
pub async fn resolve(ctx: Ctx) -> ApiResult {
    inbox::resolve(&acting(&ctx), &id(&ctx)).await?;
    get(ctx).await
}

/// `POST conversations/{id}/reopen`.
pub async fn reopen(ctx: Ctx) -> ApiResult {
    inbox::reopen(&acting(&ctx), &id(&ctx)).await?;
    get(ctx).await
}

/// `GET board`: the supervisor board's figures now (then follow the `board` topic).
pub async fn board(ctx: Ctx) -> ApiResult {
    let board = ctx.inbox.board(ctx.scope.tenant()).await?;
    json(StatusCode::OK, &board)
}
