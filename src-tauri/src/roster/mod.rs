//! Saved accounts (the roster) and the window layout. Neither holds a secret or any per-account game data:
//! display name, server, colour, and which window showed which account.
//!
//! Losing the roster costs the player every saved account, so (I10):
//! - both files are written atomically, `0600`, under the app data dir (see `durable.rs`);
//! - every change is one read-modify-write under one lock ([`Roster`] is held in the app's managed state), so two
//!   windows signing in at the same moment both end up saved;
//! - a file that cannot be read is moved aside, never overwritten, and [`Roster::notice`] says so, so the app can
//!   tell the player instead of quietly showing an empty list.
//!
//! The files keep the shape tauri-plugin-store gave them (`{"accounts": [...]}`, `{"windows": {...}}`), in the same
//! place, so an existing roster is read as it is.

mod entry;
mod layout;
mod peek;
mod templates;
#[cfg(test)]
mod tests;
mod web;
mod web_export;
mod web_settings;
#[cfg(test)]
mod web_tests;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

pub use crate::durable::KeptError as RosterError;
use crate::durable::{JsonFile, Kept};
use entry::PALETTE;
pub use entry::{AccountSettings, RosterEntry};
use kage_core::locks::Recover;
use layout::LayoutDoc;
pub use layout::Place;
pub use peek::{PeekError, read_only};
pub use web::{Game, GameKind, WebAccount, WebRosterError, is_opaque_id, opaque_id, web_proxy};
pub use web_export::{CheckedWeb, checked_web};
pub use web_settings::WebAccountSettings;

const ROSTER_FILE: &str = "roster.json";
const LAYOUT_FILE: &str = "windows.json";

/// `games` and `web_accounts` came with web games (issue 19): a roster written before them reads as having none.
#[derive(Debug, Default, Serialize, Deserialize)]
struct RosterDoc {
    accounts: Vec<RosterEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    games: Vec<Game>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    web_accounts: Vec<WebAccount>,
}

struct Files {
    roster: Kept<RosterDoc>,
    layout: Kept<LayoutDoc>,
}

/// The saved accounts and the window layout of this computer. One per app, in managed state.
pub struct Roster {
    files: Mutex<Files>,
    notice: Option<String>,
}

impl Roster {
    /// Reads both files from `dir` (the app data dir). Never fails: what could not be read is reported by
    /// [`Roster::notice`].
    pub fn open(dir: &Path) -> Self {
        let mut notices = Vec::new();
        let roster = Kept::open(JsonFile::new(dir.join(ROSTER_FILE)), "list of saved accounts", &mut notices);
        let layout = Kept::open(JsonFile::new(dir.join(LAYOUT_FILE)), "window layout", &mut notices);
        let notice = (!notices.is_empty()).then(|| notices.join(" "));
        Self { files: Mutex::new(Files { roster, layout }), notice }
    }

    /// What went wrong reading the files at start-up, as a sentence for the player.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    fn files(&self) -> MutexGuard<'_, Files> {
        // A panic while the lock was held left a document that is still whole (edits are plain Vec/map changes).
        self.files.lock().recover()
    }

    pub fn list(&self) -> Vec<RosterEntry> {
        self.files().roster.doc.accounts.clone()
    }

    pub fn find(&self, id: &str) -> Option<RosterEntry> {
        self.files().roster.doc.accounts.iter().find(|entry| entry.id == id).cloned()
    }

    /// Adds an account, or updates its name; a known account keeps its colour.
    pub fn save(&self, entry: RosterEntry) -> Result<(), RosterError> {
        self.files().roster.change(|doc| {
            let entries = &mut doc.accounts;
            match entries.iter_mut().find(|e| e.id == entry.id) {
                // Signing in again changes the name at most: the player's settings for the account stay.
                Some(existing) => {
                    *existing =
                        RosterEntry { username: entry.username, signed_out: entry.signed_out, ..existing.clone() }
                }
                None => {
                    // A main and its alts must look different at a glance: take a colour no saved account has yet.
                    let taken: Vec<&str> = entries.iter().map(|e| e.colour.as_str()).collect();
                    let free = PALETTE.iter().find(|c| !taken.contains(c)).map(|c| (*c).to_owned());
                    entries.push(RosterEntry { colour: free.unwrap_or(entry.colour.clone()), ..entry });
                }
            }
        })
    }

    /// Records that the player signed the account out (or signed in to it again).
    pub fn set_signed_out(&self, id: &str, signed_out: bool) -> Result<(), RosterError> {
        self.files().roster.change(|doc| {
            if let Some(entry) = doc.accounts.iter_mut().find(|e| e.id == id) {
                entry.signed_out = signed_out;
            }
        })
    }

    /// Replaces an account's settings (already validated). `false`: no such account.
    pub fn set_settings(&self, id: &str, settings: AccountSettings) -> Result<bool, RosterError> {
        let mut found = false;
        self.files().roster.change(|doc| {
            if let Some(entry) = doc.accounts.iter_mut().find(|e| e.id == id) {
                found = true;
                settings.apply_to(entry);
            }
        })?;
        Ok(found)
    }

    /// Every group name, in the order first met in the roster.
    pub fn groups(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        let files = self.files();
        let doc = &files.roster.doc;
        // Web accounts are in groups with Kage accounts (issue 19, item 5).
        let all = doc.accounts.iter().map(|e| &e.groups).chain(doc.web_accounts.iter().map(|a| &a.groups));
        for groups in all {
            for group in groups {
                if !names.contains(group) {
                    names.push(group.clone());
                }
            }
        }
        names
    }

    /// Puts the saved accounts, and the web games' accounts, in the order `ids` names them (the overview's
    /// drag): Ctrl+1..9, the tray and tiling follow. An account `ids` leaves out keeps its place after those it
    /// names; an id of no saved account is ignored.
    pub fn reorder(&self, ids: &[String]) -> Result<(), RosterError> {
        let rank = |id: &str| ids.iter().position(|named| named == id).unwrap_or(usize::MAX);
        self.files().roster.change(|doc| {
            // Stable sorts: accounts left out keep their order among themselves.
            doc.accounts.sort_by_key(|entry| rank(&entry.id));
            doc.web_accounts.sort_by_key(|account| rank(&account.id));
        })
    }

    pub fn remove(&self, id: &str) -> Result<(), RosterError> {
        self.files().roster.change(|doc| doc.accounts.retain(|e| e.id != id))?;
        self.files().layout.change(|doc| {
            doc.places.remove(id);
        })
    }
}
