//! Throwaway probe for docs/web-games-notes.md: what Tauri 2.11 on WebKitGTK does with remote pages in windows
//! with their own data directories. Kage's own context and capabilities, no Kage code. Prints what it sees,
//! then exits. Run: `xvfb-run -a target/debug/examples/web_probe`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tauri::webview::{NewWindowResponse, PageLoadEvent};
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

type Log = Arc<Mutex<Vec<String>>>;

fn note(log: &Log, line: String) {
    println!("{line}");
    log.lock().unwrap().push(line);
}

/// Each window reports through its document title: `REPORT <label> <text>`.
fn build(
    app: &AppHandle,
    label: &str,
    url: &str,
    dir: PathBuf,
    log: &Log,
) -> tauri::Result<WebviewWindow> {
    let (log_nav, log_title, log_new, log_load) = (log.clone(), log.clone(), log.clone(), log.clone());
    let (app_new, dir_new, label_nav) = (app.clone(), dir.clone(), label.to_owned());
    WebviewWindowBuilder::new(app, label, WebviewUrl::External(url.parse().unwrap()))
        .data_directory(dir)
        .inner_size(500.0, 400.0)
        .on_navigation(move |url| {
            let allow = url.scheme() == "http";
            note(&log_nav, format!("on_navigation {label_nav}: {url} -> {}", if allow { "allowed" } else { "refused" }));
            allow
        })
        .on_document_title_changed(move |window, title| {
            if let Some(report) = title.strip_prefix("REPORT ") {
                note(&log_title, format!("page {}: {report}", window.label()));
            }
        })
        .on_page_load(move |window, payload| {
            if payload.event() == PageLoadEvent::Finished {
                note(&log_load, format!("loaded {}: {}", window.label(), payload.url()));
            }
        })
        .on_new_window(move |url, features| {
            note(&log_new, format!("on_new_window: {url}"));
            let log_popup = log_new.clone();
            let popup = WebviewWindowBuilder::new(&app_new, "web-popup", WebviewUrl::External("about:blank".parse().unwrap()))
                .data_directory(dir_new.clone())
                .window_features(features)
                .on_document_title_changed(move |window, title| {
                    if let Some(report) = title.strip_prefix("REPORT ") {
                        note(&log_popup, format!("page {}: {report}", window.label()));
                    }
                })
                .build()
                .unwrap();
            NewWindowResponse::Create { window: popup }
        })
        .build()
}

fn network_processes() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|entry| {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let Some((comm, rest)) = stat.split_once(") ") else { return false };
            comm.contains("WebKitNetworkP") && rest.split_whitespace().nth(1) == Some(me.as_str())
        })
        .count()
}

const PROBE: &str = r#"
(async () => {
  const out = {};
  out.isTauri = window.isTauri === true;
  out.internals = typeof window.__TAURI_INTERNALS__;
  out.label = window.__TAURI_INTERNALS__?.metadata?.currentWindow?.label ?? null;
  out.frozenPrototype = Object.isFrozen(Object.prototype);
  for (const cmd of ["server_info", "plugin:event|emit", "plugin:window|close"]) {
    try { await window.__TAURI_INTERNALS__.invoke(cmd, { event: "x", payload: 1 }); out[cmd] = "ALLOWED"; }
    catch (e) { out[cmd] = "refused: " + String(e).slice(0, 160); }
  }
  document.title = "REPORT " + JSON.stringify(out);
})();
"#;

const WHO: &str = r#"
(async () => {
  const r = await fetch("/v1/viewer", { credentials: "same-origin" });
  const who = r.ok ? (await r.json()).username : r.status;
  document.title = "REPORT viewer=" + who + " opener=" + (window.opener !== null);
})();
"#;

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut config = kage_server::Config::new(data.path().join("server"));
    config.demo = true;
    let server = runtime.block_on(kage_server::start(config)).unwrap();
    let base = server.base_url();
    let root = data.path().to_path_buf();
    let log: Log = Arc::default();

    let log_setup = log.clone();
    tauri::Builder::default()
        .setup(move |app| {
            let handle = app.handle().clone();
            let page = format!("{base}/play?refetch_ms=100000");
            for (label, dir) in [("web-a1", "a"), ("web-a2", "a"), ("acct-9", "b")] {
                build(&handle, label, &page, root.join(dir), &log_setup)?;
            }
            let log = log_setup.clone();
            std::thread::spawn(move || {
                let eval = |label: &str, js: &str| handle.get_webview_window(label).unwrap().eval(js).unwrap();
                std::thread::sleep(Duration::from_secs(6));
                note(&log, format!("network processes with 3 windows in 2 data directories: {}", network_processes()));
                for label in ["web-a1", "acct-9"] {
                    eval(label, PROBE);
                }
                std::thread::sleep(Duration::from_secs(2));
                // main signs in through a1's page; a2 shares a1's partition; acct-9 (partition b) does not.
                eval("web-a1", r#"fetch("/v1/browser/sessions", {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify({username: "main", password: "main-password"})}).then(r => document.title = "REPORT signed in " + r.status)"#);
                std::thread::sleep(Duration::from_secs(2));
                for label in ["web-a2", "acct-9"] {
                    eval(label, WHO);
                }
                std::thread::sleep(Duration::from_secs(2));
                eval("web-a1", r#"window.p = window.open("/play?refetch_ms=100000", "p"); document.title = "REPORT window.open gave " + (window.p !== null);"#);
                std::thread::sleep(Duration::from_secs(4));
                if handle.get_webview_window("web-popup").is_some() {
                    eval("web-popup", WHO);
                }
                std::thread::sleep(Duration::from_secs(2));
                eval("acct-9", r#"location.href = "tauri://localhost/index.html";"#);
                std::thread::sleep(Duration::from_secs(2));
                if let Some(window) = handle.get_webview_window("acct-9") {
                    note(&log, format!("acct-9 is now at {}", window.url().map(|u| u.to_string()).unwrap_or_default()));
                }
                for label in ["web-a1", "web-a2", "web-popup"] {
                    if let Some(window) = handle.get_webview_window(label) {
                        window.destroy().unwrap();
                    }
                }
                std::thread::sleep(Duration::from_secs(3));
                note(&log, format!("network processes after partition a's windows closed: {}", network_processes()));
                handle.exit(0);
            });
            Ok(())
        })
        .run(kage_app::context())
        .expect("probe");
    drop(server);
}
