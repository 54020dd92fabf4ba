//! Export and import of saved accounts (see `moving.rs`). The file is always the one the player chooses in the
//! system's file dialog (`moving::choose_file`): a page cannot name a path, and one that tries is refused, so
//! the account windows' capability holds no file access in fact as well as on paper. Neither command returns a
//! credential: the page learns counts and the file's path, and the passphrase it typed goes straight to the
//! encryption.

use std::path::PathBuf;

use kage_core::SecretString;
use tauri::{AppHandle, Manager, Runtime};

use crate::error::CommandError;
use crate::moving::{self, Exported, Imported};
use crate::state::AppState;

/// The file the player picks in the system's dialog (to save to, or to open). `named` is a path the page sent:
/// refused, whatever it is.
async fn file<R: Runtime>(app: &AppHandle<R>, named: Option<String>, save: bool) -> Result<PathBuf, CommandError> {
    if named.is_some() {
        return Err(CommandError::new(
            "path_not_allowed",
            "Kage writes and reads export files only where you choose in its file dialog; nothing was changed.",
        ));
    }
    moving::choose_file(app, save)
        .await
        .ok_or_else(|| CommandError::new("cancelled", "No file was chosen; nothing was changed."))
}

#[tauri::command]
pub async fn export_accounts<R: Runtime>(
    app: AppHandle<R>,
    passphrase: String,
    include_credentials: bool,
    path: Option<String>,
) -> Result<Exported, CommandError> {
    let path = file(&app, path, true).await?;
    let passphrase = SecretString::from(passphrase);
    let state = app.state::<AppState>();
    moving::export_to(&state, &path, passphrase, include_credentials).await
}

#[tauri::command]
pub async fn import_accounts<R: Runtime>(
    app: AppHandle<R>,
    passphrase: String,
    path: Option<String>,
) -> Result<Imported, CommandError> {
    let path = file(&app, path, false).await?;
    let passphrase = SecretString::from(passphrase);
    let state = app.state::<AppState>();
    let imported = moving::import_from(&state, &path, passphrase).await?;
    state.restore_saved();
    crate::accounts_changed(&app);
    Ok(imported)
}
