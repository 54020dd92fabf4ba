//! Throttles in front of password work, so a password cannot be guessed at network speed and accounts cannot
//! be made in bulk.
//!
//! Sign-in attempts are counted per (username, client address) and per client address across usernames, in
//! fixed windows. An attempt is checked and counted in one step, under one lock, *before* its password is
//! hashed: forty guesses sent at once cannot all pass a check made before any of them was counted. A
//! successful sign-in gives its attempt back (and clears its (username, address) count), so what the limits
//! bound is failures plus attempts still in flight. Once a limit is reached every attempt it covers, right
//! password or not, gets 429 with `Retry-After` until the window ends.
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

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::ApiError;

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
        }
    }
}

/// Entries beyond this many are swept of expired windows, so a flood of made-up names cannot grow memory.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    AccountFromAddress(String, IpAddr),
    AllSignInsFrom(IpAddr),
    SignUpsFrom(IpAddr),
}

struct Window {
    count: u32,
    started: Instant,
}

/// A token bucket: `tokens` as of `at`.
struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Throttle {
    policy: ThrottlePolicy,
    windows: Mutex<HashMap<Key, Window>>,
    refreshes: Mutex<HashMap<IpAddr, Bucket>>,
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
    pub fn not_checked(self) {
        let mut windows = self.throttle.windows.lock().expect("throttle lock");
        for key in [&self.account, &self.address] {
            if let Some(window) = windows.get_mut(key) {
                window.count = window.count.saturating_sub(1);
            }
        }
    }

    pub fn succeeded(self) {
        let mut windows = self.throttle.windows.lock().expect("throttle lock");
        windows.remove(&self.account);
        if let Some(window) = windows.get_mut(&self.address) {
            window.count = window.count.saturating_sub(1);
        }
    }
}

impl Throttle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self { policy, windows: Mutex::new(HashMap::new()), refreshes: Mutex::new(HashMap::new()) }
    }

    /// Takes one refresh from `address`'s bucket, or refuses it with 429 and the seconds until one is back.
    /// Call before the refresh token is looked at, so a refused refresh spends nothing (I11: the client may
    /// present the same token again after the wait).
    pub fn refresh_attempt(&self, address: IpAddr) -> Result<(), ApiError> {
        let size = f64::from(self.policy.refresh_burst.max(1));
        let per_second = f64::from(self.policy.refresh_per_minute.max(1)) / 60.0;
        let now = Instant::now();
        let mut buckets = self.refreshes.lock().expect("throttle lock");
        if buckets.len() > SWEEP_ABOVE {
            // A bucket full again is the same as no bucket.
            buckets.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_second < size);
        }
        let bucket = buckets.entry(address).or_insert(Bucket { tokens: size, at: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_second).min(size);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let retry_after_secs = ((1.0 - bucket.tokens) / per_second).ceil().max(1.0) as u64;
        Err(ApiError::TooManyRefreshes { retry_after_secs })
    }

    /// Counts a sign-in attempt, or refuses it with 429 if the username from this address, or this address
    /// altogether, has used up its window. Call before any password work.
    pub fn sign_in_attempt(&self, username: &str, address: IpAddr) -> Result<SignInAttempt<'_>, ApiError> {
        let account = Key::AccountFromAddress(username.to_lowercase(), address);
        let by_address = Key::AllSignInsFrom(address);
        let limits = [
            (&account, self.policy.per_account_and_address, self.policy.window),
            (&by_address, self.policy.per_address, self.policy.window),
        ];
        self.count(&limits).map_err(|retry_after_secs| ApiError::TooManyAttempts { retry_after_secs })?;
        Ok(SignInAttempt { throttle: self, account, address: by_address })
    }

    /// Counts a sign-up from `address`, or refuses it with 429. Call before any password work.
    pub fn sign_up_attempt(&self, address: IpAddr) -> Result<(), ApiError> {
        let key = Key::SignUpsFrom(address);
        self.count(&[(&key, self.policy.sign_ups_per_address, self.policy.sign_up_window)])
            .map_err(|retry_after_secs| ApiError::TooManySignUps { retry_after_secs })
    }

    /// Atomically: if every limit has room, counts one against each; otherwise counts nothing and returns the
    /// seconds until the fullest window ends.
    fn count(&self, limits: &[(&Key, u32, Duration)]) -> Result<(), u64> {
        let mut windows = self.windows.lock().expect("throttle lock");
        if windows.len() > SWEEP_ABOVE {
            let longest = self.policy.window.max(self.policy.sign_up_window);
            windows.retain(|_, window| window.started.elapsed() < longest);
        }
        let mut wait = None;
        for &(key, limit, length) in limits {
            if let Some(window) = windows.get(key)
                && window.started.elapsed() < length
                && window.count >= limit
            {
                let left = length.saturating_sub(window.started.elapsed()).as_secs().max(1);
                wait = wait.max(Some(left));
            }
        }
        if let Some(seconds) = wait {
            return Err(seconds);
        }
        for &(key, _, length) in limits {
            let window = windows.entry(key.clone()).or_insert(Window { count: 0, started: Instant::now() });
            if window.started.elapsed() >= length {
                *window = Window { count: 0, started: Instant::now() };
            }
            window.count += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const AWAY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    fn policy(per_account: u32, per_address: u32, window: Duration) -> ThrottlePolicy {
        ThrottlePolicy { per_account_and_address: per_account, per_address, window, ..ThrottlePolicy::default() }
    }

    #[test]
    fn limit_reached_throttles_any_case_of_the_name_from_that_address_only() {
        let throttle = Throttle::new(policy(2, 100, Duration::from_secs(60)));
        drop(throttle.sign_in_attempt("Main", HOME).unwrap());
        drop(throttle.sign_in_attempt("main", HOME).unwrap());
        assert!(matches!(throttle.sign_in_attempt("MAIN", HOME), Err(ApiError::TooManyAttempts { .. })));
        assert!(throttle.sign_in_attempt("alt", HOME).is_ok());
        assert!(throttle.sign_in_attempt("main", AWAY).is_ok(), "another address is not locked out");
    }

    #[test]
    fn one_address_is_limited_across_usernames() {
        let throttle = Throttle::new(policy(5, 3, Duration::from_secs(60)));
        for name in ["a", "b", "c"] {
            drop(throttle.sign_in_attempt(name, HOME).unwrap());
        }
        assert!(throttle.sign_in_attempt("d", HOME).is_err());
        assert!(throttle.sign_in_attempt("d", AWAY).is_ok());
    }

    #[test]
    fn a_refused_attempt_is_not_counted_and_success_gives_the_attempt_back() {
        let throttle = Throttle::new(policy(2, 3, Duration::from_secs(60)));
        drop(throttle.sign_in_attempt("main", HOME).unwrap());
        drop(throttle.sign_in_attempt("main", HOME).unwrap());
        assert!(throttle.sign_in_attempt("main", HOME).is_err());
        // The refusal above did not use up the address's third attempt.
        throttle.sign_in_attempt("alt", HOME).unwrap().succeeded();
        throttle.sign_in_attempt("alt", HOME).unwrap().succeeded();
        drop(throttle.sign_in_attempt("other", HOME).unwrap());
        assert!(throttle.sign_in_attempt("another", HOME).is_err(), "two failures and one more fill the address");
    }

    #[test]
    fn an_attempt_never_checked_is_given_back() {
        let throttle = Throttle::new(policy(1, 1, Duration::from_secs(60)));
        throttle.sign_in_attempt("main", HOME).unwrap().not_checked();
        drop(throttle.sign_in_attempt("main", HOME).unwrap());
        assert!(throttle.sign_in_attempt("main", HOME).is_err());
    }

    #[test]
    fn window_expiry_lifts_the_throttle() {
        let throttle = Throttle::new(policy(1, 10, Duration::from_millis(20)));
        drop(throttle.sign_in_attempt("main", HOME).unwrap());
        assert!(throttle.sign_in_attempt("main", HOME).is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(throttle.sign_in_attempt("main", HOME).is_ok());
    }

    #[test]
    fn refreshes_come_in_bursts_per_address_and_refill_at_the_rate() {
        let throttle =
            Throttle::new(ThrottlePolicy { refresh_burst: 3, refresh_per_minute: 600, ..Default::default() });
        for _ in 0..3 {
            throttle.refresh_attempt(HOME).unwrap();
        }
        assert!(matches!(throttle.refresh_attempt(HOME), Err(ApiError::TooManyRefreshes { retry_after_secs: 1 })));
        assert!(throttle.refresh_attempt(AWAY).is_ok(), "another address has its own bucket");
        std::thread::sleep(Duration::from_millis(120)); // 600 a minute: one back every 100 ms
        throttle.refresh_attempt(HOME).unwrap();
        assert!(throttle.refresh_attempt(HOME).is_err(), "refused attempts were not counted, none saved up");
    }

    #[test]
    fn sign_ups_are_limited_per_address() {
        let throttle = Throttle::new(ThrottlePolicy { sign_ups_per_address: 2, ..ThrottlePolicy::default() });
        throttle.sign_up_attempt(HOME).unwrap();
        throttle.sign_up_attempt(HOME).unwrap();
        assert!(
            matches!(throttle.sign_up_attempt(HOME), Err(ApiError::TooManySignUps { retry_after_secs }) if retry_after_secs > 3000)
        );
        assert!(throttle.sign_up_attempt(AWAY).is_ok());
    }
}
