//! Message-level DTOs: direction, delivery status and the export record.

use serde::{Deserialize, Serialize};

use crate::ids::{ConversationId, PhoneNumberId, TenantId, WaId, Wamid};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// The delivery state of a message. Inbound messages are `received` (then `read` once an agent
/// marked them read); outbound ones move through Meta's status webhooks.
///
/// Statuses never regress: each has a [`rank`](MessageStatus::rank) and the store keeps the
/// highest seen. `failed` ranks above `sent` but below `delivered`, because Meta documents that a
/// multi-device recipient can report `failed` and later `delivered`: the later, stronger fact wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Received,
    Accepted,
    Sent,
    Failed,
    Delivered,
    Read,
    Played,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 7] = [
        MessageStatus::Received,
        MessageStatus::Accepted,
        MessageStatus::Sent,
        MessageStatus::Failed,
        MessageStatus::Delivered,
        MessageStatus::Read,
        MessageStatus::Played,
    ];

    pub fn rank(self) -> i32 {
        match self {
            MessageStatus::Received => 0,
            MessageStatus::Accepted => 5,
            MessageStatus::Sent => 10,
            MessageStatus::Failed => 15,
            MessageStatus::Delivered => 20,
            MessageStatus::Read => 30,
            MessageStatus::Played => 40,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Received => "received",
            MessageStatus::Accepted => "accepted",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
            MessageStatus::Played => "played",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn from_rank(rank: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.rank() == rank)
    }
}

/// One line of `switchboard export`: a stored message with its latest status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ExportRecord {
    pub tenant: TenantId,
    /// The business number's `phone_number_id`.
    pub number: PhoneNumberId,
    pub conversation_id: ConversationId,
    pub wamid: Wamid,
    pub direction: Direction,
    /// WhatsApp's type string (`text`, `image`, `interactive`, … or a type nobody documented yet).
    #[serde(rename = "type")]
    pub kind: String,
    /// The body or caption when the message has one.
    pub text: Option<String>,
    pub status: MessageStatus,
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// The customer's `wa_id`.
    pub customer: WaId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_ranks_are_unique_and_round_trip() {
        for status in MessageStatus::ALL {
            assert_eq!(MessageStatus::from_rank(status.rank()), Some(status));
            assert_eq!(MessageStatus::parse(status.as_str()), Some(status));
        }
        assert!(MessageStatus::Read.rank() > MessageStatus::Delivered.rank());
        assert!(MessageStatus::Delivered.rank() > MessageStatus::Failed.rank());
        assert!(MessageStatus::Failed.rank() > MessageStatus::Sent.rank());
    }
}
