//! Trusting an external OpenID Connect provider: its access tokens open the API like our own.
//!
//! A game operator may already run an identity provider (Keycloak, Auth0, a community's own). With
//! `--oidc-issuer` the server accepts that provider's JWT access tokens, issued for `--oidc-audience`, on every
//! protected route, through the same [`crate::auth`] extractor and so under the same header-first rules and
//! viewer guard as its own tokens. The pieces, one job each:
//! - [`keys`]: discovery and the provider's JWKS, turned into verification keys by `kid`;
//! - [`verifier`]: checks a token (signature, `iss`, `aud`, `exp`/`nbf`, `sub`), refetching the JWKS when an
//!   unknown `kid` appears, at most once per interval;
//! - [`identities`]: the player an `(issuer, sub)` is, created the first time it signs in.
//!
//! Revoking an external session is the provider's job: this server cannot see its refresh tokens. A sign-out
//! here stops that token's provider session (`sid`, else the token's `jti`) on this server at once, in memory.

pub mod identities;
pub mod keys;
pub mod verifier;

use std::time::Duration;

use serde::Serialize;

pub use verifier::{ExternalIssuer, ExternalToken};

/// The scopes a Kage client asks the provider for.
pub const CLIENT_SCOPES: &str = "openid profile offline_access";

/// Which provider to trust and how its tokens must look.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The provider's issuer URL, exactly as its tokens' `iss` and its discovery document say it.
    pub issuer: String,
    /// What the tokens' `aud` must contain: this API's resource identifier at the provider.
    pub audience: String,
    /// The client id Kage apps use at the provider (published in `/v1/auth-config`, not checked in tokens:
    /// an access token's audience is the API, not the client).
    pub client_id: String,
    /// Clock difference allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// An unknown `kid` refetches the JWKS at most this often, so forged `kid`s cannot make us hammer the provider.
    pub min_refetch_interval: Duration,
    /// How long one discovery or JWKS request may take.
    pub fetch_timeout: Duration,
}

impl OidcConfig {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            client_id: client_id.into(),
            leeway: Duration::from_secs(30),
            min_refetch_interval: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(5),
        }
    }
}

/// `GET /v1/auth-config`: how a client may sign in here.
#[derive(Debug, Clone, Serialize)]
pub struct AuthConfig {
    /// `POST /v1/sessions` (and sign-up) are open.
    pub password: bool,
    pub oidc: Option<OidcClientConfig>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcClientConfig {
    pub issuer: String,
    pub client_id: String,
    pub audience: String,
    pub scopes: &'static str,
}

impl AuthConfig {
    pub fn new(password: bool, oidc: Option<&OidcConfig>) -> Self {
        let oidc = oidc.map(|c| OidcClientConfig {
            issuer: c.issuer.clone(),
            client_id: c.client_id.clone(),
            audience: c.audience.clone(),
            scopes: CLIENT_SCOPES,
        });
        Self { password, oidc }
    }
}
