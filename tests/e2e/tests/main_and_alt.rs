//! The product's acceptance, played in the real app: a main and an alt in two windows, the seed bug's
//! scenario (background refetches, pushes, focus changes, a transfer between them), a restart that restores
//! both from the keychain without ever showing "signed out", and signing the alt out.

use std::time::{Duration, Instant};

use kage_e2e::{App, clear_keychain_entries, digits, enabled, keychain_entries};
use serde_json::json;

const PORT: u16 = 4444;

/// Each window shows its own player and balance.
async fn checkpoint(app: &App, name: &str, expected: &[(&str, &str, i64)]) {
    for &(label, username, ryo) in expected {
        app.focus(label).await;
        app.wait_text("profile-username", |t| t == username).await;
        let shown = app.wait_text("profile-ryo", |t| digits(t) == Some(ryo)).await;
        assert_eq!(digits(&shown), Some(ryo), "{label} at {name}");
        app.screenshot(&format!("{name}-{label}-{username}")).await;
    }
}

/// A demo player signs in with "remember"; their password is `<name>-password`.
async fn sign_in(app: &App, username: &str) {
    kage_e2e::sign_in(app, username, &format!("{username}-password")).await;
}

#[tokio::test]
async fn main_and_alt_side_by_side_then_restart_then_sign_out_alt() {
    if !enabled() {
        eprintln!("end-to-end test skipped: run scripts/e2e-test (sets KAGE_E2E=1 under Xvfb with a keyring)");
        return;
    }
    let home = tempfile::tempdir().unwrap();

    // First run: sign in main in the first window, open a second window from the UI, sign in alt there.
    let app = App::launch(home.path(), PORT).await;
    app.focus("acct-1").await;
    app.wait_for("view-signin").await;
    app.screenshot("00-sign-in").await;
    sign_in(&app, "main").await;
    app.click("account-menu").await;
    app.click("menu-new-window").await;
    app.focus("acct-2").await;
    sign_in(&app, "alt").await;
    checkpoint(&app, "01-signed-in", &[("acct-1", "main", 1000), ("acct-2", "alt", 250)]).await;

    // Focus moves back and forth while background refetches (every 700 ms) and pushes (alt trains) happen.
    let started = Instant::now();
    let mut round = 0;
    while started.elapsed() < Duration::from_secs(6) {
        app.focus("acct-2").await;
        if round % 2 == 0 {
            app.click("train-button").await;
        }
        app.focus("acct-1").await;
        app.wait_text("profile-username", |t| t == "main").await;
        round += 1;
    }
    checkpoint(&app, "02-after-focus-and-refetch", &[("acct-1", "main", 1000), ("acct-2", "alt", 250)]).await;

    // main sends alt 25 ryo: main's window shows the lower balance, alt's updates through the event stream.
    app.focus("acct-1").await;
    app.fill("send-to", "alt").await;
    app.fill("send-amount", "25").await;
    app.click("send-button").await;
    app.click("send-confirm").await;
    app.wait_text("profile-ryo", |t| digits(t) == Some(975)).await;
    app.focus("acct-2").await;
    app.wait_text("profile-ryo", |t| digits(t) == Some(275)).await;
    checkpoint(&app, "03-after-transfer", &[("acct-1", "main", 975), ("acct-2", "alt", 275)]).await;
    // Each window's own account id, asked of that window (the keychain may hold other installs' "main" too).
    let mut ids = Vec::new();
    for label in ["acct-1", "acct-2"] {
        app.focus(label).await;
        let state = app.invoke("window_state", json!({})).await;
        ids.push(state["account"]["id"].as_str().expect("the window has an account").to_owned());
    }
    let (main_id, alt_id) = (ids[0].clone(), ids[1].clone());
    let entries = keychain_entries();
    assert!(entries.contains(&main_id) && entries.contains(&alt_id), "both remembered in the keychain: {entries:?}");
    app.quit().await;

    // Restart: both windows come back with their accounts, no password, and never say "signed out".
    let app = App::launch(home.path(), PORT).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let mut restored = std::collections::BTreeSet::new();
    while restored.len() < 2 {
        assert!(Instant::now() < deadline, "windows did not restore: seen {seen:?}");
        for (label, handle) in app.windows().await {
            app.client.switch_to_window(handle).await.unwrap();
            let status = app.status().await;
            assert_ne!(status.as_deref(), Some("signed_out"), "{label} showed signed out during start-up ({seen:?})");
            seen.push((label.clone(), status.clone()));
            if status.as_deref() == Some("signed_in") {
                restored.insert(label);
            }
        }
    }
    checkpoint(&app, "04-restarted", &[("acct-1", "main", 975), ("acct-2", "alt", 275)]).await;

    // Sign alt out: its window says so, its keychain entry is gone, main is untouched.
    app.focus("acct-2").await;
    app.click("account-menu").await;
    app.click("menu-sign-out").await;
    if let Ok(confirm) = app.client.find(fantoccini::Locator::Css("[data-testid='signout-confirm']")).await {
        confirm.click().await.unwrap();
    }
    app.wait_for("view-signin").await;
    assert_eq!(app.status().await.as_deref(), Some("signed_out"));
    app.screenshot("05-alt-signed-out").await;
    let entries = keychain_entries();
    assert!(!entries.contains(&alt_id), "alt's keychain entry is gone: {entries:?}");
    assert!(entries.contains(&main_id), "main's keychain entry stays: {entries:?}");
    checkpoint(&app, "06-main-untouched", &[("acct-1", "main", 975)]).await;
    app.quit().await;
    clear_keychain_entries([main_id.as_str()]);
}
