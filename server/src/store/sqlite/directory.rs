//! Tenants and their numbers.

use async_trait::async_trait;
use rusqlite::{params, Connection};
use switchboard_shared::{PhoneNumberId, TenantId};

use super::identity::insert_audit;
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

/// The connection's row, written whole (insert or replace).
fn put_connection(conn: &Connection, c: &NumberConnection) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO number_connections (phone_number_id, tenant, display_phone_number,
           waba_id, graph_api_url, mps, enabled, access_token, app_secret, verify_token, problem,
           updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .and_then(|mut s| {
        s.execute(params![
            c.phone_number_id.as_str(),
            c.tenant.as_str(),
            c.display_phone_number,
            c.waba_id,
            c.graph_api_url,
            c.mps,
            c.enabled,
            c.access_token,
            c.app_secret,
            c.verify_token,
            c.problem,
            c.updated_at
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

/// Which tenant holds a phone number id: (listed as its owner, connected by).
fn holders(conn: &Connection, number: &str) -> StoreResult<(Option<String>, Option<String>)> {
    let one = |sql: &str| -> StoreResult<Option<String>> {
        let mut stmt = conn.prepare_cached(sql).map_err(unavailable)?;
        let mut rows = stmt.query([number]).map_err(unavailable)?;
        match rows.next().map_err(unavailable)? {
            Some(row) => Ok(Some(row.get(0).map_err(unavailable)?)),
            None => Ok(None),
        }
    };
    Ok((
        one("SELECT tenant FROM numbers_by_id WHERE phone_number_id = ?1")?,
        one("SELECT tenant FROM number_connections WHERE phone_number_id = ?1")?,
    ))
}

fn connect(conn: &Connection, c: &NumberConnection, audit: &AuditRecord) -> StoreResult<Connect> {
    let (listed, connected) = holders(conn, c.phone_number_id.as_str())?;
    let tenant = c.tenant.as_str();
    if listed.as_deref().is_some_and(|t| t != tenant)
        || connected.as_deref().is_some_and(|t| t != tenant)
    {
        return Ok(Connect::Taken);
    }
    if connected.is_some() {
        return Ok(Connect::Exists);
    }
    put_connection(conn, c)?;
    put_number(conn, &c.record())?;
    insert_audit(conn, audit)?;
    Ok(Connect::Connected)
}

fn update(
    conn: &Connection,
    c: &NumberConnection,
    audit: Option<&AuditRecord>,
) -> StoreResult<bool> {
    let (_, connected) = holders(conn, c.phone_number_id.as_str())?;
    if connected.as_deref() != Some(c.tenant.as_str()) {
        return Ok(false);
    }
    put_connection(conn, c)?;
    put_number(conn, &c.record())?;
    if let Some(audit) = audit {
        insert_audit(conn, audit)?;
    }
    Ok(true)
}

fn disconnect(
    conn: &Connection,
    tenant: &TenantId,
    number: &PhoneNumberId,
    audit: &AuditRecord,
) -> StoreResult<bool> {
    let removed = conn
        .prepare_cached("DELETE FROM number_connections WHERE phone_number_id = ?1 AND tenant = ?2")
        .and_then(|mut s| s.execute(params![number.as_str(), tenant.as_str()]))
        .map_err(unavailable)?;
    if removed > 0 {
        insert_audit(conn, audit)?;
    }
    Ok(removed > 0)
}

fn connection_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<NumberConnection> {
    Ok(NumberConnection {
        phone_number_id: PhoneNumberId::new(r.get::<_, String>(0)?),
        tenant: TenantId::new(r.get::<_, String>(1)?),
        display_phone_number: r.get(2)?,
        waba_id: r.get(3)?,
        graph_api_url: r.get(4)?,
        mps: r.get(5)?,
        enabled: r.get(6)?,
        access_token: r.get(7)?,
        app_secret: r.get(8)?,
        verify_token: r.get(9)?,
        problem: r.get(10)?,
        updated_at: r.get(11)?,
    })
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

    async fn connect_number(
        &self,
        connection: &NumberConnection,
        audit: &AuditRecord,
    ) -> StoreResult<Connect> {
        let (c, audit) = (connection.clone(), audit.clone());
        self.write(move |conn, _| connect(conn, &c, &audit)).await
    }

    async fn update_connection(
        &self,
        connection: &NumberConnection,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<bool> {
        let (c, audit) = (connection.clone(), audit.cloned());
        self.write(move |conn, _| update(conn, &c, audit.as_ref()))
            .await
    }

    async fn disconnect_number(
        &self,
        tenant: &TenantId,
        number: &PhoneNumberId,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let (tenant, number, audit) = (tenant.clone(), number.clone(), audit.clone());
        self.write(move |conn, _| disconnect(conn, &tenant, &number, &audit))
            .await
    }

    async fn number_connections(&self) -> StoreResult<Vec<NumberConnection>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT phone_number_id, tenant, display_phone_number, waba_id, graph_api_url,
                       mps, enabled, access_token, app_secret, verify_token, problem, updated_at
                     FROM number_connections ORDER BY phone_number_id",
                )
                .map_err(unavailable)?;
            let rows = stmt.query_map([], connection_of).map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
        .await
    }
}
