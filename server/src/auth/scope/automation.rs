//! Automation's documents as one tenant sees them: every read bound to the tenant, every
//! document written stamped with it.

use super::TenantScope;
use crate::domain::*;
use crate::store::StoreResult;

impl TenantScope {
    pub async fn automation_items(&self, kind: ItemKind) -> StoreResult<Vec<AutomationItem>> {
        Ok(self
            .store
            .list_items(&self.tenant, kind)
            .await?
            .into_iter()
            .filter(|i| i.tenant == self.tenant)
            .collect())
    }

    pub async fn automation_item(
        &self,
        kind: ItemKind,
        id: &str,
    ) -> StoreResult<Option<AutomationItem>> {
        Ok(
            self.mine(self.store.get_item(&self.tenant, kind, id).await?, |i| {
                &i.tenant
            }),
        )
    }

    pub async fn put_automation_item(
        &self,
        mut item: AutomationItem,
        audit: AuditRecord,
    ) -> StoreResult<AutomationItem> {
        item.tenant = self.tenant.clone();
        self.store.put_item(&item, Some(&self.bind(audit))).await?;
        Ok(item)
    }

    pub async fn delete_automation_item(
        &self,
        kind: ItemKind,
        id: &str,
        audit: AuditRecord,
    ) -> StoreResult<bool> {
        self.store
            .delete_item(&self.tenant, kind, id, Some(&self.bind(audit)))
            .await
    }

    /// Writes a document that is a person's or the system's state rather than the workspace's
    /// configuration (a person's push devices): no audit line.
    pub async fn put_automation_state(&self, mut item: AutomationItem) -> StoreResult<()> {
        item.tenant = self.tenant.clone();
        self.store.put_item(&item, None).await
    }

    pub async fn delete_automation_state(&self, kind: ItemKind, id: &str) -> StoreResult<bool> {
        self.store.delete_item(&self.tenant, kind, id, None).await
    }
}
