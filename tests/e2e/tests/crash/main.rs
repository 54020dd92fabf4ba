//! Crash safety of saved accounts in the real app (I10, I11; issue 8): the app is killed with SIGKILL at random
//! moments, again and again, on one home directory and one gnome-keyring, while it starts up and refreshes its
//! windows, signs players in with "remember", opens saved accounts, signs out and forgets. Afterwards every
//! account that was remembered (and not being signed out or forgotten) at the last kill is still offered, never
//! as "needs sign-in", and opens without a password; `roster.json` and `windows.json` are whole JSON after every
//! kill, and no start ever found one damaged (it would have kept it aside as `<name>.corrupt-<time>`).
//!
//! - main and alt are signed in with "remember" before the first kill and never signed out or forgotten: they
//!   must survive every kill.
//! - Throwaway players (`crash<n>`, signed up through the sandbox's HTTP API) are signed in, opened, signed out
//!   and forgotten. The test keeps each one's state: remembered (the app showed its signed-in window before the
//!   kill), gone (the sign-out or forget finished before the kill), or cut short (the kill came first: either
//!   outcome is right, nothing is checked).
//! - Each round picks an action at random. "start" runs the app as a bare process (no WebDriver, fast) and kills
//!   it 0-3000 ms after launch: during start-up, the restore of its windows and accounts from the keychain, the
//!   rebuild of the roster, refreshes and refetches. The other actions start the app through WebDriver, wait for
//!   its windows, prepare (fill the form, open the menu), then kill it 0-1500 ms after the action began (half
//!   the time 0-500 ms, so that more kills land inside an action).
//! - Windows are never closed (WebDriver's "close window" does not close a Tauri window as a player does: the
//!   layout keeps it), so new windows open only while there are fewer than [`MAX_WINDOWS`], and a sign-in
//!   needs a window on the sign-in screen, which a sign-out or a forget makes (see [`act`]).
//!
//! `KAGE_CRASH_KILLS` sets the number of kills (50 by default); `KAGE_CRASH_SEED` replays a run's choices (the
//! seed is printed; the kills' timing still varies). Progress goes to stderr and `target/e2e/crash.txt`; the
//! last line is `crash test: <kills> kills, <lost> accounts lost, ...`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::Locator;
use fantoccini::wd::WindowHandle;
use kage_e2e::{
    App, artifacts_dir, clear_keychain_entries, debug_binary, descendants, enabled, http_json, kill9, report, spawn_app,
};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};
use serde_json::{Value, json};

mod actions;
use actions::{forget, open, sign_in, sign_out, sign_up};

/// Each WebDriver launch takes the next pair of ports: a killed driver's port may not be free again at once.
const FIRST_DRIVER_PORT: u16 = 4500;
const DEFAULT_KILLS: u32 = 50;
const THROWAWAY_PASSWORD: &str = "crash-password";
/// No new window is opened beyond this many: every window is restored, with its own WebKit process, at each
/// start.
const MAX_WINDOWS: usize = 4;
/// Of those, at most this many show main or alt (see [`act`]).
const DEMO_WINDOWS: usize = 2;
/// A bare start is killed up to this long after launch; an action up to [`ACTION_KILL_MS`] after it began, and
/// half the time within [`ACTION_SOON_MS`] (most actions finish in about half a second; the kills that land
/// inside one are the ones that matter most).
const START_KILL_MS: u64 = 3000;
const ACTION_KILL_MS: u64 = 1500;
const ACTION_SOON_MS: u64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Saved {
    /// Remembered, and not being signed out or forgotten: must be offered after any crash and open without a
    /// password.
    Yes,
    /// A sign-in, sign-out or forget that the kill cut short: kept or gone, both are right.
    CutShort,
    /// Never signed in, or signed out or forgotten before the kill.
    No,
}

struct Player {
    name: String,
    password: String,
    saved: Saved,
    /// main and alt: signed in before the first kill, never signed out or forgotten.
    demo: bool,
}

/// The round's choices: rand's seeded generator, so a run's choices replay from its printed seed.
struct Rng(StdRng);

impl Rng {
    fn seeded(seed: u64) -> Self {
        Self(StdRng::seed_from_u64(seed))
    }

    fn below(&mut self, n: usize) -> usize {
        self.0.random_range(0..n)
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())]
    }

    fn millis(&mut self, max: u64) -> Duration {
        Duration::from_millis(self.0.random_range(0..=max))
    }
}

/// What a round does before its kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Start,
    SignIn,
    Open,
    SignOut,
    Forget,
}

/// How an open action opens a saved account.
#[derive(Debug, Clone, Copy)]
enum Open {
    /// `open_window` with the account, as "Open an account in a new window" then picking it.
    NewWindow,
    /// The "Open" button of the sign-in screen's saved-accounts list.
    FromSignIn,
    /// The account menu's "Switch account", in the round's window of that index.
    Switch(usize),
}

/// An account window as one look at it found it: its WebDriver handle, what its page says (`data-status`; none
/// while the page is still starting) and whose profile it shows.
struct Shown {
    handle: WindowHandle,
    status: Option<String>,
    username: Option<String>,
}

impl Shown {
    fn signs_in(&self) -> bool {
        self.status.as_deref() == Some("signed_out")
    }
}

/// The app under WebDriver in one round, with what it showed when it was up.
struct Round<'a> {
    app: &'a App,
    windows: Vec<Shown>,
    /// The saved-accounts list: username -> (id, status).
    saved: BTreeMap<String, (String, String)>,
    delay: Duration,
}

/// What an action got to before the kill.
struct Outcome {
    began: Instant,
    finished: bool,
    what: String,
}

impl Round<'_> {
    /// Runs `act` until it finishes or the kill is due, whichever comes first.
    async fn timed(&self, what: String, act: impl Future<Output = ()>) -> Outcome {
        let began = Instant::now();
        let finished = tokio::time::timeout(self.delay, act).await.is_ok();
        Outcome { began, finished, what }
    }
}

fn say(line: &str) {
    report("crash", line);
}

fn data_dir(home: &Path) -> PathBuf {
    home.join("data/app.kage.client")
}

/// Problems with the shell's files: each must parse as JSON if present, and nothing may have been kept aside
/// as damaged.
fn file_problems(home: &Path) -> Vec<String> {
    let dir = data_dir(home);
    let mut problems = Vec::new();
    for name in ["roster.json", "windows.json"] {
        match std::fs::read(dir.join(name)) {
            Ok(bytes) => {
                if let Err(error) = serde_json::from_slice::<Value>(&bytes) {
                    problems.push(format!("{name} is not JSON ({error}): {:?}", String::from_utf8_lossy(&bytes)));
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => problems.push(format!("{name}: {error}")),
        }
    }
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.contains(".corrupt-") {
            problems.push(format!("{name} was kept aside as damaged"));
        }
    }
    problems
}

/// The sandbox's port, where the app's in-process server listens (saved across runs).
fn sandbox_port(home: &Path) -> u16 {
    let text = std::fs::read_to_string(data_dir(home).join("sandbox/port")).expect("sandbox port file");
    text.trim().parse().expect("sandbox port")
}

/// Starts the app under WebDriver on the next pair of ports; a launch whose session never comes is noted in
/// `hung` and tried again (three times at most).
async fn launch(home: &Path, port: &mut u16, hung: &mut Vec<String>) -> App {
    for _ in 0..3 {
        *port += 2;
        match App::try_launch_binary(&debug_binary("kage"), home, *port - 2, &[]).await {
            Ok(app) => return app,
            Err(error) => {
                say(&format!("launch on port {}: {error}", *port - 2));
                hung.push(error);
            }
        }
    }
    panic!("the app did not start three times in a row: {hung:?}");
}

/// Every account window in one pass (one script per window).
async fn survey(app: &App) -> Vec<Shown> {
    // `data-status` is "loading" in index.html until the page's script has asked for the window's state.
    let script = "const app = document.getElementById('app'); \
                  const starting = !!document.querySelector(\"[data-testid='view-loading']\"); \
                  const name = document.querySelector(\"[data-testid='profile-username']\"); \
                  return [window.__TAURI_INTERNALS__.metadata.currentWindow.label, \
                          app && !starting ? app.dataset.status || null : null, \
                          name ? name.textContent.trim() : null]";
    let mut shown = Vec::new();
    for handle in app.client.windows().await.unwrap_or_default() {
        if app.client.switch_to_window(handle.clone()).await.is_err() {
            continue;
        }
        let Ok(answer) = app.client.execute(script, vec![]).await else { continue };
        if answer[0].as_str().is_some_and(|label| label.starts_with("acct-")) {
            let status = answer[1].as_str().map(str::to_owned);
            let username = answer[2].as_str().map(str::to_owned);
            shown.push(Shown { handle, status, username });
        }
    }
    shown
}

/// Waits until the page of every window the app restored has started (generously: on a busy machine a debug
/// build's WebKit windows take their time).
async fn ready(app: &App) -> Vec<Shown> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let shown = survey(app).await;
        if !shown.is_empty() && shown.iter().all(|w| w.status.is_some()) {
            app.client.switch_to_window(shown[0].handle.clone()).await.unwrap();
            return shown;
        }
        let states: Vec<_> = shown.iter().map(|w| w.status.clone()).collect();
        assert!(Instant::now() < deadline, "the app's windows did not start: {states:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The saved-accounts list, as the sign-in screen gets it: username -> (id, status).
async fn saved_accounts(app: &App) -> BTreeMap<String, (String, String)> {
    let list = app.invoke("saved_accounts", json!({})).await;
    let text = |account: &Value, key: &str| account[key].as_str().unwrap_or_default().to_owned();
    let accounts = list.as_array().cloned().unwrap_or_default();
    accounts.iter().map(|a| (text(a, "username"), (text(a, "id"), text(a, "status")))).collect()
}

/// True once the current window shows `username`'s account (not the sign-in screen).
async fn shows(app: &App, username: &str) -> bool {
    let status = app.status().await;
    if status.is_none() || status.as_deref() == Some("signed_out") {
        return false;
    }
    let Ok(name) = app.client.find(Locator::Css("[data-testid='profile-username']")).await else { return false };
    name.text().await.is_ok_and(|t| t.trim() == username)
}

async fn wait_until_shows(app: &App, username: &str) {
    while !shows(app, username).await {
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// One round's action under WebDriver: `kind` as rolled, turned into what the windows allow.
///
/// Windows are never closed, so they are shared out: at most [`MAX_WINDOWS`], of which at most [`DEMO_WINDOWS`]
/// show main or alt. The others show throwaways or the sign-in screen, so a sign-in always finds a sign-in
/// screen, room for a new window, or a throwaway to sign out first.
async fn act(round: &Round<'_>, kind: Kind, players: &mut Vec<Player>, home: &Path, rng: &mut Rng) -> (Kind, Outcome) {
    let indices =
        |keep: &dyn Fn(&Player) -> bool| (0..players.len()).filter(|&i| keep(&players[i])).collect::<Vec<_>>();
    let is_demo = |name: &str| players.iter().any(|p| p.demo && p.name == name);
    let room = round.windows.len() < MAX_WINDOWS;
    let signin = round.windows.iter().any(Shown::signs_in);
    let demo_windows: Vec<usize> =
        (0..round.windows.len()).filter(|&i| round.windows[i].username.as_deref().is_some_and(is_demo)).collect();
    let demo_room = demo_windows.len() < DEMO_WINDOWS;
    let shown_throwaways = indices(&|p| {
        !p.demo && p.saved != Saved::No && round.windows.iter().any(|w| w.username.as_ref() == Some(&p.name))
    });
    let listed_throwaways = indices(&|p| !p.demo && p.saved != Saved::No && round.saved.contains_key(&p.name));
    let can_sign_in = room || signin;
    let kind = match kind {
        Kind::Forget if listed_throwaways.is_empty() => Kind::SignIn,
        // A sign-in needs a sign-in screen: make one first by signing a throwaway out.
        Kind::SignIn if !can_sign_in => Kind::SignOut,
        Kind::SignOut if shown_throwaways.is_empty() => Kind::SignIn,
        kind => kind,
    };
    let kind = match kind {
        Kind::SignIn if !can_sign_in => Kind::Open,
        Kind::SignOut if shown_throwaways.is_empty() => Kind::Open,
        kind => kind,
    };
    let outcome = match kind {
        Kind::SignIn => {
            let pick = match rng.below(4) {
                // A throwaway again (forgotten, signed out, cut short or remembered), or main or alt again.
                0 if players.iter().any(|p| !p.demo) => rng.pick(&indices(&|p| !p.demo)),
                1 if demo_room => rng.below(2),
                _ => sign_up(home, players),
            };
            sign_in(round, &mut players[pick]).await
        }
        Kind::Open => {
            // Every (account, way) this round's windows allow; main and alt never take a window from the others.
            let mut choices = Vec::new();
            for pick in indices(&|p| p.saved == Saved::Yes && round.saved.contains_key(&p.name)) {
                let demo = players[pick].demo;
                if room && (demo_room || !demo) {
                    choices.push((pick, Open::NewWindow));
                }
                if signin && (demo_room || !demo) {
                    choices.push((pick, Open::FromSignIn));
                }
                for &window in &demo_windows {
                    if round.windows[window].username.as_ref() != Some(&players[pick].name) {
                        choices.push((pick, Open::Switch(window)));
                    }
                }
            }
            assert!(!choices.is_empty(), "nothing to open: main and alt are not listed");
            let (pick, how) = rng.pick(&choices);
            open(round, &players[pick], how).await
        }
        Kind::SignOut => sign_out(round, &mut players[rng.pick(&shown_throwaways)]).await,
        Kind::Forget => forget(round, &mut players[rng.pick(&listed_throwaways)]).await,
        Kind::Start => unreachable!("a bare start has no WebDriver round"),
    };
    (kind, outcome)
}

/// The check after the last kill: one more start, nobody kills it. Every account in `must_survive` (username,
/// and the id it had for main and alt) is offered, never as "needs sign-in", and opens without a password.
/// Returns username -> what went wrong.
async fn check_survivors(app: &App, must_survive: &[(String, Option<String>)]) -> BTreeMap<String, String> {
    let mut lost = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let offered = loop {
        let saved = saved_accounts(app).await;
        for (name, first_id) in must_survive {
            if let Some((id, status)) = saved.get(name) {
                if status == "signed_out" {
                    lost.insert(name.clone(), format!("offered as \"needs sign-in\" ({id})"));
                }
                if first_id.as_ref().is_some_and(|first_id| first_id != id) {
                    lost.insert(name.clone(), format!("offered under id {id}, not {first_id:?}"));
                }
            }
        }
        // The roster may be rebuilt from the keychain in the background just after start: give it time.
        if must_survive.iter().all(|(name, _)| saved.contains_key(name)) || Instant::now() > deadline {
            break saved;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (name, _) in must_survive {
        let Some((id, _)) = offered.get(name) else {
            lost.insert(name.clone(), "not offered in the saved accounts".into());
            continue;
        };
        let label = app.invoke("open_window", json!({ "accountId": id })).await;
        let Some(label) = label.as_str() else {
            lost.insert(name.clone(), format!("open_window refused: {label}"));
            continue;
        };
        app.focus(label).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = app.status().await;
            if status.as_deref() == Some("signed_in") && shows(app, name).await {
                let answer = app.invoke("refresh_profile", json!({})).await;
                if answer["profile"]["username"] != json!(name) {
                    lost.insert(name.clone(), format!("refresh_profile answered {answer}"));
                }
                break;
            }
            if status.as_deref() == Some("signed_out") || Instant::now() > deadline {
                lost.entry(name.clone()).or_insert(format!("did not open without a password (status {status:?})"));
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        app.screenshot(&format!("crash-survivor-{name}")).await;
    }
    lost
}

#[tokio::test]
async fn saved_accounts_survive_the_app_being_killed_at_random_moments() {
    if !enabled() {
        eprintln!("end-to-end test skipped: run scripts/e2e-test (sets KAGE_E2E=1 under Xvfb with a keyring)");
        return;
    }
    let kills_wanted: u32 =
        std::env::var("KAGE_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_KILLS);
    let seed: u64 = std::env::var("KAGE_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
    });
    let mut rng = Rng::seeded(seed);
    let _ = std::fs::remove_file(artifacts_dir().join("crash.txt"));
    say(&format!("crash test: {kills_wanted} kills, seed {seed} (KAGE_CRASH_SEED={seed} replays the choices)"));
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let app_log = artifacts_dir().join("crash-app-stderr.log");
    let started = Instant::now();
    let mut port = FIRST_DRIVER_PORT;
    let mut hung: Vec<String> = Vec::new();

    // Before the first kill: main and alt signed in with "remember", in two windows.
    let app = launch(home, &mut port, &mut hung).await;
    app.focus("acct-1").await;
    kage_e2e::sign_in(&app, "main", "main-password").await;
    app.click("account-menu").await;
    app.click("menu-new-window").await;
    app.focus("acct-2").await;
    kage_e2e::sign_in(&app, "alt", "alt-password").await;
    let first_ids = saved_accounts(&app).await;
    app.quit().await;
    let mut players: Vec<Player> = ["main", "alt"]
        .iter()
        .map(|&name| Player { name: name.into(), password: format!("{name}-password"), saved: Saved::Yes, demo: true })
        .collect();

    let mut kills = 0;
    let mut per_kind: BTreeMap<Kind, u32> = BTreeMap::new();
    let mut problems: Vec<String> = Vec::new();
    while kills < kills_wanted {
        let (kind, note) = match rng.below(100) {
            0..45 => {
                // A bare start: restore, keychain reads, roster rebuild, refreshes, refetches; killed in there.
                let delay = rng.millis(START_KILL_MS);
                let mut child = spawn_app(home, &app_log);
                tokio::time::sleep(delay).await;
                let webkit = descendants(child.id());
                child.kill().unwrap();
                child.wait().unwrap();
                // WebKit's helpers would go by themselves once the app is gone; do not leave them to it.
                for pid in webkit {
                    kill9(pid);
                }
                (Kind::Start, format!("start, killed {} ms after launch", delay.as_millis()))
            }
            roll => {
                let kind = match roll {
                    45..70 => Kind::SignIn,
                    70..82 => Kind::Open,
                    82..91 => Kind::SignOut,
                    _ => Kind::Forget,
                };
                let launching = Instant::now();
                let app = launch(home, &mut port, &mut hung).await;
                let windows = ready(&app).await;
                let up = launching.elapsed();
                let states: Vec<String> = windows
                    .iter()
                    .map(|w| format!("{}:{}", w.username.as_deref().unwrap_or("-"), w.status.as_deref().unwrap_or("-")))
                    .collect();
                let within = if rng.below(2) == 0 { ACTION_SOON_MS } else { ACTION_KILL_MS };
                let delay = rng.millis(within);
                let round = Round { app: &app, saved: saved_accounts(&app).await, windows, delay };
                let (kind, outcome) = act(&round, kind, &mut players, home, &mut rng).await;
                let delay = round.delay;
                drop(round);
                tokio::time::sleep_until((outcome.began + delay).into()).await;
                app.kill();
                let note = format!(
                    "{}, {}; killed {} ms after it began ({:.1} s after launch; windows {states:?} up in {:.1} s)",
                    outcome.what,
                    if outcome.finished { "done" } else { "cut short" },
                    delay.as_millis(),
                    (outcome.began - launching).as_secs_f64(),
                    up.as_secs_f64(),
                );
                (kind, note)
            }
        };
        *per_kind.entry(kind).or_default() += 1;
        kills += 1;
        say(&format!("kill {kills:>3} at {:>5.1} s: {note}", started.elapsed().as_secs_f64()));
        problems.extend(file_problems(home).into_iter().map(|p| format!("after kill {kills}: {p}")));
    }

    let must_survive: Vec<(String, Option<String>)> = players
        .iter()
        .filter(|p| p.saved == Saved::Yes)
        .map(|p| (p.name.clone(), p.demo.then(|| first_ids[&p.name].0.clone())))
        .collect();
    let app = launch(home, &mut port, &mut hung).await;
    ready(&app).await;
    let lost = check_survivors(&app, &must_survive).await;
    let ours = saved_accounts(&app).await;
    app.quit().await;
    clear_keychain_entries(ours.values().map(|(id, _)| id.as_str()));
    problems.extend(file_problems(home).into_iter().map(|p| format!("at the end: {p}")));

    let count = |saved: Saved| players.iter().filter(|p| !p.demo && p.saved == saved).count();
    say(&format!(
        "kills by action: {per_kind:?}; remembered at the last kill: {} ({}); throwaways signed out or forgotten: \
         {}, cut short: {}",
        must_survive.len(),
        must_survive.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", "),
        count(Saved::No),
        count(Saved::CutShort),
    ));
    for (name, why) in &lost {
        say(&format!("LOST {name}: {why}"));
    }
    for problem in &problems {
        say(&format!("FILE {problem}"));
    }
    say(&format!(
        "crash test: {kills} kills, {} accounts lost, {} file problems, {} WebDriver launches retried, {:.0} s",
        lost.len(),
        problems.len(),
        hung.len(),
        started.elapsed().as_secs_f64()
    ));
    assert!(lost.is_empty(), "accounts lost: {lost:?}");
    assert!(problems.is_empty(), "file problems: {problems:?}");
}
