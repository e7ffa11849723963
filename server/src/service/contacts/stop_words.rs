//! A workspace's stop words: a customer whose whole message is one of them is opted out of
//! marketing. The server's list (`[contacts] stop_keywords`) is every workspace's until it saves
//! its own, which replaces it (an automation document, so both store backends hold it).
//!
//! Owns: the list in force for a workspace, checking a change, and the short-lived copy every
//! webhook reads. Must not: decide consent (the inbound use case does, with the message) or
//! know HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use switchboard_shared::contacts::{StopWords as StopWordsView, StopWordsChange};
use switchboard_shared::TenantId;

use crate::auth::TenantScope;
use crate::domain::*;
use crate::service::documents::{
    invalid, replace_single, DocumentActor, DocumentError, DocumentKind,
};
use crate::store::{Store, StoreResult};

/// The most words a list holds, and the longest word or phrase.
pub const MAX_WORDS: usize = 200;
pub const MAX_WORD_CHARS: usize = 64;

/// How long a webhook may use a workspace's list as read before: a change made on this server
/// is in force at once, one made on another node within this.
const FRESH: Duration = Duration::from_secs(5);

const ID: &str = "stop_words";

const KIND: DocumentKind = DocumentKind {
    kind: ItemKind::StopWords,
    prefix: "sw",
    noun: "stop words",
    limit: 1,
};

/// The list as stored.
#[derive(Serialize, Deserialize)]
struct Doc {
    words: Vec<String>,
}

pub struct StopWords {
    /// The server's list, as configured.
    defaults: Vec<String>,
    default_set: Arc<StopKeywords>,
    /// Each workspace's list as last read, and when.
    read: DashMap<TenantId, (Instant, Arc<StopKeywords>)>,
}

impl StopWords {
    pub fn new(defaults: &[String]) -> Self {
        Self {
            defaults: defaults.to_vec(),
            default_set: Arc::new(StopKeywords::new(defaults)),
            read: DashMap::new(),
        }
    }

    /// The list in force for `tenant`, for a webhook (read again once older than [`FRESH`]).
    pub async fn of(&self, store: &dyn Store, tenant: &TenantId) -> StoreResult<Arc<StopKeywords>> {
        if let Some(entry) = self.read.get(tenant) {
            if entry.0.elapsed() < FRESH {
                return Ok(Arc::clone(&entry.1));
            }
        }
        let item = store.get_item(tenant, ItemKind::StopWords, ID).await?;
        let set = match item {
            Some(item) => Arc::new(StopKeywords::new(&decode(&item)?.words)),
            None => Arc::clone(&self.default_set),
        };
        self.read
            .insert(tenant.clone(), (Instant::now(), Arc::clone(&set)));
        Ok(set)
    }

    /// What a caller sees: the workspace's list, else the server's.
    pub async fn view(&self, scope: &TenantScope) -> Result<StopWordsView, DocumentError> {
        Ok(
            match scope.automation_item(ItemKind::StopWords, ID).await? {
                Some(item) => StopWordsView {
                    words: decode(&item)?.words,
                    saved: true,
                    version: Some(item.version),
                },
                None => StopWordsView {
                    words: self.defaults.clone(),
                    saved: false,
                    version: None,
                },
            },
        )
    }

    /// Replaces the workspace's list (audited with what it was and became); in force for the
    /// next webhook.
    pub async fn change(
        &self,
        actor: &DocumentActor<'_>,
        change: StopWordsChange,
    ) -> Result<StopWordsView, DocumentError> {
        let words = check(change.words)?;
        let version = replace_single(
            actor,
            ItemKind::StopWords,
            (KIND.noun, ID),
            change.version,
            &Doc {
                words: words.clone(),
            },
        )
        .await?;
        self.read.remove(actor.scope.tenant());
        Ok(StopWordsView {
            words,
            saved: true,
            version: Some(version),
        })
    }

    /// Goes back to the server's list (audited with the list removed).
    pub async fn reset(&self, actor: &DocumentActor<'_>) -> Result<StopWordsView, DocumentError> {
        KIND.delete(actor, ID).await?;
        self.read.remove(actor.scope.tenant());
        self.view(actor.scope).await
    }
}

fn decode(item: &AutomationItem) -> StoreResult<Doc> {
    serde_json::from_str(&item.body).map_err(|e| {
        crate::store::StoreError::Corrupt(format!("stop words of {}: {e}", item.tenant))
    })
}

/// A list as saved: each entry trimmed, the first spelling of each folded word kept.
fn check(words: Vec<String>) -> Result<Vec<String>, DocumentError> {
    if words.is_empty() {
        return Err(invalid(
            "words",
            "at least one word (DELETE the list to go back to the server's)",
        ));
    }
    if words.len() > MAX_WORDS {
        return Err(invalid("words", format!("at most {MAX_WORDS} words")));
    }
    let mut kept: Vec<String> = Vec::with_capacity(words.len());
    let mut folded: Vec<String> = Vec::with_capacity(words.len());
    for (i, word) in words.into_iter().enumerate() {
        let word = word.trim().to_owned();
        if word.chars().count() > MAX_WORD_CHARS {
            return Err(invalid(
                format!("words[{i}]"),
                format!("at most {MAX_WORD_CHARS} characters"),
            ));
        }
        if word.chars().any(char::is_control) {
            return Err(invalid(format!("words[{i}]"), "no control characters"));
        }
        let f = fold(&word);
        if f.is_empty() {
            return Err(invalid(
                format!("words[{i}]"),
                "a word needs a letter or a digit",
            ));
        }
        if !folded.contains(&f) {
            folded.push(f);
            kept.push(word);
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_trimmed_deduplicated_by_its_folded_words_and_bounded() {
        let kept = check(vec![" Хватит ".into(), "ХВАТИТ!".into(), "no more".into()]).unwrap();
        assert_eq!(kept, ["Хватит", "no more"]);
        assert!(check(Vec::new()).is_err());
        assert!(check(vec!["!!".into()]).is_err());
        assert!(check(vec!["x".repeat(MAX_WORD_CHARS + 1)]).is_err());
        assert!(check(vec!["a\u{7}".into()]).is_err());
        assert!(check((0..=MAX_WORDS).map(|i| format!("w{i}")).collect()).is_err());
        assert_eq!(
            check((0..MAX_WORDS).map(|i| format!("w{i}")).collect())
                .unwrap()
                .len(),
            MAX_WORDS
        );
    }
}
