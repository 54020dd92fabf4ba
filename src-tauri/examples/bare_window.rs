//! The measurement baseline of docs/benchmarks.md: the same Tauri build and configuration as Kage (same crate,
//! features, context and assets), opening `BARE_WINDOWS` windows (default 1) that show a static page and run no
//! Kage code, no plugins and no server.

use tauri::{WebviewUrl, WebviewWindowBuilder};

fn main() {
    let windows: usize = std::env::var("BARE_WINDOWS").ok().and_then(|n| n.parse().ok()).unwrap_or(1);
    tauri::Builder::default()
        .setup(move |app| {
            for n in 1..=windows {
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
