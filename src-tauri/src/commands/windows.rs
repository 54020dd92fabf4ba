//! Opening, finding and arranging windows: Ctrl+N, "Open all" and groups, Ctrl+1..9, Ctrl+Tab, "Tile windows".

use tauri::{AppHandle, Manager, Runtime, WebviewWindow};

use crate::error::CommandError;
use crate::launcher::{self, Launch};
use crate::state::AppState;

/// Opens a new account window, with a saved account or on the sign-in screen; returns its label.
///
/// Acts on a saved account by id (see `accounts.rs`): the id only picks an entry of this computer's roster that
/// the player chose; the new window is pinned to it and gets a new label of its own, so the calling window's
/// pin and every other window's requests stay as they were. An id not in the roster opens a signed-out window;
/// a saved account Kage may not open on this run (the sandbox moved) is refused and no window opens.
#[tauri::command]
pub async fn open_window<R: Runtime>(app: AppHandle<R>, account_id: Option<String>) -> Result<String, CommandError> {
    let state = app.state::<AppState>();
    let entry = account_id.and_then(|id| state.roster.find(&id));
    let account = entry.as_ref().map(|entry| state.saved_account(entry)).transpose()?;
    let window = crate::windows::open(&app, None, account.as_ref())
        .map_err(|error| CommandError::new("window", format!("Could not open a window: {error}")))?;
    Ok(window.label().to_owned())
}

/// "Open all" (no group) or one launch group: each saved account into its own window, through the launch
/// queue (staggered, honouring `Retry-After`); an account already open is brought forward. Returns how many
/// accounts were queued.
#[tauri::command]
pub async fn open_accounts<R: Runtime>(app: AppHandle<R>, group: Option<String>) -> Result<usize, CommandError> {
    let state = app.state::<AppState>();
    let members = launcher::members(&state, group.as_deref());
    if members.is_empty() {
        return Err(CommandError::new("not_found", "There are no saved accounts to open there."));
    }
    let count = members.len();
    launcher::enqueue(&app, members.into_iter().map(Launch::bring).collect());
    Ok(count)
}

/// Ctrl+1..9: brings the window of the Nth saved account (1-based) forward, opening one if it has none.
#[tauri::command]
pub async fn focus_account<R: Runtime>(app: AppHandle<R>, position: usize) -> Result<(), CommandError> {
    let state = app.state::<AppState>();
    let entry = position
        .checked_sub(1)
        .and_then(|index| state.roster.list().into_iter().nth(index))
        .ok_or_else(|| CommandError::new("not_found", format!("There is no saved account number {position}.")))?;
    launcher::enqueue(&app, vec![Launch::bring(entry)]);
    Ok(())
}

/// Ctrl+Tab / Ctrl+Shift+Tab: the next (or previous) account window after the calling one.
#[tauri::command]
pub async fn cycle_windows<R: Runtime>(window: WebviewWindow<R>, forward: bool) -> Result<(), CommandError> {
    crate::windows::cycle(window.app_handle(), Some(window.label()), forward);
    Ok(())
}

/// "Tile windows": every account window in a grid on the calling window's monitor. Returns how many were
/// arranged (0 when there are none).
#[tauri::command]
pub async fn tile_windows<R: Runtime>(window: WebviewWindow<R>) -> Result<usize, CommandError> {
    crate::windows::tile(window.app_handle(), Some(&window)).map_err(|error| {
        let code = match error {
            crate::windows::TileError::NoScreen => "no_screen",
            crate::windows::TileError::Window(_) => "window",
        };
        CommandError::new(code, error.to_string())
    })
}
