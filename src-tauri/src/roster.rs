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
use std::io;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use kage_core::{AccountKey, ServerOrigin};
use serde::{Deserialize, Serialize};

use crate::durable::{JsonFile, Opened};

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
}

/// One file and what this run knows of it. `writable` is false when the file could be neither read nor moved
/// aside: then changes live in memory for this run and nothing is written over the player's data.
struct Kept<T> {
    file: JsonFile,
    doc: T,
    writable: bool,
}

impl<T: Serialize + serde::de::DeserializeOwned + Default> Kept<T> {
    fn open(file: JsonFile, what: &str, notices: &mut Vec<String>) -> Self {
        let (doc, writable) = match file.open() {
            Opened::Read(doc) => (doc, true),
            Opened::MovedAside { kept_as } => {
                let kept = kept_as.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                notices.push(format!("Kage could not read its {what}; the damaged file was kept as {kept}."));
                (T::default(), true)
            }
            Opened::Unreadable(error) => {
                notices.push(format!(
                    "Kage could not read its {what} ({}: {error}); changes are kept for this run only.",
                    file.name()
                ));
                (T::default(), false)
            }
        };
        Self { file, doc, writable }
    }

    /// The one read-modify-write: change the document, then write it whole. The change stays in memory even if
    /// the write fails, so this run goes on showing what the player did; the error says it was not saved.
    fn change(&mut self, edit: impl FnOnce(&mut T)) -> Result<(), RosterError> {
        edit(&mut self.doc);
        if !self.writable {
            return Err(RosterError::Unreadable { file: self.file.name() });
        }
        self.file.save(&self.doc).map_err(|source| RosterError::Write { file: self.file.name(), source })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RosterError {
    #[error("{file} could not be written: {source}")]
    Write { file: String, source: io::Error },
    #[error("{file} could not be read at start-up, so Kage does not write over it")]
    Unreadable { file: String },
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
                Some(existing) => *existing = RosterEntry { colour: existing.colour.clone(), ..entry },
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

    pub fn remove(&self, id: &str) -> Result<(), RosterError> {
        self.files().roster.change(|doc| doc.accounts.retain(|e| e.id != id))
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
