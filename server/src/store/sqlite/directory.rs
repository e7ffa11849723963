//! Tenants and their numbers.

use async_trait::async_trait;
use rusqlite::{params, Connection};
use switchboard_shared::{PhoneNumberId, TenantId};

use super::{unavailable, SqliteStore};
use crate::domain::*;
use crate::store::{DirectoryStore, IdKeys, StoreResult};

pub(super) fn put_tenant(conn: &Connection, t: &TenantRecord) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO tenants_by_id (tenant, name, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant) DO UPDATE SET name = excluded.name",
    )
    .and_then(|mut s| s.execute(params![t.id.as_str(), t.name, t.created_at]))
    .map_err(unavailable)?;
    Ok(())
}

pub(super) fn put_number(conn: &Connection, n: &NumberRecord) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO numbers_by_id (phone_number_id, tenant, display_phone_number, waba_id)
         VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (phone_number_id) DO UPDATE SET tenant = excluded.tenant,
           display_phone_number = excluded.display_phone_number, waba_id = excluded.waba_id",
    )
    .and_then(|mut s| {
        s.execute(params![
            n.phone_number_id.as_str(),
            n.tenant.as_str(),
            n.display_phone_number,
            n.waba_id
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl DirectoryStore for SqliteStore {
    fn id_keys(&self) -> &IdKeys {
        &self.keys
    }

    async fn upsert_tenant(&self, tenant: &TenantRecord) -> StoreResult<()> {
        let t = tenant.clone();
        self.write(move |conn, _| put_tenant(conn, &t)).await
    }

    async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT tenant, name, created_at FROM tenants_by_id ORDER BY tenant",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(TenantRecord {
                        id: TenantId::new(r.get::<_, String>(0)?),
                        name: r.get(1)?,
                        created_at: r.get(2)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
        .await
    }

    async fn upsert_number(&self, number: &NumberRecord) -> StoreResult<()> {
        let n = number.clone();
        self.write(move |conn, _| put_number(conn, &n)).await
    }

    async fn list_numbers(&self, tenant: &TenantId) -> StoreResult<Vec<NumberRecord>> {
        let tenant = tenant.clone();
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT phone_number_id, display_phone_number, waba_id FROM numbers_by_id
                     WHERE tenant = ?1 ORDER BY phone_number_id",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map([tenant.as_str()], |r| {
                    Ok(NumberRecord {
                        tenant: tenant.clone(),
                        phone_number_id: PhoneNumberId::new(r.get::<_, String>(0)?),
                        display_phone_number: r.get(1)?,
                        waba_id: r.get(2)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
        .await
    }
}
