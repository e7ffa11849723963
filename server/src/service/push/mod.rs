//! Web Push to agents' devices while the app is closed: assignments, mentions and customers'
//! replies reach a phone through its browser's push service (RFC 8030), encrypted for that
//! browser alone (RFC 8291) and signed with the server's VAPID key (RFC 8292).
//!
//! A person's subscribed devices are one document per user (`ItemKind::PushDevices`), so both
//! store backends hold them; a push service that answers 404 or 410 for a device has ended its
//! subscription, and the device is pruned. Pushes are a courtesy on top of the inbox, not a
//! record: they are queued in memory (bounded), tried a few times while the push service is
//! busy, and dropped when the queue is full; nothing is lost that the app does not show.
//!
//! Owns: the devices (shape checks, the private-address guard, the per-person limit), who is
//! pushed what ([`notice::due`], only people with no app in view), the words, the sending.
//! Must not: decide what happened (the services publish; this listens through the tap).

mod notice;
pub mod vapid;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use switchboard_shared::protocol::HubEvent;
use switchboard_shared::push::{
    PushDevice, PushKey, PushNotice, PushReason, PushSubscriptionInput, PushTestResult,
    MAX_DEVICES, MAX_DEVICE_NAME,
};
use switchboard_shared::{TenantId, UserId};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;

use self::notice::Due;
use self::vapid::Vapid;
use super::documents::{invalid, DocumentError};
use super::webhooks::guard::{self, Rules};
use crate::auth::{Principal, TenantScope};
use crate::config::PushConfig;
use crate::domain::*;
use crate::store::{Store, StoreError};

/// Pushes waiting to be sent; more are dropped (with a warning) until the queue drains.
const QUEUE: usize = 10_000;
/// Pushes being sent at once.
const CONCURRENCY: usize = 64;
/// Tries per push while the push service answers 429 or 5xx, or cannot be reached.
const TRIES: u32 = 3;
/// A device failing this many times in a row (never answering 2xx) is pruned.
const MAX_FAILURES: u32 = 50;
/// The longest text a notification shows.
const PREVIEW_CHARS: usize = 140;
/// `last_sent_at` is written again only when older than this (a push is not a store write).
const SENT_STALE_MS: i64 = 600_000;
/// A push service's client is resolved and checked again after this long.
const CLIENT_TTL: Duration = Duration::from_secs(60);

/// Whether a person has the app in view somewhere: they see events there, and are not pushed.
pub type Presence = Arc<dyn Fn(&TenantId, &UserId) -> bool + Send + Sync>;

/// A subscribed device as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Device {
    id: String,
    endpoint: String,
    p256dh: String,
    auth: String,
    device: String,
    created_at: UnixMillis,
    #[serde(default)]
    expires_at: Option<UnixMillis>,
    #[serde(default)]
    last_sent_at: Option<UnixMillis>,
    #[serde(default)]
    last_error: Option<String>,
    #[serde(default)]
    failures: u32,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Devices {
    devices: Vec<Device>,
}

/// What a push service made of one push.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Delivered(u16),
    /// The subscription is over (404, 410): the device goes.
    Gone(u16),
    Failed(Option<u16>, String),
}

#[derive(Clone)]
pub struct Push {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    vapid: Vapid,
    config: PushConfig,
    rules: Rules,
    presence: Presence,
    queue: mpsc::Sender<(TenantId, Due)>,
    /// A client per push service (`host:port`), pinned to the addresses checked for it and
    /// kept for [`CLIENT_TTL`]: its connections are reused, and its host is not resolved for
    /// every push.
    clients: std::sync::Mutex<HashMap<String, (Instant, reqwest::Client)>>,
}

impl Push {
    /// Starts the sender. `secrets_key`: the deployment's, from which the VAPID key is derived.
    pub fn start(
        store: Arc<dyn Store>,
        secrets_key: &[u8; 32],
        config: PushConfig,
        public_url: Option<&url::Url>,
        presence: Presence,
        shutdown: CancellationToken,
    ) -> Self {
        let subject = if !config.subject.is_empty() {
            config.subject.clone()
        } else if let Some(u) = public_url.filter(|u| u.scheme() == "https") {
            u.origin().ascii_serialization()
        } else {
            "mailto:admin@localhost".to_owned()
        };
        let (queue, rx) = mpsc::channel(QUEUE);
        let inner = Arc::new(Inner {
            store,
            vapid: Vapid::derive(secrets_key, &subject),
            rules: Rules {
                allow_http: config.allow_http,
                allow_private_hosts: config.allow_private_hosts.clone(),
            },
            config,
            presence,
            queue,
            clients: std::sync::Mutex::new(HashMap::new()),
        });
        tokio::spawn(run(Arc::clone(&inner), rx, shutdown));
        Self { inner }
    }

    pub fn key(&self) -> PushKey {
        PushKey {
            public_key: self.inner.vapid.public_key().to_owned(),
            enabled: self.inner.config.enabled,
        }
    }

    /// The caller's devices.
    pub async fn devices(
        &self,
        scope: &TenantScope,
        principal: &Principal,
    ) -> Result<Vec<PushDevice>, DocumentError> {
        let user = person(principal)?;
        let (_, doc) = load(scope, &user).await?;
        Ok(doc.devices.iter().map(view).collect())
    }

    /// Subscribes one of the caller's devices (the same endpoint again replaces its keys).
    pub async fn subscribe(
        &self,
        scope: &TenantScope,
        principal: &Principal,
        input: PushSubscriptionInput,
    ) -> Result<PushDevice, DocumentError> {
        let user = person(principal)?;
        if !self.inner.config.enabled {
            return Err(DocumentError::Conflict(
                "this server sends no notifications ([push] enabled = false)".into(),
            ));
        }
        let (url, name) = check_shape(&input, &self.inner.rules)?;
        guard::resolve(&url, &self.inner.rules)
            .await
            .map_err(|r| invalid("endpoint", r))?;
        let now = now_ms();
        let fresh = Device {
            id: new_id("pd"),
            endpoint: url.to_string(),
            p256dh: input.keys.p256dh,
            auth: input.keys.auth,
            device: name,
            created_at: now,
            expires_at: input.expiration_time,
            last_sent_at: None,
            last_error: None,
            failures: 0,
        };
        let saved = change(scope, &user, |doc| {
            let mut device = fresh.clone();
            if let Some(old) = doc
                .devices
                .iter()
                .position(|d| d.endpoint == device.endpoint)
            {
                device.id = doc.devices.remove(old).id;
            }
            while doc.devices.len() >= MAX_DEVICES {
                let oldest = (0..doc.devices.len())
                    .min_by_key(|i| doc.devices[*i].created_at)
                    .unwrap_or(0);
                doc.devices.remove(oldest);
            }
            doc.devices.push(device.clone());
            Some(device)
        })
        .await?;
        Ok(view(&saved.expect("a device was added")))
    }

    /// Removes one of the caller's devices.
    pub async fn unsubscribe(
        &self,
        scope: &TenantScope,
        principal: &Principal,
        id: &str,
    ) -> Result<(), DocumentError> {
        let user = person(principal)?;
        let removed = change(scope, &user, |doc| {
            let at = doc.devices.iter().position(|d| d.id == id)?;
            Some(doc.devices.remove(at))
        })
        .await?;
        removed.map(drop).ok_or(DocumentError::NotFound("device"))
    }

    /// Sends a test notification to one of the caller's devices now, and says what its push
    /// service answered.
    pub async fn test(
        &self,
        scope: &TenantScope,
        principal: &Principal,
        id: &str,
    ) -> Result<PushTestResult, DocumentError> {
        let user = person(principal)?;
        let (_, doc) = load(scope, &user).await?;
        let device = doc
            .devices
            .into_iter()
            .find(|d| d.id == id)
            .ok_or(DocumentError::NotFound("device"))?;
        let now = now_ms();
        let notice = PushNotice {
            reason: PushReason::Test,
            title: "Switchboard".into(),
            name: String::new(),
            body: "Notifications reach this device.".into(),
            url: "/".into(),
            tag: "test".into(),
            at: now,
        };
        // One attempt: the person waits for the answer.
        let (outcome, _) = self.inner.attempt(&device, &notice).await;
        self.inner
            .settle(scope, &user, vec![(device.id.clone(), outcome.clone())])
            .await;
        Ok(match outcome {
            Outcome::Delivered(s) => PushTestResult {
                delivered: true,
                status: Some(s),
                error: None,
            },
            Outcome::Gone(s) => PushTestResult {
                delivered: false,
                status: Some(s),
                error: Some("the push service ended this subscription: the device was removed; turn notifications on again".into()),
            },
            Outcome::Failed(status, error) => PushTestResult {
                delivered: false,
                status,
                error: Some(error),
            },
        })
    }

    /// Queues the pushes an event calls for (see [`notice::due`]), for people with no app in view.
    pub fn notice(&self, tenant: &TenantId, event: &HubEvent, inboxes: &[&UserId]) {
        if !self.inner.config.enabled {
            return;
        }
        for due in notice::due(event, inboxes) {
            if (self.inner.presence)(tenant, &due.user) {
                continue;
            }
            if self.inner.queue.try_send((tenant.clone(), due)).is_err() {
                metrics::counter!("switchboard_push_dropped_total").increment(1);
                tracing::warn!("the push queue is full: a notification was dropped");
            }
        }
    }
}

/// Checks a subscription's shape (not yet where its endpoint resolves): the endpoint's URL
/// under `rules`, the browser's key (a point on P-256) and auth secret (16 bytes), the device's
/// name. The endpoint and the name to keep.
pub fn check_shape(
    input: &PushSubscriptionInput,
    rules: &Rules,
) -> Result<(url::Url, String), DocumentError> {
    let url = guard::check_url(&input.endpoint, rules).map_err(|r| invalid("endpoint", r))?;
    // The URL standard lets through what an HTTP request line cannot carry (a `{` in a host
    // name): such a subscription could never be pushed to.
    if url.as_str().parse::<http::Uri>().is_err() {
        return Err(invalid(
            "endpoint",
            "is not an address an HTTP request can be sent to",
        ));
    }
    let decoded = |field: &str, text: &str, len: usize| {
        URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .ok()
            .filter(|b| b.len() == len)
            .ok_or_else(|| {
                invalid(
                    format!("keys.{field}"),
                    format!("must be {len} bytes in base64url"),
                )
            })
    };
    let point = decoded("p256dh", &input.keys.p256dh, 65)?;
    if p256::PublicKey::from_sec1_bytes(&point).is_err() {
        return Err(invalid("keys.p256dh", "is not a P-256 public key"));
    }
    decoded("auth", &input.keys.auth, 16)?;
    let name = input
        .device
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .unwrap_or("A browser");
    if name.chars().count() > MAX_DEVICE_NAME {
        return Err(invalid(
            "device",
            format!("at most {MAX_DEVICE_NAME} characters"),
        ));
    }
    Ok((url, name.to_owned()))
}

/// A push request for a subscription (`keys`: its `p256dh` and `auth`), the body encrypted for
/// that browser alone (RFC 8291, `aes128gcm`), with RFC 8030's headers (TTL, content coding).
pub fn request(
    endpoint: &str,
    (p256dh, auth): (&str, &str),
    body: Vec<u8>,
    ttl: Duration,
) -> Result<http::Request<Vec<u8>>, String> {
    let public = URL_SAFE_NO_PAD
        .decode(p256dh.trim_end_matches('='))
        .ok()
        .and_then(|b| p256::PublicKey::from_sec1_bytes(&b).ok())
        .ok_or("the subscription's p256dh is not a P-256 public key")?;
    let auth = URL_SAFE_NO_PAD
        .decode(auth.trim_end_matches('='))
        .ok()
        .filter(|b| b.len() == 16)
        .ok_or("the subscription's auth secret is not 16 bytes")?;
    let uri = endpoint
        .parse::<http::Uri>()
        .map_err(|e| format!("the endpoint is not a valid URI: {e}"))?;
    web_push_native::WebPushBuilder::new(uri, public, *web_push_native::Auth::from_slice(&auth))
        .with_valid_duration(ttl)
        .build(body)
        .map_err(|e| format!("could not encrypt: {e}"))
}

/// The signed-in person (an API key has no devices).
fn person(principal: &Principal) -> Result<UserId, DocumentError> {
    principal.user().map(|u| u.id.clone()).ok_or_else(|| {
        invalid(
            "credential",
            "notifications are for people signed in to the app, not for API keys",
        )
    })
}

fn view(d: &Device) -> PushDevice {
    PushDevice {
        id: d.id.clone(),
        device: d.device.clone(),
        service: url::Url::parse(&d.endpoint)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default(),
        created_at: d.created_at,
        last_sent_at: d.last_sent_at,
        last_error: d.last_error.clone(),
    }
}

/// The person's devices and the stored document they came from (none yet: version 0).
async fn load(scope: &TenantScope, user: &UserId) -> Result<(u64, Devices), StoreError> {
    match scope
        .automation_item(ItemKind::PushDevices, user.as_str())
        .await?
    {
        Some(item) => {
            let doc = serde_json::from_str(&item.body)
                .map_err(|e| StoreError::Corrupt(format!("push devices of {user}: {e}")))?;
            Ok((item.version, doc))
        }
        None => Ok((0, Devices::default())),
    }
}

/// Reads the person's devices, applies `f`, and writes them back over the version read (again
/// from the read when another change came first). `f` says what it did; `None`: nothing, and
/// nothing is written.
async fn change<T>(
    scope: &TenantScope,
    user: &UserId,
    mut f: impl FnMut(&mut Devices) -> Option<T>,
) -> Result<Option<T>, StoreError> {
    let mut tries = 0;
    loop {
        let (version, mut doc) = load(scope, user).await?;
        let Some(done) = f(&mut doc) else {
            return Ok(None);
        };
        let written = if doc.devices.is_empty() {
            scope
                .delete_automation_state(ItemKind::PushDevices, user.as_str())
                .await
                .map(drop)
        } else {
            let body =
                serde_json::to_string(&doc).map_err(|e| StoreError::Invalid(e.to_string()))?;
            scope
                .put_automation_state(AutomationItem {
                    tenant: scope.tenant().clone(),
                    kind: ItemKind::PushDevices,
                    id: user.to_string(),
                    version: version + 1,
                    updated_at: now_ms(),
                    updated_by: user.to_string(),
                    body,
                })
                .await
        };
        match written {
            Err(StoreError::Conflict(_)) if tries < 5 => tries += 1,
            Err(e) => return Err(e),
            Ok(()) => return Ok(Some(done)),
        }
    }
}

/// `@{u_…}` in a note, with each person's name.
async fn show_mentions(scope: &TenantScope, text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("@{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let id = UserId::from(&after[..end]);
                let name = match scope.user(&id).await {
                    Ok(Some(u)) => u.name,
                    _ => after[..end].to_owned(),
                };
                out.push('@');
                out.push_str(&name);
                rest = &after[end + 1..];
            }
            None => {
                out.push_str("@{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn preview(text: &str) -> String {
    let mut chars = text.chars();
    let mut short: String = chars.by_ref().take(PREVIEW_CHARS).collect();
    if chars.next().is_some() {
        short.push('…');
    }
    short
}

impl Inner {
    /// The words of a push, as the person's own app would show them.
    async fn compose(&self, scope: &TenantScope, due: &Due) -> PushNotice {
        let conversation = due.conversation.to_string();
        let customer_name = async {
            let thread = scope.thread(&due.conversation).await.ok().flatten()?;
            let contact = scope
                .contact_of(thread.customer.as_str())
                .await
                .ok()
                .flatten()?;
            contact.name.or(contact.profile_name)
        };
        let (title, name, body, tag) = match due.reason {
            PushReason::Mentioned => {
                let author = due.author.clone().unwrap_or_default();
                let text = show_mentions(scope, due.text.as_deref().unwrap_or("")).await;
                (
                    format!("{author} mentioned you"),
                    author,
                    preview(&text),
                    format!("m-{conversation}"),
                )
            }
            reason => {
                let name = customer_name
                    .await
                    .unwrap_or_else(|| switchboard_shared::api::mask_phone(&due.customer));
                let body = if reason == PushReason::Assigned {
                    "Conversation assigned to you".to_owned()
                } else if self.config.preview {
                    preview(due.text.as_deref().unwrap_or(""))
                } else {
                    "New message".to_owned()
                };
                (name.clone(), name, body, format!("c-{conversation}"))
            }
        };
        PushNotice {
            reason: due.reason,
            title,
            name,
            body,
            url: format!("/?c={conversation}"),
            tag,
            at: due.at,
        }
    }

    /// One push to one device, tried again while its push service is busy.
    async fn send(&self, device: &Device, notice: &PushNotice) -> Outcome {
        let mut tries = 0;
        loop {
            tries += 1;
            let (outcome, retry_after) = self.attempt(device, notice).await;
            let busy = match &outcome {
                Outcome::Failed(None, _) => true,
                Outcome::Failed(Some(s), _) => *s == 429 || *s >= 500,
                _ => false,
            };
            if !busy || tries >= TRIES {
                return outcome;
            }
            let wait = retry_after.unwrap_or(2u64.pow(tries)).min(30);
            tokio::time::sleep(Duration::from_secs(wait)).await;
        }
    }

    fn locked_clients(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, reqwest::Client)>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The push service's client: the one kept for its host, or a new one pinned to freshly
    /// checked addresses.
    async fn client(&self, url: &url::Url) -> Result<reqwest::Client, String> {
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port_or_known_default().unwrap_or_default()
        );
        if let Some((made, client)) = self.locked_clients().get(&key) {
            if made.elapsed() < CLIENT_TTL {
                return Ok(client.clone());
            }
        }
        let client = guard::pinned(
            url,
            &self.rules,
            Duration::from_secs(self.config.timeout_secs),
            concat!("Switchboard-Push/", env!("CARGO_PKG_VERSION")),
        )
        .await?;
        let mut clients = self.locked_clients();
        clients.retain(|_, (made, _)| made.elapsed() < CLIENT_TTL);
        clients.insert(key, (Instant::now(), client.clone()));
        Ok(client)
    }

    /// One HTTP request to the push service; the outcome and its `Retry-After` (seconds).
    async fn attempt(&self, device: &Device, notice: &PushNotice) -> (Outcome, Option<u64>) {
        let failed = |e: String| (Outcome::Failed(None, e), None);
        let url = match guard::check_url(&device.endpoint, &self.rules) {
            Ok(u) => u,
            Err(e) => return failed(e),
        };
        let client = match self.client(&url).await {
            Ok(c) => c,
            Err(e) => return failed(e),
        };
        let body = serde_json::to_vec(notice).expect("a notice serializes");
        let request = match request(
            &device.endpoint,
            (&device.p256dh, &device.auth),
            body,
            Duration::from_secs(self.config.ttl_secs),
        ) {
            Ok(r) => r,
            Err(e) => return failed(e),
        };
        let (parts, payload) = request.into_parts();
        // RFC 8030's Topic: a newer notice of the same tag replaces one still waiting.
        let topic = URL_SAFE_NO_PAD.encode(&sha2::Sha256::digest(notice.tag.as_bytes())[..24]);
        let sent = client
            .post(url.clone())
            .headers(parts.headers)
            .header("authorization", self.vapid.header(&url, now_ms() / 1000))
            .header("urgency", "high")
            .header("topic", topic)
            .body(payload)
            .send()
            .await;
        match sent {
            Err(e) => failed(guard::transport_error(&e)),
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse().ok());
                let outcome = match status {
                    200..=299 => Outcome::Delivered(status),
                    404 | 410 => Outcome::Gone(status),
                    _ => {
                        let text = response.text().await.unwrap_or_default();
                        let text: String = text.chars().take(200).collect();
                        Outcome::Failed(
                            Some(status),
                            format!("the push service answered {status}: {text}"),
                        )
                    }
                };
                (outcome, retry_after)
            }
        }
    }

    /// Writes what the attempts showed: devices gone or failing too long are pruned, errors
    /// and (now and then) the last success are noted.
    async fn settle(&self, scope: &TenantScope, user: &UserId, outcomes: Vec<(String, Outcome)>) {
        let now = now_ms();
        let result = change(scope, user, |doc| {
            let mut changed = false;
            for (id, outcome) in &outcomes {
                let Some(at) = doc.devices.iter().position(|d| d.id == *id) else {
                    continue;
                };
                let device = &mut doc.devices[at];
                match outcome {
                    Outcome::Delivered(_) => {
                        if device.last_error.is_some()
                            || device.last_sent_at.is_none_or(|t| now - t > SENT_STALE_MS)
                        {
                            device.last_error = None;
                            device.failures = 0;
                            device.last_sent_at = Some(now);
                            changed = true;
                        }
                    }
                    Outcome::Gone(status) => {
                        tracing::info!(status, device = %id, "a push subscription ended: pruned");
                        doc.devices.remove(at);
                        changed = true;
                    }
                    Outcome::Failed(_, error) => {
                        device.failures += 1;
                        device.last_error = Some(error.clone());
                        if device.failures >= MAX_FAILURES {
                            doc.devices.remove(at);
                        }
                        changed = true;
                    }
                }
            }
            changed.then_some(())
        })
        .await;
        if let Err(error) = result {
            tracing::warn!(%error, "could not note push outcomes");
        }
    }

    /// Sends one queued push to every device of its person.
    async fn deliver(self: Arc<Self>, tenant: TenantId, due: Due) {
        let scope = TenantScope::new(Arc::clone(&self.store), tenant);
        match scope.user(&due.user).await {
            Ok(Some(u)) if !u.disabled => {}
            _ => return,
        }
        let devices = match load(&scope, &due.user).await {
            Ok((_, doc)) => doc.devices,
            Err(error) => {
                tracing::warn!(%error, "could not read push devices");
                return;
            }
        };
        if devices.is_empty() {
            return;
        }
        let notice = self.compose(&scope, &due).await;
        let outcomes = futures_util::future::join_all(devices.iter().map(|d| async {
            let outcome = self.send(d, &notice).await;
            metrics::counter!("switchboard_push_sent_total", "outcome" => match outcome {
                Outcome::Delivered(_) => "delivered",
                Outcome::Gone(_) => "gone",
                Outcome::Failed(..) => "failed",
            })
            .increment(1);
            (d.id.clone(), outcome)
        }))
        .await;
        self.settle(&scope, &due.user, outcomes).await;
    }
}

async fn run(
    inner: Arc<Inner>,
    mut rx: mpsc::Receiver<(TenantId, Due)>,
    shutdown: CancellationToken,
) {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return,
            next = rx.recv() => next,
        };
        let Some((tenant, due)) = next else { return };
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let inner = Arc::clone(&inner);
        tokio::spawn(async move {
            inner.deliver(tenant, due).await;
            drop(permit);
        });
    }
}
