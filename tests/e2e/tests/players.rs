//! Several players, as the accounts panel promises them (issue acceptance), on a `kage-server` of the test's
//! own, so the app's data dir holds only client state:
//!
//! 1. Three players (signed up over HTTP) sign in, one window each, with "remember", and go into one launch
//!    group. Their windows are closed; from the one window left (on the sign-in screen) the panel's group
//!    button opens the three again, paced by `staggerMs` (shown on the display that far apart), each
//!    window with its own player's profile.
//! 2. Ctrl+2, typed into the third player's window, gives the second saved account's window the keyboard focus
//!    (asked of the X server, which reading through WebDriver could change).
//! 3. "Tile windows" puts every window in its own cell of a grid on the 1600x1000 screen.
//! 4. Streamer mode: no username (and no server address) in any window's title or text.
//! 5. Export with sign-ins to a file; quit; the data dir and the keychain entries are wiped; start again. A wrong
//!    passphrase is refused with a sentence and changes nothing; the right one brings the accounts back, and
//!    "Open all" opens them without a password.
//!
//! Figures (stagger gaps, open times) go to stderr and `target/e2e/players.txt`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use kage_e2e::{
    App, GameServer, artifacts_dir, clear_keychain_entries, debug_binary, enabled, free_port, keychain_entries, report,
    sign_in, until, x11,
};
use serde_json::{Value, json};

const DRIVER_PORT: u16 = 4480;
const PASSWORD: &str = "players-password";
const PLAYERS: [&str; 3] = ["kiba", "shino", "hinata"];
/// What each player is called in streamer mode: two aliases, and one without (shown as "Account 3").
const ALIASES: [Option<&str>; 3] = [Some("Scout"), Some("Bugs"), None];
const GROUP: &str = "team8";
const STAGGER_MS: u64 = 500;
const PASSPHRASE: &str = "eight legs and a dog";
/// The screen `scripts/e2e-test` gives Xvfb.
const SCREEN: (u64, u64) = (1600, 1000);

/// The native title of the window showing the `n`th player (out of streamer mode): "alias (username)".
fn title_of(n: usize) -> String {
    match ALIASES[n] {
        Some(alias) => format!("{alias} ({}) · Kage", PLAYERS[n]),
        None => format!("{} · Kage", PLAYERS[n]),
    }
}

fn log(line: &str) {
    report("players", line);
}

/// Reads the current window's page: `arguments` go to `script`, its answer comes back.
async fn eval(app: &App, script: &str) -> Value {
    app.client.execute(script, vec![]).await.unwrap_or(Value::Null)
}

/// The account the window `label` is pinned to (its id), asked of that window.
async fn account_of(app: &App, label: &str) -> Option<String> {
    app.focus(label).await;
    let state = app.invoke("window_state", json!({})).await;
    state["account"]["id"].as_str().map(str::to_owned)
}

/// What an account window shows once its profile is painted: (name shown, status); `None` before.
const PAINTED: &str = "const q = id => document.querySelector(`[data-testid='${id}']`); \
    const ryo = q('profile-ryo'), name = q('profile-username'); \
    const app = document.getElementById('app'); \
    return ryo && name && /\\d|•/.test(ryo.textContent) ? [name.textContent.trim(), app.dataset.status] : null;";

/// One window opened by the launch queue, as seen once its profile was painted.
#[derive(Debug)]
struct Opened {
    label: String,
    shown: String,
    status: String,
    /// When this test first saw its profile painted, after the launch was asked for.
    painted_after: Duration,
}

/// Waits until `count` windows besides `before` show a painted profile; never a sign-in screen or "signed out"
/// on the way.
async fn wait_opened(app: &App, before: &BTreeSet<String>, count: usize, since: Instant) -> Vec<Opened> {
    let deadline = since + Duration::from_secs(30);
    let mut opened: BTreeMap<String, Opened> = BTreeMap::new();
    while opened.len() < count {
        assert!(Instant::now() < deadline, "only {} of {count} windows showed a profile: {opened:?}", opened.len());
        for (label, handle) in app.windows().await {
            if before.contains(&label) || opened.contains_key(&label) {
                continue;
            }
            app.client.switch_to_window(handle).await.unwrap();
            assert_ne!(app.status().await.as_deref(), Some("signed_out"), "{label} opened signed out");
            let painted = eval(app, PAINTED).await;
            if let Some([shown, status]) = painted.as_array().map(Vec::as_slice) {
                opened.insert(
                    label.clone(),
                    Opened {
                        label,
                        shown: shown.as_str().unwrap_or_default().to_owned(),
                        status: status.as_str().unwrap_or_default().to_owned(),
                        painted_after: since.elapsed(),
                    },
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    opened.into_values().collect()
}

fn labels(windows: &BTreeMap<String, fantoccini::wd::WindowHandle>) -> BTreeSet<String> {
    windows.keys().cloned().collect()
}

/// Everything a viewer of the stream could read in the current window: its title and its page's text.
async fn on_screen(app: &App) -> (String, String) {
    let title = app.client.title().await.unwrap_or_default();
    let text = eval(app, "return document.body.innerText").await.as_str().unwrap_or_default().to_owned();
    (title, text)
}

/// The usernames (case-insensitive) and the server address found in `text`.
fn leaks(text: &str, server: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut found: Vec<String> = PLAYERS.iter().filter(|name| lower.contains(*name)).map(|s| s.to_string()).collect();
    if text.contains(server) {
        found.push(server.to_owned());
    }
    found
}

#[tokio::test]
async fn three_players_open_together_paced_switch_by_hotkey_tile_stream_and_move_to_a_fresh_install() {
    if !enabled() {
        eprintln!("end-to-end test skipped: run scripts/e2e-test (sets KAGE_E2E=1 under Xvfb with a keyring)");
        return;
    }
    let started = Instant::now();
    let _ = std::fs::remove_file(artifacts_dir().join("players.txt"));
    let home = tempfile::tempdir().unwrap();
    let server_data = tempfile::tempdir().unwrap();
    let server = GameServer::start(server_data.path(), free_port(), "kage-server-players", false);
    for player in PLAYERS {
        server.sign_up(player, PASSWORD);
    }
    let url = server.url();
    let env = [("KAGE_SERVER_URL", url.as_str())];
    let server_address = url.trim_start_matches("http://").to_owned();
    let kage = debug_binary("kage");
    let launch = || App::launch_binary(&kage, home.path(), DRIVER_PORT, &env);

    // 1. Three players, one window each, remembered; all three in one group; pacing 500 ms.
    let app = launch().await;
    app.focus("acct-1").await;
    sign_in(&app, PLAYERS[0], PASSWORD).await;
    for (n, player) in PLAYERS.iter().enumerate().skip(1) {
        app.click("account-menu").await;
        app.click("menu-new-window").await;
        app.focus(&format!("acct-{}", n + 1)).await;
        sign_in(&app, player, PASSWORD).await;
    }
    let mut ids = Vec::new();
    for n in 1..=PLAYERS.len() {
        ids.push(account_of(&app, &format!("acct-{n}")).await.expect("a signed-in window has an account"));
    }
    let saved = app.invoke("saved_accounts", json!({})).await;
    let saved_order: Vec<&str> = saved.as_array().unwrap().iter().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(saved_order, ids.iter().map(String::as_str).collect::<Vec<_>>(), "saved in sign-in order");
    for (account, alias) in saved.as_array().unwrap().iter().zip(ALIASES) {
        let settings = json!({
            "alias": alias,
            "colour": account["colour"],
            "notifications": account["notifications"],
            "groups": [GROUP],
            "proxy": null,
        });
        let answer = app.invoke("update_account", json!({ "accountId": account["id"], "settings": settings })).await;
        assert!(answer.is_array(), "update_account: {answer}");
    }
    let mut prefs = app.invoke("prefs", json!({})).await;
    prefs["staggerMs"] = json!(STAGGER_MS);
    let applied = app.invoke("set_prefs", json!({ "prefs": prefs })).await;
    assert_eq!(applied["prefs"]["staggerMs"], json!(STAGGER_MS), "set_prefs: {applied}");

    // A fourth window on the sign-in screen; the three account windows are closed.
    app.click("account-menu").await;
    app.click("menu-new-window").await;
    app.focus("acct-4").await;
    app.wait_for("view-signin").await;
    // Closed as a player closes them (the desktop's close button), not through WebDriver; one at a time, each
    // asked again if it is still there after 2 s.
    for n in 0..PLAYERS.len() {
        let asked = x11::close_until_gone(&title_of(n), Duration::from_secs(10)).await;
        if asked > 1 {
            log(&format!("players: {:?} closed after {asked} close requests", title_of(n)));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let left = loop {
        let left = app.windows().await;
        if labels(&left) == BTreeSet::from(["acct-4".to_owned()]) {
            break left;
        }
        assert!(Instant::now() < deadline, "windows left: {:?}, shown {:?}", labels(&left), x11::visible_titles());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // The group, from the panel of the window on the sign-in screen.
    app.focus("acct-4").await;
    app.click("open-panel").await;
    app.wait_for("accounts-panel").await;
    let group_button = format!("[data-testid='open-group'][data-group='{GROUP}']");
    let deadline = Instant::now() + Duration::from_secs(10);
    let button = loop {
        if let Ok(button) = app.client.find(Locator::Css(&group_button)).await {
            break button;
        }
        assert!(Instant::now() < deadline, "no button for the group {GROUP} in the panel");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    app.screenshot("players-1-panel").await;
    let shown_before: BTreeSet<u32> = x11::shown_windows().into_iter().map(|(id, _)| id).collect();
    let clicked = Instant::now();
    let mapped = std::thread::spawn(move || x11::appearances(&shown_before, PLAYERS.len(), clicked));
    button.click().await.unwrap();
    let opened = wait_opened(&app, &labels(&left), PLAYERS.len(), clicked).await;
    let mapped = mapped.join().expect("the display watch");
    let mut window_of = BTreeMap::new();
    for window in &opened {
        let id = account_of(&app, &window.label).await.expect("an opened window has an account");
        let player = ids.iter().position(|i| *i == id).map(|i| PLAYERS[i]).expect("one of the three");
        assert_eq!(window.shown, player, "{} shows its own player: {window:?}", window.label);
        assert_eq!(window.status, "signed_in", "{window:?}");
        window_of.insert(player, window.label.clone());
        app.screenshot(&format!("players-2-opened-{}-{player}", window.label)).await;
    }
    assert_eq!(window_of.len(), PLAYERS.len(), "each player in a window of their own: {opened:?}");
    let gaps: Vec<Duration> = mapped.windows(2).map(|pair| pair[1].0 - pair[0].0).collect();
    log(&format!(
        "players: group of {} opened, stagger {STAGGER_MS} ms: windows shown {:?} after the click ({:?} apart); \
         profiles seen {:?} after the click",
        PLAYERS.len(),
        mapped.iter().map(|(at, title)| format!("{title} {at:?}")).collect::<Vec<_>>(),
        gaps,
        opened.iter().map(|w| w.painted_after).collect::<Vec<_>>(),
    ));
    assert_eq!(mapped.len(), PLAYERS.len(), "windows shown on the display: {mapped:?}");
    // The queue opens a window, waits for its session, then pauses: windows are at least the pause apart. They
    // show on the display once their page has loaded, which is not equally quick for all: since related views
    // (issue 22) the first shows 110-130 ms later after its opening than the next two (gaps of 380-396 and
    // 507-512 ms in five runs of 2026-12-04; most likely the start of the web process the others then share).
    // Since Kage's page paints without compositing (2026-12-07) the later windows' pages show sooner after their
    // opening while the first still waits for its process, so the first gap is shorter still: 288-361 ms in six
    // runs, the second 502-531 ms. (The X windows exist only from when they are shown, so the openings themselves
    // cannot be read from the display.) The first gap gets that much slack, the others 30 %, the whole span
    // 250 ms; without the pause the windows open back to back, well under these.
    let stagger = Duration::from_millis(STAGGER_MS);
    let span: Duration = gaps.iter().sum();
    let least = |n: usize| if n == 0 { stagger / 2 } else { stagger * 7 / 10 };
    assert!(gaps.iter().enumerate().all(|(n, gap)| *gap >= least(n)), "windows not paced {stagger:?} apart: {gaps:?}");
    let asked = (stagger * gaps.len() as u32).saturating_sub(Duration::from_millis(250));
    assert!(span >= asked, "windows not paced {stagger:?} apart: {gaps:?} (together {span:?}, at least {asked:?})");

    // 2. Ctrl+2 in the third player's window: the second saved account's window gets the focus.
    let (second, third) = (&window_of[PLAYERS[1]], &window_of[PLAYERS[2]]);
    let windows_before = labels(&app.windows().await);
    // Giving the focus is a request to the X server that a window being mapped or painted can overtake now and
    // then: asked again, up to three times, before Ctrl+2 is pressed.
    let mut before = None;
    for _ in 0..3 {
        app.focus(third).await;
        assert!(x11::focus(&title_of(2)), "no window titled {:?}: {:?}", title_of(2), x11::visible_titles());
        before = until(Duration::from_secs(3), || x11::focused_title().filter(|t| *t == title_of(2))).await;
        if before.is_some() {
            break;
        }
    }
    let ctrl_2 = KeyActions::new("keyboard".to_owned())
        .then(KeyAction::Down { value: Key::Control.into() })
        .then(KeyAction::Down { value: '2' })
        .then(KeyAction::Up { value: '2' })
        .then(KeyAction::Up { value: Key::Control.into() });
    app.client.perform_actions(ctrl_2).await.expect("Ctrl+2");
    let after = until(Duration::from_secs(5), || x11::focused_title().filter(|t| *t == title_of(1))).await;
    log(&format!("players: X focus before Ctrl+2 {before:?} ({third}), after {after:?} (expected {second})"));
    assert!(before.is_some(), "the X server did not report {third} focused before Ctrl+2: {:?}", x11::focused_title());
    assert!(after.is_some(), "Ctrl+2 did not focus {second}: the X focus is on {:?}", x11::focused_title());
    assert_eq!(labels(&app.windows().await), windows_before, "Ctrl+2 opened or closed no window");

    // 3. Tile: every window in a cell of its own, on the screen.
    app.focus(second).await;
    let tiled = app.invoke("tile_windows", json!({})).await;
    assert!(tiled.is_u64(), "tile_windows: {tiled}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut rects = BTreeMap::new();
    for (label, handle) in app.windows().await {
        app.client.switch_to_window(handle).await.unwrap();
        rects.insert(label, app.client.get_window_rect().await.expect("window rect"));
    }
    log(&format!("players: tiled {tiled} windows; (x, y, width, height): {rects:?}"));
    assert_eq!(tiled.as_u64(), Some(rects.len() as u64), "every window tiled");
    for label in rects.keys() {
        app.focus(label).await;
        app.screenshot(&format!("players-3-tiled-{label}")).await;
    }
    // Checked at the end, so that a tiling fault does not hide what the later steps find.
    let tiling = tiling_problems(&rects);
    // `scripts/readme-screenshot` photographs the whole desktop here (tray included): it is told the windows
    // are tiled, and the test waits while it takes the picture.
    if let Ok(marker) = std::env::var("KAGE_E2E_TILED_MARKER") {
        std::fs::write(&marker, b"tiled").expect("marker");
        tokio::time::sleep(Duration::from_secs(8)).await;
    }

    // 4. Streamer mode, switched on in the second player's panel: no username or server anywhere on screen.
    app.focus(second).await;
    app.click("account-menu").await;
    app.click("menu-accounts").await;
    app.wait_for("accounts-panel").await;
    app.click("streamer-mode").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.invoke("prefs", json!({})).await["streamerMode"] != json!(true) {
        assert!(Instant::now() < deadline, "streamer mode did not switch on");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every window follows within a few refetches (700 ms each), or the leak is recorded.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (seen, mut streamer) = loop {
        let mut seen = Vec::new();
        let mut problems = Vec::new();
        for (label, handle) in app.windows().await {
            app.client.switch_to_window(handle).await.unwrap();
            let (title, text) = on_screen(&app).await;
            let shown = format!("{title}\n{text}");
            problems.extend(leaks(&shown, &server_address).into_iter().map(|leak| {
                let lines: Vec<&str> = shown.lines().filter(|l| l.to_lowercase().contains(&leak)).collect();
                format!("{label} shows {leak:?} in {lines:?} (page title {title:?})")
            }));
            seen.push(format!("{label}: {title}"));
        }
        let x_titles = x11::visible_titles();
        for title in &x_titles {
            problems.extend(
                leaks(title, &server_address).into_iter().map(|leak| format!("X title {title:?} shows {leak:?}")),
            );
        }
        if problems.is_empty() || Instant::now() > deadline {
            log(&format!("players: streamer mode: page titles {seen:?}; X titles {x_titles:?}"));
            break (seen, problems);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for line in &seen {
        let label = line.split(':').next().unwrap();
        app.focus(label).await;
        app.screenshot(&format!("players-4-streamer-{label}")).await;
    }
    for (n, player) in PLAYERS.iter().enumerate() {
        let name = ALIASES[n].map_or_else(|| format!("Account {}", n + 1), str::to_owned);
        app.focus(&window_of[player]).await;
        let shown = app.text("profile-username").await;
        if shown != name {
            streamer.push(format!("{player}'s window names its player {shown:?}, not {name:?}"));
        }
    }
    for problem in &streamer {
        log(&format!("players: streamer mode: {problem}"));
    }
    if !streamer.is_empty() {
        // Tells a window that was never repainted apart from one that paints the name afresh.
        let mut after_reload = Vec::new();
        for (label, handle) in app.windows().await {
            app.client.switch_to_window(handle).await.unwrap();
            app.client.refresh().await.unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
            let (title, text) = on_screen(&app).await;
            after_reload.extend(
                leaks(&format!("{title}\n{text}"), &server_address).into_iter().map(|l| format!("{label}: {l}")),
            );
        }
        log(&format!("players: streamer mode, each window reloaded: leaks {after_reload:?}"));
    }

    // 5. Export with sign-ins, then a fresh install: no data dir, no keychain entries.
    let file = kage_e2e::chosen_file(home.path());
    let exported = app.invoke("export_accounts", json!({ "passphrase": PASSPHRASE, "includeCredentials": true })).await;
    assert_eq!((exported["accounts"].as_u64(), exported["withCredentials"].as_u64()), (Some(3), Some(3)), "{exported}");
    let sealed = std::fs::read(&file).expect("the export file");
    let plain = String::from_utf8_lossy(&sealed).to_lowercase();
    assert!(PLAYERS.iter().all(|p| !plain.contains(p)), "the export file is not encrypted");
    app.quit().await;
    wipe(home.path());
    clear_keychain_entries(ids.iter().map(String::as_str));
    let entries = keychain_entries();
    assert!(ids.iter().all(|id| !entries.contains(id)), "keychain entries left: {entries:?}");

    let app = launch().await;
    app.focus("acct-1").await;
    app.wait_for("view-signin").await;
    assert_eq!(app.invoke("saved_accounts", json!({})).await, json!([]), "a fresh install has no saved accounts");
    let wrong = app.invoke("import_accounts", json!({ "passphrase": "not the passphrase" })).await;
    log(&format!("players: import with a wrong passphrase: {wrong}"));
    assert_eq!(wrong["error"]["code"], json!("wrong_passphrase"), "{wrong}");
    let sentence = wrong["error"]["message"].as_str().unwrap_or_default();
    assert!(sentence.contains("passphrase") && sentence.contains("Nothing was changed"), "{sentence}");
    assert_eq!(app.invoke("saved_accounts", json!({})).await, json!([]), "a wrong passphrase added nothing");
    let entries = keychain_entries();
    assert!(ids.iter().all(|id| !entries.contains(id)), "a wrong passphrase wrote to the keychain: {entries:?}");

    let imported = app.invoke("import_accounts", json!({ "passphrase": PASSPHRASE })).await;
    log(&format!("players: import with the passphrase: {imported}"));
    assert_eq!((imported["added"].as_u64(), imported["credentials"].as_u64()), (Some(3), Some(3)), "{imported}");
    let entries = keychain_entries();
    assert!(ids.iter().all(|id| entries.contains(id)), "imported sign-ins in the keychain: {entries:?}");

    // Open all from the panel: every account opens with its profile, no password asked.
    app.click("open-panel").await;
    app.wait_for("accounts-panel").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = app.client.find_all(Locator::Css("[data-testid='panel-account']")).await.unwrap().len();
        let group = app.client.find(Locator::Css(&group_button)).await.is_ok();
        if listed == PLAYERS.len() && group {
            break;
        }
        assert!(Instant::now() < deadline, "the panel lists {listed} accounts (group button: {group})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let before = labels(&app.windows().await);
    let clicked = Instant::now();
    app.click("open-all").await;
    let reopened = wait_opened(&app, &before, PLAYERS.len(), clicked).await;
    let mut shown: Vec<String> = reopened.iter().map(|w| w.shown.clone()).collect();
    shown.sort();
    let mut expected: Vec<String> = PLAYERS.iter().map(|p| p.to_string()).collect();
    expected.sort();
    assert_eq!(shown, expected, "each imported account in a window: {reopened:?}");
    assert!(reopened.iter().all(|w| w.status == "signed_in"), "{reopened:?}");
    for window in &reopened {
        app.focus(&window.label).await;
        app.screenshot(&format!("players-5-imported-{}", window.label)).await;
    }
    log(&format!(
        "players: after the import, Open all showed {} profiles within {:?}; whole test {:?}",
        reopened.len(),
        reopened.iter().map(|w| w.painted_after).max().unwrap_or_default(),
        started.elapsed()
    ));

    app.quit().await;
    drop(server);
    clear_keychain_entries(ids.iter().map(String::as_str));
    assert!(streamer.is_empty(), "in streamer mode: {streamer:#?}");
    assert!(tiling.is_empty(), "after \"Tile windows\": {tiling:?}; (x, y, width, height): {rects:?}");
}

/// What is wrong with the windows' places after tiling: a window reaching off the screen, two overlapping.
fn tiling_problems(rects: &BTreeMap<String, (u64, u64, u64, u64)>) -> Vec<String> {
    let mut problems = Vec::new();
    for (label, &(x, y, width, height)) in rects {
        if x + width > SCREEN.0 || y + height > SCREEN.1 {
            problems.push(format!("{label} reaches off the {}x{} screen", SCREEN.0, SCREEN.1));
        }
    }
    let cells: Vec<_> = rects.iter().collect();
    for (i, (a, &(ax, ay, aw, ah))) in cells.iter().copied().enumerate() {
        for (b, &(bx, by, bw, bh)) in cells[i + 1..].iter().copied() {
            if !(ax + aw <= bx || bx + bw <= ax || ay + ah <= by || by + bh <= ay) {
                problems.push(format!("{a} and {b} overlap"));
            }
        }
    }
    problems
}

/// What a fresh install has: no data, configuration or cache of Kage's.
fn wipe(home: &Path) {
    for dir in ["data", "config", "cache"] {
        let _ = std::fs::remove_dir_all(home.join(dir));
    }
}
