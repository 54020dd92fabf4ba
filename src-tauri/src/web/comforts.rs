//! Kage's comforts on a web window, attached once when it is built (issue 19, item 5): the page's
//! notifications shown by Kage naming the account ([`super::notices`]) and Kage's hotkeys while the page has the
//! keyboard ([`super::keys`]). Kept apart from `window.rs`, which only calls [`attach`].

use tauri::{Runtime, WebviewWindow};

/// Attaches everything Kage adds to `window`, a window of web account `account_id`.
pub fn attach<R: Runtime>(window: &WebviewWindow<R>, account_id: &str) {
    super::notices::attach(window, account_id);
    super::keys::attach(window);
}
