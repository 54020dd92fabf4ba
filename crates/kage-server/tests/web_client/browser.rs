//! A real browser: WebKitGTK's MiniBrowser (shipped with libwebkit2gtk-4.1-0, the library Kage links) in
//! automation mode, driven through WebKitWebDriver (Debian's webkit2gtk-driver) on an Xvfb display of its own.
//! All windows of one [`Browser`] are one browser profile: one cookie jar, as the tabs of the seed bug had.
//!
//! Everything it starts runs in two process groups (Xvfb; WebKitWebDriver with the MiniBrowser and WebKit
//! processes it starts), killed when the `Browser` is dropped, a panic included: no stray process.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WindowHandle;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// How long a page may take to show what a test waits for (the machine is small and shared).
const PATIENCE: Duration = Duration::from_secs(20);

/// A process group, killed when dropped.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

pub struct Browser {
    client: Client,
    // Dropped after the client, in this order: the driver (and the browser), then the display.
    _driver: Group,
    _display: Group,
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|dir| PathBuf::from(dir).join(program)).find(|p| p.is_file())
}

fn mini_browser() -> Option<PathBuf> {
    std::fs::read_dir("/usr/lib")
        .ok()?
        .flatten()
        .map(|entry| entry.path().join("webkit2gtk-4.1/MiniBrowser"))
        .find(|path| path.is_file())
}

/// A free port on loopback, for WebKitWebDriver (which cannot be told to pick one).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// A browser with one window, or `None` (after saying why) where WebKitWebDriver, MiniBrowser or Xvfb is
    /// not installed (`scripts/setup` installs them: webkit2gtk-driver, xvfb).
    pub async fn launch() -> Option<Self> {
        let (Some(driver), Some(mini_browser), Some(xvfb)) =
            (on_path("WebKitWebDriver"), mini_browser(), on_path("Xvfb"))
        else {
            eprintln!(
                "SKIPPED: a real browser needs WebKitWebDriver (webkit2gtk-driver), MiniBrowser (libwebkit2gtk-4.1-0) \
                 and Xvfb (xvfb)"
            );
            return None;
        };
        let display = Self::start_display(&xvfb);
        let port = free_port();
        // A session bus of the browser's own, which ends with its process group: without one, GLib starts one
        // by X11 autolaunch, a daemon that outlives the test with the portals and accessibility bus it starts.
        let mut driver = match on_path("dbus-run-session") {
            Some(runner) => {
                let mut command = Command::new(runner);
                command.arg("--").arg(driver);
                command
            }
            None => Command::new(driver),
        };
        let driver = driver
            .arg(format!("--port={port}"))
            .env("DISPLAY", &display.1)
            .env("NO_AT_BRIDGE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("WebKitWebDriver starts");
        let driver = Group(driver);
        let capabilities = json!({
            "webkitgtk:browserOptions": {"binary": mini_browser, "args": ["--automation"]},
        });
        let capabilities = capabilities.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + PATIENCE;
        let client = loop {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(error) if Instant::now() > deadline => panic!("no WebDriver session with MiniBrowser: {error}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Some(Self { client, _driver: driver, _display: display.0 })
    }

    /// Xvfb on the first free display (`-displayfd`), with the display's name.
    fn start_display(xvfb: &PathBuf) -> (Group, String) {
        let mut child = Command::new(xvfb)
            .args(["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("Xvfb starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("Xvfb names its display");
        let number = line.trim().to_owned();
        assert!(!number.is_empty(), "Xvfb did not say which display it took");
        (Group(child), format!(":{number}"))
    }

    pub async fn current_tab(&self) -> WindowHandle {
        self.client.window().await.unwrap()
    }

    /// Another window of the same browser (same profile, same cookie jar).
    pub async fn new_tab(&self) -> WindowHandle {
        self.client.new_window(false).await.expect("a new window").handle
    }

    async fn at(&self, tab: &WindowHandle) {
        self.client.switch_to_window(tab.clone()).await.unwrap();
    }

    pub async fn go(&self, tab: &WindowHandle, url: &str) {
        self.at(tab).await;
        self.client.goto(url).await.unwrap();
    }

    /// Types the demo player's name and password into the page's form and submits it.
    pub async fn sign_in(&self, tab: &WindowHandle, username: &str) {
        self.at(tab).await;
        self.element("username-input").await.send_keys(username).await.unwrap();
        self.element("password-input").await.send_keys(&format!("{username}-password")).await.unwrap();
        self.element("signin-button").await.click().await.unwrap();
    }

    async fn element(&self, id: &str) -> fantoccini::elements::Element {
        let selector = format!(r#"[data-testid="{id}"]"#);
        self.client.find(Locator::Css(&selector)).await.unwrap_or_else(|error| panic!("no {id}: {error}"))
    }

    /// The text of the element with `data-testid` `id` (empty if there is none).
    pub async fn text(&self, tab: &WindowHandle, id: &str) -> String {
        self.at(tab).await;
        let script =
            "const e = document.querySelector(`[data-testid=\"${arguments[0]}\"]`); return e ? e.textContent : '';";
        let value = self.client.execute(script, vec![json!(id)]).await.unwrap();
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Leaves a mark in the tab's page that a reload would wipe.
    pub async fn mark_page(&self, tab: &WindowHandle) {
        self.at(tab).await;
        self.client.execute("window.markedByTheTest = true;", vec![]).await.unwrap();
    }

    pub async fn is_marked(&self, tab: &WindowHandle) -> bool {
        self.at(tab).await;
        let marked = self.client.execute("return window.markedByTheTest === true;", vec![]).await.unwrap();
        marked == json!(true)
    }

    pub async fn number(&self, tab: &WindowHandle, id: &str) -> u64 {
        let text = self.text(tab, id).await;
        text.parse().unwrap_or_else(|_| panic!("{id} is not a number: {text:?}"))
    }

    /// Waits until the element shows `expected`; panics with what it showed instead.
    pub async fn wait_for_text(&self, tab: &WindowHandle, id: &str, expected: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let shown = self.text(tab, id).await;
            if shown == expected {
                return;
            }
            assert!(Instant::now() < deadline, "{id} showed {shown:?}, not {expected:?}, for {PATIENCE:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}
