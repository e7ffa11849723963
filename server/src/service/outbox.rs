//! The durable outbox: every message the business sends is stored before anyone hears "queued",
//! then sent from here at the governor's pace, so that neither a 130429 storm nor a crash loses
//! or repeats it.
//!
//! - **One lane per customer**: a customer's messages go one at a time, in the order they were
//!   queued; customers do not wait for each other (the governor paces both).
//! - **Attempts are recorded before they leave** (`sending`). A send whose answer never came (a
//!   timeout, or a crash while the request was out) is *in doubt*: WhatsApp may have taken it.
//!   Every request carries the send's id as `biz_opaque_callback_data`, which WhatsApp echoes in
//!   the message's status webhooks, so a status naming it settles the doubt with the real wamid.
//!   Only after `in_doubt_grace_secs` with no such status is it sent again, with the same
//!   idempotency key.
//! - **Retries**: throttling answers (130429, 131056) wait for the governor's backoff and do not
//!   count against `max_attempts`; transient failures (5xx, connection refused, 131000) back off
//!   and count (a campaign's send keeps trying for up to an hour: the campaign waits out an
//!   outage); anything else fails the send for good, and `send_failed` tells the agent why.
//!
//! Owns: the lanes, the in-doubt set, recovery at start. Must not: check permissions or the
//! 24-hour window (the caller did), or talk to the Cloud API except through [`Outbound`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_shared::{PhoneNumberId, SendId, TenantId, WaId, Wamid};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::compliance::Screened;
use super::outbound::{Outbound, OutboundError};
use super::{Events, NumberDirectory};
use crate::config::OutboxConfig;
use crate::connector::wire::{Content, SendRequest};
use crate::connector::CloudApiError;
use crate::domain::now_ms;
use crate::domain::DomainEvent;
use crate::domain::{send_id, OutboxRecord, SendState, ThreadRecord};
use crate::store::{Store, StoreError};

/// Throttling answers in a row after which a send is given up (about an hour at the governor's
/// 64 s ceiling).
const MAX_THROTTLED: u32 = 60;
/// How long a campaign's send keeps retrying transient failures (Meta answering 5xx) beyond
/// `max_attempts`: an outage of minutes makes a campaign wait, not fail its recipients. The
/// retries go through the governor like any attempt, so they never exceed the number's tier;
/// an agent's reply still fails after `max_attempts`, so that the agent hears of it.
const CAMPAIGN_PATIENCE: Duration = Duration::from_secs(3600);
/// The longest client key accepted.
pub const MAX_KEY_CHARS: usize = 100;

type LaneKey = (PhoneNumberId, WaId);

#[derive(Default)]
struct Lanes {
    waiting: HashMap<LaneKey, VecDeque<OutboxRecord>>,
    running: HashSet<LaneKey>,
    /// Every send in a lane or being sent, so that recovery and a retry do not add it twice.
    known: HashSet<SendId>,
}

struct Shared {
    outbound: Arc<Outbound>,
    store: Arc<dyn Store>,
    events: Events,
    config: OutboxConfig,
    lanes: Mutex<Lanes>,
    /// Sends in doubt, and the wamid a status webhook named for them.
    in_doubt: Mutex<HashMap<String, Option<Wamid>>>,
    settled: Notify,
    shutdown: CancellationToken,
}

/// A handle to the outbox. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

/// What a send is about and who asked.
pub struct NewSend<'a> {
    pub tenant: &'a TenantId,
    pub number: &'a PhoneNumberId,
    pub customer: &'a WaId,
    pub content: Content,
    /// What history shows for it; `None` for the content's own summary.
    pub text: Option<String>,
    pub reply_to: Option<&'a Wamid>,
    /// `user:u_…`, `api_key:k_…`, `demo`.
    pub author: &'a str,
    /// The client's key for this message; `None` makes a new send every time.
    pub client_key: Option<&'a str>,
}

impl Outbox {
    /// Starts the outbox, following the status webhooks that settle sends in doubt. Call
    /// [`Outbox::resume`] once everything that listens to its events is started.
    pub fn start(
        outbound: Arc<Outbound>,
        store: Arc<dyn Store>,
        events: &Events,
        config: OutboxConfig,
        shutdown: CancellationToken,
    ) -> Self {
        let outbox = Self {
            shared: Arc::new(Shared {
                outbound,
                store,
                events: events.clone(),
                config,
                lanes: Mutex::default(),
                in_doubt: Mutex::default(),
                settled: Notify::new(),
                shutdown,
            }),
        };
        outbox.follow_statuses(events);
        outbox
    }

    /// Takes back every unfinished send of the configured numbers, oldest first.
    pub async fn resume(&self, numbers: &NumberDirectory) -> Result<(), StoreError> {
        let outbox = self;
        let mut recovered = 0usize;
        for entry in numbers.enabled() {
            let mut cursor = None;
            loop {
                let page = outbox
                    .shared
                    .store
                    .pending_sends(
                        &entry.phone_number_id,
                        cursor.as_ref(),
                        crate::store::MAX_PAGE,
                    )
                    .await?;
                recovered += page.items.len();
                for send in page.items {
                    outbox.submit(send);
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        if recovered > 0 {
            tracing::info!(sends = recovered, "outbox: resuming unfinished sends");
        }
        Ok(())
    }

    /// An agent's message, screened by the word filter: WhatsApp's rules, the basic checks and
    /// the 24-hour window, then queued.
    /// `reply_to` quotes one of the conversation's messages.
    pub async fn compose(
        &self,
        thread: &ThreadRecord,
        draft: Screened,
        reply_to: Option<&Wamid>,
        author: &str,
        client_key: Option<&str>,
        now: i64,
    ) -> Result<OutboxRecord, OutboundError> {
        let checked = self
            .shared
            .outbound
            .check_draft(thread, draft.into_draft(), now)
            .await?;
        self.enqueue(NewSend {
            tenant: &thread.tenant,
            number: &thread.number,
            customer: &thread.customer,
            content: checked.content,
            text: checked.text,
            reply_to,
            author,
            client_key,
        })
        .await
    }

    /// Stores a send durably and queues it. A client key already used by the same author
    /// returns that send as it stands (queued, sent or failed) and queues nothing.
    pub async fn enqueue(&self, send: NewSend<'_>) -> Result<OutboxRecord, OutboundError> {
        self.shared.outbound.entry(send.tenant, send.number)?;
        if let Some(key) = send.client_key {
            if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
                return Err(OutboundError::Rejected(format!(
                    "the key must have 1 to {MAX_KEY_CHARS} characters"
                )));
            }
        }
        let random;
        let key = match send.client_key {
            Some(k) => k,
            None => {
                random = crate::domain::new_id("k");
                &random
            }
        };
        let conversation =
            self.shared
                .store
                .id_keys()
                .conversation_id(send.tenant, send.number, send.customer);
        let id = send_id(send.tenant, &conversation, send.author, key);
        let mut request = SendRequest::new(send.customer.as_str(), send.content);
        if let Some(wamid) = send.reply_to {
            request = request.replying_to(wamid.as_str());
        }
        request.biz_opaque_callback_data = Some(id.to_string());
        let now = now_ms();
        let record = OutboxRecord {
            tenant: send.tenant.clone(),
            id,
            conversation,
            number: send.number.clone(),
            customer: send.customer.clone(),
            author: send.author.to_owned(),
            request: serde_json::to_string(&request).map_err(|e| {
                OutboundError::Rejected(format!("the message cannot be encoded: {e}"))
            })?,
            kind: request.content.kind().to_owned(),
            text: send.text.or_else(|| request.content.summary()),
            state: SendState::Queued,
            attempts: 0,
            wamid: None,
            error: None,
            created_at: now,
            updated_at: now,
        };
        let stored = self.shared.store.enqueue_send(&record).await?;
        if stored.request != record.request {
            return Err(OutboundError::KeyReused);
        }
        if stored == record {
            metrics::counter!("switchboard_outbox_queued_total").increment(1);
            self.submit(stored.clone());
        }
        Ok(stored)
    }

    /// A send as it stands, for its tenant.
    pub async fn get(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<Option<OutboxRecord>, StoreError> {
        self.shared.store.get_send(tenant, &SendId::from(id)).await
    }

    /// Puts an unfinished send in its customer's lane, and starts the lane if it was idle.
    fn submit(&self, send: OutboxRecord) {
        let lane = (send.number.clone(), send.customer.clone());
        {
            let mut lanes = self.shared.lanes.lock().unwrap_or_else(|p| p.into_inner());
            if !lanes.known.insert(send.id.clone()) {
                return;
            }
            lanes
                .waiting
                .entry(lane.clone())
                .or_default()
                .push_back(send);
            if !lanes.running.insert(lane.clone()) {
                return;
            }
        }
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move { shared.run_lane(lane).await });
    }

    /// Status webhooks that name one of our sends settle it if it is in doubt.
    fn follow_statuses(&self, events: &Events) {
        let mut rx = events.subscribe("outbox");
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    event = rx.recv() => event,
                };
                match event {
                    Ok(DomainEvent::StatusUpdated { status, .. }) => {
                        let Some(id) = status.callback.as_deref() else {
                            continue;
                        };
                        let mut doubts = shared.in_doubt.lock().unwrap_or_else(|p| p.into_inner());
                        if let Some(slot) = doubts.get_mut(id) {
                            *slot = Some(status.wamid.clone());
                            shared.settled.notify_waiters();
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "outbox lagged behind the event bus");
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }
}

/// What to do after a failed attempt.
enum Next {
    /// The governor holds the schedule back; try again when it allows.
    Throttled,
    /// A transient failure: try again after a backoff.
    Retry,
    /// The answer was lost: WhatsApp may have the message.
    InDoubt,
    /// Give up.
    Fail,
}

fn classify(error: &CloudApiError) -> Next {
    if matches!(error.code(), Some(130429 | 131056)) {
        return Next::Throttled;
    }
    match error {
        CloudApiError::Ambiguous(_) => Next::InDoubt,
        e if e.is_retryable() => Next::Retry,
        _ => Next::Fail,
    }
}

impl Shared {
    async fn run_lane(self: Arc<Self>, lane: LaneKey) {
        loop {
            let next = {
                let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
                let send = lanes.waiting.get_mut(&lane).and_then(VecDeque::pop_front);
                if send.is_none() {
                    lanes.waiting.remove(&lane);
                    lanes.running.remove(&lane);
                }
                send
            };
            let Some(send) = next else { return };
            let id = send.id.clone();
            let finished = self.deliver(send).await;
            let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
            lanes.known.remove(&id);
            if !finished {
                // Shutting down: the rest of the lane stays pending in the store.
                lanes.waiting.remove(&lane);
                lanes.running.remove(&lane);
                return;
            }
        }
    }

    /// Takes a send to the end (sent or failed). Returns false when shutdown stopped it; it
    /// stays pending in the store for the next start.
    async fn deliver(&self, mut send: OutboxRecord) -> bool {
        let Ok(entry) = self.outbound.entry(&send.tenant, &send.number) else {
            return self
                .fail(send, "the number is no longer configured".into())
                .await;
        };
        let request: SendRequest = match serde_json::from_str(&send.request) {
            Ok(r) => r,
            Err(e) => {
                return self
                    .fail(send, format!("stored request unreadable: {e}"))
                    .await
            }
        };
        match send.state {
            SendState::Sent => return self.sent(send).await,
            SendState::Failed => return true,
            SendState::Sending => {
                // A previous run sent it and stopped before the answer was stored.
                if let Some(wamid) = self.await_settlement(send.id.as_str()).await {
                    send.wamid = Some(wamid);
                    return self.sent(send).await;
                }
            }
            SendState::Queued => {}
        }
        let mut counted = 0u32;
        let mut throttled = 0u32;
        let mut failing_since = None::<tokio::time::Instant>;
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return false,
                _ = self.outbound.wait_turn(&entry, &send.customer) => {}
            }
            send.state = SendState::Sending;
            send.attempts += 1;
            send.updated_at = now_ms();
            if !self.persist(&send).await {
                return false;
            }
            let result = self
                .outbound
                .attempt(&entry, &request, send.id.as_str())
                .await;
            let error = match result {
                Ok(wamid) => {
                    send.wamid = Some(wamid);
                    return self.sent(send).await;
                }
                Err(e) => e,
            };
            metrics::counter!("switchboard_outbox_failed_attempts_total").increment(1);
            tracing::debug!(send = %send.id, attempt = send.attempts, %error, "send attempt failed");
            let since = *failing_since.get_or_insert_with(tokio::time::Instant::now);
            let patient = send.campaign().is_some() && since.elapsed() < CAMPAIGN_PATIENCE;
            match classify(&error) {
                Next::Throttled if throttled < MAX_THROTTLED => throttled += 1,
                Next::Retry if counted + 1 < self.config.max_attempts || patient => {
                    counted += 1;
                    let pause = error.backoff(counted - 1);
                    tokio::select! {
                        _ = self.shutdown.cancelled() => return false,
                        _ = tokio::time::sleep(pause) => {}
                    }
                }
                Next::InDoubt if counted + 1 < self.config.max_attempts => {
                    counted += 1;
                    if let Some(wamid) = self.await_settlement(send.id.as_str()).await {
                        send.wamid = Some(wamid);
                        return self.sent(send).await;
                    }
                }
                _ => return self.fail(send, error.to_string()).await,
            }
        }
    }

    /// Waits up to the grace period for a status webhook naming the send.
    async fn await_settlement(&self, id: &str) -> Option<Wamid> {
        let lock = || self.in_doubt.lock().unwrap_or_else(|p| p.into_inner());
        lock().insert(id.to_owned(), None);
        let deadline = tokio::time::Instant::now() + self.config.in_doubt_grace();
        let wamid = loop {
            let notified = self.settled.notified();
            if let Some(Some(w)) = lock().get(id) {
                break Some(w.clone());
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(deadline) => break None,
                _ = self.shutdown.cancelled() => break None,
            }
        };
        lock().remove(id);
        if wamid.is_some() {
            metrics::counter!("switchboard_outbox_settled_by_status_total").increment(1);
        }
        wamid
    }

    /// Stores the send as sent (and its message in the history), then announces it.
    async fn sent(&self, mut send: OutboxRecord) -> bool {
        send.state = SendState::Sent;
        send.error = None;
        send.updated_at = now_ms();
        if !self.persist(&send).await {
            return false;
        }
        metrics::counter!("switchboard_outbox_sent_total").increment(1);
        if let Some(message) = send.sent_message() {
            // Logs are not personal data stores: the customer masked, the message by its send id.
            tracing::info!(tenant = %send.tenant, number = %send.number, customer = %switchboard_shared::api::mask_phone(send.customer.as_str()), send = %send.id, "message sent");
            self.events.publish(DomainEvent::MessageSent {
                message,
                outbox: Some(send.id.into_string()),
                author: Some(send.author),
            });
        }
        true
    }

    async fn fail(&self, mut send: OutboxRecord, error: String) -> bool {
        tracing::warn!(send = %send.id, %error, "send failed for good");
        send.state = SendState::Failed;
        send.error = Some(error);
        send.updated_at = now_ms();
        if !self.persist(&send).await {
            return false;
        }
        metrics::counter!("switchboard_outbox_failed_total").increment(1);
        self.events.publish(DomainEvent::SendFailed { send });
        true
    }

    /// Writes a send's progress, retrying while the store is unavailable. Returns false only
    /// when shutdown came first (the store then still holds the previous state).
    async fn persist(&self, send: &OutboxRecord) -> bool {
        let mut pause = Duration::from_millis(100);
        loop {
            match self.store.update_send(send).await {
                Ok(()) => return true,
                Err(error) => {
                    tracing::error!(%error, send = %send.id, "could not record a send's progress; retrying");
                }
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return false,
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(5));
        }
    }
}
