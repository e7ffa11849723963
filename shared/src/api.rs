//! Request and response bodies of the REST API under `/api/v1`. Times are Unix milliseconds.
//! Requests reject unknown fields, so a typo is a 400, never silently ignored.

use serde::{Deserialize, Serialize};

use crate::ids::{
    ApiKeyId, ConversationId, PhoneNumberId, RoleId, SendId, TeamId, TenantId, UserId,
};
use crate::message::{Direction, MessageStatus};
use crate::permissions::Permission;

/// `POST /api/v1/auth/login` (sets the session cookie) and `POST /api/v1/auth/token` (returns a
/// bearer token instead).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// The answer to a cookie login: who signed in (with the CSRF token to send as `X-CSRF-Token`
/// with every cookie-authenticated write) and when the session ends at the latest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct LoginResponse {
    pub me: Me,
    pub expires_at: i64,
}

/// The answer to a token login: a bearer token for `Authorization: Bearer …`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TokenResponse {
    pub me: Me,
    pub token: String,
    pub expires_at: i64,
}

/// `GET /api/v1/auth/me`: the caller and what they may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Me {
    pub tenant: TenantId,
    pub tenant_name: String,
    /// `None` for an API key.
    pub user: Option<User>,
    /// The key's name, for an API key.
    pub api_key: Option<String>,
    pub permissions: Vec<Permission>,
    pub teams: Vec<TeamId>,
    /// The names of `teams`, in the same order.
    #[serde(default)]
    pub team_names: Vec<String>,
    /// For a cookie session: the token to send as `X-CSRF-Token` with writes.
    pub csrf_token: Option<String>,
}

/// `POST /api/v1/auth/password`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// `POST /api/v1/setup`: the first administrator, with the one-time token printed at start.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    pub token: String,
    /// The workspace to create when the token is not bound to an existing one.
    #[serde(default)]
    pub tenant_name: Option<String>,
    pub name: String,
    pub email: String,
    pub password: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub name: String,
    /// A preset name or a custom role id.
    pub role: String,
    pub disabled: bool,
    pub created_at: i64,
}

/// `POST /api/v1/users`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[cfg_attr(feature = "schema", schemars(email))]
    pub email: String,
    pub name: String,
    pub role: String,
    pub password: String,
}

/// `PATCH /api/v1/users/{id}`: only the fields present change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub disabled: Option<bool>,
    /// Sets a new password and ends the user's sessions.
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Role {
    /// A preset name (`owner`, …) or `r_…` for a custom role.
    pub id: RoleId,
    pub name: String,
    pub preset: bool,
    pub permissions: Vec<Permission>,
}

/// `POST /api/v1/roles` and `PUT /api/v1/roles/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RoleInput {
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 100)))]
    pub name: String,
    pub permissions: Vec<Permission>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub members: Vec<UserId>,
    pub numbers: Vec<PhoneNumberId>,
}

/// `POST /api/v1/teams` and `PUT /api/v1/teams/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 100)))]
    pub name: String,
    #[serde(default)]
    pub members: Vec<UserId>,
    #[serde(default)]
    pub numbers: Vec<PhoneNumberId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    pub permissions: Vec<Permission>,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// `POST /api/v1/api-keys`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateApiKey {
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 100)))]
    pub name: String,
    pub permissions: Vec<Permission>,
}

/// The one answer that contains a key's secret: it is never shown again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ApiKeyCreated {
    pub key: ApiKey,
    pub secret: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AuditEntry {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub actor_name: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub created_at: i64,
}

/// `PATCH /api/v1/tenant`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Number {
    pub phone_number_id: PhoneNumberId,
    pub display_phone_number: String,
    pub waba_id: Option<String>,
    /// `config` (the configuration file's, or the demo simulator's: read-only here), `app`
    /// (connected at run time), or `none` (its connection was removed; its history stays).
    #[serde(default)]
    pub managed_by: String,
    #[serde(default)]
    pub graph_api_url: Option<String>,
    /// Throughput tier, messages per second.
    #[serde(default)]
    pub mps: Option<u32>,
    #[serde(default)]
    pub enabled: bool,
    /// What Meta said when the number was last checked, when it refused (a rejected token).
    #[serde(default)]
    pub problem: Option<String>,
    #[serde(default)]
    pub updated_at: Option<i64>,
}

/// `POST numbers`: a number to connect, with the fields of a `[[whatsapp.numbers]]` entry of
/// the configuration (less `tenant`, which is the caller's). The three secrets are sealed at
/// rest and never shown again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewNumber {
    pub phone_number_id: String,
    /// Asked of Meta when left empty.
    #[serde(default)]
    pub display_phone_number: String,
    #[serde(default)]
    pub waba_id: Option<String>,
    /// Defaults to `https://graph.facebook.com/v23.0`.
    #[serde(default)]
    pub graph_api_url: Option<String>,
    /// Defaults to 80 (Meta's default tier).
    #[serde(default)]
    pub mps: Option<u32>,
    pub access_token: String,
    pub app_secret: String,
    pub verify_token: String,
}

/// `PATCH numbers/{phone_number_id}`: what is given replaces what was.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NumberPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_phone_number: Option<String>,
    /// An empty string clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waba_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_api_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_token: Option<String>,
}

/// A conversation as a caller may see it: the customer's number is masked (`•••••••1234`)
/// unless the caller holds `contacts.phone.view`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Conversation {
    pub id: ConversationId,
    pub number: PhoneNumberId,
    pub customer: String,
    pub customer_name: Option<String>,
    pub last_message_at: i64,
    /// `None` for a conversation stored before routing saw it.
    pub state: Option<ConversationState>,
    pub assignee: Option<UserId>,
    /// When the customer's oldest unanswered message arrived; `None` when answered.
    pub waiting_since: Option<i64>,
    /// The customer's last message (the 24-hour window runs from it).
    pub last_inbound_at: Option<i64>,
    pub tags: Vec<String>,
}

/// `GET /api/v1/conversations/{id}/customer`: who the customer is, and every conversation the
/// caller may see that they have with the workspace's numbers (this one included), newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CustomerProfile {
    /// Masked like [`Conversation::customer`].
    pub customer: String,
    pub name: Option<String>,
    pub conversations: Vec<CustomerConversation>,
    /// The customer's contact (`GET /api/v1/contacts/{id}` with `contacts.read`).
    pub contact: Option<crate::ids::ContactId>,
}

/// One of a customer's conversations, with the business number it is with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CustomerConversation {
    pub conversation: Conversation,
    pub display_phone_number: String,
}

/// `GET /api/v1/routing`: how conversations reach agents. Set in the server's configuration
/// file (`[routing]`) as the server's defaults, which a workspace's saved settings replace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RoutingSettings {
    /// `least_load` or `round_robin`: the default for numbers without their own.
    pub strategy: String,
    /// Conversations an agent holds at once (an agent's profile may set their own).
    pub capacity: u32,
    /// An assigned agent who has not answered within this long loses the conversation to
    /// another (0: never).
    pub reply_deadline_secs: u64,
    /// How long an agent whose connection dropped keeps their conversations.
    pub offline_grace_secs: u64,
    /// Customers waiting longer than this for a first reply are at risk on the board.
    pub sla_secs: u64,
    /// What a customer who has to wait is told (empty: nothing).
    pub queue_notice: String,
    /// Each of the workspace's numbers and the strategy in force for it.
    pub numbers: Vec<NumberRouting>,
    /// The saved settings' version (send it back with a change, so that one made meanwhile is
    /// not overwritten); none while the workspace uses the server's defaults.
    #[serde(default)]
    pub version: Option<u64>,
}

/// `PATCH settings/routing`: what is given replaces what was; the rest stays.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RoutingPatch {
    /// `least_load` or `round_robin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// 1 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u32>,
    /// 0 (never) or 30 to 86400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_deadline_secs: Option<u64>,
    /// 0 to 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_grace_secs: Option<u64>,
    /// 10 to 86400.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_secs: Option<u64>,
    /// At most 1,000 characters; `{position}` and `{minutes}` are filled in. Empty: nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_notice: Option<String>,
    /// A number's own strategy, by phone_number_id; an empty string returns it to the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<std::collections::BTreeMap<String, String>>,
    /// The version read; a change made since is refused (409) instead of overwritten.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct NumberRouting {
    pub phone_number_id: PhoneNumberId,
    pub display_phone_number: String,
    pub strategy: String,
}

/// `POST /api/v1/conversations/{id}/messages`: a reply. Exactly one of `text` (alone),
/// `media` (with `text` as its caption) or `template` says what it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OutgoingMessage {
    /// The text; with `media`, its caption (images, videos and documents only).
    #[serde(default)]
    pub text: Option<String>,
    /// A file uploaded with `POST /api/v1/conversations/{id}/media`.
    #[serde(default)]
    pub media: Option<MediaInput>,
    /// An approved template: the only kind of message WhatsApp delivers once the customer's
    /// last message is more than 24 hours old.
    #[serde(default)]
    pub template: Option<TemplateInput>,
    /// Reply buttons (up to 3) or a list (up to 10 rows), within WhatsApp's limits.
    #[serde(default)]
    pub interactive: Option<crate::interactive::InteractiveInput>,
    /// The `key` of a message in this conversation that this one answers (the customer sees it
    /// quoted).
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Your own unique key for this message (up to 100 characters). Sending again with the same
    /// key (after a lost answer, or from an offline queue) returns the first send instead of
    /// making a second one. Without it, every request is a new message.
    #[serde(default)]
    pub key: Option<String>,
    /// Send although a warn list of the word filter matched (`needs_confirmation` came back and
    /// the sender confirmed).
    #[serde(default)]
    pub confirm_warnings: bool,
    /// Send although a block list matched, for this reason (1 to 500 characters; needs
    /// `compliance.override`; audited with the terms found).
    #[serde(default)]
    pub override_reason: Option<String>,
}

/// A file to send, as `POST …/media` described it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MediaInput {
    /// WhatsApp's media id from the upload.
    pub id: String,
    /// `image`, `video`, `audio`, `document` or `sticker`.
    pub kind: String,
    /// Shown to the customer for documents.
    #[serde(default)]
    pub filename: Option<String>,
}

/// The answer to `POST /api/v1/conversations/{id}/media` (`201 Created`): pass `id`, `kind` and
/// `filename` as the `media` of a message within 30 days.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Uploaded {
    pub id: String,
    pub kind: String,
    pub mime_type: String,
    pub filename: Option<String>,
    pub bytes: u64,
}

/// A template to send: its body's values (in order for `{{1}}`, `{{2}}`, …, or by name for a
/// template with named parameters), its header's value when the header takes one (a text
/// parameter, or the file a media header shows), and values for the buttons that take one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub name: String,
    /// The template's language code (`en_US`, `ru`, …).
    pub language: String,
    /// The body's values in order, for a template with positional parameters.
    #[serde(default)]
    pub params: Vec<String>,
    /// The body's values by name (`{"order_id": "A-1042"}`), for a template with named
    /// parameters.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub named: std::collections::BTreeMap<String, String>,
    /// The header's value, when its header takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<TemplateHeaderValue>,
    /// Values for the buttons that take one, by the button's place (from 0).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<TemplateButtonValue>,
}

/// What a template's header shows: the value of its text's parameter, or its file (a media id
/// an upload returned, or an `https` link WhatsApp fetches).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TemplateHeaderValue {
    Text {
        text: String,
    },
    Image {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
    },
    Video {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
    },
    Document {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        link: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
    },
}

/// A button's value: a URL button's dynamic end (`{{1}}` in its URL), a copy-code button's
/// code, or a quick reply's payload (what comes back when the customer taps it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TemplateButtonValue {
    /// The button's place among the template's buttons, from 0.
    pub index: u8,
    pub value: String,
}

/// A message template of the conversation's number (`GET
/// /api/v1/conversations/{id}/templates`, `GET /api/v1/templates`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MessageTemplate {
    pub name: String,
    pub language: String,
    /// `utility`, `marketing` or `authentication` (it sets the price).
    pub category: String,
    /// Meta's review: `approved`, `pending`, `rejected`, `paused`, `disabled`, … (only
    /// `approved` ones can be sent).
    #[serde(default)]
    pub status: String,
    /// Meta's quality rating from customers' reactions: `green`, `yellow`, `red`, or `unknown`
    /// while too few have seen it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
    /// The body with its `{{1}}`, `{{2}}`, … (or `{{name}}`) placeholders.
    pub body: String,
    /// How many values the body takes.
    pub params: u32,
    /// The body's parameter names in order, for a template with named parameters (`params`
    /// counts them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// The header, when the template has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<TemplateHeaderInfo>,
    /// The buttons, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<TemplateButtonInfo>,
}

/// A template's header as a sender needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TemplateHeaderInfo {
    /// `text`, `image`, `video`, `document` or `location`.
    pub format: String,
    /// A text header's words, with its parameter if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Whether a send must give the header a value (a text parameter, or a media header's file).
    pub takes_value: bool,
}

/// A template's button as a sender needs it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TemplateButtonInfo {
    pub index: u8,
    /// `quick_reply`, `url`, `phone_number`, `copy_code`, …
    pub kind: String,
    pub text: String,
    /// A URL button's address (with `{{1}}` where the value goes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Whether a send must give it a value (a URL with `{{1}}`, a copy-code button).
    pub takes_value: bool,
}

/// `POST /api/v1/conversations/{id}/reactions`: reacts to a message with an emoji; an empty
/// emoji takes the reaction back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReactionInput {
    /// The `key` of the message reacted to.
    pub message: String,
    pub emoji: String,
    /// As [`OutgoingMessage::key`].
    #[serde(default)]
    pub key: Option<String>,
}

/// A file a message carries. Fetch it with `GET
/// /api/v1/conversations/{id}/messages/{key}/media`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MediaRef {
    pub id: String,
    pub mime_type: Option<String>,
    pub filename: Option<String>,
    /// Where Switchboard's own copy of the file stands (in conversation history; absent in
    /// live events and for files from before copies were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<MediaCopy>,
}

/// Where Switchboard's copy of a message's file stands. WhatsApp drops customers' files after 7
/// days and uploads after 30; a `kept` file still opens after that.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MediaCopy {
    /// Queued: copied shortly (retried while WhatsApp or the blob store fails).
    Pending,
    Kept,
    /// Larger than the server keeps (`media.max_file_mib`).
    TooLarge,
    /// WhatsApp dropped it before a copy succeeded.
    Lost,
    /// Deleted by the workspace's retention policy.
    Purged,
}

impl MediaCopy {
    pub const ALL: [MediaCopy; 5] = [
        MediaCopy::Pending,
        MediaCopy::Kept,
        MediaCopy::TooLarge,
        MediaCopy::Lost,
        MediaCopy::Purged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MediaCopy::Pending => "pending",
            MediaCopy::Kept => "kept",
            MediaCopy::TooLarge => "too_large",
            MediaCopy::Lost => "lost",
            MediaCopy::Purged => "purged",
        }
    }
}

// Read through a string rather than derived: the PWA's WASM is at its size budget, and the
// derived visitor cost it most of a kilobyte compressed.
impl<'de> Deserialize<'de> for MediaCopy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown media copy state `{s}`")))
    }
}

/// What a message carries besides its text, read from WhatsApp's own message object.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct MessageParts {
    /// The wamid of the message this one quotes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// For a reaction: the wamid of the message reacted to (`text` is the emoji, none when
    /// taken back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction_to: Option<String>,
    /// Boxed: most messages have none, and events stay small.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<Box<MediaRef>>,
}

/// Where a send stands: the answer to [`OutgoingMessage`] (`202 Accepted`), and `GET
/// /api/v1/sends/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Send {
    /// The send's id (`o_…`); `message_stored` and `send_failed` events name it as `outbox`.
    pub id: SendId,
    pub conversation: ConversationId,
    /// `queued` (waiting for its turn under WhatsApp's rate limits), `sending`, `sent` or
    /// `failed`.
    pub state: String,
    /// WhatsApp's id for the message, once sent.
    pub wamid: Option<String>,
    /// Why it failed, once failed.
    pub error: Option<String>,
    pub attempts: u32,
    pub created_at: i64,
    pub updated_at: i64,
}

/// `POST /api/v1/conversations/{id}/assign`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AssignTo {
    pub agent: UserId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Message {
    pub key: String,
    pub wamid: String,
    pub direction: Direction,
    pub kind: String,
    pub text: Option<String>,
    pub at: i64,
    pub status: MessageStatus,
    /// Why a `failed` message failed: Meta's codes and what they mean
    /// (`131047: more than 24 hours since …`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Masked like [`Conversation::customer`].
    pub customer: String,
    #[serde(flatten)]
    pub parts: MessageParts,
}

/// `GET /api/v1/search`: a message whose text holds every word of the query, in a conversation
/// the caller may see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SearchResult {
    pub conversation_id: ConversationId,
    pub message: Message,
    /// The text around the first word that matched, `…` where it was cut.
    pub snippet: String,
}

/// An internal note on a conversation: seen by colleagues, never by the customer. Mentions are
/// written `@{u_…}` in the text; each one names a user who is notified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Note {
    pub id: String,
    pub author: Option<UserId>,
    pub author_name: String,
    pub text: String,
    pub mentions: Vec<UserId>,
    pub at: i64,
}

/// `GET /api/v1/conversations/{id}/mentionable`: a colleague who may read the conversation, and
/// so may be mentioned in its notes (`@{u_…}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Colleague {
    pub id: UserId,
    pub name: String,
}

/// `POST /api/v1/conversations/{id}/notes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NoteInput {
    pub text: String,
}

/// `PUT /api/v1/conversations/{id}/tags`: the whole new set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct TagsInput {
    /// At most 20, each 1 to 40 lowercase letters, digits, `:`, `_`, `-` or `.`.
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 20), inner(regex(pattern = r"^[a-z0-9:_.-]{1,40}$")))
    )]
    pub tags: Vec<String>,
}

/// `PUT /api/v1/agents/{id}/profile`: what routing knows of an agent beyond presence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AgentProfile {
    /// Routing skills: `lang:ru`, `skill:billing`, … (matched against conversation tags).
    #[cfg_attr(
        feature = "schema",
        schemars(length(max = 20), inner(regex(pattern = r"^[a-z0-9:_.-]{1,40}$")))
    )]
    pub skills: Vec<String>,
    /// Conversations this agent holds at once; `None` for the tenant's default.
    #[serde(default)]
    pub capacity: Option<u32>,
}

/// `PUT /api/v1/agents/me/status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StatusInput {
    pub status: AgentStatus,
}

/// A page of a list: pass `next` back as `?cursor=` for the following one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Masks a phone number or WhatsApp id, keeping the last four characters: `•••••••1234`.
pub fn mask_phone(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let keep = chars.len().min(4);
    let hidden = chars.len() - keep;
    let mut masked: String = "•".repeat(hidden.max(3));
    masked.extend(&chars[hidden..]);
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_only_the_last_four() {
        assert_eq!(mask_phone("79161234567"), "•••••••4567");
        assert_eq!(mask_phone("12"), "•••12");
        assert!(!mask_phone("16505551234").contains("650555"));
    }

    #[test]
    fn requests_reject_unknown_fields() {
        let bad = r#"{"email":"a@b.c","password":"x","admin":true}"#;
        assert!(serde_json::from_str::<LoginRequest>(bad).is_err());
    }
}

/// What an agent says about themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Available,
    Busy,
    Break,
}

/// Where a conversation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    /// Waiting for an agent.
    Queued,
    Assigned,
    Resolved,
}
