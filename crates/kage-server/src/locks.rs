//! One policy for poisoned locks: recover the guard and go on.
//!
//! A lock is poisoned when a thread panicked while holding it. Every critical section here leaves its data
//! whole at each step (whole values inserted, replaced or removed; counters bumped), so what a panicking
//! holder leaves is a state another step could have left too. Recovering keeps one panic (a bug in one
//! request, one window) from becoming a panic in every later caller of the lock: a poisoned window-pin or
//! session lock would otherwise take every window down with it. The panic itself is still logged and fails
//! its own request or test.

use std::sync::{LockResult, PoisonError};

/// `lock()`, `read()` and `write()` results, recovered when poisoned (see the module's doc).
pub trait Recover<G> {
    fn recover(self) -> G;
}

impl<G> Recover<G> for LockResult<G> {
    fn recover(self) -> G {
        self.unwrap_or_else(PoisonError::into_inner)
    }
}
