//! Runs the one store conformance suite against every backend, one test per check and backend
//! (`sqlite::statuses_never_regress`, …): SQLite always, fresh and reopened (migrations are
//! idempotent and the data reads back the same); ScyllaDB when `SCYLLA_URI` (comma-separated
//! `host:port` contact points) is set.

use switchboard_server::store::Store;

/// A store with whatever must outlive it (the SQLite file's directory).
struct Opened<S> {
    store: S,
    _dir: Option<tempfile::TempDir>,
}

impl<S: Store + 'static> AsRef<dyn Store> for Opened<S> {
    fn as_ref(&self) -> &(dyn Store + 'static) {
        &self.store
    }
}

mod sqlite {
    use switchboard_server::store::sqlite::{SqliteOptions, SqliteStore};

    use super::Opened;

    async fn open() -> Option<Opened<SqliteStore>> {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("switchboard.db"), SqliteOptions::default())
            .expect("open SQLite store");
        Some(Opened {
            store,
            _dir: Some(dir),
        })
    }

    switchboard_server::store_conformance_tests!(open);
}

mod sqlite_reopened {
    use switchboard_server::store::sqlite::{SqliteOptions, SqliteStore};

    use super::Opened;

    async fn open() -> Option<Opened<SqliteStore>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("switchboard.db");
        drop(SqliteStore::open(&path, SqliteOptions::default()).unwrap());
        let store = SqliteStore::open(&path, SqliteOptions::default()).unwrap();
        Some(Opened {
            store,
            _dir: Some(dir),
        })
    }

    switchboard_server::store_conformance_tests!(open);
}

mod scylla {
    use switchboard_server::store::scylla::{ScyllaOptions, ScyllaStore};

    use super::Opened;

    #[allow(clippy::disallowed_methods)] // a test's own setting, not the server's configuration
    async fn open() -> Option<Opened<ScyllaStore>> {
        let Ok(uri) = std::env::var("SCYLLA_URI") else {
            println!("SKIPPED: SCYLLA_URI is not set, so the ScyllaDB backend was not exercised (set SCYLLA_URI=host:9042 to run it)");
            return None;
        };
        let options = ScyllaOptions {
            nodes: uri.split(',').map(|s| s.trim().to_owned()).collect(),
            keyspace: std::env::var("SCYLLA_KEYSPACE")
                .unwrap_or_else(|_| "switchboard_conformance".into()),
            // As production keyspaces are made: NetworkTopologyStrategy, tablets off.
            replication: "{'class': 'NetworkTopologyStrategy', 'replication_factor': 1}".into(),
            keyspace_options: "AND tablets = {'enabled': false}".into(),
        };
        let store = ScyllaStore::connect(&options)
            .await
            .expect("connect to ScyllaDB");
        Some(Opened { store, _dir: None })
    }

    switchboard_server::store_conformance_tests!(open);
}
