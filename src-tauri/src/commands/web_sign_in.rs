//! A web account's saved sign-in in the accounts panel: save (or replace) the site's username and password in
//! the OS keychain, remove it, and fill it into the account's window when the player presses "Fill sign-in"
//! (issue 19, item 7; I13). Kage's own page calls these, never a game's page (a web window has no IPC).
//!
//! The password goes from the panel's field to the keychain and is never sent back to any page; the panel is
//! told only where the sign-in may be filled and, outside streamer mode, its username.

use std::time::Duration;

use kage_core::SecretString;
use kage_core::vault::{SiteSignIn, VaultError};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime};
use ts_rs::TS;

use crate::contract::Args;
use crate::error::{CommandError, ErrorCode};
use crate::roster::WebRosterError;
use crate::state::AppState;
use crate::web::sign_in::{self, FillError};

/// The longest username or password Kage keeps for a site.
const MAX_FIELD: usize = 1024;
/// How long a save or removal waits for the keychain (an unlock prompt).
const KEYCHAIN_WAIT: Duration = Duration::from_secs(20);

/// What the panel shows of an account's saved sign-in. Never the password.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WebSignInView {
    /// Where it is filled; `None`: nothing saved.
    pub origin: Option<String>,
    /// The site's username; `None` in streamer mode or when the keychain could not be read.
    pub username: Option<String>,
    /// The origins the player may save a sign-in for (the game's allowed origins).
    pub origins: Vec<String>,
    /// A sentence when the keychain could not be read (locked, not available): nothing is lost.
    pub keychain_problem: Option<String>,
}

#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct SaveWebSignInArgs {
    pub account_id: String,
    pub origin: String,
    pub username: String,
    pub password: String,
}

#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WebSignInArgs {
    pub account_id: String,
}

fn not_found() -> CommandError {
    CommandError::new(ErrorCode::NotFound, WebRosterError::NotFound.to_string())
}

fn keychain_error(error: &VaultError) -> CommandError {
    let code = if *error == VaultError::Locked { ErrorCode::KeychainLocked } else { ErrorCode::NotSaved };
    CommandError::new(code, sign_in::keychain_sentence(error))
}

/// Runs a keychain call off the async runtime, bounded.
async fn keychain<T: Send + 'static>(
    app: &AppHandle<impl Runtime>,
    call: impl FnOnce(&dyn kage_core::vault::SiteSignInStore) -> Result<T, VaultError> + Send + 'static,
) -> Result<T, VaultError> {
    let store = app.state::<AppState>().sign_ins.clone();
    let done = tokio::task::spawn_blocking(move || call(store.as_ref()));
    match tokio::time::timeout(KEYCHAIN_WAIT, done).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(VaultError::Backend(join.to_string())),
        Err(_) => Err(VaultError::TimedOut(KEYCHAIN_WAIT.as_secs())),
    }
}

async fn view<R: Runtime>(app: &AppHandle<R>, account_id: &str) -> Result<WebSignInView, CommandError> {
    let state = app.state::<AppState>();
    let account = state.roster.web_account(account_id).ok_or_else(not_found)?;
    let origins = state.roster.game(&account.game).map(|game| game.allowed_origins).unwrap_or_default();
    let mut shown =
        WebSignInView { origin: account.sign_in_origin.clone(), username: None, origins, keychain_problem: None };
    if shown.origin.is_some() && !state.presenter().streamer() {
        match sign_in::read(app, account_id).await {
            Ok(saved) => shown.username = saved.map(|saved| saved.username),
            Err(error) => shown.keychain_problem = Some(error.to_string()),
        }
    }
    Ok(shown)
}

/// The account's saved sign-in, as the panel shows it.
#[tauri::command]
pub async fn web_sign_in<R: Runtime>(
    app: AppHandle<R>,
    args: Args<WebSignInArgs>,
) -> Result<WebSignInView, CommandError> {
    view(&app, &args.0.account_id).await
}

/// Saves (or replaces) the account's sign-in for one of its game's origins: the keychain first, then the
/// roster's note of the origin, so a keychain that refuses changes nothing.
#[tauri::command]
pub async fn save_web_sign_in<R: Runtime>(
    app: AppHandle<R>,
    args: Args<SaveWebSignInArgs>,
) -> Result<WebSignInView, CommandError> {
    let Args(SaveWebSignInArgs { account_id, origin, username, password }) = args;
    let password = SecretString::from(password);
    let state = app.state::<AppState>();
    let account = state.roster.web_account(&account_id).ok_or_else(not_found)?;
    let game = state.roster.game(&account.game).ok_or_else(not_found)?;
    let origin = origin.trim().trim_end_matches('/').to_owned();
    if !game.allowed_origins.contains(&origin) {
        return Err(CommandError::invalid("Choose one of the game's own origins for its sign-in."));
    }
    let username = username.trim().to_owned();
    if username.is_empty() || username.chars().count() > MAX_FIELD || username.chars().any(char::is_control) {
        return Err(CommandError::invalid("Type the username (or email) you sign in to the site with, on one line."));
    }
    {
        use kage_core::ExposeSecret;
        let typed = password.expose_secret();
        if typed.is_empty() || typed.chars().count() > MAX_FIELD {
            return Err(CommandError::invalid("Type the site's password (at most 1024 characters)."));
        }
    }
    let owner = account_id.clone();
    let sign_in = SiteSignIn { origin: origin.clone(), username, password };
    keychain(&app, move |store| store.write_site(&owner, &sign_in)).await.map_err(|e| keychain_error(&e))?;
    state.roster.set_web_sign_in_origin(&account_id, Some(&origin)).map_err(|error| match error {
        WebRosterError::Invalid(sentence) => CommandError::invalid(sentence),
        WebRosterError::NotFound => not_found(),
        WebRosterError::NotSaved(_) => CommandError::new(ErrorCode::NotSaved, error.to_string()),
    })?;
    view(&app, &account_id).await
}

/// Deletes the account's saved sign-in from the keychain (then the roster's note).
#[tauri::command]
pub async fn remove_web_sign_in<R: Runtime>(
    app: AppHandle<R>,
    args: Args<WebSignInArgs>,
) -> Result<WebSignInView, CommandError> {
    let account_id = args.0.account_id;
    app.state::<AppState>().roster.web_account(&account_id).ok_or_else(not_found)?;
    delete(&app, &account_id).await.map_err(|e| keychain_error(&e))?;
    app.state::<AppState>()
        .roster
        .set_web_sign_in_origin(&account_id, None)
        .map_err(|error| CommandError::new(ErrorCode::NotSaved, error.to_string()))?;
    view(&app, &account_id).await
}

/// Deletes web account `account_id`'s saved sign-in from the keychain (Forget calls it before the account
/// leaves the roster).
pub async fn delete<R: Runtime>(app: &AppHandle<R>, account_id: &str) -> Result<(), VaultError> {
    let owner = account_id.to_owned();
    keychain(app, move |store| store.delete_site(&owner)).await
}

/// "Fill sign-in": fills the saved sign-in into the account's first open window, if that window is on the
/// saved origin. Answers a sentence for the player.
#[tauri::command]
pub async fn fill_web_sign_in<R: Runtime>(
    app: AppHandle<R>,
    args: Args<WebSignInArgs>,
) -> Result<String, CommandError> {
    let account_id = args.0.account_id;
    let refused = |error: FillError| {
        let code = match error {
            FillError::NotAWebWindow | FillError::NoWindow | FillError::NothingSaved => ErrorCode::NotFound,
            FillError::WrongOrigin(_) => ErrorCode::OtherAccount,
            FillError::NoForm | FillError::Page(_) => ErrorCode::BadAnswer,
            FillError::Keychain(_) => ErrorCode::KeychainLocked,
        };
        CommandError::new(code, error.to_string())
    };
    let label = sign_in::first_window(&app, &account_id).map_err(refused)?;
    let filled = sign_in::fill(&app, &label).await.map_err(refused)?;
    Ok(filled.sentence().to_owned())
}
