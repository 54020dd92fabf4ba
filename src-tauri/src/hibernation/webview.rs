//! The WebKit side of hibernation and of cheaper windows: ending a view's web process, loading its page again,
//! and the web context's cache model. Linux only (WebKitGTK); elsewhere windows never hibernate.

use tauri::{Runtime, WebviewWindow};

/// Whether this platform can end a window's web process and bring it back.
pub const CAN_HIBERNATE: bool = cfg!(target_os = "linux");

#[cfg(target_os = "linux")]
pub fn end_web_process<R: Runtime>(window: &WebviewWindow<R>) -> tauri::Result<()> {
    use webkit2gtk::WebViewExt;
    window.with_webview(|webview| webview.inner().terminate_web_process())
}

#[cfg(target_os = "linux")]
pub fn reload<R: Runtime>(window: &WebviewWindow<R>) -> tauri::Result<()> {
    use webkit2gtk::WebViewExt;
    window.with_webview(|webview| webview.inner().reload())
}

/// Kage's own page is one document with no back/forward history worth caching and no media: WebKit's
/// "document viewer" cache model keeps the smallest memory and page caches (measured in docs/benchmarks.md).
/// Set on the view's web context, which every account window shares (web games' partitions have their own
/// contexts and keep WebKit's default). `KAGE_WEBKIT_CACHE_MODEL=browser` keeps WebKit's default, for the bench.
#[cfg(target_os = "linux")]
pub fn use_document_viewer_cache<R: Runtime>(window: &WebviewWindow<R>) {
    use webkit2gtk::{CacheModel, WebContextExt, WebViewExt};
    if std::env::var("KAGE_WEBKIT_CACHE_MODEL").is_ok_and(|model| model == "browser") {
        return;
    }
    let _ = window.with_webview(|webview| {
        if let Some(context) = webview.inner().context()
            && context.cache_model() != CacheModel::DocumentViewer
        {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
    });
}

#[cfg(not(target_os = "linux"))]
pub fn end_web_process<R: Runtime>(_window: &WebviewWindow<R>) -> tauri::Result<()> {
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn reload<R: Runtime>(_window: &WebviewWindow<R>) -> tauri::Result<()> {
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn use_document_viewer_cache<R: Runtime>(_window: &WebviewWindow<R>) {}
