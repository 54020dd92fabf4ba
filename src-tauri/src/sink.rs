//! A window's live updates go through an `ipc::Channel` that window's page created: per-account data never
//! travels on Tauri's global events, which every window can hear (I7).

use kage_core::AccountKey;
use kage_core::actions::{Action, Outcome};
use kage_core::events::{WindowSink, WindowUpdate};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{Manager, Runtime, WebviewWindow};

use crate::state::AppState;

/// A channel message: the update and the id of the account it is about, so the page can drop anything not for
/// the account it shows.
#[derive(Debug, Clone, Serialize)]
pub struct AccountUpdate {
    pub account: String,
    #[serde(flatten)]
    pub update: WindowUpdate,
}

pub struct ChannelSink<R: Runtime> {
    pub channel: Channel<AccountUpdate>,
    pub window: WebviewWindow<R>,
}

impl<R: Runtime> WindowSink for ChannelSink<R> {
    fn send(&self, account: &AccountKey, update: WindowUpdate) -> bool {
        let state = self.window.state::<AppState>();
        // Named as the page may show it: in streamer mode no username reaches the page, not even a sender's.
        let presenter = state.presenter();
        let update = match update {
            WindowUpdate::Profile { profile } => {
                WindowUpdate::Profile { profile: presenter.profile(account.id(), profile) }
            }
            WindowUpdate::TransferReceived { from, amount } => {
                crate::notify::transfer_received(&self.window, account, &presenter, &from, amount);
                let amount = if presenter.hides_balances() { 0 } else { amount };
                WindowUpdate::TransferReceived { from: presenter.player(&from), amount }
            }
            WindowUpdate::ActionSettled { action, outcome } => {
                let action = match action {
                    Action::Transfer { to, amount } => Action::Transfer {
                        to: presenter.player(&to),
                        amount: if presenter.hides_balances() { 0 } else { amount },
                    },
                    other => other,
                };
                // A refusal's sentence can quote a balance ("you have fewer than 400 ryo").
                let outcome = match outcome {
                    Outcome::Refused { .. } if presenter.hides_balances() => {
                        Outcome::Refused { message: "the server refused it.".into() }
                    }
                    other => other,
                };
                WindowUpdate::ActionSettled { action, outcome }
            }
            other => other,
        };
        self.channel.send(AccountUpdate { account: account.id().to_owned(), update }).is_ok()
    }
}
