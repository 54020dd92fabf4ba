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
async fn streamer_mode_shows_no_username_user_id_or_server_in_any_answer() {
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

/// A kage-server of its own on loopback with the demo players, so two "computers" (two app data dirs and two
/// keychains) can talk to the same game.
async fn shared_server(
    dir: &std::path::Path,
    policy: impl FnOnce(&mut kage_server::Config),
) -> kage_server::RunningServer {
    let mut config = kage_server::Config::new(dir);
    config.demo = true;
    policy(&mut config);
    kage_server::start(config).await.expect("server starts")
}

fn id_of(answer: &Value) -> String {
    answer["account"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn moving_to_a_new_computer_opens_without_passwords_and_a_bad_file_or_passphrase_changes_nothing() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = shared_server(server_dir.path(), |_| {}).await;
    let url = server.base_url();
    let old = TestApp::start_against(Some(&url), tempfile::tempdir().unwrap(), Default::default()).await;
    let (first, second) = (old.window("acct-1"), old.window("acct-2"));
    let main = id_of(&sign_in(&first, "main"));
    sign_in(&second, "alt");
    invoke(&first, "update_account", json!({"accountId": main, "settings": settings("Shadow", &["Raid"])})).unwrap();

    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("accounts.kage");
    old.files.set(&file);
    let short = invoke(&first, "export_accounts", json!({"passphrase": "short", "includeCredentials": true}));
    assert_eq!(short.unwrap_err()["code"], "invalid_input");
    let args = json!({"passphrase": "correct horse battery", "includeCredentials": true});
    let exported = invoke(&first, "export_accounts", args).unwrap();
    assert_eq!((exported["accounts"].as_u64(), exported["withCredentials"].as_u64()), (Some(2), Some(2)));
    let sealed = std::fs::read(&file).unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains("main"), "the file is encrypted");

    // The new computer: its own data dir and an empty keychain.
    let new = TestApp::start_against(Some(&url), tempfile::tempdir().unwrap(), Default::default()).await;
    let window = new.window("acct-1");
    new.files.set(&file);
    let wrong = invoke(&window, "import_accounts", json!({"passphrase": "wrong horse battery"}));
    assert_eq!(wrong.unwrap_err()["code"], "wrong_passphrase");
    let damaged = files.path().join("damaged.kage");
    std::fs::write(&damaged, &sealed[..sealed.len() - 40]).unwrap();
    new.files.set(&damaged);
    let args = json!({"passphrase": "correct horse battery"});
    assert_eq!(invoke(&window, "import_accounts", args).unwrap_err()["code"], "import_damaged");
    assert_eq!(invoke(&window, "saved_accounts", json!({})).unwrap(), json!([]), "nothing changed");

    new.files.set(&file);
    let args = json!({"passphrase": "correct horse battery"});
    let imported = invoke(&window, "import_accounts", args.clone()).unwrap();
    assert_eq!((imported["added"].as_u64(), imported["credentials"].as_u64()), (Some(2), Some(2)), "{imported}");
    let opened = invoke(&window, "open_saved", json!({"accountId": main})).unwrap();
    assert_eq!(opened["account"]["alias"], "Shadow", "settings came along");
    let answer = invoke(&window, "refresh_profile", json!({})).unwrap();
    assert_eq!(answer["profile"]["username"], "main", "opened with the imported sign-in, no password");
    // The old computer's own session was not the one exported: it keeps working (I11).
    let state = old.app.state::<AppState>();
    let account = state.roster.find(&main).and_then(|e| e.account()).unwrap();
    state.core.sessions.expire_access_token(&account);
    assert_eq!(invoke(&first, "refresh_profile", json!({})).unwrap()["profile"]["username"], "main");
    // Importing again merges: nothing is duplicated.
    let again = invoke(&window, "import_accounts", args).unwrap();
    assert_eq!(
        (again["added"].as_u64(), again["merged"].as_u64(), again["credentials"].as_u64()),
        (Some(0), Some(2), Some(0))
    );
    assert_eq!(invoke(&window, "saved_accounts", json!({})).unwrap().as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn i11_open_all_waits_out_the_servers_retry_after_shows_it_and_signs_no_one_out() {
    let server_dir = tempfile::tempdir().unwrap();
    // One refresh at once, then one every 2 s: the second account of "Open all" is told to wait.
    let server = shared_server(server_dir.path(), |config| {
        config.throttle.refresh_burst = 1;
        config.throttle.refresh_per_minute = 30;
    })
    .await;
    let url = server.base_url();
    let vault = std::sync::Arc::new(kage_core::vault::MemoryStore::default());
    let app = TestApp::start_against(Some(&url), tempfile::tempdir().unwrap(), vault.clone()).await;
    let (first, second) = (app.window("acct-1"), app.window("acct-2"));
    let (main, alt) = (id_of(&sign_in(&first, "main")), id_of(&sign_in(&second, "alt")));
    let mut prefs = invoke(&first, "prefs", json!({})).unwrap();
    prefs["staggerMs"] = json!(0);
    invoke(&first, "set_prefs", json!({ "prefs": prefs })).unwrap();
    let dir = app.quit_remote().await;

    // A new start: no access tokens in memory, every account needs a refresh.
    let app = TestApp::start_against(Some(&url), dir, vault).await;
    let panel = app.window("acct-9");
    invoke(&panel, "open_accounts", json!({"group": null})).unwrap();
    let state = app.app.state::<AppState>();
    let launcher = app.app.state::<kage_app::launcher::Launcher>();
    let mut saw_wait = None;
    eventually("the second account told to wait", || {
        saw_wait = launcher.waiting_notice(&alt).or_else(|| launcher.waiting_notice(&main));
        saw_wait.is_some()
    })
    .await;
    let notice = saw_wait.unwrap();
    assert!(notice.starts_with("Waiting ") && notice.contains("slow down"), "{notice}");
    // The waiting window says so in its own state.
    let waiting = state.core.windows.pinned_accounts().into_iter().find(|a| a.id() == alt || a.id() == main).unwrap();
    let label = state.core.windows.windows_of(&waiting)[0].clone();
    let window_state = invoke(&app.app.get_webview_window(label.as_str()).unwrap(), "window_state", json!({})).unwrap();
    assert_ne!(window_state["status"], "signed_out", "a wait is never a sign-out");
    eventually("both accounts signed in", || {
        [&main, &alt].iter().all(|id| {
            let account = state.roster.find(id).and_then(|e| e.account()).unwrap();
            state.core.sessions.status(&account) == kage_core::sessions::AccountStatus::SignedIn
        })
    })
    .await;
    assert_eq!(launcher.waiting_notice(&alt), None, "the countdown is gone once it is over");
}

#[tokio::test(flavor = "multi_thread")]
async fn i6_no_new_command_hands_a_page_any_accounts_credential() {
    let vault = std::sync::Arc::new(kage_core::vault::MemoryStore::default());
    let app = TestApp::start_on(tempfile::tempdir().unwrap(), vault.clone()).await;
    let (first, second) = (app.window("acct-1"), app.window("acct-2"));
    let (main, alt) = (id_of(&sign_in(&first, "main")), id_of(&sign_in(&second, "alt")));
    let file = tempfile::tempdir().unwrap();
    app.files.set(file.path().join("out.kage"));
    // From main's window, everything the new commands offer about alt too.
    let results = [
        invoke(&first, "update_account", json!({"accountId": alt, "settings": settings("Alt", &["All"])})).unwrap(),
        invoke(&first, "prefs", json!({})).unwrap(),
        invoke(&first, "open_accounts", json!({"group": "All"})).unwrap(),
        invoke(&first, "focus_account", json!({"position": 2})).unwrap(),
        invoke(&first, "export_accounts", json!({"passphrase": "long enough pass", "includeCredentials": true}))
            .unwrap(),
        invoke(&first, "import_accounts", json!({"passphrase": "long enough pass"})).unwrap(),
        invoke(&first, "saved_accounts", json!({})).unwrap(),
        invoke(&first, "sign_out_account", json!({"accountId": main})).unwrap(),
    ];
    let state = app.app.state::<AppState>();
    let accounts: Vec<_> =
        [&main, &alt].iter().map(|id| state.roster.find(id).and_then(|e| e.account()).unwrap()).collect();
    let secrets: Vec<String> = accounts.iter().filter_map(|account| vault.peek(account)).collect();
    assert!(!secrets.is_empty(), "alt's credential is in the keychain to look for");
    for result in results {
        let text = result.to_string();
        assert!(!text.contains("eyJ"), "a JWT in a command result: {text}");
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "a refresh token in a command result: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn i11_starting_while_the_server_is_down_shows_saved_accounts_offline_and_they_open_once_it_is_back() {
    let server_dir = tempfile::tempdir().unwrap();
    let server = shared_server(server_dir.path(), |_| {}).await;
    let url = server.base_url();
    let listen = url.trim_start_matches("http://").parse::<std::net::SocketAddr>().unwrap();
    let vault = std::sync::Arc::new(kage_core::vault::MemoryStore::default());
    let app = TestApp::start_against(Some(&url), tempfile::tempdir().unwrap(), vault.clone()).await;
    let first = app.window("acct-1");
    let main = id_of(&sign_in(&first, "main"));
    invoke(&first, "refresh_profile", json!({})).unwrap(); // the profile is cached
    let dir = app.quit_remote().await;
    server.shutdown().await.unwrap();

    // The computer starts with the game server down: the app comes up, and main is offline with its cached
    // profile, never "needs sign-in" (I11).
    let started = Instant::now();
    let app = TestApp::start_against(Some(&url), dir, vault).await;
    app.app.state::<AppState>().restore_saved(); // as the app's setup does
    assert!(started.elapsed() < Duration::from_secs(10), "start-up waited on the server: {:?}", started.elapsed());
    let window = app.window("acct-1");
    let info = invoke(&window, "server_info", json!({})).unwrap();
    assert_eq!(info["passwordSignIn"], true, "a server that cannot be asked is taken to offer passwords");
    let saved = invoke(&window, "saved_accounts", json!({})).unwrap();
    assert_eq!(saved[0]["id"], main.as_str());
    assert_ne!(saved[0]["status"], "signed_out", "{saved}");
    let opened = invoke(&window, "open_saved", json!({"accountId": main})).unwrap();
    assert_ne!(opened["status"], "signed_out", "{opened}");
    assert_eq!(opened["profile"]["username"], "main", "the cached profile is shown");
    let error = invoke(&window, "refresh_profile", json!({})).unwrap_err();
    assert_eq!(error["code"], "offline", "{error}");
    assert_eq!(invoke(&window, "window_state", json!({})).unwrap()["status"], "offline");

    // The server comes back on its address: the account opens without a password.
    let mut config = kage_server::Config::new(server_dir.path());
    config.listen = listen;
    let _server = kage_server::start(config).await.expect("server starts again");
    let answer = invoke(&window, "refresh_profile", json!({})).unwrap();
    assert_eq!(answer["profile"]["username"], "main");
    assert_eq!(invoke(&window, "window_state", json!({})).unwrap()["status"], "signed_in");
}
