//! Conversations' inbox state (threads, with an index of the open ones), internal notes and
//! agents' routing profiles.

use async_trait::async_trait;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::{ConversationId, TenantId, UserId, Wamid};

use super::identity::audit_values;
use super::{unavailable, Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::rows::*;
use crate::store::{check_limit, InboxStore, StoreResult};

/// Statements of threads, notes and profiles.
pub(super) struct Statements {
    put_thread: PreparedStatement,
    index_open_thread: PreparedStatement,
    unindex_open_thread: PreparedStatement,
    get_thread: PreparedStatement,
    open_thread_ids: PreparedStatement,
    add_note: PreparedStatement,
    notes_first: PreparedStatement,
    notes_before: PreparedStatement,
    put_profile: PreparedStatement,
    profiles_after: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        Ok(Self {
            put_thread: p.prepare(format!(
                    "INSERT INTO {ks}.threads_by_id ({THREAD_COLUMNS})
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                true).await?,
            index_open_thread: p.prepare(format!(
                    "INSERT INTO {ks}.open_threads_by_tenant (tenant, conversation_id) VALUES (?, ?)"
                ),
                true).await?,
            unindex_open_thread: p.prepare(format!(
                    "DELETE FROM {ks}.open_threads_by_tenant WHERE tenant = ? AND conversation_id = ?"
                ),
                true).await?,
            get_thread: p.prepare(format!(
                    "SELECT {THREAD_COLUMNS} FROM {ks}.threads_by_id
                     WHERE tenant = ? AND conversation_id = ?"
                ),
                true).await?,
            open_thread_ids: p.prepare(format!(
                    "SELECT conversation_id FROM {ks}.open_threads_by_tenant
                     WHERE tenant = ? AND conversation_id > ? LIMIT ?"
                ),
                true).await?,
            add_note: p.prepare(format!(
                    "INSERT INTO {ks}.notes_by_conversation (tenant, conversation_id, at_ms, note_id,
                       author, author_name, text, mentions) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                true).await?,
            notes_first: p.prepare(format!(
                    "SELECT at_ms, note_id, author, author_name, text, mentions
                     FROM {ks}.notes_by_conversation WHERE tenant = ? AND conversation_id = ? LIMIT ?"
                ),
                true).await?,
            notes_before: p.prepare(format!(
                    "SELECT at_ms, note_id, author, author_name, text, mentions
                     FROM {ks}.notes_by_conversation WHERE tenant = ? AND conversation_id = ?
                       AND (at_ms, note_id) < (?, ?) LIMIT ?"
                ),
                true).await?,
            put_profile: p.prepare(format!(
                    "INSERT INTO {ks}.agent_profiles_by_tenant (tenant, user_id, skills, capacity,
                       updated_at) VALUES (?, ?, ?, ?, ?)"
                ),
                true).await?,
            profiles_after: p.prepare(format!(
                    "SELECT user_id, skills, capacity, updated_at FROM {ks}.agent_profiles_by_tenant
                     WHERE tenant = ? AND user_id > ? LIMIT ?"
                ),
                true).await?,
        })
    }
}

#[async_trait]
impl InboxStore for ScyllaStore {
    async fn put_thread(&self, t: &ThreadRecord, audit: Option<&AuditRecord>) -> StoreResult<()> {
        let tags: Vec<&str> = t.tags.iter().map(String::as_str).collect();
        let row = (
            t.tenant.as_str(),
            t.conversation.as_str(),
            t.number.as_str(),
            t.customer.as_str(),
            t.state.as_str(),
            t.assignee.as_ref().map(UserId::as_str),
            t.last_agent.as_ref().map(UserId::as_str),
            encode_list(&tags),
            t.waiting_since,
            t.last_inbound_at,
            t.last_inbound_wamid.as_ref().map(Wamid::as_str),
            t.opened_at,
            t.updated_at,
        );
        let key = (t.tenant.as_str(), t.conversation.as_str());
        let mut batch = Batch::new(BatchType::Logged);
        batch.append_statement(self.inbox.put_thread.clone());
        batch.append_statement(if t.is_open() {
            self.inbox.index_open_thread.clone()
        } else {
            self.inbox.unindex_open_thread.clone()
        });
        let result = match audit {
            Some(a) => {
                batch.append_statement(self.identity.insert_audit.clone());
                batch.append_statement(self.identity.insert_audit_bucket.clone());
                let bucket = (a.tenant.as_str(), day_bucket(a.at_ms));
                self.session
                    .batch(&batch, (row, key, audit_values(a), bucket))
                    .await
            }
            None => self.session.batch(&batch, (row, key)).await,
        };
        result.map_err(unavailable)?;
        Ok(())
    }

    async fn get_thread(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Option<ThreadRecord>> {
        self.one::<ThreadRow>(
            &self.inbox.get_thread,
            (tenant.as_str(), conversation.as_str()),
        )
        .await?
        .map(thread_from_row)
        .transpose()
    }

    async fn open_threads(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ThreadRecord>> {
        let limit = check_limit(limit)?;
        let after = Cursor::decode_text(cursor)?;
        let ids: Vec<(String,)> = self
            .rows(
                &self.inbox.open_thread_ids,
                (tenant.as_str(), after, limit as i32),
            )
            .await?;
        // Point reads of one page, concurrently: each is one partition.
        let reads = ids.iter().map(|(id,)| {
            self.one::<ThreadRow>(&self.inbox.get_thread, (tenant.as_str(), id.as_str()))
        });
        let mut items = Vec::with_capacity(ids.len());
        for row in futures_util::future::join_all(reads).await {
            // An index entry whose row is gone is skipped (a torn write cannot happen in a
            // logged batch, but an operator may have deleted rows by hand).
            if let Some(row) = row? {
                items.push(thread_from_row(row)?);
            }
        }
        let next = (ids.len() == limit)
            .then(|| ids.last().map(|(id,)| Cursor::after_text(id)))
            .flatten();
        Ok(Page { items, next })
    }
    async fn add_note(&self, n: &NoteRecord) -> StoreResult<()> {
        let mentions: Vec<&str> = n.mentions.iter().map(UserId::as_str).collect();
        self.session
            .execute_unpaged(
                &self.inbox.add_note,
                (
                    n.tenant.as_str(),
                    n.conversation.as_str(),
                    n.at_ms,
                    n.id.as_str(),
                    n.author.as_ref().map(UserId::as_str),
                    n.author_name.as_str(),
                    n.text.as_str(),
                    encode_list(&mentions),
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn notes(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<NoteRecord>> {
        let limit = check_limit(limit)?;
        let key = (tenant.as_str(), conversation.as_str());
        let rows: Vec<(i64, String, Option<String>, String, String, String)> = match cursor {
            Some(c) => {
                let (_, at, id) = c.decode_history()?;
                self.rows(
                    &self.inbox.notes_before,
                    (key.0, key.1, at, id, limit as i32),
                )
                .await?
            }
            None => {
                self.rows(&self.inbox.notes_first, (key.0, key.1, limit as i32))
                    .await?
            }
        };
        let items = rows
            .into_iter()
            .map(|r| note_from_row(tenant, conversation, r))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::of(items, limit, |n| {
            Cursor::history(0, n.at_ms, &n.id)
        }))
    }

    async fn put_profile(&self, p: &ProfileRecord, audit: &AuditRecord) -> StoreResult<()> {
        let mut batch = Batch::new(BatchType::Logged);
        batch.append_statement(self.inbox.put_profile.clone());
        batch.append_statement(self.identity.insert_audit.clone());
        batch.append_statement(self.identity.insert_audit_bucket.clone());
        let row = (
            p.tenant.as_str(),
            p.user.as_str(),
            encode_list(&p.skills),
            p.capacity.map(|c| i32::try_from(c).unwrap_or(i32::MAX)),
            p.updated_at,
        );
        let bucket = (audit.tenant.as_str(), day_bucket(audit.at_ms));
        self.session
            .batch(&batch, (row, audit_values(audit), bucket))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn profiles(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ProfileRecord>> {
        let limit = check_limit(limit)?;
        let after = Cursor::decode_text(cursor)?;
        let rows: Vec<(String, String, Option<i32>, i64)> = self
            .rows(
                &self.inbox.profiles_after,
                (tenant.as_str(), after, limit as i32),
            )
            .await?;
        let items = rows
            .into_iter()
            .map(|(u, s, c, at)| profile_from_row(tenant, (u, s, c.map(|c| c.max(0) as u32), at)))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::of(items, limit, |p| {
            Cursor::after_text(p.user.as_str())
        }))
    }
}
