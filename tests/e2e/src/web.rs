//! Reading and driving web-game windows in the end-to-end tests, and what a web partition leaves on disk.
//!
//! WebDriver reaches only Kage's own windows (WebKitGTK automates one web context), so web windows are read and
//! driven through the debug build's test hook (`e2e_web_eval`, on with `KAGE_E2E_WEB_HOOK=1`), called from
//! Kage's window. The page helpers expect the seed bug's web client (kage-server's `GET /play`) or, for the
//! greeting, Roundup (`tests/webapp`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::App;

/// Runs `script` (an async function's body) in window `window` of web account `account`; its JSON answer.
pub async fn eval(app: &App, account: &str, window: usize, script: &str) -> Value {
    let answer = app.invoke("e2e_web_eval", json!({ "accountId": account, "window": window, "script": script })).await;
    match answer.as_str() {
        Some(text) => serde_json::from_str(text).unwrap_or(Value::String(text.to_owned())),
        None => json!({ "hook_error": answer }),
    }
}

/// What the web client shows in that window: the player, every player it has shown, how many refetches.
pub async fn shown(app: &App, account: &str, window: usize) -> Value {
    let script = r#"
        const text = (id) => document.querySelector(`[data-testid="${id}"]`)?.textContent ?? null;
        return { url: location.href, player: document.getElementById("profile")?.hidden ? null : text("profile-username"),
                 seen: text("seen"), refetches: Number(text("refetches")), status: text("status") };"#;
    eval(app, account, window, script).await
}

/// Waits until the window shows `player` signed in.
pub async fn wait_player(app: &App, account: &str, window: usize, player: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = shown(app, account, window).await;
        if now["player"] == player && now["status"] == "signed in" {
            return now;
        }
        assert!(Instant::now() < deadline, "window {window} of {account} never showed {player}: {now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the account has a window again after a restart (the app puts back the last run's windows).
pub async fn wait_restored(app: &App, account: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while eval(app, account, 0, "return 1;").await != json!(1) {
        assert!(Instant::now() < deadline, "{account}'s window did not come back after the restart");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the web client has loaded in the account's first window.
pub async fn wait_loaded(app: &App, account: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let script = "return document.readyState === 'complete' && !!document.getElementById('sign-in');";
    loop {
        let ready = eval(app, account, 0, script).await;
        if ready == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "the web client did not load in {account}'s window: {ready}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Signs `player` in through the page's own form, as a player would type it.
pub async fn sign_in_on_the_page(app: &App, account: &str, player: &str) {
    wait_loaded(app, account).await;
    let script = format!(
        r#"const form = document.getElementById("sign-in");
           form.querySelector('[data-testid="username-input"]').value = "{player}";
           form.querySelector('[data-testid="password-input"]').value = "{player}-password";
           form.requestSubmit();
           return true;"#
    );
    assert_eq!(eval(app, account, 0, &script).await, json!(true));
    wait_player(app, account, 0, player).await;
}

/// Kage's data directory under the test's home.
pub fn data_dir(home: &Path) -> PathBuf {
    home.join("data/app.kage.client")
}

/// The saved roster, as the app wrote it.
pub fn roster(home: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(data_dir(home).join("roster.json")).unwrap()).unwrap()
}

/// The partition id the saved roster gives web account `account`.
pub fn partition_of(home: &Path, account: &str) -> String {
    let roster = roster(home);
    let accounts = roster["web_accounts"].as_array().expect("web accounts saved");
    let entry = accounts.iter().find(|a| a["id"] == account).expect("the account is saved");
    entry["partition"].as_str().unwrap().to_owned()
}

/// The `__session` cookie's value in a partition's cookie file (WebKitGTK's Netscape-format text file, one
/// tab-separated line per cookie).
pub fn session_cookie(partition_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(partition_dir.join("cookies")).ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split('\t').collect();
        // libsoup writes an eighth field (SameSite) after the seven of the Netscape format.
        (fields.len() >= 7 && fields[5] == "__session").then(|| fields[6].to_owned())
    })
}

/// Every file under `dir` whose path or content contains `needle`.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.to_string_lossy().contains(needle) {
                found.push(path.clone());
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
            {
                found.push(path);
            }
        }
    }
    found
}

/// Waits until a partition's cookie file holds a `__session` cookie; its value.
pub async fn wait_cookie(dir: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(cookie) = session_cookie(dir) {
            return cookie;
        }
        if Instant::now() > deadline {
            let files: Vec<String> = std::fs::read_dir(dir).map_or_else(
                |e| vec![e.to_string()],
                |entries| entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
            );
            let cookies = std::fs::read_to_string(dir.join("cookies")).unwrap_or_default();
            let names: Vec<String> = cookies
                .lines()
                .map(|line| {
                    format!("{} fields: {:?}", line.split('\t').count(), line.split('\t').take(6).collect::<Vec<_>>())
                })
                .collect();
            panic!("no __session cookie written in {}: files {files:?}, cookie lines {names:?}", dir.display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page's text, or `None` while the window is between pages (the hook's script has nowhere to run then).
pub async fn page_text(app: &App, account: &str) -> Option<String> {
    eval(app, account, 0, "return document.readyState === 'complete' ? document.body.innerText : null;")
        .await
        .as_str()
        .map(str::to_owned)
}

/// Waits until the account's window greets `user` (Roundup's "Hello, <name>"), and checks it greets nobody else.
pub async fn wait_greeting(app: &App, account: &str, user: &str, other: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = page_text(app, account).await.unwrap_or_default();
        assert!(!text.contains(&format!("Hello, {other}")), "{user}'s window greets {other}: {text}");
        if text.contains(&format!("Hello, {user}")) {
            return;
        }
        assert!(Instant::now() < deadline, "{user}'s window never greeted {user}: {text}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
