//! The player's app-wide preferences (`prefs.json` in the app data dir, written atomically like the roster):
//! streamer mode, how "Open all" paces windows, global shortcuts. Nothing here is about one account.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::durable::{JsonFile, Kept, KeptError};
use kage_core::locks::Recover;

const PREFS_FILE: &str = "prefs.json";
/// Longest pause "Open all" may be set to between two windows.
const MAX_STAGGER_MS: u64 = 30_000;
/// Longest hibernation delay: a day (0 turns hibernation off).
const MAX_HIBERNATE_SECS: u64 = 24 * 60 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase", default)]
pub struct Prefs {
    /// Aliases instead of usernames everywhere; no user ids or server addresses on screen.
    pub streamer_mode: bool,
    /// In streamer mode, also hide ryo balances.
    pub hide_balances: bool,
    /// Pause between two windows of "Open all" or a group, in milliseconds.
    pub stagger_ms: u64,
    /// System-wide shortcuts to cycle account windows (off by default: they take keys from every other app).
    pub global_shortcuts: bool,
    pub shortcut_next: String,
    pub shortcut_previous: String,
    /// Closing the last window leaves Kage running in the tray (its notifications keep coming). Off by default:
    /// some desktops (GNOME without an AppIndicator extension) show no tray, and the app would run unseen.
    pub keep_in_tray: bool,
    /// The overview lets clicks through to the window under it (for players who keep it over the game).
    pub overview_click_through: bool,
    /// The overview window's opacity, in percent (30..100).
    pub overview_opacity: u8,
    /// An account window hidden or minimised this many seconds gives up its web process until it is shown
    /// again (the settings page offers minutes; tests use seconds). 0: never.
    pub hibernate_after_secs: u64,
    /// Also hibernate a window that is shown but has not had the focus for that long.
    pub hibernate_unfocused: bool,
    /// At most this many account windows keep their web process; beyond it, windows out of sight hibernate at
    /// once, longest out of sight first. 0: no cap.
    pub live_window_cap: u32,
}

impl Default for Prefs {
    fn default() -> Self {
        Self {
            streamer_mode: false,
            hide_balances: false,
            stagger_ms: 1_000,
            global_shortcuts: false,
            shortcut_next: "CmdOrCtrl+Alt+PageDown".to_owned(),
            shortcut_previous: "CmdOrCtrl+Alt+PageUp".to_owned(),
            keep_in_tray: false,
            overview_click_through: false,
            overview_opacity: 100,
            hibernate_after_secs: 10 * 60,
            hibernate_unfocused: false,
            live_window_cap: 0,
        }
    }
}

impl Prefs {
    pub fn stagger(&self) -> Duration {
        Duration::from_millis(self.stagger_ms)
    }

    /// Checks what the page sent; `Err` is a sentence for the player.
    pub fn validated(mut self) -> Result<Self, String> {
        if self.stagger_ms > MAX_STAGGER_MS {
            return Err(format!("The pause between windows is at most {} s.", MAX_STAGGER_MS / 1000));
        }
        if !(30..=100).contains(&self.overview_opacity) {
            return Err("The overview's opacity is between 30 % and 100 %.".to_owned());
        }
        if self.hibernate_after_secs > MAX_HIBERNATE_SECS {
            return Err("Windows hibernate after at most a day (or never: 0).".to_owned());
        }
        self.shortcut_next = self.shortcut_next.trim().to_owned();
        self.shortcut_previous = self.shortcut_previous.trim().to_owned();
        if self.global_shortcuts && (self.shortcut_next.is_empty() || self.shortcut_previous.is_empty()) {
            return Err("Give both global shortcuts a key, or turn them off.".to_owned());
        }
        Ok(self)
    }
}

/// The preferences in `dir` as they are on disk, for another process (a second `kage` on the command line): read
/// only, a damaged file left where it is for the running Kage to deal with. `None`: the file cannot be read;
/// defaults when there is none yet.
pub fn read_only(dir: &Path) -> Option<Prefs> {
    match std::fs::read(dir.join(PREFS_FILE)) {
        Ok(bytes) => serde_json::from_slice(&bytes).ok(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Some(Prefs::default()),
        Err(_) => None,
    }
}

/// The preferences of this computer, read once and changed under one lock.
pub struct PrefsFile {
    kept: Mutex<Kept<Prefs>>,
    notice: Option<String>,
}

impl PrefsFile {
    pub fn open(dir: &Path) -> Self {
        let mut notices = Vec::new();
        let kept = Kept::open(JsonFile::new(dir.join(PREFS_FILE)), "preferences", &mut notices);
        Self { kept: Mutex::new(kept), notice: notices.pop() }
    }

    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    pub fn get(&self) -> Prefs {
        self.kept.lock().recover().doc.clone()
    }

    pub fn streamer_mode(&self) -> bool {
        self.kept.lock().recover().doc.streamer_mode
    }

    /// Replaces the preferences (already validated); they hold for this run even if the file cannot be written.
    pub fn set(&self, prefs: Prefs) -> Result<(), KeptError> {
        self.kept.lock().recover().change(|doc| *doc = prefs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamer_mode_persists_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let prefs = PrefsFile::open(dir.path());
        assert_eq!(prefs.get(), Prefs::default());
        prefs.set(Prefs { streamer_mode: true, stagger_ms: 0, ..Prefs::default() }).unwrap();
        let reopened = PrefsFile::open(dir.path());
        assert!(reopened.streamer_mode());
        assert_eq!(reopened.get().stagger(), Duration::ZERO);
    }

    #[test]
    fn a_file_from_an_older_version_reads_with_defaults_for_what_it_lacks() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(PREFS_FILE), br#"{"streamerMode": true}"#).unwrap();
        let prefs = PrefsFile::open(dir.path()).get();
        assert_eq!(prefs, Prefs { streamer_mode: true, ..Prefs::default() });
    }

    #[test]
    fn out_of_range_preferences_are_refused_with_a_sentence() {
        let too_slow = Prefs { stagger_ms: 60_000, ..Prefs::default() }.validated().unwrap_err();
        assert!(too_slow.contains("at most 30 s"), "{too_slow}");
        let no_key = Prefs { global_shortcuts: true, shortcut_next: " ".into(), ..Prefs::default() };
        assert!(no_key.validated().is_err());
        let too_late = Prefs { hibernate_after_secs: 2 * 24 * 60 * 60, ..Prefs::default() }.validated();
        assert!(too_late.unwrap_err().contains("at most a day"));
    }

    #[test]
    fn hidden_and_minimised_windows_hibernate_by_default_after_ten_minutes() {
        let prefs = Prefs::default();
        assert_eq!((prefs.hibernate_after_secs, prefs.hibernate_unfocused, prefs.live_window_cap), (600, false, 0));
    }
}
