//! The commands a page may call, grouped by domain. Each takes the calling `WebviewWindow`, whose label is the
//! only identity a call carries: it names the window, the window's pin names the account. No command takes an
//! account to act for, and none returns a token. (`open_saved`, `forget_account` and `open_window` take the id
//! of a saved account the player picked from the list; `accounts.rs` says why that is not an identity.)

use kage_core::WindowView;
use kage_core::model::{AccountProfile, Profile};
use kage_core::sessions::AccountStatus;
use serde::Serialize;
use tauri::{Runtime, WebviewWindow};
use ts_rs::TS;

use crate::display::Presenter;
use crate::roster::RosterEntry;
use crate::state::AppState;
use crate::windows::label_of;

pub mod accounts;
pub mod actions;
pub mod moving;
pub mod profile;
pub mod settings;
pub mod windows;

// The app's commands, once: the handler serves these, and the page's contract (`crate::contract`) declares
// each one's arguments and answer, as the compiler has checked them against the functions.
crate::contract::commands! {
    accounts::server_info() -> accounts::ServerInfo;
    accounts::sign_in<R>(accounts::SignInArgs) -> WindowState;
    accounts::sign_in_browser<R>(accounts::SignInBrowserArgs) -> WindowState;
    accounts::cancel_browser_sign_in<R>() -> bool;
    accounts::open_saved<R>(accounts::SavedAccountArgs) -> WindowState;
    accounts::sign_out<R>() -> WindowState;
    accounts::forget_account(accounts::SavedAccountArgs) -> Vec<SavedAccount>;
    accounts::sign_out_account(accounts::SavedAccountArgs) -> Vec<SavedAccount>;
    accounts::saved_accounts() -> Vec<SavedAccount>;
    profile::window_state<R>() -> WindowState;
    profile::subscribe<R>(profile::SubscribeArgs) -> ();
    profile::watch_display<R>(profile::WatchDisplayArgs) -> ();
    profile::refresh_profile<R>() -> AccountProfile;
    actions::train<R>(actions::TrainArgs) -> AccountProfile;
    actions::travel<R>(actions::TravelArgs) -> AccountProfile;
    actions::check_transfer(actions::TransferArgs) -> ();
    actions::transfer<R>(actions::TransferArgs) -> AccountProfile;
    windows::open_window<R>(windows::OpenWindowArgs) -> String;
    windows::open_accounts<R>(windows::OpenAccountsArgs) -> usize;
    windows::focus_account<R>(windows::FocusAccountArgs) -> ();
    windows::cycle_windows<R>(windows::CycleWindowsArgs) -> ();
    windows::tile_windows<R>() -> usize;
    settings::update_account<R>(settings::UpdateAccountArgs) -> Vec<SavedAccount>;
    settings::prefs() -> crate::prefs::Prefs;
    settings::set_prefs<R>(settings::SetPrefsArgs) -> settings::PrefsApplied;
    moving::export_accounts<R>(moving::ExportArgs) -> crate::moving::Exported;
    moving::import_accounts<R>(moving::ImportArgs) -> crate::moving::Imported;
}

/// A saved account as a page sees it: named through the presenter (no username, user id or server address in
/// streamer mode), its settings, and never a secret (a proxy's password is masked).
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SavedAccount {
    pub id: String,
    /// The username, or in streamer mode the alias (or "Account N").
    pub username: String,
    /// The name to show: as `username`, with the alias in front when there is one ("Scout (kiba)").
    pub name: String,
    pub alias: Option<String>,
    pub server: String,
    pub colour: String,
    pub status: AccountStatus,
    pub notifications: bool,
    pub groups: Vec<String>,
    pub proxy: Option<String>,
}

/// What a window shows: its account (if any), that account's state and cached profile, and how to show them.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WindowState {
    pub account: Option<SavedAccount>,
    pub status: AccountStatus,
    pub profile: Option<Profile>,
    pub cached_at: Option<u64>,
    pub notice: Option<String>,
    /// What is wrong with the keychain for this account (it may still be signed in and working from memory).
    pub keychain: Option<String>,
    /// Streamer mode is on: the page shows what it is given and hides its own identifying chrome.
    pub streamer: bool,
    /// Balances are not shown (streamer mode with "hide balances").
    pub hide_balances: bool,
}

fn saved(state: &AppState, presenter: &Presenter, entry: RosterEntry) -> SavedAccount {
    let status = entry.account().map_or(AccountStatus::SignedOut, |account| state.core.sessions.status(&account));
    let username = if presenter.streamer() { presenter.name(&entry) } else { entry.username.clone() };
    SavedAccount {
        name: presenter.name(&entry),
        server: presenter.server(&entry.origin),
        proxy: entry.proxy.as_deref().map(crate::proxy::masked),
        id: entry.id,
        username,
        alias: entry.alias,
        colour: entry.colour,
        status,
        notifications: entry.notifications,
        groups: entry.groups,
    }
}

/// Every saved account, as the page sees them.
pub(crate) fn saved_list(state: &AppState) -> Vec<SavedAccount> {
    let presenter = state.presenter();
    state.roster.list().into_iter().map(|entry| saved(state, &presenter, entry)).collect()
}

/// The window's state as the page paints it: from memory and the cache, no network.
pub(crate) fn window_state_of<R: Runtime>(
    state: &AppState,
    window: &WebviewWindow<R>,
    notice: Option<String>,
) -> WindowState {
    window_state_from(state, state.core.view(&label_of(window)), notice)
}

/// The state of a window showing `view` (see [`kage_core::Core::account_view`]).
pub(crate) fn window_state_from(state: &AppState, view: WindowView, notice: Option<String>) -> WindowState {
    let presenter = state.presenter();
    let account_id = view.account.clone();
    let account = account_id.as_deref().and_then(|id| state.roster.find(id)).map(|e| saved(state, &presenter, e));
    let waiting = account_id.as_deref().and_then(|id| state.launcher.waiting_notice(id));
    WindowState {
        account,
        status: view.status,
        profile: view.cached.map(|profile| presenter.profile(account_id.as_deref().unwrap_or_default(), profile)),
        cached_at: view.cached_at,
        notice: waiting.or(notice),
        keychain: view.keychain.map(str::to_owned),
        streamer: presenter.streamer(),
        hide_balances: presenter.hides_balances(),
    }
}
