//! Password hashing with Argon2id, with a bounded amount of work and memory at any moment.
//!
//! Parameters: 19 MiB of memory, 2 passes, 1 lane, OWASP's recommended minimum for Argon2id.
//! On the 2-core development VM one hash takes about 39 ms (the `hashing_cost_is_bounded` test
//! prints it; the crate is optimised even in dev builds), which bounds guessing to ~25 attempts
//! per second per core while keeping a login well under the PWA's first-render budget. Hashes are stored in
//! PHC string form, so the parameters travel with each hash and can be raised later: `needs_rehash`
//! tells when a stored hash is weaker than the current parameters.
//!
//! Every hash and verification runs through one [`Hashing`] pool: a few at a time (the cores,
//! within a memory budget), each in a working buffer allocated once and reused. Unbounded, 200
//! concurrent sign-ins took a server from 3 MB to 3.5 GB, and the allocator kept the peak
//! (issue 16): the memory Argon2 needs is now the pool's, whatever the traffic, and callers
//! beyond it wait in line for a bounded time, then get [`Busy`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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

fn params() -> Params {
    Params::new(MEMORY_KIB, PASSES, LANES, None).expect("constant parameters are valid")
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

/// Hashes a password that passes the policy, with a fresh random salt, in `memory` (blocking,
/// ~40 ms).
fn hash_in(password: &str, memory: &mut Vec<Block>) -> Result<String, PasswordError> {
    check_policy(password)?;
    let failed = |e: &dyn std::fmt::Display| PasswordError::Hashing(e.to_string());
    let salt = SaltString::generate(&mut OsRng);
    let params = params();
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| failed(&e))?;
    let mut out = [0u8; 32];
    fit(memory, params.block_count());
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_bytes,
            &mut out,
            &mut memory[..params.block_count()],
        )
        .map_err(|e| failed(&e))?;
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().map_err(|e| failed(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(&e))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the stored PHC `hash`, computed in `memory` (blocking, like
/// [`hash_in`]). A malformed hash never matches; the comparison is constant-time.
fn verify_in(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    use subtle::ConstantTimeEq;
    if password.len() > MAX_LENGTH * 4 {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::new(parsed.algorithm.as_str()),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .map(Version::try_from)
        .unwrap_or(Ok(Version::V0x13));
    let (Ok(version), Some(salt), Some(expected)) = (version, parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    fit(memory, blocks);
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt_bytes,
            &mut out,
            &mut memory[..blocks],
        )
        .is_ok()
        && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

/// Grows a working buffer to `blocks` (only hashes stored with more memory than today's need
/// it; the pool's buffers are made at today's size).
fn fit(memory: &mut Vec<Block>, blocks: usize) {
    if memory.len() < blocks {
        memory.resize(blocks, Block::new());
    }
}

/// The hash unknown accounts are checked against, so that they cost the same work.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_in("switchboard-dummy-password", &mut Vec::new()).expect("policy-conforming")
    })
}

/// Too many passwords are being checked at once: the caller waited its turn for the pool's
/// whole queueing time. Answered `503` with `Retry-After`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("too many sign-ins are being checked at once; try again in a moment")]
pub struct Busy;

/// The one place Argon2 runs: at most `slots` hashes at a time, each in a buffer taken from the
/// pool and put back, so the memory Argon2 uses is `slots × 19 MiB` at most and stays allocated
/// (not returned to the allocator, which would keep its peak anyway, not handed back per call).
pub struct Hashing {
    slots: tokio::sync::Semaphore,
    buffers: Mutex<Vec<Vec<Block>>>,
    /// How long a caller may wait for a slot before it is told [`Busy`].
    wait: Duration,
    capacity: usize,
}

impl Hashing {
    /// `slots` concurrent hashes (at least one).
    pub fn new(slots: usize, wait: Duration) -> Arc<Self> {
        let slots = slots.max(1);
        Arc::new(Self {
            slots: tokio::sync::Semaphore::new(slots),
            buffers: Mutex::new(Vec::with_capacity(slots)),
            wait,
            capacity: slots,
        })
    }

    /// As many slots as the machine has cores, within `budget_mib` of memory (one slot at least).
    pub fn within(budget_mib: u64, wait: Duration) -> Arc<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let by_memory = (budget_mib * 1024 / u64::from(MEMORY_KIB)).max(1) as usize;
        Self::new(cores.min(by_memory), wait)
    }

    /// How many hashes may run at once.
    pub fn slots(&self) -> usize {
        self.capacity
    }

    /// Runs `work` with a working buffer, when a slot is free within the queueing time.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        self.run_gated(|| true, work)
            .await
            .map(|done| done.expect("the gate always opens"))
    }

    /// As [`Hashing::run`], but asks `gate` once a slot is free and does no work (`None`) if it
    /// says no: a caller that waited in line may have been locked out meanwhile.
    async fn run_gated<T: Send + 'static>(
        &self,
        gate: impl FnOnce() -> bool,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<Option<T>, Busy> {
        let _slot = tokio::time::timeout(self.wait, self.slots.acquire())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        if !gate() {
            return Ok(None);
        }
        let mut memory = self
            .buffers
            .lock()
            .map(|mut b| b.pop())
            .unwrap_or_default()
            .unwrap_or_else(|| vec![Block::new(); params().block_count()]);
        let (result, memory) = tokio::task::spawn_blocking(move || {
            let result = work(&mut memory);
            (result, memory)
        })
        .await
        .map_err(|_| Busy)?;
        if let Ok(mut buffers) = self.buffers.lock() {
            if memory.len() == params().block_count() {
                buffers.push(memory);
            }
        }
        Ok(Some(result))
    }

    /// Hashes a password that passes the policy, with a fresh random salt.
    pub async fn hash(&self, password: String) -> Result<Result<String, PasswordError>, Busy> {
        self.run(move |memory| hash_in(&password, memory)).await
    }

    /// Whether `password` matches the stored PHC `hash`.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, Busy> {
        self.run(move |memory| verify_in(&password, &hash, memory))
            .await
    }

    /// Checks `password` against a stored hash, or (`None`: no such account) against a dummy
    /// one: the same work, time and memory either way, so neither tells which emails exist.
    /// When it matches and the stored hash is weaker than today's parameters, also returns
    /// a new hash to store.
    /// `gate` is asked once the check's turn has come (the sign-in throttle, again): `None`
    /// when it refused and nothing was computed.
    pub async fn check(
        &self,
        password: String,
        hash: Option<String>,
        gate: impl FnOnce() -> bool,
    ) -> Result<Option<(bool, Option<String>)>, Busy> {
        self.run_gated(gate, move |memory| match hash {
            Some(hash) => {
                let ok = verify_in(&password, &hash, memory);
                let rehashed = (ok && needs_rehash(&hash))
                    .then(|| hash_in(&password, memory).ok())
                    .flatten();
                (ok, rehashed)
            }
            None => {
                let _ = verify_in(&password, dummy_hash(), memory);
                (false, None)
            }
        })
        .await
    }
}

/// Hashes a password outside the pool, for one-off tools (the operator CLI): blocking.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    hash_in(password, &mut Vec::new())
}

/// Verifies outside the pool (tests and tools): blocking.
pub fn verify(password: &str, hash: &str) -> bool {
    verify_in(password, hash, &mut Vec::new())
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
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

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
        // What the pool writes is a standard PHC string the crate's own verifier accepts.
        let parsed = PasswordHash::new(&a).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse battery", &parsed)
            .is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pool_bounds_concurrent_work_and_reuses_its_buffers() {
        let pool = Hashing::new(2, Duration::from_secs(30));
        let stored = hash("a stored passphrase").unwrap();
        let checks: Vec<_> = (0..8)
            .map(|i| {
                let pool = Arc::clone(&pool);
                let stored = stored.clone();
                tokio::spawn(async move {
                    let guess = if i % 2 == 0 {
                        "a stored passphrase"
                    } else {
                        "wrong guess!!"
                    };
                    pool.check(guess.into(), (i % 3 != 0).then_some(stored), || true)
                        .await
                        .unwrap()
                        .unwrap()
                })
            })
            .collect();
        let mut matched = 0;
        for (i, check) in checks.into_iter().enumerate() {
            let (ok, _) = check.await.unwrap();
            assert_eq!(ok, i % 2 == 0 && i % 3 != 0, "check {i}");
            matched += usize::from(ok);
        }
        assert_eq!(matched, 2);
        assert!(
            pool.buffers.lock().unwrap().len() <= 2,
            "at most one buffer per slot"
        );
        // A caller that cannot get a slot in time is told so instead of piling up.
        let tight = Hashing::new(1, Duration::from_millis(1));
        let held = tight.slots.acquire().await.unwrap();
        assert_eq!(
            tight.verify("x".repeat(12), stored.clone()).await,
            Err(Busy)
        );
        drop(held);
        assert_eq!(
            tight.verify("a stored passphrase".into(), stored).await,
            Ok(true)
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
