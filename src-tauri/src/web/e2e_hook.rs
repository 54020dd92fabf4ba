//! Test-only: runs a script in a web account's window and answers what it returned, for the end-to-end tests.
//!
//! WebKitGTK lets one web context be automated, and under tauri-driver that is Kage's own windows' context: a
//! web partition's window is out of WebDriver's reach. So a test asks Kage's own window (over WebDriver) to
//! call `e2e_web_eval`, which runs the script in the web window's page (its main world, as the page's own code
//! would run) and hands back the answer.
//!
//! This whole module exists only in debug builds (`#[cfg(debug_assertions)]` on its `mod` line, and the
//! command's permission only in a debug build's ACL, see `build.rs`), and even there the command is allowed to
//! no window unless the app was started with `KAGE_E2E_WEB_HOOK=1` (the end-to-end tests set it): then, and
//! only then, a capability for Kage's own `acct-*` windows, local pages only, is added at start. A release
//! build has neither the command nor its permission.

use std::time::Duration;

use serde::Deserialize;
use tauri::{AppHandle, Manager, Runtime};

use crate::contract::Args;
use crate::error::{CommandError, ErrorCode};
use crate::state::AppState;

/// The environment switch the end-to-end tests set.
pub const SWITCH: &str = "KAGE_E2E_WEB_HOOK";

pub fn enabled() -> bool {
    std::env::var(SWITCH).is_ok_and(|value| value == "1")
}

/// Allows Kage's own windows to call [`e2e_web_eval`], when [`enabled`].
pub fn install<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    if !enabled() {
        return Ok(());
    }
    log::warn!("{SWITCH}=1: the end-to-end test hook is on (debug build)");
    let capability = tauri::ipc::CapabilityBuilder::new("e2e-web-hook")
        .windows([crate::windows::LABEL_PREFIX.to_owned() + "*"])
        .local(true)
        .permission("allow-e2e-web-eval");
    app.add_capability(capability)
}

/// The command's own handler, beside the page's (it is no part of the page's contract).
pub fn handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![e2e_web_eval]
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvalArgs {
    /// The web account whose window runs the script.
    pub account_id: String,
    /// Which of its windows (by label order), 0 by default.
    #[serde(default)]
    pub window: usize,
    /// The body of an async function; what it returns is sent back as JSON.
    pub script: String,
}

/// Runs `script` in a window of web account `account_id` and answers its result as JSON text.
#[tauri::command]
pub async fn e2e_web_eval<R: Runtime>(app: AppHandle<R>, args: Args<EvalArgs>) -> Result<String, CommandError> {
    let Args(EvalArgs { account_id, window, script }) = args;
    if !enabled() {
        return Err(CommandError::new(ErrorCode::Refused, "The test hook is off."));
    }
    let state = app.state::<AppState>();
    let labels = state.web.windows_of(&account_id);
    let target = labels
        .get(window)
        .and_then(|label| app.get_webview_window(label))
        .ok_or_else(|| CommandError::new(ErrorCode::NotFound, format!("no window {window} of that account")))?;
    let (done, answer) = tokio::sync::oneshot::channel::<Result<String, String>>();
    let body = format!("return JSON.stringify(await (async () => {{ {script} }})());");
    target
        .with_webview(move |webview| super::script::run(webview, &body, done))
        .map_err(|error| CommandError::new(ErrorCode::Window, error.to_string()))?;
    match tokio::time::timeout(Duration::from_secs(20), answer).await {
        Ok(Ok(Ok(json))) => Ok(json),
        Ok(Ok(Err(error))) => Err(CommandError::new(ErrorCode::BadAnswer, error)),
        _ => Err(CommandError::new(ErrorCode::TimedOut, "the script did not answer")),
    }
}
