//! Web accounts in "Open all" and "Open group" (issue 19, item 5): after the group's Kage accounts have gone
//! through the launch queue, each web account's window is brought forward, or opened, paced by the same stagger
//! between windows. A web account asks no server of Kage's for a session, so there is no `Retry-After` to
//! honour: the pause is the player's stagger only.

use std::time::Duration;

use tauri::{AppHandle, Runtime, WebviewWindow};

use crate::roster::WebAccount;

/// Brings each of `accounts` forward (no pause: nothing opens) or opens its first window, `stagger` after the
/// window before; `opened_before`: a window was opened just before this batch (the first web window waits
/// too). Answers each account's window, in order (an account whose window could not open is left out).
pub async fn bring_all<R: Runtime>(
    app: &AppHandle<R>,
    accounts: Vec<WebAccount>,
    stagger: Duration,
    opened_before: bool,
) -> Vec<WebviewWindow<R>> {
    let mut pause = opened_before;
    let mut windows = Vec::new();
    for account in accounts {
        let state = tauri::Manager::state::<crate::state::AppState>(app);
        let open = state.web.windows_of(&account.id).is_empty();
        if open && pause && !stagger.is_zero() {
            tokio::time::sleep(stagger).await;
        }
        match super::window::bring_or_open(app, &account.id) {
            Ok(window) => windows.push(window),
            Err(error) => log::warn!("not opening a web account of a group: {error}"),
        }
        pause |= open;
    }
    windows
}
