//! Accounts' states as everything that lists them sees them: the tray menu and every page's list of saved
//! accounts (the accounts panel, the sign-in screen) follow each change, so a panel open in one window shows
//! another account signing in or going offline without being reopened. Pages patch what they show
//! (`ui/src/views/panel-row.ts`), so a form being typed into stays as it is.

use std::time::Duration;

use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::state::AppState;

/// Changes arriving within this of each other are shown together (ten accounts signing in at once are one
/// rebuild of the tray menu, not ten).
const SETTLE: Duration = Duration::from_millis(250);

/// Follows the core's status changes for the rest of the run.
pub fn follow<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    let mut changes = app.state::<AppState>().core.sessions.status_changes();
    tauri::async_runtime::spawn(async move {
        loop {
            match changes.recv().await {
                // Lagged: some changes were missed, which a rebuild from the current state makes up for.
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
            tokio::time::sleep(SETTLE).await;
            loop {
                match changes.try_recv() {
                    Ok(_) | Err(TryRecvError::Lagged(_)) => continue,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => return,
                }
            }
            crate::tray::refresh(&app);
            app.state::<AppState>().display_changed();
        }
    });
}
