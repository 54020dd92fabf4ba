//! Export and import of saved accounts (see `moving.rs`). The file is always the one the player chooses in the
//! system's file dialog (`moving::choose_file`): a page cannot name a path, and one that tries is refused, so
//! the account windows' capability holds no file access in fact as well as on paper. Neither command returns a
//! credential: the page learns counts and the file's path, and the passphrase it typed goes straight to the
//! encryption.

use std::path::PathBuf;

use kage_core::SecretString;
use serde::Deserialize;
use tauri::{AppHandle, Manager, Runtime};
use ts_rs::TS;

use crate::contract::Args;
use crate::error::{CommandError, ErrorCode};
use crate::moving::{self, Exported, Imported};
use crate::state::AppState;

/// The file the player picks in the system's dialog (to save to, or to open). `named` is a path the page sent:
/// refused, whatever it is.
async fn file<R: Runtime>(app: &AppHandle<R>, named: Option<String>, save: bool) -> Result<PathBuf, CommandError> {
    if named.is_some() {
        return Err(CommandError::new(
            ErrorCode::PathNotAllowed,
            "Kage writes and reads export files only where you choose in its file dialog; nothing was changed.",
        ));
    }
    moving::choose_file(app, save)
        .await
        .ok_or_else(|| CommandError::new(ErrorCode::Cancelled, "No file was chosen; nothing was changed."))
}

// No `Debug`: it holds the passphrase until the command wraps it.
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExportArgs {
    pub passphrase: String,
    /// Put each account's sign-in in the file (a new session made for the export), not only the list.
    pub include_credentials: bool,
    /// Always `null`: a path from the page is refused (the file is the player's choice in the dialog).
    pub path: Option<String>,
}

// No `Debug`: it holds the passphrase until the command wraps it.
#[derive(Deserialize, TS)]
pub struct ImportArgs {
    pub passphrase: String,
    /// Always `null`: a path from the page is refused (the file is the player's choice in the dialog).
    pub path: Option<String>,
}

#[tauri::command]
pub async fn export_accounts<R: Runtime>(app: AppHandle<R>, args: Args<ExportArgs>) -> Result<Exported, CommandError> {
    let Args(ExportArgs { passphrase, include_credentials, path }) = args;
    let path = file(&app, path, true).await?;
    let passphrase = SecretString::from(passphrase);
    let state = app.state::<AppState>();
    moving::export_to(&state, &path, passphrase, include_credentials).await
}

#[tauri::command]
pub async fn import_accounts<R: Runtime>(app: AppHandle<R>, args: Args<ImportArgs>) -> Result<Imported, CommandError> {
    let Args(ImportArgs { passphrase, path }) = args;
    let path = file(&app, path, false).await?;
    let passphrase = SecretString::from(passphrase);
    let state = app.state::<AppState>();
    let imported = moving::import_from(&state, &path, passphrase).await?;
    state.restore_saved();
    crate::accounts_changed(&app);
    Ok(imported)
}
