//! Search: a query's words found in the message texts of the conversations the caller may see,
//! newest first, each with a snippet around where it matched.
//!
//! Owns: reading a query into terms (the shared normaliser's, as the index has them), the
//! bounds on a query, visibility per hit, and snippets. Must not: check permissions beyond
//! visibility (the route table did), or shape the wire answer.

use std::collections::HashMap;

use switchboard_shared::normalize::{search_terms, search_words};
use switchboard_shared::ConversationId;

use crate::auth::{Principal, TenantScope};
use crate::domain::MessageRecord;
use crate::store::{Cursor, StoreError};

/// The longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// The most words a query may have.
pub const MAX_TERMS: usize = 8;
/// The most hits one request reads while dropping those the caller may not see (a short page
/// with a cursor after that).
const SCAN_BUDGET: usize = 1_000;
/// A snippet's length around its match, in characters each side.
const CONTEXT_CHARS: usize = 60;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query cannot be searched for: the message says why.
    #[error("{0}")]
    Query(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A message found, and the part of its text to show.
pub struct Found {
    pub message: MessageRecord,
    pub snippet: String,
}

/// A query's terms, checked: at most [`MAX_QUERY_CHARS`] characters and [`MAX_TERMS`] words,
/// and at least one word.
pub fn terms(query: &str) -> Result<Vec<String>, SearchError> {
    let length = query.chars().count();
    if length > MAX_QUERY_CHARS {
        return Err(SearchError::Query(format!(
            "a query is at most {MAX_QUERY_CHARS} characters, not {length}"
        )));
    }
    let terms = search_terms(query);
    if terms.is_empty() {
        return Err(SearchError::Query(
            "the query has no words to search for".into(),
        ));
    }
    if terms.len() > MAX_TERMS {
        return Err(SearchError::Query(format!(
            "a query has at most {MAX_TERMS} words, not {}",
            terms.len()
        )));
    }
    Ok(terms)
}

/// One page (at most `limit`) of the messages holding every word of `query` that `principal`
/// may see, newest first, and the cursor to go on.
pub async fn search(
    scope: &TenantScope,
    principal: &Principal,
    query: &str,
    cursor: Option<Cursor>,
    limit: usize,
) -> Result<(Vec<Found>, Option<Cursor>), SearchError> {
    let terms = terms(query)?;
    let mut cursor = cursor;
    let mut found = Vec::with_capacity(limit);
    let mut visible: HashMap<ConversationId, bool> = HashMap::new();
    let mut scanned = 0;
    // Whole store pages only, so that the store's cursor is always where to go on.
    loop {
        let page = scope
            .search_messages(&terms, cursor.as_ref(), limit - found.len())
            .await?;
        for hit in page.items {
            scanned += 1;
            let Some(message) = scope
                .message(&hit.conversation, hit.message.as_str())
                .await?
            else {
                continue;
            };
            let sees = match visible.get(&hit.conversation) {
                Some(sees) => *sees,
                None => {
                    let assignee = scope
                        .thread(&hit.conversation)
                        .await?
                        .and_then(|t| t.assignee);
                    let sees = principal.sees(&message.number, assignee.as_ref());
                    visible.insert(hit.conversation.clone(), sees);
                    sees
                }
            };
            if sees {
                let snippet = snippet(message.text.as_deref().unwrap_or(""), &terms);
                found.push(Found { message, snippet });
            }
        }
        cursor = page.next;
        if found.len() == limit || cursor.is_none() || scanned >= SCAN_BUDGET {
            return Ok((found, cursor));
        }
    }
}

/// The text around the first word that matched, at most [`CONTEXT_CHARS`] characters each
/// side, with `…` where it was cut.
pub fn snippet(text: &str, terms: &[String]) -> String {
    let at = search_words(text)
        .into_iter()
        .find(|(_, word)| terms.contains(word))
        .map_or(0..0, |(range, _)| range);
    let start = text[..at.start]
        .char_indices()
        .rev()
        .nth(CONTEXT_CHARS - 1)
        .map_or(0, |(i, _)| i);
    let end = text[at.end..]
        .char_indices()
        .nth(CONTEXT_CHARS)
        .map_or(text.len(), |(i, _)| at.end + i);
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.push_str(text[start..end].trim());
    if end < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_bounded_and_need_a_word() {
        assert_eq!(terms("Red  PRICE").unwrap(), ["red", "price"]);
        assert!(terms("?!… ---").is_err());
        assert!(terms(&"a ".repeat(5_000)).is_err());
        assert!(terms("a b c d e f g h i").is_err());
    }

    #[test]
    fn a_snippet_shows_the_match_in_context() {
        let long = format!(
            "{} ЦЕНА доставки {}",
            "слово ".repeat(30),
            "ещё ".repeat(30)
        );
        let s = snippet(&long, &search_terms("цена"));
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("ЦЕНА доставки"), "{s}");
        assert!(s.chars().count() <= 2 * CONTEXT_CHARS + 10, "{s}");
        assert_eq!(snippet("price list", &search_terms("price")), "price list");
        // No word matched (the text changed): its start.
        assert_eq!(snippet("hello", &search_terms("zzz")), "hello");
    }
}
