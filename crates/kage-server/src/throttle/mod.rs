//! Throttles in front of password work, so a password cannot be guessed at network speed and accounts cannot
//! be made in bulk.
//!
//! Sign-in attempts are counted per (username, client address) and per client address across usernames, in
//! fixed windows. An attempt is checked and counted in one atomic step *before* its password is hashed: forty
//! guesses sent at once cannot all pass a check made before any of them was counted. A successful sign-in
//! gives its attempt back (and clears its (username, address) count), so what the limits bound is failures
//! plus attempts still in flight. Once a limit is reached every attempt it covers, right password or not, gets
//! 429 with `Retry-After` until the window ends.
//!
//! Counting per address, not per username alone, means another address's failures never lock a player out;
//! the per-address count across usernames stops one address from trying one password on many names.
//! Usernames are lower-cased, so unknown and known names are throttled alike and a 429 reveals nothing about
//! which exist. Sign-ups are counted per address, successful or not. Addresses come from
//! [`crate::client_addr`].
//!
//! Refreshes (`POST /v1/sessions/refresh`) cost no password work but a database write each; they are limited
//! per address by a token bucket instead of a window, because their normal traffic is bursty (a computer
//! waking up refreshes every account at once) and a window would make such a burst wait out a whole window.
//! The bucket holds `refresh_burst` refreshes and refills at `refresh_per_minute`; an empty bucket answers 429
//! with `Retry-After` (the time until one refresh is back). Refusals are not counted.
//!
//! Where the counts live is the store's business; the policy above is decided here, once, for both:
//! - on SQLite, in this process ([`memory`]). A SQLite database has exactly one server process, so no other
//!   process needs to see the counts, and maps cost no database write per sign-in attempt;
//! - on PostgreSQL, in the database ([`postgres`]), because several instances share it behind a load balancer
//!   and a guesser must meet one limit, not one per instance.
//!
//! A store that cannot be read or written fails closed: the attempt is answered 500 `internal` (the cause is
//! logged, as for any other database failure) and no password is checked; a sign-in the throttle cannot count
//! is never let through uncounted. 500 rather than 503: the database the rest of the sign-in needs is what is
//! failing, not a queue that will drain. A give-back that fails is logged and leaves the attempt counted, the
//! same side to err on. Usernames never appear in these logs.

mod memory;
mod postgres;

use std::net::IpAddr;
use std::time::Duration;

use crate::db::{Backend, Database};
use crate::error::ApiError;
use memory::MemoryStore;
use postgres::PostgresStore;

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    /// Sign-in attempts for one username from one address per `window`.
    pub per_account_and_address: u32,
    /// Sign-in attempts from one address per `window`, all usernames together.
    pub per_address: u32,
    pub window: Duration,
    /// Sign-ups from one address per `sign_up_window`.
    pub sign_ups_per_address: u32,
    pub sign_up_window: Duration,
    /// Refreshes one address may make at once (the bucket's size).
    pub refresh_burst: u32,
    /// Refreshes one address gets back per minute (the bucket's refill rate).
    pub refresh_per_minute: u32,
    /// Players created for one identity provider's new identities per `sign_up_window`: every new player
    /// gets the starting ryo, so a provider where anyone can register must not become a ryo farm.
    pub new_players_per_issuer: u32,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            per_account_and_address: 5,
            per_address: 20,
            window: Duration::from_secs(300),
            sign_ups_per_address: 10,
            sign_up_window: Duration::from_secs(3600),
            refresh_burst: 20,
            refresh_per_minute: 60,
            new_players_per_issuer: 100,
        }
    }
}

impl ThrottlePolicy {
    /// After this long without an attempt, every window is over: a window older than this can be forgotten.
    fn longest_window(&self) -> Duration {
        self.window.max(self.sign_up_window)
    }

    fn refresh_bucket(&self) -> RefreshBucket {
        RefreshBucket {
            size: f64::from(self.refresh_burst.max(1)),
            per_second: f64::from(self.refresh_per_minute.max(1)) / 60.0,
        }
    }
}

/// What one count is about. Usernames in keys are lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    AccountFromAddress(String, IpAddr),
    AllSignInsFrom(IpAddr),
    SignUpsFrom(IpAddr),
    NewPlayersOf(String),
}

/// At most `max` attempts per `window` for `key`.
#[derive(Debug, Clone, Copy)]
struct Limit<'a> {
    key: &'a Key,
    max: u32,
    window: Duration,
}

/// The refresh token bucket's shape.
#[derive(Debug, Clone, Copy)]
struct RefreshBucket {
    size: f64,
    per_second: f64,
}

impl RefreshBucket {
    /// Whole seconds until a bucket holding `tokens` has one again (at least one, for `Retry-After`).
    fn retry_after_secs(&self, tokens: f64) -> u64 {
        ((1.0 - tokens) / self.per_second).ceil().max(1.0) as u64
    }
}

/// A store's answer to "count this".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Counted,
    Refused { retry_after_secs: u64 },
}

impl Verdict {
    fn or_refuse(self, refusal: impl FnOnce(u64) -> ApiError) -> Result<(), ApiError> {
        match self {
            Self::Counted => Ok(()),
            Self::Refused { retry_after_secs } => Err(refusal(retry_after_secs)),
        }
    }
}

/// Whole seconds left of a window `elapsed_secs` old (at least one, for `Retry-After`).
fn seconds_left(window: Duration, elapsed_secs: f64) -> u64 {
    ((window.as_secs_f64() - elapsed_secs.max(0.0)).max(0.0) as u64).max(1)
}

/// The shared store could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("the throttle's counts cannot be read or written: {0}")]
pub struct StoreError(#[from] sqlx::Error);

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::internal(error)
    }
}

enum Store {
    Memory(MemoryStore),
    Postgres(PostgresStore),
}

impl Store {
    /// Atomically: if every limit has room, counts one against each; otherwise counts nothing and returns the
    /// seconds until the fullest window ends.
    async fn count(&self, limits: &[Limit<'_>]) -> Result<Verdict, StoreError> {
        match self {
            Self::Memory(store) => Ok(store.count(limits)),
            Self::Postgres(store) => store.count(limits).await,
        }
    }

    /// Takes one count back from each of `keys` (never below zero).
    async fn give_back(&self, keys: &[&Key]) -> Result<(), StoreError> {
        match self {
            Self::Memory(store) => {
                store.give_back(keys);
                Ok(())
            }
            Self::Postgres(store) => store.give_back(keys).await,
        }
    }

    /// Forgets `cleared`'s window and takes one count back from `given_back`.
    async fn clear_and_give_back(&self, cleared: &Key, given_back: &Key) -> Result<(), StoreError> {
        match self {
            Self::Memory(store) => {
                store.clear_and_give_back(cleared, given_back);
                Ok(())
            }
            Self::Postgres(store) => store.clear_and_give_back(cleared, given_back).await,
        }
    }

    async fn take_refresh(&self, address: IpAddr, bucket: RefreshBucket) -> Result<Verdict, StoreError> {
        match self {
            Self::Memory(store) => Ok(store.take_refresh(address, bucket)),
            Self::Postgres(store) => store.take_refresh(address, bucket).await,
        }
    }
}

pub struct Throttle {
    policy: ThrottlePolicy,
    store: Store,
}

/// A counted sign-in attempt. Dropping it leaves it counted (a failure); [`SignInAttempt::succeeded`] gives
/// it back.
#[must_use = "a sign-in attempt that succeeds must be given back with `succeeded`"]
pub struct SignInAttempt<'a> {
    throttle: &'a Throttle,
    account: Key,
    address: Key,
}

impl SignInAttempt<'_> {
    /// No password was checked after all (the server was busy): the attempt is not counted.
    pub async fn not_checked(self) {
        let given_back = self.throttle.store.give_back(&[&self.account, &self.address]).await;
        if let Err(error) = given_back {
            tracing::warn!(%error, "cannot give back a sign-in attempt whose password was not checked; it stays counted");
        }
    }

    pub async fn succeeded(self) {
        let given_back = self.throttle.store.clear_and_give_back(&self.account, &self.address).await;
        if let Err(error) = given_back {
            tracing::warn!(%error, "cannot give back a successful sign-in attempt; it stays counted");
        }
    }
}

impl Throttle {
    /// Counts in this process only.
    pub fn in_memory(policy: ThrottlePolicy) -> Self {
        Self { policy, store: Store::Memory(MemoryStore::new(policy.longest_window())) }
    }

    /// Counts that every server on `db` shares: in the database on PostgreSQL, in this process on SQLite
    /// (whose database has no other server).
    pub fn for_database(policy: ThrottlePolicy, db: &Database) -> Self {
        match db.backend() {
            Backend::Sqlite => Self::in_memory(policy),
            Backend::Postgres => Self {
                policy,
                store: Store::Postgres(PostgresStore::new(
                    db.clone(),
                    policy.longest_window(),
                    policy.refresh_bucket(),
                )),
            },
        }
    }

    pub fn policy(&self) -> &ThrottlePolicy {
        &self.policy
    }

    /// Takes one refresh from `address`'s bucket, or refuses it with 429 and the seconds until one is back.
    /// Call before the refresh token is looked at, so a refused refresh spends nothing (I11: the client may
    /// present the same token again after the wait).
    pub async fn refresh_attempt(&self, address: IpAddr) -> Result<(), ApiError> {
        let verdict = self.store.take_refresh(address, self.policy.refresh_bucket()).await?;
        verdict.or_refuse(|retry_after_secs| ApiError::TooManyRefreshes { retry_after_secs })
    }

    /// Counts a sign-in attempt, or refuses it with 429 if the username from this address, or this address
    /// altogether, has used up its window. Call before any password work.
    pub async fn sign_in_attempt(&self, username: &str, address: IpAddr) -> Result<SignInAttempt<'_>, ApiError> {
        let account = Key::AccountFromAddress(username.to_lowercase(), address);
        let by_address = Key::AllSignInsFrom(address);
        let limits = [
            Limit { key: &account, max: self.policy.per_account_and_address, window: self.policy.window },
            Limit { key: &by_address, max: self.policy.per_address, window: self.policy.window },
        ];
        let verdict = self.store.count(&limits).await?;
        verdict.or_refuse(|retry_after_secs| ApiError::TooManyAttempts { retry_after_secs })?;
        Ok(SignInAttempt { throttle: self, account, address: by_address })
    }

    /// Counts a player about to be created for a new identity of `issuer`, or refuses it with 429.
    pub async fn new_player_attempt(&self, issuer: &str) -> Result<(), ApiError> {
        let key = Key::NewPlayersOf(issuer.to_owned());
        let limit = Limit { key: &key, max: self.policy.new_players_per_issuer, window: self.policy.sign_up_window };
        let verdict = self.store.count(&[limit]).await?;
        verdict.or_refuse(|retry_after_secs| ApiError::TooManyNewPlayers { retry_after_secs })
    }

    /// Counts a sign-up from `address`, or refuses it with 429. Call before any password work.
    pub async fn sign_up_attempt(&self, address: IpAddr) -> Result<(), ApiError> {
        let key = Key::SignUpsFrom(address);
        let limit = Limit { key: &key, max: self.policy.sign_ups_per_address, window: self.policy.sign_up_window };
        let verdict = self.store.count(&[limit]).await?;
        verdict.or_refuse(|retry_after_secs| ApiError::TooManySignUps { retry_after_secs })
    }
}

#[cfg(test)]
mod tests;
