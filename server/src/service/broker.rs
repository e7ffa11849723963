//! The seam between the service layer and whatever carries its events to subscribers (today the
//! in-process hub; a cross-node broker later), as Centrifugo splits its Hub from its Broker: the
//! service decides what happened and to whom it matters, the broker delivers it. Fan-out, resume
//! windows and the slow-consumer policy live behind this trait and do not change with it.

use switchboard_shared::protocol::{AgentState, HubEvent, Topic};
use switchboard_shared::{Direction, SendId, TenantId, UserId};

use crate::domain::{outbound_message_key, DomainEvent, TeamRecord};
use crate::store::IdKeys;

/// An agent's change as routing hears it: the tenant, the state, and whether routing offers
/// them conversations.
pub type AgentChange = (TenantId, AgentState, bool);

/// Where the service publishes.
pub trait Broker: Send + Sync {
    /// Publishes an event about a conversation to every stream that follows it: the tenant, the
    /// conversation, the teams owning its number, the inboxes of the agents named, and (for
    /// assignment changes) the board.
    fn fan_out(
        &self,
        tenant: &TenantId,
        event: &HubEvent,
        teams: &[TeamRecord],
        inboxes: &[&UserId],
    );

    /// Publishes an event to one tenant-wide stream (`contacts`).
    fn announce(&self, tenant: &TenantId, topic: &Topic, event: &HubEvent);

    /// A fact no stream carries, for the integrations that follow the service (outbound
    /// webhooks), told once it is stored.
    fn tell(&self, tenant: &TenantId, fact: &Fact);

    /// The hub missed domain events (it lagged behind the event bus): every stream gets a gap
    /// marker, its window is emptied, and its subscribers are told to resync.
    fn lost_events(&self);
}

/// Facts only integrations hear of (see [`Broker::tell`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Fact {
    /// A customer answered the satisfaction survey: a score, or the comment after it.
    SurveyAnswered {
        conversation: switchboard_shared::ConversationId,
        number: switchboard_shared::PhoneNumberId,
        customer: switchboard_shared::WaId,
        assignee: Option<UserId>,
        score: Option<u8>,
        comment: Option<String>,
        at: crate::domain::UnixMillis,
    },
}

/// The stream event a domain event becomes, and its tenant.
pub fn to_hub_event(event: DomainEvent, keys: &IdKeys) -> (TenantId, HubEvent) {
    match event {
        DomainEvent::MessageReceived {
            tenant, message, ..
        } => {
            let conversation = keys.conversation_id(&tenant, &message.number, &message.customer);
            (
                tenant,
                HubEvent::MessageStored {
                    conversation,
                    number: message.number,
                    customer: message.customer.into_string(),
                    key: message.key,
                    wamid: message.wamid,
                    direction: Direction::Inbound,
                    message_type: message.kind,
                    text: message.text,
                    at: message.at_ms,
                    parts: super::message_parts(&message.raw),
                    outbox: None,
                },
            )
        }
        DomainEvent::MessageSent {
            message, outbox, ..
        } => {
            let tenant = message.tenant.clone();
            let conversation = keys.conversation_id(&tenant, &message.number, &message.customer);
            let key = outbound_message_key(&message.wamid);
            (
                tenant,
                HubEvent::MessageStored {
                    conversation,
                    number: message.number,
                    customer: message.customer.into_string(),
                    key,
                    wamid: message.wamid,
                    direction: Direction::Outbound,
                    message_type: message.kind,
                    text: message.text,
                    at: message.at_ms,
                    parts: super::message_parts(&message.raw),
                    outbox: outbox.map(SendId::new),
                },
            )
        }
        DomainEvent::NoteAdded { note, number } => (
            note.tenant,
            HubEvent::NoteAdded {
                conversation: note.conversation,
                number,
                note: switchboard_shared::api::Note {
                    id: note.id,
                    author: note.author,
                    author_name: note.author_name,
                    text: note.text,
                    mentions: note.mentions,
                    at: note.at_ms,
                },
            },
        ),
        DomainEvent::SendFailed { send } => (
            send.tenant,
            HubEvent::SendFailed {
                conversation: send.conversation,
                number: send.number,
                outbox: send.id,
                error: send.error.unwrap_or_default(),
                at: send.updated_at,
            },
        ),
        DomainEvent::StatusUpdated { tenant, status } => {
            let conversation = keys.conversation_id(&tenant, &status.number, &status.recipient);
            (
                tenant,
                HubEvent::StatusChanged {
                    conversation,
                    number: status.number,
                    wamid: status.wamid,
                    status: status.status,
                    at: status.at_ms,
                    error: crate::connector::errors::describe(&status.error_codes),
                    error_codes: status.error_codes,
                },
            )
        }
    }
}
