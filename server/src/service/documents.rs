//! The admin's side of automation documents (keyword rules, schedules): made, replaced whole
//! against the version read, and deleted, one JSON document per id, every change audited with
//! what it was and what it became.
//!
//! Owns: the per-kind count limit, the lost-update check, the ids, the audit lines. Must not:
//! know what a document means (its owner checks it before it comes here and reads it after).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::auth::{Principal, TenantScope};
use crate::domain::*;
use crate::store::StoreError;

/// How a change to a document can fail.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// No such document; the noun says of which kind (`rule`).
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("`{field}`: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    TooMany(String),
    #[error("{0}")]
    Conflict(String),
    /// The caller may use the route but not for this document (a shared saved reply without
    /// `replies.manage`).
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> DocumentError {
    DocumentError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Who changes a document, and the audit action of the entry point.
pub struct DocumentActor<'a> {
    pub principal: &'a Principal,
    pub scope: &'a TenantScope,
    pub action: &'a str,
}

/// A kind of document as this module handles it.
pub struct DocumentKind {
    pub kind: ItemKind,
    /// The id prefix (`ar` makes `ar_…`).
    pub prefix: &'static str,
    /// What admins call it (`rule`), in messages and audit targets.
    pub noun: &'static str,
    /// The most a workspace has.
    pub limit: usize,
}

fn body(doc: &impl Serialize) -> Result<String, DocumentError> {
    serde_json::to_string(doc).map_err(|e| StoreError::Invalid(e.to_string()).into())
}

fn line(actor: &DocumentActor<'_>, kind: &DocumentKind, id: &str) -> AuditRecord {
    actor
        .principal
        .audit(actor.action, Some(format!("{}:{id}", kind.noun)), "ok")
}

impl DocumentKind {
    /// One document and what it says.
    pub async fn read<D: DeserializeOwned>(
        &self,
        scope: &TenantScope,
        id: &str,
    ) -> Result<(AutomationItem, D), DocumentError> {
        let item = scope
            .automation_item(self.kind, id)
            .await?
            .ok_or(DocumentError::NotFound(self.noun))?;
        let doc = serde_json::from_str(&item.body)
            .map_err(|e| StoreError::Corrupt(format!("{} {id}: {e}", self.noun)))?;
        Ok((item, doc))
    }

    /// Stores a new document; refused past the kind's limit.
    pub async fn create(
        &self,
        actor: &DocumentActor<'_>,
        doc: &impl Serialize,
    ) -> Result<AutomationItem, DocumentError> {
        let scope = actor.scope;
        if scope.automation_items(self.kind).await?.len() >= self.limit {
            return Err(DocumentError::TooMany(format!(
                "a workspace has at most {} {}s",
                self.limit, self.noun
            )));
        }
        let item = AutomationItem {
            tenant: scope.tenant().clone(),
            kind: self.kind,
            id: new_id(self.prefix),
            version: 1,
            updated_at: now_ms(),
            updated_by: actor.principal.actor_id(),
            body: body(doc)?,
        };
        let mut audit = line(actor, self, &item.id);
        audit.after = Some(item.body.clone());
        Ok(scope.put_automation_item(item, audit).await?)
    }

    /// Replaces `current` (as read) with `doc`. `version`, when given, must be the one stored:
    /// a change made since is not overwritten.
    /// Refuses a change made against `version` when the document has moved on since (a
    /// version not given is not checked).
    pub fn unchanged_since(
        &self,
        current: &AutomationItem,
        version: Option<u64>,
    ) -> Result<(), DocumentError> {
        match version.filter(|v| *v != current.version) {
            Some(v) => Err(DocumentError::Conflict(format!(
                "the {} is at version {}, not {v}: read it again and reapply your change",
                self.noun, current.version
            ))),
            None => Ok(()),
        }
    }

    pub async fn replace(
        &self,
        actor: &DocumentActor<'_>,
        current: AutomationItem,
        version: Option<u64>,
        doc: &impl Serialize,
    ) -> Result<AutomationItem, DocumentError> {
        self.unchanged_since(&current, version)?;
        let item = AutomationItem {
            version: current.version + 1,
            updated_at: now_ms(),
            updated_by: actor.principal.actor_id(),
            body: body(doc)?,
            ..current.clone()
        };
        let mut audit = line(actor, self, &item.id);
        audit.before = Some(current.body);
        audit.after = Some(item.body.clone());
        actor
            .scope
            .put_automation_item(item, audit)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => DocumentError::Conflict(m),
                e => e.into(),
            })
    }

    pub async fn delete(&self, actor: &DocumentActor<'_>, id: &str) -> Result<(), DocumentError> {
        let scope = actor.scope;
        let current = scope
            .automation_item(self.kind, id)
            .await?
            .ok_or(DocumentError::NotFound(self.noun))?;
        let mut audit = line(actor, self, id);
        audit.before = Some(current.body);
        if !scope.delete_automation_item(self.kind, id, audit).await? {
            return Err(DocumentError::NotFound(self.noun));
        }
        Ok(())
    }
}

/// A workspace's one document of a kind (its settings, id fixed), replaced whole: `version`, when
/// given, must be the stored one (none until first saved), and the change is audited with what
/// it was and became (target `{noun}:{id}`). Returns the new version.
pub async fn replace_single(
    actor: &DocumentActor<'_>,
    kind: ItemKind,
    (noun, id): (&str, &str),
    version: Option<u64>,
    doc: &impl Serialize,
) -> Result<u64, DocumentError> {
    let scope = actor.scope;
    let current = scope.automation_item(kind, id).await?;
    let stored = current.as_ref().map(|c| c.version);
    if let Some(v) = version.filter(|v| Some(*v) != stored) {
        return Err(DocumentError::Conflict(format!(
            "the {noun} {id} is at version {}, not {v}: read it again and reapply your change",
            stored.map_or("none".to_owned(), |s| s.to_string())
        )));
    }
    let body = body(doc)?;
    let version = stored.map_or(1, |v| v + 1);
    let item = AutomationItem {
        tenant: scope.tenant().clone(),
        kind,
        id: id.to_owned(),
        version,
        updated_at: now_ms(),
        updated_by: actor.principal.actor_id(),
        body: body.clone(),
    };
    let mut audit = actor
        .principal
        .audit(actor.action, Some(format!("{noun}:{id}")), "ok");
    audit.before = current.map(|c| c.body);
    audit.after = Some(body);
    scope
        .put_automation_item(item, audit)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => DocumentError::Conflict(m),
            e => e.into(),
        })?;
    Ok(version)
}
