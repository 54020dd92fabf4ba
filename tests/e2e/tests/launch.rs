//! Launching from a shell (issue 22.4): with Kage running and main and alt saved, `kage open alt` (or the link
//! `kage://open/alt`) run as a second process hands over to the running Kage, which focuses alt's window, or
//! opens one pinned to alt when it has none; `kage open nobody` exits 1 with a sentence and opens nothing; `kage
//! list` prints the saved accounts (in streamer mode their aliases only); a shortcut made in the panel runs the
//! same command; a group opens in its template; and with no Kage running, `kage open` starts one that opens the
//! account.
//!
//! The X input focus is read from the X server itself (as players.rs does), never through WebDriver, which would
//! move it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kage_e2e::{
    App, GameServer, artifacts_dir, clear_keychain_entries, debug_binary, enabled, free_port, is_running, run_kage,
    sign_in_each, spawn_app_with, until, x11,
};
use serde_json::json;

const DRIVER_PORT: u16 = 4620;
const WITHIN: Duration = Duration::from_secs(30);

async fn labels(app: &App) -> BTreeSet<String> {
    app.windows().await.into_keys().collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

#[tokio::test]
async fn kage_open_from_a_shell_focuses_or_opens_that_accounts_window_in_the_running_kage() {
    if !enabled() {
        eprintln!("end-to-end test skipped: run scripts/e2e-test (sets KAGE_E2E=1 under Xvfb with a keyring)");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let server_data = tempfile::tempdir().unwrap();
    let server = GameServer::start(server_data.path(), free_port(), "kage-server-launch", true);
    let env = [("KAGE_SERVER_URL", server.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = App::launch_binary(&debug_binary("kage"), home.path(), DRIVER_PORT, &env).await;
    let pid = app.pid().expect("the app runs");
    let ids = sign_in_each(&app, &[("main", "main-password"), ("alt", "alt-password")]).await;
    let (main_title, alt_title) = ("main · Kage", "alt · Kage");
    let shown = until(WITHIN, || {
        let titles = x11::visible_titles();
        (titles.iter().any(|t| t == main_title) && titles.iter().any(|t| t == alt_title)).then_some(())
    })
    .await;
    assert!(shown.is_some(), "main's and alt's windows are not both shown: {:?}", x11::visible_titles());

    // 1. alt has a window, main has the focus: `kage open alt` moves the focus to alt's window, opening nothing.
    let before = labels(&app).await;
    x11::focus_and_wait(main_title).await;
    let opened = run_kage(home.path(), &["open", "alt"], WITHIN);
    assert!(opened.status.success(), "kage open alt: {opened:?}");
    let after = until(Duration::from_secs(10), || x11::focused(alt_title)).await;
    assert!(after.is_some(), "kage open alt did not focus alt's window: the X focus is on {:?}", x11::focused_title());
    assert_eq!(labels(&app).await, before, "no window opened or closed");
    assert_eq!(app.pid(), Some(pid), "the same Kage");

    // 1b. The same as a clicked `kage://` link (the system runs `kage <link>`): the focus moves to alt's window;
    // a link asking for anything else is refused with a sentence and changes nothing.
    x11::focus_and_wait(main_title).await;
    let linked = run_kage(home.path(), &["kage://open/alt"], WITHIN);
    assert!(linked.status.success(), "kage kage://open/alt: {linked:?}");
    let after = until(Duration::from_secs(10), || x11::focused(alt_title)).await;
    assert!(after.is_some(), "the kage://open/alt link did not focus alt's window: {:?}", x11::focused_title());
    let refused = run_kage(home.path(), &["kage://forget/alt"], WITHIN);
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    assert!(
        text(&refused.stderr).starts_with("kage: Kage does not know the link \"kage://forget/alt\""),
        "{refused:?}"
    );
    assert_eq!(labels(&app).await, before, "no window opened or closed");

    // 2. alt's window closed: `kage open alt` opens a window pinned to alt in the running Kage, and focuses it.
    x11::close_until_gone(alt_title, Duration::from_secs(10)).await;
    x11::focus_and_wait(main_title).await;
    let before = labels(&app).await;
    let opened = run_kage(home.path(), &["open", "alt"], WITHIN);
    assert!(opened.status.success(), "kage open alt: {opened:?}");
    let deadline = Instant::now() + WITHIN;
    let new_label = loop {
        let now = labels(&app).await;
        if let Some(label) = now.difference(&before).next() {
            break label.clone();
        }
        assert!(Instant::now() < deadline, "no window opened for kage open alt: {now:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(new_label.starts_with("acct-"), "{new_label}");
    let focus = until(Duration::from_secs(15), || x11::focused(alt_title)).await;
    assert!(focus.is_some(), "alt's new window did not get the focus: {:?}", x11::focused_title());
    app.focus(&new_label).await;
    app.wait_text("profile-username", |t| t == "alt").await;
    let state = app.invoke("window_state", json!({})).await;
    assert_eq!(state["account"]["id"], ids[1].as_str(), "{new_label} is pinned to alt: {state}");
    assert_ne!(state["status"], "signed_out", "opened from the saved sign-in: {state}");

    // 3. An unknown name: exit 1, a sentence, no window.
    let before = labels(&app).await;
    let nobody = run_kage(home.path(), &["open", "nobody"], WITHIN);
    assert_eq!(nobody.status.code(), Some(1), "{nobody:?}");
    assert_eq!(text(&nobody.stderr), "No saved account goes by \"nobody\". \"kage list\" shows the names Kage knows.");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(labels(&app).await, before, "kage open nobody opened nothing");

    // 4. The list: both saved accounts.
    let listed = run_kage(home.path(), &["list"], WITHIN);
    assert!(listed.status.success(), "{listed:?}");
    assert_eq!(text(&listed.stdout), "main\nalt");

    // 5. Streamer mode with an alias for alt: the list names no username, and the alias opens alt.
    app.focus("acct-1").await;
    let settings = json!({ "alias": "Scout", "colour": "#3f8efc", "notifications": true, "groups": [], "proxy": null });
    let updated = app.invoke("update_account", json!({ "accountId": ids[1], "settings": settings })).await;
    assert!(updated.is_array(), "update_account: {updated}");
    let mut prefs = app.invoke("prefs", json!({})).await;
    prefs["streamerMode"] = json!(true);
    let applied = app.invoke("set_prefs", json!({ "prefs": prefs })).await;
    assert_eq!(applied["prefs"]["streamerMode"], true, "{applied}");
    let listed = run_kage(home.path(), &["list"], WITHIN);
    assert_eq!(text(&listed.stdout), "Account 1\nScout", "{listed:?}");
    let nobody = run_kage(home.path(), &["open", "nobody"], WITHIN);
    let printed = [text(&nobody.stdout), text(&nobody.stderr), text(&listed.stderr)].join("\n");
    assert!(!printed.contains("main") && !printed.contains("alt"), "a username printed in streamer mode: {printed}");

    // 6. The panel's shortcut for alt: a desktop entry that runs this Kage with `open Scout`, nothing else, and
    // running its command focuses alt's window.
    let made = app.invoke("create_shortcut", json!({ "accountId": ids[1], "group": null })).await;
    assert_eq!(made["fileName"], "kage-open-scout.desktop", "{made}");
    let file = home.path().join("data/applications/kage-open-scout.desktop");
    let entry = std::fs::read_to_string(&file).expect("the shortcut is in the applications directory");
    let exec = entry.lines().find_map(|l| l.strip_prefix("Exec=")).expect("an Exec line");
    let binary = debug_binary("kage").canonicalize().unwrap();
    assert_eq!(exec, format!("{} open Scout", binary.display()), "{entry}");
    for secret in ["main", "alt", ids[0].as_str(), ids[1].as_str(), "password", "127.0.0.1"] {
        let without_path = entry.replace(&binary.display().to_string(), "");
        assert!(!without_path.contains(secret), "{secret} in the shortcut: {entry}");
    }
    x11::focus_and_wait("Account 1 · Kage").await;
    let args: Vec<&str> = exec.split(' ').skip(1).collect();
    let ran = run_kage(home.path(), &args, WITHIN);
    assert!(ran.status.success(), "the shortcut's command: {ran:?}");
    let focus = until(Duration::from_secs(10), || x11::focused("Scout · Kage")).await;
    assert!(focus.is_some(), "the shortcut did not focus alt's window: {:?}", x11::focused_title());

    // 7. A group opened from the shell, in its template: main large on the left, alt beside it, no overlap, all
    // on the screen (1600 x 1000 under the test's Xvfb).
    app.focus("acct-1").await;
    for (n, alias) in [(0, json!(null)), (1, json!("Scout"))] {
        let settings =
            json!({ "alias": alias, "colour": "#3f8efc", "notifications": true, "groups": ["duo"], "proxy": null });
        let updated = app.invoke("update_account", json!({ "accountId": ids[n], "settings": settings })).await;
        assert!(updated.is_array(), "update_account: {updated}");
    }
    let set = app.invoke("set_group_template", json!({ "group": "duo", "template": "main_and_stack" })).await;
    assert_eq!(set, json!([{ "group": "duo", "template": "main_and_stack" }]), "{set}");
    let opened = run_kage(home.path(), &["open", "--group", "duo"], WITHIN);
    assert!(opened.status.success(), "kage open --group duo: {opened:?}");
    let deadline = Instant::now() + WITHIN;
    let (main_rect, alt_rect) = loop {
        let mut rects = std::collections::BTreeMap::new();
        for (label, handle) in app.windows().await {
            app.client.switch_to_window(handle).await.unwrap();
            rects.insert(label, app.client.get_window_rect().await.expect("window rect"));
        }
        let (main_rect, alt_rect) = (rects["acct-1"], rects[&new_label]);
        // Placed: main starts at the left edge and is wider than alt, which stands to its right.
        if main_rect.0 == 0 && main_rect.2 > alt_rect.2 && alt_rect.0 >= main_rect.0 + main_rect.2 {
            break (main_rect, alt_rect);
        }
        assert!(Instant::now() < deadline, "the group did not open in its template: {rects:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    for (x, y, width, height) in [main_rect, alt_rect] {
        assert!(x + width <= 1600 && y + height <= 1000, "off the screen: {main_rect:?} {alt_rect:?}");
    }
    kage_e2e::report("launch", &format!("launch: duo opened as main_and_stack: main {main_rect:?}, alt {alt_rect:?}"));

    // 8. No Kage running: `kage open Scout` starts Kage, which opens alt's window (after putting back the last
    // run's, main's).
    x11::close_until_gone("Scout · Kage", Duration::from_secs(10)).await;
    app.quit().await;
    assert!(!is_running(pid), "the first Kage is still running");
    let log = artifacts_dir().join("launch-cold-start.log");
    let mut cold = spawn_app_with(home.path(), &log, &["open", "Scout"], &env);
    let titles = until(WITHIN, || {
        let titles = x11::visible_titles();
        titles.iter().any(|t| t == "Scout · Kage").then_some(titles)
    })
    .await;
    let running = cold.try_wait().unwrap().is_none();
    let seen = x11::visible_titles();
    let _ = cold.kill();
    let _ = cold.wait();
    let app_log = home.path().join("data/app.kage.client/logs/Kage.log");
    let _ = std::fs::copy(app_log, artifacts_dir().join("launch-cold-start-app.log"));
    assert!(running, "kage open Scout did not keep Kage running");
    kage_e2e::report("launch", &format!("launch: windows shown after a cold kage open Scout: {seen:?}"));
    assert!(titles.is_some(), "a cold kage open Scout did not show alt's window: {seen:?}");

    // The keyring is shared by the tests of one run: the next app must not find these accounts in it.
    clear_keychain_entries(ids.iter().map(String::as_str));
}
