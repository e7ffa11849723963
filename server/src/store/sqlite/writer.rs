//! The one writer thread and its group commits, knowing no aggregate: a job is any closure over
//! the connection, and its result reaches the caller only once the transaction that holds it is
//! committed. So an aggregate owns its SQL and its writes, and a caller that got `Ok` holds
//! durable data (what lets the webhook handler acknowledge only after commit).
//!
//! The writer drains whatever is queued (up to `max_batch`), runs each job in its own savepoint
//! inside one transaction (a failing job rolls back only its own savepoint), commits once (one
//! fsync for the group) and then answers every caller. WAL checkpoints run on a thread and
//! connection of their own, never inside a group commit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::unavailable;
use crate::store::{IdKeys, StoreError, StoreResult};

/// The database file the store opened, watched. Deleted or replaced under a running server, the
/// open connections still write, into a file nobody will open again: a webhook acknowledged
/// then would be lost at the next start. So the writer asks before every group commit, and once
/// the file is gone (or SQLite found it damaged) every write is refused, until an operator
/// restores it and restarts: no later "recovery" could bring back what went to the old file.
#[derive(Clone, Debug)]
pub(super) struct FileGuard {
    path: PathBuf,
    /// The file's device and inode when opened.
    identity: Option<(u64, u64)>,
    lost: Arc<OnceLock<String>>,
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl FileGuard {
    pub(super) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            identity: identity(path),
            lost: Arc::new(OnceLock::new()),
        }
    }

    /// Whether the file is still the one opened (one `stat`), else why not, from now on.
    pub(super) fn check(&self) -> StoreResult<()> {
        if let Some(why) = self.lost.get() {
            return Err(StoreError::Lost(why.clone()));
        }
        let now = identity(&self.path);
        if now.is_some() && now == self.identity {
            return Ok(());
        }
        let what = if now.is_none() { "deleted" } else { "replaced" };
        Err(self.lose(format!(
            "{} was {what} while the server ran",
            self.path.display()
        )))
    }

    /// Marks the data lost (the first reason stays) and says so.
    pub(super) fn lose(&self, why: String) -> StoreError {
        if self.lost.set(why).is_ok() {
            tracing::error!(
                reason = %self.lost.get().map(String::as_str).unwrap_or(""),
                "the database is lost under the running server: every write is refused until \
                 it is restored and the server restarted"
            );
        }
        StoreError::Lost(self.lost.get().cloned().unwrap_or_default())
    }
}

/// One write waiting for the writer.
pub(super) trait Job: Send {
    /// Runs the work inside its savepoint; whether it succeeded (else the savepoint is rolled
    /// back).
    fn run(&mut self, conn: &Connection, keys: &IdKeys) -> bool;
    /// The work succeeded but its savepoint could not be released.
    fn fail(&mut self, error: StoreError);
    /// Answers the caller once the group's fate is known: its own result when the transaction
    /// committed, the commit's error when it did not.
    fn finish(self: Box<Self>, committed: &Result<(), rusqlite::Error>);
    /// Answers the caller without running the work.
    fn refuse(self: Box<Self>, error: StoreError);
}

/// A job with a typed result.
pub(super) struct Typed<T, F> {
    work: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Typed<T, F> {
    pub(super) fn new(work: F, reply: oneshot::Sender<StoreResult<T>>) -> Self {
        Self {
            work: Some(work),
            result: None,
            reply,
        }
    }
}

impl<T, F> Job for Typed<T, F>
where
    T: Send,
    F: FnOnce(&Connection, &IdKeys) -> StoreResult<T> + Send,
{
    fn run(&mut self, conn: &Connection, keys: &IdKeys) -> bool {
        let result = match self.work.take() {
            Some(work) => work(conn, keys),
            None => Err(StoreError::Unavailable("a write job ran twice".into())),
        };
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn fail(&mut self, error: StoreError) {
        self.result = Some(Err(error));
    }

    fn finish(self: Box<Self>, committed: &Result<(), rusqlite::Error>) {
        let outcome = match committed {
            Ok(()) => self.result.unwrap_or(Err(StoreError::Closed)),
            Err(e) => Err(super::refused(e)),
        };
        // The caller may have gone away (client disconnected); the data is committed anyway.
        let _ = self.reply.send(outcome);
    }

    fn refuse(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

/// `_checkpointer` is held for the checkpointer thread: it stops when this loop ends.
pub(super) fn writer_loop(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Box<dyn Job>>,
    keys: IdKeys,
    max_batch: usize,
    guard: FileGuard,
    _checkpointer: std::sync::mpsc::Sender<()>,
) {
    let mut jobs: Vec<Box<dyn Job>> = Vec::with_capacity(max_batch);
    let wal = conn
        .path()
        .map(|p| std::path::PathBuf::from(format!("{p}-wal")));
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if let Err(lost) = guard.check() {
            for job in jobs.drain(..) {
                job.refuse(StoreError::Lost(lost.to_string()));
            }
            continue;
        }
        let started = Instant::now();
        let committed = commit_group(&mut conn, &mut jobs, &keys);
        if let Err(e) = &committed {
            if super::damaged(e) {
                guard.lose(format!("SQLite found it damaged: {e}"));
            }
        }
        metrics::histogram!("switchboard_store_commit_seconds").record(started.elapsed());
        metrics::histogram!("switchboard_store_commit_jobs").record(jobs.len() as f64);
        for job in jobs.drain(..) {
            job.finish(&committed);
        }
        // A writer that never pauses (a contact import) never lets the checkpointer's passive
        // checkpoints finish before its next commit, so the WAL only grew: 3.3 GB during a
        // million-row import, and every page read, the writer's own too, searched a wal-index
        // that long (the import slowed as it went; searches after it took half a second). Past
        // WAL_LIMIT, between two groups, the writer copies it all and empties it.
        if wal
            .as_ref()
            .and_then(|p| std::fs::metadata(p).ok())
            .is_some_and(|m| m.len() > WAL_LIMIT)
        {
            let started = Instant::now();
            match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            }) {
                Ok(busy) => tracing::debug!(busy, took = ?started.elapsed(), "WAL truncated"),
                Err(error) => tracing::warn!(%error, "SQLite truncating checkpoint failed"),
            }
        }
    }
    tracing::debug!("SQLite writer stopped: every store handle was dropped");
}

/// Runs every job in its own savepoint of one transaction and commits it.
fn commit_group(
    conn: &mut Connection,
    jobs: &mut [Box<dyn Job>],
    keys: &IdKeys,
) -> Result<(), rusqlite::Error> {
    let mut tx = conn.transaction()?;
    for job in jobs.iter_mut() {
        match tx.savepoint_with_name("job") {
            Ok(sp) => {
                if job.run(&sp, keys) {
                    if let Err(e) = sp.commit() {
                        job.fail(unavailable(e));
                    }
                }
                // A failed job's savepoint rolls back as it is dropped.
            }
            Err(e) => job.fail(unavailable(e)),
        }
    }
    tx.commit()
}

/// The WAL size past which the writer checkpoints it whole and truncates it (see `writer_loop`).
const WAL_LIMIT: u64 = 128 * 1024 * 1024;

/// How often the checkpointer copies committed pages from the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);
/// The writer checkpoints itself only if the WAL grows past this (256 MiB of 4 KiB pages).
pub(super) const BACKSTOP_CHECKPOINT_PAGES: u32 = 65_536;

/// Checkpoints the WAL into the database every [`CHECKPOINT_EVERY`] on a connection of its own,
/// until the writer is gone. PASSIVE never blocks the writer or the readers: it copies what
/// every reader has moved past, and the writer starts the WAL over once all of it is copied. On
/// the writer itself, checkpoints ran every 1,000 pages inside a commit, which held every caller
/// of that group commit for the copy and its fsyncs, and copied hot pages again at every one.
pub(super) fn checkpointer(conn: Connection, writer_gone: std::sync::mpsc::Receiver<()>) {
    use std::sync::mpsc::RecvTimeoutError;
    // A message or a disconnect both mean the writer is gone.
    while let Err(RecvTimeoutError::Timeout) = writer_gone.recv_timeout(CHECKPOINT_EVERY) {
        let started = Instant::now();
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        }) {
            Ok((wal_pages, copied)) => {
                metrics::histogram!("switchboard_store_checkpoint_seconds")
                    .record(started.elapsed());
                metrics::gauge!("switchboard_store_wal_pages").set(wal_pages as f64);
                metrics::gauge!("switchboard_store_sqlite_heap_bytes").set(sqlite_heap() as f64);
                tracing::trace!(wal_pages, copied, "checkpoint");
            }
            Err(error) => tracing::warn!(%error, "SQLite checkpoint failed; retrying"),
        }
    }
    tracing::debug!("SQLite checkpointer stopped with the writer");
}

/// What SQLite has allocated, in bytes, over every connection of the process: page caches,
/// prepared statements, schema. The one figure that tells its share of the server's memory.
#[allow(unsafe_code)]
fn sqlite_heap() -> i64 {
    // SAFETY: `sqlite3_memory_used` takes nothing, only reads SQLite's own counters (under its
    // mutex), and may be called from any thread at any time.
    unsafe { rusqlite::ffi::sqlite3_memory_used() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_deleted_or_replaced_stays_lost_even_when_something_is_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        std::fs::write(&path, b"one").unwrap();
        let guard = FileGuard::new(&path);
        assert!(guard.check().is_ok());
        std::fs::write(&path, b"changed in place").unwrap();
        assert!(guard.check().is_ok(), "the same file, written: still it");
        std::fs::remove_file(&path).unwrap();
        let Err(StoreError::Lost(why)) = guard.check() else {
            panic!("a deleted file is lost")
        };
        assert!(why.ends_with("was deleted while the server ran"), "{why}");
        std::fs::write(&path, b"another").unwrap();
        assert!(
            matches!(guard.check(), Err(StoreError::Lost(w)) if w == why),
            "a file put back is not the one opened, and the first reason stays"
        );
        let replaced = FileGuard::new(&path);
        std::fs::rename(dir.path().join("db"), dir.path().join("old")).unwrap();
        std::fs::write(&path, b"new").unwrap();
        assert!(
            matches!(replaced.check(), Err(StoreError::Lost(w)) if w.ends_with("was replaced while the server ran")),
        );
    }
}
