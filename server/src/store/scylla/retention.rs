//! Retention on ScyllaDB: a conversation's old day buckets read page by page, each due message
//! removed (with its key, statuses and search postings) or stripped of its text by idempotent
//! writes, emptied buckets dropped from the index; the audit log's old days dropped a partition
//! at a time. The webhook journal needs nothing here: its table's TTL expires it (migration 8).
//!
//! TTLs do not fit messages or the audit log: a policy is changed after the rows were written,
//! differs per number and team, and a legal hold must be able to keep what a TTL would drop.

use async_trait::async_trait;
use scylla::response::{PagingState, PagingStateResponse};
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::{ConversationId, TenantId};

use super::{rows_of, unavailable, Preparer, ScyllaStore};
use crate::domain::retention::{skeleton, Fate};
use crate::domain::{day_bucket, PurgeCounts, PurgeCut, UnixMillis};
use crate::store::{RetentionStore, StoreResult};

/// Rows per page of a bucket's read.
const PAGE: i32 = 500;

pub(super) struct Statements {
    buckets: PreparedStatement,
    due: PreparedStatement,
    delete_message: PreparedStatement,
    strip: PreparedStatement,
    any_in_bucket: PreparedStatement,
    delete_bucket: PreparedStatement,
    audit_days: PreparedStatement,
    audit_count: PreparedStatement,
    delete_audit_day: PreparedStatement,
    delete_audit_bucket: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        let message = "tenant = ? AND conversation_id = ? AND bucket = ?";
        Ok(Self {
            buckets: p
                .prepare(
                    format!(
                        "SELECT bucket FROM {ks}.buckets_by_conversation
                         WHERE tenant = ? AND conversation_id = ?"
                    ),
                    true,
                )
                .await?,
            due: p
                .prepare(
                    format!(
                        "SELECT at_ms, message_key, wamid, kind, body, raw
                         FROM {ks}.messages_by_conversation WHERE {message} AND at_ms < ?"
                    ),
                    true,
                )
                .await?,
            delete_message: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.messages_by_conversation
                         WHERE {message} AND at_ms = ? AND message_key = ?"
                    ),
                    true,
                )
                .await?,
            strip: p
                .prepare(
                    format!(
                        "UPDATE {ks}.messages_by_conversation SET body = null, raw = ?
                         WHERE {message} AND at_ms = ? AND message_key = ?"
                    ),
                    true,
                )
                .await?,
            any_in_bucket: p
                .prepare(
                    format!(
                        "SELECT message_key FROM {ks}.messages_by_conversation
                         WHERE {message} LIMIT 1"
                    ),
                    true,
                )
                .await?,
            delete_bucket: p
                .prepare(
                    format!("DELETE FROM {ks}.buckets_by_conversation WHERE {message}"),
                    true,
                )
                .await?,
            audit_days: p
                .prepare(
                    format!(
                        "SELECT bucket FROM {ks}.audit_buckets_by_tenant
                         WHERE tenant = ? AND bucket < ?"
                    ),
                    true,
                )
                .await?,
            audit_count: p
                .prepare(
                    format!(
                        "SELECT audit_id FROM {ks}.audit_by_tenant WHERE tenant = ? AND bucket = ?"
                    ),
                    true,
                )
                .await?,
            delete_audit_day: p
                .prepare(
                    format!("DELETE FROM {ks}.audit_by_tenant WHERE tenant = ? AND bucket = ?"),
                    true,
                )
                .await?,
            delete_audit_bucket: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.audit_buckets_by_tenant WHERE tenant = ? AND bucket = ?"
                    ),
                    true,
                )
                .await?,
        })
    }
}

type DueRow = (i64, String, String, String, Option<String>, String);

impl ScyllaStore {
    /// Every row a statement returns, read a page at a time.
    async fn all_pages<R>(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow + Clone,
    ) -> StoreResult<Vec<R>>
    where
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
    {
        let mut statement = statement.clone();
        statement.set_page_size(PAGE);
        let mut state = PagingState::start();
        let mut all = Vec::new();
        loop {
            let (result, next) = self
                .session
                .execute_single_page(&statement, values.clone(), state)
                .await
                .map_err(unavailable)?;
            all.extend(rows_of::<R>(result)?);
            match next {
                PagingStateResponse::HasMorePages { state: s } => state = s,
                PagingStateResponse::NoMorePages => return Ok(all),
            }
        }
    }
}

#[async_trait]
impl RetentionStore for ScyllaStore {
    async fn purge_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cut: &PurgeCut,
        apply: bool,
    ) -> StoreResult<PurgeCounts> {
        let mut counts = PurgeCounts::default();
        let Some(horizon) = cut.horizon() else {
            return Ok(counts);
        };
        let (t, c) = (tenant.as_str(), conversation.as_str());
        let st = &self.retention;
        let mut buckets: Vec<(i64,)> = self.all_pages(&st.buckets, (t, c)).await?;
        buckets.retain(|(b,)| *b <= day_bucket(horizon));
        buckets.sort();
        for (bucket,) in buckets {
            let mut rows: Vec<DueRow> = self.all_pages(&st.due, (t, c, bucket, horizon)).await?;
            rows.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
            let mut removed_here = false;
            for (at_ms, key, wamid, kind, body, raw) in rows {
                let (whole, strip) = match cut.fate(at_ms, &kind, body.is_some(), &raw) {
                    Fate::Keep => continue,
                    Fate::Held => {
                        counts.held += 1;
                        continue;
                    }
                    Fate::Purge { whole, strip, file } => {
                        counts.media.extend(file);
                        (whole, strip)
                    }
                };
                if whole {
                    if apply {
                        if let Some(words) = &body {
                            self.unindex_text(t, &key, at_ms, words).await?;
                        }
                        self.exec(&self.contacts.delete_key, (t, key.as_str()))
                            .await?;
                        self.exec(&self.contacts.delete_statuses, (t, wamid.as_str()))
                            .await?;
                        self.exec(&st.delete_message, (t, c, bucket, at_ms, key.as_str()))
                            .await?;
                        removed_here = true;
                    }
                    counts.removed.push(key);
                } else if strip {
                    if apply {
                        if let Some(words) = &body {
                            self.unindex_text(t, &key, at_ms, words).await?;
                        }
                        self.exec(
                            &st.strip,
                            (skeleton(&kind, &raw), t, c, bucket, at_ms, key.as_str()),
                        )
                        .await?;
                    }
                    counts.cleared.push(key);
                }
            }
            if removed_here {
                let left: Vec<(String,)> = rows_of(
                    self.session
                        .execute_unpaged(&st.any_in_bucket, (t, c, bucket))
                        .await
                        .map_err(unavailable)?,
                )?;
                if left.is_empty() {
                    self.exec(&st.delete_bucket, (t, c, bucket)).await?;
                }
            }
        }
        Ok(counts)
    }

    async fn purge_audit(
        &self,
        tenant: &TenantId,
        before: UnixMillis,
        apply: bool,
    ) -> StoreResult<u64> {
        let t = tenant.as_str();
        let st = &self.retention;
        let days: Vec<(i64,)> = self
            .all_pages(&st.audit_days, (t, day_bucket(before)))
            .await?;
        let mut lines = 0u64;
        for (day,) in days {
            let ids: Vec<(String,)> = self.all_pages(&st.audit_count, (t, day)).await?;
            lines += ids.len() as u64;
            if apply {
                self.exec(&st.delete_audit_day, (t, day)).await?;
                self.exec(&st.delete_audit_bucket, (t, day)).await?;
            }
        }
        Ok(lines)
    }

    async fn purge_journal(&self, _before: UnixMillis) -> StoreResult<u64> {
        Ok(0)
    }
}
