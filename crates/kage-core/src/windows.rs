//! Which account each window is pinned to. The one place a window's account is decided, and the reason no
//! "current account" exists: a call names its window, the window names its account.
//!
//! Every pin gets a fresh epoch. A request remembers the epoch it started under and its answer is used only
//! if the window still has that epoch (I3), so a late answer after a switch or sign-out is dropped.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::account::{AccountKey, WindowLabel};
use crate::locks::Recover;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub account: AccountKey,
    pub epoch: u64,
}

#[derive(Default)]
pub struct Windows {
    pins: RwLock<HashMap<WindowLabel, Pin>>,
    epochs: AtomicU64,
}

impl Windows {
    /// Pins `window` to `account` (a first pin or a switch) and returns the new pin.
    pub fn pin(&self, window: &WindowLabel, account: &AccountKey) -> Pin {
        let pin = Pin { account: account.clone(), epoch: self.epochs.fetch_add(1, Ordering::Relaxed) + 1 };
        self.pins.write().recover().insert(window.clone(), pin.clone());
        pin
    }

    /// Forgets the window (it closed, or its account signed out). Answers in flight for it are dropped.
    pub fn unpin(&self, window: &WindowLabel) -> Option<Pin> {
        self.pins.write().recover().remove(window)
    }

    pub fn pin_of(&self, window: &WindowLabel) -> Option<Pin> {
        self.pins.read().recover().get(window).cloned()
    }

    /// True while `window` is still pinned with exactly this pin.
    pub fn is_current(&self, window: &WindowLabel, pin: &Pin) -> bool {
        self.pin_of(window).as_ref() == Some(pin)
    }

    pub fn windows_of(&self, account: &AccountKey) -> Vec<WindowLabel> {
        let pins = self.pins.read().recover();
        let mut windows: Vec<_> =
            pins.iter().filter(|(_, pin)| &pin.account == account).map(|(w, _)| w.clone()).collect();
        windows.sort();
        windows
    }

    /// Calls `f` with the window's pin, frozen until `f` returns.
    pub fn with_pin<T>(&self, window: &WindowLabel, f: impl FnOnce(Option<&Pin>) -> T) -> T {
        f(self.pins.read().recover().get(window))
    }

    /// Calls `f` for each window pinned to `account`, with pins frozen until it returns: a window cannot be
    /// switched between being chosen and being handed something meant for that account.
    pub fn for_each_window_of(&self, account: &AccountKey, mut f: impl FnMut(&WindowLabel)) {
        let pins = self.pins.read().recover();
        for (window, _) in pins.iter().filter(|(_, pin)| &pin.account == account) {
            f(window);
        }
    }

    /// Every account some window is pinned to, each once.
    pub fn pinned_accounts(&self) -> Vec<AccountKey> {
        let pins = self.pins.read().recover();
        let mut accounts: Vec<_> = pins.values().map(|pin| pin.account.clone()).collect();
        accounts.sort();
        accounts.dedup();
        accounts
    }

    pub fn all(&self) -> Vec<(WindowLabel, Pin)> {
        let pins = self.pins.read().recover();
        let mut all: Vec<_> = pins.iter().map(|(w, p)| (w.clone(), p.clone())).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::ServerOrigin;

    fn account(user: &str) -> AccountKey {
        AccountKey::new(ServerOrigin::parse("http://127.0.0.1:1").unwrap(), user)
    }

    #[test]
    fn switching_a_window_gives_a_new_epoch_and_outdates_the_old_pin() {
        let windows = Windows::default();
        let w = WindowLabel::new("acct-1");
        let first = windows.pin(&w, &account("a"));
        assert!(windows.is_current(&w, &first));
        let second = windows.pin(&w, &account("b"));
        assert!(second.epoch > first.epoch);
        assert!(!windows.is_current(&w, &first));
        // Switching back is still a new pin: an answer started before the round trip stays outdated.
        let third = windows.pin(&w, &account("a"));
        assert!(!windows.is_current(&w, &first));
        assert!(windows.is_current(&w, &third));
    }

    #[test]
    fn windows_of_lists_only_that_accounts_windows() {
        let windows = Windows::default();
        windows.pin(&WindowLabel::new("acct-1"), &account("a"));
        windows.pin(&WindowLabel::new("acct-2"), &account("b"));
        windows.pin(&WindowLabel::new("acct-3"), &account("a"));
        assert_eq!(windows.windows_of(&account("a")), [WindowLabel::new("acct-1"), WindowLabel::new("acct-3")]);
        windows.unpin(&WindowLabel::new("acct-1"));
        assert_eq!(windows.windows_of(&account("a")), [WindowLabel::new("acct-3")]);
        assert_eq!(windows.pinned_accounts().len(), 2);
    }
}
