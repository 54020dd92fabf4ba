//! The overview: one small always-on-top window (label [`LABEL`], never `acct-*`) with a tile per saved
//! account, in the Ctrl+1..9 order.
//!
//! It is fed from the core over its own channel, never from another window's page: the overview's page calls
//! `overview_tiles` (a command only the `overview` capability grants; account windows do not have it, and the
//! overview has none of theirs) with a `tauri::ipc::Channel` it created, and gets every tile then and each
//! change after. Tiles are built here from the core's per-account facts ([`kage_core::overview::Board`], which
//! listens to every account's events) and the shell's view of that account's windows, one account at a time
//! ([`tile`]); each update carries its tile's key and the page replaces only the tile with that key.
//!
//! When tiles are sent: at once for what the core reports (an event, a status change, a window getting the
//! focus or closing), and a settle pass every [`SETTLE`] for what nothing reports (a window's page finished
//! loading, a `Retry-After` wait began or ended); a pass sends only the tiles that changed.

pub mod place;
pub mod tile;
pub mod window;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kage_core::AccountKey;
use kage_core::events::{AccountListener, WindowUpdate};
use kage_core::locks::Recover;
use kage_core::overview::Board;
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, Runtime};
use tokio::sync::broadcast::error::RecvError;
use ts_rs::TS;

use crate::launcher::Launcher;
use crate::state::AppState;
pub use tile::{Tile, TileInput, TileKind, TileState, tile_state};
pub use window::LABEL;

/// How often tiles nothing reports a change for are checked (a page that loaded, a rate-limit wait).
const SETTLE: Duration = Duration::from_secs(1);

/// A message on the overview's channel.
#[derive(Debug, Clone, Serialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OverviewMessage {
    /// One account's tile changed. `flash`: something arrived for it (a transfer received).
    Tile { key: String, tile: Tile, flash: bool },
    /// Accounts were added, removed or reordered: every tile, in the new order.
    Tiles { tiles: Vec<Tile> },
    /// The overview's options changed (panel → Preferences).
    Options { options: OverviewOptions },
}

/// How the overview window looks, from the preferences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
pub struct OverviewOptions {
    /// Clicks go through the window to what is under it (the overview cannot be clicked then).
    pub click_through: bool,
    /// Percent, 30..100.
    pub opacity: u8,
}

/// The overview's first answer: every tile and its options.
#[derive(Debug, Clone, Serialize, TS)]
pub struct OverviewSnapshot {
    pub tiles: Vec<Tile>,
    pub options: OverviewOptions,
}

struct Subscriber {
    channel: Channel<OverviewMessage>,
    /// What the page was last sent, to send only what changed.
    shown: Vec<Tile>,
}

/// The overview's part of the app's managed state.
pub struct Overview {
    pub board: Arc<Board>,
    pub place: place::PlaceFile,
    subscriber: Mutex<Option<Subscriber>>,
}

impl Overview {
    /// `data_dir`: where its place is kept.
    pub fn new(data_dir: &std::path::Path) -> Self {
        Self { board: Arc::default(), place: place::PlaceFile::open(data_dir), subscriber: Mutex::default() }
    }

    /// The overview page's channel; it replaces any before it (the page was reloaded).
    fn subscribe(&self, channel: Channel<OverviewMessage>, shown: Vec<Tile>) {
        *self.subscriber.lock().recover() = Some(Subscriber { channel, shown });
    }

    fn is_watched(&self) -> bool {
        self.subscriber.lock().recover().is_some()
    }
}

/// Every tile now, in the hotkeys' order: the saved accounts, then web games' accounts. Each tile is built
/// from its own account's facts only. `asleep` says whether a window's page has given up its web process
/// (hibernation); an account is hibernating when it has windows and all of them are.
pub fn tiles(
    state: &AppState,
    launcher: &Launcher,
    overview: &Overview,
    windows: &[String],
    asleep: &dyn Fn(&str) -> bool,
) -> Vec<Tile> {
    let presenter = state.presenter();
    let entries = state.roster.list();
    let mut tiles: Vec<Tile> = entries
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let account = entry.account();
            let facts =
                account.as_ref().map(|account| overview.board.facts(&state.core.sessions, &state.core.cache, account));
            let open: Vec<String> = account.as_ref().map_or_else(Vec::new, |account| {
                state
                    .core
                    .windows
                    .windows_of(account)
                    .iter()
                    .map(|label| label.as_str().to_owned())
                    .filter(|label| windows.contains(label))
                    .collect()
            });
            let input = TileInput {
                status: Some(facts.as_ref().map_or(kage_core::sessions::AccountStatus::SignedOut, |f| f.status)),
                has_window: !open.is_empty(),
                rate_limited: launcher.waiting_notice(&entry.id).is_some(),
                hibernating: all_asleep(&open, asleep),
            };
            match facts {
                Some(facts) => tile::kage_tile(&presenter, index + 1, entry, &facts, input),
                // A saved account whose server address Kage no longer accepts: named, with nothing of it known.
                None => tile::kage_tile(&presenter, index + 1, entry, &empty_facts(entry), input),
            }
        })
        .collect();
    let web = state.roster.web_accounts();
    tiles.extend(web.iter().enumerate().map(|(index, account)| {
        let open: Vec<String> =
            state.web.windows_of(&account.id).into_iter().filter(|label| windows.contains(label)).collect();
        let input = TileInput {
            status: None,
            has_window: !open.is_empty(),
            rate_limited: false,
            hibernating: all_asleep(&open, asleep),
        };
        tile::web_tile(&presenter, entries.len() + index + 1, account, input)
    }));
    tiles
}

/// [`tiles`] for the app's windows as they are now.
fn tiles_now<R: Runtime>(app: &AppHandle<R>, state: &AppState, launcher: &Launcher, overview: &Overview) -> Vec<Tile> {
    tiles(state, launcher, overview, &open_labels(app), &|label| crate::hibernation::is_asleep(app, label))
}

/// True when an account has open windows and every one of them is asleep.
fn all_asleep(open: &[String], asleep: &dyn Fn(&str) -> bool) -> bool {
    !open.is_empty() && open.iter().all(|label| asleep(label))
}

/// Facts for an entry that names no account Kage can use: nothing known.
fn empty_facts(entry: &crate::roster::RosterEntry) -> kage_core::overview::TileFacts {
    let origin = kage_core::ServerOrigin::parse("http://127.0.0.1:1").expect("a loopback origin");
    kage_core::overview::TileFacts {
        account: AccountKey::new(origin, format!("unusable-{}", entry.id)),
        status: kage_core::sessions::AccountStatus::SignedOut,
        profile: None,
        unread: 0,
    }
}

/// The overview's options from the preferences now.
pub fn options(state: &AppState) -> OverviewOptions {
    let prefs = state.prefs.get();
    OverviewOptions { click_through: prefs.overview_click_through, opacity: prefs.overview_opacity.clamp(30, 100) }
}

fn open_labels<R: Runtime>(app: &AppHandle<R>) -> Vec<String> {
    app.webview_windows().into_keys().collect()
}

/// The page's first answer, and its channel for every change after.
pub fn subscribe<R: Runtime>(app: &AppHandle<R>, channel: Channel<OverviewMessage>) -> OverviewSnapshot {
    let state = app.state::<AppState>();
    let overview = app.state::<Overview>();
    let tiles = tiles_now(app, &state, &app.state::<Launcher>(), &overview);
    overview.subscribe(channel, tiles.clone());
    OverviewSnapshot { tiles, options: options(&state) }
}

/// Sends the overview what changed since it was last told: the whole list if accounts were added, removed or
/// reordered, else each tile that differs, and `flash`'s tile in any case (something arrived for it).
pub fn push<R: Runtime>(app: &AppHandle<R>, flash: Option<&str>) {
    let (Some(state), Some(overview), Some(launcher)) =
        (app.try_state::<AppState>(), app.try_state::<Overview>(), app.try_state::<Launcher>())
    else {
        return;
    };
    if !overview.is_watched() {
        return;
    }
    let now = tiles_now(app, &state, &launcher, &overview);
    let mut subscriber = overview.subscriber.lock().recover();
    let Some(watching) = subscriber.as_mut() else { return };
    let same_accounts =
        watching.shown.len() == now.len() && watching.shown.iter().zip(&now).all(|(a, b)| a.key == b.key);
    let sent = if same_accounts {
        now.iter().zip(&watching.shown).filter(|(tile, before)| tile != before || flash == Some(tile.key.as_str())).all(
            |(tile, _)| {
                let flash = flash == Some(tile.key.as_str());
                watching
                    .channel
                    .send(OverviewMessage::Tile { key: tile.key.clone(), tile: tile.clone(), flash })
                    .is_ok()
            },
        )
    } else {
        watching.channel.send(OverviewMessage::Tiles { tiles: now.clone() }).is_ok()
    };
    if sent {
        watching.shown = now;
    } else {
        // The page is gone (the window closed or reloaded): nothing more is sent until it subscribes again.
        *subscriber = None;
    }
}

/// Tells the overview its options changed, and applies them to its window.
pub fn options_changed<R: Runtime>(app: &AppHandle<R>) {
    let (Some(state), Some(overview)) = (app.try_state::<AppState>(), app.try_state::<Overview>()) else { return };
    let options = options(&state);
    window::apply(app, options);
    if let Some(watching) = overview.subscriber.lock().recover().as_ref() {
        let _ = watching.channel.send(OverviewMessage::Options { options });
    }
}

/// A window got the focus: its account's notifications have been seen.
pub fn focused<R: Runtime>(app: &AppHandle<R>, label: &str) {
    let (Some(state), Some(overview)) = (app.try_state::<AppState>(), app.try_state::<Overview>()) else { return };
    if let Some(pin) = state.core.windows.pin_of(&kage_core::WindowLabel::new(label)) {
        overview.board.seen(&pin.account);
    }
}

/// Hears every account's updates once (a core account listener) and counts them on the board, knowing
/// whether one of the account's windows has the focus (then the player sees it there: nothing unread).
pub struct Listener<R: Runtime> {
    pub app: AppHandle<R>,
}

impl<R: Runtime> AccountListener for Listener<R> {
    fn hear(&self, account: &AccountKey, update: &WindowUpdate) {
        let (Some(state), Some(overview)) = (self.app.try_state::<AppState>(), self.app.try_state::<Overview>()) else {
            return;
        };
        let windows = state.core.windows.windows_of(account);
        let focused = windows
            .iter()
            .filter_map(|label| self.app.get_webview_window(label.as_str()))
            .any(|window| window.is_focused().unwrap_or(false));
        overview.board.heard(account, update, focused);
    }
}

/// Follows the board, the accounts' statuses and the settle tick for the rest of the run, pushing tiles to the
/// overview while it is open.
pub fn follow<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    let mut changes = app.state::<Overview>().board.changes();
    let mut statuses = app.state::<AppState>().core.sessions.status_changes();
    tauri::async_runtime::spawn(async move {
        let mut tick = tokio::time::interval(SETTLE);
        loop {
            let flash = tokio::select! {
                change = changes.recv() => match change {
                    Ok(change) if change.arrived => Some(change.account.id().to_owned()),
                    Ok(_) | Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => return,
                },
                status = statuses.recv() => match status {
                    Ok(_) | Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => return,
                },
                _ = tick.tick() => None,
            };
            push(&app, flash.as_deref());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::all_asleep;

    #[test]
    fn an_account_is_hibernating_only_when_it_has_windows_and_every_one_sleeps() {
        let asleep = |label: &str| label != "acct-2";
        assert!(!all_asleep(&[], &asleep), "no window: closed, not hibernating");
        assert!(all_asleep(&["acct-1".to_owned()], &asleep));
        assert!(all_asleep(&["acct-1".to_owned(), "acct-3".to_owned()], &asleep));
        assert!(!all_asleep(&["acct-1".to_owned(), "acct-2".to_owned()], &asleep), "one window still awake");
    }
}
