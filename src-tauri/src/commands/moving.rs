//! Export and import of saved accounts (see `moving.rs`). The file is chosen with the system's file dialog;
//! a `path` argument skips the dialog (scripted moves and tests). Neither command returns a credential: the
//! page learns counts and the file's path, and the passphrase it typed goes straight to the encryption.

use std::path::PathBuf;

use kage_core::SecretString;
use serde::Deserialize;
use tauri::{AppHandle, Manager, Runtime};
use ts_rs::TS;

use crate::contract::Args;
use crate::error::{CommandError, ErrorCode};
use crate::moving::{self, Exported, Imported};
use crate::state::AppState;

/// The file given, or the one the player picks in the system's dialog (to save to, or to open).
async fn file<R: Runtime>(app: &AppHandle<R>, given: Option<String>, save: bool) -> Result<PathBuf, CommandError> {
    match given.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()) {
        Some(path) => Ok(PathBuf::from(path)),
        None => moving::ask_path(app, save)
            .await
            .ok_or_else(|| CommandError::new(ErrorCode::Cancelled, "No file was chosen; nothing was changed.")),
    }
}

// No `Debug`: it holds the passphrase until the command wraps it.
#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct ExportArgs {
    pub passphrase: String,
    /// Put each account's sign-in in the file (a new session made for the export), not only the list.
    pub include_credentials: bool,
    /// `null`: ask with the system's dialog.
    pub path: Option<String>,
}

// No `Debug`: it holds the passphrase until the command wraps it.
#[derive(Deserialize, TS)]
pub struct ImportArgs {
    pub passphrase: String,
    /// `null`: ask with the system's dialog.
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
