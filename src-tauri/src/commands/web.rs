//! Web games in the accounts panel: add a game by its URL, its accounts by name, open, sign out, forget (I13).
//!
//! Like `open_saved`, these take the id of a game or web account the player picked from the panel's list: the
//! id only picks an entry of this computer's roster, and none of them hands a page anything of an account (a web
//! account's data stays in its partition, which no page of Kage's can read). Which partition a window uses is
//! decided in Rust, from the roster, when the window is created (`web::window`).

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime, State};
use ts_rs::TS;

use crate::contract::Args;
use crate::error::{CommandError, ErrorCode};
use crate::roster::{Game, WebRosterError};
use crate::state::AppState;

/// A web game as the panel shows it, with its accounts.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WebGameView {
    pub id: String,
    pub name: String,
    pub start_url: String,
    pub allowed_origins: Vec<String>,
    pub accounts: Vec<WebAccountView>,
}

/// A web account as the panel shows it: named through the presenter (its alias or "Web account N" in streamer
/// mode), never its partition.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WebAccountView {
    pub id: String,
    pub name: String,
    /// The player's own name for it, for the rename form; `None` in streamer mode (it may be the site's
    /// username).
    pub own_name: Option<String>,
    pub alias: Option<String>,
    pub colour: String,
    /// How many windows of it are open.
    pub windows: usize,
    /// Its Ctrl+N (numbered after the Kage-protocol accounts), if it has one.
    pub hotkey: Option<usize>,
    /// Its proxy; `None` in streamer mode (an address can lead back to the player), see `proxy_hidden`.
    pub proxy: Option<String>,
    /// Streamer mode hides the proxy: the panel must not offer to change what it cannot show.
    pub proxy_hidden: bool,
    /// The site origin of the sign-in saved for it in the keychain, if any (the panel offers "Fill sign-in").
    pub sign_in_origin: Option<String>,
    /// Whether the notifications its game's page raises are shown, and the launch groups it is in.
    pub settings: crate::roster::WebAccountSettings,
}

#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AddWebGameArgs {
    pub start_url: String,
    pub name: Option<String>,
}

#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WebGameArgs {
    pub game_id: String,
}

/// `origins`: the extra origins the game's windows may show (a sign-in provider's), beside the start URL's.
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WebGameOriginsArgs {
    pub game_id: String,
    pub origins: Vec<String>,
}

#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct AddWebAccountArgs {
    pub game_id: String,
    pub name: String,
}

#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
/// `name`: `null` keeps the name (a rename form in streamer mode changes the alias only).
pub struct RenameWebAccountArgs {
    pub account_id: String,
    pub name: Option<String>,
    pub alias: Option<String>,
}

/// `proxy`: `null` or blank for none.
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WebAccountProxyArgs {
    pub account_id: String,
    pub proxy: Option<String>,
}

/// `new_window`: open another window of the account even when one is open (else that one comes forward).
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OpenWebAccountArgs {
    pub account_id: String,
    pub new_window: bool,
}

#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WebAccountArgs {
    pub account_id: String,
}

pub(crate) fn refused(error: WebRosterError) -> CommandError {
    match error {
        WebRosterError::Invalid(sentence) => CommandError::invalid(sentence),
        WebRosterError::NotFound => CommandError::new(ErrorCode::NotFound, error.to_string()),
        WebRosterError::NotSaved(_) => CommandError::new(ErrorCode::NotSaved, error.to_string()),
    }
}

/// Every web game with its accounts, as the panel shows them.
pub(crate) fn web_list(state: &AppState) -> Vec<WebGameView> {
    let presenter = state.presenter();
    let accounts = state.roster.web_accounts();
    let before = state.roster.list().len();
    let hotkey = |id: &str| {
        let n = before + accounts.iter().position(|a| a.id == id)? + 1;
        (n <= 9).then_some(n)
    };
    state
        .roster
        .games()
        .into_iter()
        .filter(|game| game.kind == crate::roster::GameKind::Web)
        .map(|game| WebGameView {
            accounts: accounts
                .iter()
                .filter(|account| account.game == game.id)
                .map(|account| WebAccountView {
                    id: account.id.clone(),
                    name: presenter.web_name(account),
                    own_name: (!presenter.streamer()).then(|| account.name.clone()),
                    alias: account.alias.clone(),
                    colour: account.colour.clone(),
                    windows: state.web.windows_of(&account.id).len(),
                    hotkey: hotkey(&account.id),
                    proxy: if presenter.streamer() { None } else { account.proxy.clone() },
                    proxy_hidden: presenter.streamer(),
                    sign_in_origin: account.sign_in_origin.clone(),
                    settings: crate::roster::WebAccountSettings::of(account),
                })
                .collect(),
            id: game.id,
            name: game.name,
            start_url: game.start_url,
            allowed_origins: game.allowed_origins,
        })
        .collect()
}

#[tauri::command]
pub async fn web_games(state: State<'_, AppState>) -> Result<Vec<WebGameView>, CommandError> {
    Ok(web_list(&state))
}

/// Adds a web game by its URL; the origins it may show start as the URL's own.
#[tauri::command]
pub async fn add_web_game(
    state: State<'_, AppState>,
    args: Args<AddWebGameArgs>,
) -> Result<Vec<WebGameView>, CommandError> {
    let Args(AddWebGameArgs { start_url, name }) = args;
    let game = Game::web(name.as_deref(), &start_url).map_err(refused)?;
    state.roster.add_game(game).map_err(refused)?;
    Ok(web_list(&state))
}

#[tauri::command]
pub async fn set_web_game_origins(
    state: State<'_, AppState>,
    args: Args<WebGameOriginsArgs>,
) -> Result<Vec<WebGameView>, CommandError> {
    let Args(WebGameOriginsArgs { game_id, origins }) = args;
    state.roster.set_game_origins(&game_id, &origins).map_err(refused)?;
    Ok(web_list(&state))
}

/// Removes a web game that has no accounts left.
#[tauri::command]
pub async fn remove_web_game(
    state: State<'_, AppState>,
    args: Args<WebGameArgs>,
) -> Result<Vec<WebGameView>, CommandError> {
    state.roster.remove_game(&args.0.game_id).map_err(refused)?;
    Ok(web_list(&state))
}

/// Adds an account to a web game, named by the player; it gets a partition of its own, empty until its first
/// window signs in on the site.
#[tauri::command]
pub async fn add_web_account<R: Runtime>(
    app: AppHandle<R>,
    args: Args<AddWebAccountArgs>,
) -> Result<Vec<WebGameView>, CommandError> {
    let Args(AddWebAccountArgs { game_id, name }) = args;
    let state = app.state::<AppState>();
    state.roster.add_web_account(&game_id, &name).map_err(refused)?;
    crate::accounts_changed(&app);
    Ok(web_list(&state))
}

#[tauri::command]
pub async fn rename_web_account<R: Runtime>(
    app: AppHandle<R>,
    args: Args<RenameWebAccountArgs>,
) -> Result<Vec<WebGameView>, CommandError> {
    let Args(RenameWebAccountArgs { account_id, name, alias }) = args;
    let state = app.state::<AppState>();
    let name = match name.filter(|n| !n.trim().is_empty()) {
        Some(name) => name,
        None => {
            state.roster.web_account(&account_id).map(|a| a.name).ok_or_else(|| refused(WebRosterError::NotFound))?
        }
    };
    state.roster.rename_web_account(&account_id, &name, alias.as_deref()).map_err(refused)?;
    crate::accounts_changed(&app);
    Ok(web_list(&state))
}

/// Sets a web account's proxy. Its open windows close (WebKit sets a proxy on the partition when a window is
/// created), so none goes on past the player's new setting; it applies when the account opens again. Removing a
/// proxy from a partition already opened in this run applies from Kage's next start (WebKit keeps the
/// partition's setting until then): never direct sooner than the player sees.
#[tauri::command]
pub async fn set_web_account_proxy<R: Runtime>(
    app: AppHandle<R>,
    args: Args<WebAccountProxyArgs>,
) -> Result<Vec<WebGameView>, CommandError> {
    let Args(WebAccountProxyArgs { account_id, proxy }) = args;
    let state = app.state::<AppState>();
    state.roster.set_web_proxy(&account_id, proxy.as_deref()).map_err(refused)?;
    crate::web::window::close_all(&app, &account_id);
    Ok(web_list(&state))
}

/// Opens the account's game in a Kage window of its own partition (or brings its window forward).
#[tauri::command]
pub async fn open_web_account<R: Runtime>(
    app: AppHandle<R>,
    args: Args<OpenWebAccountArgs>,
) -> Result<Vec<WebGameView>, CommandError> {
    let Args(OpenWebAccountArgs { account_id, new_window }) = args;
    let opened = if new_window {
        crate::web::window::open(&app, &account_id)
    } else {
        crate::web::window::bring_or_open(&app, &account_id)
    };
    opened.map_err(|error| match error {
        crate::web::window::WebWindowError::NotFound => CommandError::new(ErrorCode::NotFound, error.to_string()),
        crate::web::window::WebWindowError::Proxy(_) | crate::web::window::WebWindowError::SharedStore => {
            CommandError::new(ErrorCode::Refused, error.to_string())
        }
        _ => CommandError::new(ErrorCode::Window, error.to_string()),
    })?;
    Ok(web_list(&app.state::<AppState>()))
}

/// Signs a web account out by wiping its partition: its windows close, and its next window starts with an
/// empty one (the site asks for a sign-in again). The account stays in the list, with its saved sign-in (if the
/// player saved one) still in the keychain, ready to fill.
#[tauri::command]
pub async fn sign_out_web_account<R: Runtime>(
    app: AppHandle<R>,
    args: Args<WebAccountArgs>,
) -> Result<Vec<WebGameView>, CommandError> {
    let account_id = args.0.account_id;
    let old = app.state::<AppState>().roster.renew_partition(&account_id).map_err(refused)?;
    wiped(&app, crate::web::wipe::wipe(&app, &account_id, &old).await)
}

/// Forgets a web account: its saved sign-in deleted from the keychain, removed from the list, its partition
/// wiped.
#[tauri::command]
pub async fn forget_web_account<R: Runtime>(
    app: AppHandle<R>,
    args: Args<WebAccountArgs>,
) -> Result<Vec<WebGameView>, CommandError> {
    let account_id = args.0.account_id;
    // Its saved sign-in leaves the keychain first: a keychain that cannot delete it now keeps the account (and
    // says so), rather than leave a password behind that no account names.
    let saved =
        app.state::<AppState>().roster.web_account(&account_id).ok_or_else(|| refused(WebRosterError::NotFound))?;
    if let Err(error) = super::web_sign_in::delete(&app, &account_id).await {
        if saved.sign_in_origin.is_some() {
            let sentence = crate::web::sign_in::keychain_sentence(&error);
            return Err(CommandError::new(
                ErrorCode::KeychainLocked,
                format!("Kage could not delete this account's saved sign-in, so it forgot nothing. {sentence}"),
            ));
        }
        log::info!("no saved sign-in to delete for a forgotten web account: {error}");
    }
    let account = app.state::<AppState>().roster.remove_web_account(&account_id).map_err(refused)?;
    if let Err(error) = app.state::<AppState>().roster.forget_web_place(&account_id) {
        log::warn!("window layout: {error}");
    }
    let result = crate::web::wipe::wipe(&app, &account_id, &account.partition).await;
    crate::accounts_changed(&app);
    wiped(&app, result)
}

fn wiped<R: Runtime>(app: &AppHandle<R>, result: Result<(), String>) -> Result<Vec<WebGameView>, CommandError> {
    result.map_err(|problem| CommandError::new(ErrorCode::SignOutIncomplete, problem))?;
    Ok(web_list(&app.state::<AppState>()))
}
