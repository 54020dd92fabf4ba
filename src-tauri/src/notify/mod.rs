//! Desktop notifications for an account's events, named after the account that received them (its alias in
//! streamer mode), and only for accounts whose notifications are on.

use kage_core::AccountKey;
use kage_core::events::{AccountListener, WindowUpdate};
use tauri::{AppHandle, Manager, Runtime};

#[cfg(all(unix, not(target_os = "macos")))]
pub mod freedesktop;

use crate::display::Presenter;
use crate::roster::RosterEntry;
use crate::state::AppState;

/// One notification as it will be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
}

/// What to tell the player when `receiver` got `amount` ryo from `from`, or `None` when its notifications are
/// off. Everything in it goes through the presenter, so streamer mode holds in notifications too.
pub fn transfer_notice(presenter: &Presenter, receiver: &RosterEntry, from: &str, amount: i64) -> Option<Notice> {
    if !receiver.notifications {
        return None;
    }
    let name = presenter.name(receiver);
    Some(Notice {
        title: format!("{name} · Kage"),
        body: format!("{name} received {} ryo from {}", presenter.amount(amount), presenter.player(from)),
    })
}

/// Tells the player of their accounts' events on the desktop: core's one listener per account
/// ([`AccountListener`]), so an account open in several windows notifies once, whichever of them heard it.
pub struct Notifier<R: Runtime> {
    pub app: AppHandle<R>,
}

impl<R: Runtime> AccountListener for Notifier<R> {
    fn hear(&self, account: &AccountKey, update: &WindowUpdate) {
        if let WindowUpdate::TransferReceived { from, amount } = update {
            transfer_received(&self.app, account, from, *amount);
        }
    }
}

/// None while one of the account's windows has the focus (the page's own toast is enough then).
fn transfer_received<R: Runtime>(app: &AppHandle<R>, account: &AccountKey, from: &str, amount: i64) {
    // Installed just before the state is managed; nothing is heard before then, but never panic for it.
    let Some(state) = app.try_state::<AppState>() else { return };
    let windows = state.core.windows.windows_of(account);
    let focused = windows.iter().filter_map(|label| app.get_webview_window(label.as_str()));
    if focused.into_iter().any(|w| w.is_focused().unwrap_or(false)) {
        return;
    }
    let presenter = state.presenter();
    let Some(notice) = state.roster.find(account.id()).and_then(|e| transfer_notice(&presenter, &e, from, amount))
    else {
        return;
    };
    show(app, notice, account.clone());
}

/// Shows `notice`; a click on it brings `account`'s window forward where the desktop reports clicks (the
/// freedesktop notification service on Linux and the BSDs), with the service's activation token so a desktop
/// that prevents focus stealing raises it (see [`freedesktop`]). Elsewhere it is shown by
/// tauri-plugin-notification.
fn show<R: Runtime>(app: &tauri::AppHandle<R>, notice: Notice, account: AccountKey) {
    show_then(app, notice, move |app, _token| {
        let window = crate::windows::window_of(app, &account)?;
        #[cfg(all(unix, not(target_os = "macos")))]
        raise(&window, _token);
        Some(window)
    });
}

/// Shows `notice`; a click on it (where the desktop reports clicks) runs `window` on the main thread with the
/// click's activation token, and the window it answers is raised with that token. Web accounts' notifications
/// (see `web::notices`) come this way too.
#[cfg(all(unix, not(target_os = "macos")))]
pub fn show_then<R, F>(app: &tauri::AppHandle<R>, notice: Notice, window: F)
where
    R: Runtime,
    F: FnOnce(&tauri::AppHandle<R>, Option<&str>) -> Option<tauri::WebviewWindow<R>> + Send + 'static,
{
    let app = app.clone();
    // The service answers a click or a close on D-Bus; waiting for it blocks, so off the async runtime. The
    // thread ends when the notification is clicked, dismissed or expires.
    let spawned = std::thread::Builder::new().name("kage-notification".into()).spawn(move || {
        let shown = zbus::blocking::Connection::session()
            .and_then(|connection| freedesktop::show_and_wait(&connection, &notice.title, &notice.body));
        match shown {
            Ok(freedesktop::Ending::Clicked { activation_token }) => {
                let raising = app.clone();
                let _ = app.run_on_main_thread(move || {
                    window(&raising, activation_token.as_deref());
                });
            }
            Ok(freedesktop::Ending::Closed) => {}
            Err(error) => log::warn!("could not show a notification: {error}"),
        }
    });
    if let Err(error) = spawned {
        log::warn!("could not show a notification: {error}");
    }
}

/// Brings `window` forward for a click elsewhere (a notification): with the click's activation token when the
/// notification service gave one, which GTK passes on to the compositor (on the main thread).
#[cfg(all(unix, not(target_os = "macos")))]
pub fn raise<R: Runtime>(window: &tauri::WebviewWindow<R>, activation_token: Option<&str>) {
    use gtk::prelude::GtkWindowExt;
    crate::hibernation::wake(window);
    let _ = window.unminimize();
    match (activation_token, window.gtk_window()) {
        (Some(token), Ok(gtk_window)) => {
            gtk_window.set_startup_id(token);
            gtk_window.present();
        }
        _ => {
            let _ = window.set_focus();
        }
    }
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
pub fn show_then<R, F>(app: &tauri::AppHandle<R>, notice: Notice, _window: F)
where
    R: Runtime,
    F: FnOnce(&tauri::AppHandle<R>, Option<&str>) -> Option<tauri::WebviewWindow<R>> + Send + 'static,
{
    use tauri_plugin_notification::NotificationExt;
    if let Err(error) = app.notification().builder().title(&notice.title).body(&notice.body).show() {
        log::warn!("could not show a notification: {error}");
    }
}

#[cfg(test)]
mod tests {
    use kage_core::ServerOrigin;

    use super::*;

    fn entry(user: &str, alias: Option<&str>, notifications: bool) -> RosterEntry {
        let origin = ServerOrigin::parse("https://game.example").unwrap();
        RosterEntry {
            alias: alias.map(str::to_owned),
            notifications,
            ..RosterEntry::new(&AccountKey::new(origin, user), user)
        }
    }

    #[test]
    fn a_notification_names_the_receiving_account_and_follows_streamer_mode() {
        let (main, alt) = (entry("naruto", Some("Main"), true), entry("sasuke", Some("Alt"), true));
        let roster = vec![main.clone(), alt.clone()];
        let plain = Presenter::new(false, false, roster.clone());
        let notice = transfer_notice(&plain, &alt, "naruto", 25).unwrap();
        assert_eq!(notice.body, "Alt (sasuke) received 25 ryo from Main (naruto)");
        let streaming = Presenter::new(true, true, roster);
        let notice = transfer_notice(&streaming, &alt, "naruto", 25).unwrap();
        assert_eq!((notice.title.as_str(), notice.body.as_str()), ("Alt · Kage", "Alt received some ryo from Main"));
        assert!(!format!("{notice:?}").contains("sasuke") && !format!("{notice:?}").contains("naruto"));
    }

    #[test]
    fn an_account_with_notifications_off_is_silent() {
        let quiet = entry("sasuke", None, false);
        assert_eq!(transfer_notice(&Presenter::new(false, false, vec![quiet.clone()]), &quiet, "naruto", 5), None);
    }
}
