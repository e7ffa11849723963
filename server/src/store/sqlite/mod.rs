//! The embedded default backend: SQLite in WAL mode inside `data_dir`.
//!
//! One file per aggregate (`directory`, `messages`, `identity`, `inbox`, `outbox`, `contacts`), each owning
//! its SQL, its reads and its writes; `migrate` owns the schema; `writer` runs writes.
//!
//! Concurrency model: exactly one writer thread owns the read-write connection. A write is a
//! closure sent to it ([`SqliteStore::write`]); it runs a group of them in one transaction, one
//! savepoint each, and answers each caller only after the commit, so a caller that got `Ok` holds
//! durable data: this is what lets the webhook handler acknowledge only after commit. Reads use a
//! small pool of read-only connections on the blocking thread pool and never wait for the writer
//! (WAL).

mod activity;
mod automation;
mod campaigns;
mod catalogue;
mod contacts;
mod costs;
mod directory;
mod filter;
mod identity;
mod imports;
mod inbox;
mod media;
mod messages;
mod migrate;
mod outbox;
mod retention;
mod search;
pub mod snapshot;
mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot, Semaphore};

use self::migrate::{load_keys, migrate};
pub use self::migrate::{CONVERSATION_TABLES, MIGRATIONS};
use self::writer::{checkpointer, writer_loop, FileGuard, Job, Typed, BACKSTOP_CHECKPOINT_PAGES};
use super::keys::IdKeys;
use super::{decode_list, StoreError, StoreResult};
pub use crate::config::Synchronous;
use crate::domain::{SendState, ThreadState};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ValueRef};

#[derive(Clone, Debug)]
pub struct SqliteOptions {
    pub synchronous: Synchronous,
    /// The most jobs one group commit takes.
    pub max_batch: usize,
    /// Jobs that may wait for the writer before callers wait for room.
    pub queue_depth: usize,
    pub readers: usize,
    /// The writer's page cache, in MiB; each reader gets a quarter of it.
    pub cache_mib: u32,
    /// Open read-only: no writer, no migrations (for `switchboard export` beside a running server).
    pub read_only: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Full,
            max_batch: 512,
            queue_depth: 4096,
            readers: 4,
            cache_mib: 64,
            read_only: false,
        }
    }
}

struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

pub struct SqliteStore {
    keys: IdKeys,
    writer: Option<mpsc::Sender<Box<dyn Job>>>,
    readers: Arc<ReaderPool>,
    path: PathBuf,
    /// The database file, watched (see [`FileGuard`]).
    guard: FileGuard,
}

/// A driver's error as the store's. SQLite's "disk full" and "read-only" are told apart, so that
/// callers can say why nothing was written (and an operator what to fix).
fn unavailable<E: std::error::Error + Send + Sync + 'static>(e: E) -> StoreError {
    match (&e as &dyn std::any::Any).downcast_ref::<rusqlite::Error>() {
        Some(sqlite) if cannot_write(sqlite) || damaged(sqlite) => refused(sqlite),
        _ => StoreError::Backend(Box::new(e)),
    }
}

/// Whether SQLite found the database file damaged (or not a database at all).
fn damaged(e: &rusqlite::Error) -> bool {
    use rusqlite::ffi::ErrorCode;
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// Whether SQLite refused a write for want of space or of permission to write.
fn cannot_write(e: &rusqlite::Error) -> bool {
    use rusqlite::ffi::ErrorCode;
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DiskFull | ErrorCode::ReadOnly | ErrorCode::CannotOpen)
    )
}

/// A failed commit (or any SQLite error) as the store's error, by what it means.
fn refused(e: &rusqlite::Error) -> StoreError {
    use rusqlite::ffi::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => StoreError::Full(e.to_string()),
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen) => StoreError::ReadOnly(e.to_string()),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StoreError::Lost(format!("SQLite found the database damaged: {e}"))
        }
        _ => StoreError::Unavailable(e.to_string()),
    }
}

impl SqliteStore {
    /// Opens (creating and migrating when writable) the database at `path`. A damaged file is
    /// refused with its path and what to do about it.
    pub fn open(path: &Path, options: SqliteOptions) -> StoreResult<Self> {
        Self::open_checked(path, options).map_err(|e| match e {
            StoreError::Lost(why) => StoreError::Lost(format!(
                "{}: {why}. Restore the data directory from a backup (`switchboard restore`), \
                 or move the file away to start with an empty one",
                path.display()
            )),
            e => e,
        })
    }

    fn open_checked(path: &Path, options: SqliteOptions) -> StoreResult<Self> {
        if options.read_only && !path.exists() {
            return Err(StoreError::Unavailable(format!(
                "no Switchboard data at {}",
                path.display()
            )));
        }
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Unavailable(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
        }
        let (writer, guard) = if options.read_only {
            (None, FileGuard::new(path))
        } else {
            let mut conn = Connection::open(path).map_err(unavailable)?;
            // Watched from the moment it exists (opening made it, in a new data directory).
            let guard = FileGuard::new(path);
            configure(&conn, options.synchronous)?;
            tune(&conn, options.cache_mib)?;
            migrate(&mut conn)?;
            let writer_keys = load_keys(&conn)?;
            // Checkpoints move to their own thread and connection (see `checkpointer`); the
            // writer's own automatic checkpoint stays only as a backstop far above their pace.
            conn.execute_batch(&format!(
                "PRAGMA wal_autocheckpoint={BACKSTOP_CHECKPOINT_PAGES};"
            ))
            .map_err(unavailable)?;
            let checkpoints = Connection::open(path).map_err(unavailable)?;
            configure(&checkpoints, options.synchronous)?;
            let (alive, writer_gone) = std::sync::mpsc::channel::<()>();
            std::thread::Builder::new()
                .name("sqlite-checkpoint".into())
                .spawn(move || checkpointer(checkpoints, writer_gone))
                .map_err(unavailable)?;
            let (tx, rx) = mpsc::channel(options.queue_depth.max(1));
            let max_batch = options.max_batch.max(1);
            std::thread::Builder::new()
                .name("sqlite-writer".into())
                .spawn({
                    let guard = guard.clone();
                    move || writer_loop(conn, rx, writer_keys, max_batch, guard, alive)
                })
                .map_err(unavailable)?;
            (Some(tx), guard)
        };
        let mut idle = Vec::with_capacity(options.readers);
        for _ in 0..options.readers.max(1) {
            let conn = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )
            .map_err(unavailable)?;
            conn.busy_timeout(std::time::Duration::from_secs(5))
                .map_err(unavailable)?;
            tune(&conn, (options.cache_mib / 4).max(1))?;
            idle.push(conn);
        }
        let permits = Semaphore::new(idle.len());
        let keys = match idle.first() {
            Some(conn) => load_keys(conn)?,
            None => return Err(StoreError::Unavailable("no reader connection".into())),
        };
        Ok(Self {
            keys,
            writer,
            readers: Arc::new(ReaderPool {
                idle: Mutex::new(idle),
                permits,
            }),
            path: path.to_owned(),
            guard,
        })
    }

    /// Whether the database file is still the one opened (see [`FileGuard`]).
    pub(super) fn guard_check(&self) -> StoreResult<()> {
        self.guard.check()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the writer thread, in its own savepoint of the next group commit, and
    /// answers with its result once that commit is durable (a failed commit fails every job of
    /// the group; a failed job rolls back only its own savepoint).
    async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &IdKeys) -> StoreResult<T> + Send + 'static,
    {
        let writer = self
            .writer
            .as_ref()
            .ok_or_else(|| StoreError::Invalid("the store was opened read-only".into()))?;
        let (reply, answer) = oneshot::channel();
        writer
            .send(Box::new(Typed::new(work, reply)))
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = Arc::clone(&self.readers);
        let _permit = pool
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let pool2 = Arc::clone(&pool);
        tokio::task::spawn_blocking(move || {
            // A permit guarantees an idle connection exists.
            let conn = pool2
                .idle
                .lock()
                .map_err(|_| StoreError::Unavailable("reader pool poisoned".into()))?
                .pop()
                .ok_or_else(|| StoreError::Unavailable("reader pool empty".into()))?;
            let result = f(&conn);
            if let Ok(mut idle) = pool2.idle.lock() {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(unavailable)?
    }
}

fn configure(conn: &Connection, sync: Synchronous) -> StoreResult<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(unavailable)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(unavailable)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "SQLite refused WAL mode (got {mode})"
        )));
    }
    let sync = match sync {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous={sync}; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
    ))
    .map_err(unavailable)
}

/// How much of the database file connections read through a memory map instead of `pread`.
const MMAP_BYTES: u64 = 1 << 30;

/// Page cache and memory-mapped reads. SQLite's default cache is 2 MiB: under load the writer
/// re-read the pages of the indexes it was inserting into with one `pread` each (issue 5's
/// profiles: 7% of the server's CPU), and every reader did the same for every page.
fn tune(conn: &Connection, cache_mib: u32) -> StoreResult<()> {
    conn.execute_batch(&format!(
        "PRAGMA cache_size=-{}; PRAGMA mmap_size={MMAP_BYTES};",
        u64::from(cache_mib) * 1024
    ))
    .map_err(unavailable)
}

/// Domain values read back from their text columns (a value that does not decode is a column
/// error, like a wrong type).
impl FromSql for ThreadState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        ThreadState::parse(text)
            .ok_or_else(|| FromSqlError::Other(format!("thread state `{text}`").into()))
    }
}

impl FromSql for SendState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        SendState::parse(text)
            .ok_or_else(|| FromSqlError::Other(format!("send state `{text}`").into()))
    }
}

/// A list of names stored as JSON text (tags, skills, permissions, members).
struct List(Vec<String>);

impl FromSql for List {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        decode_list(value.as_str()?)
            .map(List)
            .map_err(|e| FromSqlError::Other(e.to_string().into()))
    }
}

impl List {
    fn of<T: From<String>>(self) -> Vec<T> {
        self.0.into_iter().map(T::from).collect()
    }
}
