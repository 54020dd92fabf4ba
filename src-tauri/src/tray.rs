//! The tray icon: every saved account with how it is doing, and the commands that act on all windows at once
//! ("Open all", a launch group, "Show all windows", "Tile windows", "Quit").
//!
//! What the menu says is decided by [`entries`], a plain function of the app's state, so it is tested without a
//! desktop. Names go through the [`Presenter`](crate::display::Presenter) like every window title, so streamer
//! mode hides usernames here too; the tray never shows a token, a user id or a server address, and its menu ids
//! carry roster ids (opaque hashes), never user ids.

use std::panic::AssertUnwindSafe;

use kage_core::sessions::AccountStatus;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};

use crate::launcher::{self, Launch};
use crate::state::AppState;

const TRAY_ID: &str = "kage";

/// What clicking a tray item does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayAction {
    /// Brings the saved account's window forward, or opens one. Holds its roster id.
    Account(String),
    /// The same for a web game's account. Holds its (opaque) web account id.
    WebAccount(String),
    OpenAll,
    OpenGroup(String),
    ShowAll,
    Tile,
    /// The overview window.
    Overview,
    Quit,
}

impl TrayAction {
    /// The menu item's id, read back by [`TrayAction::from_id`] when the item is clicked.
    pub fn id(&self) -> String {
        match self {
            Self::Account(roster_id) => format!("account:{roster_id}"),
            Self::WebAccount(id) => format!("web:{id}"),
            Self::OpenAll => "open-all".to_owned(),
            Self::OpenGroup(group) => format!("group:{group}"),
            Self::ShowAll => "show-all".to_owned(),
            Self::Tile => "tile".to_owned(),
            Self::Overview => "overview".to_owned(),
            Self::Quit => "quit".to_owned(),
        }
    }

    pub fn from_id(id: &str) -> Option<Self> {
        if let Some(roster_id) = id.strip_prefix("account:") {
            return Some(Self::Account(roster_id.to_owned()));
        }
        if let Some(web) = id.strip_prefix("web:") {
            return Some(Self::WebAccount(web.to_owned()));
        }
        if let Some(group) = id.strip_prefix("group:") {
            return Some(Self::OpenGroup(group.to_owned()));
        }
        match id {
            "open-all" => Some(Self::OpenAll),
            "show-all" => Some(Self::ShowAll),
            "tile" => Some(Self::Tile),
            "overview" => Some(Self::Overview),
            "quit" => Some(Self::Quit),
            _ => None,
        }
    }
}

/// One line of the tray menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayEntry {
    pub label: String,
    /// `None`: a line that only informs ("No saved accounts yet"), shown greyed out.
    pub action: Option<TrayAction>,
}

impl TrayEntry {
    /// The menu item's id (informing lines share one that does nothing).
    pub fn id(&self) -> String {
        self.action.as_ref().map_or_else(|| "note".to_owned(), TrayAction::id)
    }

    /// Which block of the menu the entry is in; blocks are split by separators.
    fn block(&self) -> u8 {
        match self.action {
            None | Some(TrayAction::Account(_) | TrayAction::WebAccount(_)) => 0,
            Some(TrayAction::OpenAll | TrayAction::OpenGroup(_)) => 1,
            Some(TrayAction::ShowAll | TrayAction::Tile | TrayAction::Overview) => 2,
            Some(TrayAction::Quit) => 3,
        }
    }
}

/// The tray menu for the state as it is now: the saved accounts in roster order, each with its status, then
/// "Open all" and one item per launch group, then the window commands and "Quit".
pub fn entries(state: &AppState) -> Vec<TrayEntry> {
    let presenter = state.presenter();
    let roster = state.roster.list();
    let mut entries: Vec<TrayEntry> = roster
        .iter()
        .map(|entry| {
            let status = entry.account().map_or(AccountStatus::SignedOut, |a| state.core.sessions.status(&a));
            TrayEntry {
                label: format!("{} · {}", presenter.name(entry), status_words(status)),
                action: Some(TrayAction::Account(entry.id.clone())),
            }
        })
        .collect();
    // Web games' accounts: named through the presenter too (an alias or "Web account N" in streamer mode).
    let games = state.roster.games();
    let web_accounts = state.roster.web_accounts();
    entries.extend(web_accounts.iter().map(|account| {
        let game = games.iter().find(|g| g.id == account.game).map_or("", |g| g.name.as_str());
        TrayEntry {
            label: format!("{} · {game}", presenter.web_name(account)),
            action: Some(TrayAction::WebAccount(account.id.clone())),
        }
    }));
    if roster.is_empty() && web_accounts.is_empty() {
        entries.push(TrayEntry { label: "No saved accounts yet".to_owned(), action: None });
    }
    // Open all and groups hold web games' accounts too.
    if !roster.is_empty() || !web_accounts.is_empty() {
        entries.push(TrayEntry { label: "Open all".to_owned(), action: Some(TrayAction::OpenAll) });
        entries.extend(state.roster.groups().into_iter().map(|group| TrayEntry {
            label: format!("Open group “{group}”"),
            action: Some(TrayAction::OpenGroup(group)),
        }));
    }
    entries.extend([
        TrayEntry { label: "Show all windows".to_owned(), action: Some(TrayAction::ShowAll) },
        TrayEntry { label: "Tile windows".to_owned(), action: Some(TrayAction::Tile) },
        TrayEntry { label: "Overview".to_owned(), action: Some(TrayAction::Overview) },
        TrayEntry { label: "Quit Kage".to_owned(), action: Some(TrayAction::Quit) },
    ]);
    entries
}

fn status_words(status: AccountStatus) -> &'static str {
    match status {
        AccountStatus::SignedIn => "signed in",
        AccountStatus::Offline => "offline",
        AccountStatus::SignedOut => "needs sign-in",
        AccountStatus::KeychainLocked => "keychain trouble",
        AccountStatus::Loading => "connecting",
    }
}

/// Puts the tray icon up and keeps its statuses fresh. A desktop without a tray is logged, never fatal: every
/// tray item has another way in (the accounts panel, the window shortcuts).
pub fn install<R: Runtime>(app: &AppHandle<R>) {
    // On Linux the tray library is loaded when first used, and its loader panics when the desktop has none
    // (no libayatana-appindicator): that must cost the tray, not the app.
    match std::panic::catch_unwind(AssertUnwindSafe(|| build(app))) {
        Ok(Ok(())) => {
            log::info!("tray icon up");
        }
        Ok(Err(error)) => log::warn!("no tray icon: {error}"),
        Err(_) => log::warn!("no tray icon: this desktop's tray library could not be loaded"),
    }
}

fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let state = app.state::<AppState>();
    let mut tray = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("Kage")
        .menu(&menu(app, &entries(&state))?)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event);
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Builds the menu again (an account's name, status or groups changed, or streamer mode was switched).
pub fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let (Some(tray), Some(state)) = (app.tray_by_id(TRAY_ID), app.try_state::<AppState>()) else {
        return;
    };
    if let Err(error) = menu(app, &entries(&state)).and_then(|menu| tray.set_menu(Some(menu))) {
        log::warn!("could not update the tray menu: {error}");
    }
}

fn menu<R: Runtime>(app: &AppHandle<R>, entries: &[TrayEntry]) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    let mut block = None;
    for entry in entries {
        if block.is_some_and(|block| block != entry.block()) {
            menu.append(&PredefinedMenuItem::separator(app)?)?;
        }
        block = Some(entry.block());
        // A lone `&` marks a keyboard mnemonic in menu text: a name like "Tom & Jerry" must show as written.
        let text = entry.label.replace('&', "&&");
        menu.append(&MenuItem::with_id(app, entry.id(), text, entry.action.is_some(), None::<&str>)?)?;
    }
    Ok(menu)
}

/// Rebuilds the menu whenever an account's status changes, once per burst.
fn on_menu_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    if let Some(action) = TrayAction::from_id(event.id().as_ref()) {
        act(app, action);
    }
}

fn act<R: Runtime>(app: &AppHandle<R>, action: TrayAction) {
    let state = app.state::<AppState>();
    match action {
        TrayAction::Account(roster_id) => {
            // Forgotten since the menu was built: nothing to open.
            let Some(entry) = state.roster.find(&roster_id) else { return };
            match entry.account().and_then(|account| crate::windows::window_of(app, &account)) {
                Some(window) => bring_forward(&window),
                None => launcher::enqueue(app, vec![Launch::bring(entry)]),
            }
        }
        TrayAction::WebAccount(id) => {
            if let Err(error) = crate::web::window::bring_or_open(app, &id) {
                log::warn!("open a web account from the tray: {error}");
            }
        }
        TrayAction::OpenAll => open_members(app, None),
        TrayAction::OpenGroup(group) => open_members(app, Some(&group)),
        TrayAction::ShowAll => {
            // Taken first: windows the restore opens show themselves once their page has loaded.
            let open = crate::windows::in_order(app);
            if let Err(error) = launcher::restore_if_none(app) {
                log::warn!("reopen windows from the tray: {error}");
            }
            open.iter().for_each(bring_forward);
        }
        TrayAction::Tile => {
            if let Err(error) = crate::windows::tile(app, None) {
                log::warn!("tile windows from the tray: {error}");
            }
        }
        TrayAction::Overview => crate::cli::arrived::open_overview(app),
        TrayAction::Quit => app.exit(0),
    }
}

fn open_members<R: Runtime>(app: &AppHandle<R>, group: Option<&str>) {
    crate::group_launch::open_members(app, group);
}

fn bring_forward<R: Runtime>(window: &tauri::WebviewWindow<R>) {
    crate::hibernation::wake(window);
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
}

#[cfg(test)]
mod tests {

    use kage_core::{AccountKey, ServerOrigin};

    use super::*;
    use crate::prefs::Prefs;
    use crate::roster::{AccountSettings, RosterEntry};

    async fn state_with_accounts(dir: &std::path::Path) -> (AppState, Vec<RosterEntry>) {
        let state = AppState::for_tests(dir).await;
        let origin = ServerOrigin::parse("https://game.example").unwrap();
        for (user_id, username) in [("u-7f3a91", "naruto"), ("u-0c22d4", "sasuke"), ("u-99e1b0", "sakura")] {
            state.roster.save(RosterEntry::new(&AccountKey::new(origin.clone(), user_id), username)).unwrap();
        }
        let saved = state.roster.list();
        let settings = |alias: Option<&str>, groups: &[&str], entry: &RosterEntry| AccountSettings {
            alias: alias.map(str::to_owned),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            ..AccountSettings::of(entry)
        };
        state.roster.set_settings(&saved[0].id, settings(Some("Main"), &["Farm"], &saved[0])).unwrap();
        state.roster.set_settings(&saved[1].id, settings(None, &["Farm", "Raid"], &saved[1])).unwrap();
        (state, saved)
    }

    fn labels(entries: &[TrayEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.label.as_str()).collect()
    }

    #[tokio::test]
    async fn web_accounts_have_tray_entries_and_streamer_mode_hides_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::for_tests(dir.path()).await;
        let game = crate::roster::Game::web(Some("Ninja Web"), "https://ninja.example/").unwrap();
        state.roster.add_game(game.clone()).unwrap();
        let main = state.roster.add_web_account(&game.id, "naruto-web").unwrap();
        state.roster.add_web_account(&game.id, "sasuke-web").unwrap();
        state.roster.rename_web_account(&main.id, "naruto-web", Some("Main")).unwrap();
        let plain = entries(&state);
        assert_eq!(labels(&plain)[..2], ["Main (naruto-web) · Ninja Web", "sasuke-web · Ninja Web"]);
        assert_eq!(plain[0].action, Some(TrayAction::WebAccount(main.id.clone())));
        assert!(!labels(&plain).contains(&"No saved accounts yet"));
        state.prefs.set(Prefs { streamer_mode: true, ..Prefs::default() }).unwrap();
        let streaming = entries(&state);
        assert_eq!(labels(&streaming)[..2], ["Main · Ninja Web", "Web account 2 · Ninja Web"]);
        for entry in &streaming {
            assert!(!entry.label.contains("-web") && !entry.id().contains(&main.partition), "{entry:?}");
        }
    }

    #[tokio::test]
    async fn in_streamer_mode_no_tray_entry_names_a_saved_username() {
        let dir = tempfile::tempdir().unwrap();
        let (state, saved) = state_with_accounts(dir.path()).await;
        state.prefs.set(Prefs { streamer_mode: true, ..Prefs::default() }).unwrap();

        let entries = entries(&state);
        for entry in &entries {
            for account in &saved {
                let shown = format!("{} {}", entry.label, entry.id()).to_lowercase();
                assert!(!shown.contains(&account.username), "{:?} names {}", entry, account.username);
                assert!(!shown.contains(&account.user_id), "{:?} holds a user id", entry);
                assert!(!shown.contains("game.example"), "{:?} shows the server", entry);
            }
        }
        assert_eq!(
            labels(&entries)[..3],
            ["Main · needs sign-in", "Account 2 · needs sign-in", "Account 3 · needs sign-in"]
        );
    }

    #[tokio::test]
    async fn out_of_streamer_mode_the_tray_names_accounts_and_lists_every_group() {
        let dir = tempfile::tempdir().unwrap();
        let (state, saved) = state_with_accounts(dir.path()).await;
        state.core.sessions.restore(&saved[2].account().unwrap());

        let entries = entries(&state);
        assert_eq!(
            labels(&entries),
            [
                "Main (naruto) · needs sign-in",
                "sasuke · needs sign-in",
                "sakura · connecting",
                "Open all",
                "Open group “Farm”",
                "Open group “Raid”",
                "Show all windows",
                "Tile windows",
                "Overview",
                "Quit Kage",
            ]
        );
        assert_eq!(entries[0].action, Some(TrayAction::Account(saved[0].id.clone())));
        assert_eq!(entries[5].action, Some(TrayAction::OpenGroup("Raid".into())));
        for entry in &entries {
            assert!(saved.iter().all(|a| !entry.id().contains(&a.user_id)), "{:?} holds a user id", entry);
        }
    }

    #[tokio::test]
    async fn with_no_saved_account_the_tray_says_so_and_offers_no_launch() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::for_tests(dir.path()).await;
        let entries = entries(&state);
        assert_eq!(
            labels(&entries),
            ["No saved accounts yet", "Show all windows", "Tile windows", "Overview", "Quit Kage"]
        );
        assert_eq!(entries[0].action, None);
    }

    #[test]
    fn every_menu_id_reads_back_as_its_action() {
        let actions = [
            TrayAction::Account("5e1c0a".into()),
            TrayAction::WebAccount("0123456789abcdef0123456789abcdef".into()),
            TrayAction::OpenAll,
            TrayAction::OpenGroup("Farm: east".into()),
            TrayAction::ShowAll,
            TrayAction::Tile,
            TrayAction::Overview,
            TrayAction::Quit,
        ];
        for action in actions {
            assert_eq!(TrayAction::from_id(&action.id()), Some(action));
        }
        assert_eq!(TrayAction::from_id("note"), None);
    }
}
