//! The ScyllaDB backend, selected with `store.backend = "scylla"`.
//!
//! Every statement is prepared once at connect time into [`Statements`], its CQL beside it.
//! Writes are idempotent upserts keyed by values derived from WhatsApp ids, so a retried webhook
//! (Meta retries for days) converges to the same rows; the journal row is written first so the
//! raw body is durable before anything is interpreted. Reads are bounded pages: history walks the
//! conversation's day buckets newest first; the full scan uses the driver's paging state as the
//! cursor. There are no multi-partition transactions here: a failure midway through a batch leaves
//! rows that the redelivery (the webhook was not acknowledged) completes.

use async_trait::async_trait;
use base64::Engine as _;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::response::{PagingState, PagingStateResponse};
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;
use switchboard_shared::{
    ConversationId, Direction, MessageKey, MessageStatus, PhoneNumberId, TenantId, UserId, WaId,
    Wamid,
};

use super::keys::IdKeys;
use super::page::*;
use super::rows::*;
use crate::domain::*;

use super::{
    check_limit, DirectoryStore, IdentityStore, InboxStore, MessageStore, OutboxStore, StoreError,
    StoreResult, MAX_PAGE,
};

/// Partitions the raw webhook journal spreads each day over (`webhook_journal_by_shard`).
const JOURNAL_SHARDS: i32 = 16;

/// The migrations, in order; every statement is idempotent (`IF NOT EXISTS`).
const SCHEMA: &[&str] = &[
    include_str!("../../../migrations/0001_initial.cql"),
    include_str!("../../../migrations/0002_identity.cql"),
    include_str!("../../../migrations/0003_access.cql"),
    include_str!("../../../migrations/0004_inbox.cql"),
    include_str!("../../../migrations/0005_outbox.cql"),
    include_str!("../../../migrations/0006_notes_profiles.cql"),
    include_str!("../../../migrations/0007_keys.cql"),
    include_str!("../../../migrations/0008_journal.cql"),
];

#[derive(Clone, Debug)]
pub struct ScyllaOptions {
    /// Contact points, `host:port`.
    pub nodes: Vec<String>,
    pub keyspace: String,
    /// CQL replication map, e.g. `{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}`.
    pub replication: String,
}

type MessageRow = (
    String,
    String,
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
);

const MESSAGE_COLUMNS: &str =
    "tenant, conversation_id, bucket, at_ms, message_key, wamid, number, \
                               customer, direction, kind, body, raw";

struct Statements {
    number_owner: PreparedStatement,
    delete_number_by_tenant: PreparedStatement,
    latest_in_second: PreparedStatement,
    conversation_alias: PreparedStatement,
    upsert_tenant: PreparedStatement,
    list_tenants: PreparedStatement,
    upsert_number: PreparedStatement,
    upsert_number_by_tenant: PreparedStatement,
    list_numbers: PreparedStatement,
    insert_journal: PreparedStatement,
    upsert_contact: PreparedStatement,
    lookup_key: PreparedStatement,
    insert_key: PreparedStatement,
    insert_message: PreparedStatement,
    insert_bucket: PreparedStatement,
    upsert_conversation: PreparedStatement,
    insert_status: PreparedStatement,
    latest_status: PreparedStatement,
    insert_event: PreparedStatement,
    insert_event_bucket: PreparedStatement,
    list_buckets: PreparedStatement,
    history_first: PreparedStatement,
    history_after: PreparedStatement,
    get_message: PreparedStatement,
    get_conversation: PreparedStatement,
    get_contact_name: PreparedStatement,
    scan: PreparedStatement,
    list_event_buckets: PreparedStatement,
    events_first: PreparedStatement,
    events_after: PreparedStatement,
    claim_email: PreparedStatement,
    upsert_user_by_tenant: PreparedStatement,
    upsert_user_by_id: PreparedStatement,
    user_by_email: PreparedStatement,
    user_email_by_id: PreparedStatement,
    list_users: PreparedStatement,
    update_user_by_email: PreparedStatement,
}

const USER_COLUMNS: &str =
    "tenant, user_id, email, name, role, password_hash, disabled, created_at, session_epoch";

type UserRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    bool,
    i64,
    i64,
);

fn user_from_row(r: UserRow) -> UserRecord {
    let (tenant, id, email, name, role, password_hash, disabled, created_at, session_epoch) = r;
    UserRecord {
        tenant: TenantId::new(tenant),
        id: UserId::new(id),
        email,
        name,
        role,
        password_hash,
        disabled,
        created_at,
        session_epoch,
    }
}

pub struct ScyllaStore {
    session: Session,
    keys: IdKeys,
    st: Statements,
    ax: AccessStatements,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl ScyllaStore {
    /// Connects, applies the schema (idempotent `IF NOT EXISTS` statements) and prepares every
    /// statement once.
    pub async fn connect(options: &ScyllaOptions) -> StoreResult<Self> {
        let session = SessionBuilder::new()
            .known_nodes(&options.nodes)
            .build()
            .await
            .map_err(unavailable)?;
        check_replication(&session, &options.replication).await?;
        let schema = SCHEMA
            .concat()
            .replace("{keyspace}", &options.keyspace)
            .replace("{replication}", &options.replication);
        for statement in cql_statements(&schema) {
            session
                .query_unpaged(statement, &[])
                .await
                .map_err(|e| StoreError::Unavailable(format!("applying schema: {e}")))?;
        }
        session
            .await_schema_agreement()
            .await
            .map_err(unavailable)?;
        let ks = &options.keyspace;
        let prepare = |cql: String| {
            let session = &session;
            async move {
                let mut p = session
                    .prepare(cql.as_str())
                    .await
                    .map_err(|e| StoreError::Unavailable(format!("preparing `{cql}`: {e}")))?;
                p.set_consistency(Consistency::LocalQuorum);
                Ok::<_, StoreError>(p)
            }
        };
        let idempotent = |mut p: PreparedStatement| {
            p.set_is_idempotent(true);
            p
        };
        let st = Statements {
            upsert_tenant: idempotent(prepare(format!(
                "INSERT INTO {ks}.tenants_by_id (tenant, name, created_at) VALUES (?, ?, ?)"
            ))
            .await?),
            list_tenants: prepare(format!("SELECT tenant, name, created_at FROM {ks}.tenants_by_id"))
                .await?,
            upsert_number: idempotent(prepare(format!(
                "INSERT INTO {ks}.numbers_by_id (phone_number_id, tenant, display_phone_number, waba_id)
                 VALUES (?, ?, ?, ?)"
            ))
            .await?),
            upsert_number_by_tenant: idempotent(prepare(format!(
                "INSERT INTO {ks}.numbers_by_tenant (tenant, phone_number_id, display_phone_number, waba_id)
                 VALUES (?, ?, ?, ?)"
            ))
            .await?),
            number_owner: prepare(format!(
                "SELECT tenant FROM {ks}.numbers_by_id WHERE phone_number_id = ?"
            ))
            .await?,
            delete_number_by_tenant: idempotent(prepare(format!(
                "DELETE FROM {ks}.numbers_by_tenant WHERE tenant = ? AND phone_number_id = ?"
            ))
            .await?),
            list_numbers: prepare(format!(
                "SELECT phone_number_id, display_phone_number, waba_id FROM {ks}.numbers_by_tenant
                 WHERE tenant = ?"
            ))
            .await?,
            insert_journal: idempotent(prepare(format!(
                "INSERT INTO {ks}.webhook_journal_by_shard (day, shard, journal_id, received_at, body)
                 VALUES (?, ?, ?, ?, ?)"
            ))
            .await?),
            upsert_contact: idempotent(prepare(format!(
                "UPDATE {ks}.contacts_by_tenant SET name = ?, user_id = ?, updated_at = ?
                 WHERE tenant = ? AND wa_id = ?"
            ))
            .await?),
            lookup_key: prepare(format!(
                "SELECT conversation_id, bucket, at_ms FROM {ks}.messages_by_key
                 WHERE tenant = ? AND message_key = ?"
            ))
            .await?,
            insert_key: idempotent(prepare(format!(
                "INSERT INTO {ks}.messages_by_key (tenant, message_key, conversation_id, bucket, at_ms)
                 VALUES (?, ?, ?, ?, ?)"
            ))
            .await?),
            insert_message: idempotent(prepare(format!(
                "INSERT INTO {ks}.messages_by_conversation ({MESSAGE_COLUMNS})
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?),
            insert_bucket: idempotent(prepare(format!(
                "INSERT INTO {ks}.buckets_by_conversation (tenant, conversation_id, bucket) VALUES (?, ?, ?)"
            ))
            .await?),
            upsert_conversation: idempotent(prepare(format!(
                "INSERT INTO {ks}.conversations_by_id (tenant, conversation_id, number, customer, last_message_at)
                 VALUES (?, ?, ?, ?, ?) USING TIMESTAMP ?"
            ))
            .await?),
            insert_status: idempotent(prepare(format!(
                "INSERT INTO {ks}.statuses_by_message (tenant, wamid, rank, status, at_ms, error_codes, raw)
                 VALUES (?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?),
            latest_in_second: prepare(format!(
                "SELECT at_ms FROM {ks}.messages_by_conversation
                 WHERE tenant = ? AND conversation_id = ? AND bucket = ? AND at_ms >= ? AND at_ms < ?
                 ORDER BY at_ms DESC LIMIT 1"
            ))
            .await?,
            conversation_alias: prepare(format!(
                "SELECT new_id FROM {ks}.conversation_aliases WHERE tenant = ? AND old_id = ?"
            ))
            .await?,
            latest_status: prepare(format!(
                "SELECT status, at_ms, error_codes FROM {ks}.statuses_by_message
                 WHERE tenant = ? AND wamid = ? LIMIT 1"
            ))
            .await?,
            insert_event: idempotent(prepare(format!(
                "INSERT INTO {ks}.account_events_by_tenant (tenant, bucket, at_ms, event_key, number, field, raw)
                 VALUES (?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?),
            insert_event_bucket: idempotent(prepare(format!(
                "INSERT INTO {ks}.event_buckets_by_tenant (tenant, bucket) VALUES (?, ?)"
            ))
            .await?),
            list_buckets: prepare(format!(
                "SELECT bucket FROM {ks}.buckets_by_conversation
                 WHERE tenant = ? AND conversation_id = ? AND bucket <= ?"
            ))
            .await?,
            history_first: prepare(format!(
                "SELECT {MESSAGE_COLUMNS} FROM {ks}.messages_by_conversation
                 WHERE tenant = ? AND conversation_id = ? AND bucket = ? LIMIT ?"
            ))
            .await?,
            history_after: prepare(format!(
                "SELECT {MESSAGE_COLUMNS} FROM {ks}.messages_by_conversation
                 WHERE tenant = ? AND conversation_id = ? AND bucket = ?
                   AND (at_ms, message_key) < (?, ?) LIMIT ?"
            ))
            .await?,
            get_message: prepare(format!(
                "SELECT {MESSAGE_COLUMNS} FROM {ks}.messages_by_conversation
                 WHERE tenant = ? AND conversation_id = ? AND bucket = ? AND at_ms = ? AND message_key = ?"
            ))
            .await?,
            get_conversation: prepare(format!(
                "SELECT number, customer, last_message_at FROM {ks}.conversations_by_id
                 WHERE tenant = ? AND conversation_id = ?"
            ))
            .await?,
            get_contact_name: prepare(format!(
                "SELECT name FROM {ks}.contacts_by_tenant WHERE tenant = ? AND wa_id = ?"
            ))
            .await?,
            scan: prepare(format!("SELECT {MESSAGE_COLUMNS} FROM {ks}.messages_by_conversation")).await?,
            list_event_buckets: prepare(format!(
                "SELECT bucket FROM {ks}.event_buckets_by_tenant WHERE tenant = ? AND bucket <= ?"
            ))
            .await?,
            events_first: prepare(format!(
                "SELECT number, field, at_ms, raw, event_key FROM {ks}.account_events_by_tenant
                 WHERE tenant = ? AND bucket = ? LIMIT ?"
            ))
            .await?,
            events_after: prepare(format!(
                "SELECT number, field, at_ms, raw, event_key FROM {ks}.account_events_by_tenant
                 WHERE tenant = ? AND bucket = ? AND (at_ms, event_key) < (?, ?) LIMIT ?"
            ))
            .await?,
            claim_email: prepare(format!(
                "INSERT INTO {ks}.users_by_email ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                 IF NOT EXISTS"
            ))
            .await?,
            upsert_user_by_tenant: idempotent(prepare(format!(
                "INSERT INTO {ks}.users_by_tenant ({USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ))
            .await?),
            upsert_user_by_id: idempotent(prepare(format!(
                "INSERT INTO {ks}.users_by_id (tenant, user_id, email) VALUES (?, ?, ?)"
            ))
            .await?),
            user_by_email: prepare(format!(
                "SELECT {USER_COLUMNS} FROM {ks}.users_by_email WHERE email = ?"
            ))
            .await?,
            user_email_by_id: prepare(format!(
                "SELECT email FROM {ks}.users_by_id WHERE tenant = ? AND user_id = ?"
            ))
            .await?,
            list_users: prepare(format!(
                "SELECT {USER_COLUMNS} FROM {ks}.users_by_tenant WHERE tenant = ? AND email > ? LIMIT ?"
            ))
            .await?,
            update_user_by_email: idempotent(prepare(format!(
                "UPDATE {ks}.users_by_email SET name = ?, role = ?, password_hash = ?, disabled = ?,
                   session_epoch = ? WHERE email = ?"
            ))
            .await?),
        };
        let ax = AccessStatements::prepare(&session, ks).await?;
        let keys = load_or_create_keys(&session, ks).await?;
        Ok(Self {
            session,
            keys,
            st,
            ax,
        })
    }

    /// Writes a message unless its key exists. Returns whether it was new.
    #[allow(clippy::too_many_arguments)]
    async fn write_message(
        &self,
        tenant: &TenantId,
        key: &MessageKey,
        wamid: &Wamid,
        number: &PhoneNumberId,
        customer: &WaId,
        direction: Direction,
        kind: &str,
        text: Option<&str>,
        at_ms: UnixMillis,
        raw: &str,
    ) -> StoreResult<Option<UnixMillis>> {
        let stored = self
            .session
            .execute_unpaged(&self.st.lookup_key, (tenant.as_str(), key.as_str()))
            .await
            .map_err(unavailable)?;
        let existing = first_row::<(String, i64, i64)>(stored)?;
        let existed = existing.is_some();
        let conversation = self.keys.conversation_id(tenant, number, customer);
        // A redelivery keeps the place its first delivery got; a new inbound message goes just
        // after the latest of its second (`arrival_at`). Two deliveries of one conversation at
        // once may read the same latest and tie; the key breaks the tie then.
        let at_ms = match existing {
            Some((_, _, placed)) => placed,
            None if direction == Direction::Inbound => {
                let second = at_ms.div_euclid(1000) * 1000;
                let latest = self
                    .session
                    .execute_unpaged(
                        &self.st.latest_in_second,
                        (
                            tenant.as_str(),
                            conversation.as_str(),
                            day_bucket(at_ms),
                            second,
                            second + 1000,
                        ),
                    )
                    .await
                    .map_err(unavailable)?;
                arrival_at(at_ms, first_row::<(i64,)>(latest)?.map(|(at,)| at))
            }
            None => at_ms,
        };
        let bucket = day_bucket(at_ms);
        // Upsert even when the key existed: a previous attempt may have died between these
        // statements, and every one of them is idempotent.
        self.session
            .execute_unpaged(
                &self.st.insert_message,
                (
                    tenant.as_str(),
                    conversation.as_str(),
                    bucket,
                    at_ms,
                    key.as_str(),
                    wamid.as_str(),
                    number.as_str(),
                    customer.as_str(),
                    direction.as_str(),
                    kind,
                    text,
                    raw,
                ),
            )
            .await
            .map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.st.insert_bucket,
                (tenant.as_str(), conversation.as_str(), bucket),
            )
            .await
            .map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.st.upsert_conversation,
                (
                    tenant.as_str(),
                    conversation.as_str(),
                    number.as_str(),
                    customer.as_str(),
                    at_ms,
                    at_ms.saturating_mul(1000),
                ),
            )
            .await
            .map_err(unavailable)?;
        // The key row goes last: once it exists, every row above does.
        self.session
            .execute_unpaged(
                &self.st.insert_key,
                (
                    tenant.as_str(),
                    key.as_str(),
                    conversation.as_str(),
                    bucket,
                    at_ms,
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok((!existed).then_some(at_ms))
    }

    async fn status_of(&self, tenant: &str, wamid: &str) -> StoreResult<Option<StatusRecord>> {
        let result = self
            .session
            .execute_unpaged(&self.st.latest_status, (tenant, wamid))
            .await
            .map_err(unavailable)?;
        let row = first_row::<(String, i64, Option<Vec<i64>>)>(result)?;
        row.map(|(status, at_ms, codes)| {
            Ok(StatusRecord {
                wamid: Wamid::new(wamid),
                status: MessageStatus::parse(&status)
                    .ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
                at_ms,
                error_codes: codes.unwrap_or_default(),
            })
        })
        .transpose()
    }

    async fn to_record(&self, row: MessageRow) -> StoreResult<(MessageRecord, i64)> {
        let (
            tenant,
            conversation,
            bucket,
            at_ms,
            key,
            wamid,
            number,
            customer,
            direction,
            kind,
            body,
            raw,
        ) = row;
        let direction = Direction::parse(&direction)
            .ok_or_else(|| StoreError::Corrupt(format!("direction {direction}")))?;
        let status = match direction {
            Direction::Inbound => MessageStatus::Received,
            Direction::Outbound => self
                .status_of(&tenant, &wamid)
                .await?
                .map(|s| s.status)
                .unwrap_or(MessageStatus::Accepted),
        };
        Ok((
            MessageRecord {
                tenant: TenantId::new(tenant),
                key: MessageKey::new(key),
                conversation: ConversationId::new(conversation),
                wamid: Wamid::new(wamid),
                number: PhoneNumberId::new(number),
                customer: WaId::new(customer),
                direction,
                kind,
                text: body,
                at_ms,
                status,
                raw,
            },
            bucket,
        ))
    }
}

/// Splits a CQL script into statements, dropping `--` comments.
fn cql_statements(script: &str) -> Vec<String> {
    let without_comments: String = script
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether a lightweight transaction (`IF NOT EXISTS`) applied. Its result's first column is
/// `[applied]`; when it did not apply, the existing row's columns follow, so the row is read
/// untyped rather than as `(bool,)`.
fn lwt_applied(result: scylla::response::query_result::QueryResult) -> StoreResult<bool> {
    let row = first_row::<scylla::value::Row>(result)?
        .ok_or_else(|| StoreError::Corrupt("a lightweight transaction returned no row".into()))?;
    match row.columns.first() {
        Some(Some(scylla::value::CqlValue::Boolean(applied))) => Ok(*applied),
        other => Err(StoreError::Corrupt(format!(
            "unexpected [applied] column: {other:?}"
        ))),
    }
}

/// The deployment's identifier secret: read, or written once (`IF NOT EXISTS`, so two servers
/// starting together agree on one) and read back. A keyspace that already holds conversations
/// under the ids of before this secret existed is refused: re-keying a Scylla keyspace in place
/// is not built (the SQLite store re-keys itself; see docs/operations.md).
async fn load_or_create_keys(session: &Session, ks: &str) -> StoreResult<IdKeys> {
    let read = || async {
        let mut select = scylla::statement::Statement::new(format!(
            "SELECT secret FROM {ks}.server_keys WHERE name = 'ids'"
        ));
        select.set_consistency(Consistency::LocalQuorum);
        let result = session
            .query_unpaged(select, &[])
            .await
            .map_err(unavailable)?;
        first_row::<(Vec<u8>,)>(result)
    };
    if read().await?.is_none() {
        let mut any = scylla::statement::Statement::new(format!(
            "SELECT conversation_id FROM {ks}.conversations_by_id LIMIT 1"
        ));
        any.set_consistency(Consistency::LocalQuorum);
        let existing = session.query_unpaged(any, &[]).await.map_err(unavailable)?;
        if first_row::<(String,)>(existing)?.is_some() {
            return Err(StoreError::Unavailable(format!(
                "keyspace `{ks}` holds conversations stored before conversation ids were keyed; \
                 re-keying a Scylla keyspace in place is not supported: keep the previous \
                 release for it, or export and import into a new keyspace"
            )));
        }
        let mut insert = scylla::statement::Statement::new(format!(
            "INSERT INTO {ks}.server_keys (name, secret) VALUES ('ids', ?) IF NOT EXISTS"
        ));
        insert.set_consistency(Consistency::LocalQuorum);
        session
            .query_unpaged(insert, (IdKeys::generate().to_vec(),))
            .await
            .map_err(unavailable)?;
    }
    let (secret,) = read()
        .await?
        .ok_or_else(|| StoreError::Unavailable("the identifier key was not stored".into()))?;
    let master: [u8; 32] = secret
        .try_into()
        .map_err(|_| StoreError::Corrupt("the identifier key is not 32 bytes".into()))?;
    Ok(IdKeys::new(master))
}

/// The largest replication factor a CQL replication map asks for (`'replication_factor': 3`, or
/// one per datacenter).
fn largest_factor(replication: &str) -> Option<u32> {
    replication
        .split(',')
        .filter(|pair| !pair.contains("class"))
        .filter_map(|pair| {
            pair.rsplit(':')
                .next()?
                .trim()
                .trim_matches(|c: char| c == '}' || c == '\'' || c.is_whitespace())
                .parse()
                .ok()
        })
        .max()
}

/// Refuses a replication factor the cluster cannot hold: with 3 replicas asked of one node,
/// every LOCAL_QUORUM write would fail, each with a message about consistency, not about this.
async fn check_replication(session: &Session, replication: &str) -> StoreResult<()> {
    let Some(factor) = largest_factor(replication) else {
        return Ok(());
    };
    let peers = session
        .query_unpaged("SELECT peer FROM system.peers", &[])
        .await
        .map_err(unavailable)?;
    let nodes = 1 + rows_of::<(std::net::IpAddr,)>(peers)?.len() as u32;
    if factor > nodes {
        return Err(StoreError::Unavailable(format!(
            "store.scylla.replication asks for {factor} replicas but the cluster has {nodes} \
             node(s): every write at LOCAL_QUORUM would fail; lower the replication factor \
             (for one node: {{'class': 'NetworkTopologyStrategy', 'replication_factor': 1}})"
        )));
    }
    Ok(())
}

/// A value to bind, or unset (the column keeps what it had) when there is none.
fn unset_if_none<T>(value: Option<T>) -> scylla::value::MaybeUnset<T> {
    value.map_or(
        scylla::value::MaybeUnset::Unset,
        scylla::value::MaybeUnset::Set,
    )
}

/// The first row of a result, if any.
fn first_row<R>(result: scylla::response::query_result::QueryResult) -> StoreResult<Option<R>>
where
    R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
{
    result
        .into_rows_result()
        .map_err(unavailable)?
        .maybe_first_row::<R>()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn rows_of<R>(result: scylla::response::query_result::QueryResult) -> StoreResult<Vec<R>>
where
    R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
{
    let rows = result.into_rows_result().map_err(unavailable)?;
    rows.rows::<R>()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?
        .collect::<Result<Vec<R>, _>>()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl DirectoryStore for ScyllaStore {
    fn id_keys(&self) -> &IdKeys {
        &self.keys
    }

    async fn upsert_tenant(&self, tenant: &TenantRecord) -> StoreResult<()> {
        self.session
            .execute_unpaged(
                &self.st.upsert_tenant,
                (tenant.id.as_str(), tenant.name.as_str(), tenant.created_at),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        // Tenants are few (one per workspace); paging through them all is bounded.
        let mut out = Vec::new();
        let mut state = PagingState::start();
        loop {
            let (result, next) = self
                .session
                .execute_single_page(&self.st.list_tenants, &[], state)
                .await
                .map_err(unavailable)?;
            for (id, name, created_at) in rows_of::<(String, Option<String>, Option<i64>)>(result)?
            {
                out.push(TenantRecord {
                    id: TenantId::new(id),
                    name: name.unwrap_or_default(),
                    created_at: created_at.unwrap_or_default(),
                });
            }
            match next {
                PagingStateResponse::HasMorePages { state: s } => state = s,
                PagingStateResponse::NoMorePages => break,
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn upsert_number(&self, n: &NumberRecord) -> StoreResult<()> {
        // A number that moved to another tenant leaves the old tenant's list (it once stayed
        // listed there, and could still be put on that tenant's teams).
        let previous = self
            .session
            .execute_unpaged(&self.st.number_owner, (n.phone_number_id.as_str(),))
            .await
            .map_err(unavailable)?;
        if let Some((Some(old),)) = first_row::<(Option<String>,)>(previous)? {
            if old != n.tenant.as_str() {
                self.session
                    .execute_unpaged(
                        &self.st.delete_number_by_tenant,
                        (old.as_str(), n.phone_number_id.as_str()),
                    )
                    .await
                    .map_err(unavailable)?;
            }
        }
        let values = (
            n.phone_number_id.as_str(),
            n.tenant.as_str(),
            n.display_phone_number.as_str(),
            n.waba_id.as_deref(),
        );
        self.session
            .execute_unpaged(&self.st.upsert_number, values)
            .await
            .map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.st.upsert_number_by_tenant,
                (
                    n.tenant.as_str(),
                    n.phone_number_id.as_str(),
                    n.display_phone_number.as_str(),
                    n.waba_id.as_deref(),
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list_numbers(&self, tenant: &TenantId) -> StoreResult<Vec<NumberRecord>> {
        let result = self
            .session
            .execute_unpaged(&self.st.list_numbers, (tenant.as_str(),))
            .await
            .map_err(unavailable)?;
        Ok(rows_of::<(String, Option<String>, Option<String>)>(result)?
            .into_iter()
            .map(|(id, display, waba)| NumberRecord {
                tenant: tenant.clone(),
                phone_number_id: PhoneNumberId::new(id),
                display_phone_number: display.unwrap_or_default(),
                waba_id: waba,
            })
            .collect())
    }
}

#[async_trait]
impl MessageStore for ScyllaStore {
    async fn ingest(&self, batch: IngestBatch) -> StoreResult<IngestReport> {
        let mut report = IngestReport::default();
        // Journal first: the raw body is durable before anything is interpreted. Its id is a
        // digest of the body (the row's clustering key), so a redelivery the same day
        // overwrites the same row; the digest also spreads a day over JOURNAL_SHARDS partitions.
        let digest = <sha2::Sha256 as sha2::Digest>::digest(&batch.raw_body);
        let journal_id = hex::encode(digest);
        let shard = i32::from(digest[0]) % JOURNAL_SHARDS;
        self.session
            .execute_unpaged(
                &self.st.insert_journal,
                (
                    day_bucket(batch.received_at),
                    shard,
                    journal_id.as_str(),
                    batch.received_at,
                    batch.raw_body.as_slice(),
                ),
            )
            .await
            .map_err(unavailable)?;
        for (tenant, event) in &batch.events {
            match event {
                InboundEvent::Contact(c) => {
                    self.session
                        .execute_unpaged(
                            &self.st.upsert_contact,
                            (
                                // Absent fields are left as they are (unset), never bound as
                                // NULL: a webhook without a profile name must not erase the
                                // name (nor write a tombstone), as SQLite's COALESCE keeps it.
                                unset_if_none(c.name.as_deref()),
                                unset_if_none(c.user_id.as_deref()),
                                batch.received_at,
                                tenant.as_str(),
                                c.wa_id.as_str(),
                            ),
                        )
                        .await
                        .map_err(unavailable)?;
                }
                InboundEvent::Message(m) => {
                    let new = self
                        .write_message(
                            tenant,
                            &m.key,
                            &m.wamid,
                            &m.number,
                            &m.customer,
                            Direction::Inbound,
                            &m.kind,
                            m.text.as_deref(),
                            m.at_ms,
                            &m.raw,
                        )
                        .await?;
                    if let Some(at_ms) = new {
                        report.messages_new += 1;
                        report.new_messages.insert(m.key.clone(), at_ms);
                    } else {
                        report.messages_duplicate += 1;
                    }
                }
                InboundEvent::Status(s) => {
                    // IF NOT EXISTS tells a new status from a redelivered one; either way the
                    // row for (wamid, rank) is the same.
                    // A plain, idempotent insert: the row for (wamid, rank) is the same however
                    // often it is written. (It was a lightweight transaction only to count
                    // duplicates for a metric: Paxos on the busiest write, and marked idempotent
                    // so a driver retry could count a new status as a duplicate.)
                    self.session
                        .execute_unpaged(
                            &self.st.insert_status,
                            (
                                tenant.as_str(),
                                s.wamid.as_str(),
                                s.status.rank(),
                                s.status.as_str(),
                                s.at_ms,
                                &s.error_codes,
                                s.raw.as_str(),
                            ),
                        )
                        .await
                        .map_err(unavailable)?;
                    report.statuses_new += 1;
                }
                InboundEvent::Account(e) => {
                    let bucket = day_bucket(e.at_ms);
                    self.session
                        .execute_unpaged(
                            &self.st.insert_event,
                            (
                                tenant.as_str(),
                                bucket,
                                e.at_ms,
                                event_key(&e.field, &e.raw),
                                e.number.as_ref().map(|n| n.as_str()),
                                e.field.as_str(),
                                e.raw.as_str(),
                            ),
                        )
                        .await
                        .map_err(unavailable)?;
                    self.session
                        .execute_unpaged(&self.st.insert_event_bucket, (tenant.as_str(), bucket))
                        .await
                        .map_err(unavailable)?;
                    report.events_new += 1;
                }
            }
        }
        // No counters after the key rows: once a message's key row exists nothing else can fail
        // the webhook, so a failure before it means Meta's retry finds the message new and
        // announces it (a counter that timed out here used to fail the webhook after the key row,
        // and the retry then saw a duplicate that nobody was ever told of). Rates are in /metrics.
        Ok(report)
    }

    async fn record_outbound(&self, o: OutboundRecord) -> StoreResult<()> {
        self.write_message(
            &o.tenant,
            &outbound_message_key(&o.wamid),
            &o.wamid,
            &o.number,
            &o.customer,
            Direction::Outbound,
            &o.kind,
            o.text.as_deref(),
            o.at_ms,
            &o.raw,
        )
        .await?;
        Ok(())
    }

    async fn get_message(
        &self,
        tenant: &TenantId,
        key: &MessageKey,
    ) -> StoreResult<Option<MessageRecord>> {
        let located = self
            .session
            .execute_unpaged(&self.st.lookup_key, (tenant.as_str(), key.as_str()))
            .await
            .map_err(unavailable)?;
        let Some((conversation, bucket, at_ms)) = first_row::<(String, i64, i64)>(located)? else {
            return Ok(None);
        };
        let result = self
            .session
            .execute_unpaged(
                &self.st.get_message,
                (
                    tenant.as_str(),
                    conversation.as_str(),
                    bucket,
                    at_ms,
                    key.as_str(),
                ),
            )
            .await
            .map_err(unavailable)?;
        match rows_of::<MessageRow>(result)?.into_iter().next() {
            Some(row) => Ok(Some(self.to_record(row).await?.0)),
            None => Ok(None),
        }
    }

    async fn latest_status(
        &self,
        tenant: &TenantId,
        wamid: &Wamid,
    ) -> StoreResult<Option<StatusRecord>> {
        self.status_of(tenant.as_str(), wamid.as_str()).await
    }

    async fn conversation_history(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<MessageRecord>> {
        let limit = check_limit(limit)?;
        let after = cursor.map(Cursor::decode_history).transpose()?;
        let start_bucket = after.as_ref().map(|(b, _, _)| *b).unwrap_or(i64::MAX);
        let buckets: Vec<(i64,)> = rows_of(
            self.session
                .execute_unpaged(
                    &self.st.list_buckets,
                    (tenant.as_str(), conversation.as_str(), start_bucket),
                )
                .await
                .map_err(unavailable)?,
        )?;
        let mut page = PageCollector::new(limit);
        for (bucket,) in buckets {
            let want = page.wants() as i32;
            let result = match &after {
                Some((b, at, key)) if *b == bucket => {
                    self.session
                        .execute_unpaged(
                            &self.st.history_after,
                            (
                                tenant.as_str(),
                                conversation.as_str(),
                                bucket,
                                *at,
                                key.as_str(),
                                want,
                            ),
                        )
                        .await
                }
                _ => {
                    self.session
                        .execute_unpaged(
                            &self.st.history_first,
                            (tenant.as_str(), conversation.as_str(), bucket, want),
                        )
                        .await
                }
            }
            .map_err(unavailable)?;
            for row in rows_of::<MessageRow>(result)? {
                let (m, b) = self.to_record(row).await?;
                let (at, key) = (m.at_ms, m.key.as_str().to_owned());
                if page.push(m, b, at, &key) {
                    return Ok(page.finish());
                }
            }
        }
        Ok(page.finish())
    }

    async fn conversation_alias(
        &self,
        tenant: &TenantId,
        old_id: &str,
    ) -> StoreResult<Option<ConversationId>> {
        let row = self
            .session
            .execute_unpaged(&self.st.conversation_alias, (tenant.as_str(), old_id))
            .await
            .map_err(unavailable)?;
        Ok(first_row::<(String,)>(row)?.map(|(id,)| ConversationId::new(id)))
    }

    async fn get_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Option<ConversationRecord>> {
        let row = self
            .session
            .execute_unpaged(
                &self.st.get_conversation,
                (tenant.as_str(), conversation.as_str()),
            )
            .await
            .map_err(unavailable)?;
        let Some((number, customer, last_message_at)) = first_row::<(String, String, i64)>(row)?
        else {
            return Ok(None);
        };
        let name = self
            .session
            .execute_unpaged(
                &self.st.get_contact_name,
                (tenant.as_str(), customer.as_str()),
            )
            .await
            .map_err(unavailable)?;
        let name = first_row::<(Option<String>,)>(name)?.and_then(|(n,)| n);
        Ok(Some(ConversationRecord {
            tenant: tenant.clone(),
            id: conversation.clone(),
            number: PhoneNumberId::new(number),
            customer: WaId::new(customer),
            customer_name: name,
            last_message_at,
        }))
    }

    async fn scan_messages(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<MessageRecord>> {
        let limit = check_limit(limit)?;
        let state = match cursor {
            None => PagingState::start(),
            Some(c) => PagingState::new_from_raw_bytes(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(c.as_str())
                    .map_err(|_| StoreError::Invalid("malformed cursor".into()))?,
            ),
        };
        let mut scan = self.st.scan.clone();
        scan.set_page_size(limit as i32);
        let (result, next) = self
            .session
            .execute_single_page(&scan, &[], state)
            .await
            .map_err(unavailable)?;
        let mut items = Vec::new();
        for row in rows_of::<MessageRow>(result)? {
            items.push(self.to_record(row).await?.0);
        }
        let next = match next {
            PagingStateResponse::HasMorePages { state } => state.as_bytes_slice().map(|b| {
                Cursor::from_token(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&b[..]))
            }),
            PagingStateResponse::NoMorePages => None,
        };
        Ok(Page { items, next })
    }

    async fn account_events(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<AccountEventRecord>> {
        let limit = check_limit(limit)?;
        let after = cursor.map(Cursor::decode_history).transpose()?;
        let start_bucket = after.as_ref().map(|(b, _, _)| *b).unwrap_or(i64::MAX);
        let buckets: Vec<(i64,)> = rows_of(
            self.session
                .execute_unpaged(&self.st.list_event_buckets, (tenant.as_str(), start_bucket))
                .await
                .map_err(unavailable)?,
        )?;
        let mut page = PageCollector::new(limit);
        for (bucket,) in buckets {
            let want = page.wants() as i32;
            let result = match &after {
                Some((b, at, key)) if *b == bucket => {
                    self.session
                        .execute_unpaged(
                            &self.st.events_after,
                            (tenant.as_str(), bucket, *at, key.as_str(), want),
                        )
                        .await
                }
                _ => {
                    self.session
                        .execute_unpaged(&self.st.events_first, (tenant.as_str(), bucket, want))
                        .await
                }
            }
            .map_err(unavailable)?;
            for (number, field, at_ms, raw, key) in
                rows_of::<(Option<String>, String, i64, String, String)>(result)?
            {
                let event = AccountEventRecord {
                    tenant: tenant.clone(),
                    number: number.map(PhoneNumberId::new),
                    field,
                    at_ms,
                    raw,
                };
                if page.push(event, bucket, at_ms, &key) {
                    return Ok(page.finish());
                }
            }
        }
        Ok(page.finish())
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        // No counts on ScyllaDB (see `StoreStats`); a store that answers is all this can say.
        self.ping().await?;
        Ok(StoreStats::default())
    }

    async fn ping(&self) -> StoreResult<()> {
        self.session
            .query_unpaged("SELECT release_version FROM system.local", &[])
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

fn user_values(u: &UserRecord) -> (&str, &str, &str, &str, &str, &str, bool, i64, i64) {
    (
        u.tenant.as_str(),
        u.id.as_str(),
        u.email.as_str(),
        u.name.as_str(),
        u.role.as_str(),
        u.password_hash.as_str(),
        u.disabled,
        u.created_at,
        u.session_epoch,
    )
}

#[async_trait]
impl IdentityStore for ScyllaStore {
    async fn create_user(&self, user: &UserRecord, audit: &AuditRecord) -> StoreResult<()> {
        // The email row is claimed with a lightweight transaction: the one uniqueness guard.
        let result = self
            .session
            .execute_unpaged(&self.st.claim_email, user_values(user))
            .await
            .map_err(unavailable)?;
        if !lwt_applied(result)? {
            return Err(StoreError::Conflict(format!(
                "a user with email {} exists",
                user.email
            )));
        }
        let mut batch = Batch::new(BatchType::Logged);
        batch.append_statement(self.st.upsert_user_by_tenant.clone());
        batch.append_statement(self.st.upsert_user_by_id.clone());
        batch.append_statement(self.ax.insert_audit.clone());
        batch.append_statement(self.ax.insert_audit_bucket.clone());
        self.session
            .batch(
                &batch,
                (
                    user_values(user),
                    (user.tenant.as_str(), user.id.as_str(), user.email.as_str()),
                    audit_values(audit),
                    (audit.tenant.as_str(), day_bucket(audit.at_ms)),
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        let result = self
            .session
            .execute_unpaged(&self.st.user_by_email, (normalize_email(email),))
            .await
            .map_err(unavailable)?;
        Ok(first_row::<UserRow>(result)?.map(user_from_row))
    }

    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> StoreResult<Option<UserRecord>> {
        let result = self
            .session
            .execute_unpaged(&self.st.user_email_by_id, (tenant.as_str(), id.as_str()))
            .await
            .map_err(unavailable)?;
        let Some((email,)) = first_row::<(String,)>(result)? else {
            return Ok(None);
        };
        Ok(self
            .user_by_email(&email)
            .await?
            .filter(|u| &u.tenant == tenant && &u.id == id))
    }

    async fn list_users(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>> {
        let limit = check_limit(limit)?;
        let after = Cursor::decode_text(cursor)?;
        let result = self
            .session
            .execute_unpaged(&self.st.list_users, (tenant.as_str(), after, limit as i32))
            .await
            .map_err(unavailable)?;
        let users: Vec<UserRecord> = rows_of::<UserRow>(result)?
            .into_iter()
            .map(user_from_row)
            .collect();
        let next = (users.len() == limit)
            .then(|| users.last().map(|u| Cursor::after_text(&u.email)))
            .flatten();
        Ok(Page { items: users, next })
    }

    async fn update_user(&self, user: &UserRecord, audit: &AuditRecord) -> StoreResult<bool> {
        let Some(current) = self.get_user(&user.tenant, &user.id).await? else {
            return Ok(false);
        };
        self.session
            .execute_unpaged(
                &self.st.update_user_by_email,
                (
                    user.name.as_str(),
                    user.role.as_str(),
                    user.password_hash.as_str(),
                    user.disabled,
                    user.session_epoch,
                    current.email.as_str(),
                ),
            )
            .await
            .map_err(unavailable)?;
        let mut updated = user.clone();
        updated.email = current.email;
        updated.created_at = current.created_at;
        self.session
            .execute_unpaged(&self.st.upsert_user_by_tenant, user_values(&updated))
            .await
            .map_err(unavailable)?;
        self.write_audit(audit).await?;
        Ok(true)
    }

    async fn create_session(&self, s: &SessionRecord, audit: &AuditRecord) -> StoreResult<()> {
        // The row expires by itself with the session.
        let ttl = ((s.expires_at - s.created_at) / 1000).clamp(1, i32::MAX as i64) as i32;
        let mut batch = Batch::new(BatchType::Logged);
        batch.append_statement(self.ax.insert_session.clone());
        batch.append_statement(self.ax.insert_audit.clone());
        batch.append_statement(self.ax.insert_audit_bucket.clone());
        self.session
            .batch(
                &batch,
                (
                    (
                        s.token_hash.as_str(),
                        s.tenant.as_str(),
                        s.user.as_str(),
                        s.epoch,
                        s.created_at,
                        s.expires_at,
                        s.last_seen_at,
                        s.ip.as_deref(),
                        s.user_agent.as_deref(),
                        ttl,
                    ),
                    audit_values(audit),
                    (audit.tenant.as_str(), day_bucket(audit.at_ms)),
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let result = self
            .session
            .execute_unpaged(&self.ax.get_session, (token_hash,))
            .await
            .map_err(unavailable)?;
        // Every column an option: a row some of whose cells expired is a session that ended,
        // not corrupt data (an expired cookie is a 401, never a 500).
        type Row = (
            String,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<i64>,
            Option<String>,
            Option<String>,
        );
        Ok(first_row::<Row>(result)?.and_then(|r| {
            Some(SessionRecord {
                token_hash: r.0,
                tenant: TenantId::new(r.1?),
                user: UserId::new(r.2?),
                epoch: r.3?,
                created_at: r.4?,
                expires_at: r.5?,
                last_seen_at: r.6.or(r.4)?,
                ip: r.7,
                user_agent: r.8,
            })
        }))
    }

    async fn touch_session(
        &self,
        token_hash: &str,
        at: UnixMillis,
        expires_at: UnixMillis,
    ) -> StoreResult<()> {
        // Conditional, so that touching a session deleted meanwhile does not resurrect a stub,
        // and with the session's remaining time to live: a cell written without a TTL outlived
        // the row's other cells and kept a broken row alive after the session expired.
        let ttl = ((expires_at - at) / 1000).clamp(1, i32::MAX as i64) as i32;
        self.session
            .execute_unpaged(&self.ax.touch_session, (ttl, at, token_hash))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn delete_session(&self, token_hash: &str, audit: &AuditRecord) -> StoreResult<bool> {
        self.applied_with_audit(&self.ax.delete_session, (token_hash,), audit)
            .await
    }

    async fn put_role(&self, r: &RoleRecord, audit: &AuditRecord) -> StoreResult<()> {
        let values = (
            r.tenant.as_str(),
            r.id.as_str(),
            r.name.as_str(),
            encode_list(&r.permissions),
            r.created_at,
        );
        self.with_audit(&self.ax.put_role, values, audit).await
    }

    async fn get_role(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<RoleRecord>> {
        self.one::<RoleRow>(&self.ax.get_role, (tenant.as_str(), id))
            .await?
            .map(|r| role_from_row(tenant, r))
            .transpose()
    }

    async fn list_roles(&self, tenant: &TenantId) -> StoreResult<Vec<RoleRecord>> {
        self.rows::<RoleRow>(&self.ax.list_roles, (tenant.as_str(), MAX_ROLES as i32))
            .await?
            .into_iter()
            .map(|r| role_from_row(tenant, r))
            .collect()
    }

    async fn delete_role(
        &self,
        tenant: &TenantId,
        id: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        self.applied_with_audit(&self.ax.delete_role, (tenant.as_str(), id), audit)
            .await
    }

    async fn put_team(&self, t: &TeamRecord, audit: &AuditRecord) -> StoreResult<()> {
        let members: Vec<&str> = t.members.iter().map(UserId::as_str).collect();
        let numbers: Vec<&str> = t.numbers.iter().map(PhoneNumberId::as_str).collect();
        let values = (
            t.tenant.as_str(),
            t.id.as_str(),
            t.name.as_str(),
            encode_list(&members),
            encode_list(&numbers),
            t.created_at,
        );
        self.with_audit(&self.ax.put_team, values, audit).await
    }

    async fn get_team(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<TeamRecord>> {
        self.one::<TeamRow>(&self.ax.get_team, (tenant.as_str(), id))
            .await?
            .map(|r| team_from_row(tenant, r))
            .transpose()
    }

    async fn list_teams(&self, tenant: &TenantId) -> StoreResult<Vec<TeamRecord>> {
        self.rows::<TeamRow>(&self.ax.list_teams, (tenant.as_str(), MAX_TEAMS as i32))
            .await?
            .into_iter()
            .map(|r| team_from_row(tenant, r))
            .collect()
    }

    async fn delete_team(
        &self,
        tenant: &TenantId,
        id: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        self.applied_with_audit(&self.ax.delete_team, (tenant.as_str(), id), audit)
            .await
    }

    async fn create_api_key(&self, k: &ApiKeyRecord, audit: &AuditRecord) -> StoreResult<()> {
        let result = self
            .session
            .execute_unpaged(
                &self.ax.claim_api_key,
                (
                    k.id.as_str(),
                    k.tenant.as_str(),
                    k.name.as_str(),
                    k.secret_hash.as_str(),
                    encode_list(&k.permissions),
                    k.created_by.as_str(),
                    k.created_at,
                    k.last_used_at,
                    k.revoked_at,
                ),
            )
            .await
            .map_err(unavailable)?;
        if !lwt_applied(result)? {
            return Err(StoreError::Conflict(format!("API key {} exists", k.id)));
        }
        self.with_audit(
            &self.ax.index_api_key,
            (k.tenant.as_str(), k.id.as_str()),
            audit,
        )
        .await
    }

    async fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        self.one::<KeyRow>(&self.ax.get_api_key, (id,))
            .await?
            .map(key_from_row)
            .transpose()
    }

    async fn list_api_keys(&self, tenant: &TenantId) -> StoreResult<Vec<ApiKeyRecord>> {
        let result = self
            .session
            .execute_unpaged(
                &self.ax.list_api_key_ids,
                (tenant.as_str(), MAX_API_KEYS as i32),
            )
            .await
            .map_err(unavailable)?;
        let ids: Vec<(String,)> = rows_of(result)?;
        let keys = futures_util::future::try_join_all(ids.iter().map(|(id,)| self.get_api_key(id)))
            .await?;
        Ok(keys
            .into_iter()
            .flatten()
            .filter(|k| &k.tenant == tenant)
            .collect())
    }

    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &str,
        at: UnixMillis,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        self.applied_with_audit(&self.ax.revoke_api_key, (at, id, tenant.as_str()), audit)
            .await
    }

    async fn touch_api_key(&self, id: &str, at: UnixMillis) -> StoreResult<()> {
        self.session
            .execute_unpaged(&self.ax.touch_api_key, (at, id))
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn append_audit(&self, audit: &AuditRecord) -> StoreResult<()> {
        self.write_audit(audit).await
    }

    async fn audit_log(
        &self,
        tenant: &TenantId,
        query: &AuditQuery,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<AuditRecord>> {
        let limit = check_limit(limit)?;
        let after = cursor.map(Cursor::decode_history).transpose()?;
        let start_bucket = after.as_ref().map(|(b, _, _)| *b).unwrap_or(i64::MAX);
        let low_bucket = query.since_ms.map(day_bucket).unwrap_or(i64::MIN);
        let buckets: Vec<(i64,)> = rows_of(
            self.session
                .execute_unpaged(
                    &self.ax.audit_buckets,
                    (tenant.as_str(), start_bucket, low_bucket),
                )
                .await
                .map_err(unavailable)?,
        )?;
        // Filters other than time run here, not in CQL (no secondary indexes on a log): each
        // partition is read in pages of at most MAX_PAGE rows until the page is full.
        let mut page = PageCollector::new(limit);
        for (bucket,) in buckets {
            let mut position = match &after {
                Some((b, at, id)) if *b == bucket => Some((*at, id.clone())),
                _ => None,
            };
            loop {
                let result = match &position {
                    Some((at, id)) => {
                        self.session
                            .execute_unpaged(
                                &self.ax.audit_after,
                                (tenant.as_str(), bucket, *at, id.as_str(), MAX_PAGE as i32),
                            )
                            .await
                    }
                    None => {
                        self.session
                            .execute_unpaged(
                                &self.ax.audit_first,
                                (tenant.as_str(), bucket, MAX_PAGE as i32),
                            )
                            .await
                    }
                }
                .map_err(unavailable)?;
                let rows = rows_of::<AuditRow>(result)?;
                let full = rows.len() == MAX_PAGE;
                for row in rows {
                    let record = audit_from_row(tenant, row);
                    position = Some((record.at_ms, record.id.clone()));
                    if query.matches(&record) {
                        let (at, id) = (record.at_ms, record.id.clone());
                        if page.push(record, bucket, at, &id) {
                            return Ok(page.finish());
                        }
                    }
                }
                if !full {
                    break;
                }
            }
        }
        Ok(page.finish())
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
        batch.append_statement(self.ax.put_thread.clone());
        batch.append_statement(if t.is_open() {
            self.ax.index_open_thread.clone()
        } else {
            self.ax.unindex_open_thread.clone()
        });
        let result = match audit {
            Some(a) => {
                batch.append_statement(self.ax.insert_audit.clone());
                batch.append_statement(self.ax.insert_audit_bucket.clone());
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
            &self.ax.get_thread,
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
                &self.ax.open_thread_ids,
                (tenant.as_str(), after, limit as i32),
            )
            .await?;
        // Point reads of one page, concurrently: each is one partition.
        let reads = ids.iter().map(|(id,)| {
            self.one::<ThreadRow>(&self.ax.get_thread, (tenant.as_str(), id.as_str()))
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
                &self.ax.add_note,
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
                self.rows(&self.ax.notes_before, (key.0, key.1, at, id, limit as i32))
                    .await?
            }
            None => {
                self.rows(&self.ax.notes_first, (key.0, key.1, limit as i32))
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
        batch.append_statement(self.ax.put_profile.clone());
        batch.append_statement(self.ax.insert_audit.clone());
        batch.append_statement(self.ax.insert_audit_bucket.clone());
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
                &self.ax.profiles_after,
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

fn send_values(o: &OutboxRecord) -> impl scylla::serialize::row::SerializeRow + '_ {
    // One flat tuple: its elements are the statement's bound columns, in OUTBOX_COLUMNS order.
    (
        o.tenant.as_str(),
        o.id.as_str(),
        o.conversation.as_str(),
        o.number.as_str(),
        o.customer.as_str(),
        o.author.as_str(),
        o.request.as_str(),
        o.kind.as_str(),
        o.text.as_deref(),
        o.state.as_str(),
        i32::try_from(o.attempts).unwrap_or(i32::MAX),
        o.wamid.as_ref().map(Wamid::as_str),
        o.error.as_deref(),
        o.created_at,
        o.updated_at,
    )
}

#[async_trait]
impl OutboxStore for ScyllaStore {
    async fn enqueue_send(&self, send: &OutboxRecord) -> StoreResult<OutboxRecord> {
        // The index entry first: a crash before the row leaves an entry without a row, which
        // readers skip (and the caller never heard "queued"); the reverse would lose the send.
        let index = (
            send.number.as_str(),
            send.created_at,
            send.id.as_str(),
            send.tenant.as_str(),
        );
        self.session
            .execute_unpaged(&self.ax.index_send, index)
            .await
            .map_err(unavailable)?;
        let claimed = self
            .session
            .execute_unpaged(&self.ax.claim_send, send_values(send))
            .await
            .map_err(unavailable)?;
        if lwt_applied(claimed)? {
            return Ok(send.clone());
        }
        let stored = self
            .get_send(&send.tenant, &send.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("send {} vanished", send.id)))?;
        if stored.created_at != send.created_at || stored.state.is_finished() {
            // A retry: the entry just written is not the send's own.
            self.session
                .execute_unpaged(
                    &self.ax.unindex_send,
                    (send.number.as_str(), send.created_at, send.id.as_str()),
                )
                .await
                .map_err(unavailable)?;
        }
        Ok(stored)
    }

    async fn update_send(&self, send: &OutboxRecord) -> StoreResult<()> {
        self.session
            .execute_unpaged(&self.ax.put_send, send_values(send))
            .await
            .map_err(unavailable)?;
        if let Some(message) = send.sent_message() {
            self.record_outbound(message).await?;
        }
        if send.state.is_finished() {
            self.session
                .execute_unpaged(
                    &self.ax.unindex_send,
                    (send.number.as_str(), send.created_at, send.id.as_str()),
                )
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn get_send(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<OutboxRecord>> {
        self.one::<OutboxRow>(&self.ax.get_send, (tenant.as_str(), id))
            .await?
            .map(outbox_from_row)
            .transpose()
    }

    async fn pending_sends(
        &self,
        number: &PhoneNumberId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<OutboxRecord>> {
        let limit = check_limit(limit)?;
        let (after_at, after_id) = Cursor::decode_time(cursor)?;
        let entries: Vec<(i64, String, String)> = self
            .rows(
                &self.ax.pending_sends,
                (number.as_str(), after_at, after_id, limit as i32),
            )
            .await?;
        let reads = entries.iter().map(|(_, id, tenant)| {
            self.one::<OutboxRow>(&self.ax.get_send, (tenant.as_str(), id.as_str()))
        });
        let mut items = Vec::with_capacity(entries.len());
        for row in futures_util::future::join_all(reads).await {
            // An entry without its row is an enqueue that crashed midway: nobody was told
            // "queued", so there is nothing to send.
            if let Some(row) = row? {
                items.push(outbox_from_row(row)?);
            }
        }
        let next = (entries.len() == limit)
            .then(|| {
                entries
                    .last()
                    .map(|(at, id, _)| Cursor::after_time(*at, id))
            })
            .flatten();
        Ok(Page { items, next })
    }
}

impl ScyllaStore {
    /// The rows of one bounded read.
    async fn rows<R>(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> StoreResult<Vec<R>>
    where
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
    {
        rows_of(
            self.session
                .execute_unpaged(statement, values)
                .await
                .map_err(unavailable)?,
        )
    }

    /// The row of a point read, if any.
    async fn one<R>(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> StoreResult<Option<R>>
    where
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
    {
        first_row(
            self.session
                .execute_unpaged(statement, values)
                .await
                .map_err(unavailable)?,
        )
    }

    /// A conditional change (a lightweight transaction) and, when it applied, its audit line.
    async fn applied_with_audit(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let result = self
            .session
            .execute_unpaged(statement, values)
            .await
            .map_err(unavailable)?;
        self.audit_if(lwt_applied(result)?, audit).await
    }

    async fn write_audit(&self, audit: &AuditRecord) -> StoreResult<()> {
        let mut batch = Batch::new(BatchType::Logged);
        batch.append_statement(self.ax.insert_audit.clone());
        batch.append_statement(self.ax.insert_audit_bucket.clone());
        self.session
            .batch(
                &batch,
                (
                    audit_values(audit),
                    (audit.tenant.as_str(), day_bucket(audit.at_ms)),
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Writes the audit line of a conditional change that applied.
    async fn audit_if(&self, applied: bool, audit: &AuditRecord) -> StoreResult<bool> {
        if applied {
            self.write_audit(audit).await?;
        }
        Ok(applied)
    }

    /// One unconditional write and its audit line in one logged batch.
    async fn with_audit(
        &self,
        statement: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
        audit: &AuditRecord,
    ) -> StoreResult<()> {
        let mut batch = Batch::new(BatchType::Logged);
        batch.append_statement(statement.clone());
        batch.append_statement(self.ax.insert_audit.clone());
        batch.append_statement(self.ax.insert_audit_bucket.clone());
        self.session
            .batch(
                &batch,
                (
                    values,
                    audit_values(audit),
                    (audit.tenant.as_str(), day_bucket(audit.at_ms)),
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

/// Statements of sessions, roles, teams, API keys, the audit log and conversations' inbox state.
struct AccessStatements {
    insert_audit: PreparedStatement,
    insert_audit_bucket: PreparedStatement,
    audit_buckets: PreparedStatement,
    audit_first: PreparedStatement,
    audit_after: PreparedStatement,
    insert_session: PreparedStatement,
    get_session: PreparedStatement,
    touch_session: PreparedStatement,
    delete_session: PreparedStatement,
    put_role: PreparedStatement,
    get_role: PreparedStatement,
    list_roles: PreparedStatement,
    delete_role: PreparedStatement,
    put_team: PreparedStatement,
    get_team: PreparedStatement,
    list_teams: PreparedStatement,
    delete_team: PreparedStatement,
    claim_api_key: PreparedStatement,
    index_api_key: PreparedStatement,
    get_api_key: PreparedStatement,
    list_api_key_ids: PreparedStatement,
    revoke_api_key: PreparedStatement,
    touch_api_key: PreparedStatement,
    put_thread: PreparedStatement,
    index_open_thread: PreparedStatement,
    unindex_open_thread: PreparedStatement,
    get_thread: PreparedStatement,
    open_thread_ids: PreparedStatement,
    claim_send: PreparedStatement,
    put_send: PreparedStatement,
    get_send: PreparedStatement,
    index_send: PreparedStatement,
    unindex_send: PreparedStatement,
    pending_sends: PreparedStatement,
    add_note: PreparedStatement,
    notes_first: PreparedStatement,
    notes_before: PreparedStatement,
    put_profile: PreparedStatement,
    profiles_after: PreparedStatement,
}

const AUDIT_COLUMNS: &str = "tenant, bucket, at_ms, audit_id, actor, actor_name, action, target, \
    outcome, ip, user_agent, before, after";
const KEY_COLUMNS: &str =
    "key_id, tenant, name, secret_hash, permissions, created_by, created_at, \
    last_used_at, revoked_at";

impl AccessStatements {
    async fn prepare(session: &Session, ks: &str) -> StoreResult<Self> {
        let prepare = |cql: String, idempotent: bool| async move {
            let mut p = session
                .prepare(cql.as_str())
                .await
                .map_err(|e| StoreError::Unavailable(format!("preparing `{cql}`: {e}")))?;
            p.set_consistency(Consistency::LocalQuorum);
            p.set_is_idempotent(idempotent);
            Ok::<_, StoreError>(p)
        };
        Ok(Self {
            insert_audit: prepare(
                format!(
                    "INSERT INTO {ks}.audit_by_tenant ({AUDIT_COLUMNS})
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                true,
            )
            .await?,
            insert_audit_bucket: prepare(
                format!("INSERT INTO {ks}.audit_buckets_by_tenant (tenant, bucket) VALUES (?, ?)"),
                true,
            )
            .await?,
            audit_buckets: prepare(
                format!(
                    "SELECT bucket FROM {ks}.audit_buckets_by_tenant
                     WHERE tenant = ? AND bucket <= ? AND bucket >= ?"
                ),
                true,
            )
            .await?,
            audit_first: prepare(
                format!(
                    "SELECT {AUDIT_COLUMNS} FROM {ks}.audit_by_tenant
                     WHERE tenant = ? AND bucket = ? LIMIT ?"
                ),
                true,
            )
            .await?,
            audit_after: prepare(
                format!(
                    "SELECT {AUDIT_COLUMNS} FROM {ks}.audit_by_tenant
                     WHERE tenant = ? AND bucket = ? AND (at_ms, audit_id) < (?, ?) LIMIT ?"
                ),
                true,
            )
            .await?,
            insert_session: prepare(
                format!(
                    "INSERT INTO {ks}.sessions_by_hash (token_hash, tenant, user_id, epoch,
                       created_at, expires_at, last_seen_at, ip, user_agent)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?"
                ),
                true,
            )
            .await?,
            get_session: prepare(
                format!(
                    "SELECT token_hash, tenant, user_id, epoch, created_at, expires_at,
                       last_seen_at, ip, user_agent FROM {ks}.sessions_by_hash WHERE token_hash = ?"
                ),
                true,
            )
            .await?,
            touch_session: prepare(
                format!(
                    "UPDATE {ks}.sessions_by_hash USING TTL ? SET last_seen_at = ? WHERE token_hash = ? IF EXISTS"
                ),
                false,
            )
            .await?,
            delete_session: prepare(
                format!("DELETE FROM {ks}.sessions_by_hash WHERE token_hash = ? IF EXISTS"),
                false,
            )
            .await?,
            put_role: prepare(
                format!(
                    "INSERT INTO {ks}.roles_by_tenant (tenant, role_id, name, permissions, created_at)
                     VALUES (?, ?, ?, ?, ?)"
                ),
                true,
            )
            .await?,
            get_role: prepare(
                format!(
                    "SELECT role_id, name, permissions, created_at FROM {ks}.roles_by_tenant
                     WHERE tenant = ? AND role_id = ?"
                ),
                true,
            )
            .await?,
            list_roles: prepare(
                format!(
                    "SELECT role_id, name, permissions, created_at FROM {ks}.roles_by_tenant
                     WHERE tenant = ? LIMIT ?"
                ),
                true,
            )
            .await?,
            delete_role: prepare(
                format!("DELETE FROM {ks}.roles_by_tenant WHERE tenant = ? AND role_id = ? IF EXISTS"),
                false,
            )
            .await?,
            put_team: prepare(
                format!(
                    "INSERT INTO {ks}.teams_by_tenant (tenant, team_id, name, members, numbers,
                       created_at) VALUES (?, ?, ?, ?, ?, ?)"
                ),
                true,
            )
            .await?,
            get_team: prepare(
                format!(
                    "SELECT team_id, name, members, numbers, created_at FROM {ks}.teams_by_tenant
                     WHERE tenant = ? AND team_id = ?"
                ),
                true,
            )
            .await?,
            list_teams: prepare(
                format!(
                    "SELECT team_id, name, members, numbers, created_at FROM {ks}.teams_by_tenant
                     WHERE tenant = ? LIMIT ?"
                ),
                true,
            )
            .await?,
            delete_team: prepare(
                format!("DELETE FROM {ks}.teams_by_tenant WHERE tenant = ? AND team_id = ? IF EXISTS"),
                false,
            )
            .await?,
            claim_api_key: prepare(
                format!(
                    "INSERT INTO {ks}.api_keys_by_id ({KEY_COLUMNS})
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
                ),
                false,
            )
            .await?,
            index_api_key: prepare(
                format!("INSERT INTO {ks}.api_keys_by_tenant (tenant, key_id) VALUES (?, ?)"),
                true,
            )
            .await?,
            get_api_key: prepare(
                format!("SELECT {KEY_COLUMNS} FROM {ks}.api_keys_by_id WHERE key_id = ?"),
                true,
            )
            .await?,
            list_api_key_ids: prepare(
                format!("SELECT key_id FROM {ks}.api_keys_by_tenant WHERE tenant = ? LIMIT ?"),
                true,
            )
            .await?,
            revoke_api_key: prepare(
                format!(
                    "UPDATE {ks}.api_keys_by_id SET revoked_at = ? WHERE key_id = ?
                     IF tenant = ? AND revoked_at = null"
                ),
                false,
            )
            .await?,
            touch_api_key: prepare(
                format!("UPDATE {ks}.api_keys_by_id SET last_used_at = ? WHERE key_id = ? IF EXISTS"),
                false,
            )
            .await?,
            put_thread: prepare(
                format!(
                    "INSERT INTO {ks}.threads_by_id ({THREAD_COLUMNS})
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                true,
            )
            .await?,
            index_open_thread: prepare(
                format!(
                    "INSERT INTO {ks}.open_threads_by_tenant (tenant, conversation_id) VALUES (?, ?)"
                ),
                true,
            )
            .await?,
            unindex_open_thread: prepare(
                format!(
                    "DELETE FROM {ks}.open_threads_by_tenant WHERE tenant = ? AND conversation_id = ?"
                ),
                true,
            )
            .await?,
            get_thread: prepare(
                format!(
                    "SELECT {THREAD_COLUMNS} FROM {ks}.threads_by_id
                     WHERE tenant = ? AND conversation_id = ?"
                ),
                true,
            )
            .await?,
            open_thread_ids: prepare(
                format!(
                    "SELECT conversation_id FROM {ks}.open_threads_by_tenant
                     WHERE tenant = ? AND conversation_id > ? LIMIT ?"
                ),
                true,
            )
            .await?,
            claim_send: prepare(
                format!(
                    "INSERT INTO {ks}.outbox_by_id ({OUTBOX_COLUMNS})
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
                ),
                false,
            )
            .await?,
            put_send: prepare(
                format!(
                    "INSERT INTO {ks}.outbox_by_id ({OUTBOX_COLUMNS})
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                true,
            )
            .await?,
            get_send: prepare(
                format!(
                    "SELECT {OUTBOX_COLUMNS} FROM {ks}.outbox_by_id WHERE tenant = ? AND send_id = ?"
                ),
                true,
            )
            .await?,
            index_send: prepare(
                format!(
                    "INSERT INTO {ks}.outbox_pending_by_number (number, created_at, send_id, tenant)
                     VALUES (?, ?, ?, ?)"
                ),
                true,
            )
            .await?,
            unindex_send: prepare(
                format!(
                    "DELETE FROM {ks}.outbox_pending_by_number
                     WHERE number = ? AND created_at = ? AND send_id = ?"
                ),
                true,
            )
            .await?,
            pending_sends: prepare(
                format!(
                    "SELECT created_at, send_id, tenant FROM {ks}.outbox_pending_by_number
                     WHERE number = ? AND (created_at, send_id) > (?, ?) LIMIT ?"
                ),
                true,
            )
            .await?,
            add_note: prepare(
                format!(
                    "INSERT INTO {ks}.notes_by_conversation (tenant, conversation_id, at_ms, note_id,
                       author, author_name, text, mentions) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                true,
            )
            .await?,
            notes_first: prepare(
                format!(
                    "SELECT at_ms, note_id, author, author_name, text, mentions
                     FROM {ks}.notes_by_conversation WHERE tenant = ? AND conversation_id = ? LIMIT ?"
                ),
                true,
            )
            .await?,
            notes_before: prepare(
                format!(
                    "SELECT at_ms, note_id, author, author_name, text, mentions
                     FROM {ks}.notes_by_conversation WHERE tenant = ? AND conversation_id = ?
                       AND (at_ms, note_id) < (?, ?) LIMIT ?"
                ),
                true,
            )
            .await?,
            put_profile: prepare(
                format!(
                    "INSERT INTO {ks}.agent_profiles_by_tenant (tenant, user_id, skills, capacity,
                       updated_at) VALUES (?, ?, ?, ?, ?)"
                ),
                true,
            )
            .await?,
            profiles_after: prepare(
                format!(
                    "SELECT user_id, skills, capacity, updated_at FROM {ks}.agent_profiles_by_tenant
                     WHERE tenant = ? AND user_id > ? LIMIT ?"
                ),
                true,
            )
            .await?,
        })
    }
}

type AuditRow = (
    String,
    i64,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

#[allow(clippy::type_complexity)]
fn audit_values(
    a: &AuditRecord,
) -> (
    &str,
    i64,
    i64,
    &str,
    &str,
    &str,
    &str,
    Option<&str>,
    &str,
    Option<&str>,
    Option<&str>,
    Option<&str>,
    Option<&str>,
) {
    (
        a.tenant.as_str(),
        day_bucket(a.at_ms),
        a.at_ms,
        a.id.as_str(),
        a.actor.as_str(),
        a.actor_name.as_str(),
        a.action.as_str(),
        a.target.as_deref(),
        a.outcome.as_str(),
        a.ip.as_deref(),
        a.user_agent.as_deref(),
        a.before.as_deref(),
        a.after.as_deref(),
    )
}

fn audit_from_row(tenant: &TenantId, r: AuditRow) -> AuditRecord {
    AuditRecord {
        tenant: tenant.clone(),
        id: r.3,
        at_ms: r.2,
        actor: r.4,
        actor_name: r.5,
        action: r.6,
        target: r.7,
        outcome: r.8,
        ip: r.9,
        user_agent: r.10,
        before: r.11,
        after: r.12,
    }
}

type RoleRow = (String, String, String, i64);

fn role_from_row(tenant: &TenantId, r: RoleRow) -> StoreResult<RoleRecord> {
    Ok(RoleRecord {
        tenant: tenant.clone(),
        id: r.0,
        name: r.1,
        permissions: decode_list(&r.2)?,
        created_at: r.3,
    })
}

type TeamRow = (String, String, String, String, i64);

fn team_from_row(tenant: &TenantId, r: TeamRow) -> StoreResult<TeamRecord> {
    Ok(TeamRecord {
        tenant: tenant.clone(),
        id: r.0,
        name: r.1,
        members: decode_list(&r.2)?.into_iter().map(UserId::new).collect(),
        numbers: decode_list(&r.3)?
            .into_iter()
            .map(PhoneNumberId::new)
            .collect(),
        created_at: r.4,
    })
}

#[cfg(test)]
mod tests {
    use super::cql_statements;

    #[test]
    fn replication_factors_are_read_from_the_map() {
        let f = super::largest_factor;
        assert_eq!(
            f("{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}"),
            Some(3)
        );
        assert_eq!(
            f("{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}"),
            Some(3)
        );
        assert_eq!(
            f("{'class': 'SimpleStrategy', 'replication_factor': 1}"),
            Some(1)
        );
        assert_eq!(f("{'class': 'NetworkTopologyStrategy'}"), None);
    }

    #[test]
    fn schema_splits_into_statements_without_comments() {
        let statements = cql_statements(&super::SCHEMA.concat());
        assert!(statements.len() >= 14, "{statements:#?}");
        assert!(statements[0].starts_with("CREATE KEYSPACE IF NOT EXISTS {keyspace}"));
        assert!(statements.iter().all(|s| !s.contains("--")));
    }
}
