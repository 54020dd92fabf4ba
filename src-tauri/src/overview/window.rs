//! The overview's window: label [`LABEL`] (so neither `acct-*`'s capability nor any account command's window
//! check applies to it), Kage's own `overview.html`, small, resizable, always on top, where it was last.

use tauri::webview::PageLoadEvent;
use tauri::{
    AppHandle, Manager, PhysicalPosition, PhysicalSize, Runtime, WebviewUrl, WebviewWindow, WebviewWindowBuilder,
};

use super::{Overview, OverviewOptions};
use crate::roster::Place;

pub const LABEL: &str = "overview";
const TITLE: &str = "Kage overview";

/// Brings the overview forward, or opens it. From the tray, the accounts panel, Ctrl+Shift+O and `kage overview`.
pub fn bring_or_open<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<WebviewWindow<R>> {
    if let Some(window) = app.get_webview_window(LABEL) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
        return Ok(window);
    }
    let window = WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App("overview.html".into()))
        .title(TITLE)
        .inner_size(260.0, 340.0)
        .min_inner_size(180.0, 120.0)
        .always_on_top(true)
        .skip_taskbar(true)
        // Hidden until its page has loaded, like an account window (see `windows::open`).
        .visible(false)
        .on_page_load(|window, page| {
            if page.event() == PageLoadEvent::Finished {
                crate::windows::show(&window);
                // Once shown: GTK has no native window to take click-through or opacity before then.
                if let Some(state) = window.try_state::<crate::state::AppState>() {
                    apply_to(&window, super::options(&state));
                }
            }
        })
        .on_navigation(crate::windows::is_kage_page)
        .on_new_window(|_, _| tauri::webview::NewWindowResponse::Deny)
        .build()?;
    crate::hibernation::for_kage_page(&window);
    if let Some(place) = app.state::<Overview>().place.get() {
        let _ = window.set_position(PhysicalPosition::new(place.x, place.y));
        let _ = window.set_size(PhysicalSize::new(place.width, place.height));
    }
    crate::windows::show_if_never_loaded(&window);
    Ok(window)
}

/// Puts the options on the overview's window, if it is open.
pub fn apply<R: Runtime>(app: &AppHandle<R>, options: OverviewOptions) {
    // A window not shown yet takes them when its page has loaded.
    if let Some(window) = app.get_webview_window(LABEL).filter(|w| w.is_visible().unwrap_or(false)) {
        apply_to(&window, options);
    }
}

fn apply_to<R: Runtime>(window: &WebviewWindow<R>, options: OverviewOptions) {
    let _ = window.set_title(TITLE);
    if let Err(error) = window.set_ignore_cursor_events(options.click_through) {
        log::warn!("overview click-through: {error}");
    }
    set_opacity(window, options.opacity);
}

/// The whole window's opacity (the desktop's compositor draws it; without one it stays opaque).
#[cfg(all(unix, not(target_os = "macos")))]
fn set_opacity<R: Runtime>(window: &WebviewWindow<R>, percent: u8) {
    use gtk::prelude::WidgetExt;
    if let Ok(gtk_window) = window.gtk_window() {
        gtk_window.set_opacity(f64::from(percent) / 100.0);
    }
}

/// Elsewhere the page dims itself (see `ui/src/overview.ts`).
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn set_opacity<R: Runtime>(_window: &WebviewWindow<R>, _percent: u8) {}

/// The overview moved or was resized: remembered for its next opening.
pub fn note_place<R: Runtime>(window: &tauri::Window<R>) {
    if window.label() != LABEL || window.is_minimized().unwrap_or(true) {
        return;
    }
    let (Ok(position), Ok(size)) = (window.outer_position(), window.inner_size()) else { return };
    if size.width == 0 || size.height == 0 {
        return;
    }
    let place = Place { x: position.x, y: position.y, width: size.width, height: size.height };
    window.state::<Overview>().place.note(place);
}

/// Writes the overview's place if it changed.
pub fn save_place<R: Runtime>(app: &AppHandle<R>) {
    if let Some(overview) = app.try_state::<Overview>()
        && let Err(error) = overview.place.flush()
    {
        log::warn!("could not save where the overview is: {error}");
    }
}
