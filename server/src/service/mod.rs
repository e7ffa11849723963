//! Use cases: the only code that both persists and publishes.
//!
//! Owns: the number directory (which tenant and which secrets a business number belongs to),
//! the inbound webhook use case, the outbound send use case, and the stream of domain events the
//! real-time hub will fan out. Must not: know warp or SQL/CQL.

pub mod board;
pub mod demo;
pub mod inbound;
pub mod inbox;
pub mod outbound;
pub mod outbox;

use std::collections::HashMap;
use std::sync::Arc;

use switchboard_shared::{PhoneNumberId, TenantId};
use tokio::sync::broadcast;

use crate::config::NumberConfig;
/// Reading a stored message's quote, reaction and media, and which files WhatsApp takes.
pub use crate::connector::parts::{media_kind, message_parts};
use crate::connector::NumberEndpoint;
use crate::secret::Secret;
use crate::store::{InboundMessage, NoteRecord, OutboundRecord, OutboxRecord, StatusUpdate};

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
        }
    }
}

/// The configured business numbers, looked up by id, WABA or app secret.
#[derive(Clone, Debug, Default)]
pub struct NumberDirectory {
    by_id: HashMap<PhoneNumberId, Arc<NumberEntry>>,
}

impl NumberDirectory {
    pub fn new(entries: impl IntoIterator<Item = NumberEntry>) -> Self {
        Self {
            by_id: entries
                .into_iter()
                .map(|e| (e.phone_number_id.clone(), Arc::new(e)))
                .collect(),
        }
    }

    pub fn get(&self, id: &PhoneNumberId) -> Option<&Arc<NumberEntry>> {
        self.by_id.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<NumberEntry>> {
        self.by_id.values()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// The distinct app secrets, each with the numbers it signs for.
    pub fn secrets(&self) -> Vec<&Secret> {
        let mut secrets: Vec<&Secret> = Vec::new();
        for entry in self.by_id.values() {
            if !secrets.contains(&&entry.app_secret) {
                secrets.push(&entry.app_secret);
            }
        }
        secrets
    }
}

/// Facts the hub fans out to agents and supervisors.
#[derive(Clone, Debug)]
pub enum DomainEvent {
    MessageReceived {
        tenant: TenantId,
        message: InboundMessage,
    },
    StatusUpdated {
        tenant: TenantId,
        status: StatusUpdate,
    },
    /// The Cloud API accepted a message the business sent, and it is stored. `outbox` is the
    /// send's id.
    MessageSent {
        message: OutboundRecord,
        outbox: Option<String>,
        /// Who sent it (`user:u_…`, `api_key:k_…`; `routing` or `demo` for automatic messages).
        author: Option<String>,
    },
    /// A send was refused for good.
    SendFailed { send: OutboxRecord },
    /// An internal note was stored.
    NoteAdded {
        note: NoteRecord,
        number: PhoneNumberId,
    },
}

/// The in-process event stream. Bounded: a subscriber that falls more than `capacity` events
/// behind is told how many it missed (`RecvError::Lagged`) and must resynchronise from the store.
#[derive(Clone)]
pub struct Events {
    sender: broadcast::Sender<DomainEvent>,
}

impl Events {
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::channel(capacity).0,
        }
    }

    pub fn publish(&self, event: DomainEvent) {
        // No subscriber is fine: nothing is lost that the store does not hold.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<DomainEvent> {
        self.sender.subscribe()
    }
}
