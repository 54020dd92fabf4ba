//! Password hashing with argon2id (the crate's default parameters, OWASP's minimum), as a per-server service
//! with a bounded amount of work.
//!
//! Hashing is deliberately slow (and takes 19 MiB per hash), so it runs on the blocking pool, and at most
//! `concurrent` hashes run at once; up to `queue` more callers wait their turn, and callers beyond that are
//! answered 503 `busy` with `Retry-After` at once. Without the bound, a burst of sign-ins (or sign-ups from
//! many addresses, which no per-address throttle stops) would queue unbounded CPU and memory work, and every
//! other request would wait behind it. The permits travel into the blocking task, so a caller that goes away
//! does not free its slot while its hash still runs.
//!
//! Each hash needs 19 MiB of working memory. Left to the allocator, freed 19 MiB blocks were kept by glibc
//! (which raises its mmap threshold after the first such free) in each thread's arena: 25 sign-ins left the
//! server at 500 MB. So argon2 works in buffers of our own, [`WorkMemory`]: taken from a free list for a hash
//! and put back after it, never freed. Since at most `concurrent` hashes run at once, at most `concurrent`
//! buffers ever exist, and password work can never hold more than `concurrent` x 19 MiB.
//!
//! An unknown username is checked against a fixed dummy hash so it costs the same time as a wrong password
//! and the answer cannot tell them apart. [`Passwords`] counts the checks it has run and the most hashes it
//! ever ran at once, so tests (and operators) can see how much password work got through.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString, rand_core::OsRng};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::locks::Recover;
use crate::secret::Secret;

/// How much password work may run and wait at once.
#[derive(Debug, Clone, Copy)]
pub struct PasswordWorkLimits {
    /// Hashes running at once. Default: twice the cores.
    pub concurrent: usize,
    /// Callers waiting for a turn beyond those; more get 503. Default: twice `concurrent`.
    pub queue: usize,
}

impl Default for PasswordWorkLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self { concurrent: 2 * cores, queue: 4 * cores }
    }
}

/// What a busy answer tells the caller to wait: a hash takes tens of milliseconds, so the queue is short-lived.
const BUSY_RETRY_AFTER_SECS: u64 = 1;

pub struct Passwords {
    /// Running plus waiting: the admission ticket.
    admitted: Arc<Semaphore>,
    running: Arc<Semaphore>,
    memory: Arc<WorkMemory>,
    checks: AtomicU64,
    busy: Arc<InFlight>,
}

/// Argon2's working memory: buffers handed out for one hash at a time and put back after it.
#[derive(Default)]
pub struct WorkMemory {
    free: Mutex<Vec<Vec<Block>>>,
    buffers: AtomicUsize,
}

impl WorkMemory {
    /// Runs `work` with a buffer of at least `blocks` blocks: a free one, or a new one if none is free.
    fn with<T>(&self, blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
        let free = self.free.lock().recover().pop();
        let mut buffer = match free {
            Some(buffer) if buffer.len() >= blocks => buffer,
            Some(mut small) => {
                small.resize(blocks, Block::new());
                small
            }
            None => {
                self.buffers.fetch_add(1, Ordering::Relaxed);
                vec![Block::new(); blocks]
            }
        };
        let result = work(&mut buffer);
        self.free.lock().recover().push(buffer);
        result
    }

    /// How many buffers exist: never more than the hashes that ever ran at once.
    pub fn buffers(&self) -> usize {
        self.buffers.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
struct InFlight {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// Both permits, held until the hash is done.
struct Turn {
    _admitted: OwnedSemaphorePermit,
    _running: OwnedSemaphorePermit,
    in_flight: Arc<InFlight>,
}

impl Turn {
    fn start(admitted: OwnedSemaphorePermit, running: OwnedSemaphorePermit, in_flight: Arc<InFlight>) -> Self {
        let now = in_flight.now.fetch_add(1, Ordering::SeqCst) + 1;
        in_flight.peak.fetch_max(now, Ordering::SeqCst);
        Self { _admitted: admitted, _running: running, in_flight }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.in_flight.now.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Default for Passwords {
    fn default() -> Self {
        Self::new(PasswordWorkLimits::default())
    }
}

impl Passwords {
    pub fn new(limits: PasswordWorkLimits) -> Self {
        let concurrent = limits.concurrent.max(1);
        Self {
            admitted: Arc::new(Semaphore::new(concurrent + limits.queue)),
            running: Arc::new(Semaphore::new(concurrent)),
            memory: Arc::default(),
            checks: AtomicU64::new(0),
            busy: Arc::default(),
        }
    }

    /// Runs `work` on the blocking pool when a slot is free; 503 `busy` if the queue is full.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let busy = || ApiError::Busy { retry_after_secs: BUSY_RETRY_AFTER_SECS };
        let admitted = self.admitted.clone().try_acquire_owned().map_err(|_| busy())?;
        let running = self.running.clone().acquire_owned().await.map_err(ApiError::internal)?;
        let turn = Turn::start(admitted, running, self.busy.clone());
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            work()
        })
        .await
        .map_err(ApiError::internal)
    }

    pub async fn hash(&self, password: Secret) -> Result<String, ApiError> {
        let memory = self.memory.clone();
        self.run(move || hash_with(&memory, password.expose().as_bytes()).map_err(internal)).await?
    }

    /// `stored` is `None` for an unknown user: the work is done anyway and the answer is `false`.
    pub async fn verify(&self, password: Secret, stored: Option<String>) -> Result<bool, ApiError> {
        let memory = self.memory.clone();
        self.run(move || {
            let known = stored.is_some();
            let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
            let matches = verify_with(&memory, password.expose().as_bytes(), &stored).map_err(internal)?;
            Ok(known && matches)
        })
        .await?
        .inspect(|_| {
            self.checks.fetch_add(1, Ordering::Relaxed);
        })
    }

    /// Password checks (sign-in verifications) run since this server started.
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }

    /// The most hashes or checks that ever ran at once on this server.
    pub fn peak_concurrent(&self) -> usize {
        self.busy.peak.load(Ordering::SeqCst)
    }

    /// Argon2's working memory, for tests and operators to see how many buffers exist.
    pub fn work_memory(&self) -> &WorkMemory {
        &self.memory
    }
}

fn internal(error: impl std::fmt::Display) -> ApiError {
    ApiError::internal(error.to_string())
}

/// A new PHC string for `password`: argon2id with the crate's default parameters and a random salt, as
/// `Argon2::default().hash_password` makes, computed in a buffer from `memory`.
fn hash_with(memory: &WorkMemory, password: &[u8]) -> Result<String, argon2::password_hash::Error> {
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_bytes)?;
    let mut out = Zeroizing::new([0u8; Params::DEFAULT_OUTPUT_LEN]);
    memory.with(params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, salt_bytes, &mut *out, blocks)
    })?;
    let hash = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&*out)?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `stored` (any argon2 variant, version and parameters it names),
/// computed in a buffer from `memory`. The comparison of outputs is constant-time (`Output`'s `==`).
fn verify_with(memory: &WorkMemory, password: &[u8], stored: &str) -> Result<bool, argon2::password_hash::Error> {
    let parsed = PasswordHash::new(stored)?;
    let params = Params::try_from(&parsed)?;
    let algorithm = Algorithm::try_from(parsed.algorithm)?;
    let version = parsed.version.map(Version::try_from).transpose()?.unwrap_or_default();
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Err(argon2::password_hash::Error::PhcStringField);
    };
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_bytes)?;
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut out = Zeroizing::new(vec![0u8; expected.len()]);
    memory.with(params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password, salt_bytes, &mut out, blocks)
    })?;
    Ok(Output::new(&out)? == expected)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_with(&WorkMemory::default(), b"kage-dummy-password").expect("argon2 hashes"))
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[test]
    fn our_hashes_and_the_crates_verify_each_other_and_work_in_reused_buffers() {
        let memory = WorkMemory::default();
        let ours = hash_with(&memory, b"correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok(), "the crate verifies ours");
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default().hash_password(b"battery staple", &salt).unwrap().to_string();
        assert!(verify_with(&memory, b"battery staple", &theirs).unwrap(), "we verify the crate's (stored) hashes");
        assert!(!verify_with(&memory, b"battery stapler", &theirs).unwrap());
        assert!(!verify_with(&memory, b"correct horse!", &ours).unwrap());
        assert_eq!(memory.buffers(), 1, "one hash at a time: one buffer, reused");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_queue_callers_are_told_to_come_back() {
        let passwords = Arc::new(Passwords::new(PasswordWorkLimits { concurrent: 1, queue: 1 }));
        let calls = (0..12).map(|_| {
            let passwords = passwords.clone();
            tokio::spawn(async move { passwords.verify(Secret::new("guess".into()), None).await })
        });
        let results: Vec<_> = futures_util::future::join_all(calls).await.into_iter().map(Result::unwrap).collect();
        let busy = results.iter().filter(|r| matches!(r, Err(ApiError::Busy { retry_after_secs: 1 }))).count();
        let checked = results.iter().filter(|r| matches!(r, Ok(false))).count();
        assert_eq!(busy + checked, 12);
        assert!(busy >= 1 && checked >= 1, "busy {busy}, checked {checked}");
        assert_eq!(passwords.peak_concurrent(), 1);
        assert_eq!(passwords.work_memory().buffers(), 1, "one 19 MiB buffer for one hash at a time");
        assert_eq!(passwords.checks(), checked as u64);
    }
}
