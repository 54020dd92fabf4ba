//! Moving saved accounts to another computer: export to a file encrypted with a passphrase (`age`'s scrypt
//! recipient, in kage-core's `export`), import it there.
//!
//! A credential in the file is never this computer's own refresh token: two computers sharing one token family
//! would trip the server's reuse detection the first time both refresh, signing one or both out. Each exported
//! credential is a new session forked for the export (`Core::fork_credential`), so both computers keep working
//! and either can be signed out alone. Import decrypts and checks the whole file before it changes anything,
//! merges accounts already saved (their settings and credential here win) and writes credentials only to this
//! computer's keychain.

use std::path::{Path, PathBuf};

use kage_core::export::{self, ExportBundle, ExportedAccount, ImportError};
use kage_core::sessions::ImportOutcome;
use kage_core::{AccountKey, SecretString, ServerOrigin};
use serde::Serialize;

use crate::durable;
use crate::error::{CommandError, ErrorCode};
use crate::roster::{AccountSettings, RosterEntry};
use crate::state::AppState;

/// An export file is small (a few hundred bytes per account); anything far larger is not one.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
const MIN_PASSPHRASE_CHARS: usize = 8;

#[derive(Debug, Clone, Serialize, PartialEq, Eq, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Exported {
    pub path: String,
    pub accounts: usize,
    pub with_credentials: usize,
    /// Accounts whose sign-in could not be included (signed out, server unreachable), by on-screen name.
    pub without_credentials: Vec<String>,
    /// Web game accounts written (names and settings only, never their sign-ins).
    pub web_accounts: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    pub added: usize,
    pub merged: usize,
    pub credentials: usize,
    /// Sentences about accounts that came in without a working sign-in.
    pub problems: Vec<String>,
    /// Web game accounts added (each with an empty partition: the player signs in on the site).
    pub web_added: usize,
}

fn check_passphrase(passphrase: &str) -> Result<(), CommandError> {
    if passphrase.chars().count() < MIN_PASSPHRASE_CHARS {
        return Err(CommandError::invalid(format!(
            "Choose a passphrase of at least {MIN_PASSPHRASE_CHARS} characters: it is all that protects the file."
        )));
    }
    Ok(())
}

/// Writes every saved account (and, if asked, a fresh sign-in for each) to `path`, encrypted.
pub async fn export_to(
    state: &AppState,
    path: &Path,
    passphrase: SecretString,
    include_credentials: bool,
) -> Result<Exported, CommandError> {
    use kage_core::ExposeSecret;
    check_passphrase(passphrase.expose_secret())?;
    let presenter = state.presenter();
    let mut accounts = Vec::new();
    let mut without = Vec::new();
    for entry in state.roster.list() {
        let settings = serde_json::to_value(AccountSettings::of(&entry)).unwrap_or_default();
        let refresh_token = if include_credentials && !entry.signed_out {
            match state.saved_account(&entry) {
                Ok(account) => match state.core.fork_credential(&account).await {
                    Ok(token) => Some(token),
                    Err(error) => {
                        log::warn!("exporting without a sign-in for one account: {error}");
                        None
                    }
                },
                Err(_) => None,
            }
        } else {
            None
        };
        if include_credentials && refresh_token.is_none() {
            without.push(presenter.name(&entry));
        }
        accounts.push(ExportedAccount {
            origin: entry.origin.clone(),
            user_id: entry.user_id.clone(),
            username: entry.username.clone(),
            settings,
            refresh_token,
        });
    }
    // Web games go as settings only: a web account's sign-in stays in its partition on this computer.
    let (web, web_accounts) = state.roster.export_web();
    if accounts.is_empty() && web.is_null() {
        return Err(CommandError::new(ErrorCode::NotFound, "There are no saved accounts to export."));
    }
    let with_credentials = accounts.iter().filter(|a| a.refresh_token.is_some()).count();
    let count = accounts.len();
    let mut bundle = ExportBundle::new(accounts);
    bundle.web = web;
    let sealed = tokio::task::spawn_blocking(move || export::seal(&bundle, &passphrase))
        .await
        .map_err(|error| CommandError::new(ErrorCode::ExportFailed, format!("The export stopped: {error}.")))?
        .map_err(|error| {
            CommandError::new(ErrorCode::ExportFailed, format!("The file could not be encrypted: {error}."))
        })?;
    durable::write_atomic(path, &sealed).map_err(|error| {
        CommandError::new(ErrorCode::ExportFailed, format!("Could not write {}: {error}.", path.display()))
    })?;
    Ok(Exported {
        path: path.display().to_string(),
        accounts: count,
        with_credentials,
        without_credentials: without,
        web_accounts,
    })
}

/// Reads an export file and merges it into this computer's saved accounts and keychain. A wrong passphrase or
/// a damaged file changes nothing.
pub async fn import_from(state: &AppState, path: &Path, passphrase: SecretString) -> Result<Imported, CommandError> {
    let bytes = read_limited(path)?;
    let bundle = tokio::task::spawn_blocking(move || export::open(&bytes, &passphrase))
        .await
        .map_err(|error| CommandError::new(ErrorCode::ImportFailed, format!("The import stopped: {error}.")))?
        .map_err(import_error)?;
    // Check every account first: a file with one bad entry is refused whole, before anything is written.
    let mut checked = Vec::new();
    for account in bundle.accounts {
        let origin = ServerOrigin::parse(&account.origin).map_err(|_| {
            CommandError::new(ErrorCode::ImportDamaged, "The file names a server address Kage cannot use.")
        })?;
        let key = AccountKey::new(origin, account.user_id.clone());
        checked.push((key, account));
    }
    // Checked whole before anything is written, like the accounts above.
    let web = crate::roster::checked_web(&bundle.web)
        .map_err(|error| CommandError::new(ErrorCode::ImportDamaged, format!("{error} Nothing was changed.")))?;
    let mut imported = Imported { added: 0, merged: 0, credentials: 0, problems: Vec::new(), web_added: 0 };
    for (key, account) in checked {
        let known = state.roster.find(key.id()).is_some();
        if known {
            imported.merged += 1;
        } else {
            let mut entry = RosterEntry::new(&key, &account.username);
            if let Ok(settings) = serde_json::from_value::<AccountSettings>(account.settings.clone())
                && let Ok(settings) = settings.validated()
            {
                settings.apply_to(&mut entry);
            }
            state.roster.save(entry).map_err(|error| {
                CommandError::new(
                    ErrorCode::ImportFailed,
                    format!("Kage could not update its list of saved accounts: {error}."),
                )
            })?;
            imported.added += 1;
        }
        let Some(token) = account.refresh_token else { continue };
        match state.core.import_credential(&key, &account.username, token).await {
            Ok(ImportOutcome::Imported) => {
                imported.credentials += 1;
                if let Err(error) = state.roster.set_signed_out(key.id(), false) {
                    log::warn!("import: {error}");
                }
            }
            Ok(ImportOutcome::AlreadySaved) => {}
            // Named as on screen: in streamer mode an alias (or "Account N"), never a username.
            Err(error) => {
                let name = state.presenter().name_of(key.id()).unwrap_or_else(|| account.username.clone());
                imported.problems.push(format!("{name}: {error}"));
            }
        }
    }
    imported.web_added = state.roster.import_web(web).map_err(|error| {
        CommandError::new(ErrorCode::ImportFailed, format!("The browser games were not imported: {error}"))
    })?;
    Ok(imported)
}

fn read_limited(path: &Path) -> Result<Vec<u8>, CommandError> {
    let unreadable = |error: std::io::Error| {
        CommandError::new(ErrorCode::ImportFailed, format!("Could not read {}: {error}.", path.display()))
    };
    let size = std::fs::metadata(path).map_err(unreadable)?.len();
    if size > MAX_FILE_BYTES {
        return Err(CommandError::new(ErrorCode::ImportDamaged, "That file is far too large to be a Kage export."));
    }
    std::fs::read(path).map_err(unreadable)
}

fn import_error(error: ImportError) -> CommandError {
    match error {
        ImportError::WrongPassphrase => CommandError::new(
            ErrorCode::WrongPassphrase,
            "That passphrase does not open this file. Nothing was changed.",
        ),
        ImportError::UnsupportedVersion(_) => CommandError::new(
            ErrorCode::ImportDamaged,
            "This file was written by a newer Kage. Update Kage on this computer, then import again.",
        ),
        other => CommandError::new(
            ErrorCode::ImportDamaged,
            format!("This file is damaged or is not a Kage export ({other}). Nothing was changed."),
        ),
    }
}

/// The file the player chose for an export (`save`) or an import: from the test's chooser when one is set, else
/// from the system's file dialog; `None`: cancelled.
pub async fn choose_file<R: tauri::Runtime>(app: &tauri::AppHandle<R>, save: bool) -> Option<PathBuf> {
    use tauri::Manager;
    match &app.state::<AppState>().files {
        Some(chooser) => chooser.choose(save),
        None => ask_path(app, save).await,
    }
}

/// Asks the player where to save or which file to open, with the system's file dialog; `None`: cancelled.
async fn ask_path<R: tauri::Runtime>(app: &tauri::AppHandle<R>, save: bool) -> Option<PathBuf> {
    use tauri_plugin_dialog::DialogExt;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let dialog = app.dialog().file().add_filter("Kage accounts", &["kage"]);
    if save {
        dialog.set_file_name("kage-accounts.kage").save_file(move |path| {
            let _ = tx.send(path);
        });
    } else {
        dialog.pick_file(move |path| {
            let _ = tx.send(path);
        });
    }
    rx.await.ok().flatten().and_then(|path| path.into_path().ok())
}
