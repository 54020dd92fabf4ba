//! Remembered places for web windows (issue 19, item 5): a web window's position and size are noted as Kage
//! windows' are (`windows::note_place`, which knows web windows' accounts), and a window opening is put back
//! where its label was last (a restart brings the window back under the same label), else where its account's
//! window was last; a place on no monitor connected now is not used (`windows::put_at`). Popups keep the size
//! the page asked for.

use tauri::{Manager, Runtime, WebviewWindow};

use crate::state::AppState;

/// Puts `window`, a new window of web account `account_id`, at its remembered place, if it has one.
pub fn put_back<R: Runtime>(window: &WebviewWindow<R>, account_id: &str) {
    let state = window.state::<AppState>();
    let place = state.roster.window_place(window.label()).or_else(|| state.roster.place(account_id));
    if let Some(place) = place {
        crate::windows::put_at(window, place);
    }
}
