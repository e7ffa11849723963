//! The WebSocket protocol at `/ws`, version 1 (documented for third parties in
//! `docs/protocol.md`). Every frame is one JSON text message with a `type`.
//!
//! Streams: each topic a client may subscribe to is a stream with its own sequence number. Every
//! event carries `(topic, seq)`; `seq` grows by one per event of that stream, so a client that
//! remembers the last `seq` it saw can `subscribe` again with `after` and receive exactly what it
//! missed, or a `resync` when that is older than the server keeps.

use serde::{Deserialize, Serialize};

pub use crate::api::{AgentStatus, ConversationState};
use crate::ids::{
    ConversationId, MessageKey, PhoneNumberId, SendId, TeamId, TenantId, UserId, Wamid,
};
use crate::message::{Direction, MessageStatus};

pub const PROTOCOL_VERSION: u32 = 1;

/// Close codes the server uses (RFC 6455 leaves 4000-4999 to applications).
pub mod close {
    /// No valid credential within the authentication window.
    pub const UNAUTHENTICATED: u16 = 4001;
    /// The client read too slowly and its queue filled: reconnect and resume.
    pub const TOO_SLOW: u16 = 4008;
    /// No frame (not even a pong) within the heartbeat timeout.
    pub const HEARTBEAT_TIMEOUT: u16 = 4009;
    /// The session ended (logout, disabled account): sign in again.
    pub const SESSION_ENDED: u16 = 4010;
    /// A binary frame (the protocol is JSON text).
    pub const PROTOCOL_ERROR: u16 = 4002;
    /// A client frame over the size limit (16 KiB): RFC 6455's "message too big".
    pub const TOO_BIG: u16 = 1009;
    /// The client kept sending past its refusals for sending too fast (`rate_limited`).
    pub const TOO_FAST: u16 = 4029;
}

/// A stream a client can follow. On the wire it is the string it has always been (`tenant`,
/// `board`, `inbox:<user id>`, `team:<team id>`, `conversation:<conversation id>`); in code it is
/// this, so no topic is spelled by hand anywhere else.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// Every event of the tenant.
    Tenant,
    /// Agents' presence, assignments and the board's figures.
    Board,
    /// One user's personal inbox.
    Inbox(UserId),
    /// The conversations on one team's numbers.
    Team(TeamId),
    /// One conversation.
    Conversation(ConversationId),
    /// Changes to the tenant's contacts and the progress of its imports.
    Contacts,
}

impl Topic {
    /// The least a caller must hold to follow this topic at all (teams, inboxes and
    /// conversations also depend on who the caller is).
    pub fn permission(&self) -> crate::Permission {
        use crate::Permission as P;
        match self {
            Topic::Tenant => P::ConversationsReadAll,
            Topic::Board => P::BoardView,
            Topic::Team(_) => P::ConversationsReadTeam,
            Topic::Inbox(_) | Topic::Conversation(_) => P::ConversationsReadAssigned,
            Topic::Contacts => P::ContactsRead,
        }
    }
}

impl std::fmt::Display for Topic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Topic::Tenant => f.write_str("tenant"),
            Topic::Board => f.write_str("board"),
            Topic::Inbox(user) => write!(f, "inbox:{user}"),
            Topic::Team(team) => write!(f, "team:{team}"),
            Topic::Conversation(id) => write!(f, "conversation:{id}"),
            Topic::Contacts => f.write_str("contacts"),
        }
    }
}

/// A string that names no topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownTopic(pub String);

impl std::fmt::Display for UnknownTopic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` is not a topic: tenant, board, contacts, inbox:<user>, team:<id> or conversation:<id>",
            self.0
        )
    }
}

impl std::str::FromStr for Topic {
    type Err = UnknownTopic;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let id = |rest: &str| (!rest.is_empty()).then(|| rest.to_owned());
        let parsed = match s.split_once(':') {
            None if s == "tenant" => Some(Topic::Tenant),
            None if s == "board" => Some(Topic::Board),
            None if s == "contacts" => Some(Topic::Contacts),
            Some(("inbox", rest)) => id(rest).map(|u| Topic::Inbox(UserId::new(u))),
            Some(("team", rest)) => id(rest).map(|t| Topic::Team(TeamId::new(t))),
            Some(("conversation", rest)) => {
                id(rest).map(|c| Topic::Conversation(ConversationId::new(c)))
            }
            _ => None,
        };
        parsed.ok_or_else(|| UnknownTopic(s.to_owned()))
    }
}

impl Serialize for Topic {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Topic {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a client sends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Authenticates a connection opened without a cookie or `Authorization` header: a session
    /// token (`sbs_…`) or an API key (`sbk_…`). Must be the first frame then.
    Auth { token: String },
    /// Starts (or resumes, with `after`) a stream. Answered by `subscribed` (or `resync`, or an
    /// `error`), each echoing `id`.
    Subscribe {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        topic: String,
        /// The last `seq` the client saw on this topic; events after it are replayed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<u64>,
    },
    /// Answered by `unsubscribed` echoing `id`.
    Unsubscribe {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        topic: String,
    },
    /// Sets the caller's own working status (users only). Answered by `ack` or `error`.
    SetStatus {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        status: AgentStatus,
    },
    /// Answered by `pong` with the same id.
    Ping {
        #[serde(default)]
        id: Option<String>,
    },
    /// Sends a text reply to the customer (needs `conversations.reply`). Answered by `ack` with
    /// the message's `wamid`, or by `error` (`outside_window`, `rejected`, `send_failed`, ...);
    /// the message itself then arrives on the conversation's streams as `message_stored`, and
    /// its ticks as `status_changed`.
    SendMessage {
        #[serde(default)]
        id: Option<String>,
        conversation: ConversationId,
        text: String,
        /// The `key` of a message in this conversation that this one answers.
        #[serde(default)]
        reply_to: Option<String>,
        /// The client's unique key for this message: resending with it returns the first send.
        #[serde(default)]
        key: Option<String>,
        /// Send although a warn list of the word filter matched (the sender saw the warning).
        #[serde(default)]
        confirm_warnings: bool,
        /// Send although a block list matched, for this reason (needs `compliance.override`;
        /// audited).
        #[serde(default)]
        override_reason: Option<String>,
    },
    /// Gives the conversation to an agent who is connected (needs `conversations.assign`); a
    /// transfer when someone else had it.
    Assign {
        #[serde(default)]
        id: Option<String>,
        conversation: ConversationId,
        agent: UserId,
    },
    /// Closes the conversation (needs `conversations.resolve`); its agent has room again.
    Resolve {
        #[serde(default)]
        id: Option<String>,
        conversation: ConversationId,
    },
    /// Opens a resolved conversation again and routes it (needs `conversations.resolve`).
    Reopen {
        #[serde(default)]
        id: Option<String>,
        conversation: ConversationId,
    },
    /// Shows the customer a typing indicator (and marks their last message read).
    Typing {
        #[serde(default)]
        id: Option<String>,
        conversation: ConversationId,
    },
    /// Marks the customer's last message read (blue ticks on their phone).
    MarkRead {
        #[serde(default)]
        id: Option<String>,
        conversation: ConversationId,
    },
    /// Whether the app on this connection is in view (`document.visibilityState`). A connection
    /// counts as in view until it says otherwise; a person with no connection in view gets Web
    /// Push notifications (assignments, mentions, customers' replies) on their devices. Answered
    /// by `ack`.
    Visibility {
        #[serde(default)]
        id: Option<String>,
        visible: bool,
    },
}

impl ClientFrame {
    /// The id a command carries, echoed in its `ack` or `error`.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Ping { id }
            | Self::Subscribe { id, .. }
            | Self::Unsubscribe { id, .. }
            | Self::SetStatus { id, .. }
            | Self::SendMessage { id, .. }
            | Self::Assign { id, .. }
            | Self::Resolve { id, .. }
            | Self::Reopen { id, .. }
            | Self::Typing { id, .. }
            | Self::MarkRead { id, .. }
            | Self::Visibility { id, .. } => id.as_deref(),
            Self::Auth { .. } => None,
        }
    }
}

/// What the server sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// Sent once authenticated.
    Ready {
        protocol: u32,
        tenant: TenantId,
        user: Option<UserId>,
        /// The server pings this often; a client silent for three times as long is closed.
        heartbeat_secs: u64,
        /// How many past events of each stream the server keeps for `after` however old (a
        /// quiet stream's last ones).
        resume_window: u64,
        /// Besides those, every event of the last this many seconds (within a cap on memory per
        /// stream): a client away for less resumes with `after`.
        resume_secs: u64,
    },
    /// The subscription is live; `seq` is the stream's latest sequence number (replayed events,
    /// if any, were sent just before).
    Subscribed {
        /// The `subscribe` command's `id`, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        topic: String,
        seq: u64,
    },
    /// The subscription ended: the client asked (`unsubscribe`), or, with a `reason`, the server
    /// ended it because the caller may no longer see the stream (`access_revoked`: the
    /// conversation was transferred away, a team or role changed). Nothing more of the stream
    /// is sent.
    Unsubscribed {
        /// The `unsubscribe` command's `id`, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        topic: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    Event {
        topic: String,
        seq: u64,
        event: HubEvent,
    },
    /// The server cannot replay from `after` (older than the window, from before a restart, or
    /// beyond the stream's latest): reload from the REST API, then continue from `seq`. The
    /// subscription is live: events with higher `seq` follow without subscribing again.
    Resync {
        /// The `subscribe` command's `id`, when this answers one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        topic: String,
        seq: u64,
    },
    /// A refused frame (the connection stays open). `id` is the refused command's.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        code: crate::ErrorCode,
        message: String,
        /// For `blocked_by_filter` and `needs_confirmation`: the word filter's matches.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        matches: Vec<crate::compliance::FilterMatch>,
    },
    /// A command succeeded. For `send_message`: the send's `outbox` id and `state` (`queued`
    /// until it is sent; `sent` with the `wamid` when a resent key names a finished send).
    Ack {
        #[serde(default)]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outbox: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wamid: Option<String>,
    },
    Pong {
        #[serde(default)]
        id: Option<String>,
    },
}

/// Whether an agent is there, from their connections and activity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// At least one socket, active within the away timeout.
    Online,
    /// Connected, but no activity for a while.
    Away,
    /// No socket.
    Offline,
}

/// One agent as the supervisor board shows them (also `GET /api/v1/agents`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgentState {
    pub user: UserId,
    pub name: String,
    pub presence: Presence,
    pub status: AgentStatus,
    /// Open sockets (a phone and a desktop are two sockets but one agent everywhere else).
    pub connections: u32,
    /// Unix milliseconds of the last frame or connection, if ever.
    pub last_activity: Option<i64>,
}

/// Why a conversation changed hands or state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeReason {
    /// Back to the agent who had the customer last.
    Sticky,
    /// To an agent with the skills the conversation's tags ask for.
    Skills,
    /// To the next agent of the number's pool.
    Pool,
    /// Nobody free: waiting in the queue.
    Queue,
    /// Assigned or transferred by a person.
    Manual,
    /// An agent replied (the customer no longer waits).
    Replied,
    Resolved,
    Reopened,
}

/// Facts, in the past tense.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HubEvent {
    /// A message was stored (inbound from a customer, or sent by the business).
    MessageStored {
        conversation: ConversationId,
        number: PhoneNumberId,
        /// Masked (`•••••••4567`) unless the subscriber may see phone numbers.
        customer: String,
        key: MessageKey,
        /// Masked subscribers get the message's `m_…` reference in its place.
        wamid: Wamid,
        direction: Direction,
        /// WhatsApp's message type (`text`, `image`, …).
        message_type: String,
        text: Option<String>,
        at: i64,
        /// Quote, reaction and media.
        #[serde(flatten)]
        parts: crate::api::MessageParts,
        /// For a message sent through the outbox, the send's id (the `outbox` of its `ack`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outbox: Option<SendId>,
    },
    /// A send was refused for good (nothing reached the customer).
    SendFailed {
        conversation: ConversationId,
        number: PhoneNumberId,
        outbox: SendId,
        error: String,
        at: i64,
    },
    /// An internal note was added (never sent to the customer).
    NoteAdded {
        conversation: ConversationId,
        number: PhoneNumberId,
        note: crate::api::Note,
    },
    /// The conversation's tags were replaced.
    TagsChanged {
        conversation: ConversationId,
        number: PhoneNumberId,
        tags: Vec<String>,
        by: Option<UserId>,
        at: i64,
    },
    /// An outbound message's delivery status changed.
    StatusChanged {
        conversation: ConversationId,
        number: PhoneNumberId,
        /// Masked subscribers get the message's `m_…` reference in its place.
        wamid: Wamid,
        status: MessageStatus,
        at: i64,
        /// Meta's error codes, for `failed`.
        error_codes: Vec<i64>,
        /// What they mean, for people (`131047: more than 24 hours since …`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// An agent's presence or status changed (the `board` topic).
    AgentChanged { agent: AgentState },
    /// The board's figures changed (the `board` topic).
    BoardChanged { board: BoardStats },
    /// A contact was made, changed, merged away or erased (the `contacts` topic): clients
    /// showing it read it again.
    ContactChanged {
        contact: crate::ids::ContactId,
        /// `false` when it no longer exists.
        exists: bool,
        at: i64,
    },
    /// An import moved on (the `contacts` topic): its counts, at most a few times a second.
    ImportProgressed {
        import: crate::ids::ImportId,
        state: crate::contacts::ImportState,
        dry_run: bool,
        total: u64,
        created: u64,
        updated: u64,
        unchanged: u64,
        rejected: u64,
        bytes_done: u64,
        bytes_total: u64,
        rows_per_second: f64,
        eta_seconds: Option<u64>,
    },
    /// A broadcast campaign moved on (the `tenant` topic): its state and funnel, at most a few
    /// times a second while it runs.
    CampaignProgressed {
        campaign: crate::ids::CampaignId,
        state: crate::campaign::CampaignState,
        total: u64,
        counts: crate::campaign::CampaignCounts,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        paused_reason: Option<String>,
        /// Messages a second over the last few seconds.
        rate_per_second: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        eta_seconds: Option<u64>,
    },
    /// A conversation was assigned, transferred, queued, resolved or reopened.
    ConversationChanged {
        conversation: ConversationId,
        number: PhoneNumberId,
        /// Masked like in `message_stored`.
        customer: String,
        state: ConversationState,
        assignee: Option<UserId>,
        /// Who had it before, when that changed (their inbox drops it).
        previous: Option<UserId>,
        reason: ChangeReason,
        /// 1-based place in the queue, when queued.
        queue_position: Option<u32>,
        /// When the customer's oldest unanswered message arrived; `null` when answered.
        waiting_since: Option<i64>,
        at: i64,
    },
}

impl HubEvent {
    /// The conversation and number an event is about; `None` for board-wide events.
    pub fn conversation(&self) -> Option<(&ConversationId, &PhoneNumberId)> {
        match self {
            Self::MessageStored {
                conversation,
                number,
                ..
            }
            | Self::SendFailed {
                conversation,
                number,
                ..
            }
            | Self::NoteAdded {
                conversation,
                number,
                ..
            }
            | Self::TagsChanged {
                conversation,
                number,
                ..
            }
            | Self::StatusChanged {
                conversation,
                number,
                ..
            }
            | Self::ConversationChanged {
                conversation,
                number,
                ..
            } => Some((conversation, number)),
            Self::AgentChanged { .. }
            | Self::BoardChanged { .. }
            | Self::ContactChanged { .. }
            | Self::ImportProgressed { .. }
            | Self::CampaignProgressed { .. } => None,
        }
    }
}

/// The supervisor board's live figures for one tenant (`board_changed` on the `board` topic, and
/// `GET /api/v1/board`). Times are Unix milliseconds, so the figures change only when something
/// happens, not as time passes; clients show ages from them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct BoardStats {
    /// Conversations waiting for an agent.
    pub queue_depth: u32,
    /// When the longest-waiting of them started waiting.
    pub oldest_queued_since: Option<i64>,
    /// First responses today (UTC): from the customer's first unanswered message to the
    /// business's first reply, in milliseconds.
    pub first_responses_today: u32,
    pub first_response_median_ms: Option<i64>,
    pub first_response_p90_ms: Option<i64>,
    pub resolved_last_hour: u32,
    /// The tenant's response deadline (`[routing] sla_secs`), in milliseconds.
    pub sla_ms: i64,
    /// Customers waiting for a reply for at least half the deadline, longest first (at most 50).
    pub at_risk: Vec<AtRisk>,
    /// Every agent routing knows: what they hold against what they may hold.
    pub agents: Vec<AgentLoad>,
    /// The same figures for each team, over the conversations of the team's numbers (a number
    /// in two teams counts in both); the team's members are the agents it shows.
    #[serde(default)]
    pub teams: Vec<TeamBoard>,
}

/// One team's part of the board.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TeamBoard {
    pub team: TeamId,
    pub name: String,
    pub members: Vec<UserId>,
    /// The board's figures over the team's numbers: its queue, first responses, resolutions
    /// and customers at risk, and the loads of its members (`teams` empty).
    pub board: BoardStats,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AtRisk {
    pub conversation: ConversationId,
    pub assignee: Option<UserId>,
    pub waiting_since: i64,
    /// Waited longer than the deadline already.
    pub breached: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgentLoad {
    pub user: UserId,
    pub active: u32,
    pub capacity: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_read_and_write_as_their_strings() {
        for text in [
            "tenant",
            "board",
            "inbox:u_1",
            "team:t_9",
            "conversation:c_abc",
        ] {
            let topic: Topic = text.parse().unwrap();
            assert_eq!(topic.to_string(), text);
            assert_eq!(serde_json::to_value(&topic).unwrap(), text);
        }
        for bad in [
            "",
            "tenants",
            "inbox:",
            "team",
            "conversation",
            "nope:x",
            "Board",
        ] {
            assert!(bad.parse::<Topic>().is_err(), "{bad}");
        }
        assert_eq!(
            "conversation:c_1".parse::<Topic>().unwrap(),
            Topic::Conversation(ConversationId::from("c_1"))
        );
    }

    #[test]
    fn frames_are_tagged_json() {
        let f: ClientFrame =
            serde_json::from_str(r#"{"type":"subscribe","topic":"tenant","after":41}"#).unwrap();
        assert_eq!(
            f,
            ClientFrame::Subscribe {
                id: None,
                topic: "tenant".into(),
                after: Some(41)
            }
        );
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"subscribe"}"#).is_err());
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"ping","x":1}"#).is_err());
        let s = serde_json::to_value(ServerFrame::Subscribed {
            id: None,
            topic: "tenant".into(),
            seq: 3,
        })
        .unwrap();
        assert_eq!(
            s,
            serde_json::json!({"type":"subscribed","topic":"tenant","seq":3})
        );
    }
}
