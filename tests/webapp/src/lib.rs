//! A real web application nobody here wrote, for the web-game tests (issue 19, item 9; docs/design.md, "Web games"):
//! [Roundup](https://www.roundup-tracker.org), the issue tracker, with its stock "classic" template on SQLite.
//!
//! Why Roundup: it is an independently written application (since 2001, its own maintainers), on PyPI with no
//! dependencies beyond Python 3 (installed in seconds into `target/webapp-venv` by `scripts/install-webapp`,
//! pinned with its hash), runs on loopback without the internet, signs users in with a form and a session
//! cookie (`roundup_session_…`, HttpOnly, SameSite=Lax; with "Remember me" it lasts a year, else it is a
//! browser-session cookie), checks a CSRF token and the Origin of a sign-in as a careful site does, and its
//! users are made from a script with its own admin commands (`roundup-admin`; `tests/webapp/make_tracker.py` runs
//! them in one process). Every page greets the signed-in user ("Hello,
//! main"), and a user's own page (`user<id>`) shows nothing to an anonymous visitor.
//!
//! [`WebApp::start`] makes a fresh tracker in a temporary directory with two users, `main` and `alt`
//! (passwords `main-password`, `alt-password`), and serves it on a free port of 127.0.0.1 (`tests/webapp/
//! serve.py`). The server stops when the `WebApp` is dropped or [`WebApp::stop`]ped, and by itself when the
//! test process dies (it exits when its standard input closes). [`WebApp::start_or_skip`] returns `None`,
//! saying so, only when `python3` is not installed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

#[derive(Debug, thiserror::Error)]
pub enum WebAppError {
    #[error("python3 is not installed (needed for the web application tests: Roundup)")]
    PythonMissing,
    #[error("scripts/install-webapp failed: {0}")]
    Install(String),
    #[error("making the tracker failed: {0}")]
    Setup(String),
    #[error("cannot start the web application: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("the web application did not say where it listens: {0}")]
    NotReady(String),
    #[error("{username} was not signed in: {detail}")]
    SignIn { username: String, detail: String },
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

/// A user of the tracker.
#[derive(Clone)]
pub struct User {
    pub username: String,
    pub password: String,
    /// Roundup's id of the user (`3`): their own page is `user<id>`.
    pub id: String,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User").field("username", &self.username).field("id", &self.id).finish_non_exhaustive()
    }
}

/// A running tracker with its users.
pub struct WebApp {
    url: String,
    port: u16,
    users: Vec<User>,
    home: PathBuf,
    _dir: tempfile::TempDir,
    process: Option<Running>,
}

struct Running {
    child: Child,
    stdin: ChildStdin,
}

/// The repository's root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn venv_bin(program: &str) -> PathBuf {
    workspace_root().join("target/webapp-venv/bin").join(program)
}

pub fn python_available() -> bool {
    std::process::Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs `scripts/install-webapp` (a no-op when the venv is there with the pinned requirements).
async fn install() -> Result<(), WebAppError> {
    let output = Command::new("bash")
        .arg(workspace_root().join("scripts/install-webapp"))
        .output()
        .await
        .map_err(|error| WebAppError::Install(error.to_string()))?;
    if !output.status.success() {
        return Err(WebAppError::Install(String::from_utf8_lossy(&output.stderr).trim().to_owned()));
    }
    Ok(())
}

/// `make_tracker.py`: Roundup's own admin commands (install, initialise, create the users) in one process.
/// Returns each user's id.
async fn make_tracker(home: &Path, users: &[(&str, &str)]) -> Result<Vec<String>, WebAppError> {
    // The admin's password: nobody signs in as admin, so a random one nobody knows.
    let admin_password = format!("admin-{:x}", rand_u64());
    let output = Command::new(venv_bin("python"))
        .arg(workspace_root().join("tests/webapp/make_tracker.py"))
        .arg(home)
        .arg(admin_password)
        .args(users.iter().map(|(name, password)| format!("{name}:{password}")))
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|error| WebAppError::Setup(error.to_string()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(WebAppError::Setup(format!("{} {}", stdout.trim(), stderr.trim())));
    }
    let ids = users.iter().map(|(name, _)| {
        let prefix = format!("user {name} ");
        stdout.lines().find_map(|line| line.strip_prefix(&prefix)).map(str::to_owned)
    });
    ids.collect::<Option<Vec<_>>>().ok_or_else(|| WebAppError::Setup(format!("no user ids in {stdout:?}")))
}

impl WebApp {
    /// Starts the tracker; `None` (with a message on stderr) only when `python3` is not installed, so a test can
    /// skip. Any other failure panics: a broken install must not look like a skipped test.
    pub async fn start_or_skip() -> Option<Self> {
        match Self::start().await {
            Ok(app) => Some(app),
            Err(WebAppError::PythonMissing) => {
                eprintln!("SKIPPED: python3 is not installed, so the web application (Roundup) tests cannot run");
                None
            }
            Err(error) => panic!("test web application: {error}"),
        }
    }

    /// A fresh tracker with the users `main` and `alt`, served on a free loopback port.
    pub async fn start() -> Result<Self, WebAppError> {
        if !python_available() {
            return Err(WebAppError::PythonMissing);
        }
        install().await?;
        let dir = tempfile::tempdir().map_err(WebAppError::Spawn)?;
        let home = dir.path().join("tracker");
        let names = ["main", "alt"];
        let passwords = names.map(|name| format!("{name}-password"));
        let accounts: Vec<(&str, &str)> = names.iter().copied().zip(passwords.iter().map(String::as_str)).collect();
        let ids = make_tracker(&home, &accounts).await?;
        let users = accounts
            .iter()
            .zip(ids)
            .map(|((name, password), id)| User { username: (*name).into(), password: (*password).into(), id })
            .collect();
        let mut app = Self { url: String::new(), port: 0, users, home, _dir: dir, process: None };
        app.serve().await?;
        Ok(app)
    }

    /// Starts `serve.py` on `self.port` (0 the first time: any free port) and reads where it listens.
    async fn serve(&mut self) -> Result<(), WebAppError> {
        let mut command = Command::new(venv_bin("python"));
        command
            .arg(workspace_root().join("tests/webapp/serve.py"))
            .arg(&self.home)
            .arg(self.port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if std::env::var_os("KAGE_WEBAPP_LOG").is_none() {
            command.stderr(Stdio::null());
        }
        let mut child = command.spawn().map_err(WebAppError::Spawn)?;
        let stdin = child.stdin.take().expect("piped stdin");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let url = match tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await {
            Ok(Ok(Some(line))) => match line.strip_prefix("listening on ") {
                Some(url) => url.trim().to_owned(),
                None => return Err(WebAppError::NotReady(format!("first line {line:?}"))),
            },
            Ok(Ok(None)) => return Err(WebAppError::NotReady("it exited (KAGE_WEBAPP_LOG=1 shows why)".into())),
            Ok(Err(error)) => return Err(WebAppError::NotReady(error.to_string())),
            Err(_) => return Err(WebAppError::NotReady("no answer within 30 s".into())),
        };
        // Keep reading stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.port = url
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .ok_or_else(|| WebAppError::NotReady(format!("no port in {url}")))?;
        self.url = url;
        self.process = Some(Running { child, stdin });
        Ok(())
    }

    /// The tracker's home page, `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `http://127.0.0.1:<port>`: the one origin a web game entry for this site allows.
    pub fn origin(&self) -> String {
        self.url.trim_end_matches('/').to_owned()
    }

    pub fn users(&self) -> &[User] {
        &self.users
    }

    pub fn user(&self, username: &str) -> &User {
        self.users.iter().find(|user| user.username == username).unwrap_or_else(|| panic!("no user {username}"))
    }

    /// The user's own page: their details, shown to that user signed in and to nobody anonymous.
    pub fn page_of(&self, user: &User) -> String {
        format!("{}user{}", self.url, user.id)
    }

    /// What every page says to `user` when they are signed in, and never otherwise.
    pub fn greeting(user: &User) -> String {
        format!("Hello, {}", user.username)
    }

    /// The process id of the server, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(|process| process.child.id())
    }

    /// Signs `user` in through the tracker's own form, as a browser would (the form's CSRF token, Origin and
    /// Referer), keeping the session in `http`'s cookie store. `remember` ticks "Remember me" (a cookie that
    /// lasts a year, which a browser keeps on disk, instead of one for the browser's session).
    pub async fn sign_in(&self, http: &reqwest::Client, user: &User, remember: bool) -> Result<(), WebAppError> {
        let form_page = http.get(&self.url).send().await?.error_for_status()?.text().await?;
        let csrf = form_value(&form_page, "@csrf").ok_or_else(|| WebAppError::SignIn {
            username: user.username.clone(),
            detail: "the home page has no sign-in form".into(),
        })?;
        let mut form = vec![
            ("__login_name", user.username.as_str()),
            ("__login_password", user.password.as_str()),
            ("@action", "Login"),
            ("@csrf", csrf.as_str()),
            ("__came_from", self.url.as_str()),
        ];
        if remember {
            form.push(("remember", "on"));
        }
        let page = http
            .post(&self.url)
            .header(reqwest::header::ORIGIN, self.origin())
            .header(reqwest::header::REFERER, &self.url)
            .form(&form)
            .send()
            .await?
            .text()
            .await?;
        if page.contains(&Self::greeting(user)) {
            Ok(())
        } else {
            let detail = error_message(&page).unwrap_or_else(|| "no greeting on the page after signing in".into());
            Err(WebAppError::SignIn { username: user.username.clone(), detail })
        }
    }

    /// Stops the server (closing its standard input, then SIGKILL after 5 s) and waits for it to exit.
    pub async fn stop(&mut self) {
        if let Some(Running { mut child, stdin }) = self.process.take() {
            drop(stdin);
            if tokio::time::timeout(Duration::from_secs(5), child.wait()).await.is_err() {
                let _ = child.kill().await;
            }
        }
    }

    /// Stops the server and starts it again on the same tracker and port: users and sessions are kept.
    pub async fn restart(&mut self) -> Result<(), WebAppError> {
        self.stop().await;
        self.serve().await
    }
}

/// The `value` of the form input named `name` in `page`.
fn form_value(page: &str, name: &str) -> Option<String> {
    let after_name = &page[page.find(&format!(r#"name="{name}""#))?..];
    let input_end = after_name.find('>')?;
    let value = after_name[..input_end].split(r#"value=""#).nth(1)?;
    Some(value.split('"').next()?.to_owned())
}

/// The error Roundup shows at the top of a page (`<p class="error-message">`), if any.
fn error_message(page: &str) -> Option<String> {
    let start = page.find("error-message")?;
    let text = &page[start..];
    let text = &text[text.find('>')? + 1..];
    Some(text[..text.find('<')?].trim().to_owned())
}

/// A random number for the admin's password: the clock and the process id, hashed by the standard library.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_value_reads_an_inputs_value_over_line_breaks() {
        let page = "<input name=\"@csrf\" type=\"hidden\"\n             value=\"abc_123\">";
        assert_eq!(form_value(page, "@csrf").as_deref(), Some("abc_123"));
        assert_eq!(form_value(page, "other"), None);
        assert_eq!(form_value("<input name=\"@csrf\"><input value=\"x\">", "@csrf"), None, "not another input's");
    }
}
