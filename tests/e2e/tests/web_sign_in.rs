//! Issue 19 item 7 in the real app: a web account's sign-in saved in the OS keychain (gnome-keyring, through
//! scripts/with-keyring) from the accounts panel, and filled into the site's own form (kage-server's cookie web
//! client, `GET /play`) only when the player asks, only on the saved origin, only in that account's window.
//!
//! The player asks the way a player does: Ctrl+Shift+L pressed in the web window (xdotool through the X server;
//! the key is read by Rust on the GTK widget, the page never sees it) and the panel's "Fill sign-in" button
//! (clicked over WebDriver in Kage's own window). The web windows themselves are read through the debug build's
//! test hook (`e2e_web_eval`, see `kage_e2e::web`), as WebDriver cannot reach them.

use std::process::Command;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use kage_e2e::web::eval;
use kage_e2e::{App, GameServer, debug_binary, enabled, free_port, report};
use serde_json::{Value, json};

const DRIVER_PORT: u16 = 4640;
const PASSWORD: &str = "main-password";

/// What the web client's sign-in form holds now, where it is, and who is signed in.
async fn form(app: &App, account: &str) -> Value {
    let script = r#"
        const form = document.getElementById("sign-in");
        const field = (id) => form?.querySelector(`[data-testid="${id}"]`)?.value ?? null;
        const profile = document.getElementById("profile");
        return { origin: location.origin, ready: document.readyState === "complete" && !!form,
                 username: field("username-input"), password: field("password-input"),
                 player: profile && !profile.hidden ? document.querySelector('[data-testid="profile-username"]')?.textContent : null };"#;
    eval(app, account, 0, script).await
}

async fn wait_form(app: &App, account: &str, origin: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = form(app, account).await;
        if now["ready"] == true && now["origin"] == origin {
            return now;
        }
        assert!(Instant::now() < deadline, "the sign-in form did not load at {origin}: {now}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ctrl+Shift+L in the window whose title starts with `title`, pressed on the X server's keyboard.
fn press_fill_key(title: &str) -> bool {
    let Some(exact) = kage_e2e::x11::visible_titles().into_iter().find(|t| t.starts_with(title)) else {
        return false;
    };
    if !kage_e2e::x11::focus(&exact) {
        return false;
    }
    std::thread::sleep(Duration::from_millis(500));
    // Without xdotool the key would never be tried and the panel's fill would stand in unseen: not a skip.
    Command::new("xdotool")
        .args(["key", "--clearmodifiers", "ctrl+shift+l"])
        .status()
        .expect("xdotool, which scripts/setup installs")
        .success()
}

/// Web sign-ins gnome-keyring holds for Kage: the account ids they are filed under.
fn keychain_sign_ins() -> Vec<String> {
    let output = Command::new("secret-tool")
        .args(["search", "--all", "service", "kage-web-sign-in"])
        .output()
        .expect("secret-tool");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    text.lines().filter_map(|line| line.strip_prefix("attribute.username = ")).map(str::to_owned).collect()
}

async fn css(app: &App, selector: &str) -> fantoccini::elements::Element {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(element) = app.client.find(Locator::Css(selector)).await
            && element.is_displayed().await.unwrap_or(false)
        {
            return element;
        }
        assert!(Instant::now() < deadline, "{selector} did not appear");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn i13_a_saved_web_sign_in_fills_only_its_accounts_window_on_its_origin_when_asked() {
    if !enabled() {
        eprintln!("end-to-end test skipped: run scripts/e2e-test (sets KAGE_E2E=1 under Xvfb with a keyring)");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let server_data = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = GameServer::start(server_data.path(), port, "web-sign-in-server", true);
    let url = server.url();
    // The same server under another name: another origin the game allows (a sign-in provider's, say).
    let other_origin = format!("http://localhost:{port}");
    let env = [("KAGE_SERVER_URL", url.as_str()), ("KAGE_E2E_WEB_HOOK", "1")];
    let app = App::launch_binary(&debug_binary("kage"), home.path(), DRIVER_PORT, &env).await;
    app.focus("acct-1").await;

    let games = app.invoke("add_web_game", json!({ "startUrl": format!("{url}/play"), "name": "Fill test" })).await;
    let game = games[0]["id"].as_str().expect("the game was added").to_owned();
    app.invoke("set_web_game_origins", json!({ "gameId": game, "origins": [other_origin] })).await;
    for name in ["main", "alt"] {
        app.invoke("add_web_account", json!({ "gameId": game, "name": name })).await;
    }
    let games = app.invoke("web_games", json!({})).await;
    let accounts = games[0]["accounts"].as_array().unwrap().clone();
    let id = |name: &str| accounts.iter().find(|a| a["name"] == name).unwrap()["id"].as_str().unwrap().to_owned();
    let (main, alt) = (id("main"), id("alt"));

    // The player saves main's sign-in in the panel: site, username, password, Save.
    app.click("open-panel").await;
    let row = format!("[data-testid='web-account'][data-account='{main}']");
    css(&app, &format!("{row} [data-testid='web-account-sign-in']")).await.click().await.unwrap();
    let site = css(&app, &format!("{row} [data-testid='web-sign-in-origin']")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while site.clone().select_by_value(&url).await.is_err() {
        assert!(Instant::now() < deadline, "the panel offers the game's origins");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    css(&app, &format!("{row} [data-testid='web-sign-in-username']")).await.send_keys("main").await.unwrap();
    css(&app, &format!("{row} [data-testid='web-sign-in-password']")).await.send_keys(PASSWORD).await.unwrap();
    css(&app, &format!("{row} [data-testid='web-sign-in-save']")).await.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let games = app.invoke("web_games", json!({})).await;
        let saved = games[0]["accounts"].as_array().unwrap().iter().find(|a| a["id"] == main).unwrap().clone();
        if saved["signInOrigin"] == url.as_str() {
            break;
        }
        assert!(Instant::now() < deadline, "the sign-in was not saved: {saved}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(keychain_sign_ins(), vec![main.clone()], "one keychain entry, filed under main's opaque id");
    let shown = app.invoke("web_sign_in", json!({ "accountId": main })).await;
    assert_eq!((shown["origin"].as_str(), shown["username"].as_str()), (Some(url.as_str()), Some("main")), "{shown}");
    assert!(!shown.to_string().contains(PASSWORD), "the password never comes back to a page: {shown}");
    let roster = std::fs::read_to_string(home.path().join("data/app.kage.client/roster.json")).unwrap();
    assert!(!roster.contains(PASSWORD), "the password is in the keychain, not the roster");

    for account in [&main, &alt] {
        let opened = app.invoke("open_web_account", json!({ "accountId": account, "newWindow": false })).await;
        assert!(opened.get("error").is_none(), "{opened}");
        wait_form(&app, account, &url).await;
    }

    // The page cannot ask for a fill: it has no IPC.
    let probe = r#"try { await window.__TAURI_INTERNALS__.invoke("fill_web_sign_in", { accountId: "x" }); return "ALLOWED"; }
                   catch (e) { return "refused: " + String(e?.message ?? e).slice(0, 100); }"#;
    let refused = eval(&app, &main, 0, probe).await;
    assert!(refused.as_str().is_some_and(|r| r.starts_with("refused")), "{refused}");
    report("web_sign_in", &format!("the page asking for a fill: {refused}"));
    let untouched = form(&app, &main).await;
    assert_eq!((untouched["username"].as_str(), untouched["password"].as_str()), (Some(""), Some("")), "{untouched}");

    // Alt's window (another account of the same game) gets nothing of main's: its key, and the panel's ask.
    let key_works = press_fill_key("alt · ");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked = app.invoke("fill_web_sign_in", json!({ "accountId": alt })).await;
    assert_eq!(asked["error"]["code"], "not_found", "alt has nothing saved: {asked}");
    let alt_form = form(&app, &alt).await;
    assert_eq!((alt_form["username"].as_str(), alt_form["password"].as_str()), (Some(""), Some("")), "{alt_form}");

    // Main's window, Ctrl+Shift+L: main's form is filled, and the site's own button signs main in.
    // A key pressed while the X focus is still moving can land nowhere: pressed again, up to three times.
    let mut filled_by = "";
    for press in 1..=3 {
        if !key_works || !press_fill_key("main · ") {
            break;
        }
        let deadline = Instant::now() + Duration::from_secs(4);
        while form(&app, &main).await["password"] != PASSWORD && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if form(&app, &main).await["password"] == PASSWORD {
            report("web_sign_in", &format!("Ctrl+Shift+L filled main's form at press {press}"));
            filled_by = "Ctrl+Shift+L in main's window";
            break;
        }
    }
    let filled_by = if filled_by.is_empty() {
        report("web_sign_in", "Ctrl+Shift+L did not reach the window under Xvfb; the panel's Fill sign-in is used");
        let answer = app.invoke("fill_web_sign_in", json!({ "accountId": main })).await;
        assert!(answer.as_str().is_some_and(|a| a.contains("filled")), "{answer}");
        "the panel's Fill sign-in"
    } else {
        filled_by
    };
    let filled = form(&app, &main).await;
    assert_eq!((filled["username"].as_str(), filled["password"].as_str()), (Some("main"), Some(PASSWORD)), "{filled}");
    report("web_sign_in", &format!("main's form filled by {filled_by}"));
    eval(&app, &main, 0, r#"document.getElementById("sign-in").requestSubmit(); return true;"#).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while form(&app, &main).await["player"] != "main" {
        assert!(Instant::now() < deadline, "main was not signed in by the filled form");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let alt_form = form(&app, &alt).await;
    assert_eq!((alt_form["username"].as_str(), alt_form["password"].as_str()), (Some(""), Some("")), "{alt_form}");

    // The panel's button too, in Kage's own window: the form of main's window is filled again.
    let cleared = r#"const f = document.getElementById("sign-in");
        for (const i of f.querySelectorAll("input")) i.value = ""; return true;"#;
    eval(&app, &main, 0, cleared).await;
    app.focus("acct-1").await;
    css(&app, &format!("{row} [data-testid='web-account-fill']")).await.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while form(&app, &main).await["password"] != PASSWORD {
        assert!(Instant::now() < deadline, "the panel's Fill sign-in did not fill main's form");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Another origin in main's own window (allowed by the game, but not the saved one): nothing is filled.
    eval(&app, &main, 0, &format!("setTimeout(() => {{ location.href = '{other_origin}/play'; }}, 10); return true;"))
        .await;
    let elsewhere = wait_form(&app, &main, &other_origin).await;
    assert_eq!(elsewhere["password"], "", "{elsewhere}");
    if key_works {
        press_fill_key("main · ");
    }
    let asked = app.invoke("fill_web_sign_in", json!({ "accountId": main })).await;
    assert_eq!(asked["error"]["code"], "other_account", "refused on another origin: {asked}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let elsewhere = form(&app, &main).await;
    assert_eq!((elsewhere["username"].as_str(), elsewhere["password"].as_str()), (Some(""), Some("")), "{elsewhere}");
    report("web_sign_in", &format!("on {other_origin}: {}", asked["error"]["message"]));

    // Sign out keeps the saved sign-in; Forget deletes it from the keychain.
    let signed_out = app.invoke("sign_out_web_account", json!({ "accountId": main })).await;
    assert!(signed_out.get("error").is_none(), "{signed_out}");
    assert_eq!(keychain_sign_ins(), vec![main.clone()], "Sign out keeps the saved sign-in");
    let forgotten = app.invoke("forget_web_account", json!({ "accountId": main })).await;
    assert!(forgotten.get("error").is_none(), "{forgotten}");
    assert!(keychain_sign_ins().is_empty(), "Forget deleted the keychain entry");
    report("web_sign_in", "after Forget: no web sign-in left in the keychain");
    app.quit().await;
}
