//! A web account's notifications switch and launch groups, from the accounts panel (issue 19, item 5). Like the
//! other web commands, the id only picks an entry of this computer's roster the player chose from the list.

use serde::Deserialize;
use tauri::{AppHandle, Manager, Runtime};
use ts_rs::TS;

use super::web::{WebGameView, refused, web_list};
use crate::contract::Args;
use crate::error::CommandError;
use crate::roster::WebAccountSettings;
use crate::state::AppState;

#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct WebAccountSettingsArgs {
    pub account_id: String,
    pub settings: WebAccountSettings,
}

/// Saves a web account's settings; the tray's group entries follow (a new group appears there at once).
#[tauri::command]
pub async fn set_web_account_settings<R: Runtime>(
    app: AppHandle<R>,
    args: Args<WebAccountSettingsArgs>,
) -> Result<Vec<WebGameView>, CommandError> {
    let Args(WebAccountSettingsArgs { account_id, settings }) = args;
    let state = app.state::<AppState>();
    state.roster.set_web_settings(&account_id, settings).map_err(refused)?;
    crate::accounts_changed(&app);
    Ok(web_list(&state))
}
