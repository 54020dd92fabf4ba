//! Where a file the player picks comes from: the system's file dialog in the app, a fixed answer in tests.
//!
//! Its own module so the shell's state can hold a chooser without reaching into the export and import code
//! that uses it (`moving`, which needs the state).

use kage_core::locks::Recover;
use std::path::PathBuf;
use std::sync::Mutex;

/// Where an export is written or an import read from: the player's choice in the system's file dialog, never a
/// path a page names (any script in any window could otherwise write every account's fresh sign-in, sealed with
/// a passphrase of its choosing, wherever it likes, or overwrite a file of the player's). Tests put a chooser of
/// their own here, as they put a scripted browser in place of the system's ([`crate::state::OpenBrowser`]).
pub trait ChooseFile: Send + Sync {
    /// The file to write (`save`) or read; `None`: the player cancelled.
    fn choose(&self, save: bool) -> Option<PathBuf>;
}

/// A chooser that answers one path, which its owner may change between calls (tests; and debug builds started
/// with `KAGE_E2E_FILE`, for the end-to-end tests, which cannot click through a GTK dialog).
pub struct FixedFile(Mutex<PathBuf>);

impl FixedFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self(Mutex::new(path.into()))
    }

    pub fn set(&self, path: impl Into<PathBuf>) {
        *self.0.lock().recover() = path.into();
    }
}

impl ChooseFile for FixedFile {
    fn choose(&self, _save: bool) -> Option<PathBuf> {
        Some(self.0.lock().recover().clone())
    }
}
