//! The browser sign-in harness: a real OpenID Connect provider (`tests/oidc-provider`, oidc-provider 8), the
//! scripted system browser from `kage-oidc-support` (it keeps the provider's cookies, as a real browser does),
//! a `Core` with an in-memory vault, and a stand-in for the game server's browser sign-in routes.
//!
//! The stand-in: kage-server's `--oidc-issuer` support is being built on another branch. Until it lands, this
//! small axum app plays its part: `GET /v1/auth-config` names the provider, and `GET /v1/viewer` maps a
//! provider access token to a player (by `sub`), refusing a token for another issuer or audience, an asserted
//! `viewer_id` that is not the token's player (I8), and a token the provider revoked... as far as it can: it
//! reads the JWT without checking its signature (the client under test already did; the real server will).
//! Replace it with the scenario `Harness` once kage-server accepts provider tokens.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use kage_core::oidc::{BrowserSignIn, OidcError};
use kage_core::sessions::SignedIn;
use kage_core::vault::{CredentialStore, MemoryStore};
use kage_core::{Core, CoreConfig, ServerOrigin, WindowLabel};
use kage_oidc_support::{Account, Browser, Callback, ProviderOptions, TestProvider};
use serde_json::json;

pub use kage_oidc_support::{ALT, MAIN};

/// One request the stand-in game server answered: which window sent it, and whose token it carried.
#[derive(Debug, Clone)]
pub struct Seen {
    pub window: Option<String>,
    pub subject: String,
}

struct Game {
    issuer: String,
    audience: String,
    seen: Mutex<Vec<Seen>>,
}

pub struct OidcHarness {
    pub provider: TestProvider,
    pub browser: Browser,
    pub core: Core,
    pub vault: Arc<MemoryStore>,
    pub origin: ServerOrigin,
    game: Arc<Game>,
    _dir: tempfile::TempDir,
}

impl OidcHarness {
    /// `None` when node is not installed (the test is skipped, and says so).
    pub async fn start() -> Option<Self> {
        Self::start_with(ProviderOptions::default(), Duration::from_secs(20)).await
    }

    pub async fn start_with(options: ProviderOptions, sign_in_timeout: Duration) -> Option<Self> {
        let provider = TestProvider::start_or_skip(options).await?;
        let game = Arc::new(Game {
            issuer: provider.issuer().to_owned(),
            audience: kage_oidc_support::DEFAULT_AUDIENCE.to_owned(),
            seen: Mutex::default(),
        });
        let app = axum::Router::new()
            .route("/v1/auth-config", get(auth_config))
            .route("/v1/viewer", get(viewer))
            .with_state(game.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = ServerOrigin::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let dir = tempfile::tempdir().unwrap();
        let vault = Arc::new(MemoryStore::default());
        let mut config = CoreConfig::new(dir.path());
        config.request_timeout = Duration::from_secs(5);
        config.keychain_timeout = Duration::from_millis(500);
        config.browser_sign_in_timeout = sign_in_timeout;
        let core = Core::new(config, vault.clone() as Arc<dyn CredentialStore>);
        Some(Self { provider, browser: Browser::new(), core, vault, origin, game, _dir: dir })
    }

    /// The player's whole sign-in in `window`: Kage opens the browser, the player types `typed` into the
    /// provider's login page (if it shows one), the browser comes back to Kage's listener.
    pub async fn sign_in(
        &self,
        window: &WindowLabel,
        typed: Option<Account>,
        expected: Option<&kage_core::AccountKey>,
    ) -> Result<SignedIn, OidcError> {
        let sign_in = self.core.begin_browser_sign_in(window, &self.origin, expected).await?;
        self.run(sign_in, typed).await.0
    }

    /// Drives the browser through `sign_in`'s URL while Kage waits for the redirect.
    pub async fn run(&self, sign_in: BrowserSignIn, typed: Option<Account>) -> (Result<SignedIn, OidcError>, Callback) {
        let url = sign_in.authorization_url().to_owned();
        let credentials = typed.map(|account| account.credentials());
        let (finished, browsed) = tokio::join!(
            self.core.finish_browser_sign_in(sign_in, true),
            self.browser.authorize_and_deliver(&url, credentials.as_ref())
        );
        (finished, browsed.expect("the browser reaches Kage's redirect"))
    }

    /// Lets the browser log in at the provider but stops before it comes back to Kage: the callback URL.
    pub async fn capture(&self, sign_in: &BrowserSignIn, typed: Account) -> Callback {
        self.browser.authorize(sign_in.authorization_url(), Some(&typed.credentials())).await.expect("login")
    }

    /// Requests a callback URL as the browser would; returns the page Kage answered with.
    pub async fn deliver(&self, url: &str) -> String {
        reqwest::get(url).await.expect("Kage's listener answers").text().await.unwrap()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.game.seen.lock().unwrap().clone()
    }
}

/// The stand-in's player id for a provider subject.
pub fn player_of(sub: &str) -> String {
    format!("player-{}", &sub[sub.len() - 4..])
}

async fn auth_config(State(game): State<Arc<Game>>) -> impl IntoResponse {
    axum::Json(json!({
        "password": false,
        "oidc": {
            "issuer": game.issuer,
            "clientId": kage_oidc_support::CLIENT_ID,
            "audience": game.audience,
            "scopes": ["openid", "profile", "offline_access"],
        }
    }))
}

#[derive(serde::Deserialize)]
struct ViewerQuery {
    viewer_id: Option<String>,
}

async fn viewer(
    State(game): State<Arc<Game>>,
    headers: HeaderMap,
    Query(query): Query<ViewerQuery>,
) -> impl IntoResponse {
    let refused =
        |status: StatusCode, code: &str| (status, axum::Json(json!({"error": code, "message": code}))).into_response();
    let Some(token) =
        headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "))
    else {
        return refused(StatusCode::UNAUTHORIZED, "invalid_token");
    };
    let claims = kage_oidc_support::flow::unverified_claims(token);
    if claims["iss"] != game.issuer || claims["aud"] != game.audience {
        return refused(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    let sub = claims["sub"].as_str().unwrap_or_default().to_owned();
    let player = player_of(&sub);
    if query.viewer_id.as_ref().is_some_and(|asserted| asserted != &player) {
        return refused(StatusCode::FORBIDDEN, "viewer_mismatch");
    }
    let window = headers.get("x-kage-window").and_then(|v| v.to_str().ok()).map(str::to_owned);
    game.seen.lock().unwrap().push(Seen { window, subject: sub });
    let username = claims["preferred_username"].as_str().unwrap_or_default();
    axum::Json(json!({
        "id": player, "username": username, "level": 1, "xp": 0, "village": "leaf", "ryo": 100,
        "stats": {"strength": 1, "agility": 1, "chakra": 1}, "version": 1, "updated_at": "2025-01-01T00:00:00Z"
    }))
    .into_response()
}
