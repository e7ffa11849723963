//! Working together on conversations over REST: internal notes with @mentions, conversation
//! tags, agents' routing profiles (skills, own capacity) and one's own working status.
//!
//! A mention is written `@{u_…}` in a note's text. Each one must name an enabled colleague who
//! may read the conversation (a note never reaches someone who could not open it); they are told
//! on their `inbox:<user>` stream.

use std::collections::BTreeSet;
use switchboard_shared::ErrorCode;

use crate::web::StatusCode;
use switchboard_shared::api::{
    AgentProfile, Colleague, Note, NoteInput, Page, StatusInput, TagsInput,
};
use switchboard_shared::{ConversationId, UserId};

use super::{json, ApiResult, Ctx, Failure};
use crate::domain::now_ms;
use crate::domain::{new_id, NoteRecord, ProfileRecord};
use crate::service::commands;
use crate::store::{Cursor, MAX_PAGE};

/// The longest note.
pub const MAX_NOTE_CHARS: usize = 4_000;
/// Tags per conversation, skills per agent.
pub const MAX_TAGS: usize = 20;
const MAX_TAG_CHARS: usize = 40;
/// The most conversations one agent may be given at once.
pub const MAX_CAPACITY: u32 = 100;

fn conversation(ctx: &Ctx) -> ConversationId {
    ConversationId::from(ctx.req.param(0))
}

/// Tags and skills: lowercase letters, digits and `:` `_` `-` `.`, at most 40 characters, each
/// once (order kept).
fn labels(what: &str, items: Vec<String>) -> Result<Vec<String>, Failure> {
    if items.len() > MAX_TAGS {
        return Err(Failure::bad_request(format!(
            "at most {MAX_TAGS} {what}, not {}",
            items.len()
        )));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let ok = !item.is_empty()
            && item.chars().count() <= MAX_TAG_CHARS
            && item.chars().all(|c| {
                c.is_lowercase() || c.is_ascii_digit() || matches!(c, ':' | '_' | '-' | '.')
            });
        if !ok {
            return Err(Failure::bad_request(format!(
                "`{item}` is not a valid {what} entry: 1 to {MAX_TAG_CHARS} lowercase letters, \
                 digits, `:`, `_`, `-` or `.`"
            )));
        }
        if seen.insert(item.clone()) {
            out.push(item);
        }
    }
    Ok(out)
}

/// The user ids mentioned as `@{u_…}`, each once, in order.
pub fn mentions(text: &str) -> Vec<UserId> {
    let mut found: Vec<UserId> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("@{") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find('}') else { break };
        let id = &rest[..end];
        if !id.is_empty() && id.len() <= 64 && !id.contains(char::is_whitespace) {
            let id = UserId::from(id);
            if !found.contains(&id) {
                found.push(id);
            }
        }
        rest = &rest[end + 1..];
    }
    found
}

fn note_dto(n: NoteRecord) -> Note {
    Note {
        id: n.id,
        author: n.author,
        author_name: n.author_name,
        text: n.text,
        mentions: n.mentions,
        at: n.at_ms,
    }
}

/// `GET conversations/{id}/notes?cursor=&limit=`: newest first.
pub async fn list_notes(ctx: Ctx) -> ApiResult {
    let (c, _) = commands::visible(&ctx.principal, &ctx.scope, &conversation(&ctx)).await?;
    let limit = ctx.req.limit(50, crate::store::MAX_PAGE)?;
    let cursor = ctx.req.query("cursor").map(Cursor::from_token);
    let page = ctx.scope.notes(&c.id, cursor.as_ref(), limit).await?;
    json(
        StatusCode::OK,
        &Page {
            items: page.items.into_iter().map(note_dto).collect(),
            next: page.next.map(|c| c.as_str().to_owned()),
        },
    )
}

/// `GET conversations/{id}/mentionable`: the workspace's active users who may read the
/// conversation (the ones a note may mention), by name; the caller among them.
pub async fn mentionable(ctx: Ctx) -> ApiResult {
    let (c, thread) = commands::visible(&ctx.principal, &ctx.scope, &conversation(&ctx)).await?;
    let assignee = thread.as_ref().and_then(|t| t.assignee.as_ref());
    let mut found = Vec::new();
    let mut cursor = None;
    loop {
        let page = ctx.scope.users(cursor.as_ref(), MAX_PAGE).await?;
        for user in page.items.into_iter().filter(|u| !u.disabled) {
            let (id, name) = (user.id.clone(), user.name.clone());
            if ctx.auth.colleague(user).await?.sees(&c.number, assignee) {
                found.push(Colleague { id, name });
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    found.sort_by_key(|c| c.name.to_lowercase());
    json(StatusCode::OK, &found)
}

/// `POST conversations/{id}/notes` `{"text": "…@{u_…}…"}`: 201 with the note.
pub async fn add_note(ctx: Ctx) -> ApiResult {
    let body: NoteInput = ctx.req.json()?;
    let (c, thread) = commands::visible(&ctx.principal, &ctx.scope, &conversation(&ctx)).await?;
    let text = body.text.trim();
    if switchboard_shared::text::is_blank(text) || text.chars().count() > MAX_NOTE_CHARS {
        return Err(Failure::bad_request(format!(
            "a note has 1 to {MAX_NOTE_CHARS} characters"
        )));
    }
    let assignee = thread.as_ref().and_then(|t| t.assignee.as_ref());
    let mentioned = mentions(text);
    for id in &mentioned {
        let user = ctx
            .scope
            .user(id)
            .await?
            .filter(|u| !u.disabled)
            .ok_or_else(|| {
                Failure::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::UnknownMention,
                    format!("@{{{id}}} is not an active user of this workspace"),
                )
            })?;
        let colleague = ctx.auth.colleague(user).await?;
        if !colleague.sees(&c.number, assignee) {
            return Err(Failure::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::MentionCannotRead,
                format!("@{{{id}}} may not read this conversation, so cannot be mentioned in it"),
            ));
        }
    }
    let note = ctx
        .scope
        .add_note(NoteRecord {
            tenant: ctx.scope.tenant().clone(),
            conversation: c.id.clone(),
            id: new_id("n"),
            author: ctx.principal.user().map(|u| u.id.clone()),
            author_name: match ctx.principal.user() {
                Some(u) => u.name.clone(),
                None => ctx.principal.actor_name(),
            },
            text: text.to_owned(),
            mentions: mentioned,
            at_ms: now_ms(),
        })
        .await?;
    ctx.inbox.note_added(note.clone(), c.number).await?;
    json(StatusCode::CREATED, &note_dto(note))
}

/// `PUT conversations/{id}/tags` `{"tags": […]}`: replaces them; the conversation comes back.
pub async fn put_tags(ctx: Ctx) -> ApiResult {
    let body: TagsInput = ctx.req.json()?;
    let tags = labels("tags", body.tags)?;
    let (c, thread) = commands::visible(&ctx.principal, &ctx.scope, &conversation(&ctx)).await?;
    if thread.is_none() {
        return Err(Failure::not_found("conversation"));
    }
    let audit = ctx
        .principal
        .audit(ctx.action, Some(format!("conversation:{}", c.id)), "ok");
    let by = ctx.principal.user().map(|u| u.id.clone());
    ctx.inbox
        .tag(ctx.scope.tenant(), &c.id, tags, by, audit)
        .await?;
    super::conversations::get(ctx).await
}

fn profile_dto(p: Option<ProfileRecord>) -> AgentProfile {
    AgentProfile {
        skills: p.as_ref().map(|p| p.skills.clone()).unwrap_or_default(),
        capacity: p.and_then(|p| p.capacity),
    }
}

/// `GET agents/{id}/profile`.
pub async fn get_profile(ctx: Ctx) -> ApiResult {
    let id = UserId::from(ctx.req.param(0));
    if ctx.scope.user(&id).await?.is_none() {
        return Err(Failure::not_found("user"));
    }
    let profile = ctx.scope.profile(&id).await?;
    json(StatusCode::OK, &profile_dto(profile))
}

/// `PUT agents/{id}/profile` `{"skills": ["lang:ru"], "capacity": 8}`.
pub async fn put_profile(ctx: Ctx) -> ApiResult {
    let body: AgentProfile = ctx.req.json()?;
    let id = UserId::from(ctx.req.param(0));
    if ctx.scope.user(&id).await?.is_none() {
        return Err(Failure::not_found("user"));
    }
    let skills = labels("skills", body.skills)?;
    if let Some(bad) = skills
        .iter()
        .find(|s| !(s.starts_with("lang:") || s.starts_with("skill:")))
    {
        return Err(Failure::bad_request(format!(
            "`{bad}`: skills are `lang:<code>` or `skill:<name>`, matched against conversation tags"
        )));
    }
    if body.capacity.is_some_and(|c| c == 0 || c > MAX_CAPACITY) {
        return Err(Failure::bad_request(format!(
            "capacity is 1 to {MAX_CAPACITY} conversations, or null for the default"
        )));
    }
    let before = ctx.scope.profile(&id).await?;
    let profile = ProfileRecord {
        tenant: ctx.scope.tenant().clone(),
        user: id.clone(),
        skills,
        capacity: body.capacity,
        updated_at: now_ms(),
    };
    let mut audit = ctx
        .principal
        .audit(ctx.action, Some(format!("user:{id}")), "ok");
    audit.before = Some(serde_json::to_string(&profile_dto(before)).unwrap_or_default());
    audit.after =
        Some(serde_json::to_string(&profile_dto(Some(profile.clone()))).unwrap_or_default());
    ctx.inbox.profile(profile.clone(), audit).await?;
    json(StatusCode::OK, &profile_dto(Some(profile)))
}

/// `PUT agents/me/status` `{"status": "available"|"busy"|"break"}`: the caller's own status, as
/// the socket's `set_status` sets it.
pub async fn put_my_status(ctx: Ctx) -> ApiResult {
    let body: StatusInput = ctx.req.json()?;
    let Some(user) = ctx.principal.user() else {
        return Err(Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::NotAUser,
            "API keys have no working status",
        ));
    };
    let tenant = ctx.scope.tenant();
    let changed = ctx
        .hub
        .presence
        .set_status(tenant, &user.id, body.status, now_ms());
    ctx.hub.agent_changed(tenant, changed);
    json(
        StatusCode::OK,
        &ctx.hub.presence.of(tenant, &user.id, &user.name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_read_in_order_once_and_only_when_well_formed() {
        let ids = mentions("@{u_1} see this, and @{u_2}; @{u_1} again, not @u_3 or @{} or @{u 4}");
        assert_eq!(ids, vec![UserId::from("u_1"), UserId::from("u_2")]);
        assert!(mentions("email@{broken").is_empty());
    }

    #[test]
    fn labels_are_lowercase_bounded_and_deduplicated() {
        let ok = labels("tags", vec!["vip".into(), "lang:ru".into(), "vip".into()]).unwrap();
        assert_eq!(ok, vec!["vip".to_owned(), "lang:ru".to_owned()]);
        assert!(labels("tags", vec!["VIP".into()]).is_err());
        assert!(labels("tags", vec!["".into()]).is_err());
        assert!(labels("tags", vec!["a b".into()]).is_err());
        assert!(labels("tags", (0..21).map(|i| format!("t{i}")).collect()).is_err());
        assert!(labels("tags", vec!["x".repeat(41)]).is_err());
    }
}
