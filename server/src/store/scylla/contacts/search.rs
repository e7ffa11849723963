//! Contact search on ScyllaDB: a contact's rows in `contacts_by_search` (each term of its name
//! and its number, under their first two characters) and one search's walk through them.

use switchboard_shared::{ContactId, TenantId};

use super::ScyllaStore;
use crate::domain::*;
use crate::store::page::*;
use crate::store::{search_page, StoreResult, SEARCH_ROUNDS, SEARCH_ROWS};

/// The search index partition of a name term or a query's walking prefix.
pub(super) fn name_partition(term: &str) -> String {
    format!("n:{}", term.chars().take(2).collect::<String>())
}

/// The search index entries of a contact: (partition prefix, term): each term of its name
/// ([`name_terms`]) and its number.
pub(super) fn search_terms(c: &ContactRecord) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = name_terms(&fold(c.display_name().unwrap_or("")))
        .into_iter()
        .map(|t| (name_partition(&t), t))
        .collect();
    if let Some(p) = &c.phone {
        out.push((format!("p:{}", &p[..p.len().min(2)]), p.clone()));
    }
    out
}

impl ScyllaStore {
    /// One page of a search by `prefix` (a name's words, or a number's digits when `by_phone`),
    /// from the cursor's (term, id) on, keeping the contacts `wanted` lets through.
    pub(super) async fn search_contacts(
        &self,
        tenant: &TenantId,
        prefix: &str,
        by_phone: bool,
        (after_key, after_id): (String, String),
        limit: usize,
        wanted: impl Fn(&ContactRecord) -> bool,
    ) -> StoreResult<Page<ContactRecord>> {
        // A number walks its digits; a name the longest word of the query.
        let name = if by_phone {
            None
        } else {
            match NameQuery::new(prefix) {
                Some(q) => Some(q),
                None => {
                    return Ok(Page {
                        items: Vec::new(),
                        next: None,
                    })
                }
            }
        };
        let walk = name.as_ref().map_or(prefix, NameQuery::walk);
        let partition = match &name {
            Some(_) => name_partition(walk),
            None => format!("p:{}", walk.chars().take(2).collect::<String>()),
        };
        let upper = format!("{walk}\u{10FFFF}");
        let (mut key, mut id) = if after_key.is_empty() {
            (walk.to_owned(), String::new())
        } else {
            (after_key, after_id)
        };
        let mut found: Vec<(String, ContactRecord)> = Vec::new();
        let mut exhausted = false;
        // Bounded: at most SEARCH_ROUNDS index pages per call (a tag filter or a later
        // query word may pass over many rows); a page that ends early still has a cursor.
        'rounds: for _ in 0..SEARCH_ROUNDS {
            let hits = self
                .rows::<(String, String)>(
                    &self.contacts.search_after,
                    (
                        tenant.as_str(),
                        partition.as_str(),
                        key.as_str(),
                        id.as_str(),
                        upper.as_str(),
                        SEARCH_ROWS as i32,
                    ),
                )
                .await?;
            exhausted = hits.len() < SEARCH_ROWS;
            for (term, cid) in hits {
                (key, id) = (term, cid);
                let Some(c) = self
                    .contact_by_id(tenant, &ContactId::new(id.clone()))
                    .await?
                else {
                    continue;
                };
                let named = name
                    .as_ref()
                    .is_none_or(|q| q.keeps(&key, &fold(c.display_name().unwrap_or(""))));
                if named && wanted(&c) {
                    found.push((key.clone(), c));
                    if found.len() == limit {
                        exhausted = false;
                        break 'rounds;
                    }
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(search_page(found, limit, exhausted, (&key, &id)))
    }
}
