//! A restart brings back the windows of the last run (I10): every window, several of one account included,
//! each pinned to the account it had, also while the game server is down; and bringing accounts up afterwards
//! (Open all, a hotkey) still brings an open account forward instead of opening it twice.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tauri::Manager;

use support::{TestApp, invoke, sign_in};

/// Waits until `check` holds (the launch queue works in the background).
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Label -> the id of the account that window shows (`Null`: the sign-in screen).
fn pins(app: &TestApp) -> Vec<(String, Value)> {
    let mut windows: Vec<_> = app.app.webview_windows().into_iter().collect();
    windows.sort_by(|a, b| a.0.cmp(&b.0));
    windows
        .into_iter()
        .map(|(label, window)| (label, invoke(&window, "window_state", json!({})).unwrap()["account"]["id"].clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn i10_a_restart_with_main_twice_and_alt_once_brings_back_three_windows_also_offline() {
    let server_dir = tempfile::tempdir().unwrap();
    let mut config = kage_server::Config::new(server_dir.path());
    config.demo = true;
    let server = kage_server::start(config).await.expect("server starts");
    let url = server.base_url();
    let vault = std::sync::Arc::new(kage_core::vault::MemoryStore::default());
    let app = TestApp::start_against(Some(&url), tempfile::tempdir().unwrap(), vault.clone()).await;
    let first = app.window("acct-1");
    let main = sign_in(&first, "main")["account"]["id"].clone();
    let second = invoke(&first, "open_window", json!({"accountId": main})).unwrap();
    assert_eq!(second, "acct-2", "a second window of main");
    let alt = sign_in(&app.window("acct-3"), "alt")["account"]["id"].clone();
    for window in app.app.webview_windows().values() {
        invoke(window, "refresh_profile", json!({})).unwrap(); // each profile is cached
    }
    let before = pins(&app);
    assert_eq!(
        before,
        [("acct-1".into(), main.clone()), ("acct-2".into(), main.clone()), ("acct-3".into(), alt.clone())]
    );
    let dir = app.quit_remote().await;
    server.shutdown().await.unwrap();

    // The next start, with the game server down.
    let app = TestApp::start_against(Some(&url), dir, vault).await;
    app.app.state::<kage_app::state::AppState>().restore_saved(); // as the app's setup does
    kage_app::launcher::restore(app.app.handle()).unwrap();
    eventually("three windows back", || app.app.webview_windows().len() == 3).await;
    assert_eq!(pins(&app), before, "every window is back, pinned to the account it had");
    for (label, window) in app.app.webview_windows() {
        let error = invoke(&window, "refresh_profile", json!({})).unwrap_err();
        assert_eq!(error["code"], "offline", "{label}: {error}");
        let state = invoke(&window, "window_state", json!({})).unwrap();
        assert_eq!(state["status"], "offline", "{label}: {state}");
        let expected = if label == "acct-3" { "alt" } else { "main" };
        assert_eq!(state["profile"]["username"], expected, "{label} shows its own cached profile");
    }

    // Bringing accounts up is not restoring: Open all and Ctrl+1 bring the open windows forward.
    let window = app.app.get_webview_window("acct-1").unwrap();
    assert_eq!(invoke(&window, "open_accounts", json!({"group": null})).unwrap(), 2);
    invoke(&window, "focus_account", json!({"position": 1})).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.app.webview_windows().len(), 3, "no account was opened twice");
}
