//! Notifications a web game's page raises (Web Notifications), shown by Kage naming the account (issue 19, item
//! 5), and only while that account's notifications are on.
//!
//! On WebKitGTK the page's `Notification.requestPermission()` is answered here, never by a prompt: granted when
//! the account's notifications are on, denied when they are off. A notification the page then shows
//! (`new Notification(...)`) is shown by Kage, through the same notification service as a Kage account's, with
//! the account's on-screen name (its alias in streamer mode) and the game in the title; a click brings the
//! window that raised it forward. The switch is read again for every notification, so turning it off silences
//! a page that was granted before.
//!
//! In streamer mode the page's own words are not shown: Kage cannot know whether the game put the account's
//! name (or another player's) in them.

use tauri::{Runtime, WebviewWindow};
// Only the WebKitGTK path reads the page's notifications.
#[cfg(target_os = "linux")]
use tauri::{AppHandle, Manager};

use crate::display::Presenter;
use crate::notify::Notice;
use crate::roster::WebAccount;
#[cfg(target_os = "linux")]
use crate::state::AppState;

/// The longest page text Kage passes on (a page could send a novel).
const MAX_TEXT: usize = 240;

/// What Kage shows for a notification `page_title`/`page_body` of `account`'s page, or `None` when its
/// notifications are off.
pub fn web_notice(
    presenter: &Presenter,
    account: &WebAccount,
    game: &str,
    page_title: &str,
    page_body: &str,
) -> Option<Notice> {
    if !account.notifications {
        return None;
    }
    let title = format!("{} · {game}", presenter.web_name(account));
    let body = if presenter.streamer() {
        "The game sent a notification.".to_owned()
    } else {
        let (page_title, page_body) = (page_title.trim(), page_body.trim());
        let text = match (page_title.is_empty(), page_body.is_empty()) {
            (_, true) => page_title.to_owned(),
            (true, false) => page_body.to_owned(),
            (false, false) => format!("{page_title}: {page_body}"),
        };
        text.chars().take(MAX_TEXT).collect()
    };
    Some(Notice { title, body })
}

/// Whether web account `account_id`'s notifications are on now (`false` once it is forgotten).
#[cfg(target_os = "linux")]
fn notifications_on<R: Runtime>(app: &AppHandle<R>, account_id: &str) -> bool {
    app.try_state::<AppState>().and_then(|state| state.roster.web_account(account_id)).is_some_and(|a| a.notifications)
}

/// Shows what the page of `label` (a window of `account_id`) raised, if its notifications are on.
#[cfg(target_os = "linux")]
fn raised<R: Runtime>(app: &AppHandle<R>, account_id: &str, label: &str, page_title: &str, page_body: &str) {
    let Some(state) = app.try_state::<AppState>() else { return };
    let Some(account) = state.roster.web_account(account_id) else { return };
    let game = state.roster.game(&account.game).map(|g| g.name).unwrap_or_else(|| "Kage".to_owned());
    let Some(notice) = web_notice(&state.presenter(), &account, &game, page_title, page_body) else { return };
    let label = label.to_owned();
    crate::notify::show_then(app, notice, move |app, _token| {
        let window = app.get_webview_window(&label)?;
        #[cfg(all(unix, not(target_os = "macos")))]
        crate::notify::raise(&window, _token);
        Some(window)
    });
}

/// Answers `window`'s notification permission requests and shows its notifications as Kage's (WebKitGTK).
#[cfg(target_os = "linux")]
pub fn attach<R: Runtime>(window: &WebviewWindow<R>, account_id: &str) {
    use webkit2gtk::glib::prelude::Cast;
    use webkit2gtk::{NotificationExt, NotificationPermissionRequest, PermissionRequestExt, WebViewExt};
    let (app, account, label) = (window.app_handle().clone(), account_id.to_owned(), window.label().to_owned());
    let attached = window.with_webview(move |webview| {
        let view = webview.inner();
        let (asking, asker) = (app.clone(), account.clone());
        view.connect_permission_request(move |_, request| {
            let Some(request) = request.downcast_ref::<NotificationPermissionRequest>() else { return false };
            if notifications_on(&asking, &asker) {
                request.allow();
            } else {
                request.deny();
            }
            true
        });
        view.connect_show_notification(move |_, notification| {
            let title = notification.title().map(|t| t.to_string()).unwrap_or_default();
            let body = notification.body().map(|b| b.to_string()).unwrap_or_default();
            raised(&app, &account, &label, &title, &body);
            // Handled: WebKit shows nothing of its own (Kage's notification is the one, or there is none).
            true
        });
    });
    if let Err(error) = attached {
        log::warn!("web notifications: {error}");
    }
}

#[cfg(not(target_os = "linux"))]
pub fn attach<R: Runtime>(_window: &WebviewWindow<R>, _account_id: &str) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::Game;

    fn account(name: &str, alias: Option<&str>, notifications: bool) -> WebAccount {
        WebAccount {
            id: crate::roster::opaque_id(),
            game: "g".into(),
            name: name.into(),
            partition: crate::roster::opaque_id(),
            colour: "#3f8efc".into(),
            alias: alias.map(str::to_owned),
            proxy: None,
            sign_in_origin: None,
            notifications,
            groups: Vec::new(),
        }
    }

    #[test]
    fn i13_a_web_pages_notification_names_its_account_and_game() {
        let main = account("naruto", Some("Main"), true);
        let presenter = Presenter::new(false, false, Vec::new()).with_web(vec![main.clone()], Vec::<Game>::new());
        let notice = web_notice(&presenter, &main, "Ninja Web", "Raid", "The boss is up").unwrap();
        assert_eq!(notice, Notice { title: "Main (naruto) · Ninja Web".into(), body: "Raid: The boss is up".into() });
        let long = "x".repeat(1000);
        assert_eq!(web_notice(&presenter, &main, "G", &long, "").unwrap().body.chars().count(), MAX_TEXT);
    }

    #[test]
    fn streamer_mode_a_web_notification_shows_the_alias_and_none_of_the_pages_words() {
        let (main, alt) = (account("naruto", Some("Main"), true), account("sasuke", None, true));
        let presenter = Presenter::new(true, false, Vec::new()).with_web(vec![main.clone(), alt.clone()], vec![]);
        let notice = web_notice(&presenter, &alt, "Ninja Web", "sasuke", "naruto sent you a gift").unwrap();
        assert_eq!(notice.title, "Web account 2 · Ninja Web");
        let shown = format!("{notice:?}");
        assert!(!shown.contains("sasuke") && !shown.contains("naruto"), "{shown}");
        assert_eq!(web_notice(&presenter, &main, "G", "x", "").unwrap().title, "Main · G");
    }

    #[test]
    fn a_web_account_with_notifications_off_is_silent() {
        let quiet = account("naruto", None, false);
        let presenter = Presenter::new(false, false, Vec::new()).with_web(vec![quiet.clone()], vec![]);
        assert_eq!(web_notice(&presenter, &quiet, "G", "Raid", "now"), None);
    }
}
