//! Signing in and out, saved accounts.
//!
//! Three commands take a saved account's roster id from the page: `open_saved` and `forget_account` here,
//! `open_window` in `windows.rs`. They are the only commands that act on an account other than through the
//! calling window's pin, and this is why that is safe:
//! - the id only picks an entry of this computer's roster: an account the player saved and now chose from the
//!   list. An id that is not in the roster picks nothing; a page cannot make up an account, a server or a user.
//! - it is not an identity. Which window a call changes still comes from the window label: `open_saved` re-pins
//!   the calling window (and only it), `open_window` pins a new window with a new label, `forget_account` only
//!   signs the chosen account out (the player asked for that) and returns its windows to the sign-in screen.
//! - it never selects a token for anything else: every later request of a window carries the token of that
//!   window's own pin (kage-core's `Client`), so no id can make another window's requests carry this account's
//!   token, or this window's requests carry another's. The credential goes only to the server the entry names,
//!   and only when Kage may send it there on this run (`AppState::saved`, the one place that decides).

use kage_core::SecretString;
use serde::{Deserialize, Serialize};
use tauri::{Runtime, State, WebviewWindow};
use ts_rs::TS;

use super::{SavedAccount, WindowState, saved_list, window_state_of};
use crate::contract::Args;
use crate::error::{CommandError, ErrorCode};
use crate::roster::RosterEntry;
use crate::state::{AppState, KeychainNote};
use crate::windows::{label_of, retitle};

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct DemoPlayer {
    pub username: &'static str,
    pub password: &'static str,
}

#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub origin: String,
    pub sandbox: bool,
    pub demo_players: Vec<DemoPlayer>,
    pub keychain: KeychainNote,
    /// Something the player must know about this start, such as a damaged list of saved accounts kept aside.
    pub startup_notice: Option<String>,
    /// The server takes passwords; it offers signing in through its identity provider in the browser.
    pub password_sign_in: bool,
    pub browser_sign_in: bool,
}

#[tauri::command]
pub async fn server_info(state: State<'_, AppState>) -> Result<ServerInfo, CommandError> {
    let auth = state.auth_config().await;
    let presenter = state.presenter();
    // The demo players' names are usernames too: not on screen in streamer mode.
    let demo_players = if state.is_sandbox() && !presenter.streamer() {
        kage_server::demo::DEMO_PLAYERS
            .iter()
            .map(|&(username, password, ..)| DemoPlayer { username, password })
            .collect()
    } else {
        Vec::new()
    };
    Ok(ServerInfo {
        origin: presenter.server(state.origin.as_str()),
        sandbox: state.is_sandbox(),
        demo_players,
        keychain: state.keychain.clone(),
        startup_notice: state.startup_notice.clone(),
        password_sign_in: auth.password,
        browser_sign_in: auth.oidc.is_some(),
    })
}

// No `Debug`: it holds the password until `sign_in` wraps it.
#[derive(Deserialize, TS)]
pub struct SignInArgs {
    pub username: String,
    pub password: String,
    /// Save the sign-in in the keychain, so the account opens without a password next time.
    pub remember: bool,
}

#[derive(Deserialize, TS)]
pub struct SignInBrowserArgs {
    pub remember: bool,
}

/// A saved account the player picked from the list (see the module comment).
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SavedAccountArgs {
    pub account_id: String,
}

/// Signs this window in with a password; the window is then pinned to that account.
#[tauri::command]
pub async fn sign_in<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
    args: Args<SignInArgs>,
) -> Result<WindowState, CommandError> {
    let Args(SignInArgs { username, password, remember }) = args;
    let username = username.trim().to_owned();
    if username.is_empty() || password.is_empty() {
        return Err(CommandError::invalid("Enter a username and a password."));
    }
    let label = label_of(&window);
    let password = SecretString::from(password);
    let signed_in = state
        .once(&label, "sign_in", async {
            // A saved account signing in again keeps its proxy from the first request (the sign-in itself).
            let proxy = state.saved_proxy(&username);
            Ok(state.core.sign_in_through(&label, &state.origin, &username, &password, remember, proxy).await?)
        })
        .await?;
    Ok(signed_in_here(&state, &window, &signed_in, &username))
}

/// After a sign-in pinned `window`: the account is saved and shown, and the window says what did not work.
fn signed_in_here<R: Runtime>(
    state: &AppState,
    window: &WebviewWindow<R>,
    signed_in: &kage_core::sessions::SignedIn,
    username: &str,
) -> WindowState {
    let mut notice = match &signed_in.remembered {
        Ok(_) => None,
        // The session works from memory and the save is retried; "remember" is not dropped (I11).
        Err(error) => Some(format!(
            "{} This account stays signed in and is saved to the keychain as soon as it answers.",
            error.user_message()
        )),
    };
    // In memory even when the file cannot be written, so this window shows its account for this run.
    if let Err(error) = state.roster.save(RosterEntry::new(&signed_in.account, username)) {
        log::warn!("saving the account to the roster: {error}");
        notice.get_or_insert(format!("Signed in, but not added to the saved accounts: {error}."));
    }
    if let Err(error) = state.roster.set_layout(window.label(), Some(signed_in.account.id())) {
        log::warn!("window layout: {error}");
    }
    retitle(window);
    window_state_of(state, window, notice)
}

/// Signs this window in through the server's identity provider, in the system browser (authorization code with
/// PKCE, redirected to a one-off listener on 127.0.0.1). The sign-in is bound to this window: its answer pins
/// this window and no other. A window showing a signed-out account signs that account in again, and a browser
/// that answers as another player is refused (its provider session must not choose the account, I3).
#[tauri::command]
pub async fn sign_in_browser<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
    args: Args<SignInBrowserArgs>,
) -> Result<WindowState, CommandError> {
    let Args(SignInBrowserArgs { remember }) = args;
    use tauri_plugin_opener::OpenerExt;
    let label = label_of(&window);
    let expected = state.core.windows.pin_of(&label).map(|pin| pin.account);
    let signed_in = state
        .once(&label, "sign_in", async {
            let mut flow = state.core.begin_browser_sign_in(&label, &state.origin, expected.as_ref()).await?;
            if let Some(names) = streamer_names(&state, expected.as_ref()) {
                flow = flow.name_accounts(names);
            }
            let opened = match &state.browser {
                Some(browser) => browser.open(flow.authorization_url()),
                None => window.opener().open_url(flow.authorization_url(), None::<&str>).map_err(|e| e.to_string()),
            };
            if let Err(error) = opened {
                state.core.cancel_browser_sign_in(&label);
                return Err(CommandError::new(
                    ErrorCode::NoBrowser,
                    format!("Kage could not open your browser: {error}."),
                ));
            }
            Ok(state.core.finish_browser_sign_in(flow, remember).await?)
        })
        .await?;
    // The name the player goes by in the game, from the game server (the provider's name may differ).
    let username = match state.core.client.refetch_account(&signed_in.account).await {
        Ok(profile) => profile.username,
        Err(_) => "Player".to_owned(),
    };
    Ok(signed_in_here(&state, &window, &signed_in, &username))
}

/// In streamer mode, how a browser sign-in's messages (this window's error, the browser tab's page) name
/// accounts: by the names on screen (aliases), never by username; `None` outside streamer mode.
fn streamer_names(state: &AppState, expected: Option<&kage_core::AccountKey>) -> Option<kage_core::oidc::AccountNames> {
    let presenter = state.presenter();
    if !presenter.streamer() {
        return None;
    }
    let known =
        state.roster.list().iter().filter_map(|entry| Some((entry.account()?, presenter.name(entry)))).collect();
    Some(kage_core::oidc::AccountNames {
        expected: expected.and_then(|account| presenter.name_of(account.id())),
        known,
        other: "another account".to_owned(),
    })
}

/// Stops this window's browser sign-in (the page's Cancel); its listener closes.
#[tauri::command]
pub async fn cancel_browser_sign_in<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
) -> Result<bool, CommandError> {
    Ok(state.core.cancel_browser_sign_in(&label_of(&window)))
}

/// Switches the calling window to a saved account the player picked; its credential comes from the keychain,
/// no password. Acts on a saved account by id (see the module comment): only the calling window is re-pinned.
#[tauri::command]
pub async fn open_saved<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
    args: Args<SavedAccountArgs>,
) -> Result<WindowState, CommandError> {
    let Args(SavedAccountArgs { account_id }) = args;
    let entry = state
        .roster
        .find(&account_id)
        .ok_or_else(|| CommandError::new(ErrorCode::NotFound, "That account is not saved here."))?;
    let account = state.saved_account(&entry)?;
    state.core.open(&label_of(&window), &account);
    if let Err(error) = state.roster.set_layout(window.label(), Some(account.id())) {
        log::warn!("window layout: {error}");
    }
    retitle(&window);
    Ok(window_state_of(&state, &window, None))
}

/// Signs this window's account out, in every window that shows it; erases its credential and cache.
#[tauri::command]
pub async fn sign_out<R: Runtime>(
    window: WebviewWindow<R>,
    state: State<'_, AppState>,
) -> Result<WindowState, CommandError> {
    let label = label_of(&window);
    let pinned = state.core.windows.pin_of(&label).map(|pin| pin.account);
    let mut notice = match state.core.sign_out(&label).await {
        // A provider without revocation keeps its grant: the player is told so (issue 20).
        Ok(signed_out) => signed_out.notice().map(str::to_owned),
        Err(kage_core::core::SignOutError::NotPinned) => None,
        Err(error) => Some(error.to_string()),
    };
    // On disk too, so a restart cannot revive it from a credential the keychain could not delete yet.
    if let Some(account) = pinned
        && let Err(error) = state.roster.set_signed_out(account.id(), true)
    {
        notice.get_or_insert_with(|| format!("Signed out, but Kage could not record it: {error}"));
    }
    Ok(window_state_of(&state, &window, notice))
}

/// Signs out a saved account the player picked in the accounts panel, in every window that shows it; like
/// `forget_account` it acts by id (see the module comment) and only ever ends that account's session, at its
/// server only when Kage may send its credential there on this run (`AppState::saved`).
#[tauri::command]
pub async fn sign_out_account(
    state: State<'_, AppState>,
    args: Args<SavedAccountArgs>,
) -> Result<Vec<SavedAccount>, CommandError> {
    let Args(SavedAccountArgs { account_id }) = args;
    let entry = state
        .roster
        .find(&account_id)
        .ok_or_else(|| CommandError::new(ErrorCode::NotFound, "That account is not saved here."))?;
    let saved = state.saved(&entry)?;
    let account = &saved.account;
    let mut problem = state.core.sign_out_account(account, saved.reach()).await.err().map(|error| error.to_string());
    if let Err(error) = state.roster.set_signed_out(account.id(), true) {
        problem.get_or_insert_with(|| format!("Kage could not record it: {error}"));
    }
    match problem {
        // Signed out in memory all the same; the keychain delete is retried (see `finish_sign_outs`).
        Some(problem) => Err(CommandError::new(ErrorCode::SignOutIncomplete, format!("Signed out, but: {problem}"))),
        None => Ok(saved_list(&state)),
    }
}

/// Removes a saved account the player picked from this computer: session, keychain entry, cache, roster. Its
/// windows return to the sign-in screen. Acts on a saved account by id (see the module comment); it sends
/// nothing on that account's behalf except a sign-out to its own server, and only to a server Kage may send its
/// credential to on this run (`AppState::saved`): an account Kage may not open (the sandbox moved) is forgotten
/// on this computer without a word to whatever holds its old address.
#[tauri::command]
pub async fn forget_account(
    state: State<'_, AppState>,
    args: Args<SavedAccountArgs>,
) -> Result<Vec<SavedAccount>, CommandError> {
    let Args(SavedAccountArgs { account_id }) = args;
    if let Some(saved) = state.roster.find(&account_id).and_then(|entry| state.saved(&entry).ok()) {
        for window in state.core.forget(&saved.account, saved.reach()).await {
            if let Err(error) = state.roster.set_layout(window.as_str(), None) {
                log::warn!("window layout: {error}");
            }
        }
    }
    state.roster.remove(&account_id).map_err(|error| {
        CommandError::new(ErrorCode::NotSaved, format!("Kage could not update its list of saved accounts: {error}."))
    })?;
    Ok(saved_list(&state))
}

#[tauri::command]
pub async fn saved_accounts(state: State<'_, AppState>) -> Result<Vec<SavedAccount>, CommandError> {
    Ok(saved_list(&state))
}
