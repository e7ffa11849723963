//! The ScyllaDB backend, selected with `store.backend = "scylla"`.
//!
//! Every statement is prepared once at connect time into [`Statements`], its CQL beside it.
//! Writes are idempotent upserts keyed by values derived from WhatsApp ids, so a retried webhook
//! (Meta retries for days) converges to the same rows; the journal row is written first so the
//! raw body is durable before anything is interpreted. Reads are bounded pages: history walks the
//! conversation's day buckets newest first; the full scan uses the driver's paging state as the
//! cursor. There are no multi-partition transactions here: a failure midway through a batch leaves
//! rows that the redelivery (the webhook was not acknowledged) completes.

mod directory;
mod identity;
mod inbox;
mod messages;
mod migrate;
mod outbox;

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;

pub use self::migrate::MIGRATIONS;
use self::migrate::{check_replication, load_or_create_keys, migrate};
use super::keys::IdKeys;
use super::{StoreError, StoreResult};

#[derive(Clone, Debug)]
pub struct ScyllaOptions {
    /// Contact points, `host:port`.
    pub nodes: Vec<String>,
    pub keyspace: String,
    /// CQL replication map, e.g. `{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}`.
    pub replication: String,
}

pub struct ScyllaStore {
    session: Session,
    keys: IdKeys,
    directory: directory::Statements,
    messages: messages::Statements,
    identity: identity::Statements,
    inbox: inbox::Statements,
    outbox: outbox::Statements,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Prepares an aggregate's statements in the store's keyspace, at LOCAL_QUORUM.
pub(super) struct Preparer<'a> {
    session: &'a Session,
    keyspace: &'a str,
}

impl Preparer<'_> {
    /// `idempotent`: the driver may retry it (never for a conditional write or a counter).
    async fn prepare(&self, cql: String, idempotent: bool) -> StoreResult<PreparedStatement> {
        let mut p = self
            .session
            .prepare(cql.as_str())
            .await
            .map_err(|e| StoreError::Unavailable(format!("preparing `{cql}`: {e}")))?;
        p.set_consistency(Consistency::LocalQuorum);
        p.set_is_idempotent(idempotent);
        Ok(p)
    }
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
        migrate(&session, &options.keyspace, &options.replication).await?;
        let ks = &options.keyspace;
        let p = Preparer {
            session: &session,
            keyspace: ks,
        };
        let directory = directory::Statements::prepare(&p).await?;
        let messages = messages::Statements::prepare(&p).await?;
        let identity = identity::Statements::prepare(&p).await?;
        let inbox = inbox::Statements::prepare(&p).await?;
        let outbox = outbox::Statements::prepare(&p).await?;
        let keys = load_or_create_keys(&session, ks).await?;
        Ok(Self {
            session,
            keys,
            directory,
            messages,
            identity,
            inbox,
            outbox,
        })
    }
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
