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
//! An unknown username is checked against a fixed dummy hash so it costs the same time as a wrong password
//! and the answer cannot tell them apart. [`Passwords`] counts the checks it has run and the most hashes it
//! ever ran at once, so tests (and operators) can see how much password work got through.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;
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
    checks: AtomicU64,
    busy: Arc<InFlight>,
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
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| ApiError::internal(e.to_string()))
        })
        .await?
    }

    /// `stored` is `None` for an unknown user: the work is done anyway and the answer is `false`.
    pub async fn verify(&self, password: Secret, stored: Option<String>) -> Result<bool, ApiError> {
        self.run(move || {
            let known = stored.is_some();
            let stored = stored.unwrap_or_else(|| dummy_hash().to_owned());
            let parsed = PasswordHash::new(&stored).map_err(|e| ApiError::internal(e.to_string()))?;
            let matches = Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok();
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
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(b"kage-dummy-password", &salt).expect("argon2 hashes").to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(passwords.checks(), checked as u64);
    }
}
