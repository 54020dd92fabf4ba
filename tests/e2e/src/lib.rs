//! The end-to-end harness: launches the built app through tauri-driver (which drives WebKitWebDriver), finds
//! windows by their Tauri label (never by handle order), and reads the page through `data-testid`s.
//!
//! Runs only when `KAGE_E2E=1`: it needs a display (Xvfb), a D-Bus session with an unlocked gnome-keyring and
//! the debug app binary; `scripts/e2e-test` sets all of that up.
//!
//! Besides the WebDriver session ([`App`]) it can start the app as a bare process ([`spawn_app`]), find the
//! app's process under the drivers and kill it with SIGKILL ([`App::kill`]): the crash test's tools. It runs a
//! `kage-server` of a test's own ([`GameServer`]), and asks the X server itself which window has the focus and
//! what every window is titled ([`x11`]), which reading through WebDriver could change.

pub mod layout;
mod processes;
pub mod web;
pub mod x11;

pub use processes::{
    ProcessPss, descendants, is_running, kill9, pss_kib_of_tree, pss_of_tree, stop_leftover_apps, wait_gone,
    web_processes,
};

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WindowHandle;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

pub fn enabled() -> bool {
    std::env::var("KAGE_E2E").is_ok_and(|v| v == "1")
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// Where cargo put the builds: `CARGO_TARGET_DIR` when set (taken from the workspace root if relative, as cargo
/// does), else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|dir| !dir.is_empty()) {
        Some(dir) => workspace_root().join(dir),
        None => workspace_root().join("target"),
    }
}

/// A binary of the debug build, `kage` (the app) or `kage-server`: from the directory `KAGE_E2E_BINARIES` names
/// when set (scripts/e2e-test keeps there the app as players get it), else from the build's `debug/`.
pub fn debug_binary(name: &str) -> PathBuf {
    match std::env::var_os("KAGE_E2E_BINARIES").filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir).join(name),
        None => target_dir().join("debug").join(name),
    }
}

/// Where screenshots and the app's log go (always the workspace's `target/e2e`, wherever the builds are); kept
/// after a failure for the next person.
pub fn artifacts_dir() -> PathBuf {
    let dir = workspace_root().join("target/e2e");
    std::fs::create_dir_all(&dir).expect("target/e2e");
    dir
}

/// One run of the app: a tauri-driver process and a WebDriver session. The app's data lives in `home`, so a
/// second `App::launch` on the same `home` is a restart.
/// The tauri-driver process, killed however the launch ends (a panic included), with everything it started
/// (WebKitWebDriver, and the app if it is still there), so no stray driver keeps a port or a window for the next
/// run.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let started = descendants(self.0.id());
        let _ = self.0.kill();
        let _ = self.0.wait();
        for pid in started {
            kill9(pid);
        }
    }
}

pub struct App {
    pub client: Client,
    _driver: Driver,
    /// When the WebDriver session (and so the app's launch) was requested, the driver being ready.
    pub launched_at: Instant,
    binary: PathBuf,
    home: PathBuf,
    port: u16,
}

/// Whatever happens (a failed assertion unwinds through here too), the app's own log joins the screenshots.
impl Drop for App {
    fn drop(&mut self) {
        // The app appends to its log across restarts of the same home, so the last copy holds every run.
        let log = self.home.join("data/app.kage.client/logs/Kage.log");
        let _ = std::fs::copy(log, artifacts_dir().join(format!("app-{}.log", self.port)));
    }
}

impl App {
    /// The debug app with its data in `home`, its WebDriver on `port` (and WebKitWebDriver on `port + 1`).
    pub async fn launch(home: &Path, port: u16) -> Self {
        Self::launch_binary(&debug_binary("kage"), home, port, &[]).await
    }

    /// Launches `binary` (the app, or the bare-window baseline) with its data in `home`.
    pub async fn launch_binary(binary: &Path, home: &Path, port: u16, env: &[(&str, &str)]) -> Self {
        Self::try_launch_binary(binary, home, port, env).await.unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`App::launch_binary`], saying why when there is no WebDriver session within 30 s (the drivers are
    /// stopped then).
    pub async fn try_launch_binary(
        binary: &Path,
        home: &Path,
        port: u16,
        env: &[(&str, &str)],
    ) -> Result<Self, String> {
        assert!(binary.exists(), "build the app first: cargo build -p kage-app ({})", binary.display());
        stop_leftover_apps(binary);
        if !home.join("data").exists() {
            forget_every_keychain_entry();
        }
        let log = std::fs::File::create(artifacts_dir().join(format!("tauri-driver-{port}.log"))).unwrap();
        let driver = Command::new(tauri_driver())
            .args(["--port", &port.to_string(), "--native-port", &(port + 1).to_string()])
            .args(["--native-driver", "/usr/bin/WebKitWebDriver"])
            .envs(app_env(home))
            .envs(env.iter().copied())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .map(Driver)
            .expect("tauri-driver starts (cargo install tauri-driver --locked)");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("tauri:options".into(), json!({ "application": binary }));
        capabilities.insert("browserName".into(), json!("wry"));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("tauri-driver did not listen on {port}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let launched_at = Instant::now();
        let session = async {
            loop {
                match ClientBuilder::new(HttpConnector::new()).capabilities(capabilities.clone()).connect(&url).await {
                    Ok(client) => return Ok(client),
                    Err(error) if Instant::now() < deadline => {
                        let _ = error;
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    Err(error) => return Err(format!("no WebDriver session: {error}")),
                }
            }
        };
        // A session request can also hang (the app never connects back to WebKitWebDriver): bounded too.
        let client = match tokio::time::timeout_at(deadline.into(), session).await {
            Ok(client) => client?,
            Err(_) => {
                let tree: Vec<String> = descendants(driver.0.id())
                    .into_iter()
                    .map(|pid| {
                        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
                        format!("{pid} {}", exe.display())
                    })
                    .collect();
                return Err(format!("no WebDriver session within 30 s; processes under tauri-driver: {tree:?}"));
            }
        };
        let binary = binary.canonicalize().expect("binary path");
        Ok(Self { client, _driver: driver, launched_at, binary, home: home.to_path_buf(), port })
    }

    /// The app's process (under WebKitWebDriver, under tauri-driver), once it is running.
    pub fn pid(&self) -> Option<u32> {
        descendants(self._driver.0.id())
            .into_iter()
            .find(|&pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == self.binary))
    }

    /// SIGKILL to the app, as a crash or a power cut would end it (no exit handler runs), then the drivers go
    /// too. Waits until the app's process is gone, so the next launch never meets it.
    pub fn kill(self) {
        if let Some(pid) = self.pid() {
            kill9(pid);
            wait_gone(pid, Duration::from_secs(10));
        }
    }

    /// Label -> handle of every open window.
    pub async fn windows(&self) -> BTreeMap<String, WindowHandle> {
        let mut windows = BTreeMap::new();
        for handle in self.client.windows().await.expect("window handles") {
            if self.client.switch_to_window(handle.clone()).await.is_err() {
                continue;
            }
            let label = self
                .client
                .execute("return window.__TAURI_INTERNALS__.metadata.currentWindow.label", vec![])
                .await
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned));
            if let Some(label) = label {
                windows.insert(label, handle);
            }
        }
        windows
    }

    /// Waits for the window labelled `label` and makes it the one commands go to.
    pub async fn focus(&self, label: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(handle) = self.windows().await.remove(label) {
                self.client.switch_to_window(handle).await.expect("switch");
                // Bring it to the front as a player's click would; the core must not care either way.
                let _ = self.client.execute("window.focus()", vec![]).await;
                return;
            }
            assert!(Instant::now() < deadline, "no window labelled {label}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub async fn wait_for(&self, testid: &str) -> fantoccini::elements::Element {
        let css = format!("[data-testid='{testid}']");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(element) = self.client.find(Locator::Css(&css)).await
                && element.is_displayed().await.unwrap_or(false)
            {
                return element;
            }
            assert!(Instant::now() < deadline, "{testid} did not appear");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn text(&self, testid: &str) -> String {
        self.wait_for(testid).await.text().await.expect("text").trim().to_owned()
    }

    pub async fn fill(&self, testid: &str, value: &str) {
        let element = self.wait_for(testid).await;
        element.clear().await.expect("clear");
        element.send_keys(value).await.expect("type");
    }

    pub async fn click(&self, testid: &str) {
        self.wait_for(testid).await.click().await.expect("click");
    }

    /// The `data-status` of the page's root: what the window says about its account.
    pub async fn status(&self) -> Option<String> {
        let script = "const app = document.getElementById('app'); return app ? app.dataset.status || null : null";
        self.client.execute(script, vec![]).await.ok().and_then(|v| v.as_str().map(str::to_owned))
    }

    /// The current window's text of `testid`, if that element exists and is shown.
    pub async fn visible_text(&self, testid: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(&format!("[data-testid='{testid}']"))).await.ok()?;
        if !element.is_displayed().await.unwrap_or(false) {
            return None;
        }
        Some(element.text().await.ok()?.trim().to_owned())
    }

    /// Polls until `testid` is shown in the current window with a text `check` accepts, for up to `within`.
    pub async fn wait_text_within(&self, testid: &str, within: Duration, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let text = self.visible_text(testid).await;
            if let Some(text) = text.as_deref().filter(|text| check(text)) {
                return text.to_owned();
            }
            assert!(Instant::now() < deadline, "{testid} stayed {text:?} for {within:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls until `check` holds for the current window's text of `testid`.
    pub async fn wait_text(&self, testid: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = self.text(testid).await;
            if check(&text) {
                return text;
            }
            assert!(Instant::now() < deadline, "{testid} stayed {text:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Calls a command from the current window's page, as the page itself would.
    pub async fn invoke(&self, command: &str, args: Value) -> Value {
        let script = "const [cmd, args, done] = arguments; \
                      window.__TAURI_INTERNALS__.invoke(cmd, args).then(done, e => done({ error: e }));";
        self.client.execute_async(script, vec![json!(command), args]).await.expect("invoke")
    }

    pub async fn screenshot(&self, name: &str) {
        // Let WebKit repaint first: under Xvfb a capture right after a DOM change can show the previous frame.
        let _ = self
            .client
            .execute_async("const done = arguments[0]; requestAnimationFrame(() => setTimeout(done, 250));", vec![])
            .await;
        // WebKitWebDriver's screenshot waits for the page's next paint, and Kage's page, painted without
        // accelerated compositing (hibernation::for_kage_page), paints only when something changes: an idle page
        // (seen: the server frozen, nothing arriving) left the capture waiting for good. An imperceptible opacity
        // change every frame gives it that paint.
        let nudge = "window.__kageNudge = setInterval(() => { const s = document.documentElement.style; \
                     s.opacity = s.opacity === '0.999' ? '1' : '0.999'; }, 16);";
        let _ = self.client.execute(nudge, vec![]).await;
        let png = tokio::time::timeout(Duration::from_secs(30), self.client.screenshot())
            .await
            .unwrap_or_else(|_| panic!("WebDriver's screenshot {name} did not answer within 30 s"))
            .expect("screenshot");
        let unnudge = "clearInterval(window.__kageNudge); document.documentElement.style.opacity = '';";
        let _ = self.client.execute(unnudge, vec![]).await;
        std::fs::write(artifacts_dir().join(format!("{name}.png")), png).expect("save screenshot");
    }

    /// Ends the session; tauri-driver closes the app. Waits (up to 10 s) for the app to finish its exit.
    pub async fn quit(self) {
        let pid = self.pid();
        let _ = self.client.clone().close().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(pid) = pid {
            let deadline = Instant::now() + Duration::from_secs(10);
            while is_running(pid) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// The environment the app gets in every launch: its data, config and cache under `home`, refetches every
/// 700 ms so a test sees them.
fn app_env(home: &Path) -> [(&'static str, std::ffi::OsString); 5] {
    [
        ("XDG_DATA_HOME", home.join("data").into()),
        ("XDG_CONFIG_HOME", home.join("config").into()),
        ("XDG_CACHE_HOME", home.join("cache").into()),
        ("KAGE_REFETCH_INTERVAL_MS", "700".into()),
        // The debug app's stand-in for the export and import file dialog, which WebDriver cannot click through.
        ("KAGE_E2E_FILE", chosen_file(home).into()),
    ]
}

/// The file the debug app exports to and imports from in place of the player's choice in the file dialog.
pub fn chosen_file(home: &Path) -> PathBuf {
    home.join("chosen.kage")
}

/// Starts the debug app as a plain process, no WebDriver: it restores its windows and refreshes them as a
/// player's start would, only nothing drives it. Its stderr goes to `log`.
pub fn spawn_app(home: &Path, log: &Path) -> Child {
    spawn_app_with(home, log, &[], &[])
}

/// [`spawn_app`] with a command line (`kage open alt`) and more environment (`KAGE_SERVER_URL`).
pub fn spawn_app_with(home: &Path, log: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    let log = std::fs::File::options().create(true).append(true).open(log).expect("app log");
    Command::new(debug_binary("kage"))
        .args(args)
        .envs(app_env(home))
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the app starts (cargo build --bin kage)")
}

/// Runs the debug app once as a command line from a shell would (`kage open alt`, `kage list`), with the same
/// data, config and session bus as the app under test, and waits for it to end (killed after `within`): its
/// exit status and what it printed.
pub fn run_kage(home: &Path, args: &[&str], within: Duration) -> std::process::Output {
    let mut child = Command::new(debug_binary("kage"))
        .args(args)
        .envs(app_env(home))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the app starts (cargo build --bin kage)");
    let deadline = Instant::now() + within;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!("kage {args:?} did not end within {within:?}: {output:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// Polls `read` (an answer read outside WebDriver: the X server, a process) until it returns `Some`, for up to
/// `within`; `None` when it never did.
pub async fn until<T>(within: Duration, read: impl Fn() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = read() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A port nobody listens on now (the kernel's pick).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

/// One JSON request to a loopback server, HTTP/1.1 by hand (the tests need nothing more): (status, body).
pub fn http_json(port: u16, method: &str, path: &str, body: &Value) -> std::io::Result<(u16, String)> {
    let body = body.to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    Ok((status, body))
}

/// A `kage-server` of a test's own, as a separate process (the app's built-in sandbox runs inside the app and
/// cannot be stopped apart from it): the app is pointed at it with `KAGE_SERVER_URL`, so the app's data dir
/// holds only client state. Killed with SIGKILL when dropped, a failed assertion included.
pub struct GameServer {
    process: Child,
    pub port: u16,
}

impl GameServer {
    /// Starts the server on `port` with its data in `data`, logging to `target/e2e/<log>.log`, with the demo
    /// players (main, alt) when `demo`; returns once it listens.
    pub fn start(data: &Path, port: u16, log: &str, demo: bool) -> Self {
        Self::start_binary(&debug_binary("kage-server"), data, port, log, demo)
    }

    /// [`GameServer::start`] with another build of `kage-server` (a benchmark's release build).
    pub fn start_binary(binary: &Path, data: &Path, port: u16, log: &str, demo: bool) -> Self {
        let log = std::fs::File::create(artifacts_dir().join(format!("{log}.log"))).unwrap();
        let mut command = Command::new(binary);
        if demo {
            command.arg("--demo");
        }
        let process = command
            .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("kage-server starts (cargo build --bin kage-server)");
        let server = Self { process, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "kage-server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// Freezes the server (SIGSTOP) or lets it run on (SIGCONT): its connections stay open, nothing is answered
    /// meanwhile, and what arrived is carried out when it resumes, as after a long stall.
    pub fn freeze(&self, frozen: bool) {
        let signal = if frozen { "-STOP" } else { "-CONT" };
        let status = Command::new("kill").args([signal, &self.process.id().to_string()]).status().expect("kill(1)");
        assert!(status.success(), "kill {signal}: {status}");
    }

    /// What the app is given as `KAGE_SERVER_URL`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a player through the public sign-up route (the app has no sign-up screen).
    pub fn sign_up(&self, username: &str, password: &str) {
        let body = json!({ "username": username, "password": password });
        let (status, answer) = http_json(self.port, "POST", "/v1/sign-up", &body).expect("kage-server answers");
        assert_eq!(status, 201, "sign-up of {username}: {answer}");
    }
}

impl Drop for GameServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The digits of a displayed number ("1,000 ryo" -> 1000).
pub fn digits(text: &str) -> Option<i64> {
    text.chars().filter(char::is_ascii_digit).collect::<String>().parse().ok()
}

/// Signs the current window in from its sign-in screen, with "remember" ticked, and waits for the profile.
pub async fn sign_in(app: &App, username: &str, password: &str) {
    app.wait_for("view-signin").await;
    app.fill("signin-username", username).await;
    app.fill("signin-password", password).await;
    let remember = app.wait_for("signin-remember").await;
    if remember.prop("checked").await.unwrap().is_none_or(|v| v != "true") {
        remember.click().await.unwrap();
    }
    app.click("signin-submit").await;
    app.wait_for("view-account").await;
    app.wait_text("profile-username", |t| t == username).await;
}

/// Signs each `(username, password)` in with "remember", each in a window of its own (the first in `acct-1`,
/// the others in windows `open_window` makes), and waits until each shows a balance, so every account is saved
/// and cached. Returns the saved accounts' ids, in the roster's order.
pub async fn sign_in_each(app: &App, players: &[(&str, &str)]) -> Vec<String> {
    for (n, (username, password)) in players.iter().enumerate() {
        let label = if n == 0 {
            "acct-1".to_owned()
        } else {
            let opened = app.invoke("open_window", json!({ "accountId": null })).await;
            opened.as_str().expect("open_window gives a label").to_owned()
        };
        app.focus(&label).await;
        sign_in(app, username, password).await;
        app.wait_text("profile-ryo", |t| t.chars().any(|c| c.is_ascii_digit())).await;
    }
    let saved = app.invoke("saved_accounts", json!({})).await;
    let ids: Vec<String> =
        saved.as_array().unwrap().iter().filter_map(|a| a["id"].as_str().map(str::to_owned)).collect();
    assert_eq!(ids.len(), players.len(), "saved: {saved}");
    ids
}

fn tauri_driver() -> PathBuf {
    let cargo_bin = std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin/tauri-driver"));
    cargo_bin.filter(|p| p.exists()).unwrap_or_else(|| PathBuf::from("tauri-driver"))
}

/// The refresh credentials gnome-keyring holds for Kage: `secret-tool search --all service kage`.
pub fn keychain_entries() -> Vec<String> {
    let output =
        Command::new("secret-tool").args(["search", "--all", "service", "kage"]).output().expect("secret-tool");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    text.lines().filter_map(|line| line.strip_prefix("attribute.username = ")).map(str::to_owned).collect()
}

/// A line for the person running the tests: straight to stderr, past the test harness's capture, so it shows in
/// passing runs too, and appended to `target/e2e/<name>.txt`.
pub fn report(name: &str, line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
    let path = artifacts_dir().join(format!("{name}.txt"));
    if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "{line}");
    }
}

/// A home Kage has never run in is a fresh install, and a fresh install's keychain holds nothing of Kage's: an
/// earlier test of the run that failed before its clean-up leaves its accounts there, and this test's app would
/// put them into its roster (the rebuild from the keychain), renumbering its Ctrl+1..9 and failing every later
/// test of the run for a reason of the first one's (seen on 2026-12-04: one flaky pacing check, three more
/// failures). Tests run one at a time per keyring, so nobody else's entries are lost.
fn forget_every_keychain_entry() {
    for service in ["kage", "kage-web-sign-in"] {
        let _ = Command::new("secret-tool").args(["clear", "service", service]).status();
    }
}

/// Removes the keychain entries of these accounts (ids), as the last step of a test that signed them in with
/// "remember": the next test's app would otherwise find them and put them back into its own roster (the
/// rebuild from the keychain), next to its own accounts of the same names.
pub fn clear_keychain_entries<'a>(ids: impl IntoIterator<Item = &'a str>) {
    for id in ids {
        let _ = Command::new("secret-tool").args(["clear", "service", "kage", "username", id]).status();
    }
}
