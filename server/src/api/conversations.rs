//! Conversations over REST: the open inbox (filtered, cursor-paged), one conversation, its
//! history, and the actions of [`super::inbox`]. Only conversations the caller's visibility
//! admits (all, their teams' numbers, or assigned to them) exist for them; the rest answer 404.
//! Customers' numbers are masked unless the caller holds `contacts.phone.view`.

use crate::web::StatusCode;
use std::collections::BTreeSet;
use switchboard_shared::api::{
    mask_phone, AssignTo, Conversation, CustomerConversation, CustomerProfile, MediaCopy, Message,
    MessageTemplate, OutgoingMessage, Page, ReactionInput, Send, Uploaded,
};
use switchboard_shared::protocol::ConversationState;
use switchboard_shared::ErrorCode;

use switchboard_shared::{
    ContactId, ConversationId, Permission, PhoneNumberId, TeamId, UserId, WaId,
};

use super::{json, ApiResult, Ctx, Failure};
use crate::connector::parts::{check_file, clean_filename, FileProblem};
use crate::connector::wire::TemplateInfo;
use crate::domain::{
    now_ms, ConversationRecord, MediaState, MessageRecord, OutboxRecord, ThreadRecord, ThreadState,
};
use crate::service::archive;
use crate::service::commands::{self, Acting};
use crate::service::compliance::FilterAck;
use crate::service::media::MediaError;
use crate::service::outbound::Draft;
use crate::service::{message_parts, replies};
use crate::store::Cursor;

fn customer(ctx: &Ctx, wa_id: &str) -> String {
    if ctx.principal.can(Permission::ContactsPhoneView) {
        wa_id.to_owned()
    } else {
        mask_phone(wa_id)
    }
}

/// A wamid as this caller may see it: itself, or (without `contacts.phone.view`) the tenant's
/// opaque reference for it, since a wamid is base64 that contains the customer's number.
fn wamid(ctx: &Ctx, wamid: &str) -> String {
    ctx.scope.shown_wamid(&ctx.principal, wamid)
}

/// A message's quote, reaction and media, with wamids shown as the caller may see them.
fn parts(ctx: &Ctx, raw: &str) -> switchboard_shared::api::MessageParts {
    let mut parts = message_parts(raw);
    for w in [&mut parts.reply_to, &mut parts.reaction_to]
        .into_iter()
        .flatten()
    {
        *w = wamid(ctx, w);
    }
    parts
}

pub(super) fn dto(ctx: &Ctx, c: ConversationRecord, t: Option<ThreadRecord>) -> Conversation {
    Conversation {
        customer: customer(ctx, c.customer.as_str()),
        id: c.id,
        number: c.number,
        customer_name: c.customer_name,
        last_message_at: c.last_message_at,
        state: t.as_ref().map(|t| match t.state {
            ThreadState::Queued => ConversationState::Queued,
            ThreadState::Assigned => ConversationState::Assigned,
            ThreadState::Resolved => ConversationState::Resolved,
        }),
        assignee: t.as_ref().and_then(|t| t.assignee.clone()),
        waiting_since: t.as_ref().and_then(|t| t.waiting_since),
        last_inbound_at: t.as_ref().and_then(|t| t.last_inbound_at),
        tags: t.map(|t| t.tags).unwrap_or_default(),
    }
}

fn acting(ctx: &Ctx) -> Acting<'_> {
    Acting {
        principal: &ctx.principal,
        scope: &ctx.scope,
        inbox: &ctx.inbox,
        outbound: &ctx.outbound,
        outbox: &ctx.outbox,
        filter: &ctx.filter,
    }
}

fn id(ctx: &Ctx) -> ConversationId {
    ConversationId::from(ctx.req.param(0))
}

/// `GET conversations/{id}`.
pub async fn get(ctx: Ctx) -> ApiResult {
    let (c, t) = commands::visible(&ctx.principal, &ctx.scope, &id(&ctx)).await?;
    json(StatusCode::OK, &dto(&ctx, c, t))
}

/// The conversation as an action left it. The caller could see it to act on it, and hears the
/// outcome even when the action took it out of their sight (an agent who resolves or transfers
/// a conversation no longer sees it: a 404 would say the action failed).
async fn outcome(ctx: Ctx) -> ApiResult {
    let id = id(&ctx);
    let conversation = ctx
        .scope
        .conversation(&id)
        .await?
        .ok_or(crate::domain::CommandError::NotFound("conversation"))?;
    let thread = ctx.scope.thread(&id).await?;
    json(StatusCode::OK, &dto(&ctx, conversation, thread))
}

/// `GET conversations/{id}/customer`: the customer, and their conversations with each of the
/// workspace's numbers that the caller may see (this one included), most recent first. A
/// conversation's id follows from the number and the customer, so this reads one conversation
/// per number and needs no index.
pub async fn customer_profile(ctx: Ctx) -> ApiResult {
    let (this, _) = commands::visible(&ctx.principal, &ctx.scope, &id(&ctx)).await?;
    let mut conversations = Vec::new();
    for number in ctx.scope.numbers().await? {
        let other = ctx
            .scope
            .conversation_id(&number.phone_number_id, &this.customer);
        let record = if other == this.id {
            Some(this.clone())
        } else {
            ctx.scope.conversation(&other).await?
        };
        let Some(record) = record else { continue };
        let thread = ctx.scope.thread(&other).await?;
        let assignee = thread.as_ref().and_then(|t| t.assignee.as_ref());
        if !ctx.principal.sees(&record.number, assignee) {
            continue;
        }
        conversations.push(CustomerConversation {
            conversation: dto(&ctx, record, thread),
            display_phone_number: number.display_phone_number,
        });
    }
    conversations.sort_by_key(|c| std::cmp::Reverse(c.conversation.last_message_at));
    let contact = ctx
        .scope
        .contact_of(this.customer.as_str())
        .await?
        .map(|c| c.id);
    json(
        StatusCode::OK,
        &CustomerProfile {
            customer: customer(&ctx, this.customer.as_str()),
            name: this.customer_name.clone(),
            conversations,
            contact,
        },
    )
}

/// `GET conversations?state=open|queued|assigned|resolved|all&number=&team=&assignee=&agent=&tag=
/// &contact=&from=&to=&cursor=&limit=`: the conversations the caller can see. Open ones (the
/// default) are listed by id, as the inbox; with resolved ones, the archive lists them by the
/// day of their last activity, newest first, over `from`..`to` (the last 30 days by default).
pub async fn list(ctx: Ctx) -> ApiResult {
    let limit = ctx.req.limit(50, 200)?;
    let bad = |field: &str, message: String| {
        Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::BadQuery,
            message,
        )
        .on_field(field)
    };
    let states = match ctx.req.query("state") {
        None => archive::States::Open,
        Some(text) => archive::States::parse(text).ok_or_else(|| {
            bad(
                "state",
                format!("`state` is {}, not `{text}`", archive::States::NAMES),
            )
        })?,
    };
    let me = ctx.principal.user().map(|u| u.id.clone());
    let assignee: Option<Option<UserId>> = match ctx.req.query("assignee") {
        None => None,
        Some("none") => Some(None),
        Some("me") => Some(Some(me.clone().ok_or_else(|| {
            Failure::bad_request("`assignee=me` needs a user, not an API key")
        })?)),
        Some(user) => Some(Some(UserId::from(user))),
    };
    let agent = match ctx.req.query("agent") {
        None => None,
        Some("me") => Some(
            me.clone()
                .ok_or_else(|| Failure::bad_request("`agent=me` needs a user, not an API key"))?,
        ),
        Some(user) => Some(UserId::from(user)),
    };
    let mut numbers: Option<BTreeSet<PhoneNumberId>> = ctx
        .req
        .query("number")
        .map(|n| BTreeSet::from([PhoneNumberId::from(n)]));
    if let Some(team) = ctx.req.query("team") {
        let team = ctx
            .scope
            .team(&TeamId::from(team))
            .await?
            .ok_or_else(|| bad("team", format!("no team `{team}`")))?;
        let of_team: BTreeSet<PhoneNumberId> = team.numbers.into_iter().collect();
        numbers = Some(match numbers {
            Some(asked) => asked.intersection(&of_team).cloned().collect(),
            None => of_team,
        });
    }
    let customers = match ctx.req.query("contact") {
        None => None,
        Some(id) => {
            let contact = ctx
                .scope
                .contact(&ContactId::new(id))
                .await?
                .ok_or_else(|| bad("contact", format!("no contact `{id}`")))?;
            Some(
                contact
                    .phone
                    .into_iter()
                    .chain(contact.bsuid)
                    .map(WaId::new)
                    .collect(),
            )
        }
    };
    let (from, to) = (ctx.req.day("from")?, ctx.req.day("to")?);
    let days = if states == archive::States::All || states == archive::States::Resolved {
        archive::days(from, to, now_ms()).map_err(|m| bad("from", m.to_owned()))?
    } else {
        // The inbox: every open conversation unless a range is asked for.
        from.unwrap_or(i64::MIN)..to.unwrap_or(i64::MAX)
    };
    let filter = archive::Filter {
        states,
        numbers,
        assignee,
        agent,
        tag: ctx.req.query("tag").map(str::to_owned),
        customers,
        days,
    };
    let cursor = ctx.req.query("cursor").map(Cursor::from_token);
    let page = archive::list(&ctx.scope, &ctx.principal, &filter, cursor, limit).await?;
    let (picked, next) = (page.items, page.next);
    let mut items = Vec::with_capacity(picked.len());
    for t in picked {
        let c = ctx
            .scope
            .conversation(&t.conversation)
            .await?
            .unwrap_or_else(|| ConversationRecord {
                tenant: t.tenant.clone(),
                id: t.conversation.clone(),
                number: t.number.clone(),
                customer: t.customer.clone(),
                customer_name: None,
                last_message_at: t.last_inbound_at.unwrap_or(t.updated_at),
            });
        items.push(dto(&ctx, c, Some(t)));
    }
    json(
        StatusCode::OK,
        &Page {
            items,
            next: next.map(|c| c.as_str().to_owned()),
        },
    )
}

/// `GET conversations/{id}/messages?cursor=&limit=`: newest first.
pub async fn history(ctx: Ctx) -> ApiResult {
    let (c, _) = commands::visible(&ctx.principal, &ctx.scope, &id(&ctx)).await?;
    let limit = ctx.req.limit(50, crate::store::MAX_PAGE)?;
    let cursor = ctx.req.query("cursor").map(Cursor::from_token);
    let page = ctx.scope.history(&c.id, cursor.as_ref(), limit).await?;
    let mut items: Vec<Message> = page
        .items
        .into_iter()
        .map(|m| message_dto(&ctx, m))
        .collect();
    for media in items.iter_mut().filter_map(|m| m.parts.media.as_mut()) {
        media.copy = ctx.scope.media(&media.id).await?.map(|r| copy_of(r.state));
    }
    json(
        StatusCode::OK,
        &Page {
            items,
            next: page.next.map(|c| c.as_str().to_owned()),
        },
    )
}

/// Where a file's copy stands, as the API says it.
fn copy_of(state: MediaState) -> MediaCopy {
    match state {
        MediaState::Pending => MediaCopy::Pending,
        MediaState::Stored => MediaCopy::Kept,
        MediaState::TooLarge => MediaCopy::TooLarge,
        MediaState::Lost => MediaCopy::Lost,
        MediaState::Purged => MediaCopy::Purged,
    }
}

/// A stored message as the API shows it (the customer and the wamid masked as the caller must
/// see them).
pub fn message_dto(ctx: &Ctx, m: MessageRecord) -> Message {
    Message {
        customer: customer(ctx, m.customer.as_str()),
        key: m.key.into_string(),
        wamid: wamid(ctx, m.wamid.as_str()),
        direction: m.direction,
        kind: m.kind,
        text: m.text,
        at: m.at_ms,
        status: m.status,
        error: (m.status == switchboard_shared::MessageStatus::Failed)
            .then(|| crate::connector::errors::describe(&m.error_codes))
            .flatten(),
        parts: parts(ctx, &m.raw),
    }
}

/// A send as the API shows it.
pub fn send_dto(ctx: &Ctx, s: OutboxRecord) -> Send {
    Send {
        id: s.id,
        conversation: s.conversation,
        state: s.state.as_str().to_owned(),
        wamid: s.wamid.map(|w| wamid(ctx, w.as_str())),
        error: s.error,
        attempts: s.attempts,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

/// `POST conversations/{id}/messages` `{"text"|"media"|"template", "reply_to", "key"}`: `202
/// Accepted` once the message is stored and queued; `message_stored` (or `send_failed`)
/// follows on the streams.
pub async fn reply(ctx: Ctx) -> ApiResult {
    let body: OutgoingMessage = ctx.req.json()?;
    if let Some(interactive) = body.interactive {
        if body.text.is_some() || body.media.is_some() || body.template.is_some() {
            return Err(Failure::bad_request(
                "an `interactive` message carries its own text: send it alone",
            ));
        }
        if let Err(e) = interactive.check() {
            return Err(Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidValue,
                format!("`interactive.{}`: {}", e.field, e.message),
            )
            .on_field(format!("interactive.{}", e.field)));
        }
        return send_draft(
            ctx,
            Draft::Interactive(interactive),
            body.reply_to,
            body.key,
            body.confirm_warnings,
            body.override_reason,
        )
        .await;
    }
    let draft = match (body.text, body.media, body.template) {
        (text, Some(media), None) => Draft::Media {
            kind: media.kind,
            id: media.id,
            caption: text,
            filename: media.filename,
        },
        (None, None, Some(t)) => Draft::Template(t),
        (Some(text), None, None) => Draft::Text(text),
        (None, None, None) => {
            return Err(Failure::bad_request(
                "say what to send: `text`, `media` (with `text` as its caption) or `template`",
            ))
        }
        _ => {
            return Err(Failure::bad_request(
                "send one of `media` or `template`; a template carries its own text",
            ))
        }
    };
    send_draft(
        ctx,
        draft,
        body.reply_to,
        body.key,
        body.confirm_warnings,
        body.override_reason,
    )
    .await
}

/// Queues a checked draft as the caller's reply: `202` with the send.
async fn send_draft(
    ctx: Ctx,
    draft: Draft,
    reply_to: Option<String>,
    key: Option<String>,
    confirm_warnings: bool,
    override_reason: Option<String>,
) -> ApiResult {
    let send = commands::send(
        &acting(&ctx),
        &id(&ctx),
        draft,
        reply_to.as_deref(),
        key.as_deref(),
        FilterAck {
            confirm_warnings,
            override_reason,
            may_override: false,
        },
    )
    .await?;
    json(StatusCode::ACCEPTED, &send_dto(&ctx, send))
}

/// `POST conversations/{id}/reactions` `{"message", "emoji", "key"}`: reacts to one of the
/// conversation's messages (an empty emoji takes the reaction back). `202` like a reply.
pub async fn react(ctx: Ctx) -> ApiResult {
    let body: ReactionInput = ctx.req.json()?;
    let send = commands::react(
        &acting(&ctx),
        &id(&ctx),
        &body.message,
        body.emoji,
        body.key.as_deref(),
    )
    .await?;
    json(StatusCode::ACCEPTED, &send_dto(&ctx, send))
}

/// `GET conversations/{id}/templates`: the approved templates of the conversation's number
/// (the messages that may open a closed 24-hour window).
pub async fn templates(ctx: Ctx) -> ApiResult {
    let (c, _) = commands::visible(&ctx.principal, &ctx.scope, &id(&ctx)).await?;
    let entry = ctx.outbound.entry(ctx.scope.tenant(), &c.number)?;
    let list = ctx.outbound.templates(&entry).await?;
    let items = approved(&list);
    json(StatusCode::OK, &Page { items, next: None })
}

/// The approved templates of a list, as the API shows them, by name and language.
pub(super) fn approved(list: &[TemplateInfo]) -> Vec<MessageTemplate> {
    shown(list, true)
}

/// The templates as the API shows them, by name and language: only the approved ones (those
/// that can be sent), or every one with its review status.
pub(super) fn shown(list: &[TemplateInfo], approved_only: bool) -> Vec<MessageTemplate> {
    let mut items: Vec<MessageTemplate> = list
        .iter()
        .filter(|t| !approved_only || t.status == "APPROVED")
        .map(crate::connector::template_send::describe)
        .collect();
    items.sort_by(|a, b| (&a.name, &a.language).cmp(&(&b.name, &b.language)));
    items
}

impl From<FileProblem> for Failure {
    fn from(p: FileProblem) -> Self {
        match p {
            FileProblem::Unsupported(mime_type) => Failure::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedMediaType,
                format!(
                    "WhatsApp does not take `{mime_type}` files: send JPEG or PNG images, MP4 \
                     or 3GPP video, AAC, AMR, MP3, M4A or OGG audio, WebP stickers, or PDF, text \
                     and Office documents"
                ),
            ),
            FileProblem::Empty => Failure::bad_request("the file is empty"),
            FileProblem::TooLarge { bytes, kind, limit } => Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                format!(
                    "the file has {bytes} bytes; WhatsApp takes a {kind} of at most {limit} bytes"
                ),
            ),
            FileProblem::NotThatType(mime_type) => Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::NotThatType,
                format!("the file's contents are not {mime_type}"),
            ),
        }
    }
}

impl From<MediaError> for Failure {
    fn from(e: MediaError) -> Self {
        match e {
            MediaError::Gone(why) => Failure::new(StatusCode::GONE, ErrorCode::MediaGone, why),
            MediaError::Upstream(api) => Failure::new(
                StatusCode::BAD_GATEWAY,
                ErrorCode::MediaUnavailable,
                format!("WhatsApp could not give the file now ({api}), and no copy is kept yet"),
            ),
            e @ MediaError::TooLarge { .. } => Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                e.to_string(),
            ),
            MediaError::Outbound(e) => e.into(),
            MediaError::Store(e) => e.into(),
        }
    }
}

/// A request's declared file type (`Content-Type`), lower-case and without parameters.
pub(super) fn declared_type(ctx: &Ctx) -> String {
    ctx.req
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// `POST conversations/{id}/media?filename=` with the file as the body and its type as
/// `Content-Type`, or `POST conversations/{id}/media?saved_reply={reply}` without a body for a
/// saved reply's file: uploads it to WhatsApp for this conversation's number. `201` with the
/// media to send (`media` of a message).
pub async fn upload(ctx: Ctx) -> ApiResult {
    let (c, _) = commands::visible(&ctx.principal, &ctx.scope, &id(&ctx)).await?;
    let (bytes, mime_type, filename) = match ctx.req.query("saved_reply") {
        Some(reply) => {
            if !ctx.req.body.is_empty() {
                return Err(Failure::bad_request(
                    "send a file or name a saved reply's (`saved_reply`), not both",
                ));
            }
            let (shown, file) =
                replies::file(&ctx.principal, &ctx.scope, &ctx.media, reply).await?;
            (file.bytes, shown.mime_type, shown.filename)
        }
        None => (
            ctx.req.body.clone(),
            declared_type(&ctx),
            ctx.req.query("filename").and_then(clean_filename),
        ),
    };
    let kind = check_file(&mime_type, &bytes)?;
    let entry = ctx.outbound.entry(ctx.scope.tenant(), &c.number)?;
    let media_id = ctx
        .outbound
        .upload(
            &entry,
            &bytes,
            &mime_type,
            filename.as_deref().unwrap_or("file"),
        )
        .await?;
    // Kept here too: WhatsApp drops uploads after 30 days, the transcript keeps them.
    ctx.media
        .keep_upload(
            ctx.scope.tenant(),
            &c.number,
            &media_id,
            bytes.clone(),
            &mime_type,
            filename.as_deref(),
        )
        .await?;
    json(
        StatusCode::CREATED,
        &Uploaded {
            id: media_id,
            kind: kind.to_owned(),
            mime_type,
            filename,
            bytes: bytes.len() as u64,
        },
    )
}

/// `GET conversations/{id}/messages/{key}/media`: the file a message carries, fetched from
/// WhatsApp for a caller who may read the conversation.
pub async fn media(ctx: Ctx) -> ApiResult {
    let a = acting(&ctx);
    let conversation = id(&ctx);
    let (c, _) = commands::visible(a.principal, a.scope, &conversation).await?;
    let message = commands::message_of(&a, &conversation, ctx.req.param(1), "key")
        .await
        .map_err(|_| Failure::not_found("message"))?;
    let Some(media) = message_parts(&message.raw).media else {
        return Err(Failure::not_found("media"));
    };
    let file = ctx
        .media
        .open(ctx.scope.tenant(), &c.number, &media)
        .await?;
    // The file never changes under its message; only this browser may keep it.
    Ok(file_response(
        file.bytes,
        &file.mime_type,
        media.filename.as_deref(),
        "private, max-age=86400",
    ))
}

/// A file as the answer: its own type (never sniffed), shown in place or saved under its name,
/// cached as `cache_control` says.
pub(super) fn file_response(
    bytes: bytes::Bytes,
    mime_type: &str,
    filename: Option<&str>,
    cache_control: &'static str,
) -> crate::web::Response {
    use crate::web::HeaderValue;
    let mut response = crate::web::Response::new(bytes.into());
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime_type) {
        headers.insert("content-type", v);
    }
    headers.insert("cache-control", HeaderValue::from_static(cache_control));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition(mime_type, filename)) {
        headers.insert("content-disposition", v);
    }
    response
}

/// How a browser should treat a file it is given: shown in place (images, audio, video) or saved
/// under its name (made of plain ASCII, so no header can be forged through it).
fn disposition(mime_type: &str, filename: Option<&str>) -> String {
    let inline = ["image/", "audio/", "video/"]
        .iter()
        .any(|p| mime_type.starts_with(p));
    match (filename, inline) {
        (_, true) => "inline".to_owned(),
        (Some(name), false) => format!(
            "attachment; filename=\"{}\"",
            name.chars()
                .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' {
                    c
                } else {
                    '_'
                })
                .collect::<String>()
        ),
        (None, false) => "attachment".to_owned(),
    }
}

/// `GET sends/{id}`: where a send stands (for a caller who may read its conversation).
pub async fn get_send(ctx: Ctx) -> ApiResult {
    let send = ctx
        .outbox
        .get(ctx.scope.tenant(), ctx.req.param(0))
        .await?
        .ok_or_else(|| Failure::not_found("send"))?;
    commands::visible(&ctx.principal, &ctx.scope, &send.conversation).await?;
    json(StatusCode::OK, &send_dto(&ctx, send))
}

/// `POST conversations/{id}/assign` `{"agent": "u_…"}`.
pub async fn assign(ctx: Ctx) -> ApiResult {
    let body: AssignTo = ctx.req.json()?;
    commands::assign(&acting(&ctx), &id(&ctx), &body.agent).await?;
    outcome(ctx).await
}

/// `POST conversations/{id}/resolve`.
pub async fn resolve(ctx: Ctx) -> ApiResult {
    commands::resolve(&acting(&ctx), &id(&ctx)).await?;
    outcome(ctx).await
}

/// `POST conversations/{id}/reopen`.
pub async fn reopen(ctx: Ctx) -> ApiResult {
    commands::reopen(&acting(&ctx), &id(&ctx)).await?;
    get(ctx).await
}

/// `GET board`: the supervisor board's figures now (then follow the `board` topic).
pub async fn board(ctx: Ctx) -> ApiResult {
    let board = ctx.inbox.board(ctx.scope.tenant()).await?;
    json(StatusCode::OK, &board)
}
