//! The outbound send use case: a message from the business to a customer, through the Cloud API,
//! recorded once accepted. (The per-number send governor and the compliance hook arrive with the
//! hub; this is the path they will wrap.)

use std::sync::Arc;

use switchboard_shared::{PhoneNumberId, TenantId, WaId, Wamid};

use super::NumberDirectory;
use super::{DomainEvent, Events};
use crate::connector::wire::{Content, MarkRead, SendRequest};
use crate::connector::{CloudApi, CloudApiError};
use crate::store::{OutboundRecord, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The tenant has no such number (also for another tenant's number: existence never leaks).
    #[error("no such number")]
    UnknownNumber,
    #[error(transparent)]
    Api(#[from] CloudApiError),
    #[error("sent, but could not record it: {0}")]
    Store(#[from] StoreError),
}

pub struct Outbound {
    api: CloudApi,
    store: Arc<dyn Store>,
    numbers: NumberDirectory,
    events: Events,
}

impl Outbound {
    pub fn new(
        api: CloudApi,
        store: Arc<dyn Store>,
        numbers: NumberDirectory,
        events: Events,
    ) -> Self {
        Self {
            api,
            store,
            numbers,
            events,
        }
    }

    /// Sends `content` to `customer`, optionally as a reply. `idempotency_key` identifies the
    /// logical message across the caller's retries.
    pub async fn send(
        &self,
        tenant: &TenantId,
        number: &PhoneNumberId,
        customer: &WaId,
        content: Content,
        reply_to: Option<&Wamid>,
        idempotency_key: &str,
    ) -> Result<Wamid, OutboundError> {
        let entry = self
            .numbers
            .get(number)
            .filter(|e| &e.tenant == tenant)
            .ok_or(OutboundError::UnknownNumber)?;
        let mut request = SendRequest::new(customer.as_str(), content);
        if let Some(wamid) = reply_to {
            request = request.replying_to(wamid.as_str());
        }
        let response = self
            .api
            .send(&entry.endpoint, &request, idempotency_key)
            .await?;
        let wamid = response
            .messages
            .first()
            .map(|m| Wamid::new(m.id.clone()))
            .ok_or_else(|| CloudApiError::Decode("no message id in the answer".into()))?;
        let raw = serde_json::to_string(&request).unwrap_or_default();
        let record = OutboundRecord {
            tenant: tenant.clone(),
            wamid: wamid.clone(),
            number: number.clone(),
            customer: customer.clone(),
            kind: request.content.kind().to_owned(),
            text: request.content.summary(),
            at_ms: jiff::Timestamp::now().as_millisecond(),
            raw,
        };
        self.store.record_outbound(record.clone()).await?;
        self.events
            .publish(DomainEvent::MessageSent { message: record });
        tracing::info!(tenant = %tenant, number = %number, customer = %customer, %wamid, "message sent");
        Ok(wamid)
    }

    /// Marks a customer's message read, showing a typing indicator.
    pub async fn mark_read(
        &self,
        tenant: &TenantId,
        number: &PhoneNumberId,
        wamid: &Wamid,
        typing: bool,
    ) -> Result<(), OutboundError> {
        let entry = self
            .numbers
            .get(number)
            .filter(|e| &e.tenant == tenant)
            .ok_or(OutboundError::UnknownNumber)?;
        self.api
            .mark_read(&entry.endpoint, &MarkRead::new(wamid.as_str(), typing))
            .await?;
        Ok(())
    }
}
