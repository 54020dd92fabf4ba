//! What a page paints: its window's state (account, status, cached profile, how to show them) and the saved
//! accounts as the page sees them. Built from memory and the cache, never the network. Commands answer with
//! these, and a status message on the window's channel carries the same state (`sink.rs`).

use kage_core::WindowView;
use kage_core::model::Profile;
use kage_core::offline::OfflineCause;
use kage_core::sessions::AccountStatus;
use serde::Serialize;
use tauri::{Manager, Runtime, WebviewWindow};
use ts_rs::TS;

use crate::display::Presenter;
use crate::launcher::Launcher;
use crate::roster::RosterEntry;
use crate::state::AppState;
use crate::windows::label_of;

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
    /// Why the account is offline, once Kage knows: its proxy, the game server, or no network at all.
    pub offline: Option<OfflineCause>,
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
    window_state_from(state, &window.state::<Launcher>(), state.core.view(&label_of(window)), notice)
}

/// The state of a window showing `view` (see [`kage_core::Core::account_view`]); `launcher` says whether the
/// account is waiting on the server to open.
pub(crate) fn window_state_from(
    state: &AppState,
    launcher: &Launcher,
    view: WindowView,
    notice: Option<String>,
) -> WindowState {
    let presenter = state.presenter();
    let account_id = view.account.clone();
    let account = account_id.as_deref().and_then(|id| state.roster.find(id)).map(|e| saved(state, &presenter, e));
    let waiting = account_id.as_deref().and_then(|id| launcher.waiting_notice(id));
    WindowState {
        account,
        status: view.status,
        profile: view.cached.map(|profile| presenter.profile(account_id.as_deref().unwrap_or_default(), profile)),
        cached_at: view.cached_at,
        notice: waiting.or(notice),
        keychain: view.keychain.map(str::to_owned),
        streamer: presenter.streamer(),
        hide_balances: presenter.hides_balances(),
        offline: view.offline.map(|cause| presenter.offline_cause(cause)),
    }
}
