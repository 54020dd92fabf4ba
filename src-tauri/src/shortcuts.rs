//! Global shortcuts: two system-wide keys that bring the next or previous account window forward, from any
//! program. Off by default, since a global shortcut takes its key away from every other program; the player
//! turns them on and picks the keys in the preferences.
//!
//! A key Kage cannot have (another program holds it, or it is not a key Kage can read) is reported to the player
//! as a sentence naming it, and the app goes on without that shortcut.

use std::str::FromStr;

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_global_shortcut::{GlobalShortcut, Shortcut, ShortcutEvent, ShortcutState};

use crate::state::AppState;

/// Why one of the player's shortcuts is not in use, as the player is told it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShortcutError {
    #[error("Kage cannot read the shortcut “{shortcut}”; write it like Ctrl+Alt+PageDown.")]
    Unreadable { shortcut: String },
    #[error("{shortcut} alone would take that key from every other program; add Ctrl, Alt or Shift to it.")]
    NoModifier { shortcut: String },
    #[error("Both global shortcuts are {shortcut}; give each its own key.")]
    Same { shortcut: String },
    #[error("{shortcut} is taken by another program; choose another key for it, or close that program.")]
    Taken { shortcut: String },
    #[error("Kage could not set up {shortcut} as a global shortcut on this desktop.")]
    Unavailable { shortcut: String },
}

/// Sets the global shortcuts up as the preferences say: what Kage registered before is let go, and if they are
/// on, the two keys are registered. `Err` is a sentence for the player about the keys that could not be had;
/// the others work.
pub fn apply<R: Runtime>(app: &AppHandle<R>) -> Result<(), String> {
    // Without the plugin (the command tests' mock app) there is nothing to register with.
    let Some(registry) = app.try_state::<GlobalShortcut<R>>() else {
        return Ok(());
    };
    // Pages are granted no global-shortcut permission, so every shortcut registered is one Kage set up.
    if let Err(error) = registry.unregister_all() {
        log::warn!("could not let go of the previous global shortcuts: {error}");
    }
    let prefs = app.state::<AppState>().prefs.get();
    if !prefs.global_shortcuts {
        return Ok(());
    }
    let problems: Vec<String> = match parse_pair(&prefs.shortcut_next, &prefs.shortcut_previous) {
        Ok(pair) => pair
            .into_iter()
            .zip([true, false])
            .filter_map(|((text, shortcut), forward)| register(&registry, text, shortcut, forward).err())
            .map(|error| error.to_string())
            .collect(),
        Err(problems) => problems.iter().map(ToString::to_string).collect(),
    };
    if problems.is_empty() {
        log::info!(
            "global shortcuts on: {} and {}",
            for_the_player(&prefs.shortcut_next),
            for_the_player(&prefs.shortcut_previous)
        );
        Ok(())
    } else {
        Err(problems.join(" "))
    }
}

fn register<R: Runtime>(
    registry: &GlobalShortcut<R>,
    text: &str,
    shortcut: Shortcut,
    forward: bool,
) -> Result<(), ShortcutError> {
    let cycle = move |app: &AppHandle<R>, _: &Shortcut, event: ShortcutEvent| {
        // Held keys repeat and are released: one step per press.
        if event.state == ShortcutState::Pressed {
            crate::windows::cycle(app, None, forward);
        }
    };
    registry.on_shortcut(shortcut, cycle).map_err(|error| {
        let shortcut = for_the_player(text);
        log::warn!("global shortcut {shortcut}: {error}");
        match error {
            // The desktop refused the key itself: someone else grabbed it first.
            tauri_plugin_global_shortcut::Error::GlobalHotkey(_) => ShortcutError::Taken { shortcut },
            _ => ShortcutError::Unavailable { shortcut },
        }
    })
}

/// Reads the "next" and "previous" shortcuts, or says everything wrong with them.
fn parse_pair<'a>(next: &'a str, previous: &'a str) -> Result<[(&'a str, Shortcut); 2], Vec<ShortcutError>> {
    match (parse(next), parse(previous)) {
        (Ok(a), Ok(b)) if a.id() == b.id() => Err(vec![ShortcutError::Same { shortcut: for_the_player(next) }]),
        (Ok(a), Ok(b)) => Ok([(next, a), (previous, b)]),
        (a, b) => Err([a.err(), b.err()].into_iter().flatten().collect()),
    }
}

/// One shortcut as the player wrote it (`CmdOrCtrl+Alt+PageDown`).
pub fn parse(text: &str) -> Result<Shortcut, ShortcutError> {
    let shortcut =
        Shortcut::from_str(text.trim()).map_err(|_| ShortcutError::Unreadable { shortcut: text.trim().to_owned() })?;
    if shortcut.mods.is_empty() {
        return Err(ShortcutError::NoModifier { shortcut: for_the_player(text) });
    }
    Ok(shortcut)
}

/// A shortcut as the player's keyboard labels it: `CmdOrCtrl` is Ctrl here (Cmd on a Mac).
pub fn for_the_player(text: &str) -> String {
    let primary = if cfg!(target_os = "macos") { "Cmd" } else { "Ctrl" };
    text.split('+')
        .map(str::trim)
        .map(|part| match part.to_ascii_lowercase().as_str() {
            "cmdorctrl" | "cmdorcontrol" | "commandorcontrol" | "commandorctrl" => primary,
            _ => part,
        })
        .collect::<Vec<_>>()
        .join("+")
}

#[cfg(test)]
mod tests {
    use tauri_plugin_global_shortcut::{Code, Modifiers};

    use super::*;

    #[test]
    fn the_default_shortcuts_are_read_and_named_as_the_keyboard_labels_them() {
        let prefs = crate::prefs::Prefs::default();
        let [(_, next), (_, previous)] = parse_pair(&prefs.shortcut_next, &prefs.shortcut_previous).unwrap();
        assert_eq!((next.key, previous.key), (Code::PageDown, Code::PageUp));
        assert!(next.mods.contains(Modifiers::ALT));
        if !cfg!(target_os = "macos") {
            assert_eq!(for_the_player(&prefs.shortcut_next), "Ctrl+Alt+PageDown");
            assert!(next.mods.contains(Modifiers::CONTROL));
        }
        assert_eq!(for_the_player(" Shift + F7 "), "Shift+F7");
    }

    #[test]
    fn a_shortcut_kage_cannot_use_gets_a_sentence_naming_it() {
        let unreadable = parse("Ctrl+Alt+Banana").unwrap_err().to_string();
        assert_eq!(unreadable, "Kage cannot read the shortcut “Ctrl+Alt+Banana”; write it like Ctrl+Alt+PageDown.");
        let bare = parse("PageDown").unwrap_err().to_string();
        assert!(bare.starts_with("PageDown alone would take that key"), "{bare}");
        let same = parse_pair("Ctrl+Alt+F1", "ctrl+alt+f1").unwrap_err();
        assert_eq!(same[0].to_string(), "Both global shortcuts are Ctrl+Alt+F1; give each its own key.");
        let both = parse_pair("Ctrl+Nope", "F2").unwrap_err();
        assert_eq!(both.len(), 2, "each bad key is named: {both:?}");
        let taken = ShortcutError::Taken { shortcut: for_the_player("CmdOrCtrl+Alt+PageDown") }.to_string();
        if !cfg!(target_os = "macos") {
            assert_eq!(
                taken,
                "Ctrl+Alt+PageDown is taken by another program; choose another key for it, or close that program."
            );
        }
    }
}
