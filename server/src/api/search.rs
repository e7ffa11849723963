//! Search over REST: a query's words in the message texts the caller may see
//! (`service::search`; docs/architecture.md says how each store indexes them).

use switchboard_shared::api::{Page, SearchResult};
use switchboard_shared::ErrorCode;

use super::conversations::message_dto;
use super::{json, ApiResult, Ctx, Failure};
use crate::service::search::{self, SearchError};
use crate::store::Cursor;
use crate::web::StatusCode;

/// `GET search?q=&cursor=&limit=`: newest first.
pub async fn messages(ctx: Ctx) -> ApiResult {
    let limit = ctx.req.limit(20, 100)?;
    let query = ctx.req.query("q").unwrap_or("");
    let cursor = ctx.req.query("cursor").map(Cursor::from_token);
    let (found, next) = search::search(&ctx.scope, &ctx.principal, query, cursor, limit)
        .await
        .map_err(|e| match e {
            SearchError::Query(message) => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::BadQuery,
                message,
            )
            .on_field("q"),
            SearchError::Store(e) => e.into(),
        })?;
    let items = found
        .into_iter()
        .map(|f| SearchResult {
            conversation_id: f.message.conversation.clone(),
            snippet: f.snippet,
            message: message_dto(&ctx, f.message),
        })
        .collect();
    json(
        StatusCode::OK,
        &Page {
            items,
            next: next.map(|c| c.as_str().to_owned()),
        },
    )
}
