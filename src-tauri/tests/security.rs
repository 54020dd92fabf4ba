//! The shell's side of the holes a security review found (issue 17): what a page can make Kage send, and where.
//! Each test here failed on the code before its fix (the closing note of the change says how).

mod support;

use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kage_app::state::AppState;
use kage_core::vault::MemoryStore;
use serde_json::json;
use tauri::Manager;

use support::{TestApp, invoke, sign_in};

/// A program of the test's own holding a port: it accepts every connection and keeps what each one sent.
struct Squatter {
    heard: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Squatter {
    fn hold(port: u16) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("the old port is free to take");
        listener.set_nonblocking(true).unwrap();
        let (heard, stop) = (Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let thread = std::thread::spawn({
            let (heard, stop) = (heard.clone(), stop.clone());
            move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
                            let mut buffer = [0u8; 4096];
                            let read = stream.read(&mut buffer).unwrap_or(0);
                            heard.lock().unwrap().push(String::from_utf8_lossy(&buffer[..read]).into_owned());
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            }
        });
        Self { heard, stop, thread: Some(thread) }
    }

    fn heard(&self) -> Vec<String> {
        self.heard.lock().unwrap().clone()
    }
}

impl Drop for Squatter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The port of the sandbox's origin, `http://127.0.0.1:PORT`.
fn port_of(origin: &str) -> u16 {
    origin.rsplit(':').next().and_then(|port| port.parse().ok()).expect("a sandbox origin")
}

/// Issue 17, item 1. The sandbox had to move to another port (a program of the test's own holds the old one):
/// signing out one of its saved accounts, forgetting another, and finishing the sign-out at the next start send
/// nothing to whatever holds the old port, and still remove both accounts' credentials from this computer.
#[tokio::test(flavor = "multi_thread")]
async fn a_moved_sandbox_accounts_sign_out_and_forget_send_nothing_to_its_old_port() {
    let vault = Arc::new(MemoryStore::default());
    let first = TestApp::start_on(tempfile::tempdir().unwrap(), vault.clone()).await;
    let main = sign_in(&first.window("acct-1"), "main")["account"]["id"].clone();
    let alt = sign_in(&first.window("acct-2"), "alt")["account"]["id"].clone();
    let old_origin = first.app.state::<AppState>().origin.as_str().to_owned();
    let dir = first.quit(|_| {}).await;
    assert_eq!(vault.len(), 2, "both sign-ins are saved");

    let squatter = Squatter::hold(port_of(&old_origin));
    let second = TestApp::start_on(dir, vault.clone()).await;
    let state = second.app.state::<AppState>();
    assert_ne!(state.origin.as_str(), old_origin, "the sandbox moved to another port");
    state.restore_saved();
    let window = second.window("acct-1");

    let signed_out = invoke(&window, "sign_out_account", json!({"accountId": main}));
    assert!(signed_out.is_ok(), "signing out a moved account works locally: {signed_out:?}");
    let forgotten = invoke(&window, "forget_account", json!({"accountId": alt})).unwrap();
    let left: Vec<_> = forgotten.as_array().unwrap().iter().map(|a| a["id"].clone()).collect();
    assert_eq!(left, vec![main], "alt is forgotten, main stays listed (signed out)");
    // The next start finishes sign-outs an earlier run left (main is marked signed out now).
    state.finish_sign_outs().await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(squatter.heard(), Vec::<String>::new(), "nothing may reach whatever holds the old port");
    assert!(vault.is_empty(), "both credentials are gone from the keychain");
}

/// Issue 17, item 5. A page cannot choose where an export is written or which file an import reads: a path it
/// sends is refused (nothing is written there), and the file the player chose in the dialog is used.
#[tokio::test(flavor = "multi_thread")]
async fn a_page_cannot_name_the_file_an_export_writes_or_an_import_reads() {
    let app = TestApp::start().await;
    let window = app.window("acct-1");
    sign_in(&window, "main");
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("dropped.kage");
    let path = target.to_str().unwrap();

    let args = json!({"passphrase": "long enough pass", "includeCredentials": true, "path": path});
    let refused = invoke(&window, "export_accounts", args).unwrap_err();
    assert_eq!(refused["code"], "path_not_allowed", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("file dialog"), "{refused}");
    assert!(!target.exists(), "nothing was written where the page asked");

    // The player's own choice works, and an import naming any path is refused before it reads anything.
    let chosen =
        invoke(&window, "export_accounts", json!({"passphrase": "long enough pass", "includeCredentials": true}));
    assert_eq!(chosen.unwrap()["accounts"], 1);
    std::fs::copy(app._dir.path().join("chosen.kage"), &target).unwrap();
    let refused =
        invoke(&window, "import_accounts", json!({"passphrase": "long enough pass", "path": path})).unwrap_err();
    assert_eq!(refused["code"], "path_not_allowed", "{refused}");
}

/// Issue 17, item 3, as the accounts panel shows it: an account's sessions are listed as this computer, an export
/// (a fork made for the export file) and another computer; ending the other computer's signs it out there, and
/// "end all but this computer" ends the export too, while this computer stays signed in.
#[tokio::test(flavor = "multi_thread")]
async fn the_panel_lists_an_accounts_sessions_and_ends_them_but_this_computers() {
    let server_dir = tempfile::tempdir().unwrap();
    let mut config = kage_server::Config::new(server_dir.path());
    config.demo = true;
    let server = kage_server::start(config).await.expect("server starts");
    let url = server.base_url();
    let here = TestApp::start_against(Some(&url), tempfile::tempdir().unwrap(), Default::default()).await;
    let window = here.window("acct-1");
    let main = sign_in(&window, "main")["account"]["id"].clone();
    let other = TestApp::start_against(Some(&url), tempfile::tempdir().unwrap(), Default::default()).await;
    let elsewhere = other.window("acct-1");
    sign_in(&elsewhere, "main");
    let exported =
        invoke(&window, "export_accounts", json!({"passphrase": "long enough pass", "includeCredentials": true}));
    assert_eq!(exported.unwrap()["withCredentials"], 1, "the export holds a fork of this computer's session");

    let relations = |sessions: &serde_json::Value| -> Vec<String> {
        let mut found: Vec<String> =
            sessions.as_array().unwrap().iter().map(|s| s["relation"].as_str().unwrap().to_owned()).collect();
        found.sort();
        found
    };
    let sessions = invoke(&window, "account_sessions", json!({"accountId": main})).unwrap();
    assert_eq!(relations(&sessions), ["current", "fork", "other"], "{sessions}");

    let other_id = sessions.as_array().unwrap().iter().find(|s| s["relation"] == "other").unwrap()["id"].clone();
    let left = invoke(&window, "end_account_session", json!({"accountId": main, "sessionId": other_id})).unwrap();
    assert_eq!(relations(&left), ["current", "fork"]);
    other
        .app
        .state::<AppState>()
        .core
        .sessions
        .expire_access_token(&other.app.state::<AppState>().roster.list()[0].account().unwrap());
    let refused = invoke(&elsewhere, "refresh_profile", json!({})).unwrap_err();
    assert_eq!(refused["code"], "signed_out", "the other computer's session ended: {refused}");

    let left = invoke(&window, "end_other_sessions", json!({"accountId": main})).unwrap();
    assert_eq!(relations(&left), ["current"], "only this computer's session is left");
    here.app
        .state::<AppState>()
        .core
        .sessions
        .expire_access_token(&here.app.state::<AppState>().roster.list()[0].account().unwrap());
    let answer = invoke(&window, "refresh_profile", json!({})).unwrap();
    assert_eq!(answer["profile"]["username"], "main", "this computer stays signed in");
}

/// Issue 17, low: a saved proxy that no longer parses (edited by hand, written by a newer Kage) blocks its
/// account with a sentence, and never lets it go direct: after the restart not one request of it reaches the
/// server, and its window says why.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_proxy_that_no_longer_parses_blocks_its_account_instead_of_going_direct() {
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let server_dir = tempfile::tempdir().unwrap();
    let mut config = kage_server::Config::new(server_dir.path());
    config.demo = true;
    config.observer = Some(Arc::new({
        let seen = seen.clone();
        move |record: kage_server::observe::RequestRecord| {
            seen.lock().unwrap().push(format!("{} {}", record.method, record.path))
        }
    }));
    let server = kage_server::start(config).await.expect("server starts");
    let url = server.base_url();
    let vault = Arc::new(MemoryStore::default());
    let first = TestApp::start_against(Some(&url), tempfile::tempdir().unwrap(), vault.clone()).await;
    let main = sign_in(&first.window("acct-1"), "main")["account"]["id"].clone();
    let dir = first.quit_remote().await;
    let roster = dir.path().join("roster.json");
    let text = std::fs::read_to_string(&roster).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["accounts"][0]["proxy"] = json!("gopher://proxy.example:70");
    std::fs::write(&roster, doc.to_string()).unwrap();

    let second = TestApp::start_against(Some(&url), dir, vault).await;
    second.app.state::<AppState>().restore_saved(); // as the app's setup does
    seen.lock().unwrap().clear();
    let window = second.window("acct-1");
    invoke(&window, "open_saved", json!({"accountId": main})).unwrap();
    let refused = invoke(&window, "refresh_profile", json!({})).unwrap_err();
    assert_eq!(refused["code"], "offline", "{refused}");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let state = loop {
        let state = invoke(&window, "window_state", json!({})).unwrap();
        if state["offline"]["cause"] == "proxy_not_usable" || std::time::Instant::now() > deadline {
            break state;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(state["offline"]["cause"], "proxy_not_usable", "{state}");
    assert!(state["offline"]["reason"].as_str().unwrap().contains("fix its proxy"), "{state}");
    assert_eq!(*seen.lock().unwrap(), Vec::<String>::new(), "nothing of main's reached the server");
}
