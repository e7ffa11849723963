//! The inbound webhook use case: authenticate, interpret, persist durably, then publish.
//!
//! Order matters: nothing is stored before the signature is verified against the app secret of
//! every number the payload names; the raw body and its events are committed in one store call;
//! only after the commit does the caller acknowledge Meta (so a crash before it means Meta
//! retries, and the idempotent store turns the retry into a no-op for what was already there).

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_shared::TenantId;

use super::contacts::stop_words::StopWords;
use super::inbox::REPLAY_CURSOR;
use super::{Events, NumberDirectory};
use crate::connector::{signature, webhook};
use crate::domain::DomainEvent;
use crate::domain::{
    now_ms, ConsentChange, InboundEvent, InboundMessage, IngestBatch, IngestReport, MediaRecord,
    StopKeywords, UnixMillis,
};
use crate::secret::Secret;
use crate::store::{Store, StoreError};
use switchboard_shared::contacts::{ConsentEvidence, ConsentSource, Marketing};

#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("missing X-Hub-Signature-256 header")]
    MissingSignature,
    #[error("X-Hub-Signature-256 does not match the body for any configured app secret")]
    BadSignature,
    #[error("the payload names number {0}, which belongs to a different app than the signature")]
    WrongApp(String),
    #[error(
        "the payload names WhatsApp Business Account {0}, which belongs to a different app than the signature"
    )]
    WrongAppAccount(String),
    #[error(transparent)]
    Malformed(#[from] webhook::WebhookError),
    #[error("could not store the webhook: {0}")]
    Store(#[from] StoreError),
}

impl InboundError {
    /// Whether the sender could not prove it speaks for the app: its address is then paced.
    pub fn is_forgery(&self) -> bool {
        matches!(
            self,
            Self::MissingSignature
                | Self::BadSignature
                | Self::WrongApp(_)
                | Self::WrongAppAccount(_)
        )
    }
}

pub struct Inbound {
    store: Arc<dyn Store>,
    numbers: NumberDirectory,
    events: Events,
    /// Whether message text may appear in logs: only for the demo's simulated customers, never
    /// for real ones (their messages are personal data).
    log_text: bool,
    /// A customer's message that is just one of their workspace's stop words opts them out of
    /// marketing.
    stop: Arc<StopWords>,
    /// Prices what Meta priced.
    costs: super::costs::Costs,
}

impl Inbound {
    pub fn new(
        store: Arc<dyn Store>,
        numbers: NumberDirectory,
        events: Events,
        log_text: bool,
        stop: Arc<StopWords>,
        costs: super::costs::Costs,
    ) -> Self {
        Self {
            store,
            numbers,
            events,
            log_text,
            stop,
            costs,
        }
    }

    /// Which configured secret signed `body`, if any.
    fn signer(&self, body: &[u8], header: &str) -> Option<Secret> {
        self.numbers
            .secrets()
            .into_iter()
            .find(|secret| signature::verify(secret.expose().as_bytes(), body, header))
    }

    /// Handles one webhook POST. `Ok` means the webhook is durable and may be acknowledged.
    pub async fn handle(
        &self,
        body: &[u8],
        signature_header: Option<&str>,
        received_at: UnixMillis,
    ) -> Result<IngestReport, InboundError> {
        let started = Instant::now();
        let header = signature_header.ok_or(InboundError::MissingSignature)?;
        let secret = &self
            .signer(body, header)
            .ok_or(InboundError::BadSignature)?;
        let parsed = webhook::parse(body, received_at)?;

        // A payload may only ever reach tenants whose app signed it: every number and every
        // WhatsApp Business Account it names that is configured here must belong to that app.
        for number in parsed.numbers() {
            if let Some(entry) = self.numbers.get(number) {
                if &entry.app_secret != secret {
                    return Err(InboundError::WrongApp(number.to_string()));
                }
            }
        }
        for change in &parsed.changes {
            if let Some(waba) = change.waba_id.as_deref() {
                let entries = self.numbers.entries();
                let mut owners = entries
                    .iter()
                    .filter(|e| e.waba_id.as_deref() == Some(waba))
                    .peekable();
                if owners.peek().is_some() && !owners.any(|e| &e.app_secret == secret) {
                    return Err(InboundError::WrongAppAccount(waba.to_owned()));
                }
            }
        }

        let mut events = Vec::new();
        let mut unrouted = 0usize;
        for change in parsed.changes {
            let tenant = self.tenant_for(change.number.as_ref(), change.waba_id.as_deref(), secret);
            match tenant {
                Some(tenant) => {
                    events.extend(change.events.into_iter().map(|e| (tenant.clone(), e)))
                }
                None => unrouted += change.events.len(),
            }
        }
        if unrouted > 0 {
            tracing::warn!(
                unrouted,
                "webhook events for numbers no tenant owns were journaled only"
            );
            metrics::counter!("switchboard_webhook_unrouted_events_total")
                .increment(unrouted as u64);
        }

        // A customer who writes just "STOP" (or another of the workspace's stop words) opts out
        // of marketing; the consent change is stored with the message, in the same batch.
        let mut lists: Vec<(TenantId, Arc<StopKeywords>)> = Vec::new();
        for (tenant, e) in &events {
            let text = matches!(e, InboundEvent::Message(m) if m.kind == "text");
            if text && !lists.iter().any(|(t, _)| t == tenant) {
                lists.push((tenant.clone(), self.stop.of(&*self.store, tenant).await?));
            }
        }
        let stops_for = |tenant: &TenantId, text: &str| {
            lists
                .iter()
                .any(|(t, list)| t == tenant && list.matches(text))
        };
        let stops: Vec<(TenantId, InboundEvent)> = events
            .iter()
            .filter_map(|(tenant, e)| match e {
                InboundEvent::Message(m)
                    if m.kind == "text"
                        && m.text.as_deref().is_some_and(|t| stops_for(tenant, t)) =>
                {
                    Some((
                        tenant.clone(),
                        InboundEvent::Consent(ConsentChange {
                            customer: m.customer.as_str().to_owned(),
                            evidence: ConsentEvidence {
                                marketing: Marketing::OptedOut,
                                source: ConsentSource::Keyword,
                                at: m.at_ms,
                                text: m.text.clone().unwrap_or_default(),
                                by: None,
                            },
                        }),
                    ))
                }
                _ => None,
            })
            .collect();
        events.extend(stops);
        // Each file a customer sends is queued for copying with its message, in the same batch:
        // the copy happens after the acknowledgement, but it cannot be forgotten.
        let files: Vec<(TenantId, InboundEvent)> = events
            .iter()
            .filter_map(|(tenant, e)| match e {
                InboundEvent::Message(m) => {
                    let media = crate::connector::parts::message_parts(&m.raw).media?;
                    let mut record = MediaRecord::pending(
                        tenant.clone(),
                        media.id,
                        m.number.clone(),
                        Some(m.key.clone()),
                        received_at,
                    );
                    record.mime_type = media.mime_type;
                    record.filename = media.filename;
                    Some((tenant.clone(), InboundEvent::Media(record)))
                }
                _ => None,
            })
            .collect();
        events.extend(files);
        // Each priced status's ledger line goes into the same batch: stored with the status, or
        // not at all (and then with Meta's retry).
        let charges = self.costs.charges(&events).await?;
        events.extend(charges);

        // Messages and statuses are published on the bus, account events as notices; keep
        // them (not the contacts, consents and charges) for after the commit.
        let to_publish: Vec<(TenantId, InboundEvent)> = events
            .iter()
            .filter(|(_, e)| {
                matches!(
                    e,
                    InboundEvent::Message(_) | InboundEvent::Status(_) | InboundEvent::Account(_)
                )
            })
            .cloned()
            .collect();
        let batch = IngestBatch {
            received_at,
            raw_body: body.to_vec(),
            events,
        };
        // The commit and the publishing after it run on their own task. If the sender gives up
        // on the request meanwhile (the connection drops and this future with it), what the store
        // committed is still announced: its redelivery would be a duplicate, never announced.
        let (store, events, log_text) =
            (Arc::clone(&self.store), self.events.clone(), self.log_text);
        let committed = tokio::spawn(async move {
            let report = store.ingest(batch).await?;
            metrics::histogram!("switchboard_webhook_ingest_seconds").record(started.elapsed());
            metrics::counter!("switchboard_webhook_messages_total", "outcome" => "new")
                .increment(report.messages_new as u64);
            metrics::counter!("switchboard_webhook_messages_total", "outcome" => "duplicate")
                .increment(report.messages_duplicate as u64);
            metrics::counter!("switchboard_webhook_statuses_total")
                .increment(report.statuses_new as u64);
            publish(&events, &report, to_publish, log_text).await;
            Ok::<_, StoreError>(report)
        });
        Ok(committed
            .await
            .map_err(|e| StoreError::Unavailable(format!("the ingest task failed: {e}")))??)
    }

    /// Attributes a change to a tenant, only ever among the tenants whose app signed it: by its
    /// number when configured; else by the WABA id; else by the signing app, when exactly one
    /// tenant uses that app. The signature proves the payload came from that tenant's Meta app,
    /// which only sends webhooks for numbers subscribed to it, so a number added in Meta's
    /// dashboard but not yet here still lands with its owner. What names another app's tenant
    /// was refused before (`WrongApp`, `WrongAppAccount`); the filters here keep that true even
    /// if the checks above change.
    fn tenant_for(
        &self,
        number: Option<&switchboard_shared::PhoneNumberId>,
        waba_id: Option<&str>,
        secret: &Secret,
    ) -> Option<TenantId> {
        if let Some(entry) = number.and_then(|n| self.numbers.get(n)) {
            // A disabled number's events are journaled only.
            return (&entry.app_secret == secret && entry.enabled).then(|| entry.tenant.clone());
        }
        if let Some(waba) = waba_id {
            if let Some(e) = self
                .numbers
                .entries()
                .into_iter()
                .find(|e| e.waba_id.as_deref() == Some(waba) && &e.app_secret == secret)
            {
                return Some(e.tenant.clone());
            }
        }
        let entries = self.numbers.entries();
        let mut tenants: Vec<&TenantId> = entries
            .iter()
            .filter(|e| &e.app_secret == secret)
            .map(|e| &e.tenant)
            .collect();
        tenants.sort();
        tenants.dedup();
        match tenants.as_slice() {
            [only] => {
                if let Some(number) = number {
                    tracing::warn!(%number, tenant = %only, "webhook for a number not in the configuration, attributed by its signing app");
                }
                Some((*only).clone())
            }
            _ => None,
        }
    }

    /// Publishes again every customer message received since the inbox's replay cursor (less
    /// [`REPLAY_MARGIN`]), marked `replayed`: a stop between storing a message and acting on it
    /// (the inbox's thread, automation's replies and flows) loses nothing, because a start acts
    /// on it then. What was acted on already is skipped by each consumer (the inbox by the
    /// thread's last message, automation by its send keys and each flow run's last input).
    /// Run at start, after the consumers subscribe and before webhooks are served.
    pub async fn replay(&self) -> Result<usize, StoreError> {
        let until = now_ms();
        // From the consumer furthest behind: the inbox's cursor, and outbound webhooks' when
        // they have moved one (they store a delivery for each message subscribers follow).
        let webhooks = self.store.cursor(crate::service::webhooks::CURSOR).await?;
        let since = match self.store.cursor(REPLAY_CURSOR).await? {
            Some(at) => at.min(webhooks.unwrap_or(at)) - REPLAY_MARGIN,
            // Never moved: a first start, or one before the inbox ever caught up.
            None => until - 7 * 86_400_000,
        };
        let mut replayed = 0;
        for tenant in self.store.list_tenants().await? {
            let tenant = tenant.id;
            let mut cursor = None;
            loop {
                let page = self
                    .store
                    .received_between(&tenant, since, until, cursor.as_ref(), REPLAY_PAGE)
                    .await?;
                let mut events = Vec::with_capacity(page.items.len());
                for received in page.items {
                    let Some(m) = self.store.get_message(&tenant, &received.key).await? else {
                        continue;
                    };
                    events.push(DomainEvent::MessageReceived {
                        tenant: tenant.clone(),
                        message: InboundMessage {
                            key: m.key,
                            wamid: m.wamid,
                            number: m.number,
                            customer: m.customer,
                            kind: m.kind,
                            text: m.text,
                            at_ms: m.at_ms,
                            raw: m.raw,
                        },
                        replayed: true,
                    });
                }
                replayed += events.len();
                if !events.is_empty() && !self.events.publish_paced(events, ROOM_WAIT).await {
                    tracing::warn!(subscribers = %self.events.slowest(), "the event bus stayed full for {ROOM_WAIT:?} during replay");
                }
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        Ok(replayed)
    }

    /// Meta's verification handshake: the token must be one of the configured verify tokens.
    pub fn verify_token_matches(&self, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.numbers.entries().iter().fold(false, |found, e| {
            let expected = e.verify_token.expose().as_bytes();
            found | (expected.len() == token.len() && bool::from(expected.ct_eq(token.as_bytes())))
        })
    }
}

/// How far before the replay cursor a start reads again. The cursor is the time up to which
/// the inbox had handled everything published; a message is published a little after it is
/// stored (the commit's task, the wait for room on the bus), and automation's lanes may trail
/// the inbox by their queues. Replaying a minute more costs only idempotent skips.
pub const REPLAY_MARGIN: i64 = 60_000;

/// Messages read per page while replaying.
const REPLAY_PAGE: usize = 500;

/// How long an acknowledgement may wait for the subscribers to make room for each chunk of its
/// events (see [`Events::publish_paced`]) before they are published anyway.
const ROOM_WAIT: Duration = Duration::from_secs(10);

/// Publishes what the commit stored for the first time: a redelivered webhook must not notify
/// anyone twice. Waits first for room on the bus, which is what slows Meta down when the inbox
/// cannot keep up.
async fn publish(
    events: &Events,
    report: &IngestReport,
    stored: Vec<(TenantId, InboundEvent)>,
    log_text: bool,
) {
    let fresh: Vec<DomainEvent> = stored
        .into_iter()
        .filter_map(|(tenant, event)| match event {
            InboundEvent::Message(mut message) if report.new_messages.contains_key(&message.key) => {
                // Announced where the store placed it in the conversation's order.
                message.at_ms = report.new_messages[&message.key];
                let text = match (&message.text, log_text) {
                    (Some(text), true) => text.as_str(),
                    (Some(_), false) => "(withheld)",
                    (None, _) => "",
                };
                tracing::info!(
                    tenant = %tenant, number = %message.number,
                    customer = %switchboard_shared::api::mask_phone(message.customer.as_str()),
                    kind = %message.kind, text, "message received"
                );
                Some(DomainEvent::MessageReceived {
                    tenant,
                    message,
                    replayed: false,
                })
            }
            InboundEvent::Status(status) => {
                tracing::debug!(tenant = %tenant, wamid = %status.wamid, status = status.status.as_str(), "status");
                Some(DomainEvent::StatusUpdated { tenant, status })
            }
            InboundEvent::Account(account) => {
                // A redelivery notifies again; readers act idempotently (a paused campaign
                // stays paused).
                events.notify(tenant, account);
                None
            }
            _ => None,
        })
        .collect();
    if fresh.is_empty() {
        return;
    }
    let waited = Instant::now();
    if !events.publish_paced(fresh, ROOM_WAIT).await {
        tracing::warn!(subscribers = %events.slowest(), "the event bus stayed full for {ROOM_WAIT:?}; published anyway");
    }
    metrics::histogram!("switchboard_webhook_backpressure_seconds").record(waited.elapsed());
}
