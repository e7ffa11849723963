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
