//! The ScyllaDB backend, selected with `store.backend = "scylla"`.
//!
//! Every statement is prepared once at connect time into [`Statements`], its CQL beside it.
//! Writes are idempotent upserts keyed by values derived from WhatsApp ids, so a retried webhook
//! (Meta retries for days) converges to the same rows; the journal row is written first so the
//! raw body is durable before anything is interpreted. Reads are bounded pages: history walks the
//! conversation's day buckets newest first; the full scan uses the driver's paging state as the
//! cursor. There are no multi-partition transactions here: a failure midway through a batch leaves
//! rows that the redelivery (the webhook was not acknowledged) completes.

/// A table row as a struct whose field names are its columns. Reads and writes match columns
/// by name (the driver's derives), and `COLUMNS` lists the fields for the statements that select
/// or insert it, so a statement and its row cannot disagree about which column is which.
macro_rules! row {
    ($(#[$meta:meta])* struct $name:ident { $($field:ident: $ty:ty,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, scylla::DeserializeRow, scylla::SerializeRow)]
        pub(super) struct $name {
            $(pub(super) $field: $ty,)+
        }

        impl $name {
            /// The columns, in field order.
            #[allow(dead_code)]
            pub(super) const COLUMNS: &'static str = columns!($($field),+);
        }
    };
}

/// `a, b, c` from the field names `a`, `b`, `c`.
macro_rules! columns {
    ($first:ident $(, $rest:ident)*) => {
        concat!(stringify!($first) $(, ", ", stringify!($rest))*)
    };
}

/// `?, ?, ?`: a bind marker for each column of a row's `COLUMNS`.
fn markers(columns: &str) -> String {
    vec!["?"; columns.split(',').count()].join(", ")
}

mod activity;
mod automation;
mod campaigns;
mod catalogue;
mod contacts;
mod costs;
mod directory;
mod identity;
mod imports;
mod inbox;
mod media;
mod messages;
mod migrate;
mod outbox;
mod retention;
mod search;
mod webhooks;

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
    /// CQL appended to `CREATE KEYSPACE` (`AND tablets = {'enabled': false}` by default).
    pub keyspace_options: String,
}

pub struct ScyllaStore {
    session: Session,
    keyspace: String,
    keys: IdKeys,
    directory: directory::Statements,
    messages: messages::Statements,
    identity: identity::Statements,
    inbox: inbox::Statements,
    outbox: outbox::Statements,
    contacts: contacts::Statements,
    catalogue: catalogue::Statements,
    imports: imports::Statements,
    automation: automation::Statements,
    costs: costs::Statements,
    campaigns: campaigns::Statements,
    search: search::Statements,
    media: media::Statements,
    retention: retention::Statements,
    activity: activity::Statements,
    webhooks: webhooks::Statements,
}

fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    StoreError::Backend(Box::new(e))
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
        migrate(&session, options).await?;
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
        let contacts = contacts::Statements::prepare(&p).await?;
        let catalogue = catalogue::Statements::prepare(&p).await?;
        let imports = imports::Statements::prepare(&p).await?;
        let automation = automation::Statements::prepare(&p).await?;
        let costs = costs::Statements::prepare(&p).await?;
        let campaigns = campaigns::Statements::prepare(&p).await?;
        let search = search::Statements::prepare(&p).await?;
        let media = media::Statements::prepare(&p).await?;
        let retention = retention::Statements::prepare(&p).await?;
        let activity = activity::Statements::prepare(&p).await?;
        let webhooks = webhooks::Statements::prepare(&p).await?;
        let keys = load_or_create_keys(&session, ks).await?;
        Ok(Self {
            session,
            keyspace: options.keyspace.clone(),
            keys,
            directory,
            messages,
            identity,
            inbox,
            outbox,
            contacts,
            catalogue,
            imports,
            automation,
            costs,
            campaigns,
            search,
            media,
            retention,
            activity,
            webhooks,
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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::migrate::{cql_statements, MIGRATIONS};

    /// Table → its columns, from the `CREATE TABLE` and `ALTER TABLE … ADD` statements of the
    /// migrations.
    fn tables() -> BTreeMap<String, BTreeSet<String>> {
        let all: String = MIGRATIONS.iter().map(|m| m.text).collect();
        let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for statement in cql_statements(&all) {
            if let Some((_, table, column)) = super::migrate::added_column(&statement) {
                tables
                    .get_mut(table)
                    .unwrap_or_else(|| panic!("{statement}: no such table before it"))
                    .insert(column.to_owned());
                continue;
            }
            let Some(rest) = statement.strip_prefix("CREATE TABLE IF NOT EXISTS {keyspace}.")
            else {
                continue;
            };
            let (name, body) = rest.split_once('(').expect("a column list");
            let columns = body
                .split(',')
                .filter_map(|part| part.split_whitespace().next())
                .filter(|word| !word.eq_ignore_ascii_case("PRIMARY") && !word.starts_with('('))
                .map(|word| word.trim_matches(|c| c == '(' || c == ')').to_owned())
                .collect();
            tables.insert(name.trim().to_owned(), columns);
        }
        tables
    }

    /// No cluster runs here, so the one thing a typo would break only on a real one, a row
    /// naming a column its table does not have, is checked against the migrations themselves.
    #[test]
    fn every_row_names_only_columns_of_its_table() {
        let tables = tables();
        let rows = [
            (
                "messages_by_conversation",
                super::messages::MessageRow::COLUMNS,
            ),
            ("messages_by_key", super::messages::KeyLocation::COLUMNS),
            ("statuses_by_message", super::messages::StatusRow::COLUMNS),
            (
                "conversations_by_id",
                super::messages::ConversationRow::COLUMNS,
            ),
            (
                "account_events_by_tenant",
                super::messages::EventRow::COLUMNS,
            ),
            ("users_by_email", super::identity::UserRow::COLUMNS),
            ("users_by_tenant", super::identity::UserRow::COLUMNS),
            ("audit_by_tenant", super::identity::AuditRow::COLUMNS),
            ("api_keys_by_id", super::identity::KeyRow::COLUMNS),
            ("sessions_by_hash", super::identity::SessionRow::COLUMNS),
            ("roles_by_tenant", super::identity::RoleRow::COLUMNS),
            ("teams_by_tenant", super::identity::TeamRow::COLUMNS),
            ("threads_by_id", super::inbox::ThreadRow::COLUMNS),
            ("episodes_by_day", super::inbox::EpisodeRow::COLUMNS),
            ("notes_by_conversation", super::inbox::NoteRow::COLUMNS),
            (
                "agent_profiles_by_tenant",
                super::inbox::ProfileRow::COLUMNS,
            ),
            ("outbox_by_id", super::outbox::SendRow::COLUMNS),
            (
                "outbox_pending_by_number",
                super::outbox::PendingRow::COLUMNS,
            ),
            ("contacts_by_id", super::contacts::ContactRow::COLUMNS),
            (
                "contact_notes_by_contact",
                super::contacts::ContactNoteRow::COLUMNS,
            ),
            ("consent_by_contact", super::contacts::ConsentRow::COLUMNS),
            ("imports_by_tenant", super::imports::ImportRow::COLUMNS),
            ("import_undo", super::imports::UndoRow::COLUMNS),
            ("import_rejects", super::imports::RejectRow::COLUMNS),
            ("segments_by_tenant", super::catalogue::SegmentRow::COLUMNS),
            ("automation_items", super::automation::ItemRow::COLUMNS),
            ("charges_by_month", super::costs::ChargeRow::COLUMNS),
            (
                "campaign_recipients",
                super::campaigns::RecipientRow::COLUMNS,
            ),
            ("media_by_id", super::media::MediaRow::COLUMNS),
            ("media_pending_by_number", super::media::PendingRow::COLUMNS),
            ("agent_days", super::activity::AgentDayRow::COLUMNS),
            ("webhook_endpoints", super::webhooks::EndpointRow::COLUMNS),
            ("webhook_deliveries", super::webhooks::DeliveryRow::COLUMNS),
            ("webhook_delivery_ids", super::webhooks::IdRow::COLUMNS),
            ("webhook_pending", super::webhooks::PendingRow::COLUMNS),
        ];
        for (table, columns) in rows {
            let known = tables
                .get(table)
                .unwrap_or_else(|| panic!("no table {table} in the migrations"));
            for column in columns.split(", ") {
                assert!(known.contains(column), "{table} has no column `{column}`");
            }
        }
    }
}
