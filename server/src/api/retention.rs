//! The retention routes: the policy, legal holds, the dry run, the purge and where it stands.

use switchboard_shared::retention::{NewHold, RetentionPolicy};
use switchboard_shared::ErrorCode;

use super::{json, ApiResult, Ctx, Failure};
use crate::service::retention::{self, Purger, RetentionError};
use crate::web::StatusCode;

impl From<RetentionError> for Failure {
    fn from(e: RetentionError) -> Self {
        match e {
            RetentionError::Invalid { field, message } => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidValue,
                format!("`{field}`: {message}"),
            )
            .on_field(field),
            RetentionError::Conflict(m) => Failure::conflict(ErrorCode::Conflict, m),
            RetentionError::NotFound(what) => Failure::not_found(what),
            RetentionError::Store(e) => e.into(),
        }
    }
}

/// `GET retention/policy`: the workspace's policy (empty, keeping everything, until saved).
pub async fn policy(ctx: Ctx) -> ApiResult {
    let policy = retention::policy(&ctx.scope).await?.unwrap_or_default();
    json(StatusCode::OK, &policy)
}

/// `PUT retention/policy`: replaces it whole.
pub async fn replace_policy(ctx: Ctx) -> ApiResult {
    let policy: RetentionPolicy = ctx.req.json()?;
    let saved = retention::replace_policy(&ctx.principal, &ctx.scope, policy).await?;
    json(StatusCode::OK, &saved)
}

/// `GET retention/holds`: every legal hold, oldest first.
pub async fn holds(ctx: Ctx) -> ApiResult {
    json(StatusCode::OK, &retention::holds(&ctx.scope).await?)
}

/// `POST retention/holds`: places a hold on a contact, a conversation, a number or a range.
pub async fn place_hold(ctx: Ctx) -> ApiResult {
    let hold: NewHold = ctx.req.json()?;
    let placed = retention::place_hold(&ctx.principal, &ctx.scope, hold).await?;
    json(StatusCode::CREATED, &placed)
}

/// `DELETE retention/holds/{id}`: releases it.
pub async fn release_hold(ctx: Ctx) -> ApiResult {
    retention::release_hold(&ctx.principal, &ctx.scope, ctx.req.param(0)).await?;
    super::no_content()
}

/// `POST retention/dry-run`: what a purge would remove now, removing nothing.
pub async fn dry_run(ctx: Ctx) -> ApiResult {
    let report = ctx
        .retention
        .run(&ctx.scope, false, Purger::Person(&ctx.principal))
        .await?;
    json(StatusCode::OK, &report)
}

/// `POST retention/purge`: starts a purge now (`202`; follow it with `GET retention/status`).
pub async fn purge(ctx: Ctx) -> ApiResult {
    let tenant = ctx.scope.tenant().clone();
    if !ctx.retention.begin(&tenant) {
        return Err(Failure::conflict(
            ErrorCode::Conflict,
            "a purge of this workspace is running: follow it with GET /api/v1/retention/status",
        ));
    }
    let (retention, scope, principal) = (
        std::sync::Arc::clone(&ctx.retention),
        ctx.scope.clone(),
        ctx.principal.clone(),
    );
    tokio::spawn(async move {
        if let Err(e) = retention
            .run(&scope, true, Purger::Person(&principal))
            .await
        {
            tracing::warn!(error = %e, tenant = %scope.tenant(), "a retention purge failed");
        }
    });
    json(StatusCode::ACCEPTED, &ctx.retention.status(&tenant))
}

/// `GET retention/status`: whether a purge runs, how far it is, and the last receipt.
pub async fn status(ctx: Ctx) -> ApiResult {
    json(StatusCode::OK, &ctx.retention.status(ctx.scope.tenant()))
}
