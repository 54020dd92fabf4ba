//! `scripts/measure-open-all` runs this: "Open all" with eight saved accounts, timed in the release app.
//!
//! Setup: eight players signed up on a `kage-server` of our own (release build), each signed in once with
//! "remember" in a window of its own (so its profile is in the cache), the pause between windows set to 0.
//! Each run then starts the app with one window on the sign-in screen (the layout file says so, as after a
//! player closed the others) and times, from invoking `open_accounts` to every one of the eight new windows
//! showing its own profile (name and balance painted, from the cache or the server, whichever came first). The
//! windows are polled through WebDriver, one after another; the figure includes up to one polling round (its
//! length is printed). Median of [`RUNS`].
//!
//! Memory: PSS of the app's whole process tree (app and WebKit processes) with the one window, then with all
//! nine settled; the difference over eight is what one more account window costs here. The bare-window
//! comparison for that figure is `scripts/measure-app` (`app_windows`).
//!
//! Target (issue): every window painted within 4 s. Needs Xvfb, a D-Bus session with an unlocked keyring and
//! release builds of the app and the server; without `KAGE_E2E=1` it only says so.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kage_e2e::{
    App, GameServer, descendants, enabled, free_port, pss_kib_of_tree, report, sign_in_each, target_dir, x11,
};
use serde_json::{Value, json};

/// Eight by default; `KAGE_BENCH_ACCOUNTS=10` for issue 22's ten (`scripts/measure-memory`).
fn accounts() -> usize {
    std::env::var("KAGE_BENCH_ACCOUNTS").ok().and_then(|n| n.parse().ok()).unwrap_or(8)
}
const RUNS: usize = 3;
const PORT: u16 = 4490;
const PASSWORD: &str = "open-all-password";
const TARGET: Duration = Duration::from_secs(4);
/// How long the new windows are left alone to load and settle before they are read (paint times, memory).
const SETTLE: Duration = Duration::from_secs(10);

/// The build measured: release unless `KAGE_BENCH_PROFILE` says otherwise (`debug`).
fn release(name: &str) -> PathBuf {
    let profile = std::env::var("KAGE_BENCH_PROFILE").unwrap_or_else(|_| "release".to_owned());
    target_dir().join(profile).join(name)
}

fn player(n: usize) -> String {
    format!("bench{n}")
}

fn line(text: &str) {
    report("open_all", text);
}

/// The window's label, and its name shown once the profile (name and a balance) is painted.
/// Also, from the page's own clock: when its first contentful paint happened (ms since the epoch). The page's
/// first text is the account view, painted with the cached profile (index.html shows only a spinner before).
const LOOK: &str = "const q = id => document.querySelector(`[data-testid='${id}']`); \
    const ryo = q('profile-ryo'), name = q('profile-username'); \
    const label = window.__TAURI_INTERNALS__.metadata.currentWindow.label; \
    const fcp = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint'); \
    const nav = performance.getEntriesByType('navigation')[0]; \
    return [label, ryo && name && /\\d/.test(ryo.textContent) ? name.textContent.trim() : null, \
            fcp ? performance.timeOrigin + fcp.startTime : null, \
            [0, nav ? nav.responseEnd : null, nav ? nav.domContentLoadedEventEnd : null] \
              .map(t => t === null ? null : performance.timeOrigin + t)];";

/// Signs the eight players in, one window each, and waits for each profile, so every account is saved and
/// cached; sets the pause between windows to 0. Returns the saved accounts' ids.
async fn prepare(kage: &Path, home: &Path, env: &[(&str, &str)]) -> Vec<String> {
    let app = App::launch_binary(kage, home, PORT, env).await;
    let players: Vec<String> = (1..=accounts()).map(player).collect();
    let logins: Vec<(&str, &str)> = players.iter().map(|name| (name.as_str(), PASSWORD)).collect();
    let ids = sign_in_each(&app, &logins).await;
    let mut prefs = app.invoke("prefs", json!({})).await;
    prefs["staggerMs"] = json!(0);
    let applied = app.invoke("set_prefs", json!({ "prefs": prefs })).await;
    assert_eq!(applied["prefs"]["staggerMs"], json!(0), "set_prefs: {applied}");
    app.quit().await;
    ids
}

/// What one run measured, each from the moment `open_accounts` was invoked.
struct Run {
    /// Each new window first shown on the display (asked of the X server every 5 ms).
    shown: Vec<Duration>,
    /// Each window's first contentful paint, by the page's own clock; `None` where WebKit gave no entry.
    painted: Vec<Option<Duration>>,
    /// Per window, in order of paint, where its time went (from the page's navigation timing; see `stages`).
    stages: Vec<String>,
    pss_one: u64,
    pss_all: u64,
    processes: usize,
}

fn epoch_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() * 1e3
}

/// One run: the app starts with one window on the sign-in screen; `open_accounts` for everyone.
async fn run(kage: &Path, home: &Path, env: &[(&str, &str)]) -> Run {
    let layout = home.join("data/app.kage.client/windows.json");
    std::fs::write(&layout, json!({ "windows": { "acct-1": null } }).to_string()).unwrap();
    let app = App::launch_binary(kage, home, PORT, env).await;
    app.focus("acct-1").await;
    app.wait_for("view-signin").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pss_one = pss_kib_of_tree(kage);
    let first = app.client.window().await.unwrap();

    let before: BTreeSet<u32> = x11::shown_windows().into_iter().map(|(id, _)| id).collect();
    let asked = Instant::now();
    let asked_ms = epoch_ms();
    let watch = std::thread::spawn(move || x11::appearances(&before, accounts(), asked));
    let queued = app.invoke("open_accounts", json!({ "group": null })).await;
    assert_eq!(queued, json!(accounts()), "open_accounts: {queued}");
    // The pages are left alone while they load (a WebDriver call into a loading page waits for it, and takes
    // CPU from the others): their paint times come from their own clocks, read afterwards.
    let shown: Vec<Duration> = watch.join().expect("the display watch").into_iter().map(|(at, _)| at).collect();
    assert_eq!(shown.len(), accounts(), "windows shown on the display");
    tokio::time::sleep(SETTLE.saturating_sub(asked.elapsed())).await;
    // By handle (as a string: handles have no hash): the label, the name shown, the page's paint time, and the
    // page's navigation start, document loaded and DOM ready (ms since the epoch).
    let mut painted: HashMap<String, (String, String, Option<f64>, Value)> = HashMap::new();
    while painted.len() < accounts() {
        assert!(asked.elapsed() < Duration::from_secs(60), "only {} windows painted: {painted:?}", painted.len());
        for handle in app.client.windows().await.unwrap() {
            let key = String::from(handle.clone());
            if handle == first || painted.contains_key(&key) {
                continue;
            }
            if app.client.switch_to_window(handle.clone()).await.is_err() {
                continue;
            }
            let look = app.client.execute(LOOK, vec![]).await.unwrap_or(Value::Null);
            if let (Some(label), Some(name)) = (look[0].as_str(), look[1].as_str()) {
                painted.insert(key, (label.to_owned(), name.to_owned(), look[2].as_f64(), look[3].clone()));
            }
        }
    }
    let names: BTreeSet<&str> = painted.values().map(|(_, name, _, _)| name.as_str()).collect();
    let expected: Vec<String> = (1..=accounts()).map(player).collect();
    assert_eq!(names, expected.iter().map(String::as_str).collect(), "each account in its own window: {painted:?}");
    let since_asked = |at: f64| Duration::from_secs_f64((at - asked_ms).max(0.0) / 1e3);
    let mut by_paint: Vec<_> = painted.values().collect();
    by_paint.sort_by(|a, b| a.2.partial_cmp(&b.2).unwrap_or(std::cmp::Ordering::Equal));
    let stages = by_paint.iter().map(|(_, _, at, marks)| stages(marks, *at, asked_ms)).collect();
    let mut painted: Vec<Option<Duration>> = painted.values().map(|(_, _, at, _)| at.map(since_asked)).collect();
    painted.sort();
    let pss_all = pss_kib_of_tree(kage);
    // WebKit under automation may share web processes between windows: how many the tree holds tells.
    let processes = app.pid().map_or(0, |pid| descendants(pid).len() + 1);
    app.quit().await;
    Run { shown, painted, stages, pss_one, pss_all, processes }
}

/// "nav 2 310 / doc 2 420 / dom 2 650 / paint 3 100": when the page's navigation started (its web process up and
/// asking for index.html), its document arrived, its DOM was ready and it painted, in ms after `open_accounts`.
fn stages(marks: &Value, paint: Option<f64>, asked_ms: f64) -> String {
    let at = |value: Option<f64>| value.map_or("?".to_owned(), |t| format!("{:.0}", t - asked_ms));
    format!(
        "nav {} / doc {} / dom {} / paint {}",
        at(marks[0].as_f64()),
        at(marks[1].as_f64()),
        at(marks[2].as_f64()),
        at(paint)
    )
}

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    if !enabled() || !std::env::args().any(|a| a == "--bench") {
        println!("open_all: run scripts/measure-open-all (needs Xvfb, a keyring, and release builds)");
        return;
    }
    let _ = std::fs::remove_file(kage_e2e::artifacts_dir().join("open_all.txt"));
    let kage = release("kage");
    let server_data = tempfile::tempdir().unwrap();
    let server = GameServer::start_binary(
        &release("kage-server"),
        server_data.path(),
        free_port(),
        "kage-server-open-all",
        false,
    );
    for n in 1..=accounts() {
        server.sign_up(&player(n), PASSWORD);
    }
    let url = server.url();
    let env = [("KAGE_SERVER_URL", url.as_str())];
    let home = tempfile::tempdir().unwrap();
    let ids = prepare(&kage, home.path(), &env).await;

    let (mut shown_all, mut painted_all, mut per_window) = (Vec::new(), Vec::new(), Vec::new());
    for n in 1..=RUNS {
        let run = run(&kage, home.path(), &env).await;
        let extra = run.pss_all.saturating_sub(run.pss_one) / accounts() as u64;
        let last_shown = *run.shown.last().unwrap();
        // The latest paint (a window without a paint entry, shown as "?", does not count: say so when it happens).
        let last_painted = run.painted.iter().flatten().max().copied().expect("paint times");
        line(&format!(
            "open_all run {n}: windows shown at {:?} ms, profiles painted at {:?} ms; PSS {} kB with 1 window, {} kB with {} ({} processes): {extra} kB per extra window",
            run.shown.iter().map(|d| ms(*d)).collect::<Vec<_>>(),
            run.painted.iter().map(|d| d.map_or("?".to_owned(), ms)).collect::<Vec<_>>(),
            run.pss_one,
            run.pss_all,
            accounts() + 1,
            run.processes,
        ));
        line(&format!("open_all run {n}, each window (ms after open_accounts): {}", run.stages.join("; ")));
        shown_all.push(last_shown);
        painted_all.push(last_painted);
        per_window.push(extra);
    }
    let median = |mut values: Vec<Duration>| {
        values.sort();
        values[values.len() / 2]
    };
    per_window.sort();
    let (shown, painted) = (median(shown_all), median(painted_all));
    let verdict = if painted <= TARGET { "met" } else { "NOT met" };
    line(&format!(
        "open_all: {} saved accounts, stagger 0, {} cores, Xvfb, median of {RUNS}: all windows shown {} ms, \
         every profile painted {} ms after open_accounts (target <= {} ms: {verdict}); {} kB PSS per extra \
         account window",
        accounts(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        ms(shown),
        ms(painted),
        TARGET.as_millis(),
        per_window[RUNS / 2],
    ));
    drop(server);
    kage_e2e::clear_keychain_entries(ids.iter().map(String::as_str));
}
