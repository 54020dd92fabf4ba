//! What the shell holds: the core, which server it talks to (the embedded sandbox or a configured one), and
//! whether the system keychain is there.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kage_core::events::LiveConfig;
use kage_core::vault::{CredentialStore, KeychainStore};
use kage_core::{Core, CoreConfig, ServerOrigin, WindowLabel};
use kage_server::RunningServer;
use serde::Serialize;

use crate::error::CommandError;

/// Where Kage's game server is, and whether it is ours.
pub enum Server {
    /// The reference server, run in-process on loopback with the demo players.
    Sandbox(RunningServer),
    Remote,
}

#[derive(Debug, Clone, Serialize)]
pub struct KeychainNote {
    pub available: bool,
    pub message: Option<String>,
}

pub struct AppState {
    pub core: Core,
    pub origin: ServerOrigin,
    pub server: Server,
    pub keychain: KeychainNote,
    /// Actions running per window, so a double click sends once.
    running: Mutex<HashSet<(WindowLabel, &'static str)>>,
}

/// The sandbox keeps its port across runs, so saved sandbox accounts (whose keys include the address) reopen.
const SANDBOX_PORT_FILE: &str = "port";
const DEFAULT_SANDBOX_PORT: u16 = 48787;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("KAGE_SERVER_URL: {0}")]
    Origin(#[from] kage_core::OriginError),
    #[error("cannot start the built-in sandbox server: {0}")]
    Sandbox(#[from] kage_server::StartError),
}

pub struct StartOptions {
    pub data_dir: PathBuf,
    /// `None`: run the sandbox.
    pub server_url: Option<String>,
    pub vault: Option<Arc<dyn CredentialStore>>,
    pub live: LiveConfig,
}

impl StartOptions {
    /// From the environment: `KAGE_SERVER_URL` (a real server), `KAGE_REFETCH_INTERVAL_MS` (tests).
    pub fn from_env(data_dir: PathBuf, configured_url: Option<String>) -> Self {
        let server_url = std::env::var("KAGE_SERVER_URL").ok().filter(|v| !v.trim().is_empty()).or(configured_url);
        let mut live = LiveConfig::default();
        if let Some(ms) = std::env::var("KAGE_REFETCH_INTERVAL_MS").ok().and_then(|v| v.parse().ok()) {
            live.refetch_interval = Duration::from_millis(ms);
        }
        Self { data_dir, server_url, vault: None, live }
    }
}

impl AppState {
    pub async fn start(options: StartOptions) -> Result<Self, StartError> {
        let (origin, server) = match &options.server_url {
            Some(url) => (ServerOrigin::parse(url)?, Server::Remote),
            None => {
                let server = start_sandbox(&options.data_dir.join("sandbox")).await?;
                (ServerOrigin::parse(&server.base_url())?, Server::Sandbox(server))
            }
        };
        let (vault, keychain) = match options.vault {
            Some(vault) => (vault, KeychainNote { available: true, message: None }),
            None => open_keychain().await,
        };
        let mut config = CoreConfig::new(options.data_dir.join("cache"));
        config.live = options.live;
        let core = Core::new(config, vault);
        Ok(Self { core, origin, server, keychain, running: Mutex::default() })
    }

    pub fn is_sandbox(&self) -> bool {
        matches!(self.server, Server::Sandbox(_))
    }

    /// Runs `action` unless the same action is already running for this window.
    pub async fn once<T>(
        &self,
        window: &WindowLabel,
        name: &'static str,
        action: impl std::future::Future<Output = Result<T, CommandError>>,
    ) -> Result<T, CommandError> {
        let key = (window.clone(), name);
        if !self.running.lock().expect("running lock").insert(key.clone()) {
            return Err(CommandError::busy());
        }
        let result = action.await;
        self.running.lock().expect("running lock").remove(&key);
        result
    }
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
    let _ = std::fs::write(dir.join(SANDBOX_PORT_FILE), server.addr.port().to_string());
    Ok(server)
}
