//! "Open group" (the panel's group button, `kage open --group`): every account of the group through the launch
//! queue, staggered, and then, when the player chose a template for the group, its windows placed by that
//! template on the monitors connected now (see `templates.rs`). Without a template each window keeps the place
//! its account's window had last, as before templates.

use tauri::{AppHandle, Manager, Runtime};

use crate::launcher::{self, Launch};
use crate::state::AppState;
use crate::templates::Template;

/// Opens (or brings forward) the accounts of `group`, in the background; returns how many were queued.
pub fn open<R: Runtime>(app: &AppHandle<R>, group: &str) -> usize {
    let state = app.state::<AppState>();
    let members = launcher::members(&state, Some(group));
    let count = members.len();
    let template = state.roster.group_template(group);
    let accounts: Vec<_> = members.iter().filter_map(|entry| state.saved_account(entry).ok()).collect();
    let launches: Vec<Launch> = members.into_iter().map(Launch::bring).collect();
    if template == Template::Remembered {
        launcher::enqueue(app, launches);
        return count;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        launcher::run(&app, launches).await;
        // Each account's window, in the group's order (an account whose window could not open is left out, and
        // the template adapts to the windows there are).
        let windows: Vec<_> = accounts.iter().filter_map(|account| crate::windows::window_of(&app, account)).collect();
        match crate::windows::arrange(&app, &windows, template) {
            Ok(placed) => log::info!("placed {placed} window(s) of a group by its template {template:?}"),
            Err(error) => log::warn!("could not place a group's windows: {error}"),
        }
    });
    count
}
