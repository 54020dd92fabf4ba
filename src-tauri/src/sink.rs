//! A window's live updates go through an `ipc::Channel` that window's page created: per-account data never
//! travels on Tauri's global events, which every window can hear (I7).

use kage_core::AccountKey;
use kage_core::actions::{Action, Outcome};
use kage_core::events::{WindowSink, WindowUpdate};
use kage_core::model::Profile;
use kage_core::sessions::AccountStatus;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{Manager, Runtime, WebviewWindow};

use crate::display::Presenter;
use crate::launcher::Launcher;
use crate::state::AppState;
use crate::window_state::{WindowState, window_state_from};

/// A channel message: the update and the id of the account it is about, so the page can drop anything not for
/// the account it shows.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AccountUpdate {
    pub account: String,
    #[serde(flatten)]
    pub update: PageUpdate,
}

/// What a page is told about its window's account: core's `WindowUpdate`, named as the page may show it, with
/// a status change carrying the window's whole state (the keychain's health, the cached profile, a notice), so
/// the page paints it without asking `window_state` again.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PageUpdate {
    Profile {
        profile: Profile,
    },
    /// Also sent with the status unchanged when the keychain's health changed.
    Status {
        status: AccountStatus,
        state: Box<WindowState>,
    },
    TransferReceived {
        from: String,
        amount: i64,
    },
    /// What became of an action the window was told was not confirmed.
    ActionSettled {
        action: Action,
        outcome: Outcome,
    },
}

pub struct ChannelSink<R: Runtime> {
    pub channel: Channel<AccountUpdate>,
    pub window: WebviewWindow<R>,
}

impl<R: Runtime> WindowSink for ChannelSink<R> {
    fn send(&self, account: &AccountKey, update: WindowUpdate) -> bool {
        // A hibernating window has no page to hear it: the core drops this channel, and the page, once woken,
        // asks for a new one (and paints the cache, which the core kept current meanwhile).
        if crate::hibernation::is_asleep(self.window.app_handle(), self.window.label()) {
            return false;
        }
        let state = self.window.state::<AppState>();
        let update = for_page(&state, &self.window.state::<Launcher>(), account, update);
        self.channel.send(AccountUpdate { account: account.id().to_owned(), update }).is_ok()
    }
}

/// The update as the page gets it. Core calls a sink while it holds the window pins (the window cannot be
/// switched mid-delivery), so the state comes from the account's view, which reads no pin.
fn for_page(state: &AppState, launcher: &Launcher, account: &AccountKey, update: WindowUpdate) -> PageUpdate {
    match presented(&state.presenter(), account, update) {
        WindowUpdate::Status { status } => {
            let window = window_state_from(state, launcher, state.core.account_view(account), None);
            PageUpdate::Status { status, state: Box::new(window) }
        }
        WindowUpdate::Profile { profile } => PageUpdate::Profile { profile },
        WindowUpdate::TransferReceived { from, amount } => PageUpdate::TransferReceived { from, amount },
        WindowUpdate::ActionSettled { action, outcome } => PageUpdate::ActionSettled { action, outcome },
    }
}

/// The update named as the page may show it: in streamer mode no username reaches the page, not even another
/// player's, and hidden balances stay hidden.
fn presented(presenter: &Presenter, account: &AccountKey, update: WindowUpdate) -> WindowUpdate {
    let hidden = |amount: i64| if presenter.hides_balances() { 0 } else { amount };
    match update {
        WindowUpdate::Profile { profile } => {
            WindowUpdate::Profile { profile: presenter.profile(account.id(), profile) }
        }
        WindowUpdate::TransferReceived { from, amount } => {
            WindowUpdate::TransferReceived { from: presenter.player(&from), amount: hidden(amount) }
        }
        WindowUpdate::ActionSettled { action, outcome } => {
            let action = match action {
                Action::Transfer { to, amount } => {
                    Action::Transfer { to: presenter.player(&to), amount: hidden(amount) }
                }
                other => other,
            };
            // A refusal's sentence can quote a name the player typed or a balance ("there is no player named
            // ...", "you have fewer than 400 ryo").
            let outcome = match outcome {
                Outcome::Refused { .. } if presenter.streamer() => {
                    Outcome::Refused { message: "the server refused it.".into() }
                }
                other => other,
            };
            WindowUpdate::ActionSettled { action, outcome }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use kage_core::ServerOrigin;

    use super::*;

    #[test]
    fn streamer_mode_a_settled_transfer_shows_no_username_or_balance() {
        let account = AccountKey::new(ServerOrigin::parse("http://127.0.0.1:1").unwrap(), "user-1");
        let settled = |outcome: Outcome| WindowUpdate::ActionSettled {
            action: Action::Transfer { to: "alt".into(), amount: 400 },
            outcome,
        };
        let refused = || Outcome::Refused { message: "there is no player named \"alt\"".into() };
        let streaming = Presenter::new(true, true, Vec::new());
        for outcome in [Outcome::Done, refused()] {
            let shown = serde_json::to_string(&presented(&streaming, &account, settled(outcome))).unwrap();
            assert!(!shown.contains("alt") && !shown.contains("400"), "{shown}");
        }
        // Off stream, the player sees what they sent, to whom, and the server's own reason.
        let plain = Presenter::new(false, false, Vec::new());
        let shown = presented(&plain, &account, settled(refused()));
        assert_eq!(shown, settled(refused()));
    }
}
