//! "Open all", launch groups and start-up restore: one queue that opens account windows one after another.
//!
//! Two purposes go through it ([`Purpose`]): bringing accounts up (Open all, a group, a hotkey, the tray), where
//! an account already on screen is brought forward rather than opened twice; and putting back the windows of
//! the last run ([`restore`]), where each remembered window reopens for the account it had, however many
//! windows of that account there were (I10).
//!
//! A player with ten accounts who opens them at once sends ten sign-ins to the server in the same second, which
//! is what login rate limits are there to stop. So windows open staggered (the player's `stagger_ms`, 1 s by
//! default), each account's session is brought up before the next window opens, and when the server answers
//! `429` with `Retry-After` the queue waits that long (the waiting window says so and counts down) instead of
//! letting the account fail. Every launch goes through the one queue, so two groups opened together still pace.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kage_core::AccountKey;
use kage_core::events::WindowUpdate;
use kage_core::sessions::TokenError;
use tauri::{AppHandle, Manager, Runtime};

use crate::roster::RosterEntry;
use crate::state::AppState;
use kage_core::locks::Recover;

/// The longest the queue waits on one `Retry-After` before moving on (the window keeps its own retries).
const MAX_WAIT: Duration = Duration::from_secs(300);
/// How many times one account may be told to wait before the queue moves on without it.
const MAX_WAITS: u32 = 5;

/// One window to open for a saved account, and why.
#[derive(Debug, Clone)]
pub struct Launch {
    pub entry: RosterEntry,
    pub purpose: Purpose,
}

/// Why a window is opened: what an account that already has a window on screen means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// Open all, a group, Ctrl+1..9, the tray: an account already on screen is brought forward, not opened twice.
    Bring,
    /// A restart putting the last run's layout back: the window `label` reopens for its account, also when that
    /// account has another window open already (main twice and alt once come back as three windows).
    Restore { label: String },
}

impl Launch {
    pub fn bring(entry: RosterEntry) -> Self {
        Self { entry, purpose: Purpose::Bring }
    }

    pub fn restore(entry: RosterEntry, label: String) -> Self {
        Self { entry, purpose: Purpose::Restore { label } }
    }
}

/// The queue's lock (held while a batch opens, so batches take turns in order) and which accounts are waiting
/// on the server now, until when. Managed by the app on its own (not inside `AppState`), so the state the
/// launcher reads does not own the launcher.
#[derive(Default)]
pub struct Launcher {
    turn: tokio::sync::Mutex<()>,
    waiting: Mutex<HashMap<String, Instant>>,
}

impl Launcher {
    /// The sentence a waiting account's windows show, or `None`.
    pub fn waiting_notice(&self, account_id: &str) -> Option<String> {
        let until = *self.waiting().get(account_id)?;
        let secs = until.saturating_duration_since(Instant::now()).as_secs_f64().ceil() as u64;
        Some(format!("Waiting {secs} s: the server asked Kage to slow down. This window opens by itself."))
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.waiting.lock().recover()
    }
}

/// How long the server asked to wait, if this failure is a rate limit.
fn retry_after(error: &TokenError) -> Option<Duration> {
    match error {
        TokenError::RateLimited { retry_after } => Some((*retry_after).min(MAX_WAIT)),
        _ => None,
    }
}

/// The saved accounts of `group` (every saved account for `None`), in the roster's order.
pub fn members(state: &AppState, group: Option<&str>) -> Vec<RosterEntry> {
    state
        .roster
        .list()
        .into_iter()
        .filter(|entry| group.is_none_or(|name| entry.groups.iter().any(|g| g == name)))
        .collect()
}

/// Opens `launches` through the queue, in the background; returns at once.
pub fn enqueue<R: Runtime>(app: &AppHandle<R>, launches: Vec<Launch>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move { run(&app, launches).await });
}

/// Opens `launches` one after another (see the module comment); returns when the last window's session is up
/// or has given its answer.
pub async fn run<R: Runtime>(app: &AppHandle<R>, launches: Vec<Launch>) {
    let state = app.state::<AppState>();
    let launcher = app.state::<Launcher>();
    let _turn = launcher.turn.lock().await;
    let stagger = state.prefs.get().stagger();
    let mut first = true;
    for launch in launches {
        let account = match state.saved_account(&launch.entry) {
            Ok(account) => account,
            Err(refused) => {
                log::warn!("not opening a saved account: {refused}");
                continue;
            }
        };
        let label = match launch.purpose {
            // An account already on screen is brought forward, not opened twice, and costs no pause.
            Purpose::Bring => match crate::windows::window_of(app, &account) {
                Some(window) => {
                    crate::hibernation::wake(&window);
                    let _ = window.unminimize();
                    let _ = window.set_focus();
                    continue;
                }
                None => None,
            },
            // The remembered window itself: only a window with its label already open (a second restore) is
            // left as it is.
            Purpose::Restore { label } if app.get_webview_window(&label).is_some() => continue,
            Purpose::Restore { label } => Some(label),
        };
        if !first && !stagger.is_zero() {
            tokio::time::sleep(stagger).await;
        }
        first = false;
        if let Err(error) = crate::windows::open(app, label, Some(&account)) {
            log::error!("could not open a window: {error}");
            continue;
        }
        bring_up(&state, &launcher, &account).await;
    }
}

/// Reopens the windows of the last run, each with the account it had (or signed out, never another), each at
/// its place. A saved account Kage may not open on this run (the sandbox moved, see `state::check_saved_origin`)
/// leaves its window on the sign-in screen.
///
/// Windows on the sign-in screen open at once; account windows go through the launch queue, paced like "Open
/// all", so a restart with ten accounts does not sign ten in within one second.
pub fn restore<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    restore_then(app, Vec::new())
}

/// [`restore`], then `then` in the same batch (Kage started as `kage open alt`: the last run's windows come
/// back, then alt is brought forward, its restored window if it had one). With `then` to open, no empty
/// sign-in window is opened for a layout that had none.
pub fn restore_then<R: Runtime>(app: &AppHandle<R>, then: Vec<Launch>) -> tauri::Result<()> {
    let state = app.state::<AppState>();
    let mut launches = Vec::new();
    let mut web_windows = Vec::new();
    let mut opened = 0;
    for (label, account_id) in state.roster.layout() {
        // A web account's window: put back once Kage's own windows are up (below).
        if label.starts_with(crate::web::WEB_LABEL_PREFIX) {
            match account_id.filter(|id| state.roster.web_account(id).is_some()) {
                Some(id) => web_windows.push((label, id)),
                None => {
                    let _ = state.roster.remove_from_layout(&label);
                }
            }
            continue;
        }
        if !label.starts_with(crate::windows::LABEL_PREFIX) {
            continue;
        }
        let entry = account_id.and_then(|id| state.roster.find(&id));
        match entry.filter(|entry| match state.saved_account(entry) {
            Ok(_) => true,
            Err(refused) => {
                log::warn!("{label} reopens signed out: {refused}");
                false
            }
        }) {
            Some(entry) => launches.push(Launch::restore(entry, label)),
            None => {
                crate::windows::open(app, Some(label), None)?;
                opened += 1;
            }
        }
    }
    if opened == 0 && launches.is_empty() && then.is_empty() {
        crate::windows::open(app, None, None)?;
    }
    launches.extend(then);
    // Web windows after Kage's own (the account windows go through the queue first): a restart paces its
    // sign-ins, and Kage's page is the first web context the app makes.
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        run(&app, launches).await;
        crate::web::window::restore(&app, web_windows);
    });
    Ok(())
}

/// With no window open (Kage kept running in the tray), brings back the windows that were open last ([`restore`]);
/// `false` when windows are open and nothing was done.
pub fn restore_if_none<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<bool> {
    if !app.webview_windows().is_empty() {
        return Ok(false);
    }
    restore(app)?;
    Ok(true)
}

/// Waits until `account`'s session is up (or has failed for a reason its window shows), honouring the server's
/// `Retry-After`: the account's windows show the countdown, and are given a fresh profile once it is over.
async fn bring_up(state: &AppState, launcher: &Launcher, account: &AccountKey) {
    let mut waits = 0;
    loop {
        let wait = match state.core.sessions.token_for(account).await {
            Err(error) => match retry_after(&error) {
                Some(wait) if waits < MAX_WAITS => wait,
                _ => break,
            },
            Ok(_) => break,
        };
        waits += 1;
        let until = Instant::now() + wait;
        launcher.waiting().insert(account.id().to_owned(), until);
        // Tick the countdown: a status message makes each window fetch its state, waiting notice included.
        while Instant::now() < until {
            ping(state, account);
            tokio::time::sleep(until.saturating_duration_since(Instant::now()).min(Duration::from_secs(1))).await;
        }
    }
    if launcher.waiting().remove(account.id()).is_some() {
        ping(state, account);
        // The window's own first request may have been told to wait too: hand it the profile now.
        if let Ok(profile) = state.core.client.refetch_account(account).await {
            state.core.events.deliver(account, &WindowUpdate::Profile { profile });
        }
    }
}

fn ping(state: &AppState, account: &AccountKey) {
    let status = state.core.sessions.status(account);
    state.core.events.deliver(account, &WindowUpdate::Status { status });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limit_is_waited_out_for_at_most_five_minutes_and_nothing_else_is_waited_on() {
        let long = TokenError::RateLimited { retry_after: Duration::from_secs(3_600) };
        assert_eq!(retry_after(&long), Some(MAX_WAIT));
        let short = TokenError::RateLimited { retry_after: Duration::from_secs(2) };
        assert_eq!(retry_after(&short), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(&TokenError::SignedOut), None);
        assert_eq!(retry_after(&TokenError::Offline("down".into())), None);
    }

    #[test]
    fn the_waiting_notice_counts_down_in_whole_seconds() {
        let launcher = Launcher::default();
        assert_eq!(launcher.waiting_notice("a"), None);
        launcher.waiting().insert("a".into(), Instant::now() + Duration::from_millis(2_400));
        let notice = launcher.waiting_notice("a").unwrap();
        assert!(notice.starts_with("Waiting 3 s"), "{notice}");
    }
}
