//! The SQLite migration ledger: what start-up does with a database whose recorded migrations
//! differ from this build's files.

use switchboard_server::store::sqlite::{SqliteOptions, SqliteStore, MIGRATIONS};

fn open(path: &std::path::Path) -> Result<SqliteStore, String> {
    SqliteStore::open(path, SqliteOptions::default()).map_err(|e| e.to_string())
}

fn ledger(path: &std::path::Path) -> Vec<(i64, String, String)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT version, name, checksum FROM schema_ledger ORDER BY version")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn execute(path: &std::path::Path, sql: &str) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
}

#[tokio::test]
async fn every_applied_migration_is_in_the_ledger_with_its_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    drop(open(&path).unwrap());
    let expected: Vec<(i64, String, String)> = MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name.to_owned(), m.checksum()))
        .collect();
    assert_eq!(ledger(&path), expected);
    drop(open(&path).expect("a second start applies nothing and passes the check"));
    assert_eq!(ledger(&path), expected);
}

#[tokio::test]
async fn a_migration_changed_after_it_ran_stops_start_up_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    drop(open(&path).unwrap());
    execute(
        &path,
        &format!(
            "UPDATE schema_ledger SET checksum = '{}' WHERE version = 3",
            "0".repeat(64)
        ),
    );
    let error = open(&path).err().expect("start-up refused");
    assert!(
        error.contains("0003_access.sql") && error.contains("was changed after it was applied"),
        "{error}"
    );
}

#[tokio::test]
async fn a_database_from_a_newer_build_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    drop(open(&path).unwrap());
    execute(
        &path,
        "INSERT INTO schema_ledger (version, name, checksum, applied_at) \
         VALUES (99, '0099_future.sql', 'x', 0)",
    );
    let error = open(&path).err().expect("start-up refused");
    assert!(
        error.contains("0099_future.sql") && error.contains("newer Switchboard"),
        "{error}"
    );
}

#[tokio::test]
async fn a_database_from_before_the_ledger_is_entered_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    drop(open(&path).unwrap());
    // What a database from before the ledger looks like: the version only in user_version.
    execute(&path, "DROP TABLE schema_ledger");
    drop(open(&path).unwrap());
    assert_eq!(ledger(&path).len(), MIGRATIONS.len());
}

/// A database from before search (version 13) has its stored messages indexed by the migration
/// that adds search, so a word of an old message is found after the upgrade.
#[tokio::test]
async fn messages_stored_before_search_are_indexed_by_its_migration() {
    use switchboard_server::domain::*;
    use switchboard_server::store::MessageStore;
    use switchboard_shared::normalize::search_terms;
    use switchboard_shared::{PhoneNumberId, TenantId, WaId, Wamid};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    let tenant = TenantId::new("t-old");
    {
        let store = open(&path).unwrap();
        let (wamid, customer) = (Wamid::from("wamid.old"), WaId::from("4915100000001"));
        let message = InboundMessage {
            key: inbound_message_key(&wamid, &customer, "text", "1750000000"),
            wamid,
            number: PhoneNumberId::from("106540352242922"),
            customer,
            kind: "text".into(),
            text: Some("Where is my parcel?".into()),
            at_ms: 1_750_000_000_000,
            raw: "{}".into(),
        };
        store
            .ingest(IngestBatch {
                received_at: 1_750_000_000_000,
                raw_body: b"{}".to_vec(),
                events: vec![(tenant.clone(), InboundEvent::Message(message))],
            })
            .await
            .unwrap();
    }
    // As version 13 left it: no search tables, no ledger row for 14.
    execute(
        &path,
        "DROP TABLE message_search; DROP TABLE message_search_rows; DROP TABLE episodes;
         DROP TRIGGER audit_is_append_only_delete;
         CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit_by_tenant
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
         DROP TABLE media; DROP TABLE audit_purge_permits; DROP INDEX webhook_journal_by_bucket;
         DROP TABLE agent_days; DROP TABLE number_connections;
         DROP TABLE webhook_endpoints; DROP TABLE webhook_deliveries;
         ALTER TABLE threads_by_id DROP COLUMN first_response_at;
         ALTER TABLE threads_by_id DROP COLUMN first_responder;
         ALTER TABLE threads_by_id DROP COLUMN messages_in;
         ALTER TABLE threads_by_id DROP COLUMN messages_out;
         ALTER TABLE threads_by_id DROP COLUMN survey;
         DELETE FROM schema_ledger WHERE version >= 14; PRAGMA user_version = 13;",
    );
    let store = open(&path).unwrap();
    let found = store
        .search_messages(&tenant, &search_terms("PARCEL"), None, 10)
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
}
