//! The commands a page may call, grouped by domain. Each takes the calling `WebviewWindow`, whose label is the
//! only identity a call carries: it names the window, the window's pin names the account. No command takes an
//! account to act for, and none returns a token. (`open_saved`, `forget_account` and `open_window` take the id
//! of a saved account the player picked from the list; `accounts.rs` says why that is not an identity.)

use kage_core::model::AccountProfile;

pub use crate::window_state::{SavedAccount, WindowState};
pub(crate) use crate::window_state::{saved_list, window_state_of};

pub mod accounts;
pub mod actions;
pub mod launching;
pub mod moving;
pub mod overview;
pub mod profile;
pub mod sessions;
pub mod settings;
pub mod web;
pub mod web_settings;
pub mod web_sign_in;
pub mod windows;

// The app's commands, once: the handler serves these, and the page's contract (`crate::contract`) declares
// each one's arguments and answer, as the compiler has checked them against the functions.
crate::contract::commands! {
    accounts::server_info() -> accounts::ServerInfo;
    accounts::sign_in<R>(accounts::SignInArgs) -> WindowState;
    accounts::sign_in_browser<R>(accounts::SignInBrowserArgs) -> WindowState;
    accounts::cancel_browser_sign_in<R>() -> bool;
    accounts::open_saved<R>(accounts::SavedAccountArgs) -> WindowState;
    accounts::sign_out<R>() -> WindowState;
    accounts::forget_account(accounts::SavedAccountArgs) -> Vec<SavedAccount>;
    accounts::sign_out_account(accounts::SavedAccountArgs) -> Vec<SavedAccount>;
    accounts::saved_accounts() -> Vec<SavedAccount>;
    sessions::account_sessions(accounts::SavedAccountArgs) -> Vec<kage_core::server_sessions::AccountSession>;
    sessions::end_account_session(sessions::EndSessionArgs) -> Vec<kage_core::server_sessions::AccountSession>;
    sessions::end_other_sessions(accounts::SavedAccountArgs) -> Vec<kage_core::server_sessions::AccountSession>;
    profile::window_state<R>() -> WindowState;
    profile::subscribe<R>(profile::SubscribeArgs) -> ();
    profile::watch_display<R>(profile::WatchDisplayArgs) -> ();
    profile::refresh_profile<R>() -> AccountProfile;
    actions::train<R>(actions::TrainArgs) -> AccountProfile;
    actions::travel<R>(actions::TravelArgs) -> AccountProfile;
    actions::check_transfer(actions::TransferArgs) -> ();
    actions::transfer<R>(actions::TransferArgs) -> AccountProfile;
    windows::open_window<R>(windows::OpenWindowArgs) -> String;
    windows::open_accounts<R>(windows::OpenAccountsArgs) -> usize;
    windows::focus_account<R>(windows::FocusAccountArgs) -> ();
    windows::cycle_windows<R>(windows::CycleWindowsArgs) -> ();
    windows::tile_windows<R>() -> usize;
    launching::create_shortcut<R>(launching::CreateShortcutArgs) -> launching::ShortcutMade;
    launching::group_templates() -> Vec<launching::GroupTemplate>;
    launching::set_group_template(launching::SetGroupTemplateArgs) -> Vec<launching::GroupTemplate>;
    settings::update_account<R>(settings::UpdateAccountArgs) -> Vec<SavedAccount>;
    settings::prefs() -> crate::prefs::Prefs;
    settings::set_prefs<R>(settings::SetPrefsArgs) -> settings::PrefsApplied;
    moving::export_accounts<R>(moving::ExportArgs) -> crate::moving::Exported;
    moving::import_accounts<R>(moving::ImportArgs) -> crate::moving::Imported;
    web::web_games() -> Vec<web::WebGameView>;
    web::add_web_game(web::AddWebGameArgs) -> Vec<web::WebGameView>;
    web::set_web_game_origins(web::WebGameOriginsArgs) -> Vec<web::WebGameView>;
    web::remove_web_game(web::WebGameArgs) -> Vec<web::WebGameView>;
    web::add_web_account<R>(web::AddWebAccountArgs) -> Vec<web::WebGameView>;
    web::rename_web_account<R>(web::RenameWebAccountArgs) -> Vec<web::WebGameView>;
    web::set_web_account_proxy<R>(web::WebAccountProxyArgs) -> Vec<web::WebGameView>;
    web::open_web_account<R>(web::OpenWebAccountArgs) -> Vec<web::WebGameView>;
    web::sign_out_web_account<R>(web::WebAccountArgs) -> Vec<web::WebGameView>;
    web::forget_web_account<R>(web::WebAccountArgs) -> Vec<web::WebGameView>;
    web_sign_in::web_sign_in<R>(web_sign_in::WebSignInArgs) -> web_sign_in::WebSignInView;
    web_sign_in::save_web_sign_in<R>(web_sign_in::SaveWebSignInArgs) -> web_sign_in::WebSignInView;
    web_sign_in::remove_web_sign_in<R>(web_sign_in::WebSignInArgs) -> web_sign_in::WebSignInView;
    web_sign_in::fill_web_sign_in<R>(web_sign_in::WebSignInArgs) -> String;
    web_settings::set_web_account_settings<R>(web_settings::WebAccountSettingsArgs) -> Vec<web::WebGameView>;
    overview::open_overview<R>() -> ();
    overview::overview_tiles<R>(overview::OverviewTilesArgs) -> crate::overview::OverviewSnapshot;
    overview::overview_activate<R>(overview::OverviewActivateArgs) -> ();
    overview::overview_reorder<R>(overview::OverviewReorderArgs) -> ();
}
