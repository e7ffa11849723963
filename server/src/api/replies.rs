//! Saved replies over REST (`service::replies` decides who sees and changes which).

use switchboard_shared::replies::SavedReplyInput;

use super::automation::actor;
use super::{json, ApiResult, Ctx};
use crate::service::replies;
use crate::web::StatusCode;

/// `GET saved-replies`: the ones the caller may use.
pub async fn list(ctx: Ctx) -> ApiResult {
    let replies = replies::list(&ctx.principal, &ctx.scope).await?;
    json(StatusCode::OK, &replies)
}

/// `POST saved-replies`.
pub async fn create(ctx: Ctx) -> ApiResult {
    let input: SavedReplyInput = ctx.req.json()?;
    let reply = replies::create(&actor(&ctx), input).await?;
    json(StatusCode::CREATED, &reply)
}

/// `PUT saved-replies/{id}`: the reply whole.
pub async fn replace(ctx: Ctx) -> ApiResult {
    let input: SavedReplyInput = ctx.req.json()?;
    let reply = replies::replace(&actor(&ctx), ctx.req.param(0), input).await?;
    json(StatusCode::OK, &reply)
}

/// `DELETE saved-replies/{id}`.
pub async fn delete(ctx: Ctx) -> ApiResult {
    replies::delete(&actor(&ctx), ctx.req.param(0)).await?;
    super::no_content()
}
