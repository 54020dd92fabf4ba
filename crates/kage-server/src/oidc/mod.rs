//! Trusting an external OpenID Connect provider: its access tokens open the API like our own.
//!
//! A game operator may already run an identity provider (Keycloak, Auth0, a community's own). With
//! `--oidc-issuer` the server accepts that provider's access tokens, issued for `--oidc-audience`, on every
//! protected route, through the same [`crate::auth`] extractor and so under the same header-first rules and
//! viewer guard as its own tokens. Access tokens come in two kinds, chosen per issuer: JWTs checked here
//! against the provider's keys (RFC 9068), or opaque ones the provider is asked about (RFC 7662
//! introspection) with the resource server's own credentials. The pieces, one job each:
//! - [`keys`]: discovery (with RFC 8414 for what the OpenID configuration lacks) and the provider's JWKS;
//! - [`verifier`]: checks a JWT (signature, `typ`, `iss`, `aud`, `exp`/`nbf`, `sub`), refetching the JWKS when
//!   an unknown `kid` appears, at most once per interval;
//! - [`introspection`]: asks the provider about an opaque token, with a bounded cache and failing closed;
//! - [`revocations`]: provider sessions signed out here, kept in the database, scoped by issue time;
//! - [`identities`]: the player an `(issuer, sub)` is, created the first time it signs in (throttled per issuer).
//!
//! Revoking an external session is the provider's job: this server cannot see its refresh tokens. A sign-out
//! here stops that token's provider session on every instance, for every token issued before the sign-out.

pub mod identities;
pub mod introspection;
pub mod keys;
pub mod revocations;
pub mod verifier;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::secret::Secret;
pub use verifier::{ExternalIssuer, ExternalToken};

/// The scopes a Kage client asks the provider for unless the operator names others.
pub const CLIENT_SCOPES: &str = "openid profile offline_access";

/// Which provider to trust and how its tokens must look.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The provider's issuer URL, exactly as its tokens' `iss` and its discovery document say it.
    pub issuer: String,
    /// What the tokens' `aud` must contain: this API's resource identifier at the provider. Kage clients ask
    /// for tokens only for an audience that is this server's own origin (or vouched for by its RFC 9728
    /// metadata), so it should be the public URL players use.
    pub audience: String,
    /// The client id Kage apps use at the provider (published in `/v1/auth-config`; an introspected token
    /// without `aud` must have been issued to it).
    pub client_id: String,
    /// Scopes the client asks for, space-separated (`/v1/auth-config`); the provider may refuse unknown ones.
    pub scopes: String,
    /// Extra authorization request parameters the provider wants (`/v1/auth-config`).
    pub authorization_params: BTreeMap<String, String>,
    /// The provider marks its JWT access tokens `typ: at+jwt` (RFC 9068): a JWT without it (an ID token, say)
    /// is refused.
    pub require_at_jwt: bool,
    /// Opaque access tokens, asked about at the provider; `None`: JWT access tokens.
    pub introspection: Option<IntrospectionConfig>,
    /// Clock difference allowed on `exp` and `nbf`.
    pub leeway: Duration,
    /// An unknown `kid` refetches the JWKS at most this often, so forged `kid`s cannot make us hammer the provider.
    pub min_refetch_interval: Duration,
    /// How long one discovery, JWKS, introspection or userinfo request may take.
    pub fetch_timeout: Duration,
}

/// The resource server's side of RFC 7662.
#[derive(Debug, Clone)]
pub struct IntrospectionConfig {
    /// This server's client at the provider, allowed to introspect (HTTP Basic, RFC 7662 section 2.1).
    pub client_id: String,
    pub client_secret: Secret,
    /// `None`: the `introspection_endpoint` of the provider's metadata.
    pub endpoint: Option<String>,
    /// How long an answer is trusted (never past the token's `exp`): a token revoked at the provider is
    /// refused here within this bound.
    pub cache_ttl: Duration,
    /// How many answers are kept at most.
    pub cache_capacity: usize,
    /// The introspection field that names the player (`sub`, RFC 7662). A provider that leaves `sub` out
    /// and binds tokens to this API (so its userinfo endpoint refuses them), as django-oauth-toolkit does,
    /// can name `username` here: weaker, since a name can change hands at the provider.
    pub subject_claim: String,
}

impl IntrospectionConfig {
    pub fn new(client_id: impl Into<String>, client_secret: Secret) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            endpoint: None,
            cache_ttl: Duration::from_secs(30),
            cache_capacity: 10_000,
            subject_claim: "sub".into(),
        }
    }
}

impl OidcConfig {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            client_id: client_id.into(),
            scopes: CLIENT_SCOPES.into(),
            authorization_params: BTreeMap::new(),
            require_at_jwt: false,
            introspection: None,
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
    pub scopes: String,
    pub authorization_params: BTreeMap<String, String>,
}

impl AuthConfig {
    pub fn new(password: bool, oidc: Option<&OidcConfig>) -> Self {
        let oidc = oidc.map(|c| OidcClientConfig {
            issuer: c.issuer.clone(),
            client_id: c.client_id.clone(),
            audience: c.audience.clone(),
            scopes: c.scopes.clone(),
            authorization_params: c.authorization_params.clone(),
        });
        Self { password, oidc }
    }
}
