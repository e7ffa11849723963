//! The tag catalogue, attribute definitions and saved segments: small per-tenant sets.

use async_trait::async_trait;
use rusqlite::params;
use switchboard_shared::contacts::AttributeDef;
use switchboard_shared::{SegmentId, TenantId};

use super::filter::fold_tag;
use super::identity::insert_audit;
use super::{unavailable, SqliteStore};
use crate::domain::*;
use crate::store::{CatalogueStore, StoreError, StoreResult};

#[async_trait]
impl CatalogueStore for SqliteStore {
    async fn put_tag(&self, tag: &TagRecord, audit: Option<&AuditRecord>) -> StoreResult<()> {
        let (tag, audit) = (tag.clone(), audit.cloned());
        self.write(move |conn, _| {
            conn.prepare_cached(
                "INSERT INTO tags_by_tenant (tenant, fold, name, colour) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, fold) DO UPDATE SET name = excluded.name,
                   colour = excluded.colour",
            )
            .and_then(|mut s| {
                s.execute(params![
                    tag.tenant.as_str(),
                    fold_tag(&tag.name),
                    tag.name,
                    tag.colour
                ])
            })
            .map_err(unavailable)?;
            if let Some(a) = &audit {
                insert_audit(conn, a)?;
            }
            Ok(())
        })
        .await
    }

    async fn list_tags(&self, tenant: &TenantId) -> StoreResult<Vec<TagRecord>> {
        let t = tenant.clone();
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT name, colour FROM tags_by_tenant WHERE tenant = ?1 ORDER BY fold LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![t.as_str(), MAX_CATALOGUE_TAGS as i64], |r| {
                    Ok(TagRecord {
                        tenant: t.clone(),
                        name: r.get(0)?,
                        colour: r.get(1)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn delete_tag(
        &self,
        tenant: &TenantId,
        name: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let (t, name, audit) = (tenant.clone(), fold_tag(name), audit.clone());
        self.write(move |conn, _| {
            let n = conn
                .execute(
                    "DELETE FROM tags_by_tenant WHERE tenant = ?1 AND fold = ?2",
                    params![t.as_str(), name],
                )
                .map_err(unavailable)?;
            if n > 0 {
                insert_audit(conn, &audit)?;
            }
            Ok(n > 0)
        })
        .await
    }

    async fn put_attribute(
        &self,
        tenant: &TenantId,
        def: &AttributeDef,
        audit: &AuditRecord,
    ) -> StoreResult<()> {
        let text = serde_json::to_string(def).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let (t, key, audit) = (tenant.clone(), def.key.clone(), audit.clone());
        self.write(move |conn, _| {
            conn.execute(
                "INSERT INTO attributes_by_tenant (tenant, key, definition) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant, key) DO UPDATE SET definition = excluded.definition",
                params![t.as_str(), key, text],
            )
            .map_err(unavailable)?;
            insert_audit(conn, &audit)
        })
        .await
    }

    async fn list_attributes(&self, tenant: &TenantId) -> StoreResult<Vec<AttributeDef>> {
        let t = tenant.clone();
        self.read(move |conn| {
            let texts: Vec<String> = conn
                .prepare_cached(
                    "SELECT definition FROM attributes_by_tenant WHERE tenant = ?1 ORDER BY key",
                )
                .and_then(|mut s| s.query_map(params![t.as_str()], |r| r.get(0))?.collect())
                .map_err(unavailable)?;
            texts
                .iter()
                .map(|d| {
                    serde_json::from_str(d)
                        .map_err(|e| StoreError::Corrupt(format!("attribute definition: {e}")))
                })
                .collect()
        })
        .await
    }

    async fn delete_attribute(
        &self,
        tenant: &TenantId,
        key: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let (t, key, audit) = (tenant.clone(), key.to_owned(), audit.clone());
        self.write(move |conn, _| {
            let n = conn
                .execute(
                    "DELETE FROM attributes_by_tenant WHERE tenant = ?1 AND key = ?2",
                    params![t.as_str(), key],
                )
                .map_err(unavailable)?;
            if n > 0 {
                insert_audit(conn, &audit)?;
            }
            Ok(n > 0)
        })
        .await
    }

    async fn put_segment(&self, segment: &SegmentRecord, audit: &AuditRecord) -> StoreResult<()> {
        let filter = serde_json::to_string(&segment.filter)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let (s, audit) = (segment.clone(), audit.clone());
        self.write(move |conn, _| {
            conn.execute(
                "INSERT INTO segments_by_tenant (tenant, segment_id, name, filter, created_at,
                   updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (tenant, segment_id) DO UPDATE SET name = excluded.name,
                   filter = excluded.filter, updated_at = excluded.updated_at",
                params![
                    s.tenant.as_str(),
                    s.id.as_str(),
                    s.name,
                    filter,
                    s.created_at,
                    s.updated_at
                ],
            )
            .map_err(unavailable)?;
            insert_audit(conn, &audit)
        })
        .await
    }

    async fn get_segment(
        &self,
        tenant: &TenantId,
        id: &SegmentId,
    ) -> StoreResult<Option<SegmentRecord>> {
        let (t, id) = (tenant.clone(), id.clone());
        let all = self.list_segments(&t).await?;
        Ok(all.into_iter().find(|s| s.id == id))
    }

    async fn list_segments(&self, tenant: &TenantId) -> StoreResult<Vec<SegmentRecord>> {
        let t = tenant.clone();
        self.read(move |conn| {
            let rows: Vec<(String, String, String, i64, i64)> = conn
                .prepare_cached(
                    "SELECT segment_id, name, filter, created_at, updated_at
                     FROM segments_by_tenant WHERE tenant = ?1 ORDER BY segment_id",
                )
                .and_then(|mut s| {
                    s.query_map(params![t.as_str()], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })?
                    .collect()
                })
                .map_err(unavailable)?;
            rows.into_iter()
                .map(|(id, name, filter, created_at, updated_at)| {
                    Ok(SegmentRecord {
                        tenant: t.clone(),
                        id: SegmentId::new(id),
                        name,
                        filter: serde_json::from_str(&filter)
                            .map_err(|e| StoreError::Corrupt(format!("segment filter: {e}")))?,
                        created_at,
                        updated_at,
                    })
                })
                .collect()
        })
        .await
    }

    async fn delete_segment(
        &self,
        tenant: &TenantId,
        id: &SegmentId,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let (t, id, audit) = (tenant.clone(), id.clone(), audit.clone());
        self.write(move |conn, _| {
            let n = conn
                .execute(
                    "DELETE FROM segments_by_tenant WHERE tenant = ?1 AND segment_id = ?2",
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
