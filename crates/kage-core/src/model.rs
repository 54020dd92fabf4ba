//! The game's data as the server sends it (see docs/protocol.md).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
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
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stats {
    pub strength: i64,
    pub agility: i64,
    pub chakra: i64,
}
