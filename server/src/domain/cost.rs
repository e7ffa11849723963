//! The cost ledger's record: one priced message, once.

use rust_decimal::Decimal;
use switchboard_shared::costs::{Charge, PriceCategory, PricingType};
use switchboard_shared::{PhoneNumberId, TeamId, TenantId, Wamid};

use super::UnixMillis;

/// One message Meta priced (a status webhook with a `pricing` object), recorded once per
/// message whatever number of its statuses carry the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChargeRecord {
    pub tenant: TenantId,
    pub wamid: Wamid,
    /// When the status that priced it happened.
    pub at_ms: UnixMillis,
    /// `2026-11`: the month (UTC) its price and volume count in.
    pub month: String,
    pub number: PhoneNumberId,
    /// ISO 3166 alpha-2 of the recipient's number; empty when unknown (a BSUID).
    pub country: String,
    pub category: PriceCategory,
    pub pricing_type: PricingType,
    /// `PMP` or `CBP`.
    pub model: String,
    /// The team owning the number when it was priced.
    pub team: Option<TeamId>,
    /// The outbox send's author (`user:u_…`, `campaign:cp_…`, `automation:…`).
    pub sender: Option<String>,
    pub campaign: Option<String>,
    /// The price booked: 0 for the free types; `None` when billed but the rate card had no price.
    pub price: Option<Decimal>,
}

impl ChargeRecord {
    pub fn wire(&self) -> Charge {
        Charge {
            wamid: self.wamid.as_str().to_owned(),
            at: self.at_ms,
            number: self.number.as_str().to_owned(),
            country: self.country.clone(),
            category: self.category,
            pricing_type: self.pricing_type,
            pricing_model: self.model.clone(),
            team: self.team.as_ref().map(|t| t.as_str().to_owned()),
            sender: self.sender.clone(),
            campaign: self.campaign.clone(),
            price: self.price.map(|p| p.normalize().to_string()),
        }
    }
}
