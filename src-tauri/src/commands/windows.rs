//! Opening, finding and arranging windows: Ctrl+N, "Open all" and groups, Ctrl+1..9, Ctrl+Tab, "Tile windows".

use serde::Deserialize;
use tauri::{AppHandle, Manager, Runtime, WebviewWindow};
use ts_rs::TS;

use crate::contract::Args;
use crate::error::{CommandError, ErrorCode};
use crate::launcher::{self, Launch};
use crate::state::AppState;

/// `account_id`: a saved account the player picked, or `null` for the sign-in screen.
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OpenWindowArgs {
    pub account_id: Option<String>,
}

/// `group`: a launch group's name, or `null` for every saved account.
#[derive(Deserialize, TS)]
pub struct OpenAccountsArgs {
    pub group: Option<String>,
}

/// `position`: 1 for the first saved account.
#[derive(Deserialize, TS)]
pub struct FocusAccountArgs {
    pub position: usize,
}

#[derive(Deserialize, TS)]
pub struct CycleWindowsArgs {
    pub forward: bool,
}

/// Opens a new account window, with a saved account or on the sign-in screen; returns its label.
///
/// Acts on a saved account by id (see `accounts.rs`): the id only picks an entry of this computer's roster that
/// the player chose; the new window is pinned to it and gets a new label of its own, so the calling window's
/// pin and every other window's requests stay as they were. An id not in the roster opens a signed-out window;
/// a saved account Kage may not open on this run (the sandbox moved) is refused and no window opens.
#[tauri::command]
pub async fn open_window<R: Runtime>(app: AppHandle<R>, args: Args<OpenWindowArgs>) -> Result<String, CommandError> {
    let Args(OpenWindowArgs { account_id }) = args;
    let state = app.state::<AppState>();
    let entry = account_id.and_then(|id| state.roster.find(&id));
    let account = entry.as_ref().map(|entry| state.saved_account(entry)).transpose()?;
    let window = crate::windows::open(&app, None, account.as_ref())
        .map_err(|error| CommandError::new(ErrorCode::Window, format!("Could not open a window: {error}")))?;
    Ok(window.label().to_owned())
}

/// "Open all" (no group) or one launch group: each saved account into its own window, through the launch
/// queue (staggered, honouring `Retry-After`); an account already open is brought forward. Returns how many
/// accounts were queued.
#[tauri::command]
pub async fn open_accounts<R: Runtime>(app: AppHandle<R>, args: Args<OpenAccountsArgs>) -> Result<usize, CommandError> {
    let Args(OpenAccountsArgs { group }) = args;
    let state = app.state::<AppState>();
    let members = launcher::members(&state, group.as_deref());
    if members.is_empty() && state.roster.web_members(group.as_deref()).is_empty() {
        return Err(CommandError::new(ErrorCode::NotFound, "There are no saved accounts to open there."));
    }
    // Web games' accounts too; a group is placed by its template once open, if it has one.
    Ok(crate::group_launch::open_members(&app, group.as_deref()))
}

/// Ctrl+1..9: brings the window of the Nth saved account (1-based) forward, opening one if it has none. Web
/// games' accounts are numbered after the others, in the order they were added.
#[tauri::command]
pub async fn focus_account<R: Runtime>(app: AppHandle<R>, args: Args<FocusAccountArgs>) -> Result<(), CommandError> {
    focus_position(&app, args.0.position)
}

/// What Ctrl+1..9 does, from Kage's page or (see `web::keys`) a web game's page.
pub fn focus_position<R: Runtime>(app: &AppHandle<R>, position: usize) -> Result<(), CommandError> {
    let state = app.state::<AppState>();
    let missing = || CommandError::new(ErrorCode::NotFound, format!("There is no saved account number {position}."));
    let index = position.checked_sub(1).ok_or_else(missing)?;
    let saved = state.roster.list();
    if let Some(entry) = saved.get(index) {
        launcher::enqueue(app, vec![Launch::bring(entry.clone())]);
        return Ok(());
    }
    let web = state.roster.web_accounts().into_iter().nth(index - saved.len()).ok_or_else(missing)?;
    crate::web::window::bring_or_open(app, &web.id)
        .map(drop)
        .map_err(|error| CommandError::new(ErrorCode::Window, error.to_string()))
}

/// Ctrl+Tab / Ctrl+Shift+Tab: the next (or previous) account window after the calling one.
#[tauri::command]
pub async fn cycle_windows<R: Runtime>(
    window: WebviewWindow<R>,
    args: Args<CycleWindowsArgs>,
) -> Result<(), CommandError> {
    crate::windows::cycle(window.app_handle(), Some(window.label()), args.0.forward);
    Ok(())
}

/// "Tile windows": every account window in a grid on the calling window's monitor. Returns how many were
/// arranged (0 when there are none).
#[tauri::command]
pub async fn tile_windows<R: Runtime>(window: WebviewWindow<R>) -> Result<usize, CommandError> {
    crate::windows::tile(window.app_handle(), Some(&window)).map_err(|error| {
        let code = match error {
            crate::windows::TileError::NoScreen => ErrorCode::NoScreen,
            crate::windows::TileError::Window(_) => ErrorCode::Window,
        };
        CommandError::new(code, error.to_string())
    })
}
