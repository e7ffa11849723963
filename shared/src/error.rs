//! Errors on the wire: the one list of machine-readable codes the REST API's error bodies and
//! the socket's `error` frames use, so a code is never spelled twice and a client can match on
//! the enum instead of a string.

use std::fmt;
use std::str::FromStr;

macro_rules! error_codes {
    ($($(#[doc = $doc:literal])* $variant:ident => $text:literal,)*) => {
        /// A stable, machine-readable error code. Written as its snake_case text.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in declaration order (for documentation and tests).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                }
            }
        }

        impl FromStr for ErrorCode {
            type Err = UnknownErrorCode;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(ErrorCode::$variant),)*
                    other => Err(UnknownErrorCode(other.to_owned())),
                }
            }
        }
    };
}

error_codes! {
    // Requests and bodies.
    /// A request the API cannot use (a field, a limit, a cursor).
    BadRequest => "bad_request",
    /// The body is not the JSON the route takes.
    BadBody => "bad_body",
    /// A query parameter is malformed.
    BadQuery => "bad_query",
    /// A header is malformed.
    BadHeader => "bad_header",
    /// The body did not arrive in time.
    BodyTimeout => "body_timeout",
    PayloadTooLarge => "payload_too_large",
    TooLarge => "too_large",
    UnsupportedMediaType => "unsupported_media_type",
    MethodNotAllowed => "method_not_allowed",
    /// A name holds invisible or direction-control characters, or is blank.
    InvalidName => "invalid_name",
    NotFound => "not_found",
    Conflict => "conflict",
    // Who the caller is and what they may do.
    Unauthenticated => "unauthenticated",
    Forbidden => "forbidden",
    InvalidCredentials => "invalid_credentials",
    WrongPassword => "wrong_password",
    LoginLocked => "login_locked",
    InvalidSetupToken => "invalid_setup_token",
    /// A cookie-authenticated write without the right `X-CSRF-Token`.
    Csrf => "csrf",
    /// A cookie-authenticated request from another origin.
    CrossOrigin => "cross_origin",
    NotAUser => "not_a_user",
    PrivilegeEscalation => "privilege_escalation",
    LastOwner => "last_owner",
    EmailTaken => "email_taken",
    RoleInUse => "role_in_use",
    RoleNameTaken => "role_name_taken",
    TooManyRoles => "too_many_roles",
    TooManyTeams => "too_many_teams",
    TooManyApiKeys => "too_many_api_keys",
    /// The phone number id is another workspace's.
    NumberTaken => "number_taken",
    /// The workspace has connected the number already (change it instead).
    NumberExists => "number_exists",
    /// The configuration manages it; it cannot be changed from the app.
    ManagedByConfig => "managed_by_config",
    // Conversations and sends.
    /// The id is from before conversation ids were keyed; the message names the new one.
    ConversationMoved => "conversation_moved",
    AgentNotConnected => "agent_not_connected",
    AlreadyResolved => "already_resolved",
    AlreadyOpen => "already_open",
    NothingToRead => "nothing_to_read",
    UnknownMessage => "unknown_message",
    UnknownMention => "unknown_mention",
    MentionCannotRead => "mention_cannot_read",
    NotThatType => "not_that_type",
    MediaUnavailable => "media_unavailable",
    /// Neither a kept copy nor WhatsApp has the file (purged by retention, or lost before a copy).
    MediaGone => "media_gone",
    /// A legal hold covers what the request would delete.
    UnderLegalHold => "under_legal_hold",
    /// Not sent: WhatsApp's rules or compliance refused it.
    Rejected => "rejected",
    /// Outside the 24-hour customer service window: only a template may be sent.
    OutsideWindow => "outside_window",
    /// An idempotency key reused for a different message.
    KeyReused => "key_reused",
    NoWaba => "no_waba",
    /// WhatsApp did not accept the message.
    SendFailed => "send_failed",
    // Contacts.
    /// Not a phone number a customer can have (the message says why: not a number, a fixed
    /// line, a national number without a region…).
    InvalidPhone => "invalid_phone",
    /// A value that does not fit: an attribute of the wrong type, a tag not in the catalogue, a
    /// name with invisible characters.
    InvalidValue => "invalid_value",
    /// A segment filter that is malformed, too deep or names what does not exist.
    InvalidFilter => "invalid_filter",
    /// More than a contact may carry (tags) or a tenant may define (tags, attributes, segments).
    TooMany => "too_many",
    /// A contact file that cannot be imported at all: empty, binary, a header and no rows, no
    /// phone column.
    BadFile => "bad_file",
    UnknownCharset => "unknown_charset",
    /// An import that cannot be undone: a dry run, one still running, or one undone already.
    NotUndoable => "not_undoable",
    // The outgoing word filter.
    /// A block list matched: nothing was sent (the matches say where).
    BlockedByFilter => "blocked_by_filter",
    /// A warn list matched: send again with `confirm_warnings: true` to send it anyway.
    NeedsConfirmation => "needs_confirmation",
    // The socket.
    BadFrame => "bad_frame",
    AlreadyAuthenticated => "already_authenticated",
    AlreadySubscribed => "already_subscribed",
    UnknownTopic => "unknown_topic",
    TooManySubscriptions => "too_many_subscriptions",
    NotAWebsocket => "not_a_websocket",
    BadHandshake => "bad_handshake",
    WebsocketVersion => "websocket_version",
    // Webhooks.
    MissingSignature => "missing_signature",
    InvalidSignature => "invalid_signature",
    MalformedWebhook => "malformed_webhook",
    BadVerifyToken => "bad_verify_token",
    // The server.
    /// Too much work at once (password hashing); retry after the `Retry-After` seconds.
    Busy => "busy",
    /// Too many requests or frames from one client: wait as long as it says (`Retry-After`, or
    /// the message's milliseconds on a socket) and send again.
    RateLimited => "rate_limited",
    NotReady => "not_ready",
    ShuttingDown => "shutting_down",
    StoreUnavailable => "store_unavailable",
    /// The disk holding the data is full: nothing was written. The server recovers by itself
    /// once an operator frees space.
    StorageFull => "storage_full",
    /// The database file was deleted, replaced or damaged under the running server: nothing
    /// is written until it is restored and the server restarted.
    StorageLost => "storage_lost",
    /// The data directory cannot be written (mounted read-only, permissions): nothing was
    /// written.
    StorageReadOnly => "storage_read_only",
    Internal => "internal",
}

/// A code this build does not know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownErrorCode(pub String);

impl fmt::Display for UnknownErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown error code `{}`", self.0)
    }
}

impl std::error::Error for UnknownErrorCode {}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for ErrorCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ErrorCode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        schemars::json_schema!({ "type": "string", "enum": codes })
    }
}

/// The body of every error answer: `{"error": {"code": "...", "message": "..."}}`. `code` is a
/// stable machine-readable code; `message` is for people and never holds internals.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// The request field the error is about (`terms[3]`, `name`), when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `blocked_by_filter` and `needs_confirmation`: what the word filter found, and where.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<crate::compliance::FilterMatch>,
    /// For a file refused whole (a rate card): every bad line and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<RowProblem>,
}

/// A line of an uploaded file that was refused, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RowProblem {
    /// 1-based line of the file.
    pub line: u64,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ApiErrorBody {
    pub error: ApiError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(*code));
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), *code);
        }
        assert!("no_such_code".parse::<ErrorCode>().is_err());
    }
}
