//! Account windows: labels `acct-<n>`, created from Rust only (pages cannot create or steer windows).

use kage_core::{AccountKey, WindowLabel};
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

use crate::launcher::Launch;
use crate::state::AppState;

pub const LABEL_PREFIX: &str = "acct-";

pub fn label_of<R: Runtime>(window: &WebviewWindow<R>) -> WindowLabel {
    WindowLabel::new(window.label())
}

/// Titles a window after the account it shows, as the presenter names it (an alias in streamer mode).
pub fn retitle<R: Runtime>(window: &WebviewWindow<R>) {
    let state = window.state::<AppState>();
    let pinned = state.core.windows.pin_of(&label_of(window)).map(|pin| pin.account.id().to_owned());
    let _ = window.set_title(&state.presenter().title(pinned.as_deref()));
}

/// Titles every window again (streamer mode or an alias changed).
pub fn retitle_all<R: Runtime>(app: &AppHandle<R>) {
    for window in app.webview_windows().values() {
        retitle(window);
    }
}

/// The first open window showing `account`, if any.
pub fn window_of<R: Runtime>(app: &AppHandle<R>, account: &AccountKey) -> Option<WebviewWindow<R>> {
    let state = app.state::<AppState>();
    let mut labels = state.core.windows.windows_of(account);
    labels.sort();
    labels.into_iter().find_map(|label| app.get_webview_window(label.as_str()))
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
    account: Option<&AccountKey>,
) -> tauri::Result<WebviewWindow<R>> {
    let label = label.unwrap_or_else(|| next_label(app));
    let window = WebviewWindowBuilder::new(app, &label, WebviewUrl::App("index.html".into()))
        .title("Kage")
        .inner_size(460.0, 720.0)
        .min_inner_size(380.0, 560.0)
        .build()?;
    let state = app.state::<AppState>();
    if let Some(account) = account {
        state.core.open(&WindowLabel::new(&label), account);
    }
    retitle(&window);
    if let Err(error) = state.roster.set_layout(&label, account.map(AccountKey::id)) {
        // The window works; only its place in the next start's layout is lost (it reopens signed out).
        log::warn!("window layout: {error}");
    }
    Ok(window)
}

/// Reopens the windows of the last run, each with the account it had (or signed out, never another). A saved
/// account Kage may not open on this run (the sandbox moved, see `state::check_saved_origin`) leaves its window
/// on the sign-in screen.
///
/// Windows on the sign-in screen open at once; account windows go through the launch queue, paced like "Open
/// all", so a restart with ten accounts does not sign ten in within one second.
pub fn restore<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let state = app.state::<AppState>();
    let mut launches = Vec::new();
    let mut opened = 0;
    for (label, account_id) in state.roster.layout() {
        if !label.starts_with(LABEL_PREFIX) {
            continue;
        }
        let entry = account_id.and_then(|id| state.roster.find(&id));
        match entry.filter(|entry| match state.saved_account(entry) {
            Ok(_) => true,
            Err(refused) => {
                log::warn!("{label} reopens signed out: {refused}");
                false
            }
        }) {
            Some(entry) => launches.push(Launch { entry, label: Some(label) }),
            None => {
                open(app, Some(label), None)?;
                opened += 1;
            }
        }
    }
    if opened == 0 && launches.is_empty() {
        open(app, None, None)?;
    }
    crate::launcher::enqueue(app, launches);
    Ok(())
}

/// Account windows in the order hotkeys and the tray walk them: by the saved-accounts order of the account
/// they show (sign-in windows last), then by label.
pub fn in_order<R: Runtime>(app: &AppHandle<R>) -> Vec<WebviewWindow<R>> {
    let state = app.state::<AppState>();
    let ids: Vec<String> = state.roster.list().into_iter().map(|entry| entry.id).collect();
    let mut windows: Vec<(usize, String, WebviewWindow<R>)> = app
        .webview_windows()
        .into_iter()
        .filter(|(label, _)| label.starts_with(LABEL_PREFIX))
        .map(|(label, window)| {
            let pin = state.core.windows.pin_of(&WindowLabel::new(&label));
            let rank = pin.and_then(|pin| ids.iter().position(|id| id == pin.account.id())).unwrap_or(usize::MAX);
            (rank, label, window)
        })
        .collect();
    windows.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    windows.into_iter().map(|(_, _, window)| window).collect()
}

/// Focuses the account window after (or before) `from` in [`in_order`]'s order, wrapping around; from no window
/// (a global shortcut), the one after the focused window, or the first.
pub fn cycle<R: Runtime>(app: &AppHandle<R>, from: Option<&str>, forward: bool) {
    let windows = in_order(app);
    if windows.is_empty() {
        return;
    }
    let current = match from {
        Some(label) => windows.iter().position(|w| w.label() == label),
        None => windows.iter().position(|w| w.is_focused().unwrap_or(false)),
    };
    let count = windows.len();
    let next = match (current, forward) {
        (Some(index), true) => (index + 1) % count,
        (Some(index), false) => (index + count - 1) % count,
        (None, _) => 0,
    };
    let window = &windows[next];
    let _ = window.unminimize();
    let _ = window.set_focus();
}
