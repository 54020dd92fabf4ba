//! Opening more windows (Ctrl+N, "open in new window").

use tauri::{AppHandle, Manager, Runtime};

use crate::error::CommandError;
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
    let account = match &entry {
        Some(entry) => Some((state.saved_account(entry)?, entry.username.as_str())),
        None => None,
    };
    let window = crate::windows::open(&app, None, account.as_ref().map(|(a, name)| (a, *name)))
        .map_err(|error| CommandError::new("window", format!("Could not open a window: {error}")))?;
    Ok(window.label().to_owned())
}
