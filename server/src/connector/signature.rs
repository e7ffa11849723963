//! `X-Hub-Signature-256`: lowercase hex HMAC-SHA256 of the exact raw body, keyed by the Meta
//! app secret, sent as `sha256=<hex>`. Verification is constant-time.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

pub const HEADER: &str = "x-hub-signature-256";

/// The header value Meta would send for `body` signed with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` is a valid signature of `body` under `secret`. A missing prefix, bad hex or
/// wrong length is simply invalid. Upper-case hex is accepted (some proxies re-case headers).
pub fn verify(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex_digest) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = hex::decode(hex_digest) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    given.len() == expected.len() && bool::from(expected.as_slice().ct_eq(&given))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_agree_and_reject_tampering() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = sign(b"secret", body);
        assert!(verify(b"secret", body, &header));
        assert!(verify(
            b"secret",
            body,
            &header.to_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(!verify(b"other", body, &header));
        assert!(!verify(b"secret", b"{}", &header));
        assert!(!verify(
            b"secret",
            body,
            header.trim_start_matches("sha256=")
        ));
        assert!(!verify(b"secret", body, "sha256=zz"));
        assert!(!verify(b"secret", body, &header[..header.len() - 2]));
    }
}
