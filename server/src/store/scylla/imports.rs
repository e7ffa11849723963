//! Contact imports on ScyllaDB: the job's record (and an index of the running ones), the undo
//! log and the rejected rows by (tenant, import).

use async_trait::async_trait;
use switchboard_shared::contacts::ImportState;
use switchboard_shared::{ContactId, ImportId, TenantId, UserId};

use scylla::statement::prepared::PreparedStatement;

use super::{Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::{check_limit, decode_list, encode_list, ImportStore, StoreError, StoreResult};

row! {
    /// An import (`imports_by_tenant`); options and progress as JSON.
    struct ImportRow {
        tenant: String,
        import_id: String,
        state: String,
        dry_run: bool,
        by_user: String,
        file_name: Option<String>,
        file: String,
        bytes_total: i64,
        options: String,
        progress: String,
        error: Option<String>,
        started_at: i64,
        finished_at: Option<i64>,
    }
}

impl ImportRow {
    fn of(i: &ImportRecord) -> StoreResult<Self> {
        let json = |e: serde_json::Error| StoreError::Invalid(e.to_string());
        Ok(Self {
            tenant: i.tenant.as_str().to_owned(),
            import_id: i.id.as_str().to_owned(),
            state: i.state.as_str().to_owned(),
            dry_run: i.dry_run,
            by_user: i.by.as_str().to_owned(),
            file_name: i.file_name.clone(),
            file: i.file.clone(),
            bytes_total: i.bytes_total as i64,
            options: serde_json::to_string(&i.options).map_err(json)?,
            progress: serde_json::to_string(&i.progress).map_err(json)?,
            error: i.error.clone(),
            started_at: i.started_at,
            finished_at: i.finished_at,
        })
    }

    fn into_record(self) -> StoreResult<ImportRecord> {
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("import: {e}"));
        Ok(ImportRecord {
            tenant: TenantId::new(self.tenant),
            id: ImportId::new(self.import_id),
            state: ImportState::parse(&self.state).unwrap_or(ImportState::Failed),
            dry_run: self.dry_run,
            by: UserId::new(self.by_user),
            file_name: self.file_name,
            file: self.file,
            bytes_total: self.bytes_total as u64,
            options: serde_json::from_str(&self.options).map_err(corrupt)?,
            progress: serde_json::from_str(&self.progress).map_err(corrupt)?,
            error: self.error,
            started_at: self.started_at,
            finished_at: self.finished_at,
        })
    }
}

row! {
    /// An undo entry (`import_undo`); `before` as JSON, absent when the import created it.
    struct UndoRow {
        tenant: String,
        import_id: String,
        contact: String,
        before: Option<String>,
        written_at: i64,
    }
}

row! {
    /// A rejected row (`import_rejects`); fields as a JSON list.
    struct RejectRow {
        tenant: String,
        import_id: String,
        line: i64,
        fields: String,
        reason: String,
    }
}

/// Statements of imports.
pub(super) struct Statements {
    put_import: PreparedStatement,
    get_import: PreparedStatement,
    list_imports: PreparedStatement,
    mark_running: PreparedStatement,
    unmark_running: PreparedStatement,
    running: PreparedStatement,
    put_undo: PreparedStatement,
    get_undo: PreparedStatement,
    undo_after: PreparedStatement,
    delete_undo: PreparedStatement,
    put_reject: PreparedStatement,
    rejects_after: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        Ok(Self {
            put_import: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.imports_by_tenant ({}) VALUES ({})",
                        ImportRow::COLUMNS,
                        super::markers(ImportRow::COLUMNS)
                    ),
                    true,
                )
                .await?,
            get_import: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.imports_by_tenant WHERE tenant = ? AND import_id = ?",
                        ImportRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            list_imports: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.imports_by_tenant WHERE tenant = ? LIMIT 1000",
                        ImportRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            mark_running: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.running_imports (shard, tenant, import_id) VALUES (0, ?, ?)"
                    ),
                    true,
                )
                .await?,
            unmark_running: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.running_imports WHERE shard = 0 AND tenant = ? AND import_id = ?"
                    ),
                    true,
                )
                .await?,
            running: p
                .prepare(
                    format!(
                        "SELECT tenant, import_id FROM {ks}.running_imports WHERE shard = 0 LIMIT 10000"
                    ),
                    true,
                )
                .await?,
            put_undo: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.import_undo ({}) VALUES ({})",
                        UndoRow::COLUMNS,
                        super::markers(UndoRow::COLUMNS)
                    ),
                    true,
                )
                .await?,
            get_undo: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.import_undo
                         WHERE tenant = ? AND import_id = ? AND contact = ?",
                        UndoRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            undo_after: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.import_undo
                         WHERE tenant = ? AND import_id = ? AND contact > ? LIMIT ?",
                        UndoRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            delete_undo: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.import_undo WHERE tenant = ? AND import_id = ? AND contact = ?"
                    ),
                    true,
                )
                .await?,
            put_reject: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.import_rejects ({}) VALUES ({})",
                        RejectRow::COLUMNS,
                        super::markers(RejectRow::COLUMNS)
                    ),
                    true,
                )
                .await?,
            rejects_after: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.import_rejects
                         WHERE tenant = ? AND import_id = ? AND line > ? LIMIT ?",
                        RejectRow::COLUMNS
                    ),
                    true,
                )
                .await?,
        })
    }
}

impl ScyllaStore {
    /// Removes a contact's entries from the undo logs of the tenant's imports (erasure).
    pub(super) async fn forget_in_imports(&self, contact: &ContactRecord) -> StoreResult<()> {
        for import in self.list_imports(&contact.tenant).await? {
            self.session
                .execute_unpaged(
                    &self.imports.delete_undo,
                    (
                        contact.tenant.as_str(),
                        import.id.as_str(),
                        contact.id.as_str(),
                    ),
                )
                .await
                .map_err(super::unavailable)?;
        }
        Ok(())
    }
}

#[async_trait]
impl ImportStore for ScyllaStore {
    async fn put_import(&self, import: &ImportRecord) -> StoreResult<()> {
        self.exec(&self.imports.put_import, ImportRow::of(import)?)
            .await?;
        let key = (import.tenant.as_str(), import.id.as_str());
        if import.state == ImportState::Running {
            self.exec(&self.imports.mark_running, key).await
        } else {
            self.exec(&self.imports.unmark_running, key).await
        }
    }

    async fn get_import(
        &self,
        tenant: &TenantId,
        id: &ImportId,
    ) -> StoreResult<Option<ImportRecord>> {
        self.one::<ImportRow>(&self.imports.get_import, (tenant.as_str(), id.as_str()))
            .await?
            .map(ImportRow::into_record)
            .transpose()
    }

    async fn list_imports(&self, tenant: &TenantId) -> StoreResult<Vec<ImportRecord>> {
        let mut all = self
            .rows::<ImportRow>(&self.imports.list_imports, (tenant.as_str(),))
            .await?
            .into_iter()
            .map(ImportRow::into_record)
            .collect::<StoreResult<Vec<_>>>()?;
        all.sort_by(|a, b| (b.started_at, &b.id).cmp(&(a.started_at, &a.id)));
        all.truncate(100);
        Ok(all)
    }

    async fn running_imports(&self) -> StoreResult<Vec<ImportRecord>> {
        let mut out = Vec::new();
        for (tenant, id) in self
            .rows::<(String, String)>(&self.imports.running, ())
            .await?
        {
            if let Some(i) = self
                .get_import(&TenantId::new(tenant), &ImportId::new(id))
                .await?
            {
                if i.state == ImportState::Running {
                    out.push(i);
                }
            }
        }
        Ok(out)
    }

    async fn import_chunk(
        &self,
        import: &ImportRecord,
        contacts: &[ContactRecord],
        undo: &[UndoEntry],
        rejected: &[RejectedRow],
    ) -> StoreResult<()> {
        let key = (import.tenant.as_str(), import.id.as_str());
        // The undo log first, keeping the first "before" a contact got (a chunk written again
        // after a crash must not record the import's own values as the state before it).
        for u in undo {
            let kept = self
                .one::<UndoRow>(&self.imports.get_undo, (key.0, key.1, u.contact.as_str()))
                .await?;
            let before = match kept {
                Some(row) => row.before,
                None => u
                    .before
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?,
            };
            let row = UndoRow {
                tenant: key.0.to_owned(),
                import_id: key.1.to_owned(),
                contact: u.contact.as_str().to_owned(),
                before,
                written_at: u.written_at,
            };
            self.exec(&self.imports.put_undo, row).await?;
        }
        for c in contacts {
            self.write_contact(c).await?;
        }
        for r in rejected {
            let row = RejectRow {
                tenant: key.0.to_owned(),
                import_id: key.1.to_owned(),
                line: r.line as i64,
                fields: encode_list(&r.fields),
                reason: r.reason.clone(),
            };
            self.exec(&self.imports.put_reject, row).await?;
        }
        self.put_import(import).await
    }

    async fn import_undo_log(
        &self,
        tenant: &TenantId,
        import: &ImportId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<UndoEntry>> {
        let limit = check_limit(limit)?;
        let after = Cursor::decode_text(cursor)?;
        let items = self
            .rows::<UndoRow>(
                &self.imports.undo_after,
                (tenant.as_str(), import.as_str(), after, limit as i32),
            )
            .await?
            .into_iter()
            .map(|r| {
                Ok(UndoEntry {
                    contact: ContactId::new(r.contact),
                    before: r
                        .before
                        .map(|b| serde_json::from_str(&b))
                        .transpose()
                        .map_err(|e| StoreError::Corrupt(format!("undo entry: {e}")))?,
                    written_at: r.written_at,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::of(items, limit, |u| {
            Cursor::after_text(u.contact.as_str())
        }))
    }

    async fn rejected_rows(
        &self,
        tenant: &TenantId,
        import: &ImportId,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<RejectedRow>> {
        let limit = check_limit(limit)?;
        let after: i64 = Cursor::decode_text(cursor)?.parse().unwrap_or(0);
        let items = self
            .rows::<RejectRow>(
                &self.imports.rejects_after,
                (tenant.as_str(), import.as_str(), after, limit as i32),
            )
            .await?
            .into_iter()
            .map(|r| {
                Ok(RejectedRow {
                    line: r.line as u64,
                    fields: decode_list(&r.fields)?,
                    reason: r.reason,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page::of(items, limit, |r| {
            Cursor::after_text(&format!("{:020}", r.line))
        }))
    }
}
