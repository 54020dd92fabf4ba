//! What the overview shows of each account, gathered per account from the core's own events: the newest
//! profile heard for it, how many notifications arrived since one of its windows last had the focus, and
//! which account just received something. The shell turns these facts into tiles (names through its
//! presenter, window state from its windows) and sends them to the overview window over that window's own
//! channel; nothing here comes from a page.
//!
//! Everything is keyed by the account the core delivered the update for, and a profile is kept only if it is
//! that account's own (the same check as I3): a tile built from [`Board::facts`] for one account holds no other
//! account's data, whatever the other accounts' events do meanwhile. The model test checks it after every step.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::broadcast;

use crate::account::AccountKey;
use crate::cache::ProfileCache;
use crate::events::{AccountListener, WindowUpdate};
use crate::locks::Recover;
use crate::model::Profile;
use crate::sessions::{AccountStatus, Sessions};

/// One account's facts for its tile, read from that account's data only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileFacts {
    pub account: AccountKey,
    pub status: AccountStatus,
    /// The newest profile heard for the account, else its cached one; `None` once it is signed out (I4).
    pub profile: Option<Profile>,
    /// Notifications (transfers received) since one of the account's windows last had the focus.
    pub unread: u32,
}

/// Something about one account changed: its tile should be built again. `arrived`: something was received
/// (the tile flashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub account: AccountKey,
    pub arrived: bool,
}

#[derive(Debug, Default, Clone)]
struct Tally {
    unread: u32,
    profile: Option<Profile>,
}

/// The per-account tallies behind the overview. Installed as one of the core's account listeners
/// ([`crate::events::Events::listen`]), so it hears each account's updates once, windows or not.
pub struct Board {
    tallies: Mutex<HashMap<AccountKey, Tally>>,
    changes: broadcast::Sender<Change>,
}

impl Default for Board {
    fn default() -> Self {
        Self { tallies: Mutex::default(), changes: broadcast::channel(256).0 }
    }
}

impl Board {
    /// Each change as it happens (a lagging receiver has missed some: it should rebuild every tile).
    pub fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// The account's facts now: its status from the sessions, its profile (the newest heard, else the cached
    /// one; none when signed out), its unread count.
    pub fn facts(&self, sessions: &Sessions, cache: &ProfileCache, account: &AccountKey) -> TileFacts {
        let status = sessions.status(account);
        let tally = self.tallies.lock().recover().get(account).cloned().unwrap_or_default();
        let profile = match status {
            AccountStatus::SignedOut => None,
            _ => newer(tally.profile, cache.get(account).map(|cached| cached.profile)),
        };
        // The same check as I3: a profile is shown for the account it is about, or not at all.
        let profile = profile.filter(|profile| profile.id == account.user_id());
        TileFacts { account: account.clone(), status, profile, unread: tally.unread }
    }

    /// One of the account's windows got the focus: its notifications have been seen.
    pub fn seen(&self, account: &AccountKey) {
        let cleared = match self.tallies.lock().recover().get_mut(account) {
            Some(tally) if tally.unread > 0 => {
                tally.unread = 0;
                true
            }
            _ => false,
        };
        if cleared {
            let _ = self.changes.send(Change { account: account.clone(), arrived: false });
        }
    }

    /// The account was forgotten or signed out: nothing of it is kept.
    pub fn forget(&self, account: &AccountKey) {
        self.tallies.lock().recover().remove(account);
        let _ = self.changes.send(Change { account: account.clone(), arrived: false });
    }

    /// Counts an update for `account` while none of its windows has the focus (`focused`: one has, and the
    /// player sees it there).
    pub fn heard(&self, account: &AccountKey, update: &WindowUpdate, focused: bool) {
        let arrived = {
            let mut tallies = self.tallies.lock().recover();
            let tally = tallies.entry(account.clone()).or_default();
            match update {
                // Another account's profile is never kept under this one (I3).
                WindowUpdate::Profile { profile } if profile.id == account.user_id() => {
                    tally.profile = newer(tally.profile.take(), Some(profile.clone()));
                    false
                }
                WindowUpdate::Profile { .. } => return,
                WindowUpdate::TransferReceived { .. } => {
                    if !focused {
                        tally.unread = tally.unread.saturating_add(1);
                    }
                    true
                }
                WindowUpdate::Status { status: AccountStatus::SignedOut } => {
                    tally.profile = None;
                    false
                }
                WindowUpdate::Status { .. } | WindowUpdate::ActionSettled { .. } => false,
            }
        };
        let _ = self.changes.send(Change { account: account.clone(), arrived });
    }
}

/// Of two copies of one account's profile, the higher version.
fn newer(a: Option<Profile>, b: Option<Profile>) -> Option<Profile> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.version > a.version { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// As a listener, the board cannot see windows' focus: every transfer counts. The shell wraps the board in a
/// listener of its own that knows the focus (see `src-tauri/src/overview`).
impl AccountListener for Board {
    fn hear(&self, account: &AccountKey, update: &WindowUpdate) {
        self.heard(account, update, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::ServerOrigin;
    use crate::model::Stats;

    fn profile(user_id: &str, ryo: i64, version: i64) -> Profile {
        Profile {
            id: user_id.to_owned(),
            username: user_id.to_owned(),
            level: 2,
            xp: 0,
            village: "Leaf".into(),
            ryo,
            stats: Stats { strength: 1, agility: 1, chakra: 1 },
            version,
            updated_at: "2026-12-04T00:00:00Z".into(),
            rules: None,
        }
    }

    fn account(user_id: &str) -> AccountKey {
        AccountKey::new(ServerOrigin::parse("http://127.0.0.1:1").unwrap(), user_id)
    }

    fn tally(board: &Board, account: &AccountKey) -> Tally {
        board.tallies.lock().recover().get(account).cloned().unwrap_or_default()
    }

    #[test]
    fn an_accounts_tally_keeps_only_its_own_profile_and_the_newest_one() {
        let (main, alt) = (account("u-main"), account("u-alt"));
        let board = Board::default();
        board.hear(&main, &WindowUpdate::Profile { profile: profile("u-main", 100, 3) });
        board.hear(&main, &WindowUpdate::Profile { profile: profile("u-alt", 999, 9) });
        board.hear(&main, &WindowUpdate::Profile { profile: profile("u-main", 50, 2) });
        assert_eq!(tally(&board, &main).profile.map(|p| (p.ryo, p.version)), Some((100, 3)));
        assert!(tally(&board, &alt).profile.is_none(), "nothing heard for alt");
    }

    #[test]
    fn unread_counts_arrivals_per_account_until_its_window_has_the_focus() {
        let (main, alt) = (account("u-main"), account("u-alt"));
        let board = Board::default();
        let mut changes = board.changes();
        let transfer = WindowUpdate::TransferReceived { from: "main".into(), amount: 25 };
        board.heard(&alt, &transfer, false);
        board.heard(&alt, &transfer, false);
        board.heard(&main, &transfer, true);
        assert_eq!((tally(&board, &alt).unread, tally(&board, &main).unread), (2, 0));
        assert_eq!(changes.try_recv().unwrap(), Change { account: alt.clone(), arrived: true });
        board.seen(&alt);
        assert_eq!(tally(&board, &alt).unread, 0);
    }
}
