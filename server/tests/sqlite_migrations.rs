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
