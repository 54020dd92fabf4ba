//! Sign out and Forget for a web account: its partition is wiped, on disk and in memory (I13).
//!
//! The roster is written first (a sign-out gives the account a fresh partition id, a forget removes it), so
//! from then on no account names the old partition: a crash at any later moment leaves a directory nobody
//! names, and the next start deletes it ([`super::Partitions::sweep`]). Then, while a webview of the partition
//! still exists, WebKit's data manager is cleared (cookies, storage, caches, service workers, in the network
//! process's memory too) and its answer awaited; the account's windows close; the directory is deleted. The old
//! path is never given to a window again (Tauri keeps a partition's WebKit context until the app exits; a new
//! window on that path would get the wiped context back).

use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindow, WebviewWindowBuilder};

use super::new_label;
use crate::state::AppState;

/// How long WebKit may take to clear a partition before Kage deletes its directory anyway.
#[cfg(target_os = "linux")]
const CLEAR_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Wipes partition `partition`, which belonged to web account `account_id` and which the roster no longer
/// names: clears it, closes the account's windows, deletes its directory. `Err`: a sentence for the player
/// (what is left is deleted at the next start).
pub async fn wipe<R: Runtime>(app: &AppHandle<R>, account_id: &str, partition: &str) -> Result<(), String> {
    let state = app.state::<AppState>();
    let windows: Vec<WebviewWindow<R>> =
        state.web.windows_of(account_id).iter().filter_map(|label| app.get_webview_window(label)).collect();
    // A blank, hidden window of the partition to clear it through: no page of the game runs in it, so nothing
    // writes a cookie back between the clear and the close.
    let mut problem = None;
    // On macOS the helper would reach the default store, not the partition's: `store::wipe` below removes the
    // partition's store (or clears an old Mac's one store) itself.
    if cfg!(not(target_os = "macos")) && state.web.was_used(partition) {
        match reach(app, partition) {
            Ok(helper) => {
                for window in &windows {
                    let _ = window.destroy();
                }
                if let Err(error) = clear(&helper).await {
                    problem = Some(format!("WebKit did not clear this account's web data: {error}"));
                }
                let _ = helper.destroy();
            }
            Err(error) => problem = Some(format!("Kage could not reach this account's web data: {error}")),
        }
    }
    // Whatever went wrong above, the windows go (from the layout too) and the directory with them.
    super::window::close_all(app, account_id);
    for window in &windows {
        let _ = window.destroy();
    }
    if let Err(error) = state.web.partitions.delete(partition) {
        problem.get_or_insert(format!("Kage could not delete this account's web data folder: {error}"));
    }
    // WKWebView keeps a partition's data in a store of its own (or an old Mac's one store), not the directory.
    #[cfg(target_os = "macos")]
    if let Err(error) = super::store::wipe(app, &state.web.partitions, partition).await {
        problem.get_or_insert(error);
    }
    match problem {
        Some(problem) => Err(format!("{problem}. Kage deletes what is left at its next start.")),
        None => Ok(()),
    }
}

/// A hidden, blank window in `partition` (the context Tauri keeps for it, or a new one).
fn reach<R: Runtime>(app: &AppHandle<R>, partition: &str) -> Result<WebviewWindow<R>, String> {
    let state = app.state::<AppState>();
    let dir = state.web.partitions.dir(partition).ok_or("not a partition")?;
    let blank = WebviewUrl::External("about:blank".parse().expect("a URL"));
    WebviewWindowBuilder::new(app, new_label(), blank)
        .data_directory(dir)
        .visible(false)
        // Nothing may load in it: it exists to reach the partition's data manager.
        .on_navigation(|url| url.as_str() == "about:blank")
        .build()
        .map_err(|error| error.to_string())
}

/// Clears everything WebKit keeps for `window`'s partition and waits for WebKit's answer.
#[cfg(target_os = "linux")]
async fn clear<R: Runtime>(window: &WebviewWindow<R>) -> Result<(), String> {
    use webkit2gtk::{WebViewExt, WebsiteDataManagerExtManual, WebsiteDataTypes};
    let (done, answer) = tokio::sync::oneshot::channel::<Result<(), String>>();
    window
        .with_webview(move |webview| match webview.inner().website_data_manager() {
            Some(manager) => manager.clear(
                WebsiteDataTypes::ALL,
                webkit2gtk::glib::TimeSpan::from_seconds(0),
                None::<&webkit2gtk::gio::Cancellable>,
                move |cleared| {
                    let _ = done.send(cleared.map_err(|error| error.to_string()));
                },
            ),
            None => {
                let _ = done.send(Err("the window has no data manager".to_owned()));
            }
        })
        .map_err(|error| error.to_string())?;
    match tokio::time::timeout(CLEAR_WAIT, answer).await {
        Ok(Ok(cleared)) => cleared,
        Ok(Err(_)) => Err("no answer".to_owned()),
        Err(_) => Err(format!("no answer within {} s", CLEAR_WAIT.as_secs())),
    }
}

/// Elsewhere the partition's directory is deleted once its windows are closed (WebView2 and WKWebView keep no
/// context alive after its last view).
#[cfg(not(target_os = "linux"))]
async fn clear<R: Runtime>(window: &WebviewWindow<R>) -> Result<(), String> {
    window.clear_all_browsing_data().map_err(|error| error.to_string())
}
