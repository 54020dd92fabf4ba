//! Web games (I13): a game's own, unmodified site in Kage windows, one web partition per account.
//!
//! - [`partition`]: where an account's web data store lives (one directory per account, named by an opaque id,
//!   `0700`), spelled by one function, and the start-up sweep of orphans.
//! - [`window`]: opening an account's windows with its partition fixed at creation, the navigation rule (only
//!   http(s) of the game's allowed origins; never Kage's own page) and popups kept in the account.
//! - [`store`]: which web data store a partition is on each system (macOS: a store identifier, or one
//!   account only in an old Mac's single store).
//! - [`wipe`]: Sign out and Forget: close the account's windows, clear WebKit's data manager, delete the
//!   directory.
//! - [`sign_in`]: a saved site sign-in (OS keychain) filled into the account's page when the player asks, on
//!   the saved origin only.
//! - [`comforts`]: what Kage adds to every web window beside its partition (its page's notifications, shown as
//!   Kage's: [`notices`]; Kage's hotkeys while the page has the keyboard: [`keys`]).
//! - `e2e_hook` (debug builds only, and only with `KAGE_E2E_WEB_HOOK=1`): runs a script in a web window for the
//!   end-to-end tests, which WebDriver cannot reach (WebKitGTK automates one context, Kage's own).
//!
//! The remote page gets nothing of Kage: no capability names a remote URL, and web windows' labels
//! (`web-<random>`) match no capability either, so every command the page could invoke is refused by Tauri's
//! ACL.

pub mod comforts;
pub mod downloads;
#[cfg(debug_assertions)]
pub mod e2e_hook;
pub mod keys;
pub mod launch;
pub mod notices;
pub mod partition;
pub mod places;
pub mod script;
pub mod sign_in;
pub mod store;
pub mod window;
pub mod wipe;

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

pub use partition::Partitions;

/// What this run knows of web windows: which account each shows, and which partitions a WebKit context was
/// made for (Tauri keeps a context alive until the app exits, so a wipe must reach it even after its windows
/// closed).
pub struct WebState {
    pub partitions: Partitions,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Window label -> web account id.
    windows: HashMap<String, String>,
    /// Partition ids a window was created with in this run.
    used: HashSet<String>,
}

impl WebState {
    pub fn new(partitions: Partitions) -> Self {
        Self { partitions, inner: Mutex::default() }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that window `label` shows web account `account` in partition `partition`.
    pub fn opened(&self, label: &str, account: &str, partition: &str) {
        let mut inner = self.inner();
        inner.windows.insert(label.to_owned(), account.to_owned());
        inner.used.insert(partition.to_owned());
    }

    /// A window went away.
    pub fn closed(&self, label: &str) {
        self.inner().windows.remove(label);
    }

    /// The web account window `label` shows, if it is a web window.
    pub fn account_of(&self, label: &str) -> Option<String> {
        self.inner().windows.get(label).cloned()
    }

    /// The labels of `account`'s open windows, sorted.
    pub fn windows_of(&self, account: &str) -> Vec<String> {
        let mut labels: Vec<String> =
            self.inner().windows.iter().filter(|(_, a)| *a == account).map(|(label, _)| label.clone()).collect();
        labels.sort();
        labels
    }

    /// Whether a WebKit context was made for `partition` in this run.
    pub fn was_used(&self, partition: &str) -> bool {
        self.inner().used.contains(partition)
    }
}

/// The prefix of every web window's label; the rest is random, so the page (which can read its window's label
/// through Tauri's injected globals) learns nothing of the account from it.
pub const WEB_LABEL_PREFIX: &str = "web-";

/// A fresh, opaque web window label.
pub fn new_label() -> String {
    format!("{WEB_LABEL_PREFIX}{}", crate::roster::opaque_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i13_web_window_labels_are_opaque_and_match_no_account_window_capability() {
        let (one, two) = (new_label(), new_label());
        assert_ne!(one, two);
        assert!(one.starts_with(WEB_LABEL_PREFIX) && !one.starts_with(crate::windows::LABEL_PREFIX), "{one}");
        let capability = include_str!("../../capabilities/account-windows.json");
        assert!(capability.contains(r#""windows": ["acct-*"]"#), "the only capability is for acct-* windows");
        assert!(!capability.contains("remote"), "no capability covers a remote URL");
    }

    #[test]
    fn the_registry_knows_each_web_windows_account_and_every_partition_used_this_run() {
        let state = WebState::new(Partitions::new(std::path::Path::new("/tmp/kage-test")));
        state.opened("web-b", "main", "p1");
        state.opened("web-a", "main", "p1");
        state.opened("web-c", "alt", "p2");
        assert_eq!(state.windows_of("main"), vec!["web-a", "web-b"]);
        assert_eq!(state.account_of("web-c").as_deref(), Some("alt"));
        state.closed("web-a");
        state.closed("web-b");
        assert!(state.windows_of("main").is_empty());
        assert!(state.was_used("p1"), "the context outlives its windows");
        assert!(!state.was_used("p3"));
    }
}
