//! Use cases: the only code that both persists and publishes.
//!
//! Owns: the number directory (which tenant and which secrets a business number belongs to),
//! the inbound webhook use case, the outbound send use case, and the stream of domain events the
//! real-time hub will fan out. Must not: know warp or SQL/CQL.

pub mod archive;
pub mod automation;
pub mod board;
pub mod broker;
pub mod campaigns;
pub mod commands;
pub mod compliance;
pub mod contacts;
pub mod costs;
pub mod crm;
pub mod csat;
pub mod demo;
pub mod documents;
pub mod inbound;
pub mod inbox;
pub mod media;
pub mod numbers;
pub mod outbound;
pub mod outbox;
pub mod push;
pub mod replies;
pub mod reports;
pub mod retention;
pub mod search;
pub mod settings;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use switchboard_shared::{PhoneNumberId, TenantId};
use tokio::sync::{broadcast, Notify};

use crate::config::NumberConfig;
/// Reading a stored message's quote, reaction and media, which files WhatsApp takes, and a
/// sentence for a message that is not plain text.
pub use crate::connector::parts::{describe, media_kind, message_parts};
use crate::connector::NumberEndpoint;
use crate::domain::DomainEvent;
use crate::secret::Secret;

/// Everything Switchboard knows about one business number.
#[derive(Clone, Debug)]
pub struct NumberEntry {
    pub tenant: TenantId,
    pub phone_number_id: PhoneNumberId,
    pub display_phone_number: String,
    pub waba_id: Option<String>,
    pub app_secret: Secret,
    pub verify_token: Secret,
    pub endpoint: NumberEndpoint,
    /// Throughput tier, messages per second.
    pub mps: u32,
    /// Whether the configuration manages the number (the file's, or the demo simulator's):
    /// the app cannot change it then.
    pub from_config: bool,
    /// A disabled number sends nothing, and what its webhooks carry is journaled only; its
    /// history stays, and its app secret still verifies webhooks (so Meta is acknowledged).
    pub enabled: bool,
}

impl NumberEntry {
    pub fn from_config(n: &NumberConfig) -> Self {
        Self {
            tenant: TenantId::new(n.tenant.clone()),
            phone_number_id: PhoneNumberId::new(n.phone_number_id.clone()),
            display_phone_number: n.display_phone_number.clone(),
            waba_id: n.waba_id.clone(),
            app_secret: n.app_secret.clone(),
            verify_token: n.verify_token.clone(),
            endpoint: NumberEndpoint {
                graph_api_url: n.graph_api_url.clone(),
                phone_number_id: n.phone_number_id.clone(),
                access_token: n.access_token.clone(),
            },
            mps: n.mps,
            from_config: true,
            enabled: true,
        }
    }
}

/// The business numbers in service, looked up by id, WABA or app secret. One shared map: every
/// clone sees a number connected, changed or removed at run time (`service::numbers`) at once,
/// so the webhook receiver, the outbox, the governor and routing need no restart.
#[derive(Clone, Debug, Default)]
pub struct NumberDirectory {
    by_id: Arc<RwLock<HashMap<PhoneNumberId, Arc<NumberEntry>>>>,
}

impl NumberDirectory {
    pub fn new(entries: impl IntoIterator<Item = NumberEntry>) -> Self {
        let by_id = entries
            .into_iter()
            .map(|e| (e.phone_number_id.clone(), Arc::new(e)))
            .collect();
        Self {
            by_id: Arc::new(RwLock::new(by_id)),
        }
    }

    // A panic elsewhere while holding the lock cannot leave the map half-changed (each change
    // is one insert or remove), so a poisoned lock is used as it is.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<PhoneNumberId, Arc<NumberEntry>>> {
        self.by_id.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<PhoneNumberId, Arc<NumberEntry>>> {
        self.by_id.write().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, id: &PhoneNumberId) -> Option<Arc<NumberEntry>> {
        self.read().get(id).cloned()
    }

    /// Every number known now, disabled ones included, in no particular order.
    pub fn entries(&self) -> Vec<Arc<NumberEntry>> {
        self.read().values().cloned().collect()
    }

    /// The numbers in service (enabled) now, in no particular order.
    pub fn enabled(&self) -> Vec<Arc<NumberEntry>> {
        self.read()
            .values()
            .filter(|e| e.enabled)
            .cloned()
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Puts a number in service, or replaces its settings.
    pub fn put(&self, entry: NumberEntry) {
        self.write()
            .insert(entry.phone_number_id.clone(), Arc::new(entry));
    }

    /// Takes a number out of service.
    pub fn remove(&self, id: &PhoneNumberId) -> Option<Arc<NumberEntry>> {
        self.write().remove(id)
    }

    /// The distinct app secrets, each with the numbers it signs for.
    pub fn secrets(&self) -> Vec<Secret> {
        let mut secrets: Vec<Secret> = Vec::new();
        for entry in self.read().values() {
            if !secrets.contains(&entry.app_secret) {
                secrets.push(entry.app_secret.clone());
            }
        }
        secrets
    }
}

/// The in-process event stream. Bounded: a subscriber that falls more than `capacity` events
/// behind is told how many it missed (`RecvError::Lagged`) and must resynchronise from the store.
///
/// Webhooks, the one source that can outrun the subscribers, pace themselves
/// ([`Events::room_for`]): while more than a quarter of the capacity is unread by the slowest
/// subscriber, their acknowledgement waits, so Meta's senders slow down instead of the inbox
/// lagging, which would tell every socket to resync (issue 5's `e2e` at 5,000 msg/s). Other
/// publishers (replies, notes) are few and never wait.
/// Account-level events waiting for their slowest reader: Meta sends a handful a day.
const NOTICES: usize = 256;

#[derive(Clone)]
pub struct Events {
    sender: broadcast::Sender<DomainEvent>,
    /// Woken whenever a subscriber takes an event while there is room.
    room: Arc<Notify>,
    high_water: usize,
    /// Held by a paced publisher from its check for room to its publish, so concurrent
    /// webhooks cannot all see the same room and overrun the bus together.
    pacing: Arc<tokio::sync::Mutex<()>>,
    /// Account-level webhook events once stored (number quality, template status and
    /// quality): few, for the services that act on them (campaigns pause), not for the hub.
    notices: broadcast::Sender<(TenantId, crate::domain::AccountEvent)>,
    /// Every subscriber's name and progress, so a bus that stays full can say who holds it.
    subscribers: Arc<std::sync::Mutex<Vec<Subscription>>>,
}

/// A subscriber's name and its progress (gone when it is dropped).
type Subscription = (&'static str, std::sync::Weak<Progress>);

/// How far one subscriber has read: when it last took an event, and how many it had left then.
#[derive(Default)]
struct Progress {
    taken_at_ms: std::sync::atomic::AtomicI64,
    left: std::sync::atomic::AtomicUsize,
}

impl Events {
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
            room: Arc::new(Notify::new()),
            high_water: (capacity / 4).max(1),
            pacing: Arc::new(tokio::sync::Mutex::new(())),
            notices: broadcast::channel(NOTICES).0,
            subscribers: Arc::default(),
        }
    }

    /// Announces a stored account-level event to [`Events::notices`].
    pub fn notify(&self, tenant: TenantId, event: crate::domain::AccountEvent) {
        let _ = self.notices.send((tenant, event));
    }

    /// Account-level events from now on.
    pub fn notices(&self) -> broadcast::Receiver<(TenantId, crate::domain::AccountEvent)> {
        self.notices.subscribe()
    }

    /// Hands every account-level event from now on to `on` (`None`: some were missed, the
    /// subscriber fell behind), one at a time, until `shutdown`.
    pub fn follow_notices<F, Fut>(&self, shutdown: tokio_util::sync::CancellationToken, mut on: F)
    where
        F: FnMut(Option<(TenantId, crate::domain::AccountEvent)>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let mut notices = self.notices.subscribe();
        tokio::spawn(async move {
            loop {
                let notice = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    notice = notices.recv() => notice,
                };
                match notice {
                    Ok(notice) => on(Some(notice)).await,
                    Err(broadcast::error::RecvError::Lagged(_)) => on(None).await,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// Publishes `events` in order, never more at once than fits under the high-water mark:
    /// chunk by chunk, each after waiting (at most `limit`) for its room, one paced publisher at
    /// a time. However large one webhook is, and however many arrive together, the bus stays
    /// within its capacity while subscribers keep reading, so routing and the outbox miss
    /// nothing (a 5,000-message webhook once made the inbox skip 903 conversations). Returns
    /// false when some chunk's wait gave up, so a subscriber that stopped reading cannot hold
    /// webhooks forever; the events were published anyway.
    pub async fn publish_paced(&self, events: Vec<DomainEvent>, limit: Duration) -> bool {
        let _turn = self.pacing.lock().await;
        let mut all_in_time = true;
        let mut events = events.into_iter().peekable();
        while events.peek().is_some() {
            let chunk: Vec<DomainEvent> = events.by_ref().take(self.high_water).collect();
            all_in_time &= self.room_for(chunk.len(), limit).await;
            for event in chunk {
                self.publish(event);
            }
        }
        all_in_time
    }

    pub fn publish(&self, event: DomainEvent) {
        // No subscriber is fine: nothing is lost that the store does not hold.
        let _ = self.sender.send(event);
    }

    /// Waits until `n` more events fit under the high-water mark (or the bus is empty), at most
    /// `limit`. Returns false when the limit passed first; the caller publishes anyway.
    pub async fn room_for(&self, n: usize, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a wake-up between the check and the wait counts.
            notified.as_mut().enable();
            let queued = self.sender.len();
            if queued == 0 || queued + n <= self.high_water {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    /// A new subscriber, named for [`Events::slowest`].
    pub fn subscribe(&self, name: &'static str) -> EventReceiver {
        let progress = Arc::new(Progress::default());
        progress.taken_at_ms.store(
            crate::domain::now_ms(),
            std::sync::atomic::Ordering::Relaxed,
        );
        let mut subscribers = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subscribers.retain(|(_, p)| p.strong_count() > 0);
        subscribers.push((name, Arc::downgrade(&progress)));
        EventReceiver {
            rx: self.sender.subscribe(),
            room: Arc::clone(&self.room),
            high_water: self.high_water,
            progress,
        }
    }

    /// The subscribers, the one that took an event longest ago first, each with how long ago
    /// that was and how many events it had left then: what a "bus stayed full" warning names.
    pub fn slowest(&self) -> String {
        let now = crate::domain::now_ms();
        let subscribers = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        let mut seen: Vec<(i64, &str, usize)> = subscribers
            .iter()
            .filter_map(|(name, p)| {
                let p = p.upgrade()?;
                let idle = now - p.taken_at_ms.load(std::sync::atomic::Ordering::Relaxed);
                Some((
                    idle,
                    *name,
                    p.left.load(std::sync::atomic::Ordering::Relaxed),
                ))
            })
            .collect();
        seen.sort_by_key(|s| std::cmp::Reverse(s.0));
        seen.iter()
            .map(|(idle, name, left)| format!("{name}: took one {idle} ms ago, {left} left then"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A subscriber's end of [`Events`]; taking an event wakes paced publishers when there is room.
pub struct EventReceiver {
    rx: broadcast::Receiver<DomainEvent>,
    room: Arc<Notify>,
    high_water: usize,
    progress: Arc<Progress>,
}

impl EventReceiver {
    pub async fn recv(&mut self) -> Result<DomainEvent, broadcast::error::RecvError> {
        let event = self.rx.recv().await;
        let left = self.rx.len();
        self.progress.taken_at_ms.store(
            crate::domain::now_ms(),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.progress
            .left
            .store(left, std::sync::atomic::Ordering::Relaxed);
        if left < self.high_water {
            self.room.notify_waiters();
        }
        event
    }

    /// Whether every event published so far has been taken.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::StatusUpdate;
    use switchboard_shared::{MessageStatus, WaId, Wamid};

    fn status(i: usize) -> DomainEvent {
        DomainEvent::StatusUpdated {
            tenant: TenantId::from("t"),
            status: StatusUpdate {
                number: PhoneNumberId::from("1"),
                wamid: Wamid::from(format!("w{i}").as_str()),
                recipient: WaId::from("79161234567"),
                status: MessageStatus::Delivered,
                at_ms: 0,
                error_codes: Vec::new(),
                raw: String::new(),
                callback: None,
            },
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_paced_publisher_waits_for_the_slowest_subscriber_instead_of_overrunning_it() {
        let events = Events::new(16); // high water 4
        let mut slow = events.subscribe("slow");
        for i in 0..4 {
            assert!(events.room_for(1, Duration::from_secs(1)).await);
            events.publish(status(i));
        }
        // Full: the fifth waits until the subscriber takes one, however long that takes.
        let publisher = {
            let events = events.clone();
            tokio::spawn(async move {
                let room = events.room_for(1, Duration::from_secs(60)).await;
                events.publish(status(4));
                room
            })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!publisher.is_finished(), "no room yet");
        slow.recv().await.expect("an event");
        assert!(publisher.await.expect("the publisher finishes"));
        let mut taken = 1;
        while !slow.is_empty() {
            slow.recv().await.expect("nothing lagged");
            taken += 1;
        }
        assert_eq!(taken, 5);
        // With nobody reading at all, the wait gives up at its limit.
        for i in 0..4 {
            events.publish(status(i));
        }
        assert!(!events.room_for(1, Duration::from_secs(2)).await);
    }
}
