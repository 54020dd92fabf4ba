//! The app on Tauri's mock runtime against a real kage-server (the in-process sandbox, or one started by the
//! test), with the real capability: what every command test starts from.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use kage_app::commands;
use kage_app::file_choice::FixedFile;
use kage_app::state::{AppState, StartOptions};
use kage_core::vault::{CredentialStore, MemoryStore};
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

/// Nothing here should resolve Tauri's app directories (the app's files live in `StartOptions::data_dir`); if
/// anything does, keep it out of the real home.
fn isolate_data_dirs() {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    // SAFETY: set once, before any test thread reads the environment through Tauri's path resolver.
    unsafe { std::env::set_var("XDG_DATA_HOME", dir.path()) };
}

pub struct TestApp {
    pub app: App<MockRuntime>,
    pub _dir: tempfile::TempDir,
    /// The file the player "chooses" in the export and import dialog (set it before the call).
    pub files: Arc<FixedFile>,
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts on a data dir that `prepare` has put files into (what an earlier run left behind).
    pub async fn start_with(prepare: impl FnOnce(&std::path::Path)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path());
        Self::start_on(dir, Arc::new(MemoryStore::default())).await
    }

    /// Starts on `dir` with `vault` as the keychain (a restart: same files, same keychain).
    pub async fn start_on(dir: tempfile::TempDir, vault: Arc<MemoryStore>) -> Self {
        Self::start_against(None, dir, vault).await
    }

    /// Starts talking to the server at `server_url` (`None`: the sandbox), on `dir` with `vault` as the keychain.
    pub async fn start_against(server_url: Option<&str>, dir: tempfile::TempDir, vault: Arc<MemoryStore>) -> Self {
        Self::start_with_browser(server_url, dir, vault, None).await
    }

    /// As [`TestApp::start_against`], with `browser` showing the identity provider's pages.
    pub async fn start_with_browser(
        server_url: Option<&str>,
        dir: tempfile::TempDir,
        vault: Arc<MemoryStore>,
        browser: Option<Arc<dyn kage_app::state::OpenBrowser>>,
    ) -> Self {
        isolate_data_dirs();
        let files = Arc::new(FixedFile::new(dir.path().join("chosen.kage")));
        let options = StartOptions {
            data_dir: dir.path().to_path_buf(),
            server_url: server_url.map(str::to_owned),
            vault: Some(vault as Arc<dyn CredentialStore>),
            browser,
            files: Some(files.clone() as Arc<dyn kage_app::file_choice::ChooseFile>),
            live: Default::default(),
            notices: Vec::new(),
        };
        let state = AppState::start(options).await.expect("sandbox starts");
        let app = mock_builder().invoke_handler(commands::handler()).build(kage_app::context()).expect("mock app");
        app.manage(state);
        app.manage(kage_app::launcher::Launcher::default());
        Self { app, _dir: dir, files }
    }

    /// Quits (the sandbox lets go of its port, the saved accounts' address) and hands back the data dir, with
    /// `between` run while the app is down (a crash's damage, a keychain coming back).
    pub async fn quit(self, between: impl FnOnce(&std::path::Path)) -> tempfile::TempDir {
        self.app.state::<AppState>().shutdown().await;
        let Self { app, _dir: dir, .. } = self;
        drop(app);
        between(dir.path());
        let port: u16 = std::fs::read_to_string(dir.path().join("sandbox/port")).unwrap().trim().parse().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "the sandbox never let go of its port");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        dir
    }

    /// Quits an app that talks to a server of the test's own, handing back the data dir.
    pub async fn quit_remote(self) -> tempfile::TempDir {
        self.app.state::<AppState>().shutdown().await;
        let Self { app, _dir: dir, .. } = self;
        drop(app);
        dir
    }

    pub fn window(&self, label: &str) -> WebviewWindow<MockRuntime> {
        WebviewWindowBuilder::new(&self.app, label, Default::default()).build().expect("window")
    }
}

pub fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        // The page's own origin on Linux and macOS: the capability only admits local pages.
        url: "tauri://localhost".parse().unwrap(),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(window, request).map(|body| body.deserialize::<Value>().unwrap())
}

pub fn sign_in(window: &WebviewWindow<MockRuntime>, username: &str) -> Value {
    let args = json!({"username": username, "password": format!("{username}-password"), "remember": true});
    invoke(window, "sign_in", args).unwrap_or_else(|e| panic!("sign-in of {username}: {e}"))
}
