//! Bot flows on the wire: a graph of steps a customer walks through (docs/flows.md). A flow is
//! stored with a version; a run stays on the version it started with. Texts may use
//! `{{variable}}`, `{{contact.name}}` and `{{contact.<attribute>}}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::FlowId;

/// The most flows a workspace has.
pub const MAX_FLOWS_PER_TENANT: usize = 100;
/// The most steps one flow has.
pub const MAX_NODES: usize = 200;
/// An HTTP step's default time budget, and the longest it may be given.
pub const DEFAULT_HTTP_MS: u32 = 2_000;
pub const MAX_HTTP_MS: u32 = 10_000;
/// The largest answer an HTTP step reads.
pub const MAX_HTTP_RESPONSE: usize = 256 * 1024;

/// One choice of a menu step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MenuOption {
    pub id: String,
    pub title: String,
    /// A list row's second line (lists only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The list section it goes in (lists only; options of one section next to each other).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// The step it leads to.
    pub next: String,
}

/// What a question expects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    #[default]
    Text,
    Number,
    Email,
    Phone,
    /// `YYYY-MM-DD` or `DD.MM.YYYY`, kept as `YYYY-MM-DD`.
    Date,
    /// One of `choices` (case and look-alikes aside).
    Choice,
    /// The whole answer matches `pattern`.
    Pattern,
}

/// How a condition compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    Equals,
    Contains,
    Exists,
    GreaterThan,
    LessThan,
}

/// The HTTP methods a lookup uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
}

/// One step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Node {
    /// Sends a text, then goes on (`next`; none: the flow ends).
    Message {
        text: String,
        #[serde(default)]
        next: Option<String>,
    },
    /// Sends reply buttons (up to 3 options) or a list (with `button`, up to 10), and waits for
    /// the customer's choice (tapped, or typed: the title or its number). Anything else gets
    /// `retry_text` and the menu again, up to `retries` times, then `fallback` (none: the flow
    /// hands off to a person).
    Menu {
        text: String,
        options: Vec<MenuOption>,
        /// The list's button label: present, the options are a list.
        #[serde(default)]
        button: Option<String>,
        #[serde(default)]
        retry_text: Option<String>,
        #[serde(default = "two")]
        retries: u8,
        #[serde(default)]
        fallback: Option<String>,
    },
    /// Asks, waits for the answer, checks it (`expect`), and keeps it as `variable` (and in the
    /// contact's `attribute`, when given). A bad answer gets `retry_text` and the question again,
    /// up to `retries` times, then `fallback` (none: hand-off).
    Question {
        text: String,
        variable: String,
        #[serde(default)]
        attribute: Option<String>,
        #[serde(default)]
        expect: Expect,
        #[serde(default)]
        choices: Vec<String>,
        #[serde(default)]
        pattern: Option<String>,
        #[serde(default)]
        retry_text: Option<String>,
        #[serde(default = "two")]
        retries: u8,
        next: String,
        #[serde(default)]
        fallback: Option<String>,
    },
    /// Goes to `then` or `otherwise` by a variable.
    Condition {
        variable: String,
        compare: Compare,
        #[serde(default)]
        value: serde_json::Value,
        then: String,
        otherwise: String,
    },
    /// Calls an HTTP endpoint (`url` and `body` are templates), signs the request when the flow
    /// has a secret, maps the JSON answer into variables by JSONPath (`{"status": "$.order.status"}`),
    /// and goes to `next`; a timeout, an error status, an answer that is not JSON or lacks a
    /// mapped value goes to `fallback`.
    Http {
        #[serde(default)]
        method: HttpMethod,
        url: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default)]
        body: Option<String>,
        #[serde(default)]
        timeout_ms: Option<u32>,
        #[serde(default)]
        map: BTreeMap<String, String>,
        next: String,
        fallback: String,
    },
    /// Hands the conversation to people: tagged `skill:<skill>` when given, with a note of the
    /// answers collected; the flow ends.
    Handoff {
        #[serde(default)]
        skill: Option<String>,
        #[serde(default)]
        text: Option<String>,
    },
    /// Ends the flow (saying `text`, when given).
    End {
        #[serde(default)]
        text: Option<String>,
    },
}

fn two() -> u8 {
    2
}

/// `POST /api/v1/automation/flows`, `PUT …/{id}`: a whole flow.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FlowInput {
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 100)))]
    pub name: String,
    /// The first step.
    pub start: String,
    pub nodes: BTreeMap<String, Node>,
    /// Hosts HTTP steps may reach although they resolve to private or loopback addresses
    /// (`orders.internal`, `127.0.0.1:8080`).
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Signs every HTTP step's request (`X-Switchboard-Signature: sha256=<HMAC of timestamp.body>`)
    /// and is `{{secret}}` in headers. Write-only: answers say only whether one is set; a `PUT`
    /// without it keeps the one stored.
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// On `PUT`: the version read (409 when it changed since).
    #[serde(default)]
    pub version: Option<u64>,
}

fn yes() -> bool {
    true
}

/// A flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Flow {
    pub id: FlowId,
    pub name: String,
    pub start: String,
    pub nodes: BTreeMap<String, Node>,
    pub allow_hosts: Vec<String>,
    pub has_secret: bool,
    pub enabled: bool,
    pub version: u64,
    pub updated_at: i64,
    pub updated_by: String,
    /// Runs started and finished (without a person) since the server started.
    pub started: u64,
    pub completed: u64,
    pub handed_off: u64,
}
