//! Saved replies kept on the server: an agent's own (`personal`), a team's, or the whole
//! workspace's, each a `/shortcut` and a text with variables the composer fills in. Stored as
//! automation documents (`ItemKind::SavedReply`, one per reply), so both store backends hold them
//! the way they hold rules, and every change is audited with what it was and became.
//!
//! Owns: who sees which reply (personal: its author; a team's: the team's members and whoever
//! manages shared replies; the workspace's: everyone who replies), who may change one (the
//! author of a personal one; `replies.manage` for shared ones), unique shortcuts per owner, the
//! shape rules, and a reply's file: checked by WhatsApp's rules, kept in the blob store under a
//! media record of its own (so no retention purge of a message's copy of the same bytes removes
//! it), released when replaced, detached or its reply deleted. Must not: fill variables in (the
//! composer does, with what it shows the agent) or send the file (the conversation's upload
//! does, for the number it goes out on).

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use switchboard_shared::permissions::Permission;
use switchboard_shared::replies::{
    shortcut_problem, ReplyAttachment, ReplyScope, SavedReply, SavedReplyInput, MAX_TEXT,
};
use switchboard_shared::{TeamId, UserId};

use super::documents::{invalid, DocumentActor, DocumentError, DocumentKind};
use super::media::{File, MediaError, MediaKeeper};
use crate::auth::{Principal, TenantScope};
use crate::connector::parts::{check_file, FileProblem};
use crate::domain::*;
use crate::store::blobs::digest_of;

const KIND: DocumentKind = DocumentKind {
    kind: ItemKind::SavedReply,
    prefix: "sr",
    noun: "saved reply",
    limit: MAX_ITEMS_PER_KIND,
};

/// A reply as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Doc {
    shortcut: String,
    text: String,
    scope: ReplyScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    team: Option<TeamId>,
    /// The author: a user id, or `api_key:k_…` for one made with an API key.
    owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attachment: Option<Attached>,
}

/// A reply's file as stored: the media record that keeps its bytes, and what the API shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Attached {
    /// `reply:<reply id>:<SHA-256>`: one record per reply and content.
    media_id: String,
    #[serde(flatten)]
    shown: ReplyAttachment,
}

fn view(item: &AutomationItem, doc: Doc) -> SavedReply {
    SavedReply {
        id: item.id.clone(),
        shortcut: doc.shortcut,
        text: doc.text,
        scope: doc.scope,
        team: doc.team,
        owner: UserId::from(doc.owner),
        attachment: doc.attachment.map(|a| a.shown),
        version: item.version,
        updated_at: item.updated_at,
    }
}

/// Whom the caller is as an owner of replies.
fn me(principal: &Principal) -> String {
    match principal.user() {
        Some(u) => u.id.to_string(),
        None => principal.actor_id(),
    }
}

/// Whether the caller may use `doc` (see the module's head).
fn sees(principal: &Principal, doc: &Doc) -> bool {
    match doc.scope {
        ReplyScope::Personal => doc.owner == me(principal),
        ReplyScope::Team => {
            principal.can(Permission::RepliesManage)
                || doc
                    .team
                    .as_ref()
                    .is_some_and(|t| principal.teams.iter().any(|m| m.id == *t))
        }
        ReplyScope::Workspace => true,
    }
}

/// Whether the caller may change or remove `doc` (they see it, too).
fn may_change(principal: &Principal, doc: &Doc) -> Result<(), DocumentError> {
    match doc.scope {
        ReplyScope::Personal if doc.owner == me(principal) => Ok(()),
        ReplyScope::Personal => Err(DocumentError::NotFound(KIND.noun)),
        ReplyScope::Team | ReplyScope::Workspace if principal.can(Permission::RepliesManage) => {
            Ok(())
        }
        _ => Err(DocumentError::Forbidden(
            "shared saved replies are changed by those holding `replies.manage`".into(),
        )),
    }
}

async fn all(scope: &TenantScope) -> Result<Vec<(AutomationItem, Doc)>, DocumentError> {
    let mut out = Vec::new();
    for item in scope.automation_items(ItemKind::SavedReply).await? {
        let doc: Doc = serde_json::from_str(&item.body).map_err(|e| {
            crate::store::StoreError::Corrupt(format!("saved reply {}: {e}", item.id))
        })?;
        out.push((item, doc));
    }
    Ok(out)
}

/// The replies the caller may use, by shortcut.
pub async fn list(
    principal: &Principal,
    scope: &TenantScope,
) -> Result<Vec<SavedReply>, DocumentError> {
    let mut replies: Vec<SavedReply> = all(scope)
        .await?
        .into_iter()
        .filter(|(_, doc)| sees(principal, doc))
        .map(|(item, doc)| view(&item, doc))
        .collect();
    replies.sort_by(|a, b| a.shortcut.cmp(&b.shortcut).then(a.id.cmp(&b.id)));
    Ok(replies)
}

/// A reply's shape once checked: its shortcut (without a leading `/`), text, scope and team.
pub type Shape = (String, String, ReplyScope, Option<TeamId>);

/// The shape rules alone (no store, no caller): a shortcut as `shortcut_problem` allows, a text
/// of 1 to 4,096 characters (trimmed), and a team named exactly when the reply is a team's.
pub fn check_shape(input: &SavedReplyInput) -> Result<Shape, DocumentError> {
    let shortcut = input.shortcut.trim().trim_start_matches('/').to_owned();
    if let Some(problem) = shortcut_problem(&shortcut) {
        return Err(invalid("shortcut", problem));
    }
    let text = input.text.trim().to_owned();
    if text.is_empty() {
        return Err(invalid("text", "is empty"));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(invalid("text", "is longer than 4,096 characters"));
    }
    let scope = input.scope.unwrap_or(ReplyScope::Personal);
    let team = match (scope, &input.team) {
        (ReplyScope::Team, Some(team)) => Some(team.clone()),
        (ReplyScope::Team, None) => return Err(invalid("team", "a team's reply names its team")),
        (_, Some(_)) => return Err(invalid("team", "only a team's reply names a team")),
        (_, None) => None,
    };
    Ok((shortcut, text, scope, team))
}

/// Checks an input and makes the document it describes, for `owner`.
fn checked(
    principal: &Principal,
    input: SavedReplyInput,
    owner: String,
) -> Result<Doc, DocumentError> {
    let (shortcut, text, scope, team) = check_shape(&input)?;
    let doc = Doc {
        shortcut,
        text,
        scope,
        team,
        owner,
        attachment: None,
    };
    may_change(principal, &doc)?;
    Ok(doc)
}

/// Refuses a shortcut its owner already uses (the same person's, team's or workspace's).
fn unique(
    others: &[(AutomationItem, Doc)],
    doc: &Doc,
    except: Option<&str>,
) -> Result<(), DocumentError> {
    let taken = others.iter().any(|(item, other)| {
        Some(item.id.as_str()) != except
            && other.shortcut == doc.shortcut
            && other.scope == doc.scope
            && match doc.scope {
                ReplyScope::Personal => other.owner == doc.owner,
                ReplyScope::Team => other.team == doc.team,
                ReplyScope::Workspace => true,
            }
    });
    if taken {
        return Err(DocumentError::Conflict(format!(
            "`/{}` is already a saved reply there: change that one instead",
            doc.shortcut
        )));
    }
    Ok(())
}

async fn team_exists(scope: &TenantScope, team: &TeamId) -> Result<(), DocumentError> {
    if scope.team(team).await?.is_none() {
        return Err(invalid("team", "no such team in this workspace"));
    }
    Ok(())
}

pub async fn create(
    actor: &DocumentActor<'_>,
    input: SavedReplyInput,
) -> Result<SavedReply, DocumentError> {
    let doc = checked(actor.principal, input, me(actor.principal))?;
    if let Some(team) = &doc.team {
        team_exists(actor.scope, team).await?;
    }
    unique(&all(actor.scope).await?, &doc, None)?;
    let item = KIND.create(actor, &doc).await?;
    Ok(view(&item, doc))
}

/// Replaces a reply whole (its author stays); `input.version`, when given, must be the stored one.
pub async fn replace(
    actor: &DocumentActor<'_>,
    id: &str,
    input: SavedReplyInput,
) -> Result<SavedReply, DocumentError> {
    let everything = all(actor.scope).await?;
    let (current, old) = everything
        .iter()
        .find(|(item, doc)| item.id == id && sees(actor.principal, doc))
        .cloned()
        .ok_or(DocumentError::NotFound(KIND.noun))?;
    may_change(actor.principal, &old)?;
    let version = input.version;
    let mut doc = checked(actor.principal, input, old.owner.clone())?;
    // The input is the reply's words and audience; its file stays (the attachment routes
    // change that).
    doc.attachment = old.attachment.clone();
    if let Some(team) = doc.team.as_ref().filter(|t| Some(*t) != old.team.as_ref()) {
        team_exists(actor.scope, team).await?;
    }
    unique(&everything, &doc, Some(id))?;
    let item = KIND.replace(actor, current, version, &doc).await?;
    Ok(view(&item, doc))
}

/// Removes a reply and lets its file go.
pub async fn delete(
    actor: &DocumentActor<'_>,
    media: &MediaKeeper,
    id: &str,
) -> Result<(), DocumentError> {
    let (_, doc) = visible(actor.principal, actor.scope, id).await?;
    may_change(actor.principal, &doc)?;
    KIND.delete(actor, id).await?;
    if let Some(attached) = &doc.attachment {
        release(actor.scope, media, &attached.media_id).await;
    }
    Ok(())
}

/// The reply `id` if the caller may use it (else 404, as for one that does not exist).
async fn visible(
    principal: &Principal,
    scope: &TenantScope,
    id: &str,
) -> Result<(AutomationItem, Doc), DocumentError> {
    let (item, doc) = KIND.read::<Doc>(scope, id).await?;
    if !sees(principal, &doc) {
        return Err(DocumentError::NotFound(KIND.noun));
    }
    Ok((item, doc))
}

/// A file for a reply, as the caller sent it.
pub struct NewFile {
    pub bytes: Bytes,
    /// The declared type, lower-case and without parameters.
    pub mime_type: String,
    pub filename: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// WhatsApp would refuse the file.
    #[error("the file would be refused: {0:?}")]
    File(FileProblem),
    /// Not kept: over the server's limit, or the blob store failed (nothing was changed).
    #[error(transparent)]
    Media(#[from] MediaError),
}

/// Gives a reply its file (replacing the one it had): checked by WhatsApp's rules, kept, then
/// named by the reply; `version`, when given, must be the stored one. Nothing changes unless
/// all of it worked.
pub async fn attach(
    actor: &DocumentActor<'_>,
    media: &MediaKeeper,
    id: &str,
    version: Option<u64>,
    file: NewFile,
) -> Result<SavedReply, AttachmentError> {
    let (current, mut doc) = visible(actor.principal, actor.scope, id).await?;
    may_change(actor.principal, &doc)?;
    // Before the file is kept: a stale change leaves nothing behind.
    KIND.unchanged_since(&current, version)?;
    let kind = check_file(&file.mime_type, &file.bytes).map_err(AttachmentError::File)?;
    let media_id = format!("reply:{id}:{}", digest_of(&file.bytes));
    let shown = ReplyAttachment {
        kind: kind.to_owned(),
        mime_type: file.mime_type.clone(),
        filename: file.filename.clone(),
        bytes: file.bytes.len() as u64,
    };
    media
        .keep_file(
            actor.scope.tenant(),
            media_id.clone(),
            file.bytes,
            &file.mime_type,
            file.filename.as_deref(),
        )
        .await?;
    let previous = doc.attachment.replace(Attached {
        media_id: media_id.clone(),
        shown,
    });
    match KIND.replace(actor, current, version, &doc).await {
        Ok(item) => {
            if let Some(old) = previous.filter(|old| old.media_id != media_id) {
                release(actor.scope, media, &old.media_id).await;
            }
            Ok(view(&item, doc))
        }
        Err(e) => {
            // Kept for nothing unless the reply names it after all (the same file attached by
            // a change that won the race).
            let named = KIND
                .read::<Doc>(actor.scope, id)
                .await
                .is_ok_and(|(_, d)| d.attachment.is_some_and(|a| a.media_id == media_id));
            if !named {
                release(actor.scope, media, &media_id).await;
            }
            Err(e.into())
        }
    }
}

/// Takes a reply's file away; `version`, when given, must be the stored one.
pub async fn detach(
    actor: &DocumentActor<'_>,
    media: &MediaKeeper,
    id: &str,
    version: Option<u64>,
) -> Result<SavedReply, DocumentError> {
    let (current, mut doc) = visible(actor.principal, actor.scope, id).await?;
    may_change(actor.principal, &doc)?;
    let Some(old) = doc.attachment.take() else {
        return Err(DocumentError::NotFound("saved reply's file"));
    };
    let item = KIND.replace(actor, current, version, &doc).await?;
    release(actor.scope, media, &old.media_id).await;
    Ok(view(&item, doc))
}

/// A reply's file, for a caller who may use the reply: what it is and its bytes.
pub async fn file(
    principal: &Principal,
    scope: &TenantScope,
    media: &MediaKeeper,
    id: &str,
) -> Result<(ReplyAttachment, File), AttachmentError> {
    let (_, doc) = visible(principal, scope, id).await?;
    let Some(attached) = doc.attachment else {
        return Err(DocumentError::NotFound("saved reply's file").into());
    };
    let file = media.kept(scope, &attached.media_id).await?;
    Ok((attached.shown, file))
}

/// Lets a file no reply names go: its record marked purged, its bytes deleted unless another
/// record names them. A failure leaves a record that keeps the bytes; it is logged, not fatal.
async fn release(scope: &TenantScope, media: &MediaKeeper, media_id: &str) {
    if let Err(e) = media.purge(scope, &[media_id.to_owned()], true).await {
        tracing::warn!(error = %e, media = %media_id, "a saved reply's old file stayed");
    }
}
