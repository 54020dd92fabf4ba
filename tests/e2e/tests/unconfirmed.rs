//! An action whose answer never comes, in the real app: the game server is frozen (SIGSTOP) while main sends alt
//! 25 ryo. Every try times out, so the window says the transfer was not confirmed (not "failed", which would
//! invite a second one). The server resumes, and carries out whatever had reached it; Kage settles the
//! transfer's key and the window says whether it went through. What it says must be what happened to main's
//! balance, whichever way the resumed server ordered the tries and the settling.

use std::time::{Duration, Instant};

use kage_e2e::{App, GameServer, clear_keychain_entries, debug_binary, digits, enabled, free_port, report, sign_in};
use serde_json::json;

const DRIVER_PORT: u16 = 4530;

/// The window's ryo once it has stayed the same for a second (refetches arrive every 700 ms).
async fn settled_ryo(app: &App) -> i64 {
    let mut last = None;
    let mut steady_since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ryo = app.visible_text("profile-ryo").await.as_deref().and_then(digits);
        if ryo != last {
            (last, steady_since) = (ryo, Instant::now());
        } else if let Some(ryo) = ryo
            && steady_since.elapsed() > Duration::from_secs(1)
        {
            return ryo;
        }
        assert!(Instant::now() < deadline, "the balance never settled: {last:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first toast that says how the transfer ended, within `within`.
async fn outcome_toast(app: &App, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let script = "return [...document.querySelectorAll(\"[data-testid='toast']\")].map(t => t.textContent)";
        let toasts = app.client.execute(script, vec![]).await.unwrap_or_default();
        if let Some(text) = toasts
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str())
            .find(|t| t.starts_with("Sending 25 ryo to alt"))
        {
            return text.to_owned();
        }
        assert!(Instant::now() < deadline, "no word on the transfer within {within:?}: {toasts}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_transfer_lost_to_a_frozen_server_is_shown_unconfirmed_then_as_what_happened() {
    if !enabled() {
        eprintln!("end-to-end test skipped: run scripts/e2e-test (sets KAGE_E2E=1 under Xvfb with a keyring)");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let server_data = tempfile::tempdir().unwrap();
    let server = GameServer::start(server_data.path(), free_port(), "kage-server-unconfirmed", true);
    let url = server.url();
    let app = App::launch_binary(&debug_binary("kage"), home.path(), DRIVER_PORT, &[("KAGE_SERVER_URL", &url)]).await;
    app.focus("acct-1").await;
    sign_in(&app, "main", "main-password").await;
    let main_id = app.invoke("window_state", json!({})).await["account"]["id"].as_str().unwrap().to_owned();
    let before = settled_ryo(&app).await;

    server.freeze(true);
    let frozen_at = Instant::now();
    app.fill("send-to", "alt").await;
    app.fill("send-amount", "25").await;
    app.click("send-button").await;
    app.click("send-confirm").await;
    // Two tries of 15 s each (the request timeout), then the window must say it does not know yet.
    let said = app.wait_text_within("action-error", Duration::from_secs(45), |t| !t.is_empty()).await;
    let unconfirmed_after = frozen_at.elapsed();
    assert!(said.contains("did not confirm"), "{said}");
    app.screenshot("unconfirmed-waiting").await;

    server.freeze(false);
    let toast = outcome_toast(&app, Duration::from_secs(40)).await;
    let after = settled_ryo(&app).await;
    app.screenshot("unconfirmed-settled").await;
    report(
        "unconfirmed",
        &format!("told not confirmed after {unconfirmed_after:?}; settled: {toast:?}; main's ryo {before} -> {after}"),
    );
    match toast.as_str() {
        "Sending 25 ryo to alt went through." => assert_eq!(after, before - 25, "{toast}"),
        t if t.starts_with("Sending 25 ryo to alt did not go through") => assert_eq!(after, before, "{toast}"),
        other => panic!("unexpected outcome: {other}"),
    }
    assert!(app.visible_text("action-error").await.is_none(), "the 'not confirmed' line has its answer now");
    app.quit().await;
    // The keyring is shared by the tests of one run: the next app must not find main of this server in it.
    clear_keychain_entries([main_id.as_str()]);
}
