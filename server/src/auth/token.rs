//! Secrets handed to clients: session tokens (`sbs_…`) and API keys (`sbk_<id>_<secret>`).
//!
//! Both carry 256 random bits, so a plain SHA-256 is the right stored form: nobody can guess
//! their way to a preimage, and a lookup by hash costs nothing (Argon2 is for low-entropy
//! passwords). The CSRF token is derived from the session token, so it needs no storage and
//! dies with the session.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const SESSION_PREFIX: &str = "sbs_";
const KEY_PREFIX: &str = "sbk_";

fn random_hex<const N: usize>() -> String {
    hex::encode(rand::random::<[u8; N]>())
}

/// Hex SHA-256 of a secret: what the store keeps.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A fresh session token.
pub fn new_session_token() -> String {
    format!("{SESSION_PREFIX}{}", random_hex::<32>())
}

/// Whether a string has the shape of a session token (cheap pre-check before a store read).
pub fn looks_like_session(token: &str) -> bool {
    token.len() == SESSION_PREFIX.len() + 64
        && token.starts_with(SESSION_PREFIX)
        && token[SESSION_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
}

/// The CSRF token that goes with a session token.
pub fn csrf_for(session_token: &str) -> String {
    hash(&format!("csrf:{session_token}"))
}

/// Constant-time equality of two strings.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A new API key: its public id (`k_…`, what the store is keyed by) and the whole key to show
/// once.
pub fn new_api_key() -> (String, String) {
    let id = random_hex::<12>();
    let secret = random_hex::<32>();
    (format!("k_{id}"), format!("{KEY_PREFIX}{id}_{secret}"))
}

/// Splits a presented API key into its id (`k_…`) and the hash of the whole key.
pub fn parse_api_key(key: &str) -> Option<(String, String)> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hexy = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hexy(id, 24) && hexy(secret, 64)).then(|| (format!("k_{id}"), hash(key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_their_shape_and_hash_stably() {
        let t = new_session_token();
        assert!(looks_like_session(&t));
        assert!(!looks_like_session("sbs_123"));
        assert_eq!(hash(&t), hash(&t));
        assert_ne!(csrf_for(&t), hash(&t));
        let (id, key) = new_api_key();
        let (parsed, h) = parse_api_key(&key).unwrap();
        assert_eq!(parsed, id);
        assert_eq!(h, hash(&key));
        assert!(parse_api_key(&key.replace("sbk_", "sbs_")).is_none());
        assert!(parse_api_key("sbk_zz_zz").is_none());
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}
