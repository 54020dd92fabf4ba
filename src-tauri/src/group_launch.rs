//! "Open all" and "Open group" (the panel's buttons, the tray, `kage open --group`): every account of the group
//! through the launch queue, staggered, then the group's web accounts (paced the same, see `web::launch`), and
//! then, when the player chose a template for the group, its windows placed by that template on the monitors
//! connected now (see `templates.rs`). Without a template each window keeps the place its account's window had
//! last, as before templates.

use tauri::{AppHandle, Manager, Runtime};

use crate::launcher::{self, Launch};
use crate::state::AppState;
use crate::templates::Template;

/// Opens (or brings forward) the accounts of `group`, in the background; returns how many were queued.
pub fn open<R: Runtime>(app: &AppHandle<R>, group: &str) -> usize {
    open_members(app, Some(group))
}

/// Opens (or brings forward) the accounts of `group` (every saved account, Kage's and web games', for `None`),
/// in the background; returns how many were queued.
pub fn open_members<R: Runtime>(app: &AppHandle<R>, group: Option<&str>) -> usize {
    let state = app.state::<AppState>();
    let members = launcher::members(&state, group);
    let web = state.roster.web_members(group);
    let count = members.len() + web.len();
    let template = group.map_or(Template::Remembered, |group| state.roster.group_template(group));
    let accounts: Vec<_> = members.iter().filter_map(|entry| state.saved_account(entry).ok()).collect();
    let launches: Vec<Launch> = members.into_iter().map(Launch::bring).collect();
    let stagger = state.prefs.get().stagger();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let before = launches.len();
        launcher::run(&app, launches).await;
        let web_windows = crate::web::launch::bring_all(&app, web, stagger, before > 0).await;
        if template == Template::Remembered {
            return;
        }
        // Each account's window, in the group's order (an account whose window could not open is left out, and
        // the template adapts to the windows there are).
        let windows: Vec<_> =
            accounts.iter().filter_map(|account| crate::windows::window_of(&app, account)).chain(web_windows).collect();
        match crate::windows::arrange(&app, &windows, template) {
            Ok(placed) => log::info!("placed {placed} window(s) of a group by its template {template:?}"),
            Err(error) => log::warn!("could not place a group's windows: {error}"),
        }
    });
    count
}
