//! Outbound webhooks: a row per endpoint, a row per delivery (its attempts as the JSON list the
//! API shows), read newest first per endpoint by one index and pending by another.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use switchboard_shared::webhooks::{DeliveryState, EventType};
use switchboard_shared::TenantId;

use super::identity::insert_audit;
use super::{unavailable, SqliteStore};
use crate::domain::*;
use crate::store::{
    check_limit, event_names, events_of, Cursor, Page, StoreError, StoreResult, WebhookStore,
};

const ENDPOINT_COLUMNS: &str = "tenant, endpoint_id, url, events, description, secret, \
    previous_secret, previous_until, enabled, disabled_reason, failing_since, created_at, updated_at";

const DELIVERY_COLUMNS: &str =
    "tenant, delivery_id, endpoint_id, event, body, created_at, state, next_at, attempts";

fn endpoint_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<(EndpointRecord, String)> {
    Ok((
        EndpointRecord {
            tenant: TenantId::new(r.get::<_, String>(0)?),
            id: r.get(1)?,
            url: r.get(2)?,
            events: Vec::new(),
            description: r.get(4)?,
            secret: r.get(5)?,
            previous_secret: r.get(6)?,
            previous_until: r.get(7)?,
            enabled: r.get(8)?,
            disabled_reason: r.get(9)?,
            failing_since: r.get(10)?,
            created_at: r.get(11)?,
            updated_at: r.get(12)?,
        },
        r.get(3)?,
    ))
}

fn endpoint((mut e, events): (EndpointRecord, String)) -> StoreResult<EndpointRecord> {
    e.events = events_of(&events)?;
    Ok(e)
}

/// A delivery row as read, before its typed fields are checked.
struct DeliveryRow {
    record: DeliveryRecord,
    event: String,
    state: String,
    attempts: String,
}

fn delivery_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeliveryRow> {
    Ok(DeliveryRow {
        record: DeliveryRecord {
            tenant: TenantId::new(r.get::<_, String>(0)?),
            id: r.get(1)?,
            endpoint: r.get(2)?,
            event: EventType::MessageReceived,
            body: r.get(4)?,
            created_at: r.get(5)?,
            state: DeliveryState::Pending,
            next_at: r.get(7)?,
            attempts: Vec::new(),
        },
        event: r.get(3)?,
        state: r.get(6)?,
        attempts: r.get(8)?,
    })
}

impl DeliveryRow {
    fn into_record(self) -> StoreResult<DeliveryRecord> {
        let mut d = self.record;
        d.event = EventType::parse(&self.event)
            .ok_or_else(|| StoreError::Corrupt(format!("event type `{}`", self.event)))?;
        d.state = DeliveryState::parse(&self.state)
            .ok_or_else(|| StoreError::Corrupt(format!("delivery state `{}`", self.state)))?;
        d.attempts = serde_json::from_str(&self.attempts)
            .map_err(|e| StoreError::Corrupt(format!("a delivery's attempts: {e}")))?;
        Ok(d)
    }
}

fn attempts_json(d: &DeliveryRecord) -> StoreResult<String> {
    serde_json::to_string(&d.attempts).map_err(|e| StoreError::Invalid(e.to_string()))
}

fn rows_into(rows: Vec<DeliveryRow>) -> StoreResult<Vec<DeliveryRecord>> {
    rows.into_iter().map(DeliveryRow::into_record).collect()
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn put_endpoint(
        &self,
        e: &EndpointRecord,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<()> {
        let (e, audit) = (e.clone(), audit.cloned());
        self.write(move |conn, _| {
            conn.execute(
                &format!(
                    "INSERT OR REPLACE INTO webhook_endpoints ({ENDPOINT_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                ),
                params![
                    e.tenant.as_str(),
                    e.id,
                    e.url,
                    event_names(&e.events),
                    e.description,
                    e.secret,
                    e.previous_secret,
                    e.previous_until,
                    e.enabled,
                    e.disabled_reason,
                    e.failing_since,
                    e.created_at,
                    e.updated_at
                ],
            )
            .map_err(unavailable)?;
            match &audit {
                Some(a) => insert_audit(conn, a),
                None => Ok(()),
            }
        })
        .await
    }

    async fn get_endpoint(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<EndpointRecord>> {
        let (t, id) = (tenant.clone(), id.to_owned());
        let row = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints
                     WHERE tenant = ?1 AND endpoint_id = ?2"
                ))
                .and_then(|mut s| s.query_row(params![t.as_str(), id], endpoint_of).optional())
                .map_err(unavailable)
            })
            .await?;
        row.map(endpoint).transpose()
    }

    async fn list_endpoints(&self, tenant: &TenantId) -> StoreResult<Vec<EndpointRecord>> {
        let t = tenant.clone();
        let rows = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant = ?1
                     ORDER BY endpoint_id LIMIT ?2"
                ))
                .and_then(|mut s| {
                    s.query_map(params![t.as_str(), MAX_ENDPOINTS as i64], endpoint_of)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        rows.into_iter().map(endpoint).collect()
    }

    async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        id: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        let (t, id, audit) = (tenant.clone(), id.to_owned(), audit.clone());
        self.write(move |conn, _| {
            let gone = conn
                .execute(
                    "DELETE FROM webhook_endpoints WHERE tenant = ?1 AND endpoint_id = ?2",
                    params![t.as_str(), id],
                )
                .map_err(unavailable)?
                > 0;
            if gone {
                insert_audit(conn, &audit)?;
            }
            Ok(gone)
        })
        .await
    }

    async fn add_deliveries(&self, deliveries: &[DeliveryRecord]) -> StoreResult<Vec<bool>> {
        let ds = deliveries.to_vec();
        self.write(move |conn, _| {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "INSERT OR IGNORE INTO webhook_deliveries ({DELIVERY_COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ))
                .map_err(unavailable)?;
            let mut added = Vec::with_capacity(ds.len());
            for d in &ds {
                let n = stmt
                    .execute(params![
                        d.tenant.as_str(),
                        d.id,
                        d.endpoint,
                        d.event.as_str(),
                        d.body,
                        d.created_at,
                        d.state.as_str(),
                        d.next_at,
                        attempts_json(d)?
                    ])
                    .map_err(unavailable)?;
                added.push(n == 1);
            }
            Ok(added)
        })
        .await
    }

    async fn update_delivery(&self, d: &DeliveryRecord) -> StoreResult<()> {
        let (d, attempts) = (d.clone(), attempts_json(d)?);
        self.write(move |conn, _| {
            conn.prepare_cached(
                "UPDATE webhook_deliveries SET state = ?3, next_at = ?4, attempts = ?5
                 WHERE tenant = ?1 AND delivery_id = ?2",
            )
            .and_then(|mut s| {
                s.execute(params![
                    d.tenant.as_str(),
                    d.id,
                    d.state.as_str(),
                    d.next_at,
                    attempts
                ])
            })
            .map_err(unavailable)?;
            Ok(())
        })
        .await
    }

    async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<DeliveryRecord>> {
        let (t, id) = (tenant.clone(), id.to_owned());
        let row = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
                     WHERE tenant = ?1 AND delivery_id = ?2"
                ))
                .and_then(|mut s| {
                    s.query_row(params![t.as_str(), id], delivery_row)
                        .optional()
                })
                .map_err(unavailable)
            })
            .await?;
        row.map(DeliveryRow::into_record).transpose()
    }

    async fn deliveries(
        &self,
        tenant: &TenantId,
        endpoint: &str,
        since: UnixMillis,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<DeliveryRecord>> {
        let limit = check_limit(limit)?;
        let (at, after) = match cursor {
            Some(c) => {
                let (_, at, key) = c.decode_history()?;
                (at, key)
            }
            None => (i64::MAX, String::new()),
        };
        let (t, e) = (tenant.clone(), endpoint.to_owned());
        let rows = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
                     WHERE tenant = ?1 AND endpoint_id = ?2 AND created_at >= ?3
                       AND (created_at < ?4 OR (created_at = ?4 AND (?5 = '' OR delivery_id < ?5)))
                     ORDER BY created_at DESC, delivery_id DESC LIMIT ?6"
                ))
                .and_then(|mut s| {
                    s.query_map(
                        params![t.as_str(), e, since, at, after, limit as i64],
                        delivery_row,
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        Ok(Page::of(rows_into(rows)?, limit, |d| {
            Cursor::history(day_bucket(d.created_at), d.created_at, &d.id)
        }))
    }

    async fn pending_deliveries(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<DeliveryRecord>> {
        let limit = check_limit(limit)?;
        let (tenant, after) = match cursor {
            Some(c) => {
                let mut f = c.decode(2)?;
                let id = f.pop().unwrap_or_default();
                (f.pop().unwrap_or_default(), id)
            }
            None => (String::new(), String::new()),
        };
        let rows = self
            .read(move |conn| {
                conn.prepare_cached(&format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
                     WHERE state = 'pending' AND (tenant, delivery_id) > (?1, ?2)
                     ORDER BY tenant, delivery_id LIMIT ?3"
                ))
                .and_then(|mut s| {
                    s.query_map(params![tenant, after, limit as i64], delivery_row)?
                        .collect::<rusqlite::Result<Vec<_>>>()
                })
                .map_err(unavailable)
            })
            .await?;
        Ok(Page::of(rows_into(rows)?, limit, |d| {
            Cursor::encode(&[d.tenant.as_str(), &d.id])
        }))
    }

    async fn purge_deliveries(&self, before: UnixMillis) -> StoreResult<u64> {
        self.write(move |conn, _| {
            conn.execute(
                "DELETE FROM webhook_deliveries WHERE created_at < ?1 AND state != 'pending'",
                params![before],
            )
            .map(|n| n as u64)
            .map_err(unavailable)
        })
        .await
    }
}
