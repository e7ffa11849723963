//! Saved replies kept on the server: an agent's own (`personal`), a team's, or the whole
//! workspace's, each a `/shortcut` and a text with variables the composer fills in. Stored as
//! automation documents (`ItemKind::SavedReply`, one per reply), so both store backends hold them
//! the way they hold rules, and every change is audited with what it was and became.
//!
//! Owns: who sees which reply (personal: its author; a team's: the team's members and whoever
//! manages shared replies; the workspace's: everyone who replies), who may change one (the
//! author of a personal one; `replies.manage` for shared ones), unique shortcuts per owner, the
//! shape rules. Must not: fill variables in (the composer does, with what it shows the agent).

use serde::{Deserialize, Serialize};
use switchboard_shared::permissions::Permission;
use switchboard_shared::replies::{
    shortcut_problem, ReplyScope, SavedReply, SavedReplyInput, MAX_TEXT,
};
use switchboard_shared::{TeamId, UserId};

use super::documents::{invalid, DocumentActor, DocumentError, DocumentKind};
use crate::auth::{Principal, TenantScope};
use crate::domain::*;

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
}

fn view(item: &AutomationItem, doc: Doc) -> SavedReply {
    SavedReply {
        id: item.id.clone(),
        shortcut: doc.shortcut,
        text: doc.text,
        scope: doc.scope,
        team: doc.team,
        owner: UserId::from(doc.owner),
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
    let doc = checked(actor.principal, input, old.owner.clone())?;
    if let Some(team) = doc.team.as_ref().filter(|t| Some(*t) != old.team.as_ref()) {
        team_exists(actor.scope, team).await?;
    }
    unique(&everything, &doc, Some(id))?;
    let item = KIND.replace(actor, current, version, &doc).await?;
    Ok(view(&item, doc))
}

pub async fn delete(actor: &DocumentActor<'_>, id: &str) -> Result<(), DocumentError> {
    let (_, doc) = KIND.read::<Doc>(actor.scope, id).await?;
    if !sees(actor.principal, &doc) {
        return Err(DocumentError::NotFound(KIND.noun));
    }
    may_change(actor.principal, &doc)?;
    KIND.delete(actor, id).await
}
