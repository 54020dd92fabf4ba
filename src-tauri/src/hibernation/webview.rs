//! The WebKit side of hibernation and of cheaper windows: ending a view's web process, loading its page again,
//! and the web context's cache model. Linux only (WebKitGTK); elsewhere windows never hibernate.

use tauri::{Runtime, WebviewWindow};

/// A window's WebKit view, handed from the main thread to the thread making a new window that shares its web
/// process (Tauri's `with_related_view`, which passes it back to the main thread to build the window).
#[cfg(target_os = "linux")]
pub struct RelatedView(pub webkit2gtk::WebView);

// SAFETY: the view is only taken (a reference count, which GObject keeps atomically) on the main thread, carried
// across, and used by wry on the main thread; no method of it is called on another thread.
#[cfg(target_os = "linux")]
unsafe impl Send for RelatedView {}

#[cfg(not(target_os = "linux"))]
pub struct RelatedView;

/// `window`'s view, asked of the main thread. `None` when called on the main thread itself (the answer would
/// come only after this returns: a command or the tray making a window gives it a process of its own) or when the
/// main thread does not answer within a second.
#[cfg(target_os = "linux")]
pub fn view_of<R: Runtime>(window: &WebviewWindow<R>) -> Option<RelatedView> {
    if gtk::glib::MainContext::default().is_owner() {
        return None;
    }
    let (sent, view) = std::sync::mpsc::channel();
    window.with_webview(move |webview| drop(sent.send(RelatedView(webview.inner())))).ok()?;
    view.recv_timeout(std::time::Duration::from_secs(1)).ok()
}

#[cfg(not(target_os = "linux"))]
pub fn view_of<R: Runtime>(_window: &WebviewWindow<R>) -> Option<RelatedView> {
    None
}

/// Whether this platform can end a window's web process and bring it back.
pub const CAN_HIBERNATE: bool = cfg!(target_os = "linux");

#[cfg(target_os = "linux")]
pub fn end_web_process<R: Runtime>(window: &WebviewWindow<R>) -> tauri::Result<()> {
    use webkit2gtk::WebViewExt;
    window.with_webview(|webview| webview.inner().terminate_web_process())
}

/// Calls `ended` whenever `window`'s web process ends (a crash, or a process another window's hibernation
/// ended): WebKit then shows nothing in it until its page is loaded again.
#[cfg(target_os = "linux")]
pub fn on_process_ended<R: Runtime>(window: &WebviewWindow<R>, ended: impl Fn() + Send + 'static) {
    use webkit2gtk::WebViewExt;
    let _ = window.with_webview(move |webview| {
        webview.inner().connect_web_process_terminated(move |_, _reason| ended());
    });
}

/// The empty page (`ui/asleep.html`) an asleep window holds while its web process still serves the awake windows
/// of its group: of Kage's own origin, so WebKit keeps the navigation in that process, and the page it replaces,
/// with everything its scripts held, is freed (the document viewer cache model keeps no back/forward cache).
const ASLEEP_PAGE: &str = "asleep.html";

/// Whether `url` is the page an asleep window holds.
pub fn is_asleep_page(url: &tauri::Url) -> bool {
    url.path_segments().and_then(|mut segments| segments.next_back()) == Some(ASLEEP_PAGE)
}

/// Gives up `window`'s page for the asleep page; its web process lives on. Returns the page it left, to come
/// back to (once the process ended too, the view no longer says where it was).
pub fn unload<R: Runtime>(window: &WebviewWindow<R>) -> tauri::Result<tauri::Url> {
    let page = window.url()?;
    window.navigate(page.join(ASLEEP_PAGE).map_err(tauri::Error::InvalidUrl)?)?;
    Ok(page)
}

/// Kage's page again: `left`, the page [`unload`] left (a navigation, in the same process if it lives, else in a
/// new one), or else the page shown when the process ended under it, loaded again (in a new process).
pub fn load_page_again<R: Runtime>(window: &WebviewWindow<R>, left: Option<tauri::Url>) -> tauri::Result<()> {
    match left {
        Some(page) => window.navigate(page),
        None => reload(window),
    }
}

#[cfg(target_os = "linux")]
fn reload<R: Runtime>(window: &WebviewWindow<R>) -> tauri::Result<()> {
    use webkit2gtk::WebViewExt;
    window.with_webview(|webview| webview.inner().reload())
}

/// WebKit's settings for a view showing Kage's own page (account windows and the overview; never a web game's,
/// whose partitions have their own contexts and settings and keep WebKit's defaults), both measured in
/// docs/benchmarks.md:
///
/// - the "document viewer" cache model: the page is one document with no back/forward history worth caching and
///   no media, so the smallest memory and page caches. Set on the view's web context, which every Kage window
///   shares. `KAGE_WEBKIT_CACHE_MODEL=browser` keeps WebKit's default, for the bench.
/// - no accelerated compositing: a page of text, a few buttons and a spinner gains nothing from GPU layers, and
///   each composited page cost about 45 MB more in its web process (ten windows: 338 MB against 805 MB, same
///   run). A related view shares its anchor's settings, so a group has one policy. `KAGE_WEBKIT_COMPOSITING=on`
///   keeps WebKit's default, for the bench.
#[cfg(target_os = "linux")]
pub fn for_kage_page<R: Runtime>(window: &WebviewWindow<R>) {
    use webkit2gtk::{CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt};
    let browser_cache = std::env::var("KAGE_WEBKIT_CACHE_MODEL").is_ok_and(|model| model == "browser");
    let compositing = std::env::var("KAGE_WEBKIT_COMPOSITING").is_ok_and(|value| value == "on");
    let _ = window.with_webview(move |webview| {
        let view = webview.inner();
        if let Some(context) = view.context()
            && !browser_cache
            && context.cache_model() != CacheModel::DocumentViewer
        {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
        if let Some(settings) = WebViewExt::settings(&view)
            && !compositing
            && settings.hardware_acceleration_policy() != HardwareAccelerationPolicy::Never
        {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    });
}

#[cfg(not(target_os = "linux"))]
pub fn end_web_process<R: Runtime>(_window: &WebviewWindow<R>) -> tauri::Result<()> {
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn on_process_ended<R: Runtime>(_window: &WebviewWindow<R>, _ended: impl Fn() + Send + 'static) {}

#[cfg(not(target_os = "linux"))]
fn reload<R: Runtime>(_window: &WebviewWindow<R>) -> tauri::Result<()> {
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn for_kage_page<R: Runtime>(_window: &WebviewWindow<R>) {}
