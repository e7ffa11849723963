//! The schema's migrations, the deployment's identifier keys, and the one-time re-keying of
//! conversation ids.

use rusqlite::{params, Connection};
use switchboard_shared::{PhoneNumberId, TenantId, WaId};

use super::unavailable;
use crate::domain::now_ms;
use crate::store::ledger::{self, Applied, Migration};
use crate::store::{IdKeys, StoreError, StoreResult};

/// One migration file of `migrations/sqlite/`, embedded.
macro_rules! migration {
    ($version:literal, $name:literal) => {
        Migration::new(
            $version,
            $name,
            include_str!(concat!("../../../../migrations/sqlite/", $name)),
        )
    };
}

/// The migrations, in order. The ledger (`schema_ledger`) records each one applied.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_initial.sql"),
    migration!(2, "0002_identity.sql"),
    migration!(3, "0003_access.sql"),
    migration!(4, "0004_inbox.sql"),
    migration!(5, "0005_outbox.sql"),
    migration!(6, "0006_notes_profiles.sql"),
    migration!(7, "0007_keys.sql"),
    migration!(8, "0008_contacts.sql"),
    migration!(9, "0009_automation.sql"),
    migration!(10, "0010_replay.sql"),
    migration!(11, "0011_costs.sql"),
    migration!(12, "0012_campaigns.sql"),
    migration!(13, "0013_archive.sql"),
    migration!(14, "0014_search.sql"),
    migration!(15, "0015_reports.sql"),
    migration!(16, "0016_media.sql"),
    migration!(17, "0017_retention.sql"),
    migration!(18, "0018_activity.sql"),
    migration!(19, "0019_numbers.sql"),
    migration!(20, "0020_webhooks.sql"),
    migration!(21, "0021_name_terms.sql"),
];

/// The version whose transaction also makes contacts of the customers webhooks recorded.
const CONTACTS_VERSION: i64 = 8;

/// The version whose transaction also indexes the messages stored before search.
const SEARCH_VERSION: i64 = 14;

/// The version whose transaction also indexes the names of the contacts stored before it.
const NAME_TERMS_VERSION: i64 = 21;

/// The version whose transaction also makes the identifier keys and re-keys conversations.
const KEYS_VERSION: i64 = 7;

/// Brings the schema up to date: checks the ledger against the files (a changed file or a newer
/// database stops here, see [`ledger`](crate::store::ledger)), then applies each missing
/// migration in its own transaction with its ledger row.
pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_ledger (
           version INTEGER PRIMARY KEY,
           name TEXT NOT NULL,
           checksum TEXT NOT NULL,
           applied_at INTEGER NOT NULL
         );",
    )
    .map_err(unavailable)?;
    adopt_user_version(conn)?;
    let applied = ledger_rows(conn)?;
    for m in ledger::pending("SQLite", &applied, MIGRATIONS)? {
        let tx = conn.transaction().map_err(unavailable)?;
        tx.execute_batch(m.text).map_err(unavailable)?;
        if m.version == KEYS_VERSION {
            let keys = IdKeys::new(IdKeys::generate());
            tx.execute(
                "INSERT INTO server_keys (name, secret) VALUES ('ids', ?1)",
                params![keys_secret(&keys)],
            )
            .map_err(unavailable)?;
            rekey_conversations(&tx, &keys)?;
        }
        if m.version == CONTACTS_VERSION {
            // The contacts are written by today's code, which keeps their name terms too.
            if let Some(terms) = MIGRATIONS.iter().find(|m| m.version == NAME_TERMS_VERSION) {
                tx.execute_batch(terms.text).map_err(unavailable)?;
            }
            let keys = load_keys(&tx)?;
            super::contacts::backfill(&tx, &keys)?;
        }
        if m.version == SEARCH_VERSION {
            let indexed = super::search::backfill(&tx)?;
            tracing::info!(indexed, "indexed the stored messages for search");
        }
        if m.version == NAME_TERMS_VERSION {
            let indexed = super::contacts::index_names(&tx)?;
            tracing::info!(indexed, "indexed the stored contacts' names");
        }
        record(&tx, m)?;
        // Kept in step for tools that read it (and older builds' refusal to downgrade).
        tx.execute_batch(&format!("PRAGMA user_version={}", m.version))
            .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied SQLite migration"
        );
    }
    Ok(())
}

fn record(conn: &Connection, m: &Migration) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO schema_ledger (version, name, checksum, applied_at) VALUES (?1, ?2, ?3, ?4)",
        params![m.version, m.name, m.checksum(), now_ms()],
    )
    .map_err(unavailable)?;
    Ok(())
}

/// A database from before the ledger recorded its migrations only as `PRAGMA user_version`:
/// the ones it ran are entered with this build's checksums (the texts it ran are not known).
fn adopt_user_version(conn: &mut Connection) -> StoreResult<()> {
    let entered: i64 = conn
        .query_row("SELECT COUNT(*) FROM schema_ledger", [], |r| r.get(0))
        .map_err(unavailable)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(unavailable)?;
    if entered > 0 || version == 0 {
        return Ok(());
    }
    let tx = conn.transaction().map_err(unavailable)?;
    for m in MIGRATIONS.iter().filter(|m| m.version <= version) {
        record(&tx, m)?;
    }
    tx.commit().map_err(unavailable)?;
    tracing::info!(
        version,
        "entered the migrations of an existing database in the ledger"
    );
    Ok(())
}

/// The ledger as stored.
pub fn ledger_rows(conn: &Connection) -> StoreResult<Vec<Applied>> {
    let mut stmt = conn
        .prepare("SELECT version, name, checksum, applied_at FROM schema_ledger ORDER BY version")
        .map_err(unavailable)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Applied {
                version: r.get(0)?,
                name: r.get(1)?,
                checksum: r.get(2)?,
                applied_at: r.get(3)?,
            })
        })
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

/// The deployment's identifier secret as stored.
fn keys_secret(keys: &IdKeys) -> Vec<u8> {
    keys.secret().to_vec()
}

/// Reads the identifier secret (made by migration 7).
pub(super) fn load_keys(conn: &Connection) -> StoreResult<IdKeys> {
    let secret: Vec<u8> = conn
        .query_row(
            "SELECT secret FROM server_keys WHERE name = 'ids'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "the database has no identifier key ({e}); start `switchboard serve` once to upgrade it"
            ))
        })?;
    let master: [u8; 32] = secret
        .try_into()
        .map_err(|_| StoreError::Corrupt("the identifier key is not 32 bytes".into()))?;
    Ok(IdKeys::new(master))
}

/// Tables whose rows name a conversation by id, re-keyed together.
pub const CONVERSATION_TABLES: [&str; 7] = [
    "conversations_by_id",
    "buckets_by_conversation",
    "messages_by_conversation",
    "messages_by_key",
    "threads_by_id",
    "outbox_by_id",
    "notes_by_conversation",
];

/// Gives every stored conversation its keyed id, in every table that names it, and records old
/// → new in `conversation_aliases` (the audit log keeps the old ids it was written with: it is
/// append-only). Runs once, inside migration 7's transaction, so a crash leaves the old ids and
/// the old schema version, and the next start does it all again.
fn rekey_conversations(tx: &rusqlite::Transaction<'_>, keys: &IdKeys) -> StoreResult<()> {
    let mut pairs: Vec<(String, String, String)> = Vec::new();
    {
        let mut seen = tx
            .prepare(
                "SELECT DISTINCT tenant, conversation_id, number, customer FROM conversations_by_id \
                 UNION SELECT DISTINCT tenant, conversation_id, number, customer FROM threads_by_id \
                 UNION SELECT DISTINCT tenant, conversation_id, number, customer FROM outbox_by_id",
            )
            .map_err(unavailable)?;
        let rows = seen
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(unavailable)?;
        for row in rows {
            let (tenant, old, number, customer) = row.map_err(unavailable)?;
            let new = keys.conversation_id(
                &TenantId::from(tenant.as_str()),
                &PhoneNumberId::from(number.as_str()),
                &WaId::from(customer.as_str()),
            );
            if new.as_str() != old {
                pairs.push((tenant, old, new.into_string()));
            }
        }
    }
    if pairs.is_empty() {
        return Ok(());
    }
    tx.execute_batch(
        "CREATE TEMP TABLE rekey (tenant TEXT NOT NULL, old_id TEXT NOT NULL, new_id TEXT NOT NULL, \
         PRIMARY KEY (tenant, old_id)) WITHOUT ROWID;",
    )
    .map_err(unavailable)?;
    {
        let mut insert = tx
            .prepare("INSERT OR IGNORE INTO rekey (tenant, old_id, new_id) VALUES (?1, ?2, ?3)")
            .map_err(unavailable)?;
        for (tenant, old, new) in &pairs {
            insert
                .execute(params![tenant, old, new])
                .map_err(unavailable)?;
        }
    }
    for table in CONVERSATION_TABLES {
        tx.execute_batch(&format!(
            "UPDATE {table} SET conversation_id = (SELECT new_id FROM rekey \
               WHERE rekey.tenant = {table}.tenant AND rekey.old_id = {table}.conversation_id) \
             WHERE EXISTS (SELECT 1 FROM rekey \
               WHERE rekey.tenant = {table}.tenant AND rekey.old_id = {table}.conversation_id);"
        ))
        .map_err(unavailable)?;
    }
    tx.execute_batch(
        "INSERT OR IGNORE INTO conversation_aliases (tenant, old_id, new_id) \
           SELECT tenant, old_id, new_id FROM rekey; \
         DROP TABLE temp.rekey;",
    )
    .map_err(unavailable)?;
    tracing::info!(
        conversations = pairs.len(),
        "gave stored conversations their keyed ids (old ids answer with the new one)"
    );
    Ok(())
}
