//! What the shell holds: the core, which server it talks to (the embedded sandbox or a configured one),
//! whether the system keychain is there, and the saved accounts.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kage_core::core::AccountProfile;
use kage_core::events::LiveConfig;
use kage_core::vault::{CredentialStore, KeychainStore};
use kage_core::{AccountKey, Core, CoreConfig, ProxyUrl, Reach, ServerOrigin, WindowLabel};
use kage_server::RunningServer;
use serde::Serialize;

use crate::display::Presenter;
use crate::durable;
use crate::error::{CommandError, ErrorCode};
use crate::moving::ChooseFile;
use crate::prefs::PrefsFile;
use crate::roster::{Roster, RosterEntry};
use crate::settings;

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
    /// Saved accounts and window layout; the lock every change to them goes through.
    pub roster: Roster,
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

/// The sandbox keeps its port across runs, so saved sandbox accounts (whose keys include the address) reopen.
const SANDBOX_PORT_FILE: &str = "port";
const DEFAULT_SANDBOX_PORT: u16 = 48787;
/// How long the sign-in screen waits for the server to say how it takes sign-ins (see `auth_config`).
const AUTH_CONFIG_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("KAGE_SERVER_URL: {0}")]
    Origin(#[from] kage_core::OriginError),
    #[error("cannot start the built-in sandbox server: {0}")]
    Sandbox(#[from] kage_server::StartError),
}

/// Shows the player a web page: the identity provider's sign-in page. The app uses the system browser
/// (tauri-plugin-opener); tests put a scripted browser here that signs in on the real provider's pages.
pub trait OpenBrowser: Send + Sync {
    fn open(&self, url: &str) -> Result<(), String>;
}

pub struct StartOptions {
    pub data_dir: PathBuf,
    /// `None`: run the sandbox.
    pub server_url: Option<String>,
    pub vault: Option<Arc<dyn CredentialStore>>,
    /// `None`: the system browser.
    pub browser: Option<Arc<dyn OpenBrowser>>,
    /// `None`: the system's file dialog.
    pub files: Option<Arc<dyn ChooseFile>>,
    pub live: LiveConfig,
    /// Sentences for the player found while gathering these options (a settings file that could not be read).
    pub notices: Vec<String>,
}

impl StartOptions {
    /// From the environment: `KAGE_SERVER_URL` (a real server), `KAGE_REFETCH_INTERVAL_MS` (tests); else the
    /// player's `settings.json`.
    pub fn from_env(data_dir: PathBuf) -> Self {
        let mut notices = Vec::new();
        let server_url = match std::env::var("KAGE_SERVER_URL").ok().filter(|v| !v.trim().is_empty()) {
            Some(url) => Some(url),
            None => settings::configured_server(&data_dir).unwrap_or_else(|notice| {
                log::warn!("{notice}");
                notices.push(notice);
                None
            }),
        };
        let mut live = LiveConfig::default();
        if let Some(ms) = std::env::var("KAGE_REFETCH_INTERVAL_MS").ok().and_then(|v| v.parse().ok()) {
            live.refetch_interval = Duration::from_millis(ms);
        }
        Self { data_dir, server_url, vault: None, browser: None, files: test_file_choice(), live, notices }
    }
}

/// Debug builds started with `KAGE_E2E_FILE` export to and import from that file without the dialog: the
/// end-to-end tests drive the real app and cannot click through a GTK file dialog. Release builds never read it.
fn test_file_choice() -> Option<Arc<dyn ChooseFile>> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let path = std::env::var_os("KAGE_E2E_FILE").filter(|path| !path.is_empty())?;
    Some(Arc::new(crate::moving::FixedFile::new(path)))
}

impl AppState {
    pub async fn start(options: StartOptions) -> Result<Self, StartError> {
        // Saved accounts, the sandbox's database and the caches live here: this user's eyes only.
        if let Err(error) = durable::private_dir(&options.data_dir) {
            log::warn!("could not make {} private: {error}", options.data_dir.display());
        }
        let (origin, server) = match &options.server_url {
            Some(url) => (ServerOrigin::parse(url)?, Server::Remote),
            None => {
                let server = start_sandbox(&options.data_dir.join("sandbox")).await?;
                (ServerOrigin::parse(&server.base_url())?, Server::Sandbox(Mutex::new(Some(server))))
            }
        };
        let (vault, keychain) = match options.vault {
            Some(vault) => (vault, KeychainNote { available: true, message: None }),
            None => open_keychain().await,
        };
        let mut config = CoreConfig::new(options.data_dir.join("cache"));
        config.live = options.live;
        let core = Core::new(config, vault);
        let roster = Roster::open(&options.data_dir);
        let prefs = PrefsFile::open(&options.data_dir);
        let notices: Vec<&str> =
            options.notices.iter().map(String::as_str).chain(roster.notice()).chain(prefs.notice()).collect();
        let startup_notice = (!notices.is_empty()).then(|| notices.join(" "));
        Ok(Self {
            core,
            origin,
            server,
            keychain,
            roster,
            prefs,
            startup_notice,
            browser: options.browser,
            files: options.files,
            display_watchers: Mutex::default(),
            auth: Mutex::default(),
            running: Mutex::default(),
        })
    }

    /// How accounts are named on screen right now (streamer mode or not).
    pub fn presenter(&self) -> Presenter {
        let prefs = self.prefs.get();
        Presenter::new(prefs.streamer_mode, prefs.hide_balances, self.roster.list())
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

    /// Routes `account`'s requests through `proxy` (or directly for `None`), from its next request on.
    pub fn apply_proxy(&self, account: &AccountKey, proxy: Option<&str>) -> Result<(), CommandError> {
        let proxy = proxy.map(ProxyUrl::parse).transpose()?;
        Ok(self.core.set_proxy(account, proxy)?)
    }

    /// The proxy saved for the account `username` has on this server, for signing in to it again.
    pub fn saved_proxy(&self, username: &str) -> Option<ProxyUrl> {
        let entry = self.roster.list().into_iter().find(|e| {
            e.origin == self.origin.as_str() && e.username.eq_ignore_ascii_case(username) && e.proxy.is_some()
        })?;
        ProxyUrl::parse(entry.proxy.as_deref()?).ok()
    }

    /// Tells `label`'s page when names on screen change.
    pub fn watch_display(&self, label: &str, channel: tauri::ipc::Channel<bool>) {
        self.display_watchers.lock().unwrap_or_else(PoisonError::into_inner).insert(label.to_owned(), channel);
    }

    /// Every page repaints (streamer mode or an alias changed); windows that are gone are forgotten.
    pub fn display_changed(&self) {
        self.display_watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|_, channel| channel.send(true).is_ok());
    }

    /// How the server lets players sign in, asked once per run (the sandbox: passwords only). A server that
    /// cannot be asked now is taken to offer passwords, and asked again next time.
    pub async fn auth_config(&self) -> kage_core::oidc::AuthConfig {
        let password_only = kage_core::oidc::AuthConfig { password: true, oidc: None };
        if self.is_sandbox() {
            return password_only;
        }
        if let Some(known) = self.auth.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            return known;
        }
        // Bounded well below the request timeout: the sign-in screen waits on this answer, and a server that is
        // down would otherwise hold it on a spinner.
        match tokio::time::timeout(AUTH_CONFIG_WAIT, self.core.auth_config(&self.origin)).await {
            Ok(Ok(config)) => {
                *self.auth.lock().unwrap_or_else(PoisonError::into_inner) = Some(config.clone());
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
            Server::Sandbox(running) => running.lock().unwrap_or_else(PoisonError::into_inner).take(),
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

    /// Runs `action` unless the same action is already running for this window. The window is free for that
    /// action again however this one ends: finished, panicked, or dropped half-way (the page went away, the
    /// command was cancelled). A key left behind would answer "busy" to that window for the rest of the run.
    pub async fn once<T>(
        &self,
        window: &WindowLabel,
        name: &'static str,
        action: impl std::future::Future<Output = Result<T, CommandError>>,
    ) -> Result<T, CommandError> {
        let _running = Running::claim(&self.running, (window.clone(), name)).ok_or_else(CommandError::busy)?;
        action.await
    }

    /// Tells the core about every saved account it may open, as restored (loading until first used), so the
    /// accounts list never calls a saved account "signed out" just because no window has opened it yet (I11).
    pub fn restore_saved(&self) {
        for entry in self.roster.list() {
            let Ok(account) = self.saved_account(&entry) else { continue };
            // Before anything is sent for the account: its requests go only the way the player set.
            if let Err(error) = self.apply_proxy(&account, entry.proxy.as_deref()) {
                log::warn!("a saved account's proxy is not used: {error}");
            }
            if entry.signed_out {
                self.core.sessions.mark_signed_out(&account);
            } else {
                self.core.sessions.restore(&account);
            }
        }
    }

    /// Finishes sign-outs an earlier run could not complete (keychain or server away then): deletes what the
    /// keychain still holds for those accounts and ends their sessions on the server (only on this computer for
    /// an account whose server Kage may not send its credential to now, see [`AppState::saved`]).
    pub async fn finish_sign_outs(&self) {
        for entry in self.roster.list().into_iter().filter(|entry| entry.signed_out) {
            let Ok(saved) = self.saved(&entry) else { continue };
            let finished = match saved.reach() {
                Reach::Server => self.core.sessions.sign_out(&saved.account).await.map(drop),
                Reach::ThisComputer => self.core.sessions.sign_out_here(&saved.account).await,
            };
            if let Err(error) = finished {
                log::info!("a sign-out is still not finished in the keychain: {error}");
            }
        }
    }

    /// Puts back into the roster every account the keychain holds a credential for and the roster lacks: the
    /// roster file was lost or damaged, or the app died between saving the credential and saving the roster
    /// (I10). Returns the accounts added. Each keychain entry names its server and user, so nothing is guessed.
    pub async fn rebuild_roster_from_keychain(&self) -> Result<Vec<RosterEntry>, kage_core::vault::VaultError> {
        let mut added = Vec::new();
        for saved in self.core.sessions.saved_in_keychain().await? {
            if self.roster.find(saved.account.id()).is_some() {
                continue;
            }
            let username = saved.username.as_deref().unwrap_or("Saved account");
            let entry = RosterEntry::new(&saved.account, username);
            if let Err(error) = self.roster.save(entry.clone()) {
                log::warn!("could not put a saved account back into the roster: {error}");
                continue;
            }
            if self.saved_account(&entry).is_ok() {
                self.core.sessions.restore(&saved.account);
            }
            added.push(entry);
        }
        Ok(added)
    }

    /// The account a saved roster entry names, if Kage may open it on this run: its address must be valid and,
    /// for a plain-http server, be the one Kage is using now (see [`check_saved_origin`]).
    pub fn saved_account(&self, entry: &RosterEntry) -> Result<AccountKey, CommandError> {
        let saved = self.saved(entry)?;
        match saved.refused {
            Some(refused) => Err(refused),
            None => Ok(saved.account),
        }
    }

    /// The account a saved roster entry names, and whether Kage may send its credential to its server on this
    /// run. Every path that reads or sends a saved account's credential asks here: opening it (through
    /// [`AppState::saved_account`]), signing it out and forgetting it (which, for a refused server, reach this
    /// computer only), exporting it, finishing an earlier sign-out. The one place [`check_saved_origin`] is asked.
    pub fn saved(&self, entry: &RosterEntry) -> Result<Saved, CommandError> {
        let account = entry
            .account()
            .ok_or_else(|| CommandError::invalid("That saved account's server address is not valid."))?;
        let refused = check_saved_origin(account.origin(), &self.origin, self.is_sandbox()).err();
        Ok(Saved { account, refused })
    }
}

/// A saved account as [`AppState::saved`] found it.
pub struct Saved {
    pub account: AccountKey,
    /// Why Kage will not send this account's credential to its server on this run, if it will not.
    pub refused: Option<CommandError>,
}

impl Saved {
    /// How far a sign-out of this account may reach: its server, or this computer only.
    pub fn reach(&self) -> Reach {
        if self.refused.is_none() { Reach::Server } else { Reach::ThisComputer }
    }
}

/// A claimed `(window, action)` in [`AppState::once`]'s set; dropping it (also while unwinding from a panic, or
/// when the future holding it is dropped) gives the claim back.
struct Running<'a> {
    set: &'a Mutex<HashSet<RunningKey>>,
    key: RunningKey,
}

impl<'a> Running<'a> {
    fn claim(set: &'a Mutex<HashSet<RunningKey>>, key: RunningKey) -> Option<Self> {
        let claimed = set.lock().unwrap_or_else(PoisonError::into_inner).insert(key.clone());
        claimed.then_some(Self { set, key })
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        // Never panic here: this runs during unwinding too, where a second panic aborts the app.
        self.set.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.key);
    }
}

/// Whether a saved account's refresh credential may be sent to its own server on this run.
///
/// Plain http is allowed only to loopback, for the built-in sandbox, and nothing on plain http proves who is
/// listening. The sandbox keeps its port across runs, but when another program holds that port it starts on a
/// new one; its saved accounts still name the old address, so opening one would hand its refresh token to that
/// program. So a plain-http account is opened only when its origin is exactly the server Kage itself runs (or
/// was configured with) now. HTTPS servers identify themselves with a certificate and are unaffected.
pub fn check_saved_origin(saved: &ServerOrigin, current: &ServerOrigin, sandbox: bool) -> Result<(), CommandError> {
    // `ServerOrigin::parse` admits `http://` for loopback hosts only.
    if saved == current || !saved.as_str().starts_with("http://") {
        return Ok(());
    }
    let message = if sandbox {
        "This account belongs to the built-in sandbox, which had to move to another port; sign in to it again."
            .to_owned()
    } else {
        format!(
            "This account belongs to a server on this computer ({saved}) that Kage is not set to use now; Kage will \
             not send its credential there."
        )
    };
    Err(CommandError::new(ErrorCode::ServerMoved, message))
}

/// The OS keychain, always: one that is not up yet (a login race, a crashed daemon) is retried on every use and
/// shown as keychain trouble, never swapped for a store that forgets (I9, I11). The note says how it looks now.
async fn open_keychain() -> (Arc<dyn CredentialStore>, KeychainNote) {
    let store = Arc::new(KeychainStore::new("kage").expect("a non-empty service name"));
    let probing = store.clone();
    let probe = tokio::time::timeout(Duration::from_secs(3), tokio::task::spawn_blocking(move || probing.probe()));
    let probed = match probe.await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(kage_core::vault::VaultError::Backend(join.to_string())),
        Err(_) => Err(kage_core::vault::VaultError::TimedOut(3)),
    };
    let note = match probed {
        Ok(()) => KeychainNote { available: true, message: None },
        Err(error) => {
            log::warn!("system keychain not reachable yet: {error}; Kage keeps trying");
            KeychainNote { available: false, message: Some(error.user_message().to_owned()) }
        }
    };
    (store, note)
}

async fn start_sandbox(dir: &Path) -> Result<RunningServer, kage_server::StartError> {
    if let Err(error) = durable::private_dir(dir) {
        log::warn!("could not make {} private: {error}", dir.display());
    }
    let saved_port = std::fs::read_to_string(dir.join(SANDBOX_PORT_FILE)).ok().and_then(|p| p.trim().parse().ok());
    let mut config = kage_server::Config::new(dir);
    config.demo = true;
    config.listen = ([127, 0, 0, 1], saved_port.unwrap_or(DEFAULT_SANDBOX_PORT)).into();
    let server = match kage_server::start(config.clone()).await {
        Ok(server) => server,
        Err(kage_server::StartError::Listen { .. }) => {
            log::warn!(
                "sandbox port {} is taken; using another (saved sandbox accounts will need a new sign-in)",
                config.listen.port()
            );
            config.listen.set_port(0);
            kage_server::start(config).await?
        }
        Err(error) => return Err(error),
    };
    if let Err(error) = durable::write_atomic(&dir.join(SANDBOX_PORT_FILE), server.addr.port().to_string().as_bytes()) {
        log::warn!("could not remember the sandbox port: {error}");
    }
    Ok(server)
}

#[cfg(test)]
impl AppState {
    /// A state talking to a configured server that is never contacted, with an in-memory keychain: enough for
    /// the shell's own logic.
    pub(crate) async fn for_tests(dir: &Path) -> Self {
        let options = StartOptions {
            data_dir: dir.to_path_buf(),
            server_url: Some("https://game.example".into()),
            vault: Some(Arc::new(kage_core::vault::MemoryStore::default())),
            browser: None,
            files: None,
            live: LiveConfig::default(),
            notices: Vec::new(),
        };
        AppState::start(options).await.expect("state")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn remote_state(dir: &Path) -> Arc<AppState> {
        Arc::new(AppState::for_tests(dir).await)
    }

    async fn done() -> Result<&'static str, CommandError> {
        Ok("done")
    }

    #[tokio::test]
    async fn a_cancelled_action_frees_its_window_for_the_next_try() {
        let dir = tempfile::tempdir().unwrap();
        let state = remote_state(dir.path()).await;
        let label = WindowLabel::new("acct-1");

        let mut stuck = Box::pin(state.once(&label, "train", std::future::pending::<Result<&str, CommandError>>()));
        let waited = tokio::time::timeout(Duration::from_millis(20), &mut stuck).await;
        assert!(waited.is_err(), "the action never finishes");
        assert_eq!(state.once(&label, "train", done()).await, Err(CommandError::busy()), "still running: busy");
        assert_eq!(state.once(&label, "travel", done()).await, Ok("done"), "another action is not held up");

        drop(stuck);
        assert_eq!(state.once(&label, "train", done()).await, Ok("done"), "cancelled: the window is free again");
    }

    #[tokio::test]
    async fn a_panicking_action_frees_its_window_for_the_next_try() {
        let dir = tempfile::tempdir().unwrap();
        let state = remote_state(dir.path()).await;
        let label = WindowLabel::new("acct-1");

        let task = tokio::spawn({
            let (state, label) = (state.clone(), label.clone());
            async move {
                state
                    .once(&label, "transfer", async {
                        panic!("the action blew up");
                        #[allow(unreachable_code)]
                        Ok(())
                    })
                    .await
            }
        });
        assert!(task.await.unwrap_err().is_panic());
        assert_eq!(state.once(&label, "transfer", done()).await, Ok("done"));
    }

    #[test]
    fn a_plain_http_account_is_opened_only_on_the_server_kage_runs_now() {
        let origin = |url: &str| ServerOrigin::parse(url).unwrap();
        let sandbox_now = origin("http://127.0.0.1:50123");

        // The sandbox kept its port: its accounts open.
        assert_eq!(check_saved_origin(&sandbox_now, &sandbox_now, true), Ok(()));
        // The sandbox moved: its old accounts would send their token to whatever holds the old port.
        for old in ["http://127.0.0.1:48787", "http://localhost:50123", "http://[::1]:48787"] {
            let refused = check_saved_origin(&origin(old), &sandbox_now, true).unwrap_err();
            assert_eq!(refused.code, "server_moved", "{old}");
            assert!(refused.message.contains("sandbox, which had to move to another port"), "{refused}");
        }
        // HTTPS servers prove who they are: unaffected, with the sandbox running or a configured server.
        assert_eq!(check_saved_origin(&origin("https://game.example"), &sandbox_now, true), Ok(()));
        let configured = origin("https://game.example");
        assert_eq!(check_saved_origin(&origin("https://other.example"), &configured, false), Ok(()));
        assert_eq!(check_saved_origin(&configured, &configured, false), Ok(()));
        // A configured loopback server (a developer's own) is used as configured; a loopback address Kage is not
        // using now is refused: nothing says who listens there.
        let local = origin("http://127.0.0.1:8787");
        assert_eq!(check_saved_origin(&local, &local, false), Ok(()));
        let refused = check_saved_origin(&origin("http://127.0.0.1:48787"), &configured, false).unwrap_err();
        assert_eq!(refused.code, "server_moved");
    }
}
