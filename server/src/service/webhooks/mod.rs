//! Outbound webhooks: each workspace's endpoints, subscribed to event types, and the durable
//! delivery of every event to them, signed as Standard Webhooks says.
//!
//! Owns: the endpoint use cases (made, changed, turned off and on, secret rotated, removed,
//! each audited; the secret shown once and sealed at rest), the delivery log and its replay,
//! and the dispatcher (`dispatch`): a delivery is stored before its first attempt, retried on a
//! schedule (`schedule`) for about a day, and resumed after a restart. Facts arrive from the
//! event bus (messages received, sent, their statuses; customers' messages are replayed at a
//! start from the store, so a kill between storing and handing on loses none), from the tap on
//! the broker (`tap`: assignments, resolutions, campaigns, surveys) and from the contacts
//! service. Where a delivery may go is `guard`'s decision; what a fact's body is, `events`'.
//!
//! Must not: attempt anything it has not stored, follow a redirect, reach a private address
//! the deployment did not name, or show a secret twice.

mod dispatch;
pub mod events;
pub mod guard;
mod schedule;
pub mod sign;
mod tap;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::json;
use switchboard_shared::webhooks::{
    DeliveryState, DeliveryView, EndpointPatch, EndpointSecret, EndpointView, EventType,
    NewEndpoint,
};
use switchboard_shared::TenantId;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use events::Emitted;
pub use tap::Tap;

use self::guard::Rules;
use crate::config::OutgoingWebhooksConfig;
use crate::domain::{now_ms, AuditRecord, DeliveryRecord, EndpointRecord, MAX_ENDPOINTS};
use crate::secret::{Sealer, Secret, Unsealable};
use crate::service::Events;
use crate::store::{Cursor, Page, Store, StoreError};

/// The replay cursor of the dispatcher: every customer message received before it is stored as
/// deliveries (see `Inbound::replay`).
pub const CURSOR: &str = "webhooks";

/// How long the previous secret still signs after a rotation.
const ROTATION_OVERLAP_MS: i64 = 24 * 3_600_000;

#[derive(Debug, thiserror::Error)]
pub enum WebhooksError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("a workspace has at most {MAX_ENDPOINTS} webhook endpoints")]
    TooMany,
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error("the endpoint is turned off; turn it on (PATCH enabled: true) before replaying")]
    Disabled,
    #[error(transparent)]
    Unsealable(#[from] Unsealable),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the server is stopping")]
    Stopped,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> WebhooksError {
    WebhooksError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// An endpoint as the dispatcher uses it: its record and its signing keys, opened.
pub(crate) struct Live {
    pub record: EndpointRecord,
    /// Newest first: the current key, then the previous one while it still signs. Empty when
    /// the sealed secret does not open (another secrets key): its attempts fail, saying so.
    pub keys: Vec<Vec<u8>>,
}

pub(crate) enum Command {
    /// Attempt a stored delivery now, whatever its state; answers with it afterwards.
    Replay {
        delivery: DeliveryRecord,
        reply: oneshot::Sender<DeliveryRecord>,
    },
}

#[derive(Clone)]
pub struct Webhooks {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    config: OutgoingWebhooksConfig,
    rules: Rules,
    live: RwLock<HashMap<TenantId, Arc<[Arc<Live>]>>>,
    intake: mpsc::UnboundedSender<Emitted>,
    commands: mpsc::UnboundedSender<Command>,
}

fn context(tenant: &TenantId, id: &str) -> String {
    format!("webhook/{tenant}/{id}")
}

impl Inner {
    fn open(&self, record: EndpointRecord, now: i64) -> Live {
        let ctx = context(&record.tenant, &record.id);
        let mut keys = Vec::new();
        match self.sealer.open(&ctx, &record.secret) {
            Ok(s) => keys.extend(sign::key_of(s.expose())),
            Err(_) => tracing::error!(tenant = %record.tenant, endpoint = %record.id,
                "an endpoint's secret does not open with this server's secrets key; rotate it"),
        }
        if let (Some(old), Some(until)) = (&record.previous_secret, record.previous_until) {
            if until > now {
                if let Ok(s) = self.sealer.open(&ctx, old) {
                    keys.extend(sign::key_of(s.expose()));
                }
            }
        }
        Live { record, keys }
    }

    /// Reads a tenant's endpoints again into the dispatcher's map.
    async fn reload(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let now = now_ms();
        let list: Vec<Arc<Live>> = self
            .store
            .list_endpoints(tenant)
            .await?
            .into_iter()
            .map(|r| Arc::new(self.open(r, now)))
            .collect();
        let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
        if list.is_empty() {
            live.remove(tenant);
        } else {
            live.insert(tenant.clone(), list.into());
        }
        Ok(())
    }

    async fn reload_all(&self) -> Result<(), StoreError> {
        for tenant in self.store.list_tenants().await? {
            self.reload(&tenant.id).await?;
        }
        Ok(())
    }

    pub(crate) fn endpoint(&self, tenant: &TenantId, id: &str) -> Option<Arc<Live>> {
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        live.get(tenant)?
            .iter()
            .find(|l| l.record.id == id)
            .cloned()
    }

    /// The enabled endpoints of a tenant subscribed to `event`.
    pub(crate) fn subscribed(&self, tenant: &TenantId, event: EventType) -> Vec<Arc<Live>> {
        let live = self.live.read().unwrap_or_else(|p| p.into_inner());
        live.get(tenant)
            .map(|list| {
                list.iter()
                    .filter(|l| l.record.enabled && l.record.events.contains(&event))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn view(r: &EndpointRecord) -> EndpointView {
    EndpointView {
        id: r.id.clone(),
        url: r.url.clone(),
        events: r.events.clone(),
        description: r.description.clone(),
        enabled: r.enabled,
        disabled_reason: r.disabled_reason.clone(),
        failing_since: r.failing_since,
        previous_secret_until: r.previous_until.filter(|u| *u > now_ms()),
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// A delivery as the log shows it.
pub fn delivery_view(d: DeliveryRecord) -> DeliveryView {
    DeliveryView {
        next_attempt_at: (d.state == DeliveryState::Pending).then_some(d.next_at),
        id: d.id,
        endpoint: d.endpoint,
        event: d.event,
        body: d.body,
        state: d.state,
        created_at: d.created_at,
        attempts: d.attempts,
    }
}

/// What the audit log keeps of an endpoint: never its secret.
fn snapshot(r: &EndpointRecord) -> String {
    json!({
        "url": r.url,
        "events": r.events,
        "description": r.description,
        "enabled": r.enabled,
    })
    .to_string()
}

fn check_events(events: &[EventType]) -> Result<Vec<EventType>, WebhooksError> {
    let mut list = events.to_vec();
    list.sort();
    list.dedup();
    if list.is_empty() {
        return Err(invalid("events", "name at least one event type"));
    }
    Ok(list)
}

fn check_description(text: &str) -> Result<String, WebhooksError> {
    let text = text.trim();
    if text.chars().count() > 500 {
        return Err(invalid("description", "at most 500 characters"));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid("description", "must not hold control characters"));
    }
    Ok(text.to_owned())
}

/// An endpoint as asked for, checked except for where its host resolves (`guard::resolve`):
/// the URL, the event types sorted without repeats, the description trimmed.
pub fn checked(
    input: &NewEndpoint,
    rules: &Rules,
) -> Result<(url::Url, Vec<EventType>, String), WebhooksError> {
    let url = guard::check_url(&input.url, rules).map_err(|r| invalid("url", r))?;
    Ok((
        url,
        check_events(&input.events)?,
        check_description(&input.description)?,
    ))
}

impl Webhooks {
    /// Loads the endpoints, subscribes to the event bus (before the start's replay, so that it
    /// hears the replayed messages) and starts the dispatcher, which first resumes the pending
    /// deliveries.
    pub async fn start(
        store: Arc<dyn Store>,
        sealer: Arc<Sealer>,
        config: OutgoingWebhooksConfig,
        events: &Events,
        shutdown: CancellationToken,
    ) -> Result<Self, StoreError> {
        let (intake, intake_rx) = mpsc::unbounded_channel();
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let rules = Rules {
            allow_http: config.allow_http,
            allow_private_hosts: config.allow_private_hosts.clone(),
        };
        let inner = Arc::new(Inner {
            store,
            sealer,
            config,
            rules,
            live: RwLock::new(HashMap::new()),
            intake,
            commands,
        });
        inner.reload_all().await?;
        let bus = events.subscribe("webhooks");
        dispatch::spawn(Arc::clone(&inner), bus, intake_rx, commands_rx, shutdown);
        Ok(Self { inner })
    }

    /// Whether anyone in the workspace follows `event` (cheap: callers skip building a fact).
    pub fn wants(&self, tenant: &TenantId, event: EventType) -> bool {
        !self.inner.subscribed(tenant, event).is_empty()
    }

    /// Hands a stored fact on to its subscribers (nothing when there are none).
    pub fn emit(&self, e: Emitted) {
        if self.wants(&e.tenant, e.event) {
            // Closed only while the server stops; a fact then is replayed or lost with it.
            let _ = self.inner.intake.send(e);
        }
    }

    pub fn list(&self, tenant: &TenantId) -> Vec<EndpointView> {
        let live = self.inner.live.read().unwrap_or_else(|p| p.into_inner());
        live.get(tenant)
            .map(|l| l.iter().map(|e| view(&e.record)).collect())
            .unwrap_or_default()
    }

    pub async fn get(&self, tenant: &TenantId, id: &str) -> Result<EndpointView, WebhooksError> {
        self.record(tenant, id).await.map(|r| view(&r))
    }

    async fn record(&self, tenant: &TenantId, id: &str) -> Result<EndpointRecord, WebhooksError> {
        self.inner
            .store
            .get_endpoint(tenant, id)
            .await?
            .ok_or(WebhooksError::NotFound("webhook endpoint"))
    }

    async fn check_url(&self, text: &str) -> Result<String, WebhooksError> {
        let url = guard::check_url(text, &self.inner.rules).map_err(|r| invalid("url", r))?;
        self.reachable(&url).await
    }

    async fn reachable(&self, url: &url::Url) -> Result<String, WebhooksError> {
        guard::resolve(url, &self.inner.rules)
            .await
            .map_err(|r| invalid("url", r))?;
        Ok(url.to_string())
    }

    fn seal(&self, tenant: &TenantId, id: &str, secret: &str) -> Vec<u8> {
        self.inner
            .sealer
            .seal(&context(tenant, id), &Secret::new(secret))
    }

    async fn save(
        &self,
        record: &EndpointRecord,
        audit: Option<&AuditRecord>,
    ) -> Result<(), WebhooksError> {
        self.inner.store.put_endpoint(record, audit).await?;
        self.inner.reload(&record.tenant).await?;
        Ok(())
    }

    /// Subscribes an endpoint; its secret is in the answer, and never again.
    pub async fn create(
        &self,
        tenant: &TenantId,
        input: NewEndpoint,
        mut audit: AuditRecord,
    ) -> Result<(EndpointView, EndpointSecret), WebhooksError> {
        let (url, events, description) = checked(&input, &self.inner.rules)?;
        let url = self.reachable(&url).await?;
        if self.inner.store.list_endpoints(tenant).await?.len() >= MAX_ENDPOINTS {
            return Err(WebhooksError::TooMany);
        }
        let id = format!("wh_{}", hex::encode(rand::random::<[u8; 8]>()));
        let secret = sign::new_secret();
        let now = now_ms();
        let record = EndpointRecord {
            tenant: tenant.clone(),
            id: id.clone(),
            url,
            events,
            description,
            secret: self.seal(tenant, &id, &secret),
            previous_secret: None,
            previous_until: None,
            enabled: true,
            disabled_reason: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        audit.target = Some(format!("webhook:{id}"));
        audit.after = Some(snapshot(&record));
        self.save(&record, Some(&audit)).await?;
        Ok((
            view(&record),
            EndpointSecret {
                id,
                secret,
                previous_valid_until: None,
            },
        ))
    }

    /// Changes what a patch names; turning an endpoint on clears its failure streak.
    pub async fn update(
        &self,
        tenant: &TenantId,
        id: &str,
        patch: EndpointPatch,
        mut audit: AuditRecord,
    ) -> Result<EndpointView, WebhooksError> {
        let before = self.record(tenant, id).await?;
        let mut after = before.clone();
        if let Some(url) = &patch.url {
            after.url = self.check_url(url).await?;
        }
        if let Some(events) = &patch.events {
            after.events = check_events(events)?;
        }
        if let Some(d) = &patch.description {
            after.description = check_description(d)?;
        }
        if let Some(enabled) = patch.enabled {
            if enabled && !after.enabled {
                after.failing_since = None;
                after.disabled_reason = None;
            } else if !enabled && after.enabled {
                after.disabled_reason = Some("turned off by a person".into());
            }
            after.enabled = enabled;
        }
        if after == before {
            return Ok(view(&before));
        }
        after.updated_at = now_ms().max(before.updated_at + 1);
        audit.target = Some(format!("webhook:{id}"));
        audit.before = Some(snapshot(&before));
        audit.after = Some(snapshot(&after));
        self.save(&after, Some(&audit)).await?;
        Ok(view(&after))
    }

    /// A new secret; the old one signs too for a day, so receivers can switch without a gap.
    pub async fn rotate(
        &self,
        tenant: &TenantId,
        id: &str,
        mut audit: AuditRecord,
    ) -> Result<EndpointSecret, WebhooksError> {
        let mut record = self.record(tenant, id).await?;
        let secret = sign::new_secret();
        let now = now_ms();
        record.previous_secret = Some(std::mem::replace(
            &mut record.secret,
            self.seal(tenant, id, &secret),
        ));
        record.previous_until = Some(now + ROTATION_OVERLAP_MS);
        record.updated_at = now.max(record.updated_at + 1);
        audit.target = Some(format!("webhook:{id}"));
        audit.after = Some(json!({ "secret": "rotated" }).to_string());
        self.save(&record, Some(&audit)).await?;
        Ok(EndpointSecret {
            id: id.to_owned(),
            secret,
            previous_valid_until: record.previous_until,
        })
    }

    /// Removes an endpoint; its log stays readable for the days deliveries are kept, and its
    /// pending deliveries fail at their next attempt.
    pub async fn remove(
        &self,
        tenant: &TenantId,
        id: &str,
        mut audit: AuditRecord,
    ) -> Result<(), WebhooksError> {
        let before = self.record(tenant, id).await?;
        audit.target = Some(format!("webhook:{id}"));
        audit.before = Some(snapshot(&before));
        if !self.inner.store.delete_endpoint(tenant, id, &audit).await? {
            return Err(WebhooksError::NotFound("webhook endpoint"));
        }
        self.inner.reload(tenant).await?;
        Ok(())
    }

    /// A page of an endpoint's deliveries, newest first, over the days they are kept.
    pub async fn deliveries(
        &self,
        tenant: &TenantId,
        id: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<DeliveryView>, WebhooksError> {
        self.record(tenant, id).await?;
        let since = now_ms() - i64::from(self.inner.config.keep_days) * 86_400_000;
        let page = self
            .inner
            .store
            .deliveries(tenant, id, since, cursor, limit)
            .await?;
        Ok(Page {
            items: page.items.into_iter().map(delivery_view).collect(),
            next: page.next,
        })
    }

    /// Sends a stored delivery again now, with the same `webhook-id` (a receiver that kept it
    /// recognises it), and answers with it and the attempt made.
    pub async fn replay(
        &self,
        tenant: &TenantId,
        id: &str,
        delivery: &str,
        audit: AuditRecord,
    ) -> Result<DeliveryView, WebhooksError> {
        let endpoint = self.record(tenant, id).await?;
        let stored = self
            .inner
            .store
            .get_delivery(tenant, delivery)
            .await?
            .filter(|d| d.endpoint == id)
            .ok_or(WebhooksError::NotFound("delivery"))?;
        if !endpoint.enabled {
            return Err(WebhooksError::Disabled);
        }
        self.inner.store.append_audit(&audit).await?;
        let (reply, answer) = oneshot::channel();
        self.inner
            .commands
            .send(Command::Replay {
                delivery: stored,
                reply,
            })
            .map_err(|_| WebhooksError::Stopped)?;
        answer
            .await
            .map(delivery_view)
            .map_err(|_| WebhooksError::Stopped)
    }
}
