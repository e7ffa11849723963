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

/// A number connected from the app (or the API, or the CLI) rather than the configuration file:
/// what the store keeps of it. The three secrets are sealed (see `secret::Sealer`); the store
/// never sees them in the clear.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberConnection {
    pub tenant: TenantId,
    pub phone_number_id: PhoneNumberId,
    pub display_phone_number: String,
    pub waba_id: Option<String>,
    pub graph_api_url: String,
    /// Throughput tier, messages per second (Meta's throughput webhooks raise it).
    pub mps: u32,
    /// A disabled number neither sends nor takes webhooks; its history stays.
    pub enabled: bool,
    pub access_token: Vec<u8>,
    pub app_secret: Vec<u8>,
    pub verify_token: Vec<u8>,
    /// What Meta said when the number was last checked, when it refused (its token rejected,
    /// code 190, say); none when the check passed.
    pub problem: Option<String>,
    pub updated_at: UnixMillis,
}

impl NumberConnection {
    /// The number's place in its tenant's list.
    pub fn record(&self) -> NumberRecord {
        NumberRecord {
            tenant: self.tenant.clone(),
            phone_number_id: self.phone_number_id.clone(),
            display_phone_number: self.display_phone_number.clone(),
            waba_id: self.waba_id.clone(),
        }
    }
}

/// What connecting a number came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Connect {
    Connected,
    /// The phone number id is another workspace's already (its history, or its connection).
    Taken,
    /// This workspace has connected the number already.
    Exists,
}

/// A tenant id made from a display name: lowercase ASCII letters and digits joined by '-'.
pub fn slug_for(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "workspace".into()
    } else {
        slug
    }
}
