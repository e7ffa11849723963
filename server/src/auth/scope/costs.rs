//! The cost ledger as one tenant sees it.

use super::TenantScope;
use crate::domain::*;
use crate::store::{Cursor, Page, StoreResult};

impl TenantScope {
    /// A page of one month's ledger lines (`2026-11`).
    pub async fn charges(
        &self,
        month: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<ChargeRecord>> {
        let mut page = self
            .store
            .charges(&self.tenant, month, cursor, limit)
            .await?;
        page.items.retain(|c| c.tenant == self.tenant);
        Ok(page)
    }
}
