//! Identifiers derived with a secret: conversation ids and the message references masked
//! callers see instead of wamids.
//!
//! A conversation id must be deterministic (every webhook for a number and a customer lands in
//! the same partition with no read first), but an unkeyed digest of (tenant, number, customer)
//! gave the customer's number back to anyone who saw the id, the mask's last four digits and a
//! few seconds of brute force (issue 16). Ids are now HMAC-SHA256 under a per-tenant key,
//! itself derived from one random secret per deployment that the store keeps (`server_keys`),
//! so every node of a cluster derives the same ids and nobody without the secret can reverse
//! them. Must not: be used for anything that needs to be reversed (these are one-way).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use switchboard_shared::{ContactId, ConversationId, PhoneNumberId, TenantId, WaId};

type HmacSha256 = Hmac<Sha256>;

/// The deployment's identifier secret, 32 random bytes.
#[derive(Clone)]
pub struct IdKeys {
    master: [u8; 32],
}

impl std::fmt::Debug for IdKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdKeys(…)")
    }
}

/// How long a conversation id's digest is, in hex characters (160 bits). Ids made before the
/// keyed scheme had 32: [`IdKeys::is_legacy_conversation_id`] tells them apart.
const CONVERSATION_HEX: usize = 40;

impl IdKeys {
    pub fn new(master: [u8; 32]) -> Self {
        Self { master }
    }

    /// The secret itself, for the store that keeps it.
    pub fn secret(&self) -> &[u8; 32] {
        &self.master
    }

    /// A fresh random secret (what a store stores once, on first start).
    pub fn generate() -> [u8; 32] {
        rand::random()
    }

    /// The tenant's key for one purpose: HMAC(master, purpose ‖ 0 ‖ tenant).
    fn tenant_mac(&self, purpose: &str, tenant: &TenantId) -> HmacSha256 {
        let mut derive =
            HmacSha256::new_from_slice(&self.master).expect("HMAC accepts keys of any length");
        derive.update(purpose.as_bytes());
        derive.update(&[0]);
        derive.update(tenant.as_str().as_bytes());
        let key = derive.finalize().into_bytes();
        HmacSha256::new_from_slice(&key).expect("HMAC accepts keys of any length")
    }

    /// The conversation between a number and a customer: `c_` and 40 hex characters.
    pub fn conversation_id(
        &self,
        tenant: &TenantId,
        number: &PhoneNumberId,
        customer: &WaId,
    ) -> ConversationId {
        let mut mac = self.tenant_mac("conversation", tenant);
        mac.update(number.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(customer.as_str().as_bytes());
        let digest = mac.finalize().into_bytes();
        ConversationId::new(format!("c_{}", &hex::encode(digest)[..CONVERSATION_HEX]))
    }

    /// A contact first known by `identity` (its number's digits, or its BSUID): `ct_` and 32 hex
    /// characters. Derived, so that the first message of a new customer makes their contact
    /// without reading first, and every server makes the same one.
    pub fn contact_id(&self, tenant: &TenantId, identity: &str) -> ContactId {
        let mut mac = self.tenant_mac("contact", tenant);
        mac.update(identity.as_bytes());
        ContactId::new(format!(
            "ct_{}",
            &hex::encode(mac.finalize().into_bytes())[..32]
        ))
    }

    /// What a caller who may not see customers' numbers gets instead of a wamid (a wamid is
    /// base64 that contains the customer's number): `m_` and 32 hex characters, the same for
    /// the same wamid everywhere (a message, the quote of it, a reaction to it, its statuses),
    /// so clients match them as they would wamids.
    pub fn message_ref(&self, tenant: &TenantId, wamid: &str) -> String {
        let mut mac = self.tenant_mac("message", tenant);
        mac.update(wamid.as_bytes());
        format!("m_{}", &hex::encode(mac.finalize().into_bytes())[..32])
    }

    /// Whether `id` has the form conversation ids had before they were keyed.
    pub fn is_legacy_conversation_id(id: &str) -> bool {
        id.strip_prefix("c_")
            .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_per_deployment_and_tenant_and_reveal_nothing_without_the_secret() {
        let keys = IdKeys::new([7; 32]);
        let other = IdKeys::new([8; 32]);
        let (t, n, c) = (
            TenantId::from("acme"),
            PhoneNumberId::from("111"),
            WaId::from("79161234567"),
        );
        let id = keys.conversation_id(&t, &n, &c);
        assert_eq!(id, keys.conversation_id(&t, &n, &c));
        assert_ne!(id, other.conversation_id(&t, &n, &c), "another deployment");
        assert_ne!(
            id,
            keys.conversation_id(&TenantId::from("globex"), &n, &c),
            "another tenant"
        );
        assert_eq!(id.as_str().len(), 2 + CONVERSATION_HEX);
        assert!(!IdKeys::is_legacy_conversation_id(id.as_str()));
        assert!(IdKeys::is_legacy_conversation_id(
            "c_cc495241eeba7ea0cc495241eeba7ea0"
        ));
        let reference = keys.message_ref(&t, "wamid.HBgLNzkxNjEyMzQ1NjcVAgARGBI");
        assert!(reference.starts_with("m_") && reference.len() == 34);
        assert!(!reference.contains("7916"));
        assert_ne!(
            reference,
            keys.message_ref(
                &TenantId::from("globex"),
                "wamid.HBgLNzkxNjEyMzQ1NjcVAgARGBI"
            )
        );
    }
}
