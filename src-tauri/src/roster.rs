//! Saved accounts (the roster) and the window layout, kept with tauri-plugin-store. Neither holds a secret or
//! any per-account game data: display name, server, colour, and which window showed which account.

use kage_core::{AccountKey, ServerOrigin};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tauri::{AppHandle, Runtime};
use tauri_plugin_store::StoreExt;

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
        }
    }

    /// The account this entry names, if its server address is still acceptable.
    pub fn account(&self) -> Option<AccountKey> {
        let origin = ServerOrigin::parse(&self.origin).ok()?;
        let account = AccountKey::new(origin, self.user_id.clone());
        (account.id() == self.id).then_some(account)
    }
}

fn entries_of(value: Option<Value>) -> Vec<RosterEntry> {
    value.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default()
}

pub fn list<R: Runtime>(app: &AppHandle<R>) -> Vec<RosterEntry> {
    app.store(ROSTER_FILE).map(|store| entries_of(store.get("accounts"))).unwrap_or_default()
}

pub fn find<R: Runtime>(app: &AppHandle<R>, id: &str) -> Option<RosterEntry> {
    list(app).into_iter().find(|entry| entry.id == id)
}

pub fn save<R: Runtime>(app: &AppHandle<R>, entry: RosterEntry) {
    let mut entries = list(app);
    match entries.iter_mut().find(|e| e.id == entry.id) {
        Some(existing) => *existing = RosterEntry { colour: existing.colour.clone(), ..entry },
        None => {
            // A main and its alts must look different at a glance: take a colour no saved account has yet.
            let taken: Vec<&str> = entries.iter().map(|e| e.colour.as_str()).collect();
            let free = PALETTE.iter().find(|c| !taken.contains(c)).map(|c| (*c).to_owned());
            entries.push(RosterEntry { colour: free.unwrap_or(entry.colour.clone()), ..entry });
        }
    }
    write(app, ROSTER_FILE, "accounts", json!(entries));
}

pub fn remove<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let entries: Vec<_> = list(app).into_iter().filter(|e| e.id != id).collect();
    write(app, ROSTER_FILE, "accounts", json!(entries));
}

/// Window label -> account id (`null`: the window shows the sign-in screen).
pub fn layout<R: Runtime>(app: &AppHandle<R>) -> Vec<(String, Option<String>)> {
    let map: Map<String, Value> = app
        .store(LAYOUT_FILE)
        .ok()
        .and_then(|store| store.get("windows"))
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let mut windows: Vec<_> = map.into_iter().map(|(label, id)| (label, id.as_str().map(str::to_owned))).collect();
    windows.sort();
    windows
}

pub fn set_layout<R: Runtime>(app: &AppHandle<R>, label: &str, account_id: Option<&str>) {
    let mut windows: Map<String, Value> = layout(app).into_iter().map(|(l, id)| (l, json!(id))).collect();
    windows.insert(label.to_owned(), json!(account_id));
    write(app, LAYOUT_FILE, "windows", Value::Object(windows));
}

pub fn remove_from_layout<R: Runtime>(app: &AppHandle<R>, label: &str) {
    let windows: Map<String, Value> =
        layout(app).into_iter().filter(|(l, _)| l != label).map(|(l, id)| (l, json!(id))).collect();
    write(app, LAYOUT_FILE, "windows", Value::Object(windows));
}

fn write<R: Runtime>(app: &AppHandle<R>, file: &str, key: &str, value: Value) {
    match app.store(file) {
        Ok(store) => {
            store.set(key, value);
            if let Err(error) = store.save() {
                log::warn!("could not save {file}: {error}");
            }
        }
        Err(error) => log::warn!("could not open {file}: {error}"),
    }
}
