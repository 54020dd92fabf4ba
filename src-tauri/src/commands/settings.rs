//! Per-account settings (alias, colour, notifications, groups, proxy) and the app's preferences (streamer mode,
//! pacing, global shortcuts), edited from the accounts panel of any window.
//!
//! `update_account` takes a saved account's id like `open_saved` does (see `accounts.rs`): it picks an entry of
//! this computer's roster and changes only how that account is shown and reached. A proxy cannot expose a
//! token: kage-core sends tokens only over HTTPS (a proxy sees a TLS tunnel) or to a loopback server through a
//! loopback proxy.

use serde::Deserialize;
use tauri::{AppHandle, Manager, Runtime, State};
use ts_rs::TS;

use super::{SavedAccount, saved_list};
use crate::contract::Args;
use crate::error::{CommandError, ErrorCode};
use crate::prefs::Prefs;
use crate::roster::AccountSettings;
use crate::state::AppState;

#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct UpdateAccountArgs {
    pub account_id: String,
    pub settings: AccountSettings,
}

#[derive(Deserialize, TS)]
pub struct SetPrefsArgs {
    pub prefs: Prefs,
}

#[tauri::command]
pub async fn update_account<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    args: Args<UpdateAccountArgs>,
) -> Result<Vec<SavedAccount>, CommandError> {
    let Args(UpdateAccountArgs { account_id, settings }) = args;
    let entry = state
        .roster
        .find(&account_id)
        .ok_or_else(|| CommandError::new(ErrorCode::NotFound, "That account is not saved here."))?;
    let mut settings = settings.validated().map_err(CommandError::invalid)?;
    settings.proxy = crate::proxy::resolve(settings.proxy, entry.proxy.as_deref());
    if let Some(account) = entry.account() {
        state.apply_proxy(&account, settings.proxy.as_deref())?;
    }
    let saved = state.roster.set_settings(&account_id, settings);
    crate::accounts_changed(&app);
    saved
        .map_err(|error| CommandError::new(ErrorCode::NotSaved, format!("Changed for now, but not saved: {error}.")))?;
    Ok(saved_list(&state))
}

#[tauri::command]
pub async fn prefs(state: State<'_, AppState>) -> Result<Prefs, CommandError> {
    Ok(state.prefs.get())
}

/// Replaces the preferences; windows, the tray and shortcuts follow at once. Returns what now holds and, in
/// `notice`, anything that could not be applied (a global shortcut another app holds).
#[tauri::command]
pub async fn set_prefs<R: Runtime>(app: AppHandle<R>, args: Args<SetPrefsArgs>) -> Result<PrefsApplied, CommandError> {
    let prefs = args.0.prefs.validated().map_err(CommandError::invalid)?;
    let state = app.state::<AppState>();
    let saved = state.prefs.set(prefs);
    crate::accounts_changed(&app);
    let mut notice = crate::shortcuts::apply(&app).err();
    if let Err(error) = saved {
        notice.get_or_insert(format!("Changed for now, but not saved: {error}."));
    }
    Ok(PrefsApplied { prefs: state.prefs.get(), notice })
}

/// The preferences now in force, and what could not be applied.
#[derive(Debug, Clone, serde::Serialize, TS)]
pub struct PrefsApplied {
    pub prefs: Prefs,
    pub notice: Option<String>,
}
