//! The outgoing word filter's term lists on ScyllaDB: one partition per tenant, a list per row
//! as one JSON document. A write is a lightweight transaction on the version its writer read
//! (`IF NOT EXISTS` for a new list), so concurrent editors get a conflict, never a lost change;
//! the audit line follows once the write applied (a conditional write cannot share a batch
//! with another partition's rows).

use async_trait::async_trait;
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::compliance::MAX_LISTS_PER_TENANT;
use switchboard_shared::{TenantId, TermListId};

use super::{first_row, lwt_applied, unavailable, Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::{ComplianceStore, StoreError, StoreResult};

row! {
    /// A term list (`term_lists`); the list itself as JSON.
    struct TermListRow {
        tenant: String,
        list_id: String,
        version: i64,
        updated_at: i64,
        updated_by: String,
        body: String,
    }
}

impl TermListRow {
    fn of(list: &TermListRecord) -> StoreResult<Self> {
        Ok(Self {
            tenant: list.tenant.as_str().to_owned(),
            list_id: list.id.as_str().to_owned(),
            version: list.version as i64,
            updated_at: list.updated_at,
            updated_by: list.updated_by.clone(),
            body: serde_json::to_string(&list.body)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
        })
    }

    fn into_record(self) -> StoreResult<TermListRecord> {
        Ok(TermListRecord {
            tenant: TenantId::new(self.tenant),
            id: TermListId::new(self.list_id),
            version: self.version as u64,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
            body: serde_json::from_str(&self.body)
                .map_err(|e| StoreError::Corrupt(format!("term list: {e}")))?,
        })
    }
}

/// Statements of the term lists.
pub(super) struct Statements {
    create: PreparedStatement,
    update: PreparedStatement,
    list: PreparedStatement,
    get: PreparedStatement,
    delete: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        let columns = TermListRow::COLUMNS;
        Ok(Self {
            create: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.term_lists ({columns}) VALUES ({}) IF NOT EXISTS",
                        super::markers(columns)
                    ),
                    false,
                )
                .await?,
            update: p
                .prepare(
                    format!(
                        "UPDATE {ks}.term_lists SET version = ?, updated_at = ?, updated_by = ?, \
                         body = ? WHERE tenant = ? AND list_id = ? IF version = ?"
                    ),
                    false,
                )
                .await?,
            list: p
                .prepare(
                    format!("SELECT {columns} FROM {ks}.term_lists WHERE tenant = ? LIMIT ?"),
                    true,
                )
                .await?,
            get: p
                .prepare(
                    format!(
                        "SELECT {columns} FROM {ks}.term_lists WHERE tenant = ? AND list_id = ?"
                    ),
                    true,
                )
                .await?,
            delete: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.term_lists WHERE tenant = ? AND list_id = ? IF EXISTS"
                    ),
                    false,
                )
                .await?,
        })
    }
}

#[async_trait]
impl ComplianceStore for ScyllaStore {
    async fn list_term_lists(&self, tenant: &TenantId) -> StoreResult<Vec<TermListRecord>> {
        self.rows::<TermListRow>(
            &self.compliance.list,
            (tenant.as_str(), MAX_LISTS_PER_TENANT as i32),
        )
        .await?
        .into_iter()
        .map(TermListRow::into_record)
        .collect()
    }

    async fn get_term_list(
        &self,
        tenant: &TenantId,
        id: &TermListId,
    ) -> StoreResult<Option<TermListRecord>> {
        let result = self
            .session
            .execute_unpaged(&self.compliance.get, (tenant.as_str(), id.as_str()))
            .await
            .map_err(unavailable)?;
        first_row::<TermListRow>(result)?
            .map(TermListRow::into_record)
            .transpose()
    }

    async fn put_term_list(&self, list: &TermListRecord, audit: &AuditRecord) -> StoreResult<()> {
        let row = TermListRow::of(list)?;
        let result = if list.version <= 1 {
            self.session
                .execute_unpaged(&self.compliance.create, row)
                .await
        } else {
            self.session
                .execute_unpaged(
                    &self.compliance.update,
                    (
                        row.version,
                        row.updated_at,
                        row.updated_by.as_str(),
                        row.body.as_str(),
                        row.tenant.as_str(),
                        row.list_id.as_str(),
                        row.version - 1,
                    ),
                )
                .await
        }
        .map_err(unavailable)?;
        if !lwt_applied(result)? {
            return Err(StoreError::Conflict(format!(
                "the list changed since version {} was read",
                list.version - 1
            )));
        }
        self.write_audit(audit).await
    }

    async fn delete_term_list(
        &self,
        tenant: &TenantId,
        id: &TermListId,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let result = self
            .session
            .execute_unpaged(&self.compliance.delete, (tenant.as_str(), id.as_str()))
            .await
            .map_err(unavailable)?;
        let deleted = lwt_applied(result)?;
        if deleted {
            self.write_audit(audit).await?;
        }
        Ok(deleted)
    }
}
