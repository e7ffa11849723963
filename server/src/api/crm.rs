//! The CRM card over REST: a conversation's card for whoever may read the conversation (each
//! field shown to the roles the connector names), and the workspace's connector
//! (`service::crm` does the work). The connector's header value goes in, never out.

use switchboard_shared::crm::CrmConnectorInput;
use switchboard_shared::ConversationId;

use super::{json, ApiResult, Ctx, Failure};
use crate::service::commands;
use crate::web::StatusCode;

/// `GET conversations/{id}/crm`: within the connector's budget (500 ms by default), the
/// freshest card there is, with its age; never an error for a slow or failing CRM.
pub async fn card(ctx: Ctx) -> ApiResult {
    let id = ConversationId::new(ctx.req.param(0));
    let (conversation, _) = commands::visible(&ctx.principal, &ctx.scope, &id).await?;
    let card = ctx
        .crm
        .card(&ctx.principal, &ctx.scope, &conversation.customer)
        .await?;
    json(StatusCode::OK, &card)
}

/// `GET settings/crm`: the connector, or 404 when none is saved.
pub async fn connector(ctx: Ctx) -> ApiResult {
    let connector = ctx
        .crm
        .connector(&ctx.scope)
        .await?
        .ok_or_else(|| Failure::not_found("CRM connector"))?;
    json(StatusCode::OK, &connector)
}

/// `PUT settings/crm`: the connector whole (its header value kept when left out).
pub async fn save(ctx: Ctx) -> ApiResult {
    let input: CrmConnectorInput = ctx.req.json()?;
    let saved = ctx.crm.save(&ctx.principal, &ctx.scope, input).await?;
    json(StatusCode::OK, &saved)
}
