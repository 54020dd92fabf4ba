//! Issue 19, items 4 and 5 in the real app: Kage's comforts for web accounts. A small game site of the test's
//! own (loopback, port 0) in two web accounts' windows, main and alt:
//!
//! - a page calling `new Notification(...)` gives a desktop notification naming the account (and none when the
//!   account's notifications are off): the notification service is the test's own, on the session bus the app
//!   uses (`scripts/with-keyring`'s private bus), and records every `Notify` it is sent;
//! - Ctrl+2 pressed (xdotool, real X key events) while main's game page has the keyboard focuses alt's window,
//!   and the page never sees it; other keys go to the page;
//! - a launch group holding a web account opens its window;
//! - a download asks where to save (the debug app's fixed chooser, `KAGE_E2E_FILE`) and is saved there, fetched
//!   with the account's own cookies;
//! - a web window's place survives a restart.
//!
//! WebDriver reaches only Kage's own windows, so the web windows are read through the debug build's test hook
//! (`e2e_web_eval`, on with `KAGE_E2E_WEB_HOOK=1`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kage_e2e::{App, GameServer, debug_binary, enabled, free_port, report, until, x11};
use serde_json::{Value, json};

/// This file's WebDriver ports: 4650 (and 4651 for WebKitWebDriver).
const DRIVER_PORT: u16 = 4650;
const GAME: &str = "Comfort";

async fn eval(app: &App, account: &str, window: usize, script: &str) -> Value {
    let answer = app.invoke("e2e_web_eval", json!({ "accountId": account, "window": window, "script": script })).await;
    match answer.as_str() {
        Some(text) => serde_json::from_str(text).unwrap_or(Value::String(text.to_owned())),
        None => json!({ "hook_error": answer }),
    }
}

/// Waits until the account's first window shows the game's page.
async fn wait_loaded(app: &App, account: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let script = "return document.readyState === 'complete' && !!document.getElementById('game');";
    loop {
        let ready = eval(app, account, 0, script).await;
        if ready == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "the game did not load in {account}'s window: {ready}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The game site: `/` a page that records the keys it is given (`window.keys`), `/download` a file naming the
/// `who` cookie it was fetched with. HTTP/1.1, one request per connection.
fn game_site() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut cookie = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some(value) = line.strip_prefix("Cookie:").or_else(|| line.strip_prefix("cookie:")) {
                    cookie = value.trim().to_owned();
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (headers, body) = if path.starts_with("/download") {
                (
                    "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"map.txt\"\r\n",
                    format!("the map, fetched with cookie [{cookie}]"),
                )
            } else {
                (
                    "Content-Type: text/html; charset=utf-8\r\n",
                    "<!doctype html><title>Comfort</title><body><h1 id=game>Comfort game</h1><script>\
                     window.keys = []; document.addEventListener('keydown', (e) => \
                     keys.push((e.ctrlKey ? 'ctrl+' : '') + e.key));</script></body>"
                        .to_owned(),
                )
            };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

/// Every notification the service was asked to show: (summary, body).
type Shown = Arc<Mutex<Vec<(String, String)>>>;

/// The desktop's notification service, played by the test on the session bus.
fn notification_service() -> Option<Shown> {
    let connection = zbus::blocking::Connection::session().ok()?;
    connection.request_name("org.freedesktop.Notifications").ok()?;
    let shown: Shown = Arc::default();
    let recording = shown.clone();
    std::thread::spawn(move || {
        let mut id = 0u32;
        for message in zbus::blocking::MessageIterator::from(&connection) {
            let Ok(message) = message else { continue };
            let header = message.header();
            if header.member().map(|m| m.as_str()) != Some("Notify") {
                continue;
            }
            type Notify<'a> = (
                &'a str,
                u32,
                &'a str,
                &'a str,
                &'a str,
                Vec<&'a str>,
                HashMap<&'a str, zbus::zvariant::Value<'a>>,
                i32,
            );
            if let Ok((_, _, _, summary, body, ..)) = message.body().deserialize::<Notify>() {
                recording.lock().unwrap().push((summary.to_owned(), body.to_owned()));
            }
            id += 1;
            let _ = connection.reply(&header, &id);
        }
    });
    Some(shown)
}

fn title(name: &str) -> String {
    format!("{name} · {GAME} · Kage")
}

/// The X window shown with `title`.
fn x_window(title: &str) -> Option<u32> {
    x11::shown_windows().into_iter().find(|(_, t)| t == title).map(|(id, _)| id)
}

fn xdotool(args: &[&str]) -> String {
    let out = Command::new("xdotool").args(args).output().expect("xdotool, which scripts/setup installs");
    assert!(out.status.success(), "xdotool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Position and size of the X window titled `title` (`xdotool getwindowgeometry`).
fn geometry(title: &str) -> Option<(i32, i32, u32, u32)> {
    let id = x_window(title)?;
    let text = xdotool(&["getwindowgeometry", &id.to_string()]);
    let field = |label: &str, sep: char| {
        let line = text.lines().find(|l| l.trim().starts_with(label))?;
        let value = line.split(':').nth(1)?.split_whitespace().next()?.to_owned();
        let (a, b) = value.split_once(sep)?;
        Some((a.to_owned(), b.to_owned()))
    };
    let (x, y) = field("Position", ',')?;
    let (w, h) = field("Geometry", 'x')?;
    Some((x.parse().ok()?, y.parse().ok()?, w.parse().ok()?, h.parse().ok()?))
}

fn data_dir(home: &Path) -> std::path::PathBuf {
    home.join("data/app.kage.client")
}

#[tokio::test]
async fn i13_web_accounts_get_kages_notifications_hotkeys_groups_downloads_and_places() {
    if !enabled() {
        eprintln!("end-to-end test skipped: run scripts/e2e-test (sets KAGE_E2E=1 under Xvfb with a keyring)");
        return;
    }
    let Some(notices) = notification_service() else {
        panic!("the test could not stand in for the notification service on the session bus (another one runs?)");
    };
    let home = tempfile::tempdir().unwrap();
    let server_data = tempfile::tempdir().unwrap();
    let server = GameServer::start(server_data.path(), free_port(), "web-comforts-server", true);
    let server_url = server.url();
    let site = game_site();
    let env = [("KAGE_SERVER_URL", server_url.as_str()), ("KAGE_E2E_WEB_HOOK", "1")];
    let kage = debug_binary("kage");
    let app = App::launch_binary(&kage, home.path(), DRIVER_PORT, &env).await;
    app.focus("acct-1").await;

    let games = app.invoke("add_web_game", json!({ "startUrl": format!("{site}/"), "name": GAME })).await;
    let game = games[0]["id"].as_str().unwrap_or_else(|| panic!("{games}")).to_owned();
    for name in ["main", "alt"] {
        let added = app.invoke("add_web_account", json!({ "gameId": game, "name": name })).await;
        assert!(added.get("error").is_none(), "{added}");
    }
    let games = app.invoke("web_games", json!({})).await;
    let accounts = games[0]["accounts"].as_array().unwrap().clone();
    let id = |name: &str| accounts.iter().find(|a| a["name"] == name).unwrap()["id"].as_str().unwrap().to_owned();
    let (main, alt) = (id("main"), id("alt"));
    assert_eq!(accounts[0]["settings"], json!({ "notifications": true, "groups": [] }), "on by default");

    // 1. A group holding a web account opens its window: alt is in "raid", and Open group opens it.
    let set = |account: &str, notifications: bool, groups: &[&str]| json!({ "accountId": account, "settings": { "notifications": notifications, "groups": groups } });
    let saved = app.invoke("set_web_account_settings", set(&alt, false, &["raid"])).await;
    assert!(saved.get("error").is_none(), "{saved}");
    let groups = app.invoke("group_templates", json!({})).await;
    assert_eq!(groups[0]["group"], "raid", "the group is listed: {groups}");
    let opened = app.invoke("open_accounts", json!({ "group": "raid" })).await;
    assert_eq!(opened, json!(1), "one account queued");
    wait_loaded(&app, &alt).await;
    assert!(eval(&app, &main, 0, "return 1;").await.get("hook_error").is_some(), "main is in no group");
    report("web_comforts", "Open group \"raid\" opened alt's web window");
    let opened = app.invoke("open_web_account", json!({ "accountId": main, "newWindow": false })).await;
    assert!(opened.get("error").is_none(), "{opened}");
    wait_loaded(&app, &main).await;

    // 2. Notifications: main's page is granted and its notification names main; alt's are off: denied, none.
    let notify = r#"const permission = await Notification.requestPermission();
        if (permission === "granted") new Notification("Raid", { body: "The boss is up" });
        return permission;"#;
    let asked = Instant::now();
    assert_eq!(eval(&app, &main, 0, notify).await, json!("granted"));
    let expected = (format!("main · {GAME}"), "Raid: The boss is up".to_owned());
    let seen = until(Duration::from_secs(10), || {
        let shown = notices.lock().unwrap().clone();
        shown.contains(&expected).then_some(shown)
    })
    .await;
    assert!(seen.is_some(), "no notification naming main: {:?}", notices.lock().unwrap());
    let notice_ms = asked.elapsed().as_millis();
    let alt_tries = r#"const permission = await Notification.requestPermission();
        try { new Notification("Raid", { body: "alt's boss" }); } catch (e) {}
        return permission;"#;
    assert_eq!(eval(&app, &alt, 0, alt_tries).await, json!("denied"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let shown = notices.lock().unwrap().clone();
    assert!(!shown.iter().any(|(summary, body)| summary.contains("alt") || body.contains("alt")), "{shown:?}");
    report(
        "web_comforts",
        &format!("notifications shown: {shown:?}; main's reached the service {notice_ms} ms after the page asked"),
    );

    // 3. Ctrl+2 while main's game page has the keyboard: alt's window (the second account) gets the focus, and
    // the page never saw the key; a plain key goes to the page.
    let (main_title, alt_title) = (title("main"), title("alt"));
    x11::focus_and_wait(&main_title).await;
    xdotool(&["key", "x"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pressed = Instant::now();
    xdotool(&["key", "ctrl+2"]);
    let focused = until(Duration::from_secs(5), || x11::focused_title().filter(|t| *t == alt_title)).await;
    let switch_ms = pressed.elapsed().as_millis();
    assert!(focused.is_some(), "Ctrl+2 in main's game did not focus alt: the focus is on {:?}", x11::focused_title());
    let keys = eval(&app, &main, 0, "return window.keys;").await;
    // The page sees Ctrl itself go down (Kage takes only the combination), never the 2.
    let keys_seen: Vec<&str> = keys.as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(keys_seen.first() == Some(&"x") && !keys_seen.iter().any(|k| k.ends_with('2')), "{keys}");
    xdotool(&["key", "ctrl+shift+Tab"]);
    let back = until(Duration::from_secs(5), || x11::focused_title().filter(|t| *t == main_title)).await;
    assert!(back.is_some(), "Ctrl+Shift+Tab in alt's game did not focus main: {:?}", x11::focused_title());
    report(
        "web_comforts",
        &format!("keys main's page saw: {keys}; Ctrl+2 focused alt {switch_ms} ms after the key (xdotool included)"),
    );
    // Ctrl+Shift+A in main's game: Kage's own window comes forward with its accounts panel open.
    xdotool(&["key", "ctrl+shift+a"]);
    let kage_focused =
        until(Duration::from_secs(5), || x11::focused_title().filter(|t| *t != main_title && *t != alt_title)).await;
    assert!(kage_focused.is_some(), "Ctrl+Shift+A left the focus on {:?}", x11::focused_title());
    app.focus("acct-1").await;
    app.wait_for("accounts-panel").await;
    app.click("panel-close").await;

    // 4. A download asks where to save and is saved there, fetched with main's own cookie; nothing is left in
    // the staging folder.
    let chosen = kage_e2e::chosen_file(home.path());
    let download = r#"document.cookie = "who=main; path=/";
        const link = document.createElement("a"); link.href = "/download"; link.download = "map.txt";
        document.body.append(link); link.click(); return true;"#;
    assert_eq!(eval(&app, &main, 0, download).await, json!(true));
    let saved =
        until(Duration::from_secs(15), || std::fs::read_to_string(&chosen).ok().filter(|t| !t.is_empty())).await;
    assert_eq!(saved.as_deref(), Some("the map, fetched with cookie [who=main]"), "saved where the chooser said");
    let roster: Value =
        serde_json::from_slice(&std::fs::read(data_dir(home.path()).join("roster.json")).unwrap()).unwrap();
    let partition = roster["web_accounts"].as_array().unwrap().iter().find(|a| a["id"] == main).unwrap()["partition"]
        .as_str()
        .unwrap()
        .to_owned();
    let staging = data_dir(home.path()).join("web").join(&partition).join("downloads-in-progress");
    let left = until(Duration::from_secs(5), || {
        Some(()).filter(|_| std::fs::read_dir(&staging).map_or(true, |mut entries| entries.next().is_none()))
    })
    .await;
    assert!(left.is_some(), "the staging folder is empty: {:?}", std::fs::read_dir(&staging).map(|d| d.count()));
    report("web_comforts", "a download was saved where the chooser said, fetched with the account's cookie");

    // The panel: main's Settings turn its notifications off and put it in a group of its own; the panel's
    // group buttons then offer that group.
    app.focus("acct-1").await;
    app.click("open-panel").await;
    app.click("web-account-edit").await;
    app.wait_for("web-account-notifications").await.click().await.unwrap();
    app.fill("web-account-groups", "farm").await;
    app.click("web-account-settings-save").await;
    let buttons = "return [...document.querySelectorAll('[data-testid=open-group]')].map(e => e.dataset.group)";
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let groups = app.client.execute(buttons, vec![]).await.unwrap_or_default();
        if groups == json!(["farm", "raid"]) {
            break;
        }
        assert!(Instant::now() < deadline, "the panel's group buttons: {groups}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let games = app.invoke("web_games", json!({})).await;
    let main_view = games[0]["accounts"].as_array().unwrap().iter().find(|a| a["id"] == main).unwrap().clone();
    assert_eq!(main_view["settings"], json!({ "notifications": false, "groups": ["farm"] }), "{main_view}");
    report("web_comforts", "the panel's Settings turned main's notifications off and put it in \"farm\"");

    // 5. Main's window is moved and resized; after a restart it comes back there.
    let id = x_window(&main_title).unwrap();
    xdotool(&["windowsize", &id.to_string(), "700", "500"]);
    xdotool(&["windowmove", &id.to_string(), "130", "170"]);
    let moved = until(Duration::from_secs(5), || geometry(&main_title).filter(|g| g.0 == 130 && g.1 == 170)).await;
    let moved = moved.unwrap_or_else(|| panic!("main's window did not move: {:?}", geometry(&main_title)));
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The player quits by closing the windows, main's last (ending the WebDriver session kills the app, which
    // a player's quit is not): the others leave the layout as they close, main's stays, with its place.
    let others: Vec<String> = x11::visible_titles().into_iter().filter(|t| *t != main_title).collect();
    for other in &others {
        x11::close_until_gone(other, Duration::from_secs(20)).await;
    }
    x11::close_until_gone(&main_title, Duration::from_secs(20)).await;
    let layout = std::fs::read_to_string(data_dir(home.path()).join("windows.json")).unwrap_or_default();
    report("web_comforts", &format!("layout after the quit: {layout}"));
    app.quit().await;
    let app = App::launch_binary(&kage, home.path(), DRIVER_PORT, &env).await;
    app.focus("acct-1").await;
    wait_loaded(&app, &main).await;
    let back = until(Duration::from_secs(10), || geometry(&main_title).filter(|g| *g == moved)).await;
    assert!(back.is_some(), "main's window did not come back to {moved:?}: {:?}", geometry(&main_title));
    report("web_comforts", &format!("main's web window came back at {moved:?} after a restart"));
    app.quit().await;
}
