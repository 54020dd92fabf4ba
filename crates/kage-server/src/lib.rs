//! kage-server: the reference game server behind Kage, and the session authority its tokens come from.
//!
//! A library first, so tests and the desktop app's sandbox run it in-process on `127.0.0.1:0`; `main.rs` is a
//! thin command line over [`start`]. Module map, from the wire inwards:
//! - [`api`]: the route table, the one place routes are declared.
//! - [`auth`]: the `Viewer` extractor: header-first authentication, fail-closed marker, viewer guard.
//! - [`host_guard`], [`client_addr`]: which Host a sandbox answers to; which client address a request counts for.
//! - [`tokens`], [`keys`]: EdDSA access tokens and the JWKS; [`oidc`]: an external OpenID Connect provider whose
//!   access tokens are accepted too, and the players its identities are.
//! - [`sessions`], [`refresh_token`]: refresh-token rotation, reuse detection with a grace period for lost
//!   answers, revocation visible on the next request; [`session_lifetime`]: idle and absolute limits, and
//!   pruning what ended sessions leave behind.
//! - [`game`], [`idempotency`], [`events`]: profiles, actions (each at most once per idempotency key), and
//!   per-player event channels.
//! - [`serve`]: the accept loop, and the header-read, request and idle timeouts every connection lives under.
//! - [`throttle`]: sign-in, sign-up and refresh limits per client address, shared by every instance on PostgreSQL.
//! - [`db`]: SQLite with one writer, or PostgreSQL for several instances; [`cluster`], [`shared_keys`]: what
//!   instances on one PostgreSQL database tell each other, and the signing keys they share;
//!   the `kage-files` crate: the data directory readable by its owner only, files replaced atomically.

pub mod api;
pub mod auth;
pub mod client_addr;
pub mod cluster;
pub mod db;
pub mod demo;
pub mod error;
pub mod events;
pub mod game;
pub mod host_guard;
pub mod idempotency;
pub mod key_sealing;
pub mod keys;
pub mod locks;
pub mod observe;
pub mod oidc;
pub mod openapi;
pub mod passwords;
pub mod refresh_token;
pub mod revocation;
pub mod secret;
pub mod serve;
pub mod session_lifetime;
pub mod sessions;
pub mod shared_keys;
pub mod stream_slots;
pub mod throttle;
pub mod tokens;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower_http::trace::TraceLayer;

use crate::db::{Backend, Database};
use crate::events::EventHub;
use crate::keys::SigningKeys;
use crate::oidc::identities::Identities;
use crate::oidc::revocations::ExternalRevocations;
use crate::oidc::{ExternalIssuer, OidcConfig};
use crate::passwords::{PasswordWorkLimits, Passwords};
use crate::serve::Timeouts;
use crate::session_lifetime::SessionLimits;
use crate::sessions::SessionStore;
use crate::throttle::{Throttle, ThrottlePolicy};
use crate::tokens::TokenService;

#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// Holds the signing keys and, unless `database_url` says otherwise, `kage.db`.
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    /// On PostgreSQL: where the listening connection (see [`cluster`]) connects, if not to `database_url`. For a
    /// `database_url` through a transaction pooler, which `LISTEN` cannot pass: a URL to PostgreSQL directly.
    pub listen_database_url: Option<String>,
    /// On PostgreSQL: how often an instance proves it hears, and how long it waits (see [`cluster::heartbeat`]).
    pub heartbeat: cluster::heartbeat::HeartbeatTiming,
    /// On PostgreSQL (required there): the encryption keys the shared signing keys are sealed with at rest.
    pub signing_key_sealing: Option<Arc<key_sealing::KeySealing>>,
    /// The `iss` of every token. Defaults to `http://<listen address>`; set it to the public URL behind a proxy.
    pub issuer: Option<String>,
    /// Create the demo players; on a loopback address, also answer only Host names of that address
    /// (`host_guard`: the sandbox's DNS-rebinding defence).
    pub demo: bool,
    pub rotate_signing_key: bool,
    pub access_ttl: Duration,
    pub browser_ttl: Duration,
    /// How long a spent refresh token still answers with its successor, if that successor is unused: a client
    /// whose refresh answer was lost retries without being signed out (docs/design.md, I11). Zero turns it off.
    pub refresh_grace: Duration,
    /// When a session ends by itself: not refreshed for `idle`, or `lifetime` after sign-in.
    pub sessions: SessionLimits,
    /// How often ended sessions and their refresh tokens are deleted (also once at start).
    pub prune_every: Duration,
    pub throttle: ThrottlePolicy,
    /// How many argon2 hashes run at once, and how many callers may wait for one (more get 503).
    pub password_work: PasswordWorkLimits,
    /// Take the client's address from the last `X-Forwarded-For` entry instead of the TCP peer. Only behind a
    /// reverse proxy that sets it: otherwise any client could pick its own address (see `client_addr`).
    pub trust_forwarded_for: bool,
    /// Header-read, request and idle timeouts (see `serve`).
    pub timeouts: Timeouts,
    /// Called with a record of every request, after its response is ready.
    pub observer: Option<observe::RequestObserver>,
    /// Also accept access tokens of this OpenID Connect provider (see [`oidc`]).
    pub oidc: Option<OidcConfig>,
    /// Sign-up and password sign-in are open. Off, players sign in only through `oidc`; sessions that already
    /// exist keep refreshing.
    pub password_sign_in: bool,
    /// On PostgreSQL: how long an open event stream's slot lasts after its instance stops renewing it (died).
    pub stream_slot_lease: Duration,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            database_url: None,
            listen_database_url: None,
            heartbeat: cluster::heartbeat::HeartbeatTiming::default(),
            signing_key_sealing: None,
            issuer: None,
            demo: false,
            rotate_signing_key: false,
            access_ttl: Duration::from_secs(60),
            browser_ttl: Duration::from_secs(12 * 3600),
            refresh_grace: Duration::from_secs(30),
            sessions: SessionLimits::default(),
            prune_every: Duration::from_secs(3600),
            throttle: ThrottlePolicy::default(),
            password_work: PasswordWorkLimits::default(),
            trust_forwarded_for: false,
            timeouts: Timeouts::default(),
            observer: None,
            oidc: None,
            password_sign_in: true,
            stream_slot_lease: stream_slots::DEFAULT_LEASE,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data directory {dir}: {source}")]
    DataDir { dir: PathBuf, source: std::io::Error },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error(transparent)]
    Database(#[from] db::DbError),
    #[error(transparent)]
    Pooler(#[from] cluster::pooler::PoolerError),
    #[error("--listen-database-url is for PostgreSQL, and so must --database-url be")]
    ListenUrlWithoutPostgres,
    #[error("cannot load sessions: {0}")]
    Sessions(#[source] sqlx::Error),
    #[error("cannot prune ended sessions: {0}")]
    Prune(#[source] sqlx::Error),
    #[error("cannot create the demo players: {0}")]
    Demo(#[source] error::ApiError),
    #[error("the OpenID Connect issuer {0} is this server's own issuer")]
    OidcIssuerIsOurs(String),
    #[error("the OpenID Connect provider cannot be trusted: {0}")]
    Oidc(#[source] oidc::keys::FetchError),
    /// Its ID tokens (whose `aud` is the client id) would open the API.
    #[error("the OpenID Connect audience {0:?} is the client id: the provider's ID tokens would open the API")]
    OidcAudienceIsClientId(String),
    #[error("cannot read the provider sign-outs: {0}")]
    ExternalRevocations(#[source] sqlx::Error),
}

/// Everything a handler may use, shared by reference.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub db: Database,
    pub tokens: TokenService,
    pub sessions: SessionStore,
    pub passwords: Passwords,
    pub throttle: Throttle,
    pub trust_forwarded_for: bool,
    pub events: EventHub,
    /// On PostgreSQL: the players' event stream slots, counted across instances (see [`stream_slots`]).
    pub stream_slots: Option<Arc<stream_slots::StreamSlots>>,
    /// The external provider whose access tokens are accepted too, if any.
    pub oidc: Option<ExternalIssuer>,
    pub identities: Identities,
    /// Provider sessions signed out here (see [`oidc::revocations`]).
    pub external_revocations: ExternalRevocations,
    /// On PostgreSQL: whether this instance hears the others' revocations and events (see [`cluster`]).
    pub hearing: cluster::Hearing,
    pub password_sign_in: bool,
    /// On PostgreSQL: what the shared signing keys are sealed with (see [`key_sealing`]).
    pub signing_key_sealing: Option<Arc<key_sealing::KeySealing>>,
    /// How often an open event stream sends a comment: often enough that it is never idle (see `serve`).
    pub event_keep_alive: Duration,
    pub shutdown: watch::Receiver<bool>,
    /// `GET /openapi.json`, built once at start-up from the route table (see [`openapi`]).
    pub openapi: Arc<serde_json::Value>,
}

impl Shared {
    /// On PostgreSQL, this instance does not hear the others right now (see [`cluster`]): it must not trust
    /// its memory of revocations alone.
    pub fn is_deaf(&self) -> bool {
        self.db.backend() == Backend::Postgres && !self.hearing.is_listening()
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// A server running on a background task. Dropping it does not stop it; call [`RunningServer::shutdown`].
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
    pruner: JoinHandle<()>,
    listener: Option<JoinHandle<()>>,
}

impl RunningServer {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, ends event streams, and waits for in-flight requests.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        let served = self.task.await.unwrap_or_else(|join| Err(std::io::Error::other(join)));
        let _ = self.pruner.await;
        if let Some(listener) = self.listener {
            let _ = listener.await;
        }
        served
    }
}

/// Binds, opens the database (migrating it), loads or creates the signing keys, and starts serving. A start
/// that fails because a transaction pooler lost a prepared statement, at whatever step, says so.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    start_serving(config).await.map_err(|error| match pooler_behind(&error) {
        Some(pooler) => StartError::Pooler(pooler),
        None => error,
    })
}

async fn start_serving(config: Config) -> Result<RunningServer, StartError> {
    let listener =
        TcpListener::bind(config.listen).await.map_err(|source| StartError::Listen { addr: config.listen, source })?;
    let addr = listener.local_addr().map_err(|source| StartError::Listen { addr: config.listen, source })?;
    let data_dir_error = |source| StartError::DataDir { dir: config.data_dir.clone(), source };
    kage_files::create_private_dir(&config.data_dir).map_err(data_dir_error)?;
    let database_url = match &config.database_url {
        Some(url) => url.clone(),
        None => private_database_url(&config.data_dir)?,
    };
    let listen_url = listen_url_of(&config, &database_url).await?;
    let db = Database::open(&database_url).await?;
    let keys = match db.backend() {
        // Every instance on the database signs with the same keys.
        Backend::Postgres => {
            let sealing = config.signing_key_sealing.as_ref().ok_or(keys::KeyError::NoSealingKey)?;
            shared_keys::load_or_create(&db, config.rotate_signing_key, sealing).await?
        }
        Backend::Sqlite if config.rotate_signing_key => SigningKeys::rotate(&config.data_dir.join("keys"))?,
        Backend::Sqlite => SigningKeys::load_or_create(&config.data_dir.join("keys"))?,
    };
    let passwords = Passwords::new(config.password_work);
    if config.demo {
        demo::seed(&db, &passwords).await.map_err(StartError::Demo)?;
    }
    let issuer = config.issuer.clone().unwrap_or_else(|| format!("http://{addr}"));
    let oidc = match &config.oidc {
        Some(oidc) => Some(trust_provider(oidc, &issuer).await?),
        None => None,
    };
    let issuer_for_docs = issuer.clone();
    let tokens = TokenService::new(keys, issuer, config.access_ttl, config.browser_ttl);
    let keep_ended_for = tokens.max_lifetime();
    let pruned = session_lifetime::prune(&db, config.sessions, keep_ended_for, time::OffsetDateTime::now_utc())
        .await
        .map_err(StartError::Prune)?;
    if pruned.sessions > 0 {
        tracing::info!(sessions = pruned.sessions, refresh_tokens = pruned.refresh_tokens, "pruned ended sessions");
    }
    let sessions = SessionStore::load(db.clone(), keep_ended_for, config.refresh_grace, config.sessions)
        .await
        .map_err(StartError::Sessions)?;
    let external_revocations = ExternalRevocations::load(db.clone()).await.map_err(StartError::ExternalRevocations)?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let pruner = tokio::spawn(session_lifetime::prune_periodically(
        db.clone(),
        config.sessions,
        keep_ended_for,
        config.prune_every,
        shutdown_rx.clone(),
    ));
    let throttle = Throttle::for_database(config.throttle, &db);
    let stream_slots = (db.backend() == Backend::Postgres)
        .then(|| stream_slots::StreamSlots::start(db.clone(), config.stream_slot_lease, shutdown_rx.clone()));
    let state = AppState(Arc::new(Shared {
        db,
        tokens,
        sessions,
        passwords,
        throttle,
        trust_forwarded_for: config.trust_forwarded_for,
        events: EventHub::default(),
        stream_slots,
        oidc,
        identities: Identities::default(),
        external_revocations,
        hearing: cluster::Hearing::default(),
        password_sign_in: config.password_sign_in,
        signing_key_sealing: config.signing_key_sealing.clone(),
        event_keep_alive: api::events::keep_alive_for(config.timeouts.idle),
        shutdown: shutdown_rx.clone(),
        openapi: Arc::new(openapi::document(&issuer_for_docs)),
    }));
    tokio::spawn({
        let (state, shutdown) = (state.clone(), shutdown_rx.clone());
        async move { state.external_revocations.follow_other_instances(shutdown).await }
    });
    // Without PostgreSQL's driver (the desktop app's sandbox) an instance is alone: nothing to hear.
    #[cfg(feature = "postgres")]
    let hearing = listen_url.map(|url| {
        let options = cluster::ListenOptions { url: secret::Secret::new(url), heartbeat: config.heartbeat };
        tokio::spawn(cluster::listen(state.clone(), options, shutdown_rx.clone()))
    });
    #[cfg(not(feature = "postgres"))]
    let hearing: Option<tokio::task::JoinHandle<()>> =
        listen_url.map(|_| unreachable!("no listen URL without postgres"));
    let request_timeout = axum::middleware::from_fn_with_state(config.timeouts.request, serve::request_timeout);
    let mut app = api::router(state.clone()).layer(request_timeout).layer(TraceLayer::new_for_http());
    if config.demo {
        match host_guard::AllowedHosts::for_sandbox(addr) {
            Some(allowed) => app = app.layer(axum::middleware::from_fn_with_state(allowed, host_guard::check)),
            None => tracing::warn!(%addr, "demo mode on a non-loopback address: Host names are not checked"),
        }
    }
    if let Some(observer) = config.observer.clone() {
        app = app.layer(axum::middleware::from_fn_with_state(observer, observe::record));
    }
    let task = tokio::spawn(async move {
        serve::serve(listener, app, config.timeouts, shutdown_rx).await;
        Ok(())
    });
    if hearing.is_some() {
        wait_until_hearing(&state).await;
    }
    tracing::info!(%addr, "kage-server listening");
    Ok(RunningServer { addr, state, shutdown: shutdown_tx, task, pruner, listener: hearing })
}

/// On PostgreSQL, the URL the listener connects to, refused if it passes through a transaction pooler (see
/// [`cluster::pooler`]); `None` on SQLite, which has one process and nobody to listen to.
async fn listen_url_of(config: &Config, database_url: &str) -> Result<Option<String>, StartError> {
    let on_postgres = Backend::of_url(database_url)? == Backend::Postgres;
    match (&config.listen_database_url, on_postgres) {
        (None, false) => Ok(None),
        (Some(_), false) => Err(StartError::ListenUrlWithoutPostgres),
        (None, true) => {
            cluster::pooler::check_listener(database_url, "the database URL").await?;
            Ok(Some(database_url.to_owned()))
        }
        (Some(url), true) => {
            if Backend::of_url(url)? != Backend::Postgres {
                return Err(StartError::ListenUrlWithoutPostgres);
            }
            cluster::pooler::check_listener(url, "--listen-database-url").await?;
            Ok(Some(url.clone()))
        }
    }
}

/// The transaction pooler a failed start means, if it means one: a database error anywhere in its causes
/// that only a pooler makes.
fn pooler_behind(error: &StartError) -> Option<cluster::pooler::PoolerError> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = cause {
        if let Some(pooler) = error.downcast_ref::<sqlx::Error>().and_then(cluster::pooler::from_open_error) {
            return Some(pooler);
        }
        cause = error.source();
    }
    None
}

/// Gives the listener (see [`cluster`]) a few seconds to hear the other instances, so an instance that starts
/// healthy stays healthy. If it cannot, the server starts anyway: `/healthz` says 503 until it does.
async fn wait_until_hearing(state: &AppState) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !state.hearing.is_listening() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The default database, `<data dir>/kage.db`, created 0600 before SQLite opens it so that SQLite gives its
/// `-wal` and `-shm` files the same mode. Files left by an older version are narrowed too.
fn private_database_url(data_dir: &std::path::Path) -> Result<String, StartError> {
    let path = data_dir.join("kage.db");
    let error = |source| StartError::DataDir { dir: data_dir.to_path_buf(), source };
    kage_files::own_file(&path).map_err(error)?;
    for suffix in ["-wal", "-shm"] {
        let mut companion = path.clone().into_os_string();
        companion.push(suffix);
        kage_files::restrict(std::path::Path::new(&companion)).map_err(error)?;
    }
    Ok(format!("sqlite://{}", path.display()))
}

/// The external provider, with its keys loaded if it answers. A discovery document naming another issuer is a
/// configuration error and stops the start; a provider that does not answer yet is retried on the first token.
async fn trust_provider(config: &OidcConfig, own_issuer: &str) -> Result<ExternalIssuer, StartError> {
    if config.issuer == own_issuer {
        return Err(StartError::OidcIssuerIsOurs(config.issuer.clone()));
    }
    if config.audience == config.client_id {
        return Err(StartError::OidcAudienceIsClientId(config.audience.clone()));
    }
    let provider = ExternalIssuer::new(config.clone());
    match provider.load().await {
        Ok(keys) => tracing::info!(issuer = %config.issuer, keys, "trusting an OpenID Connect provider"),
        Err(error @ (oidc::keys::FetchError::IssuerMismatch { .. } | oidc::keys::FetchError::Missing(_))) => {
            return Err(StartError::Oidc(error));
        }
        Err(error) => tracing::warn!(issuer = %config.issuer, %error, "OpenID Connect provider not reachable yet"),
    }
    Ok(provider)
}
