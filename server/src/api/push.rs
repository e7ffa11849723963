//! Web Push over REST: the server's key, and the caller's own devices (`service::push` checks
//! and keeps them). Self-service: every signed-in person manages their own devices only.

use switchboard_shared::push::PushSubscriptionInput;

use super::{json, ApiResult, Ctx, Failure};
use crate::web::StatusCode;

/// Devices are a person's: an API key has none.
fn people_only(ctx: &Ctx) -> Result<(), Failure> {
    match ctx.principal.user() {
        Some(_) => Ok(()),
        None => Err(Failure::bad_request(
            "notifications are for people signed in to the app, not for API keys",
        )),
    }
}

/// `GET push/key`: the VAPID public key browsers subscribe with.
pub async fn key(ctx: Ctx) -> ApiResult {
    json(StatusCode::OK, &ctx.push.key())
}

/// `GET push/subscriptions`: the caller's devices.
pub async fn list(ctx: Ctx) -> ApiResult {
    people_only(&ctx)?;
    json(
        StatusCode::OK,
        &ctx.push.devices(&ctx.scope, &ctx.principal).await?,
    )
}

/// `POST push/subscriptions`: the browser's `PushSubscription.toJSON()`.
pub async fn subscribe(ctx: Ctx) -> ApiResult {
    people_only(&ctx)?;
    let input: PushSubscriptionInput = ctx.req.json()?;
    let device = ctx
        .push
        .subscribe(&ctx.scope, &ctx.principal, input)
        .await?;
    json(StatusCode::CREATED, &device)
}

/// `DELETE push/subscriptions/{id}`.
pub async fn unsubscribe(ctx: Ctx) -> ApiResult {
    people_only(&ctx)?;
    ctx.push
        .unsubscribe(&ctx.scope, &ctx.principal, ctx.req.param(0))
        .await?;
    super::no_content()
}

/// `POST push/subscriptions/{id}/test`: a notification now, and what the push service said.
pub async fn test(ctx: Ctx) -> ApiResult {
    people_only(&ctx)?;
    let result = ctx
        .push
        .test(&ctx.scope, &ctx.principal, ctx.req.param(0))
        .await?;
    json(StatusCode::OK, &result)
}
