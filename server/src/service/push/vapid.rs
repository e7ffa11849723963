//! The server's identity towards push services (VAPID, RFC 8292): a P-256 key derived from the
//! deployment's secrets key, so that it is made with that key at first start, is the same on
//! every server sharing a store, and needs no storage of its own; and the `Authorization` header
//! each push request carries (a short-lived ES256 token for the push service's origin).
//!
//! Owns: the derivation, the token. Must not: encrypt messages (RFC 8291 is the crate's).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint as _;
use sha2::Sha256;

/// How long a token is good for (RFC 8292 allows at most 24 hours).
const TOKEN_SECS: i64 = 12 * 3600;

pub struct Vapid {
    key: SigningKey,
    /// The public key as browsers take it (uncompressed point, base64url).
    public: String,
    subject: String,
}

impl Vapid {
    /// The key HKDF-SHA256 makes from the secrets key (the first candidate that is a valid
    /// P-256 scalar: all but one in 2^32 are), and `subject` for the tokens.
    pub fn derive(secrets_key: &[u8; 32], subject: &str) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"switchboard/vapid"), secrets_key);
        let key = (0u8..=255)
            .find_map(|counter| {
                let mut okm = [0u8; 32];
                hk.expand(
                    &[b"p-256 signing key v1 ".as_slice(), &[counter]].concat(),
                    &mut okm,
                )
                .expect("32 bytes is a valid HKDF-SHA256 length");
                SigningKey::from_slice(&okm).ok()
            })
            .expect("a valid scalar among 256 candidates");
        let point = key.verifying_key().as_affine().to_encoded_point(false);
        Self {
            public: URL_SAFE_NO_PAD.encode(point.as_bytes()),
            key,
            subject: subject.to_owned(),
        }
    }

    pub fn public_key(&self) -> &str {
        &self.public
    }

    /// `Authorization: vapid t=<token>, k=<public key>` for a request to `endpoint`, made at
    /// `now_s` (Unix seconds).
    pub fn header(&self, endpoint: &url::Url, now_s: i64) -> String {
        let audience = endpoint.origin().ascii_serialization();
        let head = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            serde_json::json!({
                "aud": audience,
                "exp": now_s + TOKEN_SECS,
                "sub": self.subject,
            })
            .to_string(),
        );
        let signed = format!("{head}.{claims}");
        let signature: Signature = self.key.sign(signed.as_bytes());
        format!(
            "vapid t={signed}.{}, k={}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes()),
            self.public
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Verifier as _;
    use p256::ecdsa::VerifyingKey;

    #[test]
    fn one_secrets_key_makes_one_vapid_key() {
        let a = Vapid::derive(&[1; 32], "mailto:ops@example.com");
        let b = Vapid::derive(&[1; 32], "mailto:ops@example.com");
        let c = Vapid::derive(&[2; 32], "mailto:ops@example.com");
        assert_eq!(a.public_key(), b.public_key());
        assert_ne!(a.public_key(), c.public_key());
        let raw = URL_SAFE_NO_PAD.decode(a.public_key()).unwrap();
        assert_eq!((raw.len(), raw[0]), (65, 4), "an uncompressed P-256 point");
    }

    #[test]
    fn the_token_is_an_es256_jwt_for_the_push_services_origin() {
        let vapid = Vapid::derive(&[3; 32], "mailto:ops@example.com");
        let endpoint = url::Url::parse("https://push.example.net:8443/wpush/v2/abc").unwrap();
        let header = vapid.header(&endpoint, 1_700_000_000);
        let rest = header.strip_prefix("vapid t=").unwrap();
        let (token, key) = rest.split_once(", k=").unwrap();
        assert_eq!(key, vapid.public_key());
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net:8443");
        assert_eq!(claims["exp"], 1_700_000_000 + TOKEN_SECS);
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        let verifying =
            VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(key).unwrap()).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(verifying.verify(signed.as_bytes(), &signature).is_ok());
        assert!(verifying.verify(b"something else", &signature).is_err());
    }
}
