//! Which windows have a browser sign-in under way, so one can be cancelled (the player closed the window, or
//! pressed Cancel) and a window that starts a new one abandons its older one: one account per window, and
//! one sign-in per window at a time. Sign-ins in different windows run side by side, each on its own port.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::oneshot;

use crate::account::WindowLabel;
use crate::locks::Recover;

#[derive(Default)]
pub struct SignInsUnderWay {
    next: AtomicU64,
    by_window: Mutex<HashMap<WindowLabel, (u64, oneshot::Sender<()>)>>,
}

impl SignInsUnderWay {
    /// A new flow id for `window`, and the receiver its wait listens on.
    pub fn prepare(&self) -> (u64, oneshot::Sender<()>, oneshot::Receiver<()>) {
        let (cancel, cancelled) = oneshot::channel();
        (self.next.fetch_add(1, Ordering::Relaxed), cancel, cancelled)
    }

    /// Records the window's sign-in `id` as the one under way; an older one of the same window is cancelled.
    pub fn start(&self, window: &WindowLabel, id: u64, cancel: oneshot::Sender<()>) {
        let older = self.by_window.lock().recover().insert(window.clone(), (id, cancel));
        if let Some((_, older)) = older {
            let _ = older.send(());
        }
    }

    /// Cancels the window's sign-in under way, if any. Returns whether there was one.
    pub fn cancel(&self, window: &WindowLabel) -> bool {
        let entry = self.by_window.lock().recover().remove(window);
        entry.map(|(_, cancel)| cancel.send(())).is_some()
    }

    /// The sign-in `id` is no longer waiting (its redirect came, or it timed out).
    pub fn done(&self, window: &WindowLabel, id: u64) {
        let mut by_window = self.by_window.lock().recover();
        if by_window.get(window).is_some_and(|(current, _)| *current == id) {
            by_window.remove(window);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_sign_in_in_a_window_cancels_its_older_one_and_not_another_windows() {
        let under_way = SignInsUnderWay::default();
        let (a, b) = (WindowLabel::new("acct-1"), WindowLabel::new("acct-2"));
        let (first, cancel, mut first_cancelled) = under_way.prepare();
        under_way.start(&a, first, cancel);
        let (other, cancel, mut other_cancelled) = under_way.prepare();
        under_way.start(&b, other, cancel);
        let (second, cancel, mut second_cancelled) = under_way.prepare();
        under_way.start(&a, second, cancel);
        assert!(first_cancelled.try_recv().is_ok());
        assert!(other_cancelled.try_recv().is_err() && second_cancelled.try_recv().is_err());
        under_way.done(&a, first);
        assert!(under_way.cancel(&a), "an older flow finishing does not unregister the newer one");
        assert!(second_cancelled.try_recv().is_ok());
        assert!(!under_way.cancel(&a));
    }
}
