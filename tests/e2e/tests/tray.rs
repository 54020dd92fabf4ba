//! Keeping Kage in the tray, as the player's preference (off by default) promises it: with it on, closing the
//! last window as a desktop's close button does (`WM_DELETE_WINDOW`) leaves the app running (its event
//! streams and notifications go on); starting Kage again brings back the window that was open, on its account,
//! without a password, in the same process. With it off, closing the last window quits.

use std::time::{Duration, Instant};

use kage_e2e::{
    App, GameServer, artifacts_dir, clear_keychain_entries, debug_binary, enabled, free_port, is_running, sign_in,
    spawn_app, x11,
};
use serde_json::json;

const DRIVER_PORT: u16 = 4520;
const TITLE: &str = "main · Kage";

/// Polls the X server until `check` holds for the titles shown, for up to `within`.
async fn titles_until(within: Duration, check: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let titles = x11::visible_titles();
        if check(&titles) || Instant::now() > deadline {
            return titles;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn keep_in_tray(app: &App, on: bool) {
    let mut prefs = app.invoke("prefs", json!({})).await;
    prefs["keepInTray"] = json!(on);
    let applied = app.invoke("set_prefs", json!({ "prefs": prefs })).await;
    assert_eq!(applied["prefs"]["keepInTray"], on, "{applied}");
}

#[tokio::test]
async fn with_keep_in_tray_the_last_window_closes_kage_runs_on_and_a_new_start_brings_the_window_back() {
    if !enabled() {
        eprintln!("end-to-end test skipped: run scripts/e2e-test (sets KAGE_E2E=1 under Xvfb with a keyring)");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let server_data = tempfile::tempdir().unwrap();
    let server = GameServer::start(server_data.path(), free_port(), "kage-server-tray", true);
    let env = [("KAGE_SERVER_URL", server.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = App::launch_binary(&debug_binary("kage"), home.path(), DRIVER_PORT, &env).await;
    app.focus("acct-1").await;
    sign_in(&app, "main", "main-password").await;
    let main_id = app.invoke("window_state", json!({})).await["account"]["id"].as_str().unwrap().to_owned();
    keep_in_tray(&app, true).await;
    let pid = app.pid().expect("the app runs");
    let titles = titles_until(Duration::from_secs(10), |t| t.iter().any(|t| t == TITLE)).await;
    assert!(titles.iter().any(|t| t == TITLE), "main's window is not on the display: {titles:?}");

    x11::close_until_gone(TITLE, Duration::from_secs(10)).await;
    let titles = x11::visible_titles();
    assert!(!titles.iter().any(|t| t.ends_with("Kage")), "a Kage window is still shown: {titles:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(is_running(pid), "Kage quit when its last window closed, with keep-in-tray on");

    // Starting Kage again hands over to the running one (single instance), which reopens main's window.
    let second_log = artifacts_dir().join("tray-second-launch.log");
    let mut second = spawn_app(home.path(), &second_log);
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the second start did not hand over and exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "second start: {status}");
    let titles = titles_until(Duration::from_secs(15), |t| t.iter().any(|t| t == TITLE)).await;
    assert!(titles.iter().any(|t| t == TITLE), "main's window did not come back: {titles:?}");
    assert_eq!(app.pid(), Some(pid), "the same process");
    // On its account, from the saved sign-in: no password asked.
    app.focus("acct-1").await;
    app.wait_text("profile-username", |t| t == "main").await;
    assert_ne!(app.status().await.as_deref(), Some("signed_out"));

    // Off again: closing the last window quits.
    keep_in_tray(&app, false).await;
    x11::close_until_gone(TITLE, Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while is_running(pid) {
        assert!(Instant::now() < deadline, "Kage kept running with keep-in-tray off");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The keyring is shared by the tests of one run: the next app must not find main of this server in it.
    clear_keychain_entries([main_id.as_str()]);
}
