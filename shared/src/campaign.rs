//! Broadcast campaigns on the wire: what an admin asks for (an approved template, an audience,
//! the values of its variables, the numbers, when and how fast), what pre-flight finds before it
//! starts, and how it stands while it runs.

use serde::{Deserialize, Serialize};

use crate::ids::{CampaignId, ContactId, PhoneNumberId, SegmentId};

/// Which template (an approved one of the sending numbers' WhatsApp Business Account), and
/// the values that are the same for every recipient: its header's, when its header takes one,
/// and its buttons' (a link's end, a copy code). The body's values are `variables`, per
/// recipient, in the order of the body's parameters (numbered or named).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TemplateRef {
    pub name: String,
    /// `en_US`, `ru`.
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<crate::api::TemplateHeaderValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<crate::api::TemplateButtonValue>,
}

/// Who receives it: a saved segment's members, or every contact with a tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Audience {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<SegmentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// The value of one of the template body's `{{n}}`, in order: a contact attribute, a field of
/// the contact (`name`, `phone`, `country`), or a fixed text; `fallback` when the contact has
/// no value (without one, that recipient is skipped with the reason).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Variable {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// `POST /api/v1/campaigns` and `PATCH` (a draft's fields, whole).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CampaignInput {
    #[cfg_attr(feature = "schema", schemars(length(min = 1, max = 200)))]
    pub name: String,
    pub template: TemplateRef,
    pub audience: Audience,
    #[serde(default)]
    pub variables: Vec<Variable>,
    /// The sending numbers; recipients are spread over them.
    pub numbers: Vec<PhoneNumberId>,
    /// When to start (RFC 3339 with an offset, or a local time with `time_zone`); none: when
    /// started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
    /// IANA zone of a local `start_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// The most messages a second the campaign sends over all its numbers (beneath the
    /// numbers' own tiers, which the governor keeps anyway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_per_second: Option<u32>,
    /// Skip a contact who got a campaign message within this many days (none: no cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_cap_days: Option<u32>,
    /// Spread the sends evenly over about this many minutes (an afternoon: 240), never faster
    /// than the pace above allows; none: as fast as that pace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_minutes: Option<u32>,
    /// Send to each recipient only between these times of day in their own time zone: the
    /// zone of their number's country (docs/campaigns.md says which zone a country with
    /// several uses). `{"from": "09:00", "to": "20:00"}`; none: at any time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_window: Option<crate::schedule::Interval>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    Draft,
    Scheduled,
    Running,
    Paused,
    Completed,
    Cancelled,
}

impl CampaignState {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Draft => "draft",
            CampaignState::Scheduled => "scheduled",
            CampaignState::Running => "running",
            CampaignState::Paused => "paused",
            CampaignState::Completed => "completed",
            CampaignState::Cancelled => "cancelled",
        }
    }

    /// Whether it will not send again.
    pub fn finished(self) -> bool {
        matches!(self, CampaignState::Completed | CampaignState::Cancelled)
    }
}

/// Where each recipient is, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CampaignCounts {
    /// Waiting for their turn, or in the outbox.
    pub queued: u64,
    pub sent: u64,
    pub delivered: u64,
    pub read: u64,
    /// Wrote back (or tapped a quick reply) after the campaign's message.
    pub replied: u64,
    /// Of the replies, quick-reply button taps.
    pub clicked: u64,
    pub failed: u64,
    /// Left out: opted out, no valid number, a missing value, the frequency cap…
    pub skipped: u64,
}

/// Why a contact is not sent to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Stopped marketing (STOP, the opt-out button, `user_preferences`, 131050).
    OptedOut,
    /// No phone number WhatsApp can deliver to (a BSUID only, or not a valid number).
    InvalidNumber,
    /// Meta does not deliver marketing templates to +1 (US) numbers.
    UsMarketing,
    /// A template variable without a value or a fallback.
    MissingVariable,
    /// Got a campaign message within the frequency cap.
    FrequencyCap,
    /// A template value the word filter blocks.
    BlockedByFilter,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::OptedOut => "opted_out",
            SkipReason::InvalidNumber => "invalid_number",
            SkipReason::UsMarketing => "us_marketing",
            SkipReason::MissingVariable => "missing_variable",
            SkipReason::FrequencyCap => "frequency_cap",
            SkipReason::BlockedByFilter => "blocked_by_filter",
        }
    }
}

/// A count of one skip reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Skipped {
    pub reason: SkipReason,
    pub count: u64,
}

/// What it would cost, by country and category.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CostEstimate {
    pub country: String,
    pub category: crate::costs::PriceCategory,
    pub messages: u64,
    /// US dollars, decimal text (what the rate card prices; `unpriced` are not in it).
    pub amount: String,
    pub unpriced: u64,
}

/// A recipient's message as they would get it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Preview {
    pub to: String,
    pub text: String,
}

/// `POST /api/v1/campaigns/{id}/preflight`: the audience after suppression, the cost and how
/// long it takes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Preflight {
    /// Contacts the audience selects.
    pub audience: u64,
    /// Of them, who would be sent to.
    pub eligible: u64,
    pub skipped: Vec<Skipped>,
    /// The template's category (`marketing`, `utility`, `authentication`).
    pub category: String,
    pub cost: Vec<CostEstimate>,
    /// US dollars, decimal text.
    pub total_cost: String,
    pub unpriced: u64,
    /// At the campaign's pace over its numbers' tiers, with the waits for each recipient's
    /// local window when it has one (at most 31 days).
    pub eta_seconds: u64,
    /// Messages a second it will send at.
    pub rate_per_second: f64,
    /// The first eligible recipient's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<Preview>,
}

/// A campaign as it stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Campaign {
    pub id: CampaignId,
    pub version: u64,
    pub state: CampaignState,
    #[serde(flatten)]
    pub input: CampaignInput,
    /// Recipients once it started (eligible and skipped).
    pub total: u64,
    pub counts: CampaignCounts,
    /// Why it paused (a person, or the automatic pause: failures, a quality drop, a storm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_reason: Option<String>,
    /// The campaign whose failed recipients this one retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<CampaignId>,
    /// The pre-flight made when it started (its estimate, against the ledger's actual).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<Preflight>,
    pub created_at: i64,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// While running: the recipients left are outside their local window until this time
    /// (milliseconds), when the campaign goes on by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_until: Option<i64>,
}

/// Where one recipient is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum RecipientState {
    Queued,
    Sent,
    Delivered,
    Read,
    Replied,
    Failed,
    Skipped,
}

impl RecipientState {
    pub const ALL: [RecipientState; 7] = [
        RecipientState::Queued,
        RecipientState::Sent,
        RecipientState::Delivered,
        RecipientState::Read,
        RecipientState::Replied,
        RecipientState::Failed,
        RecipientState::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecipientState::Queued => "queued",
            RecipientState::Sent => "sent",
            RecipientState::Delivered => "delivered",
            RecipientState::Read => "read",
            RecipientState::Replied => "replied",
            RecipientState::Failed => "failed",
            RecipientState::Skipped => "skipped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// How far along the funnel: a status never moves a recipient back (a late `delivered`
    /// after `read`).
    pub fn rank(self) -> u8 {
        match self {
            RecipientState::Skipped => 0,
            RecipientState::Queued => 1,
            RecipientState::Failed => 2,
            RecipientState::Sent => 3,
            RecipientState::Delivered => 4,
            RecipientState::Read => 5,
            RecipientState::Replied => 6,
        }
    }
}

/// One recipient of a campaign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Recipient {
    /// The customer's WhatsApp id (masked without `contacts.phone.view`).
    pub wa_id: String,
    pub contact: ContactId,
    pub state: RecipientState,
    /// Why skipped or failed (Meta's code and title for a failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<PhoneNumberId>,
    /// Tapped a quick-reply button.
    #[serde(default)]
    pub clicked: bool,
    pub updated_at: i64,
}

/// `GET /api/v1/templates`: one of the tenant's numbers and the approved templates its WhatsApp
/// Business Account holds, which is what a campaign sending from it may use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SenderTemplates {
    pub number: crate::api::Number,
    pub templates: Vec<crate::api::MessageTemplate>,
    /// Why the templates could not be read (the number has no WABA, WhatsApp did not answer);
    /// the number is still listed so that the choice is not silently smaller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `GET /api/v1/campaigns/{id}/cost`: what pre-flight estimated when the campaign started,
/// against what Meta priced its messages (the cost ledger's lines for it), in US dollars.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CampaignCost {
    /// Decimal text; none before it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<String>,
    /// Decimal text: the ledger's sum so far (statuses keep arriving after it completes).
    pub actual: String,
    /// Messages Meta priced, and of them, billed.
    pub messages: u64,
    pub billed: u64,
    /// Billed, but the rate card has no price for them (not in `actual`).
    pub unpriced: u64,
}

/// `POST templates`: a new message template for the WhatsApp Business Account of `number`,
/// as Meta's API takes it: `{"name", "category", "language", "parameter_format"?,
/// "components": [...]}` (see docs/campaigns.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct NewTemplate {
    pub number: PhoneNumberId,
    pub template: serde_json::Value,
}

/// A template submitted for review: Meta's id for it and where it stands (`PENDING` until
/// Meta's status webhook says `APPROVED` or `REJECTED`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SubmittedTemplate {
    pub id: String,
    pub name: String,
    pub language: String,
    pub status: String,
    pub category: String,
}
