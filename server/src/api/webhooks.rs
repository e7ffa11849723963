//! Outbound webhooks over REST: endpoints subscribed, changed, their secret rotated, removed;
//! their delivery log and a delivery's replay (`service::webhooks` does the work). The secret is
//! in the answer to its creation or rotation only.
//!
//! A subscriber receives every conversation's messages with customers' numbers, so making or
//! widening one takes, beyond the route's permission, what that reading takes.

use switchboard_shared::api::Page;
use switchboard_shared::webhooks::{EndpointPatch, NewEndpoint};
use switchboard_shared::{ErrorCode, Permission};

use super::access::change;
use super::{json, no_content, ApiResult, Ctx, Failure};
use crate::service::webhooks::WebhooksError;
use crate::store::{Cursor, MAX_PAGE};
use crate::web::StatusCode;

impl From<WebhooksError> for Failure {
    fn from(e: WebhooksError) -> Self {
        let message = e.to_string();
        match e {
            WebhooksError::Invalid { field, .. } => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidValue,
                message,
            )
            .on_field(field),
            WebhooksError::TooMany => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::TooMany,
                message,
            ),
            WebhooksError::NotFound(what) => Failure::not_found(what),
            WebhooksError::Disabled => Failure::conflict(ErrorCode::Conflict, message),
            WebhooksError::Unsealable(_) => {
                tracing::error!(error = %message, "a webhook endpoint's secret does not open");
                Failure::conflict(
                    ErrorCode::Conflict,
                    "the endpoint's secret does not open with this server's secrets key; \
                     rotate it (POST …/rotate)",
                )
            }
            WebhooksError::Store(e) => e.into(),
            WebhooksError::Stopped => Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ShuttingDown,
                message,
            ),
        }
    }
}

/// What a subscriber will read: every conversation, customers' numbers unmasked.
fn may_read_everything(ctx: &Ctx) -> Result<(), Failure> {
    let missing: Vec<&str> = [
        Permission::ConversationsReadAll,
        Permission::ContactsPhoneView,
    ]
    .iter()
    .filter(|p| !ctx.principal.can(**p))
    .map(|p| p.as_str())
    .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        StatusCode::FORBIDDEN,
        ErrorCode::PrivilegeEscalation,
        format!(
            "a webhook endpoint receives every conversation with customers' numbers, which \
             takes {}",
            missing.join(", ")
        ),
    ))
}

fn id(ctx: &Ctx) -> String {
    ctx.req.param(0).to_owned()
}

/// `GET webhooks`: the workspace's endpoints (never their secrets).
pub async fn list(ctx: Ctx) -> ApiResult {
    json(StatusCode::OK, &ctx.webhooks.list(ctx.scope.tenant()))
}

/// `GET webhooks/{id}`.
pub async fn get(ctx: Ctx) -> ApiResult {
    let view = ctx.webhooks.get(ctx.scope.tenant(), &id(&ctx)).await?;
    json(StatusCode::OK, &view)
}

/// `POST webhooks`: subscribes an endpoint (201, with its secret: shown this once).
pub async fn create(ctx: Ctx) -> ApiResult {
    let body: NewEndpoint = ctx.req.json()?;
    may_read_everything(&ctx)?;
    let line = ctx
        .scope
        .bind_audit(change(&ctx, String::new(), None, None));
    let (_, secret) = ctx.webhooks.create(ctx.scope.tenant(), body, line).await?;
    json(StatusCode::CREATED, &secret)
}

/// `PATCH webhooks/{id}`: what the body names changes; `enabled: true` turns a disabled one
/// back on.
pub async fn update(ctx: Ctx) -> ApiResult {
    let body: EndpointPatch = ctx.req.json()?;
    may_read_everything(&ctx)?;
    let line = ctx
        .scope
        .bind_audit(change(&ctx, String::new(), None, None));
    let view = ctx
        .webhooks
        .update(ctx.scope.tenant(), &id(&ctx), body, line)
        .await?;
    json(StatusCode::OK, &view)
}

/// `POST webhooks/{id}/rotate`: a new secret (shown once); the old one signs too for a day.
pub async fn rotate(ctx: Ctx) -> ApiResult {
    let line = ctx
        .scope
        .bind_audit(change(&ctx, String::new(), None, None));
    let secret = ctx
        .webhooks
        .rotate(ctx.scope.tenant(), &id(&ctx), line)
        .await?;
    json(StatusCode::OK, &secret)
}

/// `DELETE webhooks/{id}` (204); its log stays readable.
pub async fn delete(ctx: Ctx) -> ApiResult {
    let line = ctx
        .scope
        .bind_audit(change(&ctx, String::new(), None, None));
    ctx.webhooks
        .remove(ctx.scope.tenant(), &id(&ctx), line)
        .await?;
    no_content()
}

/// `GET webhooks/{id}/deliveries?limit=&cursor=`: newest first, each with its body and attempts.
pub async fn deliveries(ctx: Ctx) -> ApiResult {
    let limit = ctx.req.limit(50, MAX_PAGE)?;
    let cursor = ctx.req.query("cursor").map(Cursor::from_token);
    let page = ctx
        .webhooks
        .deliveries(ctx.scope.tenant(), &id(&ctx), cursor.as_ref(), limit)
        .await?;
    json(
        StatusCode::OK,
        &Page {
            items: page.items,
            next: page.next.map(|c| c.as_str().to_owned()),
        },
    )
}

/// `POST webhooks/{id}/deliveries/{delivery}/replay`: sends it again now (same `webhook-id`)
/// and answers with the delivery, its new attempt last.
pub async fn replay(ctx: Ctx) -> ApiResult {
    let (endpoint, delivery) = (id(&ctx), ctx.req.param(1).to_owned());
    let line = ctx.scope.bind_audit(change(
        &ctx,
        format!("webhook:{endpoint}"),
        None,
        Some(serde_json::json!({ "delivery": delivery })),
    ));
    let view = ctx
        .webhooks
        .replay(ctx.scope.tenant(), &endpoint, &delivery, line)
        .await?;
    json(StatusCode::OK, &view)
}
