//! Outbound webhooks on the wire: the event types a third party subscribes to, an endpoint as the
//! API shows it, and its delivery log. Deliveries themselves are signed and shaped as Standard
//! Webhooks says (`{"type", "timestamp", "data"}`; see docs/webhooks.md).

use serde::{Deserialize, Serialize};

macro_rules! event_types {
    ($($(#[doc = $doc:literal])* $variant:ident = $name:literal,)+) => {
        /// What happened, as a subscriber names it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType {
            $($(#[doc = $doc])* $variant,)+
        }

        impl EventType {
            /// Every type, in the documentation's order.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)+
                }
            }

            pub fn parse(name: &str) -> Option<EventType> {
                match name {
                    $($name => Some(EventType::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

event_types! {
    /// A customer's message was stored.
    MessageReceived = "message.received",
    /// WhatsApp accepted a message the business sent.
    MessageSent = "message.sent",
    /// WhatsApp reported a sent message's status (sent, delivered, read, failed).
    MessageStatus = "message.status",
    /// A conversation was given to an agent.
    ConversationAssigned = "conversation.assigned",
    /// A conversation was resolved.
    ConversationResolved = "conversation.resolved",
    /// A contact was created.
    ContactCreated = "contact.created",
    /// A contact was changed (or deleted: `exists` is then `false`).
    ContactUpdated = "contact.updated",
    /// A campaign moved on: its state and counts.
    CampaignProgress = "campaign.progress",
    /// A customer answered the satisfaction survey.
    CsatAnswered = "csat.answered",
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        EventType::parse(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown event type `{name}`; known: {}",
                EventType::ALL
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for EventType {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "EventType".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        schemars::json_schema!({ "type": "string", "enum": names })
    }
}

/// `POST webhooks`: where to deliver and which events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEndpoint {
    /// `https://…` (plain `http` only where the server allows it); never a private address.
    pub url: String,
    /// At least one.
    pub events: Vec<EventType>,
    #[serde(default)]
    pub description: String,
}

/// `PATCH webhooks/{id}`: what is given replaces what was.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EndpointPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventType>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `true` turns a disabled endpoint back on (and clears its failure streak).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// The answer to creating an endpoint or rotating its secret: the secret is shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EndpointSecret {
    pub id: String,
    /// `whsec_` and the key in base64, as Standard Webhooks libraries take it.
    pub secret: String,
    /// After a rotation: until when deliveries also carry the old secret's signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_valid_until: Option<i64>,
}

/// An endpoint as the API shows it (never its secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct EndpointView {
    pub id: String,
    pub url: String,
    pub events: Vec<EventType>,
    pub description: String,
    pub enabled: bool,
    /// Why it was turned off, when it was (by an admin, or after days of failures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// Since when every attempt failed, while they do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<i64>,
    /// Until when the previous secret still signs too (after a rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx answer arrived in time.
    Delivered,
    /// Every attempt failed (or the endpoint was removed); a replay tries again.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One attempt of a delivery, as the log keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Attempt {
    pub at: i64,
    /// The HTTP status, when an answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it failed without an answer (refused, timed out, a private address, a redirect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The start of the answer's body (at most 1 KiB).
    #[serde(default)]
    pub response: String,
    pub duration_ms: u32,
    /// Asked for by a person (`POST …/replay`), not the schedule.
    #[serde(default)]
    pub replay: bool,
    /// Made to learn whether a failing endpoint answers again (every 30 s while it fails), not
    /// by the schedule: it neither counts among the delivery's attempts nor moves its next one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub probe: bool,
}

/// A delivery in the log: the request as sent (its body byte for byte) and its attempts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct DeliveryView {
    /// The `webhook-id` header: the same on every attempt and replay.
    pub id: String,
    pub endpoint: String,
    #[serde(rename = "type")]
    pub event: EventType,
    /// The request body.
    pub body: String,
    pub state: DeliveryState,
    pub created_at: i64,
    /// When it will be tried next, while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<i64>,
    /// Oldest first.
    pub attempts: Vec<Attempt>,
}
