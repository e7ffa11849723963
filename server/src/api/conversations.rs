//! Reading conversations: only those the caller's visibility admits (all, their teams' numbers,
//! or assigned to them), answering 404 for the rest so existence does not leak. Customers'
//! numbers are masked unless the caller holds `contacts.phone.view`.

use switchboard_shared::api::{mask_phone, Conversation, Message, Page};
use switchboard_shared::{ConversationId, Permission};
use warp::http::StatusCode;

use super::{json, ApiResult, Ctx, Failure};
use crate::store::{ConversationRecord, Cursor};

fn customer(ctx: &Ctx, wa_id: &str) -> String {
    if ctx.principal.can(Permission::ContactsPhoneView) {
        wa_id.to_owned()
    } else {
        mask_phone(wa_id)
    }
}

async fn visible(ctx: &Ctx) -> Result<ConversationRecord, Failure> {
    let id = ConversationId::from(ctx.req.param(0));
    ctx.scope
        .conversation(&id)
        .await?
        .filter(|c| ctx.principal.sees(c))
        .ok_or_else(|| Failure::not_found("conversation"))
}

/// `GET conversations/{id}`.
pub async fn get(ctx: Ctx) -> ApiResult {
    let c = visible(&ctx).await?;
    json(
        StatusCode::OK,
        &Conversation {
            customer: customer(&ctx, c.customer.as_str()),
            id: c.id,
            number: c.number,
            customer_name: c.customer_name,
            last_message_at: c.last_message_at,
        },
    )
}

/// `GET conversations/{id}/messages?cursor=&limit=`: newest first.
pub async fn history(ctx: Ctx) -> ApiResult {
    let c = visible(&ctx).await?;
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
