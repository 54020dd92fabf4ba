fn main() {
    // Command permissions: each command gets an `allow-<name>` permission that capabilities must grant.
    let commands = &[
        "server_info",
        "window_state",
        "subscribe",
        "watch_display",
        "refresh_profile",
        "sign_in",
        "sign_in_browser",
        "cancel_browser_sign_in",
        "open_saved",
        "sign_out",
        "forget_account",
        "sign_out_account",
        "saved_accounts",
        "account_sessions",
        "end_account_session",
        "end_other_sessions",
        "train",
        "travel",
        "check_transfer",
        "transfer",
        "open_window",
        "open_accounts",
        "focus_account",
        "cycle_windows",
        "tile_windows",
        "update_account",
        "prefs",
        "set_prefs",
        "export_accounts",
        "import_accounts",
        "web_games",
        "add_web_game",
        "set_web_game_origins",
        "remove_web_game",
        "add_web_account",
        "rename_web_account",
        "open_web_account",
        "sign_out_web_account",
        "forget_web_account",
    ];
    // The end-to-end tests' hook (src/web/e2e_hook.rs) is compiled into debug builds only, and so is its
    // permission: a release build's ACL does not know the command.
    let test_hook: &[&str] = if std::env::var("PROFILE").as_deref() == Ok("debug") { &["e2e_web_eval"] } else { &[] };
    // `commands` wants a 'static list; a build script ends right after, so leaking it costs nothing.
    let commands: &'static [&'static str] = commands.iter().chain(test_hook).copied().collect::<Vec<_>>().leak();
    let manifest = tauri_build::AppManifest::new().commands(commands);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)).expect("tauri build script");
}
