//! Conversations' inbox state (threads, with an index of the open ones), internal notes and
//! agents' routing profiles.

use async_trait::async_trait;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::{ConversationId, PhoneNumberId, TenantId, UserId, WaId, Wamid};

use super::identity::AuditRow;
use super::{unavailable, Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::{decode_list, encode_list};

use crate::store::{check_limit, InboxStore, StoreError, StoreResult};

row! {
    /// A conversation's inbox state (`threads_by_id`); tags as a JSON list.
    struct ThreadRow {
        tenant: String,
        conversation_id: String,
        number: String,
        customer: String,
        state: String,
        assignee: Option<String>,
        last_agent: Option<String>,
        tags: String,
        waiting_since: Option<i64>,
        last_inbound_at: Option<i64>,
        last_inbound_wamid: Option<String>,
        opened_at: i64,
        updated_at: i64,
        first_response_at: Option<i64>,
        first_responder: Option<String>,
        messages_in: Option<i32>,
        messages_out: Option<i32>,
        survey: Option<String>,
    }
}

row! {
    /// A conversation's episode, for reports (`episodes_by_day`).
    struct EpisodeRow {
        tenant: String,
        day: i64,
        conversation_id: String,
        opened_at: i64,
        number: String,
        country: Option<String>,
        agent: Option<String>,
        first_response_at: Option<i64>,
        first_responder: Option<String>,
        resolved_at: Option<i64>,
        messages_in: i32,
        messages_out: i32,
        survey: Option<String>,
    }
}

impl EpisodeRow {
    fn of(e: &EpisodeRecord) -> Self {
        Self {
            tenant: e.tenant.as_str().to_owned(),
            day: day_bucket(e.opened_at),
            conversation_id: e.conversation.as_str().to_owned(),
            opened_at: e.opened_at,
            number: e.number.as_str().to_owned(),
            country: e.country.clone(),
            agent: e.agent.as_ref().map(|u| u.as_str().to_owned()),
            first_response_at: e.first_response_at,
            first_responder: e.first_responder.as_ref().map(|u| u.as_str().to_owned()),
            resolved_at: e.resolved_at,
            messages_in: count_cell(e.messages_in),
            messages_out: count_cell(e.messages_out),
            survey: e.survey.as_ref().map(SurveyState::encode),
        }
    }

    fn into_record(self) -> StoreResult<EpisodeRecord> {
        Ok(EpisodeRecord {
            tenant: TenantId::new(self.tenant),
            conversation: ConversationId::new(self.conversation_id),
            opened_at: self.opened_at,
            number: PhoneNumberId::new(self.number),
            country: self.country,
            agent: self.agent.map(UserId::new),
            first_response_at: self.first_response_at,
            first_responder: self.first_responder.map(UserId::new),
            resolved_at: self.resolved_at,
            messages_in: count_of(self.messages_in),
            messages_out: count_of(self.messages_out),
            survey: SurveyState::decode(self.survey.as_deref()).map_err(StoreError::Corrupt)?,
        })
    }
}

/// A count as CQL's `int` (counts past 2^31 stay at the maximum).
fn count_cell(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn count_of(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

impl ThreadRow {
    fn of(t: &ThreadRecord) -> Self {
        Self {
            tenant: t.tenant.as_str().to_owned(),
            conversation_id: t.conversation.as_str().to_owned(),
            number: t.number.as_str().to_owned(),
            customer: t.customer.as_str().to_owned(),
            state: t.state.as_str().to_owned(),
            assignee: t.assignee.as_ref().map(|u| u.as_str().to_owned()),
            last_agent: t.last_agent.as_ref().map(|u| u.as_str().to_owned()),
            tags: encode_list(&t.tags),
            waiting_since: t.waiting_since,
            last_inbound_at: t.last_inbound_at,
            last_inbound_wamid: t.last_inbound_wamid.as_ref().map(|w| w.as_str().to_owned()),
            opened_at: t.opened_at,
            updated_at: t.updated_at,
            first_response_at: t.episode.first_response_at,
            first_responder: t
                .episode
                .first_responder
                .as_ref()
                .map(|u| u.as_str().to_owned()),
            messages_in: Some(count_cell(t.episode.messages_in)),
            messages_out: Some(count_cell(t.episode.messages_out)),
            survey: t.episode.survey.as_ref().map(SurveyState::encode),
        }
    }

    fn into_record(self) -> StoreResult<ThreadRecord> {
        Ok(ThreadRecord {
            tenant: TenantId::new(self.tenant),
            conversation: ConversationId::new(self.conversation_id),
            number: PhoneNumberId::new(self.number),
            customer: WaId::new(self.customer),
            state: ThreadState::parse(&self.state)
                .ok_or_else(|| StoreError::Corrupt(format!("thread state `{}`", self.state)))?,
            assignee: self.assignee.map(UserId::new),
            last_agent: self.last_agent.map(UserId::new),
            tags: decode_list(&self.tags)?,
            waiting_since: self.waiting_since,
            last_inbound_at: self.last_inbound_at,
            last_inbound_wamid: self.last_inbound_wamid.map(Wamid::new),
            opened_at: self.opened_at,
            updated_at: self.updated_at,
            episode: EpisodeFigures {
                first_response_at: self.first_response_at,
                first_responder: self.first_responder.map(UserId::new),
                messages_in: self.messages_in.map_or(0, count_of),
                messages_out: self.messages_out.map_or(0, count_of),
                survey: SurveyState::decode(self.survey.as_deref()).map_err(StoreError::Corrupt)?,
            },
        })
    }
}

row! {
    /// An internal note (`notes_by_conversation`); mentions as a JSON list.
    struct NoteRow {
        at_ms: i64,
        note_id: String,
        author: Option<String>,
        author_name: String,
        text: String,
        mentions: String,
    }
}

row! {
    /// An agent's routing profile (`agent_profiles_by_tenant`); skills as a JSON list.
    struct ProfileRow {
        user_id: String,
        skills: String,
        capacity: Option<i32>,
        updated_at: i64,
    }
}

/// Statements of threads, notes and profiles.
pub(super) struct Statements {
    put_thread: PreparedStatement,
    put_episode: PreparedStatement,
    episodes_of_day: PreparedStatement,
    index_open_thread: PreparedStatement,
    unindex_open_thread: PreparedStatement,
    index_thread_day: PreparedStatement,
    thread_ids_of_day: PreparedStatement,
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
                    "INSERT INTO {ks}.threads_by_id ({}) VALUES ({})",
                    ThreadRow::COLUMNS,
                    super::markers(ThreadRow::COLUMNS)
                ),
                true).await?,
            put_episode: p.prepare(format!(
                    "INSERT INTO {ks}.episodes_by_day ({}) VALUES ({})",
                    EpisodeRow::COLUMNS,
                    super::markers(EpisodeRow::COLUMNS)
                ),
                true).await?,
            episodes_of_day: p.prepare(format!(
                    "SELECT {} FROM {ks}.episodes_by_day WHERE tenant = ? AND day = ?
                       AND (conversation_id, opened_at) > (?, ?) LIMIT ?",
                    EpisodeRow::COLUMNS
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
            index_thread_day: p.prepare(format!(
                    "INSERT INTO {ks}.threads_by_day (tenant, day, conversation_id) VALUES (?, ?, ?)"
                ),
                true).await?,
            thread_ids_of_day: p.prepare(format!(
                    "SELECT conversation_id FROM {ks}.threads_by_day
                     WHERE tenant = ? AND day = ? AND conversation_id > ? LIMIT ?"
                ),
                true).await?,
            get_thread: p.prepare(format!(
                    "SELECT {} FROM {ks}.threads_by_id WHERE tenant = ? AND conversation_id = ?",
                    ThreadRow::COLUMNS
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
                    "SELECT {} FROM {ks}.notes_by_conversation
                     WHERE tenant = ? AND conversation_id = ? LIMIT ?",
                    NoteRow::COLUMNS
                ),
                true).await?,
            notes_before: p.prepare(format!(
                    "SELECT {} FROM {ks}.notes_by_conversation WHERE tenant = ? AND conversation_id = ?
                       AND (at_ms, note_id) < (?, ?) LIMIT ?",
                    NoteRow::COLUMNS
                ),
                true).await?,
            put_profile: p.prepare(format!(
                    "INSERT INTO {ks}.agent_profiles_by_tenant (tenant, user_id, skills, capacity,
                       updated_at) VALUES (?, ?, ?, ?, ?)"
                ),
                true).await?,
            profiles_after: p.prepare(format!(
                    "SELECT {} FROM {ks}.agent_profiles_by_tenant WHERE tenant = ? AND user_id > ? LIMIT ?",
                    ProfileRow::COLUMNS
                ),
                true).await?,
        })
    }
}

#[async_trait]
impl InboxStore for ScyllaStore {
    async fn put_thread(&self, t: &ThreadRecord, audit: Option<&AuditRecord>) -> StoreResult<()> {
        let row = ThreadRow::of(t);
        let key = (t.tenant.as_str(), t.conversation.as_str());
        let mut batch = Batch::new(BatchType::Logged);
        batch.append_statement(self.inbox.put_thread.clone());
        batch.append_statement(if t.is_open() {
            self.inbox.index_open_thread.clone()
        } else {
            self.inbox.unindex_open_thread.clone()
        });
        // The archive's entry for the day of this write (an upsert; earlier days' entries stay
        // and are skipped by the archive's read, which keeps a conversation on its last day).
        batch.append_statement(self.inbox.index_thread_day.clone());
        let day = (
            t.tenant.as_str(),
            day_bucket(t.updated_at),
            t.conversation.as_str(),
        );
        // The episode's row, whole: the same write again is the same row.
        batch.append_statement(self.inbox.put_episode.clone());
        let episode = EpisodeRow::of(&t.episode_record());
        let result = match audit {
            Some(a) => {
                batch.append_statement(self.identity.insert_audit.clone());
                batch.append_statement(self.identity.insert_audit_bucket.clone());
                let bucket = (a.tenant.as_str(), day_bucket(a.at_ms));
                self.session
                    .batch(&batch, (row, key, day, episode, AuditRow::of(a), bucket))
                    .await
            }
            None => self.session.batch(&batch, (row, key, day, episode)).await,
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
        .map(ThreadRow::into_record)
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
                items.push(row.into_record()?);
            }
        }
        let next = (ids.len() == limit)
            .then(|| ids.last().map(|(id,)| Cursor::after_text(id)))
            .flatten();
        Ok(Page { items, next })
    }
    async fn threads_by_activity(
        &self,
        tenant: &TenantId,
        days: std::ops::Range<i64>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ThreadRecord>> {
        let limit = check_limit(limit)?;
        let (mut day, mut after) = Cursor::decode_day(cursor, days.end - 1)?;
        let mut items: Vec<ThreadRecord> = Vec::with_capacity(limit);
        // Day partitions newest first; within one, ids in pages of what the page still needs.
        while day >= days.start && day < days.end && items.len() < limit {
            let wanted = limit - items.len();
            let ids: Vec<(String,)> = self
                .rows(
                    &self.inbox.thread_ids_of_day,
                    (tenant.as_str(), day, after.as_str(), wanted as i32),
                )
                .await?;
            let reads = ids.iter().map(|(id,)| {
                self.one::<ThreadRow>(&self.inbox.get_thread, (tenant.as_str(), id.as_str()))
            });
            for row in futures_util::future::join_all(reads).await {
                let Some(row) = row? else { continue };
                let thread = row.into_record()?;
                // Listed on its last day only: an entry of an earlier day is stale.
                if day_bucket(thread.updated_at) == day {
                    items.push(thread);
                }
            }
            match ids.last() {
                Some((id,)) if ids.len() == wanted => after = id.clone(),
                _ => {
                    day -= 1;
                    after.clear();
                }
            }
        }
        Ok(Page::of(items, limit, Cursor::after_day))
    }

    async fn episodes(
        &self,
        tenant: &TenantId,
        days: std::ops::Range<i64>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<EpisodeRecord>> {
        let limit = check_limit(limit)?;
        let (mut day, mut opened, mut after) = match cursor {
            Some(c) => c.decode_history()?,
            None => (days.start, i64::MIN, String::new()),
        };
        let mut items = Vec::with_capacity(limit);
        // Day partitions oldest first; within one, in pages of what the page still needs.
        while day >= days.start && day < days.end && items.len() < limit {
            let wanted = limit - items.len();
            let rows: Vec<EpisodeRow> = self
                .rows(
                    &self.inbox.episodes_of_day,
                    (tenant.as_str(), day, after.as_str(), opened, wanted as i32),
                )
                .await?;
            let full = rows.len() == wanted;
            if let Some(last) = rows.last() {
                (after, opened) = (last.conversation_id.clone(), last.opened_at);
            }
            for row in rows {
                items.push(row.into_record()?);
            }
            if !full {
                day += 1;
                (after, opened) = (String::new(), i64::MIN);
            }
        }
        Ok(Page::of(items, limit, |e: &EpisodeRecord| {
            Cursor::history(
                day_bucket(e.opened_at),
                e.opened_at,
                e.conversation.as_str(),
            )
        }))
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
        let rows: Vec<NoteRow> = match cursor {
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
            .map(|r| {
                Ok(NoteRecord {
                    tenant: tenant.clone(),
                    conversation: conversation.clone(),
                    id: r.note_id,
                    author: r.author.map(UserId::new),
                    author_name: r.author_name,
                    text: r.text,
                    mentions: decode_list(&r.mentions)?
                        .into_iter()
                        .map(UserId::new)
                        .collect(),
                    at_ms: r.at_ms,
                })
            })
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
            .batch(&batch, (row, AuditRow::of(audit), bucket))
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
        let rows: Vec<ProfileRow> = self
            .rows(
                &self.inbox.profiles_after,
                (tenant.as_str(), after, limit as i32),
            )
            .await?;
        let items = rows
            .into_iter()
            .map(|r| {
                Ok(ProfileRecord {
                    tenant: tenant.clone(),
                    user: UserId::new(r.user_id),
                    skills: decode_list(&r.skills)?,
                    capacity: r.capacity.map(|c| c.max(0) as u32),
                    updated_at: r.updated_at,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::of(items, limit, |p| {
            Cursor::after_text(p.user.as_str())
        }))
    }
}
