//! Saved replies over REST (`service::replies` decides who sees and changes which).

use switchboard_shared::replies::SavedReplyInput;

use super::automation::actor;
use super::conversations::{declared_type, file_response};
use super::{json, ApiResult, Ctx, Failure};
use crate::connector::parts::clean_filename;
use crate::service::replies::{self, AttachmentError, NewFile};
use crate::web::StatusCode;

impl From<AttachmentError> for Failure {
    fn from(e: AttachmentError) -> Self {
        match e {
            AttachmentError::Document(e) => e.into(),
            AttachmentError::File(p) => p.into(),
            AttachmentError::Media(e) => e.into(),
        }
    }
}

/// `?version=`, when given: the version the caller read.
fn version(ctx: &Ctx) -> Result<Option<u64>, Failure> {
    ctx.req
        .query("version")
        .map(|v| {
            v.parse()
                .map_err(|_| Failure::bad_request("`version` is a whole number"))
        })
        .transpose()
}

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
    replies::delete(&actor(&ctx), &ctx.media, ctx.req.param(0)).await?;
    super::no_content()
}

/// `PUT saved-replies/{id}/attachment?filename=&version=` with the file as the body and its
/// type as `Content-Type`: the reply's file (replacing any), checked by WhatsApp's rules.
pub async fn attach(ctx: Ctx) -> ApiResult {
    let file = NewFile {
        bytes: ctx.req.body.clone(),
        mime_type: declared_type(&ctx),
        filename: ctx.req.query("filename").and_then(clean_filename),
    };
    let reply = replies::attach(
        &actor(&ctx),
        &ctx.media,
        ctx.req.param(0),
        version(&ctx)?,
        file,
    )
    .await?;
    json(StatusCode::OK, &reply)
}

/// `DELETE saved-replies/{id}/attachment?version=`: the reply without its file.
pub async fn detach(ctx: Ctx) -> ApiResult {
    let reply = replies::detach(&actor(&ctx), &ctx.media, ctx.req.param(0), version(&ctx)?).await?;
    json(StatusCode::OK, &reply)
}

/// `GET saved-replies/{id}/attachment`: the reply's file, for whoever may use the reply.
pub async fn download(ctx: Ctx) -> ApiResult {
    let (shown, file) =
        replies::file(&ctx.principal, &ctx.scope, &ctx.media, ctx.req.param(0)).await?;
    // The reply's file may be replaced under the same address: asked again each time.
    Ok(file_response(
        file.bytes,
        &file.mime_type,
        shown.filename.as_deref(),
        "private, no-cache",
    ))
}
