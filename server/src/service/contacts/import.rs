//! Contact imports: a durable background job per file.
//!
//! The upload is written to disk as it arrives (the route spools it), checked at once (charset,
//! binary content, header, a phone column: a precise 400 before anything starts), then moved
//! into the import directory and recorded. The job reads it in two stages: a blocking thread
//! decodes and parses rows (numbers through libphonenumber, values against their definitions,
//! tags against the catalogue, duplicates within the file) into chunks of [`CHUNK`] rows; the
//! job looks up the chunk's existing contacts in one read, decides each row (create, update,
//! unchanged, reject) and writes the chunk with its undo entries, rejected rows and the new
//! checkpoint in one store call. A restart resumes after the last chunk written (the rows
//! before it are read again only to remember their numbers), so a killed import finishes with
//! nothing written twice. A dry run decides the same way and writes only its report.
//!
//! Owns: the job, its progress events and undo. Must not: hold a file in memory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_shared::contacts::*;
use switchboard_shared::protocol::{HubEvent, Topic};
use switchboard_shared::{ErrorCode, ImportId, TenantId, UserId};
use tokio_util::sync::CancellationToken;

use super::csvfile::{self, Field, FileError, Sniffed};
use super::{Actor, ContactError, ContactResult};
use crate::auth::TenantScope;
use crate::domain::*;
use crate::service::broker::Broker;
use crate::store::{Store, StoreError, MAX_PAGE};

/// Rows per chunk: one store call each.
pub const CHUNK: usize = 1000;
/// Verdicts kept for the preview.
const PREVIEW: usize = 50;
/// Dry runs' files wait this long for their commit.
const DRY_RUN_KEEP: Duration = Duration::from_secs(24 * 3600);
/// The colour a tag an import adds to the catalogue gets.
const NEW_TAG_COLOUR: &str = "#607d8b";

/// What a file was uploaded with.
pub struct Upload {
    /// The spooled file (see `api::Spooled`).
    pub path: PathBuf,
    pub bytes: u64,
    pub file_name: Option<String>,
}

#[derive(Clone)]
pub struct Imports {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    broker: Arc<dyn Broker>,
    dir: PathBuf,
    shutdown: CancellationToken,
    /// Imports being undone now (a second undo waits for none: it is refused).
    undoing: Mutex<HashSet<(TenantId, ImportId)>>,
}

impl Imports {
    pub fn new(
        store: Arc<dyn Store>,
        broker: Arc<dyn Broker>,
        dir: PathBuf,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                broker,
                dir,
                shutdown,
                undoing: Mutex::new(HashSet::new()),
            }),
        }
    }

    fn file_path(&self, import: &ImportRecord) -> PathBuf {
        self.inner.dir.join(&import.file)
    }

    /// Resumes every import a stop interrupted (at start).
    pub async fn resume_all(&self) -> Result<usize, StoreError> {
        let running = self.inner.store.running_imports().await?;
        let n = running.len();
        for import in running {
            tracing::info!(import = %import.id, tenant = %import.tenant, rows_done = import.progress.rows_done, "resuming a contact import");
            self.spawn(import);
        }
        self.sweep();
        Ok(n)
    }

    /// Removes dry runs' files past their wait, and files no import names.
    fn sweep(&self) {
        let Ok(entries) = std::fs::read_dir(&self.inner.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > DRY_RUN_KEEP);
            let name = entry.file_name().to_string_lossy().into_owned();
            if old && (name.ends_with(".dry.csv") || name.ends_with(".upload")) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Checks an uploaded file and starts its import (or dry run).
    pub async fn start(
        &self,
        actor: &Actor<'_>,
        upload: Upload,
        options: ImportOptions,
        dry_run: bool,
    ) -> ContactResult<ImportRecord> {
        let scope = actor.scope;
        let user = actor
            .principal
            .user()
            .map(|u| u.id.clone())
            .unwrap_or_else(|| UserId::new(format!("api_key:{}", actor.principal.actor_id())));
        if let Some(code) = &options.default_region {
            if region(code).is_none() {
                return Err(ContactError::invalid(
                    ErrorCode::InvalidValue,
                    format!("default_region `{code}` is not an ISO 3166 country code"),
                ));
            }
        }
        let (sniffed, fields) = check_file(scope, &upload.path, &options).await?;
        let id = ImportId::new(new_id("imp"));
        let file = format!("{id}{}", if dry_run { ".dry.csv" } else { ".csv" });
        std::fs::create_dir_all(&self.inner.dir)
            .and_then(|()| std::fs::rename(&upload.path, self.inner.dir.join(&file)))
            .map_err(|e| unavailable(format!("cannot keep the file: {e}")))?;
        let record = ImportRecord {
            tenant: scope.tenant().clone(),
            id,
            state: ImportState::Running,
            dry_run,
            by: user,
            file_name: upload.file_name.map(|n| n.chars().take(200).collect()),
            file,
            bytes_total: upload.bytes,
            options,
            progress: ImportProgress {
                charset: sniffed.encoding.name().to_owned(),
                delimiter: sniffed.delimiter_name().to_owned(),
                mapping: sniffed
                    .headers
                    .iter()
                    .zip(&fields)
                    .map(|(h, f)| (h.clone(), f.label()))
                    .collect(),
                ..Default::default()
            },
            error: None,
            started_at: now_ms(),
            finished_at: None,
        };
        let record = scope.put_import(record).await?;
        let mut line =
            actor
                .principal
                .audit(actor.action, Some(format!("import:{}", record.id)), "ok");
        line.after = Some(
            serde_json::json!({"file": record.file_name, "bytes": record.bytes_total, "dry_run": dry_run})
                .to_string(),
        );
        scope.append_audit(line).await?;
        self.spawn(record.clone());
        Ok(record)
    }

    /// Starts the real import of a finished dry run, from the same file.
    pub async fn commit(&self, actor: &Actor<'_>, id: &ImportId) -> ContactResult<ImportRecord> {
        let scope = actor.scope;
        let dry = scope
            .import(id)
            .await?
            .ok_or_else(|| ContactError::not_found("import"))?;
        if !dry.dry_run || dry.state != ImportState::Done {
            return Err(ContactError::conflict(
                ErrorCode::Conflict,
                "only a finished dry run can be committed",
            ));
        }
        let copy = self.inner.dir.join(format!("{}.upload", new_id("up")));
        std::fs::copy(self.file_path(&dry), &copy).map_err(|_| {
            ContactError::conflict(
                ErrorCode::Conflict,
                "the dry run's file is gone (kept 24 hours); upload it again",
            )
        })?;
        let upload = Upload {
            path: copy,
            bytes: dry.bytes_total,
            file_name: dry.file_name.clone(),
        };
        self.start(actor, upload, dry.options.clone(), false).await
    }

    /// Undoes a finished import: removes the contacts it made and restores the fields of those
    /// it changed, except contacts someone changed since (they are kept and counted). Runs in
    /// the background; the import reads `undone` when it is over.
    pub async fn undo(&self, actor: &Actor<'_>, id: &ImportId) -> ContactResult<ImportRecord> {
        let scope = actor.scope;
        let import = scope
            .import(id)
            .await?
            .ok_or_else(|| ContactError::not_found("import"))?;
        let refuse = |why: &str| {
            Err(ContactError::conflict(
                ErrorCode::NotUndoable,
                why.to_owned(),
            ))
        };
        match (import.state, import.dry_run) {
            (_, true) => return refuse("a dry run wrote nothing to undo"),
            (ImportState::Undone, _) => return refuse("this import is undone already"),
            (ImportState::Running, _) => return refuse("this import is still running"),
            (ImportState::Done | ImportState::Failed, false) => {}
        }
        let key = (import.tenant.clone(), import.id.clone());
        if !self
            .inner
            .undoing
            .lock()
            .map(|mut set| set.insert(key.clone()))
            .unwrap_or(false)
        {
            return refuse("this import is being undone");
        }
        let mut line = actor
            .principal
            .audit(actor.action, Some(format!("import:{id}")), "ok");
        line.after = Some(serde_json::json!({"undo": true}).to_string());
        scope.append_audit(line).await?;
        let (this, scope) = (self.clone(), scope.clone());
        let record = import.clone();
        tokio::spawn(async move {
            if let Err(e) = this.undo_all(&scope, import).await {
                tracing::error!(error = %e, "undoing an import failed; it can be undone again");
            }
            if let Ok(mut set) = this.inner.undoing.lock() {
                set.remove(&key);
            }
        });
        Ok(record)
    }

    async fn undo_all(
        &self,
        scope: &TenantScope,
        mut import: ImportRecord,
    ) -> Result<(), StoreError> {
        let mut cursor = None;
        let (mut undone, mut kept) = (0u64, 0u64);
        loop {
            let page = scope
                .import_undo_log(&import.id, cursor.as_ref(), MAX_PAGE)
                .await?;
            for entry in &page.items {
                let Some(current) = scope.contact(&entry.contact).await? else {
                    continue;
                };
                if current.updated_at != entry.written_at {
                    kept += 1;
                    continue;
                }
                match &entry.before {
                    None => {
                        scope.delete_contact(&current.id, None).await?;
                    }
                    Some(before) => {
                        let mut c = current.clone();
                        c.name = before.name.clone();
                        c.tags = before.tags.clone();
                        c.attributes = before.attributes.clone();
                        c.updated_at = now_ms().max(current.updated_at + 1);
                        scope.put_contact(c, None, None).await?;
                    }
                }
                undone += 1;
                self.inner.broker.announce(
                    scope.tenant(),
                    &Topic::Contacts,
                    &HubEvent::ContactChanged {
                        contact: current.id.clone(),
                        exists: entry.before.is_some(),
                        at: now_ms(),
                    },
                );
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        import.state = ImportState::Undone;
        import.error = (kept > 0).then(|| {
            format!("{undone} contacts undone; {kept} kept because they changed after the import")
        });
        import.finished_at = Some(now_ms());
        scope.put_import(import.clone()).await?;
        self.progressed(&import, 0.0, None);
        Ok(())
    }

    fn spawn(&self, import: ImportRecord) {
        let this = self.clone();
        tokio::spawn(async move {
            let scope = TenantScope::new(Arc::clone(&this.inner.store), import.tenant.clone());
            let id = import.id.clone();
            if let Err(e) = this.run(&scope, import).await {
                tracing::error!(import = %id, error = %e, "contact import stopped");
            }
        });
    }

    fn progressed(&self, import: &ImportRecord, rate: f64, eta: Option<u64>) {
        let p = &import.progress;
        self.inner.broker.announce(
            &import.tenant,
            &Topic::Contacts,
            &HubEvent::ImportProgressed {
                import: import.id.clone(),
                state: import.state,
                dry_run: import.dry_run,
                total: p.rows_done,
                created: p.created,
                updated: p.updated,
                unchanged: p.unchanged,
                rejected: p.rejected,
                bytes_done: p.bytes_done,
                bytes_total: import.bytes_total,
                rows_per_second: rate,
                eta_seconds: eta,
            },
        );
    }

    /// Runs an import to its end (or until the server stops: it resumes at the next start).
    async fn run(&self, scope: &TenantScope, mut import: ImportRecord) -> Result<(), StoreError> {
        let path = self.file_path(&import);
        let fail = |mut import: ImportRecord, why: String| async move {
            import.state = ImportState::Failed;
            import.error = Some(why);
            import.finished_at = Some(now_ms());
            let _ = std::fs::remove_file(self.file_path(&import));
            scope.put_import(import.clone()).await?;
            self.progressed(&import, 0.0, None);
            Ok::<(), StoreError>(())
        };
        let setup = async {
            let defs = scope.attributes().await?;
            let schema = AttributeSchema::new(&defs).map_err(StoreError::Invalid)?;
            let catalogue = TagCatalogue::new(&scope.tags().await?);
            Ok::<_, StoreError>((defs, schema, catalogue))
        };
        let (_defs, schema, catalogue) = match setup.await {
            Ok(s) => s,
            Err(StoreError::Invalid(why)) => return fail(import, why).await,
            Err(e) => return Err(e),
        };
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => return fail(import, format!("the file is gone: {e}")).await,
        };
        let sniffed = match head_of(&path).and_then(|(head, whole)| {
            csvfile::sniff(
                &head,
                import.options.charset.as_deref(),
                import.options.default_region.as_deref(),
                whole,
            )
            .map_err(|e| e.to_string())
        }) {
            Ok(s) => s,
            Err(why) => return fail(import, why).await,
        };
        let fields: Vec<Field> = import
            .progress
            .mapping
            .iter()
            .map(|(_, label)| Field::from_label(label).unwrap_or(Field::Ignore))
            .collect();
        let planner = Planner {
            fields,
            headers: sniffed.headers.len(),
            region: import.options.default_region.as_deref().and_then(region),
            schema,
            catalogue,
            seen: HashMap::new(),
            skip: import.progress.rows_done,
            import: import.id.clone(),
            file_name: import.file_name.clone().unwrap_or_else(|| "file".into()),
            tag: import.options.tag.clone(),
        };
        let read = Arc::new(AtomicU64::new(0));
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(4);
        let reader_read = Arc::clone(&read);
        let stop = self.inner.shutdown.clone();
        let reader = tokio::task::spawn_blocking(move || {
            read_chunks(file, &sniffed, planner, reader_read, tx, stop)
        });

        let started = Instant::now();
        let busy_before = import.progress.busy_ms;
        let mut announced = Instant::now() - Duration::from_secs(1);
        while let Some(chunk) = rx.recv().await {
            if self.inner.shutdown.is_cancelled() {
                return Ok(());
            }
            // A chunk is written whole or not at all, and writing it again is harmless: a
            // store that fails for a moment (busy, unreachable) is tried again, five times.
            let mut attempt = 0;
            let outcome = loop {
                let before = import.clone();
                match self.write_chunk(scope, &mut import, chunk.clone()).await {
                    Err(StoreError::Conflict(why)) => break Err(StoreError::Conflict(why)),
                    Err(e) if attempt < 5 && !self.inner.shutdown.is_cancelled() => {
                        attempt += 1;
                        tracing::warn!(import = %import.id, error = %e, attempt, "contact import chunk failed; trying again");
                        import = before;
                        tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                    }
                    other => break other,
                }
            };
            if let Err(e) = outcome {
                // A conflict or a store failure: the checkpoint is the last chunk written, so
                // the job resumes there at the next start; a conflict stops it for good.
                return match e {
                    StoreError::Conflict(why) => fail(import, why).await,
                    e => Err(e),
                };
            }
            import.progress.busy_ms = busy_before + started.elapsed().as_millis() as u64;
            import.progress.bytes_done = read.load(Ordering::Relaxed).min(import.bytes_total);
            if announced.elapsed() >= Duration::from_millis(200) {
                let (rate, eta) = rate_eta(&import);
                self.progressed(&import, rate, eta);
                announced = Instant::now();
            }
        }
        match reader.await {
            Ok(Ok(())) => {}
            Ok(Err(why)) => return fail(import, why).await,
            Err(e) => return fail(import, format!("the reader stopped: {e}")).await,
        }
        if self.inner.shutdown.is_cancelled() {
            return Ok(());
        }
        import.state = ImportState::Done;
        import.finished_at = Some(now_ms());
        import.progress.bytes_done = import.bytes_total;
        import.progress.busy_ms = busy_before + started.elapsed().as_millis() as u64;
        scope.put_import(import.clone()).await?;
        if !import.dry_run {
            let _ = std::fs::remove_file(&path);
        }
        let (rate, _) = rate_eta(&import);
        self.progressed(&import, rate, None);
        tracing::info!(import = %import.id, rows = import.progress.rows_done, created = import.progress.created, updated = import.progress.updated, rejected = import.progress.rejected, "contact import done");
        Ok(())
    }

    /// Decides a chunk's rows against the store and writes it with the checkpoint.
    async fn write_chunk(
        &self,
        scope: &TenantScope,
        import: &mut ImportRecord,
        chunk: Chunk,
    ) -> Result<(), StoreError> {
        let at = now_ms();
        let phones: Vec<String> = chunk
            .rows
            .iter()
            .filter_map(|r| r.as_ref().ok().map(|p| p.digits.clone()))
            .collect();
        let existing: HashMap<String, ContactRecord> = scope
            .contacts_by_phones(&phones)
            .await?
            .into_iter()
            .filter_map(|c| c.phone.clone().map(|p| (p, c)))
            .collect();
        if !import.dry_run {
            for tag in &chunk.new_tags {
                let tag = TagRecord {
                    tenant: scope.tenant().clone(),
                    name: tag.clone(),
                    colour: NEW_TAG_COLOUR.into(),
                };
                scope.put_tag(tag, None).await?;
            }
        }
        let p = &mut import.progress;
        p.new_tags.extend(chunk.new_tags.iter().cloned());
        let (mut contacts, mut undo, mut rejected) = (Vec::new(), Vec::new(), Vec::new());
        for row in chunk.rows {
            let verdict = match row {
                Err(r) => {
                    if r.reason.starts_with(DUPLICATE) {
                        p.duplicates += 1;
                    }
                    p.rejected += 1;
                    let v = RowVerdict {
                        line: r.line,
                        verdict: Verdict::Reject,
                        phone: None,
                        reason: Some(r.reason.clone()),
                    };
                    rejected.push(r);
                    v
                }
                Ok(plan) => {
                    let before = existing.get(&plan.digits);
                    let id = before
                        .map(|c| c.id.clone())
                        .unwrap_or_else(|| scope.contact_id(&plan.digits));
                    match plan.apply(scope.tenant(), id, before, at) {
                        Err(reason) => {
                            p.rejected += 1;
                            rejected.push(RejectedRow {
                                line: plan.line,
                                fields: plan.fields.clone(),
                                reason: reason.clone(),
                            });
                            RowVerdict {
                                line: plan.line,
                                verdict: Verdict::Reject,
                                phone: Some(e164(&plan.digits)),
                                reason: Some(reason),
                            }
                        }
                        Ok((verdict, written)) => {
                            match verdict {
                                Verdict::Create => p.created += 1,
                                Verdict::Update => p.updated += 1,
                                _ => p.unchanged += 1,
                            }
                            if let Some(c) = written {
                                undo.push(UndoEntry {
                                    contact: c.id.clone(),
                                    before: before.map(ContactRecord::editable),
                                    written_at: c.updated_at,
                                });
                                contacts.push(c);
                            }
                            RowVerdict {
                                line: plan.line,
                                verdict,
                                phone: Some(e164(&plan.digits)),
                                reason: None,
                            }
                        }
                    }
                }
            };
            if p.preview.len() < PREVIEW {
                p.preview.push(verdict);
            }
        }
        p.rows_done = chunk.last_row;
        if import.dry_run {
            contacts.clear();
            undo.clear();
        }
        // Contacts an import writes are not announced one by one (a million events nobody
        // reads); the `import_progressed` events say when to read the list again.
        scope
            .import_chunk(import, &contacts, &undo, &rejected)
            .await?;
        Ok(())
    }
}

fn unavailable(message: String) -> ContactError {
    ContactError {
        kind: super::ErrorKind::Unavailable,
        code: ErrorCode::StoreUnavailable,
        message,
    }
}

/// The first [`csvfile::HEAD_BYTES`] of a file, and whether that is all of it.
fn head_of(path: &Path) -> Result<(Vec<u8>, bool), String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("the file is gone: {e}"))?;
    let mut head = vec![0u8; csvfile::HEAD_BYTES];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => return Err(format!("the file cannot be read: {e}")),
        }
    }
    head.truncate(filled);
    Ok((head, filled < csvfile::HEAD_BYTES))
}

/// Checks a file before its import starts: readable as text in a known charset, a header, at
/// least one row, a phone column.
async fn check_file(
    scope: &TenantScope,
    path: &Path,
    options: &ImportOptions,
) -> ContactResult<(Sniffed, Vec<Field>)> {
    let (head, whole) = head_of(path).map_err(unavailable)?;
    let sniffed = csvfile::sniff(
        &head,
        options.charset.as_deref(),
        options.default_region.as_deref(),
        whole,
    )
    .map_err(|e| {
        let code = match e {
            FileError::UnknownCharset(_) => ErrorCode::UnknownCharset,
            _ => ErrorCode::BadFile,
        };
        ContactError::invalid(code, e.to_string())
    })?;
    let defs = scope.attributes().await?;
    let schema = AttributeSchema::new(&defs)
        .map_err(|e| ContactError::invalid(ErrorCode::InvalidValue, e))?;
    let fields = csvfile::map_columns(&sniffed.headers, &options.mapping, &schema, &defs)
        .map_err(|e| ContactError::invalid(ErrorCode::BadFile, e.to_string()))?;
    Ok((sniffed, fields))
}

fn rate_eta(import: &ImportRecord) -> (f64, Option<u64>) {
    let p = &import.progress;
    let secs = (p.busy_ms as f64 / 1000.0).max(0.001);
    let rate = p.rows_done as f64 / secs;
    let bytes_rate = p.bytes_done as f64 / secs;
    let eta = (import.state == ImportState::Running && bytes_rate > 0.0).then(|| {
        (import.bytes_total.saturating_sub(p.bytes_done) as f64 / bytes_rate).ceil() as u64
    });
    (rate, eta)
}

/// The wire form of an import. `phones` false masks the preview's numbers.
pub fn status(import: &ImportRecord, phones: bool) -> ImportStatus {
    let p = &import.progress;
    let (rate, eta) = rate_eta(import);
    ImportStatus {
        id: import.id.clone(),
        state: import.state,
        dry_run: import.dry_run,
        file_name: import.file_name.clone(),
        charset: p.charset.clone(),
        delimiter: p.delimiter.clone(),
        mapping: p
            .mapping
            .iter()
            .map(|(header, field)| ColumnMapping {
                header: header.clone(),
                field: field.clone(),
            })
            .collect(),
        total: p.rows_done,
        created: p.created,
        updated: p.updated,
        unchanged: p.unchanged,
        rejected: p.rejected,
        duplicates: p.duplicates,
        new_tags: p.new_tags.clone(),
        bytes_done: p.bytes_done,
        bytes_total: import.bytes_total,
        rows_per_second: (rate * 10.0).round() / 10.0,
        eta_seconds: eta,
        preview: p
            .preview
            .iter()
            .map(|v| RowVerdict {
                phone: v.phone.as_deref().map(|ph| {
                    if phones {
                        ph.to_owned()
                    } else {
                        switchboard_shared::api::mask_phone(ph)
                    }
                }),
                ..v.clone()
            })
            .collect(),
        error: import.error.clone(),
        started_at: import.started_at,
        finished_at: import.finished_at,
        by: import.by.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading and planning rows (on a blocking thread)

const DUPLICATE: &str = "the same number as line";

/// One chunk of rows, planned: each a plan or a rejection.
#[derive(Clone)]
struct Chunk {
    rows: Vec<Result<RowPlan, RejectedRow>>,
    /// Tags this chunk's rows add to the catalogue.
    new_tags: Vec<String>,
    /// Rows read so far (the checkpoint once this chunk is written).
    last_row: u64,
}

/// A row read and checked, before it meets the stored contact.
#[derive(Clone)]
struct RowPlan {
    line: u64,
    fields: Vec<String>,
    digits: String,
    name: Option<String>,
    tags: Vec<String>,
    attributes: BTreeMap<String, Value>,
    marketing: Option<Marketing>,
    evidence: String,
}

impl RowPlan {
    /// The contact as this row leaves it, and the verdict; `None` when nothing changes.
    fn apply(
        &self,
        tenant: &TenantId,
        id: switchboard_shared::ContactId,
        before: Option<&ContactRecord>,
        at: UnixMillis,
    ) -> Result<(Verdict, Option<ContactRecord>), String> {
        let mut c = match before {
            Some(b) => b.clone(),
            None => ContactRecord::new(tenant.clone(), id, Some(self.digits.clone()), None, at),
        };
        if let Some(name) = &self.name {
            c.name = Some(name.clone());
        }
        for t in &self.tags {
            if !c.tags.contains(t) {
                c.tags.push(t.clone());
            }
        }
        if c.tags.len() > MAX_CONTACT_TAGS {
            return Err(format!(
                "the contact would carry {} tags; at most {MAX_CONTACT_TAGS}",
                c.tags.len()
            ));
        }
        for (k, v) in &self.attributes {
            c.attributes.insert(k.clone(), v.clone());
        }
        if let Some(m) = self.marketing {
            if c.marketing != m {
                c.apply_consent(&ConsentEvidence {
                    marketing: m,
                    source: ConsentSource::Import,
                    at: at.max(c.consent.as_ref().map_or(0, |e| e.at + 1)),
                    text: self.evidence.clone(),
                    by: None,
                });
            }
        }
        match before {
            Some(b) if *b == c => Ok((Verdict::Unchanged, None)),
            Some(b) => {
                c.updated_at = at.max(b.updated_at + 1);
                Ok((Verdict::Update, Some(c)))
            }
            None => Ok((Verdict::Create, Some(c))),
        }
    }
}

struct Planner {
    fields: Vec<Field>,
    headers: usize,
    region: Option<Region>,
    schema: AttributeSchema,
    catalogue: TagCatalogue,
    /// Numbers seen in this file, with the line that had them first.
    seen: HashMap<u64, u64>,
    /// Rows written before a restart: read again only to remember their numbers.
    skip: u64,
    import: ImportId,
    file_name: String,
    /// The tag every row gets (`ImportOptions::tag`).
    tag: Option<String>,
}

/// A cell as written: an export's formula guard (`'+7…`) removed, spaces trimmed.
fn cell(text: &str) -> &str {
    let t = text.trim();
    match t.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@']) => rest,
        _ => t,
    }
}

/// Adds a tag to a row's, by the catalogue's spelling, or as a new tag if the catalogue
/// has room (`new_tags` collects those).
fn add_tag(
    catalogue: &mut TagCatalogue,
    t: &str,
    tags: &mut Vec<String>,
    new_tags: &mut Vec<String>,
) -> Result<(), String> {
    let known = match catalogue.find(t) {
        Some(k) => k.to_owned(),
        None => {
            let name = check_tag_name(t)?;
            if catalogue.len() >= MAX_CATALOGUE_TAGS {
                return Err(format!(
                    "the tag `{name}` is new and the catalogue is full ({MAX_CATALOGUE_TAGS})"
                ));
            }
            catalogue.insert(&name);
            new_tags.push(name.clone());
            name
        }
    };
    if !tags.contains(&known) {
        tags.push(known);
    }
    Ok(())
}

impl Planner {
    /// Plans one row; `Err` is its rejection. `new_tags` collects tags the catalogue lacks.
    fn plan(
        &mut self,
        line: u64,
        record: &csv::StringRecord,
        new_tags: &mut Vec<String>,
    ) -> Result<RowPlan, RejectedRow> {
        let fields: Vec<String> = record.iter().map(str::to_owned).collect();
        let reject = |reason: String| RejectedRow {
            line,
            fields: fields.clone(),
            reason,
        };
        if record.len() > self.headers {
            return Err(reject(format!(
                "{} fields, but the header has {}",
                record.len(),
                self.headers
            )));
        }
        let (mut phone, mut name, mut first, mut last) = ("", None, None, None);
        let mut tags: Vec<String> = Vec::new();
        if let Some(t) = self.tag.clone() {
            add_tag(&mut self.catalogue, &t, &mut tags, new_tags).map_err(&reject)?;
        }
        let mut attributes = BTreeMap::new();
        let mut marketing = None;
        for (field, raw) in self.fields.iter().zip(record.iter()) {
            let value = cell(raw);
            match field {
                Field::Phone => phone = value,
                Field::Name if !value.is_empty() => name = Some(value.to_owned()),
                Field::FirstName if !value.is_empty() => first = Some(value.to_owned()),
                Field::LastName if !value.is_empty() => last = Some(value.to_owned()),
                Field::Tags => {
                    for t in value
                        .split([',', ';', '|'])
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                    {
                        add_tag(&mut self.catalogue, t, &mut tags, new_tags).map_err(&reject)?;
                    }
                    if tags.len() > MAX_CONTACT_TAGS {
                        return Err(reject(format!(
                            "{} tags; a contact carries at most {MAX_CONTACT_TAGS}",
                            tags.len()
                        )));
                    }
                }
                Field::Marketing if !value.is_empty() => {
                    marketing = Some(match fold(value).as_str() {
                        "yes" | "y" | "true" | "1" | "opted_in" | "opt in" | "subscribed"
                        | "да" | "согласен" | "подписан" => Marketing::OptedIn,
                        "no" | "n" | "false" | "0" | "opted_out" | "opt out" | "unsubscribed"
                        | "нет" | "отписан" | "stop" => Marketing::OptedOut,
                        _ => {
                            return Err(reject(format!(
                                "marketing is yes or no (opted_in / opted_out), not `{value}`"
                            )))
                        }
                    })
                }
                Field::Attribute(key) => {
                    if let Some(v) = self.schema.from_text(key, value).map_err(&reject)? {
                        attributes.insert(key.clone(), v);
                    }
                }
                _ => {}
            }
        }
        let parsed = parse_phone(phone, self.region).map_err(|e| reject(e.to_string()))?;
        let name = name.or(match (first, last) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (f, l) => f.or(l),
        });
        if let Some(n) = &name {
            if n.chars().count() > 200
                || n.chars().any(char::is_control)
                || switchboard_shared::text::check_name(n).is_err()
            {
                return Err(reject(
                    "the name is over 200 characters or holds invisible characters".into(),
                ));
            }
        }
        let number: u64 = parsed.digits.parse().unwrap_or(0);
        if let Some(first) = self.seen.get(&number) {
            return Err(reject(format!(
                "{DUPLICATE} {first} (the first one counts)"
            )));
        }
        self.seen.insert(number, line);
        Ok(RowPlan {
            line,
            fields,
            digits: parsed.digits,
            name,
            tags,
            attributes,
            marketing,
            evidence: format!("import {} ({}), line {line}", self.import, self.file_name),
        })
    }

    /// A row before the checkpoint: only its number is remembered (for duplicates).
    fn remember(&mut self, line: u64, record: &csv::StringRecord) {
        let phone = self
            .fields
            .iter()
            .zip(record.iter())
            .find(|(f, _)| **f == Field::Phone)
            .map_or("", |(_, v)| cell(v));
        if let Ok(p) = parse_phone(phone, self.region) {
            self.seen
                .entry(p.digits.parse().unwrap_or(0))
                .or_insert(line);
        }
    }
}

/// Reads the file's rows into planned chunks (blocking; runs on its own thread).
fn read_chunks(
    file: std::fs::File,
    sniffed: &Sniffed,
    mut planner: Planner,
    read: Arc<AtomicU64>,
    tx: tokio::sync::mpsc::Sender<Chunk>,
    stop: CancellationToken,
) -> Result<(), String> {
    let mut records = csvfile::open(file, sniffed, read);
    let mut record = csv::StringRecord::new();
    let mut rows = Vec::with_capacity(CHUNK);
    let mut new_tags = Vec::new();
    let mut n: u64 = 0;
    loop {
        let line = records.position().line() + 1;
        match records.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line());
                return Err(format!("the file stops being CSV at line {line}: {e}"));
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        n += 1;
        if n <= planner.skip {
            planner.remember(line, &record);
            continue;
        }
        rows.push(planner.plan(line, &record, &mut new_tags));
        if rows.len() == CHUNK {
            let chunk = Chunk {
                rows: std::mem::replace(&mut rows, Vec::with_capacity(CHUNK)),
                new_tags: std::mem::take(&mut new_tags),
                last_row: n,
            };
            if stop.is_cancelled() || tx.blocking_send(chunk).is_err() {
                return Ok(());
            }
        }
    }
    if !rows.is_empty() || !new_tags.is_empty() {
        let _ = tx.blocking_send(Chunk {
            rows,
            new_tags,
            last_row: n,
        });
    }
    Ok(())
}
