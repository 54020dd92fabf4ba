//! Test support for signing in with a real OpenID Connect provider.
//!
//! - [`TestProvider`] runs `tests/oidc-provider` (panva's `oidc-provider`, the certified Node implementation)
//!   on `127.0.0.1`, installing its npm packages first if needed, and offers the token endpoint calls a client
//!   makes (code exchange, refresh, revocation) plus a test-only signing-key rotation.
//! - [`Browser`] is the player's system browser: it follows the provider's redirects, fills in the login and
//!   consent forms, and keeps the provider's cookies. It is *not* Kage: Kage never sees these cookies, which
//!   is what lets a test say "the provider is still signed in as main" while Kage signs in `alt`.
//! - [`DjangoProvider`] runs `tests/oidc-provider-django` (django-oauth-toolkit, opaque access tokens), a
//!   provider written independently of the first; [`RealProvider`] is either one, behind the calls a scenario
//!   suite shared by both needs.
//! - [`flow`] builds authorization requests (PKCE S256, state) and reads the redirect a login ends with.
//!
//! Used by kage-server's tests and meant for kage-core's as a dev-dependency.

pub mod browser;
pub mod django;
pub mod flow;
pub mod provider;
pub mod real;

pub use browser::{Browser, BrowserError, Callback, Credentials};
pub use django::{DjangoOptions, DjangoProvider};
pub use flow::{AuthorizationRequest, Pkce, TokenSet};
pub use provider::{ProviderError, ProviderOptions, TestProvider};
pub use real::{Kind, RealProvider, RefreshReuse, Setup, Trust};

/// The client id the test provider registers for Kage (public, native, PKCE required).
pub const CLIENT_ID: &str = "kage";
/// The audience (resource indicator) access tokens are issued for unless a test asks for another.
pub const DEFAULT_AUDIENCE: &str = "https://kage.test/api";
/// A second audience the provider also issues tokens for: a token for it must not open the game API.
pub const OTHER_AUDIENCE: &str = "https://other.test/api";
/// What Kage asks for: an identity, a username, and a refresh token.
pub const SCOPES: &str = "openid profile offline_access";
/// The registered redirect URI; any port is accepted on it (RFC 8252 section 7.3).
pub const REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// An account at the test provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Account {
    pub login: &'static str,
    pub password: &'static str,
    /// Stable subject id, deliberately not the login name.
    pub sub: &'static str,
    pub preferred_username: &'static str,
}

impl Account {
    pub fn credentials(&self) -> Credentials {
        Credentials { username: self.login.into(), password: self.password.into() }
    }
}

pub const MAIN: Account = Account {
    login: "main",
    password: "main-password",
    sub: "2f0c7c52-6a43-4e1b-9d55-0a1d6c1e0001",
    preferred_username: "main",
};
pub const ALT: Account = Account {
    login: "alt",
    password: "alt-password",
    sub: "2f0c7c52-6a43-4e1b-9d55-0a1d6c1e0002",
    preferred_username: "alt",
};
/// Another person whose `preferred_username` is also "main": the game must give them a different name.
pub const TWIN: Account = Account {
    login: "twin",
    password: "twin-password",
    sub: "2f0c7c52-6a43-4e1b-9d55-0a1d6c1e0003",
    preferred_username: "main",
};
