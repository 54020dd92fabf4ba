//! Runs a script Kage wrote in a web window's top frame and hands back its answer (the saved sign-in's fill;
//! the debug build's test hook). The page cannot call this: it has no IPC (I13).

use tokio::sync::oneshot::Sender;

/// Runs `body` as the body of an async function in `webview`'s top frame; `done` gets its result as JSON text,
/// or WebKit's error.
#[cfg(target_os = "linux")]
pub fn run(webview: tauri::webview::PlatformWebview, body: &str, done: Sender<Result<String, String>>) {
    use webkit2gtk::WebViewExt;
    webview.inner().call_async_javascript_function(
        body,
        None,
        None,
        None,
        None::<&webkit2gtk::gio::Cancellable>,
        move |result| {
            let _ = done.send(result.map(|value| value.to_string()).map_err(|error| error.to_string()));
        },
    );
}

/// Elsewhere nothing runs: `done` gets a sentence saying so.
#[cfg(not(target_os = "linux"))]
pub fn run(_webview: tauri::webview::PlatformWebview, _body: &str, done: Sender<Result<String, String>>) {
    let _ = done.send(Err("Kage reaches into a web game's page on Linux only for now".to_owned()));
}
