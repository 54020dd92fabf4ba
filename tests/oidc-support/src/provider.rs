//! [`TestProvider`]: `tests/oidc-provider/provider.mjs` as a child process, and the calls a client makes to it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::browser::{Browser, BrowserError, Credentials};
use crate::flow::{AuthorizationRequest, TokenSet};
use crate::{CLIENT_ID, DEFAULT_AUDIENCE, OTHER_AUDIENCE};

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("node is not installed (needed for the OpenID Connect provider tests)")]
    NodeMissing,
    #[error("python3 is not installed (needed for the django-oauth-toolkit provider tests)")]
    PythonMissing,
    #[error("npm ci in {dir} failed: {detail}")]
    Install { dir: PathBuf, detail: String },
    #[error("cannot start the provider: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("the provider did not print its issuer URL: {0}")]
    NotReady(String),
    #[error("{endpoint} answered {status}: {body}")]
    Endpoint { endpoint: &'static str, status: reqwest::StatusCode, body: String },
    #[error(transparent)]
    Browser(#[from] BrowserError),
    #[error("the login ended without a code: {0}")]
    NoCode(String),
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

/// How to run the provider.
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    /// Resource indicators it issues access tokens for; the first is the default audience.
    pub audiences: Vec<String>,
    /// Access-token signing algorithm: RS256, PS256, ES256 or EdDSA.
    pub alg: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    /// `None`: any free port.
    pub port: Option<u16>,
    /// Refresh tokens rotate on every use, with reuse detection (oidc-provider's default for a public client).
    /// `false`: client `kage`'s refresh token stays the same until it expires or is revoked.
    pub rotate_refresh_tokens: bool,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        Self {
            audiences: vec![DEFAULT_AUDIENCE.into(), OTHER_AUDIENCE.into()],
            alg: "RS256".into(),
            access_ttl_secs: 300,
            refresh_ttl_secs: 86400,
            port: None,
            rotate_refresh_tokens: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    pub revocation_endpoint: Option<String>,
}

/// A running provider; it stops when this is dropped (and when the test process dies: it exits on stdin's end).
pub struct TestProvider {
    issuer: String,
    discovery: Discovery,
    http: reqwest::Client,
    _stdin: ChildStdin,
    _child: Child,
}

/// `tests/oidc-provider`, next to this crate.
pub fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../oidc-provider")
}

pub fn node_available() -> bool {
    std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl TestProvider {
    /// Starts a provider; `None` (with a message on stderr) only when `node` is not installed, so a test can
    /// skip. Any other failure panics: a broken provider must not look like a skipped test.
    pub async fn start_or_skip(options: ProviderOptions) -> Option<Self> {
        match Self::start(options).await {
            Ok(provider) => Some(provider),
            Err(ProviderError::NodeMissing) => {
                eprintln!("SKIPPED: node is not installed, so the OpenID Connect provider tests cannot run");
                None
            }
            Err(error) => panic!("test OpenID Connect provider: {error}"),
        }
    }

    pub async fn start(options: ProviderOptions) -> Result<Self, ProviderError> {
        if !node_available() {
            return Err(ProviderError::NodeMissing);
        }
        let dir = provider_dir();
        tokio::task::spawn_blocking({
            let dir = dir.clone();
            move || install(&dir)
        })
        .await
        .expect("npm install task")?;
        let mut command = Command::new("node");
        command
            .arg(dir.join("provider.mjs"))
            .current_dir(&dir)
            .env("KAGE_OIDC_PORT", options.port.unwrap_or(0).to_string())
            .env("KAGE_OIDC_AUDIENCES", options.audiences.join(","))
            .env("KAGE_OIDC_ALG", &options.alg)
            .env("KAGE_OIDC_ACCESS_TTL", options.access_ttl_secs.to_string())
            .env("KAGE_OIDC_REFRESH_TTL", options.refresh_ttl_secs.to_string())
            .env("KAGE_OIDC_ROTATE_REFRESH", if options.rotate_refresh_tokens { "1" } else { "0" })
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        // oidc-provider warns loudly about its development settings; show it only when asked.
        if std::env::var_os("KAGE_OIDC_PROVIDER_LOG").is_none() {
            command.stderr(Stdio::null());
        }
        let mut child = command.spawn().map_err(ProviderError::Spawn)?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let issuer = match tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await {
            Ok(Ok(Some(line))) if line.starts_with("http://") => line.trim().to_owned(),
            Ok(Ok(other)) => return Err(ProviderError::NotReady(format!("first line {other:?}"))),
            Ok(Err(error)) => return Err(ProviderError::NotReady(error.to_string())),
            Err(_) => return Err(ProviderError::NotReady("no answer within 30 s".into())),
        };
        // Keep reading stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        let discovery: Discovery = http
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(Self { issuer, discovery, http, _stdin: stdin, _child: child })
    }

    /// The issuer URL, `http://127.0.0.1:<port>`: the `iss` of its tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    /// The URL the browser opens for `request`.
    pub fn authorization_url(&self, request: &AuthorizationRequest) -> String {
        request.url(&self.discovery.authorization_endpoint)
    }

    /// Trades an authorization code for tokens, proving possession of the PKCE verifier.
    pub async fn exchange_code(&self, request: &AuthorizationRequest, code: &str) -> Result<TokenSet, ProviderError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", request.client_id.as_str()),
            ("code", code),
            ("redirect_uri", request.redirect_uri.as_str()),
            ("code_verifier", request.pkce.verifier.as_str()),
        ];
        if let Some(resource) = &request.resource {
            form.push(("resource", resource));
        }
        self.token_request(&form).await
    }

    /// Trades a refresh token for new tokens (the provider rotates refresh tokens of public clients).
    pub async fn refresh(&self, refresh_token: &str, resource: Option<&str>) -> Result<TokenSet, ProviderError> {
        let mut form =
            vec![("grant_type", "refresh_token"), ("client_id", CLIENT_ID), ("refresh_token", refresh_token)];
        if let Some(resource) = resource {
            form.push(("resource", resource));
        }
        self.token_request(&form).await
    }

    /// RFC 7009 revocation of a refresh token (or access token).
    pub async fn revoke(&self, token: &str) -> Result<(), ProviderError> {
        let endpoint =
            self.discovery.revocation_endpoint.clone().unwrap_or_else(|| format!("{}/token/revocation", self.issuer));
        let response = self.http.post(endpoint).form(&[("client_id", CLIENT_ID), ("token", token)]).send().await?;
        check(response, "revocation endpoint").await.map(drop)
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenSet, ProviderError> {
        let response = self.http.post(&self.discovery.token_endpoint).form(form).send().await?;
        Ok(check(response, "token endpoint").await?.json().await?)
    }

    /// The whole login as a player does it: `browser` opens the request, signs in with `login` if asked,
    /// and the code is exchanged for tokens.
    pub async fn sign_in(
        &self,
        browser: &Browser,
        request: &AuthorizationRequest,
        login: Option<&Credentials>,
    ) -> Result<TokenSet, ProviderError> {
        let callback = browser.authorize(&self.authorization_url(request), login).await?;
        let code = callback.code.clone().ok_or_else(|| ProviderError::NoCode(callback.url.clone()))?;
        assert_eq!(callback.state.as_deref(), Some(request.state.as_str()), "the provider returns the state");
        self.exchange_code(request, &code).await
    }

    /// Makes a new signing key the one that signs from now on, keeping the old ones in the JWKS. Returns the
    /// new key ids.
    pub async fn rotate_signing_key(&self) -> Result<Vec<String>, ProviderError> {
        #[derive(Deserialize)]
        struct Rotated {
            signing_kids: Vec<String>,
        }
        let response = self.http.post(format!("{}/__admin/rotate-signing-key", self.issuer)).send().await?;
        Ok(check(response, "admin endpoint").await?.json::<Rotated>().await?.signing_kids)
    }
}

pub(crate) async fn check(
    response: reqwest::Response,
    endpoint: &'static str,
) -> Result<reqwest::Response, ProviderError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    Err(ProviderError::Endpoint { endpoint, status, body })
}

/// `npm ci` once, if `node_modules` lacks the provider. A lock file keeps two test processes from installing
/// into the same directory at once.
fn install(dir: &Path) -> Result<(), ProviderError> {
    static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = IN_PROCESS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let installed = || dir.join("node_modules/oidc-provider/package.json").exists();
    if installed() {
        return Ok(());
    }
    let lock = dir.join(".npm-install.lock");
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
            Ok(_) => break,
            Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            Err(error) => {
                return Err(ProviderError::Install { dir: dir.into(), detail: format!("lock {lock:?}: {error}") });
            }
        }
    }
    let result = if installed() {
        Ok(())
    } else {
        let output = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(dir)
            .output()
            .map_err(|error| ProviderError::Install { dir: dir.into(), detail: error.to_string() });
        match output {
            Ok(output) if output.status.success() => Ok(()),
            Ok(output) => Err(ProviderError::Install {
                dir: dir.into(),
                detail: String::from_utf8_lossy(&output.stderr).chars().take(2000).collect(),
            }),
            Err(error) => Err(error),
        }
    };
    let _ = std::fs::remove_file(&lock);
    result
}
