//! Keyword rules on the wire: what a customer's message must match, under which conditions, and
//! what happens then (docs/automation.md). Times are Unix milliseconds.

use serde::{Deserialize, Serialize};

use crate::compliance::FilterMatch;
use crate::ids::{FlowId, PhoneNumberId, RuleId, ScheduleId};
use crate::interactive::InteractiveInput;

/// The most rules a workspace has.
pub const MAX_RULES_PER_TENANT: usize = 1_000;
/// The most keywords one rule has.
pub const MAX_KEYWORDS_PER_RULE: usize = 200;
/// The most actions one rule has.
pub const MAX_ACTIONS_PER_RULE: usize = 10;
/// The longest regular expression, in characters.
pub const MAX_REGEX_CHARS: usize = 500;
/// How much memory one compiled regular expression may take.
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// How a rule's keywords are compared with a message (both folded the same way as the word
/// filter: case, look-alikes, leetspeak, spacing, repeated letters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum MatchMode {
    /// The whole message is the keyword (`Цена?` matches `цена`).
    Exact,
    /// The keyword is a whole word (or words) of the message.
    #[default]
    Word,
    /// The keyword appears anywhere, even inside a word.
    Contains,
    /// The message begins with the keyword.
    StartsWith,
    /// A regular expression (Rust's `regex`: linear time, no look-around), matched
    /// case-insensitively against the message as written.
    Regex,
    /// A word of the message is at least `threshold` similar to the keyword (normalised
    /// Levenshtein on the folded words: `pirce` for `price`).
    Fuzzy,
}

/// What a rule looks for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleMatch {
    #[serde(default)]
    pub mode: MatchMode,
    pub keywords: Vec<String>,
    /// For `fuzzy`: how similar a word must be, from 0.5 to 1.0 (default 0.8).
    #[serde(default)]
    pub threshold: Option<f64>,
}

/// When a rule applies besides its keywords. All given conditions must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleConditions {
    /// Only the customer's first message in the conversation (`true`), or only later ones.
    #[serde(default)]
    pub first_message: Option<bool>,
    /// The contact carries at least one of these customer tags.
    #[serde(default)]
    pub has_tags: Vec<String>,
    /// The message is in this language (`ru` or `en`, told by its letters).
    #[serde(default)]
    pub language: Option<String>,
    /// Only while the business is open (`inside`) or closed (`outside`), by `schedule`.
    #[serde(default)]
    pub business_hours: Option<BusinessHours>,
    /// The schedule `business_hours` goes by; none: the schedule of the number the message
    /// arrived on, else the workspace's default schedule.
    #[serde(default)]
    pub schedule: Option<ScheduleId>,
}

/// Inside or outside business hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum BusinessHours {
    Inside,
    Outside,
}

/// What a rule does when it fires.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleAction {
    /// Answers the customer (through the durable outbox, and the word filter).
    Reply { text: String },
    /// Adds customer tags (from the tag catalogue) to the contact.
    AddTags(Vec<String>),
    /// Sets a contact attribute (defined in the workspace) to a value of its type.
    SetAttribute {
        key: String,
        value: serde_json::Value,
    },
    /// Steers routing: the conversation gets the tag `skill:<skill>`.
    Route { skill: String },
    /// Resolves the conversation (after any reply of the same rule).
    Resolve {},
    /// Starts a bot flow for the contact (unless one is running for them already).
    StartFlow { flow: FlowId },
    /// Answers with reply buttons or a list (through the outbox and the word filter).
    ReplyInteractive(InteractiveInput),
}

/// A keyword rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Rule {
    pub id: RuleId,
    pub name: String,
    #[serde(rename = "match")]
    pub matcher: RuleMatch,
    pub conditions: RuleConditions,
    pub actions: Vec<RuleAction>,
    /// The numbers it applies to; empty: every number.
    pub numbers: Vec<PhoneNumberId>,
    /// Higher first; equal priorities in id order.
    pub priority: i32,
    /// Whether no lower rule is tried once this one fired.
    pub stop: bool,
    /// At most one firing per contact within this many seconds.
    pub cooldown_secs: u32,
    /// Counts its hits without acting.
    pub shadow: bool,
    pub enabled: bool,
    pub version: u64,
    pub updated_at: i64,
    pub updated_by: String,
    /// Times it matched since the server started (acted on, or counted in shadow mode).
    pub hits: u64,
}

/// `POST /api/v1/automation/rules`, `PUT …/{id}`: a whole rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 100)))]
    pub name: String,
    #[serde(rename = "match")]
    pub matcher: RuleMatch,
    #[serde(default)]
    pub conditions: RuleConditions,
    pub actions: Vec<RuleAction>,
    #[serde(default)]
    pub numbers: Vec<PhoneNumberId>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default = "yes")]
    pub stop: bool,
    /// Default 3,600 (an hour); at most 30 days.
    #[serde(default)]
    pub cooldown_secs: Option<u32>,
    #[serde(default)]
    pub shadow: bool,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// On `PUT`: the version read; a rule changed since is not overwritten (409).
    #[serde(default)]
    pub version: Option<u64>,
}

fn yes() -> bool {
    true
}

/// `POST /api/v1/automation/test`: a message to try against the rules. Nothing is sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AutomationTest {
    pub text: String,
    /// Arriving on this number (rules limited to other numbers are skipped).
    #[serde(default)]
    pub number: Option<PhoneNumberId>,
    /// As the customer's first message in the conversation (default: not the first).
    #[serde(default)]
    pub first_message: bool,
    /// The contact's customer tags.
    #[serde(default)]
    pub contact_tags: Vec<String>,
    /// When it arrives (Unix milliseconds; default: now), for business hours.
    #[serde(default)]
    pub at: Option<i64>,
}

/// A rule that fired in a test, in the order they would act.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RuleFiring {
    pub rule: RuleId,
    pub name: String,
    /// The keyword (or pattern) that matched, and where in the message (UTF-8 byte offsets).
    pub keyword: String,
    pub start: usize,
    pub end: usize,
    /// Counted only (shadow mode).
    pub shadow: bool,
    pub actions: Vec<RuleAction>,
}

/// A rule whose keyword matched but which did not fire, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RuleSkipped {
    pub rule: RuleId,
    pub name: String,
    pub reason: String,
}

/// What a test found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AutomationReport {
    pub fired: Vec<RuleFiring>,
    pub skipped: Vec<RuleSkipped>,
    /// What the word filter finds in the message.
    pub filter: Vec<FilterMatch>,
    /// What the word filter finds in the replies that would go out (a blocked one is not sent).
    pub reply_filter: Vec<FilterMatch>,
    /// The schedule the message's number goes by, and what it would answer.
    pub hours: Option<HoursReport>,
}

/// Business hours at the time of a test.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct HoursReport {
    pub schedule: ScheduleId,
    pub name: String,
    pub open: bool,
    /// When it next opens or closes.
    pub next_change: Option<i64>,
    /// The off-hours reply that would go out (closed, with a reply set), rendered.
    pub off_hours_reply: Option<String>,
}
