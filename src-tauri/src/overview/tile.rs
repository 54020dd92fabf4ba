//! One tile of the overview: what it says about one account, decided by plain functions of that account's own
//! facts (tested without a desktop). Names go through the [`Presenter`], so streamer mode holds here too; a
//! tile's key is the account's roster id (or web account id), an opaque hash, never a user id.

use kage_core::overview::TileFacts;
use kage_core::sessions::AccountStatus;
use serde::Serialize;
use ts_rs::TS;

use crate::display::Presenter;
use crate::roster::{RosterEntry, WebAccount};

/// What a tile says an account is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TileState {
    SignedIn,
    /// Its session is being set up (start-up, a restore from the keychain).
    Connecting,
    Offline,
    NeedsSignIn,
    KeychainTrouble,
    /// The server answered `429 Retry-After`: its window opens when the wait is over.
    RateLimited,
    /// Its window gave up its web process; the account stays signed in.
    Hibernating,
    /// No window shows it.
    Closed,
    /// A web game's account with a window open (Kage does not know whether the site has it signed in).
    Open,
}

/// Whether a tile is a Kage-protocol account or a web game's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TileKind {
    Kage,
    Web,
}

/// What the shell knows of an account's windows, the other half of a tile's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TileInput {
    /// The account's session state; `None` for a web game's account (Kage holds no session for it).
    pub status: Option<AccountStatus>,
    pub has_window: bool,
    pub rate_limited: bool,
    pub hibernating: bool,
}

/// The one place a tile's state is decided. A wait on the server comes first (the player is waiting on it),
/// then hibernation, then whether a window shows the account at all, then its session.
pub fn tile_state(input: TileInput) -> TileState {
    if input.rate_limited {
        return TileState::RateLimited;
    }
    if input.hibernating {
        return TileState::Hibernating;
    }
    if !input.has_window {
        return TileState::Closed;
    }
    match input.status {
        None => TileState::Open,
        Some(AccountStatus::SignedIn) => TileState::SignedIn,
        Some(AccountStatus::Loading) => TileState::Connecting,
        Some(AccountStatus::Offline) => TileState::Offline,
        Some(AccountStatus::SignedOut) => TileState::NeedsSignIn,
        Some(AccountStatus::KeychainLocked) => TileState::KeychainTrouble,
    }
}

/// One account's tile, as the overview page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct Tile {
    /// The account's roster id (or web account id): the page replaces a tile only with an update of this key.
    pub key: String,
    pub kind: TileKind,
    /// Its Ctrl+1..9 number (1 for the first saved account).
    pub position: usize,
    pub name: String,
    pub colour: String,
    pub state: TileState,
    /// Kage-protocol accounts, once a profile is known.
    pub level: Option<i64>,
    /// `None` also while streamer mode hides balances.
    pub ryo: Option<i64>,
    /// Notifications since one of the account's windows last had the focus.
    pub unread: u32,
}

/// A Kage-protocol account's tile, from `facts`, which must be `entry`'s own account's (the caller reads them
/// for that account only; a profile of another player is dropped here again).
pub fn kage_tile(
    presenter: &Presenter,
    position: usize,
    entry: &RosterEntry,
    facts: &TileFacts,
    input: TileInput,
) -> Tile {
    let own = facts.account.id() == entry.id;
    let profile = facts.profile.as_ref().filter(|profile| own && profile.id == entry.user_id);
    Tile {
        key: entry.id.clone(),
        kind: TileKind::Kage,
        position,
        name: presenter.name(entry),
        colour: entry.colour.clone(),
        state: tile_state(input),
        level: profile.map(|p| p.level),
        ryo: profile.filter(|_| !presenter.hides_balances()).map(|p| p.ryo),
        unread: if own { facts.unread } else { 0 },
    }
}

/// A web game's account's tile: its name and whether a window shows it.
pub fn web_tile(presenter: &Presenter, position: usize, account: &WebAccount, input: TileInput) -> Tile {
    Tile {
        key: account.id.clone(),
        kind: TileKind::Web,
        position,
        name: presenter.web_name(account),
        colour: account.colour.clone(),
        state: tile_state(TileInput { status: None, ..input }),
        level: None,
        ryo: None,
        unread: 0,
    }
}

#[cfg(test)]
mod tests {
    use kage_core::model::{Profile, Stats};
    use kage_core::{AccountKey, ServerOrigin};

    use super::*;

    fn entry(user: &str, alias: Option<&str>) -> RosterEntry {
        let origin = ServerOrigin::parse("https://game.example").unwrap();
        RosterEntry { alias: alias.map(str::to_owned), ..RosterEntry::new(&AccountKey::new(origin, user), user) }
    }

    fn profile(user_id: &str, level: i64, ryo: i64) -> Profile {
        Profile {
            id: user_id.to_owned(),
            username: user_id.to_owned(),
            level,
            xp: 0,
            village: "Leaf".into(),
            ryo,
            stats: Stats { strength: 1, agility: 1, chakra: 1 },
            version: 1,
            updated_at: "2026-12-04T00:00:00Z".into(),
            rules: None,
        }
    }

    fn facts(of: &RosterEntry, profile: Option<Profile>, unread: u32) -> TileFacts {
        TileFacts { account: of.account().unwrap(), status: AccountStatus::SignedIn, profile, unread }
    }

    const OPEN: TileInput =
        TileInput { status: Some(AccountStatus::SignedIn), has_window: true, rate_limited: false, hibernating: false };

    #[test]
    fn a_tiles_state_follows_the_wait_then_hibernation_then_its_window_then_its_session() {
        let with = |status| TileInput { status: Some(status), ..OPEN };
        assert_eq!(tile_state(OPEN), TileState::SignedIn);
        assert_eq!(tile_state(with(AccountStatus::Offline)), TileState::Offline);
        assert_eq!(tile_state(with(AccountStatus::SignedOut)), TileState::NeedsSignIn);
        assert_eq!(tile_state(with(AccountStatus::KeychainLocked)), TileState::KeychainTrouble);
        assert_eq!(tile_state(with(AccountStatus::Loading)), TileState::Connecting);
        assert_eq!(tile_state(TileInput { has_window: false, ..OPEN }), TileState::Closed);
        assert_eq!(tile_state(TileInput { status: None, ..OPEN }), TileState::Open, "a web account's window");
        assert_eq!(tile_state(TileInput { hibernating: true, ..OPEN }), TileState::Hibernating);
        assert_eq!(tile_state(TileInput { hibernating: true, has_window: false, ..OPEN }), TileState::Hibernating);
        let waiting = TileInput { rate_limited: true, hibernating: true, has_window: false, ..OPEN };
        assert_eq!(tile_state(waiting), TileState::RateLimited);
    }

    #[test]
    fn a_tile_shows_only_its_own_accounts_numbers() {
        let (main, alt) = (entry("u-main", Some("Main")), entry("u-alt", Some("Alt")));
        let presenter = Presenter::new(false, false, vec![main.clone(), alt.clone()]);
        let tile = kage_tile(&presenter, 1, &main, &facts(&main, Some(profile("u-main", 4, 1200)), 2), OPEN);
        assert_eq!((tile.key.as_str(), tile.level, tile.ryo, tile.unread), (main.id.as_str(), Some(4), Some(1200), 2));
        // Facts of another account, or a profile of another player, never reach this tile.
        let stray = kage_tile(&presenter, 1, &main, &facts(&alt, Some(profile("u-alt", 9, 999)), 5), OPEN);
        assert_eq!((stray.level, stray.ryo, stray.unread), (None, None, 0));
        let foreign = kage_tile(&presenter, 1, &main, &facts(&main, Some(profile("u-alt", 9, 999)), 0), OPEN);
        assert_eq!((foreign.level, foreign.ryo), (None, None));
    }

    #[test]
    fn a_web_accounts_tile_is_open_or_closed_with_no_numbers_and_streamer_mode_hides_its_name() {
        let game = crate::roster::Game::web(Some("Ninja Web"), "https://ninja.example/").unwrap();
        let account = WebAccount {
            id: "0123456789abcdef0123456789abcdef".into(),
            game: game.id.clone(),
            name: "naruto-web".into(),
            partition: "fedcba9876543210fedcba9876543210".into(),
            colour: "#2bb673".into(),
            alias: None,
            proxy: None,
            sign_in_origin: None,
            notifications: true,
            groups: Vec::new(),
        };
        let streaming = Presenter::new(true, false, Vec::new()).with_web(vec![account.clone()], vec![game]);
        let tile = web_tile(&streaming, 3, &account, OPEN);
        assert_eq!((tile.kind, tile.state, tile.ryo, tile.level), (TileKind::Web, TileState::Open, None, None));
        assert!(!tile.name.contains("naruto"), "{tile:?}");
        let closed = web_tile(&streaming, 3, &account, TileInput { has_window: false, ..OPEN });
        assert_eq!(closed.state, TileState::Closed);
    }

    #[test]
    fn in_streamer_mode_a_tile_names_no_username_and_can_hide_ryo() {
        let (main, plain) = (entry("u-main", Some("Main")), entry("u-sasuke", None));
        let presenter = Presenter::new(true, true, vec![main.clone(), plain.clone()]);
        let tile = kage_tile(&presenter, 2, &plain, &facts(&plain, Some(profile("u-sasuke", 3, 77)), 0), OPEN);
        assert_eq!((tile.name.as_str(), tile.ryo, tile.level), ("Account 2", None, Some(3)));
        let shown = serde_json::to_string(&tile).unwrap();
        assert!(!shown.contains("sasuke") && !shown.contains("game.example"), "{shown}");
    }
}
