//! Keyword rules over REST: the rules (read and replaced whole, with a version against lost
//! updates) and the test bench. Each handler reads its input, calls `service::automation`, and
//! writes the answer.

use switchboard_shared::api::Page;
use switchboard_shared::automation::{AutomationTest, RuleInput};
use switchboard_shared::{ErrorCode, RuleId};

use super::{json, no_content, ApiResult, Ctx, Failure};
use crate::service::automation::{RuleActor, RuleCommandError};
use crate::web::StatusCode;

impl From<RuleCommandError> for Failure {
    fn from(e: RuleCommandError) -> Self {
        match e {
            RuleCommandError::NotFound => Failure::not_found("rule"),
            RuleCommandError::Invalid { field, message } => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidValue,
                format!("`{field}`: {message}"),
            )
            .on_field(field),
            RuleCommandError::TooMany(m) => {
                Failure::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::TooMany, m)
            }
            RuleCommandError::Conflict(m) => Failure::conflict(ErrorCode::Conflict, m),
            RuleCommandError::Store(e) => e.into(),
        }
    }
}

fn actor(ctx: &Ctx) -> RuleActor<'_> {
    RuleActor {
        principal: &ctx.principal,
        scope: &ctx.scope,
        action: ctx.action,
    }
}

fn rule_id(ctx: &Ctx) -> RuleId {
    RuleId::new(ctx.req.param(0))
}

/// `GET automation/rules`: every rule, highest priority first, with its hits since start.
pub async fn list_rules(ctx: Ctx) -> ApiResult {
    let items = ctx.automation.rules(&ctx.scope).await?;
    json(StatusCode::OK, &Page { items, next: None })
}

/// `POST automation/rules` `{"name", "match", "actions", …}`: `201` with the rule.
pub async fn create_rule(ctx: Ctx) -> ApiResult {
    let input: RuleInput = ctx.req.json()?;
    let rule = ctx.automation.create(&actor(&ctx), input).await?;
    json(StatusCode::CREATED, &rule)
}

/// `GET automation/rules/{id}`.
pub async fn get_rule(ctx: Ctx) -> ApiResult {
    let rule = ctx.automation.rule(&ctx.scope, &rule_id(&ctx)).await?;
    json(StatusCode::OK, &rule)
}

/// `PUT automation/rules/{id}`: replaces the rule whole (`version`, when sent, must be the
/// stored one: `409` otherwise).
pub async fn replace_rule(ctx: Ctx) -> ApiResult {
    let input: RuleInput = ctx.req.json()?;
    let rule = ctx
        .automation
        .replace(&actor(&ctx), &rule_id(&ctx), input)
        .await?;
    json(StatusCode::OK, &rule)
}

/// `DELETE automation/rules/{id}`: `204`.
pub async fn delete_rule(ctx: Ctx) -> ApiResult {
    ctx.automation.delete(&actor(&ctx), &rule_id(&ctx)).await?;
    no_content()
}

/// `POST automation/test` `{"text", "number", "first_message", "contact_tags"}`: which rules
/// would fire, in order, why others would not, and what the word filter finds. Nothing is sent.
pub async fn test(ctx: Ctx) -> ApiResult {
    let input: AutomationTest = ctx.req.json()?;
    if input.text.chars().count() > 4096 {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::TooLarge,
            "a message to test is at most 4,096 characters",
        )
        .on_field("text"));
    }
    let report = ctx.automation.test(&ctx.scope, &input).await?;
    json(StatusCode::OK, &report)
}
