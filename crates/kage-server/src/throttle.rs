//! Throttling of failed sign-ins per username, so a password cannot be guessed at network speed.
//!
//! Failures are counted in a fixed window; once a username reaches the limit every attempt, right password
//! or not, gets 429 until the window ends. Keyed by lower-cased username, so unknown and known names are
//! throttled alike and the 429 reveals nothing about which exist.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::ApiError;

#[derive(Debug, Clone, Copy)]
pub struct ThrottlePolicy {
    pub max_failures: u32,
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self { max_failures: 5, window: Duration::from_secs(300) }
    }
}

/// Entries beyond this many are swept of expired windows, so a flood of made-up names cannot grow memory.
const SWEEP_ABOVE: usize = 10_000;

pub struct SignInThrottle {
    policy: ThrottlePolicy,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl SignInThrottle {
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self { policy, failures: Mutex::new(HashMap::new()) }
    }

    pub fn check(&self, username: &str) -> Result<(), ApiError> {
        let failures = self.failures.lock().expect("throttle lock");
        match failures.get(&username.to_lowercase()) {
            Some(&(count, since)) if count >= self.policy.max_failures && since.elapsed() < self.policy.window => {
                let left = self.policy.window.saturating_sub(since.elapsed());
                Err(ApiError::TooManyAttempts { retry_after_secs: left.as_secs().max(1) })
            }
            _ => Ok(()),
        }
    }

    pub fn record_failure(&self, username: &str) {
        let mut failures = self.failures.lock().expect("throttle lock");
        if failures.len() > SWEEP_ABOVE {
            let window = self.policy.window;
            failures.retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = failures.entry(username.to_lowercase()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.policy.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn record_success(&self, username: &str) {
        self.failures.lock().expect("throttle lock").remove(&username.to_lowercase());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_reached_throttles_any_case_of_the_name() {
        let throttle = SignInThrottle::new(ThrottlePolicy { max_failures: 2, window: Duration::from_secs(60) });
        throttle.record_failure("Main");
        assert!(throttle.check("main").is_ok());
        throttle.record_failure("main");
        assert!(matches!(throttle.check("MAIN"), Err(ApiError::TooManyAttempts { .. })));
        assert!(throttle.check("alt").is_ok());
    }

    #[test]
    fn window_expiry_lifts_the_throttle() {
        let throttle = SignInThrottle::new(ThrottlePolicy { max_failures: 1, window: Duration::from_millis(20) });
        throttle.record_failure("main");
        assert!(throttle.check("main").is_err());
        std::thread::sleep(Duration::from_millis(30));
        assert!(throttle.check("main").is_ok());
    }
}
