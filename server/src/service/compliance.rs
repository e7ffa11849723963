//! The outgoing word filter at run time, and what admins do to its term lists.
//!
//! Owns: each tenant's lists compiled once per change ([`WordFilter`]), screening an outgoing
//! message into a [`Screened`] draft (the only way to make one: the outbox takes nothing else, so
//! no send skips the filter), and the term-list use cases with their checks and audit lines.
//! Must not: decide what a term matches (that is `switchboard_shared::compliance`, the same code
//! the composer runs in the browser), or know HTTP.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde_json::json;
use switchboard_shared::compliance::{
    check_list, Filter, FilterMatch, FilterReport, TermList, TermListInput, Verdict,
    MAX_LISTS_PER_TENANT, MAX_TERMS_PER_TENANT,
};
use switchboard_shared::{PhoneNumberId, TeamId, TenantId, TermListId};

use super::outbound::Draft;
use crate::auth::{Principal, TenantScope};
use crate::domain::*;
use crate::store::{Store, StoreError};

/// How long a compiled filter serves before the lists are read again. Changes made through this
/// server apply at once (the change drops the compiled filter); the bound is for changes made
/// through another server on the same store, and for teams given new numbers.
const FRESH: Duration = Duration::from_secs(10);

/// A tenant's lists, compiled.
pub struct Compiled {
    pub filter: Filter,
    /// The lists as the API shows them (with their teams' numbers).
    pub lists: Vec<TermList>,
    made: Instant,
}

/// Each tenant's compiled filter, made on first use and after each change.
pub struct WordFilter {
    store: Arc<dyn Store>,
    compiled: DashMap<TenantId, Arc<Compiled>>,
}

/// What the sender said about the filter's findings.
#[derive(Clone, Debug, Default)]
pub struct FilterAck {
    /// The sender saw the warnings and sends anyway.
    pub confirm_warnings: bool,
    /// Why a blocked message should go anyway; honoured only for a sender who may override.
    pub override_reason: Option<String>,
    /// Whether the sender holds `compliance.override`.
    pub may_override: bool,
}

/// How a screened message got through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Clear,
    /// Warn lists matched and the sender confirmed.
    Confirmed(Vec<FilterMatch>),
    /// Block lists matched and the sender overrode them, for this reason.
    Overridden {
        matches: Vec<FilterMatch>,
        reason: String,
    },
}

/// A draft that passed the word filter. Only [`WordFilter::screen`] makes one.
#[derive(Debug)]
pub struct Screened {
    draft: Draft,
    pub outcome: Outcome,
}

impl Screened {
    pub(super) fn into_draft(self) -> Draft {
        self.draft
    }
}

/// Why a message was not let through: the verdict and what was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub verdict: Verdict,
    pub matches: Vec<FilterMatch>,
}

/// The longest override reason.
pub const MAX_REASON_CHARS: usize = 500;

impl WordFilter {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            compiled: DashMap::new(),
        }
    }

    /// The tenant's compiled filter (compiled now if it changed or went stale).
    pub async fn compiled(&self, tenant: &TenantId) -> Result<Arc<Compiled>, StoreError> {
        if let Some(c) = self.compiled.get(tenant) {
            if c.made.elapsed() < FRESH {
                return Ok(Arc::clone(&c));
            }
        }
        let mut records = Vec::new();
        for item in self.store.list_items(tenant, ItemKind::TermList).await? {
            match TermListRecord::from_item(item) {
                Ok(r) => records.push(r),
                Err(e) => tracing::error!(error = %e, "a stored term list is unreadable; skipped"),
            }
        }
        let teams = if records.iter().any(|r| !r.body.teams.is_empty()) {
            self.store.list_teams(tenant).await?
        } else {
            Vec::new()
        };
        let lists: Vec<TermList> = records
            .iter()
            .map(|r| r.to_wire(numbers_of(&r.body.teams, &teams)))
            .collect();
        // Tens of thousands of terms take tens of milliseconds to compile: off the runtime.
        let compiled = tokio::task::spawn_blocking(move || compile(lists))
            .await
            .map_err(|e| StoreError::Unavailable(format!("compiling the word filter: {e}")))?;
        let compiled = Arc::new(compiled);
        self.compiled.insert(tenant.clone(), Arc::clone(&compiled));
        Ok(compiled)
    }

    /// Drops the tenant's compiled filter after a change to its lists.
    pub fn forget(&self, tenant: &TenantId) {
        self.compiled.remove(tenant);
    }

    /// Every match in the parts of a message (`(field, text)`), each naming its field.
    pub async fn scan(
        &self,
        tenant: &TenantId,
        number: Option<&PhoneNumberId>,
        parts: &[(String, &str)],
    ) -> Result<Vec<FilterMatch>, StoreError> {
        let compiled = self.compiled(tenant).await?;
        let mut found = Vec::new();
        for (field, text) in parts {
            found.extend(compiled.filter.scan(text, number).into_iter().map(|mut m| {
                m.field = Some(field.clone());
                m
            }));
        }
        Ok(found)
    }

    /// Screens a draft to be sent on `number`: clear, confirmed warnings, or an override of a
    /// block; anything else is refused with what was found.
    pub async fn screen(
        &self,
        tenant: &TenantId,
        number: &PhoneNumberId,
        draft: Draft,
        ack: &FilterAck,
    ) -> Result<Result<Screened, Refused>, StoreError> {
        let matches = self
            .scan(tenant, Some(number), &draft.filter_parts())
            .await?;
        let verdict = Verdict::of(&matches);
        let reason = ack
            .override_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        let outcome = match verdict {
            Verdict::Clear => Outcome::Clear,
            Verdict::Warn if ack.confirm_warnings => Outcome::Confirmed(matches),
            Verdict::Warn => return Ok(Err(Refused { verdict, matches })),
            Verdict::Block => match reason {
                Some(reason) if ack.may_override => Outcome::Overridden {
                    matches,
                    reason: reason.chars().take(MAX_REASON_CHARS).collect(),
                },
                _ => return Ok(Err(Refused { verdict, matches })),
            },
        };
        Ok(Ok(Screened { draft, outcome }))
    }
}

/// The numbers of `teams` (those still there).
fn numbers_of(teams: &[TeamId], all: &[TeamRecord]) -> Vec<PhoneNumberId> {
    let numbers: BTreeSet<&PhoneNumberId> = all
        .iter()
        .filter(|t| teams.contains(&t.id))
        .flat_map(|t| &t.numbers)
        .collect();
    numbers.into_iter().cloned().collect()
}

/// Compiles the lists; a stored list that no longer compiles is left out (and logged), never
/// the whole filter.
fn compile(lists: Vec<TermList>) -> Compiled {
    let filter = match Filter::compile(&lists) {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "a stored term list does not compile; it is skipped");
            let good: Vec<TermList> = lists
                .iter()
                .filter(|l| Filter::compile(std::slice::from_ref(*l)).is_ok())
                .cloned()
                .collect();
            Filter::compile(&good).unwrap_or_default()
        }
    };
    Compiled {
        filter,
        lists,
        made: Instant::now(),
    }
}

/// How a term-list command can fail.
#[derive(Debug, thiserror::Error)]
pub enum TermListError {
    #[error("no such term list")]
    NotFound,
    /// The list cannot be saved; `field` says what to fix.
    #[error("`{field}`: {message}")]
    Invalid { field: String, message: String },
    /// A tenant-wide limit.
    #[error("{0}")]
    TooMany(String),
    /// Changed since the caller read it.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who changes a list, and the audit action of the entry point.
pub struct ListActor<'a> {
    pub principal: &'a Principal,
    pub scope: &'a TenantScope,
    pub action: &'a str,
}

impl WordFilter {
    /// The tenant's lists as the API shows them.
    pub async fn lists(&self, scope: &TenantScope) -> Result<Vec<TermList>, StoreError> {
        Ok(self.compiled(scope.tenant()).await?.lists.clone())
    }

    pub async fn list(
        &self,
        scope: &TenantScope,
        id: &TermListId,
    ) -> Result<TermList, TermListError> {
        self.lists(scope)
            .await?
            .into_iter()
            .find(|l| &l.id == id)
            .ok_or(TermListError::NotFound)
    }

    /// What the tenant's lists find in `text` (as if sent on `number`, when given).
    pub async fn check(
        &self,
        scope: &TenantScope,
        text: &str,
        number: Option<&PhoneNumberId>,
    ) -> Result<FilterReport, StoreError> {
        let matches = self
            .scan(scope.tenant(), number, &[("text".to_owned(), text)])
            .await?;
        Ok(FilterReport {
            verdict: Verdict::of(&matches),
            matches,
        })
    }

    /// Makes a list.
    pub async fn create(
        &self,
        actor: &ListActor<'_>,
        input: TermListInput,
    ) -> Result<TermList, TermListError> {
        let scope = actor.scope;
        let existing = scope.term_lists().await?;
        if existing.len() >= MAX_LISTS_PER_TENANT {
            return Err(TermListError::TooMany(format!(
                "a workspace has at most {MAX_LISTS_PER_TENANT} term lists"
            )));
        }
        let body = self.checked(scope, input, &existing, None).await?;
        let record = TermListRecord {
            tenant: scope.tenant().clone(),
            id: TermListId::new(new_id("tl")),
            version: 1,
            updated_at: now_ms(),
            updated_by: actor.principal.actor_id(),
            body,
        };
        let audit = audit_line(actor, &record, None);
        let record = scope.put_term_list(record, audit).await?;
        self.forget(scope.tenant());
        self.list(scope, &record.id).await
    }

    /// Replaces a list whole; `input.version`, when given, must be the stored one.
    pub async fn replace(
        &self,
        actor: &ListActor<'_>,
        id: &TermListId,
        input: TermListInput,
    ) -> Result<TermList, TermListError> {
        let scope = actor.scope;
        let current = scope.term_list(id).await?.ok_or(TermListError::NotFound)?;
        if let Some(v) = input.version.filter(|v| *v != current.version) {
            return Err(TermListError::Conflict(format!(
                "the list is at version {}, not {v}: read it again and reapply your change",
                current.version
            )));
        }
        let existing = scope.term_lists().await?;
        let body = self.checked(scope, input, &existing, Some(id)).await?;
        let record = TermListRecord {
            version: current.version + 1,
            updated_at: now_ms(),
            updated_by: actor.principal.actor_id(),
            body,
            ..current.clone()
        };
        let audit = audit_line(actor, &record, Some(&current));
        scope
            .put_term_list(record, audit)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => TermListError::Conflict(m),
                e => e.into(),
            })?;
        self.forget(scope.tenant());
        self.list(scope, id).await
    }

    pub async fn delete(
        &self,
        actor: &ListActor<'_>,
        id: &TermListId,
    ) -> Result<(), TermListError> {
        let scope = actor.scope;
        let current = scope.term_list(id).await?.ok_or(TermListError::NotFound)?;
        let mut audit = actor
            .principal
            .audit(actor.action, Some(format!("term_list:{id}")), "ok");
        audit.before = Some(summary(&current).to_string());
        if !scope.delete_term_list(id, audit).await? {
            return Err(TermListError::NotFound);
        }
        self.forget(scope.tenant());
        Ok(())
    }

    /// Checks an input against the list rules, the tenant's teams and the tenant-wide limit.
    async fn checked(
        &self,
        scope: &TenantScope,
        input: TermListInput,
        existing: &[TermListRecord],
        replacing: Option<&TermListId>,
    ) -> Result<TermListBody, TermListError> {
        check_list(&input).map_err(|e| TermListError::Invalid {
            field: e.field,
            message: e.message,
        })?;
        let teams: HashSet<TeamId> = scope.teams().await?.into_iter().map(|t| t.id).collect();
        if let Some((i, t)) = input
            .teams
            .iter()
            .enumerate()
            .find(|(_, t)| !teams.contains(*t))
        {
            return Err(TermListError::Invalid {
                field: format!("teams[{i}]"),
                message: format!("no team `{t}` in this workspace"),
            });
        }
        let body = TermListBody::from_input(input);
        let others: usize = existing
            .iter()
            .filter(|l| Some(&l.id) != replacing)
            .map(|l| l.body.terms.len())
            .sum();
        if others + body.terms.len() > MAX_TERMS_PER_TENANT {
            return Err(TermListError::TooMany(format!(
                "the workspace's lists would hold {} terms; the most is {MAX_TERMS_PER_TENANT}",
                others + body.terms.len()
            )));
        }
        Ok(body)
    }
}

/// What the audit log keeps of a list: its settings and a bounded sample of its terms (a list
/// of 50,000 terms is not copied into every audit line).
fn summary(list: &TermListRecord) -> serde_json::Value {
    let b = &list.body;
    json!({
        "name": b.name,
        "category": b.category,
        "action": b.action.as_str(),
        "match": b.fit.as_str(),
        "terms": b.terms.len(),
        "exceptions": b.exceptions.len(),
        "teams": b.teams,
        "enabled": b.enabled,
        "version": list.version,
    })
}

fn audit_line(
    actor: &ListActor<'_>,
    after: &TermListRecord,
    before: Option<&TermListRecord>,
) -> AuditRecord {
    let mut line =
        actor
            .principal
            .audit(actor.action, Some(format!("term_list:{}", after.id)), "ok");
    let mut after_summary = summary(after);
    if let Some(before) = before {
        let old: HashSet<&String> = before.body.terms.iter().collect();
        let new: HashSet<&String> = after.body.terms.iter().collect();
        fn sample(a: &HashSet<&String>, b: &HashSet<&String>) -> Vec<String> {
            let mut d: Vec<String> = a.difference(b).map(|s| (*s).clone()).collect();
            d.sort();
            d.truncate(50);
            d
        }
        after_summary["added"] = json!(sample(&new, &old));
        after_summary["removed"] = json!(sample(&old, &new));
        line.before = Some(summary(before).to_string());
    }
    line.after = Some(after_summary.to_string());
    line
}

/// The audit line of a screened send that needed a confirmation or an override, or of a
/// refused one: the terms found (and the reason of an override), never the whole message.
pub fn screening_audit(
    principal: &Principal,
    conversation: &str,
    outcome: Result<&Outcome, &Refused>,
) -> Option<AuditRecord> {
    let (action, status, matches, reason) = match outcome {
        Ok(Outcome::Clear) => return None,
        Ok(Outcome::Confirmed(m)) => ("message.filter_confirm", "ok", m, None),
        Ok(Outcome::Overridden { matches, reason }) => {
            ("message.filter_override", "ok", matches, Some(reason))
        }
        Err(r) => ("message.filter_block", "denied", &r.matches, None),
    };
    let mut line = principal.audit(action, Some(format!("conversation:{conversation}")), status);
    let found: Vec<serde_json::Value> = matches
        .iter()
        .map(|m| {
            json!({
                "list": m.list, "term": m.term, "text": m.text,
                "action": m.action.as_str(), "field": m.field,
            })
        })
        .collect();
    line.after = Some(json!({ "matches": found, "reason": reason }).to_string());
    Some(line)
}
