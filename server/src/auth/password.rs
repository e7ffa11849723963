//! Password hashing with Argon2id.
//!
//! Parameters: 19 MiB of memory, 2 passes, 1 lane, OWASP's recommended minimum for Argon2id.
//! On the 2-core development VM one hash takes about 39 ms (the `hashing_cost_is_bounded` test
//! prints it; the crate is optimised even in dev builds), which bounds guessing to ~25 attempts
//! per second per core while keeping a login well under the PWA's first-render budget. Hashes are stored in
//! PHC string form, so the parameters travel with each hash and can be raised later: `needs_rehash`
//! tells when a stored hash is weaker than the current parameters.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Memory cost in KiB.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

/// Shortest and longest passwords accepted. Long passphrases are welcome; the upper bound only
/// keeps a single hash from being a denial of service.
pub const MIN_LENGTH: usize = 10;
pub const MAX_LENGTH: usize = 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("the password must be at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("the password hash could not be computed: {0}")]
    Hashing(String),
}

fn hasher() -> Argon2<'static> {
    let params =
        Params::new(MEMORY_KIB, PASSES, LANES, None).expect("constant parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Checks the policy: length only (NIST SP 800-63B), counted in characters.
pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        Err(PasswordError::TooShort)
    } else if length > MAX_LENGTH {
        Err(PasswordError::TooLong)
    } else {
        Ok(())
    }
}

/// Hashes a password that passes the policy, with a fresh random salt. Blocking (~40 ms): call
/// it from a blocking thread in async code.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    check_policy(password)?;
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Whether `password` matches the stored PHC `hash`. A malformed hash never matches. Constant
/// time in the comparison; blocking like [`hash`].
pub fn verify(password: &str, hash: &str) -> bool {
    if password.len() > MAX_LENGTH * 4 {
        return false;
    }
    PasswordHash::new(hash)
        .map(|parsed| {
            hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Burns the same time as a real verification, for unknown accounts, so response time does not
/// tell which emails exist.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy =
        DUMMY.get_or_init(|| hash("switchboard-dummy-password").expect("policy-conforming"));
    let _ = verify(password, dummy);
}

/// Whether a stored hash uses weaker parameters than the current ones (rehash on next login).
pub fn needs_rehash(hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || params.m_cost() < MEMORY_KIB
        || params.t_cost() < PASSES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert_ne!(a, b, "fresh salt every time");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterY", &a));
        assert!(!verify("anything", "not a phc string"));
        assert!(!needs_rehash(&a));
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(needs_rehash(&weak));
        assert!(
            verify("correct horse battery", &weak),
            "old hashes still verify"
        );
    }

    #[test]
    fn policy_counts_characters() {
        assert_eq!(hash("short"), Err(PasswordError::TooShort));
        assert_eq!(check_policy("пароль-из-кириллицы"), Ok(()));
        assert_eq!(
            check_policy(&"x".repeat(MAX_LENGTH + 1)),
            Err(PasswordError::TooLong)
        );
    }

    #[test]
    fn hashing_cost_is_bounded() {
        let started = std::time::Instant::now();
        let h = hash("measure me please").unwrap();
        let elapsed = started.elapsed();
        println!("argon2id m=19MiB t=2 p=1: one hash took {elapsed:?} in this build");
        assert!(verify("measure me please", &h));
    }
}
