//! Tenants and their numbers (`numbers_by_tenant` beside `numbers_by_id`, so a tenant's numbers
//! are one partition), and the numbers connected from the app (`number_connections`, one
//! partition per number, changed only by lightweight transactions on its tenant).

use async_trait::async_trait;
use scylla::response::{PagingState, PagingStateResponse};
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::{PhoneNumberId, TenantId};

use super::{first_row, lwt_applied, rows_of, unavailable, Preparer, ScyllaStore};
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
    connect: PreparedStatement,
    update_connection: PreparedStatement,
    disconnect: PreparedStatement,
    connection_tenant: PreparedStatement,
    connections: PreparedStatement,
}

const CONNECTION_COLUMNS: &str = "phone_number_id, tenant, display_phone_number, waba_id, \
    graph_api_url, mps, enabled, access_token, app_secret, verify_token, problem, updated_at";

/// A `number_connections` row, in `CONNECTION_COLUMNS` order.
type ConnectionRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<bool>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<String>,
    Option<i64>,
);

fn connection_from_row(r: ConnectionRow) -> NumberConnection {
    NumberConnection {
        phone_number_id: PhoneNumberId::new(r.0),
        tenant: TenantId::new(r.1),
        display_phone_number: r.2.unwrap_or_default(),
        waba_id: r.3,
        graph_api_url: r.4.unwrap_or_default(),
        mps: r.5.unwrap_or(80).max(1) as u32,
        enabled: r.6.unwrap_or(true),
        access_token: r.7.unwrap_or_default(),
        app_secret: r.8.unwrap_or_default(),
        verify_token: r.9.unwrap_or_default(),
        problem: r.10,
        updated_at: r.11.unwrap_or_default(),
    }
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
            connect: p.prepare(format!(
                "INSERT INTO {ks}.number_connections ({CONNECTION_COLUMNS})
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
            ), false).await?,
            update_connection: p.prepare(format!(
                "UPDATE {ks}.number_connections SET display_phone_number = ?, waba_id = ?,
                   graph_api_url = ?, mps = ?, enabled = ?, access_token = ?, app_secret = ?,
                   verify_token = ?, problem = ?, updated_at = ?
                 WHERE phone_number_id = ? IF tenant = ?"
            ), false).await?,
            disconnect: p.prepare(format!(
                "DELETE FROM {ks}.number_connections WHERE phone_number_id = ? IF tenant = ?"
            ), false).await?,
            connection_tenant: p.prepare(format!(
                "SELECT tenant FROM {ks}.number_connections WHERE phone_number_id = ?"
            ), false).await?,
            connections: p.prepare(format!(
                "SELECT {CONNECTION_COLUMNS} FROM {ks}.number_connections"
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

    async fn connect_number(
        &self,
        c: &NumberConnection,
        audit: &AuditRecord,
    ) -> StoreResult<Connect> {
        let owner = self
            .session
            .execute_unpaged(&self.directory.number_owner, (c.phone_number_id.as_str(),))
            .await
            .map_err(unavailable)?;
        if let Some((Some(owner),)) = first_row::<(Option<String>,)>(owner)? {
            if owner != c.tenant.as_str() {
                return Ok(Connect::Taken);
            }
        }
        let values = (
            c.phone_number_id.as_str(),
            c.tenant.as_str(),
            c.display_phone_number.as_str(),
            c.waba_id.as_deref(),
            c.graph_api_url.as_str(),
            c.mps as i32,
            c.enabled,
            c.access_token.as_slice(),
            c.app_secret.as_slice(),
            c.verify_token.as_slice(),
            c.problem.as_deref(),
            c.updated_at,
        );
        let inserted = self
            .session
            .execute_unpaged(&self.directory.connect, values)
            .await
            .map_err(unavailable)?;
        if !lwt_applied(inserted)? {
            let holder = self
                .session
                .execute_unpaged(
                    &self.directory.connection_tenant,
                    (c.phone_number_id.as_str(),),
                )
                .await
                .map_err(unavailable)?;
            return Ok(match first_row::<(Option<String>,)>(holder)? {
                Some((Some(t),)) if t == c.tenant.as_str() => Connect::Exists,
                _ => Connect::Taken,
            });
        }
        self.upsert_number(&c.record()).await?;
        self.write_audit(audit).await?;
        Ok(Connect::Connected)
    }

    async fn update_connection(
        &self,
        c: &NumberConnection,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<bool> {
        let values = (
            c.display_phone_number.as_str(),
            c.waba_id.as_deref(),
            c.graph_api_url.as_str(),
            c.mps as i32,
            c.enabled,
            c.access_token.as_slice(),
            c.app_secret.as_slice(),
            c.verify_token.as_slice(),
            c.problem.as_deref(),
            c.updated_at,
            c.phone_number_id.as_str(),
            c.tenant.as_str(),
        );
        let result = self
            .session
            .execute_unpaged(&self.directory.update_connection, values)
            .await
            .map_err(unavailable)?;
        if !lwt_applied(result)? {
            return Ok(false);
        }
        self.upsert_number(&c.record()).await?;
        if let Some(audit) = audit {
            self.write_audit(audit).await?;
        }
        Ok(true)
    }

    async fn disconnect_number(
        &self,
        tenant: &TenantId,
        number: &PhoneNumberId,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        self.applied_with_audit(
            &self.directory.disconnect,
            (number.as_str(), tenant.as_str()),
            audit,
        )
        .await
    }

    async fn number_connections(&self) -> StoreResult<Vec<NumberConnection>> {
        // Connections are few (a workspace's numbers); every server reads them all at start.
        let mut out = Vec::new();
        let mut state = PagingState::start();
        loop {
            let (result, next) = self
                .session
                .execute_single_page(&self.directory.connections, &[], state)
                .await
                .map_err(unavailable)?;
            out.extend(
                rows_of::<ConnectionRow>(result)?
                    .into_iter()
                    .map(connection_from_row),
            );
            match next {
                PagingStateResponse::HasMorePages { state: s } => state = s,
                PagingStateResponse::NoMorePages => break,
            }
        }
        out.sort_by(|a, b| a.phone_number_id.cmp(&b.phone_number_id));
        Ok(out)
    }
}
