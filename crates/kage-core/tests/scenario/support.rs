//! The scenario harness: a real kage-server on 127.0.0.1 (SQLite in a temp dir) with a request log, behind a
//! small fault-injecting proxy on loopback, and a `Core` talking to it with an in-memory vault.
//!
//! The proxy is the test-only fault layer: it can delay answers, swap a profile for another player's, or act
//! as a server that is down. The server's issuer is the proxy's URL, so tokens verify as they would for a real
//! deployment behind a proxy.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::TryStreamExt;
use kage_core::events::{LiveConfig, WindowSink, WindowUpdate};
use kage_core::vault::{CredentialStore, MemoryStore};
use kage_core::{AccountKey, Core, CoreConfig, SecretString, ServerOrigin, WindowLabel};
use kage_server::RunningServer;
use kage_server::observe::{Presented, RequestRecord};

#[derive(Clone, Default)]
pub struct Faults {
    pub down: bool,
    pub delay_profile: Option<Duration>,
    pub delay_refresh: Option<Duration>,
    /// Answer `GET /v1/viewer` with this body instead of the server's.
    pub swap_profile: Option<serde_json::Value>,
    /// Refreshes fail as if the network dropped them (502), everything else passes.
    pub refresh_unreachable: bool,
    /// Hold every window's `GET /v1/viewer` until [`Harness::release`] lets it through.
    pub hold_profiles: bool,
    /// Answer every request with `307 Temporary Redirect` to this base URL (same path).
    pub redirect_to: Option<String>,
    /// Answer requests to this path 404, as a server without that route would.
    pub missing_route: Option<String>,
}

/// How an answer is lost after the server acted on its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lost {
    /// The connection drops before any of the answer arrives.
    Dropped,
    /// The status and headers arrive, then the connection drops mid-body.
    Truncated,
    /// Nothing arrives until well past the client's timeout.
    Stalled,
    /// A gateway answers 502 instead (a balancer whose server crashed mid-request, after acting on it).
    BadGateway,
    /// Not an answer lost but the request: the connection drops before it reaches the server, which never
    /// sees it. To the client it looks just like [`Lost::Dropped`].
    NeverArrived,
}

/// A window's profile request, held by the proxy until released.
pub struct Held {
    pub id: u64,
    pub window: String,
    pub subject: Option<String>,
    release: tokio::sync::oneshot::Sender<()>,
}

struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    faults: Mutex<Faults>,
    /// How many of the next bearer tokens to garble on the way: the server then sees a token it rejects
    /// while the client believes it valid (as after a server-side key change).
    garble_bearers: std::sync::atomic::AtomicUsize,
    held: Mutex<Vec<Held>>,
    next_held: std::sync::atomic::AtomicU64,
    /// (path, how, how many more), one entry per path: answers (or requests) to lose.
    lose: Mutex<Vec<(String, Lost, usize)>>,
}

pub struct Harness {
    /// The server behind the proxy (`None` while killed), and how to start it again on the same port.
    server: Mutex<Option<RunningServer>>,
    server_config: kage_server::Config,
    pub origin: ServerOrigin,
    pub core: Core,
    pub vault: Arc<MemoryStore>,
    log: Arc<Mutex<Vec<RequestRecord>>>,
    proxy: Arc<ProxyState>,
    pub dir: tempfile::TempDir,
}

pub fn window(label: &str) -> WindowLabel {
    WindowLabel::new(label)
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(|_| {}, LiveConfig::default()).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut kage_server::Config), live: LiveConfig) -> Self {
        Self::start_configured(configure, |core| core.live = live).await
    }

    /// As [`Harness::start_with`], with the client's configuration adjusted by `configure_core` too (its
    /// defaults here: 3 s request timeout, 500 ms keychain timeout).
    pub async fn start_configured(
        configure: impl FnOnce(&mut kage_server::Config),
        configure_core: impl FnOnce(&mut CoreConfig),
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        Self::start_on(listener, configure, configure_core).await
    }

    /// As [`Harness::start_configured`], the proxy (the origin Kage talks to) on `listener`, bound by the
    /// caller: who needs the origin before the server starts (an identity provider issuing tokens for it).
    pub async fn start_on(
        listener: tokio::net::TcpListener,
        configure: impl FnOnce(&mut kage_server::Config),
        configure_core: impl FnOnce(&mut CoreConfig),
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let proxy_url = format!("http://{}", listener.local_addr().unwrap());

        let log = Arc::new(Mutex::new(Vec::new()));
        let mut config = kage_server::Config::new(dir.path().join("server"));
        config.demo = true;
        config.issuer = Some(proxy_url.clone());
        let sink = log.clone();
        config.observer = Some(Arc::new(move |record| sink.lock().unwrap().push(record)));
        configure(&mut config);
        let server = kage_server::start(config.clone()).await.expect("server starts");
        config.listen = server.addr;

        let proxy = Arc::new(ProxyState {
            upstream: server.base_url(),
            http: reqwest::Client::new(),
            faults: Mutex::new(Faults::default()),
            garble_bearers: Default::default(),
            held: Mutex::default(),
            next_held: Default::default(),
            lose: Mutex::default(),
        });
        let app = axum::Router::new().fallback(forward).with_state(proxy.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });

        let vault = Arc::new(MemoryStore::default());
        let mut core_config = CoreConfig::new(dir.path().join("client"));
        core_config.request_timeout = Duration::from_secs(3);
        core_config.keychain_timeout = Duration::from_millis(500);
        configure_core(&mut core_config);
        let core = Core::new(core_config, vault.clone() as Arc<dyn CredentialStore>);
        let origin = ServerOrigin::parse(&proxy_url).unwrap();
        let server_config = config;
        Self { server: Mutex::new(Some(server)), server_config, origin, core, vault, log, proxy, dir }
    }

    /// The next `times` requests to `path` reach the server, which acts on them, but their answers are lost
    /// on the way back as `how` says (the faults players hit: Wi-Fi blips, proxy timeouts); with
    /// [`Lost::NeverArrived`], the requests themselves are lost. Replaces what was set for `path` before;
    /// other paths keep theirs.
    pub fn lose_answers(&self, path: &str, how: Lost, times: usize) {
        let mut lose = self.proxy.lose.lock().unwrap();
        lose.retain(|(lose_path, ..)| lose_path != path);
        lose.push((path.to_owned(), how, times));
    }

    /// How many answers set by [`Harness::lose_answers`] are still to be lost.
    pub fn answers_left_to_lose(&self) -> usize {
        self.proxy.lose.lock().unwrap().iter().map(|(_, _, left)| left).sum()
    }

    /// A second app start on the same data dir and vault, as after a restart (or a crash).
    pub fn restart(&self, request_timeout: Duration) -> Core {
        let mut config = CoreConfig::new(self.dir.path().join("client"));
        config.request_timeout = request_timeout;
        config.keychain_timeout = Duration::from_millis(500);
        Core::new(config, self.vault.clone() as Arc<dyn CredentialStore>)
    }

    /// Stops the server (its event streams end, new connections are refused), as a crash or an outage would.
    pub async fn kill_server(&self) {
        let server = self.server.lock().unwrap().take();
        if let Some(server) = server {
            server.shutdown().await.expect("server stops");
        }
    }

    /// Starts the server again on the same port and data directory.
    pub async fn restart_server(&self) {
        let server = kage_server::start(self.server_config.clone()).await.expect("server starts again");
        *self.server.lock().unwrap() = Some(server);
    }

    /// The running server's state (`None` while killed), for looking inside it.
    pub fn server_state(&self) -> Option<kage_server::AppState> {
        self.server.lock().unwrap().as_ref().map(|server| server.state.clone())
    }

    pub fn garble_next_bearers(&self, count: usize) {
        self.proxy.garble_bearers.store(count, std::sync::atomic::Ordering::SeqCst);
    }

    /// Requests held by `hold_profiles`, oldest first: (id, window, token subject).
    pub fn held(&self) -> Vec<(u64, String, Option<String>)> {
        self.proxy.held.lock().unwrap().iter().map(|h| (h.id, h.window.clone(), h.subject.clone())).collect()
    }

    /// Lets the held request `id` through.
    pub fn release(&self, id: u64) {
        let mut held = self.proxy.held.lock().unwrap();
        if let Some(index) = held.iter().position(|h| h.id == id) {
            let _ = held.remove(index).release.send(());
        }
    }

    /// The server itself, bypassing the proxy and its faults.
    pub fn server_url(&self, path: &str) -> String {
        format!("{}{path}", self.proxy.upstream)
    }

    /// Another app instance's worth of core on the same server: its own data dir and vault.
    pub fn new_core(&self, live: LiveConfig) -> (Core, Arc<MemoryStore>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let vault = Arc::new(MemoryStore::default());
        let mut config = CoreConfig::new(dir.path());
        config.live = live;
        config.request_timeout = Duration::from_secs(3);
        config.keychain_timeout = Duration::from_millis(500);
        (Core::new(config, vault.clone() as Arc<dyn CredentialStore>), vault, dir)
    }

    pub fn release_all(&self) {
        for held in self.proxy.held.lock().unwrap().drain(..) {
            let _ = held.release.send(());
        }
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.proxy.faults.lock().unwrap() = faults;
    }

    pub async fn sign_in(&self, window: &WindowLabel, username: &str) -> AccountKey {
        let password = SecretString::from(format!("{username}-password"));
        let signed_in = self.core.sign_in(window, &self.origin, username, &password, true).await.expect("sign-in");
        assert!(matches!(signed_in.remembered, Ok(true)));
        signed_in.account
    }

    pub fn records(&self) -> Vec<RequestRecord> {
        self.log.lock().unwrap().clone()
    }

    pub fn clear_records(&self) {
        self.log.lock().unwrap().clear();
    }

    pub fn refreshes(&self) -> usize {
        self.records().iter().filter(|r| r.path == "/v1/sessions/refresh").count()
    }

    /// I1 over the whole log: every request to a protected route carried a readable bearer token, and the
    /// fail-closed marker; a request that names its window carried the token of `expected(window)`.
    pub fn assert_own_tokens(&self, expected: impl Fn(&str) -> Option<String>) {
        for record in self.records() {
            if !record.path.starts_with("/v1/viewer") && record.path != "/v1/transfers" && record.path != "/v1/events" {
                continue;
            }
            let Presented::Bearer { subject: Some(subject), .. } = &record.authorization else {
                panic!("{} {} without a readable bearer token: {:?}", record.method, record.path, record.authorization);
            };
            assert!(record.auth_required_marker, "{} {} without the fail-closed marker", record.method, record.path);
            assert!(!record.cookie, "a cookie was sent");
            if let Some(window) = &record.window {
                let owner = expected(window).unwrap_or_else(|| panic!("unknown window {window}"));
                assert_eq!(subject, &owner, "window {window} sent another account's token to {}", record.path);
            }
        }
    }
}

/// Counts down one loss set by [`Harness::lose_answers`] for `path`, if it is of a kind `when` picks.
fn take_loss(proxy: &ProxyState, path: &str, when: impl Fn(Lost) -> bool) -> Option<Lost> {
    let mut lose = proxy.lose.lock().unwrap();
    let (_, how, left) = lose.iter_mut().find(|(lose_path, how, left)| lose_path == path && *left > 0 && when(*how))?;
    *left -= 1;
    Some(*how)
}

async fn forward(State(proxy): State<Arc<ProxyState>>, request: Request) -> Response {
    let faults = proxy.faults.lock().unwrap().clone();
    if faults.down {
        return (StatusCode::SERVICE_UNAVAILABLE, "down for the test").into_response();
    }
    let path = request.uri().path().to_owned();
    if faults.missing_route.as_deref() == Some(path.as_str()) {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(serde_json::json!({"error": "not_found", "message": "no such route"})),
        )
            .into_response();
    }
    if let Some(base) = &faults.redirect_to {
        let location = format!("{base}{path}");
        return (StatusCode::TEMPORARY_REDIRECT, [(axum::http::header::LOCATION, location)]).into_response();
    }
    let is_profile = request.method() == axum::http::Method::GET && path == "/v1/viewer";
    if let (true, Some(delay)) = (is_profile, faults.delay_profile) {
        tokio::time::sleep(delay).await;
    }
    if path == "/v1/sessions/refresh" && faults.refresh_unreachable {
        return StatusCode::BAD_GATEWAY.into_response();
    }
    let window = request.headers().get("x-kage-window").and_then(|v| v.to_str().ok()).map(str::to_owned);
    if let (true, true, Some(window)) = (is_profile, faults.hold_profiles, window) {
        let subject = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(subject_of);
        let (release, released) = tokio::sync::oneshot::channel();
        let id = proxy.next_held.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        proxy.held.lock().unwrap().push(Held { id, window, subject, release });
        let _ = released.await;
    }
    if let (true, Some(delay)) = (path == "/v1/sessions/refresh", faults.delay_refresh) {
        tokio::time::sleep(delay).await;
    }
    if take_loss(&proxy, &path, |how| how == Lost::NeverArrived).is_some() {
        std::panic::resume_unwind(Box::new("request dropped on purpose"));
    }
    let url = format!("{}{}", proxy.upstream, request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut upstream = proxy.http.request(request.method().clone(), url);
    // Only requests a window sent, so background traffic (event streams) cannot take the garbling.
    let garble = request.headers().contains_key("x-kage-window")
        && proxy
            .garble_bearers
            .fetch_update(std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst, |n| {
                n.checked_sub(1)
            })
            .is_ok();
    for (name, value) in request.headers() {
        if name == "authorization" && garble {
            // Same subject and session (the log still attributes it), broken signature.
            upstream = upstream.header(name, format!("{}x", value.to_str().unwrap()));
        } else if name != "host" && name != "content-length" {
            upstream = upstream.header(name, value);
        }
    }
    let body = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap();
    let response = match upstream.body(body).send().await {
        Ok(response) => response,
        Err(_) => return StatusCode::BAD_GATEWAY.into_response(),
    };
    let status = response.status();
    // The server has acted; now the answer may be lost.
    let lost = take_loss(&proxy, &path, |how| how != Lost::NeverArrived);
    match lost {
        // Unwinding the connection's task closes the socket with no answer at all (resume_unwind: no panic
        // message, this is not a bug being reported).
        Some(Lost::Dropped) => std::panic::resume_unwind(Box::new("answer dropped on purpose")),
        Some(Lost::BadGateway) => return StatusCode::BAD_GATEWAY.into_response(),
        Some(Lost::Stalled) => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        Some(Lost::Truncated) => {
            let body = response.bytes().await.unwrap_or_default();
            let half = body.slice(..body.len() / 2);
            let chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
                vec![Ok(half), Err(std::io::Error::other("connection lost mid-answer"))];
            return Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from_stream(futures_util::stream::iter(chunks)))
                .unwrap();
        }
        Some(Lost::NeverArrived) | None => {}
    }
    if let (true, Some(swap), true) = (is_profile, &faults.swap_profile, status.is_success()) {
        return (status, axum::Json(swap.clone())).into_response();
    }
    let mut builder = Response::builder().status(status);
    for (name, value) in response.headers() {
        if name != "content-length" && name != "transfer-encoding" {
            builder = builder.header(name, value);
        }
    }
    builder.body(Body::from_stream(response.bytes_stream().map_err(std::io::Error::other))).unwrap()
}

/// The `sub` claim of a JWT, read without verification (the server verifies; this is a record).
pub fn subject_of(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims["sub"].as_str().map(str::to_owned)
}

/// A window's sink that keeps what it was sent.
#[derive(Default)]
pub struct RecordingSink(pub Mutex<Vec<WindowUpdate>>);

impl WindowSink for RecordingSink {
    fn send(&self, _account: &AccountKey, update: WindowUpdate) -> bool {
        self.0.lock().unwrap().push(update);
        true
    }
}

impl RecordingSink {
    pub fn updates(&self) -> Vec<WindowUpdate> {
        self.0.lock().unwrap().clone()
    }
}

/// Polls `condition` every 20 ms for up to `limit`.
pub async fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}
