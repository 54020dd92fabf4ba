//! The overview window's commands on Tauri's mock runtime with the real capabilities, against the sandbox:
//! only the window labelled `overview` may ask for tiles, it may call none of the account windows' commands,
//! and each tile shows its own account's numbers after a transfer between them.

mod support;

use std::sync::Arc;

use kage_app::overview::{self, Overview};
use kage_app::state::AppState;
use serde_json::{Value, json};
use support::{TestApp, invoke, sign_in};
use tauri::Manager;

/// The app as `lib.rs` sets it up for the overview: its state, and its listener on the core.
fn with_overview(app: &TestApp) {
    app.app.manage(Overview::new(app._dir.path()));
    let listener = overview::Listener { app: app.app.handle().clone() };
    app.app.state::<AppState>().core.events.listen(Arc::new(listener));
}

fn channel() -> Value {
    json!({"onUpdate": "__CHANNEL__:7"})
}

fn refused(result: Result<Value, Value>) -> bool {
    result.is_err_and(|error| error.as_str().is_some_and(|e| e.contains("not allowed")))
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_overview_window_gets_tiles_and_it_gets_no_account_command() {
    let app = TestApp::start().await;
    with_overview(&app);
    let (account, overview) = (app.window("acct-1"), app.window(overview::LABEL));
    sign_in(&account, "main");
    for command in ["overview_tiles", "overview_activate", "overview_reorder"] {
        assert!(refused(invoke(&account, command, channel())), "an account window called {command}");
    }
    for command in ["window_state", "saved_accounts", "refresh_profile", "transfer", "sign_in", "open_window", "prefs"]
    {
        assert!(refused(invoke(&overview, command, json!({}))), "the overview called {command}");
    }
    let snapshot = invoke(&overview, "overview_tiles", channel()).unwrap();
    assert_eq!(snapshot["tiles"].as_array().unwrap().len(), 1, "{snapshot}");
    // Account windows open it; that is all they may do with it.
    assert!(!refused(invoke(&account, "open_overview", json!({}))));
}

#[tokio::test(flavor = "multi_thread")]
async fn after_a_transfer_each_tile_shows_its_own_accounts_ryo_and_only_alts_counts_it() {
    let app = TestApp::start().await;
    with_overview(&app);
    let (first, second, overview) = (app.window("acct-1"), app.window("acct-2"), app.window(overview::LABEL));
    let main = sign_in(&first, "main")["account"]["id"].as_str().unwrap().to_owned();
    let alt = sign_in(&second, "alt")["account"]["id"].as_str().unwrap().to_owned();
    invoke(&second, "subscribe", json!({"onUpdate": "__CHANNEL__:3"})).unwrap();
    let ryo = |window| invoke(window, "refresh_profile", json!({})).unwrap()["profile"]["ryo"].as_i64().unwrap();
    let (main_ryo, alt_ryo) = (ryo(&first), ryo(&second));
    invoke(&first, "transfer", json!({"to": "alt", "amount": 25})).unwrap();
    let tile_of = |snapshot: &Value, key: &str| -> Value {
        snapshot["tiles"].as_array().unwrap().iter().find(|t| t["key"] == key).cloned().unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let snapshot = loop {
        let snapshot = invoke(&overview, "overview_tiles", channel()).unwrap();
        if tile_of(&snapshot, &alt)["ryo"] == alt_ryo + 25 && tile_of(&snapshot, &alt)["unread"] == 1 {
            break snapshot;
        }
        assert!(std::time::Instant::now() < deadline, "alt's tile never showed the transfer: {snapshot}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let (main_tile, alt_tile) = (tile_of(&snapshot, &main), tile_of(&snapshot, &alt));
    assert_eq!((&main_tile["ryo"], &main_tile["unread"]), (&json!(main_ryo - 25), &json!(0)), "{main_tile}");
    assert_eq!((&main_tile["position"], &alt_tile["position"]), (&json!(1), &json!(2)));
    assert_eq!((&main_tile["state"], &alt_tile["state"]), (&json!("signed_in"), &json!("signed_in")));
}
