//! A web account's windows: the game's site in a webview whose data store is the account's own partition,
//! chosen here, in Rust, when the window is created, and never changed after (I13).
//!
//! What a web window may show is decided by [`decide`] for every navigation (the top window's and, on WebKitGTK,
//! every frame's) and every popup: http(s) of the game's allowed origins stays in the account; another site
//! opens in the system browser; anything else (Kage's own `tauri://` page, a file) is refused. A popup within
//! the origins (`window.open`, `target=_blank`, a "sign in with..." window) becomes a Kage window of the same
//! account, built as a view related to its opener, so it shares the opener's partition and keeps
//! `window.opener`.

use tauri::webview::{NewWindowFeatures, NewWindowResponse, PageLoadEvent};
use tauri::{AppHandle, Manager, Runtime, Url, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

use super::new_label;
use crate::roster::{Game, WebAccount};
use crate::state::AppState;

/// Where a web window's navigation (or popup) goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Navigation {
    /// Within the game: it loads here, in the account's partition.
    Stay,
    /// Another site: the system browser, never this partition.
    Browser,
    /// Never: Kage's own page, a file, a custom scheme, or the account is gone.
    Refuse,
}

/// The rule for `url` in a window of `game` (`None`: the account or its game is no longer saved).
pub fn decide(game: Option<&Game>, url: &Url) -> Navigation {
    let Some(game) = game else { return Navigation::Refuse };
    // The empty page a popup starts on; nothing of Kage's and nothing of another site runs in it.
    if url.as_str() == "about:blank" || url.as_str() == "about:srcdoc" {
        return Navigation::Stay;
    }
    if game.allows(url) {
        return Navigation::Stay;
    }
    match url.scheme() {
        "http" | "https" => Navigation::Browser,
        _ => Navigation::Refuse,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebWindowError {
    #[error("That web account is not saved here.")]
    NotFound,
    #[error("Kage could not prepare this account's web data folder: {0}.")]
    Partition(std::io::Error),
    /// The account's saved proxy cannot be used: it does not open rather than go direct.
    #[error("{0} Kage does not open this account without its proxy: fix it under the account's Settings.")]
    Proxy(String),
    #[error("Could not open a window: {0}.")]
    Window(#[from] tauri::Error),
    /// A macOS before 14 has one web data store, and another web account holds it (`web/store.rs`).
    #[cfg_attr(not(target_os = "macos"), allow(dead_code))]
    #[error("{}", super::store::SHARED_STORE_TAKEN)]
    SharedStore,
}

/// Brings `account_id`'s window forward, or opens one when it has none.
pub fn bring_or_open<R: Runtime>(app: &AppHandle<R>, account_id: &str) -> Result<WebviewWindow<R>, WebWindowError> {
    let state = app.state::<AppState>();
    if let Some(window) = state.web.windows_of(account_id).iter().find_map(|label| app.get_webview_window(label)) {
        let _ = window.unminimize();
        let _ = window.set_focus();
        return Ok(window);
    }
    open(app, account_id)
}

/// Opens a new window of web account `account_id` at its game's start URL.
pub fn open<R: Runtime>(app: &AppHandle<R>, account_id: &str) -> Result<WebviewWindow<R>, WebWindowError> {
    open_labelled(app, account_id, new_label())
}

/// [`open`] with the label a window had in the last run (a restart puts it back); the window is remembered in
/// the layout under it, so the next restart brings it back too.
pub fn open_labelled<R: Runtime>(
    app: &AppHandle<R>,
    account_id: &str,
    label: String,
) -> Result<WebviewWindow<R>, WebWindowError> {
    let state = app.state::<AppState>();
    let account = state.roster.web_account(account_id).ok_or(WebWindowError::NotFound)?;
    let start = state.roster.game(&account.game).and_then(|game| game.start()).ok_or(WebWindowError::NotFound)?;
    let window = build(app, &account, WebviewUrl::External(start), None, label)?;
    super::places::put_back(&window, &account.id);
    if let Err(error) = state.roster.set_layout(window.label(), Some(&account.id)) {
        log::warn!("window layout: {error}");
    }
    Ok(window)
}

/// Closes web account `account_id`'s windows (a wipe, a new proxy) and forgets them in the layout: they do not
/// come back at the next start.
pub fn close_all<R: Runtime>(app: &AppHandle<R>, account_id: &str) {
    let state = app.state::<AppState>();
    for label in state.web.windows_of(account_id) {
        if let Err(error) = state.roster.remove_from_layout(&label) {
            log::warn!("window layout: {error}");
        }
        if let Some(window) = app.get_webview_window(&label) {
            let _ = window.destroy();
        }
    }
}

/// Puts back the web windows of the last run (`label` -> web account id, from the layout), each at its game's
/// start URL in its account's partition. Called after Kage's own windows are up.
pub fn restore<R: Runtime>(app: &AppHandle<R>, windows: Vec<(String, String)>) {
    for (label, account_id) in windows {
        if app.get_webview_window(&label).is_some() {
            continue;
        }
        if let Err(error) = open_labelled(app, &account_id, label) {
            log::warn!("a web window of the last run was not reopened: {error}");
        }
    }
}

/// Builds a window of `account` showing `url`, in the account's partition; `features`: it answers a popup of
/// one of the account's windows (it must then be a view related to that opener).
fn build<R: Runtime>(
    app: &AppHandle<R>,
    account: &WebAccount,
    url: WebviewUrl,
    features: Option<NewWindowFeatures>,
    label: String,
) -> Result<WebviewWindow<R>, WebWindowError> {
    let state = app.state::<AppState>();
    // Never direct instead of through the player's proxy: a proxy that cannot be used opens nothing.
    let proxy = account
        .proxy
        .as_deref()
        .map(crate::roster::web_proxy)
        .transpose()
        .map_err(|error| WebWindowError::Proxy(error.to_string()))?;
    // Created 0700 before WebKit sees it; the one function that spells the path (see `partition.rs`).
    let dir = state.web.partitions.prepare(&account.partition).map_err(WebWindowError::Partition)?;
    let (on_nav, on_popup) = (app.clone(), app.clone());
    let (nav_account, popup_account) = (account.id.clone(), account.id.clone());
    let mut builder = WebviewWindowBuilder::new(app, &label, url)
        .title(state.presenter().web_title(&account.id))
        .inner_size(1024.0, 768.0)
        .min_inner_size(320.0, 300.0)
        .data_directory(dir.clone())
        .on_download(super::downloads::handler(app, dir))
        .visible(false)
        .on_page_load(|window, page| {
            if page.event() == PageLoadEvent::Finished {
                crate::windows::show(&window);
            }
        })
        .on_navigation(move |url| navigate(&on_nav, &nav_account, url))
        .on_new_window(move |url, features| popup(&on_popup, &popup_account, url, features));
    if let Some(features) = features {
        builder = builder.window_features(features);
    }
    // WKWebView ignores `data_directory`: the partition's own store, or an old Mac's one store for one account.
    #[cfg(target_os = "macos")]
    {
        builder = macos_store(builder, &state.web.partitions, &account.partition)?;
    }
    // WebKitGTK sets it on the partition's data manager: every window of the account goes through it.
    if let Some(proxy) = proxy {
        builder = builder.proxy_url(proxy);
    }
    let window = builder.build()?;
    state.web.opened(&label, &account.id, &account.partition);
    super::sign_in::listen_for_key(&window);
    super::comforts::attach(&window, &account.id);
    crate::windows::show_if_never_loaded(&window);
    Ok(window)
}

/// macOS: gives the window partition `partition`'s own data store (macOS 14+), or lets it into an older Mac's
/// one store only when no other web account holds it (the claim is written before the window exists).
#[cfg(target_os = "macos")]
fn macos_store<'a, R: Runtime>(
    builder: WebviewWindowBuilder<'a, R, AppHandle<R>>,
    partitions: &super::Partitions,
    partition: &str,
) -> Result<WebviewWindowBuilder<'a, R, AppHandle<R>>, WebWindowError> {
    use super::store::{self, SharedStore};
    if store::has_stores_per_partition() {
        let identifier = store::store_identifier(partition).ok_or(WebWindowError::NotFound)?;
        return Ok(builder.data_store_identifier(identifier));
    }
    let holder = store::read_holder(partitions.root()).map_err(WebWindowError::Partition)?;
    match store::shared_store(holder.as_deref(), partition) {
        SharedStore::Held => Ok(builder),
        SharedStore::Claim => {
            store::claim(partitions.root(), partition).map_err(WebWindowError::Partition)?;
            Ok(builder)
        }
        SharedStore::Taken => Err(WebWindowError::SharedStore),
    }
}

/// The game of web account `account_id`, as saved now (the player may have added an origin since the window
/// opened).
fn game_of<R: Runtime>(app: &AppHandle<R>, account_id: &str) -> Option<Game> {
    let state = app.try_state::<AppState>()?;
    let account = state.roster.web_account(account_id)?;
    state.roster.game(&account.game)
}

fn navigate<R: Runtime>(app: &AppHandle<R>, account_id: &str, url: &Url) -> bool {
    match decide(game_of(app, account_id).as_ref(), url) {
        Navigation::Stay => true,
        Navigation::Browser => {
            open_in_browser(app, url);
            false
        }
        Navigation::Refuse => {
            log::info!("a web window was refused a navigation to a {}: URL", url.scheme());
            false
        }
    }
}

fn popup<R: Runtime>(
    app: &AppHandle<R>,
    account_id: &str,
    url: Url,
    features: NewWindowFeatures,
) -> NewWindowResponse<R> {
    match decide(game_of(app, account_id).as_ref(), &url) {
        Navigation::Stay => {
            let state = app.state::<AppState>();
            let Some(account) = state.roster.web_account(account_id) else { return NewWindowResponse::Deny };
            let blank = WebviewUrl::External("about:blank".parse().expect("a URL"));
            match build(app, &account, blank, Some(features), new_label()) {
                Ok(window) => NewWindowResponse::Create { window },
                Err(error) => {
                    log::warn!("could not open a web game's popup: {error}");
                    NewWindowResponse::Deny
                }
            }
        }
        Navigation::Browser => {
            open_in_browser(app, &url);
            NewWindowResponse::Deny
        }
        Navigation::Refuse => NewWindowResponse::Deny,
    }
}

/// Another site: the player's browser, with its own cookies, never this account's partition.
fn open_in_browser<R: Runtime>(app: &AppHandle<R>, url: &Url) {
    use tauri_plugin_opener::OpenerExt;
    let opened = match app.try_state::<AppState>().and_then(|state| state.browser.clone()) {
        Some(browser) => browser.open(url.as_str()),
        None => app.opener().open_url(url.as_str(), None::<&str>).map_err(|e| e.to_string()),
    };
    if let Err(error) = opened {
        log::warn!("could not open the system browser: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn i13_a_web_window_stays_in_its_games_origins_and_never_loads_kages_page() {
        let game = Game::web(None, "https://game.example/play").unwrap();
        let game = Some(&game);
        assert_eq!(decide(game, &url("https://game.example/play?x=1")), Navigation::Stay);
        assert_eq!(decide(game, &url("about:blank")), Navigation::Stay, "a popup's first page");
        assert_eq!(decide(game, &url("https://accounts.provider.example/")), Navigation::Browser);
        assert_eq!(decide(game, &url("http://game.example/")), Navigation::Browser, "another origin");
        for never in
            ["tauri://localhost/index.html", "http://tauri.localhost/", "file:///etc/passwd", "ipc://localhost/"]
        {
            let expected = if never.starts_with("http:") { Navigation::Browser } else { Navigation::Refuse };
            assert_eq!(decide(game, &url(never)), expected, "{never}");
        }
        assert_eq!(
            decide(None, &url("https://game.example/")),
            Navigation::Refuse,
            "a forgotten account shows nothing"
        );
    }

    #[test]
    fn an_added_origin_keeps_a_sign_in_provider_in_the_account() {
        let dir = tempfile::tempdir().unwrap();
        let roster = crate::roster::Roster::open(dir.path());
        let game = Game::web(None, "https://game.example/").unwrap();
        roster.add_game(game.clone()).unwrap();
        let game = roster.set_game_origins(&game.id, &["https://accounts.provider.example".into()]).unwrap();
        assert_eq!(decide(Some(&game), &url("https://accounts.provider.example/o/auth?x")), Navigation::Stay);
    }
}
