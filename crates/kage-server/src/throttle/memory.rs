//! The throttle's counts in this process: for SQLite, whose database has one server process only.
//!
//! Every step takes one lock over its map, so a check and its count cannot be split by another attempt.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Key, Limit, RefreshBucket, Verdict, seconds_left};
use crate::locks::Recover;

/// Entries beyond this many are swept of expired windows, so a flood of made-up names cannot grow memory.
const SWEEP_ABOVE: usize = 10_000;

struct Window {
    count: u32,
    started: Instant,
}

/// A token bucket: `tokens` as of `at`.
struct Bucket {
    tokens: f64,
    at: Instant,
}

pub(super) struct MemoryStore {
    /// A window this old is over whatever its length, so the sweep may forget it.
    longest_window: Duration,
    windows: Mutex<HashMap<Key, Window>>,
    refreshes: Mutex<HashMap<IpAddr, Bucket>>,
}

impl MemoryStore {
    pub(super) fn new(longest_window: Duration) -> Self {
        Self { longest_window, windows: Mutex::new(HashMap::new()), refreshes: Mutex::new(HashMap::new()) }
    }

    pub(super) fn count(&self, limits: &[Limit<'_>]) -> Verdict {
        let mut windows = self.windows.lock().recover();
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, window| window.started.elapsed() < self.longest_window);
        }
        let mut wait = None;
        for limit in limits {
            if let Some(window) = windows.get(limit.key)
                && window.started.elapsed() < limit.window
                && window.count >= limit.max
            {
                let left = seconds_left(limit.window, window.started.elapsed().as_secs_f64());
                wait = wait.max(Some(left));
            }
        }
        if let Some(retry_after_secs) = wait {
            return Verdict::Refused { retry_after_secs };
        }
        for limit in limits {
            let window = windows.entry(limit.key.clone()).or_insert(Window { count: 0, started: Instant::now() });
            if window.started.elapsed() >= limit.window {
                *window = Window { count: 0, started: Instant::now() };
            }
            window.count += 1;
        }
        Verdict::Counted
    }

    pub(super) fn give_back(&self, keys: &[&Key]) {
        let mut windows = self.windows.lock().recover();
        for key in keys {
            if let Some(window) = windows.get_mut(*key) {
                window.count = window.count.saturating_sub(1);
            }
        }
    }

    pub(super) fn clear_and_give_back(&self, cleared: &Key, given_back: &Key) {
        let mut windows = self.windows.lock().recover();
        windows.remove(cleared);
        if let Some(window) = windows.get_mut(given_back) {
            window.count = window.count.saturating_sub(1);
        }
    }

    pub(super) fn take_refresh(&self, address: IpAddr, shape: RefreshBucket) -> Verdict {
        let now = Instant::now();
        let refilled = |bucket: &Bucket| bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * shape.per_second;
        let mut buckets = self.refreshes.lock().recover();
        if buckets.len() > SWEEP_ABOVE {
            // A bucket full again is the same as no bucket.
            buckets.retain(|_, bucket| refilled(bucket) < shape.size);
        }
        let bucket = buckets.entry(address).or_insert(Bucket { tokens: shape.size, at: now });
        bucket.tokens = refilled(bucket).min(shape.size);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Verdict::Counted;
        }
        Verdict::Refused { retry_after_secs: shape.retry_after_secs(bucket.tokens) }
    }
}
