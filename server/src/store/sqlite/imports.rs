//! Contact imports: the job's record and checkpoint, its undo log, its rejected rows, and the
//! chunks it writes (each one transaction with its checkpoint).

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use switchboard_shared::contacts::ImportState;
use switchboard_shared::{ContactId, ImportId, TenantId, UserId};

use super::contacts::write_contact;
use super::{unavailable, List, SqliteStore};
use crate::domain::*;
use crate::store::page::*;
use crate::store::{check_limit, encode_list, ImportStore, StoreError, StoreResult, MAX_PAGE};

fn json_err(e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

fn import_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<ImportRecord> {
    let options: String = r.get("options")?;
    let progress: String = r.get("progress")?;
    let state: String = r.get("state")?;
    Ok(ImportRecord {
        tenant: TenantId::new(r.get::<_, String>("tenant")?),
        id: ImportId::new(r.get::<_, String>("import_id")?),
        state: ImportState::parse(&state).unwrap_or(ImportState::Failed),
        dry_run: r.get("dry_run")?,
        by: UserId::new(r.get::<_, String>("by_user")?),
        file_name: r.get("file_name")?,
        file: r.get("file")?,
        bytes_total: r.get::<_, i64>("bytes_total")? as u64,
        options: serde_json::from_str(&options).map_err(json_err)?,
        progress: serde_json::from_str(&progress).map_err(json_err)?,
        error: r.get("error")?,
        started_at: r.get("started_at")?,
        finished_at: r.get("finished_at")?,
    })
}

fn put_import(conn: &Connection, i: &ImportRecord) -> StoreResult<()> {
    let options =
        serde_json::to_string(&i.options).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let progress =
        serde_json::to_string(&i.progress).map_err(|e| StoreError::Invalid(e.to_string()))?;
    conn.prepare_cached(
        "INSERT INTO imports_by_tenant (tenant, import_id, state, dry_run, by_user, file_name,
           file, bytes_total, options, progress, error, started_at, finished_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (tenant, import_id) DO UPDATE SET state = excluded.state,
           progress = excluded.progress, error = excluded.error,
           finished_at = excluded.finished_at, bytes_total = excluded.bytes_total",
    )
    .and_then(|mut s| {
        s.execute(params![
            i.tenant.as_str(),
            i.id.as_str(),
            i.state.as_str(),
            i.dry_run,
            i.by.as_str(),
            i.file_name,
            i.file,
            i.bytes_total as i64,
            options,
            progress,
            i.error,
            i.started_at,
            i.finished_at
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl ImportStore for SqliteStore {
    async fn put_import(&self, import: &ImportRecord) -> StoreResult<()> {
        let i = import.clone();
        self.write(move |conn, _| put_import(conn, &i)).await
    }

    async fn get_import(
        &self,
        tenant: &TenantId,
        id: &ImportId,
    ) -> StoreResult<Option<ImportRecord>> {
        let (t, id) = (tenant.clone(), id.clone());
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT * FROM imports_by_tenant WHERE tenant = ?1 AND import_id = ?2",
            )
            .and_then(|mut s| {
                s.query_row(params![t.as_str(), id.as_str()], import_from)
                    .optional()
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn list_imports(&self, tenant: &TenantId) -> StoreResult<Vec<ImportRecord>> {
        let t = tenant.clone();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT * FROM imports_by_tenant WHERE tenant = ?1
                 ORDER BY started_at DESC, import_id DESC LIMIT 100",
            )
            .and_then(|mut s| s.query_map(params![t.as_str()], import_from)?.collect())
            .map_err(unavailable)
        })
        .await
    }

    async fn running_imports(&self) -> StoreResult<Vec<ImportRecord>> {
        self.read(move |conn| {
            conn.prepare_cached("SELECT * FROM imports_by_tenant WHERE state = 'running'")
                .and_then(|mut s| s.query_map([], import_from)?.collect())
                .map_err(unavailable)
        })
        .await
    }

    async fn import_chunk(
        &self,
        import: &ImportRecord,
        contacts: &[ContactRecord],
        undo: &[UndoEntry],
        rejected: &[RejectedRow],
    ) -> StoreResult<()> {
        let (i, contacts, undo, rejected) = (
            import.clone(),
            contacts.to_vec(),
            undo.to_vec(),
            rejected.to_vec(),
        );
        self.write(move |conn, _| {
            for c in &contacts {
                write_contact(conn, c)?;
            }
            for u in &undo {
                let before = u
                    .before
                    .as_ref()
                    .map(serde_json::to_string)
                    .transpose()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                // The first entry for a contact wins: it holds the state before the import.
                conn.prepare_cached(
                    "INSERT OR IGNORE INTO import_undo (tenant, import_id, contact, before,
                       written_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        i.tenant.as_str(),
                        i.id.as_str(),
                        u.contact.as_str(),
                        before,
                        u.written_at
                    ])
                })
                .map_err(unavailable)?;
                conn.prepare_cached(
                    "UPDATE import_undo SET written_at = ?4
                     WHERE tenant = ?1 AND import_id = ?2 AND contact = ?3",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        i.tenant.as_str(),
                        i.id.as_str(),
                        u.contact.as_str(),
                        u.written_at
                    ])
                })
                .map_err(unavailable)?;
            }
            for r in &rejected {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO import_rejects (tenant, import_id, line, fields, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        i.tenant.as_str(),
                        i.id.as_str(),
                        r.line as i64,
                        encode_list(&r.fields),
                        r.reason
                    ])
                })
                .map_err(unavailable)?;
            }
            put_import(conn, &i)
        })
        .await
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
        let (t, i) = (tenant.clone(), import.clone());
        let items = self
            .read(move |conn| {
                let rows: Vec<(String, Option<String>, i64)> = conn
                    .prepare_cached(
                        "SELECT contact, before, written_at FROM import_undo
                         WHERE tenant = ?1 AND import_id = ?2 AND contact > ?3
                         ORDER BY contact LIMIT ?4",
                    )
                    .and_then(|mut s| {
                        s.query_map(params![t.as_str(), i.as_str(), after, limit as i64], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        })?
                        .collect()
                    })
                    .map_err(unavailable)?;
                rows.into_iter()
                    .map(|(contact, before, written_at)| {
                        Ok(UndoEntry {
                            contact: ContactId::new(contact),
                            before: before
                                .map(|b| serde_json::from_str(&b))
                                .transpose()
                                .map_err(|e| StoreError::Corrupt(format!("undo entry: {e}")))?,
                            written_at,
                        })
                    })
                    .collect::<StoreResult<Vec<_>>>()
            })
            .await?;
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
        let limit = check_limit(limit.min(MAX_PAGE))?;
        let after: i64 = Cursor::decode_text(cursor)?.parse().unwrap_or(0);
        let (t, i) = (tenant.clone(), import.clone());
        let items = self
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT line, fields, reason FROM import_rejects
                     WHERE tenant = ?1 AND import_id = ?2 AND line > ?3 ORDER BY line LIMIT ?4",
                )
                .and_then(|mut s| {
                    s.query_map(params![t.as_str(), i.as_str(), after, limit as i64], |r| {
                        Ok(RejectedRow {
                            line: r.get::<_, i64>(0)? as u64,
                            fields: r.get::<_, List>(1)?.0,
                            reason: r.get(2)?,
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        Ok(Page::of(items, limit, |r| {
            Cursor::after_text(&format!("{:020}", r.line))
        }))
    }
}
