//! Tenants and their numbers (`numbers_by_tenant` beside `numbers_by_id`, so a tenant's numbers
//! are one partition).

use async_trait::async_trait;
use scylla::response::{PagingState, PagingStateResponse};
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::{PhoneNumberId, TenantId};

use super::{first_row, rows_of, unavailable, Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::{DirectoryStore, IdKeys, StoreResult};

/// Statements of tenants and numbers.
pub(super) struct Statements {
    upsert_tenant: PreparedStatement,
    list_tenants: PreparedStatement,
    upsert_number: PreparedStatement,
    upsert_number_by_tenant: PreparedStatement,
    number_owner: PreparedStatement,
    delete_number_by_tenant: PreparedStatement,
    list_numbers: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        Ok(Self {
            upsert_tenant: p.prepare(format!(
                "INSERT INTO {ks}.tenants_by_id (tenant, name, created_at) VALUES (?, ?, ?)"
            ), true).await?,
            list_tenants: p.prepare(format!("SELECT tenant, name, created_at FROM {ks}.tenants_by_id"), false).await?,
            upsert_number: p.prepare(format!(
                "INSERT INTO {ks}.numbers_by_id (phone_number_id, tenant, display_phone_number, waba_id)
                 VALUES (?, ?, ?, ?)"
            ), true).await?,
            upsert_number_by_tenant: p.prepare(format!(
                "INSERT INTO {ks}.numbers_by_tenant (tenant, phone_number_id, display_phone_number, waba_id)
                 VALUES (?, ?, ?, ?)"
            ), true).await?,
            number_owner: p.prepare(format!(
                "SELECT tenant FROM {ks}.numbers_by_id WHERE phone_number_id = ?"
            ), false).await?,
            delete_number_by_tenant: p.prepare(format!(
                "DELETE FROM {ks}.numbers_by_tenant WHERE tenant = ? AND phone_number_id = ?"
            ), true).await?,
            list_numbers: p.prepare(format!(
                "SELECT phone_number_id, display_phone_number, waba_id FROM {ks}.numbers_by_tenant
                 WHERE tenant = ?"
            ), false).await?,
        })
    }
}

#[async_trait]
impl DirectoryStore for ScyllaStore {
    fn id_keys(&self) -> &IdKeys {
        &self.keys
    }

    async fn upsert_tenant(&self, tenant: &TenantRecord) -> StoreResult<()> {
        self.session
            .execute_unpaged(
                &self.directory.upsert_tenant,
                (tenant.id.as_str(), tenant.name.as_str(), tenant.created_at),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        // Tenants are few (one per workspace); paging through them all is bounded.
        let mut out = Vec::new();
        let mut state = PagingState::start();
        loop {
            let (result, next) = self
                .session
                .execute_single_page(&self.directory.list_tenants, &[], state)
                .await
                .map_err(unavailable)?;
            for (id, name, created_at) in rows_of::<(String, Option<String>, Option<i64>)>(result)?
            {
                out.push(TenantRecord {
                    id: TenantId::new(id),
                    name: name.unwrap_or_default(),
                    created_at: created_at.unwrap_or_default(),
                });
            }
            match next {
                PagingStateResponse::HasMorePages { state: s } => state = s,
                PagingStateResponse::NoMorePages => break,
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn upsert_number(&self, n: &NumberRecord) -> StoreResult<()> {
        // A number that moved to another tenant leaves the old tenant's list (it once stayed
        // listed there, and could still be put on that tenant's teams).
        let previous = self
            .session
            .execute_unpaged(&self.directory.number_owner, (n.phone_number_id.as_str(),))
            .await
            .map_err(unavailable)?;
        if let Some((Some(old),)) = first_row::<(Option<String>,)>(previous)? {
            if old != n.tenant.as_str() {
                self.session
                    .execute_unpaged(
                        &self.directory.delete_number_by_tenant,
                        (old.as_str(), n.phone_number_id.as_str()),
                    )
                    .await
                    .map_err(unavailable)?;
            }
        }
        let values = (
            n.phone_number_id.as_str(),
            n.tenant.as_str(),
            n.display_phone_number.as_str(),
            n.waba_id.as_deref(),
        );
        self.session
            .execute_unpaged(&self.directory.upsert_number, values)
            .await
            .map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.directory.upsert_number_by_tenant,
                (
                    n.tenant.as_str(),
                    n.phone_number_id.as_str(),
                    n.display_phone_number.as_str(),
                    n.waba_id.as_deref(),
                ),
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn list_numbers(&self, tenant: &TenantId) -> StoreResult<Vec<NumberRecord>> {
        let result = self
            .session
            .execute_unpaged(&self.directory.list_numbers, (tenant.as_str(),))
            .await
            .map_err(unavailable)?;
        Ok(rows_of::<(String, Option<String>, Option<String>)>(result)?
            .into_iter()
            .map(|(id, display, waba)| NumberRecord {
                tenant: tenant.clone(),
                phone_number_id: PhoneNumberId::new(id),
                display_phone_number: display.unwrap_or_default(),
                waba_id: waba,
            })
            .collect())
    }
}
