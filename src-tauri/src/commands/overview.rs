//! The overview window's commands (`overview_*`), granted only to the window labelled `overview` by its own
//! capability (`capabilities/overview.json`); account windows do not have them, and the overview has none of
//! theirs. Each also checks the calling window's label, so a capability granted too widely by mistake still
//! gives an account window nothing. `open_overview` is the account windows' one way in (panel, Ctrl+Shift+O).
//!
//! Tiles are keyed by roster ids (web account ids for web games): `overview_activate` and `overview_reorder`
//! take keys the overview was sent, which pick saved accounts of this computer as the panel's ids do (see
//! `accounts.rs`); no key is an identity a request is made with.

use serde::Deserialize;
use tauri::ipc::JavaScriptChannelId;
use tauri::{AppHandle, Manager, Runtime, WebviewWindow};
use ts_rs::TS;

use crate::contract::Args;
use crate::error::{CommandError, ErrorCode};
use crate::launcher::{self, Launch};
use crate::overview::{self, OverviewMessage, OverviewSnapshot};
use crate::state::AppState;

#[derive(Deserialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OverviewTilesArgs {
    #[ts(type = "Channel<OverviewMessage>")]
    pub on_update: JavaScriptChannelId,
}

/// A tile's key, as the overview was sent it.
#[derive(Deserialize, TS)]
pub struct OverviewActivateArgs {
    pub key: String,
}

/// Every tile's key in the order the player dragged them into.
#[derive(Deserialize, TS)]
pub struct OverviewReorderArgs {
    pub keys: Vec<String>,
}

fn only_the_overview<R: Runtime>(window: &WebviewWindow<R>) -> Result<(), CommandError> {
    if window.label() == overview::LABEL {
        return Ok(());
    }
    Err(CommandError::new(ErrorCode::Refused, "Only the overview window may ask for the overview."))
}

/// Every tile now; each change after arrives on `onUpdate`.
#[tauri::command]
pub async fn overview_tiles<R: Runtime>(
    window: WebviewWindow<R>,
    args: Args<OverviewTilesArgs>,
) -> Result<OverviewSnapshot, CommandError> {
    only_the_overview(&window)?;
    let channel = args.0.on_update.channel_on::<R, OverviewMessage>(window.as_ref().clone());
    Ok(overview::subscribe(window.app_handle(), channel))
}

/// A click on a tile: that account's window forward, or a new one (a web game's account likewise).
#[tauri::command]
pub async fn overview_activate<R: Runtime>(
    window: WebviewWindow<R>,
    args: Args<OverviewActivateArgs>,
) -> Result<(), CommandError> {
    only_the_overview(&window)?;
    let app = window.app_handle();
    let state = app.state::<AppState>();
    let key = args.0.key;
    if let Some(entry) = state.roster.find(&key) {
        let account = state.saved_account(&entry)?;
        match crate::windows::window_of(app, &account) {
            Some(window) => {
                crate::hibernation::wake(&window);
                let _ = window.unminimize();
                let _ = window.show();
                let _ = window.set_focus();
            }
            None => launcher::enqueue(app, vec![Launch::bring(entry)]),
        }
        return Ok(());
    }
    if state.roster.web_account(&key).is_some() {
        return crate::web::window::bring_or_open(app, &key)
            .map(drop)
            .map_err(|error| CommandError::new(ErrorCode::Window, error.to_string()));
    }
    Err(CommandError::new(ErrorCode::NotFound, "That account is not saved here any more."))
}

/// A drag: the saved accounts in the new order, which renumbers Ctrl+1..9 (and the tray, tiling).
#[tauri::command]
pub async fn overview_reorder<R: Runtime>(
    window: WebviewWindow<R>,
    args: Args<OverviewReorderArgs>,
) -> Result<(), CommandError> {
    only_the_overview(&window)?;
    let app = window.app_handle();
    app.state::<AppState>().roster.reorder(&args.0.keys).map_err(|error| {
        CommandError::new(ErrorCode::NotSaved, format!("The new order could not be saved: {error}"))
    })?;
    crate::accounts_changed(app);
    Ok(())
}

/// The accounts panel's "Overview" and Ctrl+Shift+O: brings the overview forward, or opens it.
#[tauri::command]
pub async fn open_overview<R: Runtime>(app: AppHandle<R>) -> Result<(), CommandError> {
    overview::window::bring_or_open(&app)
        .map(drop)
        .map_err(|error| CommandError::new(ErrorCode::Window, format!("Could not open the overview: {error}")))
}
