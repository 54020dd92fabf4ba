//! Account windows: labels `acct-<n>`, created from Rust only (pages cannot create or steer windows).

use kage_core::{AccountKey, WindowLabel};
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

use crate::state::AppState;

pub const LABEL_PREFIX: &str = "acct-";

pub fn label_of<R: Runtime>(window: &WebviewWindow<R>) -> WindowLabel {
    WindowLabel::new(window.label())
}

pub fn set_title<R: Runtime>(window: &WebviewWindow<R>, username: Option<&str>) {
    let title = match username {
        Some(name) => format!("{name} · Kage"),
        None => "Kage".to_owned(),
    };
    let _ = window.set_title(&title);
}

/// The next unused `acct-<n>` label, counting open windows and remembered ones.
fn next_label<R: Runtime>(app: &AppHandle<R>) -> String {
    let used: Vec<u32> = app
        .webview_windows()
        .keys()
        .cloned()
        .chain(app.state::<AppState>().roster.layout().into_iter().map(|(label, _)| label))
        .filter_map(|label| label.strip_prefix(LABEL_PREFIX).and_then(|n| n.parse().ok()))
        .collect();
    format!("{LABEL_PREFIX}{}", used.into_iter().max().unwrap_or(0) + 1)
}

/// Opens a window, pinned to `account` if given (its credential is read from the keychain when needed).
pub fn open<R: Runtime>(
    app: &AppHandle<R>,
    label: Option<String>,
    account: Option<(&AccountKey, &str)>,
) -> tauri::Result<WebviewWindow<R>> {
    let label = label.unwrap_or_else(|| next_label(app));
    let window = WebviewWindowBuilder::new(app, &label, WebviewUrl::App("index.html".into()))
        .title("Kage")
        .inner_size(460.0, 720.0)
        .min_inner_size(380.0, 560.0)
        .build()?;
    let state = app.state::<AppState>();
    if let Some((account, username)) = account {
        state.core.open(&WindowLabel::new(&label), account);
        set_title(&window, Some(username));
    }
    if let Err(error) = state.roster.set_layout(&label, account.map(|(account, _)| account.id())) {
        // The window works; only its place in the next start's layout is lost (it reopens signed out).
        log::warn!("window layout: {error}");
    }
    Ok(window)
}

/// Reopens the windows of the last run, each with the account it had (or signed out, never another). A saved
/// account Kage may not open on this run (the sandbox moved, see `state::check_saved_origin`) leaves its window
/// on the sign-in screen.
pub fn restore<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let state = app.state::<AppState>();
    let mut opened = 0;
    for (label, account_id) in state.roster.layout() {
        if !label.starts_with(LABEL_PREFIX) {
            continue;
        }
        let entry = account_id.and_then(|id| state.roster.find(&id));
        let account = entry.as_ref().and_then(|entry| match state.saved_account(entry) {
            Ok(account) => Some((account, entry.username.clone())),
            Err(refused) => {
                log::warn!("{label} reopens signed out: {refused}");
                None
            }
        });
        open(app, Some(label), account.as_ref().map(|(a, name)| (a, name.as_str())))?;
        opened += 1;
    }
    if opened == 0 {
        open(app, None, None)?;
    }
    Ok(())
}
