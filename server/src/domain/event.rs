//! The facts the service layer announces once they are stored.

use switchboard_shared::{PhoneNumberId, TenantId};

use super::{InboundMessage, NoteRecord, OutboundRecord, OutboxRecord, StatusUpdate};

/// Facts the hub fans out to agents and supervisors.
#[derive(Clone, Debug)]
pub enum DomainEvent {
    MessageReceived {
        tenant: TenantId,
        message: InboundMessage,
        /// Published again by a start ([`Inbound::replay`](crate::service::inbound::Inbound::replay)):
        /// it was stored before the last stop and may have been acted on already; consumers
        /// skip what they did (the inbox by the thread's last message, automation by its keys).
        replayed: bool,
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
