//! `kage-server`: run the reference game server from the command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use kage_server::key_sealing::KeySealing;
use kage_server::oidc::{IntrospectionConfig, OidcConfig};
use kage_server::secret::Secret;
use kage_server::serve::Timeouts;
use kage_server::session_lifetime::SessionLimits;
use kage_server::{Config, demo::DEMO_PLAYERS};

const DAY: u64 = 24 * 3600;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(version, about = "Kage's reference game server")]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "KAGE_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Directory for the signing keys and (by default) the SQLite database.
    #[arg(long, env = "KAGE_DATA_DIR", default_value = "kage-data")]
    data_dir: PathBuf,
    /// SQLite or PostgreSQL URL, for example sqlite:///var/lib/kage/kage.db or postgres://kage@db/kage
    /// (default: <data-dir>/kage.db).
    #[arg(long, env = "KAGE_DATABASE_URL")]
    database_url: Option<String>,
    /// PostgreSQL only: a direct URL for the connection that LISTENs to the other instances, when
    /// --database-url goes through a transaction pooler (which LISTEN cannot pass).
    #[arg(long, env = "KAGE_LISTEN_DATABASE_URL")]
    listen_database_url: Option<String>,
    /// The public URL of this server, used as the tokens' issuer (default: http://<listen>).
    #[arg(long, env = "KAGE_ISSUER")]
    issuer: Option<String>,
    /// Create the demo players `main` and `alt` if they do not exist.
    #[arg(long)]
    demo: bool,
    /// Make a new signing key before starting; tokens signed by the previous one stay valid until they expire.
    #[arg(long)]
    rotate_signing_key: bool,
    /// Seconds an access token lives (capped at its session's end).
    #[arg(long, env = "KAGE_ACCESS_TTL_SECS", default_value_t = 60)]
    access_ttl_secs: u64,
    /// Days a session lives without a refresh before it ends.
    #[arg(long, env = "KAGE_SESSION_IDLE_DAYS", default_value_t = 30)]
    session_idle_days: u64,
    /// Days a session lives at most, however often it is refreshed.
    #[arg(long, env = "KAGE_SESSION_LIFETIME_DAYS", default_value_t = 90)]
    session_lifetime_days: u64,
    /// Seconds a spent refresh token still answers with its unused successor (0: never; reuse revokes at once).
    #[arg(long, env = "KAGE_REFRESH_GRACE_SECS", default_value_t = 30)]
    refresh_grace_secs: u64,
    /// Seconds a client has to send a request's headers (also how long an idle keep-alive connection stays).
    #[arg(long, env = "KAGE_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    header_read_timeout_secs: u64,
    /// Seconds a request has to get its answer (body upload included), else 503 timeout.
    #[arg(long, env = "KAGE_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,
    /// Seconds without a byte in either direction after which a connection is closed.
    #[arg(long, env = "KAGE_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    idle_timeout_secs: u64,
    /// Session refreshes one client address may make at once (token bucket size); more get 429.
    #[arg(long, env = "KAGE_REFRESH_BURST", default_value_t = 20)]
    refresh_burst: u32,
    /// With several instances on PostgreSQL: milliseconds within which an instance must hear its own heartbeat
    /// (a `NOTIFY` it sent) before it says it does not hear the others (`/healthz` 503) and reconnects.
    #[arg(long, env = "KAGE_HEARTBEAT_WITHIN_MS", default_value_t = 2000)]
    heartbeat_within_ms: u64,
    /// Session refreshes one client address gets back per minute (token bucket refill rate).
    #[arg(long, env = "KAGE_REFRESH_PER_MINUTE", default_value_t = 60)]
    refresh_per_minute: u32,
    /// Take each client's address from the last X-Forwarded-For entry (only behind a proxy that sets it).
    #[arg(long, env = "KAGE_TRUST_FORWARDED_FOR")]
    trust_forwarded_for: bool,
    /// Also accept access tokens of this OpenID Connect provider (its issuer URL, exactly as in its tokens).
    #[arg(long, env = "KAGE_OIDC_ISSUER", requires_all = ["oidc_audience", "oidc_client_id"])]
    oidc_issuer: Option<String>,
    /// The audience the provider's access tokens must be for (this API's resource identifier there).
    #[arg(long, env = "KAGE_OIDC_AUDIENCE", requires = "oidc_issuer")]
    oidc_audience: Option<String>,
    /// The client id Kage apps use at the provider (published in /v1/auth-config).
    #[arg(long, env = "KAGE_OIDC_CLIENT_ID", requires = "oidc_issuer")]
    oidc_client_id: Option<String>,
    /// Seconds of clock difference allowed on the provider's tokens' exp and nbf.
    #[arg(long, env = "KAGE_OIDC_LEEWAY_SECS", default_value_t = 30)]
    oidc_leeway_secs: u64,
    /// A token with an unknown key id refetches the provider's JWKS at most once per this many seconds.
    #[arg(long, env = "KAGE_OIDC_JWKS_REFETCH_SECS", default_value_t = 30)]
    oidc_jwks_refetch_secs: u64,
    /// The scopes Kage asks the provider for, space-separated (published in /v1/auth-config).
    #[arg(long, env = "KAGE_OIDC_SCOPES", default_value = kage_server::oidc::CLIENT_SCOPES)]
    oidc_scopes: String,
    /// An extra authorization request parameter the provider wants, NAME=VALUE (repeatable; published in
    /// /v1/auth-config), such as access_type=offline.
    #[arg(long = "oidc-authorization-param", value_name = "NAME=VALUE", value_parser = name_value)]
    oidc_authorization_params: Vec<(String, String)>,
    /// The provider marks its JWT access tokens typ at+jwt (RFC 9068): refuse JWTs without it.
    #[arg(long, env = "KAGE_OIDC_REQUIRE_AT_JWT")]
    oidc_require_at_jwt: bool,
    /// The provider's access tokens are opaque: ask its introspection endpoint (RFC 7662) as this client.
    #[arg(long, env = "KAGE_OIDC_INTROSPECTION_CLIENT_ID", requires = "oidc_issuer")]
    oidc_introspection_client_id: Option<String>,
    /// The introspecting client's secret (better in the environment than on the command line).
    #[arg(
        long,
        env = "KAGE_OIDC_INTROSPECTION_CLIENT_SECRET",
        requires = "oidc_introspection_client_id",
        hide_env_values = true
    )]
    oidc_introspection_client_secret: Option<String>,
    /// The introspection endpoint, if the provider's metadata does not name one.
    #[arg(long, env = "KAGE_OIDC_INTROSPECTION_ENDPOINT", requires = "oidc_introspection_client_id")]
    oidc_introspection_endpoint: Option<String>,
    /// The introspection field naming the player, if the provider sends no `sub` (`username`: weaker).
    #[arg(long, env = "KAGE_OIDC_INTROSPECTION_SUBJECT_CLAIM", default_value = "sub")]
    oidc_introspection_subject_claim: String,
    /// How long an introspection answer is trusted (never past the token's exp): a token revoked at the
    /// provider is refused here within this many seconds.
    #[arg(long, env = "KAGE_OIDC_INTROSPECTION_CACHE_SECS", default_value_t = 30)]
    oidc_introspection_cache_secs: u64,
    /// Players created for one provider's new identities per hour, at most.
    #[arg(long, env = "KAGE_OIDC_NEW_PLAYERS_PER_HOUR", default_value_t = 100)]
    oidc_new_players_per_hour: u32,
    /// PostgreSQL: a file holding the key (32 bytes, base64) the shared signing keys are encrypted with at
    /// rest; or the key itself in KAGE_SIGNING_KEY_ENCRYPTION_KEY. The same on every instance.
    #[arg(long, env = "KAGE_SIGNING_KEY_ENCRYPTION_KEY_FILE")]
    signing_key_encryption_key_file: Option<PathBuf>,
    /// PostgreSQL, while rotating the encryption key: the previous key's file (or
    /// KAGE_PREVIOUS_SIGNING_KEY_ENCRYPTION_KEY); rows sealed with it are sealed again with the current one.
    #[arg(long, env = "KAGE_PREVIOUS_SIGNING_KEY_ENCRYPTION_KEY_FILE")]
    previous_signing_key_encryption_key_file: Option<PathBuf>,
    /// Turn off sign-up and password sign-in (403 password_sign_in_disabled): players use the provider.
    #[arg(long, env = "KAGE_NO_PASSWORD_SIGN_IN")]
    no_password_sign_in: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let args = Args::parse();
    let sealing = match key_sealing(&args) {
        Ok(sealing) => sealing.map(std::sync::Arc::new),
        Err(error) => {
            eprintln!("kage-server: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut config = Config::new(args.data_dir);
    config.signing_key_sealing = sealing;
    config.listen = args.listen;
    config.database_url = args.database_url;
    config.listen_database_url = args.listen_database_url;
    config.issuer = args.issuer;
    config.demo = args.demo;
    config.rotate_signing_key = args.rotate_signing_key;
    config.refresh_grace = Duration::from_secs(args.refresh_grace_secs);
    config.access_ttl = Duration::from_secs(args.access_ttl_secs.max(1));
    config.sessions = SessionLimits {
        idle: Duration::from_secs(args.session_idle_days.max(1) * DAY),
        lifetime: Duration::from_secs(args.session_lifetime_days.max(1) * DAY),
    };
    config.trust_forwarded_for = args.trust_forwarded_for;
    config.throttle.refresh_burst = args.refresh_burst.max(1);
    config.throttle.refresh_per_minute = args.refresh_per_minute.max(1);
    config.timeouts = Timeouts {
        header_read: Duration::from_secs(args.header_read_timeout_secs.max(1)),
        request: Duration::from_secs(args.request_timeout_secs.max(1)),
        idle: Duration::from_secs(args.idle_timeout_secs.max(1)),
    };
    if let (Some(issuer), Some(audience), Some(client_id)) = (args.oidc_issuer, args.oidc_audience, args.oidc_client_id)
    {
        let mut oidc = OidcConfig::new(issuer, audience, client_id);
        oidc.leeway = Duration::from_secs(args.oidc_leeway_secs);
        oidc.min_refetch_interval = Duration::from_secs(args.oidc_jwks_refetch_secs);
        oidc.scopes = args.oidc_scopes;
        oidc.authorization_params = args.oidc_authorization_params.into_iter().collect();
        oidc.require_at_jwt = args.oidc_require_at_jwt;
        if let Some(client_id) = args.oidc_introspection_client_id {
            let secret = Secret::new(args.oidc_introspection_client_secret.unwrap_or_default());
            let mut introspection = IntrospectionConfig::new(client_id, secret);
            introspection.endpoint = args.oidc_introspection_endpoint;
            introspection.cache_ttl = Duration::from_secs(args.oidc_introspection_cache_secs);
            introspection.subject_claim = args.oidc_introspection_subject_claim;
            oidc.introspection = Some(introspection);
        }
        config.oidc = Some(oidc);
    }
    config.throttle.new_players_per_issuer = args.oidc_new_players_per_hour.max(1);
    config.heartbeat.within = std::time::Duration::from_millis(args.heartbeat_within_ms.max(1));
    config.password_sign_in = !args.no_password_sign_in;
    let server = match kage_server::start(config).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("kage-server: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("kage-server listening on {}", server.base_url());
    if args.demo {
        for (username, password, ..) in DEMO_PLAYERS {
            println!("  demo player {username:5} password {password}");
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    println!("kage-server: shutting down");
    match server.shutdown().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kage-server: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `NAME=VALUE`, for `--oidc-authorization-param`.
fn name_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not NAME=VALUE")),
    }
}

/// The signing-key encryption keys from their files or the environment (the key itself, never logged).
fn key_sealing(args: &Args) -> Result<Option<KeySealing>, String> {
    let read = |file: &Option<PathBuf>, variable: &str| -> Result<Option<String>, String> {
        match file {
            Some(path) => std::fs::read_to_string(path)
                .map(Some)
                .map_err(|error| format!("cannot read the signing-key encryption key {}: {error}", path.display())),
            None => Ok(std::env::var(variable).ok()),
        }
    };
    let current = read(&args.signing_key_encryption_key_file, "KAGE_SIGNING_KEY_ENCRYPTION_KEY")?;
    let previous = read(&args.previous_signing_key_encryption_key_file, "KAGE_PREVIOUS_SIGNING_KEY_ENCRYPTION_KEY")?;
    match current {
        Some(current) => KeySealing::from_base64(&current, previous.as_deref()).map(Some).map_err(|e| e.to_string()),
        None if previous.is_some() => Err("a previous signing-key encryption key needs a current one".into()),
        None => Ok(None),
    }
}
