//! Tenants and the business numbers they own.

use switchboard_shared::{PhoneNumberId, TenantId};

use super::UnixMillis;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantRecord {
    pub id: TenantId,
    pub name: String,
    pub created_at: UnixMillis,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberRecord {
    pub tenant: TenantId,
    pub phone_number_id: PhoneNumberId,
    pub display_phone_number: String,
    pub waba_id: Option<String>,
}
