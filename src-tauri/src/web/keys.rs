//! Kage's window hotkeys while a web game's page has the keyboard (issue 19, item 5): Ctrl+1..9 (the Nth
//! account's window), Ctrl+Tab and Ctrl+Shift+Tab (the next and previous account window) and Ctrl+Shift+A
//! (the accounts panel, in Kage's own window, which comes forward).
//!
//! Kage's own page catches these in its keydown handler; a game's page is not Kage's and runs no Kage code, so
//! on WebKitGTK they are caught on the webview's GTK widget, before WebKit hands the key to the page. The page
//! never sees these; every other key goes to the game untouched.

use tauri::{Runtime, WebviewWindow};

/// A key as GTK reports it, reduced to what the hotkeys look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Tab,
    /// Shift+Tab (GTK names it `ISO_Left_Tab`).
    BackTab,
    Other,
}

/// What a hotkey does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hotkey {
    /// Ctrl+N: the Nth account (1-based; web accounts after Kage accounts).
    Account(usize),
    Cycle {
        forward: bool,
    },
    /// Ctrl+Shift+A.
    Panel,
}

/// The hotkey `key` with these modifiers is, if any: the same keys as Kage's page (`ui/src/main.ts`) takes.
pub fn hotkey(key: Key, ctrl: bool, shift: bool, alt: bool) -> Option<Hotkey> {
    if !ctrl || alt {
        return None;
    }
    match key {
        Key::Char(c @ '1'..='9') if !shift => Some(Hotkey::Account(c as usize - '0' as usize)),
        Key::Tab => Some(Hotkey::Cycle { forward: !shift }),
        Key::BackTab => Some(Hotkey::Cycle { forward: false }),
        Key::Char('a' | 'A') if shift => Some(Hotkey::Panel),
        _ => None,
    }
}

/// Run in Kage's own window for Ctrl+Shift+A: the page's listener opens the accounts panel.
#[cfg(target_os = "linux")]
const SHOW_PANEL: &str = "document.dispatchEvent(new Event('kage:show-panel'))";

/// Does `hotkey`, pressed in window `label`.
#[cfg(target_os = "linux")]
fn act<R: Runtime>(app: &tauri::AppHandle<R>, label: &str, hotkey: Hotkey) {
    match hotkey {
        Hotkey::Account(position) => {
            let app = app.clone();
            // Opening a window may wait on the event loop this handler runs on: not here.
            tauri::async_runtime::spawn(async move {
                if let Err(error) = crate::commands::windows::focus_position(&app, position) {
                    log::info!("Ctrl+{position} in a web window: {}", error.message);
                }
            });
        }
        Hotkey::Cycle { forward } => crate::windows::cycle(app, Some(label), forward),
        Hotkey::Panel => {
            // The accounts panel is in Kage's own windows: the first of them comes forward.
            let own = crate::windows::in_order(app)
                .into_iter()
                .find(|window| window.label().starts_with(crate::windows::LABEL_PREFIX));
            match own {
                Some(window) => {
                    let _ = window.unminimize();
                    let _ = window.set_focus();
                    // Kage's own page opens its panel on this event (`ui/src/main.ts`); nothing of an account
                    // travels with it, and no other window's page hears it.
                    if let Err(error) = window.eval(SHOW_PANEL) {
                        log::info!("Ctrl+Shift+A in a web window: {error}");
                    }
                }
                None => log::info!("Ctrl+Shift+A in a web window: no Kage window is open"),
            }
        }
    }
}

/// Catches the hotkeys on `window`'s webview before its page does (WebKitGTK).
#[cfg(target_os = "linux")]
pub fn attach<R: Runtime>(window: &WebviewWindow<R>) {
    use gtk::gdk::{ModifierType, keys::constants};
    use gtk::glib::Propagation;
    use gtk::prelude::WidgetExt;
    use tauri::Manager;
    let (app, label) = (window.app_handle().clone(), window.label().to_owned());
    let attached = window.with_webview(move |webview| {
        webview.inner().connect_key_press_event(move |_, event| {
            let keyval = event.keyval();
            let key = if keyval == constants::Tab {
                Key::Tab
            } else if keyval == constants::ISO_Left_Tab {
                Key::BackTab
            } else {
                keyval.to_unicode().map_or(Key::Other, Key::Char)
            };
            let state = event.state();
            let pressed = hotkey(
                key,
                state.contains(ModifierType::CONTROL_MASK),
                state.contains(ModifierType::SHIFT_MASK),
                state.contains(ModifierType::MOD1_MASK),
            );
            match pressed {
                Some(pressed) => {
                    act(&app, &label, pressed);
                    Propagation::Stop
                }
                None => Propagation::Proceed,
            }
        });
    });
    if let Err(error) = attached {
        log::warn!("web window hotkeys: {error}");
    }
}

#[cfg(not(target_os = "linux"))]
pub fn attach<R: Runtime>(_window: &WebviewWindow<R>) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i13_a_web_window_takes_kages_hotkeys_and_leaves_every_other_key_to_the_game() {
        assert_eq!(hotkey(Key::Char('2'), true, false, false), Some(Hotkey::Account(2)));
        assert_eq!(hotkey(Key::Char('9'), true, false, false), Some(Hotkey::Account(9)));
        assert_eq!(hotkey(Key::Tab, true, false, false), Some(Hotkey::Cycle { forward: true }));
        assert_eq!(hotkey(Key::BackTab, true, true, false), Some(Hotkey::Cycle { forward: false }));
        assert_eq!(hotkey(Key::Tab, true, true, false), Some(Hotkey::Cycle { forward: false }));
        assert_eq!(hotkey(Key::Char('A'), true, true, false), Some(Hotkey::Panel));
        // The game's: without Ctrl, with Alt, Ctrl+0, Ctrl+A (select all), Ctrl+W, a plain Tab.
        for (key, ctrl, shift, alt) in [
            (Key::Char('2'), false, false, false),
            (Key::Char('2'), true, false, true),
            (Key::Char('0'), true, false, false),
            (Key::Char('a'), true, false, false),
            (Key::Char('w'), true, false, false),
            (Key::Tab, false, false, false),
            (Key::Other, true, false, false),
        ] {
            assert_eq!(hotkey(key, ctrl, shift, alt), None, "{key:?} ctrl={ctrl} shift={shift} alt={alt}");
        }
    }
}
