//! Account windows: labels `acct-<n>`, created from Rust only (pages cannot create or steer windows).

use std::time::Duration;

use kage_core::{AccountKey, WindowLabel};
use tauri::webview::PageLoadEvent;
use tauri::{
    AppHandle, Manager, Monitor, PhysicalPosition, PhysicalSize, Runtime, WebviewUrl, WebviewWindow,
    WebviewWindowBuilder, Window,
};

use crate::placement::{self, Area};
use crate::roster::Place;
use crate::state::AppState;

pub use crate::labels::LABEL_PREFIX;

pub fn label_of<R: Runtime>(window: &WebviewWindow<R>) -> WindowLabel {
    WindowLabel::new(window.label())
}

/// Titles a window after the account it shows, as the presenter names it (an alias in streamer mode).
pub fn retitle<R: Runtime>(window: &WebviewWindow<R>) {
    let state = window.state::<AppState>();
    if let Some(account) = state.web.account_of(window.label()) {
        let _ = window.set_title(&state.presenter().web_title(&account));
        return;
    }
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
    let state = app.state::<AppState>();
    // Where this very window was (a restart), else where the account's window was last.
    let place =
        state.roster.window_place(&label).or_else(|| account.and_then(|account| state.roster.place(account.id())));
    // A saved account's window may share a web process with a few others (docs/design.md, "Related views"); a
    // sign-in window gets its own.
    let related = account.and_then(|_| crate::hibernation::related_view_for(app, &label));
    let builder = WebviewWindowBuilder::new(app, &label, WebviewUrl::App("index.html".into()))
        .title("Kage")
        .inner_size(460.0, 720.0)
        // Small enough for "Tile windows" to fit nine on a laptop screen; the page scrolls below this.
        .min_inner_size(320.0, 300.0)
        // Hidden until its page has loaded, and at its remembered place by then. Why not shown at once: on Linux,
        // GTK drawing a window whose web process has not painted yet makes WebKit's UI side wait for that process
        // (up to a timeout) while the process waits on the UI side. With eight windows opening together the main
        // thread spent seconds in those waits with both cores idle ("Open all" painted after 5-6 s, 3 s of it
        // idle); hidden windows are not drawn, so their pages load side by side.
        .visible(false)
        .on_page_load(|window, page| {
            // The asleep page loads in a window out of sight, which must stay so (hibernation).
            if page.event() == PageLoadEvent::Finished && !crate::hibernation::is_asleep_page(page.url()) {
                show(&window);
            }
        })
        // Kage's own page only: a web game's page never loads in a window that holds Kage's commands (I13).
        .on_navigation(is_kage_page)
        .on_new_window(|_, _| tauri::webview::NewWindowResponse::Deny);
    #[cfg(target_os = "linux")]
    let (builder, anchor) = match related {
        Some((anchor, view)) => (builder.with_related_view(view.0), Some(anchor)),
        None => (builder, None),
    };
    // Always `None` there: no view is handed out off Linux (`hibernation::webview::view_of`).
    #[cfg(not(target_os = "linux"))]
    let anchor = related.map(|(anchor, _)| anchor);
    let window = builder.build().inspect_err(|_| crate::hibernation::not_made(app, &label))?;
    if account.is_some() {
        crate::hibernation::made(app, &label, anchor.as_deref());
    }
    crate::hibernation::for_kage_page(&window);
    crate::hibernation::watch_process(&window);
    if let Some(place) = place {
        put_at(&window, place);
    }
    show_if_never_loaded(&window);
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

/// Whether `url` is Kage's own page (the app's bundled assets: `tauri://localhost` on Linux and macOS,
/// `http(s)://tauri.localhost` on Windows), the only thing an account window may show.
pub fn is_kage_page(url: &tauri::Url) -> bool {
    match url.scheme() {
        "tauri" => url.host_str() == Some("localhost"),
        "http" | "https" => url.host_str() == Some("tauri.localhost") && url.port().is_none(),
        _ => false,
    }
}

/// Account windows (web accounts' too) in the order hotkeys, tiling and the tray walk them: by the
/// saved-accounts order of the account they show (web accounts after the others, sign-in windows last), then
/// by label.
pub fn in_order<R: Runtime>(app: &AppHandle<R>) -> Vec<WebviewWindow<R>> {
    let state = app.state::<AppState>();
    // Web accounts' windows come after the Kage-protocol accounts', in the order the web accounts were added.
    let ids: Vec<String> = state
        .roster
        .list()
        .into_iter()
        .map(|entry| entry.id)
        .chain(state.roster.web_accounts().into_iter().map(|account| account.id))
        .collect();
    let mut windows: Vec<(usize, String, WebviewWindow<R>)> = app
        .webview_windows()
        .into_iter()
        .filter_map(|(label, window)| {
            let account = match state.web.account_of(&label) {
                Some(web_account) => Some(web_account),
                None if label.starts_with(LABEL_PREFIX) => {
                    state.core.windows.pin_of(&WindowLabel::new(&label)).map(|pin| pin.account.id().to_owned())
                }
                // Neither an account window nor a web account's (a hidden window a wipe uses).
                None => return None,
            };
            let rank = account.and_then(|id| ids.iter().position(|known| *known == id)).unwrap_or(usize::MAX);
            Some((rank, label, window))
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
    crate::hibernation::wake(window);
    let _ = window.unminimize();
    let _ = window.set_focus();
}

/// Shows `window` after [`SHOW_ANYWAY`] if its page has not loaded by then: a page that never loads (its web
/// process died, say) still gets its window, with whatever WebKit shows.
pub(crate) fn show_if_never_loaded<R: Runtime>(window: &WebviewWindow<R>) {
    let window = window.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(SHOW_ANYWAY).await;
        show(&window);
    });
}

/// How long a new window may stay hidden waiting for its page.
const SHOW_ANYWAY: Duration = Duration::from_secs(5);

/// Shows `window` unless it is shown already (a later page load, or the fallback after a load, does nothing).
pub(crate) fn show<R: Runtime>(window: &WebviewWindow<R>) {
    if !window.is_visible().unwrap_or(true) {
        let _ = window.show();
    }
}

/// Puts `window` at a remembered place if that place is on a monitor connected now; otherwise it stays where the
/// desktop put it. Places are outer position and inner size, as [`note_place`] records them.
pub(crate) fn put_at<R: Runtime>(window: &WebviewWindow<R>, place: Place) {
    let screens: Vec<Area> = window.available_monitors().unwrap_or_default().iter().map(screen_of).collect();
    if !placement::is_on_screen(place, &screens) {
        return;
    }
    let _ = window.set_position(PhysicalPosition::new(place.x, place.y));
    let _ = window.set_size(PhysicalSize::new(place.width, place.height));
}

/// The id of the account `label` shows: its pin's, or the web account's (web windows are remembered too).
fn account_shown(state: &AppState, label: &str) -> Option<String> {
    state
        .core
        .windows
        .pin_of(&WindowLabel::new(label))
        .map(|pin| pin.account.id().to_owned())
        .or_else(|| state.web.account_of(label))
}

/// Remembers where a window pinned to an account (or a web account's window) is (it moved or was resized), for
/// that account's next window, whichever label it gets. Not while minimised (some desktops report a far-off position then) or maximised:
/// the place to come back to is the one the player gave the window.
pub fn note_place<R: Runtime>(window: &Window<R>) {
    let state = window.state::<AppState>();
    let Some(account) = account_shown(&state, window.label()) else {
        return;
    };
    if window.is_minimized().unwrap_or(true) || window.is_maximized().unwrap_or(true) {
        return;
    }
    let (Ok(position), Ok(size)) = (window.outer_position(), window.inner_size()) else {
        return;
    };
    // A window being torn down reports a zero size; it is no place to come back to.
    if size.width == 0 || size.height == 0 {
        return;
    }
    let place = Place { x: position.x, y: position.y, width: size.width, height: size.height };
    state.roster.note_place(window.label(), &account, place);
}

/// Writes the places noted since the last write; a failure only loses where windows were.
pub fn save_places<R: Runtime>(app: &AppHandle<R>) {
    if let Err(error) = app.state::<AppState>().roster.flush() {
        log::warn!("could not save where the windows are: {error}");
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TileError {
    #[error("Kage cannot see a screen to arrange the windows on.")]
    NoScreen,
    #[error("The windows could not be arranged: {0}.")]
    Window(#[from] tauri::Error),
}

/// "Tile windows": every account window in a grid (see [`placement::grid`]) on the work area of the monitor
/// `near` is on; with no `near` (the tray), the focused account window's monitor, else the primary one. Returns
/// how many windows were arranged, and remembers each account's new place.
pub fn tile<R: Runtime>(app: &AppHandle<R>, near: Option<&WebviewWindow<R>>) -> Result<usize, TileError> {
    let windows = in_order(app);
    if windows.is_empty() {
        return Ok(0);
    }
    let monitor = monitor_for(near, &windows).ok_or(TileError::NoScreen)?;
    let area = work_area_of(&monitor);
    for (window, cell) in windows.iter().zip(placement::grid(area, windows.len())) {
        put_in_cell(window, cell)?;
    }
    save_places(app);
    Ok(windows.len())
}

/// Moves `window` into `cell` (the whole window, frame included) and remembers the account's new place.
fn put_in_cell<R: Runtime>(window: &WebviewWindow<R>, cell: Area) -> tauri::Result<()> {
    window.unmaximize()?;
    window.unminimize()?;
    // Sizes are set without the frame.
    let (outer, inner) = (window.outer_size()?, window.inner_size()?);
    let frame = (outer.width.saturating_sub(inner.width), outer.height.saturating_sub(inner.height));
    let size = PhysicalSize::new(cell.width.saturating_sub(frame.0), cell.height.saturating_sub(frame.1));
    window.set_position(PhysicalPosition::new(cell.x, cell.y))?;
    window.set_size(size)?;
    // Noted here rather than from the move events, which arrive later than the caller's flush.
    let state = window.state::<AppState>();
    if let Some(account) = account_shown(&state, window.label()) {
        let place = Place { x: cell.x, y: cell.y, width: size.width, height: size.height };
        state.roster.note_place(window.label(), &account, place);
    }
    Ok(())
}

/// Places `windows` (a group's, in its order) by `template` on the monitors connected now, the primary one
/// first (see `templates.rs`); returns how many were placed (none for remembered places or no monitor known).
pub fn arrange<R: Runtime>(
    app: &AppHandle<R>,
    windows: &[WebviewWindow<R>],
    template: crate::templates::Template,
) -> Result<usize, TileError> {
    let Some(first) = windows.first() else { return Ok(0) };
    let primary = first.primary_monitor().ok().flatten().map(|m| screen_of(&m));
    let mut monitors: Vec<Monitor> = first.available_monitors().unwrap_or_default();
    monitors.sort_by_key(|m| (Some(screen_of(m)) != primary, m.position().x, m.position().y));
    let areas: Vec<Area> = monitors.iter().map(work_area_of).collect();
    let cells = crate::templates::arrange(template, windows.len(), &areas);
    for (window, cell) in windows.iter().zip(&cells) {
        put_in_cell(window, *cell)?;
    }
    save_places(app);
    Ok(cells.len())
}

/// A monitor's work area (without panels and docks), or the whole screen where the desktop reports none.
fn work_area_of(monitor: &Monitor) -> Area {
    let work_area = monitor.work_area();
    let area = Area {
        x: work_area.position.x,
        y: work_area.position.y,
        width: work_area.size.width,
        height: work_area.size.height,
    };
    if area.width == 0 || area.height == 0 { screen_of(monitor) } else { area }
}

/// The monitor to tile on: the one `near` is on, else the focused account window's, else the primary one.
/// Asked of windows, never of the app handle: a window answers `None` when it cannot tell.
fn monitor_for<R: Runtime>(near: Option<&WebviewWindow<R>>, windows: &[WebviewWindow<R>]) -> Option<Monitor> {
    let current = |window: &WebviewWindow<R>| window.current_monitor().ok().flatten();
    let primary = |window: &WebviewWindow<R>| window.primary_monitor().ok().flatten();
    let focused = windows.iter().find(|window| window.is_focused().unwrap_or(false));
    near.and_then(current)
        .or_else(|| focused.and_then(current))
        .or_else(|| windows.first().and_then(primary))
        .or_else(|| windows.first().and_then(current))
}

fn screen_of(monitor: &Monitor) -> Area {
    let (position, size) = (monitor.position(), monitor.size());
    Area { x: position.x, y: position.y, width: size.width, height: size.height }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i13_an_account_window_shows_kages_own_page_and_never_a_web_page() {
        let url = |u: &str| tauri::Url::parse(u).unwrap();
        assert!(is_kage_page(&url("tauri://localhost/index.html")));
        assert!(is_kage_page(&url("http://tauri.localhost/index.html")));
        for web in [
            "http://127.0.0.1:8080/play",
            "https://game.example/",
            "tauri://evil.example/",
            "about:blank",
            "http://tauri.localhost:8080/",
            "file:///index.html",
        ] {
            assert!(!is_kage_page(&url(web)), "{web}");
        }
    }
}
