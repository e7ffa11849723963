//! The word filter's term lists as one tenant sees them (automation documents of kind
//! `term_list`): every read bound to the tenant, every list written stamped with it.

use switchboard_shared::TermListId;

use super::TenantScope;
use crate::domain::*;
use crate::store::{StoreError, StoreResult};

fn decoded(item: AutomationItem) -> StoreResult<TermListRecord> {
    TermListRecord::from_item(item).map_err(|e| StoreError::Corrupt(format!("term list: {e}")))
}

impl TenantScope {
    pub async fn term_lists(&self) -> StoreResult<Vec<TermListRecord>> {
        self.automation_items(ItemKind::TermList)
            .await?
            .into_iter()
            .map(decoded)
            .collect()
    }

    pub async fn term_list(&self, id: &TermListId) -> StoreResult<Option<TermListRecord>> {
        self.automation_item(ItemKind::TermList, id.as_str())
            .await?
            .map(decoded)
            .transpose()
    }

    pub async fn put_term_list(
        &self,
        list: TermListRecord,
        audit: AuditRecord,
    ) -> StoreResult<TermListRecord> {
        let item = list
            .to_item()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        decoded(self.put_automation_item(item, audit).await?)
    }

    pub async fn delete_term_list(&self, id: &TermListId, audit: AuditRecord) -> StoreResult<bool> {
        self.delete_automation_item(ItemKind::TermList, id.as_str(), audit)
            .await
    }
}
