//! Automation's documents on ScyllaDB: one partition per (tenant, kind), a document per row. A
//! write is a lightweight transaction on the version its writer read (`IF NOT EXISTS` for a new
//! one); the audit line follows once it applied (a conditional write cannot share a batch with
//! another partition's rows).

use async_trait::async_trait;
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::TenantId;

use super::{first_row, lwt_applied, unavailable, Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::{AutomationStore, StoreError, StoreResult};

row! {
    /// An automation document (`automation_items`).
    struct ItemRow {
        tenant: String,
        kind: String,
        item_id: String,
        version: i64,
        updated_at: i64,
        updated_by: String,
        body: String,
    }
}

impl ItemRow {
    fn of(item: &AutomationItem) -> Self {
        Self {
            tenant: item.tenant.as_str().to_owned(),
            kind: item.kind.as_str().to_owned(),
            item_id: item.id.clone(),
            version: item.version as i64,
            updated_at: item.updated_at,
            updated_by: item.updated_by.clone(),
            body: item.body.clone(),
        }
    }

    fn into_item(self, kind: ItemKind) -> AutomationItem {
        AutomationItem {
            tenant: TenantId::new(self.tenant),
            kind,
            id: self.item_id,
            version: self.version as u64,
            updated_at: self.updated_at,
            updated_by: self.updated_by,
            body: self.body,
        }
    }
}

/// Statements of automation's documents.
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
        let columns = ItemRow::COLUMNS;
        Ok(Self {
            create: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.automation_items ({columns}) VALUES ({}) IF NOT EXISTS",
                        super::markers(columns)
                    ),
                    false,
                )
                .await?,
            update: p
                .prepare(
                    format!(
                        "UPDATE {ks}.automation_items SET version = ?, updated_at = ?, \
                         updated_by = ?, body = ? WHERE tenant = ? AND kind = ? AND item_id = ? \
                         IF version = ?"
                    ),
                    false,
                )
                .await?,
            list: p
                .prepare(
                    format!(
                        "SELECT {columns} FROM {ks}.automation_items \
                         WHERE tenant = ? AND kind = ? LIMIT ?"
                    ),
                    true,
                )
                .await?,
            get: p
                .prepare(
                    format!(
                        "SELECT {columns} FROM {ks}.automation_items \
                         WHERE tenant = ? AND kind = ? AND item_id = ?"
                    ),
                    true,
                )
                .await?,
            delete: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.automation_items \
                         WHERE tenant = ? AND kind = ? AND item_id = ? IF EXISTS"
                    ),
                    false,
                )
                .await?,
        })
    }
}

#[async_trait]
impl AutomationStore for ScyllaStore {
    async fn list_items(
        &self,
        tenant: &TenantId,
        kind: ItemKind,
    ) -> StoreResult<Vec<AutomationItem>> {
        Ok(self
            .rows::<ItemRow>(
                &self.automation.list,
                (tenant.as_str(), kind.as_str(), MAX_ITEMS_PER_KIND as i32),
            )
            .await?
            .into_iter()
            .map(|r| r.into_item(kind))
            .collect())
    }

    async fn get_item(
        &self,
        tenant: &TenantId,
        kind: ItemKind,
        id: &str,
    ) -> StoreResult<Option<AutomationItem>> {
        let result = self
            .session
            .execute_unpaged(&self.automation.get, (tenant.as_str(), kind.as_str(), id))
            .await
            .map_err(unavailable)?;
        Ok(first_row::<ItemRow>(result)?.map(|r| r.into_item(kind)))
    }

    async fn put_item(
        &self,
        item: &AutomationItem,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<()> {
        let row = ItemRow::of(item);
        let result = if item.version <= 1 {
            self.session
                .execute_unpaged(&self.automation.create, row)
                .await
        } else {
            self.session
                .execute_unpaged(
                    &self.automation.update,
                    (
                        row.version,
                        row.updated_at,
                        row.updated_by.as_str(),
                        row.body.as_str(),
                        row.tenant.as_str(),
                        row.kind.as_str(),
                        row.item_id.as_str(),
                        row.version - 1,
                    ),
                )
                .await
        }
        .map_err(unavailable)?;
        if !lwt_applied(result)? {
            return Err(StoreError::Conflict(format!(
                "it changed since version {} was read",
                item.version - 1
            )));
        }
        match audit {
            Some(a) => self.write_audit(a).await,
            None => Ok(()),
        }
    }

    async fn delete_item(
        &self,
        tenant: &TenantId,
        kind: ItemKind,
        id: &str,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<bool> {
        let result = self
            .session
            .execute_unpaged(
                &self.automation.delete,
                (tenant.as_str(), kind.as_str(), id),
            )
            .await
            .map_err(unavailable)?;
        let deleted = lwt_applied(result)?;
        if let (true, Some(a)) = (deleted, audit) {
            self.write_audit(a).await?;
        }
        Ok(deleted)
    }
}
