//! The outgoing word filter's records: a tenant's term lists as stored. What a list means
//! (folding, matching, verdicts) is `switchboard_shared::compliance`, shared with the composer.

use serde::{Deserialize, Serialize};
use switchboard_shared::compliance::{FilterAction, PatternKind, TermFit, TermList, TermListInput};
use switchboard_shared::{PhoneNumberId, TeamId, TenantId, TermListId};

use super::{AutomationItem, ItemKind, UnixMillis};

/// A term list: its id and version beside the list itself, stored as an automation document of
/// kind `term_list` (one JSON document, read and replaced whole).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermListRecord {
    pub tenant: TenantId,
    pub id: TermListId,
    /// 1 when made, one more with every change.
    pub version: u64,
    pub updated_at: UnixMillis,
    pub updated_by: String,
    pub body: TermListBody,
}

/// What a person edits of a list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TermListBody {
    pub name: String,
    pub category: String,
    pub action: FilterAction,
    pub fit: TermFit,
    pub terms: Vec<String>,
    pub exceptions: Vec<String>,
    pub patterns: Vec<PatternKind>,
    pub teams: Vec<TeamId>,
    pub enabled: bool,
}

impl TermListBody {
    /// The body of a checked input: names trimmed, blank terms and duplicates dropped (the
    /// first spelling kept).
    pub fn from_input(input: TermListInput) -> Self {
        let tidy = |list: Vec<String>| {
            let mut seen = std::collections::HashSet::new();
            list.into_iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty() && seen.insert(t.to_lowercase()))
                .collect::<Vec<_>>()
        };
        let mut patterns = input.patterns;
        patterns.sort();
        patterns.dedup();
        let mut teams = input.teams;
        teams.sort();
        teams.dedup();
        Self {
            name: input.name.trim().to_owned(),
            category: input
                .category
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "general".to_owned()),
            action: input.action,
            fit: input.fit,
            terms: tidy(input.terms),
            exceptions: tidy(input.exceptions),
            patterns,
            teams,
            enabled: input.enabled,
        }
    }
}

impl TermListRecord {
    /// The stored document.
    pub fn to_item(&self) -> Result<AutomationItem, serde_json::Error> {
        Ok(AutomationItem {
            tenant: self.tenant.clone(),
            kind: ItemKind::TermList,
            id: self.id.as_str().to_owned(),
            version: self.version,
            updated_at: self.updated_at,
            updated_by: self.updated_by.clone(),
            body: serde_json::to_string(&self.body)?,
        })
    }

    /// A list from its stored document.
    pub fn from_item(item: AutomationItem) -> Result<Self, serde_json::Error> {
        Ok(Self {
            body: serde_json::from_str(&item.body)?,
            tenant: item.tenant,
            id: TermListId::new(item.id),
            version: item.version,
            updated_at: item.updated_at,
            updated_by: item.updated_by,
        })
    }

    /// The list on the wire, with the numbers its teams cover (empty: every number).
    pub fn to_wire(&self, numbers: Vec<PhoneNumberId>) -> TermList {
        let b = &self.body;
        TermList {
            id: self.id.clone(),
            name: b.name.clone(),
            category: b.category.clone(),
            action: b.action,
            fit: b.fit,
            terms: b.terms.clone(),
            exceptions: b.exceptions.clone(),
            patterns: b.patterns.clone(),
            teams: b.teams.clone(),
            numbers,
            enabled: b.enabled,
            version: self.version,
            updated_at: self.updated_at,
            updated_by: self.updated_by.clone(),
        }
    }
}
