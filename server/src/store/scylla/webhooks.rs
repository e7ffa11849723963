//! Outbound webhooks on ScyllaDB. Endpoints: one partition per tenant. Deliveries: an id row
//! (where the delivery's log row is), the pending index (16 shards by the delivery's id) and
//! the log (a partition per endpoint and day, newest first), written in that order, so a log
//! row means the delivery is stored whole. Adding one whose id row exists without its log row
//! (an add that crashed midway, never attempted: the dispatcher skips pending entries without
//! a log row) finishes it at the time the id row gives.

use async_trait::async_trait;
use scylla::statement::prepared::PreparedStatement;
use switchboard_shared::webhooks::{DeliveryState, EventType};
use switchboard_shared::TenantId;

use super::{unavailable, Preparer, ScyllaStore};
use crate::domain::*;
use crate::store::{
    check_limit, event_names, events_of, Cursor, Page, PageCollector, StoreError, StoreResult,
    WebhookStore,
};

/// Shards of the pending index (a start reads them all, paged).
const SHARDS: i32 = 16;

fn shard_of(id: &str) -> i32 {
    let digit = id.as_bytes().get(4).copied().unwrap_or(b'0');
    i32::from(digit) % SHARDS
}

row! {
    /// An endpoint (`webhook_endpoints`).
    struct EndpointRow {
        tenant: String,
        endpoint_id: String,
        url: String,
        events: String,
        description: String,
        secret: Vec<u8>,
        previous_secret: Option<Vec<u8>>,
        previous_until: Option<i64>,
        enabled: bool,
        disabled_reason: Option<String>,
        failing_since: Option<i64>,
        created_at: i64,
        updated_at: i64,
    }
}

impl EndpointRow {
    fn of(e: &EndpointRecord) -> Self {
        Self {
            tenant: e.tenant.as_str().to_owned(),
            endpoint_id: e.id.clone(),
            url: e.url.clone(),
            events: event_names(&e.events),
            description: e.description.clone(),
            secret: e.secret.clone(),
            previous_secret: e.previous_secret.clone(),
            previous_until: e.previous_until,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason.clone(),
            failing_since: e.failing_since,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }

    fn into_record(self) -> StoreResult<EndpointRecord> {
        Ok(EndpointRecord {
            tenant: TenantId::new(self.tenant),
            id: self.endpoint_id,
            url: self.url,
            events: events_of(&self.events)?,
            description: self.description,
            secret: self.secret,
            previous_secret: self.previous_secret,
            previous_until: self.previous_until,
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            failing_since: self.failing_since,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

row! {
    /// A delivery in the log (`webhook_deliveries`).
    struct DeliveryRow {
        tenant: String,
        endpoint_id: String,
        day: i64,
        created_at: i64,
        delivery_id: String,
        event: String,
        body: String,
        state: String,
        next_at: i64,
        attempts: String,
    }
}

impl DeliveryRow {
    fn of(d: &DeliveryRecord) -> StoreResult<Self> {
        Ok(Self {
            tenant: d.tenant.as_str().to_owned(),
            endpoint_id: d.endpoint.clone(),
            day: day_bucket(d.created_at),
            created_at: d.created_at,
            delivery_id: d.id.clone(),
            event: d.event.as_str().to_owned(),
            body: d.body.clone(),
            state: d.state.as_str().to_owned(),
            next_at: d.next_at,
            attempts: serde_json::to_string(&d.attempts)
                .map_err(|e| StoreError::Invalid(e.to_string()))?,
        })
    }

    fn into_record(self) -> StoreResult<DeliveryRecord> {
        Ok(DeliveryRecord {
            tenant: TenantId::new(self.tenant),
            endpoint: self.endpoint_id,
            id: self.delivery_id,
            event: EventType::parse(&self.event)
                .ok_or_else(|| StoreError::Corrupt(format!("event type `{}`", self.event)))?,
            body: self.body,
            created_at: self.created_at,
            state: DeliveryState::parse(&self.state)
                .ok_or_else(|| StoreError::Corrupt(format!("delivery state `{}`", self.state)))?,
            next_at: self.next_at,
            attempts: serde_json::from_str(&self.attempts)
                .map_err(|e| StoreError::Corrupt(format!("a delivery's attempts: {e}")))?,
        })
    }
}

row! {
    /// Where a delivery's log row is (`webhook_delivery_ids`).
    struct IdRow {
        tenant: String,
        delivery_id: String,
        endpoint_id: String,
        created_at: i64,
    }
}

row! {
    /// A pending delivery (`webhook_pending`).
    struct PendingRow {
        shard: i32,
        tenant: String,
        delivery_id: String,
        endpoint_id: String,
        created_at: i64,
    }
}

impl PendingRow {
    fn of(d: &DeliveryRecord) -> Self {
        Self {
            shard: shard_of(&d.id),
            tenant: d.tenant.as_str().to_owned(),
            delivery_id: d.id.clone(),
            endpoint_id: d.endpoint.clone(),
            created_at: d.created_at,
        }
    }
}

/// Statements of outbound webhooks.
pub(super) struct Statements {
    put_endpoint: PreparedStatement,
    get_endpoint: PreparedStatement,
    list_endpoints: PreparedStatement,
    delete_endpoint: PreparedStatement,
    put_delivery: PreparedStatement,
    update_delivery: PreparedStatement,
    get_delivery: PreparedStatement,
    log: PreparedStatement,
    put_id: PreparedStatement,
    get_id: PreparedStatement,
    put_pending: PreparedStatement,
    delete_pending: PreparedStatement,
    pending: PreparedStatement,
}

impl Statements {
    pub(super) async fn prepare(p: &Preparer<'_>) -> StoreResult<Self> {
        let ks = p.keyspace;
        let (ec, dc, ic, pc) = (
            EndpointRow::COLUMNS,
            DeliveryRow::COLUMNS,
            IdRow::COLUMNS,
            PendingRow::COLUMNS,
        );
        let m = super::markers;
        Ok(Self {
            put_endpoint: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.webhook_endpoints ({ec}) VALUES ({})",
                        m(ec)
                    ),
                    true,
                )
                .await?,
            get_endpoint: p
                .prepare(
                    format!(
                        "SELECT {ec} FROM {ks}.webhook_endpoints \
                         WHERE tenant = ? AND endpoint_id = ?"
                    ),
                    true,
                )
                .await?,
            list_endpoints: p
                .prepare(
                    format!("SELECT {ec} FROM {ks}.webhook_endpoints WHERE tenant = ? LIMIT ?"),
                    true,
                )
                .await?,
            delete_endpoint: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.webhook_endpoints \
                         WHERE tenant = ? AND endpoint_id = ? IF EXISTS"
                    ),
                    false,
                )
                .await?,
            put_delivery: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.webhook_deliveries ({dc}) VALUES ({})",
                        m(dc)
                    ),
                    true,
                )
                .await?,
            update_delivery: p
                .prepare(
                    format!(
                        "UPDATE {ks}.webhook_deliveries SET state = ?, next_at = ?, attempts = ? \
                         WHERE tenant = ? AND endpoint_id = ? AND day = ? AND created_at = ? \
                         AND delivery_id = ?"
                    ),
                    true,
                )
                .await?,
            get_delivery: p
                .prepare(
                    format!(
                        "SELECT {dc} FROM {ks}.webhook_deliveries WHERE tenant = ? \
                         AND endpoint_id = ? AND day = ? AND created_at = ? AND delivery_id = ?"
                    ),
                    true,
                )
                .await?,
            log: p
                .prepare(
                    format!(
                        "SELECT {dc} FROM {ks}.webhook_deliveries WHERE tenant = ? \
                         AND endpoint_id = ? AND day = ? AND (created_at, delivery_id) < (?, ?) \
                         AND created_at >= ? LIMIT ?"
                    ),
                    true,
                )
                .await?,
            put_id: p
                .prepare(
                    format!(
                        "INSERT INTO {ks}.webhook_delivery_ids ({ic}) VALUES ({})",
                        m(ic)
                    ),
                    true,
                )
                .await?,
            get_id: p
                .prepare(
                    format!(
                        "SELECT {ic} FROM {ks}.webhook_delivery_ids \
                         WHERE tenant = ? AND delivery_id = ?"
                    ),
                    true,
                )
                .await?,
            put_pending: p
                .prepare(
                    format!("INSERT INTO {ks}.webhook_pending ({pc}) VALUES ({})", m(pc)),
                    true,
                )
                .await?,
            delete_pending: p
                .prepare(
                    format!(
                        "DELETE FROM {ks}.webhook_pending \
                         WHERE shard = ? AND tenant = ? AND delivery_id = ?"
                    ),
                    true,
                )
                .await?,
            pending: p
                .prepare(
                    format!(
                        "SELECT {pc} FROM {ks}.webhook_pending \
                         WHERE shard = ? AND (tenant, delivery_id) > (?, ?) LIMIT ?"
                    ),
                    true,
                )
                .await?,
        })
    }
}

impl ScyllaStore {
    async fn delivery_at(
        &self,
        tenant: &str,
        id: &str,
        endpoint: &str,
        created_at: i64,
    ) -> StoreResult<Option<DeliveryRecord>> {
        self.one::<DeliveryRow>(
            &self.webhooks.get_delivery,
            (tenant, endpoint, day_bucket(created_at), created_at, id),
        )
        .await?
        .map(DeliveryRow::into_record)
        .transpose()
    }

    /// Adds one delivery unless it is stored (see the module's head).
    async fn add_delivery(&self, d: &DeliveryRecord) -> StoreResult<bool> {
        let s = &self.webhooks;
        let mut d = d.clone();
        match self
            .one::<IdRow>(&s.get_id, (d.tenant.as_str(), d.id.as_str()))
            .await?
        {
            Some(at) => {
                if self
                    .delivery_at(d.tenant.as_str(), &d.id, &at.endpoint_id, at.created_at)
                    .await?
                    .is_some()
                {
                    return Ok(false);
                }
                // An add that crashed after its id row: finish it, at the time it was given.
                d.created_at = at.created_at;
            }
            None => {
                let id = IdRow {
                    tenant: d.tenant.as_str().to_owned(),
                    delivery_id: d.id.clone(),
                    endpoint_id: d.endpoint.clone(),
                    created_at: d.created_at,
                };
                self.session
                    .execute_unpaged(&s.put_id, id)
                    .await
                    .map_err(unavailable)?;
            }
        }
        if d.state == DeliveryState::Pending {
            self.session
                .execute_unpaged(&s.put_pending, PendingRow::of(&d))
                .await
                .map_err(unavailable)?;
        }
        self.session
            .execute_unpaged(&s.put_delivery, DeliveryRow::of(&d)?)
            .await
            .map_err(unavailable)?;
        Ok(true)
    }
}

#[async_trait]
impl WebhookStore for ScyllaStore {
    async fn put_endpoint(
        &self,
        e: &EndpointRecord,
        audit: Option<&AuditRecord>,
    ) -> StoreResult<()> {
        self.session
            .execute_unpaged(&self.webhooks.put_endpoint, EndpointRow::of(e))
            .await
            .map_err(unavailable)?;
        match audit {
            Some(a) => self.write_audit(a).await,
            None => Ok(()),
        }
    }

    async fn get_endpoint(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<EndpointRecord>> {
        self.one::<EndpointRow>(&self.webhooks.get_endpoint, (tenant.as_str(), id))
            .await?
            .map(EndpointRow::into_record)
            .transpose()
    }

    async fn list_endpoints(&self, tenant: &TenantId) -> StoreResult<Vec<EndpointRecord>> {
        self.rows::<EndpointRow>(
            &self.webhooks.list_endpoints,
            (tenant.as_str(), MAX_ENDPOINTS as i32),
        )
        .await?
        .into_iter()
        .map(EndpointRow::into_record)
        .collect()
    }

    async fn delete_endpoint(
        &self,
        tenant: &TenantId,
        id: &str,
        audit: &AuditRecord,
    ) -> StoreResult<bool> {
        self.applied_with_audit(&self.webhooks.delete_endpoint, (tenant.as_str(), id), audit)
            .await
    }

    async fn add_deliveries(&self, deliveries: &[DeliveryRecord]) -> StoreResult<Vec<bool>> {
        futures_util::future::join_all(deliveries.iter().map(|d| self.add_delivery(d)))
            .await
            .into_iter()
            .collect()
    }

    async fn update_delivery(&self, d: &DeliveryRecord) -> StoreResult<()> {
        let row = DeliveryRow::of(d)?;
        self.session
            .execute_unpaged(
                &self.webhooks.update_delivery,
                (
                    row.state.as_str(),
                    row.next_at,
                    row.attempts.as_str(),
                    row.tenant.as_str(),
                    row.endpoint_id.as_str(),
                    row.day,
                    row.created_at,
                    row.delivery_id.as_str(),
                ),
            )
            .await
            .map_err(unavailable)?;
        let pending = PendingRow::of(d);
        if d.state == DeliveryState::Pending {
            self.session
                .execute_unpaged(&self.webhooks.put_pending, pending)
                .await
                .map_err(unavailable)?;
        } else {
            self.session
                .execute_unpaged(
                    &self.webhooks.delete_pending,
                    (pending.shard, pending.tenant, pending.delivery_id),
                )
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<DeliveryRecord>> {
        let Some(at) = self
            .one::<IdRow>(&self.webhooks.get_id, (tenant.as_str(), id))
            .await?
        else {
            return Ok(None);
        };
        self.delivery_at(tenant.as_str(), id, &at.endpoint_id, at.created_at)
            .await
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
        // A fact is dated when it happened; allow a day of clock skew above today.
        let (mut day, mut at, mut after) = match cursor {
            Some(c) => c.decode_history()?,
            None => (day_bucket(now_ms()) + 1, i64::MAX, String::new()),
        };
        let first = day_bucket(since);
        let mut page = PageCollector::new(limit);
        while day >= first {
            let rows: Vec<DeliveryRow> = self
                .rows(
                    &self.webhooks.log,
                    (
                        tenant.as_str(),
                        endpoint,
                        day,
                        at,
                        after.as_str(),
                        since,
                        page.wants() as i32,
                    ),
                )
                .await?;
            for row in rows {
                let (created, id) = (row.created_at, row.delivery_id.clone());
                if page.push(row.into_record()?, day, created, &id) {
                    return Ok(page.finish());
                }
            }
            day -= 1;
            (at, after) = (i64::MAX, String::new());
        }
        Ok(page.finish())
    }

    async fn pending_deliveries(
        &self,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> StoreResult<Page<DeliveryRecord>> {
        let limit = check_limit(limit)?;
        let (mut shard, mut tenant, mut after) = match cursor {
            Some(c) => {
                let f = c.decode(3)?;
                let shard = f[0]
                    .parse()
                    .map_err(|_| StoreError::Invalid("malformed cursor".into()))?;
                (shard, f[1].clone(), f[2].clone())
            }
            None => (0, String::new(), String::new()),
        };
        let mut items = Vec::with_capacity(limit);
        while shard < SHARDS {
            let entries: Vec<PendingRow> = self
                .rows(
                    &self.webhooks.pending,
                    (shard, tenant.as_str(), after.as_str(), limit as i32),
                )
                .await?;
            let full = entries.len() == limit;
            let reads = entries
                .iter()
                .map(|e| self.delivery_at(&e.tenant, &e.delivery_id, &e.endpoint_id, e.created_at));
            for d in futures_util::future::join_all(reads).await {
                // A pending entry without its log row is an add that crashed midway: its id
                // row was never written, and adding the fact again writes both.
                if let Some(d) = d? {
                    items.push(d);
                }
            }
            if full {
                let last = entries.last().expect("a full page has a last row");
                let next = Cursor::encode(&[&shard.to_string(), &last.tenant, &last.delivery_id]);
                return Ok(Page {
                    items,
                    next: Some(next),
                });
            }
            if !items.is_empty() {
                let next = (shard + 1 < SHARDS)
                    .then(|| Cursor::encode(&[&(shard + 1).to_string(), "", ""]));
                return Ok(Page { items, next });
            }
            shard += 1;
            (tenant, after) = (String::new(), String::new());
        }
        Ok(Page { items, next: None })
    }

    async fn purge_deliveries(&self, _before: UnixMillis) -> StoreResult<u64> {
        // The log's rows expire by themselves (default_time_to_live, 30 days).
        Ok(0)
    }
}
