//! The game's data as the server sends it (see docs/protocol.md).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct Profile {
    pub id: String,
    pub username: String,
    pub level: i64,
    pub xp: i64,
    pub village: String,
    pub ryo: i64,
    pub stats: Stats,
    /// Increases on every change: of two copies, the higher version is the newer.
    pub version: i64,
    pub updated_at: String,
    /// The game's rules, sent with every profile; absent (null) in a copy cached from a server that does not
    /// send them, or from before it did.
    #[serde(default)]
    pub rules: Option<Rules>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct Stats {
    pub strength: i64,
    pub agility: i64,
    pub chakra: i64,
}

/// The game's rules as its server states them (docs/protocol.md): which villages there are, what travel costs,
/// how much xp a level takes, the largest transfer. The page shows these, never copies of its own.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct Rules {
    pub villages: Vec<String>,
    pub travel_cost: i64,
    pub xp_per_training: i64,
    pub xp_per_level: i64,
    pub max_transfer: i64,
}

/// A profile answer labelled with the account it is about, as the page receives it: the page drops anything
/// not for the account it shows (defence in depth for I3, since a channel message and a command answer have
/// no ordering guarantee around a switch).
///
// Only kage-core makes one (`Core::profile` and the actions beside it), from the pin the client checked the
// answer against, so the label cannot name another account than the answer's: the fields are private, and
// the shell can only rename what the page sees (`AccountProfile::map_profile`).
#[derive(Debug, Clone, Serialize, TS)]
pub struct AccountProfile {
    account: String,
    profile: Profile,
}

impl AccountProfile {
    pub(crate) fn new(account: &crate::account::AccountKey, profile: Profile) -> Self {
        Self { account: account.id().to_owned(), profile }
    }

    /// The id of the account the answer is about.
    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn into_profile(self) -> Profile {
        self.profile
    }

    /// The same answer with its profile changed by `f` (given the account id), under the same label.
    pub fn map_profile(self, f: impl FnOnce(&str, Profile) -> Profile) -> Self {
        let profile = f(&self.account, self.profile);
        Self { account: self.account, profile }
    }
}
