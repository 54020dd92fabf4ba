//! I13 under crashes: Kage killed (SIGKILL, no exit handler) at several moments of a web account's Forget or
//! Sign out never leaves a partition attached to the wrong account, and what no saved account names is gone at
//! the next start.
//!
//! Each round adds an alt account of the seed bug's web client, signs it in (its cookie on disk), starts its
//! Forget or Sign out without waiting for the answer, and kills Kage 0 to 150 ms later: before the roster is
//! written, between the roster write and WebKit's clear, during the clear, or after the delete. After each kill
//! and again after the restart:
//! - every saved web account's partition directory holds that account's own cookie or none, never another's;
//! - main, untouched, is still signed in as main, in the same partition, with the same cookie;
//! - after the restart, no directory under `web/` is one no saved account names (the start-up sweep), and an
//!   account whose Forget was saved before the kill is gone with its directory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use kage_e2e::web::{data_dir, roster, session_cookie, sign_in_on_the_page, wait_cookie, wait_player, wait_restored};
use kage_e2e::{App, GameServer, debug_binary, enabled, free_port, report};
use serde_json::json;

/// Each launch takes the next pair of ports (a killed driver's port may not be free again at once).
const FIRST_DRIVER_PORT: u16 = 4580;

/// What each round asks for, and how long after asking Kage is killed.
const ROUNDS: [(&str, u64); 6] = [
    ("forget_web_account", 0),
    ("forget_web_account", 4),
    ("sign_out_web_account", 10),
    ("forget_web_account", 30),
    ("sign_out_web_account", 60),
    ("forget_web_account", 150),
];

/// Saved web account id -> its partition id, as the roster on disk says.
fn saved_partitions(home: &Path) -> BTreeMap<String, String> {
    let roster = roster(home);
    let accounts = roster["web_accounts"].as_array().cloned().unwrap_or_default();
    accounts
        .iter()
        .map(|a| (a["id"].as_str().unwrap().to_owned(), a["partition"].as_str().unwrap().to_owned()))
        .collect()
}

/// The partition directories on disk.
fn partition_dirs(home: &Path) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(data_dir(home).join("web")) else { return BTreeSet::new() };
    entries.flatten().filter(|e| e.path().is_dir()).map(|e| e.file_name().to_string_lossy().into_owned()).collect()
}

/// No saved account's partition holds a cookie other than its own (`cookies`: account id -> the cookie its
/// sign-in wrote; an account with a fresh partition after a sign-out holds none yet).
fn assert_no_partition_holds_another_accounts_cookie(home: &Path, cookies: &BTreeMap<String, String>, when: &str) {
    for (account, partition) in saved_partitions(home) {
        let Some(found) = session_cookie(&data_dir(home).join("web").join(&partition)) else { continue };
        let own = cookies.get(&account);
        assert_eq!(own, Some(&found), "{when}: {account}'s partition {partition} holds a cookie not its own");
    }
}

#[tokio::test]
async fn i13_a_crash_during_forget_or_sign_out_never_leaves_a_partition_with_the_wrong_account() {
    if !enabled() {
        eprintln!("end-to-end test skipped: run scripts/e2e-test (sets KAGE_E2E=1 under Xvfb with a keyring)");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let server_data = tempfile::tempdir().unwrap();
    let server = GameServer::start(server_data.path(), free_port(), "web-crash-server", true);
    let url = server.url();
    let env = [("KAGE_SERVER_URL", url.as_str()), ("KAGE_E2E_WEB_HOOK", "1")];
    let kage = debug_binary("kage");
    let mut port = FIRST_DRIVER_PORT;
    let mut launch = async || {
        let app = App::launch_binary(&kage, home.path(), port, &env).await;
        port += 2;
        app.focus("acct-1").await;
        app
    };

    let mut app = launch().await;
    let games = app.invoke("add_web_game", json!({ "startUrl": format!("{url}/play"), "name": "Web client" })).await;
    let game = games[0]["id"].as_str().expect("the game is added").to_owned();
    let add = async |app: &App, name: &str| {
        let games = app.invoke("add_web_account", json!({ "gameId": game, "name": name })).await;
        let accounts = games[0]["accounts"].as_array().expect("accounts").clone();
        accounts.iter().find(|a| a["name"] == name).expect("added")["id"].as_str().unwrap().to_owned()
    };
    let main = add(&app, "main").await;
    app.invoke("open_web_account", json!({ "accountId": main, "newWindow": false })).await;
    sign_in_on_the_page(&app, &main, "main").await;
    let main_partition = saved_partitions(home.path())[&main].clone();
    let main_cookie = wait_cookie(&data_dir(home.path()).join("web").join(&main_partition)).await;
    let mut cookies = BTreeMap::from([(main.clone(), main_cookie.clone())]);

    for (round, (command, delay)) in ROUNDS.into_iter().enumerate() {
        let alt = add(&app, &format!("alt {round}")).await;
        app.invoke("open_web_account", json!({ "accountId": alt, "newWindow": false })).await;
        sign_in_on_the_page(&app, &alt, "alt").await;
        let alt_partition = saved_partitions(home.path())[&alt].clone();
        let alt_cookie = wait_cookie(&data_dir(home.path()).join("web").join(&alt_partition)).await;
        assert_ne!(alt_cookie, main_cookie);
        cookies.insert(alt.clone(), alt_cookie);

        // Asked for, not waited on: Kage dies `delay` ms later, wherever it is in the forget or the sign-out.
        let script = "window.__TAURI_INTERNALS__.invoke(arguments[0], { accountId: arguments[1] }); return true;";
        app.client.execute(script, vec![json!(command), json!(alt)]).await.expect("the command is sent");
        tokio::time::sleep(Duration::from_millis(delay)).await;
        app.kill();
        let when = format!("round {round}, killed {delay} ms into {command}");
        assert_no_partition_holds_another_accounts_cookie(
            home.path(),
            &cookies,
            &format!("{when}, before the restart"),
        );
        let saved = saved_partitions(home.path());
        let outcome = match (command, saved.get(&alt)) {
            (_, Some(partition)) if *partition == alt_partition => "not saved yet",
            ("sign_out_web_account", Some(_)) => "signed out (a fresh partition)",
            ("forget_web_account", None) => "forgotten",
            (_, other) => panic!("{when}: alt's roster entry is {other:?}"),
        };
        let left_over = partition_dirs(home.path()).contains(&alt_partition);

        app = launch().await;
        let after = format!("{when}, after the restart");
        assert_no_partition_holds_another_accounts_cookie(home.path(), &cookies, &after);
        let saved = saved_partitions(home.path());
        let named: BTreeSet<String> = saved.values().cloned().collect();
        let orphans: Vec<String> = partition_dirs(home.path()).difference(&named).cloned().collect();
        assert!(orphans.is_empty(), "{after}: partitions no saved account names: {orphans:?}");
        assert_eq!(saved.get(&main), Some(&main_partition), "{after}: main keeps its partition");
        let main_dir = data_dir(home.path()).join("web").join(&main_partition);
        assert_eq!(session_cookie(&main_dir).as_deref(), Some(main_cookie.as_str()), "{after}: main's cookie");
        wait_restored(&app, &main).await;
        wait_player(&app, &main, 0, "main").await;
        if outcome == "not saved yet" {
            // The kill came first: alt is as it was, still signed in as alt in its own partition.
            wait_restored(&app, &alt).await;
            wait_player(&app, &alt, 0, "alt").await;
        } else {
            assert!(!partition_dirs(home.path()).contains(&alt_partition), "{after}: alt's old partition is gone");
            cookies.remove(&alt);
        }
        report(
            "web_crash",
            &format!(
                "{when}: {outcome}; its directory was {} at the kill, gone after the restart if unnamed",
                if left_over { "still there" } else { "already gone" }
            ),
        );
    }
    app.quit().await;
}
