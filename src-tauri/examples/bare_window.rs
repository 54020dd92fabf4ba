//! The measurement baseline of docs/benchmarks.md: the same Tauri build and configuration as Kage (same crate,
//! features, context and assets), opening `BARE_WINDOWS` windows (default 1) that show a static page and run no
//! Kage code, no plugins and no server. With `BARE_RELATED=1` (Linux) every window after the first is a related
//! view of the first (Tauri's `with_related_view`): one web process for all, to measure what sharing saves.

use tauri::{WebviewUrl, WebviewWindowBuilder};

fn main() {
    let windows: usize = std::env::var("BARE_WINDOWS").ok().and_then(|n| n.parse().ok()).unwrap_or(1);
    let related = std::env::var("BARE_RELATED").is_ok_and(|v| v == "1");
    tauri::Builder::default()
        .setup(move |app| {
            let first = WebviewWindowBuilder::new(app, "bare-1", WebviewUrl::App("bare.html".into()))
                .title("Kage bare window")
                .inner_size(460.0, 720.0)
                .build()?;
            if related {
                open_related(app.handle(), &first, windows);
                return Ok(());
            }
            for n in 2..=windows {
                WebviewWindowBuilder::new(app, format!("bare-{n}"), WebviewUrl::App("bare.html".into()))
                    .title("Kage bare window")
                    .inner_size(460.0, 720.0)
                    .build()?;
            }
            Ok(())
        })
        .run(kage_app::context())
        .expect("bare window");
}

#[cfg(target_os = "linux")]
fn open_related(app: &tauri::AppHandle, first: &tauri::WebviewWindow, windows: usize) {
    let app = app.clone();
    let _ = first.with_webview(move |webview| {
        let view = webview.inner();
        for n in 2..=windows {
            let _ = WebviewWindowBuilder::new(&app, format!("bare-{n}"), WebviewUrl::App("bare.html".into()))
                .title("Kage bare window")
                .inner_size(460.0, 720.0)
                .with_related_view(view.clone())
                .build();
        }
    });
}

#[cfg(not(target_os = "linux"))]
fn open_related(_app: &tauri::AppHandle, _first: &tauri::WebviewWindow, _windows: usize) {}
