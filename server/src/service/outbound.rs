//! The governed way out: a message from the business to a customer, one attempt at a time,
//! paced by the per-number [`Governor`]. An agent's reply first passes the compliance checks
//! (the place the sensitive-word filter and other outgoing rules plug in) and the 24-hour window.
//! What to send, and whether to try again, is the outbox's business (`service::outbox`).

use std::sync::Arc;

use switchboard_shared::{PhoneNumberId, TenantId, WaId, Wamid};

use super::{NumberDirectory, NumberEntry};
use crate::connector::wire::{MarkRead, SendRequest};
use crate::connector::{CloudApi, CloudApiError};
use crate::governor::Governor;
use crate::store::{StoreError, ThreadRecord};

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The tenant has no such number (also for another tenant's number: existence never leaks).
    #[error("no such number")]
    UnknownNumber,
    #[error(transparent)]
    Api(#[from] CloudApiError),
    #[error("could not store the send: {0}")]
    Store(#[from] StoreError),
    /// A compliance check refused the message; nothing was sent.
    #[error("{0}")]
    Rejected(String),
    /// Free-form messages reach a customer only within 24 hours of their last message.
    #[error(
        "the customer last wrote more than 24 hours ago, so WhatsApp accepts only a template \
         message now: send an approved template (`template` content) to reopen the conversation"
    )]
    OutsideWindow { last_inbound_at: Option<i64> },
}

/// How long after a customer's message the business may answer free-form (Meta's customer
/// service window).
pub const SERVICE_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// WhatsApp's limit on a text message body.
pub const MAX_TEXT_CHARS: usize = 4096;

/// An outgoing check: returns why a message may not go out.
pub trait Compliance: Send + Sync {
    fn check(&self, tenant: &TenantId, text: &str) -> Result<(), String>;
}

/// What every reply must satisfy whatever the tenant configured: some text, within WhatsApp's
/// length limit, and no control characters a phone would show as boxes.
pub struct BasicChecks;

impl Compliance for BasicChecks {
    fn check(&self, _tenant: &TenantId, text: &str) -> Result<(), String> {
        if text.trim().is_empty() {
            return Err("the message is empty".into());
        }
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(format!(
                "the message has {chars} characters; WhatsApp allows {MAX_TEXT_CHARS}"
            ));
        }
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
        {
            return Err("the message contains control characters".into());
        }
        Ok(())
    }
}

/// The governed way out to the Cloud API: compliance checks, the service window, and one
/// schedule per number. It sends single attempts; the [`Outbox`](super::outbox::Outbox) decides
/// what to retry and when.
pub struct Outbound {
    api: CloudApi,
    numbers: NumberDirectory,
    checks: Vec<Box<dyn Compliance>>,
    /// One schedule per number (a std mutex: held for arithmetic only, never across `.await`).
    governors: std::sync::Mutex<std::collections::HashMap<PhoneNumberId, Governor>>,
}

impl Outbound {
    pub fn new(api: CloudApi, numbers: NumberDirectory) -> Self {
        Self {
            api,
            numbers,
            checks: vec![Box::new(BasicChecks)],
            governors: Default::default(),
        }
    }

    /// The tenant's number (another tenant's is unknown: existence never leaks).
    pub fn entry(
        &self,
        tenant: &TenantId,
        number: &PhoneNumberId,
    ) -> Result<&Arc<NumberEntry>, OutboundError> {
        self.numbers
            .get(number)
            .filter(|e| &e.tenant == tenant)
            .ok_or(OutboundError::UnknownNumber)
    }

    /// Runs `f` on the number's schedule (made at its tier on first use).
    fn governed<T>(&self, entry: &NumberEntry, f: impl FnOnce(&mut Governor, i64) -> T) -> T {
        let now = jiff::Timestamp::now().as_millisecond();
        let mut map = self.governors.lock().unwrap_or_else(|p| p.into_inner());
        let g = map
            .entry(entry.phone_number_id.clone())
            .or_insert_with(|| Governor::new(entry.mps));
        f(g, now)
    }

    /// Waits until the governor lets a message to `customer` leave `entry`'s number: first the
    /// customer's pacing, then (once that time has come) the number's throughput.
    pub async fn wait_turn(&self, entry: &NumberEntry, customer: &WaId) {
        for step in 0..2 {
            let (at, now) = self.governed(entry, |g, now| {
                let at = if step == 0 {
                    g.recipient_slot(customer, now)
                } else {
                    g.number_slot(now)
                };
                (at, now)
            });
            if at > now {
                metrics::counter!("switchboard_governor_delayed_total").increment(1);
                tokio::time::sleep(std::time::Duration::from_millis((at - now) as u64)).await;
            }
        }
    }

    /// Whether an agent's text reply may go: compliance checks, then the 24-hour window. `now`
    /// is passed in so the window is testable.
    pub fn check_reply(
        &self,
        thread: &ThreadRecord,
        text: &str,
        now: i64,
    ) -> Result<(), OutboundError> {
        for check in &self.checks {
            check
                .check(&thread.tenant, text)
                .map_err(OutboundError::Rejected)?;
        }
        let open = thread
            .last_inbound_at
            .is_some_and(|at| now - at < SERVICE_WINDOW_MS);
        if !open {
            return Err(OutboundError::OutsideWindow {
                last_inbound_at: thread.last_inbound_at,
            });
        }
        Ok(())
    }

    /// One attempt to send, at the governor's pace (call [`Outbound::wait_turn`] first).
    /// Throttling answers push the number's or the customer's schedule back.
    pub async fn attempt(
        &self,
        entry: &NumberEntry,
        request: &SendRequest,
        idempotency_key: &str,
    ) -> Result<Wamid, CloudApiError> {
        let result = self
            .api
            .send_once(&entry.endpoint, request, idempotency_key)
            .await;
        let customer = request.recipient_id().map(WaId::from);
        self.governed(entry, |g, now| {
            let code = result.as_ref().err().and_then(CloudApiError::code);
            match code {
                Some(130429) => {
                    g.throttled(None, now);
                }
                Some(131056) => {
                    g.throttled(customer.as_ref(), now);
                }
                _ if result.is_ok() => g.accepted(),
                _ => {}
            }
            // A message refused for throughput or a passing fault never reached the customer.
            let undelivered = result
                .as_ref()
                .err()
                .is_some_and(|e| code != Some(131056) && e.is_retryable());
            if let (true, Some(c)) = (undelivered, customer.as_ref()) {
                g.not_delivered(c);
            }
        });
        let response = result?;
        response
            .messages
            .first()
            .map(|m| Wamid::new(m.id.clone()))
            .ok_or_else(|| CloudApiError::Decode("no message id in the answer".into()))
    }

    /// Marks a customer's message read, showing a typing indicator.
    pub async fn mark_read(
        &self,
        tenant: &TenantId,
        number: &PhoneNumberId,
        wamid: &Wamid,
        typing: bool,
    ) -> Result<(), OutboundError> {
        let entry = self.entry(tenant, number)?;
        self.api
            .mark_read(&entry.endpoint, &MarkRead::new(wamid.as_str(), typing))
            .await?;
        Ok(())
    }
}
