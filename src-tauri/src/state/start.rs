//! Starting the shell's state: where the game server is (the sandbox in-process, or a configured one), the
//! keychain, the files of saved accounts and preferences, and what the player must be told about this start.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kage_core::events::LiveConfig;
use kage_core::vault::{CredentialStore, KeychainStore, SiteSignInStore};
use kage_core::{Core, CoreConfig, ServerOrigin};
use kage_server::RunningServer;

use super::{AppState, KeychainNote, Server};
use crate::durable;
use crate::file_choice::ChooseFile;
use crate::prefs::PrefsFile;
use crate::roster::Roster;
use crate::settings;

/// The sandbox keeps its port across runs, so saved sandbox accounts (whose keys include the address) reopen.
const SANDBOX_PORT_FILE: &str = "port";
/// A fresh install's sandbox port: below Linux's ephemeral range (32768-60999), which the kernel hands to any
/// program binding port 0, so while Kage is not running (after a crash, say) another program's listener is less
/// likely to take it; a taken port moves the sandbox, and its saved accounts then need a new sign-in.
/// (Installs that already have a port keep it.)
const DEFAULT_SANDBOX_PORT: u16 = 28787;

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
    Some(Arc::new(crate::file_choice::FixedFile::new(path)))
}

/// The OS keychain, always: one that is not up yet (a login race, a crashed daemon) is retried on every use and
/// shown as keychain trouble, never swapped for a store that forgets (I9, I11). The note says how it looks now.
async fn open_keychain() -> (Arc<KeychainStore>, KeychainNote) {
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

/// Before any window exists: deletes the web partitions no saved account names (forgotten or signed out by a
/// run that stopped before its wipe, I13). Not when the roster could not be read: then every partition would
/// look forgotten, and the player may still get the roster back from the copy kept aside.
fn sweep_partitions(web: &crate::web::WebState, roster: &Roster) {
    if roster.notice().is_some() {
        log::warn!("the saved accounts could not be read; web partitions are kept until they can");
        return;
    }
    let deleted = web.partitions.sweep(&roster.partitions());
    if !deleted.is_empty() {
        log::info!("deleted {} web partition(s) no saved account names", deleted.len());
    }
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
        // Web games' saved sign-ins live in the same keychain as the accounts' credentials (filed apart); a test
        // that gives its own vault gets sign-ins kept in memory beside it.
        let (vault, sign_ins, keychain): (Arc<dyn CredentialStore>, Arc<dyn SiteSignInStore>, _) = match options.vault {
            Some(vault) => {
                (vault, Arc::new(kage_core::vault::MemoryStore::new()), KeychainNote { available: true, message: None })
            }
            None => {
                let (store, note) = open_keychain().await;
                (store.clone(), store, note)
            }
        };
        let mut config = CoreConfig::new(options.data_dir.join("cache"));
        config.live = options.live;
        let core = Core::new(config, vault);
        let roster = Roster::open(&options.data_dir);
        let web = crate::web::WebState::new(crate::web::Partitions::new(&options.data_dir));
        sweep_partitions(&web, &roster);
        let prefs = PrefsFile::open(&options.data_dir);
        let notices: Vec<&str> =
            options.notices.iter().map(String::as_str).chain(roster.notice()).chain(prefs.notice()).collect();
        let startup_notice = (!notices.is_empty()).then(|| notices.join(" "));
        Ok(Self {
            core,
            origin,
            server,
            keychain,
            sign_ins,
            roster,
            web,
            prefs,
            startup_notice,
            browser: options.browser,
            files: options.files,
            display_watchers: Mutex::default(),
            auth: Mutex::default(),
            running: Mutex::default(),
        })
    }
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
