//! The CRM card on the wire: a workspace's connector to its CRM (where to ask, which fields to
//! show to whom) and the card a conversation's side panel shows, with the data's age.

use serde::{Deserialize, Serialize};

/// A field of the card: its label, where it is in the CRM's answer (JSONPath, RFC 9535), and
/// which roles see it (none listed: everyone who may read the conversation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CrmField {
    pub label: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// `GET settings/crm`: the connector (never its header's value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CrmConnector {
    /// `https://crm.example.com/api/customers?phone={{contact.phone}}`: `{{contact.phone}}`,
    /// `{{contact.id}}` and `{{contact.name}}` are filled in, URL-encoded.
    pub url: String,
    /// `GET` or `POST` (a POST sends `{"phone", "contact", "name"}` as JSON).
    pub method: String,
    /// The header that authenticates (`Authorization`), when one does.
    pub header_name: String,
    /// Whether a header value is saved (it is never shown).
    pub header_set: bool,
    pub fields: Vec<CrmField>,
    /// How long the panel waits for the CRM (default 500 ms).
    pub budget_ms: u32,
    /// How long an answer is fresh; older ones are shown at once and asked again.
    pub fresh_secs: u32,
    pub enabled: bool,
    pub version: u64,
}

/// `PUT settings/crm`: the connector whole; `header_value` left out keeps the saved one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CrmConnectorInput {
    pub url: String,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub header_name: Option<String>,
    /// Write-only; an empty string removes it.
    #[serde(default)]
    pub header_value: Option<String>,
    pub fields: Vec<CrmField>,
    #[serde(default)]
    pub budget_ms: Option<u32>,
    #[serde(default)]
    pub fresh_secs: Option<u32>,
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The version read; a change made since is refused (409).
    #[serde(default)]
    pub version: Option<u64>,
}

/// How current a card is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CrmState {
    /// Fetched within the connector's `fresh_secs`.
    Fresh,
    /// Older (the CRM was slow, failing, or is being asked again): `age_ms` says how old.
    Stale,
    /// No answer yet within the budget, and none kept: `error` says why.
    Unavailable,
    /// The workspace has no connector, or it is off.
    NotConfigured,
}

/// One field's value (JSON as the CRM gave it; `null` when the path found nothing).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CrmValue {
    pub label: String,
    pub value: serde_json::Value,
}

/// `GET conversations/{id}/crm`: the customer's card.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CrmCard {
    pub state: CrmState,
    pub fields: Vec<CrmValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_ms: Option<i64>,
    /// Why the last fetch failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
