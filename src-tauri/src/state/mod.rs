//! What the shell holds: the core, which server it talks to (the embedded sandbox or a configured one),
//! whether the system keychain is there, and the saved accounts.

mod once;
mod saved;
mod start;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kage_core::core::AccountProfile;
use kage_core::{Core, ServerOrigin, WindowLabel};
use kage_server::RunningServer;
use serde::Serialize;

use crate::display::Presenter;
use crate::file_choice::ChooseFile;
use crate::prefs::PrefsFile;
use crate::roster::Roster;
use kage_core::locks::Recover;
pub use saved::{Saved, check_saved_origin};
pub use start::{OpenBrowser, StartError, StartOptions};

/// Where Kage's game server is, and whether it is ours.
pub enum Server {
    /// The reference server, run in-process on loopback with the demo players (`None` once stopped at exit).
    Sandbox(Mutex<Option<RunningServer>>),
    Remote,
}

/// Whether the system keychain answered at start, and if not, what to tell the player.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct KeychainNote {
    pub available: bool,
    pub message: Option<String>,
}

pub struct AppState {
    pub core: Core,
    pub origin: ServerOrigin,
    pub server: Server,
    pub keychain: KeychainNote,
    /// Web games' sign-ins the player saved (issue 19 item 7), in the OS keychain; see `web::sign_in`.
    pub sign_ins: Arc<dyn kage_core::vault::SiteSignInStore>,
    /// Saved accounts and window layout; the lock every change to them goes through.
    pub roster: Roster,
    /// Web games' windows and partitions (I13).
    pub web: crate::web::WebState,
    /// Streamer mode, pacing of "Open all", global shortcuts.
    pub prefs: PrefsFile,
    /// What the player must know about this start (a damaged file kept aside, settings not read), or `None`.
    pub startup_notice: Option<String>,
    /// Where the provider's sign-in page is shown (`None`: the system browser).
    pub browser: Option<Arc<dyn OpenBrowser>>,
    /// Who picks export and import files (`None`: the player, in the system's file dialog).
    pub files: Option<Arc<dyn ChooseFile>>,
    /// Each window's channel for "names on screen changed" (streamer mode, an alias): every page repaints.
    display_watchers: Mutex<std::collections::HashMap<String, tauri::ipc::Channel<bool>>>,
    /// How the server lets players sign in (password, browser), once it has said so.
    auth: Mutex<Option<kage_core::oidc::AuthConfig>>,
    /// Actions running per window, so a double click sends once.
    running: Mutex<HashSet<RunningKey>>,
}

type RunningKey = (WindowLabel, &'static str);

/// How long the sign-in screen waits for the server to say how it takes sign-ins (see `auth_config`).
const AUTH_CONFIG_WAIT: Duration = Duration::from_secs(3);

impl AppState {
    /// How accounts are named on screen right now (streamer mode or not).
    pub fn presenter(&self) -> Presenter {
        let prefs = self.prefs.get();
        Presenter::new(prefs.streamer_mode, prefs.hide_balances, self.roster.list())
            .with_web(self.roster.web_accounts(), self.roster.games())
    }

    /// A profile answer as the page may show it (see [`Presenter::profile`]).
    pub fn present(&self, answer: AccountProfile) -> AccountProfile {
        let presenter = self.presenter();
        answer.map_profile(|account, profile| presenter.profile(account, profile))
    }

    /// In streamer mode, the username of the saved account whose alias is `name`.
    pub fn alias_to_username(&self, name: &str) -> Option<String> {
        if !self.prefs.streamer_mode() {
            return None;
        }
        let entries = self.roster.list();
        let entry = entries.iter().find(|e| e.alias.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(name)))?;
        Some(entry.username.clone())
    }

    /// Tells `label`'s page when names on screen change.
    pub fn watch_display(&self, label: &str, channel: tauri::ipc::Channel<bool>) {
        self.display_watchers.lock().recover().insert(label.to_owned(), channel);
    }

    /// Every page repaints (streamer mode or an alias changed); windows that are gone are forgotten.
    pub fn display_changed(&self) {
        self.display_watchers.lock().recover().retain(|_, channel| channel.send(true).is_ok());
    }

    /// How the server lets players sign in, asked once per run (the sandbox: passwords only). A server that
    /// cannot be asked now is taken to offer passwords, and asked again next time.
    pub async fn auth_config(&self) -> kage_core::oidc::AuthConfig {
        let password_only = kage_core::oidc::AuthConfig { password: true, oidc: None };
        if self.is_sandbox() {
            return password_only;
        }
        if let Some(known) = self.auth.lock().recover().clone() {
            return known;
        }
        // Bounded well below the request timeout: the sign-in screen waits on this answer, and a server that is
        // down would otherwise hold it on a spinner.
        match tokio::time::timeout(AUTH_CONFIG_WAIT, self.core.auth_config(&self.origin)).await {
            Ok(Ok(config)) => {
                *self.auth.lock().recover() = Some(config.clone());
                config
            }
            Ok(Err(error)) => {
                log::info!("could not ask the server how to sign in: {error}");
                password_only
            }
            Err(_) => {
                log::info!("the server did not say how to sign in within {} s", AUTH_CONFIG_WAIT.as_secs());
                password_only
            }
        }
    }

    pub fn is_sandbox(&self) -> bool {
        matches!(self.server, Server::Sandbox(_))
    }

    /// The app is quitting: background work stops, and the sandbox server finishes what it is answering and
    /// lets go of its port (the saved sandbox accounts' address, needed again on the next start).
    pub async fn shutdown(&self) {
        self.core.shutdown();
        let running = match &self.server {
            Server::Sandbox(running) => running.lock().recover().take(),
            Server::Remote => None,
        };
        if let Some(server) = running {
            match tokio::time::timeout(Duration::from_secs(3), server.shutdown()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => log::warn!("the sandbox server did not stop cleanly: {error}"),
                Err(_) => log::warn!("the sandbox server took more than 3 s to stop; leaving it"),
            }
        }
    }
}
