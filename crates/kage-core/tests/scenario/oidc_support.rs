//! The browser sign-in harness: a real OpenID Connect provider (`tests/oidc-provider`, oidc-provider 8, or
//! `tests/oidc-provider-django`, django-oauth-toolkit 3.4: [`RealProvider`]), the
//! scripted system browser from `kage-oidc-support` (it keeps the provider's cookies, as a real browser does),
//! and the scenario [`Harness`]: the real kage-server (trusting that provider as its external issuer, with no
//! demo players so provider accounts get their own names) behind the fault proxy, and a `Core` with an
//! in-memory vault.
//!
//! The server verifies every provider token itself (a JWT against the provider's JWKS, `iss`, `aud`, expiry;
//! an opaque token by introspection) and maps `(issuer, sub)` to its own player; its request log says which
//! window sent whose token. The audience is the proxy's origin, the server Kage talks to: Kage asks for
//! tokens for no other (issue 17.2).

use std::ops::Deref;
use std::time::Duration;

use kage_core::oidc::{BrowserSignIn, OidcError};
use kage_core::sessions::SignedIn;
use kage_core::{AccountKey, WindowLabel};
use kage_oidc_support::{
    Account, Browser, Callback, Kind, ProviderOptions, RealProvider, RefreshReuse, Setup, TestProvider,
};
use kage_server::observe::Presented;
use kage_server::oidc::OidcConfig;

use crate::support::Harness;

pub use kage_oidc_support::{ALT, MAIN};

/// One request the game server answered: which window sent it, and whose token it carried.
#[derive(Debug, Clone)]
pub struct Seen {
    pub window: Option<String>,
    pub subject: String,
}

pub struct OidcHarness {
    pub provider: RealProvider,
    /// The game API's audience at the provider: the origin Kage talks to.
    pub audience: String,
    pub browser: Browser,
    /// The game server (behind its proxy) and the client; `h.core`, `h.origin`... reach it through `Deref`.
    pub game: Harness,
}

impl Deref for OidcHarness {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.game
    }
}

impl OidcHarness {
    /// `None` when node is not installed (the test is skipped, and says so).
    pub async fn start() -> Option<Self> {
        Self::start_with(ProviderOptions::default(), Duration::from_secs(20)).await
    }

    pub async fn start_with(options: ProviderOptions, sign_in_timeout: Duration) -> Option<Self> {
        Self::start_configured(options, sign_in_timeout, |_| {}).await
    }

    /// As [`OidcHarness::start_with`], with the server's trust in the provider adjusted by `trust`.
    pub async fn start_configured(
        mut options: ProviderOptions,
        sign_in_timeout: Duration,
        trust: impl FnOnce(&mut OidcConfig),
    ) -> Option<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let audience = format!("http://{}", listener.local_addr().unwrap());
        options.audiences = vec![audience.clone(), kage_oidc_support::OTHER_AUDIENCE.into()];
        let provider = RealProvider::node_with(TestProvider::start_or_skip(options).await?, &audience);
        Self::around(provider, listener, audience, sign_in_timeout, trust).await
    }

    /// The harness around either provider, as the shared suite runs it (`reuse`: what the provider does
    /// with a spent refresh token presented again; access tokens of `access_ttl_secs`).
    pub async fn start_kind(kind: Kind, access_ttl_secs: u64, reuse: RefreshReuse) -> Option<Self> {
        Self::start_kind_configured(kind, access_ttl_secs, reuse, |_| {}).await
    }

    /// As [`OidcHarness::start_kind`], the server's trust adjusted by `trust`.
    pub async fn start_kind_configured(
        kind: Kind,
        access_ttl_secs: u64,
        reuse: RefreshReuse,
        trust: impl FnOnce(&mut OidcConfig),
    ) -> Option<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let audience = format!("http://{}", listener.local_addr().unwrap());
        let setup = Setup { kind, audience: audience.clone(), access_ttl_secs, reuse };
        let provider = RealProvider::start_or_skip(setup).await?;
        Self::around(provider, listener, audience, Duration::from_secs(20), trust).await
    }

    async fn around(
        provider: RealProvider,
        listener: tokio::net::TcpListener,
        audience: String,
        sign_in_timeout: Duration,
        trust: impl FnOnce(&mut OidcConfig),
    ) -> Option<Self> {
        let mut oidc = OidcConfig::new(provider.issuer(), &audience, kage_oidc_support::CLIENT_ID);
        let how = provider.trust();
        if let Some(scopes) = how.scopes {
            oidc.scopes = scopes.into();
        }
        if let Some((client_id, secret)) = how.introspection {
            let secret = kage_server::secret::Secret::new(secret.into());
            let mut introspection = kage_server::oidc::IntrospectionConfig::new(client_id, secret);
            // django-oauth-toolkit's introspection has no `sub`, and its userinfo refuses a token bound to
            // the game's API (RFC 8707, rightly): its unique `username` is the only name it gives.
            introspection.subject_claim = "username".into();
            oidc.introspection = Some(introspection);
        }
        trust(&mut oidc);
        let game = Harness::start_on(
            listener,
            |config| {
                // The demo seeds password players named main and alt: the provider's main and alt would get
                // suffixed names. Browser sign-in players only here.
                config.demo = false;
                config.oidc = Some(oidc);
            },
            |core| {
                core.request_timeout = Duration::from_secs(5);
                core.browser_sign_in_timeout = sign_in_timeout;
            },
        )
        .await;
        Some(Self { provider, audience, browser: Browser::new(), game })
    }

    /// The player's whole sign-in in `window`: Kage opens the browser, the player types `typed` into the
    /// provider's login page (if it shows one), the browser comes back to Kage's listener.
    pub async fn sign_in(
        &self,
        window: &WindowLabel,
        typed: Option<Account>,
        expected: Option<&AccountKey>,
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

    /// The game server's player for `account` at the provider, asked without Kage: the account signs in at
    /// the provider in a browser of its own, and its token goes straight to the server's `GET /v1/viewer`.
    pub async fn player_of(&self, account: Account) -> String {
        let tokens = self.provider.sign_in(account).await.expect("provider sign-in");
        let profile: serde_json::Value = reqwest::Client::new()
            .get(self.server_url("/v1/viewer"))
            .bearer_auth(&tokens.access_token)
            .header(kage_core::transport::AUTH_REQUIRED_HEADER, "1")
            .send()
            .await
            .unwrap()
            .error_for_status()
            .expect("the server accepts the provider's token")
            .json()
            .await
            .unwrap();
        profile["id"].as_str().expect("a player id").to_owned()
    }

    /// Every request the game server answered with a bearer token: its window, and its token's `sub`.
    pub fn seen(&self) -> Vec<Seen> {
        self.records()
            .into_iter()
            .filter_map(|record| match record.authorization {
                Presented::Bearer { subject: Some(subject), .. } => Some(Seen { window: record.window, subject }),
                _ => None,
            })
            .collect()
    }

    /// How many times the game server fetched the provider's JWKS (once at start, again for a new `kid`).
    pub async fn server_jwks_fetches(&self) -> u64 {
        let state = self.server_state().expect("the server runs");
        state.oidc.as_ref().expect("the server trusts the provider").fetches().await
    }

    /// How many times the game server asked the provider about an opaque token.
    pub fn server_introspections(&self) -> u64 {
        self.server_state().expect("the server runs").oidc.as_ref().expect("trusted").introspections()
    }
}
