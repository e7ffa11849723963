//! What messages cost: Meta's pricing categories and types, the rate card, and the cost report.
//!
//! Amounts travel as decimal text in US dollars (`"0.0625"`), never as floating point: the server
//! adds them exactly, and the client shows them as they are.

use serde::{Deserialize, Serialize};

/// What Meta charges a delivered message as (the `pricing.category` of a status webhook, and a
/// rate card's column). Meta writes `authentication-international` with a hyphen; both spellings
/// are read, the underscore one written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PriceCategory {
    Marketing,
    /// Marketing messages sent through the Marketing Messages API ("MM Lite").
    MarketingLite,
    Utility,
    Authentication,
    #[serde(alias = "authentication-international")]
    AuthenticationInternational,
    /// Replies inside the customer service window (free under per-message pricing).
    Service,
    ReferralConversion,
}

impl PriceCategory {
    pub const ALL: [PriceCategory; 7] = [
        PriceCategory::Marketing,
        PriceCategory::MarketingLite,
        PriceCategory::Utility,
        PriceCategory::Authentication,
        PriceCategory::AuthenticationInternational,
        PriceCategory::Service,
        PriceCategory::ReferralConversion,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PriceCategory::Marketing => "marketing",
            PriceCategory::MarketingLite => "marketing_lite",
            PriceCategory::Utility => "utility",
            PriceCategory::Authentication => "authentication",
            PriceCategory::AuthenticationInternational => "authentication_international",
            PriceCategory::Service => "service",
            PriceCategory::ReferralConversion => "referral_conversion",
        }
    }

    /// Meta's spelling or ours (case-insensitive); `None` for a category nobody documented.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

/// Whether Meta bills the message (`pricing.type`): `regular` is billed; the free types are the
/// customer-service window and the free entry point (and group service replies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PricingType {
    Regular,
    FreeCustomerService,
    FreeEntryPoint,
    FreeGroupCustomerService,
}

impl PricingType {
    pub fn as_str(self) -> &'static str {
        match self {
            PricingType::Regular => "regular",
            PricingType::FreeCustomerService => "free_customer_service",
            PricingType::FreeEntryPoint => "free_entry_point",
            PricingType::FreeGroupCustomerService => "free_group_customer_service",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            PricingType::Regular,
            PricingType::FreeCustomerService,
            PricingType::FreeEntryPoint,
            PricingType::FreeGroupCustomerService,
        ]
        .into_iter()
        .find(|t| t.as_str() == text)
    }

    pub fn billed(self) -> bool {
        self == PricingType::Regular
    }
}

/// One price of a rate card: a category's price per delivered message to a country, from a
/// date (inclusive) to another (exclusive, none: until replaced), for a monthly volume band
/// (messages of the category to the country's market that month, from `volume_from`, up to but
/// not including `volume_to`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RateCardRow {
    /// `YYYY-MM-DD`.
    pub effective_from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_to: Option<String>,
    /// ISO 3166-1 alpha-2 (`DE`), or `*` for every country no other row names.
    pub country: String,
    pub category: PriceCategory,
    #[serde(default)]
    pub volume_from: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_to: Option<u64>,
    /// US dollars per message, decimal text.
    pub price: String,
}

/// The rate card a workspace prices its messages by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct RateCard {
    /// Where the prices come from (the shipped file says its source and date; an upload, who
    /// uploaded it and the file's own first comment line).
    pub source: String,
    /// `shipped` (the file in the binary) or `uploaded`.
    pub origin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    pub currency: String,
    /// Countries the card names (besides `*`).
    pub countries: usize,
    pub rows: Vec<RateCardRow>,
}

/// How a cost report groups its lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum CostGroup {
    Month,
    Number,
    Team,
    Campaign,
    Country,
    Category,
}

impl CostGroup {
    pub const ALL: [CostGroup; 6] = [
        CostGroup::Month,
        CostGroup::Number,
        CostGroup::Team,
        CostGroup::Campaign,
        CostGroup::Country,
        CostGroup::Category,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CostGroup::Month => "month",
            CostGroup::Number => "number",
            CostGroup::Team => "team",
            CostGroup::Campaign => "campaign",
            CostGroup::Country => "country",
            CostGroup::Category => "category",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == text)
    }
}

/// One line of a cost report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CostLine {
    /// The group's value (`2026-11`, a number id, a team id, a campaign id, `DE`, `marketing`);
    /// empty for messages without one (a reply nobody's team owns, no campaign).
    pub key: String,
    /// Priced messages (every status webhook with a `pricing` object, once per message).
    pub messages: u64,
    /// Of them, billed (`regular`).
    pub billed: u64,
    /// Of the billed, those the rate card has no price for (the country or date is not on it):
    /// not in `amount`, and worth a newer card.
    pub unpriced: u64,
    /// US dollars, decimal text.
    pub amount: String,
    /// What people call the key: the campaign's or the team's name, the number as dialled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// `GET /api/v1/costs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct CostReport {
    pub group_by: CostGroup,
    /// `YYYY-MM-DD`, inclusive.
    pub from: String,
    /// `YYYY-MM-DD`, exclusive.
    pub to: String,
    pub currency: String,
    pub lines: Vec<CostLine>,
    pub total: CostLine,
}

/// One priced message, as the reconciliation export lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Charge {
    pub wamid: String,
    /// When the status that priced it was reported (Unix ms).
    pub at: i64,
    pub number: String,
    pub country: String,
    pub category: PriceCategory,
    pub pricing_type: PricingType,
    /// `PMP` or `CBP`, as Meta said.
    pub pricing_model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Who sent it (`user:u_…`, `campaign:cp_…`, `automation:…`), when it went through the outbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// US dollars, decimal text; `None`: billed but not on the rate card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metas_spellings_are_read() {
        assert_eq!(
            PriceCategory::parse("authentication-international"),
            Some(PriceCategory::AuthenticationInternational)
        );
        assert_eq!(
            serde_json::from_str::<PriceCategory>("\"authentication-international\"").unwrap(),
            PriceCategory::AuthenticationInternational
        );
        assert_eq!(
            PriceCategory::parse(" Marketing "),
            Some(PriceCategory::Marketing)
        );
        assert_eq!(PriceCategory::parse("group_marketing"), None);
        for c in PriceCategory::ALL {
            assert_eq!(PriceCategory::parse(c.as_str()), Some(c));
        }
        assert!(PricingType::parse("regular").unwrap().billed());
        assert!(!PricingType::parse("free_entry_point").unwrap().billed());
    }
}
