//! Hibernation (issue 22, item 2): an account window out of the player's sight for a while gives up its web
//! process, and gets its page back the moment it is shown again.
//!
//! Technique (measured, see docs/design.md and docs/benchmarks.md): WebKitGTK's `terminate_web_process` on the
//! window's view, then `reload` on waking. The window itself stays: its label, its place, its pin in the core,
//! the launcher's and the layout's bookkeeping are untouched, so a hibernated window is an open window for
//! every other part of Kage (restart restore included). Everything the page would show lives in the core
//! (session, event stream, cache), so the account stays signed in and its cache current while asleep; the page
//! that comes back paints from that cache, as a restored window does at start.
//!
//! While a window is asleep its update channel reports the page gone (see `sink.rs`), so the core drops it and
//! sends nothing into a dead view; the reloaded page asks for a new one. Notifications and the tray hear the
//! core directly and never depended on the page.
//!
//! Only windows of Kage-protocol accounts hibernate: a sign-in window would lose what the player typed, and a
//! web game's page holds the game's own state (a running game, its sockets), which a reload loses even though
//! its partition's cookies survive on disk.

#[cfg(all(debug_assertions, target_os = "linux"))]
mod e2e_watch;
pub mod groups;
pub mod idle;
mod webview;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kage_core::WindowLabel;
use kage_core::locks::Recover;
use tauri::{AppHandle, Manager, Runtime, WebviewWindow};

use crate::prefs::Prefs;
use crate::state::AppState;
use groups::Groups;
use idle::{Change, IdleBook, Policy, Seen};

pub use webview::{RelatedView, for_kage_page, is_asleep_page};

/// The Kage-protocol account window `label` about to be made: an awake window whose web process it may share (a
/// group with room, see `groups.rs`), and that window's view. `None`: a process of its own. Its seat in the group
/// is taken now; [`made`] says the window exists, [`not_made`] that its build failed.
pub fn related_view_for<R: Runtime>(app: &AppHandle<R>, label: &str) -> Option<(String, RelatedView)> {
    let hibernation = app.try_state::<Hibernation>()?;
    let anchor = {
        let book = hibernation.book();
        hibernation.groups().reserve(label, |label| book.is_asleep(label))
    }?;
    let related = app.get_webview_window(&anchor).and_then(|window| webview::view_of(&window));
    match related {
        Some(view) => Some((anchor, view)),
        None => {
            // Its view could not be had here (asked on the main thread): a process of its own after all.
            hibernation.groups().alone(label);
            None
        }
    }
}

/// The window `label` was made, sharing `anchor`'s web process or with one of its own.
pub fn made<R: Runtime>(app: &AppHandle<R>, label: &str, anchor: Option<&str>) {
    if let Some(hibernation) = app.try_state::<Hibernation>() {
        match anchor {
            Some(anchor) => log::info!("{label} is made as a related view of {anchor}, to share its web process"),
            None => log::info!("{label} is made with a web process of its own"),
        }
        // Without an anchor it has a group of its own already (`related_view_for`).
        hibernation.groups().made(label);
    }
}

/// The window `label` could not be made: its seat is given back.
pub fn not_made<R: Runtime>(app: &AppHandle<R>, label: &str) {
    if let Some(hibernation) = app.try_state::<Hibernation>() {
        hibernation.groups().forget(label);
    }
}

/// How often windows are looked at. The delay is counted from the first look that saw a window out of sight.
const TICK: Duration = Duration::from_millis(500);

/// The registry: managed by the app on its own, beside `AppState`.
#[derive(Default)]
pub struct Hibernation {
    book: Mutex<IdleBook>,
    /// Locked after `book` when both are held.
    groups: Mutex<Groups>,
    /// The page each window that gave up only its page left, to load again when it wakes. Never locked with the
    /// others.
    left: Mutex<HashMap<String, tauri::Url>>,
}

impl Hibernation {
    fn book(&self) -> MutexGuard<'_, IdleBook> {
        self.book.lock().recover()
    }

    fn groups(&self) -> MutexGuard<'_, Groups> {
        self.groups.lock().recover()
    }

    fn left(&self) -> MutexGuard<'_, HashMap<String, tauri::Url>> {
        self.left.lock().recover()
    }

    /// Whether window `label` has given up its web process.
    pub fn is_asleep(&self, label: &str) -> bool {
        self.book().is_asleep(label)
    }
}

/// The policy the player's preferences ask for.
pub fn policy_of(prefs: &Prefs) -> Policy {
    Policy {
        after: (prefs.hibernate_after_secs > 0).then(|| Duration::from_secs(prefs.hibernate_after_secs)),
        unfocused: prefs.hibernate_unfocused,
        cap: (prefs.live_window_cap > 0).then_some(prefs.live_window_cap as usize),
    }
}

/// Whether the window `label`'s page is asleep (false where no registry is managed, as in unit tests).
pub fn is_asleep<R: Runtime>(app: &AppHandle<R>, label: &str) -> bool {
    app.try_state::<Hibernation>().is_some_and(|hibernation| hibernation.is_asleep(label))
}

/// Starts the ticker that puts windows to sleep and wakes those shown again behind Kage's back (the desktop's
/// own taskbar). Kage's own ways of showing a window call [`wake`] first, without waiting for a tick.
pub fn follow<R: Runtime>(app: &AppHandle<R>) {
    if !webview::CAN_HIBERNATE {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut tick = tokio::time::interval(TICK);
        loop {
            tick.tick().await;
            let started = Instant::now();
            look(&app);
            // A look asks the main thread how each window looks: a slow one means the main thread was busy.
            if started.elapsed() > Duration::from_secs(1) {
                log::warn!("hibernation: a look at the windows took {} ms", started.elapsed().as_millis());
            }
        }
    });
}

/// Kage-protocol account windows: pinned to an account, not a web account's.
fn candidates<R: Runtime>(app: &AppHandle<R>, windows: &HashMap<String, WebviewWindow<R>>) -> Vec<WebviewWindow<R>> {
    let state = app.state::<AppState>();
    windows
        .iter()
        .filter(|(label, _)| label.starts_with(crate::labels::LABEL_PREFIX) && state.web.account_of(label).is_none())
        .filter(|(label, _)| state.core.windows.pin_of(&WindowLabel::new(label.as_str())).is_some())
        .map(|(_, window)| window.clone())
        .collect()
}

/// One tick: how each window looks (asked of the windows before the registry is locked, since the answers come
/// from the main thread, which may be waking a window), then who sleeps and who wakes.
fn look<R: Runtime>(app: &AppHandle<R>) {
    let policy = policy_of(&app.state::<AppState>().prefs.get());
    let windows = app.webview_windows();
    let seen: Vec<(WebviewWindow<R>, Seen)> = candidates(app, &windows)
        .into_iter()
        .map(|window| {
            let seen = Seen {
                visible: window.is_visible().unwrap_or(true),
                minimized: window.is_minimized().unwrap_or(false),
                focused: window.is_focused().unwrap_or(false),
            };
            (window, seen)
        })
        .collect();
    let hibernation = app.state::<Hibernation>();
    let now = Instant::now();
    // Groups forget only windows that are gone: one made a moment ago may not be pinned to its account yet.
    let existing: Vec<String> = windows.into_keys().collect();
    let (woken, due, ending) = {
        let mut book = hibernation.book();
        let labels: Vec<String> = seen.iter().map(|(window, _)| window.label().to_owned()).collect();
        book.keep_only(&labels);
        let mut woken: Vec<&WebviewWindow<R>> = Vec::new();
        for (window, look) in &seen {
            match book.observe(window.label(), *look, &policy, now) {
                Some(Change::Wake) => woken.push(window),
                Some(Change::OutOfSight) if policy.after.is_some() || policy.cap.is_some() => {
                    log::info!("{} is out of sight: it may hibernate from now on", window.label())
                }
                _ => {}
            }
        }
        let due = book.due(&policy, now);
        let mut groups = hibernation.groups();
        groups.keep_only(&existing);
        // A shared process ends only with every window in it out of sight (or asleep already); until then a due
        // window only gives up its page.
        let ending = groups.whole(&due, |label| book.is_asleep(label));
        (woken, due, ending)
    };
    // A window closed while asleep has no page to come back to.
    hibernation.left().retain(|label, _| seen.iter().any(|(window, _)| window.label() == label));
    for window in woken {
        wake(window);
    }
    let sleeping: Vec<&WebviewWindow<R>> = due
        .iter()
        .filter_map(|label| seen.iter().find(|(window, _)| window.label() == label))
        .map(|(w, _)| w)
        .collect();
    // All of them asleep before any process ends: the ended process's other windows must not take it for a
    // crash and load their page again (`watch_process`).
    {
        let mut book = hibernation.book();
        for window in &sleeping {
            book.mark_asleep(window.label());
        }
    }
    for window in sleeping {
        let ends = ending.iter().any(|label| label == window.label());
        put_to_sleep(&hibernation, window, ends);
    }
}

/// Ends `window`'s web process (`ends`: every window sharing it is asleep or going to sleep), or else gives up
/// only its page, for the empty asleep page, in the process the rest of its group still uses. It is marked
/// asleep already.
fn put_to_sleep<R: Runtime>(hibernation: &Hibernation, window: &WebviewWindow<R>, ends: bool) {
    let done = if ends {
        log::info!("{} hibernates: its web process is ended until it is shown again", window.label());
        webview::end_web_process(window)
    } else {
        log::info!(
            "{} hibernates: its page is unloaded; the web process it shares stays for the others",
            window.label()
        );
        webview::unload(window).map(|page| drop(hibernation.left().insert(window.label().to_owned(), page)))
    };
    if let Err(error) = done {
        log::warn!("{} could not hibernate: {error}", window.label());
        hibernation.book().mark_awake(window.label());
    }
}

/// Watches `window`'s web process: when it ends while the window is awake (WebKit gave it a process that another
/// window's hibernation ended, or the process crashed), the page loads again at once, from the core's cache,
/// instead of leaving the player a blank window. Which process a related view runs in is WebKit's choice, and
/// the groups here are only Kage's model of it (docs/benchmarks.md).
pub fn watch_process<R: Runtime>(window: &WebviewWindow<R>) {
    let watched = window.clone();
    webview::on_process_ended(window, move || {
        // Off the main thread: asking a window how it looks is answered by the main thread.
        let watched = watched.clone();
        tauri::async_runtime::spawn(async move { process_ended(&watched) });
    });
}

/// `window`'s web process is gone. Asleep: as Kage wanted. Out of sight: it is now asleep in effect, so it
/// loads again when it is shown (the way a hibernated window does). In sight: it loads again now.
///
/// Whichever it was, the window's next page runs in a process of its own: WebKit starts a new one for a view whose
/// process ended, whatever view it was made related to.
fn process_ended<R: Runtime>(window: &WebviewWindow<R>) {
    let Some(hibernation) = window.try_state::<Hibernation>() else { return };
    let label = window.label();
    hibernation.groups().alone(label);
    if hibernation.is_asleep(label) {
        return;
    }
    let in_sight = window.is_visible().unwrap_or(false) && !window.is_minimized().unwrap_or(true);
    if !in_sight {
        hibernation.book().mark_asleep(label);
        return;
    }
    log::warn!("{label}'s web process ended while it was shown: its page loads again");
    if let Err(error) = webview::load_page_again(window, None) {
        log::warn!("{label} could not load again: {error}");
    }
}

/// Gives an asleep window its page back (a new web process loading Kage's page, which paints from the core's
/// cache); nothing for a window that is awake. Called before a window is shown or focused.
pub fn wake<R: Runtime>(window: &WebviewWindow<R>) {
    let Some(hibernation) = window.try_state::<Hibernation>() else { return };
    if !hibernation.book().mark_awake(window.label()) {
        return;
    }
    log::info!("{} wakes: its page loads again from the cache", window.label());
    #[cfg(all(debug_assertions, target_os = "linux"))]
    e2e_watch::before_reload(window);
    // In the process it still shares with its group if only its page was given up; in a new one of its own if
    // its process ended (`process_ended` took it out of its group then).
    let left = hibernation.left().remove(window.label());
    if let Err(error) = webview::load_page_again(window, left) {
        log::warn!("{} could not wake: {error}", window.label());
    }
    #[cfg(all(debug_assertions, target_os = "linux"))]
    e2e_watch::report_later(window);
}
