//! One action at a time per window and action: a double click sends once, and the window is free again however
//! the action ends.

use std::collections::HashSet;
use std::sync::Mutex;

use kage_core::WindowLabel;

use super::{AppState, RunningKey};
use crate::error::CommandError;
use kage_core::locks::Recover;

impl AppState {
    /// Runs `action` unless the same action is already running for this window. The window is free for that
    /// action again however this one ends: finished, panicked, or dropped half-way (the page went away, the
    /// command was cancelled). A key left behind would answer "busy" to that window for the rest of the run.
    pub async fn once<T>(
        &self,
        window: &WindowLabel,
        name: &'static str,
        action: impl std::future::Future<Output = Result<T, CommandError>>,
    ) -> Result<T, CommandError> {
        let _running = Running::claim(&self.running, (window.clone(), name)).ok_or_else(CommandError::busy)?;
        action.await
    }
}

/// A claimed `(window, action)` in [`AppState::once`]'s set; dropping it (also while unwinding from a panic, or
/// when the future holding it is dropped) gives the claim back.
struct Running<'a> {
    set: &'a Mutex<HashSet<RunningKey>>,
    key: RunningKey,
}

impl<'a> Running<'a> {
    fn claim(set: &'a Mutex<HashSet<RunningKey>>, key: RunningKey) -> Option<Self> {
        let claimed = set.lock().recover().insert(key.clone());
        claimed.then_some(Self { set, key })
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        // Never panic here: this runs during unwinding too, where a second panic aborts the app.
        self.set.lock().recover().remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    async fn remote_state(dir: &Path) -> Arc<AppState> {
        Arc::new(AppState::for_tests(dir).await)
    }

    async fn done() -> Result<&'static str, CommandError> {
        Ok("done")
    }

    #[tokio::test]
    async fn a_cancelled_action_frees_its_window_for_the_next_try() {
        let dir = tempfile::tempdir().unwrap();
        let state = remote_state(dir.path()).await;
        let label = WindowLabel::new("acct-1");

        let mut stuck = Box::pin(state.once(&label, "train", std::future::pending::<Result<&str, CommandError>>()));
        let waited = tokio::time::timeout(Duration::from_millis(20), &mut stuck).await;
        assert!(waited.is_err(), "the action never finishes");
        assert_eq!(state.once(&label, "train", done()).await, Err(CommandError::busy()), "still running: busy");
        assert_eq!(state.once(&label, "travel", done()).await, Ok("done"), "another action is not held up");

        drop(stuck);
        assert_eq!(state.once(&label, "train", done()).await, Ok("done"), "cancelled: the window is free again");
    }

    #[tokio::test]
    async fn a_panicking_action_frees_its_window_for_the_next_try() {
        let dir = tempfile::tempdir().unwrap();
        let state = remote_state(dir.path()).await;
        let label = WindowLabel::new("acct-1");

        let task = tokio::spawn({
            let (state, label) = (state.clone(), label.clone());
            async move {
                state
                    .once(&label, "transfer", async {
                        panic!("the action blew up");
                        #[allow(unreachable_code)]
                        Ok(())
                    })
                    .await
            }
        });
        assert!(task.await.unwrap_err().is_panic());
        assert_eq!(state.once(&label, "transfer", done()).await, Ok("done"));
    }
}
