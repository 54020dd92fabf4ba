//! kage-app: the desktop shell. Thin on purpose: it adapts Tauri windows to kage-core's window labels, turns
//! core errors into sentences, and keeps the roster and window layout (in crash-safe files, see `durable.rs`).
//! Everything about accounts, tokens and caches lives in kage-core; the page (ui/) only renders.

pub mod app_log;
pub mod cli;
pub mod commands;
pub mod contract;
pub mod desktop_entry;
pub mod display;
pub mod durable;
pub mod error;
pub mod file_choice;
pub mod group_launch;
pub mod hibernation;
pub mod labels;
pub mod launcher;
pub mod moving;
pub mod notify;
pub mod overview;
pub mod page_types;
pub mod placement;
pub mod prefs;
pub mod proxy;
pub mod roster;
pub mod settings;
pub mod shortcuts;
pub mod sink;
pub mod state;
pub mod statuses;
pub mod templates;
pub mod tray;
pub mod web;
pub mod window_state;
pub mod windows;

use tauri::{Manager, RunEvent, WindowEvent};

use crate::state::{AppState, StartOptions};

/// The app's configuration, assets and capabilities, compiled in. Tests run commands against this same ACL.
pub fn context<R: tauri::Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// A saved account's name, settings or the streamer mode changed: every title and the tray follow.
pub fn accounts_changed<R: tauri::Runtime>(app: &tauri::AppHandle<R>) {
    windows::retitle_all(app);
    tray::refresh(app);
    app.state::<AppState>().display_changed();
    overview::options_changed(app);
    overview::push(app, None);
}

/// The command line after the program's name; a word that is not valid Unicode is read with stand-ins for its
/// bad bytes (it then names no saved account) rather than stopping Kage.
fn arguments() -> Vec<String> {
    std::env::args_os().skip(1).map(|arg| arg.to_string_lossy().into_owned()).collect()
}

/// The page's commands, and in a debug build the end-to-end tests' hook (`web::e2e_hook`), which is no part of
/// the page's contract and is allowed to no window unless the tests switch it on.
#[cfg(debug_assertions)]
fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    let (page, hook) = (commands::handler(), web::e2e_hook::handler());
    move |invoke: tauri::ipc::Invoke<R>| {
        if invoke.message.command() == "e2e_web_eval" { hook(invoke) } else { page(invoke) }
    }
}

/// The page's commands (a release build has no test hook).
#[cfg(not(debug_assertions))]
fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    commands::handler()
}

pub fn run() {
    let context: tauri::Context<tauri::Wry> = context();
    // The command line first (`kage open alt`, `kage list`): answered here, or handed to a running Kage by the
    // single-instance plugin below, or kept for this start. See `cli`.
    let data_dir = dirs::data_dir().map(|dir| dir.join(&context.config().identifier));
    let asked = match cli::start::decide(arguments(), data_dir.as_deref()) {
        cli::start::Next::Exit(exit) => exit.finish(),
        cli::start::Next::Start(target) => target,
    };
    let builder = tauri::Builder::default()
        // First, so a second launch is handed over here before anything else starts (its arguments too).
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| cli::arrived::handle(app, argv)))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(app_log::plugin());
    // Only where Kage shows notifications through it (see `notify`): the plugin puts a `Notification` of its own,
    // which asks it over IPC, into every webview, and a web game's page (which has no IPC, I13) would then get
    // none. Where the freedesktop service shows them, the page keeps WebKit's own, which `web::notices` answers.
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    let builder = builder.plugin(tauri_plugin_notification::init());
    let app = builder
        .plugin(tauri_plugin_global_shortcut::Builder::new().build())
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_opener::init())
        .invoke_handler(handler())
        .setup(move |app| {
            let handle = app.handle().clone();
            let data_dir = handle.path().app_data_dir()?;
            let options = StartOptions::from_env(data_dir.clone());
            let state = tauri::async_runtime::block_on(AppState::start(options))?;
            log::info!(
                "Kage talking to {} ({})",
                state.origin,
                if state.is_sandbox() { "sandbox" } else { "configured" }
            );
            state.restore_saved();
            // Desktop notifications: one listener hears each account's events once, whatever its windows.
            state.core.events.listen(std::sync::Arc::new(notify::Notifier { app: handle.clone() }));
            // The overview's tallies hear every account too, whether or not the overview is open.
            state.core.events.listen(std::sync::Arc::new(overview::Listener { app: handle.clone() }));
            app.manage(overview::Overview::new(&data_dir));
            app.manage(state);
            // WKWebView's stores of forgotten web accounts (Linux and Windows sweep directories in `start`).
            #[cfg(target_os = "macos")]
            tauri::async_runtime::spawn(web::store::sweep(handle.clone()));
            #[cfg(debug_assertions)]
            web::e2e_hook::install(&handle)?;
            app.manage(launcher::Launcher::default());
            app.manage(hibernation::Hibernation::default());
            // Started as `kage open ...`: the last run's windows, then what was asked for.
            let then =
                match asked.as_ref().map(|target| cli::arrived::launches_for(&handle.state::<AppState>(), target)) {
                    Some(Ok(launches)) => launches,
                    Some(Err(sentence)) => {
                        log::warn!("{sentence}");
                        Vec::new()
                    }
                    None => Vec::new(),
                };
            launcher::restore_then(&handle, then)?;
            cli::arrived::follow_links(&handle);
            if asked == Some(cli::Target::Overview) {
                cli::arrived::open_overview(&handle);
            }
            tray::install(&handle);
            statuses::follow(&handle);
            overview::follow(&handle);
            hibernation::follow(&handle);
            // Kage works without its global shortcuts: one another program holds is reported, not fatal.
            if let Err(notice) = shortcuts::apply(&handle) {
                log::warn!("{notice}");
            }
            // Off the start-up path: a keychain that is slow to answer must not hold up the first window.
            let rebuild = handle.clone();
            tauri::async_runtime::spawn(async move {
                rebuild.state::<AppState>().finish_sign_outs().await;
                match rebuild.state::<AppState>().rebuild_roster_from_keychain().await {
                    Ok(added) if !added.is_empty() => {
                        log::info!("{} saved account(s) put back into the roster from the keychain", added.len());
                        accounts_changed(&rebuild);
                    }
                    Ok(_) => {}
                    Err(error) => log::warn!("could not check the keychain for saved accounts: {error}"),
                }
            });
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::Moved(_) | WindowEvent::Resized(_) = event {
                windows::note_place(window);
                overview::window::note_place(window);
            }
            if let WindowEvent::Focused(true) = event {
                overview::focused(window.app_handle(), window.label());
            }
            // However the window got the focus (a click on it, the desktop's taskbar), its page comes back.
            if let (WindowEvent::Focused(true), Some(window)) =
                (event, window.app_handle().get_webview_window(window.label()))
            {
                hibernation::wake(&window);
            }
            if let WindowEvent::CloseRequested { .. } = event {
                let app = window.app_handle();
                windows::save_places(app);
                overview::window::save_place(app);
                // Closing the last window quits: its place in the layout is kept for the next start. The overview
                // is no account window: it neither counts here nor keeps Kage open once the last one closes.
                let others: Vec<String> =
                    app.webview_windows().into_keys().filter(|label| label != window.label()).collect();
                let last = others.iter().all(|label| label == overview::LABEL);
                if !last && let Err(error) = app.state::<AppState>().roster.remove_from_layout(window.label()) {
                    log::warn!("closing {}: {error}", window.label());
                }
                if last
                    && window.label() != overview::LABEL
                    && let Some(overview) = app.get_webview_window(overview::LABEL)
                {
                    let _ = overview.close();
                }
            }
            if let WindowEvent::Destroyed = event {
                let state = window.app_handle().state::<AppState>();
                state.core.close(&kage_core::WindowLabel::new(window.label()));
                state.web.closed(window.label());
                overview::push(window.app_handle(), None);
            }
        })
        .build(context)
        .expect("Kage failed to start");
    app.run(|app, event| match event {
        // The last window closed (no code: not the tray's Quit); the layout it leaves is kept either way.
        RunEvent::ExitRequested { code: None, api, .. } if app.state::<AppState>().prefs.get().keep_in_tray => {
            log::info!("last window closed; Kage keeps running in the tray");
            api.prevent_exit();
        }
        RunEvent::Exit => {
            log::info!("Kage exiting");
            windows::save_places(app);
            overview::window::save_place(app);
            tauri::async_runtime::block_on(app.state::<AppState>().shutdown());
        }
        _ => {}
    });
}
