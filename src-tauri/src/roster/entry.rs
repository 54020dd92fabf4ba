//! A saved account as the roster keeps it, and the settings a player can change about it.

use kage_core::{AccountKey, ServerOrigin};
use serde::{Deserialize, Serialize};

/// Colours an account's windows are told apart by, chosen from the account id so they stay put.
pub(super) const PALETTE: &[&str] =
    &["#e05d44", "#3f8efc", "#2bb673", "#b65fe0", "#f0a202", "#14b8c4", "#e0457b", "#8a9a5b"];

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
        let groups = checked_groups(&self.groups)?;
        let proxy = self.proxy.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
        Ok(Self { alias, colour, notifications: self.notifications, groups, proxy })
    }
}

/// The launch groups the player typed for an account (a Kage account's or a web account's): trimmed, each once
/// (case aside), at most [`MAX_GROUPS`]; `Err` is a sentence for the player.
pub(super) fn checked_groups(typed: &[String]) -> Result<Vec<String>, String> {
    let mut groups: Vec<String> = Vec::new();
    for group in typed.iter().map(|g| g.trim()).filter(|g| !g.is_empty()) {
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
    Ok(groups)
}

pub(super) const MAX_NAME: usize = 32;
const MAX_GROUPS: usize = 16;

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
