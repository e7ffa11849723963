//! The dispatcher: one task that turns facts into stored deliveries, starts their attempts,
//! keeps the retry timers and each endpoint's health. Attempts run on tasks of their own (at
//! most `concurrency` at once), write their outcome to the store themselves (so the store's
//! group commit gathers them) and report back for the next timer.
//!
//! The timers are hints: a due delivery is read back from the store before its attempt, and
//! one settled since (a replay, another attempt) is skipped. An endpoint that answers again
//! after failing has its waiting deliveries brought forward, so a receiver back from an outage
//! catches up at once instead of at each delivery's next retry; while an endpoint fails, one of
//! its waiting deliveries is tried every [`PROBE_MS`] outside the schedule (a probe neither
//! counts among its attempts nor moves its next one), so that a receiver back from an outage is
//! noticed within that time whatever the schedule's next retry.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_shared::webhooks::{Attempt, DeliveryState};
use switchboard_shared::TenantId;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::sync::CancellationToken;

use super::events::{self, Emitted};
use super::{guard, schedule, sign, Command, Inner, Live, CURSOR};
use crate::domain::{delivery_id, now_ms, DeliveryRecord, UnixMillis};
use crate::service::EventReceiver;

/// Facts gathered into one store write at most.
const BATCH: usize = 512;
/// The start of an answer the log keeps.
const RESPONSE_KEPT: usize = 1024;
/// How often the replay cursor may move, and how often settled deliveries are purged.
const CURSOR_EVERY_MS: i64 = 5_000;
const PURGE_EVERY_MS: i64 = 3_600_000;
/// How often the endpoints are read again (changes made on another server sharing the store;
/// this server's own apply at once).
const RELOAD_EVERY_MS: i64 = 10_000;
/// How often a failing endpoint is probed with one of its waiting deliveries.
const PROBE_MS: i64 = 30_000;
/// An endpoint's pinned connection is resolved and checked again after this long.
const CLIENT_TTL: Duration = Duration::from_secs(60);

/// A timer: when, whose, which delivery, and whether it goes whatever its stored time says
/// (brought forward by a recovery).
type Due = Reverse<(UnixMillis, TenantId, String, String, bool)>;

/// Why an attempt is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Its first, or a retry the schedule set.
    Scheduled,
    /// A person asked (`POST …/replay`).
    Replay,
    /// To learn whether a failing endpoint answers again.
    Probe,
}

/// What an attempt task reports.
struct Done {
    tenant: TenantId,
    endpoint: String,
    id: String,
    /// Whether the endpoint answered 2xx; `None` when nothing was attempted.
    answered: Option<bool>,
    /// When it is due again, while pending.
    due: Option<UnixMillis>,
}

/// An endpoint's HTTP client, pinned to the addresses checked for its URL.
struct Pinned {
    url: String,
    client: Result<(url::Url, reqwest::Client), String>,
    made: Instant,
}

pub(super) struct Shared {
    inner: Arc<Inner>,
    permits: Semaphore,
    clients: Mutex<HashMap<(TenantId, String), Arc<Pinned>>>,
    done: mpsc::UnboundedSender<Done>,
}

pub(super) fn spawn(
    inner: Arc<Inner>,
    bus: EventReceiver,
    intake: mpsc::UnboundedReceiver<Emitted>,
    commands: mpsc::UnboundedReceiver<Command>,
    shutdown: CancellationToken,
) {
    let (done, done_rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        permits: Semaphore::new(inner.config.concurrency),
        inner,
        clients: Mutex::new(HashMap::new()),
        done,
    });
    tokio::spawn(async move {
        let mut worker = Worker {
            shared,
            timers: BinaryHeap::new(),
            fresh: Vec::new(),
            unstored: Vec::new(),
            failing: HashMap::new(),
            probed: HashMap::new(),
        };
        worker.resume().await;
        worker.run(bus, intake, commands, done_rx, shutdown).await;
    });
}

struct Worker {
    shared: Arc<Shared>,
    timers: BinaryHeap<Due>,
    fresh: Vec<Emitted>,
    /// Deliveries a failed store write left behind: written again before anything newer.
    unstored: Vec<DeliveryRecord>,
    /// Each endpoint's failure streak as the attempts since the start saw it.
    failing: HashMap<(TenantId, String), Option<UnixMillis>>,
    /// When each failing endpoint was last probed.
    probed: HashMap<(TenantId, String), UnixMillis>,
}

impl Worker {
    /// Timers for every pending delivery (read page by page), and the failure streaks the
    /// endpoints' records carry (so that probing goes on across a restart).
    async fn resume(&mut self) {
        {
            let live = self
                .shared
                .inner
                .live
                .read()
                .unwrap_or_else(|p| p.into_inner());
            for endpoint in live.values().flat_map(|list| list.iter()) {
                if let Some(since) = endpoint.record.failing_since {
                    let key = (endpoint.record.tenant.clone(), endpoint.record.id.clone());
                    self.failing.insert(key, Some(since));
                }
            }
        }
        let store = &self.shared.inner.store;
        let mut cursor = None;
        let mut resumed = 0usize;
        loop {
            match store.pending_deliveries(cursor.as_ref(), 500).await {
                Ok(page) => {
                    for d in page.items {
                        resumed += 1;
                        self.timers
                            .push(Reverse((d.next_at, d.tenant, d.endpoint, d.id, false)));
                    }
                    match page.next {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "could not read the pending webhook deliveries; they wait for the next start");
                    break;
                }
            }
        }
        if resumed > 0 {
            tracing::info!(resumed, "webhook deliveries resumed");
        }
    }

    async fn run(
        &mut self,
        mut bus: EventReceiver,
        mut intake: mpsc::UnboundedReceiver<Emitted>,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut done: mpsc::UnboundedReceiver<Done>,
        shutdown: CancellationToken,
    ) {
        let keys = self.shared.inner.store.id_keys().clone();
        let (mut cursor_at, mut purged_at, mut reloaded_at) = (0i64, now_ms(), now_ms());
        let mut lagged = false;
        let mut probes = tokio::time::interval(Duration::from_millis(PROBE_MS as u64 / 6));
        probes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let next = self.timers.peek().map(|Reverse(d)| d.0);
            let wait = next.map_or(Duration::from_secs(3600), |at| {
                Duration::from_millis((at - now_ms()).clamp(0, 3_600_000) as u64)
            });
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                event = bus.recv() => match event {
                    Ok(event) => {
                        if let Some(e) = events::of_domain(&event, &keys) {
                            if !self.shared.inner.subscribed(&e.tenant, e.event).is_empty() {
                                self.fresh.push(e);
                            }
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                        // The cursor stays where it was: the next start replays the customers'
                        // messages among them.
                        lagged = true;
                        tracing::error!(missed, "webhooks fell behind the event bus; events were missed");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                Some(e) = intake.recv() => self.fresh.push(e),
                Some(command) = commands.recv() => self.command(command),
                Some(report) = done.recv() => self.on_done(report),
                _ = tokio::time::sleep(wait), if next.is_some() => self.fire(now_ms()),
                _ = probes.tick() => self.probe(now_ms()),
            }
            if (!self.fresh.is_empty() || !self.unstored.is_empty())
                && ((bus.is_empty() && intake.is_empty()) || self.fresh.len() >= BATCH)
            {
                self.store_fresh().await;
            }
            let now = now_ms();
            if !lagged
                && self.fresh.is_empty()
                && self.unstored.is_empty()
                && bus.is_empty()
                && intake.is_empty()
                && now >= cursor_at + CURSOR_EVERY_MS
            {
                // Everything published before `now` is stored as deliveries.
                match self.shared.inner.store.set_cursor(CURSOR, now).await {
                    Ok(()) => cursor_at = now,
                    Err(error) => tracing::warn!(%error, "could not move the webhooks' cursor"),
                }
            }
            if now >= reloaded_at + RELOAD_EVERY_MS {
                reloaded_at = now;
                let inner = Arc::clone(&self.shared.inner);
                tokio::spawn(async move {
                    if let Err(error) = inner.reload_all().await {
                        tracing::warn!(%error, "could not read the webhook endpoints again");
                    }
                });
            }
            if now >= purged_at + PURGE_EVERY_MS {
                purged_at = now;
                let store = Arc::clone(&self.shared.inner.store);
                let before = now - i64::from(self.shared.inner.config.keep_days) * 86_400_000;
                tokio::spawn(async move {
                    match store.purge_deliveries(before).await {
                        Ok(n) if n > 0 => {
                            tracing::info!(purged = n, "old webhook deliveries purged")
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(%error, "could not purge old webhook deliveries")
                        }
                    }
                });
            }
        }
    }

    /// Stores the gathered facts as deliveries (one group write), then attempts the new ones.
    async fn store_fresh(&mut self) {
        let now = now_ms();
        let mut records = std::mem::take(&mut self.unstored);
        for e in self.fresh.drain(..) {
            let body = events::body(&e);
            for live in self.shared.inner.subscribed(&e.tenant, e.event) {
                records.push(DeliveryRecord {
                    tenant: e.tenant.clone(),
                    endpoint: live.record.id.clone(),
                    id: delivery_id(&e.tenant, &live.record.id, e.event, &e.source),
                    event: e.event,
                    body: body.clone(),
                    created_at: now,
                    state: DeliveryState::Pending,
                    next_at: now,
                    attempts: Vec::new(),
                });
            }
        }
        if records.is_empty() {
            return;
        }
        match self.shared.inner.store.add_deliveries(&records).await {
            Ok(added) => {
                for (d, new) in records.into_iter().zip(added) {
                    if new {
                        Shared::start(&self.shared, d, Kind::Scheduled, None);
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, deliveries = records.len(), "could not store webhook deliveries; trying again");
                self.unstored = records;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Replay { delivery, reply } => {
                Shared::start(&self.shared, delivery, Kind::Replay, Some(reply));
            }
        }
    }

    /// Starts every timer that is due.
    fn fire(&mut self, now: UnixMillis) {
        while let Some(Reverse(due)) = self.timers.peek() {
            if due.0 > now {
                break;
            }
            let Some(Reverse((_, tenant, _, id, forced))) = self.timers.pop() else {
                break;
            };
            let shared = Arc::clone(&self.shared);
            tokio::spawn(async move {
                match shared.inner.store.get_delivery(&tenant, &id).await {
                    Ok(Some(d))
                        if d.state == DeliveryState::Pending && (forced || d.next_at <= now) =>
                    {
                        Shared::run_attempt(&shared, d, Kind::Scheduled, None).await
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, delivery = %id, "could not read a due webhook delivery; retrying in a minute");
                        let _ = shared.done.send(Done {
                            tenant,
                            endpoint: String::new(),
                            id,
                            answered: None,
                            due: Some(now + 60_000),
                        });
                    }
                }
            });
        }
    }

    /// Tries one waiting delivery of each endpoint that has been failing, at most every
    /// [`PROBE_MS`] per endpoint.
    fn probe(&mut self, now: UnixMillis) {
        let due: Vec<(TenantId, String)> = self
            .failing
            .iter()
            .filter(|(key, since)| {
                since.is_some() && self.probed.get(*key).is_none_or(|at| now - at >= PROBE_MS)
            })
            .map(|(key, _)| key.clone())
            .collect();
        for (tenant, endpoint) in due {
            let waiting = self
                .timers
                .iter()
                .filter(|Reverse(d)| d.1 == tenant && d.2 == endpoint && d.0 > now)
                .min_by_key(|Reverse(d)| d.0)
                .map(|Reverse(d)| d.3.clone());
            let Some(id) = waiting else {
                continue;
            };
            self.probed.insert((tenant.clone(), endpoint), now);
            let shared = Arc::clone(&self.shared);
            tokio::spawn(async move {
                if let Ok(Some(d)) = shared.inner.store.get_delivery(&tenant, &id).await {
                    if d.state == DeliveryState::Pending {
                        Shared::run_attempt(&shared, d, Kind::Probe, None).await;
                    }
                }
            });
        }
    }

    fn on_done(&mut self, report: Done) {
        if let Some(due) = report.due {
            self.timers.push(Reverse((
                due,
                report.tenant.clone(),
                report.endpoint.clone(),
                report.id,
                false,
            )));
        }
        let Some(answered) = report.answered else {
            return;
        };
        let key = (report.tenant.clone(), report.endpoint.clone());
        let stored = self
            .shared
            .inner
            .endpoint(&report.tenant, &report.endpoint)
            .map(|l| l.record.failing_since);
        let streak = *self
            .failing
            .entry(key.clone())
            .or_insert_with(|| stored.flatten());
        let now = now_ms();
        match (answered, streak) {
            (true, None) => {}
            (true, Some(_)) => {
                self.probed.remove(&key);
                self.failing.insert(key, None);
                self.bring_forward(&report.tenant, &report.endpoint, now);
                self.mark(&report.tenant, &report.endpoint, Health::Recovered);
            }
            (false, None) => {
                self.failing.insert(key, Some(now));
                self.mark(&report.tenant, &report.endpoint, Health::Failing(now));
            }
            (false, Some(since)) => {
                let days = self.shared.inner.config.disable_after_days;
                if schedule::disable_due(Some(since), now, days) {
                    self.probed.remove(&key);
                    self.failing.remove(&key);
                    self.mark(&report.tenant, &report.endpoint, Health::Disabled(since));
                }
            }
        }
    }

    /// An endpoint answered again: its waiting deliveries go now.
    fn bring_forward(&mut self, tenant: &TenantId, endpoint: &str, now: UnixMillis) {
        let timers = std::mem::take(&mut self.timers).into_vec();
        self.timers = timers
            .into_iter()
            .map(|Reverse(d)| {
                if &d.1 == tenant && d.2 == endpoint && d.0 > now {
                    Reverse((now, d.1, d.2, d.3, true))
                } else {
                    Reverse(d)
                }
            })
            .collect();
    }

    /// Records an endpoint's health on its stored record (off the loop).
    fn mark(&self, tenant: &TenantId, endpoint: &str, health: Health) {
        let inner = Arc::clone(&self.shared.inner);
        let (tenant, endpoint) = (tenant.clone(), endpoint.to_owned());
        tokio::spawn(async move {
            if let Err(error) = health.record(&inner, &tenant, &endpoint).await {
                tracing::warn!(%error, %endpoint, "could not record a webhook endpoint's health");
            }
        });
    }
}

enum Health {
    Failing(UnixMillis),
    Recovered,
    /// Failing without a break since then, for longer than allowed.
    Disabled(UnixMillis),
}

impl Health {
    async fn record(
        self,
        inner: &Inner,
        tenant: &TenantId,
        endpoint: &str,
    ) -> Result<(), crate::store::StoreError> {
        let Some(mut record) = inner.store.get_endpoint(tenant, endpoint).await? else {
            return Ok(());
        };
        let before = record.clone();
        let mut audit = None;
        match self {
            Health::Failing(since) => record.failing_since = record.failing_since.or(Some(since)),
            Health::Recovered => record.failing_since = None,
            Health::Disabled(since) => {
                if !record.enabled {
                    return Ok(());
                }
                record.enabled = false;
                let reason = format!(
                    "turned off: every delivery failed for {} days (since {})",
                    inner.config.disable_after_days,
                    jiff::Timestamp::from_millisecond(since).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
                );
                tracing::warn!(%tenant, %endpoint, "{reason}");
                let mut line = crate::auth::principal::audit_line(
                    tenant,
                    "system:webhooks".into(),
                    "Switchboard".into(),
                    "webhook.disable",
                    Some(format!("webhook:{endpoint}")),
                    "ok",
                    &Default::default(),
                );
                line.after = Some(serde_json::json!({ "reason": reason }).to_string());
                record.disabled_reason = Some(reason);
                audit = Some(line);
            }
        }
        if record == before {
            return Ok(());
        }
        inner.store.put_endpoint(&record, audit.as_ref()).await?;
        inner.reload(tenant).await
    }
}

impl Shared {
    fn start(
        shared: &Arc<Shared>,
        d: DeliveryRecord,
        kind: Kind,
        reply: Option<oneshot::Sender<DeliveryRecord>>,
    ) {
        let shared = Arc::clone(shared);
        tokio::spawn(async move { Shared::run_attempt(&shared, d, kind, reply).await });
    }

    /// One attempt, its outcome stored, the dispatcher told.
    async fn run_attempt(
        shared: &Arc<Shared>,
        mut d: DeliveryRecord,
        kind: Kind,
        reply: Option<oneshot::Sender<DeliveryRecord>>,
    ) {
        let Ok(_permit) = shared.permits.acquire().await else {
            return;
        };
        let live = shared.inner.endpoint(&d.tenant, &d.endpoint);
        let started = now_ms();
        let (attempt, answered) = match &live {
            None => (refusal(started, kind, "the endpoint was removed"), None),
            Some(l) if !l.record.enabled => {
                (refusal(started, kind, "the endpoint is turned off"), None)
            }
            Some(l) if l.keys.is_empty() => (
                refusal(
                    started,
                    kind,
                    "the endpoint's secret does not open with this server's secrets key; rotate it",
                ),
                None,
            ),
            Some(l) => {
                let a = shared.send(l, &d, kind).await;
                let ok = a.status.is_some_and(schedule::delivered);
                (a, Some(ok))
            }
        };
        let now = now_ms();
        d.record(attempt);
        match answered {
            Some(true) => d.state = DeliveryState::Delivered,
            // A replay or a probe leaves the schedule as it was.
            _ if kind != Kind::Scheduled => {}
            None => d.state = DeliveryState::Failed,
            Some(false) => {
                let jitter = rand::random::<f64>() * 2.0 - 1.0;
                match schedule::next_attempt(
                    &shared.inner.config.retry_delays_secs,
                    d.scheduled_attempts(),
                    now,
                    jitter,
                ) {
                    Some(at) => d.next_at = at,
                    None => d.state = DeliveryState::Failed,
                }
            }
        }
        if let Err(error) = shared.inner.store.update_delivery(&d).await {
            tracing::warn!(%error, delivery = %d.id, "could not store a webhook attempt's outcome");
        }
        let _ = shared.done.send(Done {
            tenant: d.tenant.clone(),
            endpoint: d.endpoint.clone(),
            id: d.id.clone(),
            answered,
            due: (d.state == DeliveryState::Pending && kind == Kind::Scheduled)
                .then_some(d.next_at),
        });
        if let Some(reply) = reply {
            let _ = reply.send(d);
        }
    }

    /// The endpoint's client, pinned to freshly checked addresses when it has none or an old one.
    async fn client(&self, live: &Live) -> Arc<Pinned> {
        let key = (live.record.tenant.clone(), live.record.id.clone());
        if let Some(p) = self
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            if p.url == live.record.url && p.made.elapsed() < CLIENT_TTL {
                return Arc::clone(p);
            }
        }
        let rules = &self.inner.rules;
        let client = async {
            let url = guard::check_url(&live.record.url, rules)?;
            let client = guard::pinned(
                &url,
                rules,
                Duration::from_secs(self.inner.config.timeout_secs),
                concat!("Switchboard-Webhooks/", env!("CARGO_PKG_VERSION")),
            )
            .await?;
            Ok((url, client))
        }
        .await;
        let pinned = Arc::new(Pinned {
            url: live.record.url.clone(),
            client,
            made: Instant::now(),
        });
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, Arc::clone(&pinned));
        pinned
    }

    /// Posts a delivery, signed, and keeps the start of the answer.
    async fn send(&self, live: &Live, d: &DeliveryRecord, kind: Kind) -> Attempt {
        let started = Instant::now();
        let at = now_ms();
        let pinned = self.client(live).await;
        let (url, client) = match &pinned.client {
            Ok(c) => c,
            Err(reason) => return refusal(at, kind, reason),
        };
        let timestamp = at / 1000;
        let signature = sign::header(&live.keys, &d.id, timestamp, &d.body);
        let timeout = Duration::from_secs(self.inner.config.timeout_secs);
        let exchange = async {
            let mut response = client
                .post(url.clone())
                .header("content-type", "application/json")
                .header("webhook-id", &d.id)
                .header("webhook-timestamp", timestamp.to_string())
                .header("webhook-signature", signature)
                .body(d.body.clone())
                .send()
                .await
                .map_err(|e| guard::transport_error(&e))?;
            let status = response.status();
            let mut kept = Vec::new();
            while kept.len() < RESPONSE_KEPT {
                match response.chunk().await {
                    Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                    _ => break,
                }
            }
            kept.truncate(RESPONSE_KEPT);
            let mut text = String::from_utf8_lossy(&kept).into_owned();
            if status.is_redirection() {
                text = format!(
                    "redirects are not followed (to {})",
                    response
                        .headers()
                        .get("location")
                        .and_then(|l| l.to_str().ok())
                        .unwrap_or("nowhere")
                );
            }
            Ok::<_, String>((status.as_u16(), text))
        };
        let outcome = tokio::time::timeout(timeout, exchange).await;
        let duration_ms = started.elapsed().as_millis().min(u128::from(u32::MAX)) as u32;
        let (status, error, response) = match outcome {
            Ok(Ok((status, text))) => (Some(status), None, text),
            Ok(Err(e)) => (None, Some(e), String::new()),
            Err(_) => (
                None,
                Some(format!("no answer within {} s", timeout.as_secs())),
                String::new(),
            ),
        };
        Attempt {
            at,
            status,
            error,
            response,
            duration_ms,
            replay: kind == Kind::Replay,
            probe: kind == Kind::Probe,
        }
    }
}

fn refusal(at: UnixMillis, kind: Kind, reason: &str) -> Attempt {
    Attempt {
        at,
        status: None,
        error: Some(reason.to_owned()),
        response: String::new(),
        duration_ms: 0,
        replay: kind == Kind::Replay,
        probe: kind == Kind::Probe,
    }
}
