//! Full-text search of message texts on ScyllaDB: an inverted index in the cluster itself
//! (`message_terms`, `migrations/0015_search.cql`), partitioned by (tenant, term, 30-day window)
//! and clustered newest first, so a term's postings of one window are one partition read in
//! order and no partition grows with history. Each posting carries the message's whole term
//! list, so a query of several terms reads the postings of one of them (the longest, as the
//! likeliest to be rare) and checks the rest on the posting itself.
//!
//! Why not a search engine beside the cluster: it would be a second store to run, back up and
//! keep consistent, for what a store of this shape can answer within the page budget below.

use std::collections::HashSet;

use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::normalize::search_terms;
use switchboard_shared::{ConversationId, MessageKey, TenantId};

use super::{unavailable, Preparer, ScyllaStore};
use crate::domain::{now_ms, UnixMillis};
use crate::store::{Cursor, Page, SearchHit, StoreError, StoreResult};

/// A posting partition's span: 30 days.
const WINDOW_MS: i64 = 30 * 86_400_000;

/// How far back a search looks: 62 windows, some five years (the longest retention but the
/// forever one).
const MAX_WINDOWS: i64 = 62;

/// The most postings one search request reads (a short page with a cursor after that).
const SCAN_BUDGET: usize = 5_000;

fn window(at_ms: UnixMillis) -> i64 {
    at_ms.div_euclid(WINDOW_MS)
}

pub(super) struct Statements {
    index_term: PreparedStatement,
    postings: PreparedStatement,
    postings_before: PreparedStatement,
    unindex_term: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        Ok(Self {
            index_term: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.message_terms (tenant, term, window, at_ms,
                           message_key, conversation_id, terms) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    true,
                )
                .await?,
            postings: p
                .prepare(
                    format!(
                        "SELECT at_ms, message_key, conversation_id, terms FROM {ks}.message_terms
                         WHERE tenant = ? AND term = ? AND window = ? LIMIT ?"
                    ),
                    true,
                )
                .await?,
            postings_before: p
                .prepare(
                    format!(
                        "SELECT at_ms, message_key, conversation_id, terms FROM {ks}.message_terms
                         WHERE tenant = ? AND term = ? AND window = ?
                           AND (at_ms, message_key) < (?, ?) LIMIT ?"
                    ),
                    true,
                )
                .await?,
            unindex_term: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.message_terms WHERE tenant = ? AND term = ?
                           AND window = ? AND at_ms = ? AND message_key = ?"
                    ),
                    true,
                )
                .await?,
        })
    }
}

impl ScyllaStore {
    /// Indexes one stored message's text: a posting per term (idempotent upserts).
    pub(super) async fn index_text(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        key: &MessageKey,
        at_ms: UnixMillis,
        text: &str,
    ) -> StoreResult<()> {
        let terms = search_terms(text);
        let all = terms.join(" ");
        for term in &terms {
            self.session
                .execute_unpaged(
                    &self.search.index_term,
                    (
                        tenant.as_str(),
                        term.as_str(),
                        window(at_ms),
                        at_ms,
                        key.as_str(),
                        conversation.as_str(),
                        all.as_str(),
                    ),
                )
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    /// Removes one message's postings (its conversation is being erased).
    pub(super) async fn unindex_text(
        &self,
        tenant: &str,
        key: &str,
        at_ms: UnixMillis,
        text: &str,
    ) -> StoreResult<()> {
        for term in search_terms(text) {
            self.session
                .execute_unpaged(
                    &self.search.unindex_term,
                    (tenant, term.as_str(), window(at_ms), at_ms, key),
                )
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    pub(super) async fn search(
        &self,
        tenant: &TenantId,
        terms: &[String],
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<SearchHit>> {
        let Some(lead) = terms.iter().max_by_key(|t| t.chars().count()) else {
            return Err(StoreError::Invalid(
                "a search needs at least one term".into(),
            ));
        };
        let newest = window(now_ms()) + 1;
        let (mut at_window, mut before) = match cursor {
            Some(c) => {
                let (w, at, key) = c.decode_history()?;
                (w, Some((at, key)))
            }
            None => (newest, None),
        };
        let mut items = Vec::with_capacity(limit);
        let mut last = None;
        let mut scanned = 0;
        while at_window > newest - MAX_WINDOWS && items.len() < limit && scanned < SCAN_BUDGET {
            let wanted = (SCAN_BUDGET - scanned).min(500) as i32;
            let rows: Vec<(i64, String, String, String)> = match &before {
                Some((at, key)) => {
                    self.rows(
                        &self.search.postings_before,
                        (
                            tenant.as_str(),
                            lead.as_str(),
                            at_window,
                            *at,
                            key.as_str(),
                            wanted,
                        ),
                    )
                    .await?
                }
                None => {
                    self.rows(
                        &self.search.postings,
                        (tenant.as_str(), lead.as_str(), at_window, wanted),
                    )
                    .await?
                }
            };
            let read = rows.len();
            for (at, key, conversation, all) in rows {
                scanned += 1;
                before = Some((at, key.clone()));
                let has: HashSet<&str> = all.split(' ').collect();
                if terms.iter().all(|t| has.contains(t.as_str())) {
                    items.push(SearchHit {
                        conversation: ConversationId::new(conversation),
                        message: MessageKey::new(key.clone()),
                        at_ms: at,
                    });
                    last = Some((at_window, at, key));
                    if items.len() == limit {
                        break;
                    }
                }
            }
            if items.len() < limit && read < wanted as usize {
                at_window -= 1;
                before = None;
            }
        }
        // A full page, or a scan cut short by the budget, goes on from where it stopped.
        let stopped = scanned >= SCAN_BUDGET && at_window > newest - MAX_WINDOWS;
        let next = if items.len() == limit {
            last.map(|(w, at, key)| Cursor::history(w, at, &key))
        } else if stopped {
            before.map(|(at, key)| Cursor::history(at_window, at, &key))
        } else {
            None
        };
        Ok(Page { items, next })
    }
}
