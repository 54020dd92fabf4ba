//! Test-only (debug builds, and only with `KAGE_E2E_WAKE_WATCH=1`): what a woken window's page showed first,
//! written to the app's log for the end-to-end test.
//!
//! Why not WebDriver: WebKitWebDriver deletes its session when any page of it loses its web process ("session
//! deleted because of page crash or hang"), which is what hibernation does on purpose. So the test drives the
//! second half without WebDriver, and this watch reports instead: before a woken window's page loads again, a
//! script at document start records the first balance the page put on screen (a mutation observer runs before
//! the next paint), and whether a sign-in screen or a "signed out" status ever showed; 4 s later the record is
//! read and logged as `e2e wake watch <label>: <json>`, with when the wake was asked for (ms since the epoch).

use std::time::Duration;

use tauri::{Runtime, WebviewWindow};

const SWITCH: &str = "KAGE_E2E_WAKE_WATCH";

const RECORDER: &str = r#"(() => {
  const seen = { firstRyo: null, firstRyoAtMs: null, signin: false, signedOut: false };
  window.__kageWakeWatch = seen;
  const look = () => {
    const q = (id) => document.querySelector(`[data-testid='${id}']`);
    if (q('view-signin')) seen.signin = true;
    const app = document.getElementById('app');
    if (app && app.dataset.status === 'signed_out') seen.signedOut = true;
    const ryo = q('profile-ryo');
    if (seen.firstRyo === null && ryo && /\d/.test(ryo.textContent)) {
      seen.firstRyo = ryo.textContent;
      seen.firstRyoAtMs = performance.now();
      seen.firstRyoEpochMs = Date.now();
    }
  };
  new MutationObserver(look).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
})();"#;

fn enabled() -> bool {
    std::env::var(SWITCH).is_ok_and(|value| value == "1")
}

/// Before the page loads again: installs the recorder for the next load.
pub fn before_reload<R: Runtime>(window: &WebviewWindow<R>) {
    if !enabled() {
        return;
    }
    let _ = window.with_webview(|webview| {
        use webkit2gtk::WebViewExt;
        use webkit2gtk::{UserContentInjectedFrames, UserContentManagerExt, UserScript, UserScriptInjectionTime};
        if let Some(manager) = webview.inner().user_content_manager() {
            let script = UserScript::new(
                RECORDER,
                UserContentInjectedFrames::TopFrame,
                UserScriptInjectionTime::Start,
                &[],
                &[],
            );
            manager.add_script(&script);
        }
    });
}

/// After the reload was asked for: reads the record 4 s later and logs it.
pub fn report_later<R: Runtime>(window: &WebviewWindow<R>) {
    if !enabled() {
        return;
    }
    let window = window.clone();
    let woke_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(Duration::from_secs(4)).await;
        let (done, answer) = tokio::sync::oneshot::channel::<String>();
        let label = window.label().to_owned();
        let _ = window.with_webview(move |webview| {
            use webkit2gtk::WebViewExt;
            webview.inner().call_async_javascript_function(
                &format!("return JSON.stringify({{ ...(window.__kageWakeWatch || {{}}), wokeAtEpochMs: {woke_at} }});"),
                None,
                None,
                None,
                None::<&webkit2gtk::gio::Cancellable>,
                move |result| {
                    let _ = done.send(result.map_or_else(|error| format!("error: {error}"), |value| value.to_string()));
                },
            );
        });
        if let Ok(Ok(record)) = tokio::time::timeout(Duration::from_secs(10), answer).await {
            log::info!("e2e wake watch {label}: {record}");
        }
    });
}
