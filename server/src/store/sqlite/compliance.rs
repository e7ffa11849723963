//! The outgoing word filter's term lists: one row per list, the list as a JSON document.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use switchboard_shared::compliance::MAX_LISTS_PER_TENANT;
use switchboard_shared::{TenantId, TermListId};

use super::identity::insert_audit;
use super::{unavailable, SqliteStore};
use crate::domain::*;
use crate::store::{ComplianceStore, StoreError, StoreResult};

const COLUMNS: &str = "id, version, updated_at, updated_by, body";

fn record(tenant: &TenantId, r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
    Ok(StoredRow {
        tenant: tenant.clone(),
        id: r.get(0)?,
        version: r.get(1)?,
        updated_at: r.get(2)?,
        updated_by: r.get(3)?,
        body: r.get(4)?,
    })
}

/// A row before its body is decoded.
struct StoredRow {
    tenant: TenantId,
    id: String,
    version: i64,
    updated_at: i64,
    updated_by: String,
    body: String,
}

impl StoredRow {
    fn decode(self) -> StoreResult<TermListRecord> {
        Ok(TermListRecord {
            tenant: self.tenant,
            id: TermListId::new(self.id),
            version: self.version as u64,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
            body: serde_json::from_str(&self.body)
                .map_err(|e| StoreError::Corrupt(format!("term list: {e}")))?,
        })
    }
}

#[async_trait]
impl ComplianceStore for SqliteStore {
    async fn list_term_lists(&self, tenant: &TenantId) -> StoreResult<Vec<TermListRecord>> {
        let t = tenant.clone();
        let rows = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM term_lists WHERE tenant = ?1 ORDER BY id LIMIT ?2"
                ))
                .and_then(|mut s| {
                    s.query_map(params![t.as_str(), MAX_LISTS_PER_TENANT as i64], |r| {
                        record(&t, r)
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        rows.into_iter().map(StoredRow::decode).collect()
    }

    async fn get_term_list(
        &self,
        tenant: &TenantId,
        id: &TermListId,
    ) -> StoreResult<Option<TermListRecord>> {
        let (t, id) = (tenant.clone(), id.clone());
        let row = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM term_lists WHERE tenant = ?1 AND id = ?2"
                ))
                .and_then(|mut s| {
                    s.query_row(params![t.as_str(), id.as_str()], |r| record(&t, r))
                        .optional()
                })
                .map_err(unavailable)
            })
            .await?;
        row.map(StoredRow::decode).transpose()
    }

    async fn put_term_list(&self, list: &TermListRecord, audit: &AuditRecord) -> StoreResult<()> {
        let body =
            serde_json::to_string(&list.body).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let (list, audit) = (list.clone(), audit.clone());
        self.write(move |conn, _| {
            let stored: Option<i64> = conn
                .query_row(
                    "SELECT version FROM term_lists WHERE tenant = ?1 AND id = ?2",
                    params![list.tenant.as_str(), list.id.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            let expected = list.version as i64 - 1;
            if stored.unwrap_or(0) != expected {
                return Err(StoreError::Conflict(format!(
                    "the list changed since version {expected} was read"
                )));
            }
            conn.execute(
                "INSERT INTO term_lists (tenant, id, version, updated_at, updated_by, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (tenant, id) DO UPDATE SET version = excluded.version,
                   updated_at = excluded.updated_at, updated_by = excluded.updated_by,
                   body = excluded.body",
                params![
                    list.tenant.as_str(),
                    list.id.as_str(),
                    list.version as i64,
                    list.updated_at,
                    list.updated_by,
                    body
                ],
            )
            .map_err(unavailable)?;
            insert_audit(conn, &audit)
        })
        .await
    }

    async fn delete_term_list(
        &self,
        tenant: &TenantId,
        id: &TermListId,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let (t, id, audit) = (tenant.clone(), id.clone(), audit.clone());
        self.write(move |conn, _| {
            let n = conn
                .execute(
                    "DELETE FROM term_lists WHERE tenant = ?1 AND id = ?2",
                    params![t.as_str(), id.as_str()],
                )
                .map_err(unavailable)?;
            if n > 0 {
                insert_audit(conn, &audit)?;
            }
            Ok(n > 0)
        })
        .await
    }
}
