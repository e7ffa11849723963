//! The schema's migrations, the deployment's identifier keys, and the one-time re-keying of
//! conversation ids.

use rusqlite::{params, Connection};
use switchboard_shared::{PhoneNumberId, TenantId, WaId};

use super::unavailable;
use crate::store::{IdKeys, StoreError, StoreResult};

/// The migrations, in order; `PRAGMA user_version` records the last one applied.
const SCHEMA: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../../../migrations/sqlite/0002_identity.sql"),
    ),
    (
        3,
        include_str!("../../../../migrations/sqlite/0003_access.sql"),
    ),
    (
        4,
        include_str!("../../../../migrations/sqlite/0004_inbox.sql"),
    ),
    (
        5,
        include_str!("../../../../migrations/sqlite/0005_outbox.sql"),
    ),
    (
        6,
        include_str!("../../../../migrations/sqlite/0006_notes_profiles.sql"),
    ),
    (
        7,
        include_str!("../../../../migrations/sqlite/0007_keys.sql"),
    ),
];

pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(unavailable)?;
    for (version, sql) in SCHEMA {
        if *version > current {
            let tx = conn.transaction().map_err(unavailable)?;
            tx.execute_batch(sql).map_err(unavailable)?;
            if *version == 7 {
                let keys = IdKeys::new(IdKeys::generate());
                tx.execute(
                    "INSERT INTO server_keys (name, secret) VALUES ('ids', ?1)",
                    params![keys_secret(&keys)],
                )
                .map_err(unavailable)?;
                rekey_conversations(&tx, &keys)?;
            }
            tx.execute_batch(&format!("PRAGMA user_version={version}"))
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            tracing::info!(version, "applied SQLite schema migration");
        }
    }
    Ok(())
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
