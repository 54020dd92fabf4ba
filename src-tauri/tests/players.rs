//! The comforts of people who play several accounts, as commands on the mock runtime with the real capability:
//! settings and groups, "Open all" through the launch queue, hotkeys, streamer mode. None of them lets a page
//! reach another account's credential or name.

mod support;

use std::time::{Duration, Instant};

use kage_app::state::AppState;
use kage_core::WindowLabel;
use serde_json::{Value, json};
use tauri::Manager;

use support::{TestApp, invoke, sign_in};

/// Every string anywhere in `value`.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(map) => map.iter().flat_map(|(k, v)| std::iter::once(k.clone()).chain(strings(v))).collect(),
        _ => Vec::new(),
    }
}

fn settings(alias: &str, groups: &[&str]) -> Value {
    json!({"alias": alias, "colour": "#3f8efc", "notifications": true, "groups": groups, "proxy": null})
}

/// Waits until `check` holds (the launch queue works in the background).
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn i7_streamer_mode_shows_no_username_user_id_or_server_in_any_answer() {
    let app = TestApp::start().await;
    let (first, second) = (app.window("acct-1"), app.window("acct-2"));
    let main = sign_in(&first, "main")["account"]["id"].as_str().unwrap().to_owned();
    let alt = sign_in(&second, "alt")["account"]["id"].as_str().unwrap().to_owned();
    invoke(&first, "update_account", json!({"accountId": main, "settings": settings("Shadow", &[])})).unwrap();
    let user_ids: Vec<String> =
        app.app.state::<AppState>().roster.list().into_iter().map(|entry| entry.user_id).collect();
    let mut prefs = invoke(&first, "prefs", json!({})).unwrap();
    (prefs["streamerMode"], prefs["hideBalances"]) = (json!(true), json!(true));
    invoke(&first, "set_prefs", json!({ "prefs": prefs })).unwrap();

    let answers = [
        invoke(&first, "window_state", json!({})).unwrap(),
        invoke(&second, "window_state", json!({})).unwrap(),
        invoke(&first, "saved_accounts", json!({})).unwrap(),
        invoke(&first, "server_info", json!({})).unwrap(),
        invoke(&first, "refresh_profile", json!({})).unwrap(),
        invoke(&second, "train", json!({"stat": "agility"})).unwrap(),
        // Sending to one's own account by alias, so the username need not be typed on stream.
        invoke(&second, "transfer", json!({"to": "Shadow", "amount": 5})).unwrap(),
        invoke(&first, "update_account", json!({"accountId": alt, "settings": settings("", &[])})).unwrap(),
    ];
    let origin = app.app.state::<AppState>().origin.as_str().to_owned();
    for answer in &answers {
        for text in strings(answer) {
            let lower = text.to_lowercase();
            assert!(!["main", "alt"].iter().any(|name| lower.contains(name)), "a username on screen: {text:?}");
            assert!(!user_ids.iter().any(|id| text.contains(id.as_str())), "a user id on screen: {text:?}");
            assert!(!text.contains(&origin) && !text.contains("127.0.0.1"), "a server address: {text:?}");
        }
    }
    assert_eq!(answers[0]["account"]["username"], "Shadow");
    assert_eq!(answers[1]["account"]["username"], "Account 2", "no alias: its place in the list");
    assert_eq!(answers[0]["hideBalances"], true);
    assert_eq!(answers[4]["profile"]["ryo"], 0, "balances hidden");
    // Window titles and the tray are named by the same presenter.
    let state = app.app.state::<AppState>();
    let presenter = state.presenter();
    for label in ["acct-1", "acct-2"] {
        let pinned = state.core.windows.pin_of(&WindowLabel::new(label)).map(|pin| pin.account.id().to_owned());
        let title = presenter.title(pinned.as_deref()).to_lowercase();
        assert!(!title.contains("main") && !title.contains("alt"), "{title}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn account_settings_are_checked_kept_across_a_restart_and_a_proxy_password_never_reaches_the_page() {
    let app = TestApp::start().await;
    let window = app.window("acct-1");
    let id = sign_in(&window, "main")["account"]["id"].as_str().unwrap().to_owned();
    let bad_colour = json!({"alias": null, "colour": "blue", "notifications": true, "groups": [], "proxy": null});
    let error = invoke(&window, "update_account", json!({"accountId": id, "settings": bad_colour})).unwrap_err();
    assert_eq!(error["code"], "invalid_input", "{error}");
    let bad_proxy =
        json!({"alias": null, "colour": "#112233", "notifications": true, "groups": [], "proxy": "ftp://x"});
    let error = invoke(&window, "update_account", json!({"accountId": id, "settings": bad_proxy})).unwrap_err();
    assert_eq!(error["code"], "invalid_input", "{error}");
    let unknown = invoke(&window, "update_account", json!({"accountId": "nope", "settings": settings("x", &[])}));
    assert_eq!(unknown.unwrap_err()["code"], "not_found");

    let with_proxy = json!({
        "alias": "  Main  ", "colour": "#112233", "notifications": false, "groups": ["Raid", "raid", " Farm "],
        "proxy": "socks5://me:hunter2@127.0.0.1:1080"
    });
    let list = invoke(&window, "update_account", json!({"accountId": id, "settings": with_proxy})).unwrap();
    let saved = &list[0];
    assert_eq!(saved["alias"], "Main");
    assert_eq!(saved["groups"], json!(["Raid", "Farm"]), "trimmed, no case-duplicates");
    assert_eq!(saved["notifications"], false);
    assert_eq!(saved["proxy"], "socks5://me:***@127.0.0.1:1080");
    assert!(!list.to_string().contains("hunter2"));
    // The page sends the masked proxy back with another change: the real one is kept.
    let settings_back = json!({
        "alias": "Main 2", "colour": saved["colour"], "notifications": saved["notifications"],
        "groups": saved["groups"], "proxy": saved["proxy"]
    });
    invoke(&window, "update_account", json!({"accountId": id, "settings": settings_back})).unwrap();
    let entry = app.app.state::<AppState>().roster.find(&id).unwrap();
    assert_eq!(entry.proxy.as_deref(), Some("socks5://me:hunter2@127.0.0.1:1080"));

    let vault = std::sync::Arc::new(kage_core::vault::MemoryStore::default());
    let dir = app.quit(|_| {}).await;
    let app = TestApp::start_on(dir, vault).await;
    let entry = app.app.state::<AppState>().roster.find(&id).unwrap();
    assert_eq!((entry.alias.as_deref(), entry.groups.len(), entry.notifications), (Some("Main 2"), 2, false));
}

#[tokio::test(flavor = "multi_thread")]
async fn open_group_opens_each_member_in_its_own_window_staggered_and_reuses_open_ones() {
    let app = TestApp::start().await;
    let (first, second) = (app.window("acct-1"), app.window("acct-2"));
    let main = sign_in(&first, "main")["account"]["id"].as_str().unwrap().to_owned();
    let alt = sign_in(&second, "alt")["account"]["id"].as_str().unwrap().to_owned();
    invoke(&first, "update_account", json!({"accountId": main, "settings": settings("M", &["Raid"])})).unwrap();
    invoke(&first, "update_account", json!({"accountId": alt, "settings": settings("A", &["Raid"])})).unwrap();
    let mut prefs = invoke(&first, "prefs", json!({})).unwrap();
    prefs["staggerMs"] = json!(400);
    invoke(&first, "set_prefs", json!({"prefs": prefs})).unwrap();
    // Both windows go back to the sign-in screen: the group must open new windows for them.
    for window in [&first, &second] {
        app.app.state::<AppState>().core.close(&WindowLabel::new(window.label()));
    }

    let started = Instant::now();
    assert_eq!(invoke(&first, "open_accounts", json!({"group": "Raid"})).unwrap(), 2);
    let state = app.app.state::<AppState>();
    let opened = |id: &str| {
        let account = state.roster.find(id).and_then(|e| e.account()).unwrap();
        state.core.windows.windows_of(&account)
    };
    eventually("both accounts in windows", || opened(&main).len() == 1 && opened(&alt).len() == 1).await;
    assert!(started.elapsed() >= Duration::from_millis(400), "the second window waited its turn");
    let (main_window, alt_window) = (opened(&main)[0].clone(), opened(&alt)[0].clone());
    assert_ne!(main_window, alt_window);
    for (label, id) in [(&main_window, &main), (&alt_window, &alt)] {
        let window = app.app.get_webview_window(label.as_str()).unwrap();
        let answer = invoke(&window, "refresh_profile", json!({})).unwrap();
        assert_eq!(&answer["account"], &json!(id), "each window shows its own account");
    }
    // Again: nothing new opens, the open windows are reused.
    let before = app.app.webview_windows().len();
    invoke(&first, "open_accounts", json!({"group": null})).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.app.webview_windows().len(), before);
    assert_eq!(invoke(&first, "open_accounts", json!({"group": "Nobody"})).unwrap_err()["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn hotkeys_pick_saved_accounts_by_position_and_a_missing_one_is_a_clear_error() {
    let app = TestApp::start().await;
    let first = app.window("acct-1");
    sign_in(&first, "main");
    let error = invoke(&first, "focus_account", json!({"position": 5})).unwrap_err();
    assert_eq!(error["message"], "There is no saved account number 5.");
    assert!(invoke(&first, "focus_account", json!({"position": 0})).is_err());
    invoke(&first, "focus_account", json!({"position": 1})).unwrap();
    invoke(&first, "cycle_windows", json!({"forward": true})).unwrap();
    invoke(&first, "cycle_windows", json!({"forward": false})).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_accounts_panel_signs_out_one_account_and_leaves_the_other_signed_in() {
    let app = TestApp::start().await;
    let (first, second) = (app.window("acct-1"), app.window("acct-2"));
    let main = sign_in(&first, "main")["account"]["id"].as_str().unwrap().to_owned();
    sign_in(&second, "alt");
    // From alt's window, the panel signs main out: main's window says so, alt's keeps going.
    let list = invoke(&second, "sign_out_account", json!({"accountId": main})).unwrap();
    let status_of =
        |name: &str| list.as_array().unwrap().iter().find(|a| a["username"] == name).unwrap()["status"].clone();
    assert_eq!((status_of("main"), status_of("alt")), (json!("signed_out"), json!("signed_in")));
    assert_eq!(invoke(&first, "refresh_profile", json!({})).unwrap_err()["code"], "signed_out");
    assert_eq!(invoke(&second, "refresh_profile", json!({})).unwrap()["profile"]["username"], "alt");
    assert!(app.app.state::<AppState>().roster.find(&main).unwrap().signed_out, "recorded for the next start");
}
