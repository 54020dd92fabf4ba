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
        let png = self.client.screenshot().await.expect("screenshot");
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
    let log = std::fs::File::options().create(true).append(true).open(log).expect("app log");
    Command::new(debug_binary("kage"))
        .envs(app_env(home))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the app starts (cargo build --bin kage)")
}

/// Every process below `root`, children before grandchildren.
pub fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Some(ppid) = parent_of(pid) {
            parents.push((pid, ppid));
        }
    }
    let mut tree = Vec::new();
    let mut frontier = vec![root];
    while !frontier.is_empty() {
        let children: Vec<u32> =
            parents.iter().filter(|(_, ppid)| frontier.contains(ppid)).map(|&(pid, _)| pid).collect();
        tree.extend(&children);
        frontier = children;
    }
    tree
}

/// `/proc/<pid>/stat` split after the parenthesised command name (which may contain spaces): state, ppid, ...
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// True while `pid` exists and is not a zombie (a killed process whose parent has not reaped it yet is gone
/// for every purpose here: its sockets, files and D-Bus names are released).
pub fn is_running(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|fields| !matches!(fields.first().map(String::as_str), Some("Z" | "X")))
}

/// SIGKILL, through kill(1): nothing to catch, nothing to clean up.
pub fn kill9(pid: u32) {
    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).stderr(Stdio::null()).status();
}

/// Waits until `pid` is gone (or a zombie); panics after `limit`.
pub fn wait_gone(pid: u32, limit: Duration) {
    let deadline = Instant::now() + limit;
    while is_running(pid) {
        assert!(Instant::now() < deadline, "process {pid} still running {limit:?} after SIGKILL");
        std::thread::sleep(Duration::from_millis(10));
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

/// The X server's own view of the app's windows (on `DISPLAY`, Xvfb under `scripts/e2e-test`). WebDriver can
/// only read a window after switching to it, and WebKit's switch may itself bring that window forward; these
/// read the display without touching any window.
pub mod x11 {
    use std::collections::{BTreeMap, BTreeSet};
    use std::time::{Duration, Instant};

    use x11rb::connection::Connection;
    use x11rb::protocol::xproto::{
        Atom, AtomEnum, ClientMessageEvent, ConnectionExt, EventMask, InputFocus, MapState, Window,
    };
    use x11rb::rust_connection::RustConnection;

    struct Display {
        conn: RustConnection,
        root: Window,
        net_wm_name: Atom,
        utf8: Atom,
    }

    impl Display {
        fn open() -> Option<Self> {
            let (conn, screen) = x11rb::connect(None).ok()?;
            let root = conn.setup().roots.get(screen)?.root;
            let atom = |name: &[u8]| conn.intern_atom(false, name).ok()?.reply().ok().map(|reply| reply.atom);
            let (net_wm_name, utf8) = (atom(b"_NET_WM_NAME")?, atom(b"UTF8_STRING")?);
            Some(Self { conn, root, net_wm_name, utf8 })
        }

        /// The top-level windows shown on the display, with their titles.
        fn shown(&self) -> Vec<(Window, String)> {
            let Some(tree) = self.conn.query_tree(self.root).ok().and_then(|c| c.reply().ok()) else {
                return Vec::new();
            };
            tree.children
                .into_iter()
                .filter(|&window| {
                    let attributes = self.conn.get_window_attributes(window).ok().and_then(|c| c.reply().ok());
                    attributes.is_some_and(|a| a.map_state == MapState::VIEWABLE)
                })
                .filter_map(|window| Some((window, self.title(window)?)))
                .collect()
        }

        /// `_NET_WM_NAME`, else `WM_NAME`, if the window has a non-empty one.
        fn title(&self, window: Window) -> Option<String> {
            let read = |property: Atom, kind: Atom| {
                let reply = self.conn.get_property(false, window, property, kind, 0, 4096).ok()?.reply().ok()?;
                Some(String::from_utf8_lossy(&reply.value).into_owned()).filter(|t| !t.is_empty())
            };
            read(self.net_wm_name, self.utf8).or_else(|| read(AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()))
        }
    }

    /// The title of the top-level window that holds the keyboard focus, walking up from the focused X window;
    /// `None` when no titled window has it (or there is no display).
    pub fn focused_title() -> Option<String> {
        let display = Display::open()?;
        let mut window = display.conn.get_input_focus().ok()?.reply().ok()?.focus;
        // 0 is None, 1 is PointerRoot: no window holds the focus.
        while window > 1 && window != display.root {
            if let Some(title) = display.title(window) {
                return Some(title);
            }
            window = display.conn.query_tree(window).ok()?.reply().ok()?.parent;
        }
        None
    }

    /// The titles of every top-level window shown on the display (what a screen-capture would show in title
    /// bars and task lists).
    pub fn visible_titles() -> Vec<String> {
        Display::open().map(|display| display.shown().into_iter().map(|(_, title)| title).collect()).unwrap_or_default()
    }

    /// Every top-level window shown on the display: (X window id, title).
    pub fn shown_windows() -> Vec<(u32, String)> {
        Display::open().map(|display| display.shown()).unwrap_or_default()
    }

    /// Watches the display from `since` until `count` windows not in `before` (X window ids) are shown, or 30 s
    /// passed: when each first appeared, and its title a second later (windows are titled after their account a
    /// moment after they appear), in order of appearance. Polls every 5 ms, on the calling thread.
    pub fn appearances(before: &BTreeSet<u32>, count: usize, since: Instant) -> Vec<(Duration, String)> {
        let mut first_seen: BTreeMap<u32, Duration> = BTreeMap::new();
        while first_seen.len() < count && since.elapsed() < Duration::from_secs(30) {
            for (id, _) in shown_windows() {
                if !before.contains(&id) {
                    first_seen.entry(id).or_insert_with(|| since.elapsed());
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_secs(1));
        let titles: BTreeMap<u32, String> = shown_windows().into_iter().collect();
        let mut seen: Vec<(Duration, String)> =
            first_seen.into_iter().map(|(id, at)| (at, titles.get(&id).cloned().unwrap_or_default())).collect();
        seen.sort();
        seen
    }

    /// Saves the whole display as a PNG in `target/e2e/<name>.png`: every window, web windows included (which
    /// WebDriver's screenshot cannot take). False when there is no display or it is not 24/32-bit.
    pub fn screenshot(name: &str) -> bool {
        let Some(display) = Display::open() else { return false };
        let Some(geometry) = display.conn.get_geometry(display.root).ok().and_then(|c| c.reply().ok()) else {
            return false;
        };
        let (width, height) = (geometry.width, geometry.height);
        let image = display.conn.get_image(
            x11rb::protocol::xproto::ImageFormat::Z_PIXMAP,
            display.root,
            0,
            0,
            width,
            height,
            !0,
        );
        let Some(image) = image.ok().and_then(|c| c.reply().ok()) else { return false };
        if image.data.len() != usize::from(width) * usize::from(height) * 4 {
            return false;
        }
        // Z_PIXMAP at depth 24: one 32-bit pixel per point, blue, green, red, padding.
        let rgb: Vec<u8> = image.data.chunks_exact(4).flat_map(|p| [p[2], p[1], p[0]]).collect();
        let Ok(file) = std::fs::File::create(super::artifacts_dir().join(format!("{name}.png"))) else { return false };
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), u32::from(width), u32::from(height));
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header().and_then(|mut writer| writer.write_image_data(&rgb)).is_ok()
    }

    /// Gives the window titled `title` the keyboard focus, as a player's click on it would (there is no window
    /// manager under Xvfb to do it). False when no such window is shown.
    pub fn focus(title: &str) -> bool {
        let Some(display) = Display::open() else { return false };
        let Some((window, _)) = display.shown().into_iter().find(|(_, t)| t == title) else { return false };
        let raised = display.conn.configure_window(
            window,
            &x11rb::protocol::xproto::ConfigureWindowAux::new().stack_mode(x11rb::protocol::xproto::StackMode::ABOVE),
        );
        let focused = display.conn.set_input_focus(InputFocus::PARENT, window, x11rb::CURRENT_TIME);
        raised.is_ok() && focused.is_ok() && display.conn.flush().is_ok()
    }

    /// Closes the window titled `title` as a player would ([`close`]), asking again every 2 s while it is still
    /// shown: a request that comes while GTK is still setting the window up can go unanswered. Returns how many
    /// requests it took; panics when the window is still there after `within`.
    pub async fn close_until_gone(title: &str, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        let mut asked = 0;
        while visible_titles().iter().any(|shown| shown == title) {
            assert!(Instant::now() < deadline, "{title:?} did not close after {asked} requests");
            assert!(close(title), "no window titled {title:?}: {:?}", visible_titles());
            asked += 1;
            let asked_at = Instant::now();
            while asked_at.elapsed() < Duration::from_secs(2) && visible_titles().iter().any(|shown| shown == title) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        asked
    }

    /// Asks the window titled `title` to close, as a desktop's close button does (`WM_DELETE_WINDOW`): the app
    /// sees a player closing it, which WebDriver's "close window" is not. False when no such window is shown.
    pub fn close(title: &str) -> bool {
        let Some(display) = Display::open() else { return false };
        let Some((window, _)) = display.shown().into_iter().find(|(_, t)| t == title) else { return false };
        let atom = |name: &[u8]| display.conn.intern_atom(false, name).ok()?.reply().ok().map(|reply| reply.atom);
        let (Some(protocols), Some(delete)) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW")) else { return false };
        let message = ClientMessageEvent::new(32, window, protocols, [delete, x11rb::CURRENT_TIME, 0, 0, 0]);
        display.conn.send_event(false, window, EventMask::NO_EVENT, message).is_ok() && display.conn.flush().is_ok()
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

/// Proportional set size (kB) of every process whose executable is `binary`, and of all their descendants
/// (WebKit's web and network processes): what the app costs in memory, shared pages split fairly.
pub fn pss_kib_of_tree(binary: &Path) -> u64 {
    let binary = binary.canonicalize().expect("binary path");
    let mut parents = Vec::new();
    let mut roots = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Field 4, after the parenthesised command name (which may contain spaces).
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
        if std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary) {
            roots.push(pid);
        }
    }
    let mut tree = roots.clone();
    let mut frontier = roots;
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &parents {
            if ppid == parent && !tree.contains(&pid) {
                tree.push(pid);
                frontier.push(pid);
            }
        }
    }
    tree.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok())
        .filter_map(|rollup| {
            rollup
                .lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .sum()
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

/// Removes the keychain entries of these accounts (ids), as the last step of a test that signed them in with
/// "remember": the next test's app would otherwise find them and put them back into its own roster (the
/// rebuild from the keychain), next to its own accounts of the same names.
pub fn clear_keychain_entries<'a>(ids: impl IntoIterator<Item = &'a str>) {
    for id in ids {
        let _ = Command::new("secret-tool").args(["clear", "service", "kage", "username", id]).status();
    }
}
