//! The outgoing word filter over REST: term lists (read and replaced whole, with a version
//! against lost updates), the check a test bench or integration runs on a text, and the lists
//! the composer compiles in the browser. Each handler reads its input, calls
//! `service::compliance`, and writes the answer.

use switchboard_shared::api::Page;
use switchboard_shared::compliance::{FilterCheckInput, TermListInput};
use switchboard_shared::{ErrorCode, TermListId};

use super::{json, no_content, ApiResult, Ctx, Failure};
use crate::service::compliance::{ListActor, TermListError};
use crate::web::StatusCode;

impl From<TermListError> for Failure {
    fn from(e: TermListError) -> Self {
        match e {
            TermListError::NotFound => Failure::not_found("term list"),
            TermListError::Invalid { field, message } => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidValue,
                format!("`{field}`: {message}"),
            )
            .on_field(field),
            TermListError::TooMany(m) => {
                Failure::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::TooMany, m)
            }
            TermListError::Conflict(m) => Failure::conflict(ErrorCode::Conflict, m),
            TermListError::Store(e) => e.into(),
        }
    }
}

fn actor(ctx: &Ctx) -> ListActor<'_> {
    ListActor {
        principal: &ctx.principal,
        scope: &ctx.scope,
        action: ctx.action,
    }
}

fn list_id(ctx: &Ctx) -> TermListId {
    TermListId::new(ctx.req.param(0))
}

/// `GET compliance/term-lists`: every list of the workspace, by id.
pub async fn list_term_lists(ctx: Ctx) -> ApiResult {
    let items = ctx.filter.lists(&ctx.scope).await?;
    json(StatusCode::OK, &Page { items, next: None })
}

/// `POST compliance/term-lists` `{"name", "action", "terms", …}`: `201` with the list.
pub async fn create_term_list(ctx: Ctx) -> ApiResult {
    let input: TermListInput = ctx.req.json()?;
    let list = ctx.filter.create(&actor(&ctx), input).await?;
    json(StatusCode::CREATED, &list)
}

/// `GET compliance/term-lists/{id}`.
pub async fn get_term_list(ctx: Ctx) -> ApiResult {
    let list = ctx.filter.list(&ctx.scope, &list_id(&ctx)).await?;
    json(StatusCode::OK, &list)
}

/// `PUT compliance/term-lists/{id}`: replaces the list whole (`version`, when sent, must be the
/// stored one: `409` otherwise).
pub async fn replace_term_list(ctx: Ctx) -> ApiResult {
    let input: TermListInput = ctx.req.json()?;
    let list = ctx
        .filter
        .replace(&actor(&ctx), &list_id(&ctx), input)
        .await?;
    json(StatusCode::OK, &list)
}

/// `DELETE compliance/term-lists/{id}`: `204`.
pub async fn delete_term_list(ctx: Ctx) -> ApiResult {
    ctx.filter.delete(&actor(&ctx), &list_id(&ctx)).await?;
    no_content()
}

/// `POST compliance/check` `{"text", "number"}`: what the lists find in a text, and the verdict
/// a send of it would get. Nothing is sent or stored.
pub async fn check(ctx: Ctx) -> ApiResult {
    let input: FilterCheckInput = ctx.req.json()?;
    if input.text.chars().count() > 4096 {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::TooLarge,
            "a text to check is at most 4,096 characters (WhatsApp's limit on a message)",
        )
        .on_field("text"));
    }
    let report = ctx
        .filter
        .check(&ctx.scope, &input.text, input.number.as_ref())
        .await?;
    json(StatusCode::OK, &report)
}

/// `GET compliance/filter`: the enabled lists, for the composer to run the same filter as the
/// server while an agent types.
pub async fn composer_filter(ctx: Ctx) -> ApiResult {
    let items: Vec<_> = ctx
        .filter
        .lists(&ctx.scope)
        .await?
        .into_iter()
        .filter(|l| l.enabled)
        .collect();
    json(StatusCode::OK, &Page { items, next: None })
}
