//! [`DjangoProvider`]: `tests/oidc-provider-django/serve.py` (django-oauth-toolkit) as a child process.
//!
//! Its Python packages live in a venv under `target/` that `scripts/setup-oidc-django` makes from pinned
//! requirements; it is run here when the venv is missing (once, under a lock), so `cargo test` alone works.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::provider::ProviderError;

/// The game server's client at the provider, allowed to introspect tokens (HTTP Basic).
pub const INTROSPECTION_CLIENT_ID: &str = "kage-game-server";
pub const INTROSPECTION_CLIENT_SECRET: &str = "game-server-secret";
/// django-oauth-toolkit knows no `offline_access` (it issues refresh tokens without it) and refuses unknown
/// scopes: the game server announces these instead.
pub const SCOPES: &str = "openid profile";

/// How to run it.
#[derive(Debug, Clone)]
pub struct DjangoOptions {
    pub access_ttl_secs: u64,
    /// `REFRESH_TOKEN_GRACE_PERIOD_SECONDS`: a spent refresh token presented again within it gets the same
    /// successor (0: none, DOT's default).
    pub grace_secs: u64,
    /// `REFRESH_TOKEN_REUSE_PROTECTION`: a spent token presented again revokes its whole family.
    pub reuse_protection: bool,
}

impl Default for DjangoOptions {
    fn default() -> Self {
        Self { access_ttl_secs: 300, grace_secs: 0, reuse_protection: false }
    }
}

pub struct DjangoProvider {
    issuer: String,
    base: String,
    http: reqwest::Client,
    _stdin: ChildStdin,
    _child: Child,
}

/// `tests/oidc-provider-django`, next to this crate.
pub fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../oidc-provider-django")
}

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python, as `scripts/setup-oidc-django` makes it (`CARGO_TARGET_DIR` honoured).
fn venv_python() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_dir().join("target"), PathBuf::from);
    target.join("oidc-django-venv/bin/python")
}

pub fn python_available() -> bool {
    std::process::Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl DjangoProvider {
    pub async fn start(options: DjangoOptions) -> Result<Self, ProviderError> {
        if !python_available() {
            return Err(ProviderError::PythonMissing);
        }
        tokio::task::spawn_blocking(install).await.expect("install task")?;
        let mut command = Command::new(venv_python());
        command
            .arg(provider_dir().join("serve.py"))
            .env("KAGE_DOT_ACCESS_TTL", options.access_ttl_secs.to_string())
            .env("KAGE_DOT_GRACE_SECS", options.grace_secs.to_string())
            .env("KAGE_DOT_REUSE_PROTECTION", if options.reuse_protection { "1" } else { "0" })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if std::env::var_os("KAGE_OIDC_PROVIDER_LOG").is_none() {
            command.stderr(Stdio::null());
        }
        let mut child = command.spawn().map_err(ProviderError::Spawn)?;
        let stdin = child.stdin.take().expect("piped stdin");
        let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        let issuer = match tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await {
            Ok(Ok(Some(line))) if line.starts_with("http://") => line.trim().to_owned(),
            Ok(Ok(other)) => return Err(ProviderError::NotReady(format!("first line {other:?}"))),
            Ok(Err(error)) => return Err(ProviderError::NotReady(error.to_string())),
            Err(_) => return Err(ProviderError::NotReady("no answer within 60 s".into())),
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let base = issuer.trim_end_matches("/o").to_owned();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        Ok(Self { issuer, base, http, _stdin: stdin, _child: child })
    }

    /// `http://127.0.0.1:<port>/o`: an issuer with a path, as DOT is usually mounted.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn token_endpoint(&self) -> String {
        format!("{}/token/", self.issuer)
    }

    pub fn revocation_endpoint(&self) -> String {
        format!("{}/revoke_token/", self.issuer)
    }

    /// DOT's `sub` for a login: its user's primary key.
    pub async fn subject(&self, login: &str) -> Result<String, ProviderError> {
        let subjects: serde_json::Value = self.admin("/__admin/subjects").await?;
        Ok(subjects[login].as_str().expect("a known login").to_owned())
    }

    /// How many refresh tokens of `login` DOT holds unrevoked: its own records, read from its database.
    pub async fn live_refresh_tokens(&self, login: &str) -> Result<u64, ProviderError> {
        let grants: serde_json::Value = self.admin(&format!("/__admin/grants?user={login}")).await?;
        Ok(grants["live_refresh_tokens"].as_u64().expect("a count"))
    }

    async fn admin(&self, path: &str) -> Result<serde_json::Value, ProviderError> {
        let response = self.http.get(format!("{}{path}", self.base)).send().await?;
        Ok(crate::provider::check(response, "admin endpoint").await?.json().await?)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// Runs `scripts/setup-oidc-django` once if the venv lacks django-oauth-toolkit. A lock file keeps two test
/// processes from installing at once.
fn install() -> Result<(), ProviderError> {
    static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = IN_PROCESS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let installed = || {
        std::process::Command::new(venv_python())
            .args(["-c", "import oauth2_provider, django"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if installed() {
        return Ok(());
    }
    let dir = provider_dir();
    let lock = dir.join(".pip-install.lock");
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(_) => break,
            Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            Err(error) => {
                return Err(ProviderError::Install { dir, detail: format!("lock {lock:?}: {error}") });
            }
        }
    }
    let result = if installed() {
        Ok(())
    } else {
        let output = std::process::Command::new("bash")
            .arg(workspace_dir().join("scripts/setup-oidc-django"))
            .output()
            .map_err(|error| ProviderError::Install { dir: dir.clone(), detail: error.to_string() });
        match output {
            Ok(output) if output.status.success() => Ok(()),
            Ok(output) => Err(ProviderError::Install {
                dir: dir.clone(),
                detail: String::from_utf8_lossy(&output.stderr).chars().take(2000).collect(),
            }),
            Err(error) => Err(error),
        }
    };
    let _ = std::fs::remove_file(&lock);
    result
}
