//! Runs the one store conformance suite against every backend: SQLite always, ScyllaDB when
//! `SCYLLA_URI` (comma-separated `host:port` contact points) is set.

use switchboard_server::store::conformance;
use switchboard_server::store::scylla::{ScyllaOptions, ScyllaStore};
use switchboard_server::store::sqlite::{SqliteOptions, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("switchboard.db"), SqliteOptions::default())
        .expect("open SQLite store");
    conformance::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backend_conforms_after_reopen() {
    // The same data read back by a fresh process-like open (migrations are idempotent).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchboard.db");
    drop(SqliteStore::open(&path, SqliteOptions::default()).unwrap());
    let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
    conformance::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scylla_backend_conforms() {
    let Ok(uri) = std::env::var("SCYLLA_URI") else {
        println!("SKIPPED: scylla_backend_conforms: SCYLLA_URI is not set, so the ScyllaDB backend was not exercised (set SCYLLA_URI=host:9042 to run it)");
        return;
    };
    let options = ScyllaOptions {
        nodes: uri.split(',').map(|s| s.trim().to_owned()).collect(),
        keyspace: std::env::var("SCYLLA_KEYSPACE")
            .unwrap_or_else(|_| "switchboard_conformance".into()),
        replication: "{'class': 'SimpleStrategy', 'replication_factor': 1}".into(),
    };
    let store = ScyllaStore::connect(&options)
        .await
        .expect("connect to ScyllaDB");
    conformance::run_all(&store).await;
}
