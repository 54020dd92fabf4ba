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

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use kage_core::{AccountKey, ServerOrigin};
use serde::{Deserialize, Serialize};

pub use crate::durable::KeptError as RosterError;
use crate::durable::{JsonFile, Kept};

const ROSTER_FILE: &str = "roster.json";
const LAYOUT_FILE: &str = "windows.json";

/// Colours an account's windows are told apart by, chosen from the account id so they stay put.
const PALETTE: &[&str] = &["#e05d44", "#3f8efc", "#2bb673", "#b65fe0", "#f0a202", "#14b8c4", "#e0457b", "#8a9a5b"];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RosterEntry {
    pub id: String,
    pub origin: String,
    pub user_id: String,
    pub username: String,
    pub colour: String,
    /// The player signed this account out: it stays signed out across restarts (even if the keychain could not
    /// delete its credential yet) until they sign in to it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub signed_out: bool,
    /// What the player calls this account; shown instead of the username in streamer mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Desktop notifications for this account's events.
    #[serde(default = "yes")]
    pub notifications: bool,
    /// The launch groups this account is in ("Open group" opens them together).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// An HTTP or SOCKS5 proxy this account's requests go through (it may carry proxy credentials, never a
    /// game secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
}

fn yes() -> bool {
    true
}

/// What the player can change about a saved account: everything in it that is neither an identity nor a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct AccountSettings {
    pub alias: Option<String>,
    pub colour: String,
    pub notifications: bool,
    pub groups: Vec<String>,
    pub proxy: Option<String>,
}

impl AccountSettings {
    pub fn of(entry: &RosterEntry) -> Self {
        Self {
            alias: entry.alias.clone(),
            colour: entry.colour.clone(),
            notifications: entry.notifications,
            groups: entry.groups.clone(),
            proxy: entry.proxy.clone(),
        }
    }

    /// Puts these settings on `entry` (the inverse of [`AccountSettings::of`]).
    pub fn apply_to(self, entry: &mut RosterEntry) {
        entry.alias = self.alias;
        entry.colour = self.colour;
        entry.notifications = self.notifications;
        entry.groups = self.groups;
        entry.proxy = self.proxy;
    }

    /// Trims and checks what the player typed; `Err` is a sentence for them. The proxy is checked by the caller
    /// (kage-core knows which proxies it accepts).
    pub fn validated(self) -> Result<Self, String> {
        let alias = self.alias.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty());
        if let Some(alias) = &alias
            && (alias.chars().count() > MAX_NAME || alias.chars().any(char::is_control))
        {
            return Err(format!("An alias is at most {MAX_NAME} characters, on one line."));
        }
        let colour = self.colour.trim().to_ascii_lowercase();
        let hex = colour.strip_prefix('#').filter(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()));
        if hex.is_none() {
            return Err("A colour is written like #3f8efc.".to_owned());
        }
        let mut groups: Vec<String> = Vec::new();
        for group in self.groups.iter().map(|g| g.trim()).filter(|g| !g.is_empty()) {
            if group.chars().count() > MAX_NAME || group.chars().any(char::is_control) {
                return Err(format!("A group name is at most {MAX_NAME} characters, on one line."));
            }
            if !groups.iter().any(|g| g.eq_ignore_ascii_case(group)) {
                groups.push(group.to_owned());
            }
        }
        if groups.len() > MAX_GROUPS {
            return Err(format!("An account can be in at most {MAX_GROUPS} groups."));
        }
        let proxy = self.proxy.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
        Ok(Self { alias, colour, notifications: self.notifications, groups, proxy })
    }
}

const MAX_NAME: usize = 32;
const MAX_GROUPS: usize = 16;

/// Where an account's window was last, in physical pixels (so it comes back there, whichever window shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

impl RosterEntry {
    pub fn new(account: &AccountKey, username: &str) -> Self {
        let index = account.id().bytes().fold(0usize, |acc, b| acc.wrapping_mul(31).wrapping_add(b as usize));
        Self {
            id: account.id().to_owned(),
            origin: account.origin().as_str().to_owned(),
            user_id: account.user_id().to_owned(),
            username: username.to_owned(),
            colour: PALETTE[index % PALETTE.len()].to_owned(),
            signed_out: false,
            alias: None,
            notifications: true,
            groups: Vec::new(),
            proxy: None,
        }
    }

    /// The account this entry names, if its server address is still acceptable.
    pub fn account(&self) -> Option<AccountKey> {
        let origin = ServerOrigin::parse(&self.origin).ok()?;
        let account = AccountKey::new(origin, self.user_id.clone());
        (account.id() == self.id).then_some(account)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct RosterDoc {
    accounts: Vec<RosterEntry>,
}

/// Window label -> account id (`null`: the window shows the sign-in screen).
#[derive(Debug, Default, Serialize, Deserialize)]
struct LayoutDoc {
    windows: BTreeMap<String, Option<String>>,
    /// Account id -> where its window was last.
    #[serde(default)]
    places: BTreeMap<String, Place>,
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
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
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
        for entry in self.files().roster.doc.accounts.iter() {
            for group in &entry.groups {
                if !names.contains(group) {
                    names.push(group.clone());
                }
            }
        }
        names
    }

    pub fn remove(&self, id: &str) -> Result<(), RosterError> {
        self.files().roster.change(|doc| doc.accounts.retain(|e| e.id != id))?;
        self.files().layout.change(|doc| {
            doc.places.remove(id);
        })
    }

    /// Where `account_id`'s window was last, if known.
    pub fn place(&self, account_id: &str) -> Option<Place> {
        self.files().layout.doc.places.get(account_id).copied()
    }

    /// Remembers where `account_id`'s window is (written with the next layout change, see [`Roster::flush`]):
    /// a window being dragged reports many moves a second, and each need not be a disk write.
    pub fn note_place(&self, account_id: &str, place: Place) {
        self.files().layout.doc.places.insert(account_id.to_owned(), place);
    }

    /// Writes the layout file with every place noted since the last write.
    pub fn flush(&self) -> Result<(), RosterError> {
        self.files().layout.change(|_| {})
    }

    /// Window label -> account id (`None`: the window shows the sign-in screen), sorted by label.
    pub fn layout(&self) -> Vec<(String, Option<String>)> {
        self.files().layout.doc.windows.iter().map(|(label, id)| (label.clone(), id.clone())).collect()
    }

    pub fn set_layout(&self, label: &str, account_id: Option<&str>) -> Result<(), RosterError> {
        self.files().layout.change(|doc| {
            doc.windows.insert(label.to_owned(), account_id.map(str::to_owned));
        })
    }

    pub fn remove_from_layout(&self, label: &str) -> Result<(), RosterError> {
        self.files().layout.change(|doc| {
            doc.windows.remove(label);
        })
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::sync::Arc;

    use super::*;

    fn entry(n: usize) -> RosterEntry {
        let origin = ServerOrigin::parse("https://game.example").unwrap();
        RosterEntry::new(&AccountKey::new(origin, format!("user-{n}")), &format!("player{n}"))
    }

    #[test]
    fn concurrent_saves_from_many_windows_lose_no_account() {
        let dir = tempfile::tempdir().unwrap();
        let roster = Arc::new(Roster::open(dir.path()));
        let threads: Vec<_> = (0..40)
            .map(|n| {
                let roster = roster.clone();
                std::thread::spawn(move || roster.save(entry(n)).unwrap())
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let reopened = Roster::open(dir.path());
        let mut ids: Vec<_> = reopened.list().into_iter().map(|e| e.id).collect();
        ids.sort();
        let mut expected: Vec<_> = (0..40).map(|n| entry(n).id).collect();
        expected.sort();
        assert_eq!(ids, expected, "every account saved from every thread is on disk");
        assert_eq!(reopened.notice(), None);
    }

    #[test]
    fn a_damaged_roster_is_kept_aside_and_the_player_is_told() {
        let dir = tempfile::tempdir().unwrap();
        let damaged = br#"{"accounts": [{"id": "5e1c", "origin": "https://game.exa"#;
        fs::write(dir.path().join(ROSTER_FILE), damaged).unwrap();

        let roster = Roster::open(dir.path());
        assert_eq!(roster.list(), Vec::new(), "starts empty");
        let notice = roster.notice().expect("a notice for the player");
        assert!(notice.starts_with("Kage could not read its list of saved accounts"), "{notice}");
        let kept: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("roster.json.corrupt-"))
            .collect();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert!(notice.contains(&*kept[0].file_name().unwrap().to_string_lossy()), "{notice}");
        assert_eq!(fs::read(&kept[0]).unwrap(), damaged, "the damaged file is kept byte for byte");

        // Saving again writes a fresh roster.json and leaves the kept copy alone.
        roster.save(entry(1)).unwrap();
        assert_eq!(Roster::open(dir.path()).list(), vec![RosterEntry { colour: PALETTE[0].into(), ..entry(1) }]);
        assert_eq!(fs::read(&kept[0]).unwrap(), damaged);
    }

    #[test]
    fn files_written_by_the_old_store_plugin_are_read_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let saved = entry(7);
        let roster = serde_json::json!({ "accounts": [saved] });
        fs::write(dir.path().join(ROSTER_FILE), serde_json::to_vec_pretty(&roster).unwrap()).unwrap();
        let layout = serde_json::json!({ "windows": { "acct-2": null, "acct-1": saved.id } });
        fs::write(dir.path().join(LAYOUT_FILE), serde_json::to_vec_pretty(&layout).unwrap()).unwrap();

        let roster = Roster::open(dir.path());
        assert_eq!((roster.list(), roster.notice()), (vec![saved.clone()], None));
        assert_eq!(roster.layout(), vec![("acct-1".into(), Some(saved.id)), ("acct-2".into(), None)]);
    }

    #[test]
    fn layout_changes_are_saved_and_a_removed_window_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let roster = Roster::open(dir.path());
        roster.set_layout("acct-1", Some("abc")).unwrap();
        roster.set_layout("acct-2", None).unwrap();
        roster.remove_from_layout("acct-1").unwrap();
        assert_eq!(Roster::open(dir.path()).layout(), vec![("acct-2".into(), None)]);
    }

    #[test]
    fn a_known_account_keeps_its_colour_and_new_ones_get_a_free_colour() {
        let dir = tempfile::tempdir().unwrap();
        let roster = Roster::open(dir.path());
        roster.save(entry(1)).unwrap();
        roster.save(entry(2)).unwrap();
        roster.save(RosterEntry { username: "renamed".into(), colour: "#000000".into(), ..entry(1) }).unwrap();
        let list = roster.list();
        assert_eq!((list[0].username.as_str(), list[0].colour.as_str()), ("renamed", PALETTE[0]));
        assert_eq!(list[1].colour, PALETTE[1]);
        roster.remove(&entry(1).id).unwrap();
        assert_eq!(Roster::open(dir.path()).list().len(), 1);
    }
}
