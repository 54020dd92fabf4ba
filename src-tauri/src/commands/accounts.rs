//! Signing in and out, saved accounts.

use kage_core::SecretString;
use serde::Serialize;
use tauri::{Runtime, State, WebviewWindow};

use super::{SavedAccount, WindowState, saved, window_state_of};
use crate::error::CommandError;
use crate::roster::RosterEntry;
use crate::state::{AppState, KeychainNote};
use crate::windows::{label_of, set_title};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoPlayer {
    pub username: &'static str,
    pub password: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub origin: String,
    pub sandbox: bool,
    pub demo_players: Vec<DemoPlayer>,
    pub keychain: KeychainNote,
    /// Something the player must know about this start, such as a damaged list of saved accounts kept aside.
    pub startup_notice: Option<String>,
}

#[tauri::command]
pub async fn server_info(state: State<'_, AppState>) -> Result<ServerInfo, CommandError> {
    let demo_players = if state.is_sandbox() {
        kage_server::demo::DEMO_PLAYERS
            .iter()
            .map(|&(username, password, ..)| DemoPlayer { username, password })
            .collect()
    } else {
        Vec::new()
    };
    Ok(ServerInfo {
        origin: state.origin.as_str().to_owned(),
        sandbox: state.is_sandbox(),
        demo_players,
        keychain: state.keychain.clone(),
        startup_notice: state.roster.notice().map(str::to_owned),
    })
}

/// Signs this window in with a password; the window is then pinned to that account.
#[tauri::command]
pub async fn sign_in<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
    username: String,
    password: String,
    remember: bool,
) -> Result<WindowState, CommandError> {
    let username = username.trim().to_owned();
    if username.is_empty() || password.is_empty() {
        return Err(CommandError::invalid("Enter a username and a password."));
    }
    let label = label_of(&window);
    let password = SecretString::from(password);
    let signed_in = state
        .once(&label, "sign_in", async {
            Ok(state.core.sign_in(&label, &state.origin, &username, &password, remember).await?)
        })
        .await?;
    let mut notice = match &signed_in.remembered {
        Ok(_) => None,
        Err(error) => Some(format!("Not remembered on this computer: {}", error.user_message())),
    };
    // In memory even when the file cannot be written, so this window shows its account for this run.
    if let Err(error) = state.roster.save(RosterEntry::new(&signed_in.account, &username)) {
        log::warn!("saving the account to the roster: {error}");
        notice.get_or_insert(format!("Signed in, but not added to the saved accounts: {error}."));
    }
    if let Err(error) = state.roster.set_layout(window.label(), Some(signed_in.account.id())) {
        log::warn!("window layout: {error}");
    }
    set_title(&window, Some(&username));
    Ok(window_state_of(&state, &window, notice))
}

/// Switches this window to a saved account; its credential comes from the keychain, no password. A saved
/// account Kage may not open on this run (the sandbox moved) is refused.
#[tauri::command]
pub async fn open_saved<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
    account_id: String,
) -> Result<WindowState, CommandError> {
    let entry = state
        .roster
        .find(&account_id)
        .ok_or_else(|| CommandError::new("not_found", "That account is not saved here."))?;
    let account = state.saved_account(&entry)?;
    state.core.open(&label_of(&window), &account);
    if let Err(error) = state.roster.set_layout(window.label(), Some(account.id())) {
        log::warn!("window layout: {error}");
    }
    set_title(&window, Some(&entry.username));
    Ok(window_state_of(&state, &window, None))
}

/// Signs this window's account out, in every window that shows it; erases its credential and cache.
#[tauri::command]
pub async fn sign_out<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
) -> Result<WindowState, CommandError> {
    let notice = match state.core.sign_out(&label_of(&window)).await {
        Ok(_) => None,
        Err(kage_core::core::SignOutError::NotPinned) => None,
        Err(error) => Some(error.to_string()),
    };
    Ok(window_state_of(&state, &window, notice))
}

/// Removes a saved account from this computer: session, keychain entry, cache, roster. Its windows return to
/// the sign-in screen.
#[tauri::command]
pub async fn forget_account(state: State<'_, AppState>, account_id: String) -> Result<Vec<SavedAccount>, CommandError> {
    if let Some(account) = state.roster.find(&account_id).and_then(|entry| entry.account()) {
        for window in state.core.forget(&account).await {
            if let Err(error) = state.roster.set_layout(window.as_str(), None) {
                log::warn!("window layout: {error}");
            }
        }
    }
    state.roster.remove(&account_id).map_err(|error| {
        CommandError::new("not_saved", format!("Kage could not update its list of saved accounts: {error}."))
    })?;
    Ok(state.roster.list().into_iter().map(|entry| saved(&state, entry)).collect())
}

#[tauri::command]
pub async fn saved_accounts(state: State<'_, AppState>) -> Result<Vec<SavedAccount>, CommandError> {
    Ok(state.roster.list().into_iter().map(|entry| saved(&state, entry)).collect())
}
