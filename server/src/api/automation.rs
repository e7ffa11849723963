//! Keyword rules and schedules over REST: each read and replaced whole, with a version against
//! lost updates; holiday calendars; the test bench. Each handler reads its input, calls `service::automation`, and
//! writes the answer.

use switchboard_shared::api::Page;
use switchboard_shared::automation::{AutomationTest, RuleInput};
use switchboard_shared::flow::FlowInput;
use switchboard_shared::schedule::ScheduleInput;
use switchboard_shared::{ErrorCode, FlowId, RuleId, ScheduleId};

use super::{json, no_content, ApiResult, Ctx, Failure};
use crate::service::documents::{DocumentActor, DocumentError};
use crate::web::StatusCode;

impl From<DocumentError> for Failure {
    fn from(e: DocumentError) -> Self {
        match e {
            DocumentError::NotFound(noun) => Failure::not_found(noun),
            DocumentError::Invalid { field, message } => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidValue,
                format!("`{field}`: {message}"),
            )
            .on_field(field),
            DocumentError::TooMany(m) => {
                Failure::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::TooMany, m)
            }
            DocumentError::Conflict(m) => Failure::conflict(ErrorCode::Conflict, m),
            // The route's permission passed; this document needs one more the caller lacks.
            DocumentError::Forbidden(m) => {
                Failure::new(StatusCode::FORBIDDEN, ErrorCode::PrivilegeEscalation, m)
            }
            DocumentError::Store(e) => e.into(),
        }
    }
}

pub(super) fn actor(ctx: &Ctx) -> DocumentActor<'_> {
    DocumentActor {
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

fn schedule_id(ctx: &Ctx) -> ScheduleId {
    ScheduleId::new(ctx.req.param(0))
}

/// `GET automation/schedules`: every schedule by name, with whether it is open now.
pub async fn list_schedules(ctx: Ctx) -> ApiResult {
    let items = ctx.automation.schedules(&ctx.scope).await?;
    json(StatusCode::OK, &Page { items, next: None })
}

/// `POST automation/schedules` `{"name", "time_zone", "week", "overrides", …}`: `201`.
pub async fn create_schedule(ctx: Ctx) -> ApiResult {
    let input: ScheduleInput = ctx.req.json()?;
    let schedule = ctx.automation.create_schedule(&actor(&ctx), input).await?;
    json(StatusCode::CREATED, &schedule)
}

/// `GET automation/schedules/{id}`.
pub async fn get_schedule(ctx: Ctx) -> ApiResult {
    let schedule = ctx
        .automation
        .schedule(&ctx.scope, &schedule_id(&ctx))
        .await?;
    json(StatusCode::OK, &schedule)
}

/// `PUT automation/schedules/{id}`: replaces the schedule whole (`version` as for rules).
pub async fn replace_schedule(ctx: Ctx) -> ApiResult {
    let input: ScheduleInput = ctx.req.json()?;
    let schedule = ctx
        .automation
        .replace_schedule(&actor(&ctx), &schedule_id(&ctx), input)
        .await?;
    json(StatusCode::OK, &schedule)
}

/// `DELETE automation/schedules/{id}`: `204`; `409` while a rule goes by it.
pub async fn delete_schedule(ctx: Ctx) -> ApiResult {
    ctx.automation
        .delete_schedule(&actor(&ctx), &schedule_id(&ctx))
        .await?;
    no_content()
}

/// `POST automation/schedules/{id}/holidays?replace=true|false` with an iCalendar file as the
/// body: its all-day events become closed days (`replace`: instead of the closed days there).
pub async fn import_holidays(ctx: Ctx) -> ApiResult {
    let replace = match ctx.req.query("replace") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidValue,
                format!("`replace` is `true` or `false`, not `{other}`"),
            )
            .on_field("replace"))
        }
    };
    let Ok(text) = std::str::from_utf8(&ctx.req.body) else {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidValue,
            "a calendar file is UTF-8 text (RFC 5545)",
        )
        .on_field("ics"));
    };
    let report = ctx
        .automation
        .import_holidays(&actor(&ctx), &schedule_id(&ctx), text, replace)
        .await?;
    json(StatusCode::OK, &report)
}

fn flow_id(ctx: &Ctx) -> FlowId {
    FlowId::new(ctx.req.param(0))
}

/// `GET automation/flows`: every flow by name, with its runs since the server started.
pub async fn list_flows(ctx: Ctx) -> ApiResult {
    let items = ctx.automation.flows(&ctx.scope).await?;
    json(StatusCode::OK, &Page { items, next: None })
}

/// `POST automation/flows` `{"name", "start", "nodes", …}`: `201`.
pub async fn create_flow(ctx: Ctx) -> ApiResult {
    let input: FlowInput = ctx.req.json()?;
    let flow = ctx.automation.create_flow(&actor(&ctx), input).await?;
    json(StatusCode::CREATED, &flow)
}

/// `GET automation/flows/{id}`.
pub async fn get_flow(ctx: Ctx) -> ApiResult {
    let flow = ctx.automation.flow(&ctx.scope, &flow_id(&ctx)).await?;
    json(StatusCode::OK, &flow)
}

/// `PUT automation/flows/{id}`: replaces the flow whole; runs under way keep the version they
/// started on.
pub async fn replace_flow(ctx: Ctx) -> ApiResult {
    let input: FlowInput = ctx.req.json()?;
    let flow = ctx
        .automation
        .replace_flow(&actor(&ctx), &flow_id(&ctx), input)
        .await?;
    json(StatusCode::OK, &flow)
}

/// `DELETE automation/flows/{id}`: `204`; `409` while a rule starts it.
pub async fn delete_flow(ctx: Ctx) -> ApiResult {
    ctx.automation
        .delete_flow(&actor(&ctx), &flow_id(&ctx))
        .await?;
    no_content()
}
