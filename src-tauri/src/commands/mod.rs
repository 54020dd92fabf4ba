//! The commands a page may call, grouped by domain. Each takes the calling `WebviewWindow`, whose label is the
//! only identity a call carries: it names the window, the window's pin names the account. No command takes an
//! account to act for, and none returns a token. (`open_saved`, `forget_account` and `open_window` take the id
//! of a saved account the player picked from the list; `accounts.rs` says why that is not an identity.)

use kage_core::model::Profile;
use kage_core::sessions::AccountStatus;
use serde::Serialize;
use tauri::{Runtime, WebviewWindow};

use crate::roster::RosterEntry;
use crate::state::AppState;
use crate::windows::label_of;

pub mod accounts;
pub mod actions;
pub mod profile;
pub mod windows;

pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        accounts::server_info,
        accounts::sign_in,
        accounts::open_saved,
        accounts::sign_out,
        accounts::forget_account,
        accounts::saved_accounts,
        profile::window_state,
        profile::subscribe,
        profile::refresh_profile,
        actions::train,
        actions::travel,
        actions::transfer,
        windows::open_window,
    ]
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedAccount {
    pub id: String,
    pub username: String,
    pub server: String,
    pub colour: String,
    pub status: AccountStatus,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowState {
    pub account: Option<SavedAccount>,
    pub status: AccountStatus,
    pub profile: Option<Profile>,
    pub cached_at: Option<u64>,
    pub notice: Option<String>,
    /// What is wrong with the keychain for this account (it may still be signed in and working from memory).
    pub keychain: Option<String>,
}

fn saved(state: &AppState, entry: RosterEntry) -> SavedAccount {
    let status = entry.account().map_or(AccountStatus::SignedOut, |account| state.core.sessions.status(&account));
    SavedAccount { id: entry.id, username: entry.username, server: entry.origin, colour: entry.colour, status }
}

/// The window's state as the page paints it: from memory and the cache, no network.
pub(crate) fn window_state_of<R: Runtime>(
    state: &AppState,
    window: &WebviewWindow<R>,
    notice: Option<String>,
) -> WindowState {
    let view = state.core.view(&label_of(window));
    let account = view.account.as_deref().and_then(|id| state.roster.find(id)).map(|entry| saved(state, entry));
    WindowState {
        account,
        status: view.status,
        profile: view.cached,
        cached_at: view.cached_at,
        notice,
        keychain: view.keychain.map(str::to_owned),
    }
}
