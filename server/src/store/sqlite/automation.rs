//! Automation's documents (keyword rules, later schedules and flows): one row per document.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use switchboard_shared::TenantId;

use super::identity::insert_audit;
use super::{unavailable, SqliteStore};
use crate::domain::*;
use crate::store::{AutomationStore, StoreError, StoreResult};

const COLUMNS: &str = "id, version, updated_at, updated_by, body";

fn item(
    tenant: &TenantId,
    kind: ItemKind,
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<AutomationItem> {
    Ok(AutomationItem {
        tenant: tenant.clone(),
        kind,
        id: r.get(0)?,
        version: r.get::<_, i64>(1)? as u64,
        updated_at: r.get(2)?,
        updated_by: r.get(3)?,
        body: r.get(4)?,
    })
}

#[async_trait]
impl AutomationStore for SqliteStore {
    async fn list_items(
        &self,
        tenant: &TenantId,
        kind: ItemKind,
    ) -> StoreResult<Vec<AutomationItem>> {
        let t = tenant.clone();
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM automation_items WHERE tenant = ?1 AND kind = ?2
                 ORDER BY id LIMIT ?3"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![t.as_str(), kind.as_str(), MAX_ITEMS_PER_KIND as i64],
                    |r| item(&t, kind, r),
                )?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn get_item(
        &self,
        tenant: &TenantId,
        kind: ItemKind,
        id: &str,
    ) -> StoreResult<Option<AutomationItem>> {
        let (t, id) = (tenant.clone(), id.to_owned());
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM automation_items WHERE tenant = ?1 AND kind = ?2 AND id = ?3"
            ))
            .and_then(|mut s| {
                s.query_row(params![t.as_str(), kind.as_str(), id], |r| {
                    item(&t, kind, r)
                })
                .optional()
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn put_item(
        &self,
        item: &AutomationItem,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<()> {
        let (item, audit) = (item.clone(), audit.cloned());
        self.write(move |conn, _| {
            let stored: Option<i64> = conn
                .query_row(
                    "SELECT version FROM automation_items
                     WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
                    params![item.tenant.as_str(), item.kind.as_str(), item.id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            let expected = item.version as i64 - 1;
            if stored.unwrap_or(0) != expected {
                return Err(StoreError::Conflict(format!(
                    "it changed since version {expected} was read"
                )));
            }
            conn.execute(
                "INSERT INTO automation_items
                   (tenant, kind, id, version, updated_at, updated_by, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (tenant, kind, id) DO UPDATE SET version = excluded.version,
                   updated_at = excluded.updated_at, updated_by = excluded.updated_by,
                   body = excluded.body",
                params![
                    item.tenant.as_str(),
                    item.kind.as_str(),
                    item.id,
                    item.version as i64,
                    item.updated_at,
                    item.updated_by,
                    item.body
                ],
            )
            .map_err(unavailable)?;
            match &audit {
                Some(a) => insert_audit(conn, a),
                None => Ok(()),
            }
        })
        .await
    }

    async fn delete_item(
        &self,
        tenant: &TenantId,
        kind: ItemKind,
        id: &str,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<bool> {
        let (t, id, audit) = (tenant.clone(), id.to_owned(), audit.cloned());
        self.write(move |conn, _| {
            let n = conn
                .execute(
                    "DELETE FROM automation_items WHERE tenant = ?1 AND kind = ?2 AND id = ?3",
                    params![t.as_str(), kind.as_str(), id],
                )
                .map_err(unavailable)?;
            if let (true, Some(a)) = (n > 0, &audit) {
                insert_audit(conn, a)?;
            }
            Ok(n > 0)
        })
        .await
    }
}
