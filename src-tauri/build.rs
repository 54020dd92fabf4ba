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
        "create_shortcut",
        "update_account",
        "prefs",
        "set_prefs",
        "export_accounts",
        "import_accounts",
    ];
    let manifest = tauri_build::AppManifest::new().commands(commands);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)).expect("tauri build script");
}
