//! The running Kage's side of the command line: a second `kage` handed its arguments over (through
//! tauri-plugin-single-instance), or Kage itself was started with `kage open ...`.
//!
//! `kage open <name>` brings that account forward through the launch queue with the Bring purpose (its window is
//! focused if it has one, else one opens), as Ctrl+1..9 does; `--group` brings every account of the group, paced
//! as the panel's group button does. The name is found again in this instance's own roster (it may have changed
//! since the second process read the file).

use std::time::{Duration, Instant};

use tauri::{AppHandle, Manager, Runtime};

use super::names::{self, Found};
use super::{Request, Target};
use crate::launcher::{self, Launch};
use crate::state::AppState;

/// The launches `target` asks for, or the sentence saying why there are none.
pub fn launches_for(state: &AppState, target: &Target) -> Result<Vec<Launch>, String> {
    let entries = state.roster.list();
    match target {
        Target::Account(name) => match names::find_account(&entries, &state.presenter(), name) {
            Found::One(entry) => Ok(vec![Launch::bring(entry.clone())]),
            found => Err(names::not_found(name, &found)),
        },
        Target::Group(name) => {
            let group = names::find_group(&entries, name).ok_or_else(|| names::group_not_found(name))?;
            Ok(launcher::members(state, Some(&group)).into_iter().map(Launch::bring).collect())
        }
        // Opens no account window (see [`handle`] and `lib.rs`'s start).
        Target::Overview => Ok(Vec::new()),
    }
}

/// A second start handed over `argv` (its program name first).
pub fn handle<R: Runtime>(app: &AppHandle<R>, argv: Vec<String>) {
    match super::parse(argv.into_iter().skip(1)) {
        // A group as the panel's group button opens it (paced, then placed by its template).
        Ok(Request::Open(Target::Group(name))) => {
            match names::find_group(&app.state::<AppState>().roster.list(), &name) {
                Some(group) => {
                    crate::group_launch::open(app, &group);
                }
                None => log::warn!(
                    "a second start asked for what this Kage does not have: {}",
                    names::group_not_found(&name)
                ),
            }
        }
        Ok(Request::Open(target)) => match launches_for(&app.state::<AppState>(), &target) {
            Ok(launches) => {
                let app = app.clone();
                tauri::async_runtime::spawn(async move { bring(&app, launches).await });
            }
            Err(sentence) => log::warn!("a second start asked for what this Kage does not have: {sentence}"),
        },
        Ok(Request::Start) => bring_back(app),
        Ok(Request::Overview) => open_overview(app),
        // `list` and `help` are answered by the second process itself, and a line it could not read
        // never comes here; a different version of Kage might send one anyway.
        Ok(other) => log::info!("a second start asked for {other:?}, which it answers itself"),
        Err(usage) => log::info!("a second start handed over a command line Kage cannot read: {usage}"),
    }
}

/// `kage://` links that do not come as a second start's first argument. On Linux a clicked link starts `kage
/// <link>` (the installed `.desktop` file says `x-scheme-handler/kage` and `%u`), which the single-instance plugin
/// hands to [`handle`] like any command line; macOS sends the running app an event instead, heard here. An
/// AppImage has no installed `.desktop` file, so it registers the scheme for the user at start.
pub fn follow_links<R: Runtime>(app: &AppHandle<R>) {
    use tauri_plugin_deep_link::DeepLinkExt;
    let Some(links) = app.try_state::<tauri_plugin_deep_link::DeepLink<R>>() else { return };
    if cfg!(target_os = "linux")
        && std::env::var_os("APPIMAGE").is_some()
        && let Err(error) = links.register(super::link::SCHEME)
    {
        log::warn!("could not register kage:// links for this AppImage: {error}");
    }
    if cfg!(target_os = "macos") {
        let handle = app.clone();
        app.deep_link().on_open_url(move |event| {
            for url in event.urls() {
                handle_link(&handle, url.as_str());
            }
        });
    }
}

fn handle_link<R: Runtime>(app: &AppHandle<R>, link: &str) {
    handle(app, vec!["kage".to_owned(), link.to_owned()]);
}

/// How long a window opened for `kage open` may take to show before it is given the focus anyway.
const SHOWN_WITHIN: Duration = Duration::from_secs(8);

/// Brings `launches` forward through the launch queue. One account asked for by name gets the focus too: the
/// queue focuses a window it already had, but a window it opens is hidden until its page has loaded (and a
/// hidden window cannot take the focus), so it is focused here once shown. A group's windows are left where
/// the queue puts them, as the panel's group button leaves them.
async fn bring<R: Runtime>(app: &AppHandle<R>, launches: Vec<Launch>) {
    let focus = match launches.as_slice() {
        [one] => app.state::<AppState>().saved_account(&one.entry).ok(),
        _ => None,
    };
    launcher::run(app, launches).await;
    let Some(account) = focus else { return };
    let deadline = Instant::now() + SHOWN_WITHIN;
    while Instant::now() < deadline {
        if let Some(window) = crate::windows::window_of(app, &account).filter(|w| w.is_visible().unwrap_or(false)) {
            crate::hibernation::wake(&window);
            let _ = window.unminimize();
            let _ = window.set_focus();
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `kage overview`: the overview forward, or opened.
pub fn open_overview<R: Runtime>(app: &AppHandle<R>) {
    if let Err(error) = crate::overview::window::bring_or_open(app) {
        log::error!("could not open the overview: {error}");
    }
}

/// A plain second start: running in the tray with no window, the windows last open come back; else a new
/// window on the sign-in screen.
fn bring_back<R: Runtime>(app: &AppHandle<R>) {
    let opened = launcher::restore_if_none(app)
        .and_then(|restored| if restored { Ok(()) } else { crate::windows::open(app, None, None).map(drop) });
    if let Err(error) = opened {
        log::error!("could not open a window for the second launch: {error}");
    }
}

#[cfg(test)]
mod tests {
    use kage_core::{AccountKey, ServerOrigin};

    use super::*;
    use crate::launcher::Purpose;
    use crate::roster::{AccountSettings, RosterEntry};

    #[tokio::test]
    async fn open_brings_the_named_account_and_a_group_brings_its_members_in_roster_order() {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::for_tests(dir.path()).await;
        let origin = ServerOrigin::parse("https://game.example").unwrap();
        for (user, groups) in [("main", vec!["raid"]), ("alt", vec![]), ("third", vec!["Raid"])] {
            let entry = RosterEntry::new(&AccountKey::new(origin.clone(), format!("id-{user}")), user);
            state.roster.save(entry.clone()).unwrap();
            let settings = AccountSettings {
                groups: groups.into_iter().map(str::to_owned).collect(),
                ..AccountSettings::of(&entry)
            };
            state.roster.set_settings(&entry.id, settings).unwrap();
        }
        let users = |launches: Vec<Launch>| -> Vec<String> {
            assert!(launches.iter().all(|l| l.purpose == Purpose::Bring), "brought, never restored");
            launches.into_iter().map(|l| l.entry.username).collect()
        };
        assert_eq!(users(launches_for(&state, &Target::Account("ALT".into())).unwrap()), ["alt"]);
        assert_eq!(users(launches_for(&state, &Target::Group("raid".into())).unwrap()), ["main"], "groups as saved");
        assert_eq!(users(launches_for(&state, &Target::Group("Raid".into())).unwrap()), ["third"], "exactly that name");
        assert_eq!(users(launches_for(&state, &Target::Group("RAID".into())).unwrap()), ["main"], "else the first");
        let gone = launches_for(&state, &Target::Account("nobody".into())).unwrap_err();
        assert!(gone.contains("No saved account goes by \"nobody\""), "{gone}");
    }
}
