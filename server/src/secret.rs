//! A string that never appears in logs or `Debug` output, and the key that seals secrets the
//! app saves (numbers' tokens) before they reach the store.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must use it (a header, an HMAC key).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(«redacted»)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("«redacted»")
    }
}

/// Seals secrets for the store with ChaCha20-Poly1305 under the deployment's secrets key. A
/// sealed value is a version byte, a random 96-bit nonce and the ciphertext with its tag; the
/// context (what the value is, and whose) is authenticated, so a sealed token copied into
/// another number's row, or into another field, does not open.
pub struct Sealer {
    key: ring::aead::LessSafeKey,
}

/// The first byte of every sealed value: which scheme sealed it.
const SEALED_V1: u8 = 1;
const NONCE_LEN: usize = 12;

/// A sealed value that does not open: another key sealed it, or it was altered.
#[derive(Debug, thiserror::Error)]
#[error("a stored secret does not open with this deployment's secrets key (another key sealed it, or it was altered)")]
pub struct Unsealable;

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Self {
        let unbound = ring::aead::UnboundKey::new(&ring::aead::CHACHA20_POLY1305, key)
            .expect("a 32-byte ChaCha20-Poly1305 key");
        Self {
            key: ring::aead::LessSafeKey::new(unbound),
        }
    }

    pub fn seal(&self, context: &str, secret: &Secret) -> Vec<u8> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + secret.0.len() + 16);
        sealed.push(SEALED_V1);
        sealed.extend_from_slice(&nonce_bytes);
        let mut body = secret.0.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce_bytes),
                ring::aead::Aad::from(context.as_bytes()),
                &mut body,
            )
            .expect("sealing a short secret cannot fail");
        sealed.extend_from_slice(&body);
        sealed
    }

    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Secret, Unsealable> {
        let [SEALED_V1, rest @ ..] = sealed else {
            return Err(Unsealable);
        };
        if rest.len() < NONCE_LEN {
            return Err(Unsealable);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = ring::aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unsealable)?;
        let mut body = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, ring::aead::Aad::from(context.as_bytes()), &mut body)
            .map_err(|_| Unsealable)?;
        String::from_utf8(plain.to_vec())
            .map(Secret)
            .map_err(|_| Unsealable)
    }
}

/// Reads the secrets key: base64 of 32 bytes, from the configuration (or its environment
/// variable) when set, else from `file`, which is made (readable by this user only) with a
/// fresh key on first start. Returns the key and whether it came from the file.
pub fn load_key(configured: &Secret, file: &std::path::Path) -> Result<[u8; 32], String> {
    use base64::Engine as _;
    let decode = |text: &str, from: &str| -> Result<[u8; 32], String> {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| format!("{from}: the secrets key must be 32 bytes in base64 (`openssl rand -base64 32`)"))
    };
    if !configured.is_empty() {
        return decode(configured.expose(), "secrets.key");
    }
    match std::fs::read_to_string(file) {
        Ok(text) => decode(&text, &file.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key: [u8; 32] = rand::random();
            let text = base64::engine::general_purpose::STANDARD.encode(key);
            write_private(file, text.as_bytes()).map_err(|e| format!("{}: {e}", file.display()))?;
            Ok(key)
        }
        Err(e) => Err(format!("{}: {e}", file.display())),
    }
}

/// Writes a new file only its owner may read, durably (the key must outlive a power cut that
/// the secrets it sealed survive).
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn never_printed() {
        let s = super::Secret::new("hunter2");
        assert!(!format!("{s:?} {s}").contains("hunter2"));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_context() {
        let sealer = super::Sealer::new(&[7; 32]);
        let token = super::Secret::new("EAAG-token");
        let sealed = sealer.seal("n1/access_token", &token);
        assert!(!sealed.windows(5).any(|w| w == b"EAAG-"));
        assert_eq!(sealer.open("n1/access_token", &sealed).unwrap(), token);
        assert!(sealer.open("n2/access_token", &sealed).is_err());
        assert!(sealer.open("n1/app_secret", &sealed).is_err());
        assert!(super::Sealer::new(&[8; 32])
            .open("n1/access_token", &sealed)
            .is_err());
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert!(sealer.open("n1/access_token", &altered).is_err());
        assert!(sealer.open("n1/access_token", &[]).is_err());
        // Two seals of one secret differ (fresh nonces).
        assert_ne!(sealer.seal("n1/access_token", &token), sealed);
    }

    #[test]
    fn the_key_file_is_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secrets.key");
        let none = super::Secret::new("");
        let first = super::load_key(&none, &file).unwrap();
        assert_eq!(super::load_key(&none, &file).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the key file");
        }
        let configured = super::Secret::new("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=");
        assert_eq!(super::load_key(&configured, &file).unwrap(), [1; 32]);
        let error = super::load_key(&super::Secret::new("short"), &file).unwrap_err();
        assert!(error.contains("secrets.key"), "{error}");
    }
}
