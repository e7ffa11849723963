//! Conversations' inbox state (threads), internal notes and agents' routing profiles.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use switchboard_shared::{ConversationId, PhoneNumberId, TenantId, UserId, WaId, Wamid};

use super::identity::insert_audit;
use super::{unavailable, List, SqliteStore};
use crate::domain::*;
use crate::store::encode_list;
use crate::store::page::*;

use crate::store::{check_limit, InboxStore, StoreResult};

pub(super) fn put_thread(
    conn: &Connection,
    t: &ThreadRecord,
    episode: &EpisodeRecord,
    audit: Option<&AuditRecord>,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO threads_by_id (tenant, conversation_id, number, customer, state,
           assignee, last_agent, tags, waiting_since, last_inbound_at, last_inbound_wamid,
           opened_at, updated_at, open, first_response_at, first_responder, messages_in,
           messages_out, survey)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
           ?19)
         ON CONFLICT (tenant, conversation_id) DO UPDATE SET number = excluded.number,
           customer = excluded.customer, state = excluded.state,
           assignee = excluded.assignee, last_agent = excluded.last_agent,
           tags = excluded.tags, waiting_since = excluded.waiting_since,
           last_inbound_at = excluded.last_inbound_at,
           last_inbound_wamid = excluded.last_inbound_wamid,
           opened_at = excluded.opened_at, updated_at = excluded.updated_at,
           open = excluded.open, first_response_at = excluded.first_response_at,
           first_responder = excluded.first_responder, messages_in = excluded.messages_in,
           messages_out = excluded.messages_out, survey = excluded.survey",
    )
    .and_then(|mut st| {
        st.execute(params![
            t.tenant.as_str(),
            t.conversation.as_str(),
            t.number.as_str(),
            t.customer.as_str(),
            t.state.as_str(),
            t.assignee.as_ref().map(UserId::as_str),
            t.last_agent.as_ref().map(UserId::as_str),
            encode_list(&t.tags.iter().map(String::as_str).collect::<Vec<_>>()),
            t.waiting_since,
            t.last_inbound_at,
            t.last_inbound_wamid.as_ref().map(Wamid::as_str),
            t.opened_at,
            t.updated_at,
            t.is_open(),
            t.episode.first_response_at,
            t.episode.first_responder.as_ref().map(UserId::as_str),
            t.episode.messages_in,
            t.episode.messages_out,
            t.episode.survey.as_ref().map(SurveyState::encode)
        ])
    })
    .map_err(unavailable)?;
    put_episode(conn, episode)?;
    if let Some(audit) = audit {
        insert_audit(conn, audit)?;
    }
    Ok(())
}

fn put_episode(conn: &Connection, e: &EpisodeRecord) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO episodes (tenant, day, conversation_id, opened_at, number,
           country, agent, first_response_at, first_responder, resolved_at, messages_in,
           messages_out, survey)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )
    .and_then(|mut st| {
        st.execute(params![
            e.tenant.as_str(),
            day_bucket(e.opened_at),
            e.conversation.as_str(),
            e.opened_at,
            e.number.as_str(),
            e.country,
            e.agent.as_ref().map(UserId::as_str),
            e.first_response_at,
            e.first_responder.as_ref().map(UserId::as_str),
            e.resolved_at,
            e.messages_in,
            e.messages_out,
            e.survey.as_ref().map(SurveyState::encode)
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

/// The columns an episode is read from.
const EPISODE_COLUMNS: &str = "tenant, day, conversation_id, opened_at, number, country, agent, \
    first_response_at, first_responder, resolved_at, messages_in, messages_out, survey";

/// The `survey` column, as JSON.
fn survey_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<SurveyState>> {
    decode_survey(r.get("survey")?)
}

fn decode_survey(text: Option<String>) -> rusqlite::Result<Option<SurveyState>> {
    SurveyState::decode(text.as_deref()).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into())
    })
}

/// Where each of [`EPISODE_COLUMNS`] is in a statement's result, found by name once per query
/// (a report reads millions of rows; looking each name up per row was a third of its time).
struct EpisodeColumns([usize; 12]);

impl EpisodeColumns {
    const NAMES: [&'static str; 12] = [
        "tenant",
        "conversation_id",
        "opened_at",
        "number",
        "country",
        "agent",
        "first_response_at",
        "first_responder",
        "resolved_at",
        "messages_in",
        "messages_out",
        "survey",
    ];

    fn of(st: &rusqlite::Statement<'_>) -> rusqlite::Result<Self> {
        let mut at = [0; 12];
        for (slot, name) in at.iter_mut().zip(Self::NAMES) {
            *slot = st.column_index(name)?;
        }
        Ok(Self(at))
    }

    fn read(&self, r: &rusqlite::Row<'_>) -> rusqlite::Result<EpisodeRecord> {
        let [tenant, conversation, opened_at, number, country, agent, first_response_at, first_responder, resolved_at, messages_in, messages_out, survey] =
            self.0;
        Ok(EpisodeRecord {
            tenant: TenantId::new(r.get::<_, String>(tenant)?),
            conversation: ConversationId::new(r.get::<_, String>(conversation)?),
            opened_at: r.get(opened_at)?,
            number: PhoneNumberId::new(r.get::<_, String>(number)?),
            country: r.get(country)?,
            agent: r.get::<_, Option<String>>(agent)?.map(UserId::new),
            first_response_at: r.get(first_response_at)?,
            first_responder: r
                .get::<_, Option<String>>(first_responder)?
                .map(UserId::new),
            resolved_at: r.get(resolved_at)?,
            messages_in: r.get(messages_in)?,
            messages_out: r.get(messages_out)?,
            survey: decode_survey(r.get::<_, Option<String>>(survey)?)?,
        })
    }
}

pub(super) fn add_note(conn: &Connection, n: &NoteRecord) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO notes_by_conversation (tenant, conversation_id, at_ms, note_id, author,
           author_name, text, mentions) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT DO NOTHING",
    )
    .and_then(|mut st| {
        st.execute(params![
            n.tenant.as_str(),
            n.conversation.as_str(),
            n.at_ms,
            n.id,
            n.author.as_ref().map(UserId::as_str),
            n.author_name,
            n.text,
            encode_list(&n.mentions.iter().map(UserId::as_str).collect::<Vec<_>>())
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

pub(super) fn put_profile(
    conn: &Connection,
    p: &ProfileRecord,
    audit: &AuditRecord,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO agent_profiles_by_tenant (tenant, user_id, skills, capacity, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant, user_id) DO UPDATE SET skills = excluded.skills,
           capacity = excluded.capacity, updated_at = excluded.updated_at",
    )
    .and_then(|mut st| {
        st.execute(params![
            p.tenant.as_str(),
            p.user.as_str(),
            encode_list(&p.skills),
            p.capacity,
            p.updated_at
        ])
    })
    .map_err(unavailable)?;
    insert_audit(conn, audit)?;
    Ok(())
}

/// The columns a thread is read from.
const THREAD_COLUMNS: &str = "tenant, conversation_id, number, customer, state, assignee, \
    last_agent, tags, waiting_since, last_inbound_at, last_inbound_wamid, opened_at, updated_at, \
    first_response_at, first_responder, messages_in, messages_out, survey";

/// A thread from its row, by column name.
fn thread_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<ThreadRecord> {
    Ok(ThreadRecord {
        tenant: TenantId::new(r.get::<_, String>("tenant")?),
        conversation: ConversationId::new(r.get::<_, String>("conversation_id")?),
        number: PhoneNumberId::new(r.get::<_, String>("number")?),
        customer: WaId::new(r.get::<_, String>("customer")?),
        state: r.get("state")?,
        assignee: r.get::<_, Option<String>>("assignee")?.map(UserId::new),
        last_agent: r.get::<_, Option<String>>("last_agent")?.map(UserId::new),
        tags: r.get::<_, List>("tags")?.0,
        waiting_since: r.get("waiting_since")?,
        last_inbound_at: r.get("last_inbound_at")?,
        last_inbound_wamid: r
            .get::<_, Option<String>>("last_inbound_wamid")?
            .map(Wamid::new),
        opened_at: r.get("opened_at")?,
        updated_at: r.get("updated_at")?,
        episode: EpisodeFigures {
            first_response_at: r.get("first_response_at")?,
            first_responder: r
                .get::<_, Option<String>>("first_responder")?
                .map(UserId::new),
            messages_in: r.get("messages_in")?,
            messages_out: r.get("messages_out")?,
            survey: survey_from(r)?,
        },
    })
}

#[async_trait]
impl InboxStore for SqliteStore {
    async fn put_thread(
        &self,
        thread: &ThreadRecord,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<()> {
        let (t, audit) = (thread.clone(), audit.cloned());
        // Read off the writer thread: the country is a parse of the customer's number.
        let episode = t.episode_record();
        self.write(move |conn, _| put_thread(conn, &t, &episode, audit.as_ref()))
            .await
    }

    async fn get_thread(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Option<ThreadRecord>> {
        let (tenant, conversation) = (tenant.clone(), conversation.clone());
        let row = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {THREAD_COLUMNS} FROM threads_by_id
                     WHERE tenant = ?1 AND conversation_id = ?2"
                ))
                .and_then(|mut s| {
                    s.query_row(params![tenant.as_str(), conversation.as_str()], thread_from)
                        .optional()
                })
                .map_err(unavailable)
            })
            .await?;
        Ok(row)
    }

    async fn open_threads(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ThreadRecord>> {
        let limit = check_limit(limit)?;
        let after = Cursor::decode_text(cursor)?;
        let tenant = tenant.clone();
        let rows = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {THREAD_COLUMNS} FROM threads_by_id
                     WHERE tenant = ?1 AND open = 1 AND conversation_id > ?2
                     ORDER BY conversation_id LIMIT ?3"
                ))
                .and_then(|mut s| {
                    s.query_map(params![tenant.as_str(), after, limit as i64], thread_from)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        Ok(Page::of(rows, limit, |t| {
            Cursor::after_text(t.conversation.as_str())
        }))
    }
    async fn threads_by_activity(
        &self,
        tenant: &TenantId,
        days: std::ops::Range<i64>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ThreadRecord>> {
        let limit = check_limit(limit)?;
        // Before the cursor: an earlier day, or the same day and a later id.
        let (day, after) = Cursor::decode_day(cursor, days.end)?;
        let tenant = tenant.clone();
        let rows = self
            .read(move |conn| {
                // The expression is the index's (threads_by_activity_day), written the same way.
                conn.prepare_cached(&format!(
                    "SELECT {THREAD_COLUMNS} FROM threads_by_id
                     WHERE tenant = ?1
                       AND updated_at / 86400000 >= ?2 AND updated_at / 86400000 < ?3
                       AND (updated_at / 86400000 < ?4
                            OR (updated_at / 86400000 = ?4 AND conversation_id > ?5))
                     ORDER BY updated_at / 86400000 DESC, conversation_id LIMIT ?6"
                ))
                .and_then(|mut s| {
                    s.query_map(
                        params![
                            tenant.as_str(),
                            days.start,
                            days.end,
                            day,
                            after,
                            limit as i64
                        ],
                        thread_from,
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        Ok(Page::of(rows, limit, Cursor::after_day))
    }

    async fn episodes(
        &self,
        tenant: &TenantId,
        days: std::ops::Range<i64>,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<EpisodeRecord>> {
        let limit = check_limit(limit)?;
        let (day, opened, after) = match cursor {
            Some(c) => c.decode_history()?,
            None => (days.start, i64::MIN, String::new()),
        };
        let tenant = tenant.clone();
        let rows = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {EPISODE_COLUMNS} FROM episodes
                     WHERE tenant = ?1 AND day < ?2 AND (day, conversation_id, opened_at) > (?3, ?4, ?5)
                     ORDER BY day, conversation_id, opened_at LIMIT ?6"
                ))
                .and_then(|mut s| {
                    let columns = EpisodeColumns::of(&s)?;
                    s.query_map(
                        params![tenant.as_str(), days.end, day, after, opened, limit as i64],
                        |r| columns.read(r),
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        Ok(Page::of(rows, limit, |e: &EpisodeRecord| {
            Cursor::history(
                day_bucket(e.opened_at),
                e.opened_at,
                e.conversation.as_str(),
            )
        }))
    }

    async fn add_note(&self, note: &NoteRecord) -> StoreResult<()> {
        let n = note.clone();
        self.write(move |conn, _| add_note(conn, &n)).await
    }

    async fn notes(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<NoteRecord>> {
        let limit = check_limit(limit)?;
        let (before_at, before_id) = match cursor {
            Some(c) => {
                let (_, at, id) = c.decode_history()?;
                (at, id)
            }
            None => (i64::MAX, String::new()),
        };
        let (t, c) = (tenant.clone(), conversation.clone());
        let items: Vec<NoteRecord> = self
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT at_ms, note_id, author, author_name, text, mentions
                     FROM notes_by_conversation WHERE tenant = ?1 AND conversation_id = ?2
                       AND (at_ms < ?3 OR (at_ms = ?3 AND note_id < ?4))
                     ORDER BY at_ms DESC, note_id DESC LIMIT ?5",
                )
                .and_then(|mut s| {
                    s.query_map(
                        params![t.as_str(), c.as_str(), before_at, before_id, limit as i64],
                        |r| {
                            Ok(NoteRecord {
                                tenant: t.clone(),
                                conversation: c.clone(),
                                id: r.get("note_id")?,
                                author: r.get::<_, Option<String>>("author")?.map(UserId::new),
                                author_name: r.get("author_name")?,
                                text: r.get("text")?,
                                mentions: r.get::<_, List>("mentions")?.of(),
                                at_ms: r.get("at_ms")?,
                            })
                        },
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        Ok(Page::of(items, limit, |n| {
            Cursor::history(0, n.at_ms, &n.id)
        }))
    }

    async fn put_profile(&self, profile: &ProfileRecord, audit: &AuditRecord) -> StoreResult<()> {
        let (p, audit) = (profile.clone(), audit.clone());
        self.write(move |conn, _| put_profile(conn, &p, &audit))
            .await
    }

    async fn profiles(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ProfileRecord>> {
        let limit = check_limit(limit)?;
        let after = Cursor::decode_text(cursor)?;
        let t = tenant.clone();
        let items: Vec<ProfileRecord> = self
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT user_id, skills, capacity, updated_at FROM agent_profiles_by_tenant
                     WHERE tenant = ?1 AND user_id > ?2 ORDER BY user_id LIMIT ?3",
                )
                .and_then(|mut s| {
                    s.query_map(params![t.as_str(), after, limit as i64], |r| {
                        Ok(ProfileRecord {
                            tenant: t.clone(),
                            user: UserId::new(r.get::<_, String>("user_id")?),
                            skills: r.get::<_, List>("skills")?.0,
                            capacity: r.get("capacity")?,
                            updated_at: r.get("updated_at")?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        Ok(Page::of(items, limit, |p| {
            Cursor::after_text(p.user.as_str())
        }))
    }
}
