//! Commands on Tauri's mock runtime against the in-process sandbox server: the calling window's label is what
//! decides the account, so two windows pinned to main and alt each get their own player.

mod support;

use std::sync::Arc;

use kage_app::prefs::Prefs;
use kage_app::roster::RosterEntry;
use kage_app::state::AppState;
use kage_core::vault::MemoryStore;
use serde_json::{Value, json};
use tauri::Manager;

use support::{TestApp, invoke, sign_in};

#[tokio::test(flavor = "multi_thread")]
async fn two_windows_get_their_own_players_from_the_same_command() {
    let app = TestApp::start().await;
    let (first, second) = (app.window("acct-1"), app.window("acct-2"));
    let main = sign_in(&first, "main")["account"].clone();
    let alt = sign_in(&second, "alt")["account"].clone();
    assert_eq!((main["username"].as_str(), alt["username"].as_str()), (Some("main"), Some("alt")));

    for _ in 0..3 {
        // Each answer names the account it is about, so the page can drop anything else (I3, checked twice).
        let answer = invoke(&first, "refresh_profile", json!({})).unwrap();
        assert_eq!((&answer["account"], &answer["profile"]["username"]), (&main["id"], &json!("main")));
        let answer = invoke(&second, "refresh_profile", json!({})).unwrap();
        assert_eq!((&answer["account"], &answer["profile"]["username"]), (&alt["id"], &json!("alt")));
    }
    let state = invoke(&second, "window_state", json!({})).unwrap();
    assert_eq!((state["account"]["username"].as_str(), state["status"].as_str()), (Some("alt"), Some("signed_in")));
    assert_eq!(state["profile"]["username"], "alt");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_with_no_account_gets_a_signed_out_error() {
    let app = TestApp::start().await;
    let signed_in = app.window("acct-1");
    sign_in(&signed_in, "main");
    let stranger = app.window("acct-2");
    let error = invoke(&stranger, "refresh_profile", json!({})).unwrap_err();
    assert_eq!(error["code"], "signed_out", "{error}");
    let state = invoke(&stranger, "window_state", json!({})).unwrap();
    assert_eq!((state["status"].as_str(), &state["account"]), (Some("signed_out"), &Value::Null));
}

#[tokio::test(flavor = "multi_thread")]
async fn actions_apply_to_the_calling_windows_account_only() {
    let app = TestApp::start().await;
    let (first, second) = (app.window("acct-1"), app.window("acct-2"));
    sign_in(&first, "main");
    sign_in(&second, "alt");
    let alt_before = invoke(&second, "refresh_profile", json!({})).unwrap()["profile"]["ryo"].as_i64().unwrap();
    let main_after = invoke(&first, "transfer", json!({"to": "alt", "amount": "30"})).unwrap()["profile"].clone();
    assert_eq!((main_after["username"].as_str(), main_after["ryo"].as_i64()), (Some("main"), Some(970)));
    let alt_after = invoke(&second, "refresh_profile", json!({})).unwrap()["profile"].clone();
    assert_eq!(alt_after["ryo"].as_i64().unwrap(), alt_before + 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_message_and_sends_nothing() {
    let app = TestApp::start().await;
    let window = app.window("acct-1");
    let empty = invoke(&window, "sign_in", json!({"username": " ", "password": "", "remember": false})).unwrap_err();
    assert_eq!(
        (empty["code"].as_str(), empty["message"].as_str()),
        (Some("invalid_input"), Some("Enter a username and a password."))
    );
    let wrong =
        invoke(&window, "sign_in", json!({"username": "main", "password": "nope", "remember": false})).unwrap_err();
    assert_eq!(wrong["code"], "wrong_credentials");
    sign_in(&window, "main");
    for (amount, says) in [(json!("ten"), "whole number"), (json!(-3), "at least 1"), (json!("0"), "at least 1")] {
        let error = invoke(&window, "transfer", json!({"to": "alt", "amount": amount})).unwrap_err();
        assert!(error["message"].as_str().unwrap().contains(says), "{error}");
    }
    let unknown = invoke(&window, "transfer", json!({"to": "nobody", "amount": 5})).unwrap_err();
    assert_eq!(unknown["code"], "not_found");
    assert!(unknown["message"].as_str().unwrap().contains("nobody"), "{unknown}");
    let poor = invoke(&window, "transfer", json!({"to": "alt", "amount": 999_999})).unwrap_err();
    assert_eq!(poor["code"], "insufficient_ryo");
    assert_eq!(invoke(&window, "refresh_profile", json!({})).unwrap()["profile"]["ryo"], 1000, "nothing moved");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_outside_the_account_capability_cannot_call_commands() {
    let app = TestApp::start().await;
    let window = app.window("devtools-1");
    let error = invoke(&window, "window_state", json!({})).unwrap_err();
    assert!(error.as_str().is_some_and(|e| e.contains("not allowed")), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_command_result_contains_a_token() {
    let app = TestApp::start().await;
    let window = app.window("acct-1");
    let results = [
        sign_in(&window, "main"),
        invoke(&window, "window_state", json!({})).unwrap(),
        invoke(&window, "saved_accounts", json!({})).unwrap(),
        invoke(&window, "server_info", json!({})).unwrap(),
        invoke(&window, "refresh_profile", json!({})).unwrap(),
    ];
    for result in results {
        let text = result.to_string();
        // JWTs start with a base64url '{"' header; refresh tokens are 43 base64url characters.
        assert!(!text.contains("eyJ"), "a JWT in a command result: {text}");
        assert!(!text.contains("refresh_token") && !text.contains("access_token"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forgetting_an_account_signs_it_out_and_frees_its_windows_only() {
    let app = TestApp::start().await;
    let (first, second, third) = (app.window("acct-1"), app.window("acct-2"), app.window("acct-3"));
    let main_id = sign_in(&first, "main")["account"]["id"].as_str().unwrap().to_owned();
    sign_in(&second, "alt");
    invoke(&third, "open_saved", json!({"accountId": main_id})).unwrap();
    invoke(&first, "refresh_profile", json!({})).unwrap();

    let saved = invoke(&second, "forget_account", json!({"accountId": main_id})).unwrap();
    assert!(saved.as_array().unwrap().iter().all(|a| a["id"] != main_id.as_str()), "{saved}");
    for window in [&first, &third] {
        let state = invoke(window, "window_state", json!({})).unwrap();
        assert_eq!((&state["account"], &state["profile"]), (&Value::Null, &Value::Null), "{state}");
        assert_eq!(invoke(window, "refresh_profile", json!({})).unwrap_err()["code"], "signed_out");
    }
    assert_eq!(invoke(&second, "refresh_profile", json!({})).unwrap()["profile"]["username"], "alt");
}

/// Account windows talk to Rust through commands and their own ipc Channels only. Tauri's event system is
/// global (every window can hear every `emit`), so an account page may not even listen: the capability does not
/// grant `core:event:*` (I7).
#[tokio::test(flavor = "multi_thread")]
async fn an_account_window_cannot_listen_to_global_events() {
    let app = TestApp::start().await;
    let window = app.window("acct-1");
    for event in ["store://change", "kage://anything"] {
        let args = json!({"event": event, "target": {"kind": "Any"}, "handler": 7});
        let error = invoke(&window, "plugin:event|listen", args).unwrap_err();
        assert!(error.as_str().is_some_and(|e| e.contains("not allowed")), "{event}: {error}");
    }
    let error = invoke(&window, "plugin:event|emit", json!({"event": "kage://anything", "payload": 1})).unwrap_err();
    assert!(error.as_str().is_some_and(|e| e.contains("not allowed")), "{error}");
}

/// The sandbox had to move to another port: an account saved on its old address would send its refresh token to
/// whatever program holds that port now. It is refused by name, and can still be forgotten.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_sandbox_account_from_an_old_port_is_not_opened() {
    let app = TestApp::start().await;
    let state = app.app.state::<AppState>();
    let current = state.origin.as_str().to_owned();
    let port: u16 = current.rsplit(':').next().unwrap().parse().unwrap();
    let old_port = if port == u16::MAX { 1 } else { port + 1 };
    let old = kage_core::ServerOrigin::parse(&format!("http://127.0.0.1:{old_port}")).unwrap();
    let entry = RosterEntry::new(&kage_core::AccountKey::new(old, "user-main"), "main");
    state.roster.save(entry.clone()).unwrap();

    let window = app.window("acct-1");
    let refused = invoke(&window, "open_saved", json!({"accountId": entry.id})).unwrap_err();
    assert_eq!(refused["code"], "server_moved", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("sandbox, which had to move"), "{refused}");
    let state_after = invoke(&window, "window_state", json!({})).unwrap();
    assert_eq!(state_after["account"], Value::Null, "the window stays on the sign-in screen");
    let opened = invoke(&window, "open_window", json!({"accountId": entry.id})).unwrap_err();
    assert_eq!(opened["code"], "server_moved", "{opened}");
    assert_eq!(app.app.webview_windows().len(), 1, "no window was opened for it");

    // A restart with a window that showed it: the window comes back on the sign-in screen.
    state.roster.set_layout("acct-5", Some(&entry.id)).unwrap();
    kage_app::launcher::restore(app.app.handle()).unwrap();
    let restored = app.app.get_webview_window("acct-5").expect("the window is back");
    assert_eq!(invoke(&restored, "window_state", json!({})).unwrap()["account"], Value::Null);
    assert!(state.roster.layout().contains(&("acct-5".to_owned(), None)), "{:?}", state.roster.layout());

    let saved = invoke(&window, "forget_account", json!({"accountId": entry.id})).unwrap();
    assert_eq!(saved, json!([]), "forgetting it still works");
}

/// A roster file damaged by something outside Kage is kept aside, and the page is told in words (I10).
#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_roster_is_kept_and_reported_to_the_page() {
    let app = TestApp::start_with(|dir| std::fs::write(dir.join("roster.json"), b"{\"accounts\": [{").unwrap()).await;
    let window = app.window("acct-1");
    let info = invoke(&window, "server_info", json!({})).unwrap();
    let notice = info["startupNotice"].as_str().expect("a startup notice");
    assert!(notice.starts_with("Kage could not read its list of saved accounts"), "{notice}");
    assert!(notice.contains("roster.json.corrupt-"), "{notice}");
    assert_eq!(invoke(&window, "saved_accounts", json!({})).unwrap(), json!([]));

    let fresh = TestApp::start().await;
    let info = invoke(&fresh.window("acct-1"), "server_info", json!({})).unwrap();
    assert_eq!(info["startupNotice"], Value::Null, "{info}");
}

/// Losing the roster file loses no account: the keychain's entries name their server, user and username, so a
/// restart puts them back, and they open without a password (I10).
#[tokio::test(flavor = "multi_thread")]
async fn i10_a_lost_roster_is_rebuilt_from_the_keychain_and_opens_without_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Arc::new(MemoryStore::default());
    let first = TestApp::start_on(dir, vault.clone()).await;
    let main = sign_in(&first.window("acct-1"), "main")["account"].clone();
    let alt = sign_in(&first.window("acct-2"), "alt")["account"].clone();
    let dir = first.quit(|data| std::fs::remove_file(data.join("roster.json")).expect("the roster file existed")).await;

    let second = TestApp::start_on(dir, vault).await;
    let window = second.window("acct-1");
    assert_eq!(invoke(&window, "saved_accounts", json!({})).unwrap(), json!([]), "the roster is gone");
    let state = second.app.state::<AppState>();
    let added = state.rebuild_roster_from_keychain().await.expect("the keychain answers");
    assert_eq!(added.len(), 2);
    let saved = invoke(&window, "saved_accounts", json!({})).unwrap();
    let mut names: Vec<_> = saved.as_array().unwrap().iter().map(|a| a["username"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["alt", "main"]);
    assert!(saved.as_array().unwrap().iter().all(|a| a["status"] != "signed_out"), "restored, not signed out: {saved}");
    let opened = invoke(&window, "open_saved", json!({"accountId": alt["id"]})).unwrap();
    assert_eq!(opened["account"]["id"], alt["id"]);
    let answer = invoke(&window, "refresh_profile", json!({})).unwrap();
    assert_eq!((&answer["account"], &answer["profile"]["username"]), (&alt["id"], &json!("alt")));
    assert_ne!(main["id"], alt["id"]);
    // Running it again adds nothing twice.
    assert!(state.rebuild_roster_from_keychain().await.unwrap().is_empty());
}

/// A sign-out the keychain could not finish (it was away) stands across a restart: the leftover credential does
/// not bring the account back, the next start deletes it, and signing in again clears the mark.
#[tokio::test(flavor = "multi_thread")]
async fn a_sign_out_stands_across_a_restart_even_when_the_keychain_could_not_delete() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Arc::new(MemoryStore::default());
    let first = TestApp::start_on(dir, vault.clone()).await;
    let window = first.window("acct-1");
    let main = sign_in(&window, "main")["account"].clone();
    vault.set_failure(Some(kage_core::vault::VaultError::Unavailable("no Secret Service".into())));
    let signed_out = invoke(&window, "sign_out", json!({})).unwrap();
    assert_eq!(signed_out["status"], "signed_out");
    assert!(signed_out["notice"].as_str().unwrap_or_default().contains("keychain"), "{signed_out}");
    let dir = first.quit(|_| vault.set_failure(None)).await;
    assert_eq!(vault.len(), 1, "the credential is still in the keychain");

    let second = TestApp::start_on(dir, vault.clone()).await;
    let state = second.app.state::<AppState>();
    state.restore_saved();
    let window = second.window("acct-1");
    let reopened = invoke(&window, "open_saved", json!({"accountId": main["id"]})).unwrap();
    assert_eq!(reopened["status"], "signed_out", "not revived from the leftover credential: {reopened}");
    assert_eq!(invoke(&window, "refresh_profile", json!({})).unwrap_err()["code"], "signed_out");
    state.finish_sign_outs().await;
    assert!(vault.is_empty(), "the next start finished the sign-out in the keychain");
    sign_in(&window, "main");
    assert_eq!(invoke(&window, "refresh_profile", json!({})).unwrap()["profile"]["username"], "main");
    assert!(!state.roster.find(main["id"].as_str().unwrap()).unwrap().signed_out, "signing in clears the mark");
}

/// "Tile windows" is granted to account windows and answers in words when there is no screen to tile on (the
/// mock runtime has no monitors), rather than failing the call or panicking.
#[tokio::test(flavor = "multi_thread")]
async fn tile_windows_is_callable_and_says_plainly_when_it_sees_no_screen() {
    let app = TestApp::start().await;
    let (first, _second) = (app.window("acct-1"), app.window("acct-2"));
    sign_in(&first, "main");
    let error = invoke(&first, "tile_windows", json!({})).unwrap_err();
    assert_eq!(error["code"], "no_screen", "{error}");
    assert_eq!(error["message"], "Kage cannot see a screen to arrange the windows on.");
    assert_eq!(invoke(&first, "refresh_profile", json!({})).unwrap()["profile"]["username"], "main", "still works");

    // A remembered place on no connected screen (the mock has none) leaves the new window where it opens.
    let state = app.app.state::<AppState>();
    let main_id = state.roster.list()[0].id.clone();
    state.roster.note_place("acct-9", &main_id, kage_app::roster::Place { x: 5000, y: 40, width: 460, height: 720 });
    let label = invoke(&first, "open_window", json!({"accountId": main_id})).unwrap();
    assert!(app.app.get_webview_window(label.as_str().unwrap()).is_some(), "{label}");
}

/// The tray lists every saved account by its on-screen name: never a user id or a server address, and in
/// streamer mode never a username, in what it shows or in its menu ids.
#[tokio::test(flavor = "multi_thread")]
async fn tray_entries_never_show_a_user_id_and_hide_usernames_in_streamer_mode() {
    let app = TestApp::start().await;
    sign_in(&app.window("acct-1"), "main");
    sign_in(&app.window("acct-2"), "alt");
    let state = app.app.state::<AppState>();
    let saved = state.roster.list();
    assert_eq!(saved.len(), 2);
    let shown = |entries: Vec<kage_app::tray::TrayEntry>| -> Vec<String> {
        entries.iter().map(|entry| format!("{} | {}", entry.label, entry.id())).collect()
    };

    let plain = shown(kage_app::tray::entries(&state));
    assert!(plain[0].starts_with("main · signed in"), "{plain:?}");
    assert!(plain[1].starts_with("alt · signed in"), "{plain:?}");
    let streaming = Prefs { streamer_mode: true, ..state.prefs.get() };
    state.prefs.set(streaming).unwrap();
    let streamed = shown(kage_app::tray::entries(&state));
    assert!(streamed[0].starts_with("Account 1 · signed in"), "{streamed:?}");

    for line in plain.iter().chain(&streamed) {
        for entry in &saved {
            assert!(!line.contains(&entry.user_id), "a user id in the tray: {line}");
            assert!(!line.contains(&entry.origin) && !line.contains("127.0.0.1"), "a server in the tray: {line}");
        }
    }
    for line in &streamed {
        assert!(saved.iter().all(|entry| !line.contains(&entry.username)), "a username while streaming: {line}");
    }
}
