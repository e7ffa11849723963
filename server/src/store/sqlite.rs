//! The embedded default backend: SQLite in WAL mode inside `data_dir`.
//!
//! Concurrency model: exactly one writer thread owns the read-write connection. Callers send it
//! jobs over a bounded channel; it drains whatever is queued (up to `max_batch`), runs each job in
//! its own savepoint inside one transaction, commits once (one fsync for the whole group) and only
//! then answers each caller. A caller that got `Ok` therefore holds durable data: this is what
//! lets the webhook handler acknowledge only after commit. Reads use a small pool of read-only
//! connections on the blocking thread pool and never wait for the writer (WAL).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use switchboard_shared::{
    ConversationId, Direction, MessageKey, MessageStatus, PhoneNumberId, TenantId, UserId, WaId,
    Wamid,
};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::keys::IdKeys;
use super::page::*;
use super::rows::*;
pub use crate::config::Synchronous;
use crate::domain::*;

use super::{
    check_limit, DirectoryStore, IdentityStore, InboxStore, MessageStore, OutboxStore, StoreError,
    StoreResult,
};

/// The migrations, in order; `PRAGMA user_version` records the last one applied.
const SCHEMA: &[(i64, &str)] = &[
    (
        1,
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        include_str!("../../../migrations/sqlite/0002_identity.sql"),
    ),
    (
        3,
        include_str!("../../../migrations/sqlite/0003_access.sql"),
    ),
    (4, include_str!("../../../migrations/sqlite/0004_inbox.sql")),
    (
        5,
        include_str!("../../../migrations/sqlite/0005_outbox.sql"),
    ),
    (
        6,
        include_str!("../../../migrations/sqlite/0006_notes_profiles.sql"),
    ),
    (7, include_str!("../../../migrations/sqlite/0007_keys.sql")),
];

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

enum WriteOp {
    Ingest(IngestBatch),
    Outbound(OutboundRecord),
    Tenant(TenantRecord),
    Number(NumberRecord),
    CreateUser(UserRecord, AuditRecord),
    UpdateUser(UserRecord, AuditRecord),
    Access(AccessOp),
    PutThread(ThreadRecord, Option<AuditRecord>),
    /// Inserts a send unless its id exists (`Updated(inserted)`).
    EnqueueSend(OutboxRecord),
    UpdateSend(OutboxRecord),
    AddNote(NoteRecord),
    PutProfile(ProfileRecord, AuditRecord),
}

/// Writes of sessions, roles, teams, API keys and audit lines.
enum AccessOp {
    CreateSession(SessionRecord, AuditRecord),
    TouchSession(String, UnixMillis),
    DeleteSession(String, AuditRecord),
    PutRole(RoleRecord, AuditRecord),
    DeleteRole(TenantId, String, AuditRecord),
    PutTeam(TeamRecord, AuditRecord),
    DeleteTeam(TenantId, String, AuditRecord),
    CreateApiKey(ApiKeyRecord, AuditRecord),
    RevokeApiKey(TenantId, String, UnixMillis, AuditRecord),
    TouchApiKey(String, UnixMillis),
    Audit(AuditRecord),
}

enum WriteOutcome {
    Ingested(IngestReport),
    Done,
    Updated(bool),
}

struct WriteJob {
    op: WriteOp,
    reply: oneshot::Sender<StoreResult<WriteOutcome>>,
}

struct ReaderPool {
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

pub struct SqliteStore {
    keys: IdKeys,
    writer: Option<mpsc::Sender<WriteJob>>,
    readers: Arc<ReaderPool>,
    path: PathBuf,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl SqliteStore {
    /// Opens (creating and migrating when writable) the database at `path`.
    pub fn open(path: &Path, options: SqliteOptions) -> StoreResult<Self> {
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
        let writer = if options.read_only {
            None
        } else {
            let mut conn = Connection::open(path).map_err(unavailable)?;
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
                .spawn(move || writer_loop(conn, rx, writer_keys, max_batch, alive))
                .map_err(unavailable)?;
            Some(tx)
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
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn write(&self, op: WriteOp) -> StoreResult<WriteOutcome> {
        let writer = self
            .writer
            .as_ref()
            .ok_or_else(|| StoreError::Invalid("the store was opened read-only".into()))?;
        let (reply, answer) = oneshot::channel();
        writer
            .send(WriteJob { op, reply })
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

/// How often the checkpointer copies committed pages from the WAL into the database.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);
/// The writer checkpoints itself only if the WAL grows past this (256 MiB of 4 KiB pages).
const BACKSTOP_CHECKPOINT_PAGES: u32 = 65_536;
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

/// Checkpoints the WAL into the database every [`CHECKPOINT_EVERY`] on a connection of its own,
/// until the writer is gone. PASSIVE never blocks the writer or the readers: it copies what
/// every reader has moved past, and the writer starts the WAL over once all of it is copied. On
/// the writer itself, checkpoints ran every 1,000 pages inside a commit, which held every caller
/// of that group commit for the copy and its fsyncs (12–15% of the server's CPU under load, all
/// of it on the acknowledgement's path), and copied hot pages again at every one.
fn checkpointer(conn: Connection, writer_gone: std::sync::mpsc::Receiver<()>) {
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
                tracing::trace!(wal_pages, copied, "checkpoint");
            }
            Err(error) => tracing::warn!(%error, "SQLite checkpoint failed; retrying"),
        }
    }
    tracing::debug!("SQLite checkpointer stopped with the writer");
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
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
fn load_keys(conn: &Connection) -> StoreResult<IdKeys> {
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

/// `_checkpointer` is held for the checkpointer thread: it stops when this loop ends.
fn writer_loop(
    mut conn: Connection,
    mut rx: mpsc::Receiver<WriteJob>,
    keys: IdKeys,
    max_batch: usize,
    _checkpointer: std::sync::mpsc::Sender<()>,
) {
    let mut jobs = Vec::with_capacity(max_batch);
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let outcomes = commit_group(&mut conn, &mut jobs, &keys);
        metrics::histogram!("switchboard_store_commit_seconds").record(started.elapsed());
        metrics::histogram!("switchboard_store_commit_jobs").record(outcomes.len() as f64);
        for (job, outcome) in jobs.drain(..).zip(outcomes) {
            // The caller may have gone away (client disconnected); the data is committed anyway.
            let _ = job.reply.send(outcome);
        }
    }
    tracing::debug!("SQLite writer stopped: every store handle was dropped");
}

/// Runs every job in its own savepoint of one transaction. A failing job rolls back only its own
/// savepoint; a failing commit fails them all.
fn commit_group(
    conn: &mut Connection,
    jobs: &mut [WriteJob],
    keys: &IdKeys,
) -> Vec<StoreResult<WriteOutcome>> {
    let mut tx = match conn.transaction() {
        Ok(tx) => tx,
        Err(e) => return jobs.iter().map(|_| Err(unavailable(&e))).collect(),
    };
    let mut outcomes = Vec::with_capacity(jobs.len());
    for job in jobs.iter() {
        let outcome = (|| {
            let sp = tx.savepoint_with_name("job").map_err(unavailable)?;
            let outcome = apply(&sp, &job.op, keys)?;
            sp.commit().map_err(unavailable)?;
            Ok(outcome)
        })();
        outcomes.push(outcome);
    }
    match tx.commit() {
        Ok(()) => outcomes,
        Err(e) => outcomes.iter().map(|_| Err(unavailable(&e))).collect(),
    }
}

fn apply(conn: &Connection, op: &WriteOp, keys: &IdKeys) -> StoreResult<WriteOutcome> {
    match op {
        WriteOp::Tenant(t) => {
            conn.prepare_cached(
                "INSERT INTO tenants_by_id (tenant, name, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant) DO UPDATE SET name = excluded.name",
            )
            .and_then(|mut s| s.execute(params![t.id.as_str(), t.name, t.created_at]))
            .map_err(unavailable)?;
            Ok(WriteOutcome::Done)
        }
        WriteOp::Number(n) => {
            conn.prepare_cached(
                "INSERT INTO numbers_by_id (phone_number_id, tenant, display_phone_number, waba_id)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (phone_number_id) DO UPDATE SET tenant = excluded.tenant,
                   display_phone_number = excluded.display_phone_number, waba_id = excluded.waba_id",
            )
            .and_then(|mut s| {
                s.execute(params![
                    n.phone_number_id.as_str(),
                    n.tenant.as_str(),
                    n.display_phone_number,
                    n.waba_id
                ])
            })
            .map_err(unavailable)?;
            Ok(WriteOutcome::Done)
        }
        WriteOp::Outbound(o) => {
            insert_outbound(conn, o, keys)?;
            Ok(WriteOutcome::Done)
        }
        WriteOp::Ingest(batch) => ingest(conn, batch, keys).map(WriteOutcome::Ingested),
        WriteOp::CreateUser(u, audit) => {
            let result = conn
                .prepare_cached(
                    "INSERT INTO users_by_tenant (tenant, user_id, email, name, role, password_hash,
                       disabled, created_at, session_epoch)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        u.tenant.as_str(),
                        u.id.as_str(),
                        u.email,
                        u.name,
                        u.role,
                        u.password_hash,
                        u.disabled,
                        u.created_at,
                        u.session_epoch
                    ])
                });
            match result {
                Ok(_) => {
                    insert_audit(conn, audit)?;
                    Ok(WriteOutcome::Done)
                }
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    Err(StoreError::Conflict(format!(
                        "a user with email {} exists",
                        u.email
                    )))
                }
                Err(e) => Err(unavailable(e)),
            }
        }
        WriteOp::UpdateUser(u, audit) => {
            let changed = conn
                .prepare_cached(
                    "UPDATE users_by_tenant SET name = ?3, role = ?4, password_hash = ?5,
                       disabled = ?6, session_epoch = ?7
                     WHERE tenant = ?1 AND user_id = ?2",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        u.tenant.as_str(),
                        u.id.as_str(),
                        u.name,
                        u.role,
                        u.password_hash,
                        u.disabled,
                        u.session_epoch
                    ])
                })
                .map_err(unavailable)?;
            audited(conn, changed > 0, audit)
        }
        WriteOp::Access(op) => apply_access(conn, op),
        WriteOp::AddNote(n) => {
            conn.prepare_cached(
                "INSERT INTO notes_by_conversation (tenant, conversation_id, at_ms, note_id, author,
                   author_name, text, mentions) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT DO NOTHING",
            )
            .and_then(|mut st| {
                st.execute(params![
                    n.tenant.as_str(),
                    n.conversation.as_str(),
                    n.at_ms,
                    n.id,
                    n.author.as_ref().map(UserId::as_str),
                    n.author_name,
                    n.text,
                    encode_list(&n.mentions.iter().map(UserId::as_str).collect::<Vec<_>>())
                ])
            })
            .map_err(unavailable)?;
            Ok(WriteOutcome::Done)
        }
        WriteOp::PutProfile(p, audit) => {
            conn.prepare_cached(
                "INSERT INTO agent_profiles_by_tenant (tenant, user_id, skills, capacity, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, user_id) DO UPDATE SET skills = excluded.skills,
                   capacity = excluded.capacity, updated_at = excluded.updated_at",
            )
            .and_then(|mut st| {
                st.execute(params![
                    p.tenant.as_str(),
                    p.user.as_str(),
                    encode_list(&p.skills),
                    p.capacity,
                    p.updated_at
                ])
            })
            .map_err(unavailable)?;
            insert_audit(conn, audit)?;
            Ok(WriteOutcome::Done)
        }
        WriteOp::EnqueueSend(o) => {
            let inserted = write_send(conn, o, false)?;
            Ok(WriteOutcome::Updated(inserted))
        }
        WriteOp::UpdateSend(o) => {
            if let Some(m) = o.sent_message() {
                insert_outbound(conn, &m, keys)?;
            }
            write_send(conn, o, true)?;
            Ok(WriteOutcome::Done)
        }
        WriteOp::PutThread(t, audit) => {
            conn.prepare_cached(
                "INSERT INTO threads_by_id (tenant, conversation_id, number, customer, state,
                   assignee, last_agent, tags, waiting_since, last_inbound_at, last_inbound_wamid,
                   opened_at, updated_at, open)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT (tenant, conversation_id) DO UPDATE SET number = excluded.number,
                   customer = excluded.customer, state = excluded.state,
                   assignee = excluded.assignee, last_agent = excluded.last_agent,
                   tags = excluded.tags, waiting_since = excluded.waiting_since,
                   last_inbound_at = excluded.last_inbound_at,
                   last_inbound_wamid = excluded.last_inbound_wamid,
                   opened_at = excluded.opened_at, updated_at = excluded.updated_at,
                   open = excluded.open",
            )
            .and_then(|mut st| {
                st.execute(params![
                    t.tenant.as_str(),
                    t.conversation.as_str(),
                    t.number.as_str(),
                    t.customer.as_str(),
                    t.state.as_str(),
                    t.assignee.as_ref().map(UserId::as_str),
                    t.last_agent.as_ref().map(UserId::as_str),
                    encode_list(&t.tags.iter().map(String::as_str).collect::<Vec<_>>()),
                    t.waiting_since,
                    t.last_inbound_at,
                    t.last_inbound_wamid.as_ref().map(Wamid::as_str),
                    t.opened_at,
                    t.updated_at,
                    t.is_open()
                ])
            })
            .map_err(unavailable)?;
            if let Some(audit) = audit {
                insert_audit(conn, audit)?;
            }
            Ok(WriteOutcome::Done)
        }
    }
}

fn insert_outbound(conn: &Connection, o: &OutboundRecord, keys: &IdKeys) -> StoreResult<()> {
    let conversation = keys.conversation_id(&o.tenant, &o.number, &o.customer);
    insert_message(
        conn,
        &o.tenant,
        &conversation,
        &outbound_message_key(&o.wamid),
        &o.wamid,
        &o.number,
        &o.customer,
        Direction::Outbound,
        &o.kind,
        o.text.as_deref(),
        o.at_ms,
        &o.raw,
    )?;
    Ok(())
}

/// Inserts a send (`replace`: or overwrites it). Returns whether a row was written.
fn write_send(conn: &Connection, o: &OutboxRecord, replace: bool) -> StoreResult<bool> {
    let conflict = if replace {
        "ON CONFLICT (tenant, send_id) DO UPDATE SET state = excluded.state,
           attempts = excluded.attempts, wamid = excluded.wamid, error = excluded.error,
           updated_at = excluded.updated_at, pending = excluded.pending"
    } else {
        "ON CONFLICT (tenant, send_id) DO NOTHING"
    };
    let written = conn
        .prepare_cached(&format!(
            "INSERT INTO outbox_by_id ({OUTBOX_COLUMNS}, pending)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
             {conflict}"
        ))
        .and_then(|mut st| {
            st.execute(params![
                o.tenant.as_str(),
                o.id,
                o.conversation.as_str(),
                o.number.as_str(),
                o.customer.as_str(),
                o.author,
                o.request,
                o.kind,
                o.text,
                o.state.as_str(),
                o.attempts,
                o.wamid.as_ref().map(Wamid::as_str),
                o.error,
                o.created_at,
                o.updated_at,
                !o.state.is_finished()
            ])
        })
        .map_err(unavailable)?;
    Ok(written > 0)
}

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    OutboxRow::try_from(r)
}

/// Writes the audit line of a change that happened; a change that did not happen leaves none.
fn audited(conn: &Connection, changed: bool, audit: &AuditRecord) -> StoreResult<WriteOutcome> {
    if changed {
        insert_audit(conn, audit)?;
    }
    Ok(WriteOutcome::Updated(changed))
}

fn insert_audit(conn: &Connection, a: &AuditRecord) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO audit_by_tenant (tenant, bucket, at_ms, audit_id, actor, actor_name, action,
           target, outcome, ip, user_agent, before, after)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )
    .and_then(|mut st| {
        st.execute(params![
            a.tenant.as_str(),
            day_bucket(a.at_ms),
            a.at_ms,
            a.id,
            a.actor,
            a.actor_name,
            a.action,
            a.target,
            a.outcome,
            a.ip,
            a.user_agent,
            a.before,
            a.after
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

/// Sessions, roles, teams, API keys and audit lines.
fn apply_access(conn: &Connection, op: &AccessOp) -> StoreResult<WriteOutcome> {
    let exec = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> StoreResult<usize> {
        conn.prepare_cached(sql)
            .and_then(|mut st| st.execute(params))
            .map_err(unavailable)
    };
    match op {
        AccessOp::CreateSession(s, audit) => {
            exec(
                "DELETE FROM sessions_by_hash WHERE expires_at < ?1",
                &[&s.created_at],
            )?;
            exec(
                "INSERT INTO sessions_by_hash (token_hash, tenant, user_id, epoch, created_at,
                   expires_at, last_seen_at, ip, user_agent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    s.token_hash,
                    s.tenant.as_str(),
                    s.user.as_str(),
                    s.epoch,
                    s.created_at,
                    s.expires_at,
                    s.last_seen_at,
                    s.ip,
                    s.user_agent
                ],
            )?;
            insert_audit(conn, audit)?;
            Ok(WriteOutcome::Done)
        }
        AccessOp::TouchSession(hash, at) => {
            exec(
                "UPDATE sessions_by_hash SET last_seen_at = max(last_seen_at, ?2)
                 WHERE token_hash = ?1",
                params![hash, at],
            )?;
            Ok(WriteOutcome::Done)
        }
        AccessOp::DeleteSession(hash, audit) => {
            let n = exec(
                "DELETE FROM sessions_by_hash WHERE token_hash = ?1",
                params![hash],
            )?;
            audited(conn, n > 0, audit)
        }
        AccessOp::PutRole(r, audit) => {
            exec(
                "INSERT INTO roles_by_tenant (tenant, role_id, name, permissions, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, role_id) DO UPDATE SET name = excluded.name,
                   permissions = excluded.permissions",
                params![
                    r.tenant.as_str(),
                    r.id,
                    r.name,
                    encode_list(&r.permissions),
                    r.created_at
                ],
            )?;
            insert_audit(conn, audit)?;
            Ok(WriteOutcome::Done)
        }
        AccessOp::DeleteRole(tenant, id, audit) => {
            let n = exec(
                "DELETE FROM roles_by_tenant WHERE tenant = ?1 AND role_id = ?2",
                params![tenant.as_str(), id],
            )?;
            audited(conn, n > 0, audit)
        }
        AccessOp::PutTeam(t, audit) => {
            exec(
                "INSERT INTO teams_by_tenant (tenant, team_id, name, members, numbers, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (tenant, team_id) DO UPDATE SET name = excluded.name,
                   members = excluded.members, numbers = excluded.numbers",
                params![
                    t.tenant.as_str(),
                    t.id,
                    t.name,
                    encode_list(&t.members.iter().map(UserId::as_str).collect::<Vec<_>>()),
                    encode_list(
                        &t.numbers
                            .iter()
                            .map(PhoneNumberId::as_str)
                            .collect::<Vec<_>>()
                    ),
                    t.created_at
                ],
            )?;
            insert_audit(conn, audit)?;
            Ok(WriteOutcome::Done)
        }
        AccessOp::DeleteTeam(tenant, id, audit) => {
            let n = exec(
                "DELETE FROM teams_by_tenant WHERE tenant = ?1 AND team_id = ?2",
                params![tenant.as_str(), id],
            )?;
            audited(conn, n > 0, audit)
        }
        AccessOp::CreateApiKey(k, audit) => {
            let result = exec(
                "INSERT INTO api_keys_by_id (key_id, tenant, name, secret_hash, permissions,
                   created_by, created_at, last_used_at, revoked_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    k.id,
                    k.tenant.as_str(),
                    k.name,
                    k.secret_hash,
                    encode_list(&k.permissions),
                    k.created_by,
                    k.created_at,
                    k.last_used_at,
                    k.revoked_at
                ],
            );
            match result {
                Ok(_) => {
                    insert_audit(conn, audit)?;
                    Ok(WriteOutcome::Done)
                }
                Err(_) if key_exists(conn, &k.id)? => {
                    Err(StoreError::Conflict(format!("API key {} exists", k.id)))
                }
                Err(e) => Err(e),
            }
        }
        AccessOp::RevokeApiKey(tenant, id, at, audit) => {
            let n = exec(
                "UPDATE api_keys_by_id SET revoked_at = ?3
                 WHERE key_id = ?1 AND tenant = ?2 AND revoked_at IS NULL",
                params![id, tenant.as_str(), at],
            )?;
            audited(conn, n > 0, audit)
        }
        AccessOp::TouchApiKey(id, at) => {
            exec(
                "UPDATE api_keys_by_id SET last_used_at = max(coalesce(last_used_at, 0), ?2)
                 WHERE key_id = ?1",
                params![id, at],
            )?;
            Ok(WriteOutcome::Done)
        }
        AccessOp::Audit(audit) => {
            insert_audit(conn, audit)?;
            Ok(WriteOutcome::Done)
        }
    }
}

fn key_exists(conn: &Connection, id: &str) -> StoreResult<bool> {
    conn.prepare_cached("SELECT 1 FROM api_keys_by_id WHERE key_id = ?1")
        .and_then(|mut st| st.exists([id]))
        .map_err(unavailable)
}

const USER_COLUMNS: &str =
    "tenant, user_id, email, name, role, password_hash, disabled, created_at, session_epoch";

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        tenant: TenantId::new(r.get::<_, String>(0)?),
        id: UserId::new(r.get::<_, String>(1)?),
        email: r.get(2)?,
        name: r.get(3)?,
        role: r.get(4)?,
        password_hash: r.get(5)?,
        disabled: r.get(6)?,
        created_at: r.get(7)?,
        session_epoch: r.get(8)?,
    })
}

fn ingest(conn: &Connection, batch: &IngestBatch, keys: &IdKeys) -> StoreResult<IngestReport> {
    let mut report = IngestReport::default();
    conn.prepare_cached(
        "INSERT INTO webhook_journal (bucket, received_at, body) VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut s| {
        s.execute(params![
            day_bucket(batch.received_at),
            batch.received_at,
            batch.raw_body
        ])
    })
    .map_err(unavailable)?;
    report.journal_seq = Some(conn.last_insert_rowid());
    for (tenant, event) in &batch.events {
        match event {
            InboundEvent::Contact(c) => {
                conn.prepare_cached(
                    "INSERT INTO contacts_by_tenant (tenant, wa_id, name, user_id, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (tenant, wa_id) DO UPDATE SET
                       name = COALESCE(excluded.name, name),
                       user_id = COALESCE(excluded.user_id, user_id),
                       updated_at = MAX(updated_at, excluded.updated_at)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        tenant.as_str(),
                        c.wa_id.as_str(),
                        c.name,
                        c.user_id,
                        batch.received_at
                    ])
                })
                .map_err(unavailable)?;
            }
            InboundEvent::Message(m) => {
                let conversation = keys.conversation_id(tenant, &m.number, &m.customer);
                let at_ms = arrival_at(
                    m.at_ms,
                    latest_in_second(conn, tenant, &conversation, m.at_ms)?,
                );
                let inserted = insert_message(
                    conn,
                    tenant,
                    &conversation,
                    &m.key,
                    &m.wamid,
                    &m.number,
                    &m.customer,
                    Direction::Inbound,
                    &m.kind,
                    m.text.as_deref(),
                    at_ms,
                    &m.raw,
                )?;
                if inserted {
                    report.messages_new += 1;
                    report.new_messages.insert(m.key.clone(), at_ms);
                } else {
                    report.messages_duplicate += 1;
                }
            }
            InboundEvent::Status(s) => {
                let changed = conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO statuses_by_message
                         (tenant, wamid, rank, status, at_ms, error_codes, raw)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .and_then(|mut st| {
                        st.execute(params![
                            tenant.as_str(),
                            s.wamid.as_str(),
                            s.status.rank(),
                            s.status.as_str(),
                            s.at_ms,
                            encode_codes(&s.error_codes),
                            s.raw
                        ])
                    })
                    .map_err(unavailable)?;
                if changed > 0 {
                    report.statuses_new += 1;
                } else {
                    report.statuses_duplicate += 1;
                }
            }
            InboundEvent::Account(e) => {
                let changed = conn
                    .prepare_cached(
                        "INSERT OR IGNORE INTO account_events_by_tenant
                         (tenant, bucket, at_ms, event_key, number, field, raw)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )
                    .and_then(|mut st| {
                        st.execute(params![
                            tenant.as_str(),
                            day_bucket(e.at_ms),
                            e.at_ms,
                            event_key(&e.field, &e.raw),
                            e.number.as_ref().map(|n| n.as_str()),
                            e.field,
                            e.raw
                        ])
                    })
                    .map_err(unavailable)?;
                if changed > 0 {
                    report.events_new += 1;
                } else {
                    report.events_duplicate += 1;
                }
            }
        }
    }
    Ok(report)
}

/// The latest message stored in the conversation within the second of `at_ms`, if any.
fn latest_in_second(
    conn: &Connection,
    tenant: &TenantId,
    conversation: &ConversationId,
    at_ms: UnixMillis,
) -> StoreResult<Option<UnixMillis>> {
    let second = at_ms.div_euclid(1000) * 1000;
    conn.prepare_cached(
        "SELECT MAX(at_ms) FROM messages_by_conversation
         WHERE tenant = ?1 AND conversation_id = ?2 AND bucket = ?3 AND at_ms >= ?4 AND at_ms < ?5",
    )
    .and_then(|mut s| {
        s.query_row(
            params![
                tenant.as_str(),
                conversation.as_str(),
                day_bucket(at_ms),
                second,
                second + 1000
            ],
            |r| r.get::<_, Option<i64>>(0),
        )
    })
    .map_err(unavailable)
}

/// Inserts a message unless its key is already stored. Returns whether it was new.
#[allow(clippy::too_many_arguments)]
fn insert_message(
    conn: &Connection,
    tenant: &TenantId,
    conversation: &ConversationId,
    key: &MessageKey,
    wamid: &Wamid,
    number: &PhoneNumberId,
    customer: &WaId,
    direction: Direction,
    kind: &str,
    text: Option<&str>,
    at_ms: UnixMillis,
    raw: &str,
) -> StoreResult<bool> {
    let bucket = day_bucket(at_ms);
    let new = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO messages_by_key (tenant, message_key, conversation_id, bucket, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| {
            s.execute(params![
                tenant.as_str(),
                key.as_str(),
                conversation.as_str(),
                bucket,
                at_ms
            ])
        })
        .map_err(unavailable)?
        > 0;
    if !new {
        return Ok(false);
    }
    conn.prepare_cached(
        "INSERT INTO messages_by_conversation (tenant, conversation_id, bucket, at_ms, message_key,
           wamid, number, customer, direction, kind, body, raw)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .and_then(|mut s| {
        s.execute(params![
            tenant.as_str(),
            conversation.as_str(),
            bucket,
            at_ms,
            key.as_str(),
            wamid.as_str(),
            number.as_str(),
            customer.as_str(),
            direction.as_str(),
            kind,
            text,
            raw
        ])
    })
    .map_err(unavailable)?;
    conn.prepare_cached(
        "INSERT OR IGNORE INTO buckets_by_conversation (tenant, conversation_id, bucket)
         VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut s| s.execute(params![tenant.as_str(), conversation.as_str(), bucket]))
    .map_err(unavailable)?;
    conn.prepare_cached(
        "INSERT INTO conversations_by_id (tenant, conversation_id, number, customer, last_message_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant, conversation_id)
         DO UPDATE SET last_message_at = MAX(last_message_at, excluded.last_message_at)",
    )
    .and_then(|mut s| {
        s.execute(params![
            tenant.as_str(),
            conversation.as_str(),
            number.as_str(),
            customer.as_str(),
            at_ms
        ])
    })
    .map_err(unavailable)?;
    Ok(true)
}

fn encode_codes(codes: &[i64]) -> String {
    codes
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_codes(codes: &str) -> Vec<i64> {
    codes.split(',').filter_map(|c| c.parse().ok()).collect()
}

/// The columns every message read selects, with the latest status resolved.
const MESSAGE_COLUMNS: &str = "m.tenant, m.message_key, m.conversation_id, m.wamid, m.number,
    m.customer, m.direction, m.kind, m.body, m.at_ms, m.raw, m.bucket,
    (SELECT s.status FROM statuses_by_message s
      WHERE s.tenant = m.tenant AND s.wamid = m.wamid ORDER BY s.rank DESC LIMIT 1)";

fn message_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(MessageRecord, i64)> {
    let direction: String = row.get(6)?;
    let direction = Direction::parse(&direction).unwrap_or(Direction::Inbound);
    let latest: Option<String> = row.get(12)?;
    let status = match direction {
        Direction::Inbound => MessageStatus::Received,
        Direction::Outbound => latest
            .as_deref()
            .and_then(MessageStatus::parse)
            .unwrap_or(MessageStatus::Accepted),
    };
    Ok((
        MessageRecord {
            tenant: TenantId::new(row.get::<_, String>(0)?),
            key: MessageKey::new(row.get::<_, String>(1)?),
            conversation: ConversationId::new(row.get::<_, String>(2)?),
            wamid: Wamid::new(row.get::<_, String>(3)?),
            number: PhoneNumberId::new(row.get::<_, String>(4)?),
            customer: WaId::new(row.get::<_, String>(5)?),
            direction,
            kind: row.get(7)?,
            text: row.get(8)?,
            at_ms: row.get(9)?,
            status,
            raw: row.get(10)?,
        },
        row.get(11)?,
    ))
}

#[async_trait]
impl DirectoryStore for SqliteStore {
    fn id_keys(&self) -> &IdKeys {
        &self.keys
    }

    async fn upsert_tenant(&self, tenant: &TenantRecord) -> StoreResult<()> {
        self.write(WriteOp::Tenant(tenant.clone()))
            .await
            .map(|_| ())
    }

    async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT tenant, name, created_at FROM tenants_by_id ORDER BY tenant",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(TenantRecord {
                        id: TenantId::new(r.get::<_, String>(0)?),
                        name: r.get(1)?,
                        created_at: r.get(2)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
        .await
    }

    async fn upsert_number(&self, number: &NumberRecord) -> StoreResult<()> {
        self.write(WriteOp::Number(number.clone()))
            .await
            .map(|_| ())
    }

    async fn list_numbers(&self, tenant: &TenantId) -> StoreResult<Vec<NumberRecord>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT phone_number_id, display_phone_number, waba_id FROM numbers_by_id
                     WHERE tenant = ?1 ORDER BY phone_number_id",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map([tenant.as_str()], |r| {
                    Ok(NumberRecord {
                        tenant: tenant.clone(),
                        phone_number_id: PhoneNumberId::new(r.get::<_, String>(0)?),
                        display_phone_number: r.get(1)?,
                        waba_id: r.get(2)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
        .await
    }
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn ingest(&self, batch: IngestBatch) -> StoreResult<IngestReport> {
        match self.write(WriteOp::Ingest(batch)).await? {
            WriteOutcome::Ingested(report) => Ok(report),
            WriteOutcome::Done | WriteOutcome::Updated(_) => Ok(IngestReport::default()),
        }
    }

    async fn record_outbound(&self, message: OutboundRecord) -> StoreResult<()> {
        self.write(WriteOp::Outbound(message)).await.map(|_| ())
    }

    async fn get_message(
        &self,
        tenant: &TenantId,
        key: &MessageKey,
    ) -> StoreResult<Option<MessageRecord>> {
        let (tenant, key) = (tenant.clone(), key.clone());
        self.read(move |conn| {
            let sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages_by_key k
                 JOIN messages_by_conversation m ON m.tenant = k.tenant
                  AND m.conversation_id = k.conversation_id AND m.bucket = k.bucket
                  AND m.at_ms = k.at_ms AND m.message_key = k.message_key
                 WHERE k.tenant = ?1 AND k.message_key = ?2"
            );
            conn.prepare_cached(&sql)
                .and_then(|mut s| {
                    s.query_row([tenant.as_str(), key.as_str()], message_from_row)
                        .optional()
                })
                .map(|r| r.map(|(m, _)| m))
                .map_err(unavailable)
        })
        .await
    }

    async fn latest_status(
        &self,
        tenant: &TenantId,
        wamid: &Wamid,
    ) -> StoreResult<Option<StatusRecord>> {
        let (tenant, wamid) = (tenant.clone(), wamid.clone());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT status, at_ms, error_codes FROM statuses_by_message
                 WHERE tenant = ?1 AND wamid = ?2 ORDER BY rank DESC LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row([tenant.as_str(), wamid.as_str()], |r| {
                    let status: String = r.get(0)?;
                    let codes: String = r.get(2)?;
                    Ok((status, r.get::<_, i64>(1)?, codes))
                })
                .optional()
            })
            .map_err(unavailable)?
            .map(|(status, at_ms, codes)| {
                Ok(StatusRecord {
                    wamid: wamid.clone(),
                    status: MessageStatus::parse(&status)
                        .ok_or_else(|| StoreError::Corrupt(format!("status {status}")))?,
                    at_ms,
                    error_codes: decode_codes(&codes),
                })
            })
            .transpose()
        })
        .await
    }

    async fn conversation_history(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<MessageRecord>> {
        let limit = check_limit(limit)?;
        let after = cursor.map(Cursor::decode_history).transpose()?;
        let (tenant, conversation) = (tenant.clone(), conversation.clone());
        self.read(move |conn| {
            // Walk buckets newest first, exactly as the Scylla backend does, taking rows from
            // each partition until the page is full.
            let mut page = PageCollector::new(limit);
            let start_bucket = after.as_ref().map(|(b, _, _)| *b).unwrap_or(i64::MAX);
            let mut buckets = conn
                .prepare_cached(
                    "SELECT bucket FROM buckets_by_conversation
                     WHERE tenant = ?1 AND conversation_id = ?2 AND bucket <= ?3
                     ORDER BY bucket DESC",
                )
                .map_err(unavailable)?;
            let bucket_list: Vec<i64> = buckets
                .query_map(
                    params![tenant.as_str(), conversation.as_str(), start_bucket],
                    |r| r.get(0),
                )
                .map_err(unavailable)?
                .collect::<Result<_, _>>()
                .map_err(unavailable)?;
            let first_sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages_by_conversation m
                 WHERE m.tenant = ?1 AND m.conversation_id = ?2 AND m.bucket = ?3
                 ORDER BY m.at_ms DESC, m.message_key DESC LIMIT ?4"
            );
            let after_sql = format!(
                "SELECT {MESSAGE_COLUMNS} FROM messages_by_conversation m
                 WHERE m.tenant = ?1 AND m.conversation_id = ?2 AND m.bucket = ?3
                   AND (m.at_ms, m.message_key) < (?5, ?6)
                 ORDER BY m.at_ms DESC, m.message_key DESC LIMIT ?4"
            );
            for bucket in bucket_list {
                let want = page.wants() as i64;
                let rows: Vec<(MessageRecord, i64)> = match &after {
                    Some((b, at, key)) if *b == bucket => {
                        conn.prepare_cached(&after_sql).and_then(|mut s| {
                            s.query_map(
                                params![
                                    tenant.as_str(),
                                    conversation.as_str(),
                                    bucket,
                                    want,
                                    at,
                                    key
                                ],
                                message_from_row,
                            )?
                            .collect()
                        })
                    }
                    _ => conn.prepare_cached(&first_sql).and_then(|mut s| {
                        s.query_map(
                            params![tenant.as_str(), conversation.as_str(), bucket, want],
                            message_from_row,
                        )?
                        .collect()
                    }),
                }
                .map_err(unavailable)?;
                for (m, b) in rows {
                    let (at, key) = (m.at_ms, m.key.as_str().to_owned());
                    if page.push(m, b, at, &key) {
                        return Ok(page.finish());
                    }
                }
            }
            Ok(page.finish())
        })
        .await
    }

    async fn conversation_alias(
        &self,
        tenant: &TenantId,
        old_id: &str,
    ) -> StoreResult<Option<ConversationId>> {
        let (tenant, old_id) = (tenant.clone(), old_id.to_owned());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT new_id FROM conversation_aliases WHERE tenant = ?1 AND old_id = ?2",
            )
            .and_then(|mut s| {
                s.query_row([tenant.as_str(), old_id.as_str()], |r| {
                    r.get::<_, String>(0).map(ConversationId::new)
                })
                .optional()
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn get_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Option<ConversationRecord>> {
        let (tenant, conversation) = (tenant.clone(), conversation.clone());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT c.number, c.customer, c.last_message_at, k.name FROM conversations_by_id c
                 LEFT JOIN contacts_by_tenant k ON k.tenant = c.tenant AND k.wa_id = c.customer
                 WHERE c.tenant = ?1 AND c.conversation_id = ?2",
            )
            .and_then(|mut s| {
                s.query_row([tenant.as_str(), conversation.as_str()], |r| {
                    Ok(ConversationRecord {
                        tenant: tenant.clone(),
                        id: conversation.clone(),
                        number: PhoneNumberId::new(r.get::<_, String>(0)?),
                        customer: WaId::new(r.get::<_, String>(1)?),
                        last_message_at: r.get(2)?,
                        customer_name: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn scan_messages(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<MessageRecord>> {
        let limit = check_limit(limit)?;
        let after = cursor.map(|c| c.decode(5)).transpose()?;
        self.read(move |conn| {
            let rows: Vec<(MessageRecord, i64)> = match &after {
                None => {
                    let sql = format!(
                        "SELECT {MESSAGE_COLUMNS} FROM messages_by_conversation m
                         ORDER BY m.tenant, m.conversation_id, m.bucket, m.at_ms, m.message_key
                         LIMIT ?1"
                    );
                    conn.prepare_cached(&sql).and_then(|mut s| {
                        s.query_map(params![limit as i64], message_from_row)?
                            .collect()
                    })
                }
                Some(f) => {
                    let bucket: i64 = f[2]
                        .parse()
                        .map_err(|_| StoreError::Invalid("malformed cursor".into()))?;
                    let at: i64 = f[3]
                        .parse()
                        .map_err(|_| StoreError::Invalid("malformed cursor".into()))?;
                    let sql = format!(
                        "SELECT {MESSAGE_COLUMNS} FROM messages_by_conversation m
                         WHERE (m.tenant, m.conversation_id, m.bucket, m.at_ms, m.message_key)
                             > (?2, ?3, ?4, ?5, ?6)
                         ORDER BY m.tenant, m.conversation_id, m.bucket, m.at_ms, m.message_key
                         LIMIT ?1"
                    );
                    conn.prepare_cached(&sql).and_then(|mut s| {
                        s.query_map(
                            params![limit as i64, f[0], f[1], bucket, at, f[4]],
                            message_from_row,
                        )?
                        .collect()
                    })
                }
            }
            .map_err(unavailable)?;
            let next = if rows.len() == limit {
                rows.last().map(|(m, bucket)| {
                    Cursor::encode(&[
                        m.tenant.as_str(),
                        m.conversation.as_str(),
                        &bucket.to_string(),
                        &m.at_ms.to_string(),
                        m.key.as_str(),
                    ])
                })
            } else {
                None
            };
            Ok(Page {
                items: rows.into_iter().map(|(m, _)| m).collect(),
                next,
            })
        })
        .await
    }

    async fn account_events(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<AccountEventRecord>> {
        let limit = check_limit(limit)?;
        let after = cursor.map(Cursor::decode_history).transpose()?;
        let tenant = tenant.clone();
        self.read(move |conn| {
            // Without a cursor, start after the largest possible key.
            let (b, at, key) = after.unwrap_or((i64::MAX, i64::MAX, String::new()));
            let mut stmt = conn
                .prepare_cached(
                    "SELECT number, field, at_ms, raw, bucket, event_key FROM account_events_by_tenant
                     WHERE tenant = ?1 AND (bucket, at_ms, event_key) < (?2, ?3, ?4)
                     ORDER BY bucket DESC, at_ms DESC, event_key DESC LIMIT ?5",
                )
                .map_err(unavailable)?;
            let rows: Vec<(AccountEventRecord, i64, String)> = stmt
                .query_map(params![tenant.as_str(), b, at, key, limit as i64], |r| {
                    Ok((
                        AccountEventRecord {
                            tenant: tenant.clone(),
                            number: r.get::<_, Option<String>>(0)?.map(PhoneNumberId::new),
                            field: r.get(1)?,
                            at_ms: r.get(2)?,
                            raw: r.get(3)?,
                        },
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
                .map_err(unavailable)?
                .collect::<Result<_, _>>()
                .map_err(unavailable)?;
            let next = if rows.len() == limit {
                rows.last()
                    .map(|(e, bucket, key)| Cursor::history(*bucket, e.at_ms, key))
            } else {
                None
            };
            Ok(Page {
                items: rows.into_iter().map(|(e, _, _)| e).collect(),
                next,
            })
        })
        .await
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        self.read(|conn| {
            let count = |table: &str| -> StoreResult<u64> {
                conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map(|n| n as u64)
                .map_err(unavailable)
            };
            Ok(StoreStats {
                journal_entries: Some(count("webhook_journal")?),
                messages: Some(count("messages_by_key")?),
                statuses: Some(count("statuses_by_message")?),
                account_events: Some(count("account_events_by_tenant")?),
                contacts: Some(count("contacts_by_tenant")?),
            })
        })
        .await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(unavailable)
        })
        .await
    }
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn create_user(&self, user: &UserRecord, audit: &AuditRecord) -> StoreResult<()> {
        self.write(WriteOp::CreateUser(user.clone(), audit.clone()))
            .await
            .map(|_| ())
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        let email = normalize_email(email);
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users_by_tenant WHERE email = ?1"
            ))
            .and_then(|mut s| s.query_row([email.as_str()], user_from_row).optional())
            .map_err(unavailable)
        })
        .await
    }

    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> StoreResult<Option<UserRecord>> {
        let (tenant, id) = (tenant.clone(), id.clone());
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users_by_tenant WHERE tenant = ?1 AND user_id = ?2"
            ))
            .and_then(|mut s| {
                s.query_row([tenant.as_str(), id.as_str()], user_from_row)
                    .optional()
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn list_users(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<UserRecord>> {
        let limit = check_limit(limit)?;
        let after = Cursor::decode_text(cursor)?;
        let tenant = tenant.clone();
        self.read(move |conn| {
            let users: Vec<UserRecord> = conn
                .prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM users_by_tenant WHERE tenant = ?1 AND email > ?2
                     ORDER BY email LIMIT ?3"
                ))
                .and_then(|mut s| {
                    s.query_map(params![tenant.as_str(), after, limit as i64], user_from_row)?
                        .collect()
                })
                .map_err(unavailable)?;
            let next = (users.len() == limit)
                .then(|| users.last().map(|u| Cursor::after_text(&u.email)))
                .flatten();
            Ok(Page { items: users, next })
        })
        .await
    }

    async fn update_user(&self, user: &UserRecord, audit: &AuditRecord) -> StoreResult<bool> {
        self.write(WriteOp::UpdateUser(user.clone(), audit.clone()))
            .await
            .map(WriteOutcome::changed)
    }

    async fn create_session(
        &self,
        session: &SessionRecord,
        audit: &AuditRecord,
    ) -> StoreResult<()> {
        self.access(AccessOp::CreateSession(session.clone(), audit.clone()))
            .await
            .map(|_| ())
    }

    async fn get_session(&self, token_hash: &str) -> StoreResult<Option<SessionRecord>> {
        let hash = token_hash.to_owned();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT token_hash, tenant, user_id, epoch, created_at, expires_at, last_seen_at,
                   ip, user_agent FROM sessions_by_hash WHERE token_hash = ?1",
            )
            .and_then(|mut s| {
                s.query_row([hash.as_str()], |r| {
                    Ok(SessionRecord {
                        token_hash: r.get(0)?,
                        tenant: TenantId::new(r.get::<_, String>(1)?),
                        user: UserId::new(r.get::<_, String>(2)?),
                        epoch: r.get(3)?,
                        created_at: r.get(4)?,
                        expires_at: r.get(5)?,
                        last_seen_at: r.get(6)?,
                        ip: r.get(7)?,
                        user_agent: r.get(8)?,
                    })
                })
                .optional()
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn touch_session(
        &self,
        token_hash: &str,
        at: UnixMillis,
        _expires_at: UnixMillis,
    ) -> StoreResult<()> {
        self.access(AccessOp::TouchSession(token_hash.to_owned(), at))
            .await
            .map(|_| ())
    }

    async fn delete_session(&self, token_hash: &str, audit: &AuditRecord) -> StoreResult<bool> {
        self.access(AccessOp::DeleteSession(
            token_hash.to_owned(),
            audit.clone(),
        ))
        .await
        .map(WriteOutcome::changed)
    }

    async fn put_role(&self, role: &RoleRecord, audit: &AuditRecord) -> StoreResult<()> {
        self.access(AccessOp::PutRole(role.clone(), audit.clone()))
            .await
            .map(|_| ())
    }

    async fn get_role(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<RoleRecord>> {
        Ok(self
            .roles(tenant, Some(id.to_owned()))
            .await?
            .into_iter()
            .next())
    }

    async fn list_roles(&self, tenant: &TenantId) -> StoreResult<Vec<RoleRecord>> {
        self.roles(tenant, None).await
    }

    async fn delete_role(
        &self,
        tenant: &TenantId,
        id: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        self.access(AccessOp::DeleteRole(
            tenant.clone(),
            id.to_owned(),
            audit.clone(),
        ))
        .await
        .map(WriteOutcome::changed)
    }

    async fn put_team(&self, team: &TeamRecord, audit: &AuditRecord) -> StoreResult<()> {
        self.access(AccessOp::PutTeam(team.clone(), audit.clone()))
            .await
            .map(|_| ())
    }

    async fn get_team(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<TeamRecord>> {
        Ok(self
            .teams(tenant, Some(id.to_owned()))
            .await?
            .into_iter()
            .next())
    }

    async fn list_teams(&self, tenant: &TenantId) -> StoreResult<Vec<TeamRecord>> {
        self.teams(tenant, None).await
    }

    async fn delete_team(
        &self,
        tenant: &TenantId,
        id: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        self.access(AccessOp::DeleteTeam(
            tenant.clone(),
            id.to_owned(),
            audit.clone(),
        ))
        .await
        .map(WriteOutcome::changed)
    }

    async fn create_api_key(&self, key: &ApiKeyRecord, audit: &AuditRecord) -> StoreResult<()> {
        self.access(AccessOp::CreateApiKey(key.clone(), audit.clone()))
            .await
            .map(|_| ())
    }

    async fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let id = id.to_owned();
        self.read(move |conn| {
            let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys_by_id WHERE key_id = ?1");
            let row = conn
                .prepare_cached(&sql)
                .and_then(|mut s| s.query_row([id.as_str()], key_row).optional())
                .map_err(unavailable)?;
            row.map(key_from_row).transpose()
        })
        .await
    }

    async fn list_api_keys(&self, tenant: &TenantId) -> StoreResult<Vec<ApiKeyRecord>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let sql = format!(
                "SELECT {KEY_COLUMNS} FROM api_keys_by_id WHERE tenant = ?1 ORDER BY key_id LIMIT ?2"
            );
            let rows: Vec<KeyRow> = conn
                .prepare_cached(&sql)
                .and_then(|mut s| {
                    s.query_map(params![tenant.as_str(), MAX_API_KEYS as i64], key_row)?
                        .collect()
                })
                .map_err(unavailable)?;
            rows.into_iter().map(key_from_row).collect()
        })
        .await
    }

    async fn revoke_api_key(
        &self,
        tenant: &TenantId,
        id: &str,
        at: UnixMillis,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        self.access(AccessOp::RevokeApiKey(
            tenant.clone(),
            id.to_owned(),
            at,
            audit.clone(),
        ))
        .await
        .map(WriteOutcome::changed)
    }

    async fn touch_api_key(&self, id: &str, at: UnixMillis) -> StoreResult<()> {
        self.access(AccessOp::TouchApiKey(id.to_owned(), at))
            .await
            .map(|_| ())
    }

    async fn append_audit(&self, audit: &AuditRecord) -> StoreResult<()> {
        self.access(AccessOp::Audit(audit.clone()))
            .await
            .map(|_| ())
    }

    async fn audit_log(
        &self,
        tenant: &TenantId,
        query: &AuditQuery,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<AuditRecord>> {
        let limit = check_limit(limit)?;
        let after = cursor.map(Cursor::decode_history).transpose()?;
        let (tenant, q) = (tenant.clone(), query.clone());
        self.read(move |conn| {
            let (b, at, id) = after.unwrap_or((i64::MAX, i64::MAX, String::new()));
            let low_bucket = q.since_ms.map(day_bucket).unwrap_or(i64::MIN);
            let mut stmt = conn
                .prepare_cached(
                    "SELECT tenant, audit_id, at_ms, actor, actor_name, action, target, outcome,
                       ip, user_agent, before, after, bucket FROM audit_by_tenant
                     WHERE tenant = ?1 AND (bucket, at_ms, audit_id) < (?2, ?3, ?4)
                       AND bucket >= ?5
                       AND (?6 IS NULL OR actor = ?6)
                       AND (?7 IS NULL OR action = ?7
                            OR substr(action, 1, length(?7) + 1) = ?7 || '.')
                       AND (?8 IS NULL OR target = ?8)
                       AND (?9 IS NULL OR outcome = ?9)
                       AND (?10 IS NULL OR at_ms >= ?10)
                       AND (?11 IS NULL OR at_ms < ?11)
                     ORDER BY bucket DESC, at_ms DESC, audit_id DESC LIMIT ?12",
                )
                .map_err(unavailable)?;
            let rows: Vec<(AuditRecord, i64)> = stmt
                .query_map(
                    params![
                        tenant.as_str(),
                        b,
                        at,
                        id,
                        low_bucket,
                        q.actor,
                        q.action,
                        q.target,
                        q.outcome,
                        q.since_ms,
                        q.until_ms,
                        limit as i64
                    ],
                    |r| Ok((audit_from_row(r)?, r.get(12)?)),
                )
                .map_err(unavailable)?
                .collect::<Result<_, _>>()
                .map_err(unavailable)?;
            let next = if rows.len() == limit {
                rows.last()
                    .map(|(a, bucket)| Cursor::history(*bucket, a.at_ms, &a.id))
            } else {
                None
            };
            Ok(Page {
                items: rows.into_iter().map(|(a, _)| a).collect(),
                next,
            })
        })
        .await
    }
}

impl WriteOutcome {
    fn changed(self) -> bool {
        matches!(self, WriteOutcome::Updated(true))
    }
}

const KEY_COLUMNS: &str = "key_id, tenant, name, secret_hash, permissions, created_by, created_at,
    last_used_at, revoked_at";

fn key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    KeyRow::try_from(r)
}

fn audit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        tenant: TenantId::new(r.get::<_, String>(0)?),
        id: r.get(1)?,
        at_ms: r.get(2)?,
        actor: r.get(3)?,
        actor_name: r.get(4)?,
        action: r.get(5)?,
        target: r.get(6)?,
        outcome: r.get(7)?,
        ip: r.get(8)?,
        user_agent: r.get(9)?,
        before: r.get(10)?,
        after: r.get(11)?,
    })
}

fn thread_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ThreadRow> {
    ThreadRow::try_from(r)
}

#[async_trait]
impl InboxStore for SqliteStore {
    async fn put_thread(
        &self,
        thread: &ThreadRecord,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<()> {
        self.write(WriteOp::PutThread(thread.clone(), audit.cloned()))
            .await
            .map(|_| ())
    }

    async fn get_thread(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> StoreResult<Option<ThreadRecord>> {
        let (tenant, conversation) = (tenant.clone(), conversation.clone());
        let row = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {THREAD_COLUMNS} FROM threads_by_id
                     WHERE tenant = ?1 AND conversation_id = ?2"
                ))
                .and_then(|mut s| {
                    s.query_row(params![tenant.as_str(), conversation.as_str()], thread_row)
                        .optional()
                })
                .map_err(unavailable)
            })
            .await?;
        row.map(thread_from_row).transpose()
    }

    async fn open_threads(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ThreadRecord>> {
        let limit = check_limit(limit)?;
        let after = Cursor::decode_text(cursor)?;
        let tenant = tenant.clone();
        let rows = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {THREAD_COLUMNS} FROM threads_by_id
                     WHERE tenant = ?1 AND open = 1 AND conversation_id > ?2
                     ORDER BY conversation_id LIMIT ?3"
                ))
                .and_then(|mut s| {
                    s.query_map(params![tenant.as_str(), after, limit as i64], thread_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        let items = rows
            .into_iter()
            .map(thread_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::of(items, limit, |t| {
            Cursor::after_text(t.conversation.as_str())
        }))
    }
    async fn add_note(&self, note: &NoteRecord) -> StoreResult<()> {
        self.write(WriteOp::AddNote(note.clone())).await.map(|_| ())
    }

    async fn notes(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<NoteRecord>> {
        let limit = check_limit(limit)?;
        let (before_at, before_id) = match cursor {
            Some(c) => {
                let (_, at, id) = c.decode_history()?;
                (at, id)
            }
            None => (i64::MAX, String::new()),
        };
        let (t, c) = (tenant.clone(), conversation.clone());
        let rows: Vec<NoteRow> = self
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT at_ms, note_id, author, author_name, text, mentions
                     FROM notes_by_conversation WHERE tenant = ?1 AND conversation_id = ?2
                       AND (at_ms < ?3 OR (at_ms = ?3 AND note_id < ?4))
                     ORDER BY at_ms DESC, note_id DESC LIMIT ?5",
                )
                .and_then(|mut s| {
                    s.query_map(
                        params![t.as_str(), c.as_str(), before_at, before_id, limit as i64],
                        |r| {
                            Ok((
                                r.get(0)?,
                                r.get(1)?,
                                r.get(2)?,
                                r.get(3)?,
                                r.get(4)?,
                                r.get(5)?,
                            ))
                        },
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        let items = rows
            .into_iter()
            .map(|r| note_from_row(tenant, conversation, r))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::of(items, limit, |n| {
            Cursor::history(0, n.at_ms, &n.id)
        }))
    }

    async fn put_profile(&self, profile: &ProfileRecord, audit: &AuditRecord) -> StoreResult<()> {
        self.write(WriteOp::PutProfile(profile.clone(), audit.clone()))
            .await
            .map(|_| ())
    }

    async fn profiles(
        &self,
        tenant: &TenantId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ProfileRecord>> {
        let limit = check_limit(limit)?;
        let after = Cursor::decode_text(cursor)?;
        let t = tenant.clone();
        let rows: Vec<ProfileRow> = self
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT user_id, skills, capacity, updated_at FROM agent_profiles_by_tenant
                     WHERE tenant = ?1 AND user_id > ?2 ORDER BY user_id LIMIT ?3",
                )
                .and_then(|mut s| {
                    s.query_map(params![t.as_str(), after, limit as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        let items = rows
            .into_iter()
            .map(|r| profile_from_row(tenant, r))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::of(items, limit, |p| {
            Cursor::after_text(p.user.as_str())
        }))
    }
}

type NoteRow = (i64, String, Option<String>, String, String, String);
type ProfileRow = (String, String, Option<u32>, i64);

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn enqueue_send(&self, send: &OutboxRecord) -> StoreResult<OutboxRecord> {
        if self
            .write(WriteOp::EnqueueSend(send.clone()))
            .await?
            .changed()
        {
            return Ok(send.clone());
        }
        self.get_send(&send.tenant, &send.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("send {} vanished", send.id)))
    }

    async fn update_send(&self, send: &OutboxRecord) -> StoreResult<()> {
        self.write(WriteOp::UpdateSend(send.clone()))
            .await
            .map(|_| ())
    }

    async fn get_send(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<OutboxRecord>> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        let row = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox_by_id WHERE tenant = ?1 AND send_id = ?2"
                ))
                .and_then(|mut s| {
                    s.query_row(params![tenant.as_str(), id], outbox_row)
                        .optional()
                })
                .map_err(unavailable)
            })
            .await?;
        row.map(outbox_from_row).transpose()
    }

    async fn pending_sends(
        &self,
        number: &PhoneNumberId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<OutboxRecord>> {
        let limit = check_limit(limit)?;
        let (after_at, after_id) = Cursor::decode_time(cursor)?;
        let number = number.clone();
        let rows = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox_by_id
                     WHERE number = ?1 AND pending = 1 AND (created_at, send_id) > (?2, ?3)
                     ORDER BY created_at, send_id LIMIT ?4"
                ))
                .and_then(|mut s| {
                    s.query_map(
                        params![number.as_str(), after_at, after_id, limit as i64],
                        outbox_row,
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        let items = rows
            .into_iter()
            .map(outbox_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::of(items, limit, |o| {
            Cursor::after_time(o.created_at, &o.id)
        }))
    }
}

impl SqliteStore {
    async fn access(&self, op: AccessOp) -> StoreResult<WriteOutcome> {
        self.write(WriteOp::Access(op)).await
    }

    /// A tenant's roles, or the one with `id`.
    async fn roles(&self, tenant: &TenantId, id: Option<String>) -> StoreResult<Vec<RoleRecord>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let rows: Vec<(String, String, String, i64)> = conn
                .prepare_cached(
                    "SELECT role_id, name, permissions, created_at FROM roles_by_tenant
                     WHERE tenant = ?1 AND (?2 IS NULL OR role_id = ?2) ORDER BY role_id LIMIT ?3",
                )
                .and_then(|mut s| {
                    s.query_map(params![tenant.as_str(), id, MAX_ROLES as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect()
                })
                .map_err(unavailable)?;
            rows.into_iter()
                .map(|(id, name, permissions, created_at)| {
                    Ok(RoleRecord {
                        tenant: tenant.clone(),
                        id,
                        name,
                        permissions: decode_list(&permissions)?,
                        created_at,
                    })
                })
                .collect()
        })
        .await
    }

    /// A tenant's teams, or the one with `id`.
    async fn teams(&self, tenant: &TenantId, id: Option<String>) -> StoreResult<Vec<TeamRecord>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let rows: Vec<(String, String, String, String, i64)> = conn
                .prepare_cached(
                    "SELECT team_id, name, members, numbers, created_at FROM teams_by_tenant
                     WHERE tenant = ?1 AND (?2 IS NULL OR team_id = ?2) ORDER BY team_id LIMIT ?3",
                )
                .and_then(|mut s| {
                    s.query_map(params![tenant.as_str(), id, MAX_TEAMS as i64], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })?
                    .collect()
                })
                .map_err(unavailable)?;
            rows.into_iter()
                .map(|(id, name, members, numbers, created_at)| {
                    Ok(TeamRecord {
                        tenant: tenant.clone(),
                        id,
                        name,
                        members: decode_list(&members)?
                            .into_iter()
                            .map(UserId::new)
                            .collect(),
                        numbers: decode_list(&numbers)?
                            .into_iter()
                            .map(PhoneNumberId::new)
                            .collect(),
                        created_at,
                    })
                })
                .collect()
        })
        .await
    }
}
