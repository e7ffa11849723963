//! The word filter's term lists as one tenant sees them: every read bound to the tenant, every
//! list written stamped with it.

use switchboard_shared::TermListId;

use super::TenantScope;
use crate::domain::*;
use crate::store::StoreResult;

impl TenantScope {
    pub async fn term_lists(&self) -> StoreResult<Vec<TermListRecord>> {
        Ok(self
            .store
            .list_term_lists(&self.tenant)
            .await?
            .into_iter()
            .filter(|l| l.tenant == self.tenant)
            .collect())
    }

    pub async fn term_list(&self, id: &TermListId) -> StoreResult<Option<TermListRecord>> {
        Ok(
            self.mine(self.store.get_term_list(&self.tenant, id).await?, |l| {
                &l.tenant
            }),
        )
    }

    pub async fn put_term_list(
        &self,
        mut list: TermListRecord,
        audit: AuditRecord,
    ) -> StoreResult<TermListRecord> {
        list.tenant = self.tenant.clone();
        self.store.put_term_list(&list, &self.bind(audit)).await?;
        Ok(list)
    }

    pub async fn delete_term_list(&self, id: &TermListId, audit: AuditRecord) -> StoreResult<bool> {
        self.store
            .delete_term_list(&self.tenant, id, &self.bind(audit))
            .await
    }
}
