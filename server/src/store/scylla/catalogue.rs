//! The tag catalogue, attribute definitions and saved segments on ScyllaDB: small per-tenant
//! sets, one partition each.

use async_trait::async_trait;
use switchboard_shared::contacts::AttributeDef;
use switchboard_shared::{SegmentId, TenantId};

use scylla::statement::prepared::PreparedStatement;

use super::{Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::{CatalogueStore, StoreError, StoreResult};

row! {
    /// A segment (`segments_by_tenant`); the filter as JSON.
    struct SegmentRow {
        tenant: String,
        segment_id: String,
        name: String,
        filter: String,
        created_at: i64,
        updated_at: i64,
    }
}

/// Statements of the catalogue, definitions and segments.
pub(super) struct Statements {
    put_tag: PreparedStatement,
    list_tags: PreparedStatement,
    delete_tag: PreparedStatement,
    put_attribute: PreparedStatement,
    list_attributes: PreparedStatement,
    delete_attribute: PreparedStatement,
    put_segment: PreparedStatement,
    list_segments: PreparedStatement,
    delete_segment: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        Ok(Self {
            put_tag: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.tags_by_tenant (tenant, fold, name, colour) VALUES (?, ?, ?, ?)"
                    ),
                    true,
                )
                .await?,
            list_tags: p
                .prepare(
                    format!("SELECT name, colour FROM {ks}.tags_by_tenant WHERE tenant = ? LIMIT ?"),
                    true,
                )
                .await?,
            delete_tag: p
                .prepare(
                    format!("DELETE FROM {ks}.tags_by_tenant WHERE tenant = ? AND fold = ?"),
                    true,
                )
                .await?,
            put_attribute: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.attributes_by_tenant (tenant, key, definition) VALUES (?, ?, ?)"
                    ),
                    true,
                )
                .await?,
            list_attributes: p
                .prepare(
                    format!(
                        "SELECT definition FROM {ks}.attributes_by_tenant WHERE tenant = ? LIMIT ?"
                    ),
                    true,
                )
                .await?,
            delete_attribute: p
                .prepare(
                    format!("DELETE FROM {ks}.attributes_by_tenant WHERE tenant = ? AND key = ?"),
                    true,
                )
                .await?,
            put_segment: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.segments_by_tenant ({}) VALUES ({})",
                        SegmentRow::COLUMNS,
                        super::markers(SegmentRow::COLUMNS)
                    ),
                    true,
                )
                .await?,
            list_segments: p
                .prepare(
                    format!(
                        "SELECT {} FROM {ks}.segments_by_tenant WHERE tenant = ? LIMIT ?",
                        SegmentRow::COLUMNS
                    ),
                    true,
                )
                .await?,
            delete_segment: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.segments_by_tenant WHERE tenant = ? AND segment_id = ?"
                    ),
                    true,
                )
                .await?,
        })
    }
}

#[async_trait]
impl CatalogueStore for ScyllaStore {
    async fn put_tag(&self, tag: &TagRecord, audit: Option<&AuditRecord>) -> StoreResult<()> {
        let values = (
            tag.tenant.as_str(),
            tag.name.trim().to_lowercase(),
            tag.name.as_str(),
            tag.colour.as_str(),
        );
        match audit {
            Some(a) => self.with_audit(&self.catalogue.put_tag, values, a).await,
            None => self.exec(&self.catalogue.put_tag, values).await,
        }
    }

    async fn list_tags(&self, tenant: &TenantId) -> StoreResult<Vec<TagRecord>> {
        Ok(self
            .rows::<(String, String)>(
                &self.catalogue.list_tags,
                (tenant.as_str(), MAX_CATALOGUE_TAGS as i32),
            )
            .await?
            .into_iter()
            .map(|(name, colour)| TagRecord {
                tenant: tenant.clone(),
                name,
                colour,
            })
            .collect())
    }

    async fn delete_tag(
        &self,
        tenant: &TenantId,
        name: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let fold = name.trim().to_lowercase();
        let exists = self
            .list_tags(tenant)
            .await?
            .iter()
            .any(|t| t.name.to_lowercase() == fold);
        if exists {
            self.with_audit(&self.catalogue.delete_tag, (tenant.as_str(), fold), audit)
                .await?;
        }
        Ok(exists)
    }

    async fn put_attribute(
        &self,
        tenant: &TenantId,
        def: &AttributeDef,
        audit: &AuditRecord,
    ) -> StoreResult<()> {
        let text = serde_json::to_string(def).map_err(|e| StoreError::Invalid(e.to_string()))?;
        self.with_audit(
            &self.catalogue.put_attribute,
            (tenant.as_str(), def.key.as_str(), text),
            audit,
        )
        .await
    }

    async fn list_attributes(&self, tenant: &TenantId) -> StoreResult<Vec<AttributeDef>> {
        self.rows::<(String,)>(
            &self.catalogue.list_attributes,
            (tenant.as_str(), MAX_ATTRIBUTES as i32),
        )
        .await?
        .into_iter()
        .map(|(d,)| {
            serde_json::from_str(&d)
                .map_err(|e| StoreError::Corrupt(format!("attribute definition: {e}")))
        })
        .collect()
    }

    async fn delete_attribute(
        &self,
        tenant: &TenantId,
        key: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let exists = self
            .list_attributes(tenant)
            .await?
            .iter()
            .any(|d| d.key == key);
        if exists {
            self.with_audit(
                &self.catalogue.delete_attribute,
                (tenant.as_str(), key),
                audit,
            )
            .await?;
        }
        Ok(exists)
    }

    async fn put_segment(&self, s: &SegmentRecord, audit: &AuditRecord) -> StoreResult<()> {
        let row = SegmentRow {
            tenant: s.tenant.as_str().to_owned(),
            segment_id: s.id.as_str().to_owned(),
            name: s.name.clone(),
            filter: serde_json::to_string(&s.filter)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
            created_at: s.created_at,
            updated_at: s.updated_at,
        };
        self.with_audit(&self.catalogue.put_segment, row, audit)
            .await
    }

    async fn get_segment(
        &self,
        tenant: &TenantId,
        id: &SegmentId,
    ) -> StoreResult<Option<SegmentRecord>> {
        Ok(self
            .list_segments(tenant)
            .await?
            .into_iter()
            .find(|s| &s.id == id))
    }

    async fn list_segments(&self, tenant: &TenantId) -> StoreResult<Vec<SegmentRecord>> {
        self.rows::<SegmentRow>(
            &self.catalogue.list_segments,
            (tenant.as_str(), MAX_SEGMENTS as i32),
        )
        .await?
        .into_iter()
        .map(|r| {
            Ok(SegmentRecord {
                tenant: tenant.clone(),
                id: SegmentId::new(r.segment_id),
                name: r.name,
                filter: serde_json::from_str(&r.filter)
                    .map_err(|e| StoreError::Corrupt(format!("segment filter: {e}")))?,
                created_at: r.created_at,
                updated_at: r.updated_at,
            })
        })
        .collect()
    }

    async fn delete_segment(
        &self,
        tenant: &TenantId,
        id: &SegmentId,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let exists = self.get_segment(tenant, id).await?.is_some();
        if exists {
            self.with_audit(
                &self.catalogue.delete_segment,
                (tenant.as_str(), id.as_str()),
                audit,
            )
            .await?;
        }
        Ok(exists)
    }
}
